"""The whole nightly cycle on PostgreSQL at practice scale (default 100,000 claims), through the real code.

    uv run python bench/bench_cycle.py [--claims 100000] [--patients N] [--payments 5000] [--workers 2]
                                       [--full-validation] [--validate-sample 1] [--keep]
    uv run python bench/bench_cycle.py --sizes 20000 100000 --project 1000000
    uv run python bench/bench_cycle.py --prior run-20k.json run-100k.json --project 1000000

Each stage calls the function the Airflow task calls (``claimflow.services.pipeline``), in the DAGs' order, without
Airflow:

1. setup, untimed: a scratch database (admin URL from ``CLAIMFLOW_BENCH_PG_URL``, else
   ``CLAIMFLOW_TEST_PG_URL``, else the local trust-auth server), Alembic, ``claimflow.sandbox.seed`` with N claims
   (serviced up to yesterday, "night 1"), a scratch data directory and the in-process sandbox
   clearinghouse (asyncssh SFTP server, key auth, pinned host key) as in ``claimflow demo``;
2. ``scrub_and_batch`` — scrub, batch, write the 837 files, register submissions;
3. pyx12 5010 validation (``validate_file``) — reported SEPARATELY and not in the total: one generated file
   per claim type is validated for real and the whole batch is extrapolated from its MB/s to 2 workers;
   ``--full-validation`` validates every file for real (2 worker processes);
4. ``upload_file`` for every file over one SFTP session, then ``record_submission``;
5. the clearinghouse: the sandbox payer simulator answers each upload (TA1/999/277CA; it runs pyx12 itself)
   and then runs its payment run for "night 2" (835s). That is the clearinghouse's work, not ours: timed
   and reported separately, not in the total. The server's upload callback only queues the files during
   stage 4 so that the simulator never competes with our upload for the CPU;
6. ``fetch_new_files`` (SFTP) and ``load_file`` for every response (archive + parse + COPY), two files at a
   time in worker processes as the DAG's mapped ``load_file`` task runs them (``--workers 1``: one by one);
7. ``apply_acknowledgments``; the patient-payment CSV import (built from the 835s' patient responsibility,
   as in the demo); ``post_remittances``; ``reconcile_balances``; ``balance_proof``; ``data_quality``;
   ``run_report``;
8. the total of our stages (2, 4, 6, 7) against the 120 s target; then the night-2 stages again (fetch,
   load, acknowledgments, import, posting, reconcile, proof, DQ, report): the idempotent rerun.

Prints one line per stage (seconds), the total, the separate figures, what the payers did (claims paid,
denied, rejected, still pending), the load average, and a final JSON line. With ``--sizes`` each size runs
in its own child process and a per-stage linear fit ``a + b·N`` over the measured sizes projects
``--project`` claims (a projection, labelled as such). ``--prior FILE`` adds the final JSON line of earlier
runs to the fit.

The database and the data directory are removed at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ADMIN = os.environ.get("CLAIMFLOW_BENCH_PG_URL") or os.environ.get(
    "CLAIMFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PARTNER = "sandbox"
TARGET_S = 120.0  # 100,000 claims, our stages
TARGET_1M_S = 900.0  # 1,000,000 claims (issue: a million claims a night in 15 minutes on 2 cores)
SEED = 7
SANDBOX_SEED = 42

# (key, label) of the timed stages of our nightly cycle, in order; the total is their sum.
CYCLE = [
    ("scrub_and_batch", "2  scrub_and_batch (scrub, batch, write 837s)"),
    ("validate", "3  validate_file × files (fast validator)"),
    ("upload", "4  upload_file × files + record_submission (SFTP)"),
    ("fetch", "6  fetch_new_files (SFTP + archive + register)"),
    ("load", "6  load_file × files (parse + COPY)"),
    ("apply_acknowledgments", "7  apply_acknowledgments"),
    ("import_patient_payments", "7  import patient payments (CSV)"),
    ("post_remittances", "7  post_remittances"),
    ("reconcile", "7  reconcile_balances"),
    ("balance_proof", "7  balance_proof"),
    ("data_quality", "7  data_quality"),
    ("run_report", "7  run_report"),
]
LABEL = dict(CYCLE)
RERUN = [
    ("fetch", "fetch_new_files again"),
    ("load", "load_file again (files left 'received')"),
    ("apply_acknowledgments", "apply_acknowledgments again"),
    ("import_patient_payments", "import the same CSV again"),
    ("post_remittances", "post_remittances again"),
    ("reconcile", "reconcile_balances again"),
    ("balance_proof", "balance_proof again"),
    ("data_quality", "data_quality again"),
    ("run_report", "run_report again"),
]


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _vm_kib(pid: int | str, field: str) -> int:
    """``VmRSS`` / ``VmHWM`` of a process in KiB from ``/proc/<pid>/status`` (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _descendants() -> list[int]:
    """Every live process below this one (the load / validation workers and the clearinghouse child)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class PeakMemory:
    """Peak resident memory of one stage, for this process and for its largest child process.

    ``ru_maxrss`` is a high-water mark for the life of a process, so the seed's (or one stage's) peak would
    mask every later stage. Instead: this process's ``VmHWM`` is reset at each stage start (writing 5 to
    ``/proc/self/clear_refs``, Linux ≥ 4.0) and read at its end; child processes are sampled every 0.1 s
    (``VmHWM`` of each live descendant, which is their own exact peak up to the sample; a child that starts
    and ends between two samples is missed, which no stage here does)."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._children = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-memory", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            peak = max((_vm_kib(pid, "VmHWM") for pid in _descendants()), default=0)
            with self._lock:
                self._children = max(self._children, peak)

    def reset(self) -> None:
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
                fh.write("5")
        except OSError:
            pass
        with self._lock:
            self._children = 0

    def read(self) -> tuple[float, float]:
        """(this process, largest child) in MiB since the last :meth:`reset`."""
        peak = max((_vm_kib(pid, "VmHWM") for pid in _descendants()), default=0)
        with self._lock:
            children = max(self._children, peak)
        return _vm_kib("self", "VmHWM") / 1024, children / 1024


_PEAK: PeakMemory | None = None


def _peak() -> PeakMemory:
    global _PEAK
    if _PEAK is None:
        _PEAK = PeakMemory()
    return _PEAK


def _cpu() -> float:
    """CPU seconds of this process and its finished worker processes (PostgreSQL's own CPU is not in it)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Clock:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.rss: dict[str, tuple[float, float]] = {}

    def __call__(self, key: str, label: str, fn: Callable[[], Any], *, note: str = "") -> Any:
        _peak().reset()
        c0, t0 = _cpu(), time.perf_counter()
        result = fn()
        self.times[key] = time.perf_counter() - t0
        self.cpu[key] = _cpu() - c0
        own, children = _peak().read()
        self.rss[key] = (round(own, 1), round(children, 1))
        print(
            f"  {label:<58} {self.times[key]:8.2f} s   (cpu {self.cpu[key]:6.2f} s, load {_load()}, peak RSS "
            f"bench {own:.0f} MiB / largest worker {children:.0f} MiB){note}",
            flush=True,
        )
        return result


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def _patient_payments_csv(engine: Any, path: Path, received_on: dt.date, limit: int) -> int:
    """Patients paying what the 835s say they owe (every second one half of it), as in ``claimflow demo``;
    at most ``limit`` rows. Preparing the file is the practice system's job: not timed."""
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """SELECT c.claim_number, p.account_number, cp.patient_responsibility
               FROM claim_payments cp
               JOIN submissions s ON s.patient_control_number = cp.patient_control_number
               JOIN claims c ON c.id = s.claim_id
               JOIN patients p ON p.id = c.patient_id
               WHERE cp.patient_responsibility > 0 AND cp.status_code IN ('1', '2', '3')
               ORDER BY c.claim_number LIMIT :n"""
            ),
            {"n": limit},
        ).all()
    lines = ["external_id,account_number,claim_number,amount,received_on,method"]
    for i, (claim_number, account, owed) in enumerate(rows):
        amount = owed if i % 2 == 0 else (owed / 2).quantize(Decimal("0.01"))
        lines.append(
            f"BENCH-{claim_number},{account},{claim_number},{amount:.2f},{received_on.isoformat()},"
            + ("card" if i % 4 else "check")
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(rows)


def _pool(workers: int) -> concurrent.futures.ProcessPoolExecutor:
    """Worker processes like Airflow's task processes: fresh interpreters (spawned, so no database
    connection is inherited), the settings from the environment."""
    import multiprocessing

    return concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def _load_files(ids: list[int], workers: int) -> list[dict[str, Any]]:
    """``load_file`` for every fetched file; ``workers`` at a time, as the DAG's ``load_file`` mapped task
    (``max_active_tis_per_dagrun=2``) runs them."""
    from claimflow.services import pipeline

    if workers <= 1 or len(ids) <= 1:
        return [pipeline.load_file(i) for i in ids]
    with _pool(workers) as pool:
        return list(pool.map(pipeline.load_file, ids))


def _build(shards: int) -> dict[str, Any]:
    """``scrub_and_batch`` as the DAG runs it: one process for ``--shards 1``; else ``plan_batches`` then one
    ``build_batch`` per shard, each in its own worker process (as the mapped task runs on Celery workers), then
    ``collect_batches``."""
    from claimflow.services import pipeline

    if shards <= 1:
        return pipeline.scrub_and_batch("bench:claims_submission")
    os.environ["CLAIMFLOW_OUTBOUND_SHARDS"] = str(shards)
    from claimflow.settings import reset_settings_cache

    reset_settings_cache()
    plan = pipeline.plan_batches()
    with _pool(shards) as pool:
        parts = list(pool.map(pipeline.build_batch, plan, ["bench:claims_submission"] * len(plan)))
    return pipeline.collect_batches(parts)


def _validate_files(ids: list[int], workers: int) -> list[int]:
    """``validate_file`` (the fast validator, pyx12's verdict) for every generated 837, ``workers`` at a time as
    the DAG's mapped ``validate_file`` task runs them; an invalid file raises, as it fails the task."""
    from claimflow.services import pipeline

    if workers <= 1 or len(ids) <= 1:
        return [pipeline.validate_file(i) for i in ids]
    with _pool(workers) as pool:
        return list(pool.map(pipeline.validate_file, ids))


def _files(engine: Any, ids: list[int]) -> list[dict[str, Any]]:
    from sqlalchemy import text

    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                text(
                    "SELECT id, file_name, archive_path, transaction_type, bytes, claim_count FROM interchanges "
                    "WHERE id = ANY(:ids) ORDER BY id"
                ),
                {"ids": ids},
            ).mappings()
        ]


def validation(engine: Any, ids: list[int], *, sample: int, full: bool, workers: int = 2) -> dict[str, Any]:
    """Beside stage 3, for comparison: pyx12 itself on a real sample (or everything), MB/s and the whole batch
    extrapolated to ``workers``. Not in the total: the night validates with the fast engine (stage 3)."""
    if sample <= 0 and not full:
        files = _files(engine, ids)
        return {"mode": "none", "files": len(files), "bytes": sum(f["bytes"] for f in files)}
    from edi.validate import validate_x12

    files = _files(engine, ids)
    total_bytes = sum(f["bytes"] for f in files)
    out: dict[str, Any] = {"files": len(files), "bytes": total_bytes, "workers": workers}
    if full:
        c0, t0 = _cpu(), time.perf_counter()
        from claimflow.services import pipeline

        with _pool(workers) as pool:
            list(pool.map(pipeline.validate_file, [f["id"] for f in files]))
        out.update(
            mode="full",
            seconds=time.perf_counter() - t0,
            parent_cpu=_cpu() - c0,
            mb_per_s=total_bytes / 1e6 / (time.perf_counter() - t0),
        )
        return out
    by_type: dict[str, list[dict[str, Any]]] = {}
    for f in files:
        by_type.setdefault(f["transaction_type"], []).append(f)
    per_type: dict[str, Any] = {}
    extrapolated = 0.0
    for kind, items in sorted(by_type.items()):
        chosen = items[:sample]
        secs = cpu = 0.0
        nbytes = 0
        ok = True
        for f in chosen:
            c0, t0 = _cpu(), time.perf_counter()
            report = validate_x12(Path(f["archive_path"]))
            secs += time.perf_counter() - t0
            cpu += _cpu() - c0
            nbytes += f["bytes"]
            ok = ok and report.ok
        rate = nbytes / 1e6 / secs
        type_bytes = sum(f["bytes"] for f in items)
        extrapolated += type_bytes / 1e6 / rate / workers
        per_type[kind] = {
            "sample_files": len(chosen),
            "sample_bytes": nbytes,
            "seconds": round(secs, 2),
            "cpu": round(cpu, 2),
            "mb_per_s": round(rate, 3),
            "valid": ok,
            "files": len(items),
            "bytes": type_bytes,
        }
    out.update(mode="sample", per_type=per_type, extrapolated_seconds=extrapolated)
    return out


# --------------------------------------------------------------------------------------------------
# one run
# --------------------------------------------------------------------------------------------------


def _seed_child(patients: int, claims: int, as_of: str) -> dict[str, int]:
    """Seed in a child process (spawned: the settings come from the environment), so that the seed's
    multi-GiB high-water mark at 1,000,000 claims is not charged to the bench process's stages."""
    import dataclasses

    from claimflow.db.session import get_engine
    from claimflow.sandbox.seed import seed_practice

    engine = get_engine()
    try:
        summary = seed_practice(
            engine,
            patients=patients,
            claims=claims,
            seed=SEED,
            as_of=dt.date.fromisoformat(as_of),
            replace=True,
        )
    finally:
        engine.dispose()
    return dataclasses.asdict(summary)


def _clearinghouse_child(root: str, received: list[tuple[str, str]], night2: str) -> dict[str, Any]:
    """The sandbox payer simulator answers every upload (in upload order) and runs its payment run, in a
    child process: its state (one record per claim) is the clearinghouse's memory, not ours."""
    from claimflow.sandbox.payer import default_state_path, make_upload_handler

    base = Path(root)
    payer = make_upload_handler(
        base, seed=SANDBOX_SEED, state_path=default_state_path(base), defer_payments=True
    )
    items = [(partner, Path(path)) for partner, path in received]
    t0 = time.perf_counter()
    answer_many = getattr(payer, "answer_many", None)
    if answer_many is not None:  # one state load/save for the whole night
        answer_many(items)
    else:
        for partner, path in items:
            payer(partner, path)
    t1 = time.perf_counter()
    released = payer.release_payments(run_date=dt.date.fromisoformat(night2), partner=PARTNER)
    t2 = time.perf_counter()
    state = json.loads(default_state_path(base).read_text(encoding="utf-8"))
    return {
        "acknowledge": t1 - t0,
        "payment_run": t2 - t1,
        "files_835": len(released),
        "pending": len(state.get("pending", [])),
        "scheduled": len(state.get("scheduled", [])),
    }


def _database_exists(admin: Any, name: str) -> bool:
    from sqlalchemy import text

    with admin.connect() as conn:
        return (
            conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            is not None
        )


#: Server settings that decide how the SQL stages scale (printed with every run, so a figure says what
#: server it was measured on).
SERVER_SETTINGS = ("server_version", "shared_buffers", "max_wal_size", "checkpoint_timeout", "work_mem")


def _server_settings(settings: Any) -> dict[str, str]:
    """The server's sizing as this run's claimflow connections see it (jit and temp_buffers are ours)."""
    from sqlalchemy import text

    from claimflow.db.session import make_engine

    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            out = {
                n: str(conn.execute(text(f"SHOW {n}")).scalar())
                for n in (*SERVER_SETTINGS, "jit", "temp_buffers")
            }
    finally:
        engine.dispose()
    out["batch_work_mem"] = settings.pg_batch_work_mem
    return out


def run_cycle(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from claimflow.db.session import make_engine

    claims = args.claims
    patients = args.patients or max(200, claims // 5)
    name = f"cf_cycle_{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    night2 = dt.date.today()
    night1 = night2 - dt.timedelta(days=1)
    admin = make_engine(ADMIN, isolation_level="AUTOCOMMIT")
    # --seed-cache: the seeded practice is kept as a template database (PostgreSQL copies it file by file
    # in seconds) so that repeated runs at 1,000,000 claims do not pay ~12 minutes of seeding each.
    template = f"cf_seed_{claims}_{patients}_s{SEED}_{night1:%Y%m%d}"
    cloned = bool(args.seed_cache) and _database_exists(admin, template)
    with admin.connect() as conn:
        if cloned:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        else:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN).set(database=name).render_as_string(hide_password=False)
    os.environ.update(
        {
            "CLAIMFLOW_DATABASE_URL": url,
            "CLAIMFLOW_DATA_DIR": str(workdir / "data"),
            "CLAIMFLOW_DEFAULT_PARTNER": PARTNER,
        }
    )
    from claimflow.settings import get_settings, reset_settings_cache

    reset_settings_cache()
    settings = get_settings()
    clock = Clock()
    setup = Clock()
    result: dict[str, Any] = {
        "claims": claims,
        "patients": patients,
        "database": name,
        "load_start": list(os.getloadavg()),
        "cpus": os.cpu_count(),
        "shards": args.shards,
    }
    server = None
    try:
        from claimflow.db.migrate import upgrade
        from claimflow.db.session import get_engine
        from claimflow.services import pipeline

        print(
            f"claimflow nightly cycle bench: {claims:,} claims, {patients:,} patients, PostgreSQL database "
            f"{name}, data {workdir}; {os.cpu_count()} CPUs, load average {_load()}",
            flush=True,
        )
        result["postgres"] = _server_settings(settings)
        print(
            "PostgreSQL "
            + ", ".join(f"{k}={v}" for k, v in result["postgres"].items() if k != "batch_work_mem")
            + f"; nightly transactions work_mem={result['postgres']['batch_work_mem']}",
            flush=True,
        )
        print("setup (not timed as part of the cycle):")
        setup("migrate", "migrate (alembic)", lambda: upgrade(url))
        if cloned:
            with admin.connect() as conn:
                comment = conn.execute(
                    text("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n"),
                    {"n": template},
                ).scalar_one()
            seeded = json.loads(comment)
            print(f"  seed: cloned from template database {template} (--seed-cache)")
        else:
            with _pool(1) as pool:
                seeded = setup(
                    "seed",
                    "seed synthetic practice (claimflow.sandbox.seed, child process)",
                    lambda: pool.submit(_seed_child, patients, claims, night1.isoformat()).result(),
                )
            if args.seed_cache:
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{template}" TEMPLATE "{name}"'))
                    conn.execute(text(f"COMMENT ON DATABASE \"{template}\" IS '{json.dumps(seeded)}'"))
                print(f"  kept the seeded practice as template database {template} (--seed-cache)")
        result["seed_cloned"] = cloned
        print(
            f"    {seeded['claims']:,} claims ({seeded['deliberately_flawed']:,} deliberately flawed), "
            f"{seeded['service_lines']:,} service lines, {seeded['patients']:,} patients"
        )
        engine = get_engine()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))

        # The sandbox clearinghouse, in process. Its upload callback only queues: the payer simulator runs in
        # stage 5, so it never competes with our stages for the two cores.
        from claimflow.sandbox.server import SandboxServer
        from sftp.connect import open_sftp
        from sftp.keys import generate_ed25519

        root = workdir / "sandbox"
        root.mkdir(mode=0o700)
        (workdir / "keys").mkdir(mode=0o700)
        key = generate_ed25519(workdir / "keys" / "claimflow_ed25519", comment="claimflow-bench")
        received: list[tuple[str, Path]] = []
        server = SandboxServer(
            root,
            authorized_keys={PARTNER: key.public_line},
            on_upload=lambda partner, path: received.append((partner, path)),
        ).start()
        profile = server.profile(
            PARTNER,
            private_key_path=str(key.private_path),
            isa_receiver_id=settings.receiver_id,
            usage_indicator=settings.isa_usage,
            stability_wait=0.2,
        )

        print("nightly cycle — night 1, claims_submission:")
        batch = clock(
            "scrub_and_batch",
            LABEL["scrub_and_batch"]
            + (f", {args.shards} shards in {args.shards} processes" if args.shards > 1 else ""),
            lambda: _build(args.shards),
        )
        ids = list(batch["interchange_ids"])
        print(
            f"    {batch['claims_in']:,} ready, {batch['scrubbed_out']:,} held back by scrubbing, "
            f"{batch['claims_batched']:,} claims in {batch['files_written']} files, ${batch['total_charge']}"
        )

        clock(
            "validate",
            f"{LABEL['validate']}, {len(ids)} files, {args.workers} at a time",
            lambda: _validate_files(ids, args.workers),
        )
        val = validation(engine, ids, sample=args.validate_sample, full=args.full_validation)
        result["validation"] = val
        if val["mode"] == "none":
            pass
        elif val["mode"] == "full":
            print(
                f"  {'3  validate_file × files (pyx12) — SEPARATE, not in total':<58} {val['seconds']:8.2f} s   "
                f"(all {val['files']} files, {val['bytes'] / 1e6:.1f} MB, {val['workers']} processes, "
                f"{val['mb_per_s']:.2f} MB/s, load {_load()})"
            )
        else:
            for kind, v in val["per_type"].items():
                print(
                    f"  3  pyx12 sample, {kind}: {v['sample_files']} file(s), {v['sample_bytes'] / 1e6:.2f} MB in "
                    f"{v['seconds']:.2f} s = {v['mb_per_s']:.3f} MB/s (cpu {v['cpu']:.2f} s), "
                    f"{'valid' if v['valid'] else 'INVALID'}"
                )
            print(
                f"  {'3  pyx12, whole batch — EXTRAPOLATED, not in total':<58} {val['extrapolated_seconds']:8.2f} s   "
                f"({val['files']} files, {val['bytes'] / 1e6:.1f} MB on {val['workers']} workers; from the "
                f"sample's MB/s, not measured; a lower bound: it assumes a perfect {val['workers']}-way split "
                "and no per-file start-up — --full-validation measures it)"
            )

        def upload() -> dict[str, Any]:
            with open_sftp(profile) as client:
                uploads = [pipeline.upload_file(i, client, profile) for i in ids]
            return pipeline.record_submission(batch, uploads)

        sent = clock("upload", LABEL["upload"], upload)
        server.wait_idle(timeout=60)
        print(f"    {sent['claims_sent']:,} claims sent in {sent['files_sent']} files")

        print("clearinghouse (sandbox payer simulator) — SEPARATE, not in total:")
        sim = Clock()
        with _pool(1) as pool:
            answered = sim(
                "clearinghouse",
                f"answer {len(received)} uploads (validation + TA1/999/277CA + adjudication) and the payment run "
                f"{night2} (835s), child process",
                lambda: pool.submit(
                    _clearinghouse_child,
                    str(root),
                    [(partner, str(path)) for partner, path in received],
                    night2.isoformat(),
                ).result(),
            )
        print(f"    acknowledge {answered['acknowledge']:.1f} s, payment run {answered['payment_run']:.1f} s")
        result["clearinghouse"] = {
            "seconds": round(answered["acknowledge"] + answered["payment_run"], 2),
            "wall_with_start_up": round(sim.times["clearinghouse"], 2),
            "acknowledge": round(answered["acknowledge"], 2),
            "payment_run": round(answered["payment_run"], 2),
            "peak_rss_mib": sim.rss["clearinghouse"][1],
            "files_835": answered["files_835"],
            "pending_after_run": answered["pending"],
            "scheduled_after_run": answered["scheduled"],
        }
        print(
            f"    {answered['files_835']} 835 files; {answered['pending']} items still pending, "
            f"{answered['scheduled']} follow-ups scheduled for later runs"
        )

        print("nightly cycle — night 2, clearinghouse_inbox:")
        with open_sftp(profile) as client:
            waiting = clock("fetch", LABEL["fetch"], lambda: pipeline.fetch_new_files(client, profile))
        outcomes = clock(
            "load",
            f"{LABEL['load'][:-1]}, {len(waiting)} files, {args.workers} at a time)",
            lambda: _load_files(waiting, args.workers),
        )
        inbox = pipeline.summarize_inbox(outcomes)
        print(f"    loaded {inbox['loaded']}, quarantined {inbox['quarantined']}")

        if args.stop_before == "nightly":
            args.keep = True
            print(
                f"stopped before nightly_reconciliation; CLAIMFLOW_DATABASE_URL={url} CLAIMFLOW_DATA_DIR={workdir / 'data'}"
            )
            return result
        print("nightly cycle — night 2, nightly_reconciliation:")
        csv_path = workdir / "data" / f"patient-payments-{night2.isoformat()}.csv"
        from adjudication.patient_payments import import_payments_csv

        n_pay = _patient_payments_csv(engine, csv_path, night2, args.payments)
        run_date = night2.isoformat()
        acks = clock("apply_acknowledgments", LABEL["apply_acknowledgments"], pipeline.apply_acknowledgments)
        imported = clock(
            "import_patient_payments",
            f"7  import {n_pay:,} patient payments (CSV)",
            lambda: import_payments_csv(engine, csv_path, actor="bench:payments-import"),
        )
        posted = clock(
            "post_remittances", LABEL["post_remittances"], lambda: pipeline.post_remittances(run_date)
        )
        recon = clock("reconcile", LABEL["reconcile"], lambda: pipeline.reconcile_balances(run_date))
        proof = clock("balance_proof", LABEL["balance_proof"], lambda: pipeline.balance_proof(run_date))

        def dq() -> dict[str, Any]:
            from claimflow.errors import DataQualityError

            try:
                return pipeline.data_quality(run_date)
            except DataQualityError as exc:
                return {"problems": str(exc)}

        quality = clock("data_quality", LABEL["data_quality"], dq)
        clock("run_report", LABEL["run_report"], lambda: pipeline.run_report(run_date))
        total = sum(clock.times[k] for k, _ in CYCLE)
        cpu_total = sum(clock.cpu[k] for k, _ in CYCLE)
        target = args.target or (TARGET_S if claims <= 100_000 else TARGET_1M_S)
        verdict = "MET" if total <= target else "NOT MET"
        print(
            f"  {'TOTAL (stages 2, 3, 4, 6, 7)':<58} {total:8.2f} s   (cpu of the bench + workers {cpu_total:.2f} s; "
            f"target {target:.0f} s: {verdict})"
        )
        print(f"    acknowledgments: {acks}")
        print(f"    imported {imported.get('imported')} patient payments (${imported.get('amount')})")
        print(f"    posting: {posted}")
        print(
            f"    reconcile: claims {recon.get('claims')}, paid ${recon.get('total_paid')}, patient balance "
            f"${recon.get('patient_balance_total')}; balance proof {proof}; data quality {quality}"
        )

        with engine.connect() as conn:
            status = {
                str(k): int(v)
                for k, v in conn.execute(text("SELECT status, COUNT(*) FROM claims GROUP BY status")).all()
            }
            cps = {
                str(k): int(v)
                for k, v in conn.execute(
                    text("SELECT status_code, COUNT(*) FROM claim_payments GROUP BY status_code")
                ).all()
            }
            paid_claims = conn.execute(
                text(
                    "SELECT COUNT(DISTINCT claim_id) FROM claim_payments WHERE claim_id IS NOT NULL "
                    "AND status_code IN ('1','2','3','4','19','20','21','22','23')"
                )
            ).scalar_one()
        result["claim_status"] = dict(sorted(status.items()))
        result["claim_payments_by_clp02"] = dict(sorted(cps.items()))
        result["claims_in_835s"] = int(paid_claims)
        print(
            "    claims by status after the cycle: "
            + ", ".join(f"{k} {v:,}" for k, v in result["claim_status"].items())
        )
        print(
            "    835 claim payments by CLP02: "
            + ", ".join(f"{k} {v:,}" for k, v in result["claim_payments_by_clp02"].items())
            + f"; {paid_claims:,} of our claims answered by an 835"
        )

        print("idempotent rerun of the night-2 stages:")
        again = Clock()
        with open_sftp(profile) as client:
            waiting2 = again("fetch", RERUN[0][1], lambda: pipeline.fetch_new_files(client, profile))
        again("load", f"{RERUN[1][1]}: {len(waiting2)}", lambda: [pipeline.load_file(i) for i in waiting2])
        acks2 = again("apply_acknowledgments", RERUN[2][1], pipeline.apply_acknowledgments)
        imported2 = again(
            "import_patient_payments",
            RERUN[3][1],
            lambda: import_payments_csv(engine, csv_path, actor="bench:payments-import"),
        )
        posted2 = again("post_remittances", RERUN[4][1], lambda: pipeline.post_remittances(run_date))
        recon2 = again("reconcile", RERUN[5][1], lambda: pipeline.reconcile_balances(run_date))
        again("balance_proof", RERUN[6][1], lambda: pipeline.balance_proof(run_date))
        again("data_quality", RERUN[7][1], dq)
        again("run_report", RERUN[8][1], lambda: pipeline.run_report(run_date))
        rerun_total = sum(again.times.values())
        print(f"  {'rerun total':<58} {rerun_total:8.2f} s")
        print(
            f"    second pass: acknowledgments {acks2}; imported {imported2.get('imported')}; posted "
            f"{posted2.get('claim_payments_posted')} claim payments; same reconcile result: "
            f"{recon2 == recon}"
        )

        result.update(
            {
                "stages": {k: round(clock.times[k], 2) for k, _ in CYCLE},
                "cpu": {k: round(clock.cpu[k], 2) for k, _ in CYCLE},
                "total": round(total, 2),
                "target_s": target,
                "target_met": total <= target,
                "peak_rss_mib": {k: {"bench": v[0], "largest_worker": v[1]} for k, v in clock.rss.items()},
                "rerun": {k: round(v, 2) for k, v in again.times.items()},
                "rerun_total": round(rerun_total, 2),
                "setup": {k: round(v, 2) for k, v in setup.times.items()},
                "files_837": len(ids),
                "bytes_837": val["bytes"],
                "claims_batched": batch["claims_batched"],
                "scrubbed_out": batch["scrubbed_out"],
                "files_in": len(waiting),
                "load_workers": args.workers,
                "inbox": inbox["loaded"],
                "patient_payments": n_pay,
                "posting": {k: v for k, v in posted.items() if isinstance(v, (int, str))},
                "balance_exceptions": proof.get("unexplained"),
                "data_quality": quality,
                "load_end": list(os.getloadavg()),
            }
        )
        engine.dispose()
        return result
    finally:
        if server is not None:
            server.stop()
        from claimflow.db.session import engine_for

        engine_for.cache_clear()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            print(f"kept database {name} and {workdir}")
        admin.dispose()


# --------------------------------------------------------------------------------------------------
# projection
# --------------------------------------------------------------------------------------------------


def _fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares a + b·N (exact through two points)."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    b = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    return my - b * mx, b


def project(runs: list[dict[str, Any]], target: int) -> dict[str, Any]:
    sizes = sorted({r["claims"] for r in runs})
    print(
        f"\nPROJECTION to {target:,} claims — a linear fit a + b·N per stage over the MEASURED runs at "
        f"{', '.join(f'{s:,}' for s in sizes)} claims ({len(runs)} runs); not a measurement:"
    )
    out: dict[str, Any] = {"target_claims": target, "from_sizes": sizes, "stages": {}}
    # The patient-payment CSV has the same number of rows at every size (--payments): not scaled.
    fixed = {"import_patient_payments"} if len({r.get("patient_payments") for r in runs}) == 1 else set()
    total = 0.0
    for key, label in CYCLE:
        points = [(r["claims"], r["stages"][key]) for r in runs if key in r["stages"]]
        if not points:  # a stage older runs did not time (e.g. validate before it joined the total)
            continue
        if key in fixed:
            value = sum(y for _, y in points) / len(points)
            total += value
            out["stages"][key] = {
                "fixed_input_rows": runs[0].get("patient_payments"),
                "projected": round(value, 1),
            }
            print(
                f"  {label:<58} {value:9.1f} s   (same {runs[0].get('patient_payments'):,} rows at every size: "
                "the measured mean, not scaled)"
            )
            continue
        a, b = _fit(points)
        value = max(a + b * target, 0.0)
        total += value
        out["stages"][key] = {"a": round(a, 3), "b_per_1k": round(b * 1000, 4), "projected": round(value, 1)}
        print(f"  {label:<58} {value:9.1f} s   (a {a:7.2f} s + {b * 1000:.4f} s per 1,000 claims)")
    out["total"] = round(total, 1)
    print(f"  {'TOTAL (projected)':<58} {total:9.1f} s   ({total / 60:.1f} min)")
    pts = [(r["claims"], r["clearinghouse"]["seconds"]) for r in runs if "clearinghouse" in r]
    if len({x for x, _ in pts}) >= 2:
        a, b = _fit(pts)
        out["clearinghouse"] = round(a + b * target, 1)
        print(
            f"  {'clearinghouse simulation (separate)':<58} {a + b * target:9.1f} s   (projected; the simulator "
            "rewrites its whole JSON state per upload, so likely more)"
        )
    full = [
        (r["claims"], r["validation"]["seconds"])
        for r in runs
        if r.get("validation", {}).get("mode") == "full"
    ]
    sample = [
        (r["claims"], r["validation"]["extrapolated_seconds"])
        for r in runs
        if r.get("validation", {}).get("mode") == "sample"
    ]
    for pts, how in ((full, "from --full-validation runs"), (sample, "from sample extrapolations")):
        if len({x for x, _ in pts}) >= 2:
            a, b = _fit(pts)
            out["validation"] = {"projected": round(a + b * target, 1), "basis": how}
            print(
                f"  {'pyx12 validation on 2 workers (separate)':<58} {a + b * target:9.1f} s   (projected, {how})"
            )
            break
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--claims", type=int, default=100_000)
    ap.add_argument("--patients", type=int, default=0, help="default claims / 5")
    ap.add_argument(
        "--payments", type=int, default=5_000, help="patient payments in the CSV import (at most)"
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=2,
        help="load_file processes at a time (the DAG's max_active_tis_per_dagrun for load_file: 2)",
    )
    ap.add_argument(
        "--validate-sample",
        type=int,
        default=1,
        help="files per claim type also validated with pyx12 for comparison (0: none)",
    )
    ap.add_argument(
        "--target", type=float, default=0.0, help="seconds; default 120 up to 100k claims, else 900"
    )
    ap.add_argument(
        "--shards",
        type=int,
        default=1,
        help="build the 837s in this many shards, one worker process each (CLAIMFLOW_OUTBOUND_SHARDS); 1: one pass",
    )
    ap.add_argument("--full-validation", action="store_true", help="validate every 837 with pyx12 (slow)")
    ap.add_argument("--sizes", type=int, nargs="+", help="run each size (own process) and fit a + b·N")
    ap.add_argument(
        "--prior",
        type=Path,
        nargs="+",
        default=[],
        help="files holding the final JSON line of earlier runs, added to the fit",
    )
    ap.add_argument("--project", type=int, default=0, help="project this many claims from the measured sizes")
    ap.add_argument("--json-out", type=Path, help="also write the final JSON line here")
    ap.add_argument("--keep", action="store_true", help="keep the scratch database and data directory")
    ap.add_argument(
        "--seed-cache",
        action="store_true",
        help="keep the seeded practice as a PostgreSQL template database and clone it on the next run "
        "(same size, seed and day); drop it with DROP DATABASE cf_seed_… when done",
    )
    ap.add_argument(
        "--stop-before", choices=["nightly"], help="(profiling) stop after the inbox load; implies --keep"
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    runs: list[dict[str, Any]] = []
    for p in args.prior:
        runs.append(json.loads(p.read_text().strip().splitlines()[-1]))
    if args.sizes:
        for size in args.sizes:
            with tempfile.NamedTemporaryFile("r", suffix=".json") as tmp:
                cmd = [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--claims",
                    str(size),
                    "--payments",
                    str(args.payments),
                    "--validate-sample",
                    str(args.validate_sample),
                    "--workers",
                    str(args.workers),
                    "--json-out",
                    tmp.name,
                ]
                cmd += ["--full-validation"] if args.full_validation else []
                cmd += ["--keep"] if args.keep else []
                cmd += ["--seed-cache"] if args.seed_cache else []
                cmd += ["--shards", str(args.shards)]
                cmd += ["--patients", str(args.patients)] if args.patients else []
                rc = subprocess.run(cmd, check=False).returncode
                if rc != 0:
                    print(f"run at {size:,} claims failed (exit {rc})", file=sys.stderr)
                    return rc
                runs.append(json.loads(Path(tmp.name).read_text().strip().splitlines()[-1]))
            print()
        summary: dict[str, Any] = {"runs": runs}
    elif not args.prior:
        run = run_cycle(args)
        runs.append(run)
        summary = run
    else:
        summary = {"runs": runs}
    if args.project:
        if len({r["claims"] for r in runs}) < 2:
            print("projection needs runs at two different sizes (--sizes, --prior)", file=sys.stderr)
        else:
            summary["projection"] = project(runs, args.project)
    line = json.dumps(summary, default=str)
    if args.json_out:
        args.json_out.write_text(line + "\n")
    print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
