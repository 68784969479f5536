"""drop single-column indexes that a unique constraint's leading column already provides

Revision ID: 0015
Revises: 0014

Ten foreign-key columns had both their own index and a unique constraint that starts with them (for example
``ix_adjustments_claim_payment_id`` beside ``uq_adjustments_claim_payment_id_segment_no_position``). A lookup
by the column uses either index equally well; the second one only costs writes: one more B-tree entry for
every row the inbound loader inserts (4.6 million adjustments, 2.7 million service line payments, 1 million
claim payments and claim statuses on a 1,000,000-claim night) and for every row posting and acknowledgment
processing update in place (service line matching, claim payment posting, 277CA statuses, submissions),
because those updates change indexed columns and so cannot be heap-only. Issue #15.
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

#: (table, column): the index ``ix_<table>_<column>`` is dropped; the unique constraint named beside it
#: in claimflow.db.models keeps lookups by that column fast.
REDUNDANT: tuple[tuple[str, str], ...] = (
    ("service_lines", "claim_id"),  # uq (claim_id, line_number)
    ("submissions", "claim_id"),  # uq (claim_id, attempt)
    ("acknowledgments", "interchange_id"),  # uq (interchange_id, segment_no)
    ("claim_statuses", "interchange_id"),  # uq (interchange_id, segment_no)
    ("remittances", "interchange_id"),  # uq (interchange_id, segment_no)
    ("claim_payments", "remittance_id"),  # uq (remittance_id, segment_no)
    ("service_line_payments", "claim_payment_id"),  # uq (claim_payment_id, segment_no)
    ("adjustments", "claim_payment_id"),  # uq (claim_payment_id, segment_no, position)
    ("remark_codes", "claim_payment_id"),  # uq (claim_payment_id, segment_no, position)
    ("provider_adjustments", "remittance_id"),  # uq (remittance_id, segment_no, position)
)


def upgrade() -> None:
    for table, column in REDUNDANT:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_{column}")


def downgrade() -> None:
    for table, column in REDUNDANT:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)
