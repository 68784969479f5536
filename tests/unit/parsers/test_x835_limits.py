"""835 values that cannot be stored are refused by the parser, by element name, on every path.

Oversized strings (CLP01 > 38, CLP07 > 50, N102 > 60, TRN02 > 50, LQ02 > 30, SVC01-2 > 48 …), amounts
beyond NUMERIC(14,2) or with a non-zero third decimal, quantities beyond NUMERIC(15,3): one
:class:`X12ParseError` line naming file, segment number, segment ID and element — never the value — the
same with and without the C accelerator, with and without claim records, and from the summary scanner.
"""

from __future__ import annotations

import contextlib
import io
import json
from decimal import Decimal
from typing import Any

import pytest

from claimflow.cli.parse import main
from edi.errors import X12ParseError
from edi.reader import iter_batches
from parsers import values
from parsers.native import SPEEDUPS
from parsers.records import ClaimPayment, Remittance
from parsers.summary835 import _Doubt, _scan, totals
from parsers.x835_005010x221a1 import parse

from .conftest import FIXTURES

BASE = (FIXTURES / "835" / "payment_contractual_deductible_coinsurance.835").read_text()
REVERSAL = FIXTURES / "835" / "reversal_and_correction.835"
NATIVE = (False, True) if SPEEDUPS is not None else (False,)


def _segments() -> list[str]:
    return [s.strip() for s in BASE.split("~") if s.strip()]


def edit(sid_prefix: str, pos: int, value: str, nth: int = 0) -> tuple[bytes, int]:
    """The base file with element ``pos`` of the ``nth`` segment starting with ``sid_prefix`` replaced;
    returns the bytes and that segment's number (ISA = 1)."""
    segs = _segments()
    hits = [i for i, s in enumerate(segs) if s.startswith(sid_prefix)]
    i = hits[nth]
    el = segs[i].split("*")
    el.extend([""] * (pos + 1 - len(el)))
    el[pos] = value
    segs[i] = "*".join(el)
    return ("~".join(segs) + "~").encode(), i + 1


def _error(data: bytes, native: bool, claims: bool) -> tuple[list[Any], str]:
    recs: list[Any] = []
    with pytest.raises(X12ParseError) as exc:
        for r in parse(data, name="v.835", file_sha256="x", native=native, claims=claims):
            recs.append((r, str(tuple(r))))
    return recs, exc.value.line()


# (segment prefix, element position, bad value, element named in the error)
BAD: list[tuple[str, int, str, str]] = [
    ("CLP*", 1, "P" * 39, "CLP01"),
    ("CLP*", 7, "C" * 51, "CLP07"),
    ("CLP*", 2, "123", "CLP02"),
    ("CLP*", 6, "ABC", "CLP06"),
    ("CLP*", 8, "123", "CLP08"),
    ("CLP*", 9, "12", "CLP09"),
    ("CLP*", 11, "12345", "CLP11"),
    ("N1*PR*", 2, "N" * 61, "N102"),
    ("N1*PR*", 4, "I" * 51, "N104"),
    ("N1*PE*", 4, "I" * 81, "N104"),
    ("TRN*", 2, "T" * 51, "TRN02"),
    ("REF*6R*", 2, "R" * 51, "REF02"),
    ("REF*EV*", 2, "R" * 51, "REF02"),
    ("REF*6R*", 1, "6RXX", "REF01"),
    ("CAS*CO*", 1, "COX", "CAS01"),
    ("CAS*CO*", 2, "123456", "CAS02"),
    ("CAS*PR*", 5, "123456", "CAS05"),
    ("SVC*", 1, "HC:" + "9" * 49, "SVC01-2"),
    ("SVC*", 1, "HCX:99213", "SVC01-1"),
    ("SVC*", 1, "HC:99213:259", "SVC01-3"),
    ("SVC*", 1, "HC:99213:25:59:XX:YYY", "SVC01-6"),
    ("SVC*", 1, "NU:04500", "SVC01-2"),  # a revenue code is 4 characters (service_line_payments.revenue_code)
    ("SVC*", 4, "04500", "SVC04"),
    ("SVC*", 6, "HC:" + "9" * 49, "SVC06-2"),
    ("NM1*QC*", 3, "M" * 61, "NM103"),
    ("NM1*QC*", 9, "9" * 81, "NM109"),
    ("DTM*050*", 1, "0501", "DTM01"),  # a claim date qualifier kept in other_dates
    ("AMT*", 1, "B6XX", "AMT01"),
    ("PER*", 2, "P" * 61, "PER02"),
    ("BPR*", 4, "ACHX", "BPR04"),
    ("ST*", 2, "1234567890", "ST02"),
    # money: NUMERIC(14,2)
    ("CLP*", 3, "1000000000000", "CLP03"),
    ("CLP*", 3, "123456789012345678", "CLP03"),  # a valid 18-digit R, not a storable amount
    ("CLP*", 4, "-1000000000000.00", "CLP04"),
    ("CLP*", 5, "100.005", "CLP05"),  # never rounded (100.00 on SQLite, 100.01 on PostgreSQL before)
    ("SVC*", 2, "0.001", "SVC02"),
    ("SVC*", 3, "1.999", "SVC03"),
    ("CAS*CO*", 3, "50.001", "CAS03"),
    ("CAS*PR*", 6, "30.009", "CAS06"),
    ("AMT*", 2, "1000000000000", "AMT02"),
    ("BPR*", 2, "250.005", "BPR02"),
    # quantities: NUMERIC(15,3)
    ("SVC*", 5, "1.0005", "SVC05"),
    ("SVC*", 5, "1000000000000", "SVC05"),
    ("CAS*PR*", 4, "1.0001", "CAS04"),
    ("SVC*", 7, "1.0001", "SVC07"),
]


@pytest.mark.parametrize("claims", [True, False])
@pytest.mark.parametrize(("prefix", "pos", "value", "element"), BAD, ids=[f"{b[3]}-{b[2][:12]}" for b in BAD])
def test_refused_by_element_never_by_value(
    prefix: str, pos: int, value: str, element: str, claims: bool
) -> None:
    data, segno = edit(prefix, pos, value)
    sid = prefix.split("*")[0]
    if element == "ST02":
        segno = 3  # ST; SE02 no longer matches either, but ST comes first
    results = [_error(data, native, claims) for native in NATIVE]
    _recs, line = results[0]
    assert line.startswith(f"v.835: segment {segno} ({sid}): {element} "), line
    assert value not in line and value.strip("0.-") not in line.split(": ", 2)[2]
    for other in results[1:]:
        assert other == results[0]  # C and Python: the same records before the error, the same line
    # the summary path (scanner, then reference) says exactly the same
    with pytest.raises(X12ParseError) as exc:
        totals(data, name="v.835", file_sha256="x")
    assert exc.value.line() == line
    # the pure-Python scanner on its own: the same error, or a doubt that hands the file to the reference
    with pytest.raises((X12ParseError, _Doubt)) as exc2:
        _scan(iter_batches(data, name="v.835"), "v.835", "x")
    assert type(exc2.value) is _Doubt or exc2.value.line() == line  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("prefix", "pos", "value", "field", "expected"),
    [
        ("CLP*", 1, "P" * 38, "patient_control_number", "P" * 38),
        ("CLP*", 7, "C" * 50, "payer_claim_control_number", "C" * 50),
        ("CLP*", 3, "999999999999.99", "charge", Decimal("999999999999.99")),
        ("CLP*", 5, "-999999999999.99", "patient_responsibility", Decimal("-999999999999.99")),
        ("CLP*", 3, "000000000000450", "charge", Decimal(450)),  # leading zeros are not significant
        ("CLP*", 4, "250.000", "paid", Decimal(250)),  # trailing zeros: the exact same value
        ("CLP*", 12, "1.98765", "drg_weight", Decimal("1.98765")),  # not money: plain R
    ],
)
def test_boundary_values_are_kept_exactly(
    prefix: str, pos: int, value: str, field: str, expected: Any
) -> None:
    data, _ = edit(prefix, pos, value)
    for native in NATIVE:
        claim = next(r for r in parse(data, name="v.835", native=native) if type(r) is ClaimPayment)
        got = getattr(claim, field)
        assert got == expected and str(got) == str(Decimal(value) if isinstance(expected, Decimal) else value)
    totals(data, name="v.835")  # and the summary path reads it


def test_line_quantities_keep_three_decimals() -> None:
    data, _ = edit("SVC*", 5, "1.125")
    for native in NATIVE:
        claim = next(r for r in parse(data, name="v.835", native=native) if type(r) is ClaimPayment)
        assert claim.lines[0].units == Decimal("1.125")


@pytest.mark.parametrize("native", NATIVE)
def test_cached_plain_number_is_not_taken_as_money(native: bool) -> None:
    """A string first met as a DRG weight (plain R, 4 decimals) or as units (3 decimals) is cached; the
    same string as an amount later must still be refused — the caches keep each value's kind."""
    values.AMOUNTS.clear()
    values.NUMBERS.clear()
    values.QUANTITIES.clear()
    segs = _segments()
    i = next(k for k, s in enumerate(segs) if s.startswith("CLP*"))
    segs[i] += "**470*1.2345"  # CLP11, CLP12 (DRG weight): fine
    j = next(k for k, s in enumerate(segs) if s.startswith("CAS*CO*"))
    segs[j] = "CAS*CO*45*1.2345"
    data = ("~".join(segs) + "~").encode()
    _, line = _error(data, native, True)
    assert (
        line
        == f"v.835: segment {j + 1} (CAS): CAS03 has a non-zero digit past the second decimal (amounts are exact to the cent, never rounded)"
    )
    segs = _segments()
    k = next(k for k, s in enumerate(segs) if s.startswith("SVC*"))
    segs[k] = segs[k].rsplit("*", 1)[0] + "*1.125"  # units 1.125: fine
    j = max(n for n, s in enumerate(segs) if s.startswith("CAS*"))
    segs[j] = "CAS*CO*45*1.125"
    data = ("~".join(segs) + "~").encode()
    _, line = _error(data, native, True)
    assert f"segment {j + 1} (CAS): CAS03 has a non-zero digit past the second decimal" in line


def test_values_module_kinds() -> None:
    assert values.money("12.340", None, 1, "CLP", 3) == Decimal("12.34")
    assert values.quantity("12.345", None, 1, "SVC", 5) == Decimal("12.345")
    assert values.amount("12.34567", None, 1, "CLP", 12) == Decimal("12.34567")
    with pytest.raises(X12ParseError, match=r"CLP03 is out of range"):
        values.money("-1000000000000", "f", 1, "CLP", 3)
    with pytest.raises(X12ParseError, match=r"SVC05 is out of range"):
        values.quantity("1000000000000.5", "f", 1, "SVC", 5)
    with pytest.raises(X12ParseError, match=r"SVC01-2 is not a valid"):
        values.money("1E5", "f", 1, "SVC", "SVC01-2")
    assert "12.34567" not in values.AMOUNTS and "12.345" not in values.AMOUNTS


# ---- REF*F8 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("native", NATIVE)
def test_ref_f8_original_reference_number(native: bool) -> None:
    claims = [r for r in parse(REVERSAL, native=native) if type(r) is ClaimPayment]
    reversal, correction = claims[0], claims[1]
    assert reversal.status == "22" and reversal.original_reference_number is None
    assert correction.frequency == "7" and correction.original_reference_number == "ACM26010000200"
    assert ("F8", "ACM26010000200") in list(correction.references)  # still among the references


def test_ref_f8_first_one_wins_and_line_f8_is_not_the_claims() -> None:
    segs = _segments()
    i = next(k for k, s in enumerate(segs) if s.startswith("CLP*"))
    segs[i + 1 : i + 1] = ["REF*F8*FIRST", "REF*F8*SECOND"]
    k = next(k for k, s in enumerate(segs) if s.startswith("REF*6R*"))
    segs.insert(k + 1, "REF*F8*LINELEVEL")
    st = next(k for k, s in enumerate(segs) if s.startswith("ST*"))
    se = next(k for k, s in enumerate(segs) if s.startswith("SE*"))
    segs[se] = f"SE*{se - st + 1}*" + segs[se].split("*")[2]
    data = ("~".join(segs) + "~").encode()
    got = []
    for native in NATIVE:
        claim = next(r for r in parse(data, name="v.835", native=native) if type(r) is ClaimPayment)
        got.append(str(tuple(claim)))
        assert claim.original_reference_number == "FIRST"
        assert ("F8", "LINELEVEL") in list(claim.lines[0].references)
    assert len(set(got)) == 1


def _cli(path: str, *extra: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([path, *extra])
    return rc, out.getvalue(), err.getvalue()


def test_parse_cli_shows_original_reference_number() -> None:
    rc, out, err = _cli(str(REVERSAL))
    assert rc == 0 and err == ""
    rows = [json.loads(x) for x in out.splitlines()]
    claims = [r for r in rows if r["type"] == "claim_payment"]
    assert [c["original_reference_number"] for c in claims] == [None, "ACM26010000200"]


@pytest.mark.parametrize(
    ("prefix", "pos", "value", "element"),
    [
        b
        for b in BAD
        if b[3] in ("CLP01", "CLP07", "N102", "TRN02", "REF02", "SVC01-2", "CLP03", "CLP05", "SVC05")
    ],
    ids=lambda v: str(v)[:12],
)
@pytest.mark.parametrize("summary", [False, True])
def test_parse_cli_exit_2_one_line(
    tmp_path: Any, prefix: str, pos: int, value: str, element: str, summary: bool
) -> None:
    data, segno = edit(prefix, pos, value)
    path = tmp_path / "bad.835"
    path.write_bytes(data)
    rc, out, err = _cli(str(path), *(["--summary"] if summary else []))
    assert rc == 2
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith(f"bad.835: segment {segno} ({prefix.split('*')[0]}): {element} ")
    assert value not in err
    if summary:
        assert out == ""


def test_remittance_header_limits_are_checked_before_yielding() -> None:
    data, _ = edit("N1*PR*", 2, "N" * 61)
    for native in NATIVE:
        recs, _line = _error(data, native, True)
        assert not any(type(r) is Remittance for r, _ in recs)


# ---- the balancing figures the loader stores (balance_exceptions.expected/found) ---------------------------


def _multi(edits: list[tuple[str, int, str, int]]) -> bytes:
    segs = _segments()
    for prefix, pos, value, nth in edits:
        i = [k for k, s in enumerate(segs) if s.startswith(prefix)][nth]
        el = segs[i].split("*")
        el.extend([""] * (pos + 1 - len(el)))
        el[pos] = value
        segs[i] = "*".join(el)
    return ("~".join(segs) + "~").encode()


BIG = "999999999999.99"
SUMS = [
    # SVC02 − SVC03 of the first line: 999,999,999,999.99 − (−250) (line closed by the next SVC)
    ([("SVC*", 2, BIG, 0), ("SVC*", 3, "-250", 0)], "(SVC): SVC02 − SVC03 is beyond"),
    # the same on the last line (closed at the end of the claim)
    ([("SVC*", 2, BIG, 1), ("SVC*", 3, "-250", 1)], "(SVC): SVC02 − SVC03 is beyond"),
    # a line's CAS sum: two CAS of 999,999,999,999.99 each
    ([("CAS*CO*", 3, BIG, 0), ("CAS*PR*", 3, BIG, 0)], "(SVC): the sum of the line's CAS amounts is beyond"),
    # CLP03 − CLP04
    ([("CLP*", 3, BIG, 0), ("CLP*", 4, "-1", 0)], "(CLP): CLP03 − CLP04 is beyond"),
]


@pytest.mark.parametrize(("edits", "message"), SUMS, ids=[str(i) for i in range(len(SUMS))])
def test_stored_balancing_figures_must_fit(
    edits: list[tuple[str, int, str, int]], message: str | None
) -> None:
    data = _multi(edits)
    results = [_error(data, native, claims) for native in NATIVE for claims in (True, False)]
    line = results[0][1]
    assert message in line and "999999999999" not in line, line
    assert all(r[1] == line for r in results)
    assert results[0] == results[2 if len(NATIVE) > 1 else 0]  # C and Python: same records, same line
    with pytest.raises(X12ParseError) as exc:
        totals(data, name="v.835", file_sha256="x")
    assert exc.value.line() == line


def test_transaction_sum_must_fit() -> None:
    """Two claims paying 999,999,999,999.99 each: ΣCLP04 does not fit balance_exceptions.found."""
    segs = _segments()
    i = next(k for k, s in enumerate(segs) if s.startswith("CLP*"))
    se = next(k for k, s in enumerate(segs) if s.startswith("SE*"))
    claim = segs[i:se]
    claim[0] = claim[0].replace("*450*250*", f"*{BIG}*{BIG}*")
    segs[i:se] = claim + claim
    st = next(k for k, s in enumerate(segs) if s.startswith("ST*"))
    se = next(k for k, s in enumerate(segs) if s.startswith("SE*"))
    segs[se] = f"SE*{se - st + 1}*" + segs[se].split("*")[2]
    data = ("~".join(segs) + "~").encode()
    results = [_error(data, native, True) for native in NATIVE]
    line = results[0][1]
    assert line.startswith(f"v.835: segment {se + 1} (SE): ΣCLP04 − ΣPLB of the transaction set is beyond"), (
        line
    )
    assert all(r == results[0] for r in results)
    assert sum(type(r) is ClaimPayment for r, _ in results[0][0]) == 2
    with pytest.raises(X12ParseError) as exc:
        totals(data, name="v.835", file_sha256="x")
    assert exc.value.line() == line
