"""claim details the implementation guides ask for: discharge hour, reason for visit, NDC on drug lines

Revision ID: 0008
Revises: 0007

* ``claims.discharge_hour``: 837I DTP*096 (HH or HHMM), required on final inpatient bills (frequency 1/4).
* ``claims.reason_for_visit``: 837I HI*APR, up to three ICD-10-CM codes (comma-separated), required on
  unscheduled outpatient visits.
* ``service_lines.ndc`` / ``ndc_quantity`` / ``ndc_unit``: loop 2410 LIN*N4 and CTP04/CTP05-1 for drug lines
  (HCPCS J-codes; Medicaid requires them).

All nullable (``ndc_unit`` defaults to ``UN``): existing rows keep their meaning.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "claims",
        sa.Column(
            "discharge_hour",
            sa.String(4),
            nullable=True,
            comment="837I DTP*096, HH or HHMM, final inpatient bills",
        ),
    )
    op.add_column(
        "claims",
        sa.Column(
            "reason_for_visit",
            sa.String(26),
            nullable=True,
            comment="837I HI*APR: up to 3 ICD-10-CM codes, comma-separated",
        ),
    )
    op.add_column(
        "service_lines",
        sa.Column(
            "ndc", sa.String(11), nullable=True, comment="2410 LIN03, 11 digits (5-4-2) without hyphens"
        ),
    )
    op.add_column(
        "service_lines", sa.Column("ndc_quantity", sa.Numeric(12, 3), nullable=True, comment="2410 CTP04")
    )
    op.add_column(
        "service_lines",
        sa.Column("ndc_unit", sa.String(2), nullable=True, comment="2410 CTP05-1: F2, GR, ME, ML, UN"),
    )


def downgrade() -> None:
    with op.batch_alter_table("service_lines") as batch:
        batch.drop_column("ndc_unit")
        batch.drop_column("ndc_quantity")
        batch.drop_column("ndc")
    with op.batch_alter_table("claims") as batch:
        batch.drop_column("reason_for_visit")
        batch.drop_column("discharge_hour")
