"""Nightly reconciliation: the as-of snapshot analysts query, KPIs, and the balance proof.

:func:`reconcile` recomputes the whole snapshot for one ``run_date`` in one transaction — it deletes
that date's rows from claim_balances, patient_balances, aging_buckets, kpis and the reconciliation
balance_exceptions, and re-inserts them with set-based ``INSERT … SELECT … GROUP BY`` — so running it
again for the same date changes nothing. A ``reconciliation_runs`` row records the run and its summary.

**As of the run date** means: claims first submitted on or before it (their charge is in A/R),
claim payments posted with an effective date (BPR16, else DTM*405, else the posting date) on or before
it, patient payments received on or before it, ledger entries effective on or before it. ``status`` in
claim_balances is the claim's status when the run executed.

claim_balances come from the **source documents** (claims, 835 claim payments and CAS rows, PLB rows
posted against the claim) plus what only the ledger knows (how patient payments were applied,
write-offs) and the refunds table (overpayments refunded to the payer, ``rfi:``, netted into payer_paid)::

    insurance_balance = charge − payer_paid − contractual − other_adjustments − patient_responsibility
                        + provider_adjustments − insurance_write_off
    patient_balance   = patient_responsibility − patient_paid − patient_write_off

and the balance proof checks them against the ledger (Σ ar_payer, Σ ar_patient per claim).

**Aging** (aging_buckets): buckets 0-30, 31-60, 61-90, 91-120, 120+ days, age = run date − first date
of service (``claims.service_date_from``; future dates count as 0-30). Dimension ``payer`` (key = payer
code, e.g. SBX01) ages each claim's *insurance* balance; dimension ``patient`` (key = patient_key)
ages each claim's *patient* balance. Non-zero balances only (credits included, so bucket totals tie to
A/R); patient credits not applied to any claim (``patient_credit``, refunds due) are not aged.

**Patient balances** (patient_balances): patient_balance = patient_responsibility − patient_paid (every
payment received, less the money given back: online refunds ``orf:`` and refunds issued ``rfi:``) +
refunds_due (credits we decided to refund, ``rfd:``, not paid out yet) − write_offs; ``unapplied_credit``
is the part of the payments still waiting for patient responsibility to apply to. Every term is taken as of the
run date by the same date its ledger rows carry, so reconciling a past date after later postings compares
the same entries on both sides.

**KPIs** (kpis, each with its definition text): clean claim rate, first-pass acceptance rate, initial
denial rate overall and per CARC category, days in A/R (total A/R ÷ average daily gross charges of the
last 90 days), net collection rate (payments ÷ (charges − contractual adjustments), last 90 days), aged
A/R over 90 days; patient collection rate, dunning recovery per stage and plan delinquency rate
(``adjudication.patient_kpis``).

**Balance proof** (balance_exceptions, ``source = 'reconciliation'``, ``run_date``; expected/found):

* remittance: BPR02 (negated when BPR03 = D) = ΣCLP04 − ΣPLB;
* claim: CLP03 − CLP04 = Σ CAS (claim and line level);
* line: SVC02 − SVC03 = Σ line CAS;
* ledger: every txn_key sums to zero; per claim Σ ar_payer = insurance_balance and Σ ar_patient =
  patient_balance; every id a ledger row carries exists (the ledger has no foreign keys);
* patient: patient_responsibility − patient_paid + refunds_due − write_offs = Σ ar_patient + Σ
  patient_credit (ledger; a negative patient balance is a credit the patient has with us), both
  directions (a patient with ledger rows but no patient_balances row counts with expected 0).

An exception someone explained (``explained``/``explanation``) stays explained on later runs while
the same difference (same level, kind, objects, expected and found) persists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from claimflow.db import models as m
from claimflow.db.audit import audit
from claimflow.db.patient_keys import refresh_patient_keys
from eob import cas

from . import ledger as L
from ._sql import Sql, bind
from .carc import DENIAL_CATEGORIES, DENIAL_DEFINITION
from .denials import DenialCount, denials
from .ledger import Account, EntryType
from .lifecycle import sql_in
from .patient_kpis import kpi_rows, patient_collections
from .posting import POSTABLE, outcome_sql

#: CLP02 processed and forwarded to the next payer (crossover, NM1*TT): never "secondary due".
CROSSOVER = ("19", "20")

WINDOW_DAYS = 90
BUCKETS = ("0-30", "31-60", "61-90", "91-120", "120+")
SNAPSHOT_TABLES = (m.ClaimBalance, m.PatientBalance, m.AgingBucket, m.Kpi)

_BUCKET_SQL = (
    "CASE WHEN {a} <= 30 THEN '0-30' WHEN {a} <= 60 THEN '31-60' WHEN {a} <= 90 THEN '61-90' "
    "WHEN {a} <= 120 THEN '91-120' ELSE '120+' END"
)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _cp_effective(q: Sql) -> str:
    """A claim payment's effective date (needs aliases cp and r), as posting used it."""
    return (
        "COALESCE(r.payment_date, r.production_date, "
        "(SELECT MIN(le.effective_date) FROM ledger_entries le WHERE le.claim_payment_id = cp.id))"
    )


# --------------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------------


def reconcile(
    engine: Engine, run_date: dt.date, *, actor: str = "claimflow:reconcile", prove: bool = True
) -> dict[str, Any]:
    """Recompute the as-of snapshot for ``run_date`` (see the module docstring). Returns the summary
    (JSON-able; money as strings with two decimals) that is also stored in ``reconciliation_runs``.

    ``prove=False`` leaves the balance proof to a :func:`balance_proof` call that follows (the nightly DAG
    runs it as its own task: proving twice a night cost ~30 s at 1,000,000 claims); until it has run, the
    summary says ``"balance_proof": "pending"`` and its exception counts are ``None``, the run report
    says the balances are not proven and :func:`data_quality_checks` reports it as a problem."""
    started = _utcnow()
    try:
        with engine.begin() as conn:
            q = Sql(conn).for_batch()
            if q.pg:
                q.run("SELECT pg_advisory_xact_lock(hashtext('claimflow.reconcile'))")
            refresh_patient_keys(conn)
            for table in SNAPSHOT_TABLES:
                conn.execute(delete(table).where(table.run_date == run_date))
            q.analyze_if_stale(
                "ledger_entries",
                "claim_payments",
                "adjustments",
                "service_line_payments",
                "patient_payments",
                "provider_adjustments",
                "claims",
                "submissions",
            )
            _claim_balances(q, run_date)
            _analyze(q, "claim_balances")
            _patient_balances(q, run_date)
            _analyze(q, "patient_balances")
            _aging(q, run_date)
            kpis = _kpis(q, run_date)
            proof = _balance_proof(q, run_date) if prove else None
            summary = _summary(q, run_date, kpis, proof)
            _record_run(conn, run_date, "done", started, summary)
            audit(
                conn,
                actor=actor,
                action="reconcile",
                object_type="reconciliation_run",
                object_id=run_date.isoformat(),
                detail={"claims": summary["claims"], "balance_exceptions": summary["balance_exceptions"]},
            )
    except Exception:
        try:
            with engine.begin() as conn:
                _record_run(conn, run_date, "failed", started, None)
        except Exception:  # the database itself is the problem: the original error is what matters
            pass
        raise
    return summary


def _analyze(q: Sql, *tables: str) -> None:
    """PostgreSQL: refresh planner statistics of tables just filled in bulk (autovacuum may not have
    looked yet, and a plan made for an empty table is quadratic at 100,000 claims)."""
    if q.pg:
        for table in tables:
            q.run(f"ANALYZE {table}")


def balance_proof(engine: Engine, run_date: dt.date) -> dict[str, Any]:
    """Recompute only the balance proof for ``run_date`` (needs that date's claim and patient balances,
    i.e. a :func:`reconcile` first). Idempotent. Returns counts by kind and the unexplained total, and
    writes them into that date's ``reconciliation_runs`` summary (so the summary, the run report and the
    data-quality check follow the latest proof, explanations given since included)."""
    with engine.begin() as conn:
        proof = _balance_proof(Sql(conn).for_batch(), run_date)
        row = conn.execute(
            select(m.ReconciliationRun.summary).where(
                m.ReconciliationRun.run_date == run_date, m.ReconciliationRun.status == "done"
            )
        ).first()
        if row is not None and row[0]:
            conn.execute(
                update(m.ReconciliationRun)
                .where(m.ReconciliationRun.run_date == run_date)
                .values(summary={**row[0], **_proof_fields(proof)})
            )
        return proof


def data_quality_checks(
    engine: Engine, run_date: dt.date, *, unmatched_days: int = 14, ack_days: int = 7
) -> list[str]:
    """Problems that should stop the nightly run from being called good (empty list = all fine).
    Messages carry counts and ids only, never PHI.

    Besides unexplained exceptions and work left undone, the money itself: a claim with a negative
    insurance balance (in ``run_date``'s snapshot), a claim whose not reversed payments exceed its
    charge, and cash without a unique trace (two remittances with the same payer + TRN02, or cash posted
    from a remittance without TRN02)."""
    problems: list[str] = []
    with engine.connect() as conn:
        q = Sql(conn).for_batch()
        run = conn.execute(
            select(m.ReconciliationRun.status, m.ReconciliationRun.summary).where(
                m.ReconciliationRun.run_date == run_date
            )
        ).first()
        if run is None or run[0] != "done":
            problems.append(f"no completed reconciliation for {run_date.isoformat()}")
        elif (run[1] or {}).get("balance_proof") == "pending":
            problems.append(
                f"the balance proof has not run since the reconciliation of {run_date.isoformat()}"
            )
        rows = q.run(
            """SELECT level, kind, COUNT(*) FROM balance_exceptions
               WHERE source = 'reconciliation' AND run_date = :d AND explained = false
               GROUP BY level, kind ORDER BY level, kind""",
            {"d": run_date},
        ).all()
        if rows:
            total = sum(int(r[2]) for r in rows)
            parts = ", ".join(f"{r[0]}/{r[1]}: {r[2]}" for r in rows)
            problems.append(
                f"{total} unexplained balance exception(s) in the reconciliation of "
                f"{run_date.isoformat()} ({parts})"
            )
        n835 = int(
            q.scalar("SELECT COUNT(*) FROM balance_exceptions WHERE source = '835' AND explained = false")
            or 0
        )
        if n835:
            problems.append(f"{n835} unexplained balance exception(s) found while loading 835 files")
        cutoff = dt.datetime.combine(run_date - dt.timedelta(days=unmatched_days), dt.time.min)
        old = (
            q.run(
                "SELECT u.claim_payment_id FROM unmatched_payments u WHERE u.resolved = false AND u.created_at < :c "
                "ORDER BY u.claim_payment_id",
                {"c": cutoff},
            )
            .scalars()
            .all()
        )
        if old:
            ids = ", ".join(str(i) for i in old[:10])
            problems.append(
                f"{len(old)} unmatched claim payment(s) open for more than {unmatched_days} days "
                f"(claim_payment ids {ids}{', …' if len(old) > 10 else ''})"
            )
        ack_cutoff = dt.datetime.combine(run_date - dt.timedelta(days=ack_days), dt.time.min)
        waiting = int(
            q.scalar(
                "SELECT COUNT(*) FROM submissions WHERE status = 'submitted' AND created_at < :c",
                {"c": ack_cutoff},
            )
            or 0
        )
        if waiting:
            problems.append(
                f"{waiting} submission(s) without a 999 rejection or 277CA acknowledgment after "
                f"{ack_days} days"
            )
        stuck = int(
            q.scalar(
                "SELECT COUNT(*) FROM claim_payments cp WHERE cp.claim_id IS NOT NULL AND cp.posted_at IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM unmatched_payments u WHERE u.claim_payment_id = cp.id)"
            )
            or 0
        )
        if stuck:
            problems.append(f"{stuck} matched claim payment(s) not posted (run post_remittances)")
        pp = int(q.scalar("SELECT COUNT(*) FROM patient_payments WHERE posted_at IS NULL") or 0)
        if pp:
            problems.append(f"{pp} patient payment(s) imported but not posted")
        problems.extend(_money_problems(q, run_date))
    return problems


def _ids(kind: str, ids: Sequence[Any]) -> str:
    """``(claim ids 1, 2, …)``: at most ten ids, never values."""
    shown = ", ".join(str(i) for i in ids[:10])
    return f"({kind} ids {shown}{', …' if len(ids) > 10 else ''})"


def _money_problems(q: Sql, run_date: dt.date) -> list[str]:
    """What posting cannot prevent, found in the books: money that should not be there. Counts and ids."""
    problems: list[str] = []
    negative = (
        q.run(
            "SELECT claim_id FROM claim_balances WHERE run_date = :d AND insurance_balance < 0 ORDER BY claim_id",
            {"d": run_date},
        )
        .scalars()
        .all()
    )
    if negative:
        problems.append(
            f"{len(negative)} claim(s) with a negative insurance balance on {run_date.isoformat()} "
            f"{_ids('claim', negative)}"
        )
    over = (
        q.run(
            f"""SELECT c.id FROM claims c
            JOIN (SELECT cp.claim_id AS claim_id, SUM(cp.paid) AS paid FROM claim_payments cp
                  WHERE cp.claim_id IS NOT NULL AND cp.posted_at IS NOT NULL AND cp.status_code IN {sql_in(POSTABLE)}
                    AND NOT EXISTS (SELECT 1 FROM claim_payments x
                                    WHERE x.reversal_of_id = cp.id AND x.posted_at IS NOT NULL)
                  GROUP BY cp.claim_id) p ON p.claim_id = c.id
            WHERE p.paid > c.total_charge ORDER BY c.id"""
        )
        .scalars()
        .all()
    )
    if over:
        problems.append(
            f"{len(over)} claim(s) paid more than their charge by their not reversed payments "
            f"{_ids('claim', over)}"
        )
    twice = (
        q.run(
            """SELECT r.id FROM remittances r
           JOIN (SELECT COALESCE(trace_payer, payer_identifier, '') AS payer, trace_number FROM remittances
                 WHERE trace_number IS NOT NULL AND trace_number <> ''
                 GROUP BY COALESCE(trace_payer, payer_identifier, ''), trace_number HAVING COUNT(*) > 1) t
             ON t.payer = COALESCE(r.trace_payer, r.payer_identifier, '') AND t.trace_number = r.trace_number
           ORDER BY r.id"""
        )
        .scalars()
        .all()
    )
    if twice:
        problems.append(
            f"{len(twice)} remittance(s) share a payer + trace number (TRN02) with another: the same "
            f"payment stored twice {_ids('remittance', twice)}"
        )
    untraced = (
        q.run(
            f"""SELECT r.id FROM remittances r
            WHERE (r.trace_number IS NULL OR trim(r.trace_number) = '')
              AND (EXISTS (SELECT 1 FROM claim_payments cp JOIN ledger_entries e ON e.claim_payment_id = cp.id
                           WHERE cp.remittance_id = r.id AND e.account = {bind(Account.CASH)} AND e.amount <> 0)
                   OR EXISTS (SELECT 1 FROM provider_adjustments pa
                              JOIN ledger_entries e ON e.txn_key = {q.key("plb:", "pa.id")}
                              WHERE pa.remittance_id = r.id AND e.account = {bind(Account.CASH)} AND e.amount <> 0))
            ORDER BY r.id"""
        )
        .scalars()
        .all()
    )
    if untraced:
        problems.append(
            f"{len(untraced)} remittance(s) without a trace number (TRN02) posted cash "
            f"{_ids('remittance', untraced)}"
        )
    return problems


# --------------------------------------------------------------------------------------------------
# snapshot
# --------------------------------------------------------------------------------------------------


def _claim_balances(q: Sql, run_date: dt.date) -> None:
    cols = (
        "run_date, claim_id, patient_id, payer_id, status, charge, payer_paid, contractual, "
        "other_adjustments, patient_responsibility, patient_paid, provider_adjustments, insurance_write_off, "
        "patient_write_off, insurance_balance, patient_balance, service_date, age_days, secondary_due"
    )
    z = "COALESCE({}, 0)"
    # payer_paid is net of overpayments we gave back to the payer: refunds (payee payer) issued by the run
    # date, from the refunds table (ledger ``rfi:``: ar_payer +x, so a missing or extra row is an exception).
    paid = "(" + z.format("pay.paid") + " - " + z.format("prf.amount") + ")"
    co, oa, pr = z.format("adj.co"), z.format("adj.oa"), z.format("adj.pr")
    plb, ppaid = z.format("plb.amount"), z.format("led.patient_paid")
    ins_wo, pat_wo = z.format("led.ins_wo"), z.format("led.pat_wo")
    # Coordination of benefits (adjudication.ledger): a secondary/tertiary claim's charge is what was
    # moved to it by cob: (its own CLM02 repeats the primary's), and the patient responsibility of the
    # claim it follows is what is left after that transfer.
    charge = (
        f"CASE WHEN NOT {L.FOLLOWS_BILLED_CLAIM_SQL.format(c='c')} THEN c.total_charge "
        f"ELSE {z.format('led.cob_in')} END"
    )
    cob_out = z.format("led.cob_out")
    prior23 = L.PRIOR_PAYER_CAS_SQL.format(a="a", c="ac")
    co_post, oa_post = L.cob_adjusted_sql("co", "oa", "co23", "oa23", "prior")
    q.run(
        f"""INSERT INTO claim_balances ({cols})
        WITH charged AS (
            SELECT claim_id, MIN(created_at) AS first_at FROM submissions GROUP BY claim_id
        ), cpe AS (
            SELECT cp.id AS id, cp.claim_id AS claim_id, cp.paid AS paid, cp.charge AS charge
            FROM claim_payments cp JOIN remittances r ON r.id = cp.remittance_id
            WHERE cp.claim_id IS NOT NULL AND cp.posted_at IS NOT NULL AND {_cp_effective(q)} <= :d
        ), pay AS (
            SELECT claim_id, SUM(paid) AS paid FROM cpe GROUP BY claim_id
        ), adjcp AS (
            SELECT cpe.claim_id AS claim_id,
                   {cas.sum_sql(cas.CONTRACTUAL)} AS co,
                   {cas.sum_sql(cas.PATIENT_RESPONSIBILITY)} AS pr,
                   {cas.sum_sql(cas.OTHER)} AS oa,
                   {cas.sum_sql(cas.CONTRACTUAL, also=prior23)} AS co23,
                   {cas.sum_sql(cas.OTHER, also=prior23)} AS oa23,
                   MAX(CASE WHEN NOT {L.FOLLOWS_BILLED_CLAIM_SQL.format(c="ac")} THEN 0 ELSE cpe.charge - COALESCE(
                       (SELECT SUM(e.amount) FROM ledger_entries e WHERE e.claim_id = ac.id
                          AND e.entry_type = {bind(EntryType.COB_TRANSFER)} AND e.account = {bind(Account.AR_PAYER)}), 0) END) AS prior
            FROM cpe JOIN adjustments a ON a.claim_payment_id = cpe.id JOIN claims ac ON ac.id = cpe.claim_id
            GROUP BY cpe.id, cpe.claim_id
        ), adj AS (
            SELECT claim_id, SUM({co_post}) AS co, SUM(pr) AS pr, SUM({oa_post}) AS oa
            FROM adjcp GROUP BY claim_id
        ), plb AS (
            SELECT pa.claim_id AS claim_id, SUM(pa.amount) AS amount
            FROM provider_adjustments pa JOIN remittances r ON r.id = pa.remittance_id
            WHERE pa.claim_id IS NOT NULL AND pa.reason_code <> 'L6'
              AND COALESCE(r.payment_date, r.production_date, :d) <= :d
              AND pa.id IN (SELECT e.provider_adjustment_id FROM ledger_entries e
                            WHERE e.txn_key >= 'plb:' AND e.txn_key < 'plb;'
                              AND e.account = {bind(Account.AR_PAYER)} AND e.effective_date <= :d)
            GROUP BY pa.claim_id
        ), cov2 AS (
            SELECT patient_id, MAX(COALESCE(effective_to, :far)) AS until FROM coverages
            WHERE priority = 2 GROUP BY patient_id
        ), sec AS (
            SELECT DISTINCT primary_claim_id FROM claims WHERE primary_claim_id IS NOT NULL
            UNION
            SELECT x.claim_id FROM claim_payments x
            WHERE x.claim_id IS NOT NULL AND x.posted_at IS NOT NULL AND x.status_code IN {sql_in(CROSSOVER)}
              AND NOT EXISTS (SELECT 1 FROM claim_payments r
                              WHERE r.reversal_of_id = x.id AND r.posted_at IS NOT NULL)
        ), led AS (
            SELECT claim_id,
                   SUM(CASE WHEN entry_type NOT IN ({bind(EntryType.WRITE_OFF)}, {bind(EntryType.COB_TRANSFER)})
                             AND account = {bind(Account.AR_PATIENT)} THEN -amount ELSE 0 END) AS patient_paid,
                   SUM(CASE WHEN entry_type = {bind(EntryType.WRITE_OFF)} AND account = {bind(Account.AR_PAYER)}
                            THEN -amount ELSE 0 END) AS ins_wo,
                   SUM(CASE WHEN entry_type = {bind(EntryType.WRITE_OFF)} AND account = {bind(Account.AR_PATIENT)}
                            THEN -amount ELSE 0 END) AS pat_wo,
                   SUM(CASE WHEN entry_type = {bind(EntryType.COB_TRANSFER)} AND account = {bind(Account.AR_PAYER)}
                            THEN amount ELSE 0 END) AS cob_in,
                   SUM(CASE WHEN entry_type = {bind(EntryType.COB_TRANSFER)} AND account = {bind(Account.AR_PATIENT)}
                            THEN -amount ELSE 0 END) AS cob_out
            FROM ledger_entries
            WHERE claim_id IS NOT NULL AND effective_date <= :d
              AND entry_type IN ({bind(EntryType.PATIENT_PAYMENT)}, {bind(EntryType.CREDIT_APPLIED)}, {bind(EntryType.CREDIT_SWEEP)},
                                 {bind(EntryType.WRITE_OFF)}, {bind(EntryType.COB_TRANSFER)})
            GROUP BY claim_id
        ), prf AS (
            SELECT claim_id, SUM(amount) AS amount FROM refunds
            WHERE payee = 'payer' AND status = 'issued' AND issued_on <= :d AND claim_id IS NOT NULL
            GROUP BY claim_id
        )
        SELECT :d, c.id, c.patient_id, c.payer_id, c.status, {charge}, {paid}, {co}, {oa}, {pr} - {cob_out}, {ppaid},
               {plb}, {ins_wo}, {pat_wo},
               {charge} - {paid} - {co} - {oa} - {pr} + {plb} - {ins_wo},
               {pr} - {cob_out} - {ppaid} - {pat_wo},
               c.service_date_from, {q.days_between(":d", "c.service_date_from")},
               CASE WHEN c.responsibility = 'P' AND {pr} > 0 AND cov2.patient_id IS NOT NULL
                     AND cov2.until >= c.service_date_from AND sec.primary_claim_id IS NULL
                    THEN true ELSE false END
        FROM claims c
        JOIN charged ch ON ch.claim_id = c.id
        LEFT JOIN cov2 ON cov2.patient_id = c.patient_id
        LEFT JOIN sec ON sec.primary_claim_id = c.id
        LEFT JOIN pay ON pay.claim_id = c.id
        LEFT JOIN adj ON adj.claim_id = c.id
        LEFT JOIN plb ON plb.claim_id = c.id
        LEFT JOIN led ON led.claim_id = c.id
        LEFT JOIN prf ON prf.claim_id = c.id
        WHERE {q.date_of("ch.first_at")} <= :d""",
        {"d": run_date, "far": dt.date(9999, 12, 31)},
    )


def _patient_balances(q: Sql, run_date: dt.date) -> None:
    """One row per patient with a claim in the snapshot or a payment received by ``run_date``.

    Every term is dated the way its ledger rows are, so the patient proof compares like with like:
    responsibility and write-offs come from ``claim_balances`` (835 effective dates, ``wo:`` dates),
    payments by ``received_on`` (= the ``ppay:`` effective date), refunds due by their ledger dates
    (``rfd:`` in, ``rfi:`` out) — nothing dated after the run date on either side.

    ``patient_paid`` is net of the money given back, taken from its source documents: online payments
    the processor refunded (``payment_events`` outcome refunded; ledger ``orf:`` ar_patient +x, dated
    like that row, or by the event's arrival if it is missing) and refunds issued to the patient
    (``refunds`` payee patient, ``issued_on``; ledger ``rfi:`` takes them out of refunds_due). So
    ``refunds_due`` is what we still have to pay back, and a missing or extra ``orf:``/``rfi:`` row is
    a balance exception."""
    z = "COALESCE({}, 0)"
    pr, refunds, wo = z.format("cb.pr"), z.format("rf.refunds"), z.format("cb.wo")
    paid = f"({z.format('pp.amount')} - {z.format('back.amount')})"
    cents = "pe.amount_cents" if q.sqlite else "CAST(pe.amount_cents AS NUMERIC(14, 2)) / 100"
    orf_date = (
        f"COALESCE((SELECT MIN(e.effective_date) FROM ledger_entries e WHERE e.txn_key = {q.key('orf:', 'pe.id')}"
        f" AND e.entry_type = {bind(EntryType.ONLINE_REFUND)}), {q.date_of('pe.created_at')})"
    )
    q.run(
        f"""INSERT INTO patient_balances (run_date, patient_id, charges, payer_paid, adjustments,
                patient_responsibility, patient_paid, insurance_balance, patient_balance, refunds_due,
                write_offs, claims, unapplied_credit)
        WITH cb AS (
            SELECT patient_id, COUNT(*) AS n, SUM(charge) AS charges, SUM(payer_paid) AS paid,
                   SUM(contractual + other_adjustments) AS adj, SUM(patient_responsibility) AS pr,
                   SUM(insurance_balance) AS ins, SUM(patient_write_off) AS wo
            FROM claim_balances WHERE run_date = :d GROUP BY patient_id
        ), pp AS (
            SELECT patient_id, SUM(amount) AS amount FROM patient_payments
            WHERE received_on <= :d AND posted_at IS NOT NULL GROUP BY patient_id
        ), rf AS (
            SELECT patient_id,
                   -SUM(CASE WHEN account = {bind(Account.REFUNDS_DUE)} THEN amount ELSE 0 END) AS refunds,
                   -SUM(CASE WHEN account = {bind(Account.PATIENT_CREDIT)} THEN amount ELSE 0 END) AS credit
            FROM ledger_entries
            WHERE account IN ({bind(Account.REFUNDS_DUE)}, {bind(Account.PATIENT_CREDIT)}) AND effective_date <= :d
              AND patient_id IS NOT NULL
            GROUP BY patient_id
        ), back AS (
            SELECT patient_id, SUM(amount) AS amount FROM (
                SELECT pe.patient_id AS patient_id, {cents} AS amount FROM payment_events pe
                WHERE pe.outcome = 'refunded' AND pe.patient_id IS NOT NULL AND pe.amount_cents > 0
                  AND {orf_date} <= :d
                UNION ALL
                SELECT patient_id, amount FROM refunds
                WHERE payee = 'patient' AND status = 'issued' AND issued_on <= :d AND patient_id IS NOT NULL
            ) x GROUP BY patient_id
        ), pts AS (
            SELECT patient_id FROM cb UNION SELECT patient_id FROM pp
        )
        SELECT :d, pts.patient_id, {z.format("cb.charges")}, {z.format("cb.paid")}, {z.format("cb.adj")}, {pr},
               {paid}, {z.format("cb.ins")}, {pr} - {paid} + {refunds} - {wo}, {refunds}, {wo}, {z.format("cb.n")},
               {z.format("rf.credit")}
        FROM pts
        LEFT JOIN cb ON cb.patient_id = pts.patient_id
        LEFT JOIN pp ON pp.patient_id = pts.patient_id
        LEFT JOIN rf ON rf.patient_id = pts.patient_id
        LEFT JOIN back ON back.patient_id = pts.patient_id""",
        {"d": run_date},
    )


def _aging(q: Sql, run_date: dt.date) -> None:
    bucket = _BUCKET_SQL.format(a="b.age_days")
    q.run(
        f"""INSERT INTO aging_buckets (run_date, dimension, "key", bucket, amount, claims)
        SELECT :d, 'payer', py.payer_id, {bucket}, SUM(b.insurance_balance), COUNT(*)
        FROM claim_balances b JOIN payers py ON py.id = b.payer_id
        WHERE b.run_date = :d AND b.insurance_balance <> 0
        GROUP BY py.payer_id, {bucket}
        UNION ALL
        SELECT :d, 'patient', pk.patient_key, {bucket}, SUM(b.patient_balance), COUNT(*)
        FROM claim_balances b JOIN patient_keys pk ON pk.patient_id = b.patient_id
        WHERE b.run_date = :d AND b.patient_balance <> 0
        GROUP BY pk.patient_key, {bucket}""",
        {"d": run_date},
    )


# --------------------------------------------------------------------------------------------------
# KPIs
# --------------------------------------------------------------------------------------------------


def _ratio(num: Decimal, den: Decimal, scale: int = 6) -> Decimal | None:
    if den == 0:
        return None
    return (num / den).quantize(Decimal(1).scaleb(-scale))


def _kpis(q: Sql, run_date: dt.date) -> dict[str, Decimal | None]:
    start = run_date - dt.timedelta(days=WINDOW_DAYS - 1)
    w = {"s": start, "d": run_date}
    window = f"{start.isoformat()} to {run_date.isoformat()} ({WINDOW_DAYS} days)"
    rows: list[dict[str, Any]] = []

    def kpi(name: str, num: Decimal, den: Decimal, definition: str, value: Decimal | None = None) -> None:
        rows.append(
            {
                "run_date": run_date,
                "name": name,
                "numerator": num,
                "denominator": den,
                "value": _ratio(num, den) if value is None and den else value,
                "definition": definition,
            }
        )

    # Clean claim rate.
    first_sub = q.date_of("f.sub_at")
    first_scrub = q.date_of("f.scrub_at")
    r = q.run(
        f"""SELECT COUNT(*), SUM(CASE WHEN f.scrub_at IS NULL THEN 1 ELSE 0 END) FROM (
                SELECT c.id, s.sub_at, x.scrub_at FROM claims c
                LEFT JOIN (SELECT claim_id, MIN(created_at) AS sub_at FROM submissions GROUP BY claim_id) s
                       ON s.claim_id = c.id
                LEFT JOIN (SELECT claim_id, MIN(created_at) AS scrub_at FROM scrub_results GROUP BY claim_id) x
                       ON x.claim_id = c.id
                WHERE s.sub_at IS NOT NULL OR x.scrub_at IS NOT NULL) f
            WHERE CASE WHEN f.scrub_at IS NOT NULL AND (f.sub_at IS NULL OR f.scrub_at < f.sub_at)
                       THEN {first_scrub} ELSE {first_sub} END BETWEEN :s AND :d""",
        w,
    ).one()
    kpi(
        "clean_claim_rate",
        Decimal(r[1] or 0),
        Decimal(r[0] or 0),
        "HFMA MAP Key 'clean claim rate': claims that passed all edits (claimflow's scrubber and 5010 "
        "validation) without manual intervention ÷ claims that entered billing (first scrub result or first "
        f"submission) in the window {window}. A claim with any scrub_results row is not clean.",
    )

    # First-pass acceptance rate.
    r = q.run(
        f"""SELECT SUM(CASE WHEN s.status IN ('accepted', 'rejected') THEN 1 ELSE 0 END),
                   SUM(CASE WHEN s.status = 'accepted' THEN 1 ELSE 0 END)
            FROM submissions s
            JOIN (SELECT claim_id, MIN(attempt) AS attempt FROM submissions GROUP BY claim_id) f
              ON f.claim_id = s.claim_id AND f.attempt = s.attempt
            WHERE {q.date_of("s.created_at")} BETWEEN :s AND :d""",
        w,
    ).one()
    kpi(
        "first_pass_acceptance_rate",
        Decimal(r[1] or 0),
        Decimal(r[0] or 0),
        "Claims whose first submission was accepted by the payer front end (277CA A1/A2/A5) ÷ claims whose "
        "first submission was acknowledged (accepted, or rejected by 999/TA1/277CA), first submitted in the "
        f"window {window}.",
    )

    # Initial denial rate, overall and by CARC category.
    eff = _cp_effective(q)
    q.temp_table(
        "cf_kpi_first",
        f"""SELECT cp.id AS cp_id, {outcome_sql("cp")} AS outcome
            FROM claim_payments cp
            JOIN (SELECT claim_id, MIN(id) AS id FROM claim_payments
                  WHERE claim_id IS NOT NULL AND posted_at IS NOT NULL AND status_code IN {sql_in(POSTABLE)}
                  GROUP BY claim_id) f ON f.id = cp.id
            JOIN remittances r ON r.id = cp.remittance_id
            WHERE {eff} BETWEEN :s AND :d""",
        w,
    )
    total = Decimal(q.scalar("SELECT COUNT(*) FROM cf_kpi_first") or 0)
    denied = Decimal(q.scalar("SELECT COUNT(*) FROM cf_kpi_first WHERE outcome = 'denied'") or 0)
    kpi(
        "denial_rate",
        denied,
        total,
        "HFMA MAP Key 'initial denial rate': claims whose first adjudication (first posted 835 claim payment, "
        "CLP02 1/2/3/4/19/20/21) was a denial (CLP02=4, or nothing paid with a denial CARC on a non-PR "
        f"adjustment) ÷ claims first adjudicated, by 835 effective date in the window {window}.",
    )
    # Per category: the one denial definition (adjudication.carc.DENIAL_DEFINITION), applied by
    # adjudication.denials to each claim's first adjudication - the run report shows the same counts.
    initial = denials(q, start, run_date, first_only=True)
    for cat in DENIAL_CATEGORIES:
        kpi(
            f"denial_rate_{cat}",
            Decimal(initial.by_category.get(cat, DenialCount()).claims),
            total,
            f"Initial denial rate for CARC category '{cat}' (adjudication.carc): claims whose first adjudication "
            f"(first posted 835 claim payment) carries a denial in this category ÷ claims first adjudicated in "
            f"the window {window}. A claim may count in several categories. ({DENIAL_DEFINITION})",
        )
    q.drop("cf_kpi_first")

    # Days in A/R, net collection rate, aged A/R.
    ar_total, ar_90 = (
        q.money(v)
        for v in q.run(
            """SELECT SUM(insurance_balance + patient_balance),
                  SUM(CASE WHEN age_days > 90 THEN insurance_balance + patient_balance ELSE 0 END)
           FROM claim_balances WHERE run_date = :d""",
            w,
        ).one()
    )
    charges, contractual, payments = (
        q.money(v)
        for v in q.run(
            f"""SELECT SUM(CASE WHEN entry_type = {bind(EntryType.CHARGE)} AND account = {bind(Account.AR_PAYER)} THEN amount ELSE 0 END),
                   SUM(CASE WHEN account = {bind(Account.CONTRACTUAL)} THEN amount ELSE 0 END),
                   SUM(CASE WHEN account = {bind(Account.CASH)} AND entry_type IN ({bind(EntryType.PAYER_PAYMENT)},
                            {bind(EntryType.PATIENT_PAYMENT)}, {bind(EntryType.REVERSAL)}) THEN amount ELSE 0 END)
            FROM ledger_entries WHERE effective_date BETWEEN :s AND :d""",
            w,
        ).one()
    )
    daily = (charges / WINDOW_DAYS).quantize(Decimal("0.01"))
    kpi(
        "days_in_ar",
        ar_total,
        daily,
        "Days in A/R (HFMA MAP Key 'days in A/R', on gross charges): total A/R (insurance + patient balances "
        f"of claim_balances on the run date) ÷ average daily gross charges over {window} (charges posted in "
        "the window ÷ 90; the denominator column shows that average, the value uses it unrounded).",
        value=(ar_total * WINDOW_DAYS / charges).quantize(Decimal("0.000001")) if charges else None,
    )
    kpi(
        "net_collection_rate",
        payments,
        charges - contractual,
        "HFMA MAP Key 'net collection rate': payments (payer payments net of reversals + patient payments "
        "applied to balances, cash in the ledger) ÷ (gross charges − contractual adjustments), all by "
        f"ledger effective date in the window {window}.",
    )
    kpi(
        "aged_ar_over_90_rate",
        ar_90,
        ar_total,
        "HFMA MAP Key 'aged A/R as a percentage of total billed A/R': A/R on claims more than 90 days from "
        "the first date of service ÷ total A/R, on the run date.",
    )
    # Patient collections (adjudication.patient_kpis): collection rate, dunning recovery by stage, plans.
    for name, num, den, definition in kpi_rows(patient_collections(q, run_date, window_days=WINDOW_DAYS)):
        kpi(name, num, den, definition)
    q.conn.execute(insert(m.Kpi), rows)
    return {r["name"]: r["value"] for r in rows}


# --------------------------------------------------------------------------------------------------
# balance proof
# --------------------------------------------------------------------------------------------------

_EXC_COLS = (
    "source, level, kind, interchange_id, remittance_id, claim_payment_id, claim_id, reference, "
    "expected, found, run_date, explained, created_at"
)


def _balance_proof(q: Sql, run_date: dt.date) -> dict[str, Any]:
    now = _utcnow()
    p = {"d": run_date, "now": now}
    before = int(q.scalar("SELECT COALESCE(MAX(id), 0) FROM balance_exceptions") or 0)
    ins = f"INSERT INTO balance_exceptions ({_EXC_COLS}) SELECT x.* FROM ({{}}) x WHERE x.expected <> x.found"
    head = "'reconciliation', '{level}', '{kind}'"
    # Remittance: BPR02 = ΣCLP04 − ΣPLB.
    q.run(
        ins.format(
            f"""SELECT {head.format(level="remittance", kind="bpr02_vs_clp04_minus_plb")}, r.interchange_id,
                   r.id, CAST(NULL AS INTEGER), CAST(NULL AS INTEGER), r.st02,
                   CASE WHEN r.credit_debit = 'D' THEN -r.payment_amount ELSE r.payment_amount END AS expected,
                   COALESCE(cp.paid, 0) - COALESCE(pl.amount, 0) AS found, :d, false, :now
            FROM remittances r
            LEFT JOIN (SELECT remittance_id, SUM(paid) AS paid FROM claim_payments GROUP BY remittance_id) cp
                   ON cp.remittance_id = r.id
            LEFT JOIN (SELECT remittance_id, SUM(amount) AS amount FROM provider_adjustments
                       GROUP BY remittance_id) pl ON pl.remittance_id = r.id"""
        ),
        p,
    )
    # Claim: CLP03 − CLP04 = Σ CAS (claim + line level).
    q.run(
        ins.format(
            f"""SELECT {head.format(level="claim", kind="clp03_minus_clp04_vs_cas")}, r.interchange_id, r.id, cp.id,
                   cp.claim_id, cp.patient_control_number, cp.charge - cp.paid AS expected,
                   COALESCE(a.amount, 0) AS found, :d, false, :now
            FROM claim_payments cp JOIN remittances r ON r.id = cp.remittance_id
            LEFT JOIN (SELECT claim_payment_id, SUM(amount) AS amount FROM adjustments GROUP BY claim_payment_id) a
                   ON a.claim_payment_id = cp.id"""
        ),
        p,
    )
    # Line: SVC02 − SVC03 = Σ line CAS.
    q.run(
        ins.format(
            f"""SELECT {head.format(level="line", kind="svc02_minus_svc03_vs_cas")}, r.interchange_id, r.id, cp.id,
                   cp.claim_id, COALESCE(l.line_control_number, 'SVC segment ' || CAST(l.segment_no AS TEXT)),
                   l.charge - l.paid AS expected, COALESCE(a.amount, 0) AS found, :d, false, :now
            FROM service_line_payments l
            JOIN claim_payments cp ON cp.id = l.claim_payment_id
            JOIN remittances r ON r.id = cp.remittance_id
            LEFT JOIN (SELECT service_line_payment_id, SUM(amount) AS amount FROM adjustments
                       WHERE service_line_payment_id IS NOT NULL GROUP BY service_line_payment_id) a
                   ON a.service_line_payment_id = l.id"""
        ),
        p,
    )
    # Ledger: every txn_key sums to zero.
    q.run(
        ins.format(
            f"""SELECT {head.format(level="ledger", kind="txn_not_zero")}, CAST(NULL AS INTEGER), CAST(NULL AS INTEGER),
                   MAX(e.claim_payment_id), MAX(e.claim_id), substr(e.txn_key, 1, 60), 0 AS expected,
                   SUM(e.amount) AS found, :d, false, :now
            FROM ledger_entries e WHERE e.effective_date <= :d GROUP BY e.txn_key"""
        ),
        p,
    )
    # Ledger per claim ties to claim_balances (both directions: claims only one side knows about count).
    q.temp_table(
        "cf_led_claim",
        f"""SELECT claim_id,
                   SUM(CASE WHEN account = {bind(Account.AR_PAYER)} THEN amount ELSE 0 END) AS ar_payer,
                   SUM(CASE WHEN account = {bind(Account.AR_PATIENT)} THEN amount ELSE 0 END) AS ar_patient
            FROM ledger_entries WHERE claim_id IS NOT NULL AND effective_date <= :d
              AND account IN ({bind(Account.AR_PAYER)}, {bind(Account.AR_PATIENT)}) GROUP BY claim_id""",
        p,
    )
    for kind, bal_col, led_col in (
        ("claim_insurance_balance_vs_ledger", "insurance_balance", "ar_payer"),
        ("claim_patient_balance_vs_ledger", "patient_balance", "ar_patient"),
    ):
        head_k = head.format(level="ledger", kind=kind)
        nulls = "CAST(NULL AS INTEGER), CAST(NULL AS INTEGER), CAST(NULL AS INTEGER)"
        q.run(
            ins.format(
                f"""SELECT {head_k}, {nulls}, b.claim_id, c.claim_number, b.{bal_col} AS expected,
                       COALESCE(l.{led_col}, 0) AS found, :d, false, :now
                FROM claim_balances b JOIN claims c ON c.id = b.claim_id
                LEFT JOIN cf_led_claim l ON l.claim_id = b.claim_id
                WHERE b.run_date = :d
                UNION ALL
                SELECT {head_k}, {nulls}, l.claim_id, c.claim_number, 0 AS expected, l.{led_col} AS found, :d,
                       false, :now
                FROM cf_led_claim l JOIN claims c ON c.id = l.claim_id
                LEFT JOIN claim_balances b ON b.claim_id = l.claim_id AND b.run_date = :d
                WHERE b.claim_id IS NULL"""
            ),
            p,
        )
    q.drop("cf_led_claim")
    # Patient: responsibility − payments (net of money given back) + refunds due − write-offs =
    # Σ ar_patient + Σ patient_credit, both as of the run date; both directions (a patient only the ledger
    # knows about counts too).
    q.temp_table(
        "cf_led_patient",
        f"""SELECT patient_id, SUM(amount) AS amount FROM ledger_entries
            WHERE account IN ({bind(Account.AR_PATIENT)}, {bind(Account.PATIENT_CREDIT)}) AND effective_date <= :d
              AND patient_id IS NOT NULL
            GROUP BY patient_id""",
        p,
    )
    head_p = head.format(level="patient", kind="patient_balance_vs_ledger")
    nulls4 = "CAST(NULL AS INTEGER), CAST(NULL AS INTEGER), CAST(NULL AS INTEGER), CAST(NULL AS INTEGER)"
    q.run(
        ins.format(
            f"""SELECT {head_p}, {nulls4}, pk.patient_key,
                   b.patient_responsibility - b.patient_paid + b.refunds_due - b.write_offs AS expected,
                   COALESCE(l.amount, 0) AS found, :d, false, :now
            FROM patient_balances b
            LEFT JOIN patient_keys pk ON pk.patient_id = b.patient_id
            LEFT JOIN cf_led_patient l ON l.patient_id = b.patient_id
            WHERE b.run_date = :d
            UNION ALL
            SELECT {head_p}, {nulls4}, pk.patient_key, 0 AS expected, l.amount AS found, :d, false, :now
            FROM cf_led_patient l
            LEFT JOIN patient_keys pk ON pk.patient_id = l.patient_id
            LEFT JOIN patient_balances b ON b.patient_id = l.patient_id AND b.run_date = :d
            WHERE b.patient_id IS NULL"""
        ),
        p,
    )
    q.drop("cf_led_patient")

    # Ledger references (the ledger has no foreign keys, by design): every id must exist.
    refs = (
        ("claim_id", "claims"),
        ("patient_id", "patients"),
        ("claim_payment_id", "claim_payments"),
        ("patient_payment_id", "patient_payments"),
        ("provider_adjustment_id", "provider_adjustments"),
    )
    joins = " ".join(f"LEFT JOIN {t} t{i} ON t{i}.id = e.{c}" for i, (c, t) in enumerate(refs))
    sums = ", ".join(
        f"SUM(CASE WHEN e.{c} IS NOT NULL AND t{i}.id IS NULL THEN 1 ELSE 0 END)"
        for i, (c, _) in enumerate(refs)
    )
    dangling = q.run(f"SELECT {sums} FROM ledger_entries e {joins} WHERE e.effective_date <= :d", p).one()
    for (col, _), n in zip(refs, dangling, strict=True):
        if n:
            q.run(
                f"""INSERT INTO balance_exceptions ({_EXC_COLS})
                      VALUES ('reconciliation', 'ledger', 'dangling_reference', NULL, NULL, NULL, NULL,
                              :ref, NULL, NULL, :d, false, :now)""",
                {**p, "ref": f"ledger_entries.{col}: {int(n)} row(s)"},
            )

    # Keep explanations: a new exception identical to an explained one (same run date being replaced, or
    # an earlier run) inherits its explanation.
    same = " AND ".join(
        q.same(f"o.{c}", f"balance_exceptions.{c}")
        for c in (
            "level",
            "kind",
            "remittance_id",
            "claim_payment_id",
            "claim_id",
            "reference",
            "expected",
            "found",
        )
    )
    match = f"""SELECT {{col}} FROM balance_exceptions o
                WHERE o.source = 'reconciliation' AND o.explained = true AND o.id <= :before
                  AND o.run_date <= :d AND {same}
                ORDER BY o.run_date DESC, o.id DESC LIMIT 1"""
    q.run(
        f"""UPDATE balance_exceptions SET explained = true, explanation = ({match.format(col="o.explanation")})
            WHERE id > :before AND EXISTS ({match.format(col="1")})""",
        {"before": before, "d": run_date},
    )
    q.run(
        "DELETE FROM balance_exceptions WHERE source = 'reconciliation' AND run_date = :d AND id <= :before",
        {"d": run_date, "before": before},
    )
    rows = q.run(
        """SELECT kind, COUNT(*), SUM(CASE WHEN explained = false THEN 1 ELSE 0 END) FROM balance_exceptions
           WHERE source = 'reconciliation' AND run_date = :d GROUP BY kind ORDER BY kind""",
        {"d": run_date},
    ).all()
    return {
        "run_date": run_date.isoformat(),
        "exceptions": sum(int(r[1]) for r in rows),
        "unexplained": sum(int(r[2] or 0) for r in rows),
        "by_kind": {str(r[0]): int(r[1]) for r in rows},
    }


# --------------------------------------------------------------------------------------------------
# summary and run row
# --------------------------------------------------------------------------------------------------


def _proof_fields(proof: dict[str, Any] | None) -> dict[str, Any]:
    """The summary's balance-proof keys; ``None`` counts while the proof is pending (``reconcile(prove=False)``)."""
    if proof is None:
        return {
            "balance_proof": "pending",
            "balance_exceptions": None,
            "balance_exceptions_total": None,
            "balance_exceptions_by_kind": None,
        }
    return {
        "balance_proof": "done",
        "balance_exceptions": int(proof["unexplained"]),
        "balance_exceptions_total": int(proof["exceptions"]),
        "balance_exceptions_by_kind": proof["by_kind"],
    }


def _summary(
    q: Sql, run_date: dt.date, kpis: dict[str, Decimal | None], proof: dict[str, Any] | None
) -> dict[str, Any]:
    d = {"d": run_date}
    cb = q.run(
        """SELECT COUNT(*), SUM(charge), SUM(payer_paid), SUM(contractual), SUM(other_adjustments),
                  SUM(patient_responsibility), SUM(insurance_balance), SUM(insurance_write_off + patient_write_off),
                  SUM(provider_adjustments), SUM(CASE WHEN secondary_due THEN 1 ELSE 0 END)
           FROM claim_balances WHERE run_date = :d""",
        d,
    ).one()
    pb = q.run(
        """SELECT SUM(patient_paid), SUM(patient_balance), SUM(refunds_due), COUNT(*),
                  SUM(CASE WHEN patient_balance > 0 THEN 1 ELSE 0 END), SUM(unapplied_credit)
           FROM patient_balances WHERE run_date = :d""",
        d,
    ).one()
    unmatched = q.run(
        """SELECT COUNT(*), SUM(cp.paid) FROM unmatched_payments u JOIN claim_payments cp ON cp.id = u.claim_payment_id
           WHERE u.resolved = false"""
    ).one()
    by_status = {
        str(s): int(n)
        for s, n in q.run("SELECT status, COUNT(*) FROM claims GROUP BY status ORDER BY status").all()
    }
    n835 = int(
        q.scalar("SELECT COUNT(*) FROM balance_exceptions WHERE source = '835' AND explained = false") or 0
    )
    money = q.money
    ins_total, pat_total = money(cb[6]), money(pb[1])

    def s(v: Decimal) -> str:
        return f"{v:.2f}"

    return {
        "run_date": run_date.isoformat(),
        "claims": int(cb[0] or 0),
        "claims_by_status": by_status,
        "patients": int(pb[3] or 0),
        "patients_owing": int(pb[4] or 0),
        "total_charge": s(money(cb[1])),
        "total_paid": s(money(cb[2])),
        "contractual": s(money(cb[3])),
        "other_adjustments": s(money(cb[4])),
        "patient_responsibility": s(money(cb[5])),
        "patient_payments": s(money(pb[0])),
        "refunds_due": s(money(pb[2])),
        "unapplied_credit": s(money(pb[5])),
        "write_offs": s(money(cb[7])),
        "provider_adjustments": s(money(cb[8])),
        "insurance_balance_total": s(ins_total),
        "patient_balance_total": s(pat_total),
        "ar_total": s(ins_total + pat_total),
        "secondary_due": int(cb[9] or 0),
        "unmatched_payments": int(unmatched[0] or 0),
        "unmatched_amount": s(money(unmatched[1])),
        **_proof_fields(proof),
        "balance_exceptions_835": n835,
        "kpis": {k: (None if v is None else str(v)) for k, v in kpis.items()},
    }


def _record_run(
    conn: Any, run_date: dt.date, status: str, started: dt.datetime, summary: dict[str, Any] | None
) -> None:
    exists = conn.execute(
        select(m.ReconciliationRun.id).where(m.ReconciliationRun.run_date == run_date)
    ).first()
    values = {"status": status, "started_at": started, "finished_at": _utcnow(), "summary": summary}
    if exists:
        conn.execute(
            update(m.ReconciliationRun).where(m.ReconciliationRun.run_date == run_date).values(**values)
        )
    else:
        conn.execute(insert(m.ReconciliationRun).values(run_date=run_date, **values))
