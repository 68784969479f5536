"""Shared fixtures: repository paths, the conformance corpus, and real databases (SQLite + PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from claimflow.db.session import make_engine
from claimflow.settings import reset_settings_cache
from tests.support import databases as dbs

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def pg_session_url() -> Iterator[str]:
    """One migrated PostgreSQL database for the whole session (dropped at the end)."""
    if not dbs.pg_reachable():
        dbs.service_missing(f"PostgreSQL at {dbs.PG_ADMIN_URL}")
    url = dbs.create_pg_database()
    from claimflow.db.migrate import upgrade

    upgrade(url)
    yield url
    dbs.drop_pg_database(url)


@pytest.fixture
def pg_engine(pg_session_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_session_url)
    dbs.truncate_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(dbs.migrated_sqlite(tmp_path / "claimflow.db"))
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on both backends: SQLite (embedded default) and PostgreSQL (production)."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_engine")
    return request.getfixturevalue("pg_engine")


@pytest.fixture
def claimflow_env(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """Point the settings (and so the CLI) at ``engine`` and a private data folder."""
    monkeypatch.setenv("CLAIMFLOW_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path / "data"))
    reset_settings_cache()
    yield engine
    reset_settings_cache()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"claimflow: CI={os.environ.get('CI', '')} PostgreSQL admin URL={dbs.PG_ADMIN_URL}"]
