"""claim-payment duplicates held from posting; 277CA batch/provider references

Revision ID: 0005
Revises: 0004

* ``claim_payments.duplicate_of_id``: set by posting on a claim payment that repeats one already posted
  (same payer, CLP01, CLP02, CLP03, CLP04, CLP05, CLP07) outside a reversal/correction pair. Such a payment
  is held: never posted to the claim, listed in ``unmatched_payments`` with reason
  ``duplicate_claim_payment``, its money in unapplied cash. It stays held on later runs until an operator
  clears the column. A plain integer (like the ledger's source ids): no foreign key, so SQLite needs no
  table rebuild.
* ``claim_statuses.trace_number``: TRN02 of the 2200B/2200C loop (2200B: our 837's BHT03) and
  ``claim_statuses.entity_identifier``: NM109 of 2100B/2100C (2100C: the billing provider's NPI), so a
  rejection above claim level can be applied to the claims it covers.

Only ``ADD COLUMN``: no SQLite batch rebuild, so the analyst views stay valid.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "claim_payments",
        sa.Column(
            "duplicate_of_id",
            sa.Integer(),
            nullable=True,
            comment="claim_payments.id this one repeats: held from posting (unmatched_payments)",
        ),
    )
    op.add_column(
        "claim_statuses",
        sa.Column(
            "trace_number",
            sa.String(length=50),
            nullable=True,
            comment="TRN02 of 2200B (our BHT03) / 2200C; null at claim level",
        ),
    )
    op.add_column(
        "claim_statuses",
        sa.Column(
            "entity_identifier",
            sa.String(length=80),
            nullable=True,
            comment="NM109 of 2100B/2100C (2100C: billing provider NPI); null at claim level",
        ),
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35): no table rebuild; the analyst views do not use these columns.
    op.drop_column("claim_statuses", "entity_identifier")
    op.drop_column("claim_statuses", "trace_number")
    op.drop_column("claim_payments", "duplicate_of_id")
