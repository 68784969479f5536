"""``claimflow cluster run``: the same DAGs on Airflow's CeleryExecutor, N workers on this machine.

Why this exists: one machine running ``dag.test()`` (the demo) proves the pipeline, not that it survives being
spread over workers. Here the unchanged DAGs run under a real scheduler with Redis as Celery broker and
PostgreSQL as Airflow's metadata database; per-file work (``validate_file``/``upload_file`` in
``claims_submission``, ``load_file`` in ``clearinghouse_inbox``) fans out across the workers by dynamic task
mapping. A worker that dies mid-task leaves its task instance ``running`` without heartbeats; the scheduler
fails it after ``task_instance_heartbeat_timeout`` and the task's retries (dags/common.py) run it again on a
surviving worker, where claimflow's own guarantees (one transaction per file, ledger unique by
``(txn_key, account)``, files unique by sha256) make the second try a no-op for whatever the first finished.

What :class:`CeleryCluster` starts, all under one workdir with one shared configuration (environment only,
no airflow.cfg edits): ``airflow api-server`` (REST + the execution API the workers' task SDK talks to, on a
free loopback port, a fresh JWT secret), ``airflow scheduler``, ``airflow dag-processor`` and N ×
``airflow celery worker``, each worker in its own process group so it can be killed as a whole, like a
machine that is lost. claimflow's database is a PostgreSQL database of its own, separate from Airflow's.

The REST API runs with the simple auth manager's "everyone is admin" switch, bound to 127.0.0.1: this is a
local cluster for tests and sizing, not a deployment (docs/OPERATIONS.md says what production needs).

A night (:func:`run_nights`) is the demo's sequence on one run date: ``claims_submission``; the sandbox
clearinghouse acknowledges and its payers run their payment cycle; ``clearinghouse_inbox``;
``nightly_reconciliation``. The DAGs stay paused except while the night's own run of each is going, and
their clocks are pointed at a date that never comes (``CLAIMFLOW_NIGHTLY_CRON``, ``CLAIMFLOW_INBOX_CRON``),
so the scheduler starts nothing the night did not ask for — the same runs as the single-process path, which
is what makes the two comparable table for table (:func:`table_snapshot`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

DAG_IDS = ("claims_submission", "clearinghouse_inbox", "nightly_reconciliation")
#: Feb 29 at midnight: a cron that the scheduler never reaches on its own (no catch-up, next one years away),
#: so only the runs the night triggers exist.
NEVER_CRON = "0 0 29 2 *"
DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"
TERMINAL_RUN_STATES = frozenset({"success", "failed"})


class ClusterError(Exception):
    """The local cluster could not start, or a DAG run did not finish; the message names the log to read."""


class DagRunner(Protocol):
    def run_dag(self, dag_id: str, day: dt.date) -> dict[str, Any]: ...


# --------------------------------------------------------------------------------------------------
# databases and ports
# --------------------------------------------------------------------------------------------------


def recreate_database(admin_url: str, name: str) -> str:
    """Drop and create PostgreSQL database ``name``; returns its SQLAlchemy URL (psycopg driver)."""
    import psycopg
    from sqlalchemy.engine import make_url

    if not name.replace("_", "").isalnum():
        raise ClusterError(f"database name {name!r}: letters, digits and underscores only")
    url = make_url(admin_url)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def flush_redis_db(redis_url: str) -> None:
    """Empty the broker's database: messages a killed earlier cluster left would otherwise be delivered."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


# --------------------------------------------------------------------------------------------------
# the cluster
# --------------------------------------------------------------------------------------------------


def _airflow_cmd(*args: str) -> list[str]:
    airflow = Path(sys.executable).with_name("airflow")
    return [str(airflow), *args] if airflow.exists() else [sys.executable, "-m", "airflow", *args]


class CeleryCluster:
    """api-server, scheduler, dag-processor and ``workers`` Celery workers, sharing one environment.

    ``base_env`` is claimflow's side (database URL, data folder, partner connection); the Airflow side is
    added here. Use as a context manager: every process is stopped (its whole process group) on exit."""

    def __init__(
        self,
        workdir: Path,
        base_env: dict[str, str],
        *,
        airflow_db_url: str,
        redis_url: str = DEFAULT_REDIS_URL,
        workers: int = 2,
        concurrency: int = 2,
        heartbeat_timeout: int = 30,
        queued_timeout: int = 60,
        sftp_slots: int = 2,
    ) -> None:
        self.workdir = workdir
        self.sftp_slots = sftp_slots
        self.logs = workdir / "logs"
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        airflow_home = workdir / "airflow"
        sync_url = airflow_db_url
        result_url = "db+" + airflow_db_url
        self.env = {
            **base_env,
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sync_url,
            "AIRFLOW__CELERY__BROKER_URL": redis_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": result_url,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(heartbeat_timeout),
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": str(queued_timeout),
            "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "CLAIMFLOW_NIGHTLY_CRON": NEVER_CRON,
            "CLAIMFLOW_INBOX_CRON": NEVER_CRON,
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        #: called on every poll while a DAG run is waited for (the integration test kills a worker from it)
        self.on_poll: Callable[[CeleryCluster, str, str], None] | None = None

    # -- processes ----------------------------------------------------------------------------------

    def _spawn(
        self, name: str, *args: str, extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        try:
            proc = subprocess.Popen(
                _airflow_cmd(*args),
                env={**os.environ, **self.env, **(extra_env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop/kill takes its children too
            )
        finally:
            log.close()
        self.procs[name] = proc
        return proc

    def start(self, timeout: float = 180.0) -> CeleryCluster:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / "airflow-db-migrate.log").open("ab") as out:
            rc = subprocess.run(
                _airflow_cmd("db", "migrate"), env={**os.environ, **self.env}, stdout=out, stderr=out
            ).returncode
        if rc != 0:
            raise ClusterError(f"airflow db migrate failed; see {self.logs / 'airflow-db-migrate.log'}")
        self._spawn("api-server", "api-server", "--port", str(self.port), "--host", "127.0.0.1")
        self._spawn("scheduler", "scheduler")
        self._spawn("dag-processor", "dag-processor")
        for i in range(self.workers):
            self.start_worker(i)
        deadline = time.monotonic() + timeout
        self._wait_api(deadline)
        self._ensure_pools()
        for dag_id in DAG_IDS:
            self._wait_dag(dag_id, deadline)
        return self

    def start_worker(self, i: int) -> subprocess.Popen[bytes]:
        # each worker serves its task logs on a port of its own (two on one machine cannot share 8793)
        return self._spawn(
            f"worker{i}",
            "celery",
            "worker",
            "--celery-hostname",
            f"worker{i}@%h",
            extra_env={"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())},
        )

    def kill_worker(self, i: int) -> None:
        """SIGKILL worker ``i`` and everything under it (pool children, supervisors and the task processes,
        which Airflow starts in sessions of their own): a lost machine."""
        import psutil

        proc = self.procs[f"worker{i}"]
        try:
            tree = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for child in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        proc.wait(timeout=30)

    def worker_of_pid(self, pid: int) -> int | None:
        """Which worker a process (a task's) runs under: its ancestors include that worker's main process."""
        import psutil

        leaders = {
            p.pid: int(name.removeprefix("worker"))
            for name, p in self.procs.items()
            if name.startswith("worker") and p.poll() is None
        }
        try:
            chain = [psutil.Process(pid), *psutil.Process(pid).parents()]
        except psutil.NoSuchProcess:
            return None
        for p in chain:
            if p.pid in leaders:
                return leaders[p.pid]
        return None

    def stop(self) -> None:
        import psutil

        leftovers: list[psutil.Process] = []  # task processes run in sessions of their own
        for proc in self.procs.values():
            with contextlib.suppress(psutil.NoSuchProcess):
                leftovers.extend(psutil.Process(proc.pid).children(recursive=True))
        for _name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        end = time.monotonic() + 30
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        # a process group outlives its leader: make sure no task process is left behind
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        for child in leftovers:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()

    def __enter__(self) -> CeleryCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if name.startswith("worker"):
                continue  # a worker may be killed on purpose
            if proc.poll() is not None:
                raise ClusterError(
                    f"airflow {name} exited ({proc.returncode}); see {self.logs / (name + '.log')}"
                )

    # -- REST API -----------------------------------------------------------------------------------

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.base_url}/api/v2{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def _wait_api(self, deadline: float) -> None:
        while True:
            self._check_alive()
            try:
                with urllib.request.urlopen(f"{self.base_url}/api/v2/monitor/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise ClusterError(f"the API server did not come up; see {self.logs / 'api-server.log'}")
            time.sleep(1)

    def _wait_dag(self, dag_id: str, deadline: float) -> None:
        while True:
            self._check_alive()
            try:
                self.api("GET", f"/dags/{dag_id}")
                return
            except urllib.error.HTTPError as exc:
                if exc.code != 404:
                    raise
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"DAG {dag_id} was not parsed in time; see {self.logs / 'dag-processor.log'}"
                )
            time.sleep(1)

    def _ensure_pools(self) -> None:
        """``sftp_<partner>``: the DAGs' connection cap to a partner (a task in a missing pool never runs)."""
        partner = self.env.get("CLAIMFLOW_DEFAULT_PARTNER", "sandbox")
        name = f"sftp_{partner}"
        try:
            self.api("GET", f"/pools/{name}")
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
            self.api(
                "POST",
                "/pools",
                {
                    "name": name,
                    "slots": 2,
                    "description": f"SFTP sessions to {partner}",
                    "include_deferred": False,
                },
            )

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.api("PATCH", f"/dags/{dag_id}", {"is_paused": paused})

    def trigger(self, dag_id: str, day: dt.date) -> str:
        logical = dt.datetime(day.year, day.month, day.day, 1, 30, tzinfo=dt.UTC)
        run_id = f"cluster__{day.isoformat()}__{secrets.token_hex(3)}"
        self.api(
            "POST",
            f"/dags/{dag_id}/dagRuns",
            {"dag_run_id": run_id, "logical_date": logical.isoformat()},
        )
        return run_id

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        out = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000")
        return list(out.get("task_instances", []))

    def wait_run(
        self,
        dag_id: str,
        run_id: str,
        timeout: float = 900.0,
        on_poll: Callable[[CeleryCluster, str, str], None] | None = None,
    ) -> str:
        end = time.monotonic() + timeout
        while True:
            self._check_alive()
            state = str(self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"])
            if state in TERMINAL_RUN_STATES:
                return state
            poll = on_poll or self.on_poll
            if poll is not None:
                poll(self, dag_id, run_id)
            if time.monotonic() > end:
                raise ClusterError(f"{dag_id} run {run_id} still {state} after {timeout:.0f} s")
            time.sleep(0.3)

    def run_dag(
        self, dag_id: str, day: dt.date, on_poll: Callable[[CeleryCluster, str, str], None] | None = None
    ) -> dict[str, Any]:
        """Unpause, trigger a run for ``day``, wait, pause again; returns the demo runner's result shape."""
        self.set_paused(dag_id, False)
        try:
            run_id = self.trigger(dag_id, day)
            state = self.wait_run(dag_id, run_id, on_poll=on_poll)
        finally:
            self.set_paused(dag_id, True)
        tasks: dict[str, str] = {}
        tries: dict[str, int] = {}
        for ti in self.task_instances(dag_id, run_id):
            key = ti["task_id"] + (f"[{ti['map_index']}]" if ti.get("map_index", -1) >= 0 else "")
            tasks[key] = str(ti.get("state"))
            tries[key] = int(ti.get("try_number") or 0)
        return {"dag_id": dag_id, "run_id": run_id, "state": state, "tasks": tasks, "tries": tries}


class SingleProcessRunner:
    """The demo's path: each DAG with ``dag.test()`` in a child process, Airflow on SQLite."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env

    def run_dag(self, dag_id: str, day: dt.date) -> dict[str, Any]:
        from claimflow.sandbox.demo import run_dag

        log_path = self.workdir / "logs" / f"{day.isoformat()}-{dag_id}.log"
        return run_dag(dag_id, day, self.env, log_path)


# --------------------------------------------------------------------------------------------------
# a night
# --------------------------------------------------------------------------------------------------


def run_nights(
    workdir: Path,
    *,
    database_url: str,
    runner_factory: Callable[[Path, dict[str, str]], contextlib.AbstractContextManager[DagRunner]],
    nights: int = 1,
    patients: int = 40,
    claims: int = 80,
    seed: int = 7,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Seed claimflow's database, start the sandbox clearinghouse, then ``nights`` nights (the last one
    today) through whatever runs the DAGs. Returns ``{"nights": [...per DAG results...], "figures": {...}}``."""
    from claimflow.db.at_rest import private_umask
    from claimflow.sandbox.demo import (
        DemoFailed,
        SandboxClearinghouse,
        _environment,
        _fresh_workdir,
        airflow_connection_env,
    )

    previous_umask = private_umask()
    try:
        workdir = workdir.resolve()
        _fresh_workdir(workdir)
        env = _environment(workdir)
        env["CLAIMFLOW_DATABASE_URL"] = database_url
        os.environ.update(env)
        from claimflow.settings import prepare_data_dirs, reset_settings_cache

        reset_settings_cache()
        prepare_data_dirs()
        from claimflow.db.migrate import upgrade
        from claimflow.db.session import get_engine
        from claimflow.sandbox.seed import seed_practice

        days = [dt.date.today() - dt.timedelta(days=nights - 1 - k) for k in range(nights)]
        upgrade(database_url)
        engine = get_engine(database_url)
        seeded = seed_practice(
            engine, patients=patients, claims=claims, seed=seed, as_of=days[0] - dt.timedelta(days=1)
        )
        progress(f"claimflow database ready: {seeded.patients} patients, {seeded.claims} claims")
        clearinghouse = SandboxClearinghouse(workdir, seed)
        results: list[dict[str, Any]] = []
        try:
            progress(clearinghouse.description)
            env.update(airflow_connection_env(clearinghouse))
            os.environ.update(env)
            with runner_factory(workdir, env) as runner:
                for day in days:
                    for dag_id in DAG_IDS:
                        if dag_id == "clearinghouse_inbox":
                            clearinghouse.acknowledge()
                            released = clearinghouse.payment_run(day)
                            progress(f"{day}: the payers released {released} 835 files")
                        t0 = time.monotonic()
                        result = runner.run_dag(dag_id, day)
                        result["seconds"] = round(time.monotonic() - t0, 1)
                        result["day"] = day.isoformat()
                        results.append(result)
                        progress(
                            f"{day}: {dag_id} {result['state']} in {result['seconds']} s "
                            f"({len(result.get('tasks', {}))} task instances)"
                        )
                        if result["state"] != "success":
                            raise DemoFailed(f"{dag_id} finished {result['state']} on {day}")
        finally:
            clearinghouse.close()
        return {"nights": results, "figures": night_figures(engine)}
    finally:
        os.umask(previous_umask)


def night_figures(engine: Any) -> dict[str, Any]:
    """The night's figures in revenue-cycle words (what ``cluster run`` prints)."""
    from sqlalchemy import text

    q = {
        "claims_submitted": "SELECT count(DISTINCT claim_id) FROM submissions",
        "claims_paid": "SELECT count(*) FROM claims WHERE status IN ('paid', 'partially_paid')",
        "claims_denied": "SELECT count(*) FROM claims WHERE status = 'denied'",
        "claims_rejected": "SELECT count(*) FROM claims WHERE status = 'rejected'",
        "files_out": "SELECT count(*) FROM interchanges WHERE direction = 'out'",
        "files_in": "SELECT count(*) FROM interchanges WHERE direction = 'in'",
        "remittances": "SELECT count(*) FROM remittances",
        "total_paid": "SELECT coalesce(sum(paid), 0) FROM claim_payments",
        "work_items": "SELECT count(*) FROM work_items",
    }
    with engine.connect() as conn:
        out = {k: conn.execute(text(sql)).scalar_one() for k, sql in q.items()}
    return {k: (f"{Decimal(v):.2f}" if k == "total_paid" else int(v)) for k, v in out.items()}


def table_snapshot(engine: Any) -> dict[str, list[tuple[Any, ...]]]:
    """claimflow's tables by content, not by surrogate id (ids depend on which worker loaded which file
    first): claims' statuses, files by type and status, remittances, claim payments, ledger sums by account,
    patient balances, work items, balance exceptions."""
    from sqlalchemy import text

    queries = {
        "claims": "SELECT claim_number, status, responsibility FROM claims ORDER BY 1, 3",
        "interchanges": (
            "SELECT direction, coalesce(transaction_type, ''), status, count(*), coalesce(sum(claim_count), 0),"
            " coalesce(sum(total_charge), 0) FROM interchanges GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ),
        "remittances": ("SELECT count(*), coalesce(sum(payment_amount), 0) FROM remittances"),
        "claim_payments": (
            "SELECT patient_control_number, status_code, charge, paid, coalesce(patient_responsibility, 0)"
            " FROM claim_payments ORDER BY 1, 2, 3, 4"
        ),
        "ledger": (
            "SELECT account, entry_type, count(*), sum(amount) FROM ledger_entries GROUP BY 1, 2 ORDER BY 1, 2"
        ),
        "patient_balances": (
            "SELECT run_date, patient_id, charges, payer_paid, patient_responsibility, patient_balance,"
            " insurance_balance FROM patient_balances ORDER BY 1, 2"
        ),
        "work_items": "SELECT queue, status, count(*) FROM work_items GROUP BY 1, 2 ORDER BY 1, 2",
        "balance_exceptions": "SELECT count(*) FROM balance_exceptions",
        "submissions": "SELECT count(*), count(DISTINCT claim_id) FROM submissions",
    }
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name, sql in queries.items():
            out[name] = [
                tuple(Decimal(v) if isinstance(v, Decimal | float) else v for v in row)
                for row in conn.execute(text(sql)).all()
            ]
    return out


# --------------------------------------------------------------------------------------------------
# CLI: claimflow cluster run [--workers 2] [--nights N]
# --------------------------------------------------------------------------------------------------


def cluster_factory(
    *,
    admin_url: str,
    redis_url: str,
    workers: int,
    concurrency: int,
    name: str,
    on_start: Callable[[CeleryCluster], None] | None = None,
    sftp_slots: int = 2,
) -> Callable[[Path, dict[str, str]], contextlib.AbstractContextManager[DagRunner]]:
    @contextlib.contextmanager
    def factory(workdir: Path, env: dict[str, str]) -> Iterator[DagRunner]:
        airflow_db = recreate_database(admin_url, f"{name}_airflow")
        flush_redis_db(redis_url)
        base = {k: v for k, v in env.items() if not k.startswith("AIRFLOW")}
        base.update({k: v for k, v in env.items() if k.startswith("AIRFLOW_CONN_")})
        base["AIRFLOW__CORE__DAGS_FOLDER"] = env["AIRFLOW__CORE__DAGS_FOLDER"]
        with CeleryCluster(
            workdir,
            base,
            airflow_db_url=airflow_db,
            redis_url=redis_url,
            workers=workers,
            concurrency=concurrency,
            sftp_slots=sftp_slots,
        ) as cluster:
            if on_start is not None:
                on_start(cluster)
            yield cluster

    return factory


def cmd_cluster_run(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir).resolve()
    t0 = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - t0:6.1f}s] {message}", flush=True)

    database_url = recreate_database(args.pg_admin_url, args.name)
    progress(f"claimflow database {args.name} and Airflow database {args.name}_airflow on PostgreSQL")
    factory = cluster_factory(
        admin_url=args.pg_admin_url,
        redis_url=args.redis_url,
        workers=args.workers,
        concurrency=args.concurrency,
        name=args.name,
        on_start=lambda c: progress(
            f"cluster up: api-server {c.base_url}, scheduler, dag-processor, {c.workers} Celery workers"
        ),
    )
    try:
        out = run_nights(
            workdir,
            database_url=database_url,
            runner_factory=factory,
            nights=args.nights,
            patients=args.patients,
            claims=args.claims,
            seed=args.seed,
            progress=progress,
        )
    except Exception as exc:
        print(f"claimflow cluster run failed: {exc}; logs in {workdir / 'logs'}", file=sys.stderr)
        return 1
    print()
    for r in out["nights"]:
        print(
            f"  {r['day']}  {r['dag_id']:<24} {r['state']:<8} {len(r['tasks']):>4} task instances  {r['seconds']:>7} s"
        )
    print()
    for k, v in out["figures"].items():
        print(f"  {k:<18} {v:>12}")
    print(
        json.dumps(
            {
                "runs": [{k: r[k] for k in ("day", "dag_id", "state", "seconds")} for r in out["nights"]],
                **out["figures"],
            }
        )
    )
    return 0


def add_subcommands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("cluster", help="run the DAGs on a local CeleryExecutor cluster (Redis + PostgreSQL)")
    cs = s.add_subparsers(dest="cluster_command", required=True, metavar="SUBCOMMAND")
    r = cs.add_parser(
        "run",
        help="start api-server, scheduler, dag-processor and N Celery workers, run nights against the sandbox",
    )
    r.add_argument("--workers", type=int, default=2, help="Celery workers (default 2)")
    r.add_argument("--concurrency", type=int, default=2, help="task slots per worker (default 2)")
    r.add_argument("--nights", type=int, default=1, help="nights to run, the last one today (default 1)")
    r.add_argument("--workdir", default="./claimflow-cluster", help="folder for files, logs, keys")
    r.add_argument("--patients", type=int, default=40, help="synthetic patients seeded (default 40)")
    r.add_argument("--claims", type=int, default=80, help="synthetic claims seeded (default 80)")
    r.add_argument("--seed", type=int, default=7, help="random seed: same seed, same practice (default 7)")
    r.add_argument("--name", default="claimflow_cluster", help="claimflow's PostgreSQL database (recreated)")
    r.add_argument(
        "--pg-admin-url",
        default=os.environ.get("CLAIMFLOW_CLUSTER_PG_ADMIN_URL", DEFAULT_PG_ADMIN_URL),
        help="a PostgreSQL URL allowed to create databases",
    )
    r.add_argument(
        "--redis-url",
        default=os.environ.get("CLAIMFLOW_CLUSTER_REDIS_URL", DEFAULT_REDIS_URL),
        help=f"the Celery broker; its database is emptied first (default {DEFAULT_REDIS_URL})",
    )
    r.set_defaults(handler=cmd_cluster_run)
