"""Engines and sessions.

SQLite is the embedded default (one file, WAL, foreign keys on, a generous busy timeout so a nightly job
and a CLI call do not trip over each other). PostgreSQL is production: ``postgresql+psycopg://``.

The SQLite file holds PHI (names, dates of birth, member ids): it is created 0600 before SQLite opens it,
and every new connection tightens the file and its ``-wal``/``-shm``/``-journal`` companions to 0600 if
they are open to group or others (SQLite gives its companions the database file's mode).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from claimflow.db.at_rest import FILE_MODE, tighten_file

SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for in-memory databases and ``file:`` URIs."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return None
    database = u.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or u.query.get("uri"):
        return None
    return Path(database)


def sqlite_files(path: Path) -> tuple[Path, ...]:
    """The database file and its companions (the ones that exist or may exist)."""
    return (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS))


def _create_private(path: Path) -> None:
    """Create an empty database file 0600 (an empty file is a valid SQLite database) so SQLite never
    creates it with the process umask. Nothing to do when it exists or its folder does not."""
    if path.exists() or not path.parent.is_dir():
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:  # another process won the race: it is tightened on connect
        return
    os.close(fd)


def _private_sqlite(path: Path) -> Any:
    def on_connect(_dbapi_conn: Any, _record: Any) -> None:
        for p in sqlite_files(path):
            tighten_file(p)

    return on_connect


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        if path is not None:
            _create_private(path)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        if path is not None:
            # After the pragmas: journal_mode=WAL has created the -wal/-shm files by then.
            event.listen(engine, "connect", _private_sqlite(path))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if make_url(url).get_backend_name() == "postgresql":
        kwargs["connect_args"] = _pg_session_options(url, dict(kwargs.get("connect_args") or {}))
    return create_engine(url, **kwargs)


def _pg_session_options(url: str, connect_args: dict[str, Any]) -> dict[str, Any]:
    """libpq ``options`` for every PostgreSQL connection claimflow opens: ``jit`` and ``temp_buffers``
    from the settings (:attr:`Settings.pg_jit`, :attr:`Settings.pg_temp_buffers`). Options already
    given (``PGOPTIONS``, the URL's ``?options=…``, the caller's) are kept and go after ours:
    PostgreSQL applies the last ``-c`` of a name, so an operator's explicit choice wins. temp_buffers can
    only be set before a session touches a temporary table, hence at connect time, not per transaction."""
    from claimflow.settings import get_settings

    settings = get_settings()
    ours = f"-c jit={'on' if settings.pg_jit else 'off'} -c temp_buffers={settings.pg_temp_buffers}"
    # libpq takes PGOPTIONS only when no options parameter is given: pass the environment's on too.
    given = (os.environ.get("PGOPTIONS"), make_url(url).query.get("options"), connect_args.get("options"))
    theirs = " ".join(str(o) for o in given if o)
    connect_args["options"] = f"{ours} {theirs}".strip()
    return connect_args


@functools.cache
def engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine(url: str | None = None) -> Engine:
    if url is None:
        from claimflow.settings import get_settings

        url = get_settings().database_url
    return engine_for(url)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    factory = sessionmaker(bind=engine or get_engine(), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
