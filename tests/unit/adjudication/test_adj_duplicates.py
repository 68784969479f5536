"""A claim payment posts once, whatever partners send: repeated CLP loops are held, fallback matching by
CLP07 / truncated CLP01 never stacks payments on one claim. Both backends (the ``engine`` fixture)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select

from adjudication.posting import (
    DUPLICATE,
    FALLBACK_ALREADY_PAID,
    FALLBACK_ONE_PER_RUN,
    post_remittances,
)
from claimflow.db import models as m

from .builders import D, Line, Pay, Practice, balance, ledger, reversal_of, standard_pay

AS_OF = dt.date(2026, 11, 25)


def _post(engine: Engine) -> dict:
    return post_remittances(engine, actor="test", as_of=AS_OF)


def _payments(engine: Engine) -> dict[int, tuple]:
    """claim payment id -> (claim_id, posted, duplicate_of_id)."""
    cp = m.ClaimPayment
    with engine.connect() as conn:
        return {
            r[0]: (r[1], r[2] is not None, r[3])
            for r in conn.execute(select(cp.id, cp.claim_id, cp.posted_at, cp.duplicate_of_id))
        }


def _reasons(engine: Engine) -> dict[int, str]:
    u = m.UnmatchedPayment
    with engine.connect() as conn:
        return dict(
            conn.execute(select(u.claim_payment_id, u.reason).where(u.resolved.is_(False))).tuples().all()
        )


def test_clp_repeated_inside_one_file_posts_once(engine: Engine) -> None:
    pr = Practice(engine)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00")), ("36415", D("50.00"))])
    pay = standard_pay(c, payer_claim_number="ICN-1")
    ids = pr.remittance([pay, pay])
    first, second = ids["claim_payments"]
    result = _post(engine)
    assert result["claim_payments_posted"] == 1
    assert result["duplicates_held"] == 1
    assert result["paid"] == "95.00"
    assert _payments(engine)[first] == (c.id, True, None)
    assert _payments(engine)[second][1:] == (False, first)
    assert _reasons(engine) == {second: DUPLICATE}
    # The claim got one payment: the ledger has pay:<first> only; the repeat's money is held unapplied.
    keys = {k for k, *_ in ledger(engine, claim_id=c.id)}
    assert f"pay:{first}" in keys and f"pay:{second}" not in keys
    assert balance(engine, "ar_payer", claim_id=c.id) == D("0.00")
    assert balance(engine, "unapplied_cash", claim_payment_id=second) == D("-95.00")
    # Later runs keep it held, and do not count it again.
    again = _post(engine)
    assert again["claim_payments_posted"] == 0 and again["duplicates_held"] == 0
    assert again["unmatched_open"] == 1
    assert _payments(engine)[second][1:] == (False, first)


def test_payment_repeated_in_a_later_file_is_held(engine: Engine) -> None:
    pr = Practice(engine)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))])
    pay = standard_pay(c, payer_claim_number="ICN-2")
    first = pr.remittance([pay])["claim_payments"][0]
    assert _post(engine)["claim_payments_posted"] == 1
    second = pr.remittance([pay])["claim_payments"][0]  # another file, another trace number
    result = _post(engine)
    assert result["claim_payments_posted"] == 0 and result["duplicates_held"] == 1
    assert _payments(engine)[second] == (c.id, False, first)
    assert _reasons(engine) == {second: DUPLICATE}
    assert balance(engine, "cash", claim_id=c.id) == D("60.00")  # paid once
    # A different adjudication of the same claim (another amount) is not a repeat.
    other = standard_pay(c, paid_share=D("0.80"), payer_claim_number="ICN-2")
    third = pr.remittance([other])["claim_payments"][0]
    assert _post(engine)["claim_payments_posted"] == 1
    assert _payments(engine)[third] == (c.id, True, None)


def test_reversal_then_the_same_payment_again_is_a_correction(engine: Engine) -> None:
    pr = Practice(engine)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))])
    pay = standard_pay(c, payer_claim_number="ICN-3")
    original = pr.remittance([pay])["claim_payments"][0]
    _post(engine)
    ids = pr.remittance([reversal_of(pay), pay])
    result = _post(engine)
    assert result["reversals_posted"] == 1 and result["claim_payments_posted"] == 1
    assert result["duplicates_held"] == 0 and result["corrections_paired"] == 1
    assert _payments(engine)[ids["claim_payments"][1]] == (c.id, True, None)
    assert _reasons(engine) == {}
    assert balance(engine, "cash", claim_id=c.id) == D("60.00")  # 60 − 60 + 60
    assert original in _payments(engine)
    # The same correction a second time is a repeat again.
    repeat = pr.remittance([pay])["claim_payments"][0]
    assert _post(engine)["duplicates_held"] == 1
    assert _payments(engine)[repeat][2] == ids["claim_payments"][1]


def test_unknown_clp01_with_one_clp07_never_stacks_on_one_claim(engine: Engine) -> None:
    """The review's case: many CLP loops with unknown CLP01 share a claim's payer claim number."""
    pr = Practice(engine)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))], payer_claim_number="ICN-77")
    stray = []
    for i in range(40):
        p = standard_pay(c, paid_share=D("0.50") + D(i) / 100, payer_claim_number="ICN-77")
        p.pcn = f"ZZUNKNOWN{i:04d}"
        stray.append(p)
    ids = pr.remittance(stray)["claim_payments"]
    result = _post(engine)
    assert result["claim_payments_posted"] == 1
    assert result["matched_by"]["payer_number"] == 1
    assert result["fallback_held"] == {FALLBACK_ALREADY_PAID: 0, FALLBACK_ONE_PER_RUN: 39}
    posted = [i for i, (_, done, _) in _payments(engine).items() if done]
    assert posted == [ids[0]]
    reasons = _reasons(engine)
    assert set(reasons) == set(ids[1:]) and set(reasons.values()) == {FALLBACK_ONE_PER_RUN}
    assert balance(engine, "cash", claim_id=c.id) == D("40.00")
    # Next run: the claim now has a live payment from that payer, so the rest stay held (new reason).
    again = _post(engine)
    assert again["claim_payments_posted"] == 0
    assert again["fallback_held"] == {FALLBACK_ALREADY_PAID: 39, FALLBACK_ONE_PER_RUN: 0}
    assert set(_reasons(engine).values()) == {FALLBACK_ALREADY_PAID}
    assert balance(engine, "cash", claim_id=c.id) == D("40.00")


def test_fallback_on_a_claim_paid_exactly_is_held(engine: Engine) -> None:
    pr = Practice(engine)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))], payer_claim_number="ICN-5")
    exact = standard_pay(c, payer_claim_number="ICN-5")
    by_number = standard_pay(c, paid_share=D("0.90"), payer_claim_number="ICN-5")
    by_number.pcn = "MANGLED01"
    ids = pr.remittance([exact, by_number])["claim_payments"]  # same batch: the exact match wins
    result = _post(engine)
    assert result["claim_payments_posted"] == 1 and result["fallback_held"][FALLBACK_ALREADY_PAID] == 1
    assert _reasons(engine) == {ids[1]: FALLBACK_ALREADY_PAID}
    assert _payments(engine)[ids[1]] == (None, False, None)
    # Truncated CLP01 in a later file: held the same way.
    truncated = standard_pay(c, paid_share=D("0.80"))
    truncated.pcn = c.pcn[:-2]
    late = pr.remittance([truncated])["claim_payments"][0]
    result = _post(engine)
    assert result["claim_payments_posted"] == 0 and result["matched_by"]["pcn_truncated"] == 0
    assert _reasons(engine)[late] == FALLBACK_ALREADY_PAID


def test_fallback_correction_after_a_reversal_posts(engine: Engine) -> None:
    pr = Practice(engine)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))], payer_claim_number="ICN-6")
    pay = standard_pay(c, payer_claim_number="ICN-6")
    pr.remittance([pay])
    _post(engine)
    correction = standard_pay(c, paid_share=D("0.80"), payer_claim_number="ICN-6")
    correction.pcn = "MANGLED02"
    ids = pr.remittance([reversal_of(pay), correction])["claim_payments"]
    result = _post(engine)
    assert result["reversals_posted"] == 1 and result["claim_payments_posted"] == 1
    assert result["matched_by"]["payer_number"] == 1
    assert _payments(engine)[ids[1]] == (c.id, True, None)
    assert balance(engine, "cash", claim_id=c.id) == D("70.00")  # 60 − 60 + 70


def test_fallback_from_another_payer_is_not_stacking(engine: Engine) -> None:
    pr = Practice(engine)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))], payer_claim_number="ICN-8")
    pr.remittance([standard_pay(c, payer_claim_number="ICN-8")])
    _post(engine)
    secondary = Pay(
        pcn="MANGLED03",
        status="2",
        payer_claim_number="ICN-8",
        lines=[Line("99213", D("100.00"), D("10.00"), [("CO", "45", D("90.00"))], c.lines[0][1])],
    )
    cp = pr.remittance([secondary], payer_identifier="SBX05")["claim_payments"][0]
    result = _post(engine)
    assert result["claim_payments_posted"] == 1
    assert _payments(engine)[cp] == (c.id, True, None)


def test_hostile_volumes_post_once(engine: Engine) -> None:
    """One CLP repeated 300 times in one file, and 300 CLP loops with unknown CLP01 sharing one
    claim's CLP07: one payment each reaches its claim, everything else is held and listed."""
    pr = Practice(engine)
    pid = pr.patient("A0000001")
    repeated = pr.claim(pid, [("99213", D("100.00"))])
    target = pr.claim(pid, [("99213", D("100.00"))], payer_claim_number="ICN-HOSTILE")
    pays = [standard_pay(repeated, payer_claim_number="ICN-R")] * 300
    for i in range(300):
        p = standard_pay(target, paid_share=D("0.70"), payer_claim_number="ICN-HOSTILE")
        p.pcn = f"ZZUNKNOWN{i:05d}"
        pays.append(p)
    pr.remittance(pays)
    result = _post(engine)
    assert result["claim_payments_posted"] == 2
    assert result["duplicates_held"] == 299
    assert result["fallback_held"] == {FALLBACK_ALREADY_PAID: 0, FALLBACK_ONE_PER_RUN: 299}
    assert result["unmatched_new"] == 598
    assert balance(engine, "cash", claim_id=repeated.id) == D("60.00")
    assert balance(engine, "cash", claim_id=target.id) == D("60.00")
    assert balance(engine, "unapplied_cash") == D("-35880.00")  # 598 × 60.00 held, not lost
