"""``claimflow db grant-analyst`` on a real PostgreSQL, checked by connecting as the people who use it:
an analyst reads the de-identified views and nothing else (no base tables, no temporary tables, no large
objects, no schema objects); the pipeline keeps its temporary tables; the public default salt is refused.

Each test gets its own database (copied from a migrated template) and its own roles, dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from claimflow.cli import main
from claimflow.db.migrate import upgrade
from claimflow.db.session import make_engine
from claimflow.sandbox.seed import seed_practice
from claimflow.services import analyst
from claimflow.settings import reset_settings_cache
from tests.support import databases as dbs

SALT = "lockdown-test-secret-salt"
AS_OF = dt.date(2026, 11, 25)
DENIED = r"permission denied"


def _admin() -> Engine:
    return make_engine(dbs.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _url(database: str, user: str | None = None) -> str:
    u = make_url(dbs.PG_ADMIN_URL).set(database=database)
    if user:
        u = u.set(username=user)
    return u.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def template_db() -> Iterator[str]:
    dbs.require_pg()
    url = dbs.create_pg_database("cf_lock_tmpl")
    upgrade(url)
    engine = make_engine(url)
    seed_practice(engine, patients=6, claims=8, seed=3, as_of=AS_OF)
    engine.dispose()  # CREATE DATABASE … TEMPLATE needs the template without connections
    yield url
    dbs.drop_pg_database(url)


class Cluster:
    """Databases and roles made by one test; all dropped at the end (databases first)."""

    def __init__(self) -> None:
        self.databases: list[str] = []
        self.roles: list[str] = []

    def role(self, prefix: str, options: str = "LOGIN") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self.roles.append(name)
        with _admin().connect() as conn:
            conn.execute(text(f'CREATE ROLE "{name}" {options}'))
        return name

    def name(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self.roles.append(name)  # a role grant-analyst creates
        return name

    def database(self, template: str | None, owner: str | None = None) -> str:
        name = f"cf_lock_{uuid.uuid4().hex[:10]}"
        self.databases.append(name)
        sql = f'CREATE DATABASE "{name}"'
        if template:
            sql += f' TEMPLATE "{make_url(template).database}"'
        if owner:
            sql += f' OWNER "{owner}"'
        with _admin().connect() as conn:
            conn.execute(text(sql))
        return name

    def close(self) -> None:
        with _admin().connect() as conn:
            for db in self.databases:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            for role in reversed(self.roles):
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    c = Cluster()
    yield c
    c.close()


@pytest.fixture
def use_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[str], None]]:
    """Point the CLI at a database; the secret salt is set (tests that need it unset delete it)."""
    monkeypatch.setenv(analyst.SALT_ENV, SALT)
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path / "data"))

    def point(url: str) -> None:
        monkeypatch.setenv("CLAIMFLOW_DATABASE_URL", url)
        reset_settings_cache()

    yield point
    reset_settings_cache()


def _attempt(url: str, sql: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def _denied(url: str, sql: str, match: str = DENIED) -> None:
    with pytest.raises(DBAPIError, match=match):
        _attempt(url, sql)


ANALYST_FORBIDDEN = (
    "CREATE TEMPORARY TABLE scratch (x int)",
    "CREATE TEMP TABLE scratch AS SELECT * FROM analyst.claims",
    "SELECT lo_create(0)",
    "SELECT lo_creat(-1)",
    "SELECT lo_from_bytea(0, 'x'::bytea)",
    "SELECT lo_import('/etc/hostname')",
    "SELECT lo_export(1, '/tmp/cf-analyst-export')",
    "SELECT * FROM patients",
    "SELECT * FROM claims",
    "SELECT * FROM patient_keys",
    "SELECT * FROM audit_log",
    "TRUNCATE audit_log",
    "DELETE FROM audit_log",
    "CREATE TABLE public.scratch (x int)",
    "CREATE TABLE analyst.scratch (x int)",
    "CREATE SCHEMA scratch",
)


def test_analyst_reads_views_and_nothing_else(
    template_db: str, cluster: Cluster, use_db: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    db = cluster.database(template_db)
    url = _url(db)
    pipeline = cluster.role("cf_pipe")
    with make_engine(url).begin() as conn:  # the pipeline's documented grants, before grant-analyst runs
        conn.execute(
            text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{pipeline}"')
        )
        conn.execute(text(f'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "{pipeline}"'))
    group = cluster.name("cf_analysts")
    alice = cluster.role("cf_alice")
    bystander = cluster.role("cf_nobody")
    use_db(url)
    assert main(["db", "grant-analyst", group]) == 0
    assert main(["db", "grant-analyst", group]) == 0  # idempotent
    out = capsys.readouterr()
    assert f"role {group} can read the analyst schema" in out.out and out.err == ""
    with _admin().connect() as conn:
        conn.execute(text(f'GRANT "{group}" TO "{alice}"'))

    as_alice = make_engine(_url(db, alice))
    try:
        with as_alice.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == alice
            rows = conn.execute(text("SELECT claim_number, patient_key FROM analyst.claims")).all()
            assert len(rows) >= 8 and all(len(k) == 32 for _c, k in rows)
            for name in analyst.VIEWS:
                if (
                    name not in analyst.LATER_VIEWS
                    or conn.execute(text("SELECT to_regclass(:v)"), {"v": f"analyst.{name}"}).scalar_one()
                ):
                    conn.execute(text(f"SELECT * FROM analyst.{name} LIMIT 1")).all()
    finally:
        as_alice.dispose()
    with make_engine(url).connect() as conn:
        pid = conn.execute(text("SELECT min(patient_id) FROM patient_keys")).scalar_one()
        stored = conn.execute(
            text("SELECT patient_key FROM patient_keys WHERE patient_id = :p"), {"p": pid}
        ).scalar_one()
    assert stored == analyst.patient_key(pid, SALT) != analyst.patient_key(pid, analyst.DEFAULT_SALT)

    for sql in ANALYST_FORBIDDEN:
        _denied(_url(db, alice), sql)
    # PUBLIC lost TEMPORARY and the large objects: any other role too, not only the analysts.
    for sql in (
        "CREATE TEMPORARY TABLE scratch (x int)",
        "SELECT lo_create(0)",
        "CREATE TABLE public.t (x int)",
    ):
        _denied(_url(db, bystander), sql)
    # The pipeline (it can write claimflow's tables) kept its temporary tables.
    _attempt(_url(db, pipeline), "CREATE TEMPORARY TABLE cf_cp (x int)")


def test_default_salt_is_refused_with_one_line(
    template_db: str,
    cluster: Cluster,
    use_db: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = cluster.database(template_db)
    use_db(_url(db))
    group = cluster.name("cf_analysts")
    for salt in (None, analyst.DEFAULT_SALT):
        if salt is None:
            monkeypatch.delenv(analyst.SALT_ENV)
        else:
            monkeypatch.setenv(analyst.SALT_ENV, salt)
        reset_settings_cache()
        assert main(["db", "grant-analyst", group]) == 2
        out = capsys.readouterr()
        lines = out.err.strip().splitlines()
        assert len(lines) == 1 and analyst.SALT_ENV in lines[0] and "Traceback" not in out.err, out.err
        assert out.out == ""
    with make_engine(_url(db)).connect() as conn:
        assert conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": group}).first() is None
        assert conn.execute(text("SELECT count(*) FROM patient_keys")).scalar_one() == 0


def test_keys_made_with_the_default_salt_must_be_rotated_first(
    template_db: str, cluster: Cluster, use_db: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    db = cluster.database(template_db)
    url = _url(db)
    use_db(url)
    engine = make_engine(url)
    with engine.begin() as conn:  # a reconciliation ran before anyone set the salt
        analyst.refresh_patient_keys(conn, analyst.DEFAULT_SALT)
    group = cluster.name("cf_analysts")
    assert main(["db", "grant-analyst", group]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "default salt" in err[0] and "patient_keys" in err[0], err
    with engine.begin() as conn:  # the rotation the message asks for
        conn.execute(text("DELETE FROM patient_keys"))
    assert main(["db", "grant-analyst", group]) == 0
    with engine.connect() as conn:
        pid, key = conn.execute(text("SELECT patient_id, patient_key FROM patient_keys LIMIT 1")).one()
    engine.dispose()
    assert key == analyst.patient_key(pid, SALT)


def test_lo_compat_privileges_on_is_refused(
    template_db: str, cluster: Cluster, use_db: Callable[[str], None]
) -> None:
    db = cluster.database(template_db)
    engine = make_engine(_url(db), connect_args={"options": "-c lo_compat_privileges=on"})
    try:
        with pytest.raises(analyst.AnalystError, match="lo_compat_privileges"):
            analyst.grant_analyst(engine, cluster.name("cf_analysts"))
    finally:
        engine.dispose()


def test_documented_roles_owner_migrates_pipeline_posts_analyst_reads(
    cluster: Cluster, use_db: Callable[[str], None]
) -> None:
    """docs/OPERATIONS.md's split, end to end: a non-superuser owner role migrates and runs
    grant-analyst; the audit log refuses TRUNCATE even to it; what a non-superuser cannot revoke is said."""
    dbs.require_pg()
    owner = cluster.role("cf_owner", "LOGIN CREATEROLE")
    db = cluster.database(None, owner=owner)
    owner_url = _url(db, owner)
    upgrade(owner_url)
    engine = make_engine(owner_url)
    try:
        with engine.connect() as conn:
            tables_owner = (
                conn.execute(text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"))
                .scalars()
                .all()
            )
        assert tables_owner == [owner]
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_log"))
        group = cluster.name("cf_analysts")
        notes = analyst.grant_analyst(engine, group)
        assert len(notes) == 1 and "superuser" in notes[0] and "lo_create" in notes[0]
    finally:
        engine.dispose()
    alice = cluster.role("cf_alice")
    with _admin().connect() as conn:
        conn.execute(text(f'GRANT "{group}" TO "{alice}"'))
    _attempt(_url(db, alice), "SELECT count(*) FROM analyst.claims")
    for sql in (
        "CREATE TEMPORARY TABLE scratch (x int)",
        "SELECT * FROM patients",
        "CREATE TABLE public.t (x int)",
    ):
        _denied(_url(db, alice), sql)
