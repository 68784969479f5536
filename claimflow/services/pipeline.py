"""The functions Airflow tasks call: one per task, each idempotent, each returning ids and counts only
(what goes into XCom) and logging one line in revenue-cycle words.

These wrap the domain packages with the app's settings and database; the DAG files stay thin wiring.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, select, update

from claimflow.db import models as m
from claimflow.db.session import get_engine
from claimflow.errors import BadDataError, DataQualityError
from claimflow.settings import get_settings

log = logging.getLogger("claimflow.services.pipeline")


def _table(model: type[m.Base]) -> Table:
    """A declarative model's table; ``__table__`` is typed as ``FromClause``, which has no ``insert()``."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _run_date(value: str | None) -> dt.date:
    return dt.date.fromisoformat(value) if value else dt.date.today()


def _money(value: Decimal | None) -> str:
    return f"{(value or Decimal(0)):.2f}"


# --------------------------------------------------------------------------------------------------
# claims_submission
# --------------------------------------------------------------------------------------------------


def _send_inquiries(suffix: str, connect: Callable[[], Any]) -> int:
    """Upload every ``*.<suffix>`` waiting in the inquiries folder, then move it to ``sent/``; returns the
    files sent. Files written by an earlier run that could not connect go out now (the claims and
    coverages in them are recorded as asked, so they are not written again). Connects only when there is
    something to send."""
    from claimflow.db.at_rest import ensure_private_dir
    from sftp.transfer import upload_many

    folder = get_settings().inquiries_dir
    waiting = sorted(folder.glob(f"*.{suffix}")) if folder.exists() else []
    if not waiting:
        return 0
    sent_dir = ensure_private_dir(folder / "sent")
    with connect() as (client, profile):
        upload_many(client, waiting, profile)
    for path in waiting:
        os.replace(path, sent_dir / path.name)
    return len(waiting)


def request_eligibility(run_date: str | None, partner: str, connect: Callable[[], Any]) -> dict[str, Any]:
    """claims_submission's first task: a 270 batch (:func:`claimflow.inquiries.eligibility.generate_270`) for every
    coverage of a patient with a ready or upcoming claim that was not verified in the last
    ``CLAIMFLOW_ELIGIBILITY_FRESH_DAYS`` (nor asked about today), uploaded to ``partner`` the way 837s are.
    The 271s come back through the clearinghouse inbox; the coverage check before sending
    (:mod:`claimflow.inquiries.eligibility_hold`) uses them from then on. Counts only."""
    from claimflow.db.at_rest import ensure_private_dir
    from claimflow.inquiries.eligibility import generate_270

    settings = get_settings()
    out = ensure_private_dir(settings.inquiries_dir)
    result = generate_270(
        get_engine(),
        out,
        fresh_days=settings.eligibility_fresh_days,
        today=_run_date(run_date),
        settings=settings,
        partner=partner,
    )
    sent = _send_inquiries("270", connect)
    log.info(
        "Eligibility: asked %s about %d patients' coverage (%d files sent); %d coverages were verified in the "
        "last %d days or already asked about today",
        partner,
        result.inquiries,
        sent,
        result.skipped_fresh,
        settings.eligibility_fresh_days,
    )
    return {"inquiries": result.inquiries, "skipped_fresh": result.skipped_fresh, "files_sent": sent}


def plan_batches() -> list[list[int]]:
    """The build shards of tonight's ``claims_submission``: ``[[k, n], …]`` for ``n =
    Settings.outbound_shards``. Orphan 837s of an interrupted run are swept here, once, before any shard
    writes (a shard must never move another shard's file that is about to be committed)."""
    from claimflow.services.outbound import sweep_orphans

    settings = get_settings()
    moved = sweep_orphans(get_engine(), settings.outbox_dir)
    if moved:
        log.warning("%d orphaned 837 files from an interrupted run moved aside", moved)
    n = max(settings.outbound_shards, 1)
    return [[k, n] for k in range(n)]


def build_batch(shard: list[int] | None = None, run_id: str | None = None) -> dict[str, Any]:
    """Scrub and write the 837s of one shard (``[k, n]``: claims with id ≡ k mod n; None: every ready
    claim, orphans swept first). Returns counts and the new files' interchange ids."""
    from claimflow.services.outbound import generate_batches

    part = (int(shard[0]), int(shard[1])) if shard is not None else None
    result = generate_batches(run_id=run_id or "airflow:claims_submission", shard=part)
    summary = result.as_dict()
    summary["orphans_moved"] = result.orphans_moved
    if part is not None and part[1] > 1:
        log.info(
            "Shard %d of %d: %d claims ready, %d held back by scrubbing, %d claims in %d files",
            part[0] + 1,
            part[1],
            result.claims_in,
            result.scrubbed_out,
            result.claims_batched,
            len(result.files),
        )
    return summary


def collect_batches(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary for the night from the shards' summaries, plus the files of earlier runs that were
    written but never sent (partner outage, a crash between writing and uploading): they go out tonight too."""
    reasons: dict[str, int] = {}
    for part in parts:
        for reason, n in part.get("scrub_reasons", {}).items():
            reasons[reason] = reasons.get(reason, 0) + int(n)
    written = [i for part in parts for i in part.get("interchange_ids", [])]
    summary: dict[str, Any] = {
        "claims_in": sum(int(p.get("claims_in", 0)) for p in parts),
        "scrubbed_out": sum(int(p.get("scrubbed_out", 0)) for p in parts),
        "scrub_reasons": dict(sorted(reasons.items())),
        "claims_batched": sum(int(p.get("claims_batched", 0)) for p in parts),
        "files_written": len(written),
        "total_charge": _money(sum((Decimal(str(p.get("total_charge", "0"))) for p in parts), Decimal("0"))),
        "shards": len(parts),
    }
    with get_engine().connect() as conn:
        pending = list(
            conn.execute(
                select(m.Interchange.id)
                .where(
                    m.Interchange.direction == "out",
                    m.Interchange.status.in_(
                        [m.InterchangeStatus.GENERATED.value, m.InterchangeStatus.VALIDATED.value]
                    ),
                )
                .order_by(m.Interchange.id)
            ).scalars()
        )
    carried = [i for i in pending if i not in set(written)]
    if carried:
        log.warning("%d files from earlier runs were not sent yet; they go out tonight", len(carried))
    summary["carried_over"] = len(carried)
    summary["interchange_ids"] = pending
    log.info(
        "Claims submission: %d claims ready, %d held back by scrubbing (%s), %d claims in %d files, charges $%s",
        summary["claims_in"],
        summary["scrubbed_out"],
        ", ".join(f"{k} {v}" for k, v in reasons.items()) or "none",
        summary["claims_batched"],
        summary["files_written"],
        f"{Decimal(summary['total_charge']):,.2f}",
    )
    return summary


def scrub_and_batch(run_id: str | None = None) -> dict[str, Any]:
    """The whole build in one process (CLI, ``claimflow nightly``, benchmarks): every ready claim, then the
    night's summary — what ``plan_batches`` → ``build_batch`` × shards → ``collect_batches`` does in the DAG."""
    return collect_batches([build_batch(None, run_id)])


def validate_file(interchange_id: int) -> int:
    """5010 validation of one generated 837 with the fast engine (``edi.fastvalidate``: pyx12's verdict, and
    pyx12's own report whenever a file is not proven valid; see docs/VALIDATOR.md). An invalid file is never
    sent: its claims go back to the work queue as ``scrub_failed`` with the validator's findings, and the task
    fails (no retry)."""
    from edi.validate import format_report, validate_x12

    engine = get_engine()
    with engine.connect() as conn:
        row = conn.execute(select(m.Interchange).where(m.Interchange.id == interchange_id)).mappings().one()
    if row["status"] in (m.InterchangeStatus.VALIDATED, m.InterchangeStatus.UPLOADED):
        return interchange_id
    report = validate_x12(Path(row["archive_path"]), engine="fast")
    if report.ok:
        with engine.begin() as conn:
            conn.execute(
                update(m.Interchange)
                .where(
                    m.Interchange.id == interchange_id,
                    m.Interchange.status == m.InterchangeStatus.GENERATED.value,
                )
                .values(status=m.InterchangeStatus.VALIDATED.value)
            )
        log.info("%s passed 5010 validation (%s claims)", row["file_name"], row["claim_count"])
        return interchange_id
    lines = format_report(report, row["file_name"])
    _reject_invalid_file(interchange_id, lines)
    raise BadDataError(
        f"{row['file_name']} failed 5010 validation with {len(lines)} errors; first: {lines[0] if lines else '?'}. "
        "The file was not sent; its claims are back in the work queue as scrub_failed."
    )


def _reject_invalid_file(interchange_id: int, lines: list[str]) -> None:
    from claimflow.db.audit import audit

    engine = get_engine()
    with engine.begin() as conn:
        conn.execute(
            update(m.Interchange)
            .where(m.Interchange.id == interchange_id)
            .values(status="invalid", error="\n".join(lines[:50]))
        )
        claim_ids = list(
            conn.execute(
                select(m.Submission.claim_id).where(m.Submission.interchange_id == interchange_id)
            ).scalars()
        )
        conn.execute(
            update(m.Submission).where(m.Submission.interchange_id == interchange_id).values(status="invalid")
        )
        conn.execute(
            update(m.Claim)
            .where(m.Claim.id.in_(claim_ids))
            .values(status=m.ClaimStatus.SCRUB_FAILED, status_changed_at=func.current_timestamp())
        )
        if claim_ids:
            conn.execute(
                _table(m.ScrubResult).insert(),
                [
                    {
                        "claim_id": cid,
                        "rule": "x12_validation",
                        "reason": "the 837 file this claim was in failed "
                        "5010 validation: " + (lines[0] if lines else "see interchanges.error"),
                        "run_id": None,
                    }
                    for cid in claim_ids
                ],
            )
        audit(
            conn,
            actor="airflow",
            action="file_invalid",
            object_type="interchange",
            object_id=str(interchange_id),
            detail={"errors": len(lines)},
        )


def upload_file(interchange_id: int, client: Any, profile: Any) -> dict[str, Any]:
    from claimflow.services.exchange import upload_interchange

    return upload_interchange(interchange_id, client, profile)


def record_submission(batch: dict[str, Any], uploads: list[dict[str, Any]]) -> dict[str, Any]:
    sent = [u for u in uploads if u]
    claims = sum(int(u.get("claims", 0)) for u in sent)
    summary = {
        "claims_ready": batch.get("claims_in", 0),
        "claims_held_back": batch.get("scrubbed_out", 0),
        "files_written": batch.get("files_written", 0),
        "files_sent": sum(1 for u in sent if not u.get("already_present")),
        "files_already_on_server": sum(1 for u in sent if u.get("already_present")),
        "claims_sent": claims,
        "total_charge": batch.get("total_charge", "0.00"),
    }
    log.info(
        "Tonight: %(claims_sent)d claims sent in %(files_sent)d files ($%(total_charge)s); "
        "%(claims_held_back)d claims held back for correction",
        summary,
    )
    return summary


# --------------------------------------------------------------------------------------------------
# clearinghouse_inbox
# --------------------------------------------------------------------------------------------------


def fetch_new_files(client: Any, profile: Any) -> list[int]:
    """Fetch, archive and register new files; returns the interchange ids still waiting to be loaded
    (including any left ``received`` by an interrupted earlier run)."""
    from claimflow.services.exchange import fetch_partner_inbox

    new = fetch_partner_inbox(client, profile)
    log.info("Collected %d new files from %s", len(new), profile.name)
    engine = get_engine()
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(m.Interchange.id)
                .where(
                    m.Interchange.direction == "in",
                    m.Interchange.status == m.InterchangeStatus.RECEIVED.value,
                )
                .order_by(m.Interchange.id)
            ).scalars()
        )


def load_file(interchange_id: int) -> dict[str, Any]:
    from claimflow.services.inbound import load_interchange

    outcome = load_interchange(None, interchange_id, actor="airflow:clearinghouse_inbox")
    if outcome.status == "quarantined":
        log.error(
            "QUARANTINED %s — %s. The other files still load; ask the clearinghouse to resend this one.",
            outcome.file_name,
            outcome.error,
        )
    elif outcome.status == "duplicate":
        log.warning("DUPLICATE %s — %s. Nothing stored or posted from it.", outcome.file_name, outcome.error)
    else:
        log.info(outcome.line())
    return outcome.as_dict()


def summarize_inbox(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    by_type: dict[str, int] = {}
    quarantined = [o for o in outcomes if o and o.get("status") == "quarantined"]
    for o in outcomes:
        if o and o.get("status") == "loaded":
            by_type[o.get("transaction") or "?"] = by_type.get(o.get("transaction") or "?", 0) + 1
    duplicates = [o for o in outcomes if o and o.get("status") == "duplicate"]
    summary = {
        "files": len(outcomes),
        "loaded": by_type,
        "quarantined": len(quarantined),
        "quarantined_files": [o.get("interchange_id") for o in quarantined],
        "duplicates": len(duplicates),
        "duplicate_files": [o.get("interchange_id") for o in duplicates],
    }
    log.info(
        "Inbox: %d files; loaded %s; quarantined %d; duplicates (not stored) %d",
        len(outcomes),
        by_type or "none",
        len(quarantined),
        len(duplicates),
    )
    for o in quarantined:
        log.error("Quarantined: %s", o.get("error"))
    return summary


# --------------------------------------------------------------------------------------------------
# nightly_reconciliation
# --------------------------------------------------------------------------------------------------


NIGHTLY_ACTOR = "airflow:nightly_reconciliation"


def apply_acknowledgments(actor: str = NIGHTLY_ACTOR) -> dict[str, Any]:
    from adjudication.acks import apply_acknowledgments as run

    result = run(get_engine(), actor=actor)
    log.info("Acknowledgments applied: %s", result)
    return result


def post_remittances(run_date: str | None, actor: str = NIGHTLY_ACTOR) -> dict[str, Any]:
    from adjudication.posting import post_remittances as run

    result = run(get_engine(), actor=actor, as_of=_run_date(run_date))
    log.info("Remittances posted: %s", result)
    return result


def request_claim_status(run_date: str | None, partner: str, connect: Callable[[], Any]) -> dict[str, Any]:
    """After posting: a 276 (:func:`claimflow.inquiries.claim_status.generate_276`) for every claim sent to
    ``partner`` that is still silent — no 277CA, or accepted and no 835 — ``CLAIMFLOW_CLAIM_STATUS_DAYS``
    after it was sent (unset: the worklist's no-277CA / no-835 days); a claim asked about today is not asked
    again. The 277 answers load through the clearinghouse inbox into the claim's history, and the next work
    list rewords its follow-up item. Counts only."""
    from claimflow.db.at_rest import ensure_private_dir
    from claimflow.inquiries.claim_status import generate_276

    settings = get_settings()
    out = ensure_private_dir(settings.inquiries_dir)
    result = generate_276(
        get_engine(), out, today=_run_date(run_date), settings=settings, partner=partner, actor=NIGHTLY_ACTOR
    )
    sent = _send_inquiries("276", connect)
    log.info(
        "Claim status: asked %s about %d claims with no acknowledgment or no payment yet (%d files sent)",
        partner,
        result.claims,
        sent,
    )
    return {"claims": result.claims, "files_sent": sent}


def reconcile_balances(run_date: str | None) -> dict[str, Any]:
    from adjudication.reconcile import reconcile

    # The balance proof is the next step (balance_proof): proving here too would do it twice a night.
    result = reconcile(get_engine(), _run_date(run_date), prove=False)
    log.info("Balances reconciled as of %s (balance proof: next step): %s", run_date, result)
    return result


def balance_proof(run_date: str | None) -> dict[str, Any]:
    from adjudication.reconcile import balance_proof as run

    result = run(get_engine(), _run_date(run_date))
    log.info("Balance proof: %s", result)
    return result


def data_quality(run_date: str | None) -> dict[str, Any]:
    """Raises :class:`DataQualityError` (carrying every problem line: counts and ids, never PHI) when the
    checks find anything; the DAG task fails, ``claimflow nightly`` exits 1."""
    from adjudication.reconcile import data_quality_checks

    problems = data_quality_checks(get_engine(), _run_date(run_date))
    if problems:
        for p in problems:
            log.error("Data quality: %s", p)
        raise DataQualityError(
            f"{len(problems)} data-quality problems: " + "; ".join(problems[:5]), problems=problems
        )
    log.info("Data quality: no unexplained exceptions")
    return {"problems": 0}


def run_report(run_date: str | None) -> dict[str, Any]:
    from adjudication.report import render_run_report

    settings = get_settings()
    day = _run_date(run_date)
    path = settings.data_dir / "reports" / f"run-{day.isoformat()}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    render_run_report(get_engine(), day, path)
    log.info("Run report written: %s", path)
    return {"report": str(path)}


def build_worklist(run_date: str | None, actor: str = NIGHTLY_ACTOR) -> dict[str, Any]:
    """Tonight's work items (adjudication.worklist): one per open problem, updated on later nights, closed
    when resolved. Returns counts only (XCom); logs them in revenue-cycle words."""
    from adjudication.worklist import build_worklist as run
    from adjudication.worklist import describe
    from claimflow.services.worklist import worklist_config

    summary = run(get_engine(), _run_date(run_date), config=worklist_config(), actor=actor)
    log.info("%s", describe(summary))
    return {k: summary[k] for k in ("opened", "updated", "reopened", "closed", "open")} | {
        "queues": {q: v["items"] for q, v in summary["queues"].items()}
    }


def nightly(run_date: str | None, actor: str = "cli:nightly") -> dict[str, Any]:
    """The nightly_reconciliation DAG's steps in one process, in the DAG's order, calling the same
    functions: acknowledgments → posting → follow-up (secondary/tertiary) claims → reconciliation → balance
    proof → data quality → work items → report. As in the DAG, the work items and the report are built even when data quality failed; the
    problems are then in ``data_quality_problems`` (and ``problems``) and the caller decides (the CLI
    exits 1). Returns counts and the report's path only."""
    acks = apply_acknowledgments(actor)
    posted = post_remittances(run_date, actor)
    issue_follow_up_claims(run_date)
    reconcile_balances(run_date)
    proof = balance_proof(run_date)
    problems: list[str] = []
    try:
        data_quality(run_date)
    except DataQualityError as exc:
        problems = exc.problems
    worklist = build_worklist(run_date, actor)
    report = run_report(run_date)
    return {
        "run_date": _run_date(run_date).isoformat(),
        "acknowledgments_applied": int(acks.get("accepted", 0)) + int(acks.get("rejected", 0)),
        "claim_payments_posted": int(posted.get("claim_payments_posted", 0)),
        "balance_exceptions": int(proof.get("exceptions", 0)),
        "data_quality_problems": len(problems),
        "work_items_open": int(worklist.get("open", 0)),
        "report": report["report"],
        "problems": problems,
    }


# --------------------------------------------------------------------------------------------------
# follow-up claims (secondary/tertiary billing; see claimflow.followup.secondary)
# --------------------------------------------------------------------------------------------------


def issue_follow_up_claims(run_date: str | None = None) -> dict[str, Any]:
    """After posting: create the secondary and tertiary claims due (the next ``claims_submission`` sends
    them, with the corrected/void claims queued by ``claimflow claim correct / void``). Returns counts:
    ``secondary_created``, ``tertiary_created``, ``crossovers_skipped``, ``no_coverage_active``,
    ``corrections_queued``, ``voids_queued`` (claims waiting to go out as frequency 7 / 8), ``voids_settled``
    (voids the payer answered: the charge left in A/R written off, see :func:`claimflow.followup.corrections.settle_voids`)."""
    from claimflow.followup.corrections import settle_voids
    from claimflow.followup.secondary import issue_secondary_claims

    engine = get_engine()
    day = _run_date(run_date)
    counts: dict[str, Any] = dict(issue_secondary_claims(engine, day, actor="airflow:follow_up"))
    counts["voids_settled"] = settle_voids(engine, day, actor="airflow:follow_up")
    with engine.connect() as conn:
        queued: dict[str, int] = {
            frequency: n
            for frequency, n in conn.execute(
                select(m.Claim.frequency, func.count())
                .where(m.Claim.status == "corrected")
                .group_by(m.Claim.frequency)
            )
        }
    counts["corrections_queued"] = int(queued.get("7", 0))
    counts["voids_queued"] = int(queued.get("8", 0))
    log.info(
        "Follow-up claims: %d secondary and %d tertiary claims created, %d crossovers not billed again, "
        "%d replacements and %d voids waiting to be sent",
        counts["secondary_created"],
        counts["tertiary_created"],
        counts["crossovers_skipped"],
        counts["corrections_queued"],
        counts["voids_queued"],
    )
    return counts
