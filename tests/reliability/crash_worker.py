"""One whole night of inbound work, as a child process the crash harness can SIGKILL anywhere.

    python -m tests.reliability.crash_worker DB_URL DATA_DIR FILES... [--run-date D]
        [--kill-at N --kill-mode before|after|during [--kill-delay-ms MS]] [--trace OUT.json]
        [--kill-log KILLS.txt]

The night, in the order the DAGs run it: receive (archive + register) and load every file, apply
acknowledgments, post remittances, reconcile, balance proof, data-quality checks. Every step is one of
claimflow's own idempotent entry points and nothing here remembers what an earlier (killed) run did, so
rerunning the worker from *any* state the database and data folder were left in must end in the same
state as one uninterrupted run. That is what the harness checks.

Kill points are numbered **events**, in the order this process causes them: every statement SQLAlchemy
sends (``before_cursor_execute``), every COMMIT (``commit``) and every file-system step claimflow takes
(``os.open`` creating a file, ``os.fsync``, ``os.replace``, ``os.chmod``, ``shutil.copyfile``,
``shutil.copyfileobj`` — archive and quarantine writes). A run from a given starting state causes the
same sequence every time, so ``--kill-at N`` is a precise, reproducible point:

* ``before`` — SIGKILL just before event N happens (the statement is never sent, the COMMIT never
  issued, the file not yet copied / renamed / chmod-ed);
* ``after``  — SIGKILL right after event N returned (a statement's effects exist only in the open
  transaction; a file step is done but the next is not); for a COMMIT, at the next event (there is no
  after-commit hook), i.e. after the commit returned;
* ``during`` — a timer fires SIGKILL ``--kill-delay-ms`` after event N starts: in flight, mid-statement,
  mid-COPY, mid-fsync of the SQLite WAL, mid file copy, or wherever the run is by then.

PostgreSQL ``COPY`` blocks (the loader's bulk path) go through the raw driver cursor, not SQLAlchemy, so
they are not numbered themselves; they are covered by ``during`` kills and by kills at the events
around them. The process kills *itself* with SIGKILL: no ``finally`` blocks, no rollback, no atexit —
exactly what the OOM killer or ``kill -9`` does.

``--trace`` writes, after a complete run, the number of events, where each phase began and each
file-system event (the harness draws kill points from it). ``--kill-log`` gets one line
``<event> <phase> <mode>`` appended just before the kill, so the harness knows which phase each kill hit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

ACTOR = "crash-harness"
DEFAULT_RUN_DATE = dt.date(2026, 11, 25)


_fsync = os.fsync  # the real one, for the kill log (never counted)


class Killer:
    """Numbers events (statements, COMMITs, file-system steps) and SIGKILLs this process at the chosen one."""

    def __init__(
        self, at: int | None, mode: str, delay_ms: int, log_path: Path | None, data_dir: Path | None = None
    ) -> None:
        self.at = at
        self.mode = mode
        self.delay = delay_ms / 1000.0
        self.log_path = log_path
        self.data_dir = str(data_dir) + os.sep if data_dir is not None else None
        self.count = 0
        self.phase = "start"
        self.phases: list[tuple[str, int, float]] = []
        self.fs_events: list[tuple[int, str, str, str]] = []  # (event, phase, operation, area)
        self.started = time.monotonic()
        self._die_next = False
        self._statement = 0
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
                _fsync(f.fileno())
        os.kill(os.getpid(), signal.SIGKILL)

    def _before(self, kind: str) -> int:
        """Number the event about to happen; kill now if that is the plan. Returns the event number."""
        if self._die_next:
            self.die()
        self.count += 1
        if self.at is not None and self.count == self.at:
            if self.mode == "before":
                self.die()
            elif self.mode == "after" and kind == "commit":
                self._die_next = True  # no after-commit hook: die at the next event (or at the end)
            elif self.mode == "during":
                self._timer = threading.Timer(self.delay, self.die)
                self._timer.start()  # not a daemon: a run that finishes first is still killed
        return self.count

    def _after(self, number: int) -> None:
        if self.mode == "after" and number == self.at and not self._die_next:
            self.die()

    # SQLAlchemy event hooks -------------------------------------------------------------------------
    def before_execute(self, *_args: Any, **_kw: Any) -> None:
        self._statement = self._before("statement")

    def after_execute(self, *_args: Any, **_kw: Any) -> None:
        self._after(self._statement)

    def before_commit(self, *_args: Any, **_kw: Any) -> None:
        self._before("commit")

    # file-system steps --------------------------------------------------------------------------------
    def _area(self, target: Any) -> str:
        if isinstance(target, int):
            return "fd"
        path = os.fspath(target) if isinstance(target, str | os.PathLike) else ""
        if self.data_dir and str(path).startswith(self.data_dir):
            return str(path)[len(self.data_dir) :].split(os.sep, 1)[0]
        return "elsewhere"

    def _wrap(self, module: Any, name: str, counted: Any = None) -> None:
        original = getattr(module, name)

        def step(*args: Any, **kw: Any) -> Any:
            if counted is not None and not counted(*args, **kw):
                return original(*args, **kw)
            number = self._before("fs")
            target = (
                args[1]
                if name in ("copyfile", "replace", "copyfileobj") and len(args) > 1
                else (args[0] if args else None)
            )
            if not isinstance(target, str | os.PathLike | int):
                target = getattr(target, "name", None)  # a file object: its path (or fd)
            self.fs_events.append((number, self.phase, name, self._area(target)))
            result = original(*args, **kw)
            self._after(number)
            return result

        setattr(module, name, step)

    def install(self) -> None:
        event.listen(Engine, "before_cursor_execute", self.before_execute)
        event.listen(Engine, "after_cursor_execute", self.after_execute)
        event.listen(Engine, "commit", self.before_commit)
        self._wrap(os, "open", lambda _path, flags, *_a, **_k: bool(flags & os.O_CREAT))
        for name in ("fsync", "replace", "chmod"):
            self._wrap(os, name)
        for name in ("copyfile", "copyfileobj"):
            self._wrap(shutil, name)

    def finish(self) -> None:
        """End of a complete run: an ``after`` kill of the last COMMIT, or a ``during`` timer that has
        not fired yet, still kills the process."""
        if self._die_next:
            self.die()
        if self._timer is not None:
            self._timer.join()


def run_night(
    db_url: str, data_dir: Path, files: list[Path], run_date: dt.date, killer: Killer
) -> dict[str, Any]:
    from adjudication.acks import apply_acknowledgments
    from adjudication.posting import post_remittances
    from adjudication.reconcile import balance_proof, data_quality_checks, reconcile
    from claimflow.db.session import make_engine
    from claimflow.services.inbound import load_interchange, receive_file
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
        "posted": {
            k: posted[k]
            for k in (
                "claim_payments_posted",
                "reversals_posted",
                "plb_posted",
                "ledger_entries",
                "unmatched_new",
            )
        },
        "claims": summary["claims"],
        "balance_exceptions": proof["unexplained"],
        "data_quality_problems": len(problems),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.reliability.crash_worker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("db_url")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--run-date", type=dt.date.fromisoformat, default=DEFAULT_RUN_DATE)
    parser.add_argument(
        "--kill-at",
        type=int,
        default=None,
        help="event to kill at (1-based: statements, COMMITs, file-system steps)",
    )
    parser.add_argument("--kill-mode", choices=("before", "after", "during"), default="before")
    parser.add_argument("--kill-delay-ms", type=int, default=0, help="for --kill-mode during")
    parser.add_argument(
        "--trace",
        type=Path,
        default=None,
        help="write the event count, phase starts and file-system events here",
    )
    parser.add_argument("--kill-log", type=Path, default=None, help="append '<event> <phase> <mode>' on kill")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    killer = Killer(args.kill_at, args.kill_mode, args.kill_delay_ms, args.kill_log, args.data_dir)
    killer.install()
    result = run_night(args.db_url, args.data_dir, args.files, args.run_date, killer)
    killer.finish()
    if args.trace is not None:
        args.trace.write_text(
            json.dumps({"events": killer.count, "phases": killer.phases, "fs_events": killer.fs_events})
        )
    print(json.dumps(result, sort_keys=True))
    return 0


#: What the harness's fork server imports once, so a forked worker starts in milliseconds.
PRELOAD = (
    "tests.reliability.crash_worker",
    "adjudication.acks",
    "adjudication.posting",
    "adjudication.reconcile",
    "claimflow.services.inbound",
    "claimflow.settings",
    "claimflow.db.session",
    "parsers",
    "parsers.detect",
    "eob.balance",
    "edi.reader",
    "sqlalchemy.dialects.postgresql.psycopg",
    "sqlalchemy.dialects.sqlite",
)


def forked_main(argv: list[str], output: str) -> None:
    """Entry point in a process forked from the harness's preloaded fork server: the same as the
    command line, with stdout and stderr going to ``output``."""
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - the process ends with os._exit below
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    try:
        code = main(argv)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
