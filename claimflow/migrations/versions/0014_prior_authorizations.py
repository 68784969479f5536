"""prior authorizations: the payer's authorization numbers, the units claims used, payer rules

Revision ID: 0014
Revises: 0013

* ``prior_authorizations``: number, payer, patient, service codes (normalized ranges as text, parsed by
  ``claimflow.inquiries.authorizations.parse_codes``), units authorized/used, date span, status.
* ``prior_authorization_usage``: units of one service line counted against an authorization; unique per
  line, so a rerun replaces rather than adds.
* ``payer_auth_rules``: the codes (ranges) a payer requires an authorization for.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prior_authorizations",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("auth_number", sa.String(50), nullable=False, comment="REF*G1 as the payer issued it"),
        sa.Column("payer_id", sa.Integer, nullable=False),
        sa.Column("patient_id", sa.Integer, nullable=False),
        sa.Column(
            "service_codes", sa.String(500), nullable=False, comment="normalized, e.g. 97110-97140,G0283"
        ),
        sa.Column("units_authorized", sa.Numeric(9, 3), nullable=False),
        sa.Column("units_used", sa.Numeric(9, 3), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(10), nullable=False, comment="active, expired, exhausted, void"),
        sa.Column("created_at", sa.DateTime, nullable=False, server_default=sa.func.current_timestamp()),
        sa.Column("updated_at", sa.DateTime, nullable=True),
        sa.ForeignKeyConstraint(
            ["payer_id"], ["payers.id"], name=op.f("fk_prior_authorizations_payer_id_payers")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_prior_authorizations_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prior_authorizations")),
        sa.UniqueConstraint(
            "payer_id", "auth_number", name=op.f("uq_prior_authorizations_payer_id_auth_number")
        ),
    )
    op.create_index(
        op.f("ix_prior_authorizations_patient_id"), "prior_authorizations", ["patient_id"], unique=False
    )
    op.create_table(
        "prior_authorization_usage",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("authorization_id", sa.Integer, nullable=False),
        sa.Column("claim_id", sa.Integer, nullable=False),
        sa.Column("service_line_id", sa.Integer, nullable=False),
        sa.Column("units", sa.Numeric(9, 3), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False, server_default=sa.func.current_timestamp()),
        sa.ForeignKeyConstraint(
            ["authorization_id"],
            ["prior_authorizations.id"],
            name=op.f("fk_prior_authorization_usage_authorization_id_prior_authorizations"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_prior_authorization_usage_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["service_line_id"],
            ["service_lines.id"],
            name=op.f("fk_prior_authorization_usage_service_line_id_service_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prior_authorization_usage")),
        sa.UniqueConstraint("service_line_id", name=op.f("uq_prior_authorization_usage_service_line_id")),
    )
    op.create_index(
        op.f("ix_prior_authorization_usage_authorization_id"),
        "prior_authorization_usage",
        ["authorization_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_prior_authorization_usage_claim_id"), "prior_authorization_usage", ["claim_id"], unique=False
    )
    op.create_table(
        "payer_auth_rules",
        sa.Column("payer_id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column(
            "service_codes", sa.String(500), nullable=False, comment="normalized, e.g. 97110-97140,G0283"
        ),
        sa.Column("updated_at", sa.DateTime, nullable=False, server_default=sa.func.current_timestamp()),
        sa.ForeignKeyConstraint(
            ["payer_id"], ["payers.id"], name=op.f("fk_payer_auth_rules_payer_id_payers")
        ),
        sa.PrimaryKeyConstraint("payer_id", name=op.f("pk_payer_auth_rules")),
    )


def downgrade() -> None:
    op.drop_table("payer_auth_rules")
    op.drop_index(op.f("ix_prior_authorization_usage_claim_id"), table_name="prior_authorization_usage")
    op.drop_index(
        op.f("ix_prior_authorization_usage_authorization_id"), table_name="prior_authorization_usage"
    )
    op.drop_table("prior_authorization_usage")
    op.drop_index(op.f("ix_prior_authorizations_patient_id"), table_name="prior_authorizations")
    op.drop_table("prior_authorizations")
