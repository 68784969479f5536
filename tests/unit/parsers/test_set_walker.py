"""parsers.envelope.SetWalker, the one segment loop of the 999/277CA/277/271 parsers: hook order, TA1
records, body segments outside ST..SE, the missing-element error and a truncated file — with a toy
transaction so the loop is tested apart from any one guide."""

from __future__ import annotations

from collections.abc import Iterator

from edi.delimiters import Delimiters
from edi.errors import X12ParseError
from edi.reader import iter_batches
from parsers.envelope import Envelope, SetWalker
from parsers.records import InterchangeAck

ISA = "ISA*00*          *00*          *ZZ*PAYER          *ZZ*CLAIMFLOW      *260115*1001*^*00501*000000201*0*P*:~"


def _x12(*body: str, ta1: bool = False, ge01: int = 1) -> bytes:
    n = len(body) + 2
    segs = [ISA]
    if ta1:
        segs.append("TA1*000000123*260115*1001*A*000~")
    segs += ["GS*FA*PAYER*CLAIMFLOW*20260115*1001*201*X*005010X231A1~", "ST*999*0001*005010X231A1~"]
    segs += [f"{b}~" for b in body]
    segs += [f"SE*{n}*0001~", f"GE*{ge01}*201~", "IEA*1*000000201~"]
    return "\n".join(segs).encode()


class _Toy(SetWalker[str]):
    BODY = frozenset({"AK1", "AK9"})

    def __init__(self, env: Envelope) -> None:
        super().__init__(env)
        self.calls: list[str] = []

    def segment(self, segno: int, el: list[str], delims: Delimiters) -> Iterator[str]:
        self.calls.append(f"segment {el[0]} {segno}")
        if el[0] == "AK9":
            yield f"AK9 of {el[2]} at {segno} in ST {self.env.st02}, component {delims.component}"

    def begin(self, segno: int) -> None:
        self.calls.append(f"begin {segno}")

    def before_se(self, segno: int) -> None:
        self.calls.append(f"before_se {segno}")

    def end_set(self) -> Iterator[str]:
        self.calls.append("end_set")
        yield "end of set"


def _run(data: bytes, walker: type[_Toy] = _Toy) -> tuple[_Toy, list[object]]:
    toy = walker(Envelope("toy.999", "abc"))
    out: list[object] = []
    try:
        for rec in toy.run(iter_batches(data, name="toy.999")):
            out.append(rec)
    except X12ParseError as exc:
        out.append(exc)
    return toy, out


def test_hooks_run_in_order_and_records_stream() -> None:
    toy, out = _run(_x12("AK1*HC*1001", "BHT*0019", "AK9*A*2*2*2"))
    assert out == ["AK9 of 2 at 6 in ST 0001, component :", "end of set"]
    assert toy.calls == ["begin 3", "segment AK1 4", "segment AK9 6", "before_se 7", "end_set"]


def test_ta1_yields_an_interchange_ack() -> None:
    _, out = _run(_x12("AK1*HC*1001", ta1=True))
    assert isinstance(out[0], InterchangeAck) and out[0].ack_code == "A" and out[1] == "end of set"


def test_body_segment_outside_a_transaction_set_is_refused_before_the_hook() -> None:
    data = _x12().replace(b"ST*999", b"AK1*HC*1~\nST*999")
    toy, out = _run(data)
    assert str(out[-1]) == "toy.999: segment 3 (AK1): AK1 segment outside a transaction set (no ST before it)"
    assert toy.calls == []

    class _OwnLoops(_Toy):
        BODY_NEEDS_ST = False

    toy, _ = _run(data, _OwnLoops)
    assert toy.calls[0] == "segment AK1 3"


def test_bad_trailer_yields_no_record_of_the_set() -> None:
    _, out = _run(_x12("AK1*HC*1001").replace(b"SE*3*", b"SE*9*"))
    assert [str(x) for x in out] == ["toy.999: segment 5 (SE): SE01 says 9 segments, counted 3"]


def test_missing_element_and_truncated_file() -> None:
    class _Strict(_Toy):
        def segment(self, segno: int, el: list[str], delims: Delimiters) -> Iterator[str]:
            yield el[5]

    _, out = _run(_x12("AK1*HC"), _Strict)
    assert str(out[-1]) == "toy.999: segment 4 (AK1): has only 1 elements; a required element is missing"
    _, out = _run(_x12("AK1*HC*1001").rsplit(b"\nSE", 1)[0])
    assert (
        str(out[-1]) == "toy.999: segment 4 (AK1): file ends inside transaction set 0001 (no SE); truncated?"
    )
