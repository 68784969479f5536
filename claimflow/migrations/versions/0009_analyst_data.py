"""analyst data: remittances.payer_id backfilled; analyst views for scrub reasons, front-end rejection
reasons, days to pay and the claim timeline

Revision ID: 0009
Revises: 0008

* ``remittances.payer_id`` was never filled by the loader (it is now, from N1*PR N104, REF*2U or TRN03).
  Existing rows are backfilled in this order: the stored payer identifier (N104/TRN03) or the payment
  identity's payer (``trace_payer``) equal to ``payers.payer_id``; else the one payer of every claim the
  remittance's claim payments are matched to; else the one payer whose name is the 835's N1*PR name.
  Rows none of these decide stay NULL.
* Analyst views ``scrub_reasons``, ``rejection_reasons``, ``days_to_pay``, ``claim_timeline`` and
  ``denials`` (the one denial definition, claim and line level) (``claimflow.services.analyst``; no PHI: no scrub
  finding texts, no 999 bad values, no work-item notes).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

NEW_VIEWS = ("scrub_reasons", "rejection_reasons", "days_to_pay", "claim_timeline", "denials")

BACKFILL = (
    """UPDATE remittances SET payer_id = (SELECT p.id FROM payers p WHERE p.payer_id = remittances.payer_identifier)
       WHERE payer_id IS NULL AND payer_identifier IS NOT NULL""",
    """UPDATE remittances SET payer_id = (SELECT p.id FROM payers p WHERE p.payer_id = remittances.trace_payer)
       WHERE payer_id IS NULL AND trace_payer IS NOT NULL""",
    """UPDATE remittances SET payer_id = (
           SELECT MIN(c.payer_id) FROM claim_payments cp JOIN claims c ON c.id = cp.claim_id
           WHERE cp.remittance_id = remittances.id)
       WHERE payer_id IS NULL AND (
           SELECT COUNT(DISTINCT c.payer_id) FROM claim_payments cp JOIN claims c ON c.id = cp.claim_id
           WHERE cp.remittance_id = remittances.id) = 1""",
    """UPDATE remittances SET payer_id = (SELECT MIN(p.id) FROM payers p WHERE p.name = remittances.payer_name)
       WHERE payer_id IS NULL AND payer_name IS NOT NULL
         AND (SELECT COUNT(*) FROM payers p WHERE p.name = remittances.payer_name) = 1""",
)


def backfill_remittance_payers(bind: object) -> None:
    for sql in BACKFILL:
        bind.execute(text(sql))  # type: ignore[attr-defined]


def upgrade() -> None:
    from claimflow.services.analyst import create_views

    bind = op.get_bind()
    backfill_remittance_payers(bind)
    create_views(bind)


def downgrade() -> None:
    from claimflow.services.analyst import view_name

    bind = op.get_bind()
    for name in NEW_VIEWS:
        bind.execute(text(f"DROP VIEW IF EXISTS {view_name(bind.dialect.name, name)}"))
