"""Migration 0015 drops the ten single-column indexes that a unique constraint's leading column already
provides (issue #15: one B-tree entry less per loaded row and per row posting updates), keeps those
constraints, and puts the indexes back on downgrade — SQLite and PostgreSQL."""

from __future__ import annotations

import importlib

from alembic import command
from sqlalchemy import inspect

from claimflow.db.migrate import alembic_config, upgrade
from claimflow.db.session import make_engine

MIGRATION = importlib.import_module("claimflow.migrations.versions.0015_drop_redundant_indexes")


def _indexes(url: str) -> dict[str, tuple[set[str], list[tuple[str, ...]]]]:
    """table → (names of its non-unique indexes, column lists of its unique constraints/indexes)."""
    engine = make_engine(url)
    try:
        insp = inspect(engine)
        out = {}
        for table, _ in MIGRATION.REDUNDANT:
            plain = {i["name"] for i in insp.get_indexes(table) if not i["unique"]}
            unique = [tuple(u["column_names"]) for u in insp.get_unique_constraints(table)]
            unique += [tuple(i["column_names"]) for i in insp.get_indexes(table) if i["unique"]]
            out[table] = (plain, unique)
        return out
    finally:
        engine.dispose()


def test_0015_drops_only_what_a_unique_constraint_covers(blank_db_url: str) -> None:
    upgrade(blank_db_url, "0014")
    before = _indexes(blank_db_url)
    for table, column in MIGRATION.REDUNDANT:
        plain, unique = before[table]
        assert f"ix_{table}_{column}" in plain
        # what makes it redundant: a unique constraint that starts with the same column
        assert any(cols[0] == column and len(cols) > 1 for cols in unique), (table, unique)

    upgrade(blank_db_url)
    after = _indexes(blank_db_url)
    for table, column in MIGRATION.REDUNDANT:
        assert f"ix_{table}_{column}" not in after[table][0]
        assert after[table][1] == before[table][1]  # every unique constraint kept
        assert after[table][0] == before[table][0] - {f"ix_{table}_{column}"}  # nothing else dropped

    command.downgrade(alembic_config(blank_db_url), "0014")
    assert _indexes(blank_db_url) == before
