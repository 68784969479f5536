"""Real databases for tests: a migrated SQLite file per test, and one migrated PostgreSQL database per
test session (tables truncated between tests).

PostgreSQL comes from ``CLAIMFLOW_TEST_PG_URL`` (an admin URL, default the local trust-auth server).
Under ``CI=true`` an unreachable server fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from claimflow.db.migrate import upgrade
from claimflow.db.models import Base
from claimflow.db.session import make_engine

PG_ADMIN_URL = os.environ.get(
    "CLAIMFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def service_missing(what: str) -> None:
    """Skip locally, fail in CI: a test that needs a real service must not pass by skipping there."""
    if IN_CI:
        pytest.fail(f"{what} is required in CI but is not available", pytrace=False)
    pytest.skip(f"{what} not available")


def pg_reachable() -> bool:
    try:
        eng = make_engine(PG_ADMIN_URL)
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
        return True
    except Exception:
        return False


def require_pg() -> None:
    """Stop here unless the PostgreSQL admin server answers (skip locally, fail in CI)."""
    if not pg_reachable():
        service_missing(f"PostgreSQL at {PG_ADMIN_URL}")


def create_pg_database(prefix: str = "cf_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def truncate_all(engine: Engine) -> None:
    """Empty every table between tests. ``audit_log`` refuses TRUNCATE (PostgreSQL, migration 0003) and
    DELETE (both backends): as the owner, switch its triggers off inside this one transaction only
    (the ALTERs roll back with it on error). Test-only: production code never disables them, and the
    pipeline's role does not own the tables, so it could not."""
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        else:
            guards = conn.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'")
            ).all()
            for name, _sql in guards:
                conn.execute(text(f'DROP TRIGGER "{name}"'))
            for t in reversed(Base.metadata.sorted_tables):
                conn.execute(t.delete())
            for _name, sql in guards:
                conn.execute(text(sql))


_SQLITE_TEMPLATE: Path | None = None


def migrated_sqlite(path: Path) -> str:
    """A fresh, fully migrated SQLite file (copied from a template migrated once per process)."""
    global _SQLITE_TEMPLATE
    if _SQLITE_TEMPLATE is None or not _SQLITE_TEMPLATE.exists():
        template = Path(os.environ.get("TMPDIR", "/tmp")) / f"claimflow-template-{os.getpid()}.db"
        template.unlink(missing_ok=True)
        upgrade(f"sqlite:///{template}")
        _SQLITE_TEMPLATE = template
    shutil.copyfile(_SQLITE_TEMPLATE, path)
    os.chmod(path, 0o600)  # like a database claimflow creates (PHI at rest is private)
    return f"sqlite:///{path}"
