"""Realistic synthetic claims for the 837 builder, scrub and validation tests.

Everything here is invented: names, addresses, member ids. NPIs pass the Luhn check (prefix 80840),
diagnosis codes are billable ICD-10-CM codes, procedure codes are real CPT/HCPCS codes (codes only: no
AMA descriptions). ``claimflow.sandbox.synthetic`` generates whole practices; this is the small hand-made set the
unit tests need.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest

from edi.claim import (
    Address,
    Claim,
    ClaimFilingIndicator,
    ClaimFrequency,
    ClaimType,
    InterchangeParties,
    OtherCoverage,
    OtherPayerLine,
    Party,
    Payer,
    PayerResponsibility,
    Person,
    Provider,
    Relationship,
    ServiceLine,
    Subscriber,
)
from edi.control_numbers import InMemoryControlNumbers
from edi.x837 import BuiltInterchange, build_interchange
from tests.support.claims import DR_WELBY, SUBMITTER, emergency_visit, make_npi, overridden

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
CREATED = dt.datetime(2024, 3, 1, 9, 30)
TODAY = dt.date(2024, 3, 1)


CLINIC = Provider(
    npi="1234567893",
    last_name="SUNRISE FAMILY CLINIC",
    entity_type="2",
    taxonomy="207Q00000X",
    tax_id="371234567",
    address=Address("100 MAIN ST", "SPRINGFIELD", "IL", "627011234", line2="SUITE 200"),
)
HOSPITAL = Provider(
    npi=make_npi("150000001"),
    last_name="LAKESIDE COMMUNITY HOSPITAL",
    entity_type="2",
    taxonomy="282N00000X",
    tax_id="371234999",
    address=Address("900 LAKE SHORE DR", "SPRINGFIELD", "IL", "627040001"),
)
DR_KILDARE = Provider(
    npi=make_npi("100300012"), last_name="KILDARE", first_name="JAMES", entity_type="1", taxonomy="207P00000X"
)
DR_CASEY = Provider(
    npi=make_npi("111122223"), last_name="CASEY", first_name="BEN", entity_type="1", taxonomy="207R00000X"
)

ACME = Payer(
    payer_id="12345", name="ACME HEALTH PLAN", address=Address("PO BOX 1000", "CHICAGO", "IL", "60601")
)
MEDICARE = Payer(payer_id="00952", name="MEDICARE PART B", filing_indicator=ClaimFilingIndicator.MEDICARE_B)
BLUE = Payer(
    payer_id="00621", name="BLUE CROSS OF ILLINOIS", filing_indicator=ClaimFilingIndicator.BLUE_CROSS
)

PARTIES = InterchangeParties(
    sender_qualifier="ZZ", sender_id="CLAIMFLOW", receiver_qualifier="ZZ", receiver_id="CLEARINGHOUSE"
)
RECEIVER = Party(name="CLEARINGHOUSE INC", identifier="CH0001")


def person(
    last: str = "DOE",
    first: str = "JANE",
    birth: dt.date = dt.date(1980, 4, 12),
    gender: str = "F",
    middle: str | None = "Q",
) -> Person:
    return Person(
        last_name=last,
        first_name=first,
        middle_name=middle,
        birth_date=birth,
        gender=gender,
        address=Address("12 ELM ST", "SPRINGFIELD", "IL", "62701"),
    )


def subscriber(member_id: str = "W123456789", **kw: object) -> Subscriber:
    return Subscriber(member_id=member_id, person=person(**kw), group_number="GRP01")  # type: ignore[arg-type]


def professional_claim(claim_id: int = 1, **overrides: object) -> Claim:
    """Office visit with a modifier plus a lab draw; the subscriber is the patient."""
    lines = [
        ServiceLine(
            line_number=1,
            charge=Decimal("125.00"),
            units=Decimal("1"),
            service_date=dt.date(2024, 2, 20),
            procedure_code="99213",
            modifiers=("25",),
            diagnosis_pointers=(1, 2),
            line_control_number=f"L{claim_id:06d}-1",
        ),
        ServiceLine(
            line_number=2,
            charge=Decimal("20.50"),
            units=Decimal("1"),
            service_date=dt.date(2024, 2, 20),
            procedure_code="36415",
            diagnosis_pointers=(1,),
            line_control_number=f"L{claim_id:06d}-2",
        ),
    ]
    c = Claim(
        claim_id=claim_id,
        claim_type=ClaimType.PROFESSIONAL,
        patient_control_number=f"PCN{claim_id:06d}",
        total_charge=Decimal("145.50"),
        billing_provider=CLINIC,
        payer=ACME,
        subscriber=subscriber(),
        diagnoses=["E119", "I10"],
        lines=lines,
        rendering_provider=DR_WELBY,
        prior_authorization="AUTH0001",
    )
    return overridden(c, overrides)


def dependent_claim(claim_id: int = 2) -> Claim:
    """A child seen under a parent's plan: 2000C/2010CA."""
    return professional_claim(
        claim_id,
        subscriber=subscriber(
            member_id="W555000111",
            last="ROE",
            first="RICHARD",
            gender="M",
            middle=None,
            birth=dt.date(1975, 1, 30),
        ),
        patient=person(last="ROE", first="SALLY", birth=dt.date(2015, 6, 1), gender="F", middle=None),
        relationship=Relationship.CHILD,
        diagnoses=["J069"],
        lines=[
            ServiceLine(
                line_number=1,
                charge=Decimal("95"),
                units=Decimal("1"),
                service_date=dt.date(2024, 2, 21),
                procedure_code="99212",
                diagnosis_pointers=(1,),
            )
        ],
        total_charge=Decimal("95"),
        prior_authorization=None,
    )


def replacement_claim(claim_id: int = 3) -> Claim:
    """Frequency 7 replacing a claim the payer knows as PAYERCCN0001."""
    return professional_claim(
        claim_id, frequency=ClaimFrequency.REPLACEMENT, payer_claim_control_number="PAYERCCN0001"
    )


def secondary_professional_claim(claim_id: int = 4) -> Claim:
    """Billed to Blue Cross after Medicare paid: 2320/2330A/2330B and 2430 on each line."""
    c = professional_claim(claim_id)
    c.payer = BLUE
    c.responsibility = PayerResponsibility.SECONDARY
    adj = dt.date(2024, 2, 28)
    c.lines[0].other_payer = OtherPayerLine(
        paid=Decimal("80"),
        adjustments=(("CO", "45", Decimal("25")), ("PR", "2", Decimal("20"))),
        adjudication_date=adj,
    )
    c.lines[1].other_payer = OtherPayerLine(
        paid=Decimal("15"), adjustments=(("CO", "45", Decimal("5.50")),), adjudication_date=adj
    )
    c.other_coverages = [
        OtherCoverage(
            payer=MEDICARE,
            subscriber=Subscriber(member_id="1EG4TE5MK73", person=c.subscriber.person),
            responsibility=PayerResponsibility.PRIMARY,
            paid=Decimal("95"),
            patient_liability=Decimal("20"),
            adjudication_date=adj,
        )
    ]
    return c


def institutional_claim(claim_id: int = 10, **overrides: object) -> Claim:
    """Outpatient emergency visit (bill type 131)."""
    d = dt.date(2024, 2, 18)
    c = Claim(
        claim_id=claim_id,
        claim_type=ClaimType.INSTITUTIONAL,
        patient_control_number=f"IPCN{claim_id:06d}",
        total_charge=Decimal("1530.00"),
        billing_provider=HOSPITAL,
        payer=ACME,
        subscriber=subscriber(
            member_id="W987654321", last="SMITH", first="ALEX", gender="M", birth=dt.date(1968, 11, 3)
        ),
        diagnoses=["R0789", "I10", "E785"],
        lines=[
            ServiceLine(
                line_number=1,
                charge=Decimal("1250.00"),
                units=Decimal("1"),
                service_date=d,
                revenue_code="0450",
                procedure_code="99284",
                modifiers=("25",),
                line_control_number=f"IL{claim_id:06d}-1",
            ),
            ServiceLine(
                line_number=2,
                charge=Decimal("200.00"),
                units=Decimal("1"),
                service_date=d,
                revenue_code="0324",
                procedure_code="71046",
                line_control_number=f"IL{claim_id:06d}-2",
            ),
            ServiceLine(
                line_number=3,
                charge=Decimal("80.00"),
                units=Decimal("2"),
                service_date=d,
                revenue_code="0300",
                procedure_code="85025",
            ),
        ],
        place_of_service="23",
        **emergency_visit(d, DR_KILDARE),
    )
    return overridden(c, overrides)


def inpatient_claim(claim_id: int = 11) -> Claim:
    """Three-day inpatient stay (bill type 111) with admission date/hour and POA indicators."""
    adm = dt.date(2024, 2, 10)
    return institutional_claim(
        claim_id,
        bill_type="111",
        statement_from=adm,
        statement_to=dt.date(2024, 2, 13),
        admission_date=adm,
        admission_hour="1430",
        discharge_hour="1100",
        admission_type="1",
        admission_source="7",
        patient_status="01",
        admitting_diagnosis="J189",
        diagnoses=["J189", "E119", "I10"],
        poa_indicators=("Y", "Y", "Y"),
        reason_for_visit=(),
        total_charge=Decimal("9450"),
        lines=[
            ServiceLine(
                line_number=1,
                charge=Decimal("7500"),
                units=Decimal("3"),
                service_date=adm,
                service_date_end=dt.date(2024, 2, 12),
                revenue_code="0120",
                unit_basis="DA",
            ),
            ServiceLine(
                line_number=2,
                charge=Decimal("1200"),
                units=Decimal("6"),
                service_date=adm,
                revenue_code="0250",
            ),
            ServiceLine(
                line_number=3,
                charge=Decimal("750"),
                units=Decimal("1"),
                service_date=dt.date(2024, 2, 11),
                revenue_code="0320",
                procedure_code="71046",
            ),
        ],
    )


def secondary_institutional_claim(claim_id: int = 12) -> Claim:
    c = institutional_claim(claim_id)
    c.payer = BLUE
    c.responsibility = PayerResponsibility.SECONDARY
    adj = dt.date(2024, 2, 27)
    paid = (Decimal("900"), Decimal("150"), Decimal("60"))
    for line, p in zip(c.lines, paid, strict=True):
        line.other_payer = OtherPayerLine(
            paid=p, adjustments=(("CO", "45", line.charge - p),), adjudication_date=adj
        )
    c.other_coverages = [
        OtherCoverage(
            payer=MEDICARE,
            subscriber=Subscriber(member_id="1EG4TE5MK74", person=c.subscriber.person),
            responsibility=PayerResponsibility.PRIMARY,
            paid=sum(paid, Decimal(0)),
            adjudication_date=adj,
        )
    ]
    return c


def many_professional_claims(n: int, start_id: int = 100) -> list[Claim]:
    """A mix: self, dependants, replacements, secondaries, two billing providers."""
    other_clinic = Provider(
        npi=make_npi("198765432"),
        last_name="NORTHSIDE PEDIATRICS",
        entity_type="2",
        taxonomy="208000000X",
        tax_id="371230000",
        address=Address("55 OAK AVE", "SPRINGFIELD", "IL", "627025555"),
    )
    makers = (professional_claim, dependent_claim, replacement_claim, secondary_professional_claim)
    out = []
    for i in range(n):
        c = makers[i % len(makers)](start_id + i)
        if i % 3 == 1:
            c.billing_provider = other_clinic
        out.append(c)
    return out


@pytest.fixture
def control() -> InMemoryControlNumbers:
    return InMemoryControlNumbers(interchange=417, group=418, transaction=419)


def segments(text: str) -> list[str]:
    """Split builder output (canonical delimiters) into segments without terminators."""
    return [s.strip("\n") for s in text.split("~") if s.strip("\n")]


def build_x837(claims: list[Claim], *, isa13: int = 417, **kw: object) -> BuiltInterchange:
    """The claims in one interchange between the test parties, created at ``CREATED``; control numbers
    ISA13 = ``isa13``, GS06 = ``isa13 + 1``, ST02 from 1 unless ``control=`` is given. The golden files
    under fixtures/837p and fixtures/837i were written with these numbers."""
    control = kw.pop("control", None) or InMemoryControlNumbers(
        interchange=isa13, group=isa13 + 1, transaction=1
    )
    return build_interchange(claims, PARTIES, SUBMITTER, RECEIVER, control, CREATED, **kw)  # type: ignore[arg-type]


def assert_golden(relative: str, text: str) -> None:
    """``fixtures/<relative>`` is exactly what the builder writes now, and pyx12 finds no error in it.
    ``CLAIMFLOW_REGENERATE_FIXTURES=1`` rewrites the file first (review the diff before committing it)."""
    path = FIXTURES / relative
    if os.environ.get("CLAIMFLOW_REGENERATE_FIXTURES") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="ascii", newline="\n")
    assert path.read_text(encoding="ascii") == text
    assert_pyx12_clean(path.read_bytes())


def assert_pyx12_clean(data: str | bytes) -> None:
    """Fail with pyx12's (PHI-free) report unless the interchange validates with zero errors."""
    from edi.validate import format_report, validate_x12

    report = validate_x12(data.encode("ascii") if isinstance(data, str) else data)
    assert report.ok, "\n".join(format_report(report, "<built>"))
    assert report.errors == []
