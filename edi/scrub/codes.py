"""Code sets and formats the scrub rules check against.

Only public-domain code sets ship here: CMS place-of-service codes, USPS state codes, the NPI check-digit
algorithm and the *shape* of CPT/HCPCS codes. CPT descriptions are AMA-licensed and deliberately absent.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from functools import lru_cache

from edi.claim import DrugUnit

POS_CODES: dict[str, str] = {
    "01": "Pharmacy",
    "02": "Telehealth provided other than in patient's home",
    "03": "School",
    "04": "Homeless shelter",
    "05": "Indian Health Service free-standing facility",
    "06": "Indian Health Service provider-based facility",
    "07": "Tribal 638 free-standing facility",
    "08": "Tribal 638 provider-based facility",
    "09": "Prison/correctional facility",
    "10": "Telehealth provided in patient's home",
    "11": "Office",
    "12": "Home",
    "13": "Assisted living facility",
    "14": "Group home",
    "15": "Mobile unit",
    "16": "Temporary lodging",
    "17": "Walk-in retail health clinic",
    "18": "Place of employment-worksite",
    "19": "Off campus-outpatient hospital",
    "20": "Urgent care facility",
    "21": "Inpatient hospital",
    "22": "On campus-outpatient hospital",
    "23": "Emergency room-hospital",
    "24": "Ambulatory surgical center",
    "25": "Birthing center",
    "26": "Military treatment facility",
    "27": "Outreach site/street",
    "31": "Skilled nursing facility",
    "32": "Nursing facility",
    "33": "Custodial care facility",
    "34": "Hospice",
    "41": "Ambulance - land",
    "42": "Ambulance - air or water",
    "49": "Independent clinic",
    "50": "Federally qualified health center",
    "51": "Inpatient psychiatric facility",
    "52": "Psychiatric facility-partial hospitalization",
    "53": "Community mental health center",
    "54": "Intermediate care facility/individuals with intellectual disabilities",
    "55": "Residential substance abuse treatment facility",
    "56": "Psychiatric residential treatment center",
    "57": "Non-residential substance abuse treatment facility",
    "58": "Non-residential opioid treatment facility",
    "60": "Mass immunization center",
    "61": "Comprehensive inpatient rehabilitation facility",
    "62": "Comprehensive outpatient rehabilitation facility",
    "65": "End-stage renal disease treatment facility",
    "66": "Programs of All-Inclusive Care for the Elderly (PACE) center",
    "71": "Public health clinic",
    "72": "Rural health clinic",
    "81": "Independent laboratory",
    "99": "Other place of service",
}
"""CMS place-of-service code set (837P CLM05-1 / SV105)."""

US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "AS",
        "GU",
        "MP",
        "PR",
        "VI",
        "UM",
        "FM",
        "MH",
        "PW",
        "AA",
        "AE",
        "AP",
    ]
)
"""USPS state, territory and military codes (N402)."""


class FacilityType(StrEnum):
    """Bill type digits 1-2 (CLM05-1 on the 837I, NUBC type of facility + bill classification): the ones
    the scrub rules single out."""

    HOSPITAL_INPATIENT = "11"
    HOSPITAL_INPATIENT_PART_B = "12"  # ancillaries only, no room and board
    HOSPITAL_OUTPATIENT = "13"
    HOSPITAL_SWING_BED = "18"
    SNF_INPATIENT = "21"
    RELIGIOUS_NONMEDICAL_INPATIENT = "41"
    FREESTANDING_EMERGENCY = "78"  # clinic: licensed freestanding emergency medical facility
    CRITICAL_ACCESS_HOSPITAL = "85"
    RESIDENTIAL_FACILITY = "86"


INPATIENT_FACILITY_TYPES = frozenset(
    {
        FacilityType.HOSPITAL_INPATIENT,
        FacilityType.HOSPITAL_INPATIENT_PART_B,
        FacilityType.HOSPITAL_SWING_BED,
        FacilityType.SNF_INPATIENT,
        FacilityType.RELIGIOUS_NONMEDICAL_INPATIENT,
        FacilityType.RESIDENTIAL_FACILITY,
    }
)
"""Bill type digits 1-2 of inpatient claims: DTP*435 admission date and CL101/CL102 are required."""

PROCEDURE_CODE = re.compile(r"\A(?:\d{4}[0-9FTU]|[A-Z]\d{4})\Z")
"""CPT category I (5 digits), II (4 digits + F), III (4 digits + T), PLA (4 digits + U); HCPCS Level II
(letter + 4 digits)."""

MODIFIER = re.compile(r"\A[A-Z0-9]{2}\Z")
TAXONOMY = re.compile(r"\A[0-9A-Z]{9}X\Z")
REVENUE_CODE = re.compile(r"\A\d{4}\Z")
BILL_TYPE = re.compile(r"\A[1-9]\d{2}\Z")
POSTAL_CODE = re.compile(r"\A\d{5}(?:\d{4})?\Z")
ZIP9 = re.compile(r"\A\d{9}\Z")
EIN = re.compile(r"\A\d{9}\Z")
HOUR = re.compile(r"\A(?:[01]\d|2[0-3])(?:[0-5]\d)?\Z")
PO_BOX = re.compile(r"\bP\.?\s*O\.?\s*BOX\b|\bPOST OFFICE BOX\b|\bLOCK ?BOX\b", re.IGNORECASE)


def npi_is_valid(npi: str) -> bool:
    """Ten digits whose last is the Luhn check digit over ``80840`` + the first nine (CMS NPI standard)."""
    if len(npi) != 10 or not npi.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed("80840" + npi)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


@lru_cache(maxsize=65536)
def icd10_status(code: str) -> str | None:
    """``None`` when ``code`` is a billable ICD-10-CM code written without the dot, else why not."""
    if "." in code:
        return "is written with a decimal point (837 diagnosis codes carry none)"
    if not (3 <= len(code) <= 7) or not code.isalnum() or not code[0].isalpha():
        return "is not shaped like an ICD-10-CM code"
    import simple_icd_10_cm as cm

    if not cm.is_valid_item(code):
        return "is not in the ICD-10-CM code set"
    if cm.is_chapter_or_block(code) or not cm.is_leaf(code):
        return "is a category, not a billable code (more characters are required)"
    return None


ROOM_AND_BOARD_FACILITY_TYPES = INPATIENT_FACILITY_TYPES - {FacilityType.HOSPITAL_INPATIENT_PART_B}
"""Inpatient bill types that bill accommodation days (12x is inpatient Part B only: ancillaries, no room)."""

ROOM_AND_BOARD = re.compile(r"\A0(?:1\d\d|20\d|21\d)\Z")
"""Accommodation revenue codes 0100-0219 (room and board, nursery, ICU, coronary care): units are days."""

FINAL_FREQUENCIES = frozenset({"1", "4"})
"""Bill type digit 3 of a final inpatient bill: 1 admit through discharge, 4 last interim claim."""

UNSCHEDULED_VISIT_FACILITY_TYPES = frozenset(
    {
        FacilityType.HOSPITAL_OUTPATIENT,
        FacilityType.FREESTANDING_EMERGENCY,
        FacilityType.CRITICAL_ACCESS_HOSPITAL,
    }
)
"""Outpatient bill types (hospital outpatient, clinic, critical access) whose unscheduled visits report the
patient's reason for visit (HI*APR)."""

UNSCHEDULED_ADMISSION_TYPES = frozenset({"1", "2", "5"})
"""CL101 priority of the visit: 1 emergency, 2 urgent, 5 trauma."""

EMERGENCY_ROOM = re.compile(r"\A045\d\Z")
"""Emergency room revenue codes 0450-0459: an unscheduled visit whatever the admission type says."""

DRUG_HCPCS = re.compile(r"\AJ\d{4}\Z")
"""HCPCS Level II drugs administered other than orally (J0000-J9999): Medicaid needs the NDC."""

NDC = re.compile(r"\A\d{11}\Z")
"""National Drug Code in the 11-digit 5-4-2 billing format, without hyphens."""

NDC_UNITS = frozenset(DrugUnit)
"""CTP05-1 drug units (:class:`edi.claim.DrugUnit`), the set the 837 builder accepts."""

PREVENTIVE_AGE_BANDS: dict[str, tuple[int, int]] = {
    f"993{kind}{band}": ages
    for kind in ("8", "9")
    for band, ages in zip(
        "1234567", ((0, 0), (1, 4), (5, 11), (12, 17), (18, 39), (40, 64), (65, 200)), strict=True
    )
}
"""Preventive medicine visit codes (99381-99387 new, 99391-99397 established) -> the patient's age band in
whole years on the date of service (0 = under one year)."""

NEW_PATIENT_EM = frozenset({f"9920{d}" for d in "12345"} | {f"9938{d}" for d in "1234567"})
ESTABLISHED_PATIENT_EM = frozenset({f"9921{d}" for d in "12345"} | {f"9939{d}" for d in "1234567"})

ANNUAL_WELLNESS_VISIT = frozenset({"G0438", "G0439"})
"""Medicare annual wellness visit, initial and subsequent: a Medicare-only benefit."""


def age_on(born: object, day: object) -> int | None:
    """Whole years between two dates, ``None`` when either is not a date."""
    if not isinstance(born, dt.date) or not isinstance(day, dt.date):
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))
