"""SIGKILL anywhere in the night (receive + load → acknowledgments → posting → reconciliation → balance
proof), rerun, and the database and data folder are exactly what one uninterrupted run leaves: nothing
lost, nothing twice, the ledger balanced.

The harness (``tests/reliability/harness.py``) kills :mod:`tests.reliability.crash_worker` at seeded,
stratified database-event numbers spread over the whole run (before/after an event, or in flight), some
of them several times in a row, and compares every claimflow table with a reference run. The long run
is ``uv run python bench/crash_harness.py --kill-points 200 --seed 1``.

Under ``CI=true`` an unreachable PostgreSQL fails the PostgreSQL test instead of skipping it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability.harness import Corpus, CrashHarness, PostgresBackend, Report, SqliteBackend
from tests.support import databases as dbs

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

SEED = 20261125
PG_KILL_POINTS = int(os.environ.get("CLAIMFLOW_CRASH_PG_KILL_POINTS", "24"))
SQLITE_KILL_POINTS = int(os.environ.get("CLAIMFLOW_CRASH_SQLITE_KILL_POINTS", "7"))
JOBS = min(4, max(2, os.cpu_count() or 2))


def _run(harness: CrashHarness, n: int) -> Report:
    reference = harness.reference()
    assert reference.entries > 0 and reference.balanced, reference
    report = harness.run(harness.plan(n, seed=SEED))
    print(report.details())
    print(report.line())
    return report


def _assert_recovered_exactly(report: Report, n: int) -> None:
    assert len(report.results) == n
    assert not report.errors, report.details()
    assert report.kills >= n, f"only {report.kills} SIGKILLs landed for {n} kill points\n{report.details()}"
    assert (report.lost, report.duplicated, report.balanced) == (0, 0, True), report.details()


@pytest.mark.postgres
def test_sigkill_anywhere_recovers_exactly_on_postgres(crash_corpus: Corpus, tmp_path: Path) -> None:
    if not dbs.pg_reachable():
        dbs.service_missing(f"PostgreSQL at {dbs.PG_ADMIN_URL}")
    backend = PostgresBackend(crash_corpus, dbs.PG_ADMIN_URL)
    try:
        report = _run(CrashHarness(crash_corpus, backend, tmp_path, jobs=JOBS), PG_KILL_POINTS)
    finally:
        backend.close()
    _assert_recovered_exactly(report, PG_KILL_POINTS)
    hit = report.phases_hit()
    assert {"load", "acks", "post", "reconcile"} <= set(hit), f"kills by phase: {dict(hit)}"


def test_sigkill_anywhere_recovers_exactly_on_sqlite_wal(crash_corpus: Corpus, tmp_path: Path) -> None:
    """SQLite in WAL mode with synchronous=FULL (claimflow.db.session) survives SIGKILL too."""
    from claimflow.db.session import make_engine

    engine = make_engine(dbs.migrated_sqlite(tmp_path / "pragmas.db"))
    with engine.connect() as conn:  # the settings every connection of the worker gets
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    engine.dispose()
    backend = SqliteBackend(crash_corpus)
    report = _run(CrashHarness(crash_corpus, backend, tmp_path, jobs=JOBS), SQLITE_KILL_POINTS)
    _assert_recovered_exactly(report, SQLITE_KILL_POINTS)
