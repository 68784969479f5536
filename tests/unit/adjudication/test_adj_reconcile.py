"""Nightly reconciliation: snapshot tables, aging, KPIs, balance proof, data quality, write-offs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, update

from adjudication.errors import WriteOffError
from adjudication.patient_payments import import_payments_csv
from adjudication.posting import post_remittances
from adjudication.reconcile import balance_proof, data_quality_checks, reconcile
from adjudication.writeoffs import write_off, write_off_small_balances
from claimflow.db import models as m
from claimflow.sandbox.seed import seed_practice

from .builders import (
    D,
    Line,
    Pay,
    Practice,
    balance,
    reversal_of,
    snapshot,
    standard_pay,
    submit_and_pay_seeded,
)

RUN = dt.date(2026, 11, 25)


def _busy_practice(db: Engine, tmp_path: Path) -> dict[str, object]:
    """Payments with CO/PR, a denial, a reversal + correction, a PLB recoupment, interest, a stray
    payment and patient payments (no overpayment)."""
    pr = Practice(db)
    p1, p2 = pr.patient("A0000001", secondary=True), pr.patient("A0000002")
    a = pr.claim(p1, [("99213", D("125.00")), ("36415", D("18.00"))], service_date=dt.date(2026, 10, 2))
    b = pr.claim(p1, [("99214", D("185.00"))], service_date=dt.date(2026, 8, 1))
    c = pr.claim(p2, [("99203", D("160.00"))], service_date=dt.date(2026, 11, 10))
    d = pr.claim(p2, [("93000", D("65.00"))], service_date=dt.date(2026, 6, 1))  # never answered
    first_b = standard_pay(b, pr=D("25.00"), payer_claim_number="ICN-B1")
    pr.remittance(
        [
            standard_pay(a, payer_claim_number="ICN-A"),
            first_b,
            Pay(
                pcn=c.pcn,
                status="4",
                lines=[Line("99203", D("160.00"), D("0.00"), [("CO", "50", D("160.00"))], c.lines[0][1])],
            ),
        ],
        payment_date=dt.date(2026, 11, 5),
    )
    post_remittances(db, actor="test", as_of=dt.date(2026, 11, 5))
    corrected = standard_pay(b, paid_share=D("0.80"), pr=D("25.00"), payer_claim_number="ICN-B2")
    pr.remittance(
        [
            reversal_of(first_b),
            corrected,
            Pay(pcn="ZZSTRAY", lines=[Line("99213", D("10.00"), D("4.00"), [("CO", "45", D("6.00"))])]),
        ],
        plb=[("WO", "ICN-A", D("5.00")), ("L6", "ICN-B2", D("-1.10"))],
        payment_date=dt.date(2026, 11, 20),
    )
    post_remittances(db, actor="test", as_of=dt.date(2026, 11, 20))
    csv = tmp_path / "pp.csv"
    csv.write_text(
        "external_id,account_number,claim_number,amount,received_on,method\n"
        f"PP-1,A0000001,{b.claim_number},20.00,2026-11-21,card\n"
        "PP-2,A0000001,,5.00,2026-11-22,cash\n",
        encoding="utf-8",
    )
    import_payments_csv(db, csv, actor="test")
    with db.begin() as conn:  # the 277CA accepted every submission
        conn.execute(update(m.Submission).values(status="accepted"))
    return {"a": a, "b": b, "c": c, "d": d, "p1": p1, "p2": p2}


def test_reconcile_twice_gives_identical_tables(db: Engine, tmp_path: Path) -> None:
    _busy_practice(db, tmp_path)
    first = reconcile(db, RUN)
    snap = snapshot(db, RUN)
    assert all(snap[t] for t in ("claim_balances", "patient_balances", "aging_buckets", "kpis"))
    second = reconcile(db, RUN)
    assert snapshot(db, RUN) == snap
    assert first == second
    with db.connect() as conn:
        runs = conn.execute(
            select(m.ReconciliationRun.status, func.count()).group_by(m.ReconciliationRun.status)
        ).all()
    assert [tuple(r) for r in runs] == [("done", 1)]


def test_balances_tie_out_and_summary(db: Engine, tmp_path: Path) -> None:
    ids = _busy_practice(db, tmp_path)
    s = reconcile(db, RUN)
    assert s["balance_exceptions"] == 0, s["balance_exceptions_by_kind"]
    pr_total = Decimal(s["patient_responsibility"])
    assert Decimal(s["patient_balance_total"]) == pr_total - Decimal(s["patient_payments"])
    assert s["patient_payments"] == "25.00" and s["refunds_due"] == "0.00"
    # a: 143.00 charged, 70% allowed (87.50 + 12.60), PR 10 → paid 90.10, CO 42.90; WO 5.00 re-opens it.
    # b: reversed and corrected at 80%: paid 123.00, CO 37.00, PR 25.00.  c: denied (CO-50).  d: unanswered.
    assert s["total_charge"] == "553.00"
    assert s["total_paid"] == "213.10"
    assert s["claims_by_status"] == {"denied": 1, "partially_paid": 2, "submitted": 1}
    assert s["unmatched_payments"] == 1 and s["unmatched_amount"] == "4.00"
    assert s["secondary_due"] == 2
    with db.connect() as conn:
        rows = {
            r.claim_id: r for r in conn.execute(select(m.ClaimBalance).where(m.ClaimBalance.run_date == RUN))
        }
        pb = {
            r.patient_id: r
            for r in conn.execute(select(m.PatientBalance).where(m.PatientBalance.run_date == RUN))
        }
    a, b, c, d = (ids[k].id for k in "abcd")  # type: ignore[attr-defined]
    assert (rows[a].payer_paid, rows[a].contractual, rows[a].patient_responsibility) == (
        D("90.10"),
        D("42.90"),
        D("10.00"),
    )
    assert rows[a].provider_adjustments == D("5.00") and rows[a].insurance_balance == D("5.00")
    assert (rows[b].payer_paid, rows[b].contractual, rows[b].patient_paid, rows[b].patient_balance) == (
        D("123.00"),
        D("37.00"),
        D("25.00"),
        D("0.00"),
    )
    assert (
        rows[c].status == "denied"
        and rows[c].insurance_balance == D("0.00")
        and rows[c].contractual == D("160.00")
    )
    assert rows[d].insurance_balance == D("65.00") and rows[d].age_days == (RUN - dt.date(2026, 6, 1)).days
    assert rows[a].secondary_due and rows[b].secondary_due and not rows[c].secondary_due
    p1 = pb[ids["p1"]]  # type: ignore[index]
    assert (p1.patient_responsibility, p1.patient_paid, p1.patient_balance, p1.claims) == (
        D("35.00"),
        D("25.00"),
        D("10.00"),
        2,
    )
    # The ledger agrees, account by account.
    assert balance(db, "ar_payer", claim_id=a) == D("5.00")
    assert balance(db, "ar_patient", patient_id=ids["p1"]) == D("10.00")


def test_aging_buckets(db: Engine) -> None:
    pr = Practice(db)
    pid = pr.patient("A0000001")
    for days in (1, 10, 45, 75, 100, 150, 400):
        pr.claim(pid, [("99213", D("100.00"))], service_date=RUN - dt.timedelta(days=days))
    post_remittances(db, actor="test", as_of=RUN)
    reconcile(db, RUN)
    with db.connect() as conn:
        rows = conn.execute(
            select(
                m.AgingBucket.dimension,
                m.AgingBucket.key,
                m.AgingBucket.bucket,
                m.AgingBucket.amount,
                m.AgingBucket.claims,
            )
            .where(m.AgingBucket.run_date == RUN)
            .order_by(m.AgingBucket.bucket)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("payer", "SBX01", "0-30", D("200.00"), 2),
        ("payer", "SBX01", "120+", D("200.00"), 2),
        ("payer", "SBX01", "31-60", D("100.00"), 1),
        ("payer", "SBX01", "61-90", D("100.00"), 1),
        ("payer", "SBX01", "91-120", D("100.00"), 1),
    ]


def test_kpis_have_definitions(db: Engine, tmp_path: Path) -> None:
    ids = _busy_practice(db, tmp_path)
    with db.begin() as conn:
        conn.execute(
            insert(m.ScrubResult).values(
                claim_id=ids["a"].id,
                rule="x",
                reason="fixed by hand",  # type: ignore[attr-defined]
                created_at=dt.datetime(2026, 10, 2, 12),
            )
        )
    s = reconcile(db, RUN)
    with db.connect() as conn:
        kpis = {r.name: r for r in conn.execute(select(m.Kpi).where(m.Kpi.run_date == RUN))}
    assert {
        "clean_claim_rate",
        "first_pass_acceptance_rate",
        "denial_rate",
        "days_in_ar",
        "net_collection_rate",
        "aged_ar_over_90_rate",
        "denial_rate_medical_necessity",
    } <= set(kpis)
    assert all(k.definition for k in kpis.values())
    assert kpis["denial_rate"].numerator == 1 and kpis["denial_rate"].denominator == 3
    assert kpis["denial_rate_medical_necessity"].numerator == 1
    # Entered billing in the 90-day window: a (scrubbed by hand first) and c; b and d are older.
    assert kpis["clean_claim_rate"].numerator == 1 and kpis["clean_claim_rate"].denominator == 2
    assert Decimal(s["kpis"]["days_in_ar"]) > 0
    ncr = kpis["net_collection_rate"]
    assert ncr.numerator == D("238.10")  # 213.10 payer + 25.00 patient
    # Charges posted in the window: a (143.00) and c (160.00); contractual: a 42.90, b net 37.00, c 160.00.
    assert ncr.denominator == D("303.00") - D("239.90")


def test_balance_proof_finds_and_keeps_explanations(db: Engine) -> None:
    pr = Practice(db)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))])
    bad = standard_pay(c)
    bad.lines[0].adjustments[0] = ("CO", "45", D("29.00"))  # CLP03 − CLP04 ≠ Σ CAS by 1.00
    ids = pr.remittance([bad], bpr_offset=D("2.00"))
    post_remittances(db, actor="test", as_of=RUN)
    s = reconcile(db, RUN)
    assert s["balance_exceptions_by_kind"] == {
        "bpr02_vs_clp04_minus_plb": 1,
        "clp03_minus_clp04_vs_cas": 1,
        "svc02_minus_svc03_vs_cas": 1,
    }
    with db.begin() as conn:
        conn.execute(
            update(m.BalanceException)
            .where(m.BalanceException.level == "remittance")
            .values(explained=True, explanation="payer error, ticket 42")
        )
    s = reconcile(db, RUN)
    assert s["balance_exceptions"] == 2 and s["balance_exceptions_total"] == 3
    s = reconcile(db, RUN + dt.timedelta(days=1))
    assert s["balance_exceptions"] == 2  # still explained on the next night
    with db.connect() as conn:
        exc = conn.execute(
            select(
                m.BalanceException.expected,
                m.BalanceException.found,
                m.BalanceException.remittance_id,
                m.BalanceException.explanation,
            ).where(
                m.BalanceException.level == "remittance",
                m.BalanceException.run_date == RUN + dt.timedelta(days=1),
            )
        ).one()
    assert tuple(exc) == (D("62.00"), D("60.00"), ids["remittance"], "payer error, ticket 42")
    # Tampering with the ledger is caught: an unbalanced transaction and a claim that no longer ties.
    with db.begin() as conn:
        conn.execute(
            insert(m.LedgerEntry).values(
                txn_key="manual:1",
                entry_type="charge",
                account="ar_payer",
                amount=D("3.00"),
                claim_id=c.id,
                effective_date=RUN,
            )
        )
        conn.execute(
            insert(m.LedgerEntry).values(
                txn_key="manual:2",
                entry_type="charge",
                account="cash",
                amount=D("0.00"),
                claim_id=999999,
                effective_date=RUN,
            )
        )
    proof = balance_proof(db, RUN)
    assert (
        proof["by_kind"]["txn_not_zero"] == 1 and proof["by_kind"]["claim_insurance_balance_vs_ledger"] == 1
    )
    assert proof["by_kind"]["dangling_reference"] == 1
    problems = data_quality_checks(db, RUN)
    assert any("unexplained balance exception" in p for p in problems)


def test_as_of_excludes_later_payments(db: Engine) -> None:
    pr = Practice(db)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))], service_date=dt.date(2026, 11, 1))
    pr.remittance([standard_pay(c)], payment_date=dt.date(2026, 11, 28))
    post_remittances(db, actor="test", as_of=dt.date(2026, 11, 28))
    s = reconcile(db, RUN)
    assert (
        s["total_paid"] == "0.00"
        and s["insurance_balance_total"] == "100.00"
        and s["balance_exceptions"] == 0
    )
    s = reconcile(db, dt.date(2026, 11, 30))
    assert s["total_paid"] == "60.00" and s["balance_exceptions"] == 0
    assert reconcile(db, dt.date(2026, 11, 1))["claims"] == 0  # not yet submitted on the date of service


def test_data_quality(db: Engine, tmp_path: Path) -> None:
    _busy_practice(db, tmp_path)
    assert data_quality_checks(db, RUN) == ["no completed reconciliation for 2026-11-25"]
    reconcile(db, RUN)
    assert data_quality_checks(db, RUN) == []
    with db.begin() as conn:
        conn.execute(update(m.UnmatchedPayment).values(created_at=dt.datetime(2026, 10, 1)))
    later = RUN + dt.timedelta(days=30)
    reconcile(db, later)
    with db.begin() as conn:
        conn.execute(update(m.Submission).where(m.Submission.id == 1).values(status="submitted"))
    problems = data_quality_checks(db, later)
    assert any("unmatched claim payment(s) open for more than 14 days" in p for p in problems)
    assert any("1 submission(s) without a 999 rejection or 277CA" in p for p in problems)


def test_write_offs_close_the_claim_and_tie_out(db: Engine) -> None:
    pr = Practice(db)
    pid = pr.patient("A0000001")
    a = pr.claim(pid, [("99213", D("100.00"))])
    b = pr.claim(pid, [("99213", D("100.00"))])
    pr.remittance([standard_pay(a, pr=D("4.00")), standard_pay(b, pr=D("40.00"))])
    post_remittances(db, actor="test", as_of=RUN)
    assert write_off(db, claim_id=a.id, side="patient", actor="test", as_of=RUN, reason="small balance") == D(
        "4.00"
    )
    with pytest.raises(WriteOffError):
        write_off(db, claim_id=a.id, side="patient", actor="test", as_of=RUN, reason="again")
    assert write_off_small_balances(db, max_amount=D("5.00"), side="patient", actor="test", as_of=RUN) == {
        "claims": 0,
        "amount": "0.00",
    }
    assert write_off_small_balances(db, max_amount=D("50.00"), side="patient", actor="test", as_of=RUN) == {
        "claims": 1,
        "amount": "40.00",
    }
    s = reconcile(db, RUN)
    assert (
        s["balance_exceptions"] == 0 and s["write_offs"] == "44.00" and s["patient_balance_total"] == "0.00"
    )
    with db.connect() as conn:
        statuses = conn.execute(select(m.Claim.status).order_by(m.Claim.id)).scalars().all()
        audits = conn.execute(
            select(func.count()).select_from(m.AuditLog).where(m.AuditLog.action == "write_off")
        ).scalar_one()
    assert statuses == ["closed", "closed"] and audits == 2


def test_seeded_practice_end_to_end(db: Engine, tmp_path: Path) -> None:
    seed_practice(db, patients=40, claims=150, seed=3, as_of=RUN)
    made = submit_and_pay_seeded(db, payment_date=RUN - dt.timedelta(days=2))
    posted = post_remittances(db, actor="test", as_of=RUN)
    assert posted["claim_payments_posted"] == made["remitted"] and posted["unmatched_new"] == 0
    s = reconcile(db, RUN)
    assert s["balance_exceptions"] == 0, s["balance_exceptions_by_kind"]
    with db.connect() as conn:
        submitted = conn.execute(
            select(func.count())
            .select_from(m.Submission)
            .where(m.Submission.created_at < dt.datetime.combine(RUN + dt.timedelta(days=1), dt.time()))
        ).scalar_one()
    assert s["claims"] == submitted and made["claims"] - submitted <= 5  # a few flawed, future-dated claims
    assert Decimal(s["ar_total"]) == Decimal(s["insurance_balance_total"]) + Decimal(
        s["patient_balance_total"]
    )
    with db.connect() as conn:
        ledger_ar = conn.execute(
            select(func.sum(m.LedgerEntry.amount)).where(
                m.LedgerEntry.account.in_(["ar_payer", "ar_patient"]), m.LedgerEntry.effective_date <= RUN
            )
        ).scalar_one()
        assert ledger_ar == Decimal(s["ar_total"])
        aged = conn.execute(
            select(func.sum(m.AgingBucket.amount)).where(
                m.AgingBucket.run_date == RUN, m.AgingBucket.dimension == "payer"
            )
        ).scalar_one()
    assert aged == Decimal(s["insurance_balance_total"])


def test_proof_left_to_its_own_step_is_pending_until_it_runs(db: Engine, tmp_path: Path) -> None:
    """The nightly DAG reconciles with ``prove=False`` and proves in the next task: in between the summary,
    the data-quality check and the run report say the balances are not proven; after it, the stored
    summary carries the same proof as a reconciliation that proved in place."""
    from adjudication.report import render_run_report

    pr = Practice(db)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))])
    bad = standard_pay(c)
    bad.lines[0].adjustments[0] = ("CO", "45", D("29.00"))  # CLP03 − CLP04 ≠ Σ CAS by 1.00
    pr.remittance([bad])
    post_remittances(db, actor="test", as_of=RUN)
    proved_in_place = reconcile(db, RUN)
    assert proved_in_place["balance_proof"] == "done" and proved_in_place["balance_exceptions"] == 2

    pending = reconcile(db, RUN, prove=False)
    assert pending["balance_proof"] == "pending"
    assert pending["balance_exceptions"] is None and pending["balance_exceptions_by_kind"] is None
    assert any("balance proof has not run" in p for p in data_quality_checks(db, RUN))
    html = render_run_report(db, RUN, tmp_path / "run.html").read_text(encoding="utf-8")
    assert "not proven" in html

    proof = balance_proof(db, RUN)
    assert proof["unexplained"] == 2
    with db.connect() as conn:
        stored = conn.execute(
            select(m.ReconciliationRun.summary).where(m.ReconciliationRun.run_date == RUN)
        ).scalar_one()
    assert stored == {**proved_in_place, "run_date": RUN.isoformat()}
    assert not any("balance proof has not run" in p for p in data_quality_checks(db, RUN))
    html = render_run_report(db, RUN, tmp_path / "run.html").read_text(encoding="utf-8")
    assert "not proven" not in html and "2 unexplained exception(s)" in html
