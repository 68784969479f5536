"""One whole night of inbound work, as a child process the crash harness can SIGKILL anywhere.

    python -m tests.reliability.crash_worker DB_URL DATA_DIR FILES... [--run-date D]
        [--kill-at N --kill-mode before|after|during [--kill-delay-ms MS]] [--trace OUT.json]
        [--kill-log KILLS.txt]

The night, in the order the DAGs run it: receive (archive + register) and load every file, apply
acknowledgments, post remittances, reconcile, balance proof, data-quality checks. Every step is one of
claimflow's own idempotent entry points and nothing here remembers what an earlier (killed) run did, so
rerunning the worker from *any* state the database and data folder were left in must end in the same
state as one uninterrupted run. That is what the harness checks.

Kill points are counted in **database events**: every statement SQLAlchemy sends (``before_cursor_execute``)
and every COMMIT (``commit``), numbered from 1 in the order this process issues them. A run from a given
starting state issues the same sequence every time, so ``--kill-at N`` is a precise, reproducible point:

* ``before`` — SIGKILL just before event N reaches the database (the statement is never sent, or the
  COMMIT is never issued);
* ``after``  — SIGKILL right after statement N returned (its effects exist only in the open transaction);
  for a COMMIT, at the next event (after the commit returned);
* ``during`` — a timer fires SIGKILL ``--kill-delay-ms`` after event N starts: in flight, mid-statement,
  mid-COPY, mid-fsync of the SQLite WAL, or mid file copy into the archive.

PostgreSQL ``COPY`` blocks (the loader's bulk path) go through the raw driver cursor, not SQLAlchemy, so
they are not numbered themselves; they are covered by ``during`` kills and by kills at the statements
around them. The process kills *itself* with SIGKILL: no ``finally`` blocks, no rollback, no atexit —
exactly what the OOM killer or ``kill -9`` does.

``--trace`` writes, after a complete run, the number of events and where each phase began (the harness
draws kill points from it). ``--kill-log`` gets one line ``<event> <phase> <mode>`` appended just
before the kill, so the harness knows which phase each kill hit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

ACTOR = "crash-harness"
DEFAULT_RUN_DATE = dt.date(2026, 11, 25)


class Killer:
    """Numbers database events and SIGKILLs this process at the chosen one."""

    def __init__(self, at: int | None, mode: str, delay_ms: int, log_path: Path | None) -> None:
        self.at = at
        self.mode = mode
        self.delay = delay_ms / 1000.0
        self.log_path = log_path
        self.count = 0
        self.phase = "start"
        self.phases: list[tuple[str, int, float]] = []
        self.started = time.monotonic()
        self._die_next = False
        self._timer: threading.Timer | None = None

    def enter(self, phase: str) -> None:
        self.phase = phase
        if not self.phases or self.phases[-1][0] != phase:
            self.phases.append((phase, self.count + 1, round(time.monotonic() - self.started, 3)))

    def die(self) -> None:
        if self.log_path is not None:
            with self.log_path.open("a") as f:
                f.write(f"{self.count} {self.phase} {self.mode}\n")
                f.flush()
                os.fsync(f.fileno())
        os.kill(os.getpid(), signal.SIGKILL)

    def _event(self, kind: str) -> None:
        if self._die_next:
            self.die()
        self.count += 1
        if self.at is None or self.count != self.at:
            return
        if self.mode == "before":
            self.die()
        elif self.mode == "after" and kind == "commit":
            self._die_next = True  # there is no after-commit event: die at the next one (or at the end)
        elif self.mode == "during":
            self._timer = threading.Timer(self.delay, self.die)
            self._timer.start()  # not a daemon: even a run that finishes first is killed when it fires

    # SQLAlchemy event hooks -------------------------------------------------------------------------
    def before_execute(self, *_args: Any, **_kw: Any) -> None:
        self._event("statement")

    def after_execute(self, *_args: Any, **_kw: Any) -> None:
        if self.mode == "after" and self.at is not None and self.count == self.at and not self._die_next:
            self.die()

    def before_commit(self, *_args: Any, **_kw: Any) -> None:
        self._event("commit")

    def install(self) -> None:
        event.listen(Engine, "before_cursor_execute", self.before_execute)
        event.listen(Engine, "after_cursor_execute", self.after_execute)
        event.listen(Engine, "commit", self.before_commit)

    def finish(self) -> None:
        """End of a complete run: an ``after`` kill of the last COMMIT still happens."""
        if self._die_next:
            self.die()


def run_night(db_url: str, data_dir: Path, files: list[Path], run_date: dt.date, killer: Killer) -> dict[str, Any]:
    from adjudication.acks import apply_acknowledgments
    from adjudication.posting import post_remittances
    from adjudication.reconcile import balance_proof, data_quality_checks, reconcile
    from claimflow.db.session import make_engine
    from claimflow.inbound import load_interchange, receive_file
    from claimflow.settings import Settings

    settings = Settings(database_url=db_url, data_dir=data_dir)
    engine = make_engine(db_url)
    outcomes: dict[str, int] = {}
    try:
        for path in files:
            killer.enter("receive")
            interchange_id, _new = receive_file(engine, path, partner="sandbox", settings=settings)
            killer.enter("load")
            outcome = load_interchange(engine, interchange_id, actor=ACTOR, settings=settings)
            outcomes[outcome.status] = outcomes.get(outcome.status, 0) + 1
        killer.enter("acks")
        acks = apply_acknowledgments(engine, actor=ACTOR)
        killer.enter("post")
        posted = post_remittances(engine, actor=ACTOR, as_of=run_date)
        killer.enter("reconcile")
        summary = reconcile(engine, run_date, actor=ACTOR)
        killer.enter("balance_proof")
        proof = balance_proof(engine, run_date)
        killer.enter("data_quality")
        problems = data_quality_checks(engine, run_date)
        killer.enter("end")
    finally:
        engine.dispose()
    return {
        "files": outcomes,
        "acks": acks,
        "posted": {k: posted[k] for k in ("claim_payments_posted", "reversals_posted", "plb_posted",
                                          "ledger_entries", "unmatched_new")},
        "claims": summary["claims"],
        "balance_exceptions": proof["unexplained"],
        "data_quality_problems": len(problems),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.crash_worker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db_url")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--run-date", type=dt.date.fromisoformat, default=DEFAULT_RUN_DATE)
    parser.add_argument("--kill-at", type=int, default=None, help="database event number to kill at (1-based)")
    parser.add_argument("--kill-mode", choices=("before", "after", "during"), default="before")
    parser.add_argument("--kill-delay-ms", type=int, default=0, help="for --kill-mode during")
    parser.add_argument("--trace", type=Path, default=None, help="write event count and phase starts here")
    parser.add_argument("--kill-log", type=Path, default=None, help="append '<event> <phase> <mode>' on kill")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    killer = Killer(args.kill_at, args.kill_mode, args.kill_delay_ms, args.kill_log)
    killer.install()
    result = run_night(args.db_url, args.data_dir, args.files, args.run_date, killer)
    killer.finish()
    if args.trace is not None:
        args.trace.write_text(json.dumps({"events": killer.count, "phases": killer.phases}))
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
