"""Adjudication tests run on SQLite here (fast); tests/integration/test_reconciliation_pg.py runs the same
scenario functions on PostgreSQL. Every scenario takes the engine as ``db``."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine


@pytest.fixture
def db(sqlite_engine: Engine) -> Engine:
    return sqlite_engine
