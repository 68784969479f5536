"""How claimflow sizes its PostgreSQL sessions for the nightly batch (issue #15): every connection opens with
``jit`` and ``temp_buffers`` from the settings (operator options in ``PGOPTIONS`` or the URL still win),
and the nightly set-based transactions raise ``work_mem`` for themselves only. Against the real server:
what matters is what ``SHOW`` answers, not what string we built."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from adjudication._sql import Sql
from claimflow.db.patient_keys import refresh_patient_keys
from claimflow.db.session import _pg_session_options, make_engine
from claimflow.settings import reset_settings_cache

URL = "postgresql+psycopg://u@h/db"


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch):
    for name in ("PGOPTIONS", "CLAIMFLOW_PG_JIT", "CLAIMFLOW_PG_TEMP_BUFFERS", "CLAIMFLOW_PG_BATCH_WORK_MEM"):
        monkeypatch.delenv(name, raising=False)
    reset_settings_cache()
    yield monkeypatch
    reset_settings_cache()


def test_options_put_ours_first_and_keep_the_operators(fresh_settings: pytest.MonkeyPatch) -> None:
    assert _pg_session_options(URL, {})["options"] == "-c jit=off -c temp_buffers=256MB"
    fresh_settings.setenv("PGOPTIONS", "-c jit=on")
    opts = _pg_session_options(
        URL + "?options=-c%20statement_timeout%3D5s", {"options": "-c lock_timeout=1s"}
    )
    # PostgreSQL applies the last -c of a name: the environment, the URL and the caller override ours.
    assert opts["options"] == (
        "-c jit=off -c temp_buffers=256MB -c jit=on -c statement_timeout=5s -c lock_timeout=1s"
    )


def _show(engine: Engine, *names: str) -> dict[str, str]:
    with engine.connect() as conn:
        return {n: str(conn.execute(text(f"SHOW {n}")).scalar()) for n in names}


def test_connections_open_with_the_settings(pg_engine: Engine, fresh_settings: pytest.MonkeyPatch) -> None:
    url = pg_engine.url.render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        assert _show(engine, "jit", "temp_buffers") == {"jit": "off", "temp_buffers": "256MB"}
    finally:
        engine.dispose()

    fresh_settings.setenv("CLAIMFLOW_PG_JIT", "true")
    fresh_settings.setenv("CLAIMFLOW_PG_TEMP_BUFFERS", "64MB")
    fresh_settings.setenv("PGOPTIONS", "-c work_mem=7MB")
    reset_settings_cache()
    engine = make_engine(url)
    try:
        assert _show(engine, "jit", "temp_buffers", "work_mem") == {
            "jit": "on",
            "temp_buffers": "64MB",
            "work_mem": "7MB",
        }
    finally:
        engine.dispose()


def test_batch_work_mem_lasts_one_transaction(pg_engine: Engine, fresh_settings: pytest.MonkeyPatch) -> None:
    fresh_settings.setenv("CLAIMFLOW_PG_BATCH_WORK_MEM", "96MB")
    reset_settings_cache()
    with pg_engine.connect() as conn:
        server_default = str(conn.execute(text("SHOW work_mem")).scalar())
        assert server_default != "96MB"
        conn.rollback()
        with conn.begin():
            Sql(conn).for_batch()
            assert conn.execute(text("SHOW work_mem")).scalar() == "96MB"
        # the next transaction on the same pooled connection is back to the server's value
        assert conn.execute(text("SHOW work_mem")).scalar() == server_default


def test_batch_sizing_is_nothing_on_sqlite(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        q = Sql(conn)
        assert q.for_batch() is q


def test_settings_reject_a_malformed_memory_size(fresh_settings: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from claimflow.settings import Settings

    fresh_settings.setenv("CLAIMFLOW_PG_BATCH_WORK_MEM", "256MB; DROP TABLE claims")
    with pytest.raises(ValidationError):
        Settings()


def test_patient_keys_fill_linearly_on_an_unanalyzed_table(pg_engine: Engine) -> None:
    """refresh_patient_keys on a table PostgreSQL believes empty: every patient gets one key, a second run
    adds none (the insert probes the primary key instead of re-scanning the table it fills)."""
    with pg_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO patients (account_number, first_name, last_name, birth_date, gender, "
                "address_line1, city, state, postal_code) "
                "SELECT 'PK' || g, 'F', 'L', DATE '1970-01-01', 'U', '1 MAIN ST', 'TOWN', 'NY', '10001' "
                "FROM generate_series(1, 3000) g"
            )
        )
        conn.execute(text("ANALYZE patient_keys"))
        assert refresh_patient_keys(conn, salt="s") == 3000
        assert refresh_patient_keys(conn, salt="s") == 0
        n, distinct = conn.execute(
            text("SELECT COUNT(*), COUNT(DISTINCT patient_key) FROM patient_keys")
        ).one()
        assert (n, distinct) == (3000, 3000)
