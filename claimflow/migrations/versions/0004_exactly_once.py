"""remittance identity (payer + TRN02), REF*F8 on claim payments

Revision ID: 0004
Revises: 0003

* ``remittances.trace_payer``: who issued the trace number — TRN03, falling back to the N1*PR payer id.
  With ``trace_number`` (TRN02) it is the payment's identity: a unique index
  ``uq_remittances_payment_identity`` (trace_payer, trace_number) lets a payment be stored once, whatever
  file or ISA13 it is resent in. NULLs never collide in a unique index (both backends), so a row without
  a trace number is not covered; the loader refuses new remittances without TRN02, so only rows loaded
  before this migration can lack it.
* Existing rows: ``trace_payer`` is filled from ``payer_identifier`` (N1*PR id, else TRN03 — the best
  the old loader kept). A database that already holds the same payment twice (the bug this revision
  closes) keeps ``trace_payer`` on the first copy only, so the index can be built; the later copies are
  still there for an operator to reverse.
* ``claim_payments.original_reference_number``: REF*F8, the payer's claim number of the claim being
  corrected or reversed.

Only ``ADD COLUMN`` and ``CREATE INDEX``: no SQLite batch rebuild, so the analyst views stay valid.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "remittances",
        sa.Column(
            "trace_payer",
            sa.String(length=50),
            nullable=True,
            comment="TRN03, else N1*PR payer id: with trace_number the payment identity",
        ),
    )
    op.add_column(
        "claim_payments",
        sa.Column(
            "original_reference_number",
            sa.String(length=50),
            nullable=True,
            comment="REF*F8: payer claim number of the claim this one corrects or reverses",
        ),
    )
    op.execute("UPDATE remittances SET trace_payer = payer_identifier WHERE trace_number IS NOT NULL")
    op.execute(
        """UPDATE remittances SET trace_payer = NULL
           WHERE trace_payer IS NOT NULL AND EXISTS (
               SELECT 1 FROM remittances o
               WHERE o.trace_payer = remittances.trace_payer AND o.trace_number = remittances.trace_number
                 AND o.id < remittances.id)"""
    )
    op.create_index(
        "uq_remittances_payment_identity", "remittances", ["trace_payer", "trace_number"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_remittances_payment_identity", table_name="remittances")
    # Plain DROP COLUMN (SQLite >= 3.35): no table rebuild; the analyst views do not use these columns.
    op.drop_column("claim_payments", "original_reference_number")
    op.drop_column("remittances", "trace_payer")
