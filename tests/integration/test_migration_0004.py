"""Migration 0004 on a database that already holds payments (one of them stored twice by the old loader):
the identity is backfilled, the later copy is left out of the unique index so it can be built, and from
then on the database itself refuses a second copy of a payment — SQLite and PostgreSQL (an empty database
from the shared ``blank_db_url`` fixture, migrated here up to 0003)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from claimflow.db.migrate import upgrade
from claimflow.db.session import make_engine

_REMITTANCE = (
    "INSERT INTO remittances (interchange_id, st02, segment_no, handling_code, payment_amount, "
    "trace_number, payer_identifier, balanced) VALUES (1, :st02, :seg, 'I', 100, :trace, :payer, true)"
)


def test_0004_backfills_identity_and_enforces_it(blank_db_url: str) -> None:
    upgrade(blank_db_url, "0003")
    engine = make_engine(blank_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO interchanges (id, direction, sha256, bytes, file_name, status, created_at) "
                    "VALUES (1, 'in', 'ab', 1, 'old.835', 'loaded', CURRENT_TIMESTAMP)"
                )
            )
            for st02, seg, trace, payer in [
                ("0001", 3, "EFT1", "ACME01"),
                ("0002", 90, "EFT1", "ACME01"),
                ("0003", 200, "EFT2", "ACME01"),
                ("0004", 300, None, "ACME01"),
            ]:
                conn.execute(text(_REMITTANCE), {"st02": st02, "seg": seg, "trace": trace, "payer": payer})
        upgrade(blank_db_url)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT st02, trace_payer FROM remittances ORDER BY st02")).all()
        assert [tuple(r) for r in rows] == [
            ("0001", "ACME01"),
            ("0002", None),
            ("0003", "ACME01"),
            ("0004", None),
        ]
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                text(
                    _REMITTANCE.replace("balanced)", "balanced, trace_payer)").replace(
                        "true)", "true, 'ACME01')"
                    )
                ),
                {"st02": "0005", "seg": 400, "trace": "EFT2", "payer": "ACME01"},
            )
        with engine.begin() as conn:  # no trace number: nothing to collide on
            conn.execute(text(_REMITTANCE), {"st02": "0006", "seg": 500, "trace": None, "payer": "ACME01"})
            cols = conn.execute(text("SELECT original_reference_number FROM claim_payments")).all()
        assert cols == []
    finally:
        engine.dispose()
