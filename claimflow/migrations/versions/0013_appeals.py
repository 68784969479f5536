"""appeals: one row per appeal letter written for a denied claim (``claimflow claim appeal``)

Revision ID: 0013
Revises: 0012

The letter itself (HTML and PDF, 0600 files named by our claim number) stays where the biller wrote it;
the row records that the claim was appealed (the timeline's ``appealed`` event), for which denial
categories, and the file name (our claim number and the appeal's sequence only: no PHI).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import claimflow.db.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appeals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("claim_id", sa.Integer, sa.ForeignKey("claims.id"), nullable=False, index=True),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("claim_payment_id", sa.Integer, sa.ForeignKey("claim_payments.id")),
        sa.Column("categories", sa.String(100), nullable=False),
        sa.Column("reason_codes", sa.String(200), nullable=False),
        sa.Column("amount", claimflow.db.types.Money(), nullable=False),
        sa.Column("file_name", sa.String(120), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("claim_id", "sequence", name="uq_appeals_claim_sequence"),
    )


def downgrade() -> None:
    op.drop_table("appeals")
