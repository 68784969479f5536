"""Inbound: archive, register, parse and store clearinghouse files — each exactly once, all or nothing.

1. ``receive_file`` copies the file byte-for-byte into ``archive/<sha256[:2]>/<sha256>`` (temporary name,
   fsync, rename, mode 0600) and registers it in ``interchanges`` (status ``received``) *before* anything
   parses it. The same bytes twice are one row.
2. ``load_interchange`` parses the archived copy and stores every record in ONE database transaction, then
   marks the interchange ``loaded``. A crash (even ``kill -9``) before the commit leaves nothing but the
   ``received`` row, and the next run loads it again. A file already loaded is a no-op. A second file with
   the same sender and ISA13 but different bytes is marked ``duplicate`` and not stored. A malformed file is
   marked ``quarantined`` with the one-line error (file, segment number, segment ID, element), a copy goes
   to ``quarantine/``, and the caller goes on with the next file.

Records are written with pre-assigned ids in chunks (COPY on PostgreSQL, executemany on SQLite), so a
100,000-claim 835 does not cost a round trip per row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import shutil
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from claimflow.db import models as m
from claimflow.db.session import get_engine
from claimflow.settings import Settings, get_settings
from edi.errors import X12ParseError

log = logging.getLogger("claimflow.inbound")

CHUNK = 5000
ZERO = Decimal("0.00")


@dataclass
class LoadOutcome:
    interchange_id: int | None
    file_name: str
    status: str  # loaded, already_loaded, duplicate, quarantined
    transaction: str | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "interchange_id": self.interchange_id,
            "file": self.file_name,
            "status": self.status,
            "transaction": self.transaction,
            **self.counts,
            **({"error": self.error} if self.error else {}),
        }

    def line(self) -> str:
        if self.status == "quarantined":
            return f"{self.file_name}: quarantined: {self.error}"
        if self.status == "duplicate":
            return f"{self.file_name}: duplicate interchange, not stored: {self.error}"
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        verb = "new" if self.status == "loaded" else "already known"
        return f"{self.file_name}: {verb} {self.transaction or ''}" + (f" ({counts})" if counts else "")


# --------------------------------------------------------------------------------------------------
# receive: archive + register
# --------------------------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def archive_path(settings: Settings, sha: str) -> Path:
    return settings.archive_dir / sha[:2] / sha


def _archive(src: Path, dest: Path) -> None:
    if dest.exists():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    with src.open("rb") as fin:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
            fout.flush()
            os.fsync(fout.fileno())
    os.replace(tmp, dest)
    dfd = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def receive_file(
    engine: Engine,
    path: Path,
    *,
    partner: str | None = None,
    remote_name: str | None = None,
    sha256: str | None = None,
    settings: Settings | None = None,
) -> tuple[int, bool]:
    """Archive ``path`` and register it. Returns (interchange id, whether it was new)."""
    settings = settings or get_settings()
    sha = sha256 or sha256_of(path)
    dest = archive_path(settings, sha)
    _archive(path, dest)
    if sha256_of(dest) != sha:  # never trust a copy we did not check
        raise OSError(f"{path.name}: archived copy does not match sha256 {sha[:12]}…")
    ins = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    with engine.begin() as conn:
        inserted = conn.execute(
            ins(m.Interchange)
            .values(
                direction="in",
                sha256=sha,
                bytes=dest.stat().st_size,
                file_name=_safe_display_name(remote_name or path.name),
                archive_path=str(dest),
                partner=partner,
                status="received",
                remote_name=remote_name,
            )
            .on_conflict_do_nothing(index_elements=["sha256"])
            .returning(m.Interchange.id)
        ).scalar()
        if inserted is not None:
            return int(inserted), True
        return int(conn.execute(select(m.Interchange.id).where(m.Interchange.sha256 == sha)).scalar_one()), False


def _safe_display_name(name: str) -> str:
    cleaned = "".join(c if c.isprintable() and c not in "/\\" else "_" for c in name)
    return cleaned[-200:] or "unnamed"


# --------------------------------------------------------------------------------------------------
# load: parse + store in one transaction
# --------------------------------------------------------------------------------------------------


def load_files(paths: Iterable[Path], *, actor: str, partner: str | None = None) -> list[LoadOutcome]:
    """CLI entry: receive and load each file; a bad file never stops the others."""
    engine = get_engine()
    settings = get_settings()
    outcomes = []
    for path in paths:
        interchange_id, _new = receive_file(engine, path, partner=partner, settings=settings)
        outcome = load_interchange(engine, interchange_id, actor=actor, settings=settings)
        outcome.file_name = path.name
        outcomes.append(outcome)
    return outcomes


def load_interchange(
    engine: Engine | None, interchange_id: int, *, actor: str, settings: Settings | None = None
) -> LoadOutcome:
    from parsers.detect import detect_transaction

    engine = engine or get_engine()
    settings = settings or get_settings()
    with engine.connect() as conn:
        row = conn.execute(select(m.Interchange).where(m.Interchange.id == interchange_id)).mappings().one()
    name = row["file_name"]
    if row["status"] in ("loaded", "duplicate", "quarantined"):
        return LoadOutcome(interchange_id, name, "already_loaded" if row["status"] == "loaded" else row["status"],
                           row["transaction_type"], error=row["error"])
    path = Path(row["archive_path"])
    try:
        head = _read_head(path)
        kind = detect_transaction(head, name=name)
        envelope = _envelope(head, name)
        with engine.begin() as conn:
            _lock_for_write(conn, interchange_id)
            dup = _duplicate_of(conn, interchange_id, envelope)
            if dup is not None:
                msg = (f"ISA13 {envelope['isa13']} from sender {envelope['sender_id']} was already loaded "
                       f"from interchange {dup}")
                _set_status(conn, interchange_id, "duplicate", kind, envelope, msg)
                return LoadOutcome(interchange_id, name, "duplicate", kind, error=msg)
            counts = _store(conn, interchange_id, path, row["sha256"], kind, name)
            _set_status(conn, interchange_id, "loaded", kind, envelope, None, counts)
            from claimflow.audit import audit

            audit(conn, actor=actor, action="file_loaded", object_type="interchange",
                  object_id=str(interchange_id), detail={"transaction": kind, **_jsonable(counts)})
        log.info("loaded %s (%s): %s", name, kind, counts)
        return LoadOutcome(interchange_id, name, "loaded", kind, counts=_jsonable(counts))
    except _AlreadyHandled as handled:
        # Another loader (a retried task and its zombie, or a rerun racing a killed run's commit) finished this
        # file while we waited for the lock: report what it did, store nothing.
        status = handled.args[0]
        return LoadOutcome(interchange_id, name, "already_loaded" if status == "loaded" else status,
                           row["transaction_type"])
    except X12ParseError as exc:
        exc.with_file(name)
        return _quarantine(engine, interchange_id, path, name, exc.line(), settings, actor)


def _jsonable(counts: dict[str, Any]) -> dict[str, Any]:
    return {k: (f"{v:.2f}" if isinstance(v, Decimal) else v) for k, v in counts.items()}


def _quarantine(engine: Engine, interchange_id: int, path: Path, name: str, error: str,
                settings: Settings, actor: str) -> LoadOutcome:
    settings.quarantine_dir.mkdir(parents=True, exist_ok=True)
    target = settings.quarantine_dir / f"interchange-{interchange_id}.x12"
    if path.exists():
        _archive(path, target)  # temp + fsync + rename, 0600: a crash never leaves a partial or readable copy
    with engine.begin() as conn:
        conn.execute(
            update(m.Interchange)
            .where(m.Interchange.id == interchange_id)
            .values(status="quarantined", error=error)
        )
        from claimflow.audit import audit

        audit(conn, actor=actor, action="file_quarantined", object_type="interchange",
              object_id=str(interchange_id), detail={"error": error})
    log.warning("quarantined %s: %s", name, error)
    return LoadOutcome(interchange_id, name, "quarantined", error=error)


def _read_head(path: Path, size: int = 4096) -> bytes:
    with path.open("rb") as f:
        return f.read(size)


def _envelope(head: bytes, name: str) -> dict[str, str | None]:
    """ISA06 sender, ISA08 receiver, ISA13, ISA15 from the head of the file (None for bare ST..SE files)."""
    from edi.reader import iter_segments

    env: dict[str, str | None] = {"sender_id": None, "receiver_id": None, "isa13": None, "usage": None}
    try:
        for _n, seg in iter_segments(head, name=name):
            if seg[0] == "ISA" and len(seg) > 15:
                env.update(sender_id=seg[6].strip(), receiver_id=seg[8].strip(), isa13=seg[13].strip(),
                           usage=seg[15].strip())
            break
    except X12ParseError:
        pass  # the full parse below reports the problem properly
    return env


def _lock_for_write(conn: Connection, interchange_id: int) -> None:
    """Take the write lock first (SQLite) / lock the row (PostgreSQL) so two loaders of one file serialize."""
    stmt = select(m.Interchange.status).where(m.Interchange.id == interchange_id)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    else:
        conn.execute(update(m.Interchange).where(m.Interchange.id == interchange_id).values(status=m.Interchange.status))
    status = conn.execute(stmt).scalar_one()
    if status != "received":
        raise _AlreadyHandled(status)


class _AlreadyHandled(Exception):
    pass


def _duplicate_of(conn: Connection, interchange_id: int, env: dict[str, str | None]) -> int | None:
    if not env["isa13"]:
        return None
    return conn.execute(
        select(m.Interchange.id).where(
            m.Interchange.direction == "in",
            m.Interchange.sender_id == env["sender_id"],
            m.Interchange.isa13 == env["isa13"],
            m.Interchange.status == "loaded",
            m.Interchange.id != interchange_id,
        )
    ).scalar()


def _set_status(conn: Connection, interchange_id: int, status: str, kind: str | None,
                env: dict[str, str | None], error: str | None, counts: dict[str, Any] | None = None) -> None:
    values: dict[str, Any] = {
        "status": status, "transaction_type": kind, "error": error,
        "sender_id": env["sender_id"], "receiver_id": env["receiver_id"], "usage": env["usage"],
    }
    if status == "loaded":
        values.update(isa13=env["isa13"], loaded_at=func.current_timestamp())
        if counts:
            values["claim_count"] = counts.get("claims")
    conn.execute(update(m.Interchange).where(m.Interchange.id == interchange_id).values(**values))


# --------------------------------------------------------------------------------------------------
# bulk storage
# --------------------------------------------------------------------------------------------------


class BulkWriter:
    """Buffers rows per table with pre-assigned ids; flushes parents before children.

    Ids come from the table's sequence on PostgreSQL (a block of ``nextval`` per round trip) and from
    ``max(id) + 1`` on SQLite, where the loader holds the database's single write lock for the whole
    transaction, so no other writer can take the same ids.
    """

    ORDER = ("remittances", "claim_payments", "service_line_payments", "adjustments", "remark_codes",
             "provider_adjustments", "acknowledgments", "acknowledgment_errors", "claim_statuses",
             "balance_exceptions")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.tables: dict[str, Table] = {t: m.Base.metadata.tables[t] for t in self.ORDER}
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.pending = 0
        self.pg = conn.dialect.name == "postgresql"
        self._pg_ids: dict[str, list[int]] = defaultdict(list)
        self._pg_block: dict[str, int] = {}
        self._sqlite_next: dict[str, int] = {}

    def _new_id(self, table: str) -> int:
        if self.pg:
            ids = self._pg_ids[table]
            if not ids:
                # Blocks grow 64 → 256 → … → CHUNK: a 3-row 999 does not pay for 5,000 nextval calls.
                n = self._pg_block[table] = min(CHUNK, self._pg_block.get(table, 16) * 4)
                ids.extend(self.conn.exec_driver_sql(
                    f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, {n})"
                ).scalars().all())
                ids.reverse()
            return int(ids.pop())
        if table not in self._sqlite_next:
            self._sqlite_next[table] = int(self.conn.execute(
                select(func.coalesce(func.max(self.tables[table].c.id), 0))).scalar_one()) + 1
        value = self._sqlite_next[table]
        self._sqlite_next[table] = value + 1
        return value

    def add(self, table: str, row: dict[str, Any]) -> int:
        row["id"] = self._new_id(table)
        self.rows[table].append(row)
        self.pending += 1
        if self.pending >= CHUNK:
            self.flush()
        return int(row["id"])

    def flush(self) -> None:
        for name in self.ORDER:
            rows = self.rows.get(name)
            if not rows:
                continue
            if self.pg:
                self._copy(self.tables[name], rows)
            else:
                self.conn.execute(insert(self.tables[name]), rows)
            rows.clear()
        self.pending = 0

    def _copy(self, table: Table, rows: list[dict[str, Any]]) -> None:
        cols = sorted({k for r in rows for k in r})
        raw = self.conn.connection.driver_connection
        assert raw is not None
        col_sql = ", ".join(f'"{c}"' for c in cols)
        with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({col_sql}) FROM STDIN') as copy:
            for r in rows:
                copy.write_row([r.get(c) for c in cols])


def _store(conn: Connection, interchange_id: int, path: Path, sha: str, kind: str, name: str) -> dict[str, Any]:
    from parsers import parse_file

    writer = BulkWriter(conn)
    records = parse_file(path, file_sha256=sha, name=name)
    if kind == "835":
        counts = _store_835(writer, interchange_id, records)
    elif kind == "999":
        counts = _store_999(writer, interchange_id, records)
    elif kind == "TA1":
        counts = _store_ta1(writer, interchange_id, records)
    elif kind in ("277", "277CA"):
        counts = _store_277(writer, interchange_id, records)
    else:
        raise X12ParseError(f"transaction {kind} is not one claimflow loads (expected TA1, 999, 277CA or 835)",
                            file=name, segment_no=1)
    writer.flush()
    return counts


_PR = {"1": "deductible", "2": "coinsurance", "3": "copay"}


def _breakdown(adjustments: Iterable[Any]) -> dict[str, Decimal]:
    out = {"deductible": ZERO, "coinsurance": ZERO, "copay": ZERO, "contractual": ZERO, "other_adjustments": ZERO}
    for a in adjustments:
        if a.group == "PR" and a.reason in _PR:
            out[_PR[a.reason]] += a.amount
        elif a.group == "CO":
            out["contractual"] += a.amount
        elif a.group != "PR":
            out["other_adjustments"] += a.amount
    return out


def _store_835(w: BulkWriter, interchange_id: int, records: Iterator[Any]) -> dict[str, Any]:
    from eob.balance import check_claim, check_transaction
    from parsers import records as r

    remittance_id: int | None = None
    counts: dict[str, Any] = {"transactions": 0, "claims": 0, "service_lines": 0, "paid": ZERO,
                              "unbalanced": 0}
    plb_positions: dict[int, int] = defaultdict(int)
    for rec in records:
        if isinstance(rec, r.Remittance):
            remittance_id = w.add("remittances", {
                "interchange_id": interchange_id, "isa13": rec.isa13, "gs06": rec.gs06, "st02": rec.st02 or "",
                "segment_no": rec.segment_no, "handling_code": rec.handling_code,
                "payment_amount": rec.payment_amount, "credit_debit": rec.credit_debit or None,
                "payment_method": rec.payment_method or None, "payment_date": rec.payment_date,
                "trace_number": rec.trace_number or None,
                "payer_identifier": rec.payer_id or rec.trace_originator or None,
                "payer_name": rec.payer_name or None, "payee_identifier": rec.payee_id or None,
                "production_date": rec.production_date, "balanced": True,
            })
            current_payment = rec.payment_amount
            counts["transactions"] += 1
        elif isinstance(rec, r.ClaimPayment):
            assert remittance_id is not None
            all_adj = list(rec.adjustments) + [a for ln in rec.lines for a in ln.adjustments]
            cp_id = w.add("claim_payments", {
                "remittance_id": remittance_id, "segment_no": rec.segment_no,
                "patient_control_number": rec.patient_control_number, "status_code": rec.status,
                "charge": rec.charge, "paid": rec.paid, "patient_responsibility": rec.patient_responsibility,
                "filing_indicator": rec.filing_indicator or None,
                "payer_claim_number": rec.payer_claim_control_number or None,
                "facility_type": rec.facility_type or None, "frequency": rec.frequency or None,
                "statement_from": rec.statement_from, "statement_to": rec.statement_to,
                "received_date": rec.received_date, **_breakdown(all_adj),
            })
            for pos, a in enumerate(rec.adjustments, start=1):
                w.add("adjustments", {"claim_payment_id": cp_id, "service_line_payment_id": None,
                                      "segment_no": rec.segment_no, "position": pos, "group_code": a.group,
                                      "reason_code": a.reason, "amount": a.amount, "quantity": a.quantity})
            for pos, code in enumerate(rec.remark_codes, start=1):
                w.add("remark_codes", {"claim_payment_id": cp_id, "service_line_payment_id": None,
                                       "segment_no": rec.segment_no, "position": pos,
                                       "source": "MIA" if rec.inpatient is not None else "MOA", "code": code})
            for ln in rec.lines:
                line_id = w.add("service_line_payments", {
                    "claim_payment_id": cp_id, "segment_no": ln.segment_no,
                    "procedure_qualifier": ln.procedure_qualifier or None,
                    "procedure_code": ln.procedure_code or None,
                    "modifiers": ":".join(ln.modifiers) or None,
                    "revenue_code": (ln.revenue_code or (ln.procedure_code if ln.procedure_qualifier == "NU" else None)) or None,
                    "charge": ln.charge, "paid": ln.paid, "units": ln.units,
                    "original_procedure": ln.original_procedure_code or None,
                    "line_control_number": ln.control_number, "service_date": ln.service_date or ln.service_date_from,
                    "allowed": ln.allowed,
                })
                for pos, a in enumerate(ln.adjustments, start=1):
                    w.add("adjustments", {"claim_payment_id": cp_id, "service_line_payment_id": line_id,
                                          "segment_no": ln.segment_no, "position": pos, "group_code": a.group,
                                          "reason_code": a.reason, "amount": a.amount, "quantity": a.quantity})
                for pos, code in enumerate(ln.remark_codes, start=1):
                    w.add("remark_codes", {"claim_payment_id": cp_id, "service_line_payment_id": line_id,
                                           "segment_no": ln.segment_no, "position": pos, "source": "LQ",
                                           "code": code})
            for exc in check_claim(rec):
                counts["unbalanced"] += 1
                w.add("balance_exceptions", _exception_row(exc, interchange_id, remittance_id, cp_id))
            counts["claims"] += 1
            counts["service_lines"] += len(rec.lines)
            counts["paid"] += rec.paid
        elif isinstance(rec, r.ProviderAdjustment):
            assert remittance_id is not None
            plb_positions[rec.segment_no] += 1
            w.add("provider_adjustments", {
                "remittance_id": remittance_id, "segment_no": rec.segment_no,
                "position": plb_positions[rec.segment_no], "provider_identifier": rec.provider_id,
                "fiscal_period_date": rec.fiscal_period_end, "reason_code": rec.reason,
                "reference": rec.reference or None, "amount": rec.amount,
            })
        elif isinstance(rec, r.RemittanceTotals):
            assert remittance_id is not None
            problems = list(check_transaction(current_payment, rec))
            if problems:
                counts["unbalanced"] += len(problems)
                w.flush()
                w.conn.execute(update(m.Remittance).where(m.Remittance.id == remittance_id).values(balanced=False))
                for exc in problems:
                    w.add("balance_exceptions", _exception_row(exc, interchange_id, remittance_id, None))
    return counts


def _exception_row(exc: Any, interchange_id: int, remittance_id: int | None, cp_id: int | None) -> dict[str, Any]:
    return {
        "source": "835", "level": exc.level, "kind": exc.kind, "interchange_id": interchange_id,
        "remittance_id": remittance_id, "claim_payment_id": cp_id, "claim_id": None,
        "reference": exc.reference, "expected": exc.expected, "found": exc.found, "run_date": None,
        "explained": False, "explanation": None, "created_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
    }


def _store_999(w: BulkWriter, interchange_id: int, records: Iterator[Any]) -> dict[str, Any]:
    from parsers import records as r

    counts = {"groups": 0, "accepted_sets": 0, "rejected_sets": 0}
    for rec in records:
        if isinstance(rec, r.TransactionSetAck):
            ack_id = w.add("acknowledgments", {
                "interchange_id": interchange_id, "kind": "999_set", "segment_no": rec.segment_no,
                "acked_isa13": None, "acked_gs06": rec.group_control_number,
                "acked_st02": rec.set_control_number, "acked_transaction": rec.set_id or None,
                "code": rec.status, "accepted": rec.accepted,
                "note_code": rec.syntax_errors[0] if rec.syntax_errors else None,
                "error_count": len(rec.errors) + len(rec.syntax_errors), "matched_interchange_id": None,
            })
            counts["accepted_sets" if rec.accepted else "rejected_sets"] += 1
            for err in rec.errors:
                w.add("acknowledgment_errors", {
                    "acknowledgment_id": ack_id, "level": "IK3", "segment_id": err.segment_id,
                    "segment_position": err.position, "loop_id": err.loop_id or None, "element_position": None,
                    "error_code": err.error_code, "patient_control_number": err.patient_control_number,
                    "bad_value": None,
                })
                for el in err.elements:
                    w.add("acknowledgment_errors", {
                        "acknowledgment_id": ack_id, "level": "IK4", "segment_id": err.segment_id,
                        "segment_position": err.position, "loop_id": err.loop_id or None,
                        "element_position": _element_position(el), "error_code": el.error_code,
                        "patient_control_number": err.patient_control_number,
                        "bad_value": el.bad_value or None,  # may be PHI: kept in the database only
                    })
        elif isinstance(rec, r.FunctionalGroupAck):
            w.add("acknowledgments", {
                "interchange_id": interchange_id, "kind": "999_group", "segment_no": rec.segment_no,
                "acked_isa13": None, "acked_gs06": rec.group_control_number, "acked_st02": None,
                "acked_transaction": rec.functional_id or None, "code": rec.status, "accepted": rec.accepted,
                "note_code": rec.syntax_errors[0] if rec.syntax_errors else None,
                "error_count": len(rec.syntax_errors), "matched_interchange_id": None,
            })
            counts["groups"] += 1
    return counts


def _element_position(el: Any) -> str | None:
    if el.position is None:
        return None
    return str(el.position) + (f":{el.component_position}" if el.component_position else "")


def _store_ta1(w: BulkWriter, interchange_id: int, records: Iterator[Any]) -> dict[str, Any]:
    from parsers import records as r

    counts = {"accepted": 0, "rejected": 0}
    for rec in records:
        if isinstance(rec, r.InterchangeAck):
            w.add("acknowledgments", {
                "interchange_id": interchange_id, "kind": "TA1", "segment_no": rec.segment_no,
                "acked_isa13": rec.control_number, "acked_gs06": None, "acked_st02": None,
                "acked_transaction": None, "code": rec.ack_code, "accepted": rec.accepted,
                "note_code": rec.note_code or None, "error_count": 0 if rec.accepted else 1,
                "matched_interchange_id": None,
            })
            counts["accepted" if rec.accepted else "rejected"] += 1
    return counts


def _store_277(w: BulkWriter, interchange_id: int, records: Iterator[Any]) -> dict[str, Any]:
    from parsers import records as r

    counts = {"claims": 0, "accepted": 0, "rejected": 0}
    for rec in records:
        if isinstance(rec, r.ClaimStatus):
            w.add("claim_statuses", {
                "interchange_id": interchange_id, "st02": rec.st02 or "", "segment_no": rec.segment_no,
                "level": "claim", "patient_control_number": rec.patient_control_number,
                "payer_claim_number": rec.payer_claim_control_number, "category": rec.category,
                "status_code": rec.status_code or None, "entity_code": _entity(rec.statuses),
                "accepted": rec.accepted, "status_date": rec.status_date, "amount": rec.charge,
                "claim_id": None, "applied_at": None,
            })
            counts["claims"] += 1
            if rec.accepted is not None:
                counts["accepted" if rec.accepted else "rejected"] += 1
        elif isinstance(rec, r.LevelStatus):
            first = rec.statuses[0] if rec.statuses else None
            w.add("claim_statuses", {
                "interchange_id": interchange_id, "st02": rec.st02 or "", "segment_no": rec.segment_no,
                "level": "batch" if rec.loop == "2200B" else "provider", "patient_control_number": None,
                "payer_claim_number": None, "category": first.category if first else "",
                "status_code": first.code if first else None, "entity_code": first.entity if first else None,
                "accepted": rec.accepted, "status_date": rec.status_date, "amount": rec.accepted_amount,
                "claim_id": None, "applied_at": None,
            })
    return counts


def _entity(statuses: tuple[Any, ...]) -> str | None:
    return statuses[0].entity or None if statuses else None
