"""Child process of ``claimflow demo``: run one DAG with ``dag.test()`` and write its outcome as JSON.

``python -m claimflow.sandbox.demo_runner DAG_ID YYYY-MM-DD RESULT.json``
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from claimflow.db.at_rest import private_umask

    private_umask()  # everything the DAG writes is private (tasks set it too; this covers Airflow's own files)
    dag_id, day, result_path = argv[0], dt.date.fromisoformat(argv[1]), Path(argv[2])
    from airflow.sdk import DAG

    module = importlib.import_module(f"dags.{dag_id}")
    dag = next(v for v in vars(module).values() if isinstance(v, DAG) and v.dag_id == dag_id)
    logical = dt.datetime(day.year, day.month, day.day, 1, 30, tzinfo=dt.UTC)
    run = dag.test(logical_date=logical)
    tasks = {}
    for ti in run.get_task_instances():
        key = ti.task_id + (f"[{ti.map_index}]" if ti.map_index is not None and ti.map_index >= 0 else "")
        tasks[key] = str(ti.state.value if hasattr(ti.state, "value") else ti.state)
    state = str(run.state.value if hasattr(run.state, "value") else run.state)
    result_path.write_text(json.dumps({"dag_id": dag_id, "state": state, "tasks": tasks}))
    return 0 if state == "success" else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
