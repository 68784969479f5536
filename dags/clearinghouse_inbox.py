"""clearinghouse_inbox — every 30 minutes (and after a submission): collect new files from the
clearinghouse, archive them, and load each one (TA1, 999, 277CA, 835)."""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from dags.common import INBOX_ASSET_URI, PARTNER, START, SUBMITTED_ASSET_URI, default_args

DOC = """
### Clearinghouse inbox

1. **fetch_new_files** — lists the partner's mailbox, skips files already fetched (name, size, mtime, then
   sha256), waits for files still being written, downloads to a temporary name, fsyncs, renames, and archives
   every file byte-for-byte (sha256) *before* anything parses it.
2. **load_file** (one per file) — detects the transaction (TA1, 999, 277CA, 835), parses and stores it in one
   database transaction. A malformed file is **quarantined** with the file name, segment number, segment ID and
   element in `interchanges.error`; the other files still load. The same file twice is a no-op.
3. **summarize** — what arrived, in revenue-cycle words.
"""


@dag(
    dag_id="clearinghouse_inbox",
    schedule=AssetOrTimeSchedule(
        # CLAIMFLOW_INBOX_CRON: claimflow.sandbox.scaleout points it at a date that never comes, so a test cluster
        # runs only the runs it triggers
        timetable=CronTriggerTimetable(
            os.environ.get("CLAIMFLOW_INBOX_CRON", "*/30 * * * *"), timezone="UTC"
        ),
        assets=Asset(SUBMITTED_ASSET_URI),
    ),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    doc_md=DOC,
    tags=["claimflow", "999", "277CA", "835", "inbound"],
    dagrun_timeout=dt.timedelta(hours=2),
)
def clearinghouse_inbox() -> None:
    @task(pool=f"sftp_{PARTNER}", pool_slots=1)
    def fetch_new_files() -> list[int]:
        from claimflow.services.pipeline import fetch_new_files as run
        from dags.common import partner_sftp

        with partner_sftp(PARTNER) as (client, profile):
            return run(client, profile)

    @task(max_active_tis_per_dagrun=2)
    def load_file(interchange_id: int) -> dict:
        from claimflow.services.pipeline import load_file as run

        return run(interchange_id)

    @task(outlets=[Asset(INBOX_ASSET_URI)], trigger_rule="all_done")
    def summarize(outcomes: list[dict]) -> dict:
        from claimflow.services.pipeline import summarize_inbox

        return summarize_inbox(list(outcomes))

    # mapped outputs arrive as a list at run time; the decorator's typing sees only the XComArg
    summarize(load_file.expand(interchange_id=fetch_new_files()))  # type: ignore[arg-type]


clearinghouse_inbox_dag = clearinghouse_inbox()
