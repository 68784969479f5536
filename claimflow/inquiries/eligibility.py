"""Eligibility (270/271, 005010X279A1): ask before we bill, and remember the answer.

* :func:`generate_270` writes one 270 interchange per payer partner for every coverage of a patient with a
  claim not yet submitted or a service date within ``days_ahead`` days, unless that coverage was verified
  in the last ``fresh_days`` days. Each subscriber loop's TRN02 is ``CF<coverage id>-<check id>`` (no
  PHI) and is stored in ``eligibility_checks``.
* :func:`apply_271` (called by ``claimflow load`` through ``claimflow.services.inbound``) matches each 271
  subscriber loop to its check by that trace and writes ``coverage_eligibility`` (active/inactive/error,
  plan, dates, deductible and out-of-pocket remaining, copay, coinsurance, AAA reason, who/when) and the
  coverage's effective dates.

File names carry the interchange control number only (``eligibility-000000123.270``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

from claimflow.db.models import (
    Claim,
    ClaimStatus,
    Coverage,
    CoverageEligibility,
    EligibilityCheck,
    Patient,
    Payer,
    Provider,
)


@dataclass(slots=True)
class Generated270:
    files: list[str] = field(default_factory=list)
    inquiries: int = 0
    skipped_fresh: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "inquiries": self.inquiries, "skipped_fresh": self.skipped_fresh}


def register_check(
    conn: Any, coverage_id: int, icn: int, file_name: str, sent_at: Any, tag: str = "pending"
) -> str:
    """Record one 270 inquiry (batch or real time) and return its TRN02 trace ``CF<coverage>-<check id>``:
    the row is inserted under a placeholder trace first because the trace carries the row's own id."""
    check_id = conn.execute(
        insert(EligibilityCheck)
        .values(
            trace_number=f"{tag}-{icn}-{coverage_id}",
            coverage_id=coverage_id,
            file_name=file_name,
            isa13=f"{icn:09d}",
            sent_at=sent_at,
        )
        .returning(EligibilityCheck.id)
    ).scalar_one()
    trace = f"CF{coverage_id}-{check_id}"
    conn.execute(update(EligibilityCheck).where(EligibilityCheck.id == check_id).values(trace_number=trace))
    return trace


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def asked_since(today: dt.date) -> dt.datetime:
    """Start of the run date, or of today (UTC: ``sent_at`` is UTC) when the run date is later."""
    return dt.datetime.combine(min(today, _now().date()), dt.time())


def due_coverages(
    conn: Connection, today: dt.date, days_ahead: int, fresh_days: int
) -> tuple[list[Any], int]:
    """(rows to ask about, coverages skipped because verified recently or already asked about since the
    start of ``today``). One row per coverage, with the earliest upcoming claim's billing provider."""
    upcoming = or_(
        Claim.status == ClaimStatus.READY,
        and_(
            Claim.service_date_from >= today, Claim.service_date_from <= today + dt.timedelta(days=days_ahead)
        ),
    )
    rows = conn.execute(
        select(
            Coverage.id,
            Coverage.member_id,
            Patient.last_name,
            Patient.first_name,
            Patient.birth_date,
            Patient.gender,
            Payer.payer_id,
            Payer.name,
            Payer.partner,
            Provider.npi,
            Provider.last_name.label("provider_name"),
            Claim.service_date_from,
        )
        .join(Claim, Claim.coverage_id == Coverage.id)
        .join(Patient, Patient.id == Coverage.patient_id)
        .join(Payer, Payer.id == Coverage.payer_id)
        .join(Provider, Provider.id == Claim.billing_provider_id)
        .where(upcoming)
        .order_by(Coverage.id, Claim.service_date_from)
    ).all()
    cutoff = dt.datetime.combine(today - dt.timedelta(days=fresh_days), dt.time())
    fresh = set(
        conn.execute(
            select(CoverageEligibility.coverage_id).where(
                CoverageEligibility.verified_at >= cutoff, CoverageEligibility.status != "error"
            )
        ).scalars()
    )
    # asked today and not answered yet (a clearinghouse answers batch 270s within hours): not asked twice
    fresh.update(
        conn.execute(
            select(EligibilityCheck.coverage_id).where(EligibilityCheck.sent_at >= asked_since(today))
        ).scalars()
    )
    seen: set[int] = set()
    due = []
    skipped = set()
    for r in rows:
        if r.id in seen:
            continue
        seen.add(r.id)
        if r.id in fresh:
            skipped.add(r.id)
            continue
        due.append(r)
    return due, len(skipped)


def generate_270(
    engine: Engine,
    out_dir: Path,
    *,
    days_ahead: int = 7,
    fresh_days: int = 30,
    today: dt.date | None = None,
    settings: Any = None,
    partner: str | None = None,
) -> Generated270:
    """Write the 270s due (see module docstring); returns what was written. ``partner``: only the
    coverages whose payer goes through that clearinghouse (the nightly task uploads to one partner)."""
    from claimflow.db.control_numbers import DatabaseControlNumbers
    from claimflow.services.outbound import parties_for
    from claimflow.settings import get_settings
    from edi.x270 import Inquiry, build_270

    if days_ahead < 0 or fresh_days < 0:
        raise ValueError("days must be zero or more")
    settings = settings or get_settings()
    today = today or dt.date.today()
    result = Generated270()
    with engine.connect() as conn:
        due, result.skipped_fresh = due_coverages(conn, today, days_ahead, fresh_days)
    if not due:
        return result
    out_dir.mkdir(parents=True, exist_ok=True)
    numbers = DatabaseControlNumbers(engine, settings.submitter_id)
    by_partner: dict[str, list[Any]] = {}
    for r in due:
        by_partner.setdefault(r.partner or settings.default_partner, []).append(r)
    if partner is not None:
        by_partner = {partner: by_partner[partner]} if partner in by_partner else {}
    for name_partner, rows in sorted(by_partner.items()):
        parties, _submitter, _receiver = parties_for(settings, name_partner)
        # control numbers first: they commit on their own connection (SQLite allows one writer)
        icn = numbers.next_interchange()
        gcn = numbers.next_group()
        tcn = numbers.next_transaction()
        created = _now()
        name = f"eligibility-{icn:09d}.270"
        with engine.begin() as conn:
            inquiries = []
            for r in rows:
                trace = register_check(conn, r.id, icn, name, created)
                inquiries.append(
                    Inquiry(
                        trace=trace,
                        payer_name=r.name,
                        payer_id=r.payer_id,
                        provider_name=r.provider_name,
                        provider_npi=r.npi,
                        last_name=r.last_name,
                        first_name=r.first_name,
                        member_id=r.member_id,
                        birth_date=r.birth_date,
                        gender=r.gender,
                        plan_date=max(today, r.service_date_from) if r.service_date_from else today,
                    )
                )
            text = build_270(
                inquiries,
                parties,
                interchange_control_number=icn,
                group_control_number=gcn,
                transaction_control_number=tcn,
                created=created,
            )
            path = out_dir / name
            tmp = out_dir / f".{name}.tmp"
            tmp.write_bytes(text.encode("ascii", errors="replace"))
            os.replace(tmp, path)
        result.files.append(str(path))
        result.inquiries += len(inquiries)
    return result


def _status(rec: Any) -> str:
    if rec.rejections and rec.active is None:
        return "error"
    return "active" if rec.active else "inactive" if rec.active is False else "error"


def apply_271(
    conn: Connection, interchange_id: int | None, records: Iterable[Any], actor: str
) -> dict[str, Any]:
    """Write every 271 subscriber/dependent answer whose trace is one of our checks; counts by outcome."""
    from parsers.records import Eligibility

    counts = {"subscribers": 0, "active": 0, "inactive": 0, "errors": 0, "unmatched": 0}
    now = _now()
    for rec in records:
        if not isinstance(rec, Eligibility) or rec.level not in ("subscriber", "dependent"):
            continue
        counts["subscribers"] += 1
        status = _status(rec)
        counts[{"active": "active", "inactive": "inactive", "error": "errors"}[status]] += 1
        coverage_id = None
        if rec.trace_number:
            coverage_id = conn.execute(
                select(EligibilityCheck.coverage_id).where(EligibilityCheck.trace_number == rec.trace_number)
            ).scalar_one_or_none()
        if coverage_id is None:
            counts["unmatched"] += 1
            continue
        conn.execute(
            update(EligibilityCheck)
            .where(EligibilityCheck.trace_number == rec.trace_number)
            .values(answered_at=now, answer_interchange_id=interchange_id)
        )
        first_aaa = rec.rejections[0] if rec.rejections else None
        conn.execute(delete(CoverageEligibility).where(CoverageEligibility.coverage_id == coverage_id))
        conn.execute(
            insert(CoverageEligibility).values(
                coverage_id=coverage_id,
                status=status,
                plan=rec.plan[:50] if rec.plan else None,
                coverage_from=rec.coverage_from,
                coverage_to=rec.coverage_to,
                deductible_remaining=rec.deductible_remaining,
                out_of_pocket_remaining=rec.out_of_pocket_remaining,
                copay=rec.copay,
                coinsurance=rec.coinsurance,
                reject_reason=first_aaa.reason[:3] if first_aaa else None,
                follow_up=first_aaa.follow_up[:1] if first_aaa else None,
                verified_at=now,
                verified_by=actor[:120],
                interchange_id=interchange_id,
            )
        )
        dates: dict[str, Any] = {}
        if rec.coverage_from is not None:
            dates["effective_from"] = rec.coverage_from
        if rec.coverage_to is not None:
            dates["effective_to"] = rec.coverage_to
        if dates:
            conn.execute(update(Coverage).where(Coverage.id == coverage_id).values(**dates))
    return counts
