"""Claim status (276/277, 005010X212): ask the payer about claims that got no answer.

:func:`generate_276` writes one 276 per payer partner for claims whose latest submission is older than
the threshold and that have either no claim status at all (no 277CA: still ``submitted``) or no 835
(``accepted``, no claim payment). Thresholds default to the worklist's ``no_277ca_days`` / ``no_835_days``
(``CLAIMFLOW_WORKLIST_*``); ``older_than`` overrides both. The 277 answers are loaded by ``claimflow
load`` like a 277CA (``claim_statuses``), show in ``claimflow claim show`` and reword the claim's
``no_response`` work item at the next worklist build.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import String, and_, cast, exists, func, insert, or_, select
from sqlalchemy.engine import Engine

from claimflow.db.models import (
    AuditLog,
    Claim,
    ClaimPayment,
    ClaimStatus,
    ClaimStatusRecord,
    Coverage,
    Patient,
    Payer,
    Provider,
    Submission,
)


@dataclass(slots=True)
class Generated276:
    files: list[str] = field(default_factory=list)
    claims: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "claims": self.claims}


#: audit_log action of one claim asked about in a 276 (object_type ``claim``, object_id the claim id).
ASKED = "claim_status_requested"


def _asked_since(today: dt.date) -> dt.datetime:
    """Start of the run date, or of today (UTC) when the run date is later (a run dated tomorrow still
    counts what was asked today)."""
    return dt.datetime.combine(min(today, dt.datetime.now(dt.UTC).date()), dt.time())


def due_claims(engine: Engine, today: dt.date, no_277ca_days: int, no_835_days: int) -> list[Any]:
    """Silent claims (see the module docstring), except those already asked about since the start of
    ``today`` (a rerun or the next half-hourly run does not ask the payer twice the same day)."""
    s2 = Submission.__table__.alias("s2")
    latest = (
        Submission.attempt
        == select(func.max(s2.c.attempt)).where(s2.c.claim_id == Claim.id).scalar_subquery()
    )
    cut_277 = dt.datetime.combine(today - dt.timedelta(days=no_277ca_days), dt.time.max)
    cut_835 = dt.datetime.combine(today - dt.timedelta(days=no_835_days), dt.time.max)
    no_status = ~exists().where(ClaimStatusRecord.patient_control_number == Submission.patient_control_number)
    no_payment = ~exists().where(ClaimPayment.claim_id == Claim.id)
    asked_today = exists().where(
        AuditLog.action == ASKED,
        AuditLog.object_type == "claim",
        AuditLog.object_id == cast(Claim.id, String),
        AuditLog.at >= _asked_since(today),
    )
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(
                    Claim.id,
                    Claim.total_charge,
                    Claim.service_date_from,
                    Claim.service_date_to,
                    Claim.payer_claim_number,
                    Submission.patient_control_number,
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
                )
                .select_from(Claim)
                .join(Submission, and_(Submission.claim_id == Claim.id, latest))
                .join(Coverage, Coverage.id == Claim.coverage_id)
                .join(Patient, Patient.id == Claim.patient_id)
                .join(Payer, Payer.id == Claim.payer_id)
                .join(Provider, Provider.id == Claim.billing_provider_id)
                .where(
                    no_payment,
                    ~asked_today,
                    or_(
                        and_(
                            Claim.status == ClaimStatus.SUBMITTED, Submission.created_at <= cut_277, no_status
                        ),
                        and_(Claim.status == ClaimStatus.ACCEPTED, Submission.created_at <= cut_835),
                    ),
                )
                .order_by(Claim.id)
            ).all()
        )


def generate_276(
    engine: Engine,
    out_dir: Path,
    *,
    older_than: int | None = None,
    today: dt.date | None = None,
    settings: Any = None,
    partner: str | None = None,
    actor: str = "cli:generate-276",
) -> Generated276:
    """Write the 276s due; every claim asked about gets an audit row (``claim_status_requested``), which
    keeps it out of another 276 the same day. ``partner``: only claims whose payer goes through that
    clearinghouse. ``older_than`` unset: ``CLAIMFLOW_CLAIM_STATUS_DAYS``, else the worklist's days."""
    from claimflow.db.control_numbers import DatabaseControlNumbers
    from claimflow.services.outbound import parties_for
    from claimflow.services.worklist import worklist_config
    from claimflow.settings import get_settings
    from edi.x276 import StatusInquiry, build_276

    if older_than is not None and older_than < 0:
        raise ValueError("days must be zero or more")
    settings = settings or get_settings()
    today = today or dt.date.today()
    if older_than is None:
        older_than = settings.claim_status_days
    if older_than is None:
        cfg = worklist_config()
        n277, n835 = cfg.no_277ca_days, cfg.no_835_days
    else:
        n277 = n835 = older_than
    rows = due_claims(engine, today, n277, n835)
    result = Generated276()
    if not rows:
        return result
    out_dir.mkdir(parents=True, exist_ok=True)
    numbers = DatabaseControlNumbers(engine, settings.submitter_id)
    by_partner: dict[str, list[Any]] = {}
    for r in rows:
        by_partner.setdefault(r.partner or settings.default_partner, []).append(r)
    if partner is not None:
        by_partner = {partner: by_partner[partner]} if partner in by_partner else {}
    for name_partner, group in sorted(by_partner.items()):
        parties, _submitter, _receiver = parties_for(settings, name_partner)
        icn, gcn, tcn = numbers.next_interchange(), numbers.next_group(), numbers.next_transaction()
        created = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        text = build_276(
            [
                StatusInquiry(
                    patient_control_number=r.patient_control_number,
                    payer_name=r.name,
                    payer_id=r.payer_id,
                    provider_name=r.provider_name,
                    provider_npi=r.npi,
                    last_name=r.last_name,
                    first_name=r.first_name,
                    member_id=r.member_id,
                    birth_date=r.birth_date,
                    gender=r.gender,
                    charge=r.total_charge,
                    service_from=r.service_date_from,
                    service_to=r.service_date_to,
                    payer_claim_number=r.payer_claim_number,
                )
                for r in group
            ],
            parties,
            interchange_control_number=icn,
            group_control_number=gcn,
            transaction_control_number=tcn,
            created=created,
            receiver_name=settings.submitter_name,
            receiver_id=settings.submitter_id,
        )
        name = f"claim-status-{icn:09d}.276"
        tmp = out_dir / f".{name}.tmp"
        tmp.write_bytes(text.encode("ascii", errors="replace"))
        with engine.begin() as conn:
            conn.execute(
                insert(AuditLog),
                [
                    {
                        "at": created,
                        "actor": actor[:120],
                        "action": ASKED,
                        "object_type": "claim",
                        "object_id": str(r.id),
                        "detail": {"file": name},
                    }
                    for r in group
                ],
            )
            # renamed in the transaction: a file on disk is always one whose claims are recorded as asked
            os.replace(tmp, out_dir / name)
        result.files.append(str(out_dir / name))
        result.claims += len(group)
    return result
