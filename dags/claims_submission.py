"""claims_submission — nightly: ask payers about coverage not verified recently (270), scrub and batch ready
claims (holding those whose coverage the payer says was inactive), validate each 837, send each to the
clearinghouse, and record what went out."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Asset, dag, task

from dags.common import DEADLINE_HOURS, NIGHTLY_TIME, PARTNER, START, SUBMITTED_ASSET_URI, default_args

DOC = """
### Claims submission (nightly)

1. **request_eligibility** — one 270 eligibility batch for every coverage of a patient with a ready (or
   upcoming) claim that was not verified in the last `CLAIMFLOW_ELIGIBILITY_FRESH_DAYS` (default 30) and not
   already asked about today; uploaded like the 837s. The 271 answers arrive through the clearinghouse inbox.
   A failure here does not stop tonight's claims.
2. **plan_batches → build_batch (one per shard) → scrub_and_batch** — orphaned files of an interrupted run
   are moved aside once; then `CLAIMFLOW_OUTBOUND_SHARDS` (default 1) mapped `build_batch` tasks each take
   the claims whose id falls in their shard (claim id modulo N: no claim in two shards), so with the
   CeleryExecutor the build spreads over the workers; `scrub_and_batch` adds the shards up. Every claim in status *ready* is checked (NPI, ICD-10-CM billable, pointers,
   charges, dates, payer and subscriber fields, POS, codes, units, X12-safe text), and against the payer's
   latest eligibility answer: a claim whose coverage the payer says was not active on the date of service is
   **held** (`coverage_inactive`) instead of sent; coverage not verified yet does not hold a claim.
   Failures are stored in `scrub_results` with a plain-English reason, become `scrub_holds` work items, and
   the claim stays out of the file; the rest go into 837P/837I files (one per payer and claim type, at most
   5,000 claims per transaction set).
3. **validate_file** (one per file, in parallel) — 5010 implementation-guide validation with the fast
   validator (pyx12's verdict); a file with any error is not sent.
4. **upload_file** (one per file; the `sftp_<partner>` pool caps sessions) — temporary name, rename, size check;
   a file already on the server is not sent twice.
5. **record** — totals for this run.

Safe to rerun at any point: coverages asked about today are not asked again; claims already in a file are not
batched again; files already uploaded are not sent again. Failures name the file (never patient data).
"""


@dag(
    dag_id="claims_submission",
    schedule=NIGHTLY_TIME,
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    doc_md=DOC,
    tags=["claimflow", "837", "outbound"],
    dagrun_timeout=dt.timedelta(hours=max(DEADLINE_HOURS, 1)),
)
def claims_submission() -> None:
    @task(pool=f"sftp_{PARTNER}", pool_slots=1)
    def request_eligibility(run_date: str | None = None) -> dict:
        from claimflow.services.pipeline import request_eligibility as run
        from dags.common import partner_sftp

        return run(run_date, PARTNER, lambda: partner_sftp(PARTNER))

    @task(trigger_rule="all_done")  # eligibility requests are best effort: claims go out regardless
    def plan_batches() -> list[list[int]]:
        from claimflow.services.pipeline import plan_batches as run

        return run()

    @task
    def build_batch(shard: list[int]) -> dict:
        """Scrub and write the 837s of one shard (claim id modulo CLAIMFLOW_OUTBOUND_SHARDS); the shards run
        on as many workers as there are (CeleryExecutor) and never share a claim."""
        from claimflow.services.pipeline import build_batch as run

        return run(shard)

    @task
    def scrub_and_batch(parts: list[dict]) -> dict:
        from claimflow.services.pipeline import collect_batches as run

        return run(list(parts))

    @task
    def file_ids(batch: dict) -> list[int]:
        return list(batch["interchange_ids"])

    @task(max_active_tis_per_dagrun=4)
    def validate_file(interchange_id: int) -> int:
        from claimflow.services.pipeline import validate_file as run

        return run(interchange_id)

    @task(pool=f"sftp_{PARTNER}", pool_slots=1, max_active_tis_per_dagrun=2)
    def upload_file(interchange_id: int) -> dict:
        from claimflow.services.pipeline import upload_file as run
        from dags.common import partner_sftp

        with partner_sftp(PARTNER) as (client, profile):
            return run(interchange_id, client, profile)

    @task(outlets=[Asset(SUBMITTED_ASSET_URI)], trigger_rule="all_done")
    def record(batch: dict, uploads: list[dict]) -> dict:
        from claimflow.services.pipeline import record_submission

        return record_submission(batch, list(uploads))

    shards = plan_batches()
    request_eligibility("{{ ds }}") >> shards
    batch = scrub_and_batch(build_batch.expand(shard=shards))  # type: ignore[arg-type]  # XComArg at run time
    ids = file_ids(batch)  # type: ignore[arg-type]  # XComArg resolves to the dict at run time
    valid = validate_file.expand(interchange_id=ids)
    uploads = upload_file.expand(interchange_id=valid)
    record(batch, uploads)  # type: ignore[arg-type]  # XComArgs resolve to the dict/list at run time


claims_submission_dag = claims_submission()
