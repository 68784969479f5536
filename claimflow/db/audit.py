"""The audit trail: who did what to which object, append-only.

``audit_log`` is append-only: on PostgreSQL a row trigger (migration 0002) rejects UPDATE and DELETE and
a statement trigger (0003) rejects TRUNCATE, and PUBLIC holds none of those privileges; on SQLite row
triggers (0003) reject UPDATE and DELETE. Not even a bug in claimflow can rewrite or empty history; only the
tables' owner could switch the triggers off, and the pipeline does not run as the owner
(docs/OPERATIONS.md, "Who owns what: database roles"). Rows are written inside the caller's transaction, so an
audited action and its audit row commit (or roll back) together.

Volume is kept sane: one row per file or batch (a posting run, a payment import), plus one row per
reversal and per write-off. ``detail`` is small JSON with counts and ids, never PHI: no names, member
IDs, dates of birth or addresses, and no raw values from inbound files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert

from claimflow.db.models import AuditLog


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return value


def audit(
    conn: Connection,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int | None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Append one audit row in ``conn``'s transaction. Decimals are written as strings (exact)."""
    conn.execute(
        insert(AuditLog).values(
            actor=actor[:120],
            action=action[:40],
            object_type=object_type[:40],
            object_id=None if object_id is None else str(object_id)[:80],
            detail=None if detail is None else _jsonable(detail),
        )
    )
