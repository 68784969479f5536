"""Adjudication tests take the engine as ``db``: the shared parametrized ``engine`` fixture
(tests/conftest.py), so every scenario runs on SQLite and on PostgreSQL. A test that only makes sense on
SQLite is marked ``sqlite_only``."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine


@pytest.fixture
def db(engine: Engine) -> Engine:
    return engine
