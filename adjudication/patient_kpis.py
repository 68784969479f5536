"""Patient collections: collection rate, dunning recovery by stage, statements by stage, payment plans.

Why a module of its own: the nightly reconciliation stores these as KPIs (``kpis`` with definitions, via
:func:`kpi_rows`) and the run report shows them (:func:`patient_collections`); both read the same numbers.
Everything is set-based SQL over ``statements``, ``payment_plans`` and the ledger; money stays exact
(:meth:`adjudication._sql.Sql.money`).

**Patient cash** is the ledger's cash account for patients: patient payments (``ppay:``, any method, online
included) less money given back (online refunds ``orf:``, patient refunds issued ``rfi:``), by effective date.

* **Patient collection rate** = patient cash in the window ÷ patient responsibility assigned in the window
  (ar_patient of ``pr:`` transfers, their reversals, and ``cob:`` moves to a later payer — net patient
  responsibility), both by ledger effective date, window = the ``window_days`` days ending on the run date.
* **Dunning recovery by stage**: for every statement dated in the window, the patient cash received on or
  after its date and before the patient's next statement (until the run date for the last one), capped at
  the statement's amount due and floored at zero; recovery at a stage = Σ recovered ÷ Σ amount due of the
  statements at that stage.
* **Statements by stage**: statements dated in the window, count and amount due per stage (``collections``
  rows are hand-offs, not mailed statements, and are shown as their own stage).
* **Payment plans**: plans by status as of the last statement run (``update_plans`` recomputes it); the
  plan delinquency rate is delinquent ÷ (active + delinquent).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from ._sql import Sql, bind
from .ledger import Account, EntryType
from .statements import COLLECTIONS, PLAN_STAGE, STAGES

WINDOW_DAYS = 90
ZERO = Decimal("0.00")

#: Patient cash rows of the ledger (alias ``e``).
PATIENT_CASH_SQL = (
    f"e.account = {bind(Account.CASH)} AND e.patient_id IS NOT NULL AND (e.entry_type IN "
    f"({bind(EntryType.PATIENT_PAYMENT)}, {bind(EntryType.ONLINE_REFUND)}) OR (e.entry_type = {bind(EntryType.REFUND_ISSUED)} "
    "AND e.payer_id IS NULL))"
)
#: Net patient responsibility assigned (alias ``e``).
PATIENT_RESPONSIBILITY_SQL = (
    f"e.account = {bind(Account.AR_PATIENT)} AND e.entry_type IN ({bind(EntryType.PR_TRANSFER)}, "
    f"{bind(EntryType.REVERSAL)}, {bind(EntryType.COB_TRANSFER)})"
)


@dataclass
class StageRecovery:
    stage: str
    statements: int = 0
    amount_due: Decimal = ZERO
    recovered: Decimal = ZERO
    paying: int = 0  # statements followed by any patient cash

    @property
    def rate(self) -> Decimal | None:
        return (
            None if self.amount_due == 0 else (self.recovered / self.amount_due).quantize(Decimal("0.000001"))
        )


@dataclass
class PatientCollections:
    run_date: dt.date
    start: dt.date
    patient_cash: Decimal = ZERO
    responsibility: Decimal = ZERO
    stages: list[StageRecovery] = field(default_factory=list)
    plans: dict[str, tuple[int, Decimal]] = field(default_factory=dict)  # status -> (plans, total)
    events: dict[str, tuple[int, Decimal]] = field(
        default_factory=dict
    )  # outcome -> (events, amount), all so far

    @property
    def collection_rate(self) -> Decimal | None:
        if self.responsibility == 0:
            return None
        return (self.patient_cash / self.responsibility).quantize(Decimal("0.000001"))

    def stage(self, name: str) -> StageRecovery:
        return next((s for s in self.stages if s.stage == name), StageRecovery(name))

    @property
    def window(self) -> str:
        return f"{self.start.isoformat()} to {self.run_date.isoformat()} ({(self.run_date - self.start).days + 1} days)"


def _order(stage: str) -> tuple[int, str]:
    known = (*STAGES, PLAN_STAGE, COLLECTIONS)
    return (known.index(stage), stage) if stage in known else (len(known), stage)


def patient_collections(q: Sql, run_date: dt.date, *, window_days: int = WINDOW_DAYS) -> PatientCollections:
    """The patient-collection measures of ``run_date`` (see the module docstring). Read-only."""
    start = run_date - dt.timedelta(days=window_days - 1)
    p = {"s": start, "d": run_date}
    out = PatientCollections(run_date=run_date, start=start)
    cash, resp = q.run(
        f"""SELECT SUM(CASE WHEN {PATIENT_CASH_SQL} THEN e.amount ELSE 0 END),
                   SUM(CASE WHEN {PATIENT_RESPONSIBILITY_SQL} THEN e.amount ELSE 0 END)
            FROM ledger_entries e WHERE e.effective_date BETWEEN :s AND :d
              AND e.account IN ({bind(Account.CASH)}, {bind(Account.AR_PATIENT)})""",
        p,
    ).one()
    out.patient_cash, out.responsibility = q.money(cash), q.money(resp)
    rows = q.run(
        f"""WITH st AS (
                SELECT s.id, s.patient_id, s.stage, s.run_date, s.amount_due,
                       LEAD(s.run_date) OVER (PARTITION BY s.patient_id ORDER BY s.run_date, s.id) AS next_date
                FROM statements s WHERE s.run_date <= :d),
            cash AS (
                SELECT e.patient_id, e.effective_date AS day, SUM(e.amount) AS amount
                FROM ledger_entries e WHERE {PATIENT_CASH_SQL} AND e.effective_date <= :d
                GROUP BY e.patient_id, e.effective_date),
            per AS (
                SELECT st.id, st.stage, st.amount_due, COALESCE(SUM(c.amount), 0) AS paid
                FROM st LEFT JOIN cash c ON c.patient_id = st.patient_id AND c.day >= st.run_date
                     AND (st.next_date IS NULL OR c.day < st.next_date)
                WHERE st.run_date >= :s
                GROUP BY st.id, st.stage, st.amount_due)
            SELECT stage, COUNT(*), SUM(amount_due),
                   SUM(CASE WHEN paid <= 0 THEN 0 WHEN paid > amount_due THEN amount_due ELSE paid END),
                   SUM(CASE WHEN paid > 0 THEN 1 ELSE 0 END)
            FROM per GROUP BY stage""",
        p,
    ).all()
    out.stages = sorted(
        (
            StageRecovery(str(st), int(n or 0), q.money(due), q.money(rec), int(k or 0))
            for st, n, due, rec, k in rows
        ),
        key=lambda s: _order(s.stage),
    )
    out.plans = {
        str(st): (int(n), q.money(t))
        for st, n, t in q.run("SELECT status, COUNT(*), SUM(total) FROM payment_plans GROUP BY status").all()
    }
    out.events = {
        str(o): (int(n), (Decimal(int(c or 0)) / 100).quantize(Decimal("0.01")))
        for o, n, c in q.run(
            "SELECT outcome, COUNT(*), SUM(amount_cents) FROM payment_events GROUP BY outcome"
        ).all()
    }
    return out


def kpi_rows(pc: PatientCollections) -> list[tuple[str, Decimal, Decimal, str]]:
    """``(name, numerator, denominator, definition)`` for the ``kpis`` table."""
    window = pc.window
    rows = [
        (
            "patient_collection_rate",
            pc.patient_cash,
            pc.responsibility,
            "Patient collection rate: patient cash (patient payments of any method, online included, less online "
            "refunds and patient refunds issued; ledger cash) ÷ patient responsibility assigned (ar_patient of "
            f"PR transfers, their reversals and COB moves), both by ledger effective date in the window {window}.",
        )
    ]
    names = list(dict.fromkeys([*STAGES, PLAN_STAGE, *(s.stage for s in pc.stages)]))
    for name in names:
        s = pc.stage(name)
        rows.append(
            (
                f"dunning_recovery_{name}"[:60],
                s.recovered,
                s.amount_due,
                f"Dunning recovery at stage '{name}': for each statement at this stage dated in the window "
                f"{window}, patient cash received on or after its date and before the patient's next "
                "statement (up to the run date), capped at its amount due; Σ recovered ÷ Σ amount due.",
            )
        )
    active = Decimal(pc.plans.get("active", (0, ZERO))[0])
    delinquent = Decimal(pc.plans.get("delinquent", (0, ZERO))[0])
    rows.append(
        (
            "plan_delinquency_rate",
            delinquent,
            active + delinquent,
            "Payment plans delinquent (money received short of the installments due more than grace_days "
            "ago, as of the last statement run) ÷ plans active or delinquent.",
        )
    )
    return rows
