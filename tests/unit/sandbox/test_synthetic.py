from __future__ import annotations

import datetime as dt
from decimal import Decimal

import simple_icd_10_cm as icd

from claimflow.sandbox.synthetic import DIAGNOSES, NDC_BY_HCPCS, NON_BILLABLE, generate_practice, luhn_npi

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


def _by_claim(rows: list[dict], key: str = "claim_id") -> dict[int, list[dict]]:  # type: ignore[type-arg]
    out: dict[int, list[dict]] = {}  # type: ignore[type-arg]
    for r in rows:
        out.setdefault(r[key], []).append(r)
    return out


def _age(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


PRACTICE = generate_practice(300, 1500, seed=7, as_of=AS_OF)
LINES = _by_claim(PRACTICE.service_lines)
PAYER_NAME = {p["id"]: p["name"] for p in PRACTICE.payers}


def test_inpatient_stays_bill_room_and_board_per_day_and_the_discharge_hour() -> None:
    stays = [c for c in PRACTICE.claims if c["bill_type"] == "111" and c["id"] not in PRACTICE.flaws]
    assert len(stays) > 30
    for c in stays:
        rooms = [ln for ln in LINES[c["id"]] if "0100" <= ln["revenue_code"] <= "0219"]
        assert rooms and all(ln["unit_basis"] == "DA" for ln in rooms)
        assert sum(ln["units"] for ln in rooms) == (c["service_date_to"] - c["admission_date"]).days
        assert c["discharge_hour"] and c["patient_status"] == "01" and c["reason_for_visit"] is None
    assert any(len([ln for ln in LINES[c["id"]] if ln["unit_basis"] == "DA"]) == 2 for c in stays)  # ICU days


def test_unscheduled_outpatient_visits_carry_a_reason_for_visit() -> None:
    outpatient = [c for c in PRACTICE.claims if c["bill_type"] == "131"]
    er = [c for c in outpatient if any(ln["revenue_code"] == "0450" for ln in LINES[c["id"]])]
    assert er and len(er) < len(outpatient)
    for c in outpatient:
        unscheduled = c in er
        assert (c["admission_type"] in ("1", "2")) == unscheduled
        assert (c["reason_for_visit"] is not None) == unscheduled
        assert c["discharge_hour"] is None
        if unscheduled:
            assert icd.is_valid_item(c["reason_for_visit"]) and icd.is_leaf(c["reason_for_visit"])


def test_drug_lines_carry_the_ndc_from_the_drug_map() -> None:
    drugs = [
        ln
        for ln in PRACTICE.service_lines
        if (ln["procedure_code"] or "").startswith("J") and ln["claim_id"] not in PRACTICE.flaws
    ]
    assert {ln["procedure_code"] for ln in drugs} == set(NDC_BY_HCPCS)
    for ln in drugs:
        ndc, unit, per_unit = NDC_BY_HCPCS[ln["procedure_code"]]
        assert (ln["ndc"], ln["ndc_unit"], ln["ndc_quantity"]) == (ndc, unit, per_unit * ln["units"])
        assert len(ndc) == 11 and ndc.isdigit()
    assert all(
        ln["ndc"] is None for ln in PRACTICE.service_lines if not (ln["procedure_code"] or "").startswith("J")
    )
    medicaid = [p["id"] for p in PRACTICE.payers if p["filing_indicator"] == "MC"]
    assert any(
        c["payer_id"] in medicaid and any(ln in drugs for ln in LINES[c["id"]]) for c in PRACTICE.claims
    )


def test_medicare_part_b_gets_professional_claims_part_a_institutional() -> None:
    part = {p["filing_indicator"]: p["id"] for p in PRACTICE.payers}
    by_type = {(c["claim_type"], c["payer_id"]) for c in PRACTICE.claims}
    assert ("professional", part["MB"]) in by_type and ("institutional", part["MA"]) in by_type
    assert ("professional", part["MA"]) not in by_type and ("institutional", part["MB"]) not in by_type
    coverage = {c["id"]: c for c in PRACTICE.coverages}
    for c in PRACTICE.claims:
        assert coverage[c["coverage_id"]]["payer_id"] == c["payer_id"]
    # A beneficiary holds Part A and Part B under one Medicare number.
    medicare = _by_claim(
        [c for c in PRACTICE.coverages if c["payer_id"] in (part["MA"], part["MB"]) and c["priority"] == 1],
        "patient_id",
    )
    assert medicare and all(
        len({c["member_id"] for c in covs}) == 1 and len(covs) == 2 for covs in medicare.values()
    )


def test_visits_are_coded_for_the_patient() -> None:
    patients = {p["id"]: p for p in PRACTICE.patients}
    medicare_b = next(p["id"] for p in PRACTICE.payers if p["filing_indicator"] == "MB")
    claims = {c["id"]: c for c in PRACTICE.claims}
    first_visit: dict[int, dt.date] = {}
    new_visits: list[tuple[int, dt.date]] = []
    preventive = awv = 0
    for c in sorted(PRACTICE.claims, key=lambda c: (c["service_date_from"], c["id"])):
        if c["claim_type"] != "professional" or c["id"] in PRACTICE.flaws or c["responsibility"] != "P":
            continue
        codes = [ln["procedure_code"] for ln in LINES[c["id"]]]
        visits = [code for code in codes if code[:4] in ("9920", "9921", "9938", "9939") or code == "G0439"]
        assert len(visits) <= 1, "one E/M visit per claim"
        if not visits:
            continue
        code, day, pid = visits[0], c["service_date_from"], c["patient_id"]
        if code[:4] in ("9920", "9938"):
            new_visits.append((pid, day))
            assert pid not in first_visit, "a new-patient visit for a patient seen before"
        first_visit.setdefault(pid, day)
        if code[:3] == "993":
            preventive += 1
            lo, hi = [(0, 0), (1, 4), (5, 11), (12, 17), (18, 39), (40, 64), (65, 200)][int(code[4]) - 1]
            assert lo <= _age(patients[pid]["birth_date"], day) <= hi
            assert c["payer_id"] != medicare_b
        if code == "G0439":
            awv += 1
            assert c["payer_id"] == medicare_b
    assert new_visits and preventive and awv
    # Secondary claims repeat the primary's services: an annual wellness visit is then Medicare's crossover.
    for c in PRACTICE.claims:
        if any(ln["procedure_code"] == "G0439" for ln in LINES[c["id"]]) and c["responsibility"] == "S":
            assert claims[c["primary_claim_id"]]["payer_id"] == medicare_b
