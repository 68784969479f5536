"""cob ledger: analyst views show submissions.replaces_submission_id and claim_payments.original_reference_number

Revision ID: 0012
Revises: 0011

No table changes: secondary/tertiary claims now book no revenue (``cob:<claim_id>`` transfers, see
``adjudication.ledger``). Existing ledgers are not rewritten: an S/T claim posted before this revision
keeps its ``chg:`` rows and gets a ``cob:`` on the next posting, so the balance proof shows the old
``chg:`` as a difference on that claim until it is reversed or explained. The analyst views are recreated so
``analyst.submissions`` has ``replaces_submission_id`` (which submission a replacement/void followed) and
``analyst.claim_payments`` has ``original_reference_number`` (the payer's REF*F8 of a correction).
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from claimflow.services.analyst import create_views

    create_views(op.get_bind())


def downgrade() -> None:
    pass
