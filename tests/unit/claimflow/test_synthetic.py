from __future__ import annotations

import datetime as dt
from decimal import Decimal

import simple_icd_10_cm as icd

from claimflow.synthetic import DIAGNOSES, NON_BILLABLE, generate_practice, luhn_npi

AS_OF = dt.date(2026, 11, 25)


def test_same_seed_same_practice() -> None:
    a = generate_practice(50, 120, seed=3, as_of=AS_OF)
    b = generate_practice(50, 120, seed=3, as_of=AS_OF)
    assert a == b
    c = generate_practice(50, 120, seed=4, as_of=AS_OF)
    assert a.claims != c.claims


def test_curated_diagnoses_are_billable_and_flaws_are_not() -> None:
    assert all(icd.is_valid_item(code) and icd.is_leaf(code) for code in DIAGNOSES)
    assert not any(icd.is_valid_item(code) and icd.is_leaf(code) for code in NON_BILLABLE)


def test_generated_npis_pass_luhn_except_the_deliberately_bad_one() -> None:
    p = generate_practice(10, 10, seed=1, as_of=AS_OF)
    for prov in p.providers:
        ok = luhn_npi(prov["npi"][:9]) == prov["npi"]
        assert ok == (prov["last_name"] != "BADNPI")


def test_claim_totals_add_up_unless_flawed() -> None:
    p = generate_practice(200, 600, seed=11, as_of=AS_OF)
    lines_by_claim: dict[int, Decimal] = {}
    for ln in p.service_lines:
        lines_by_claim[ln["claim_id"]] = lines_by_claim.get(ln["claim_id"], Decimal(0)) + ln["charge"]
    for claim in p.claims:
        if p.flaws.get(claim["id"]) == "charge_mismatch":
            assert lines_by_claim[claim["id"]] != claim["total_charge"]
        else:
            assert lines_by_claim[claim["id"]] == claim["total_charge"]
    assert 0 < len(p.flaws) < len(p.claims) * 0.1
    kinds = {c["claim_type"] for c in p.claims}
    assert kinds == {"professional", "institutional"}
    assert any(c["responsibility"] == "S" for c in p.claims)
    assert all(isinstance(ln["charge"], Decimal) for ln in p.service_lines)
