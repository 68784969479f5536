"""The streaming reader: delimiters from any ISA, real-world messiness, bounded memory, clear errors."""

from __future__ import annotations

import io
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edi.delimiters import Delimiters
from edi.errors import X12ParseError
from edi.reader import (
    MAX_SEGMENT,
    check_segment_id,
    detect_delimiters,
    iter_batches,
    iter_segments,
    split_components,
    split_repetitions,
)

ISA = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *260115*1200*^*00501*000000905*0*P*:~"
BODY = [
    "GS*HP*SENDER*RECEIVER*20260115*1200*905*X*005010X221A1",
    "ST*835*0001",
    "CLP*PCN1*1*100*80**12*X1",
    "SVC*HC:99213:25*100*80**1",
    "SE*4*0001",
    "GE*1*905",
    "IEA*1*000000905",
]
EXPECTED = [ISA[:-1].split("*"), *(s.split("*") for s in BODY)]
EXPECTED[0] = [e.strip() for e in EXPECTED[0]]


def seg_list(data: bytes | str, **kw: object) -> list[list[str]]:
    raw = data.encode("latin-1") if isinstance(data, str) else data
    return [el for _n, el in iter_segments(raw, **kw)]  # type: ignore[arg-type]


def standard(term: str = "~", after: str = "") -> str:
    return ISA[:-1] + term + after + "".join(s + term + after for s in BODY)


# ---- delimiter detection ------------------------------------------------------------------------------


def test_detect_fixed_width_isa() -> None:
    assert detect_delimiters(ISA.encode()) == Delimiters("*", ":", "^", "~")


def test_detect_other_delimiters_and_4010_repetition() -> None:
    isa = ISA.replace("*", "|").replace("|^|00501", "|U|00401").replace("|:~", "|>!")
    d = detect_delimiters(isa.encode())
    assert d == Delimiters("|", ">", "", "!")


def test_detect_newline_terminator_and_crlf() -> None:
    assert detect_delimiters((ISA[:-1] + "\n").encode()).segment == "\n"
    assert detect_delimiters((ISA[:-1] + "\r\nGS*").encode()).segment == "\n"


def test_detect_terminator_written_at_line_start() -> None:
    # ``ISA|...|^\n~GS|...``: the ~ that starts each line is the terminator
    isa = ISA[:-2].replace("*", "|") + "^\n~GS|HP"
    assert detect_delimiters(isa.encode()).segment == "~"


def test_detect_variable_width_isa() -> None:
    isa = "ISA *00 * *00 * *ZZ *ABCPAYER *ZZ *ABCPAYER *190827 *0212 *^ *00501 *191511902 *0 *P *>~GS*HP"
    assert detect_delimiters(isa.encode()) == Delimiters("*", ">", "^", "~")


def test_detect_bare_transaction_set() -> None:
    d = detect_delimiters(b"ST*835*1234~BPR*I*10*C*CHK~SVC*HC>99213*10*10~")
    assert d == Delimiters("*", ">", "^", "~")
    assert detect_delimiters(b"ST*999*0001\nAK1*HC*1\n").segment == "\n"


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"", "empty file"),
        (b"   \r\n  ", "empty file"),
        (b"Hello, world", "does not start with an ISA"),
        (b"ISA*00*   ", "fewer than 16 elements"),
        (b"ISA00", "element separator is missing"),
    ],
)
def test_detect_errors(head: bytes, message: str) -> None:
    with pytest.raises(X12ParseError, match=message) as exc:
        detect_delimiters(head, name="x.835")
    assert str(exc.value).startswith("x.835: segment 1")


def test_detect_refuses_equal_delimiters() -> None:
    with pytest.raises(X12ParseError, match="three different characters"):
        detect_delimiters(ISA.replace("*:~", "*:*").encode())


# ---- segments -----------------------------------------------------------------------------------------


def test_standard_file() -> None:
    got = list(iter_segments(standard().encode()))
    assert [n for n, _ in got] == list(range(1, 9))
    assert [el for _, el in got] == EXPECTED
    assert got[0][1][6] == "SENDER"  # ISA padding stripped


@pytest.mark.parametrize(
    "variant",
    [
        standard(after="\n"),
        standard(after="\r\n"),
        "\ufeff" + standard(after="\r\n"),
        standard(after="\n    "),  # indented lines
        "  \r\n" + standard(after="\n\t"),
        standard(term="\n"),
        standard(term="\r\n").replace("~", ""),
        standard().replace("~", "~~~"),  # empty segments
        standard()[:-1],  # no terminator after the last segment
    ],
    ids=["lf", "crlf", "bom", "indent", "leading-ws", "newline-term", "crlf-term", "empties", "no-last-term"],
)
def test_tolerated_messiness(variant: str) -> None:
    raw = variant.encode("utf-8") if "\ufeff" in variant else variant.encode("latin-1")
    got = list(iter_segments(raw))
    assert [el for _, el in got] == EXPECTED
    assert [n for n, _ in got] == list(range(1, 9))


def test_fixed_width_wrapped_lines() -> None:
    text = standard()
    wrapped = "\n".join(text[i : i + 80] for i in range(0, len(text), 80))
    assert seg_list(wrapped) == EXPECTED


def test_pipe_and_caret() -> None:
    text = standard().replace("*", "|").replace("|:~", "|^~").replace(":", "^")
    got = seg_list(text)
    assert got[4] == ["SVC", "HC^99213^25", "100", "80", "", "1"]


def test_variable_width_isa_file() -> None:
    isa = "ISA *00 * *00 * *ZZ *ABCPAYER *ZZ *ABCPAYER *190827 *0212 *^ *00501 *000000905 *0 *P *>~"
    got = list(iter_segments((isa + "GS*HP*A*B*20190827*1*905*X*005010X221A1~").encode()))
    assert got[0][1][0] == "ISA" and got[0][1][13] == "000000905" and got[0][1][16] == ">"
    assert got[1] == (2, ["GS", "HP", "A", "B", "20190827", "1", "905", "X", "005010X221A1"])


def test_bare_transaction_set_file() -> None:
    got = seg_list("ST*835*1234~BPR*I*1*C*CHK~SE*3*1234~")
    assert got == [["ST", "835", "1234"], ["BPR", "I", "1", "C", "CHK"], ["SE", "3", "1234"]]


def test_several_interchanges_with_their_own_delimiters() -> None:
    first = standard()
    second = standard().replace("*", "|").replace("|:~", "|^!").replace("~", "!")
    second = second.replace(":", "^")
    got = list(iter_batches((first + "\n" + second).encode()))
    segs = [(b.delimiters.element, s) for b in got for s in b.segments]
    assert len(segs) == 16
    assert segs[8][0] == "|" and segs[8][1].startswith("ISA|")
    assert segs[-1] == ("|", "IEA|1|000000905")
    assert [el for _, el in iter_segments((first + second).encode())][8][0] == "ISA"


def test_utf8_with_bom_is_decoded_as_utf8_and_others_as_latin1() -> None:
    text = standard().replace("CLP*PCN1", "CLP*PCNÉ")
    assert seg_list(b"\xef\xbb\xbf" + text.encode("utf-8"))[3][1] == "PCNÉ"
    assert seg_list(text.encode("latin-1"))[3][1] == "PCNÉ"


def test_utf8_multibyte_terminator() -> None:
    text = standard(term="…")
    raw = (ISA[:-1] + "…" + text[len(ISA) :]).encode("utf-8")
    assert seg_list(raw) == EXPECTED


def test_sources_path_file_and_bytes(tmp_path: Path) -> None:
    p = tmp_path / "a.835"
    p.write_bytes(standard().encode())
    assert seg_list(p.read_bytes()) == EXPECTED
    assert [el for _, el in iter_segments(p)] == EXPECTED
    assert [el for _, el in iter_segments(str(p))] == EXPECTED
    with p.open("rb") as f:
        assert [el for _, el in iter_segments(f)] == EXPECTED
    with pytest.raises(TypeError):
        list(iter_segments(12))  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    chunk=st.integers(min_value=1, max_value=400),
    after=st.sampled_from(["", "\n", "\r\n", "\n  ", "~~"]),
)
def test_chunk_boundaries_do_not_matter(chunk: int, after: str) -> None:
    text = (standard(after=after) + standard(after=after)).encode()
    got = [el for _, el in iter_segments(text, chunk_size=chunk)]
    assert got == EXPECTED + EXPECTED


def test_split_helpers() -> None:
    d = Delimiters()
    assert split_components("HC:99213:25", d) == ["HC", "99213", "25"]
    assert split_components("", d) == [""]
    assert split_repetitions("A^B", d) == ["A", "B"]
    assert split_repetitions("A^B", Delimiters(repetition="")) == ["A^B"]


def test_check_segment_id() -> None:
    assert check_segment_id(["NM1", "QC"], 3, "f") == ["NM1", "QC"]
    with pytest.raises(X12ParseError, match=r"f: segment 3: segment ID is not 2-3 capital letters"):
        check_segment_id(["~GS", "HP"], 3, "f")
    with pytest.raises(X12ParseError):
        check_segment_id(["clp", "1"], 3, "f")


# ---- errors -------------------------------------------------------------------------------------------


def test_junk_before_segment_id_names_the_segment() -> None:
    with pytest.raises(X12ParseError) as exc:
        seg_list(standard().replace("~ST*", "~#ST*"), name="bad.835")
    assert str(exc.value) == (
        "bad.835: segment 3: segment ID is not 2-3 capital letters or digits (junk before the segment ID?)"
    )


def test_nul_byte_names_file_and_segment() -> None:
    raw = standard().replace("SVC*HC", "SVC*H\x00C").encode()
    got: list[int] = []
    with pytest.raises(X12ParseError) as exc:
        for n, _ in iter_segments(raw, name="bad.835"):
            got.append(n)
    assert str(exc.value) == "bad.835: segment 5: NUL byte in data (binary or corrupt file)"
    assert got == [1, 2, 3, 4]  # everything before the bad segment was read


def test_control_character_delimiter_is_allowed() -> None:
    text = standard().replace("~", "\x1c")
    assert seg_list(text) == EXPECTED


def test_binary_junk() -> None:
    with pytest.raises(
        X12ParseError,
        match=r"^junk.bin: segment 1: NUL byte in data \(binary or corrupt file\); not an X12 file$",
    ):
        seg_list(b"\x00\x01\x02" * 100, name="junk.bin")


def test_utf16_is_refused() -> None:
    with pytest.raises(X12ParseError, match="UTF-16"):
        seg_list(b"\xff\xfe" + standard().encode("utf-16-le"))


def test_invalid_utf8_after_bom() -> None:
    with pytest.raises(X12ParseError, match="invalid UTF-8"):
        seg_list(b"\xef\xbb\xbf" + standard().replace("PCN1", "PCN\xff").encode("latin-1"))


class _Endless(io.RawIOBase):
    """A file of ``prefix`` followed by ``size`` bytes of ``fill``, produced lazily."""

    def __init__(self, prefix: bytes, fill: bytes, size: int) -> None:
        self.prefix = prefix
        self.fill = fill
        self.left = size
        self.served = 0
        self.pos = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.prefix:
            out, self.prefix = self.prefix[:n], self.prefix[n:]
        else:
            k = min(n, self.left)
            self.left -= k
            start = self.pos % len(self.fill)
            out = (self.fill * (k // len(self.fill) + 2))[start : start + k]
            self.pos += k
        self.served += len(out)
        return out


def test_a_100_mb_segment_is_refused_early() -> None:
    src = _Endless(ISA.encode() + b"GS*", b"A", 100 * 1024 * 1024)
    tracemalloc.start()
    with pytest.raises(X12ParseError, match=r"segment 2: segment longer than 1048576 characters"):
        list(iter_segments(src, name="huge.835"))  # type: ignore[arg-type]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert src.served < 4 * MAX_SEGMENT
    assert peak < 32 * 1024 * 1024


def test_millions_of_empty_segments_are_fast_and_small() -> None:
    raw = ISA.encode() + b"~" * 5_000_000 + b"GS*HP~"
    tracemalloc.start()
    t = time.perf_counter()
    got = list(iter_segments(raw))
    elapsed = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [n for n, _ in got] == [1, 2]
    assert elapsed < 5
    assert peak < 64 * 1024 * 1024


def test_constant_memory_on_a_large_stream() -> None:
    seg = b"CLP*PCN000001*1*100*80**12*X1~SVC*HC:99213*100*80**1~CAS*CO*45*20~"
    src = _Endless(ISA.encode(), seg, 8 * 1024 * 1024)  # 8 MB of segments, read 64 KiB at a time
    tracemalloc.start()
    n = 0
    for batch in iter_batches(src, chunk_size=64 * 1024):  # type: ignore[arg-type]
        n += len(batch.segments)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n > 300_000
    assert peak < 2 * 1024 * 1024  # a few chunks, never the stream


# ---- end-of-file padding and multi-byte separators ------------------------------------------------------


@pytest.mark.parametrize(
    "tail",
    [b"\x1a", b"\x00" * 4096, b"\r\n\x1a", b"\x1a\x00\x00\r\n  ", b"   \r\n\t", b"\x00" * (3 << 20)],
    ids=["dos-eof", "nul-padding", "newline-then-eof", "mixed", "whitespace", "3mb-of-nul"],
)
@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_end_of_file_padding_is_ignored_and_logged(
    tail: bytes, chunk: int, caplog: pytest.LogCaptureFixture
) -> None:
    raw = standard(after="\r\n").encode() + tail
    with caplog.at_level("WARNING", logger="edi.reader"):
        assert [el for _n, el in iter_segments(raw, name="pad.835", chunk_size=chunk)] == EXPECTED
    padding = [r for r in caplog.records if "end-of-file padding" in r.getMessage()]
    if tail.strip(b" \t\r\n"):
        (rec,) = padding
        assert rec.getMessage().startswith("pad.835: ")
    else:
        assert padding == []  # plain whitespace is not even worth a warning


def test_padding_followed_by_data_is_still_refused() -> None:
    raw = standard().encode() + b"\x1a\x00" + b"ISA*junk~"
    with pytest.raises(X12ParseError, match=r"^pad.835: segment 9: control character 0x1A in data"):
        seg_list(raw, name="pad.835")
    raw = standard().replace("SE*4", "SE\x00*4").encode() + b"\x00" * 10
    with pytest.raises(X12ParseError, match=r"^pad.835: segment 6: NUL byte in data"):
        seg_list(raw, name="pad.835")


def test_padding_inside_a_truncated_file_is_left_to_the_envelope() -> None:
    # the reader yields what is there; the envelope reports the missing IEA (tests/unit/parsers)
    raw = standard().encode()[: -len("IEA*1*000000905~")] + b"\x1a"
    assert seg_list(raw)[-1] == ["GE", "1", "905"]


@pytest.mark.parametrize("sep", ["§", "€", "😀"])
def test_multi_byte_element_separator_says_so(sep: str) -> None:
    size = len(sep.encode())
    raw = standard().replace("*", sep).encode()
    msg = (
        rf"^mb.835: segment 1 \(ISA\): ISA element separator is a multi-byte character \({size} bytes in "
        r"UTF-8\); X12 delimiters are single bytes$"
    )
    with pytest.raises(X12ParseError, match=msg):
        seg_list(raw, name="mb.835")
    with pytest.raises(X12ParseError, match=msg):
        seg_list(b"\xef\xbb\xbf" + raw, name="mb.835")
    with pytest.raises(X12ParseError, match=msg):
        detect_delimiters(raw, name="mb.835")
    bare = "".join(s + "~" for s in BODY[1:5]).replace("*", sep).encode()
    with pytest.raises(
        X12ParseError, match=r"^mb.835: segment 1 \(ST\): ST element separator is a multi-byte"
    ):
        seg_list(bare, name="mb.835")


def test_single_byte_latin1_separator_is_not_mistaken_for_utf8() -> None:
    text = standard().replace("*", "\xa7")
    assert seg_list(text.encode("latin-1")) == EXPECTED
