"""Posting 835 claim payments to claims and to the double-entry ledger."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adjudication.posting import post_remittances
from claimflow.db import models as m

from .builders import D, Line, Pay, Practice, balance, ledger, reversal_of, standard_pay

AS_OF = dt.date(2026, 11, 25)


def _claim_row(engine: Engine, claim_id: int) -> m.Claim:
    with Session(engine, expire_on_commit=False) as s:
        row = s.get(m.Claim, claim_id)
        assert row is not None
        return row


def _cp(engine: Engine, cp_id: int) -> m.ClaimPayment:
    with Session(engine, expire_on_commit=False) as s:
        row = s.get(m.ClaimPayment, cp_id)
        assert row is not None
        return row


def test_payment_with_co_and_pr_hits_the_ledger_exactly_once(db: Engine) -> None:
    pr = Practice(db)
    pid = pr.patient("A0000001")
    c = pr.claim(pid, [("99213", D("100.00")), ("36415", D("50.00"))])
    pay = Pay(
        pcn=c.pcn,
        lines=[
            Line(
                "99213",
                D("100.00"),
                D("70.00"),
                [("CO", "45", D("20.00")), ("PR", "2", D("10.00"))],
                c.lines[0][1],
            ),
            Line(
                "36415",
                D("50.00"),
                D("20.00"),
                [("CO", "45", D("10.00")), ("PR", "1", D("20.00"))],
                c.lines[1][1],
            ),
        ],
    )
    ids = pr.remittance([pay])
    result = post_remittances(db, actor="test", as_of=AS_OF)
    assert result["charges_posted"] == 1
    assert result["claim_payments_posted"] == 1
    assert result["matched_by"]["pcn"] == 1
    assert result["service_lines_matched"] == 2
    assert result["paid"] == "90.00"
    cp = ids["claim_payments"][0]
    assert ledger(db, claim_id=c.id) == sorted(
        [
            (f"chg:{c.id}", "charge", "ar_payer", D("150.00")),
            (f"chg:{c.id}", "charge", "revenue", D("-150.00")),
            (f"pay:{cp}", "payer_payment", "cash", D("90.00")),
            (f"pay:{cp}", "payer_payment", "ar_payer", D("-90.00")),
            (f"co:{cp}", "contractual", "contractual", D("30.00")),
            (f"co:{cp}", "contractual", "ar_payer", D("-30.00")),
            (f"pr:{cp}", "pr_transfer", "ar_patient", D("30.00")),
            (f"pr:{cp}", "pr_transfer", "ar_payer", D("-30.00")),
        ]
    )
    assert balance(db, "ar_payer", claim_id=c.id) == D("0.00")
    assert balance(db, "ar_patient", claim_id=c.id) == D("30.00")
    claim = _claim_row(db, c.id)
    assert claim.status == m.ClaimStatus.PARTIALLY_PAID
    row = _cp(db, cp)
    assert row.claim_id == c.id and row.match_method == "pcn" and row.posted_at is not None
    with db.connect() as conn:
        matched = (
            conn.execute(
                select(m.ServiceLinePayment.service_line_id)
                .where(m.ServiceLinePayment.claim_payment_id == cp)
                .order_by(m.ServiceLinePayment.id)
            )
            .scalars()
            .all()
        )
        assert matched == [c.lines[0][0], c.lines[1][0]]
        assert (
            conn.execute(
                select(func.count()).select_from(m.AuditLog).where(m.AuditLog.action == "post_remittances")
            ).scalar_one()
            == 1
        )

    # A second run finds nothing to post.
    n_before = len(ledger(db))
    again = post_remittances(db, actor="test", as_of=AS_OF)
    assert again["claim_payments_posted"] == 0 and again["charges_posted"] == 0
    assert len(ledger(db)) == n_before


def test_posting_twice_is_refused_by_the_database(db: Engine) -> None:
    pr = Practice(db)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))])
    ids = pr.remittance([standard_pay(c)])
    post_remittances(db, actor="test", as_of=AS_OF)
    cp = ids["claim_payments"][0]
    # The raw constraint: the same txn_key and account cannot be inserted twice.
    with pytest.raises(IntegrityError), db.begin() as conn:
        conn.execute(
            insert(m.LedgerEntry).values(
                txn_key=f"pay:{cp}",
                entry_type="payer_payment",
                account="cash",
                amount=D("70.00"),
                effective_date=AS_OF,
            )
        )
    # And if code forgot the payment was posted (posted_at cleared), posting it again still fails, and
    # rolls back as a whole.
    with db.begin() as conn:
        conn.execute(update(m.ClaimPayment).where(m.ClaimPayment.id == cp).values(posted_at=None))
    n_before = len(ledger(db))
    with pytest.raises(IntegrityError):
        post_remittances(db, actor="test", as_of=AS_OF)
    assert len(ledger(db)) == n_before
    assert _cp(db, cp).posted_at is None


def test_every_transaction_sums_to_zero(db: Engine) -> None:
    pr = Practice(db)
    pid = pr.patient("A0000001")
    claims = [pr.claim(pid, [("99213", D("125.00")), ("80053", D("48.00"))]) for _ in range(5)]
    pr.remittance(
        [standard_pay(c, paid_share=D("0.61")) for c in claims], plb=[("L6", claims[0].pcn, D("-1.25"))]
    )
    post_remittances(db, actor="test", as_of=AS_OF)
    with db.connect() as conn:
        bad = conn.execute(
            select(m.LedgerEntry.txn_key)
            .group_by(m.LedgerEntry.txn_key)
            .having(func.sum(m.LedgerEntry.amount) != 0)
        ).all()
    assert bad == []


def test_reversal_and_correction(db: Engine) -> None:
    pr = Practice(db)
    c = pr.claim(pr.patient("A0000001"), [("99214", D("200.00"))])
    original = Pay(
        pcn=c.pcn,
        payer_claim_number="ICN1",
        lines=[
            Line(
                "99214",
                D("200.00"),
                D("120.00"),
                [("CO", "45", D("60.00")), ("PR", "2", D("20.00"))],
                c.lines[0][1],
            )
        ],
    )
    first = pr.remittance([original])
    post_remittances(db, actor="test", as_of=AS_OF)
    assert _claim_row(db, c.id).status == m.ClaimStatus.PARTIALLY_PAID

    correction = Pay(
        pcn=c.pcn,
        payer_claim_number="ICN2",
        lines=[
            Line(
                "99214",
                D("200.00"),
                D("135.00"),
                [("CO", "45", D("45.00")), ("PR", "2", D("20.00"))],
                c.lines[0][1],
            )
        ],
    )
    second = pr.remittance([reversal_of(original), correction])
    result = post_remittances(db, actor="test", as_of=AS_OF)
    assert result["reversals_posted"] == 1 and result["corrections_paired"] == 1
    orig_id, (rev_id, corr_id) = first["claim_payments"][0], second["claim_payments"]
    assert _cp(db, rev_id).reversal_of_id == orig_id
    assert _cp(db, corr_id).correction_of_id == orig_id
    # The reversal is the exact negation of every row the original posted, under new keys.
    original_rows = ledger(db, claim_payment_id=orig_id)
    reversal_rows = ledger(db, claim_payment_id=rev_id)
    assert sorted((f"rev:{rev_id}:{k}", "reversal", a, -v) for k, _, a, v in original_rows) == reversal_rows
    assert balance(db, "cash", claim_id=c.id) == D("135.00")
    assert balance(db, "ar_payer", claim_id=c.id) == D("0.00")
    assert balance(db, "ar_patient", claim_id=c.id) == D("20.00")
    assert balance(db, "contractual", claim_id=c.id) == D("45.00")
    assert _claim_row(db, c.id).status == m.ClaimStatus.PARTIALLY_PAID
    with db.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(m.AuditLog).where(m.AuditLog.action == "reversal")
            ).scalar_one()
            == 1
        )


def test_reversal_in_the_same_batch_as_its_original(db: Engine) -> None:
    pr = Practice(db)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))])
    original = standard_pay(c, pr=D("0"))
    pr.remittance([original])
    pr.remittance([reversal_of(original)])
    result = post_remittances(db, actor="test", as_of=AS_OF)
    assert result["reversals_posted"] == 1
    assert balance(db, "ar_payer", claim_id=c.id) == D("100.00")  # back to the full charge
    assert balance(db, "cash", claim_id=c.id) == D("0.00")
    assert _claim_row(db, c.id).status == m.ClaimStatus.REVERSED


def test_reversal_without_an_original_is_kept_unmatched(db: Engine) -> None:
    pr = Practice(db)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))])
    pr.remittance([reversal_of(standard_pay(c))])
    result = post_remittances(db, actor="test", as_of=AS_OF)
    assert result["reversals_posted"] == 0 and result["unmatched_new"] == 1
    with db.connect() as conn:
        reason = conn.execute(select(m.UnmatchedPayment.reason)).scalar_one()
    assert "reversal" in reason


def test_unmatched_payment_is_kept_and_resolved_when_the_claim_appears(db: Engine) -> None:
    pr = Practice(db)
    pid = pr.patient("A0000001")
    stray = Pay(
        pcn="ZZUNKNOWN0001", lines=[Line("99213", D("80.00"), D("50.00"), [("CO", "45", D("30.00"))])]
    )
    not_ours = Pay(
        pcn="ZZOTHERPAYER",
        status="23",
        lines=[Line("99213", D("10.00"), D("0.00"), [("OA", "23", D("10.00"))])],
    )
    ids = pr.remittance([stray, not_ours])
    result = post_remittances(db, actor="test", as_of=AS_OF)
    assert result["unmatched_new"] == 2 and result["unmatched_open"] == 2
    with db.connect() as conn:
        reasons = dict(
            conn.execute(select(m.UnmatchedPayment.claim_payment_id, m.UnmatchedPayment.reason))
            .tuples()
            .all()
        )
    assert "23" in reasons[ids["claim_payments"][1]]
    assert "patient control number" in reasons[ids["claim_payments"][0]]
    stray_id = ids["claim_payments"][0]
    # The money is not lost: it sits in unapplied cash.
    assert balance(db, "cash", claim_payment_id=stray_id) == D("50.00")
    assert balance(db, "unapplied_cash", claim_payment_id=stray_id) == D("-50.00")
    assert post_remittances(db, actor="test", as_of=AS_OF)["unmatched_new"] == 0  # retried, not duplicated

    # The submission turns up (e.g. a file sent outside claimflow was registered): the payment matches.
    c = pr.claim(pid, [("99213", D("80.00"))], pcn="ZZUNKNOWN0001")
    result = post_remittances(db, actor="test", as_of=AS_OF)
    assert result["claim_payments_posted"] == 1 and result["unmatched_resolved"] == 1
    assert result["unmatched_open"] == 1
    assert balance(db, "unapplied_cash") == D("0.00")
    assert balance(db, "cash") == D("50.00")
    assert balance(db, "ar_payer", claim_id=c.id) == D("0.00")


def test_truncated_patient_control_number_matches_only_when_unique(db: Engine) -> None:
    pr = Practice(db)
    pid = pr.patient("A0000001")
    c = pr.claim(pid, [("99213", D("100.00"))], pcn="CLAIMFLOW00001234X1")
    pr.claim(pid, [("99213", D("100.00"))], pcn="CLAIMFLOW00009999X1")
    pr.claim(pid, [("99213", D("100.00"))], pcn="CLAIMFLOW00009999X2")
    truncated = standard_pay(c)
    truncated.pcn = "CLAIMFLOW00001234"
    ambiguous = standard_pay(c)
    ambiguous.pcn = "CLAIMFLOW00009999"
    ids = pr.remittance([truncated, ambiguous])
    result = post_remittances(db, actor="test", as_of=AS_OF)
    assert result["matched_by"]["pcn_truncated"] == 1
    assert _cp(db, ids["claim_payments"][0]).claim_id == c.id
    assert _cp(db, ids["claim_payments"][0]).match_method == "pcn_truncated"
    assert _cp(db, ids["claim_payments"][1]).claim_id is None
    assert result["unmatched_new"] == 1


def test_match_by_payer_claim_number(db: Engine) -> None:
    pr = Practice(db)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))], payer_claim_number="PAYER-ICN-77")
    pay = standard_pay(c, payer_claim_number="PAYER-ICN-77")
    pay.pcn = "MANGLED"
    ids = pr.remittance([pay])
    result = post_remittances(db, actor="test", as_of=AS_OF)
    assert result["matched_by"]["payer_number"] == 1
    assert _cp(db, ids["claim_payments"][0]).claim_id == c.id


def test_service_line_fallback_on_procedure_charge_and_date(db: Engine) -> None:
    pr = Practice(db)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00")), ("36415", D("18.00"))])
    pay = standard_pay(c)
    for ln in pay.lines:
        ln.lcn = None  # the payer dropped REF*6R
    pr.remittance([pay])
    result = post_remittances(db, actor="test", as_of=AS_OF)
    assert result["service_lines_matched"] == 2 and result["service_lines_unmatched"] == 0


def test_plb_adjustments_are_linked_and_posted(db: Engine) -> None:
    pr = Practice(db)
    pid = pr.patient("A0000001")
    a = pr.claim(pid, [("99213", D("100.00"))])
    b = pr.claim(pid, [("99214", D("150.00"))])
    pr.remittance([standard_pay(a, payer_claim_number="ICN-A"), standard_pay(b, payer_claim_number="ICN-B")])
    post_remittances(db, actor="test", as_of=AS_OF)
    ids = pr.remittance(
        [], plb=[("WO", a.pcn, D("15.00")), ("L6", "ICN-B", D("-2.50")), ("FB", None, D("4.00"))]
    )
    result = post_remittances(db, actor="test", as_of=AS_OF)
    assert result["plb_linked"] == 2 and result["plb_posted"] == 3
    wo, l6, fb = ids["plb"]
    with db.connect() as conn:
        links = dict(
            conn.execute(select(m.ProviderAdjustment.id, m.ProviderAdjustment.claim_id)).tuples().all()
        )
    assert links == {wo: a.id, l6: b.id, fb: None}
    assert sorted((acct, amt) for _, _, acct, amt in ledger(db, provider_adjustment_id=wo)) == [
        ("ar_payer", D("15.00")),
        ("cash", D("-15.00")),
    ]
    assert sorted((acct, amt) for _, _, acct, amt in ledger(db, provider_adjustment_id=l6)) == [
        ("cash", D("2.50")),
        ("interest_income", D("-2.50")),
    ]
    assert sorted((acct, amt) for _, _, acct, amt in ledger(db, provider_adjustment_id=fb)) == [
        ("cash", D("-4.00")),
        ("payer_offsets", D("4.00")),
    ]
    assert balance(db, "ar_payer", claim_id=a.id) == D("15.00")  # the recoupment re-opens the claim
    assert post_remittances(db, actor="test", as_of=AS_OF)["plb_posted"] == 0


@pytest.mark.parametrize(
    ("status", "lines", "expected"),
    [
        ("1", [Line("99213", D("100.00"), D("100.00"))], m.ClaimStatus.PAID),
        ("1", [Line("99213", D("100.00"), D("0.00"), [("PR", "1", D("100.00"))])], m.ClaimStatus.PAID),
        ("1", [Line("99213", D("100.00"), D("0.00"), [("CO", "50", D("100.00"))])], m.ClaimStatus.DENIED),
        ("4", [Line("99213", D("100.00"), D("0.00"), [("CO", "16", D("100.00"))])], m.ClaimStatus.DENIED),
        (
            "1",
            [Line("99213", D("100.00"), D("0.00"), [("CO", "45", D("40.00")), ("PR", "1", D("60.00"))])],
            m.ClaimStatus.PAID,
        ),
        (
            "2",
            [Line("99213", D("100.00"), D("30.00"), [("OA", "23", D("70.00"))])],
            m.ClaimStatus.PARTIALLY_PAID,
        ),
    ],
    ids=["paid-in-full", "pr-only", "co50-denied", "clp02-4", "co45-and-deductible", "secondary-partial"],
)
def test_claim_status_from_clp02_and_amounts(
    db: Engine, status: str, lines: list[Line], expected: str
) -> None:
    pr = Practice(db)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))])
    pr.remittance([Pay(pcn=c.pcn, status=status, lines=lines)])
    post_remittances(db, actor="test", as_of=AS_OF)
    assert _claim_row(db, c.id).status == expected


def test_closed_claim_is_not_reopened_by_a_late_payment(db: Engine) -> None:
    pr = Practice(db)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))], status=m.ClaimStatus.CLOSED)
    pr.remittance([standard_pay(c)])
    result = post_remittances(db, actor="test", as_of=AS_OF)
    assert result["status_blocked"] == 1
    assert _claim_row(db, c.id).status == m.ClaimStatus.CLOSED
    assert balance(db, "cash", claim_id=c.id) == D("60.00")  # the money is posted all the same


def test_secondary_coverage_is_noted(db: Engine) -> None:
    pr = Practice(db)
    c = pr.claim(pr.patient("A0000001", secondary=True), [("99213", D("100.00"))])
    pr.claim(pr.patient("A0000002"), [("99213", D("100.00"))])
    pr.remittance([standard_pay(c)])
    assert post_remittances(db, actor="test", as_of=AS_OF)["secondary_due"] == 1


def test_effective_date_falls_back_to_as_of(db: Engine) -> None:
    pr = Practice(db)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))])
    ids = pr.remittance([standard_pay(c)], payment_date=None)
    post_remittances(db, actor="test", as_of=AS_OF)
    with db.connect() as conn:
        dates = set(
            conn.execute(
                text("SELECT DISTINCT effective_date FROM ledger_entries WHERE claim_payment_id = :c"),
                {"c": ids["claim_payments"][0]},
            ).scalars()
        )
    assert {str(d)[:10] for d in dates} == {AS_OF.isoformat()}


def test_money_stays_exact(db: Engine) -> None:
    pr = Practice(db)
    pid = pr.patient("A0000001")
    claims = [pr.claim(pid, [("99213", D("0.10")), ("36415", D("0.20"))]) for _ in range(30)]
    pr.remittance(
        [
            Pay(
                pcn=c.pcn,
                lines=[
                    Line("99213", D("0.10"), D("0.07"), [("CO", "45", D("0.03"))]),
                    Line("36415", D("0.20"), D("0.01"), [("PR", "2", D("0.19"))]),
                ],
            )
            for c in claims
        ]
    )
    result = post_remittances(db, actor="test", as_of=AS_OF)
    assert result["paid"] == "2.40"
    assert balance(db, "ar_patient") == Decimal("5.70")
    assert balance(db, "ar_payer") == Decimal("0.00")
