"""Clearinghouse exchange glue: upload registered 837 interchanges and fetch new responses, recording
both in the database. The SFTP client comes from the caller (Airflow's SFTPHook in the DAGs, the
paramiko connector in the CLI), so the guarantees of :mod:`sftp.transfer` hold either way.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, update

from claimflow.db import models as m
from claimflow.db.session import get_engine
from claimflow.services.inbound import receive_file
from claimflow.settings import Settings, get_settings
from sftp.partner import PartnerProfile
from sftp.transfer import FetchedFile, fetch_new, upload

log = logging.getLogger("claimflow.services.exchange")


class DatabaseFetchLedger:
    """``sftp.transfer.FetchLedger`` backed by ``interchanges``: a fetched file is archived and registered
    (sha256) in ``record`` — before anything parses it."""

    def __init__(self, engine: Engine, partner: str, settings: Settings) -> None:
        self.engine = engine
        self.partner = partner
        self.settings = settings
        self.new_ids: list[int] = []

    def seen(self, name: str, size: int, mtime: int) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    select(m.Interchange.id)
                    .where(
                        m.Interchange.direction == "in",
                        m.Interchange.partner == self.partner,
                        m.Interchange.remote_name == name,
                        m.Interchange.remote_size == size,
                        m.Interchange.remote_mtime == mtime,
                    )
                    .limit(1)
                ).first()
                is not None
            )

    def seen_sha256(self, sha256: str) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(select(m.Interchange.id).where(m.Interchange.sha256 == sha256)).first()
                is not None
            )

    def record(self, fetched: FetchedFile) -> None:
        interchange_id, new = receive_file(
            self.engine,
            fetched.local_path,
            partner=self.partner,
            remote_name=fetched.remote_name,
            sha256=fetched.sha256,
            settings=self.settings,
        )
        with self.engine.begin() as conn:
            conn.execute(
                update(m.Interchange)
                .where(m.Interchange.id == interchange_id)
                .values(remote_size=fetched.size, remote_mtime=fetched.mtime)
            )
        if new:
            self.new_ids.append(interchange_id)


def fetch_partner_inbox(
    client: Any, profile: PartnerProfile, *, engine: Engine | None = None, settings: Settings | None = None
) -> list[int]:
    """Fetch every new file from the partner's mailbox; returns the new interchange ids."""
    engine = engine or get_engine()
    settings = settings or get_settings()
    ledger = DatabaseFetchLedger(engine, profile.name, settings)
    fetched = fetch_new(client, profile, settings.inbox_dir / profile.name, ledger)
    log.info("fetched %d new files from %s", len(fetched), profile.name)
    return ledger.new_ids


def upload_interchange(
    interchange_id: int,
    client: Any,
    profile: PartnerProfile,
    *,
    engine: Engine | None = None,
    actor: str = "airflow:claims_submission",
) -> dict[str, Any]:
    """Upload one generated (and validated) 837; idempotent (a file already sent is not sent again)."""
    from claimflow.db.audit import audit

    engine = engine or get_engine()
    with engine.connect() as conn:
        row = conn.execute(select(m.Interchange).where(m.Interchange.id == interchange_id)).mappings().one()
    base = {"interchange_id": interchange_id, "file": row["file_name"], "claims": row["claim_count"] or 0}
    if row["status"] == m.InterchangeStatus.UPLOADED:
        return {**base, "already_present": True}
    if row["status"] not in (m.InterchangeStatus.GENERATED, m.InterchangeStatus.VALIDATED):
        raise ValueError(f"{row['file_name']}: interchange {interchange_id} is {row['status']}, not sendable")
    result = upload(client, Path(row["archive_path"]), profile)
    with engine.begin() as conn:
        conn.execute(
            update(m.Interchange)
            .where(m.Interchange.id == interchange_id)
            .values(
                status=m.InterchangeStatus.UPLOADED.value,
                uploaded_at=func.current_timestamp(),
                remote_name=result.remote_path,
            )
        )
        audit(
            conn,
            actor=actor,
            action="file_sent",
            object_type="interchange",
            object_id=str(interchange_id),
            detail={
                "file": row["file_name"],
                "partner": profile.name,
                "already_present": result.already_present,
            },
        )
    log.info(
        "%s %s to %s (%d claims)",
        row["file_name"],
        "was already on the server" if result.already_present else "sent",
        profile.name,
        base["claims"],
    )
    return {**base, "already_present": result.already_present, "bytes": result.size}
