"""The 835 parser's segment handlers (:class:`parsers.x835_005010x221a1.Parser835`): records stream out in
file order, what a failing segment completed before its error still goes out first, and the summary scanner
uses the parser's public handlers rather than its internals."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from edi.errors import X12ParseError
from parsers import summary835
from parsers.envelope import Envelope
from parsers.records import ClaimPayment, Remittance, RemittanceTotals
from parsers.x835_005010x221a1 import Parser835, parse
from tests.unit.parsers.conftest import fixture

DENIAL = "835/denial_with_rarc.835"  # three claims, SUN-000130 … SUN-000132


def _until_error(data: bytes, native: bool) -> tuple[list[object], X12ParseError]:
    """Records yielded before the parse failed, and the error."""
    got: list[object] = []
    with pytest.raises(X12ParseError) as exc:
        for rec in parse(data, name="t.835", native=native):
            got.append(rec)
    return got, exc.value


@pytest.mark.parametrize("native", [False, True])
def test_claim_closed_by_a_failing_clp_goes_out_before_the_error(native: bool) -> None:
    # the third CLP closes the second claim, then fails its own check (no claim status)
    data = fixture(DENIAL).read_bytes().replace(b"CLP*SUN-000132*1*", b"CLP*SUN-000132**", 1)
    got, err = _until_error(data, native)
    claims = [r.patient_control_number for r in got if isinstance(r, ClaimPayment)]
    assert claims == ["SUN-000130", "SUN-000131"]
    assert err.element == "CLP02"


@pytest.mark.parametrize("native", [False, True])
def test_a_wrong_se_count_withholds_the_open_claim(native: bool) -> None:
    # SE is checked before the claim it closes goes out: a file whose count is wrong ends at the claim before
    data = fixture(DENIAL).read_bytes().replace(b"SE*41*0001", b"SE*40*0001", 1)
    got, err = _until_error(data, native)
    claims = [r.patient_control_number for r in got if isinstance(r, ClaimPayment)]
    assert claims == ["SUN-000130", "SUN-000131"]
    assert err.element == "SE01"
    assert not any(isinstance(r, RemittanceTotals) for r in got)


def test_handlers_put_records_in_out_in_file_order() -> None:
    """Driving the handlers directly (as parsers.summary835 does) leaves the records in ``out``."""
    text = fixture(DENIAL).read_text()
    e = text[3]
    segs = [s.strip() for s in text.split("~") if s.strip()]
    p = Parser835(Envelope("t.835", "x"))
    p.start_batch(1, text[104])  # ISA16, the component separator
    table = p.handlers()
    kinds: list[str] = []
    for segno, s in enumerate(segs, 1):
        el = s.split(e)
        table.get(el[0], p.on_other)(segno, el)
        kinds += [type(r).__name__ for r in p.out]
        p.out.clear()
    assert kinds[0] == Remittance.__name__ and kinds[-1] == RemittanceTotals.__name__
    assert kinds.count(ClaimPayment.__name__) == 3
    assert kinds == [type(r).__name__ for r in parse(fixture(DENIAL))]


def test_summary_scanner_uses_only_public_names_of_the_parser() -> None:
    tree = ast.parse(Path(summary835.__file__).read_text())
    imported = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "parsers.x835_005010x221a1"
        for alias in node.names
    ]
    assert "Parser835" in imported
    assert [n for n in imported if n.startswith("_")] == []
