"""eligibility: 270 inquiries we sent (eligibility_checks) and the latest 271 answer per coverage
(coverage_eligibility)

Revision ID: 0011
Revises: 0010

``eligibility_checks`` maps the trace number of each 270 subscriber loop (TRN02, ``CF<coverage id>-<n>``,
no PHI) to its coverage, so a 271 that echoes it updates the right coverage. ``coverage_eligibility``
holds one row per coverage: active/inactive, plan, coverage dates, the benefit amounts that matter at
check-in (deductible and out-of-pocket remaining, copay, coinsurance), the AAA reason of a rejection, and
who/when verified it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import claimflow.db.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

Money = claimflow.db.types.Money


def upgrade() -> None:
    op.create_table(
        "eligibility_checks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("trace_number", sa.String(50), nullable=False),
        sa.Column(
            "coverage_id",
            sa.Integer(),
            sa.ForeignKey("coverages.id", name="fk_eligibility_checks_coverage_id_coverages"),
            nullable=False,
        ),
        sa.Column("file_name", sa.String(120), nullable=False),
        sa.Column("isa13", sa.String(9), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("answer_interchange_id", sa.Integer(), nullable=True),
        sa.UniqueConstraint("trace_number", name="uq_eligibility_checks_trace_number"),
    )
    op.create_index("ix_eligibility_checks_coverage_id", "eligibility_checks", ["coverage_id"])
    op.create_table(
        "coverage_eligibility",
        sa.Column(
            "coverage_id",
            sa.Integer(),
            sa.ForeignKey("coverages.id", name="fk_coverage_eligibility_coverage_id_coverages"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("plan", sa.String(50), nullable=True),
        sa.Column("coverage_from", sa.Date(), nullable=True),
        sa.Column("coverage_to", sa.Date(), nullable=True),
        sa.Column("deductible_remaining", Money(), nullable=True),
        sa.Column("out_of_pocket_remaining", Money(), nullable=True),
        sa.Column("copay", Money(), nullable=True),
        sa.Column("coinsurance", sa.Numeric(5, 4), nullable=True),
        sa.Column("reject_reason", sa.String(3), nullable=True),
        sa.Column("follow_up", sa.String(1), nullable=True),
        sa.Column("verified_at", sa.DateTime(), nullable=False),
        sa.Column("verified_by", sa.String(120), nullable=False),
        sa.Column("interchange_id", sa.Integer(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("coverage_eligibility")
    op.drop_index("ix_eligibility_checks_coverage_id", table_name="eligibility_checks")
    op.drop_table("eligibility_checks")
