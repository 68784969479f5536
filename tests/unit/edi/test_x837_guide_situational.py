"""Implementation-guide situational data: discharge hour (837I DTP*096), patient's reason for visit
(HI*APR), room and board in days, NDC on drug lines (loop 2410), and the scrub rules that hold claims
missing them — every built file pyx12-clean."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from edi.claim import (
    Claim,
    ClaimFilingIndicator,
    ClaimFrequency,
    OtherCoverage,
    PayerResponsibility,
    ServiceLine,
)
from edi.control_numbers import InMemoryControlNumbers
from edi.errors import X12WriteError
from edi.scrub import scrub_claim
from edi.x837 import BuiltInterchange, build_interchange

from .conftest import (
    ACME,
    CREATED,
    MEDICARE,
    PARTIES,
    RECEIVER,
    SUBMITTER,
    TODAY,
    assert_pyx12_clean,
    dependent_claim,
    inpatient_claim,
    institutional_claim,
    person,
    professional_claim,
    segments,
    subscriber,
)

MEDICAID = dataclasses.replace(
    ACME, payer_id="77027", name="STATE MEDICAID", filing_indicator=ClaimFilingIndicator.MEDICAID
)


def build(claims: list[Claim]) -> BuiltInterchange:
    return build_interchange(claims, PARTIES, SUBMITTER, RECEIVER, InMemoryControlNumbers(), CREATED)


def hits(c: Claim, rule: str) -> list[str]:
    return [f.reason for f in scrub_claim(c, TODAY) if f.rule == rule]


def drug_line(n: int, code: str = "J1100", **kw: object) -> ServiceLine:
    return ServiceLine(
        line_number=n,
        charge=Decimal("30"),
        units=Decimal("2"),
        service_date=dt.date(2024, 2, 20),
        procedure_code=code,
        diagnosis_pointers=(1,),
        line_control_number=f"LD{n}",
        **kw,
    )  # type: ignore[arg-type]


def with_drug(c: Claim, **kw: object) -> Claim:
    line = drug_line(len(c.lines) + 1, **kw)
    if c.claim_type.value == "institutional":
        line.revenue_code = "0636"
    c.lines.append(line)
    c.total_charge += line.charge
    return c


# ------------------------------------------------------------------------------------- discharge hour


def test_discharge_hour_is_written_before_the_statement_dates_and_padded() -> None:
    c = inpatient_claim(11)
    c.discharge_hour = "09"
    segs = segments(build([c]).text)
    i = segs.index("DTP*096*TM*0900")
    assert segs[i + 1].startswith("DTP*434*RD8*")
    assert_pyx12_clean(build([c]).text)
    c.discharge_hour = None
    assert not any(s.startswith("DTP*096") for s in segments(build([c]).text))


def test_discharge_hour_rule() -> None:
    c = inpatient_claim(11)
    assert hits(c, "discharge_hour") == []
    c.discharge_hour = None
    assert hits(c, "discharge_hour") == ["final inpatient claim without the discharge hour (DTP*096)"]
    c.bill_type = "114"  # last interim bill: final as well
    assert hits(c, "discharge_hour") == ["final inpatient claim without the discharge hour (DTP*096)"]
    c.bill_type = "112"  # first interim: the patient is still in house
    assert hits(c, "discharge_hour") == []
    c.discharge_hour = "1100"
    assert hits(c, "discharge_hour") == [
        "discharge hour (DTP*096) is only sent on a final inpatient claim (the patient has not been discharged)"
    ]
    c = inpatient_claim(11)
    c.discharge_hour = "2500"
    assert hits(c, "discharge_hour") == ["discharge hour (DTP*096) must be HH or HHMM (24-hour clock)"]
    out = institutional_claim(10, discharge_hour="1100")
    assert len(hits(out, "discharge_hour")) == 1  # outpatient: never


# ---------------------------------------------------------------------------------- reason for visit


def test_reason_for_visit_is_written_and_required_on_unscheduled_outpatient_visits() -> None:
    c = institutional_claim(10)
    assert "HI*APR:R0789" in segments(build([c]).text)
    assert hits(c, "reason_for_visit") == []
    c.reason_for_visit = ()
    assert hits(c, "reason_for_visit") == [
        "unscheduled outpatient visit without the patient's reason for visit (HI*APR)"
    ]
    # An elective visit without an emergency room line needs none.
    c.admission_type = "3"
    c.lines = [ln for ln in c.lines if ln.revenue_code != "0450"]
    c.total_charge = sum((ln.charge for ln in c.lines), Decimal(0))
    assert hits(c, "reason_for_visit") == []
    # An emergency room line makes the visit unscheduled whatever CL101 says; so does 085x with CL101 2.
    assert hits(institutional_claim(10, admission_type="3", reason_for_visit=()), "reason_for_visit")
    assert hits(dataclasses.replace(c, bill_type="851", admission_type="2"), "reason_for_visit")
    inp = inpatient_claim(11)
    inp.reason_for_visit = ("R0789",)
    assert hits(inp, "reason_for_visit") == [
        "patient's reason for visit (HI*APR) is only sent on outpatient claims"
    ]


# ----------------------------------------------------------------------------------- room and board


def test_room_and_board_rule() -> None:
    c = inpatient_claim(11)
    assert hits(c, "room_and_board") == []
    no_room = dataclasses.replace(c, lines=c.lines[1:], total_charge=c.total_charge - c.lines[0].charge)
    assert hits(no_room, "room_and_board") == [
        "inpatient claim without a room and board line (revenue code 0100-0219, units in days)"
    ]
    assert hits(dataclasses.replace(no_room, bill_type="121"), "room_and_board") == []  # Part B only: no room
    c.lines[0].units = Decimal(2)
    assert hits(c, "room_and_board") == [
        "room and board days (SV205) do not add up to the days of the stay (DTP*434)"
    ]
    c.lines[0].units = Decimal(3)
    c.lines[0].unit_basis = "UN"
    assert hits(c, "room_and_board") == ["line 1: room and board is billed in days (SV204 DA)"]
    # Split stay: one ICU day and two semi-private days; a patient still in house counts the last day.
    c = inpatient_claim(11)
    icu = dataclasses.replace(c.lines[0], revenue_code="0200", units=Decimal(1), line_control_number=None)
    c.lines[0].units = Decimal(2)
    c.lines.append(icu)
    assert hits(c, "room_and_board") == []
    c.patient_status = "30"
    assert len(hits(c, "room_and_board")) == 1


# -------------------------------------------------------------------------------------------- NDC


def test_professional_drug_line_carries_loop_2410() -> None:
    c = with_drug(
        professional_claim(1),
        ndc="00409123401",
        ndc_quantity=Decimal("0.500"),
        ndc_unit="ML",
        prescription_number="RX7788",
    )
    c.payer = MEDICAID
    segs = segments(build([c]).text)
    i = segs.index("REF*6R*LD3")
    assert segs[i + 1 : i + 4] == ["LIN**N4*00409123401", "CTP****0.5*ML", "REF*XZ*RX7788"]
    assert_pyx12_clean(build([c]).text)
    assert scrub_claim(c, TODAY) == []


def test_institutional_drug_line_carries_loop_2410_before_line_adjudication() -> None:
    c = with_drug(institutional_claim(10), ndc="00409123401", ndc_quantity=Decimal(1), ndc_unit="UN")
    segs = segments(build([c]).text)
    i = segs.index("SV2*0636*HC:J1100*30*UN*2")
    assert segs[i + 1 : i + 5] == ["DTP*472*D8*20240220", "REF*6R*LD4", "LIN**N4*00409123401", "CTP****1*UN"]
    assert_pyx12_clean(build([c]).text)


def test_ndc_without_quantity_or_with_a_bad_unit_is_refused_by_the_builder() -> None:
    c = with_drug(professional_claim(1), ndc="00409123401")
    with pytest.raises(X12WriteError, match=r"claim 1 .*CTP04 in loop 2410: line 3: a drug quantity"):
        build([c])
    c = with_drug(professional_claim(1), ndc="00409123401", ndc_quantity=Decimal(1), ndc_unit="XX")
    with pytest.raises(X12WriteError, match="CTP05-1") as err:
        build([c])
    assert "00409123401" not in str(err.value)


def test_medicaid_drug_line_without_ndc_is_held() -> None:
    c = with_drug(professional_claim(1))
    assert hits(c, "drug_ndc") == []  # a commercial payer: not required here
    c.payer = MEDICAID
    assert hits(c, "drug_ndc") == ["line 3: drug billed to Medicaid without its NDC (2410 LIN03)"]
    i = with_drug(institutional_claim(10))
    i.payer = MEDICAID
    assert hits(i, "drug_ndc") == ["line 4: drug billed to Medicaid without its NDC (2410 LIN03)"]
    c = with_drug(professional_claim(1), ndc="0040-9123", ndc_quantity=Decimal(0), ndc_unit="EA")
    assert hits(c, "drug_ndc") == [
        "line 3: NDC (2410 LIN03) must be 11 digits without hyphens",
        "line 3: NDC quantity (2410 CTP04) must be greater than zero",
        "line 3: NDC unit (2410 CTP05-1) must be one of F2, GR, ME, ML, UN",
    ]


# ---------------------------------------------------------------------------- visits and preventive


def visit(code: str, born: dt.date) -> Claim:
    c = professional_claim(1, subscriber=subscriber(birth=born))
    c.lines[0].procedure_code = code
    c.lines[0].modifiers = ()
    return c


def test_preventive_visit_age_band() -> None:
    service = dt.date(2024, 2, 20)
    assert hits(visit("99395", dt.date(1990, 1, 1)), "preventive_age_band") == []  # 34
    assert hits(visit("99396", dt.date(1984, 2, 20)), "preventive_age_band") == []  # 40 that day
    assert hits(visit("99396", dt.date(1984, 2, 21)), "preventive_age_band") == [
        "line 1: preventive visit code (SV101-2) is for another age group than the patient's age on the date "
        "of service"
    ]
    assert hits(visit("99387", dt.date(1950, 5, 5)), "preventive_age_band") == []
    assert hits(visit("99381", service - dt.timedelta(days=200)), "preventive_age_band") == []
    # The dependant's age counts, not the subscriber's.
    child = dependent_claim(2)
    child.lines[0].procedure_code = "99393"  # 5-11; the child is 8
    assert hits(child, "preventive_age_band") == []
    child.lines[0].procedure_code = "99395"
    assert len(hits(child, "preventive_age_band")) == 1


def test_new_and_established_visit_on_one_claim() -> None:
    c = visit("99203", dt.date(1980, 1, 1))
    assert hits(c, "new_and_established_visit") == []
    c.lines[1].procedure_code = "99213"
    assert hits(c, "new_and_established_visit") == [
        "new-patient and established-patient visit codes on the same claim: a patient is one or the other"
    ]


def test_annual_wellness_visit_only_for_medicare() -> None:
    c = visit("G0439", dt.date(1950, 1, 1))
    assert hits(c, "awv_medicare_only") == [
        "line 1: annual wellness visit (HCPCS G0438/G0439) is a Medicare benefit; bill the payer's preventive "
        "visit code instead"
    ]
    c.payer = MEDICARE
    assert hits(c, "awv_medicare_only") == []
    # A supplemental plan billed after Medicare paid: the crossover is fine.
    c.payer = ACME
    c.other_coverages = [
        OtherCoverage(payer=MEDICARE, subscriber=c.subscriber, responsibility=PayerResponsibility.PRIMARY)
    ]
    assert hits(c, "awv_medicare_only") == []


def test_reasons_carry_no_claim_values() -> None:
    c = with_drug(professional_claim(1, subscriber=subscriber(birth=dt.date(2010, 1, 1)), payer=MEDICAID))
    c.lines[0].procedure_code = "99387"
    c.lines[1].procedure_code = "G0439"
    c.frequency = ClaimFrequency.ORIGINAL
    reasons = " ".join(f.reason for f in scrub_claim(c, TODAY))
    for value in ("99387", "2010", "J1100", "DOE", "W123456789", "E119"):
        assert value not in reasons
    assert person().last_name not in reasons
