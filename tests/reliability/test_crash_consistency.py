"""SIGKILL anywhere in the night (receive + load → acknowledgments → posting → reconciliation → balance
proof), rerun, and the database and data folder are exactly what one uninterrupted run leaves: nothing
lost, nothing twice, the ledger balanced.

The harness (``tests/reliability/harness.py``) kills :mod:`tests.reliability.crash_worker` at seeded,
stratified event numbers (SQL statements, COMMITs, file-system steps) spread over the whole run and
right after each distinct file-system step (before/after an event, or in flight), some of them several
times in a row, and compares every claimflow table and the data folder with a reference run. The long
run is ``uv run python bench/crash_harness.py --kill-points 200 --seed 1``.

Under ``CI=true`` an unreachable PostgreSQL fails the PostgreSQL test instead of skipping it.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text, update

from claimflow.db.models import Interchange
from claimflow.db.session import make_engine
from claimflow.services.inbound import load_interchange, receive_file
from claimflow.settings import Settings
from tests.reliability.harness import (
    PHASES,
    Corpus,
    CrashHarness,
    Kill,
    KillPlan,
    PostgresBackend,
    Report,
    SqliteBackend,
    compare,
    ledger_check,
    snapshot,
)
from tests.support import databases as dbs

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

SEED = 20261125
PG_KILL_POINTS = int(os.environ.get("CLAIMFLOW_CRASH_PG_KILL_POINTS", "20"))
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
def test_sigkill_anywhere_recovers_exactly_on_postgres(
    crash_pg_admin_url: str, crash_corpus: Corpus, tmp_path: Path
) -> None:
    backend = PostgresBackend(crash_corpus, crash_pg_admin_url)
    try:
        report = _run(CrashHarness(crash_corpus, backend, tmp_path, jobs=JOBS), PG_KILL_POINTS)
    finally:
        backend.close()
    _assert_recovered_exactly(report, PG_KILL_POINTS)
    planned = {
        r.plan.phase for r in report.results
    }  # deterministic (seeded); where "during" kills land is not
    assert set(PHASES) <= planned, f"kill points by phase: {sorted(planned)}"


def test_sigkill_anywhere_recovers_exactly_on_sqlite_wal(crash_corpus: Corpus, tmp_path: Path) -> None:
    """SQLite in WAL mode with synchronous=FULL (claimflow.db.session) survives SIGKILL too."""
    engine = make_engine(dbs.migrated_sqlite(tmp_path / "pragmas.db"))
    with engine.connect() as conn:  # the settings every connection of the worker gets
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    engine.dispose()
    backend = SqliteBackend(crash_corpus)
    report = _run(CrashHarness(crash_corpus, backend, tmp_path, jobs=JOBS), SQLITE_KILL_POINTS)
    _assert_recovered_exactly(report, SQLITE_KILL_POINTS)


def test_the_comparison_sees_lost_duplicated_and_half_done_rows(crash_corpus: Corpus, tmp_path: Path) -> None:
    """The harness's teeth: a comparison that cannot fail proves nothing."""
    backend = SqliteBackend(crash_corpus)
    harness = CrashHarness(crash_corpus, backend, tmp_path / "work", jobs=1)
    url, data = backend.fresh(tmp_path), tmp_path / "data"
    rc, out = harness._worker(url, data, None, output=tmp_path / "worker.log")
    assert rc == 0, out
    engine = make_engine(url)
    try:
        before = snapshot(engine, data)
        assert compare(before, snapshot(engine, data)) == []
        assert ledger_check(engine).balanced
        with engine.begin() as conn:
            # a posting lost as a whole (its two rows: the ledger still balances)
            key = conn.execute(
                text("SELECT MIN(txn_key) FROM ledger_entries WHERE txn_key LIKE 'pay:%'")
            ).scalar()
            conn.execute(text("DELETE FROM ledger_entries WHERE txn_key = :k"), {"k": key})
            # a file loaded twice, as its audit trail would show it
            conn.execute(
                text(
                    "INSERT INTO audit_log (at, actor, action, object_type, object_id, detail) "
                    "SELECT at, actor, action, object_type, object_id, detail FROM audit_log "
                    "WHERE action = 'file_loaded' ORDER BY id LIMIT 1"
                )
            )
            # half done: a claim payment whose posting mark is gone
            conn.execute(
                text(
                    "UPDATE claim_payments SET posted_at = NULL "
                    "WHERE id = (SELECT MIN(id) FROM claim_payments WHERE posted_at IS NOT NULL)"
                )
            )
        (next((data / "archive").iterdir()) / ".leftover.tmp").write_bytes(b"ISA")
        diffs = {d.table: (d.lost, d.duplicated) for d in compare(before, snapshot(engine, data))}
        assert diffs == {
            "ledger_entries": (2, 0),
            "audit_log": (0, 1),
            "claim_payments": (1, 1),
            "(data folder)": (0, 1),
        }
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE ledger_entries SET amount = amount + 1 "
                    "WHERE id = (SELECT MIN(id) FROM ledger_entries)"
                )
            )
        check = ledger_check(engine)
        assert not check.balanced and check.unbalanced_txns == 1
    finally:
        engine.dispose()


def test_quarantine_copy_survives_a_kill_at_every_step(crash_corpus: Corpus, tmp_path: Path) -> None:
    """The quarantine copy of a bad file (PHI) is written like the archive: temporary name, mode 0600, fsync,
    rename. A kill after any of those steps must leave neither a partial nor a world-readable copy once the
    night is rerun. (This harness found the earlier copy-then-chmod version leaving a 0644 copy for good.)"""
    harness = CrashHarness(crash_corpus, SqliteBackend(crash_corpus), tmp_path, jobs=1)
    harness.reference()
    steps = [
        ev
        for ev in harness.fs_steps()
        if ev[1] == "load" and ev[0] >= min(e[0] for e in harness.fs_steps() if e[3] == "quarantine")
    ][:4]
    assert steps, f"no quarantine copy in the reference run: {harness.fs_steps()}"
    plans = [
        KillPlan(n, (Kill(ev[0], "after"),), ev[1], f"{ev[2]} quarantine")
        for n, ev in enumerate(steps, start=1)
    ]
    report = harness.run(plans)
    print(report.details())
    _assert_recovered_exactly(report, len(plans))


def test_a_rerun_racing_the_killed_runs_commit_reports_already_loaded(
    engine: Engine, crash_corpus: Corpus, tmp_path: Path
) -> None:
    """SIGKILL can land after the COMMIT of a load was sent: PostgreSQL finishes that commit while the
    rerun has already read the file as ``received`` (on either backend the same happens with two loaders
    of one file, e.g. a retried Airflow task and its zombie). The rerun then waits for the row
    (PostgreSQL) / the write lock (SQLite) in ``_lock_for_write``, finds ``loaded``, and must report the
    file as already loaded ("A file already loaded is a no-op"), not fail the night with an exception."""
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False), data_dir=tmp_path / "data"
    )
    path = next(p for p in crash_corpus.files if p.suffix == ".999")
    interchange_id, _ = receive_file(engine, path, partner="sandbox", settings=settings)
    dying = engine.connect()
    commit_in_flight = dying.begin()  # the killed run's load, its COMMIT still on the way
    dying.execute(update(Interchange).where(Interchange.id == interchange_id).values(status="loaded"))
    result: dict[str, Any] = {}

    def rerun() -> None:
        try:
            result["outcome"] = load_interchange(engine, interchange_id, actor="rerun", settings=settings)
        except Exception as exc:
            result["error"] = exc

    thread = threading.Thread(target=rerun)
    thread.start()
    try:
        _wait_until_blocked(engine, thread)
    finally:
        commit_in_flight.commit()
        dying.close()
        thread.join(60)
    assert "error" not in result, (
        f"load_interchange raised {result['error']!r} instead of returning already_loaded "
        "(claimflow/services/inbound.py: _lock_for_write raises _AlreadyHandled, which load_interchange never catches)"
    )
    assert result["outcome"].status == "already_loaded"


def _wait_until_blocked(engine: Engine, thread: threading.Thread) -> None:
    """Until the rerun waits for the lock (PostgreSQL: seen in pg_stat_activity; SQLite: give it time)."""
    if engine.dialect.name != "postgresql":
        time.sleep(1.5)
        return
    deadline = time.monotonic() + 20
    with engine.connect() as conn:
        while time.monotonic() < deadline and thread.is_alive():
            waiting = conn.execute(
                text(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar()
            if waiting:
                return
            conn.rollback()
            time.sleep(0.05)
    raise AssertionError("the rerun never waited for the interchange row lock")
