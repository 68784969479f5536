from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from edi.claim import Claim, ClaimFrequency, ClaimType, Relationship, ServiceLine
from edi.errors import X12WriteError
from edi.x837 import BuiltInterchange

from .conftest import (
    DR_CASEY,
    DR_KILDARE,
    HOSPITAL,
    assert_golden,
    assert_pyx12_clean,
    build_x837,
    inpatient_claim,
    institutional_claim,
    make_npi,
    person,
    secondary_institutional_claim,
    segments,
    subscriber,
)


def build(claims: list[Claim], **kw: object) -> BuiltInterchange:
    return build_x837(claims, isa13=900, **kw)


def claim_body(text: str) -> list[str]:
    segs = segments(text)
    return segs[segs.index(next(s for s in segs if s.startswith("CLM*"))) : -3]


def test_outpatient_claim_exact_2300_and_2400() -> None:
    b = build([institutional_claim(10)])
    assert claim_body(b.text) == [
        "CLM*IPCN000010*1530***13:A:1**A*Y*Y",
        "DTP*434*RD8*20240218-20240218",
        "CL1*1*7*01",
        "HI*ABK:R0789",
        "HI*APR:R0789",
        "HI*ABF:I10*ABF:E785",
        "NM1*71*1*KILDARE*JAMES****XX*" + DR_KILDARE.npi,
        "PRV*AT*PXC*207P00000X",
        "LX*1",
        "SV2*0450*HC:99284:25*1250*UN*1",
        "DTP*472*D8*20240218",
        "REF*6R*IL000010-1",
        "LX*2",
        "SV2*0324*HC:71046*200*UN*1",
        "DTP*472*D8*20240218",
        "REF*6R*IL000010-2",
        "LX*3",
        "SV2*0300*HC:85025*80*UN*2",
        "DTP*472*D8*20240218",
    ]
    segs = segments(b.text)
    assert segs[2] == "ST*837*0001*005010X223A2"
    assert segs[1].endswith("*901*X*005010X223A2")
    assert "NM1*85*2*LAKESIDE COMMUNITY HOSPITAL*****XX*" + HOSPITAL.npi in segs
    assert b.manifest.claim_type == ClaimType.INSTITUTIONAL and b.manifest.version == "005010X223A2"
    assert_pyx12_clean(b.text)


def test_inpatient_claim_admission_poa_and_days() -> None:
    b = build([inpatient_claim(11)])
    body = claim_body(b.text)
    assert body[:8] == [
        "CLM*IPCN000011*9450***11:A:1**A*Y*Y",
        "DTP*096*TM*1100",  # discharge hour: a final inpatient bill (frequency 1)
        "DTP*434*RD8*20240210-20240213",
        "DTP*435*DT*202402101430",
        "CL1*1*7*01",
        "HI*ABK:J189:::::::Y",
        "HI*ABJ:J189",
        "HI*ABF:E119:::::::Y*ABF:I10:::::::Y",
    ]
    assert "SV2*0120**7500*DA*3" in body  # room and board: no HCPCS, units in days
    assert "DTP*472*RD8*20240210-20240212" in body
    assert_pyx12_clean(b.text)


def test_admission_date_without_hour_and_hour_only() -> None:
    c = inpatient_claim(11)
    c.admission_hour = None
    assert "DTP*435*D8*20240210" in claim_body(build([c]).text)
    c.admission_hour = "07"
    assert "DTP*435*DT*202402100700" in claim_body(build([c]).text)
    assert_pyx12_clean(build([c]).text)


def test_secondary_institutional_2320_2330_2430() -> None:
    b = build([secondary_institutional_claim(12)])
    segs = segments(b.text)
    i = segs.index("SBR*P*18*******MB")
    assert segs[i + 1 : i + 4] == ["AMT*D*1110", "OI***Y***Y", "NM1*IL*1*SMITH*ALEX*Q***MI*1EG4TE5MK74"]
    assert "SVD*00952*900*HC:99284:25*0450*1" in segs  # SVD04 carries the revenue code on the 837I
    assert "SVD*00952*60*HC:85025*0300*2" in segs
    assert segs.count("DTP*573*D8*20240227") == 3
    assert_pyx12_clean(b.text)


def test_secondary_line_without_procedure_code() -> None:
    c = secondary_institutional_claim(12)
    c.lines[2].procedure_code = None
    segs = segments(build([c]).text)
    assert "SV2*0300**80*UN*2" in segs
    assert "SVD*00952*60**0300*2" in segs
    assert_pyx12_clean(build([c]).text)


def test_dependent_patient_institutional() -> None:
    c = institutional_claim(13)
    c.subscriber = subscriber(member_id="W000111222", last="KING", first="ROBERT", gender="M")
    c.patient = person(last="KING", first="ANNA", birth=dt.date(2012, 7, 7), gender="F", middle=None)
    c.relationship = Relationship.CHILD
    b = build([c])
    segs = segments(b.text)
    assert "HL*2*1*22*1" in segs and "HL*3*2*23*0" in segs and "PAT*19" in segs
    assert "NM1*QC*1*KING*ANNA" in segs
    assert_pyx12_clean(b.text)


def test_replacement_from_bill_type_frequency() -> None:
    c = institutional_claim(
        14, bill_type="137", frequency=ClaimFrequency.REPLACEMENT, payer_claim_control_number="ICN2024000123"
    )
    body = claim_body(build([c]).text)
    assert body[0] == "CLM*IPCN000014*1530***13:A:7**A*Y*Y"
    assert "REF*F8*ICN2024000123" in body
    assert_pyx12_clean(build([c]).text)
    c.payer_claim_control_number = None
    with pytest.raises(X12WriteError, match="REF"):
        build([c])
    c.frequency = ClaimFrequency.ORIGINAL  # the bill type alone (137) also requires REF*F8
    with pytest.raises(X12WriteError, match="REF"):
        build([c])


def test_rendering_and_referring_loops() -> None:
    c = institutional_claim(15, rendering_provider=DR_CASEY, referring_provider=DR_CASEY)
    segs = segments(build([c]).text)
    assert (
        segs.index("NM1*71*1*KILDARE*JAMES****XX*" + DR_KILDARE.npi)
        < segs.index("NM1*82*1*CASEY*BEN****XX*" + DR_CASEY.npi)
        < segs.index("NM1*DN*1*CASEY*BEN****XX*" + DR_CASEY.npi)
    )
    assert_pyx12_clean(build([c]).text)
    c = institutional_claim(15, rendering_provider=DR_KILDARE)  # same as attending: omitted
    assert not any(s.startswith("NM1*82") for s in segments(build([c]).text))


def test_many_diagnoses_use_two_hi_abf_segments() -> None:
    codes = [
        "R0789",
        "I10",
        "E785",
        "E119",
        "K219",
        "F419",
        "N390",
        "J069",
        "Z0000",
        "M5450",
        "R519",
        "R42",
        "R0602",
        "R079",
        "R109",
        "R5383",
        "E669",
        "Z7984",
        "Z87891",
        "I480",
        "E039",
        "G4733",
        "J449",
        "N179",
        "D649",
    ]
    c = institutional_claim(16, diagnoses=codes)
    body = claim_body(build([c]).text)
    abf = [s for s in body if s.startswith("HI*ABF")]
    assert len(abf) == 2 and abf[0].count("ABF:") == 12 and abf[1].count("ABF:") == 12
    assert_pyx12_clean(build([c]).text)
    c.diagnoses = [*codes, "R110"]
    with pytest.raises(X12WriteError, match="at most 25 diagnoses"):
        build([c])


def test_statement_dates_default_to_line_dates() -> None:
    c = institutional_claim(17, statement_from=None, statement_to=None)
    c.lines[2].service_date = dt.date(2024, 2, 19)
    assert "DTP*434*RD8*20240218-20240219" in claim_body(build([c]).text)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"bill_type": None}, "CLM05"),
        ({"bill_type": "0131"}, "CLM05"),
        ({"patient_status": None}, "CL103"),
        ({"diagnoses": []}, "HI01"),
        ({"poa_indicators": ("Y",)}, "HI01-9"),
        ({"reason_for_visit": ("R0789", "R51", "R42", "R0602")}, "APR"),
        ({"lines": []}, "at least one service line"),
    ],
)
def test_institutional_required_parts(change: dict[str, object], where: str) -> None:
    c = institutional_claim(18, **change)
    with pytest.raises(X12WriteError, match=where):
        build([c])


def test_revenue_code_required_and_checked() -> None:
    c = institutional_claim(19)
    c.lines[0].revenue_code = None
    with pytest.raises(X12WriteError, match="SV201"):
        build([c])
    c.lines[0].revenue_code = "04*0"
    with pytest.raises(X12WriteError, match="SV201") as ei:
        build([c])
    assert "04*0" not in str(ei.value)


def test_several_transaction_sets_and_two_hospitals() -> None:
    other = dataclasses.replace(
        HOSPITAL, npi=make_npi("149775854"), last_name="RIVERSIDE MEDICAL CENTER", tax_id="371239876"
    )
    claims = []
    for i in range(7):
        maker = (institutional_claim, inpatient_claim, secondary_institutional_claim)[i % 3]
        c = maker(100 + i)
        if i % 2:
            c.billing_provider = other
        claims.append(c)
    b = build(claims, max_claims_per_st=3)
    assert [len(t.claim_ids) for t in b.transactions] == [3, 3, 1]
    assert sorted(b.manifest.claim_ids) == [100 + i for i in range(7)]
    assert_pyx12_clean(b.text)


def test_units_and_unit_rates() -> None:
    c = institutional_claim(20)
    c.lines.append(
        ServiceLine(
            line_number=4,
            charge=Decimal("0.99"),
            units=Decimal("0.5"),
            service_date=dt.date(2024, 2, 18),
            revenue_code="0250",
        )
    )
    c.total_charge += Decimal("0.99")
    assert "SV2*0250**0.99*UN*0.5" in claim_body(build([c]).text)
    assert_pyx12_clean(build([c]).text)


GOLDEN = {
    "outpatient": lambda: [institutional_claim(10)],
    "inpatient": lambda: [inpatient_claim(11)],
    "secondary": lambda: [secondary_institutional_claim(12)],
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_fixture_files(name: str) -> None:
    """fixtures/837i/<name>.837 is what the builder writes (CLAIMFLOW_REGENERATE_FIXTURES=1 rewrites)."""
    assert_golden(f"837i/{name}.837", build(GOLDEN[name](), newline=True).text)
