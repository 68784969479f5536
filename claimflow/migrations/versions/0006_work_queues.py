"""work queues: work items, their events, per-payer rules, fee schedule, analyst views

Revision ID: 0006
Revises: 0005

* ``work_items``: one open problem on one claim (``adjudication.worklist``); unique
  ``(queue, claim_id, reason_key)`` so the nightly build updates instead of duplicating.
* ``work_item_events``: every change of a work item (the nightly build's and people's).
* ``payer_rules``: per-payer timely-filing limit and follow-up days (settings defaults otherwise).
* ``fee_schedule``: expected allowed amount per procedure (per payer or for all payers).
* Analyst views ``work_items`` and ``work_item_events`` (no notes, no event details).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import claimflow.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payer_rules",
        sa.Column("payer_id", sa.Integer(), nullable=False),
        sa.Column("timely_filing_days", sa.Integer(), nullable=True, comment="days from the date of service"),
        sa.Column(
            "no_277ca_days", sa.Integer(), nullable=True, comment="follow up when no 277CA after N days"
        ),
        sa.Column("no_835_days", sa.Integer(), nullable=True, comment="follow up when no 835 after M days"),
        sa.ForeignKeyConstraint(["payer_id"], ["payers.id"], name=op.f("fk_payer_rules_payer_id_payers")),
        sa.PrimaryKeyConstraint("payer_id", name=op.f("pk_payer_rules")),
    )
    op.create_table(
        "fee_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=True),
        sa.Column("procedure_code", sa.String(48), nullable=False),
        sa.Column("allowed", claimflow.db.types.Money(), nullable=False, comment="per unit"),
        sa.ForeignKeyConstraint(["payer_id"], ["payers.id"], name=op.f("fk_fee_schedule_payer_id_payers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_schedule")),
        sa.UniqueConstraint(
            "payer_id", "procedure_code", name=op.f("uq_fee_schedule_payer_id_procedure_code")
        ),
    )
    op.create_table(
        "work_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "queue",
            sa.String(30),
            nullable=False,
            comment="scrub_holds, rejections, denials, underpayments, no_response, secondary_due, "
            "credit_balances",
        ),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column(
            "reason_key",
            sa.String(120),
            nullable=False,
            comment="what makes the problem distinct on the claim",
        ),
        sa.Column("payer_id", sa.Integer(), nullable=True),
        sa.Column("reason_codes", sa.String(200), nullable=True, comment="comma-separated, e.g. CO-50,N115"),
        sa.Column("reason", sa.Text(), nullable=False, comment="plain language, no PHI"),
        sa.Column("amount", claimflow.db.types.Money(), nullable=False, comment="dollars at stake"),
        sa.Column(
            "next_action",
            sa.String(30),
            nullable=False,
            comment="correct_and_resubmit, void, appeal, bill_secondary, bill_patient, write_off, "
            "ask_status, refund",
        ),
        sa.Column("priority", sa.Integer(), nullable=False, comment="1 most urgent … 4"),
        sa.Column("due_date", sa.Date(), nullable=True, comment="timely-filing (or refund) deadline"),
        sa.Column("status", sa.String(20), nullable=False, comment="open, in_progress, closed"),
        sa.Column("assignee", sa.String(80), nullable=True),
        sa.Column(
            "notes", sa.Text(), nullable=True, comment="free text from the billing office; may hold PHI"
        ),
        sa.Column(
            "resolution", sa.String(20), nullable=True, comment="resolved (nightly) or closed (by a person)"
        ),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column(
            "last_seen", sa.Date(), nullable=False, comment="last run date the problem was still there"
        ),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name=op.f("fk_work_items_claim_id_claims")),
        sa.ForeignKeyConstraint(["payer_id"], ["payers.id"], name=op.f("fk_work_items_payer_id_payers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_items")),
    )
    op.create_index(op.f("ix_work_items_claim_id"), "work_items", ["claim_id"])
    op.create_index("uq_work_items_identity", "work_items", ["queue", "claim_id", "reason_key"], unique=True)
    op.create_index("ix_work_items_queue_status", "work_items", ["queue", "status"])
    op.create_table(
        "work_item_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["work_item_id"], ["work_items.id"], name=op.f("fk_work_item_events_work_item_id_work_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_item_events")),
    )
    op.create_index(op.f("ix_work_item_events_work_item_id"), "work_item_events", ["work_item_id"])

    from claimflow.services.analyst import create_views

    create_views(op.get_bind())


def downgrade() -> None:
    bind = op.get_bind()
    from claimflow.services.analyst import SCHEMA

    for name in ("work_item_events", "work_items"):
        full = f"{SCHEMA}.{name}" if bind.dialect.name == "postgresql" else f"{SCHEMA}_{name}"
        op.execute(f"DROP VIEW IF EXISTS {full}")
    op.drop_index(op.f("ix_work_item_events_work_item_id"), table_name="work_item_events")
    op.drop_table("work_item_events")
    op.drop_index("ix_work_items_queue_status", table_name="work_items")
    op.drop_index("uq_work_items_identity", table_name="work_items")
    op.drop_index(op.f("ix_work_items_claim_id"), table_name="work_items")
    op.drop_table("work_items")
    op.drop_table("fee_schedule")
    op.drop_table("payer_rules")
