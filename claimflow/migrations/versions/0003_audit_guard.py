"""audit_log cannot be emptied: TRUNCATE guard (PostgreSQL), UPDATE/DELETE guards (SQLite), privileges

Revision ID: 0003
Revises: 0002

Migration 0002 made ``audit_log`` append-only on PostgreSQL with a row trigger on UPDATE and DELETE; a
row trigger never fires for ``TRUNCATE``, which emptied the table in one statement. Here:

* PostgreSQL: a ``BEFORE TRUNCATE`` statement trigger that raises (SQLSTATE 42501, like 0002's), and
  ``REVOKE TRUNCATE, UPDATE, DELETE ON audit_log FROM PUBLIC`` (nobody gets them by default; roles
  granted "all tables" later still must not). Only the table owner (or a superuser) can disable the
  triggers, so the pipeline runs as a role that does not own the tables (docs/OPERATIONS.md, "Who owns
  what: database roles").
* SQLite: 0002 added nothing there. SQLite has no TRUNCATE (``DELETE`` without ``WHERE`` is its truncate,
  and its truncate optimisation is off for tables with triggers), so ``BEFORE UPDATE`` and
  ``BEFORE DELETE`` row triggers that abort make the file's audit log append-only too.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_PG_FUNCTION = """CREATE OR REPLACE FUNCTION claimflow_audit_log_no_truncate() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only (TRUNCATE rejected)'
            USING ERRCODE = 'insufficient_privilege';
    END
    $$"""

_SQLITE_TRIGGERS = {
    "audit_log_no_update": "UPDATE",
    "audit_log_no_delete": "DELETE",
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("""CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
                      FOR EACH STATEMENT EXECUTE FUNCTION claimflow_audit_log_no_truncate()""")
        op.execute("REVOKE TRUNCATE, UPDATE, DELETE ON audit_log FROM PUBLIC")
    elif bind.dialect.name == "sqlite":
        for name, operation in _SQLITE_TRIGGERS.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
            op.execute(f"""CREATE TRIGGER {name} BEFORE {operation} ON audit_log
                           BEGIN SELECT RAISE(ABORT, 'audit_log is append-only ({operation} rejected)'); END""")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS claimflow_audit_log_no_truncate()")
    elif bind.dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
