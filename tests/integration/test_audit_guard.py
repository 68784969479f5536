"""The audit log cannot be emptied or rewritten (migration 0003 on top of 0002), on both backends, and the
documented PostgreSQL role split holds: the pipeline's role cannot TRUNCATE it or switch its triggers off."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from claimflow.db import models as m
from claimflow.db.audit import audit
from claimflow.db.session import make_engine
from tests.support import databases as dbs

PIPELINE_GRANTS = (  # docs/OPERATIONS.md, "Who owns what: database roles"
    'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"',
    'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
    'REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM "{role}"',
    'GRANT TEMPORARY ON DATABASE "{db}" TO "{role}"',
)


def _one_audit_row(engine: Engine) -> None:
    with engine.begin() as conn:
        audit(
            conn, actor="test", action="probe", object_type="test", object_id=1, detail={"n": Decimal("1.50")}
        )


def _rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(m.AuditLog)).scalar_one())


def test_audit_log_refuses_update_delete_and_truncate(engine: Engine) -> None:
    _one_audit_row(engine)
    statements = [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE id > 0",
    ]
    if engine.dialect.name == "postgresql":
        statements += ["TRUNCATE audit_log", "TRUNCATE audit_log RESTART IDENTITY CASCADE"]
    for stmt in statements:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(stmt))
    with engine.connect() as conn:
        assert conn.execute(select(m.AuditLog.actor, m.AuditLog.detail)).one() == ("test", {"n": "1.50"})
    _one_audit_row(engine)  # still appendable
    assert _rows(engine) == 2


def test_truncate_all_still_empties_and_keeps_the_guard(engine: Engine) -> None:
    """The test helper empties every table (owner, triggers off in its own transaction only)."""
    _one_audit_row(engine)
    dbs.truncate_all(engine)
    assert _rows(engine) == 0
    _one_audit_row(engine)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
    assert _rows(engine) == 1


def test_public_holds_no_write_privilege_on_audit_log(pg_engine: Engine) -> None:
    with pg_engine.connect() as conn:
        public = (
            conn.execute(
                text(
                    "SELECT a.privilege_type FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a "
                    "WHERE c.oid = 'public.audit_log'::regclass AND a.grantee = 0"
                )
            )
            .scalars()
            .all()
        )
        triggers = (
            conn.execute(
                text(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'public.audit_log'::regclass AND NOT tgisinternal "
                    "AND tgenabled = 'O' ORDER BY tgname"
                )
            )
            .scalars()
            .all()
        )
    assert not set(public) & {"TRUNCATE", "UPDATE", "DELETE", "INSERT"}
    assert triggers == ["audit_log_append_only", "audit_log_no_truncate"]


@pytest.fixture
def pipeline_role(pg_engine: Engine) -> Iterator[str]:
    role = f"cf_pipeline_{uuid.uuid4().hex[:8]}"
    db = make_url(pg_engine.url.render_as_string(hide_password=False)).database
    with pg_engine.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        for grant in PIPELINE_GRANTS:
            conn.execute(text(grant.format(role=role, db=db)))
    yield role
    with pg_engine.begin() as conn:
        conn.execute(text(f'DROP OWNED BY "{role}"'))
        conn.execute(text(f'DROP ROLE "{role}"'))


def test_pipeline_role_cannot_empty_or_unguard_the_audit_log(pg_engine: Engine, pipeline_role: str) -> None:
    url = make_url(pg_engine.url.render_as_string(hide_password=False)).set(username=pipeline_role)
    as_pipeline = make_engine(url.render_as_string(hide_password=False))
    try:
        _one_audit_row(as_pipeline)  # it writes the audit trail as part of its work
        with as_pipeline.begin() as conn:  # and posting's temporary tables work
            conn.execute(text("CREATE TEMPORARY TABLE cf_probe (x int)"))
        for stmt in (
            "TRUNCATE audit_log",
            "DELETE FROM audit_log",
            "UPDATE audit_log SET actor = 'x'",
            "ALTER TABLE audit_log DISABLE TRIGGER USER",
            "ALTER TABLE audit_log DISABLE TRIGGER ALL",
            "DROP TRIGGER audit_log_no_truncate ON audit_log",
            "SET session_replication_role = replica",
        ):
            with (
                pytest.raises(DBAPIError, match=r"permission denied|must be owner|append-only"),
                as_pipeline.begin() as conn,
            ):
                conn.execute(text(stmt))
    finally:
        as_pipeline.dispose()
    assert _rows(pg_engine) == 1


def test_pipeline_role_posts_and_reconciles(pg_engine: Engine, pipeline_role: str) -> None:
    """The documented pipeline grants are enough for the nightly work (temporary tables, audit rows;
    its ANALYZE of tables it does not own is skipped with a warning, not an error)."""
    import datetime as dt

    from adjudication.posting import post_remittances
    from adjudication.reconcile import reconcile
    from tests.unit.adjudication.builders import D, Practice, standard_pay

    url = make_url(pg_engine.url.render_as_string(hide_password=False)).set(username=pipeline_role)
    as_pipeline = make_engine(url.render_as_string(hide_password=False))
    try:
        pr = Practice(as_pipeline)
        c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))])
        pr.remittance([standard_pay(c)])
        post_remittances(as_pipeline, actor="test", as_of=dt.date(2026, 11, 25))
        reconcile(as_pipeline, dt.date(2026, 11, 25))
    finally:
        as_pipeline.dispose()
    with pg_engine.connect() as conn:
        actions = conn.execute(select(m.AuditLog.action)).scalars().all()
        status = conn.execute(
            select(m.Claim.status).where(m.Claim.claim_number == c.claim_number)
        ).scalar_one()
        ledger = conn.execute(select(func.count()).select_from(m.LedgerEntry)).scalar_one()
    assert {"post_remittances", "reconcile"} <= set(actions)
    assert status == m.ClaimStatus.PARTIALLY_PAID  # paid, patient responsibility left
    assert ledger > 0
