from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest

from edi.claim import Address, Claim, ClaimFrequency, Relationship
from edi.scrub import RULES, ScrubFinding, scrub_claim, scrub_claims
from edi.scrub.codes import POS_CODES, icd10_status, npi_is_valid

from .conftest import (
    CLINIC,
    DR_WELBY,
    TODAY,
    dependent_claim,
    inpatient_claim,
    institutional_claim,
    make_npi,
    many_professional_claims,
    professional_claim,
    replacement_claim,
    secondary_institutional_claim,
    secondary_professional_claim,
)

STABLE_RULE_IDS = {
    "npi_luhn",
    "icd10_billable",
    "diagnosis_count",
    "diagnosis_pointers",
    "charges_balance",
    "amount_format",
    "service_date_future",
    "service_date_before_birth",
    "service_date_order",
    "subscriber_required",
    "payer_required",
    "billing_provider_required",
    "place_of_service",
    "taxonomy_format",
    "procedure_code_format",
    "modifier_format",
    "units_positive",
    "line_count",
    "x12_safe_text",
    "frequency_reference",
    "bill_type",
    "revenue_code",
    "institutional_required",
    "inpatient_admission",
    "field_length",
    "cob_balance",
    "discharge_hour",
    "reason_for_visit",
    "room_and_board",
    "drug_ndc",
    "preventive_age_band",
    "new_and_established_visit",
    "awv_medicare_only",
}


def rules_hit(c: Claim) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in scrub_claim(c, TODAY):
        assert f.claim_id == c.claim_id
        out.setdefault(f.rule, []).append(f.reason)
    return out


def test_rule_ids_are_stable() -> None:
    assert set(RULES) == STABLE_RULE_IDS
    for r in RULES.values():
        assert r.description and r.claim_types


@pytest.mark.parametrize(
    "maker",
    [
        professional_claim,
        dependent_claim,
        replacement_claim,
        secondary_professional_claim,
        institutional_claim,
        inpatient_claim,
        secondary_institutional_claim,
    ],
)
def test_factory_claims_are_clean(maker: Callable[[int], Claim]) -> None:
    assert scrub_claim(maker(1), TODAY) == []


def test_many_claims() -> None:
    assert scrub_claims(many_professional_claims(20), TODAY) == []


def test_npi_luhn() -> None:
    assert npi_is_valid("1234567893") and npi_is_valid(make_npi("987654321"))
    assert not npi_is_valid("1234567890") and not npi_is_valid("123456789") and not npi_is_valid("12345678AB")
    c = professional_claim(1, rendering_provider=dataclasses.replace(DR_WELBY, npi="1245319598"))
    assert rules_hit(c) == {
        "npi_luhn": ["rendering provider (2310B) NPI (NM109) is not 10 digits with a valid check digit"]
    }
    c = professional_claim(1, billing_provider=dataclasses.replace(CLINIC, npi=""))
    assert "billing provider (2010AA) NPI (NM109) is missing" in rules_hit(c)["npi_luhn"]


def test_icd10_billable() -> None:
    assert icd10_status("E119") is None
    c = professional_claim(1, diagnoses=["E11", "I10", "E11.9", "XYZ12", "U999"])
    c.lines[0].diagnosis_pointers = (1,)
    reasons = rules_hit(c)["icd10_billable"]
    assert reasons == [
        "diagnosis 1 (HI01) is a category, not a billable code (more characters are required)",
        "diagnosis 3 (HI03) is written with a decimal point (837 diagnosis codes carry none)",
        "diagnosis 4 (HI04) is not in the ICD-10-CM code set",
        "diagnosis 5 (HI05) is not in the ICD-10-CM code set",
    ]
    c = inpatient_claim(2)
    c.admitting_diagnosis = "J18"
    assert rules_hit(c)["icd10_billable"] == [
        "admitting diagnosis (HI*ABJ) is a category, not a billable code (more characters are required)"
    ]


def test_diagnosis_count_and_pointers() -> None:
    c = professional_claim(1, diagnoses=[])
    hit = rules_hit(c)
    assert hit["diagnosis_count"] == ["the claim has no diagnosis (HI01 is required)"]
    assert "line 1: diagnosis pointer 1 is outside 1..0" in hit["diagnosis_pointers"]
    codes = [
        "E119",
        "I10",
        "E785",
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
    ]
    c = professional_claim(1, diagnoses=codes)
    assert rules_hit(c)["diagnosis_count"] == [
        "the claim has 13 diagnoses; at most 12 fit the professional claim"
    ]
    c = professional_claim(1, diagnoses=["E119", "E119"])
    assert rules_hit(c)["diagnosis_count"] == ["the same diagnosis code is listed more than once"]
    c = professional_claim(1)
    c.lines[0].diagnosis_pointers = (1, 2, 3, 2, 1)
    c.lines[1].diagnosis_pointers = ()
    assert rules_hit(c)["diagnosis_pointers"] == [
        "line 1: 5 diagnosis pointers; at most 4",
        "line 1: a diagnosis pointer is repeated",
        "line 1: diagnosis pointer 3 is outside 1..2",
        "line 2: no diagnosis pointer (SV107-1 is required)",
    ]
    assert "diagnosis_pointers" not in rules_hit(institutional_claim(1))  # 837I has no SV107


def test_charges_and_amounts() -> None:
    c = professional_claim(1, total_charge=Decimal("145.49"))
    assert rules_hit(c) == {
        "charges_balance": ["line charges add up to 145.50, the claim total (CLM02) says 145.49"]
    }
    c = professional_claim(1)
    c.lines[1].charge = Decimal("20.505")
    c.total_charge = Decimal("145.505")
    assert rules_hit(c)["amount_format"] == [
        "claim total charge (CLM02) has more than two decimal places",
        "line 2: charge has more than two decimal places",
    ]


def test_service_dates() -> None:
    c = professional_claim(1)
    c.lines[1].service_date = TODAY + dt.timedelta(days=1)
    assert rules_hit(c) == {"service_date_future": ["line 2: service date (DTP*472) is in the future"]}
    c = professional_claim(1)
    c.lines[0].service_date = dt.date(1980, 4, 11)  # the day before the subscriber-patient was born
    assert rules_hit(c)["service_date_before_birth"] == [
        "line 1: service date (DTP*472) is before the patient's birth date"
    ]
    c = dependent_claim(2)
    c.lines[0].service_date = dt.date(2015, 5, 31)  # before the child (not the subscriber) was born
    assert "service_date_before_birth" in rules_hit(c)
    c = professional_claim(1)
    c.lines[0].service_date_end = dt.date(2024, 2, 19)
    assert rules_hit(c)["service_date_order"] == [
        "line 1: service period (DTP*472 RD8) ends before it starts"
    ]
    c = institutional_claim(3)
    c.lines[0].service_date = dt.date(2024, 2, 17)
    assert rules_hit(c)["service_date_order"] == [
        "line 1: service date is outside the statement period (DTP*434)"
    ]


def test_subscriber_and_patient_required() -> None:
    c = professional_claim(1)
    c.subscriber.member_id = ""
    c.subscriber.person.first_name = " "
    c.subscriber.person.gender = "X"
    c.subscriber.person.address = Address("", "SPRINGFIELD", "ZZ", "6270")
    assert rules_hit(c)["subscriber_required"] == [
        "subscriber member id (2010BA NM109) is missing",
        "subscriber first name (2010BA NM104) is missing",
        "subscriber gender (2010BA DMG03) must be M, F or U",
        "subscriber address line (2010BA N301) is missing",
        "subscriber state (2010BA N402) is not a USPS state code",
        "subscriber ZIP code (2010BA N403) must be 5 or 9 digits",
    ]
    c = dependent_claim(2)
    c.relationship = Relationship.SELF
    assert rules_hit(c)["subscriber_required"] == [
        "a separate patient (2000C) needs a relationship other than self (PAT01)"
    ]
    c = professional_claim(3, relationship=Relationship.SPOUSE)
    assert rules_hit(c)["subscriber_required"] == [
        "relationship is not self but no patient is given (2000C/2010CA)"
    ]


def test_payer_and_billing_provider_required() -> None:
    c = professional_claim(1)
    c.payer = dataclasses.replace(c.payer, payer_id="", name="")
    assert rules_hit(c)["payer_required"] == [
        "payer (2010BB) id (NM109) is missing",
        "payer (2010BB) name (NM103) is missing",
    ]
    c = secondary_professional_claim(2)
    c.other_coverages[0].payer = c.payer
    assert (
        "other payer 1 (2330B) is the same payer the claim is sent to (2010BB)"
        in rules_hit(c)["payer_required"]
    )
    bp = dataclasses.replace(
        CLINIC, tax_id="37-1234567", address=Address("PO BOX 55", "SPRINGFIELD", "IL", "62701")
    )
    assert rules_hit(professional_claim(3, billing_provider=bp))["billing_provider_required"] == [
        "billing provider ZIP code (2010AA N403) must be 9 digits",
        "billing provider address (2010AA N3) must be a street address, not a post office box",
        "billing provider tax id (2010AA REF*EI) must be 9 digits without a hyphen",
    ]
    person_bp = dataclasses.replace(CLINIC, entity_type="1", first_name="ANN")
    assert (
        "an 837I billing provider must be an organization (2010AA NM102 = 2)"
        in rules_hit(institutional_claim(4, billing_provider=person_bp))["billing_provider_required"]
    )


def test_place_of_service_taxonomy_procedure_modifier_units() -> None:
    assert "11" in POS_CODES and "23" in POS_CODES and "30" not in POS_CODES
    c = professional_claim(1, place_of_service="30")
    c.lines[0].place_of_service = "00"
    assert rules_hit(c)["place_of_service"] == [
        "place of service (CLM05-1) is not a CMS place-of-service code",
        "line 1: place of service (SV105) is not a CMS place-of-service code",
    ]
    c = professional_claim(1, rendering_provider=dataclasses.replace(DR_WELBY, taxonomy="207Q00000"))
    assert rules_hit(c)["taxonomy_format"] == [
        "rendering provider (2310B) taxonomy (PRV03) must be 10 characters ending in X"
    ]
    for ok in ("99213", "0001F", "0042T", "0001U", "G0439", "J1100"):
        c = professional_claim(1)
        c.lines[0].procedure_code = ok
        assert "procedure_code_format" not in rules_hit(c), ok
    for bad in ("9921", "992134", "0001X", "GG439", "99-13", "g0439"):
        c = professional_claim(1)
        c.lines[0].procedure_code = bad
        assert rules_hit(c)["procedure_code_format"] == [
            "line 1: procedure code (SV101-2) is not a CPT or HCPCS code"
        ], bad
    c = professional_claim(1)
    c.lines[0].modifiers = ("25", "5", "59", "76", "GT")
    assert rules_hit(c)["modifier_format"] == [
        "line 1: 5 modifiers; at most 4",
        "line 1: modifier 2 is not 2 letters or digits",
    ]
    c = professional_claim(1)
    c.lines[0].units = Decimal("0")
    c.lines[1].unit_basis = "DA"
    assert rules_hit(c)["units_positive"] == [
        "line 1: units must be greater than zero",
        "line 2: unit basis must be one of UN, MJ",
    ]


def test_x12_safe_text_names_field_not_value() -> None:
    c = dependent_claim(1)
    c.patient.last_name = "O~BRIEN"  # type: ignore[union-attr]
    c.subscriber.person.address.line1 = "12 ÉLM ST"
    c.lines[0].modifiers = ("2\n",)
    reasons = rules_hit(c)["x12_safe_text"]
    assert reasons == [
        "subscriber.person.address.line1: text contains a non-ASCII character",
        "lines[1].modifiers[1]: text contains a line break",
        "patient.last_name: text contains an X12 delimiter; X12 has no escape",
    ]


def test_frequency_reference() -> None:
    c = professional_claim(1, frequency=ClaimFrequency.VOID)
    assert rules_hit(c)["frequency_reference"] == [
        "frequency 8 needs the payer claim control number (REF*F8)"
    ]
    c = professional_claim(1, payer_claim_control_number="X1")
    assert rules_hit(c)["frequency_reference"] == [
        "an original claim (frequency 1) must not carry a payer claim control number (REF*F8)"
    ]
    c = institutional_claim(2, bill_type="137")
    assert rules_hit(c)["frequency_reference"] == [
        "bill type frequency (third digit, CLM05-3) disagrees with the claim frequency",
        "frequency 7 needs the payer claim control number (REF*F8)",
    ]


def test_institutional_rules() -> None:
    c = institutional_claim(
        1, bill_type="0131", patient_status=None, attending_provider=None, statement_to=None
    )
    c.lines[0].revenue_code = "450"
    c.lines[1].revenue_code = None
    hit = rules_hit(c)
    assert hit["bill_type"] == ["bill type (CLM05) must be three digits without the leading zero"]
    assert hit["revenue_code"] == [
        "line 1: revenue code (SV201) must be four digits",
        "line 2: revenue code (SV201) is missing",
    ]
    assert hit["institutional_required"] == [
        "statement period (DTP*434) is missing",
        "patient status (CL103) is missing",
        "attending provider (2310A) is missing",
    ]
    c = inpatient_claim(2)
    c.admission_date = None
    c.admission_source = None
    c.admitting_diagnosis = None
    c.admission_hour = "2460"
    assert rules_hit(c)["inpatient_admission"] == [
        "admission hour (DTP*435) must be HH or HHMM (24-hour clock)",
        "inpatient claim without an admission date (DTP*435)",
        "inpatient claim without an admission source / point of origin (CL102)",
        "inpatient claim without an admitting diagnosis (HI*ABJ)",
    ]
    c = institutional_claim(3)  # outpatient: no admission requirements
    c.admission_type = None
    assert "inpatient_admission" not in rules_hit(c)
    assert "place_of_service" not in rules_hit(institutional_claim(4, place_of_service="99x"))


def test_field_length_and_line_count() -> None:
    c = professional_claim(1, patient_control_number="P" * 21)
    assert rules_hit(c)["field_length"] == ["patient control number (CLM01) is longer than 20 characters"]
    c = professional_claim(1, lines=[])
    c.total_charge = Decimal("0")
    assert rules_hit(c)["line_count"] == ["the claim has no service line"]


def test_cob_balance() -> None:
    c = secondary_professional_claim(1)
    c.lines[0].other_payer.paid = Decimal("79")  # type: ignore[union-attr]
    assert rules_hit(c)["cob_balance"] == [
        "line 1: prior payer paid plus adjustments (2430) do not equal the line charge",
        "other payer 1: line paid amounts (SVD02) do not add up to the claim paid amount (AMT*D)",
    ]
    c.other_coverages[0].paid = Decimal("94")
    assert rules_hit(c)["cob_balance"][-1] == (
        "other payer 1: paid amount plus adjustments does not equal the claim charge (CLM02)"
    )
    c = professional_claim(2)
    c.lines[0].other_payer = secondary_professional_claim(3).lines[0].other_payer
    assert rules_hit(c)["cob_balance"] == [
        "lines carry prior payer adjudication (2430) but the claim has no other payer (2320)"
    ]


def test_reasons_never_carry_phi() -> None:
    """Break everything at once; no reason may contain a name, id, date, address or code from the claim."""
    c = dependent_claim(1)
    c.subscriber.member_id = "Q"
    c.subscriber.person.address.postal_code = "ABCDE"
    c.patient.birth_date = dt.date(2025, 1, 1)  # type: ignore[union-attr]
    c.diagnoses = ["J06", "J06.9"]
    c.lines[0].procedure_code = "ABCDEF"
    c.lines[0].service_date = dt.date(2099, 12, 31)
    c.place_of_service = "77"
    c.patient_control_number = "PCN-" + "9" * 30
    findings = scrub_claim(c, TODAY)
    assert len(findings) >= 8
    p = c.patient
    assert p is not None
    secrets = [
        p.last_name,
        p.first_name,
        c.subscriber.person.last_name,
        c.subscriber.person.first_name,
        c.subscriber.member_id + " ",
        "W555000111",
        "ABCDE",
        "J06",
        "ABCDEF",
        "2099",
        "20991231",
        "2025",
        "12 ELM",
        "SPRINGFIELD",
        "9" * 30,
    ]
    for f in findings:
        assert isinstance(f, ScrubFinding)
        for s in secrets:
            assert s not in f.reason, (f, s)


def test_rule_subset() -> None:
    c = professional_claim(1, place_of_service="30", total_charge=Decimal("1"))
    assert [f.rule for f in scrub_claim(c, TODAY, rules=["place_of_service"])] == ["place_of_service"]
