"""Night 2's database stages on a copy of a database stopped before them, with a statement profile.

    uv run python bench/bench_cycle.py --claims 1000000 --seed-cache --shards 2 --stop-before nightly
    uv run python bench/bench_night2.py --from cf_cycle_1a2b3c4d --data-dir /tmp/cf_cycle_1a2b3c4d-xxxx/data \
        [--top 12] [--rerun] [--keep]

Why: at 1,000,000 claims the ``nightly_reconciliation`` stages (acknowledgments, posting, reconciliation, proof,
data quality, report) are single set-based SQL transactions whose time is PostgreSQL's. A whole
``bench_cycle.py`` night takes ~45 minutes of which those stages are ~15; this script reruns only them, each
time on a fresh copy (``CREATE DATABASE … TEMPLATE``, file by file) of the database that ``--stop-before
nightly`` left behind, so a change to their SQL can be measured in minutes, and it says which statements
the time went to.

Stages run in ``bench_cycle.py``'s order through the same ``claimflow.services.pipeline`` functions (the
patient-payment CSV import included). Per stage: wall seconds, and the ``--top`` statements by total time
(first line of the SQL text, calls, seconds). The copy is dropped at the end unless ``--keep``. The figures
are not the whole night's: planner statistics and cumulative counters of the copy start where the source
database's catalog left them, so confirm a change with a whole ``bench_cycle.py`` run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cycle import ADMIN, _patient_payments_csv

_SPACE = re.compile(r"\s+")


class StatementProfile:
    """Wall time per SQL statement text (whitespace folded, first 110 characters), from SQLAlchemy's cursor
    events on every engine of this process."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._start: dict[int, float] = {}

    def install(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self._start[id(cursor)] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        t0 = self._start.pop(id(cursor), None)
        if t0 is None:
            return
        key = _SPACE.sub(" ", statement).strip()[:110]
        self.seconds[key] += time.perf_counter() - t0
        self.calls[key] += 1

    def take(self, top: int) -> list[tuple[float, int, str]]:
        rows = sorted(((s, self.calls[k], k) for k, s in self.seconds.items()), reverse=True)[:top]
        self.seconds.clear()
        self.calls.clear()
        return rows


def _data_quality(pipeline: Any, run_date: str) -> dict[str, Any]:
    from claimflow.errors import DataQualityError

    try:
        return pipeline.data_quality(run_date)  # type: ignore[no-any-return]
    except DataQualityError as exc:  # reported, as bench_cycle does: the stage's time still counts
        return {"problems": str(exc)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--from", dest="source", required=True, help="database left by bench_cycle --stop-before nightly"
    )
    ap.add_argument("--data-dir", required=True, help="its CLAIMFLOW_DATA_DIR (printed by bench_cycle)")
    ap.add_argument("--run-date", default=None, help="night 2's date (default: today, as bench_cycle uses)")
    ap.add_argument("--payments", type=int, default=5000)
    ap.add_argument("--top", type=int, default=12, help="statements listed per stage")
    ap.add_argument("--rerun", action="store_true", help="then run the stages again (the idempotent rerun)")
    ap.add_argument("--keep", action="store_true", help="keep the copy")
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args(argv)

    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from claimflow.db.session import make_engine

    admin = make_engine(ADMIN, isolation_level="AUTOCOMMIT")
    name = f"cf_night2_{uuid.uuid4().hex[:8]}"
    t0 = time.perf_counter()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{args.source}"'))
    print(f"copied {args.source} -> {name} in {time.perf_counter() - t0:.1f} s (not timed)", flush=True)
    url = make_url(ADMIN).set(database=name).render_as_string(hide_password=False)
    os.environ.update({"CLAIMFLOW_DATABASE_URL": url, "CLAIMFLOW_DATA_DIR": args.data_dir})
    from claimflow.settings import reset_settings_cache

    reset_settings_cache()
    from claimflow.db.migrate import current_revision, upgrade

    # The copy is brought to this checkout's schema first, as a deployment migrates before its next night
    # (a source stopped by an older checkout lacks later migrations, e.g. 0015's index changes).
    before = current_revision(url)
    upgrade(url)
    after = current_revision(url)
    if after != before:
        print(f"migrated the copy {before} -> {after} (not timed)", flush=True)
    from adjudication.patient_payments import import_payments_csv
    from claimflow.db.session import get_engine
    from claimflow.services import pipeline

    run_date = args.run_date or dt.date.today().isoformat()
    engine = get_engine()
    csv_path = Path(args.data_dir) / f"patient-payments-bench-night2-{name}.csv"
    n_pay = _patient_payments_csv(engine, csv_path, dt.date.fromisoformat(run_date), args.payments)
    profile = StatementProfile()
    profile.install()
    stages = [
        ("apply_acknowledgments", pipeline.apply_acknowledgments),
        (
            "import_patient_payments",
            lambda: import_payments_csv(engine, csv_path, actor="bench:payments-import"),
        ),
        ("post_remittances", lambda: pipeline.post_remittances(run_date)),
        ("reconcile", lambda: pipeline.reconcile_balances(run_date)),
        ("balance_proof", lambda: pipeline.balance_proof(run_date)),
        ("data_quality", lambda: _data_quality(pipeline, run_date)),
        ("run_report", lambda: pipeline.run_report(run_date)),
    ]
    result: dict[str, Any] = {"source": args.source, "copy": name, "payments": n_pay, "passes": []}
    try:
        for attempt in range(2 if args.rerun else 1):
            print(f"pass {attempt + 1}" + (" (rerun)" if attempt else ""), flush=True)
            times: dict[str, float] = {}
            for key, fn in stages:
                s0 = time.perf_counter()
                out = fn()
                times[key] = round(time.perf_counter() - s0, 2)
                summary = json.dumps(out, default=str)
                print(f"  {key:<26} {times[key]:8.2f} s   {summary[:160]}", flush=True)
                for seconds, calls, stmt in profile.take(args.top):
                    if seconds >= 0.05:
                        print(f"      {seconds:8.2f} s  ×{calls:<6} {stmt}")
            total = round(sum(times.values()), 2)
            print(f"  {'TOTAL':<26} {total:8.2f} s", flush=True)
            result["passes"].append({"seconds": times, "total": total})
    finally:
        engine.dispose()
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            csv_path.unlink(missing_ok=True)
        else:
            print(f"kept {name}")
    line = json.dumps(result)
    print(line)
    if args.json_out:
        Path(args.json_out).write_text(line + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
