"""Synthetic claim parts shared by the 837 builder tests (tests/unit/edi), the sandbox payer tests
(tests/unit/sandbox) and ``bench/bench_837.py``. Plain Python, no pytest: the benchmark imports it.

Everything is invented. NPIs pass the Luhn check the CMS NPI standard defines (prefix 80840) and are
computed here independently of the product's own check (``edi.scrub.codes``), so a test that feeds
``make_npi`` to the scrubber checks one implementation against another.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from edi.claim import Claim, Party, Provider


def npi_check_digit(base9: str) -> str:
    """Luhn check digit over ``80840`` + the first nine digits (the NPI standard)."""
    digits = [int(c) for c in "80840" + base9]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:  # rightmost of the payload is doubled (the check digit goes to its right)
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def make_npi(base9: str) -> str:
    """A valid 10-digit NPI for a 9-digit base."""
    return base9 + npi_check_digit(base9)


SUBMITTER = Party(
    name="CLAIMFLOW BILLING", identifier="CF0001", contact_name="EDI DESK", contact_phone="5555550100"
)
DR_WELBY = Provider(
    npi=make_npi("124531959"), last_name="WELBY", first_name="MARCUS", entity_type="1", taxonomy="207Q00000X"
)


def emergency_visit(day: dt.date, attending: Provider) -> dict[str, Any]:
    """The 837I header of an outpatient emergency visit on ``day`` (``Claim(**...)`` keywords): bill type
    131, an emergency (admission type 1) from the emergency room (source 7), sent home (status 01), chest
    pain (R07.89) as the reason for the visit."""
    return {
        "bill_type": "131",
        "statement_from": day,
        "statement_to": day,
        "admission_type": "1",
        "admission_source": "7",
        "patient_status": "01",
        "attending_provider": attending,
        "reason_for_visit": ("R0789",),
    }


def overridden(claim: Claim, fields: Mapping[str, object]) -> Claim:
    """``claim`` with ``fields`` set on it: how a test varies one of the standard claims."""
    for name, value in fields.items():
        setattr(claim, name, value)
    return claim
