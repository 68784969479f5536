"""A deterministic corpus of hostile inbound files derived from the valid fixtures.

Every case is a :class:`Case`: a file name, a mutation family, the outcome the parser must produce and
either the bytes or (for the 100 MB / millions-of-segments cases) a streaming writer. The same seed gives
the same corpus, byte for byte, so a failing case can be named in a bug report and regenerated::

    from tests.hostile.corpus import cases, write_corpus
    for case, path in write_corpus(tmp_dir, big=True):
        ...

Outcomes:

* ``invalid`` — the mutation certainly breaks the file: ``claimflow parse`` must exit 2 with one line;
* ``valid``   — the mutation keeps the file readable (consistent delimiter change, empty segments);
* ``any``     — it may or may not (a swapped pair of body segments, a 3-decimal amount): exit 0 or a
  well-formed exit 2, never a traceback.

``where`` says what the one error line must locate: ``id`` (``segment N (ID)``), ``number``
(``segment N``, e.g. a NUL byte before any segment ID could be read) or ``none`` (the file as a whole,
e.g. "not a TA1, 999, 277CA or 835 file").

This module only uses the standard library, so ``bench/hostile_corpus.py`` can import it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
SOURCES = ("835", "999", "277ca", "ta1")
SEED = 5010

BIG_SEGMENT_BYTES = 100 * 1024 * 1024  # the 100 MB single segment
EMPTY_SEGMENTS = 3_000_000  # "millions of empty segments"

INVALID, VALID, ANY = "invalid", "valid", "any"

# envelope IDs: swapping one of them with a neighbour always breaks the file
ENVELOPE = frozenset({"ISA", "GS", "ST", "SE", "GE", "IEA", "TA1"})
BOUNDARIES = ("ISA", "GS", "ST", "CLP", "SVC", "SE", "GE", "IEA", "AK2", "IK5", "AK9", "HL", "STC", "TA1")

BAD_AMOUNTS: dict[str, str] = {
    "1E400": INVALID,
    "NaN": INVALID,
    "Infinity": INVALID,
    "-Infinity": INVALID,
    "-0": ANY,  # a valid R value (zero); may unbalance the claim, which is not an error
    "1,000.00": INVALID,
    "$10": INVALID,
    "12.345": ANY,  # R allows any number of decimals; 835 money refuses it (see OVERSIZE_835), 277CA may not
    "1e5": INVALID,
    "+5": INVALID,
    "--1": INVALID,
    "1.2.3": INVALID,
    ".": INVALID,
    "-": INVALID,
    "0x10": INVALID,
    "1234567890123456789": INVALID,  # 19 digits: R is at most 18
    "١٢٣": INVALID,  # Arabic-Indic digits: str.isdigit() says yes, X12 says no
    " 10": INVALID,
}
# 835 values that do not fit the guide's maximum lengths or the storage columns (parsers.limits835):
# (segment ID, element position, value or a callable of the component separator, outcome). The value
# is refused by name (``CLP01 is longer than 38 characters``), never echoed.
OVERSIZE_835: tuple[tuple[str, int, str, str], ...] = (
    ("CLP", 1, "P" * 39, INVALID),  # CLP01 > 38
    ("CLP", 1, "P" * 38, VALID),  # exactly 38
    ("CLP", 7, "7" * 51, INVALID),  # CLP07 > 50
    ("CLP", 2, "123", INVALID),  # CLP02 > 2
    ("CLP", 9, "77", INVALID),  # CLP09 > 1
    ("N1", 2, "N" * 61, INVALID),  # N102 > 60 (payer name)
    ("TRN", 2, "T" * 51, INVALID),  # TRN02 > 50
    ("LQ", 2, "L" * 31, INVALID),  # LQ02 > 30
    ("REF", 2, "R" * 51, INVALID),  # REF02 > 50 (REF*EV in the header)
    ("CAS", 2, "123456", INVALID),  # CAS02 > 5
    ("CAS", 1, "COX", INVALID),  # CAS01 > 2
    ("NM1", 3, "M" * 61, INVALID),  # NM103 > 60
    ("PLB", 1, "9" * 51, INVALID),  # PLB01 > 50
    ("ST", 2, "1234567890", INVALID),  # ST02 > 9
    ("CLP", 3, "1000000000000", INVALID),  # 13 integer digits: beyond NUMERIC(14,2)
    ("CLP", 3, "123456789012345678", INVALID),  # 18 digits: a valid R, not a storable amount
    ("CLP", 3, "-1000000000000.00", INVALID),
    ("CLP", 3, "999999999999.99", ANY),  # the largest storable amount (CLP03 − CLP04 may then not fit)
    ("CLP", 3, "000000000000100.5", VALID),  # leading zeros are not significant
    ("CLP", 4, "100.005", INVALID),  # a third decimal that is not zero: refused, never rounded
    ("CLP", 4, "100.000", VALID),  # trailing zeros: exactly 100
    ("SVC", 2, "0.001", INVALID),
    ("BPR", 2, "1000000000000", INVALID),
    ("AMT", 2, "12.345", INVALID),
    ("PLB", 4, "0.125", INVALID),
    ("SVC", 5, "1.0005", INVALID),  # units: a non-zero fourth decimal
    ("SVC", 5, "1.125", VALID),  # units keep three decimals (NUMERIC(15,3))
    ("SVC", 5, "1000000000000", INVALID),  # units beyond NUMERIC(15,3)
)
"""The 835 oversize family; SVC01-2 (procedure code > 48) is added with the file's component separator."""

BAD_DATES8 = ("20261340", "20260230", "2026", "00000000", "2026-01-15", "2026011", "202601155", "ABCDEFGH")
BAD_DATES6 = ("261340", "260230", "2601", "000000", "ABCDEF")


@dataclass(frozen=True)
class Case:
    name: str  # file name, unique, safe on every file system
    family: (
        str  # truncate, delete, duplicate, swap, count, delimiter, encoding, nul, big, amount, date, junk…
    )
    expect: str  # INVALID, VALID or ANY
    where: str = "id"  # id, number or none: what the error line must locate
    data: bytes | None = field(default=None, repr=False)
    writer: Callable[[Path], None] | None = field(default=None, repr=False, compare=False)
    big: bool = False  # written by a streaming writer; run in a subprocess

    def write(self, path: Path) -> Path:
        if self.writer is not None:
            self.writer(path)
        else:
            assert self.data is not None
            path.write_bytes(self.data)
        return path


# ---- the valid fixtures, split into segments -------------------------------------------------------


@dataclass
class Source:
    """A fixture as a list of raw segments (each with its terminator and any line break after it)."""

    stem: str  # "835-denial_with_rarc"
    ext: str
    segs: list[str]
    element: str
    component: str
    terminator: str

    def text(self, segs: list[str] | None = None) -> str:
        return "".join(self.segs if segs is None else segs)

    def ids(self) -> list[str]:
        return [s.split(self.element, 1)[0].strip() for s in self.segs]

    def elements(self, i: int) -> list[str]:
        s = self.segs[i]
        body = (
            s.rstrip("\r\n ").removesuffix(self.terminator)
            if self.terminator not in "\r\n"
            else s.rstrip("\r\n")
        )
        return body.split(self.element)

    def rebuild(self, i: int, el: list[str]) -> str:
        s = self.segs[i]
        body_len = (
            len(s.rstrip("\r\n ").removesuffix(self.terminator))
            if self.terminator not in "\r\n"
            else len(s.rstrip("\r\n"))
        )
        return self.element.join(el) + s[body_len:]


def load_sources() -> list[Source]:
    out = []
    for sub in SOURCES:
        for p in sorted((FIXTURES / sub).iterdir()):
            if not p.is_file():
                continue
            text = p.read_bytes().decode("latin-1").lstrip()
            assert text.startswith("ISA"), p
            element, component, term = text[3], text[104], text[105]
            segs: list[str] = []
            pos = 0
            while pos < len(text):
                end = text.find(term, pos)
                if end < 0:
                    segs.append(text[pos:])
                    break
                end += 1
                while end < len(text) and text[end] in "\r\n" and text[end] != term:
                    end += 1
                segs.append(text[pos:end])
                pos = end
            segs = [s for s in segs if s.strip()]
            out.append(Source(f"{sub}-{p.stem}", p.suffix.lstrip("."), segs, element, component, term))
    return out


# ---- case families ---------------------------------------------------------------------------------


def _b(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:  # a deliberately non-Latin-1 value: its UTF-8 bytes
        return text.encode("utf-8")


def _case(src: Source, tag: str, data: bytes | str, expect: str, family: str, where: str = "id") -> Case:
    if isinstance(data, str):
        data = _b(data)
    safe = "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_" for c in tag)
    return Case(f"{src.stem}__{family}__{safe}.{src.ext}", family, expect, where, data)


def _first(ids: list[str], sid: str) -> int | None:
    return ids.index(sid) if sid in ids else None


def truncations(src: Source) -> Iterator[Case]:
    ids = src.ids()
    seen: dict[str, int] = {}
    last = len(src.segs) - 1
    for i, sid in enumerate(ids):
        if sid not in BOUNDARIES:
            continue
        seen[sid] = seen.get(sid, 0) + 1
        if seen[sid] > 2:  # the first two of each kind: the rest adds nothing new
            continue
        n = seen[sid]
        if i < last:
            yield _case(src, f"after-{sid}{n}", src.text(src.segs[: i + 1]), INVALID, "truncate")
        seg = src.segs[i]
        cut = max(1, len(seg.rstrip()) // 2)
        expect = INVALID
        if i == last and sid == "IEA":
            expect = INVALID  # half an IEA: IEA02 or the IEA itself is gone
        yield _case(src, f"mid-{sid}{n}", src.text(src.segs[:i]) + seg[:cut], expect, "truncate")
        if i < last:
            # the segment without its terminator, followed by nothing
            yield _case(
                src,
                f"noterm-{sid}{n}",
                src.text(src.segs[:i]) + seg.rstrip().removesuffix(src.terminator),
                INVALID,
                "truncate",
            )
    isa = src.segs[0]
    for cut in (1, 3, 4, 50, 90, 103, 104, 105):
        yield _case(src, f"mid-ISA-{cut}", isa[:cut], INVALID, "truncate", where="number")
    # the last IEA without its terminator: readers accept a final unterminated segment
    yield _case(
        src,
        "last-noterm",
        src.text(src.segs[:-1]) + src.segs[-1].rstrip().removesuffix(src.terminator),
        VALID,
        "truncate",
    )


def deletions(src: Source, rng: random.Random, limit: int) -> Iterator[Case]:
    ids = src.ids()
    idx = list(range(len(src.segs)))
    env = [i for i in idx if ids[i] in ENVELOPE]
    body = [i for i in idx if ids[i] not in ENVELOPE]
    chosen = sorted(set(env + rng.sample(body, min(limit, len(body)))))
    for i in chosen:
        segs = src.segs[:i] + src.segs[i + 1 :]
        expect = ANY if ids[i] == "TA1" else INVALID  # a TA1 file has no segment count
        yield _case(
            src,
            f"del-{i + 1}-{ids[i]}",
            src.text(segs),
            expect,
            "delete",
            where="number" if i == 0 else "none" if ids[i] == "TA1" else "id",
        )


def duplications(src: Source, rng: random.Random, limit: int) -> Iterator[Case]:
    ids = src.ids()
    idx = list(range(len(src.segs)))
    env = [i for i in idx if ids[i] in ENVELOPE]
    body = [i for i in idx if ids[i] not in ENVELOPE]
    for i in sorted(set(env + rng.sample(body, min(limit, len(body))))):
        segs = src.segs[: i + 1] + src.segs[i:]
        expect = ANY if ids[i] == "TA1" else INVALID
        yield _case(src, f"dup-{i + 1}-{ids[i]}", src.text(segs), expect, "duplicate")


def swaps(src: Source, rng: random.Random, limit: int) -> Iterator[Case]:
    ids = src.ids()
    pairs = [i for i in range(len(src.segs) - 1) if ids[i] != ids[i + 1]]
    env = [i for i in pairs if ids[i] in ENVELOPE or ids[i + 1] in ENVELOPE]
    body = [i for i in pairs if i not in env]
    for i in sorted(set(env + rng.sample(body, min(limit, len(body))))):
        segs = list(src.segs)
        segs[i], segs[i + 1] = segs[i + 1], segs[i]
        expect = INVALID if i in env else ANY
        yield _case(
            src,
            f"swap-{i + 1}-{ids[i]}-{ids[i + 1]}",
            src.text(segs),
            expect,
            "swap",
            where="number" if i == 0 else "id",
        )
    # the whole body of the first transaction set reversed (envelope kept)
    st, se = _first(ids, "ST"), _first(ids, "SE")
    if st is not None and se is not None and se - st > 3:
        segs = src.segs[: st + 1] + src.segs[st + 1 : se][::-1] + src.segs[se:]
        yield _case(src, "reverse-body", src.text(segs), ANY, "swap")


def _set_element(
    src: Source,
    sid: str,
    pos: int,
    values: list[str],
    family: str = "count",
    expect: str = INVALID,
    occurrence: int = 0,
) -> Iterator[Case]:
    ids = src.ids()
    where = [i for i, s in enumerate(ids) if s == sid]
    if len(where) <= occurrence:
        return
    i = where[occurrence]
    el = src.elements(i)
    if len(el) <= pos:
        return
    for v in values:
        if v == el[pos]:
            continue
        el2 = list(el)
        el2[pos] = v
        segs = list(src.segs)
        segs[i] = src.rebuild(i, el2)
        tag = v if v.isascii() and v.isalnum() and len(v) < 24 else "x" + v.encode().hex()[:24]
        yield _case(src, f"{sid}{pos:02d}-{occurrence + 1}-{tag}", src.text(segs), expect, family)


def counts(src: Source) -> Iterator[Case]:
    ids = src.ids()

    def around(sid: str, pos: int, width: int | None = None) -> list[str]:
        i = _first(ids, sid)
        if i is None:
            return []
        el = src.elements(i)
        if len(el) <= pos:
            return []
        v = el[pos]
        out = ["", "X", "-1", "99999999999999999999999", "1.0", " "]
        if v.isdigit():
            n = int(v)
            for d in (1, -1, 1000):
                m = n + d
                if m >= 0:
                    out.append(str(m).zfill(width or len(v)) if width else str(m))
            out.append("0" + v)  # same number with a leading zero: may be accepted
        return out

    for sid, pos in (("SE", 1), ("GE", 1), ("IEA", 1)):
        vals = around(sid, pos)
        strict = [v for v in vals if not v.startswith("0") or v == "0"]
        if sid == "IEA" and "TA1" in ids and "GS" not in ids:
            # a TA1-only interchange: IEA01 = its number of TA1s is read (real senders count the TA1)
            n_ta1 = str(ids.count("TA1"))
            yield from _set_element(src, sid, pos, [v for v in strict if v == n_ta1], expect=VALID)
            strict = [v for v in strict if v != n_ta1]
        yield from _set_element(src, sid, pos, strict)
        lead = [v for v in vals if v.startswith("0") and v != "0"]
        yield from _set_element(src, sid, pos, lead, expect=ANY)
    for sid, pos in (("SE", 2), ("GE", 2), ("IEA", 2)):
        i = _first(ids, sid)
        if i is None:
            continue
        v = src.elements(i)[pos] if len(src.elements(i)) > pos else ""
        alt = str((int(v) + 1) if v.isdigit() else 1).zfill(len(v) or 4)
        yield from _set_element(src, sid, pos, [alt, "", "X" * len(v or "X")])
    # the headers' control numbers changed instead (so the trailers disagree)
    for sid, pos in (("ST", 2), ("GS", 6)):
        yield from _set_element(src, sid, pos, ["99999"])
    yield from _set_element(src, "ISA", 13, ["000000999", "12345678", "ABCDEFGHI"])
    # SE01 a few off in the *last* transaction set of a multi-set file
    n_se = ids.count("SE")
    if n_se > 1:
        i = [k for k, s in enumerate(ids) if s == "SE"][-1]
        el = src.elements(i)
        if el[1].isdigit():
            yield from _set_element(src, "SE", 1, [str(int(el[1]) + 2)], occurrence=n_se - 1)


def delimiters(src: Source) -> Iterator[Case]:
    text = src.text()
    e, c, t = src.element, src.component, src.terminator
    isa = src.segs[0]
    rest = src.text(src.segs[1:])
    # consistent change: still a valid file
    for ne, nt in (("|", "~"), ("^", "\n"), ("*", "\n")):
        if (ne, nt) == (e, t) or ne == c:
            continue
        if ne == isa[82] or nt == isa[82]:  # ISA11 repetition separator
            continue
        if any(ne in s.replace(e, "") or nt in s.replace(t, "") for s in src.segs):
            continue
        tr = {ord(e): ne, ord(t): nt}
        new = text.translate(tr).replace("\r", "").replace("\n\n", "\n")
        yield _case(src, f"consistent-{ord(ne)}-{ord(nt)}", new, VALID, "delimiter")
    # the ISA declares one element separator, the rest of the file uses another
    other = "|" if e != "|" else "*"
    yield _case(src, "isa-elem-only", isa.replace(e, other) + rest, INVALID, "delimiter", where="number")
    yield _case(src, "rest-elem-only", isa + rest.replace(e, other), INVALID, "delimiter", where="number")
    # ISA16 (component) changed to the element separator / terminator / a letter
    for tag, nc in (
        ("comp-is-elem", e),
        ("comp-is-term", t),
        ("comp-is-letter", "A"),
        ("comp-is-space", " "),
    ):
        new_isa = isa[:104] + nc + isa[105:]
        yield _case(
            src, tag, new_isa + rest, INVALID if tag != "comp-is-letter" else ANY, "delimiter", where="number"
        )
    # the terminator at ISA position 106 differs from the rest of the file
    nt = "!" if t != "!" else "~"
    yield _case(src, "isa-term-only", isa[:105] + nt + isa[106:] + rest, INVALID, "delimiter", where="number")
    yield _case(src, "rest-term-only", isa + rest.replace(t, nt), INVALID, "delimiter")
    # no terminator at all after the ISA (the whole file is one segment)
    yield _case(src, "no-terminators", isa + rest.replace(t, ""), INVALID, "delimiter")
    # element separator equal to the terminator
    yield _case(
        src, "elem-is-term", isa[:3] + t + isa[4:].replace(e, t) + rest, INVALID, "delimiter", where="number"
    )
    # repetition separator (ISA11) equal to the element separator or the component separator
    yield _case(src, "rep-is-elem", isa[:82] + e + isa[83:] + rest, ANY, "delimiter", where="number")
    yield _case(src, "rep-is-comp", isa[:82] + c + isa[83:] + rest, ANY, "delimiter", where="number")
    # delimiters inside data: in a name (NM103 / N102), in CLP01 / TRN02 / AK102 / TA101
    ids = src.ids()
    for sid, pos in (("N1", 2), ("NM1", 3), ("CLP", 1), ("TRN", 2), ("AK1", 2), ("TA1", 1), ("SVC", 2)):
        i = _first(ids, sid)
        if i is None:
            continue
        el = src.elements(i)
        if len(el) <= pos:
            continue
        for tag, ch, expect in (("elem", e, ANY), ("term", t, INVALID), ("comp", c, ANY)):
            if ch in "\r\n":
                expect = INVALID
            el2 = list(el)
            el2[pos] = el2[pos][:2] + ch + el2[pos][2:]
            segs = list(src.segs)
            segs[i] = src.rebuild(i, el2)
            if tag == "term" and sid == "TA1":
                expect = INVALID
            # a terminator inside data leaves a fragment whose "segment ID" is junk: no ID to name
            yield _case(
                src,
                f"{tag}-in-{sid}{pos:02d}",
                src.text(segs),
                expect,
                "delimiter",
                where="number" if expect == INVALID else "id",
            )


def encodings(src: Source) -> Iterator[Case]:
    text = src.text()
    data = _b(text)
    ids = src.ids()
    i = next((k for k, s in enumerate(ids) if s in ("N1", "NM1", "TRN", "AK1", "TA1")), len(ids) // 2)
    el = src.elements(i)
    pos = min(2, len(el) - 1)

    def put(ins: bytes, tag: str, expect: str, where: str = "id") -> Case:
        el2 = list(el)
        marker = "\x01MARK\x01"
        el2[pos] = el2[pos][:1] + marker + el2[pos][1:]
        segs = list(src.segs)
        segs[i] = src.rebuild(i, el2)
        raw = _b(src.text(segs)).replace(_b(marker), ins)
        return _case(src, tag, raw, expect, "encoding", where)

    yield put("É".encode("latin-1"), "latin1-e-acute", ANY)
    yield put("É".encode(), "utf8-e-acute", ANY)
    yield put("\u2028".encode(), "utf8-line-separator", ANY)
    yield put(b"\xff\xfe", "invalid-utf8-ff-fe", ANY)
    yield put(b"\xc3", "invalid-utf8-lone-lead", ANY)
    yield put(b"\xed\xa0\x80", "utf8-surrogate", ANY)
    yield put("\U0001f4a9".encode(), "utf8-emoji", ANY)
    yield put(b"\x1b[31m", "ansi-escape", INVALID, "number")
    yield put(b"\x7f", "del-char", INVALID, "number")
    # a UTF-8 byte-order mark, then invalid UTF-8 in the body
    yield _case(
        src,
        "bom-then-invalid-utf8",
        b"\xef\xbb\xbf" + _b(src.text(src.segs[:i])) + b"\xff\xc0\x80" + _b(src.text(src.segs[i:])),
        INVALID,
        "encoding",
        "number",
    )
    yield _case(src, "bom-only-valid", b"\xef\xbb\xbf" + data, VALID, "encoding")
    yield _case(src, "utf16le", text.encode("utf-16-le"), INVALID, "encoding", "number")
    yield _case(src, "utf16-bom", text.encode("utf-16"), INVALID, "encoding", "number")
    yield _case(src, "utf32", text.encode("utf-32"), INVALID, "encoding", "number")
    yield _case(src, "ebcdic", text.encode("cp500"), INVALID, "encoding", "none")
    # the ISA's fixed-width padding replaced with multi-byte characters (ISA106 is no longer ISA[105])
    isa = src.segs[0]
    yield _case(
        src,
        "isa-utf8-padding",
        (isa.replace("  ", "éé", 1) + src.text(src.segs[1:])).encode(),
        ANY,
        "encoding",
        "number",
    )
    yield _case(src, "lowercase", _b(text.lower()), INVALID, "encoding", "none")
    yield _case(
        src,
        "crlf-everywhere",
        _b(
            text.replace("\n", "").replace(src.terminator, src.terminator + "\r\n")
            if src.terminator not in "\r\n"
            else text.replace("\n", "\r\n")
        ),
        VALID,
        "encoding",
    )


def nuls(src: Source) -> Iterator[Case]:
    data = _b(src.text())
    n = len(data)
    for tag, at in (("start", 0), ("in-isa", 40), ("at-isa-end", 105), ("middle", n // 2), ("end", n)):
        yield _case(
            src,
            f"nul-{tag}",
            data[:at] + b"\x00" + data[at:],
            INVALID if tag != "end" else ANY,
            "nul",
            "number" if tag != "start" else "none",
        )
    yield _case(src, "nul-every-byte", b"\x00".join(bytes([x]) for x in data[:2000]), INVALID, "nul", "none")
    # NUL declared as the terminator in the ISA and used consistently: odd but self-consistent
    yield _case(src, "nul-as-terminator", data.replace(_b(src.terminator), b"\x00"), ANY, "nul", "number")
    isa_len = len(_b(src.segs[0]))
    yield _case(
        src,
        "nul-replaces-terminators",
        data[:isa_len] + data[isa_len:].replace(_b(src.terminator), b"\x00"),
        INVALID,
        "nul",
        "number",
    )
    yield _case(
        src, "nul-block-4k", data[: n // 3] + b"\x00" * 4096 + data[n // 3 :], INVALID, "nul", "number"
    )


def amounts(src: Source) -> Iterator[Case]:
    targets = (
        ("CLP", 3),
        ("CLP", 4),
        ("BPR", 2),
        ("SVC", 2),
        ("SVC", 3),
        ("CAS", 3),
        ("AMT", 2),
        ("PLB", 4),
        ("STC", 4),
        ("QTY", 2),
        ("TS3", 4),
    )
    ids = src.ids()
    done = 0
    for sid, pos in targets:
        if sid not in ids or done >= 4:
            continue
        i = ids.index(sid)
        if len(src.elements(i)) <= pos or not src.elements(i)[pos]:
            continue
        done += 1
        for v, expect in BAD_AMOUNTS.items():
            yield from _set_element(src, sid, pos, [v], family="amount", expect=expect)


def oversize(src: Source) -> Iterator[Case]:
    """835 only: values longer than the guide allows or larger/more precise than their column."""
    if not src.stem.startswith("835"):
        return
    values = [*OVERSIZE_835, ("SVC", 1, f"HC{src.component}" + "9" * 49, INVALID)]
    for sid, pos, value, expect in values:
        for case in _set_element(src, sid, pos, [value], family="oversize", expect=expect):
            tag = f"{sid}{pos:02d}-{'ok' if expect == VALID else 'bad'}-{len(value)}"
            yield Case(
                case.name.split("__oversize__")[0] + f"__oversize__{tag}-{value[-4:].replace('.', '_')}.835",
                "oversize",
                expect,
                "id",
                case.data,
            )


def dates(src: Source) -> Iterator[Case]:
    ids = src.ids()
    for sid, pos in (("DTM", 2), ("BPR", 16), ("GS", 4), ("DTP", 3), ("TRN", 0), ("CLP", 0)):
        if sid not in ids:
            continue
        i = ids.index(sid)
        el = src.elements(i)
        if len(el) <= pos or not el[pos].isdigit() or len(el[pos]) != 8:
            continue
        vals = list(BAD_DATES8)
        if sid == "DTP":  # DTP03 may be a range in RD8
            vals.append(vals[0] + "-" + vals[1])
        # GS04 is not used by the parsers for anything but provenance: changes may pass
        yield from _set_element(src, sid, pos, vals, family="date", expect=ANY if sid == "GS" else INVALID)
    yield from _set_element(src, "ISA", 9, list(BAD_DATES6), family="date", expect=ANY)
    if "TA1" in ids:
        yield from _set_element(src, "TA1", 2, list(BAD_DATES6), family="date", expect=INVALID)


def junk(src: Source, rng: random.Random) -> Iterator[Case]:
    data = _b(src.text())
    for k, size in enumerate((1, 7, 106, 4096, 70000)):
        yield _case(
            src, f"random-{size}", rng.randbytes(size), INVALID, "junk", "number" if size > 0 else "none"
        )
        del k
    yield _case(src, "junk-prepended", rng.randbytes(64) + data, INVALID, "junk", "number")
    yield _case(src, "text-prepended", b"Hello, this is not X12\n" + data, INVALID, "junk", "none")
    yield _case(src, "junk-appended", data + rng.randbytes(256), INVALID, "junk", "number")
    yield _case(src, "text-appended", data + b"THIS IS NOT A SEGMENT", INVALID, "junk", "number")
    yield _case(
        src,
        "segment-after-iea",
        data + _b(f"REF{src.element}EV{src.element}X{src.terminator}"),
        INVALID,
        "junk",
    )
    mid = len(data) // 2
    yield _case(
        src,
        "junk-overwrites-middle",
        data[:mid] + rng.randbytes(40) + data[mid + 40 :],
        INVALID,
        "junk",
        "number",
    )
    # printable junk (no control characters): the segment structure breaks, not the character set
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789*~:^|! "
    yield _case(
        src,
        "printable-junk-middle",
        data[:mid] + bytes(rng.choice(alphabet) for _ in range(200)) + data[mid:],
        ANY,
        "junk",
        "number",
    )
    k = len(src.segs) // 2
    yield _case(
        src,
        "printable-junk-segment",
        _b(src.text(src.segs[:k]))
        + b"zz"
        + bytes(rng.choice(alphabet) for _ in range(200))
        + _b(src.terminator + src.text(src.segs[k:])),
        INVALID,
        "junk",
        "number",
    )
    # flip single bytes: whatever they do, no traceback
    for k in range(6):
        b = bytearray(data)
        p = rng.randrange(len(b))
        b[p] ^= 1 << rng.randrange(8)
        yield _case(src, f"bitflip-{k}-{p}", bytes(b), ANY, "junk", "number")
    # a second interchange glued after the first with other delimiters declared, but the old ones used
    yield _case(src, "two-interchanges-same", data + data, ANY, "junk")


def small_cases(sources: list[Source] | None = None, seed: int = SEED) -> Iterator[Case]:
    """Every in-memory case (a few thousand files, a few MB in all)."""
    rng = random.Random(seed)
    for src in sources or load_sources():
        yield from truncations(src)
        yield from deletions(src, rng, 8)
        yield from duplications(src, rng, 4)
        yield from swaps(src, rng, 6)
        yield from counts(src)
        yield from delimiters(src)
        yield from encodings(src)
        yield from nuls(src)
        yield from amounts(src)
        yield from oversize(src)
        yield from dates(src)
        yield from junk(src, rng)
    yield Case("empty__junk__empty.835", "junk", INVALID, "number", b"")
    yield Case("empty__junk__whitespace.835", "junk", INVALID, "number", b" \r\n\t\n")
    yield Case("empty__junk__tildes.835", "junk", INVALID, "number", b"~~~~~~~~")
    yield Case("empty__junk__isa-only-id.835", "junk", INVALID, "number", b"ISA")
    yield Case("empty__junk__isa-star.835", "junk", INVALID, "number", b"ISA*")


# ---- big cases: streamed to disk -----------------------------------------------------------------------


def _write_stream(path: Path, parts: Callable[[], Iterator[bytes]]) -> None:
    with open(path, "wb") as f:
        for p in parts():
            f.write(p)


def _repeat(block: bytes, total: int) -> Iterator[bytes]:
    full, rem = divmod(total, len(block))
    for _ in range(full):
        yield block
    if rem:
        yield block[:rem]


def big_cases(sources: list[Source] | None = None) -> Iterator[Case]:
    """The 100 MB single segment and millions of empty segments: written streaming, never in memory."""
    srcs = {s.stem: s for s in (sources or load_sources())}
    src = srcs["835-denial_with_rarc"]
    ids = src.ids()
    st = ids.index("ST")
    head = _b(src.text(src.segs[: st + 1]))
    tail = _b(src.text(src.segs[st + 1 :]))
    e, t = _b(src.element), _b(src.terminator)
    one_mb_a = b"A" * (1 << 20)

    def huge(terminated: bool, block: bytes = one_mb_a) -> Callable[[], Iterator[bytes]]:
        def parts() -> Iterator[bytes]:
            yield head
            yield b"NTE" + e + b"ADD" + e
            yield from _repeat(block, BIG_SEGMENT_BYTES)
            if terminated:
                yield t
                yield tail

        return parts

    def empties(
        before: bytes, after: bytes, n: int = EMPTY_SEGMENTS, sep: bytes = t
    ) -> Callable[[], Iterator[bytes]]:
        def parts() -> Iterator[bytes]:
            yield before
            yield from _repeat(sep * 65536, n * len(sep))
            yield after

        return parts

    def mk(name: str, expect: str, parts: Callable[[], Iterator[bytes]], where: str = "id") -> Case:
        return Case(name, "big", expect, where, None, lambda p: _write_stream(p, parts), big=True)

    # the reader refuses the segment after 1 MiB and names its number only (tests/unit/edi/test_reader.py
    # pins that message), hence "number"
    yield mk("big__100mb-segment-unterminated.835", INVALID, huge(False), "number")
    yield mk("big__100mb-segment-terminated.835", INVALID, huge(True), "number")
    yield mk("big__100mb-segment-of-separators.835", INVALID, huge(True, e * (1 << 20)), "number")
    yield mk(
        "big__100mb-segment-of-components.835", INVALID, huge(True, _b(src.component) * (1 << 20)), "number"
    )
    yield mk("big__empty-segments-inside.835", VALID, empties(head, tail))
    yield mk("big__empty-segments-after-iea.835", VALID, empties(_b(src.text()), b""))
    yield mk("big__empty-segments-then-eof.835", INVALID, empties(head, b""))
    yield mk("big__empty-segments-only.835", INVALID, empties(b"", b""), "number")
    yield mk("big__empty-segments-crlf.835", VALID, empties(head, tail, sep=t + b"\r\n"))
    yield mk("big__blank-lines-inside.835", VALID, empties(head, tail, sep=b"\n"))
    # 100 MB of binary junk after a valid ISA
    isa = _b(src.segs[0])

    def junk_parts() -> Iterator[bytes]:
        rng = random.Random(SEED)
        yield isa
        block = rng.randbytes(1 << 20)
        yield from _repeat(block, BIG_SEGMENT_BYTES)

    yield mk("big__100mb-binary-after-isa.835", INVALID, junk_parts, "number")


def cases(*, big: bool = False, seed: int = SEED) -> list[Case]:
    """The whole corpus in a stable order; names are unique."""
    srcs = load_sources()
    out = list(small_cases(srcs, seed))
    if big:
        out += list(big_cases(srcs))
    names = [c.name for c in out]
    assert len(names) == len(set(names)), "duplicate case names"
    return out


def write_corpus(
    folder: str | os.PathLike[str], *, big: bool = True, seed: int = SEED
) -> list[tuple[Case, Path]]:
    """Write every case into ``folder`` (created) and return (case, path) pairs."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    return [(c, c.write(root / c.name)) for c in cases(big=big, seed=seed)]
