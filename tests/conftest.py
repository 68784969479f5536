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
    dbs.require_pg()
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


BACKENDS = (
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The one switch between SQLite (embedded default) and PostgreSQL (production).

    Every database fixture below hangs off it, so a test asking for any of them runs once per backend,
    with the ids ``[sqlite]``/``[postgresql]`` and the ``postgres`` mark on the second (``-m "not
    postgres"`` leaves it out). A test marked ``sqlite_only`` is collected for SQLite alone (see
    :func:`pytest_generate_tests`). PostgreSQL that is down skips locally and fails under ``CI=true``.
    """
    return str(request.param)


@pytest.fixture
def engine(backend: str, request: pytest.FixtureRequest) -> Engine:
    """A fresh, migrated, empty database on ``backend``: a SQLite file per test, or the session's
    PostgreSQL database with every table truncated."""
    return request.getfixturevalue("sqlite_engine" if backend == "sqlite" else "pg_engine")


@pytest.fixture
def blank_db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database on ``backend`` with no migration applied, for tests that migrate it themselves
    (from an old revision, or through the CLI)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    dbs.require_pg()
    url = dbs.create_pg_database("cf_blank")
    yield url
    dbs.drop_pg_database(url)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: run on SQLite only although the test uses the parametrized backend"
    )


@pytest.hookimpl(tryfirst=True)  # before pytest applies the fixture's own params
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Narrow ``backend`` to SQLite for tests that say so (mark ``sqlite_only``, or a ``sqlite_only = True``
    attribute on the function): what they check only exists there."""
    if "backend" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("sqlite_only") or getattr(
        metafunc.function, "sqlite_only", False
    ):
        # As a mark, not metafunc.parametrize: pytest then leaves ``backend``'s own params out.
        metafunc.definition.add_marker(pytest.mark.parametrize("backend", [BACKENDS[0]], indirect=True))


@pytest.fixture
def claimflow_env(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """Point the settings (and so the CLI) at ``engine`` and a private data folder."""
    monkeypatch.setenv("CLAIMFLOW_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path / "data"))
    reset_settings_cache()
    yield engine
    reset_settings_cache()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"claimflow: CI={os.environ.get('CI', '')} PostgreSQL admin URL={dbs.PG_ADMIN_URL}"]
