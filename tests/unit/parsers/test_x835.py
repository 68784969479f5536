"""835 (005010X221A1) parser: fields from every part of the guide, streaming, strict values."""

from __future__ import annotations

import datetime as dt
import hashlib
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest

from edi.errors import X12ParseError
from parsers import x835_005010x221a1 as x835
from parsers.records import (
    Adjustment,
    ClaimPayment,
    InterchangeAck,
    ProviderAdjustment,
    ProviderSummary,
    Remittance,
    RemittanceTotals,
    ServiceLine,
)
from tests.unit.parsers.conftest import fixture

D = Decimal


def records(rel: str) -> list[object]:
    return list(x835.parse(fixture(rel), file_sha256="f" * 64))


def of(recs: list[object], cls: type) -> list:  # type: ignore[type-arg]
    return [r for r in recs if type(r) is cls]


def test_payment_with_contractual_deductible_coinsurance() -> None:
    recs = records("835/payment_contractual_deductible_coinsurance.835")
    assert [type(r).__name__ for r in recs] == [
        "Remittance",
        "ProviderSummary",
        "ClaimPayment",
        "RemittanceTotals",
    ]
    remit: Remittance = recs[0]  # type: ignore[assignment]
    assert remit[:5] == ("f" * 64, "000000101", "101", "0001", 3)
    assert remit.handling_code == "I" and remit.payment_amount == D("250") and remit.credit_debit == "C"
    assert remit.payment_method == "ACH" and remit.payment_format == "CCP"
    assert remit.originating_dfi_id == "011000015" and remit.receiving_account == "9876543210"
    assert remit.payment_date == dt.date(2026, 1, 16)
    assert (remit.trace_type, remit.trace_number, remit.trace_originator) == ("1", "EFT0000101", "1512345678")
    assert remit.receiver_reference == "CLAIMFLOW" and remit.production_date == dt.date(2026, 1, 15)
    assert (remit.payer_name, remit.payer_id_qualifier, remit.payer_id) == (
        "ACME HEALTH PLAN",
        "XV",
        "ACME01",
    )
    assert remit.payer_address == ("PO BOX 1000",) and remit.payer_state == "IL"
    assert list(remit.payer_references) == [("2U", "ACME01")]
    assert [c.function for c in remit.payer_contacts] == ["CX", "BL"]
    assert remit.payer_contacts[1].numbers == (("TE", "8005550199"), ("EM", "EDI@ACME.EXAMPLE"))
    assert (remit.payee_name, remit.payee_id_qualifier, remit.payee_id) == (
        "SUNRISE FAMILY CLINIC",
        "XX",
        "1234567893",
    )
    assert remit.payee_postal_code == "62704" and list(remit.payee_references) == [("TJ", "371234567")]

    claim: ClaimPayment = recs[2]  # type: ignore[assignment]
    assert claim.segment_no == 19 and claim.lx_number == "1"
    assert claim.patient_control_number == "SUN-000123" and claim.status == "1"
    assert (claim.charge, claim.paid, claim.patient_responsibility) == (D(450), D(250), D(100))
    assert claim.payer_claim_control_number == "ACM26015000123"
    assert (claim.filing_indicator, claim.facility_type, claim.frequency) == ("12", "11", "1")
    assert claim.patient is not None and claim.patient.id == "ACM123456789"
    assert claim.service_provider is not None and claim.service_provider.id_qualifier == "XX"
    assert "DOE" not in repr(claim.patient)  # PHI masked in repr
    assert claim.received_date == dt.date(2026, 1, 7) and claim.statement_from == dt.date(2026, 1, 5)
    assert list(claim.amounts) == [("AU", D(350))]
    assert len(claim.lines) == 2
    ln: ServiceLine = claim.lines[0]
    assert (ln.procedure_qualifier, ln.procedure_code, ln.modifiers) == ("HC", "99214", ())
    assert (ln.charge, ln.paid, ln.units, ln.allowed) == (D(250), D(120), D(1), D(200))
    assert ln.service_date == dt.date(2026, 1, 5) and ln.control_number == "SUN-000123-1"
    assert list(ln.adjustments) == [
        Adjustment("CO", "45", D(50), None),
        Adjustment("PR", "1", D(50), None),
        Adjustment("PR", "2", D(30), None),
    ]
    totals: RemittanceTotals = recs[3]  # type: ignore[assignment]
    assert totals == RemittanceTotals(
        "f" * 64, "000000101", "101", "0001", 38, 1, 2, D(450), D(250), D(100), D(0), D(250), 36, 0, 0
    )


def test_record_lists_are_in_field_order() -> None:
    """The hot loop writes records as lists in field order; every field must land under its name."""
    claim = of(records("835/institutional_mia_moa.835"), ClaimPayment)[0]
    assert claim._asdict()["drg_code"] == "470" and claim.drg_weight == D("1.9871")
    assert claim.inpatient is not None and claim.outpatient is None
    assert claim.inpatient.covered_days == D(3) and ("MIA04", D(8200)) in claim.inpatient.amounts
    assert claim.remark_codes == ("MA01",)
    assert list(claim.references) == [("EA", "MRN00042")]
    assert claim.contacts[0].function == "CX" and list(claim.quantities) == [("CA", D(3))]
    assert claim.statement_to == dt.date(2025, 12, 31) and claim.coverage_expiration is None
    assert claim.original_reference_number is None
    assert len(ClaimPayment._fields) == 39 and len(ServiceLine._fields) == 24


def test_institutional_lines_and_provider_summary() -> None:
    recs = records("835/institutional_mia_moa.835")
    summary = of(recs, ProviderSummary)[0]
    assert summary.provider_id == "1234567893" and summary.facility_type == "11"
    assert summary.fiscal_period_end == dt.date(2026, 12, 31) and summary.claim_count == D(2)
    assert summary.total_charge == D(13300) and list(summary.amounts) == [("TS201", D(8200))]
    op = of(recs, ClaimPayment)[1]
    assert op.outpatient is not None and op.outpatient.remark_codes == ("MA01",)
    a, b = op.lines
    assert (a.procedure_qualifier, a.procedure_code, a.revenue_code) == ("HC", "99284", "0450")
    assert (b.procedure_qualifier, b.procedure_code, b.units) == ("NU", "0300", D(3))
    assert (b.service_date, b.service_date_from, b.service_date_to) == (
        None,
        dt.date(2026, 1, 4),
        dt.date(2026, 1, 4),
    )


def test_denial_with_remark_codes() -> None:
    claims = of(records("835/denial_with_rarc.835"), ClaimPayment)
    assert [c.status for c in claims] == ["4", "4", "1"]
    first = claims[0]
    assert first.outpatient is not None and first.remark_codes == ("MA01",)
    assert first.lines[0].modifiers == ("GP",) and list(first.lines[0].remark_codes) == ["N386", "M127"]
    second = claims[1]
    assert list(second.adjustments) == [Adjustment("CO", "197", D(125), None)] and not second.lines


def test_reversal_and_correction_of_the_same_claim() -> None:
    rev, corr = of(records("835/reversal_and_correction.835"), ClaimPayment)
    assert rev.patient_control_number == corr.patient_control_number == "SUN-000200"
    assert rev.status == "22" and rev.is_reversal and not corr.is_reversal
    assert (rev.charge, rev.paid, rev.patient_responsibility) == (D(-300), D(-180), D(-60))
    assert [a.amount for a in rev.adjustments] == [D(-60), D(-60)]
    assert corr.frequency == "7" and ("F8", "ACM26010000200") in corr.references


def test_secondary_and_crossover() -> None:
    sec, fwd = of(records("835/secondary_and_crossover.835"), ClaimPayment)
    assert sec.status == "2" and sec.insured is not None and sec.insured.entity == "IL"
    assert list(sec.lines[0].adjustments) == [Adjustment("OA", "23", D(164), None)]
    assert fwd.status == "19" and fwd.crossover_carrier is not None and fwd.crossover_carrier.id == "MGM77"


def test_plb_provider_adjustments() -> None:
    recs = records("835/provider_adjustments_plb.835")
    plb = of(recs, ProviderAdjustment)
    assert [(p.reason, p.reference, p.amount) for p in plb] == [
        ("WO", "ACM26001000077", D("125.5")),
        ("L6", "INTEREST", D("-3.2")),
        ("72", "ADV2026", D(50)),
        ("FB", "FWDBAL", D(20)),
        ("CS", "ADJ0042", D(10)),
        ("J1", "NONREIMB", D(5)),
    ]
    assert {p.provider_id for p in plb} == {"1234567893"} and plb[0].fiscal_period_end == dt.date(
        2026, 12, 31
    )
    assert [p.segment_no for p in plb] == [28, 28, 28, 28, 29, 29]
    totals = of(recs, RemittanceTotals)[0]
    assert totals.provider_adjustments == D("207.3") and totals.payment_amount == D("292.7")


def test_no_payment_bpr_h() -> None:
    remit = of(records("835/no_payment_bpr_h.835"), Remittance)[0]
    assert remit.handling_code == "H" and remit.payment_amount == 0 and remit.payment_method == "NON"


def test_several_payers_in_one_file() -> None:
    recs = records("835/several_payers.835")
    remits = of(recs, Remittance)
    assert [(r.st02, r.payer_name) for r in remits] == [
        ("0001", "ACME HEALTH PLAN"),
        ("0002", "BLUE LAKE INSURANCE"),
        ("0003", "STATE MEDICAID"),
    ]
    claims = of(recs, ClaimPayment)
    assert [c.st02 for c in claims] == ["0001", "0002", "0003"]
    ln = claims[1].lines[0]
    assert (ln.original_procedure_qualifier, ln.original_procedure_code, ln.original_units) == (
        "HC",
        "80053",
        D(2),
    )


def test_pipe_and_newline_delimiters() -> None:
    claim = of(records("835/pipe_newline_delimiters.835"), ClaimPayment)[0]
    assert claim.lines[0].procedure_code == "99213" and claim.lines[0].modifiers == ("25",)
    assert claim.paid == D(85)


def test_several_interchanges_and_a_ta1(tmp_path: Path) -> None:
    one = fixture("835/payment_contractual_deductible_coinsurance.835").read_text()
    two = one.replace("000000101", "000000102").replace("*101*", "*102*").replace("GE*1*101", "GE*1*102")
    ta1 = "TA1*000000900*260114*2359*A*000~\n"
    three = two.replace("000000102", "000000103").replace("*102*", "*103*").replace("GE*1*102", "GE*1*103")
    i = three.index("GS*")
    p = tmp_path / "multi.835"
    p.write_text(one + two + three[:i] + ta1 + three[i:])
    recs = list(x835.parse(p))
    assert [r.isa13 for r in of(recs, ClaimPayment)] == ["000000101", "000000102", "000000103"]
    assert [r.gs06 for r in of(recs, ClaimPayment)] == ["101", "102", "103"]
    acks = of(recs, InterchangeAck)
    assert len(acks) == 1 and acks[0].control_number == "000000900" and acks[0].accepted


@pytest.mark.parametrize(
    ("value", "element"),
    [
        ("NaN", "CLP04"),
        ("Infinity", "CLP04"),
        ("1E400", "CLP04"),
        ("1,000.00", "CLP04"),
        ("$10", "CLP04"),
        ("1_000", "CLP04"),
        (" 10", "CLP04"),
        ("+10", "CLP04"),
        ("1.2.3", "CLP04"),
        ("", "CLP04"),
    ],
)
def test_bad_amounts_name_the_element(value: str, element: str) -> None:
    text = fixture("835/payment_contractual_deductible_coinsurance.835").read_text()
    bad = text.replace("CLP*SUN-000123*1*450*250*", f"CLP*SUN-000123*1*450*{value}*")
    with pytest.raises(X12ParseError) as exc:
        list(x835.parse(bad.encode(), name="bad.835"))
    line = str(exc.value)
    assert line.startswith(f"bad.835: segment 19 (CLP): {element} ")
    assert value.strip() == "" or value not in line.split(":", 2)[2].replace(element, "")


@pytest.mark.parametrize(
    "seg", ["CAS*CO*45*NaN", "AMT*B6*1E400", "SVC*HC:99214*$250*120**1", "BPR*I*Infinity*C*ACH"]
)
def test_bad_amounts_everywhere(seg: str) -> None:
    text = fixture("835/payment_contractual_deductible_coinsurance.835").read_text()
    sid = seg[:3]
    target = {
        "CAS": "CAS*CO*45*50",
        "AMT": "AMT*B6*200",
        "SVC": "SVC*HC:99214*250*120**1",
        "BPR": "BPR*I*250*C*ACH",
    }[sid]
    with pytest.raises(X12ParseError, match=rf"\({sid}\): {sid}0\d is not a valid X12 decimal amount"):
        list(x835.parse(text.replace(target, seg, 1).encode()))


@pytest.mark.parametrize("date", ["20261340", "20260230", "2026013", "2026-01-05", "ABCDEFGH"])
def test_bad_dates(date: str) -> None:
    text = fixture("835/payment_contractual_deductible_coinsurance.835").read_text()
    with pytest.raises(X12ParseError, match=r"^<input>: segment 23 \(DTM\): DTM02 is not a"):
        list(x835.parse(text.replace("DTM*232*20260105", f"DTM*232*{date}").encode()))


@pytest.mark.parametrize(
    ("find", "replace", "message"),
    [
        (
            "SVC*HC:99214*250*120**1",
            "SVC*99214*250*120**1",
            r"segment 26 \(SVC\): SVC01 must be a composite qualifier:procedure code",
        ),
        ("LX*1~\nCLP", "LX*1~\nSVC*HC:1*1*1~\nCLP", r"\(SVC\): SVC outside a claim"),
        (
            "CLP*SUN-000123*1*450*250*100*12*ACM26015000123*11*1",
            "CLP*SUN-000123",
            r"\(CLP\): CLP02 is required",
        ),
        (
            "REF*6R*SUN-000123-1",
            "REF*6R",
            r"segment 30 \(REF\): has only 1 elements; a required element is missing",
        ),
        ("CAS*CO*45*50", "CAS**45*50", r"\(CAS\): CAS01"),
        (
            "BPR*I*250*C*ACH*CCP*01*011000015*DA*1234567890*1512345678**01*021000021*DA*9876543210*20260116~\n",
            "",
            r"segment 17 \(LX\): 835 transaction set 0001 has no BPR segment",
        ),
        (
            "X*005010X221A1~\nST*835*0001",
            "X*004010X091A1~\nST*835*0001",
            r"segment 3 \(ST\): 835 version 004010X091A1 is not supported",
        ),
        ("ST*835*0001", "ST*837*0001", r"\(ST\): ST01 837 in an 835 file"),
        ("N1*PE*SUNRISE", "N1*XX*SUNRISE", r"\(N1\): N101 entity XX is not PR"),
    ],
)
def test_structure_errors(find: str, replace: str, message: str) -> None:
    text = fixture("835/payment_contractual_deductible_coinsurance.835").read_text()
    assert find in text
    bad = text.replace(find, replace, 1)
    if "SE*36*0001" in bad and bad.count("~") != text.count("~"):
        bad = bad.replace("SE*36*0001", f"SE*{36 + bad.count('~') - text.count('~')}*0001")
    with pytest.raises(X12ParseError, match=message):
        list(x835.parse(bad.encode(), name="bad.835"))


def test_unknown_wellformed_segments_are_counted_and_ignored() -> None:
    text = fixture("835/payment_contractual_deductible_coinsurance.835").read_text()
    bad = text.replace("LX*1~", "LX*1~\nZZZ*1~").replace("SE*36*0001", "SE*37*0001")
    assert len(of(list(x835.parse(bad.encode())), ClaimPayment)) == 1


def test_provenance_with_a_computed_sha(tmp_path: Path) -> None:
    from parsers import parse_file

    path = fixture("835/several_payers.835")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    recs = list(parse_file(path))
    assert {r.file_sha256 for r in recs} == {sha}  # type: ignore[attr-defined]
    assert {r.isa13 for r in recs} == {"000000107"}  # type: ignore[attr-defined]


def test_streaming_memory_is_flat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory is the current chunk and claim plus the bounded value caches, whatever the file size."""
    from bench.synth_835 import write
    from parsers import values

    monkeypatch.setattr(values, "CACHE_LIMIT", 2_000)

    small, big = tmp_path / "small.835", tmp_path / "big.835"
    write(small, 1_000)
    write(big, 8_000)

    def peak(p: Path) -> int:
        values.AMOUNTS.clear()
        tracemalloc.start()
        n = sum(1 for r in x835.parse(p, chunk_size=64 * 1024) if type(r) is ClaimPayment)
        _, pk = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return n, pk  # type: ignore[return-value]

    n1, p1 = peak(small)  # type: ignore[misc]
    n2, p2 = peak(big)  # type: ignore[misc]
    assert (n1, n2) == (1_000, 8_000)
    assert p2 < p1 * 1.3, (p1, p2)


def test_a_claim_with_too_many_segments_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(x835, "MAX_CLAIM_SEGMENTS", 50)
    line = "SVC*HC:99213*1*1**1~\nDTM*472*20260105~\n"
    text = fixture("835/payment_contractual_deductible_coinsurance.835").read_text()
    bad = text.replace("AMT*AU*350~\n", "AMT*AU*350~\n" + line * 200)
    with pytest.raises(
        X12ParseError, match=r"segment 19 \(CLP\): claim SUN-000123 spans more than 50 segments"
    ):
        list(x835.parse(bad.encode(), chunk_size=256))
