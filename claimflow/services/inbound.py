"""Inbound: archive, register, parse and store clearinghouse files — each payment exactly once, all or nothing.

1. ``receive_file`` refuses anything that is not a regular file (a directory, a FIFO — never opened, so
   never a hang —, a device), then copies the file byte-for-byte into ``archive/<sha256[:2]>/<sha256>``
   (a temporary file with a random name created with ``O_EXCL``, fsync, rename, mode 0600: concurrent
   loaders never share a temporary file; a failed copy, e.g. disk full, removes its own) and registers it
   in ``interchanges`` (status ``received``) *before* anything parses it. The same bytes twice are one
   row. An archived copy that exists but does not match its hash is rewritten.
2. ``load_interchange`` parses the archived copy and stores every record in ONE database transaction, then
   marks the interchange ``loaded``. A crash (even ``kill -9``) before the commit leaves nothing but the
   ``received`` row, and the next run loads it again. A file already loaded is a no-op.

Exactly once, by identity (every repeat is marked ``duplicate``, stores nothing, and its ``error`` names
the interchange that was loaded first):

* the interchange: sender (ISA06) + ISA13, unique in ``interchanges`` (``uq_interchanges_sender_isa13``);
* each 835 payment: payer (TRN03, else the N1*PR payer id) + trace number (TRN02), unique in
  ``remittances`` (``uq_remittances_payment_identity``). A file whose payments were all loaded before is
  a ``duplicate``; a file that mixes new and already-loaded payments is quarantined (nothing stored: ask
  the payer to resend only the new ones). A remittance without TRN02 has no identity and is refused
  (TRN is required by the 835 guide), so every stored payment can be deduplicated.

``load`` also refuses, by quarantine with one line, a file holding more than one ISA..IEA interchange
(each would need its own sender + ISA13 check) and an ST..SE file without ISA/GS envelope (no sender
identity to deduplicate by); ``claimflow parse`` still reads both. These checks run after the parse, so a
malformed file is reported with the parser's line.

A unique-index race (two loaders, two files, one identity) rolls back the loser, which looks again and
ends ``duplicate`` — never an IntegrityError. Any other database error while storing a file (a value the
column refuses, an overflow, a constraint) rolls the file back and quarantines it with one line naming the
file and the table/column/segment when known — never the value (PostgreSQL's error text carries values,
so it is neither logged nor stored). Only transient errors (connection lost, database locked) propagate:
the file stays ``received`` and the next run tries again.

Records are written with pre-assigned ids in chunks (COPY on PostgreSQL, executemany on SQLite), so a
100,000-claim 835 does not cost a round trip per row.
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import mmap
import os
import re
import sqlite3
import stat
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, insert, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from claimflow.db import models as m
from claimflow.db.session import get_engine
from claimflow.errors import BadDataError
from claimflow.settings import Settings, get_settings
from edi.errors import X12ParseError
from edi.files import sha256_file, sweep_stale_temps, write_durably
from eob.cas import breakdown

log = logging.getLogger("claimflow.services.inbound")

CHUNK = 5000
ZERO = Decimal("0.00")
RACE_ATTEMPTS = 3

IDENTITY_INDEXES = ("uq_remittances_payment_identity", "uq_interchanges_sender_isa13")


class InboundFileRefused(BadDataError):
    """A path given to the loader is not a loadable file (missing, a directory, a FIFO, unreadable) or
    could not be archived (disk full). The message names the file and the reason, never its content."""


@dataclass
class LoadOutcome:
    interchange_id: int | None
    file_name: str
    status: str  # loaded, already_loaded, duplicate, quarantined, refused (not a file / not archived)
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
        if self.status == "refused":
            return f"{self.file_name}: not loaded: {self.error}"
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        verb = "new" if self.status == "loaded" else "already known"
        return f"{self.file_name}: {verb} {self.transaction or ''}" + (f" ({counts})" if counts else "")


# --------------------------------------------------------------------------------------------------
# receive: archive + register
# --------------------------------------------------------------------------------------------------


def _open_regular(path: Path) -> int:
    """Open ``path`` for reading only if it is a regular file. ``os.stat`` first, so a FIFO is never
    opened (opening one blocks until a writer appears); ``O_NONBLOCK`` + ``fstat`` close the window
    where the path is swapped for something else between the two calls."""
    name = _safe_display_name(path.name)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InboundFileRefused(f"{name}: no such file") from None
    except OSError as exc:
        raise InboundFileRefused(f"{name}: cannot be read ({_errno_name(exc)})") from None
    _require_regular(name, st.st_mode)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InboundFileRefused(f"{name}: cannot be read ({_errno_name(exc)})") from None
    try:
        _require_regular(name, os.fstat(fd).st_mode)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _require_regular(name: str, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    what = (
        "a directory"
        if stat.S_ISDIR(mode)
        else "a FIFO (named pipe)"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a regular file"
    )
    raise InboundFileRefused(f"{name}: is {what}, not a regular file")


def _errno_name(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, type(exc).__name__)


def sha256_of(path: Path) -> str:
    """The file's sha256 (:func:`edi.files.sha256_file`), refusing anything but a regular file first."""
    with os.fdopen(_open_regular(path), "rb") as f:
        return sha256_file(f)


def archive_path(settings: Settings, sha: str) -> Path:
    return settings.archive_dir / sha[:2] / sha


def _archive(src: Path, dest: Path, sha: str | None = None) -> None:
    """Copy ``src`` to ``dest`` atomically. An existing ``dest`` is kept when it hashes to ``sha`` (or
    when no hash is given) and rewritten otherwise (a damaged copy is repaired, never trusted)."""
    if dest.parent.is_dir():
        sweep_stale_temps(dest)  # temporary copies of writers that died (their flock went with them)
    if dest.exists():
        if sha is None or sha256_of(dest) == sha:
            return
        log.warning("archived copy %s… did not match its sha256: rewriting it", dest.name[:12])
    dest.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        try:
            # a private temporary name per writer, flocked while written, fsynced, renamed, folder
            # fsynced (edi.files): two loaders of the same file never write or rename each other's
            with os.fdopen(_open_regular(src), "rb") as fin:
                write_durably(dest, fin)
            break
        except FileNotFoundError:
            # A sweeper took our temporary file in the instant between its creation and its lock: again.
            if attempt == 2 or not src.exists():
                raise


def receive_file(
    engine: Engine,
    path: Path,
    *,
    partner: str | None = None,
    remote_name: str | None = None,
    sha256: str | None = None,
    settings: Settings | None = None,
) -> tuple[int, bool]:
    """Archive ``path`` and register it. Returns (interchange id, whether it was new).

    Raises :class:`InboundFileRefused` (one line) when ``path`` is not a readable regular file or cannot
    be archived (disk full: the partial temporary file is removed)."""
    settings = settings or get_settings()
    name = _safe_display_name(remote_name or path.name)
    sha = sha256 or sha256_of(path)
    dest = archive_path(settings, sha)
    try:
        _archive(path, dest, sha)
    except InboundFileRefused:
        raise
    except OSError as exc:
        raise InboundFileRefused(
            f"{name}: could not be archived ({_errno_name(exc)}); nothing registered"
        ) from None
    if sha256_of(dest) != sha:  # never trust a copy we did not check (the source changed while we copied)
        raise InboundFileRefused(
            f"{name}: archived copy does not match sha256 {sha[:12]}… (changed while copied?)"
        )
    ins = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    with engine.begin() as conn:
        inserted = conn.execute(
            ins(m.Interchange)
            .values(
                direction="in",
                sha256=sha,
                bytes=dest.stat().st_size,
                file_name=name,
                archive_path=str(dest),
                partner=partner,
                status=m.InterchangeStatus.RECEIVED.value,
                remote_name=remote_name,
            )
            .on_conflict_do_nothing(index_elements=["sha256"])
            .returning(m.Interchange.id)
        ).scalar()
        if inserted is not None:
            return int(inserted), True
        return int(
            conn.execute(select(m.Interchange.id).where(m.Interchange.sha256 == sha)).scalar_one()
        ), False


def _safe_display_name(name: str) -> str:
    cleaned = "".join(c if c.isprintable() and c not in "/\\" else "_" for c in name)
    return cleaned[-200:] or "unnamed"


# --------------------------------------------------------------------------------------------------
# load: parse + store in one transaction
# --------------------------------------------------------------------------------------------------


def load_files(paths: Iterable[Path], *, actor: str, partner: str | None = None) -> list[LoadOutcome]:
    """CLI entry: receive and load each file; a bad path or a bad file never stops the others."""
    engine = get_engine()
    settings = get_settings()
    outcomes = []
    for path in paths:
        name = _safe_display_name(path.name or str(path))
        try:
            interchange_id, _new = receive_file(engine, path, partner=partner, settings=settings)
        except InboundFileRefused as exc:
            log.warning("%s", exc)
            outcomes.append(LoadOutcome(None, name, "refused", error=_reason(exc, name)))
            continue
        except sa_exc.SQLAlchemyError as exc:  # database down or locked: archived, not registered; rerun
            reason = f"not registered, database unavailable ({type(exc).__name__}); load it again later"
            log.error("%s: %s", name, reason)
            outcomes.append(LoadOutcome(None, name, "refused", error=reason))
            continue
        try:
            outcome = load_interchange(engine, interchange_id, actor=actor, settings=settings)
        except (sa_exc.SQLAlchemyError, OSError) as exc:  # transient: stays received, the next run retries
            reason = (
                f"database or disk unavailable ({type(exc).__name__}); left received, the next run retries"
            )
            log.error("%s: %s", name, reason)
            outcomes.append(LoadOutcome(interchange_id, name, "refused", error=reason))
            continue
        outcome.file_name = name
        outcomes.append(outcome)
    return outcomes


def _reason(exc: Exception, name: str) -> str:
    text = str(exc)
    return text[len(name) + 2 :] if text.startswith(f"{name}: ") else text


class _Refused(Exception):
    """A policy refusal found after a clean parse (no envelope, several interchanges, a payment without
    identity, a mixed resend): the file is quarantined with this one line."""


class _DuplicatePayments(Exception):
    """Every payment in the file was loaded before (args: the one-line reason)."""


class _RaceLost(Exception):
    """Another loader committed the same identity while we stored: roll back and look again."""


class _StoreFailed(Exception):
    """A database error while writing ``table`` (args: table, column or None, segment or None, cause)."""

    def __init__(self, table: str, column: str | None, segment_no: int | None, cause: BaseException) -> None:
        super().__init__(table, column, segment_no)
        self.table, self.column, self.segment_no, self.cause = table, column, segment_no, cause


def load_interchange(
    engine: Engine | None, interchange_id: int, *, actor: str, settings: Settings | None = None
) -> LoadOutcome:
    engine = engine or get_engine()
    settings = settings or get_settings()
    for _attempt in range(RACE_ATTEMPTS):
        try:
            return _load_once(engine, interchange_id, actor, settings)
        except _RaceLost:
            log.info(
                "interchange %s: another loader stored the same identity first; looking again", interchange_id
            )
    with engine.connect() as conn:
        name = conn.execute(
            select(m.Interchange.file_name).where(m.Interchange.id == interchange_id)
        ).scalar_one()
    return _quarantine(
        engine,
        interchange_id,
        None,
        name,
        f"{name}: kept colliding with concurrent loaders on its identity; not stored",
        settings,
        actor,
    )


def _load_once(engine: Engine, interchange_id: int, actor: str, settings: Settings) -> LoadOutcome:
    from parsers.detect import detect_transaction

    with engine.connect() as conn:
        row = conn.execute(select(m.Interchange).where(m.Interchange.id == interchange_id)).mappings().one()
    name = row["file_name"]
    if row["status"] in (
        m.InterchangeStatus.LOADED,
        m.InterchangeStatus.DUPLICATE,
        m.InterchangeStatus.QUARANTINED,
    ):
        return LoadOutcome(
            interchange_id,
            name,
            "already_loaded" if row["status"] == "loaded" else row["status"],
            row["transaction_type"],
            error=row["error"],
        )
    path = Path(row["archive_path"])
    kind: str | None = None
    envelope: dict[str, str | None] = {"sender_id": None, "receiver_id": None, "isa13": None, "usage": None}
    try:
        try:
            head = _read_head(path)
            interchanges = _count_interchanges(path, head)
        except OSError as exc:
            return _quarantine(
                engine,
                interchange_id,
                None,
                name,
                f"{name}: archived copy cannot be read ({_errno_name(exc)})",
                settings,
                actor,
            )
        kind = detect_transaction(head, name=name)
        envelope = _envelope(head, name)
        with engine.begin() as conn:
            _lock_for_write(conn, interchange_id)
            dup = _duplicate_of(conn, interchange_id, envelope) if interchanges == 1 else None
            if dup is not None:
                msg = (
                    f"ISA13 {envelope['isa13']} from sender {envelope['sender_id']} was already loaded "
                    f"from interchange {dup}"
                )
                _set_status(conn, interchange_id, m.InterchangeStatus.DUPLICATE.value, kind, envelope, msg)
                log.warning("%s: duplicate, not stored: %s", name, msg)
                return LoadOutcome(interchange_id, name, "duplicate", kind, error=msg)
            counts = _store(conn, interchange_id, path, row["sha256"], kind, name, envelope, interchanges)
            try:
                _set_status(
                    conn, interchange_id, m.InterchangeStatus.LOADED.value, kind, envelope, None, counts
                )
            except sa_exc.IntegrityError as exc:
                raise _StoreFailed("interchanges", None, None, exc) from exc
            from claimflow.db.audit import audit

            audit(
                conn,
                actor=actor,
                action="file_loaded",
                object_type="interchange",
                object_id=str(interchange_id),
                detail={"transaction": kind, **_jsonable(counts)},
            )
        log.info("loaded %s (%s): %s", name, kind, counts)
        return LoadOutcome(interchange_id, name, "loaded", kind, counts=_jsonable(counts))
    except _AlreadyHandled as handled:
        # Another loader (a retried task and its zombie, or a rerun racing a killed run's commit) finished this
        # file while we waited for the lock: report what it did, store nothing.
        status = handled.args[0]
        return LoadOutcome(
            interchange_id, name, "already_loaded" if status == "loaded" else status, row["transaction_type"]
        )
    except X12ParseError as exc:
        exc.with_file(name)
        return _quarantine(engine, interchange_id, path, name, exc.line(), settings, actor)
    except _Refused as refused:
        return _quarantine(engine, interchange_id, path, name, f"{name}: {refused.args[0]}", settings, actor)
    except _DuplicatePayments as dup_payments:
        return _mark_duplicate(engine, interchange_id, name, kind, envelope, dup_payments.args[0], actor)
    except _StoreFailed as failed:
        if _is_transient(failed.cause):
            if isinstance(failed.cause, sa_exc.SQLAlchemyError):
                raise failed.cause from None
            # COPY raises the driver's own error: give callers SQLAlchemy's type, as for every other statement
            raise sa_exc.OperationalError(f"COPY {failed.table}", None, failed.cause) from None
        if _is_identity_race(failed.cause):
            raise _RaceLost() from None
        return _quarantine(engine, interchange_id, path, name, _poison_line(name, failed), settings, actor)
    except (sa_exc.SQLAlchemyError, OverflowError, ArithmeticError, ValueError, TypeError) as exc:
        if _is_transient(exc):
            raise
        if _is_identity_race(exc):
            raise _RaceLost() from None
        return _quarantine(
            engine,
            interchange_id,
            path,
            name,
            _poison_line(name, _StoreFailed("?", None, None, exc)),
            settings,
            actor,
        )


def _mark_duplicate(
    engine: Engine,
    interchange_id: int,
    name: str,
    kind: str | None,
    envelope: dict[str, str | None],
    msg: str,
    actor: str,
) -> LoadOutcome:
    from claimflow.db.audit import audit

    try:
        with engine.begin() as conn:
            _lock_for_write(conn, interchange_id)
            _set_status(conn, interchange_id, m.InterchangeStatus.DUPLICATE.value, kind, envelope, msg)
            audit(
                conn,
                actor=actor,
                action="file_duplicate",
                object_type="interchange",
                object_id=str(interchange_id),
                detail={"error": msg},
            )
    except _AlreadyHandled as handled:
        status = handled.args[0]
        return LoadOutcome(interchange_id, name, "already_loaded" if status == "loaded" else status, kind)
    log.warning("%s: duplicate, not stored: %s", name, msg)
    return LoadOutcome(interchange_id, name, "duplicate", kind, error=msg)


def _jsonable(counts: dict[str, Any]) -> dict[str, Any]:
    return {k: (f"{v:.2f}" if isinstance(v, Decimal) else v) for k, v in counts.items()}


def _quarantine(
    engine: Engine,
    interchange_id: int,
    path: Path | None,
    name: str,
    error: str,
    settings: Settings,
    actor: str,
) -> LoadOutcome:
    if path is not None and path.exists():
        target = settings.quarantine_dir / f"interchange-{interchange_id}.x12"
        try:
            settings.quarantine_dir.mkdir(parents=True, exist_ok=True)
            _archive(
                path, target
            )  # temp + fsync + rename, 0600: a crash never leaves a partial or readable copy
        except OSError as exc:  # the archive keeps the bytes; the status below is what matters
            log.error("%s: quarantine copy not written (%s); the archived copy stays", name, _errno_name(exc))
    from claimflow.db.audit import audit

    with engine.begin() as conn:
        changed = conn.execute(
            update(m.Interchange)
            .where(
                m.Interchange.id == interchange_id, m.Interchange.status == m.InterchangeStatus.RECEIVED.value
            )
            .values(status=m.InterchangeStatus.QUARANTINED.value, error=error)
        ).rowcount
        if not changed:  # another loader decided first: report what it did
            status = conn.execute(
                select(m.Interchange.status).where(m.Interchange.id == interchange_id)
            ).scalar_one()
            return LoadOutcome(interchange_id, name, "already_loaded" if status == "loaded" else status)
        audit(
            conn,
            actor=actor,
            action="file_quarantined",
            object_type="interchange",
            object_id=str(interchange_id),
            detail={"error": error},
        )
    log.warning("quarantined %s: %s", name, error)
    return LoadOutcome(interchange_id, name, "quarantined", error=error)


def _read_head(path: Path, size: int = 4096) -> bytes:
    with os.fdopen(_open_regular(path), "rb") as f:
        return f.read(size)


def _count_interchanges(path: Path, head: bytes) -> int:
    """How many ISA segments the file holds (1 for a normal file, 0 for a bare ST..SE or GS..GE file).

    A byte scan, not a parse: ``ISA`` + the element separator preceded (line breaks aside) by the
    segment terminator. ``ISA*`` inside a value ("LISA*") is not preceded by a terminator."""
    start = len(head) - len(head.lstrip())
    if head[start : start + 3] != b"ISA" or len(head) < start + 106:
        return 0
    sep, term = head[start + 3 : start + 4], head[start + 105 : start + 106]
    needle = b"ISA" + sep
    count = 1
    with os.fdopen(_open_regular(path), "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        pos = data.find(needle, start + 1)
        while pos != -1:
            back = pos - 1
            while back >= 0 and data[back] in (0x0A, 0x0D) and data[back : back + 1] != term:
                back -= 1
            if back >= 0 and data[back : back + 1] == term:
                count += 1
            pos = data.find(needle, pos + 1)
    return count


def _envelope(head: bytes, name: str) -> dict[str, str | None]:
    """ISA06 sender, ISA08 receiver, ISA13, ISA15 from the head of the file (None for bare ST..SE files)."""
    from edi.reader import iter_segments

    env: dict[str, str | None] = {"sender_id": None, "receiver_id": None, "isa13": None, "usage": None}
    try:
        for _n, seg in iter_segments(head, name=name):
            if seg[0] == "ISA" and len(seg) > 15:
                env.update(
                    sender_id=seg[6].strip(),
                    receiver_id=seg[8].strip(),
                    isa13=seg[13].strip(),
                    usage=seg[15].strip(),
                )
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
        conn.execute(
            update(m.Interchange)
            .where(m.Interchange.id == interchange_id)
            .values(status=m.Interchange.status)
        )
    status = conn.execute(stmt).scalar_one()
    if status != m.InterchangeStatus.RECEIVED:
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
            m.Interchange.status == m.InterchangeStatus.LOADED.value,
            m.Interchange.id != interchange_id,
        )
    ).scalar()


def _set_status(
    conn: Connection,
    interchange_id: int,
    status: str,
    kind: str | None,
    env: dict[str, str | None],
    error: str | None,
    counts: dict[str, Any] | None = None,
) -> None:
    values: dict[str, Any] = {
        "status": status,
        "transaction_type": kind,
        "error": error,
        "sender_id": env["sender_id"],
        "receiver_id": env["receiver_id"],
        "usage": env["usage"],
    }
    if status == "loaded":
        values.update(isa13=env["isa13"], loaded_at=func.current_timestamp())
        if counts:
            values["claim_count"] = counts.get("claims")
    conn.execute(update(m.Interchange).where(m.Interchange.id == interchange_id).values(**values))


# --------------------------------------------------------------------------------------------------
# database errors: transient (retry later), identity race (look again) or poison (quarantine the file)
# --------------------------------------------------------------------------------------------------


def _driver_error(exc: BaseException) -> BaseException:
    """The DBAPI exception under SQLAlchemy's wrapper (COPY raises psycopg's own, unwrapped)."""
    return getattr(exc, "orig", None) or exc


def _is_transient(exc: BaseException) -> bool:
    if isinstance(
        exc,
        (
            sa_exc.OperationalError,
            sa_exc.InterfaceError,
            sa_exc.DisconnectionError,
            sa_exc.TimeoutError,
            sa_exc.ResourceClosedError,
        ),
    ):
        return True
    orig = _driver_error(exc)
    if isinstance(orig, sqlite3.OperationalError):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(orig, (psycopg.OperationalError, psycopg.InterfaceError))


def _constraint_name(exc: BaseException) -> str | None:
    orig = _driver_error(exc)
    diag = getattr(orig, "diag", None)
    name = getattr(diag, "constraint_name", None) if diag is not None else None
    return str(name) if name else None


_SQLITE_IDENTITY = (
    "remittances.trace_payer, remittances.trace_number",
    "interchanges.direction, interchanges.sender_id, interchanges.isa13",
)


def _is_identity_race(exc: BaseException) -> bool:
    """A unique violation of one of the identity indexes: someone else committed the same identity."""
    orig = _driver_error(exc)
    if _constraint_name(exc) in IDENTITY_INDEXES:
        return True
    if isinstance(orig, sqlite3.IntegrityError):
        text = str(orig)  # SQLite names the columns, never the values
        return any(cols in text for cols in _SQLITE_IDENTITY)
    return False


_COPY_CONTEXT = re.compile(r"COPY (\w+), line (\d+)(?:, column (\w+))?")


def _poison_line(name: str, failed: _StoreFailed) -> str:
    """One line: file, what failed (error class, table.column, segment when known), never the value."""
    cause = failed.cause
    orig = _driver_error(cause)
    where = failed.table if failed.table != "?" else None
    column = failed.column
    diag = getattr(orig, "diag", None)
    if diag is not None:
        where = getattr(diag, "table_name", None) or where
        column = getattr(diag, "column_name", None) or column
        constraint = getattr(diag, "constraint_name", None)
        if constraint and not column:
            column = f"constraint {constraint}"
    parts = [f"the database refused this file ({type(orig).__name__})"]
    if where:
        parts.append(
            f"in {where}.{column}"
            if column and not column.startswith("constraint")
            else f"in {where}" + (f" ({column})" if column else "")
        )
    if failed.segment_no is not None:
        parts.append(f"at segment {failed.segment_no}")
    return f"{name}: " + " ".join(parts) + "; nothing from this file was stored"


def _locate(table: Table, rows: list[dict[str, Any]], cause: BaseException) -> tuple[str | None, int | None]:
    """Column and segment of the row the database refused: COPY's context names the row and column (we
    keep the names, drop the value); otherwise the first value that cannot fit its column."""
    diag = getattr(_driver_error(cause), "diag", None)
    context = getattr(diag, "context", None) if diag is not None else None
    if context:
        found = _COPY_CONTEXT.search(str(context))
        if found and found.group(1) == table.name:
            line = int(found.group(2))
            row = rows[line - 1] if 0 < line <= len(rows) else None
            return found.group(3), (row.get("segment_no") if row else None)
    for row in rows:
        for col, value in row.items():
            if _misfit(table, col, value):
                return col, row.get("segment_no")
    return None, None


_INT64 = 1 << 63
_MONEY_LIMIT = Decimal(10) ** 12  # NUMERIC(14,2)


def _misfit(table: Table, col: str, value: Any) -> bool:
    if value is None or col not in table.c:
        return False
    ctype = table.c[col].type
    if isinstance(value, str):
        length = getattr(ctype, "length", None)
        return "\x00" in value or (length is not None and len(value) > length)
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not -_INT64 <= value < _INT64
    if isinstance(value, Decimal):
        return not value.is_finite() or abs(value) >= _MONEY_LIMIT
    return False


# --------------------------------------------------------------------------------------------------
# bulk storage
# --------------------------------------------------------------------------------------------------


class BulkWriter:
    """Buffers rows per table with pre-assigned ids; flushes parents before children.

    Ids come from the table's sequence on PostgreSQL (a block of ``nextval`` per round trip) and from
    ``max(id) + 1`` on SQLite, where the loader holds the database's single write lock for the whole
    transaction, so no other writer can take the same ids.
    """

    ORDER = (
        "remittances",
        "claim_payments",
        "service_line_payments",
        "adjustments",
        "remark_codes",
        "provider_adjustments",
        "acknowledgments",
        "acknowledgment_errors",
        "claim_statuses",
        "balance_exceptions",
    )

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.tables: dict[str, Table] = {t: m.Base.metadata.tables[t] for t in self.ORDER}
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.pending = 0
        self.pg = conn.dialect.name == "postgresql"
        self._pg_ids: dict[str, list[int]] = defaultdict(list)
        self._pg_block: dict[str, int] = {}
        self._sqlite_next: dict[str, int] = {}
        #: once a file is known to be refused, records are still parsed (a parse error wins over a
        #: refusal) but nothing more is buffered or written
        self.discard = False
        self._discarded = 0

    def _new_id(self, table: str) -> int:
        if self.pg:
            ids = self._pg_ids[table]
            if not ids:
                # Blocks grow 64 → 256 → … → CHUNK: a 3-row 999 does not pay for 5,000 nextval calls.
                n = self._pg_block[table] = min(CHUNK, self._pg_block.get(table, 16) * 4)
                ids.extend(
                    self.conn.exec_driver_sql(
                        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, {n})"
                    )
                    .scalars()
                    .all()
                )
                ids.reverse()
            return int(ids.pop())
        if table not in self._sqlite_next:
            self._sqlite_next[table] = (
                int(
                    self.conn.execute(
                        select(func.coalesce(func.max(self.tables[table].c.id), 0))
                    ).scalar_one()
                )
                + 1
            )
        value = self._sqlite_next[table]
        self._sqlite_next[table] = value + 1
        return value

    def add(self, table: str, row: dict[str, Any]) -> int:
        if self.discard:
            self._discarded += 1
            return -self._discarded
        row["id"] = self._new_id(table)
        self.rows[table].append(row)
        self.pending += 1
        if self.pending >= CHUNK:
            self.flush()
        return int(row["id"])

    def flush(self) -> None:
        if self.discard:
            self.rows.clear()
            self.pending = 0
            return
        for name in self.ORDER:
            rows = self.rows.get(name)
            if not rows:
                continue
            try:
                if self.pg:
                    self._copy(self.tables[name], rows)
                else:
                    self.conn.execute(insert(self.tables[name]), rows)
            except Exception as exc:  # classified by load_interchange: transient, identity race or poison
                column, segment_no = _locate(self.tables[name], rows, exc)
                raise _StoreFailed(name, column, segment_no, exc) from exc
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


def _store(
    conn: Connection,
    interchange_id: int,
    path: Path,
    sha: str,
    kind: str,
    name: str,
    envelope: dict[str, str | None],
    interchanges: int,
) -> dict[str, Any]:
    """Parse and write every record; the load-policy checks (envelope, one interchange, payment
    identity) raise only after the whole file parsed, so a malformed file gets the parser's line."""
    from parsers import parse_file

    writer = BulkWriter(conn)
    if interchanges != 1:
        writer.discard = True
    records = parse_file(path, file_sha256=sha, name=name)
    identity = _PaymentIdentity(conn)
    if kind == "835":
        counts = _store_835(writer, interchange_id, records, identity)
    elif kind == "999":
        counts = _store_999(writer, interchange_id, records)
    elif kind == "TA1":
        counts = _store_ta1(writer, interchange_id, records)
    elif kind in ("277", "277CA"):
        counts = _store_277(writer, interchange_id, records)
    elif kind == "271":
        from claimflow.inquiries.eligibility import apply_271

        counts = apply_271(conn, interchange_id, records, actor="load:271")
    else:
        raise X12ParseError(
            f"transaction {kind} is not one claimflow loads (expected TA1, 999, 277CA or 835)",
            file=name,
            segment_no=1,
        )
    if interchanges == 0 or not envelope["isa13"]:
        raise _Refused(
            "no ISA/GS envelope: no sender identity to deduplicate by; not loaded "
            "(claimflow parse can still read it)"
        )
    if interchanges > 1:
        raise _Refused(
            f"holds {interchanges} interchanges (ISA..IEA); claimflow loads one interchange per "
            "file, each checked by its own sender + ISA13: ask the sender to split it"
        )
    identity.verdict()
    writer.flush()
    return counts


class _PaymentIdentity:
    """Checks each 835 remittance's identity (payer + TRN02) against the database and the file itself.

    The verdict comes after the parse: every payment new → store; every payment loaded before →
    :class:`_DuplicatePayments`; a mix, a repeat inside the file or a payment without TRN02 →
    :class:`_Refused`. The unique index ``uq_remittances_payment_identity`` backs this up when two
    loaders race (the loser's insert fails and it looks again)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.new = 0
        self.repeats: list[tuple[int, int]] = []  # (segment_no, earlier interchange id)
        self.problem: str | None = None
        self._seen: dict[tuple[str, str], int] = {}

    @staticmethod
    def key(rec: Any) -> tuple[str | None, str | None]:
        """(payer, trace): TRN03, falling back to the N1*PR payer id; TRN02."""
        payer = (rec.trace_originator or "").strip() or (rec.payer_id or "").strip() or None
        trace = (rec.trace_number or "").strip() or None
        return payer, trace

    def check(self, rec: Any) -> bool:
        """Record one remittance; True when it may be written (nothing wrong so far)."""
        payer, trace = self.key(rec)
        if self.problem is not None:
            return False
        if trace is None or payer is None:
            self.problem = (
                f"remittance at segment {rec.segment_no} has no "
                f"{'TRN02 trace number' if trace is None else 'TRN03 or N1*PR payer id'}: "
                "no payment identity to deduplicate by (TRN is required by the 835 guide)"
            )
            return False
        if (payer, trace) in self._seen:
            self.problem = (
                f"remittance at segment {rec.segment_no} repeats the payment identity (TRN02 + "
                f"payer) of the remittance at segment {self._seen[payer, trace]} in the same file"
            )
            return False
        self._seen[payer, trace] = rec.segment_no
        earlier = self.earlier(trace, {payer, (rec.payer_id or "").strip() or payer})
        if earlier is not None:
            self.repeats.append((rec.segment_no, int(earlier)))
            return False
        self.new += 1
        return not self.repeats

    def earlier(self, trace: str, payers: set[str]) -> int | None:
        """The interchange that stored this payment before, if any. Rows loaded before migration 0004 keep
        the N1*PR id (else TRN03) as their payer, so both of this remittance's payer ids are looked up."""
        found = self.conn.execute(
            select(m.Remittance.interchange_id)
            .where(m.Remittance.trace_number == trace, m.Remittance.trace_payer.in_(sorted(payers)))
            .order_by(m.Remittance.id)
            .limit(1)
        ).scalar()
        return None if found is None else int(found)

    def verdict(self) -> None:
        if self.problem is not None:
            raise _Refused(self.problem)
        if not self.repeats:
            return
        earlier = sorted({i for _s, i in self.repeats})
        first_seg, first_iid = self.repeats[0]
        if self.new:
            raise _Refused(
                f"{len(self.repeats)} of {self.new + len(self.repeats)} payments were already loaded (the "
                f"remittance at segment {first_seg}: from interchange {first_iid}); a file mixing new and "
                "already-loaded payments is not stored: ask the payer to resend only the new ones"
            )
        raise _DuplicatePayments(
            f"every payment (TRN02 + payer) was already loaded from interchange "
            f"{', '.join(str(i) for i in earlier)} (first: the remittance at segment {first_seg})"
        )


def _breakdown(adjustments: Iterable[Any]) -> dict[str, Decimal]:
    """The ``claim_payments`` breakdown columns of a claim's CAS (claim + lines), by :mod:`eob.cas`.

    The table has no column for patient responsibility beyond PR-1/2/3: "other PR" (PR-45, PR-96 …)
    counts in ``other_adjustments`` with OA/PI/CR, as that column is documented, so the five columns
    always add up to ΣCAS (the loader used to drop it).
    """
    b = breakdown(adjustments)
    return {
        "deductible": b.deductible,
        "coinsurance": b.coinsurance,
        "copay": b.copay,
        "contractual": b.contractual,
        "other_adjustments": b.other_adjustments
        + b.payer_initiated
        + b.corrections
        + b.other_patient_responsibility,
    }


def _payer_pk(conn: Connection, rec: Any) -> int | None:
    """payers.id of an 835's payer: N1*PR N104, else REF*2U (payer identification number), else TRN03."""
    wanted = [
        v.strip()
        for v in (
            rec.payer_id,
            *(x for k, x in rec.payer_references or () if k == "2U"),
            rec.trace_originator,
        )
        if v and v.strip()
    ]
    if not wanted:
        return None
    found: dict[str, int] = {
        payer_id: pid
        for payer_id, pid in conn.execute(
            select(m.Payer.payer_id, m.Payer.id).where(m.Payer.payer_id.in_(wanted))
        )
    }
    return next((int(found[v]) for v in wanted if v in found), None)


def _store_835(
    w: BulkWriter, interchange_id: int, records: Iterator[Any], identity: _PaymentIdentity
) -> dict[str, Any]:
    from eob.balance import check_claim, check_transaction
    from parsers import records as r

    remittance_id: int | None = None
    counts: dict[str, Any] = {
        "transactions": 0,
        "claims": 0,
        "service_lines": 0,
        "paid": ZERO,
        "unbalanced": 0,
    }
    plb_positions: dict[int, int] = defaultdict(int)
    for rec in records:
        if isinstance(rec, r.Remittance):
            if not identity.check(rec):
                w.discard = True  # refused or a repeat: keep parsing (errors first), store nothing
            payer_key, trace = identity.key(rec)
            remittance_id = w.add(
                "remittances",
                {
                    "interchange_id": interchange_id,
                    "isa13": rec.isa13,
                    "gs06": rec.gs06,
                    "st02": rec.st02 or "",
                    "segment_no": rec.segment_no,
                    "handling_code": rec.handling_code,
                    "payment_amount": rec.payment_amount,
                    "credit_debit": rec.credit_debit or None,
                    "payment_method": rec.payment_method or None,
                    "payment_date": rec.payment_date,
                    "trace_number": trace,
                    "trace_payer": payer_key,
                    "payer_identifier": rec.payer_id or rec.trace_originator or None,
                    "payer_name": rec.payer_name or None,
                    "payee_identifier": rec.payee_id or None,
                    "production_date": rec.production_date,
                    "balanced": True,
                    "payer_id": _payer_pk(w.conn, rec),
                },
            )
            current_payment = rec.payment_amount
            counts["transactions"] += 1
        elif isinstance(rec, r.ClaimPayment):
            assert remittance_id is not None
            all_adj = list(rec.adjustments) + [a for ln in rec.lines for a in ln.adjustments]
            cp_id = w.add(
                "claim_payments",
                {
                    "remittance_id": remittance_id,
                    "segment_no": rec.segment_no,
                    "patient_control_number": rec.patient_control_number,
                    "status_code": rec.status,
                    "charge": rec.charge,
                    "paid": rec.paid,
                    "patient_responsibility": rec.patient_responsibility,
                    "filing_indicator": rec.filing_indicator or None,
                    "payer_claim_number": rec.payer_claim_control_number or None,
                    "facility_type": rec.facility_type or None,
                    "frequency": rec.frequency or None,
                    "statement_from": rec.statement_from,
                    "statement_to": rec.statement_to,
                    "received_date": rec.received_date,
                    **_breakdown(all_adj),
                    "original_reference_number": rec.original_reference_number or None,
                },
            )
            remark_source = "MIA" if rec.inpatient is not None else "MOA"
            _add_cas_and_remarks(
                w, cp_id, None, rec.segment_no, rec.adjustments, rec.remark_codes, remark_source
            )
            for ln in rec.lines:
                line_id = w.add(
                    "service_line_payments",
                    {
                        "claim_payment_id": cp_id,
                        "segment_no": ln.segment_no,
                        "procedure_qualifier": ln.procedure_qualifier or None,
                        "procedure_code": ln.procedure_code or None,
                        "modifiers": ":".join(ln.modifiers) or None,
                        "revenue_code": (
                            ln.revenue_code or (ln.procedure_code if ln.procedure_qualifier == "NU" else None)
                        )
                        or None,
                        "charge": ln.charge,
                        "paid": ln.paid,
                        "units": ln.units,
                        "original_procedure": ln.original_procedure_code or None,
                        "line_control_number": ln.control_number,
                        "service_date": ln.service_date or ln.service_date_from,
                        "allowed": ln.allowed,
                    },
                )
                _add_cas_and_remarks(w, cp_id, line_id, ln.segment_no, ln.adjustments, ln.remark_codes, "LQ")
            for exc in check_claim(rec):
                counts["unbalanced"] += 1
                w.add("balance_exceptions", _exception_row(exc, interchange_id, remittance_id, cp_id))
            counts["claims"] += 1
            counts["service_lines"] += len(rec.lines)
            counts["paid"] += rec.paid
        elif isinstance(rec, r.ProviderAdjustment):
            assert remittance_id is not None
            plb_positions[rec.segment_no] += 1
            w.add(
                "provider_adjustments",
                {
                    "remittance_id": remittance_id,
                    "segment_no": rec.segment_no,
                    "position": plb_positions[rec.segment_no],
                    "provider_identifier": rec.provider_id,
                    "fiscal_period_date": rec.fiscal_period_end,
                    "reason_code": rec.reason,
                    "reference": rec.reference or None,
                    "amount": rec.amount,
                },
            )
        elif isinstance(rec, r.RemittanceTotals):
            assert remittance_id is not None
            problems = list(check_transaction(current_payment, rec))
            if problems:
                counts["unbalanced"] += len(problems)
                w.flush()
                if not w.discard:
                    w.conn.execute(
                        update(m.Remittance).where(m.Remittance.id == remittance_id).values(balanced=False)
                    )
                for exc in problems:
                    w.add("balance_exceptions", _exception_row(exc, interchange_id, remittance_id, None))
    return counts


def _add_cas_and_remarks(
    w: BulkWriter,
    cp_id: int,
    line_id: int | None,
    segment_no: int,
    adjustments: Iterable[Any],
    remark_codes: Iterable[str],
    source: str,
) -> None:
    """The ``adjustments`` (CAS) and ``remark_codes`` rows of a claim payment (``line_id`` None: MIA/MOA
    remarks) or of one of its service lines (LQ): one shape at both levels, numbered from 1 in file order."""
    for pos, a in enumerate(adjustments, start=1):
        w.add(
            "adjustments",
            {
                "claim_payment_id": cp_id,
                "service_line_payment_id": line_id,
                "segment_no": segment_no,
                "position": pos,
                "group_code": a.group,
                "reason_code": a.reason,
                "amount": a.amount,
                "quantity": a.quantity,
            },
        )
    for pos, code in enumerate(remark_codes, start=1):
        w.add(
            "remark_codes",
            {
                "claim_payment_id": cp_id,
                "service_line_payment_id": line_id,
                "segment_no": segment_no,
                "position": pos,
                "source": source,
                "code": code,
            },
        )


def _exception_row(
    exc: Any, interchange_id: int, remittance_id: int | None, cp_id: int | None
) -> dict[str, Any]:
    return {
        "source": "835",
        "level": exc.level,
        "kind": exc.kind,
        "interchange_id": interchange_id,
        "remittance_id": remittance_id,
        "claim_payment_id": cp_id,
        "claim_id": None,
        "reference": exc.reference,
        "expected": exc.expected,
        "found": exc.found,
        "run_date": None,
        "explained": False,
        "explanation": None,
        "created_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
    }


def _store_999(w: BulkWriter, interchange_id: int, records: Iterator[Any]) -> dict[str, Any]:
    from parsers import records as r

    counts = {"groups": 0, "accepted_sets": 0, "rejected_sets": 0}
    pending: list[bool] = []  # the group's IK5 verdicts: its AK9 decides with them (parse --summary's rule)
    for rec in records:
        if isinstance(rec, r.TransactionSetAck):
            ack_id = w.add(
                "acknowledgments",
                {
                    "interchange_id": interchange_id,
                    "kind": "999_set",
                    "segment_no": rec.segment_no,
                    "acked_isa13": None,
                    "acked_gs06": rec.group_control_number,
                    "acked_st02": rec.set_control_number,
                    "acked_transaction": rec.set_id or None,
                    "code": rec.status,
                    "accepted": rec.accepted,
                    "note_code": rec.syntax_errors[0] if rec.syntax_errors else None,
                    "error_count": len(rec.errors) + len(rec.syntax_errors),
                    "matched_interchange_id": None,
                },
            )
            pending.append(rec.accepted)
            for err in rec.errors:
                w.add(
                    "acknowledgment_errors",
                    {
                        "acknowledgment_id": ack_id,
                        "level": "IK3",
                        "segment_id": err.segment_id,
                        "segment_position": err.position,
                        "loop_id": err.loop_id or None,
                        "element_position": None,
                        "error_code": err.error_code,
                        "patient_control_number": err.patient_control_number,
                        "bad_value": None,
                    },
                )
                for el in err.elements:
                    w.add(
                        "acknowledgment_errors",
                        {
                            "acknowledgment_id": ack_id,
                            "level": "IK4",
                            "segment_id": err.segment_id,
                            "segment_position": err.position,
                            "loop_id": err.loop_id or None,
                            "element_position": _element_position(el),
                            "error_code": el.error_code,
                            "patient_control_number": err.patient_control_number,
                            "bad_value": el.bad_value or None,  # may be PHI: kept in the database only
                        },
                    )
        elif isinstance(rec, r.FunctionalGroupAck):
            w.add(
                "acknowledgments",
                {
                    "interchange_id": interchange_id,
                    "kind": "999_group",
                    "segment_no": rec.segment_no,
                    "acked_isa13": None,
                    "acked_gs06": rec.group_control_number,
                    "acked_st02": None,
                    "acked_transaction": rec.functional_id or None,
                    "code": rec.status,
                    "accepted": rec.accepted,
                    "note_code": rec.syntax_errors[0] if rec.syntax_errors else None,
                    "error_count": len(rec.syntax_errors),
                    "matched_interchange_id": None,
                },
            )
            counts["groups"] += 1
            from parsers.x999_005010x231a1 import REJECTED_GROUP_CODES

            ok = 0 if rec.status in REJECTED_GROUP_CODES else sum(pending)
            counts["accepted_sets"] += ok
            counts["rejected_sets"] += len(pending) - ok
            pending.clear()
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
            w.add(
                "acknowledgments",
                {
                    "interchange_id": interchange_id,
                    "kind": "TA1",
                    "segment_no": rec.segment_no,
                    "acked_isa13": rec.control_number,
                    "acked_gs06": None,
                    "acked_st02": None,
                    "acked_transaction": None,
                    "code": rec.ack_code,
                    "accepted": rec.accepted,
                    "note_code": rec.note_code or None,
                    "error_count": 0 if rec.accepted else 1,
                    "matched_interchange_id": None,
                },
            )
            counts["accepted" if rec.accepted else "rejected"] += 1
    return counts


def _store_277(w: BulkWriter, interchange_id: int, records: Iterator[Any]) -> dict[str, Any]:
    from parsers import records as r

    counts = {"claims": 0, "accepted": 0, "rejected": 0}
    for rec in records:
        if isinstance(rec, r.ClaimStatus):
            w.add(
                "claim_statuses",
                {
                    "interchange_id": interchange_id,
                    "st02": rec.st02 or "",
                    "segment_no": rec.segment_no,
                    "level": "claim",
                    "patient_control_number": rec.patient_control_number,
                    "payer_claim_number": rec.payer_claim_control_number,
                    "category": rec.category,
                    "status_code": rec.status_code or None,
                    "entity_code": _entity(rec.statuses),
                    "accepted": rec.accepted,
                    "status_date": rec.status_date,
                    "amount": rec.charge,
                    "claim_id": None,
                    "applied_at": None,
                    "trace_number": None,
                    "entity_identifier": None,
                },
            )
            counts["claims"] += 1
            if rec.accepted is not None:
                counts["accepted" if rec.accepted else "rejected"] += 1
        elif isinstance(rec, r.LevelStatus):
            first = rec.statuses[0] if rec.statuses else None
            w.add(
                "claim_statuses",
                {
                    "interchange_id": interchange_id,
                    "st02": rec.st02 or "",
                    "segment_no": rec.segment_no,
                    "level": "batch" if rec.loop == "2200B" else "provider",
                    "patient_control_number": None,
                    "payer_claim_number": None,
                    "category": first.category if first else "",
                    "status_code": first.code if first else None,
                    "entity_code": first.entity if first else None,
                    "accepted": rec.accepted,
                    "status_date": rec.status_date,
                    "amount": rec.accepted_amount,
                    "claim_id": None,
                    "applied_at": None,
                    "trace_number": rec.trace_number,
                    "entity_identifier": rec.entity.id if rec.entity else None,
                },
            )
    return counts


def _entity(statuses: tuple[Any, ...]) -> str | None:
    return statuses[0].entity or None if statuses else None
