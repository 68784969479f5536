"""corrections: link a replacement, void or resubmission to the submission it answers

Revision ID: 0007
Revises: 0006

* ``submissions.replaces_submission_id``: for a replacement (CLM05-3 = 7), a void (8) or a resubmission
  after a front-end rejection (1), the earlier submission of the same claim it replaces (``claimflow claim
  correct / void / resubmit``; filled in by the 837 writer). No foreign key, like the ledger's id columns:
  SQLite cannot add one to an existing table without rebuilding it, and the claim timeline joins on it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "submissions",
        sa.Column(
            "replaces_submission_id",
            sa.Integer(),
            nullable=True,
            comment="the earlier submission a replacement/void/resubmission answers (submissions.id)",
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("replaces_submission_id")
