"""``claimflow demo``: three nights of the real pipeline on embedded defaults.

Everything lives under ``--workdir`` (default ``./claimflow-demo``), which is wiped and rebuilt:

* ``claimflow.db`` — claimflow's SQLite database; ``airflow/`` — an AIRFLOW_HOME on SQLite;
* ``sandbox/`` — the built-in clearinghouse (an in-process SFTP server on a free loopback port with freshly
  generated keys, and its payer simulator);
* ``data/`` — outbox, inbox, archive, quarantine, reports; ``logs/`` — each DAG run's full Airflow output.

All of it is private (PHI at rest): the demo runs with umask 077 (so do its DAG runners), the workdir and
every folder in it are 0700, the database and every other file 0600.

Night 1 seeds a practice and runs ``claims_submission`` (837s → sandbox; acknowledgments come back at
once). Night 2 the sandbox pays (835s), ``clearinghouse_inbox`` collects and loads everything, a sample
patient-payment file is imported, and ``nightly_reconciliation`` posts, creates the secondary/tertiary
claims that are due, reconciles and builds the work list. Before night 3 the billing office works its queues
the way a person would with the CLI (``claimflow claim resubmit / correct / void``): rejected claims are
resubmitted, a few denied claims are corrected, a couple of paid claims are voided. Night 3 sends all of it
(with the secondary claims), the sandbox answers (acknowledgments, then reversals, replacement payments and
coordination-of-benefits payments), and the night is collected and reconciled. The DAGs run with
``dag.test()`` in a child process each, so their logs land in ``logs/`` and this process shows progress.

Before night 1 the practice checks its patients' eligibility through the clearinghouse mailbox (a 270
batch, the sandbox's 271s collected and loaded with the same functions the DAG tasks call); the sandbox
says some members' coverage has ended, and night 1 holds their claims (``coverage_inactive`` work items)
instead of sending them. The sandbox pends a few claims for review at each payment run; the nightly
reconciliation asks about them with 276s (``CLAIMFLOW_CLAIM_STATUS_DAYS=0``: the demo's nights are days
apart, not weeks), and the 277 answers (pended) load with the next night's inbox into the claims' history.

The last line printed is one JSON object (a contract for scripts): claims_submitted, accepted, rejected,
paid, denied, total_charge, total_paid, patient_responsibility, patient_payments, patient_balance_total,
balance_exceptions, report, secondary_claims_submitted, secondary_paid, corrected_claims_submitted,
voided_claims, worklist_open, worklist_closed, statements_sent, patient_payments_online, payment_plans,
patient_refunds, eligibility_checked, eligibility_inactive, status_inquiries.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

PARTNER = "sandbox"
#: How many claims the demo's billing office works before night 3 (deterministic: lowest claim numbers).
CORRECTIONS = 5
VOIDS = 2
RESUBMITS = 5
#: Share (per mille) of claims the sandbox payer pends for one payment run: the 276s' subject.
PEND_PER_MILLE = 30


class DemoFailed(Exception):
    pass


class _Progress:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.t0 = time.monotonic()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"[{time.monotonic() - self.t0:6.1f}s] {message}", flush=True)


def _environment(workdir: Path) -> dict[str, str]:
    import importlib.util

    spec = importlib.util.find_spec("dags")  # the DAG folder, without importing the DAG layer
    assert spec is not None and spec.origin is not None, "the dags package is not importable"

    airflow_home = workdir / "airflow"
    return {
        "CLAIMFLOW_DATABASE_URL": f"sqlite:///{workdir / 'claimflow.db'}",
        "CLAIMFLOW_DATA_DIR": str(workdir / "data"),
        "CLAIMFLOW_DEFAULT_PARTNER": PARTNER,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(Path(spec.origin).resolve().parent),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        "CLAIMFLOW_RETRY_DELAY_SECONDS": "5",  # the demo's sandbox is local: retry quickly
        # dag.test() cannot finish a run that carries a deadline alert (Airflow 3.3 stores the alert's id as a
        # dict there); the scheduler handles it fine, so only the demo switches the alert off.
        "CLAIMFLOW_NIGHTLY_DEADLINE_HOURS": "0",
        # the demo's nights are a day apart: a claim the payer has not paid by the next night is "silent"
        "CLAIMFLOW_CLAIM_STATUS_DAYS": "0",
    }


def _fresh_workdir(workdir: Path) -> None:
    from claimflow.db.at_rest import ensure_private_dir

    ensure_private_dir(workdir)  # 0700 (tightened if it exists open): it holds the PHI database
    for name in ("claimflow.db", "claimflow.db-wal", "claimflow.db-shm"):
        (workdir / name).unlink(missing_ok=True)
    for name in ("airflow", "sandbox", "data", "logs", "keys"):
        shutil.rmtree(workdir / name, ignore_errors=True)
    for name in ("logs", "keys"):
        (workdir / name).mkdir(mode=0o700)


def _airflow_migrate(env: dict[str, str], log_path: Path) -> None:
    airflow = Path(sys.executable).with_name("airflow")
    cmd = (
        [str(airflow), "db", "migrate"]
        if airflow.exists()
        else [sys.executable, "-m", "airflow", "db", "migrate"]
    )
    with log_path.open("ab") as out:
        rc = subprocess.run(cmd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        raise DemoFailed(f"airflow db migrate failed; see {log_path}")


def run_dag(
    dag_id: str, logical_date: dt.date, env: dict[str, str], log_path: Path, timeout: float = 900.0
) -> dict[str, Any]:
    """Run one DAG with dag.test() in a child process; returns its run state and failed tasks."""
    result_path = log_path.with_suffix(".result.json")
    cmd = [
        sys.executable,
        "-m",
        "claimflow.sandbox.demo_runner",
        dag_id,
        logical_date.isoformat(),
        str(result_path),
    ]
    with log_path.open("wb") as out:
        try:
            subprocess.run(
                cmd,
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise DemoFailed(f"{dag_id} did not finish within {timeout:.0f} s; see {log_path}") from None
    if not result_path.exists():
        raise DemoFailed(f"{dag_id} did not run; see {log_path}")
    return json.loads(result_path.read_text())


def _dag(
    dag_id: str, day: dt.date, env: dict[str, str], workdir: Path, progress: Callable[[str], None], night: int
) -> dict[str, Any]:
    log_path = workdir / "logs" / f"night{night}-{dag_id}.log"
    progress(f"night {night}: running DAG {dag_id} …")
    result = run_dag(dag_id, day, env, log_path)
    tasks = result.get("tasks", {})
    failed = [t for t, s in tasks.items() if s not in ("success", "skipped")]
    progress(
        f"night {night}: {dag_id} {result.get('state')} ({len(tasks)} task runs"
        + (f"; not successful: {', '.join(failed)}" if failed else "")
        + f") — log {log_path}"
    )
    if result.get("state") != "success":
        raise DemoFailed(f"{dag_id} finished {result.get('state')}: {', '.join(failed)}; see {log_path}")
    return result


def _isa13(path: Path) -> str:
    """The interchange control number of an uploaded file ("" when it has no readable ISA)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(106).decode("ascii", "replace")
    except OSError:
        return ""
    if not head.startswith("ISA") or len(head) < 4:
        return ""
    elements = head.split(head[3])
    return elements[13].strip() if len(elements) > 13 else ""


class SandboxClearinghouse:
    """The built-in clearinghouse, in process: an SFTP server on a free loopback port with freshly generated
    keys, answering 270/276 inquiries at once, claim files with TA1/999/277CA at :meth:`acknowledge`, and
    paying (835) at the next payment run.

    Claim files are adjudicated in interchange control number order at :meth:`acknowledge`, not in the
    order they arrived: the payer's accumulators (deductibles met, claim numbers) depend on that order,
    and uploads running in parallel (CeleryExecutor workers, retried tasks) arrive in any order. So the
    same night gives the same answers however it was scheduled."""

    def __init__(self, workdir: Path, seed: int) -> None:
        from claimflow.sandbox.payer import default_state_path, make_upload_handler
        from claimflow.sandbox.payer.inquiries import InquiringPayer
        from claimflow.sandbox.server import SandboxServer
        from sftp.keys import generate_ed25519

        root = workdir / "sandbox"
        root.mkdir(mode=0o700, exist_ok=True)
        self.client_key = generate_ed25519(workdir / "keys" / "claimflow_ed25519", comment="claimflow-demo")
        self.payer = InquiringPayer(
            make_upload_handler(root, seed=seed, state_path=default_state_path(root), defer_payments=True),
            pend_per_mille=PEND_PER_MILLE,
        )
        self._uploads: list[tuple[str, Path]] = []
        self._lock = threading.Lock()
        self.server = SandboxServer(
            root, authorized_keys={PARTNER: self.client_key.public_line}, on_upload=self._on_upload
        ).start()
        self.description = (
            f"sandbox clearinghouse on 127.0.0.1:{self.server.port} (host key pinned, key auth)"
        )

    def connection(self) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.server.port,
            "login": PARTNER,
            "host_key": " ".join(self.server.host_key_line().split()[:2]),  # "ssh-ed25519 AAAA…"
            "key_file": str(self.client_key.private_path),
            "remote_outbound": "/inbound",
            "remote_inbound": "/outbound",
        }

    def _on_upload(self, partner: str, path: Path) -> None:
        from claimflow.sandbox.payer.inquiries import inquiry_kind

        if inquiry_kind(path) is not None:  # a 270 / 276: answered at once, like a payer's inquiry service
            self.payer(partner, path)
            return
        with self._lock:
            self._uploads.append((partner, path))

    def acknowledge(self) -> None:
        """Answer every claim file received since the last call, in ISA13 order (see the class doc)."""
        self.server.wait_idle(timeout=300)
        with self._lock:
            batch, self._uploads = self._uploads, []
        # one state load and save for the whole night, not one per file (the state grows with every claim)
        self.payer.answer_many(sorted(batch, key=lambda upload: (_isa13(upload[1]), upload[1].name)))

    def payment_run(self, day: dt.date) -> int:
        return len(self.payer.release_payments(run_date=day, partner=PARTNER))

    def close(self) -> None:
        self.server.stop()


def airflow_connection_env(clearinghouse: Any) -> dict[str, str]:
    """``AIRFLOW_CONN_CLAIMFLOW_<PARTNER>``: an sftp connection with the pinned host key in its extra."""
    from claimflow.settings import get_settings

    settings = get_settings()
    c = clearinghouse.connection()
    extra = {k: v for k, v in c.items() if k not in ("host", "port", "login")}
    extra.update(
        {
            "isa_receiver_id": settings.receiver_id,
            "usage_indicator": settings.isa_usage,
            "stability_wait": "0.2",
            "look_for_keys": "false",
        }
    )
    conn = {"conn_type": "sftp", "host": c["host"], "port": c["port"], "login": c["login"], "extra": extra}
    return {f"AIRFLOW_CONN_CLAIMFLOW_{PARTNER.upper()}": json.dumps(conn)}


def _partner_connect(clearinghouse: Any) -> Callable[[], Any]:
    """``connect()`` → a context manager of (SFTP client, partner profile) for the clearinghouse, built from
    the same connection the DAGs use (host key pinned), for the steps the demo runs in process."""
    from contextlib import contextmanager

    from sftp.connect import open_sftp
    from sftp.partner import profile_from_connection

    conn = json.loads(airflow_connection_env(clearinghouse)[f"AIRFLOW_CONN_CLAIMFLOW_{PARTNER.upper()}"])
    profile = profile_from_connection(PARTNER, conn["host"], conn["port"], conn["login"], conn["extra"])

    @contextmanager
    def connect() -> Any:
        with open_sftp(profile) as client:
            yield client, profile

    return connect


def _check_eligibility(
    engine: Any, clearinghouse: Any, day: dt.date, progress: Callable[[str], None]
) -> dict[str, int]:
    """Before night 1: the 270 batch for every patient with a claim to send (``pipeline.request_eligibility``,
    as the DAG's first task), the clearinghouse answers (271s in the mailbox), and the inbox functions collect
    and load them (``pipeline.fetch_new_files`` / ``load_file``). Night 1 then holds the claims of members
    the payers say are inactive."""
    from sqlalchemy import func, select

    from claimflow.db import models as m
    from claimflow.services import pipeline

    connect = _partner_connect(clearinghouse)
    asked = pipeline.request_eligibility(day.isoformat(), PARTNER, connect)
    clearinghouse.acknowledge()
    with connect() as (client, profile):
        waiting = pipeline.fetch_new_files(client, profile)
    for interchange_id in waiting:
        pipeline.load_file(interchange_id)
    with engine.connect() as conn:
        by_status = dict(
            conn.execute(
                select(m.CoverageEligibility.status, func.count()).group_by(m.CoverageEligibility.status)
            ).all()
        )
    progress(
        f"before night 1: asked the payers about {asked['inquiries']} patients' coverage (270); the 271s say "
        f"{by_status.get('active', 0)} active, {by_status.get('inactive', 0)} inactive, "
        f"{by_status.get('error', 0)} not found"
    )
    return {k: int(v) for k, v in by_status.items()}


def _inquiry_summary(engine: Any) -> dict[str, int]:
    """The eligibility and claim-status keys: coverages with a 271 answer, those inactive, claims asked
    about with a 276."""
    from sqlalchemy import distinct, func, select

    from claimflow.db import models as m
    from claimflow.inquiries.claim_status import ASKED

    with engine.connect() as conn:
        by_status = dict(
            conn.execute(
                select(m.CoverageEligibility.status, func.count()).group_by(m.CoverageEligibility.status)
            ).all()
        )
        asked = conn.execute(
            select(func.count(distinct(m.AuditLog.object_id))).where(
                m.AuditLog.action == ASKED, m.AuditLog.object_type == "claim"
            )
        ).scalar_one()
    return {
        "eligibility_checked": sum(int(v) for v in by_status.values()),
        "eligibility_inactive": int(by_status.get("inactive", 0)),
        "status_inquiries": int(asked),
    }


def _held_for_coverage(engine: Any) -> int:
    from sqlalchemy import distinct, func, select

    from claimflow.db import models as m
    from claimflow.inquiries.eligibility_hold import RULE

    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count(distinct(m.ScrubResult.claim_id))).where(m.ScrubResult.rule == RULE)
            ).scalar_one()
        )


def _patient_payments_csv(engine: Any, path: Path, received_on: dt.date) -> int:
    """A sample patient-payment file: some patients pay what their 835s say they owe, some pay part."""
    from sqlalchemy import select

    from claimflow.db import models as m

    with engine.connect() as conn:
        rows = conn.execute(
            select(m.Claim.claim_number, m.Patient.account_number, m.ClaimPayment.patient_responsibility)
            .join(m.Submission, m.Submission.patient_control_number == m.ClaimPayment.patient_control_number)
            .join(m.Claim, m.Claim.id == m.Submission.claim_id)
            .join(m.Patient, m.Patient.id == m.Claim.patient_id)
            .where(m.ClaimPayment.patient_responsibility > 0, m.ClaimPayment.status_code.in_(["1", "2", "3"]))
            .order_by(m.Claim.claim_number)
        ).all()
    written = 0
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["external_id", "account_number", "claim_number", "amount", "received_on", "method"])
        for i, (claim_number, account, owed) in enumerate(rows):
            if i % 3:
                continue
            amount = owed if i % 2 == 0 else (owed / 2).quantize(Decimal("0.01"))
            out.writerow(
                [
                    f"DEMO-{claim_number}",
                    account,
                    claim_number,
                    f"{amount:.2f}",
                    received_on.isoformat(),
                    "card" if i % 4 else "check",
                ]
            )
            written += 1
    os.chmod(path, 0o600)
    return written


def _summary(engine: Any, recon: dict[str, Any], report: str) -> dict[str, Any]:
    """The original keys count encounters, i.e. claims billed to the first payer (a secondary claim carries
    the same charge again); the follow-up keys count the secondary/tertiary claims."""
    from sqlalchemy import distinct, func, select

    from claimflow.db import models as m

    primary = m.Claim.responsibility == "P"
    with engine.connect() as conn:
        submitted = conn.execute(
            select(func.count(distinct(m.Submission.claim_id)))
            .join(m.Claim, m.Claim.id == m.Submission.claim_id)
            .where(primary)
        ).scalar_one()
        accepted = conn.execute(
            select(func.count(distinct(m.ClaimStatusRecord.claim_id)))
            .join(m.Claim, m.Claim.id == m.ClaimStatusRecord.claim_id)
            .where(m.ClaimStatusRecord.accepted.is_(True), m.ClaimStatusRecord.level == "claim", primary)
        ).scalar_one()
        rejected = conn.execute(
            select(func.count()).select_from(m.Claim).where(m.Claim.status == m.ClaimStatus.REJECTED, primary)
        ).scalar_one()
        paid = conn.execute(
            select(func.count())
            .select_from(m.Claim)
            .where(m.Claim.status.in_([m.ClaimStatus.PAID, m.ClaimStatus.PARTIALLY_PAID]), primary)
        ).scalar_one()
        denied = conn.execute(
            select(func.count()).select_from(m.Claim).where(m.Claim.status == m.ClaimStatus.DENIED, primary)
        ).scalar_one()
        total_charge = conn.execute(
            select(func.coalesce(func.sum(m.Claim.total_charge), 0)).where(
                m.Claim.id.in_(select(m.Submission.claim_id)), primary
            )
        ).scalar_one()
    return {
        "claims_submitted": submitted,
        "accepted": accepted,
        "rejected": rejected,
        "paid": paid,
        "denied": denied,
        "total_charge": f"{Decimal(total_charge):.2f}",
        "total_paid": recon["total_paid"],
        "patient_responsibility": recon["patient_responsibility"],
        "patient_payments": recon["patient_payments"],
        "patient_balance_total": recon["patient_balance_total"],
        "balance_exceptions": int(recon["balance_exceptions"]),
        "report": report,
        **_follow_up_summary(engine),
    }


def _follow_up_summary(engine: Any) -> dict[str, int]:
    """Night 3's keys: claims billed to a later payer, replacement and void claims sent, the work list."""
    from sqlalchemy import distinct, func, select

    from claimflow.db import models as m

    later_payer = m.Claim.responsibility.in_(("S", "T"))
    with engine.connect() as conn:
        secondary_submitted = conn.execute(
            select(func.count(distinct(m.Submission.claim_id)))
            .join(m.Claim, m.Claim.id == m.Submission.claim_id)
            .where(later_payer)
        ).scalar_one()
        secondary_paid = conn.execute(
            select(func.count())
            .select_from(m.Claim)
            .where(later_payer, m.Claim.status.in_([m.ClaimStatus.PAID, m.ClaimStatus.PARTIALLY_PAID]))
        ).scalar_one()
        by_frequency = dict(
            conn.execute(
                select(m.Submission.frequency, func.count(distinct(m.Submission.claim_id)))
                .where(m.Submission.frequency.in_(("7", "8")))
                .group_by(m.Submission.frequency)
            ).all()
        )
        items = dict(conn.execute(select(m.WorkItem.status, func.count()).group_by(m.WorkItem.status)).all())
    closed = int(items.pop(m.WorkItemStatus.CLOSED, 0))
    return {
        "secondary_claims_submitted": int(secondary_submitted),
        "secondary_paid": int(secondary_paid),
        "corrected_claims_submitted": int(by_frequency.get("7", 0)),
        "voided_claims": int(by_frequency.get("8", 0)),
        "worklist_open": sum(int(n) for n in items.values()),
        "worklist_closed": closed,
    }


def _work_the_queues(engine: Any, today: dt.date, progress: Callable[[str], None]) -> dict[str, int]:
    """What a billing office does between night 2 and night 3, through the same functions the
    ``claimflow claim …`` commands call: resubmit rejected claims, correct denied ones, void paid ones.
    A claim the function refuses (e.g. nothing the payer can identify yet) is skipped, as a person would."""
    from sqlalchemy import select

    from claimflow.db import models as m
    from claimflow.followup.corrections import CorrectionError, correct_claim, resubmit_claim, void_claim

    def pick(status: str, limit: int) -> list[str]:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    select(m.Claim.claim_number)
                    .where(m.Claim.status == status, m.Claim.responsibility == "P")
                    .order_by(m.Claim.claim_number)
                    .limit(limit * 3)
                ).scalars()
            )

    done = {"resubmitted": 0, "corrected": 0, "voided": 0}
    plan = [
        ("resubmitted", resubmit_claim, m.ClaimStatus.REJECTED, RESUBMITS),
        ("corrected", correct_claim, m.ClaimStatus.DENIED, CORRECTIONS),
        ("voided", void_claim, m.ClaimStatus.PAID, VOIDS),
    ]
    for key, action, status, limit in plan:
        for claim_number in pick(status, limit):
            if done[key] >= limit:
                break
            try:
                action(engine, claim_number, actor="demo:billing-office", today=today)
            except CorrectionError:
                continue
            done[key] += 1
    progress(
        f"night 3: the billing office resubmitted {done['resubmitted']} rejected claims, corrected "
        f"{done['corrected']} denied claims and voided {done['voided']} paid claims"
    )
    return done


def run_two_nights(
    workdir: Path,
    *,
    database_url: str,
    make_clearinghouse: Callable[[Path], Any],
    patients: int,
    claims: int,
    seed: int,
    progress: Callable[[str], None],
    after_seed: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """Seed, then night 1 (submit), night 2 (collect, import patient payments, post, bill secondary payers,
    reconcile) and night 3 (corrections, voids, resubmissions and secondary claims out and back) with the
    real DAGs. Returns the summary dict. Used by the demo (SQLite + sandbox) and by the integration test
    (PostgreSQL + OpenSSH sshd)."""
    from claimflow.db.at_rest import private_umask

    previous_umask = private_umask()  # inherited by the DAG runners and airflow db migrate
    try:
        return _run_two_nights(
            workdir,
            database_url=database_url,
            make_clearinghouse=make_clearinghouse,
            patients=patients,
            claims=claims,
            seed=seed,
            progress=progress,
            after_seed=after_seed,
        )
    finally:
        os.umask(previous_umask)


def _run_two_nights(
    workdir: Path,
    *,
    database_url: str,
    make_clearinghouse: Callable[[Path], Any],
    patients: int,
    claims: int,
    seed: int,
    progress: Callable[[str], None],
    after_seed: Callable[[Any], None] | None,
) -> dict[str, Any]:
    workdir = workdir.resolve()
    _fresh_workdir(workdir)
    env = _environment(workdir)
    env["CLAIMFLOW_DATABASE_URL"] = database_url
    os.environ.update(env)
    from claimflow.settings import prepare_data_dirs, reset_settings_cache

    reset_settings_cache()
    prepare_data_dirs()  # data/ and its outbox, inbox, archive, quarantine, reports: 0700
    # Night 2 is today: postings whose date comes from the wall clock (charges, transfers) must not fall after
    # a night's run date. Night 3 is tomorrow's run.
    night1 = dt.date.today() - dt.timedelta(days=1)
    night2 = night1 + dt.timedelta(days=1)
    night3 = night2 + dt.timedelta(days=1)
    from claimflow.db.migrate import upgrade
    from claimflow.db.session import get_engine
    from claimflow.sandbox.seed import seed_practice

    upgrade(database_url)
    engine = get_engine()
    seeded = seed_practice(engine, patients=patients, claims=claims, seed=seed, as_of=night1)
    progress(
        f"claimflow database ready; seeded {seeded.patients} patients, {seeded.claims} claims "
        f"({seeded.deliberately_flawed} deliberately flawed for the scrubber)"
    )
    if after_seed is not None:
        after_seed(engine)
    _airflow_migrate(env, workdir / "logs" / "airflow-db-migrate.log")
    progress("Airflow metadata database ready (SQLite)")
    clearinghouse = make_clearinghouse(workdir)
    try:
        progress(clearinghouse.description)
        env.update(airflow_connection_env(clearinghouse))
        os.environ.update(env)

        _check_eligibility(engine, clearinghouse, night1, progress)
        _dag("claims_submission", night1, env, workdir, progress, 1)
        progress(f"night 1: {_held_for_coverage(engine)} claims held: the payer says coverage was not active")
        clearinghouse.acknowledge()
        progress("night 1: the clearinghouse acknowledged the files (999, 277CA waiting in the mailbox)")

        released = clearinghouse.payment_run(night2)
        progress(f"night 2: the payers ran their payment cycle ({released} 835 files)")
        _dag("clearinghouse_inbox", night2, env, workdir, progress, 2)
        payments_file = workdir / "data" / f"patient-payments-{night2.isoformat()}.csv"
        _patient_payments_csv(engine, payments_file, night2)
        from adjudication.patient_payments import import_payments_csv

        imported = import_payments_csv(engine, payments_file, actor="demo:payments-import")
        progress(f"night 2: imported {imported.get('imported')} patient payments (${imported.get('amount')})")
        _dag("nightly_reconciliation", night2, env, workdir, progress, 2)

        _work_the_queues(engine, night3, progress)
        _dag("claims_submission", night3, env, workdir, progress, 3)
        clearinghouse.acknowledge()
        released = clearinghouse.payment_run(night3)
        progress(
            f"night 3: the payers answered replacements, voids and secondary claims ({released} 835 files)"
        )
        _dag("clearinghouse_inbox", night3, env, workdir, progress, 3)
        _dag("nightly_reconciliation", night3, env, workdir, progress, 3)
    finally:
        clearinghouse.close()

    from adjudication.reconcile import reconcile

    recon = reconcile(engine, night3)  # the snapshot the DAG wrote: recomputing it changes nothing
    report = str(workdir / "data" / "reports" / f"run-{night3.isoformat()}.html")
    patient_side = _patient_side(engine, night3, workdir / "data" / "statements", progress)
    return {**_summary(engine, recon, report), **patient_side, **_inquiry_summary(engine)}


def _patient_side(
    engine: Any, night: dt.date, out: Path, progress: Callable[[str], None], seed: int = 2026
) -> dict[str, int]:
    """Night 3's patient side: refunds found, statements (PDF + HTML + manifest) for balances due, then the
    simulated patients answer them (claimflow.sandbox.patients: signed webhook events over HTTP to a local
    webhook server, plans through create_plan), seeded so the demo's numbers repeat."""
    from claimflow.sandbox.patients import online_summary, simulate_patients
    from claimflow.statements import patient_night

    done = patient_night(engine, run_date=night, out=out, actor="demo:statements")
    progress(f"night 3: {done['statements_sent']} patient statements (${done['amount_due']} due) in {out}")
    sim = simulate_patients(engine, night, seed=seed, manifest=out / "statements.csv", actor="demo:patients")
    done.update(online_summary(engine))
    progress(
        f"night 3: simulated patients answered {sim.statements} statements: "
        f"{done['patient_payments_online']['posted']} online payments "
        f"(${done['patient_payments_online']['amount']}), {sim.plans_created} payment plans, "
        f"{sim.events.get('failed', 0)} failed and {sim.events.get('refunded', 0)} refunded"
    )
    return {
        "statements_sent": int(done["statements_sent"]),
        "patient_payments_online": int(done["patient_payments_online"]["posted"]),
        "payment_plans": int(done["payment_plans"]["active"]),
        "patient_refunds": int(done["patient_refunds"]["due"]) + int(done["patient_refunds"]["issued"]),
    }


def run_demo(*, workdir: Path, patients: int, claims: int, seed: int, quiet: bool = False) -> int:
    progress = _Progress(quiet)
    workdir = workdir.resolve()
    try:
        summary = run_two_nights(
            workdir,
            database_url=f"sqlite:///{workdir / 'claimflow.db'}",
            make_clearinghouse=lambda wd: SandboxClearinghouse(wd, seed),
            patients=patients,
            claims=claims,
            seed=seed,
            progress=progress,
        )
    except DemoFailed as exc:
        print(f"claimflow demo failed: {exc}", file=sys.stderr)
        return 1
    _print_summary(summary, workdir)
    print(json.dumps(summary))
    return 0


def _print_summary(s: dict[str, Any], workdir: Path) -> None:
    print()
    print("claimflow demo — three nights against the sandbox clearinghouse")
    print(f"  claims submitted        {s['claims_submitted']:>10}")
    print(f"  accepted (277CA)        {s['accepted']:>10}")
    print(f"  rejected                {s['rejected']:>10}")
    print(f"  paid / partially paid   {s['paid']:>10}")
    print(f"  denied                  {s['denied']:>10}")
    print(f"  charges submitted       {'$' + format(Decimal(s['total_charge']), ',.2f'):>14}")
    print(f"  paid by payers          {'$' + format(Decimal(s['total_paid']), ',.2f'):>14}")
    print(f"  patient responsibility  {'$' + format(Decimal(s['patient_responsibility']), ',.2f'):>14}")
    print(f"  patient payments        {'$' + format(Decimal(s['patient_payments']), ',.2f'):>14}")
    print(f"  patient balances        {'$' + format(Decimal(s['patient_balance_total']), ',.2f'):>14}")
    print(f"  balance exceptions      {s['balance_exceptions']:>10}")
    print(f"  secondary claims sent   {s['secondary_claims_submitted']:>10}   paid {s['secondary_paid']}")
    print(f"  corrected / voided      {s['corrected_claims_submitted']:>10} / {s['voided_claims']}")
    print(f"  work items open/closed  {s['worklist_open']:>10} / {s['worklist_closed']}")
    print(f"  patient statements      {s['statements_sent']:>10}   refunds due/issued {s['patient_refunds']}")
    print(f"  eligibility checked     {s['eligibility_checked']:>10}   inactive {s['eligibility_inactive']}")
    print(f"  claim status inquiries  {s['status_inquiries']:>10}")
    print(f"  run report              {s['report']}")
    print(f"  everything else         {workdir}")
