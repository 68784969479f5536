"""The patient's side of the ledger: statements, dunning, payment plans, online payments and refunds.

Why here: everything below is a read of, or a posting to, the double-entry ledger (``adjudication.ledger``);
rendering (PDF/HTML, branding) lives in ``claimflow.statements`` and only receives :class:`StatementData`.

**Balances.** A patient's balance is Σ ar_patient + Σ patient_credit (the identity documented in
``adjudication.patient_payments``). Statements list each visit (claim) whose patient balance is not zero
with its charge, what insurance paid and adjusted, what the patient already paid and still owes, and one
plain-language line per PR CAS reason ("your plan applied $40.00 to your deductible"). A credit balance
is never billed: ``amount_due`` is never negative.

**Dunning** (:func:`plan_statement_run`). A patient is *due* a statement when the balance is above
``min_statement`` and no statement went out in the last ``cycle_days``. The cycle is the number of
statements since the patient's last payment (a payment restarts the episode) + 1, and the stage is
``DunningConfig.stages[cycle - 1]`` (first_statement, reminder, final_notice, pre_collection). After the
last stage an account that is still unpaid goes to collections (a ``statements`` row with stage
``collections``, a line in the hand-off file and a work item in queue ``collections``). Not dunned: a
patient with an active payment plan (a ``payment_plan`` statement shows the installment due instead) or
a dispute flag. Balances above 0 and below ``small_balance`` are written off by rule
(``adjudication.writeoffs.write_off``: ledger ``wo:`` entries plus an audit row per claim).

**Payment plans.** ``installments`` payments of ``total / installments`` (the last takes the cents) on
``day_of_month``. Payments received on or after the plan's start count toward it; when the money received
is short of what was due more than ``grace_days`` ago the plan becomes ``delinquent`` and the patient is
dunned again; when the total is paid it is ``completed``.

**Online payments** (:func:`apply_payment_event`): a Stripe-shaped event is stored in ``payment_events``
(``UNIQUE(event_id)``, ``INSERT … ON CONFLICT DO NOTHING``) and applied in the same transaction, so a
replay — even a concurrent one — changes nothing. ``payment_intent.succeeded`` imports a patient payment
(external id = the payment intent id) and posts it; ``charge.refunded`` gives the money back (ledger
``orf:<event row id>``: ar_patient +x / cash −x); ``payment_intent.payment_failed`` is recorded only.

**Refunds** (:func:`find_refunds`, :func:`issue_refund`): patient credits become refunds due
(``patient_payments.refund_patient_credits``) and payer overpayments (a negative insurance balance on an
adjudicated claim) are found; each becomes a ``refunds`` row and a work item in queue ``refunds``.
Issuing one posts ``rfi:<refund id>`` (refunds_due +x / cash −x for a patient; ar_payer +x / cash −x for a
payer).

Nothing here logs or raises PHI: messages name patient ids, statement ids, plan ids and refund ids.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from claimflow.db import models as m
from claimflow.db.audit import audit

from . import ledger as L
from .errors import AdjudicationError
from .ledger import Account, EntryType
from .patient_payments import post_patient_payments, refund_patient_credits

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
STAGES: tuple[str, ...] = ("first_statement", "reminder", "final_notice", "pre_collection")
PLAN_STAGE = "payment_plan"
COLLECTIONS = "collections"


class PatientBillingError(AdjudicationError):
    """A statement, plan, webhook event or refund request that cannot be done (unknown patient/plan/refund,
    bad amount). Messages name ids, never PHI."""


class WebhookEventError(PatientBillingError):
    """A payment event that is not in the expected shape (missing id/type/amount)."""


@dataclass(frozen=True)
class DunningConfig:
    """Dunning rules (the practice sets them in ``statement.toml`` under ``[dunning]``)."""

    stages: tuple[str, ...] = STAGES
    cycle_days: int = 30
    due_days: int = 21
    min_statement: Decimal = Decimal("5.00")
    small_balance: Decimal = Decimal("5.00")
    grace_days: int = 10


# --------------------------------------------------------------------------------------------------
# what a statement says
# --------------------------------------------------------------------------------------------------

#: Plain-language patient-responsibility reasons (CAS group PR; CARC). Anything else: generic sentence.
PR_REASONS: dict[str, str] = {
    "1": "your plan applied {amount} to your deductible",
    "2": "your plan's coinsurance (your share) is {amount}",
    "3": "your copay for this visit is {amount}",
    "66": "{amount} went to your blood deductible",
    "96": "your plan does not cover {amount} of this service",
    "204": "your plan does not cover {amount} of this service",
    "119": "you reached a benefit maximum; {amount} is your responsibility",
    "45": "{amount} is above what your plan allows and is your responsibility",
    "242": "{amount} is your responsibility because the provider is out of network",
}


def reason_line(reason_code: str, amount: Decimal) -> str:
    text = PR_REASONS.get(
        reason_code, "your plan assigned {amount} to you (reason code PR-" + reason_code + ")"
    )
    return text.format(amount=f"${amount:,.2f}")


@dataclass
class VisitLine:
    claim_id: int
    claim_number: str
    service_date: dt.date
    procedure_codes: list[str]
    charge: Decimal
    insurance_paid: Decimal
    insurance_adjusted: Decimal
    patient_paid: Decimal
    patient_owes: Decimal
    reasons: list[str] = field(default_factory=list)


@dataclass
class StatementData:
    """Everything a statement shows. ``patient`` holds the mailing fields (PHI: only ever rendered into
    the statement itself, never logged)."""

    statement_id: str
    patient_id: int
    account_number: str
    patient: dict[str, str]
    run_date: dt.date
    due_date: dt.date
    cycle: int
    stage: str
    balance: Decimal
    amount_due: Decimal
    visits: list[VisitLine]
    prior_payments: list[tuple[dt.date, Decimal]]
    aging: dict[str, Decimal]
    plan: dict[str, Any] | None = None


def _orm(conn: Connection, stmt: Any) -> list[Any]:
    """ORM objects read on ``conn`` (inside its transaction); read-only use."""
    return list(Session(bind=conn).execute(stmt).scalars().all())


def new_statement_id(run_date: dt.date) -> str:
    return f"ST{run_date:%Y%m%d}-{secrets.token_hex(4).upper()}"


def patient_balances(conn: Connection, patient_ids: list[int] | None = None) -> dict[int, Decimal]:
    """Per patient: Σ ar_patient + Σ patient_credit (positive = the patient owes us)."""
    stmt = (
        select(m.LedgerEntry.patient_id, func.sum(m.LedgerEntry.amount))
        .where(
            m.LedgerEntry.account.in_([Account.AR_PATIENT, Account.PATIENT_CREDIT]),
            m.LedgerEntry.patient_id.is_not(None),
        )
        .group_by(m.LedgerEntry.patient_id)
    )
    if patient_ids is not None:
        stmt = stmt.where(m.LedgerEntry.patient_id.in_(patient_ids))
    return {int(pid): (amt or ZERO) for pid, amt in conn.execute(stmt).tuples() if pid is not None}


def _visits(conn: Connection, patient_id: int) -> list[VisitLine]:
    """The patient's claims with a non-zero patient balance, oldest service first."""
    rows = (
        conn.execute(
            select(
                m.LedgerEntry.claim_id,
                m.LedgerEntry.account,
                m.LedgerEntry.entry_type,
                func.sum(m.LedgerEntry.amount),
            )
            .where(m.LedgerEntry.patient_id == patient_id, m.LedgerEntry.claim_id.is_not(None))
            .group_by(m.LedgerEntry.claim_id, m.LedgerEntry.account, m.LedgerEntry.entry_type)
        )
        .tuples()
        .all()
    )
    sums: dict[int, dict[tuple[str, str], Decimal]] = defaultdict(dict)
    for cid, account, etype, amount in rows:
        if cid is None:
            continue
        sums[int(cid)][(account, etype)] = amount or ZERO
    owes = {
        cid: sum((v for (a, _), v in s.items() if a == Account.AR_PATIENT), ZERO) for cid, s in sums.items()
    }
    open_ids = sorted(cid for cid, v in owes.items() if v != 0)
    if not open_ids:
        return []
    claims = {c.id: c for c in _orm(conn, select(m.Claim).where(m.Claim.id.in_(open_ids)))}
    codes: dict[int, list[str]] = defaultdict(list)
    for cid, code in conn.execute(
        select(m.ServiceLine.claim_id, m.ServiceLine.procedure_code)
        .where(m.ServiceLine.claim_id.in_(open_ids))
        .order_by(m.ServiceLine.claim_id, m.ServiceLine.line_number)
    ).tuples():
        if code and code not in codes[cid]:
            codes[cid].append(code)
    # PR reasons from the claim's latest posted, not reversed, non-reversal claim payment.
    reversed_ids = select(m.ClaimPayment.reversal_of_id).where(m.ClaimPayment.reversal_of_id.is_not(None))
    cps = (
        conn.execute(
            select(m.ClaimPayment.claim_id, func.max(m.ClaimPayment.id))
            .where(
                m.ClaimPayment.claim_id.in_(open_ids),
                m.ClaimPayment.posted_at.is_not(None),
                m.ClaimPayment.status_code != "22",
                m.ClaimPayment.id.not_in(reversed_ids),
            )
            .group_by(m.ClaimPayment.claim_id)
        )
        .tuples()
        .all()
    )
    cp_claim = {int(cp): int(cid) for cid, cp in cps if cid is not None}
    reasons: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    if cp_claim:
        for cp, code, amount in conn.execute(
            select(m.Adjustment.claim_payment_id, m.Adjustment.reason_code, m.Adjustment.amount).where(
                m.Adjustment.claim_payment_id.in_(list(cp_claim)), m.Adjustment.group_code == "PR"
            )
        ).tuples():
            reasons[cp_claim[int(cp)]][code] += amount
    out = []
    for cid in open_ids:
        s, c = sums[cid], claims[cid]
        paid = s.get((Account.CASH, EntryType.PAYER_PAYMENT), ZERO) + s.get(
            (Account.CASH, EntryType.REVERSAL), ZERO
        )
        adjusted = sum(
            (v for (a, _), v in s.items() if a in (Account.CONTRACTUAL, Account.ADJUSTMENTS)), ZERO
        )
        patient_paid = -sum(
            (
                v
                for (a, t), v in s.items()
                if a == Account.AR_PATIENT
                and t in (EntryType.PATIENT_PAYMENT, EntryType.CREDIT_APPLIED, EntryType.CREDIT_SWEEP)
            ),
            ZERO,
        )
        out.append(
            VisitLine(
                claim_id=cid,
                claim_number=c.claim_number,
                service_date=c.service_date_from,
                procedure_codes=codes.get(cid, []),
                charge=c.total_charge,
                insurance_paid=paid,
                insurance_adjusted=adjusted,
                patient_paid=patient_paid,
                patient_owes=owes[cid],
                reasons=[reason_line(code, amt) for code, amt in sorted(reasons[cid].items()) if amt != 0],
            )
        )
    out.sort(key=lambda v: (v.service_date, v.claim_id))
    return out


def _aging(visits: list[VisitLine], run_date: dt.date) -> dict[str, Decimal]:
    buckets = {"0-30": ZERO, "31-60": ZERO, "61-90": ZERO, "90+": ZERO}
    for v in visits:
        if v.patient_owes <= 0:
            continue
        days = (run_date - v.service_date).days
        key = "0-30" if days <= 30 else "31-60" if days <= 60 else "61-90" if days <= 90 else "90+"
        buckets[key] += v.patient_owes
    return buckets


def _payments(
    conn: Connection, patient_id: int, since: dt.date | None = None
) -> list[tuple[dt.date, Decimal]]:
    stmt = (
        select(m.PatientPayment.received_on, m.PatientPayment.amount)
        .where(m.PatientPayment.patient_id == patient_id)
        .order_by(m.PatientPayment.received_on)
    )
    if since is not None:
        stmt = stmt.where(m.PatientPayment.received_on >= since)
    return [(d, a) for d, a in conn.execute(stmt).tuples()]


# --------------------------------------------------------------------------------------------------
# payment plans
# --------------------------------------------------------------------------------------------------


def _add_months(day: dt.date, months: int, dom: int) -> dt.date:
    y, mo = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, mo + 1
    last = (dt.date(year + (month // 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(dom, last))


def plan_schedule(
    total: Decimal, installments: int, first_due: dt.date, dom: int
) -> list[tuple[dt.date, Decimal]]:
    """Due dates and amounts: equal installments rounded down to the cent, the last takes the rest."""
    each = (total / installments).quantize(CENT, rounding=ROUND_DOWN)
    amounts = [each] * (installments - 1) + [total - each * (installments - 1)]
    return [(_add_months(first_due, i, dom), amounts[i]) for i in range(installments)]


def create_plan(
    engine: Engine,
    *,
    account_number: str,
    amount: Decimal,
    installments: int,
    day: int | None,
    start: dt.date,
    actor: str,
) -> dict[str, Any]:
    """Create an active payment plan for the patient with this account number (MRN)."""
    amount = Decimal(amount).quantize(CENT)
    if amount <= 0 or installments < 1 or installments > 120:
        raise PatientBillingError("a plan needs an amount above 0 and 1 to 120 installments")
    dom = day if day is not None else start.day
    if not 1 <= dom <= 28:
        raise PatientBillingError("--day must be 1 to 28")
    with engine.begin() as conn:
        pid = conn.execute(select(m.Patient.id).where(m.Patient.account_number == account_number)).scalar()
        if pid is None:
            raise PatientBillingError("no patient has that account number")
        active = conn.execute(
            select(m.PaymentPlan.id).where(
                m.PaymentPlan.patient_id == pid, m.PaymentPlan.status.in_(["active", "delinquent"])
            )
        ).scalar()
        if active is not None:
            raise PatientBillingError(f"patient id {pid} already has plan {active}; cancel it first")
        first_due = dt.date(start.year, start.month, dom)
        if first_due < start:
            first_due = _add_months(first_due, 1, dom)
        sched = plan_schedule(amount, installments, first_due, dom)
        plan_id = conn.execute(
            insert(m.PaymentPlan)
            .values(
                patient_id=pid,
                total=amount,
                installments=installments,
                installment_amount=sched[0][1],
                day_of_month=dom,
                start_date=start,
                first_due=first_due,
                status="active",
            )
            .returning(m.PaymentPlan.id)
        ).scalar_one()
        audit(
            conn,
            actor=actor,
            action="create_payment_plan",
            object_type="payment_plan",
            object_id=plan_id,
            detail={"patient_id": pid, "total": amount, "installments": installments},
        )
    return {
        "plan_id": plan_id,
        "patient_id": pid,
        "total": f"{amount:.2f}",
        "installments": installments,
        "installment_amount": f"{sched[0][1]:.2f}",
        "first_due": first_due.isoformat(),
    }


def _plan_state(conn: Connection, plan: m.PaymentPlan, run_date: dt.date, grace_days: int) -> dict[str, Any]:
    sched = plan_schedule(plan.total, plan.installments, plan.first_due, plan.day_of_month)
    paid = sum((a for d, a in _payments(conn, plan.patient_id, plan.start_date) if d <= run_date), ZERO)
    due_by_grace = sum((a for d, a in sched if d + dt.timedelta(days=grace_days) < run_date), ZERO)
    due_now = sum((a for d, a in sched if d <= run_date), ZERO)
    upcoming = [(d, a) for d, a in sched if d > run_date]
    if paid >= plan.total:
        status = "completed"
    elif paid < due_by_grace:
        status = "delinquent"
    else:
        status = "active"
    next_due, next_amount = upcoming[0] if upcoming else (sched[-1][0], ZERO)
    owed_now = max(due_now - paid, ZERO)
    return {
        "plan_id": plan.id,
        "status": status,
        "paid": paid,
        "remaining": max(plan.total - paid, ZERO),
        "past_due": owed_now,
        "next_due": next_due,
        "next_amount": min(next_amount + owed_now, max(plan.total - paid, ZERO)),
        "installment_amount": plan.installment_amount,
        "installments": plan.installments,
        "total": plan.total,
    }


def update_plans(
    conn: Connection, run_date: dt.date, grace_days: int, actor: str
) -> dict[int, dict[str, Any]]:
    """Recompute every open plan's status (active/delinquent/completed); audit each change. Returns the
    state of plans still active or delinquent, by patient id."""
    out: dict[int, dict[str, Any]] = {}
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for plan in _orm(
        conn,
        select(m.PaymentPlan)
        .where(m.PaymentPlan.status.in_(["active", "delinquent"]))
        .order_by(m.PaymentPlan.id),
    ):
        st = _plan_state(conn, plan, run_date, grace_days)
        if st["status"] != plan.status:
            conn.execute(
                update(m.PaymentPlan)
                .where(m.PaymentPlan.id == plan.id)
                .values(status=st["status"], status_changed_at=now)
            )
            audit(
                conn,
                actor=actor,
                action="payment_plan_status",
                object_type="payment_plan",
                object_id=plan.id,
                detail={"from": plan.status, "to": st["status"], "run_date": run_date.isoformat()},
            )
        if st["status"] in ("active", "delinquent"):
            out[plan.patient_id] = st
    return out


def list_plans(engine: Engine, *, as_of: dt.date, grace_days: int = 10) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        plans = _orm(conn, select(m.PaymentPlan).order_by(m.PaymentPlan.id))
        out = []
        for p in plans:
            st = _plan_state(conn, p, as_of, grace_days)
            out.append(
                {
                    "plan_id": p.id,
                    "patient_id": p.patient_id,
                    "status": p.status,
                    "total": f"{p.total:.2f}",
                    "installments": p.installments,
                    "installment_amount": f"{p.installment_amount:.2f}",
                    "day": p.day_of_month,
                    "paid": f"{st['paid']:.2f}",
                    "remaining": f"{st['remaining']:.2f}",
                    "next_due": st["next_due"].isoformat(),
                }
            )
    return out


def set_dispute(engine: Engine, patient_id: int, dispute: bool, *, actor: str) -> None:
    """Hold (or release) dunning for a patient who disputes the bill."""
    with engine.begin() as conn:
        if conn.execute(select(m.Patient.id).where(m.Patient.id == patient_id)).scalar() is None:
            raise PatientBillingError(f"patient id {patient_id} does not exist")
        ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
            m.PatientAccountFlag
        )
        conn.execute(
            ins.values(patient_id=patient_id, dispute=dispute).on_conflict_do_update(
                index_elements=["patient_id"], set_={"dispute": dispute}
            )
        )
        audit(
            conn,
            actor=actor,
            action="patient_dispute",
            object_type="patient",
            object_id=patient_id,
            detail={"dispute": dispute},
        )


# --------------------------------------------------------------------------------------------------
# the statement run
# --------------------------------------------------------------------------------------------------


@dataclass
class RunPlan:
    statements: list[StatementData]
    collections: list[StatementData]
    skipped_plan: int = 0
    skipped_dispute: int = 0
    written_off: dict[str, Any] = field(default_factory=dict)


def plan_statement_run(engine: Engine, run_date: dt.date, cfg: DunningConfig, *, actor: str) -> RunPlan:
    """Decide tonight's statements and collections hand-offs and record them (``statements``,
    ``statement_lines``) in one transaction; small balances are written off first. Rendering the files is
    the caller's job (``claimflow.statements``)."""
    from .writeoffs import write_off

    with engine.connect() as conn:
        balances = patient_balances(conn)
    small = [pid for pid, b in balances.items() if ZERO < b < cfg.small_balance]
    wo_total, wo_claims = ZERO, 0
    for pid in sorted(small):
        with engine.connect() as conn:
            claims = [v for v in _visits(conn, pid) if v.patient_owes > 0]
        for v in claims:
            try:
                wo_total += write_off(
                    engine,
                    claim_id=v.claim_id,
                    side="patient",
                    actor=actor,
                    as_of=run_date,
                    reason="small patient balance (statement rule)",
                )
                wo_claims += 1
            except AdjudicationError:
                continue  # written off today already: the ledger key refused it
    result = RunPlan(
        statements=[],
        collections=[],
        written_off={"patients": len(small), "claims": wo_claims, "amount": f"{wo_total:.2f}"},
    )
    with engine.begin() as conn:
        plans = update_plans(conn, run_date, cfg.grace_days, actor)
        balances = patient_balances(conn)
        disputes = {
            pid
            for pid, d in conn.execute(
                select(m.PatientAccountFlag.patient_id, m.PatientAccountFlag.dispute)
            ).tuples()
            if d
        }
        last_stmt: dict[int, tuple[dt.date, str]] = {}
        for pid, d, stage in conn.execute(
            select(m.Statement.patient_id, m.Statement.run_date, m.Statement.stage).order_by(
                m.Statement.run_date, m.Statement.id
            )
        ).tuples():
            last_stmt[pid] = (d, stage)
        for pid in sorted(balances):
            balance = balances[pid]
            if balance < cfg.min_statement and pid not in plans:
                continue
            if pid in disputes:
                result.skipped_dispute += 1
                continue
            prev = last_stmt.get(pid)
            if prev is not None and (prev[1] == COLLECTIONS or (run_date - prev[0]).days < cfg.cycle_days):
                continue
            plan = plans.get(pid)
            last_pay = max((d for d, _ in _payments(conn, pid) if d <= run_date), default=None)
            if plan is not None and plan["status"] == "active":
                stage, cycle = PLAN_STAGE, 0
                amount_due = min(plan["next_amount"], max(balance, ZERO))
                result.skipped_plan += 1
            else:
                stmt = (
                    select(func.count())
                    .select_from(m.Statement)
                    .where(m.Statement.patient_id == pid, m.Statement.stage.in_(cfg.stages))
                )
                if plan is not None:  # delinquent: dunning starts again from the plan's start
                    stmt = stmt.where(m.Statement.run_date >= _plan_start(conn, plan["plan_id"]))
                elif last_pay is not None:  # a payment restarts the episode
                    stmt = stmt.where(m.Statement.run_date > last_pay)
                cycle = int(conn.execute(stmt).scalar_one()) + 1
                stage = cfg.stages[cycle - 1] if cycle <= len(cfg.stages) else COLLECTIONS
                amount_due = max(balance, ZERO)
            if amount_due <= 0 and stage != PLAN_STAGE:
                continue
            data = _build(conn, pid, run_date, cfg, stage, cycle, balance, amount_due, plan)
            _record(conn, data)
            (result.collections if stage == COLLECTIONS else result.statements).append(data)
        audit(
            conn,
            actor=actor,
            action="statement_run",
            object_type="statement_run",
            object_id=run_date.isoformat(),
            detail={
                "statements": len(result.statements),
                "collections": len(result.collections),
                "on_plan": result.skipped_plan,
                "disputed": result.skipped_dispute,
                **result.written_off,
            },
        )
    return result


def _plan_start(conn: Connection, plan_id: int) -> dt.date:
    return conn.execute(select(m.PaymentPlan.start_date).where(m.PaymentPlan.id == plan_id)).scalar_one()


def _build(
    conn: Connection,
    pid: int,
    run_date: dt.date,
    cfg: DunningConfig,
    stage: str,
    cycle: int,
    balance: Decimal,
    amount_due: Decimal,
    plan: dict[str, Any] | None,
) -> StatementData:
    p = _orm(conn, select(m.Patient).where(m.Patient.id == pid))[0]
    visits = _visits(conn, pid)
    due = run_date + dt.timedelta(days=cfg.due_days)
    if plan is not None and stage == PLAN_STAGE:
        due = plan["next_due"]
    return StatementData(
        statement_id=new_statement_id(run_date),
        patient_id=pid,
        account_number=p.account_number,
        patient={
            "name": " ".join(x for x in (p.first_name, p.middle_name, p.last_name) if x),
            "line1": p.address_line1,
            "line2": p.address_line2 or "",
            "city_state_zip": f"{p.city}, {p.state} {p.postal_code[:5]}",
        },
        run_date=run_date,
        due_date=due,
        cycle=cycle,
        stage=stage,
        balance=balance,
        amount_due=max(amount_due, ZERO),
        visits=visits,
        prior_payments=[(d, a) for d, a in _payments(conn, pid) if d <= run_date][-6:],
        aging=_aging(visits, run_date),
        plan=plan,
    )


def _record(conn: Connection, s: StatementData) -> None:
    sid = conn.execute(
        insert(m.Statement)
        .values(
            statement_id=s.statement_id,
            patient_id=s.patient_id,
            run_date=s.run_date,
            cycle=s.cycle,
            stage=s.stage,
            balance=s.balance,
            amount_due=s.amount_due,
            due_date=s.due_date,
            plan_id=s.plan["plan_id"] if s.plan else None,
        )
        .returning(m.Statement.id)
    ).scalar_one()
    if s.visits:
        conn.execute(
            insert(m.StatementLine),
            [
                {
                    "statement_id": sid,
                    "claim_id": v.claim_id,
                    "service_date": v.service_date,
                    "procedure_codes": ",".join(v.procedure_codes)[:60],
                    "charge": v.charge,
                    "insurance_paid": v.insurance_paid,
                    "insurance_adjusted": v.insurance_adjusted,
                    "patient_paid": v.patient_paid,
                    "patient_owes": v.patient_owes,
                    "reasons": "; ".join(v.reasons) or None,
                }
                for v in s.visits
            ],
        )


def open_work_item(
    conn: Connection,
    *,
    queue: str,
    claim_id: int,
    reason_key: str,
    reason: str,
    amount: Decimal,
    next_action: str,
    run_date: dt.date,
    due_days: int,
    actor: str,
) -> int | None:
    """One work item (idempotent by ``(queue, claim_id, reason_key)``) with its ``opened`` event."""
    exists_id = conn.execute(
        select(m.WorkItem.id).where(
            m.WorkItem.queue == queue, m.WorkItem.claim_id == claim_id, m.WorkItem.reason_key == reason_key
        )
    ).scalar()
    if exists_id is not None:
        return None
    payer = conn.execute(select(m.Claim.payer_id).where(m.Claim.id == claim_id)).scalar()
    priority = 1 if amount >= 1000 else 2 if amount >= 250 else 3 if amount >= 50 else 4
    wid = conn.execute(
        insert(m.WorkItem)
        .values(
            queue=queue,
            claim_id=claim_id,
            reason_key=reason_key,
            payer_id=payer,
            reason=reason,
            amount=amount,
            next_action=next_action,
            priority=priority,
            due_date=run_date + dt.timedelta(days=due_days),
            status=m.WorkItemStatus.OPEN,
            opened_on=run_date,
            last_seen=run_date,
        )
        .returning(m.WorkItem.id)
    ).scalar_one()
    conn.execute(
        insert(m.WorkItemEvent).values(
            work_item_id=wid,
            actor=actor,
            kind="opened",
            detail={"run_date": run_date.isoformat(), "queue": queue},
        )
    )
    return int(wid)


def hand_off_collections(engine: Engine, items: list[StatementData], *, actor: str) -> int:
    """A work item in queue ``collections`` per account past the last dunning stage (on its oldest open visit)."""
    n = 0
    with engine.begin() as conn:
        for s in items:
            owed = [v for v in s.visits if v.patient_owes > 0]
            if not owed:
                continue
            if (
                open_work_item(
                    conn,
                    queue=COLLECTIONS,
                    claim_id=owed[0].claim_id,
                    reason_key=f"collections:{s.statement_id}",
                    reason=f"patient account past the last dunning stage ({len(owed)} visit(s))",
                    amount=s.amount_due,
                    next_action="write_off",
                    run_date=s.run_date,
                    due_days=30,
                    actor=actor,
                )
                is not None
            ):
                n += 1
    return n


# --------------------------------------------------------------------------------------------------
# refunds
# --------------------------------------------------------------------------------------------------


def find_refunds(engine: Engine, run_date: dt.date, *, actor: str) -> dict[str, Any]:
    """Patient credits → refunds due; payer overpayments found. Each new refund is a ``refunds`` row and a
    work item in queue ``refunds`` (next action ``refund``)."""
    refund_patient_credits(engine, as_of=run_date, actor=actor)
    new = 0
    total = ZERO
    with engine.begin() as conn:
        due = {
            pid: -amt
            for pid, amt in conn.execute(
                select(m.LedgerEntry.patient_id, func.sum(m.LedgerEntry.amount))
                .where(m.LedgerEntry.account == Account.REFUNDS_DUE, m.LedgerEntry.patient_id.is_not(None))
                .group_by(m.LedgerEntry.patient_id)
            ).tuples()
            if amt is not None and amt < 0
        }
        recorded = dict(
            conn.execute(
                select(m.Refund.patient_id, func.sum(m.Refund.amount))
                .where(m.Refund.payee == "patient", m.Refund.status == "due")
                .group_by(m.Refund.patient_id)
            )
            .tuples()
            .all()
        )
        targets: list[dict[str, Any]] = []
        for pid, amt in sorted(due.items()):
            rest = amt - (recorded.get(pid) or ZERO)
            if rest > 0:
                claim = conn.execute(select(func.max(m.Claim.id)).where(m.Claim.patient_id == pid)).scalar()
                targets.append(
                    {
                        "payee": "patient",
                        "patient_id": pid,
                        "payer_id": None,
                        "claim_id": claim,
                        "amount": rest,
                    }
                )
        open_payer = {
            c
            for (c,) in conn.execute(
                select(m.Refund.claim_id).where(m.Refund.payee == "payer", m.Refund.status == "due")
            ).tuples()
        }
        for cid, payer, pid, amt in conn.execute(
            select(
                m.LedgerEntry.claim_id, m.Claim.payer_id, m.Claim.patient_id, func.sum(m.LedgerEntry.amount)
            )
            .join(m.Claim, m.Claim.id == m.LedgerEntry.claim_id)
            .where(
                m.LedgerEntry.account == Account.AR_PAYER,
                m.Claim.status.in_(["paid", "partially_paid", "denied", "closed"]),
            )
            .group_by(m.LedgerEntry.claim_id, m.Claim.payer_id, m.Claim.patient_id)
            .having(func.sum(m.LedgerEntry.amount) < 0)
        ).tuples():
            if cid not in open_payer:
                targets.append(
                    {"payee": "payer", "patient_id": pid, "payer_id": payer, "claim_id": cid, "amount": -amt}
                )
        for t in targets:
            rid = conn.execute(
                insert(m.Refund).values(**t, status="due", found_on=run_date).returning(m.Refund.id)
            ).scalar_one()
            total += t["amount"]
            new += 1
            if t["claim_id"] is not None:
                open_work_item(
                    conn,
                    queue="refunds",
                    claim_id=t["claim_id"],
                    reason_key=f"refund:{rid}",
                    reason=f"{t['payee']} overpayment: refund {rid} is due",
                    amount=t["amount"],
                    next_action="refund",
                    run_date=run_date,
                    due_days=60,
                    actor=actor,
                )
    return {"refunds": new, "amount": f"{total:.2f}"}


def issue_refund(engine: Engine, refund_id: int, *, as_of: dt.date, actor: str) -> dict[str, Any]:
    """Record a refund as paid: ledger ``rfi:<id>``, refund row issued, its work item closed, audit row."""
    with engine.begin() as conn:
        found = _orm(conn, select(m.Refund).where(m.Refund.id == refund_id))
        r = found[0] if found else None
        if r is None:
            raise PatientBillingError(f"refund {refund_id} does not exist")
        if r.status != "due":
            raise PatientBillingError(f"refund {refund_id} was issued already")
        key = f"rfi:{refund_id}"
        debit = Account.REFUNDS_DUE if r.payee == "patient" else Account.AR_PAYER
        L.write_entries(
            conn,
            [
                L.Entry(
                    key,
                    EntryType.REFUND_ISSUED,
                    debit,
                    r.amount,
                    as_of,
                    claim_id=r.claim_id if r.payee == "payer" else None,
                    patient_id=r.patient_id,
                    payer_id=r.payer_id,
                ),
                L.Entry(
                    key,
                    EntryType.REFUND_ISSUED,
                    Account.CASH,
                    -r.amount,
                    as_of,
                    claim_id=r.claim_id if r.payee == "payer" else None,
                    patient_id=r.patient_id,
                    payer_id=r.payer_id,
                ),
            ],
        )
        conn.execute(
            update(m.Refund)
            .where(m.Refund.id == refund_id)
            .values(status="issued", issued_on=as_of, issued_by=actor[:120])
        )
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        wid = conn.execute(
            select(m.WorkItem.id).where(
                m.WorkItem.queue == "refunds", m.WorkItem.reason_key == f"refund:{refund_id}"
            )
        ).scalar()
        if wid is not None:
            conn.execute(
                update(m.WorkItem)
                .where(m.WorkItem.id == wid)
                .values(
                    status=m.WorkItemStatus.CLOSED,
                    resolution=m.WorkItemResolution.CLOSED,
                    closed_at=now,
                    updated_at=now,
                )
            )
            conn.execute(
                insert(m.WorkItemEvent).values(
                    work_item_id=wid,
                    actor=actor[:120],
                    kind="closed",
                    detail={"resolution": m.WorkItemResolution.CLOSED, "refund": refund_id},
                )
            )
        audit(
            conn,
            actor=actor,
            action="issue_refund",
            object_type="refund",
            object_id=refund_id,
            detail={"payee": r.payee, "amount": r.amount, "txn_key": key},
        )
    return {"refund_id": refund_id, "payee": r.payee, "amount": f"{r.amount:.2f}", "txn_key": key}


# --------------------------------------------------------------------------------------------------
# online payments (webhook events)
# --------------------------------------------------------------------------------------------------

EVENT_TYPES = ("payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded")


def apply_payment_event(
    engine: Engine, event: dict[str, Any], *, actor: str = "webhook:payments"
) -> dict[str, Any]:
    """Store and apply one processor event exactly once (see the module docstring). Returns
    ``{"event_id", "applied": bool, "outcome"}``; ``applied`` is False for a replay."""
    try:
        event_id, etype = str(event["id"]), str(event["type"])
        obj = event["data"]["object"]
        amount_cents = (
            obj.get("amount_received", obj.get("amount"))
            if etype != "charge.refunded"
            else obj.get("amount_refunded", obj.get("amount"))
        )
        if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents < 0:
            raise TypeError
        currency = str(obj.get("currency", "usd")).lower()
        statement_id = (obj.get("metadata") or {}).get("statement_id")
        object_id = str(obj.get("payment_intent") or obj.get("id") or "")
        created = event.get("created")
        received_on = (
            dt.datetime.fromtimestamp(created, dt.UTC).date()
            if isinstance(created, int) and not isinstance(created, bool) and created > 0
            else dt.datetime.now(dt.UTC).date()
        )
    except (KeyError, TypeError, AttributeError, ValueError, OverflowError, OSError):
        raise WebhookEventError("event lacks id, type or an integer data.object.amount") from None
    if len(event_id) > 255 or not event_id:
        raise WebhookEventError("event id is empty or too long")
    amount = (Decimal(amount_cents) / 100).quantize(CENT)
    with engine.begin() as conn:
        pid = None
        if statement_id:
            pid = conn.execute(
                select(m.Statement.patient_id).where(m.Statement.statement_id == str(statement_id)[:32])
            ).scalar()
        if etype not in EVENT_TYPES or currency != "usd":
            outcome = "ignored"
        elif pid is None:
            outcome = "unmatched"
        elif etype == "payment_intent.payment_failed":
            outcome = "failed"
        elif etype == "payment_intent.succeeded":
            outcome = "posted"
        else:
            outcome = "refunded"
        ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(m.PaymentEvent)
        row_id = conn.execute(
            ins.values(
                event_id=event_id,
                event_type=etype[:60],
                object_id=object_id[:255] or None,
                amount_cents=amount_cents,
                currency=currency[:3],
                statement_id=str(statement_id)[:32] if statement_id else None,
                patient_id=pid,
                outcome=outcome,
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(m.PaymentEvent.id)
        ).scalar()
        if row_id is None:
            return {"event_id": event_id, "applied": False, "outcome": "replay"}
        if outcome == "posted" and pid is not None and amount > 0:
            pins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
                m.PatientPayment
            )
            pp_id = conn.execute(
                pins.values(
                    external_id=(object_id or event_id)[:80],
                    patient_id=pid,
                    amount=amount,
                    received_on=received_on,
                    method="online",
                )
                .on_conflict_do_nothing(index_elements=["external_id"])
                .returning(m.PatientPayment.id)
            ).scalar()
            if pp_id is None:
                outcome = "duplicate_payment"
            else:
                post_patient_payments(conn)
            conn.execute(
                update(m.PaymentEvent)
                .where(m.PaymentEvent.id == row_id)
                .values(patient_payment_id=pp_id, outcome=outcome)
            )
        elif outcome == "refunded" and pid is not None and amount > 0:
            day = received_on
            key = f"orf:{row_id}"
            L.write_entries(
                conn,
                [
                    L.Entry(key, EntryType.ONLINE_REFUND, Account.AR_PATIENT, amount, day, patient_id=pid),
                    L.Entry(key, EntryType.ONLINE_REFUND, Account.CASH, -amount, day, patient_id=pid),
                ],
            )
        audit(
            conn,
            actor=actor,
            action="payment_event",
            object_type="payment_event",
            object_id=row_id,
            detail={"type": etype[:60], "outcome": outcome, "amount": amount},
        )
    return {"event_id": event_id, "applied": True, "outcome": outcome}
