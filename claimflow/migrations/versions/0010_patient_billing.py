"""patient billing: statements, statement_lines, payment_plans, patient_account_flags, payment_events, refunds

Revision ID: 0010
Revises: 0009

See ``adjudication.statements`` and docs/PATIENTS.md. ``payment_events.event_id`` is unique so a
webhook event is applied exactly once, even when the processor delivers it twice at the same time.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

import claimflow.db.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Money = claimflow.db.types.Money


def _created() -> sa.Column[dt.datetime]:
    return sa.Column("created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "statements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("statement_id", sa.String(32), nullable=False),
        sa.Column(
            "patient_id",
            sa.Integer(),
            sa.ForeignKey("patients.id", name="fk_statements_patient_id_patients"),
            nullable=False,
        ),
        sa.Column("run_date", sa.Date(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("balance", Money(), nullable=False),
        sa.Column("amount_due", Money(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        _created(),
        sa.UniqueConstraint("statement_id", name="uq_statements_statement_id"),
        sa.UniqueConstraint("patient_id", "run_date", name="uq_statements_patient_id_run_date"),
    )
    op.create_index("ix_statements_patient_id", "statements", ["patient_id"])
    op.create_table(
        "statement_lines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "statement_id",
            sa.Integer(),
            sa.ForeignKey("statements.id", name="fk_statement_lines_statement_id_statements"),
            nullable=False,
        ),
        sa.Column(
            "claim_id",
            sa.Integer(),
            sa.ForeignKey("claims.id", name="fk_statement_lines_claim_id_claims"),
            nullable=False,
        ),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("procedure_codes", sa.String(60), nullable=True),
        sa.Column("charge", Money(), nullable=False),
        sa.Column("insurance_paid", Money(), nullable=False),
        sa.Column("insurance_adjusted", Money(), nullable=False),
        sa.Column("patient_paid", Money(), nullable=False),
        sa.Column("patient_owes", Money(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=True),
    )
    op.create_index("ix_statement_lines_statement_id", "statement_lines", ["statement_id"])
    op.create_index("ix_statement_lines_claim_id", "statement_lines", ["claim_id"])
    op.create_table(
        "payment_plans",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "patient_id",
            sa.Integer(),
            sa.ForeignKey("patients.id", name="fk_payment_plans_patient_id_patients"),
            nullable=False,
        ),
        sa.Column("total", Money(), nullable=False),
        sa.Column("installments", sa.Integer(), nullable=False),
        sa.Column("installment_amount", Money(), nullable=False),
        sa.Column("day_of_month", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("first_due", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(), nullable=True),
        _created(),
    )
    op.create_index("ix_payment_plans_patient_id", "payment_plans", ["patient_id"])
    op.create_index("ix_payment_plans_status", "payment_plans", ["status"])
    op.create_table(
        "patient_account_flags",
        sa.Column(
            "patient_id",
            sa.Integer(),
            sa.ForeignKey("patients.id", name="fk_patient_account_flags_patient_id_patients"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("dispute", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False),
    )
    op.create_table(
        "payment_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(60), nullable=False),
        sa.Column("object_id", sa.String(255), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("statement_id", sa.String(32), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("patient_payment_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(30), nullable=False),
        _created(),
        sa.UniqueConstraint("event_id", name="uq_payment_events_event_id"),
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("payee", sa.String(10), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("payer_id", sa.Integer(), nullable=True),
        sa.Column("claim_id", sa.Integer(), nullable=True),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("found_on", sa.Date(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("issued_by", sa.String(120), nullable=True),
        _created(),
    )
    from claimflow.services.analyst import create_views

    create_views(op.get_bind())  # the analyst views over the new tables (no PHI: patient_key only)


NEW_VIEWS = ("statements", "statement_lines", "payment_plans", "payment_events", "refunds")


def downgrade() -> None:
    from claimflow.services.analyst import view_name

    bind = op.get_bind()
    for view in NEW_VIEWS:
        bind.execute(sa.text(f"DROP VIEW IF EXISTS {view_name(bind.dialect.name, view)}"))
    for name in (
        "refunds",
        "payment_events",
        "patient_account_flags",
        "payment_plans",
        "statement_lines",
        "statements",
    ):
        op.drop_table(name)
