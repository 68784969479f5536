"""The sandbox payer's adjudication engine: balancing, determinism, denials, COB, accumulators, runs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from claimflow.sandbox.payer.engine import (
    ZERO,
    BalanceError,
    ClaimPayment,
    EngineConfig,
    LinePayment,
    PayerType,
    Remittance,
    check_balance,
    negate,
    npi_valid,
    payment_from_json,
    payment_to_json,
)
from claimflow.sandbox.payer.state import SandboxState, StateError, locked_state
from edi.claim import Claim, OtherPayerLine
from edi.validate import validate_x12
from tests.unit.sandbox.conftest import (
    DOS,
    MEDICARE,
    NEXT_NIGHT,
    RECEIVED,
    SEED,
    PayerHarness,
    bad_npi,
    build_837,
    five_patients,
    inpatient,
    line,
    make_npi,
    outpatient,
    person,
    prof,
    replacement,
    secondary,
)

QUIET = EngineConfig(
    member_not_found_per_mille=0,
    medical_necessity_per_mille=0,
    noncovered_per_mille=0,
    reprocess_per_mille=0,
    recoup_per_mille=0,
)


def BIG_VISIT() -> list:
    """Enough allowed amount to get past the commercial deductible, so the claim pays."""
    return [line(1, "99215", "250.00"), line(2, "71046", "600.00")]


def quiet(**kw: object) -> PayerHarness:
    return PayerHarness(config=dataclasses.replace(QUIET, **kw))  # type: ignore[arg-type]


def payments(remits: list[Remittance]) -> dict[str, ClaimPayment]:
    return {c.patient_control_number: c for r in remits for c in r.claims if c.status != "22"}


def cas(p: ClaimPayment) -> set[tuple[str, str]]:
    return {(a.group, a.reason) for ln in p.lines for a in ln.adjustments} | {
        (a.group, a.reason) for a in p.claim_adjustments
    }


def assert_remittances_balance(remits: list[Remittance]) -> None:
    for r in remits:
        for c in r.claims:
            check_balance(c)
            assert c.charge - c.paid == sum((a.amount for ln in c.lines for a in ln.adjustments), ZERO) + sum(
                (a.amount for a in c.claim_adjustments), ZERO
            )
            for ln in c.lines:
                assert ln.charge - ln.paid == sum((a.amount for a in ln.adjustments), ZERO)
                for a in ln.adjustments:
                    assert a.amount == a.amount.quantize(Decimal("0.01"))
        assert r.total >= 0
        assert r.total == sum((c.paid for c in r.claims), ZERO) - sum((a.amount for a in r.adjustments), ZERO)


def mixed_claims() -> list:
    return [
        *five_patients([line(1, "99214", "185.00"), line(2, "93000", "65.00"), line(3, "85025", "32.00")]),
        prof("PCN-006", [line(1, "20610", "140.00", mods=("RT",)), line(2, "99213", "125.00", mods=("25",))]),
        secondary("PCN-007"),
    ]


# --------------------------------------------------------------------------------------------- balancing


def test_every_generated_payment_balances_with_default_rates() -> None:
    h = PayerHarness()  # the default seeded rates: some denials, reprocessing, recoupments
    claims = mixed_claims()
    for i in range(40):  # enough claims for the seeded paths to show up
        claims.append(prof(f"BULK-{i:03d}", member=f"ACM{i:08d}", patient=person("BULK", f"P{i:03d}")))
    h.submit(claims)
    day1 = h.run(RECEIVED)
    assert_remittances_balance(day1)
    day2 = h.run(NEXT_NIGHT)
    assert_remittances_balance(day2)
    for r in day1 + day2:
        for c in r.claims:
            assert c.paid == sum((ln.paid for ln in c.lines), ZERO)
            assert c.patient_responsibility == sum(
                (a.amount for ln in c.lines for a in ln.adjustments if a.group == "PR"), ZERO
            )


def test_check_balance_catches_an_unbalanced_payment() -> None:
    h = quiet()
    h.submit([prof("PCN-1")])
    p = payments(h.run())["PCN-1"]
    p.lines[0].paid += Decimal("0.01")
    with pytest.raises(BalanceError):
        check_balance(p)


def test_reversal_negates_every_amount_and_still_balances() -> None:
    h = quiet()
    h.submit([prof("PCN-1")])
    p = payments(h.run())["PCN-1"]
    r = negate(p)
    assert r.status == "22"
    assert (r.charge, r.paid, r.patient_responsibility) == (-p.charge, -p.paid, -p.patient_responsibility)
    assert [a.amount for ln in r.lines for a in ln.adjustments] == [
        -a.amount for ln in p.lines for a in ln.adjustments
    ]
    assert [ln.units for ln in r.lines] == [-ln.units for ln in p.lines]
    check_balance(r)


def test_payment_json_round_trip() -> None:
    h = quiet()
    h.submit([inpatient("INP-1"), secondary("SEC-1")])
    for p in payments(h.run()).values():
        assert payment_from_json(json.loads(json.dumps(payment_to_json(p)))) == p


# ------------------------------------------------------------------------------------------- determinism


def _run_json(seed: int) -> str:
    h = PayerHarness(seed=seed)
    h.submit(mixed_claims())
    remits = h.run() + h.run(NEXT_NIGHT)
    return json.dumps(
        [
            [payment_to_json(c) for c in r.claims]
            + [[a.reason, a.reference, str(a.amount)] for a in r.adjustments]
            for r in remits
        ]
    )


def test_same_seed_same_answers() -> None:
    assert _run_json(SEED) == _run_json(SEED)


def test_another_seed_changes_the_payer() -> None:
    assert _run_json(SEED) != _run_json(SEED + 1)


def test_commercial_allows_a_share_of_charges_medicare_a_per_code_table() -> None:
    h = quiet()
    sim = h.payer
    rate = sim.commercial_rate("SBX01")
    assert Decimal("0.70") <= rate <= Decimal("0.90")
    fee = sim.allowed_per_unit(PayerType.MEDICARE, "99213")
    assert fee == sim.allowed_per_unit(PayerType.MEDICARE, "99213")  # a table, not a draw
    assert Decimal("45") <= fee <= Decimal("141")
    assert sim.allowed_per_unit(PayerType.MEDICAID, "99213") == (fee * Decimal("0.80")).quantize(
        Decimal("0.01")
    )
    h.submit([prof("M-1", [line(1, "99213", "300.00")], payer=MEDICARE, member="1EG4TE5MK73")])
    h.submit([prof("M-2", [line(1, "99213", "500.00")], payer=MEDICARE, member="1EG4TE5MK73")])
    paid = payments(h.run())
    assert paid["M-1"].lines[0].allowed == paid["M-2"].lines[0].allowed == fee  # same code, same allowed


# ---------------------------------------------------------------------------------------------- denials


def test_duplicate_claim_is_denied_oa18() -> None:
    h = quiet()
    h.submit([prof("DUP-1")])
    h.submit([prof("DUP-1")])
    remits = h.run()
    both = [c for r in remits for c in r.claims if c.patient_control_number == "DUP-1"]
    assert [c.status for c in both] == ["1", "4"]
    dup = both[1]
    assert dup.paid == 0
    assert all([(a.group, a.reason) for a in ln.adjustments] == [("OA", "18")] for ln in dup.lines)
    assert dup.payer_claim_number != both[0].payer_claim_number


def test_timely_filing_co29() -> None:
    h = quiet()
    old = DOS - dt.timedelta(days=400)
    h.submit([prof("OLD-1", [line(1, "99213", "125.00", dos=old)])])
    p = payments(h.run())["OLD-1"]
    assert p.status == "4" and cas(p) == {("CO", "29")}


def test_missing_rendering_provider_co16_n290() -> None:
    h = quiet()
    h.submit([prof("NOREND", rendering=None)])
    p = payments(h.run())["NOREND"]
    assert p.status == "4" and cas(p) == {("CO", "16")}
    assert all(ln.remarks == ["N290"] for ln in p.lines)
    assert p.claim_remarks == ["N290"]


def test_bundled_em_visit_co97_m15_and_modifier_25_unbundles() -> None:
    h = quiet()
    h.submit([
        prof("BUNDLE", [line(1, "99213", "125.00"), line(2, "11102", "130.00")]),
        prof("UNBUNDLE", [line(1, "99213", "125.00", mods=("25",)), line(2, "11102", "130.00")],
             member="ACM77777777", patient=person("ROE", "RITA")),
    ])  # fmt: skip
    paid = payments(h.run())
    em = paid["BUNDLE"].lines[0]
    assert [(a.group, a.reason) for a in em.adjustments] == [("CO", "97")] and em.remarks == ["M15"]
    assert em.paid == 0
    assert paid["UNBUNDLE"].lines[0].allowed is not None
    assert ("CO", "97") not in cas(paid["UNBUNDLE"])


def test_repeated_line_is_an_exact_duplicate_service() -> None:
    h = quiet()
    h.submit([prof("REPEAT", [line(1, "36415", "18.00"), line(2, "36415", "18.00")])])
    p = payments(h.run())["REPEAT"]
    assert [(a.group, a.reason) for a in p.lines[1].adjustments] == [("OA", "18")]
    assert p.status == "1"


def test_seeded_line_denials_pr96_and_co50() -> None:
    h = quiet(noncovered_per_mille=1000)
    h.submit([prof("NONCOV")])
    p = payments(h.run())["NONCOV"]
    assert cas(p) == {("PR", "96")} and all(ln.remarks == ["N130"] for ln in p.lines)
    assert p.patient_responsibility == p.charge and p.status == "4"

    h = quiet(medical_necessity_per_mille=1000)
    h.submit([prof("NECESS", payer=MEDICARE, member="1EG4TE5MK73")])
    p = payments(h.run())["NECESS"]
    assert cas(p) == {("CO", "50")} and all(ln.remarks == ["N115"] for ln in p.lines)
    assert "MA01" in p.claim_remarks  # Medicare-like denials carry the appeal-rights alert


def test_zero_units_and_missing_procedure_code_co16() -> None:
    h = quiet()
    h.submit([prof("UNITS", [line(1, "99213", "125.00"), line(2, "97110", "70.00", units="0")])])
    p = payments(h.run())["UNITS"]
    assert [(a.reason, ln.remarks) for ln in p.lines[1:] for a in ln.adjustments] == [("16", ["M53"])]


def test_secondary_without_prior_payment_co16_ma04() -> None:
    h = quiet()
    c = secondary("NOPRIOR")
    c.other_coverages[0].paid = None
    for ln in c.lines:
        ln.other_payer = None
    h.submit([c])
    p = payments(h.run())["NOPRIOR"]
    assert cas(p) == {("CO", "16")} and p.claim_remarks == ["MA04"]


# ------------------------------------------------------------------------------------- secondary (COB)


def test_secondary_pays_up_to_the_primary_patient_responsibility() -> None:
    h = quiet()
    h.submit([secondary("COB-1")])
    p = payments(h.run())["COB-1"]
    assert p.status == "2"
    first, second = p.lines
    # line 1: primary paid 85, wrote off 15, left 25 to the patient -> we pay at most 25
    assert ("OA", "23", Decimal("100.00")) in [(a.group, a.reason, a.amount) for a in first.adjustments]
    assert first.paid <= Decimal("25.00") and first.paid > 0
    assert first.paid + sum((a.amount for a in first.adjustments if a.group == "PR"), ZERO) == Decimal(
        "25.00"
    )
    # line 2: nothing left to the patient -> nothing to pay, all OA-23
    assert second.paid == 0
    assert [(a.group, a.reason, a.amount) for a in second.adjustments] == [("OA", "23", Decimal("18.00"))]
    check_balance(p)


def test_secondary_with_claim_level_prior_payment_only_is_prorated() -> None:
    h = quiet()
    c = secondary("COB-2")
    for ln in c.lines:
        ln.other_payer = None
    c.other_coverages[0].adjustments = (("CO", "45", Decimal("18.00")), ("PR", "2", Decimal("25.00")))
    h.submit([c])
    p = payments(h.run())["COB-2"]
    assert p.status == "2" and p.paid > 0
    oa23 = sum((a.amount for ln in p.lines for a in ln.adjustments if a.reason == "23"), ZERO)
    assert oa23 == Decimal("118.00")  # 143 charged - 25 left to the patient
    check_balance(p)


def _cob_837_is_valid(c: Claim) -> None:
    report = validate_x12(build_837([c]).encode("ascii"))
    assert report.ok, [e.line("cob.837") for e in report.errors]


def _left_to_patient(line: LinePayment) -> Decimal:
    """What the line treats as the primary's patient share: our payment + what the patient still owes."""
    return line.paid + sum((a.amount for a in line.adjustments if a.group == "PR"), ZERO)


def test_secondary_line_the_primary_paid_in_full_takes_no_share_of_the_claim_liability() -> None:
    """The demo's overpayment: a 2430 without CAS (paid in full) is settled, not a line to prorate AMT*EAF
    onto. The primary left 25 (PR-3 on line 1 only): the secondary pays at most 25."""
    h = quiet()
    c = secondary("COB-FULL")
    adj = c.other_coverages[0].adjudication_date
    c.lines[0].other_payer = OtherPayerLine(
        paid=Decimal("85.00"), adjustments=(("CO", "45", Decimal("15.00")), ("PR", "3", Decimal("25.00"))),
        adjudication_date=adj,
    )  # fmt: skip
    c.lines[1].other_payer = OtherPayerLine(paid=Decimal("18.00"), adjudication_date=adj)
    c.other_coverages[0].paid = Decimal("103.00")
    c.other_coverages[0].patient_liability = Decimal("25.00")
    _cob_837_is_valid(c)
    h.submit([c])
    p = payments(h.run())["COB-FULL"]
    first, second = p.lines
    assert second.paid == 0
    assert [(a.group, a.reason, a.amount) for a in second.adjustments] == [("OA", "23", Decimal("18.00"))]
    assert _left_to_patient(first) == Decimal("25.00") and 0 < first.paid <= Decimal("25.00")
    assert p.paid <= Decimal("25.00")
    check_balance(p)


def test_secondary_never_pays_more_than_the_claim_patient_liability() -> None:
    """2430 PR adding up to more than 2320 AMT*EAF: the claim's remaining liability caps the lines."""
    h = quiet()
    c = secondary("COB-CAP")
    adj = c.other_coverages[0].adjudication_date
    c.lines[1].other_payer = OtherPayerLine(
        paid=Decimal("5.00"), adjustments=(("CO", "45", Decimal("3.00")), ("PR", "2", Decimal("10.00"))),
        adjudication_date=adj,
    )  # fmt: skip
    c.other_coverages[0].paid = Decimal("90.00")
    c.other_coverages[0].patient_liability = Decimal("20.00")
    _cob_837_is_valid(c)
    h.submit([c])
    p = payments(h.run())["COB-CAP"]
    assert sum((_left_to_patient(ln) for ln in p.lines), ZERO) == Decimal("20.00")
    assert 0 < p.paid <= Decimal("20.00")
    oa23 = sum((a.amount for ln in p.lines for a in ln.adjustments if a.reason == "23"), ZERO)
    assert oa23 == Decimal("123.00")  # 143 charged - the 20 the primary left to the patient
    check_balance(p)


def test_secondary_line_without_2430_shares_only_the_liability_the_2430s_leave() -> None:
    """Line 2 has no 2430: it gets AMT*EAF minus the PR the 2430 lines state (here nothing)."""
    h = quiet()
    c = secondary("COB-REST")
    c.lines[1].other_payer = None
    c.other_coverages[0].patient_liability = Decimal("25.00")
    _cob_837_is_valid(c)
    h.submit([c])
    p = payments(h.run())["COB-REST"]
    first, second = p.lines
    assert second.paid == 0 and _left_to_patient(second) == 0
    assert _left_to_patient(first) == Decimal("25.00")
    check_balance(p)


def test_secondary_estimates_the_patient_share_only_without_any_prior_liability() -> None:
    """AMT*D only (no CAS, no 2430, no AMT*EAF): the share is estimated per line (allowed - paid)."""
    h = quiet()
    c = secondary("COB-EST")
    for ln in c.lines:
        ln.other_payer = None
    c.other_coverages[0].paid = Decimal("20.00")
    h.submit([c])
    p = payments(h.run())["COB-EST"]
    assert p.status == "2" and p.paid > 0
    check_balance(p)


# ----------------------------------------------------------------------------------------- accumulators


def _ded(p: ClaimPayment) -> Decimal:
    return sum(
        (a.amount for ln in p.lines for a in ln.adjustments if (a.group, a.reason) == ("PR", "1")), ZERO
    )


def test_deductible_accumulates_across_claims_of_the_same_patient() -> None:
    h = quiet()
    big = [line(1, "99214", "185.00"), line(2, "93000", "65.00"), line(3, "71046", "95.00")]
    h.submit([prof("ACC-1", big), prof("ACC-2", [line(1, "99214", "185.00"), line(2, "71046", "95.00")])])
    h.submit([prof("ACC-3", [line(1, "99214", "185.00"), line(2, "71046", "95.00")])])
    h.submit([prof("OTHER", member="ACM99999999", patient=person("ROE", "RITA"))])
    paid = payments(h.run())
    d1, d2, d3 = _ded(paid["ACC-1"]), _ded(paid["ACC-2"]), _ded(paid["ACC-3"])
    assert d1 > 0 and d1 + d2 + d3 == Decimal("500.00")  # the plan's deductible, met exactly once
    assert d3 < Decimal("500.00") - d1
    assert _ded(paid["OTHER"]) > 0  # another patient starts from zero
    # copay once per claim with an office visit
    assert all(
        sum((a.amount for ln in paid[k].lines for a in ln.adjustments if a.reason == "3"), ZERO)
        == Decimal("25.00")
        for k in ("ACC-1", "ACC-2", "ACC-3")
    )


def test_deductible_resets_with_the_year_of_service() -> None:
    h = quiet()
    lines = [line(1, "99214", "185.00"), line(2, "93000", "65.00"), line(3, "71046", "95.00")]
    for i in range(3):
        h.submit([prof(f"Y1-{i}", [dataclasses.replace(ln) for ln in lines])])
    jan = dt.date(2025, 1, 2)
    h.submit([prof("Y-DEC", [line(1, "99214", "185.00", dos=dt.date(2024, 12, 30))])], received=jan)
    paid = payments(h.run())
    assert _ded(paid["Y-DEC"]) > 0  # 2024 accumulator is separate


def test_accumulators_survive_the_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    big = [line(1, "99214", "185.00"), line(2, "93000", "65.00"), line(3, "71046", "95.00")]
    bigger = [line(1, "99215", "250.00"), line(2, "71046", "300.00")]
    with locked_state(path, SEED) as state:
        h = quiet()
        h.state = state
        h.submit([prof("S-1", big)])
    digest_keys = list(json.loads(path.read_text())["accumulators"])
    assert digest_keys and all("DOE" not in k and "ACM" not in k for k in digest_keys)  # hashed, no PHI
    with locked_state(path, SEED) as state:
        h = quiet()
        h.state = state
        h.submit([prof("S-2", bigger)])
        h.submit([prof("S-3", [dataclasses.replace(ln) for ln in big])])
        paid = payments(h.run())
    d1, d2, d3 = _ded(paid["S-1"]), _ded(paid["S-2"]), _ded(paid["S-3"])
    assert d1 > 0 and d2 == Decimal("500.00") - d1 and d3 == 0


def test_state_refuses_another_seed(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with locked_state(path, SEED):
        pass
    with pytest.raises(StateError):
        SandboxState.load(path, SEED + 1)


# --------------------------------------------------------------------------- payment runs and follow-ups


def test_reversal_and_correction_come_in_a_later_run() -> None:
    h = quiet(reprocess_per_mille=1000)
    h.submit([prof("REV-1", BIG_VISIT())])
    day1 = h.run(RECEIVED)
    original = payments(day1)["REV-1"]
    assert original.paid > 0
    assert not any(c.status == "22" for r in day1 for c in r.claims)
    day2 = h.run(NEXT_NIGHT)
    claims = [c for r in day2 for c in r.claims]
    assert [c.status for c in claims] == ["22", "1"]  # reversal first, then the correction
    reversal, corrected = claims
    assert reversal.patient_control_number == corrected.patient_control_number == "REV-1"
    assert reversal.payer_claim_number == original.payer_claim_number
    assert corrected.payer_claim_number != original.payer_claim_number
    assert reversal.paid == -original.paid and reversal.charge == -original.charge
    assert corrected.paid > original.paid  # retroactive fee increase
    interest = [a for r in day2 for a in r.adjustments if a.reason == "L6"]
    assert (
        len(interest) == 1
        and interest[0].amount < 0
        and interest[0].reference == corrected.payer_claim_number
    )
    assert_remittances_balance(day2)
    net = day2[0].total
    assert net == corrected.paid - original.paid - interest[0].amount
    assert h.run(NEXT_NIGHT + dt.timedelta(days=1)) == []  # nothing else is due


def test_void_after_a_correction_reverses_the_correction() -> None:
    h = quiet(reprocess_per_mille=1000)
    acks = h.submit([prof("VC-1", BIG_VISIT())])
    h.run(RECEIVED)
    corrected = [c for r in h.run(NEXT_NIGHT) for c in r.claims][1]
    h.config = QUIET
    later = NEXT_NIGHT + dt.timedelta(days=1)
    # the provider voids with the number it knew first; the payer reverses what stands now
    h.submit([replacement(prof("VC-1"), acks[0].payer_claim_number, void=True)], received=later)
    (reversal,) = [c for r in h.run(later) for c in r.claims]
    assert reversal.status == "22" and reversal.payer_claim_number == corrected.payer_claim_number
    assert reversal.paid == -corrected.paid


def test_recoupment_forwards_a_negative_balance_then_recovers_it() -> None:
    h = quiet(recoup_per_mille=1000)
    h.submit([prof("REC-1", BIG_VISIT())])
    day1 = h.run(RECEIVED)
    paid = payments(day1)["REC-1"].paid
    day2 = h.run(NEXT_NIGHT)
    assert len(day2) == 1 and day2[0].claims == []
    wo, fb = day2[0].adjustments
    assert (wo.reason, fb.reason) == ("WO", "FB")
    assert 0 < wo.amount <= paid and wo.reference == payments(day1)["REC-1"].payer_claim_number
    assert fb.amount == -wo.amount and day2[0].total == 0 and day2[0].method == "NON"
    h.config = QUIET
    h.submit(
        [prof("REC-2", BIG_VISIT(), member="ACM12121212", patient=person("ROE", "RITA"))], received=NEXT_NIGHT
    )
    day3 = h.run(NEXT_NIGHT + dt.timedelta(days=1))
    recovered = [a for a in day3[0].adjustments if a.reason == "FB"]
    assert recovered and recovered[0].amount > 0
    assert_remittances_balance(day3)


def test_void_reverses_the_paid_claim_and_gives_the_deductible_back() -> None:
    h = quiet()
    acks = h.submit([prof("VOID-1")])
    original = payments(h.run(RECEIVED))["VOID-1"]
    acc_before = dict(h.state.accumulators)
    acks = h.submit([replacement(prof("VOID-1"), acks[0].payer_claim_number, void=True)], received=NEXT_NIGHT)
    assert acks[0].accepted
    day2 = h.run(NEXT_NIGHT)
    claims = [c for r in day2 for c in r.claims]
    assert [c.status for c in claims] == ["22"]
    assert claims[0].paid == -original.paid
    if original.deductible_applied:
        (key,) = acc_before
        assert Decimal(h.state.accumulators[key]) == Decimal(acc_before[key]) - original.deductible_applied
    h.submit([prof("VOID-1")], received=NEXT_NIGHT)  # after a void the same number is not a duplicate
    assert payments(h.run(NEXT_NIGHT))["VOID-1"].status == "1"


def test_replacement_reverses_the_original_and_pays_the_new_claim() -> None:
    h = quiet()
    acks = h.submit([prof("REPL-1")])
    h.run(RECEIVED)
    h.submit([replacement(prof("REPL-1"), acks[0].payer_claim_number)], received=NEXT_NIGHT)
    claims = [c for r in h.run(NEXT_NIGHT) for c in r.claims]
    assert [(c.status, c.frequency) for c in claims] == [("22", "1"), ("1", "7")]
    assert claims[1].lines[0].procedure == "99214"


def test_void_of_a_claim_not_yet_paid_pays_and_reverses_in_the_same_run() -> None:
    h = quiet()
    acks = h.submit([prof("EARLY")])
    h.submit([replacement(prof("EARLY"), acks[0].payer_claim_number, void=True)])
    claims = [c for r in h.run() for c in r.claims]
    assert [c.status for c in claims] == ["1", "22"]
    assert sum((c.paid for c in claims), ZERO) == 0


# ------------------------------------------------------------------------------------------- front end


def test_front_end_rejections() -> None:
    h = quiet()
    future = RECEIVED + dt.timedelta(days=3)
    bad_billing = dataclasses.replace(prof("X").billing_provider, npi=bad_npi("123456789"))
    mismatch = prof("MISMATCH")
    mismatch.total_charge += Decimal("10.00")
    claims = [
        prof("BADNPI", billing=bad_billing),
        prof(
            "BADREND", rendering=dataclasses.replace(prof("X").rendering_provider, npi=bad_npi("555555555"))
        ),
        prof("XBADMEMBER", member="XBAD0000001"),
        prof("FUTURE", [line(1, "99213", "125.00", dos=future)]),
        mismatch,
        replacement(prof("UNKNOWN"), "999999999999"),
        prof("GOOD"),
    ]
    acks = {a.claim.patient_control_number: a for a in h.submit(claims)}
    assert str(acks["BADNPI"].status) == "A7:562:85"
    assert str(acks["BADREND"].status) == "A7:562:82"
    assert str(acks["XBADMEMBER"].status) == "A7:164:IL"
    assert str(acks["FUTURE"].status) == "A7:187"
    assert str(acks["MISMATCH"].status) == "A8:178"
    assert str(acks["UNKNOWN"].status) == "A7:464"
    assert str(acks["GOOD"].status) == "A2:20" and acks["GOOD"].payer_claim_number
    assert all(a.payer_claim_number is None for k, a in acks.items() if k != "GOOD")
    assert list(payments(h.run())) == ["GOOD"]  # rejected claims are never paid


def test_seeded_member_not_found_rate() -> None:
    h = quiet(member_not_found_per_mille=1000)
    (ack,) = h.submit([prof("ANY")])
    assert str(ack.status) == "A7:164:IL"


def test_npi_luhn() -> None:
    assert npi_valid(make_npi("123456789")) and npi_valid("1234567893")
    assert not npi_valid(bad_npi("123456789")) and not npi_valid("123456789") and not npi_valid("12345678AB")


def test_institutional_claims() -> None:
    h = quiet()
    h.submit([outpatient("OUT-1"), inpatient("INP-1")])
    paid = payments(h.run())
    out, inp = paid["OUT-1"], paid["INP-1"]
    assert out.inpatient_days is None and inp.inpatient_days == 3  # MIA for the 11x bill
    assert out.facility_code == "13" and inp.facility_code == "11"
    assert [ln.revenue_code for ln in out.lines] == ["0450", "0320", "0250"]
    assert out.filing_indicator == "MB" and inp.filing_indicator == "12"
    for p in (out, inp):
        check_balance(p)
        assert p.paid > 0
