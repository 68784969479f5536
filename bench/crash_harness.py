"""The long crash-consistency run: SIGKILL the nightly load → post → reconcile at N seeded kill points.

    uv run python bench/crash_harness.py --kill-points 200 --seed 1 [--backend postgresql|sqlite]
        [--jobs 2] [--claims 300] [--patients 120] [--answered N] [--launcher fork|exec]
        [--work-dir DIR] [--keep-failed]

Builds the input corpus (seeded practice → 837s → sandbox payer's 999/277CA/835, plus a corrupt and a
resent file; reused from ``--work-dir`` when it is already there), a PostgreSQL template database
(admin URL from ``CLAIMFLOW_TEST_PG_URL``, default the local trust-auth server) or SQLite template file,
one uninterrupted reference run, then for every kill point: a fresh copy, the worker killed at the
point (a quarter of the points are killed again 1-2 times during recovery), a rerun to completion, and
a comparison of every claimflow table and the data folder with the reference
(``tests/reliability/harness.py`` explains what is compared). Prints one line per kill point and
finally exactly::

    kill points: N, lost: L, duplicated: D, ledger balanced: yes|no

Exit status 0 only when nothing was lost, nothing duplicated, every ledger balanced and no run failed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.harness import (
    CrashHarness,
    PostgresBackend,
    SqliteBackend,
    TrialResult,
    build_corpus,
)
from tests.support.databases import PG_ADMIN_URL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kill-points", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1, help="seeds the kill points (the corpus is fixed)")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--jobs", type=int, default=min(4, max(2, os.cpu_count() or 2)))
    parser.add_argument("--claims", type=int, default=300)
    parser.add_argument("--patients", type=int, default=120)
    parser.add_argument(
        "--answered",
        type=int,
        default=0,
        help="answer only the first N 837 files (default 0: all 12, ~40 files to load)",
    )
    parser.add_argument(
        "--launcher",
        choices=("fork", "exec"),
        default="fork",
        help="fork: from a preloaded fork server; exec: python -m tests.reliability.crash_worker",
    )
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="corpus cache + trial folders (default: temp)"
    )
    parser.add_argument(
        "--keep-failed", action="store_true", help="keep the database and folder of failed points"
    )
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the databases on kill -TERM
    started = time.monotonic()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="claimflow-crash-"))

    def say(msg: str) -> None:
        print(f"[{time.monotonic() - started:7.1f}s] {msg}", flush=True)

    corpus = build_corpus(
        work / "corpus",
        patients=args.patients,
        claims=args.claims,
        seed=1,
        answered=args.answered or None,
        log=say,
    )
    say(f"corpus: {corpus.description}")
    backend = PostgresBackend(corpus, PG_ADMIN_URL) if args.backend == "postgresql" else SqliteBackend(corpus)
    harness = None
    try:
        harness = CrashHarness(
            corpus,
            backend,
            work / "trials",
            jobs=args.jobs,
            keep_failed=args.keep_failed,
            launcher=args.launcher,
        )
        ref = harness.reference()
        say(
            f"reference run on {backend.name}: {harness.events} database events "
            f"({', '.join(f'{n} {k}' for n, k in _events_by_phase(harness.phases).items())}), "
            f"{ref.entries} ledger entries"
        )
        plans = harness.plan(args.kill_points, seed=args.seed)

        def progress(r: TrialResult, done: int, total: int) -> None:
            say(f"[{done:>4}/{total}] {r.line()}")

        report = harness.run(plans, progress)
    finally:
        backend.close(keep=harness.kept if harness is not None else ())
    print(report.details(), flush=True)
    print(report.line(), flush=True)
    return (
        0
        if report.line().endswith("yes") and not report.lost and not report.duplicated and not report.errors
        else 1
    )


def _events_by_phase(phases: list[tuple[str, int, int]]) -> dict[str, int]:
    """receive and load alternate per file: add up each phase's events."""
    out: dict[str, int] = {}
    for name, start, end in phases:
        out[name] = out.get(name, 0) + end - start + 1
    return out


if __name__ == "__main__":
    sys.exit(main())
