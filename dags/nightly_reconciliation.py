"""nightly_reconciliation — after the inbox has loaded: apply acknowledgments, post remittances, ask payers
about silent claims (276), reconcile patient balances, prove the books balance, check data quality, write the
run report."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Asset, dag, task
from airflow.sdk.definitions.callback import SyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

from dags.common import DEADLINE_HOURS, INBOX_ASSET_URI, PARTNER, START, default_args

# A deadline alert fires when a nightly run has not finished CLAIMFLOW_NIGHTLY_DEADLINE_HOURS after it was
# queued; 0 switches it off (the demo does: dag.test() in Airflow 3.3 cannot complete a run that has one).
DEADLINE = (
    DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=dt.timedelta(hours=DEADLINE_HOURS),
        callback=SyncCallback("dags.common.deadline_missed"),
    )
    if DEADLINE_HOURS > 0
    else None
)

DOC = """
### Nightly reconciliation

Runs when the clearinghouse inbox has loaded new files (Airflow asset `claimflow://clearinghouse/inbox-loaded`).
The *run date* is the logical date of the run; every step recomputes that date's snapshot, so rerunning the
whole DAG or any single task leaves every table unchanged.

1. **apply_acknowledgments** — 999 rejections and 277CA statuses move claims to accepted / rejected.
2. **post_remittances** — 835 claim payments matched to our claims (patient control number, tolerant of payer
   truncation; lines by REF*6R), reversals paired with their originals, PLB linked; the double-entry ledger
   gets each payment, adjustment and patient-responsibility transfer exactly once (database constraints).
   Payments that match no claim wait in `unmatched_payments`.
   - **request_claim_status** (beside the steps below) — a 276 claim status request for every claim still
     silent `CLAIMFLOW_CLAIM_STATUS_DAYS` after it was sent (no 277CA, or accepted and no 835; unset: the
     work list's no-277CA / no-835 days), except claims already asked about today. The payer's 277 answers
     arrive through the clearinghouse inbox, go into the claim's history (`claimflow claim show`) and reword
     its follow-up work item.
3. **issue_follow_up_claims** — the secondary and tertiary claims now due (the primary paid and left patient
   responsibility, and the patient has another active coverage; Medicare crossovers are not billed again) are
   created for the next `claims_submission`, which also sends the replacement and void claims the billing office
   queued (`claimflow claim correct / void / resubmit`); voids the payer answered are settled.
4. **reconcile_balances** — claim and patient balances, aging (0–30 … 120+) and KPIs as of the run date
   (the proof is left to the next task, not done twice).
5. **balance_proof** — remittance, claim, line and ledger-level proofs into `balance_exceptions`; the run's
   stored summary says "pending" until this task has run.
6. **data_quality** — fails the run when an exception is unexplained (the report says which).
7. **build_worklist** — every open problem becomes one work item (scrub holds, rejections, denials,
   underpayments, claims without a 277CA or 835, secondary due, credit balances), updated on later nights and
   closed when resolved; the log says e.g. "312 open work items: 52 denials ($15,327.00), …". Runs even when
   data quality failed: the billing office works its queues regardless (`claimflow worklist`).
8. **run_report** — an HTML report: counts, dollars, aging, top denial reasons, exceptions.

A deadline alert fires if the run has not finished within the configured hours of its logical date.
"""


@dag(
    dag_id="nightly_reconciliation",
    schedule=[Asset(INBOX_ASSET_URI)],
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    doc_md=DOC,
    tags=["claimflow", "posting", "reconciliation"],
    deadline=DEADLINE,
)
def nightly_reconciliation() -> None:
    @task
    def apply_acknowledgments() -> dict:
        from claimflow.services.pipeline import apply_acknowledgments as run

        return run()

    @task
    def post_remittances(run_date: str | None = None) -> dict:
        from claimflow.services.pipeline import post_remittances as run

        return run(run_date)

    @task(pool=f"sftp_{PARTNER}", pool_slots=1)
    def request_claim_status(run_date: str | None = None) -> dict:
        from claimflow.services.pipeline import request_claim_status as run
        from dags.common import partner_sftp

        return run(run_date, PARTNER, lambda: partner_sftp(PARTNER))

    @task
    def issue_follow_up_claims(run_date: str | None = None) -> dict:
        from claimflow.services.pipeline import issue_follow_up_claims as run

        return run(run_date)

    @task
    def reconcile_balances(run_date: str | None = None) -> dict:
        from claimflow.services.pipeline import reconcile_balances as run

        return run(run_date)

    @task
    def balance_proof(run_date: str | None = None) -> dict:
        from claimflow.services.pipeline import balance_proof as run

        return run(run_date)

    @task(retries=0)
    def data_quality(run_date: str | None = None) -> dict:
        from claimflow.services.pipeline import data_quality as run

        return run(run_date)

    @task(trigger_rule="all_done")
    def build_worklist(run_date: str | None = None) -> dict:
        from claimflow.services.pipeline import build_worklist as run

        return run(run_date)

    @task(trigger_rule="all_done")
    def run_report(run_date: str | None = None) -> dict:
        from claimflow.services.pipeline import run_report as run

        return run(run_date)

    run_date = "{{ ds }}"
    acks = apply_acknowledgments()
    posted = post_remittances(run_date)
    follow_up = issue_follow_up_claims(run_date)
    balances = reconcile_balances(run_date)
    proof = balance_proof(run_date)
    quality = data_quality(run_date)
    worklist = build_worklist(run_date)
    report = run_report(run_date)
    acks >> posted >> follow_up >> balances >> proof >> quality >> worklist >> report
    posted >> request_claim_status(run_date)


nightly_reconciliation_dag = nightly_reconciliation()
