"""Two nights of the real DAGs (dag.test) on PostgreSQL against a real OpenSSH sshd.

Night 1 submits; the sandbox payer answers the uploaded files; night 2 collects, imports patient payments
and reconciles. Then:

* every paid, adjusted and patient-responsibility cent in the 835 files on disk is in the ledger exactly
  once (checked with an independent reader of the files, not claimflow's parsers);
* rerunning night 2 — the whole DAGs, and single tasks — leaves every table unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, func, select, text

from claimflow.db import models as m
from claimflow.db.session import make_engine
from tests.support import databases as dbs
from tests.support.sshd import Sshd, find_sshd

pytestmark = [pytest.mark.postgres, pytest.mark.sshd, pytest.mark.slow]
PARTNER = "sandbox"
VOLATILE = {
    "created_at",
    "loaded_at",
    "applied_at",
    "posted_at",
    "at",
    "started_at",
    "finished_at",
    "status_changed_at",
    "submitted_at",
    "uploaded_at",
}


class SshdClearinghouse:
    """The sandbox payer behind a real OpenSSH server: claims are uploaded over SFTP to
    ``<root>/sandbox/inbound``; the payer's answers are put in ``<root>/sandbox/outbound``."""

    def __init__(self, workdir: Path, seed: int) -> None:
        from claimflow.sandbox.demo import PEND_PER_MILLE
        from claimflow.sandbox.payer import default_state_path, make_upload_handler
        from claimflow.sandbox.payer.inquiries import InquiringPayer
        from claimflow.sandbox.server import mailbox
        from sftp.keys import generate_ed25519

        self.root = workdir / "sshd-root"
        self.box = mailbox(self.root, PARTNER)
        self.client_key = generate_ed25519(workdir / "keys" / "client_ed25519")
        self.sshd = Sshd(workdir / "sshd", authorized_keys=[self.client_key.public_line]).start()
        # as the demo's: answers 270/276 uploads too, and pends a few claims for one payment run
        self.payer = InquiringPayer(
            make_upload_handler(
                self.root, seed=seed, state_path=default_state_path(self.root), defer_payments=True
            ),
            pend_per_mille=PEND_PER_MILLE,
        )
        self.answered: set[str] = set()
        self.description = f"OpenSSH sshd on 127.0.0.1:{self.sshd.port}"

    def connection(self) -> dict[str, Any]:
        return {
            "host": self.sshd.host,
            "port": self.sshd.port,
            "login": self.sshd.user,
            "host_key": self.sshd.host_key_line(),
            "key_file": str(self.client_key.private_path),
            "remote_outbound": str(self.box / "inbound"),
            "remote_inbound": str(self.box / "outbound"),
        }

    def acknowledge(self) -> None:
        for path in sorted((self.box / "inbound").iterdir()):
            if path.name.startswith(".") or path.name in self.answered:
                continue
            self.payer(PARTNER, path)
            self.answered.add(path.name)

    def payment_run(self, day: dt.date) -> int:
        return len(self.payer.release_payments(run_date=day, partner=PARTNER))

    def close(self) -> None:
        self.sshd.stop()


@pytest.fixture(scope="module")
def two_nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if find_sshd() is None:
        dbs.service_missing("OpenSSH sshd (/usr/sbin/sshd)")
    dbs.require_pg()
    from claimflow.sandbox.demo import run_two_nights

    workdir = tmp_path_factory.mktemp("nightly")
    url = dbs.create_pg_database("cf_nightly")
    holder: dict[str, Any] = {}

    def make(wd: Path) -> SshdClearinghouse:
        holder["ch"] = SshdClearinghouse(wd, seed=11)
        return holder["ch"]

    try:
        summary = run_two_nights(
            workdir,
            database_url=url,
            make_clearinghouse=make,
            patients=120,
            claims=300,
            seed=11,
            progress=lambda msg: print(msg, flush=True),
            after_seed=_plant_canaries,
        )
        yield {"summary": summary, "url": url, "workdir": workdir, "outbound": holder["ch"].box / "outbound"}
    finally:
        dbs.drop_pg_database(url)


CANARIES = [f"ZZCANARY{i:02d}" for i in range(20)]


def _plant_canaries(engine: Engine) -> None:
    """Give 20 patients (and their subscriber records and coverages) unmistakable fake PHI."""
    with engine.begin() as conn:
        for i, canary in enumerate(CANARIES, start=1):
            conn.execute(
                m.Patient.__table__.update()
                .where(m.Patient.id == i)
                .values(last_name=canary, address_line1=f"1 {canary} WAY")
            )
            conn.execute(
                m.Subscriber.__table__.update()
                .where(m.Subscriber.patient_id == i)
                .values(last_name=canary, address_line1=f"1 {canary} WAY")
            )
            conn.execute(
                m.Coverage.__table__.update()
                .where(m.Coverage.patient_id == i, m.Coverage.member_id != "")
                .values(member_id=f"{canary}MBR")
            )


def _engine(two_nights: dict[str, Any]) -> Engine:
    return make_engine(two_nights["url"])


def _segments(path: Path) -> list[list[str]]:
    data = path.read_text("latin-1").lstrip("\ufeff")
    element, terminator = data[3], data[105]
    return [s.strip().split(element) for s in data.split(terminator) if s.strip()]


def _independent_835_totals(outbound: Path, only: set[str] | None = None) -> dict[str, Decimal]:
    """Sum CLP04, CLP05 and CAS by group straight from the files, with no claimflow code; ``only``: the
    claim payments whose CLP01 is one of these patient control numbers."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for path in sorted(outbound.glob("*.835")):
        take = False
        for seg in _segments(path):
            if seg[0] == "CLP":
                take = only is None or seg[1] in only
                if take:
                    totals["paid"] += Decimal(seg[4])
                    totals["patient_responsibility"] += Decimal(seg[5] or "0")
            elif seg[0] in ("PLB", "SE"):
                take = False
            elif seg[0] == "CAS" and take:
                for i in range(2, len(seg), 3):
                    if i + 1 < len(seg) and seg[i + 1]:
                        totals["CAS_" + seg[1]] += Decimal(seg[i + 1])
    return totals


def test_summary_adds_up(two_nights: dict[str, Any]) -> None:
    s = two_nights["summary"]
    assert s["claims_submitted"] > 250
    assert s["accepted"] + s["rejected"] >= s["claims_submitted"] - 5
    assert s["paid"] > 0 and s["balance_exceptions"] == 0
    assert Decimal(s["patient_balance_total"]) == Decimal(s["patient_responsibility"]) - Decimal(
        s["patient_payments"]
    )
    assert Path(s["report"]).read_text().lower().startswith("<!doctype html")
    # night 3 sent follow-up claims and the payers answered them
    assert s["secondary_claims_submitted"] > 0 and s["secondary_paid"] > 0
    assert s["corrected_claims_submitted"] > 0 and s["voided_claims"] > 0


def test_eligibility_holds_and_status_inquiries(two_nights: dict[str, Any]) -> None:
    """Eligibility was checked before night 1 and held the claims of inactive members; the claims the
    sandbox pended were asked about with 276s, and the 277 answers reached the claims' history."""
    from claimflow.inquiries.claim_status import ASKED
    from claimflow.inquiries.eligibility_hold import RULE

    s = two_nights["summary"]
    engine = _engine(two_nights)
    with engine.connect() as conn:
        by_status = dict(
            conn.execute(
                select(m.CoverageEligibility.status, func.count()).group_by(m.CoverageEligibility.status)
            ).all()
        )
        held = set(conn.execute(select(m.ScrubResult.claim_id).where(m.ScrubResult.rule == RULE)).scalars())
        held_inactive = conn.execute(
            select(func.count())
            .select_from(m.Claim)
            .join(m.CoverageEligibility, m.CoverageEligibility.coverage_id == m.Claim.coverage_id)
            .where(m.Claim.id.in_(held), m.CoverageEligibility.status == "inactive")
        ).scalar_one()
        sent_held = conn.execute(
            select(func.count()).select_from(m.Submission).where(m.Submission.claim_id.in_(held))
        ).scalar_one()
        asked = set(conn.execute(select(m.AuditLog.object_id).where(m.AuditLog.action == ASKED)).scalars())
        # 277 (X212) answers: pended (P1) for the claims asked on night 2, applied to those claims
        answered = conn.execute(
            select(m.ClaimStatusRecord.claim_id, m.ClaimStatusRecord.category)
            .join(m.Interchange, m.Interchange.id == m.ClaimStatusRecord.interchange_id)
            .where(m.ClaimStatusRecord.category.in_(("P1", "F1", "F2", "D0")))
        ).all()
    assert s["eligibility_checked"] == sum(by_status.values()) > 100
    assert s["eligibility_inactive"] == by_status["inactive"] > 0
    assert held and held_inactive == len(held) and sent_held == 0
    assert s["status_inquiries"] == len(asked) > 0
    assert "P1" in {c for _, c in answered}
    assert {str(cid) for cid, _ in answered} <= asked and all(cid is not None for cid, _ in answered)


def _ledger_sum(
    conn: Any, account: str, prefixes: tuple[str, ...], claim_ids: set[int] | None = None
) -> Decimal:
    q = select(m.LedgerEntry.txn_key, m.LedgerEntry.claim_id, m.LedgerEntry.amount).where(
        m.LedgerEntry.account == account
    )
    return sum(
        (
            a
            for k, c, a in conn.execute(q)
            if k.split(":", 1)[0] in prefixes and (claim_ids is None or c in claim_ids)
        ),
        Decimal(0),
    )


def test_every_835_cent_is_in_the_ledger_once(two_nights: dict[str, Any]) -> None:
    """Payments and reversals (CLP04), patient responsibility (CAS PR) and — on claims billed to the first
    payer — contractual and other adjustments: the 835 files and the ledger agree to the cent. (On a
    secondary claim the part of its adjustments that repeats what the primary settled is not booked again:
    tests/integration/test_cob_ledger.py proves that arithmetic.)"""
    engine = _engine(two_nights)
    with engine.connect() as conn:
        primary = {
            pcn: cid
            for pcn, cid in conn.execute(
                select(m.Submission.patient_control_number, m.Claim.id)
                .join(m.Claim, m.Claim.id == m.Submission.claim_id)
                .where(m.Claim.responsibility == "P")
            )
        }
        unmatched = conn.execute(select(func.count()).select_from(m.UnmatchedPayment)).scalar_one()
        unbalanced_txns = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT txn_key FROM ledger_entries GROUP BY txn_key "
                "HAVING sum(amount) <> 0) t"
            )
        ).scalar_one()
        cash = _ledger_sum(conn, "cash", ("pay", "rev"))
        to_patient = _ledger_sum(conn, "ar_patient", ("pr", "rev"))
        ids = set(primary.values())
        contractual = _ledger_sum(conn, "contractual", ("co", "rev"), ids)
        other = _ledger_sum(conn, "adjustments", ("oa", "rev"), ids)
    expected = _independent_835_totals(two_nights["outbound"])
    on_primary = _independent_835_totals(two_nights["outbound"], only=set(primary))
    assert expected["paid"] > 0 and on_primary["CAS_CO"] > 0
    assert unmatched == 0
    assert unbalanced_txns == 0
    assert cash == expected["paid"]
    assert to_patient == expected["CAS_PR"] == expected["patient_responsibility"]
    assert contractual == on_primary["CAS_CO"]
    assert other == on_primary["CAS_OA"] + on_primary["CAS_PI"] + on_primary["CAS_CR"]


def _snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    meta = MetaData()
    meta.reflect(engine)
    snap = {}
    with engine.connect() as conn:
        for name, table in sorted(meta.tables.items()):
            if name in ("alembic_version", "audit_log"):
                continue
            # balance_exceptions is recomputed for the run date (deleted and written again): its surrogate ids
            # are not facts, its rows are
            cols = [
                c
                for c in table.c
                if c.name not in VOLATILE and not (name == "balance_exceptions" and c.name == "id")
            ]
            rows = conn.execute(select(*cols)).all()
            snap[name] = sorted((tuple(r) for r in rows), key=repr)
    return snap


#: What a night's reconciliation recomputes as a snapshot of its run date. The demo's patients pay online
#: and get statements *after* the last night ran (the next day, as in a practice), so the first rerun of that
#: night brings these up to date; nothing else may move, and a second rerun moves nothing at all.
SNAPSHOT_TABLES = {
    "claim_balances",
    "patient_balances",
    "aging_buckets",
    "kpis",
    "reconciliation_runs",
    "balance_exceptions",
    "work_items",
    "work_item_events",
}


def test_rerunning_the_last_night_changes_nothing(two_nights: dict[str, Any]) -> None:
    from claimflow.sandbox.demo import _environment, run_dag
    from claimflow.services import pipeline

    engine = _engine(two_nights)
    last_night = dt.date.today() + dt.timedelta(days=1)  # the demo's night 3 (see claimflow.sandbox.demo)
    workdir = two_nights["workdir"]
    env = {k: v for k, v in __import__("os").environ.items() if k.startswith(("AIRFLOW", "CLAIMFLOW"))}
    env.update(
        _environment(workdir)
        | {"CLAIMFLOW_DATABASE_URL": two_nights["url"], "CLAIMFLOW_NIGHTLY_DEADLINE_HOURS": "0"}
    )

    def single_tasks() -> None:  # as if cleared in the middle of the night
        pipeline.apply_acknowledgments()
        pipeline.post_remittances(last_night.isoformat())
        pipeline.issue_follow_up_claims(last_night.isoformat())
        pipeline.reconcile_balances(last_night.isoformat())
        pipeline.balance_proof(last_night.isoformat())

    first = _snapshot(engine)
    single_tasks()
    caught_up = _snapshot(engine)
    moved = {t for t in first if first[t] != caught_up.get(t)}
    assert moved <= SNAPSHOT_TABLES, f"a rerun changed stored facts: {sorted(moved - SNAPSHOT_TABLES)}"
    single_tasks()
    assert _snapshot(engine) == caught_up
    # whole DAG runs again (the inbox finds nothing new; reconciliation recomputes the same snapshot)
    for dag_id in ("clearinghouse_inbox", "nightly_reconciliation"):
        result = run_dag(dag_id, last_night, env, workdir / "logs" / f"rerun-{dag_id}.log")
        assert result["state"] == "success", result
    assert _snapshot(engine) == caught_up


def test_phi_never_reaches_logs_or_xcom(two_nights: dict[str, Any]) -> None:
    """Canary names, addresses and member IDs planted in the practice appear in no log and no XCom."""
    import sqlite3

    workdir = two_nights["workdir"]
    logs = "\n".join(p.read_text("utf-8", "replace") for p in (workdir / "logs").rglob("*.log"))
    logs += "\n".join(p.read_text("utf-8", "replace") for p in (workdir / "airflow").rglob("*.log"))
    assert "claims_submission" in logs
    with sqlite3.connect(workdir / "airflow" / "airflow.db") as af:
        xcoms = "\n".join(str(v) for (v,) in af.execute("SELECT value FROM xcom"))
    assert xcoms
    hits = [c for c in CANARIES if c in logs or c in xcoms]
    assert hits == []
    # the canaries did reach the claim files (so the test would have seen a leak)
    sent = "".join(p.read_text("latin-1") for p in (workdir / "data" / "outbox").glob("*.x12"))
    assert any(c in sent for c in CANARIES)
