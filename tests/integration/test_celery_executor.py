"""The DAGs on CeleryExecutor (issue #15): two workers, one killed mid-task, same tables as one process.

One night (claims_submission → the sandbox acknowledges and pays → clearinghouse_inbox →
nightly_reconciliation) runs twice from the same seed against the built-in sandbox clearinghouse:

* on a local Celery cluster (claimflow.sandbox.scaleout: api-server, scheduler, dag-processor, two workers; Redis
  broker, Airflow metadata and claimflow each in a PostgreSQL database of their own). While a mapped per-file
  task (an inbound file's load) is running, the worker running it is SIGKILLed with everything under it; the
  scheduler notices the missing heartbeats and the task's retry runs on the other worker;
* with ``dag.test()`` in one process (the demo's path), claimflow on PostgreSQL too.

Then claimflow's tables must be the same: claims' statuses, files by type and status, remittances, claim
payments, ledger sums, patient balances, work items. Needs PostgreSQL and Redis: fails under CI=true
when either is missing.

The sandbox's payers decide in the order 837 files arrive (deductibles are used up claim by claim, payer
claim numbers are sequential), as real payers do; so the cluster's pool ``sftp_sandbox`` gets one slot here and
the uploads go out one at a time in map-index order, the order ``dag.test()`` uses. Validation and inbound
loads still fan out over both workers.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import databases as dbs

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(900)]

REDIS_URL = os.environ.get("CLAIMFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
PATIENTS, CLAIMS, SEED = 15, 24, 11
#: the per-file task a worker is killed in: the first inbound file's load seen running
KILL_IN = ("load_file",)


def _redis_reachable() -> bool:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


@pytest.fixture
def services() -> Iterator[str]:
    """A PostgreSQL admin URL (for the databases this test creates) once both servers answer."""
    dbs.require_pg()
    if not _redis_reachable():
        dbs.service_missing(f"Redis at {REDIS_URL}")
    yield dbs.PG_ADMIN_URL


@pytest.fixture
def restore_environ() -> Iterator[None]:
    """run_nights exports claimflow's settings into os.environ (the DAG processes inherit them)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    from claimflow.settings import reset_settings_cache

    reset_settings_cache()


class WorkerKiller:
    """on_poll hook: the first time a mapped KILL_IN task instance is running, SIGKILL its worker."""

    def __init__(self) -> None:
        self.killed: dict[str, Any] | None = None

    def __call__(self, cluster: Any, dag_id: str, run_id: str) -> None:
        if self.killed is not None:
            return
        for ti in cluster.task_instances(dag_id, run_id):
            if ti["task_id"] not in KILL_IN or ti.get("map_index", -1) < 0 or ti.get("state") != "running":
                continue
            worker = cluster.worker_of_pid(int(ti.get("pid") or 0)) if ti.get("pid") else None
            if worker is None:
                continue  # not started on a worker yet (no pid): next poll
            cluster.kill_worker(worker)
            self.killed = {
                "dag_id": dag_id,
                "run_id": run_id,
                "task_id": ti["task_id"],
                "map_index": ti["map_index"],
                "worker": worker,
                "at": time.monotonic(),
            }
            return


def _snapshot(url: str) -> dict[str, Any]:
    from claimflow.db.session import make_engine
    from claimflow.sandbox.scaleout import table_snapshot

    engine = make_engine(url)
    try:
        return table_snapshot(engine)
    finally:
        engine.dispose()


def test_night_on_two_celery_workers_with_one_killed_matches_single_process(
    services: str, tmp_path: Path, restore_environ: None
) -> None:
    from claimflow.sandbox.scaleout import (
        SingleProcessRunner,
        cluster_factory,
        recreate_database,
        run_nights,
    )

    tag = f"cf_celery_{os.getpid()}"
    killer = WorkerKiller()
    clusters: list[Any] = []

    def on_start(cluster: Any) -> None:
        cluster.on_poll = killer
        clusters.append(cluster)

    cluster_db = recreate_database(services, f"{tag}_c")
    single_db = recreate_database(services, f"{tag}_s")
    try:
        celery = run_nights(
            tmp_path / "cluster",
            database_url=cluster_db,
            runner_factory=cluster_factory(
                admin_url=services,
                redis_url=REDIS_URL,
                workers=2,
                concurrency=2,
                name=tag,
                on_start=on_start,
                sftp_slots=1,
            ),
            patients=PATIENTS,
            claims=CLAIMS,
            seed=SEED,
            progress=print,
        )
        cluster = clusters[0]
        runs = {r["dag_id"]: r for r in celery["nights"]}
        assert all(r["state"] == "success" for r in celery["nights"]), celery["nights"]

        # a worker really died mid-task, and the task it was running was retried to success
        assert killer.killed is not None, "no mapped per-file task was seen running: nothing was killed"
        k = killer.killed
        key = f"{k['task_id']}[{k['map_index']}]"
        assert cluster.procs[f"worker{k['worker']}"].poll() is not None  # the killed worker stayed dead
        assert runs[k["dag_id"]]["tasks"][key] == "success"
        assert runs[k["dag_id"]]["tries"][key] >= 2, runs[k["dag_id"]]["tries"]
        # the per-file work fanned out: several mapped instances of each per-file task
        assert sum(1 for t in runs["clearinghouse_inbox"]["tasks"] if t.startswith("load_file[")) >= 2
        assert sum(1 for t in runs["claims_submission"]["tasks"] if t.startswith("upload_file[")) >= 2

        @contextlib.contextmanager
        def single(workdir: Path, env: dict[str, str]) -> Iterator[SingleProcessRunner]:
            from claimflow.sandbox.demo import _airflow_migrate

            _airflow_migrate(env, workdir / "logs" / "airflow-db-migrate.log")
            yield SingleProcessRunner(workdir, env)

        one = run_nights(
            tmp_path / "single",
            database_url=single_db,
            runner_factory=single,
            patients=PATIENTS,
            claims=CLAIMS,
            seed=SEED,
            progress=print,
        )
        assert all(r["state"] == "success" for r in one["nights"]), one["nights"]

        # the night did something worth comparing
        assert celery["figures"]["claims_submitted"] > 0
        assert celery["figures"]["remittances"] > 0
        a, b = _snapshot(cluster_db), _snapshot(single_db)
        for table in b:
            only_a = [r for r in a[table] if r not in b[table]]
            only_b = [r for r in b[table] if r not in a[table]]
            assert a[table] == b[table], (
                f"{table}: cluster only {only_a[:5]}, single process only {only_b[:5]}"
            )
        assert celery["figures"] == one["figures"]
        # exactly once: every file loaded once, every ledger transaction key once per account
        assert all(row[2] != "quarantined" for row in a["interchanges"]), a["interchanges"]
    finally:
        with contextlib.suppress(Exception):
            for name in (f"{tag}_c", f"{tag}_s", f"{tag}_airflow"):
                _drop(services, name)


def _drop(admin_url: str, name: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
