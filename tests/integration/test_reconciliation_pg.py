"""What only PostgreSQL has: the append-only audit trigger, the analyst role, and patient keys computed
in SQL agreeing with Python's.

The database comes from the shared ``pg_engine`` fixture (tests/conftest.py): one uniquely named database
per test session, migrated with Alembic, tables truncated between tests; under ``CI=true`` an unreachable
server fails these tests instead of skipping them. The adjudication scenarios themselves run on both
backends through the parametrized ``backend``/``engine`` fixtures (tests/unit/adjudication/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from adjudication.posting import post_remittances
from adjudication.reconcile import reconcile
from claimflow.db.audit import audit
from claimflow.services.analyst import VIEWS, grant_analyst
from tests.unit.adjudication.builders import D, Practice, standard_pay

pytestmark = pytest.mark.postgres

AS_OF = dt.date(2026, 11, 25)


def test_audit_log_is_append_only(pg_engine: Engine) -> None:
    with pg_engine.begin() as conn:
        audit(conn, actor="test", action="probe", object_type="test", object_id=1, detail={"n": D("1.50")})
    for stmt in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), pg_engine.begin() as conn:
            conn.execute(text(stmt))
    with pg_engine.connect() as conn:
        assert conn.execute(text("SELECT actor, detail FROM audit_log")).one() == ("test", {"n": "1.50"})


@pytest.fixture
def analyst_role(pg_engine: Engine) -> Iterator[str]:
    role = f"cf_analyst_{uuid.uuid4().hex[:8]}"
    yield role
    with pg_engine.begin() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
        if exists:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))


def test_analyst_role_reads_views_and_nothing_else(
    pg_engine: Engine, analyst_role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAIMFLOW_PATIENT_KEY_SALT", "test-secret-salt")  # grant-analyst refuses the default
    pr = Practice(pg_engine)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))])
    pr.remittance([standard_pay(c)])
    post_remittances(pg_engine, actor="test", as_of=AS_OF)
    reconcile(pg_engine, AS_OF)
    grant_analyst(pg_engine, analyst_role)
    grant_analyst(pg_engine, analyst_role)  # idempotent
    with pg_engine.connect() as conn:
        conn.execute(text(f'SET ROLE "{analyst_role}"'))
        for name in VIEWS:
            conn.execute(text(f"SELECT * FROM analyst.{name} LIMIT 5")).all()
        row = conn.execute(
            text(
                "SELECT claim_number, patient_key, insurance_balance, patient_balance "
                "FROM analyst.claim_balances"
            )
        ).one()
        assert row[0] == c.claim_number and len(row[1]) == 32
        assert row[2] == D("0.00") and row[3] == D("10.00")
        conn.execute(text("RESET ROLE"))
        conn.rollback()
    for forbidden in (
        "SELECT * FROM patients",
        "SELECT * FROM subscribers",
        "SELECT * FROM interchanges",
        "SELECT * FROM claims",
        "SELECT * FROM patient_keys",
        "SELECT * FROM ledger_entries",
        "INSERT INTO analyst.kpis (run_date, name) VALUES ('2026-01-01', 'x')",
        "UPDATE analyst.claims SET status = 'closed'",
        "DELETE FROM analyst.aging_buckets",
        "CREATE TABLE public.analyst_scratch (x int)",
        "CREATE TABLE analyst.scratch (x int)",
    ):
        with pg_engine.connect() as conn:
            conn.execute(text(f'SET ROLE "{analyst_role}"'))
            # Refused by privileges (or, for a multi-table view, because it cannot be written at all).
            with pytest.raises(
                DBAPIError, match=r"permission denied|cannot (update|delete from|insert into) view"
            ):
                conn.execute(text(forbidden))
            conn.rollback()
    with pg_engine.connect() as conn:
        attrs = conn.execute(
            text("SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = :r"), {"r": analyst_role}
        ).one()
    assert attrs == (False, False)


def test_patient_keys_agree_between_sql_and_python(pg_engine: Engine) -> None:
    from claimflow.services.analyst import patient_key, refresh_patient_keys

    pr = Practice(pg_engine)
    pid = pr.patient("A0000001")
    with pg_engine.begin() as conn:
        assert refresh_patient_keys(conn) == 1
        assert refresh_patient_keys(conn) == 0
        key = conn.execute(
            text("SELECT patient_key FROM patient_keys WHERE patient_id = :p"), {"p": pid}
        ).scalar()
    assert key == patient_key(pid)
