"""reconciliation: ledger links, balance columns, patient keys, append-only audit log, analyst views

Revision ID: 0002
Revises: 0001

* ``claim_payments.correction_of_id``: the payment that follows a reversal points at the original.
* ``ledger_entries.provider_adjustment_id``: PLB postings point at their provider_adjustments row.
* ledger_entries, claim_balances, patient_balances drop their foreign keys (write cost; the balance
  proof checks references nightly); ``ledger_entries.txn_key`` gets the "C" collation on PostgreSQL.
* ``claim_balances``: provider_adjustments, insurance_write_off, patient_write_off, secondary_due.
* ``patient_balances``: refunds_due, write_offs, claims, unapplied_credit.
* ``patient_keys``: the analysts' salted-hash pseudonym per patient (see ``claimflow.services.analyst``).
* Indexes for posting/matching: claims.payer_claim_number, claim_payments.payer_claim_number,
  claim_payments.reversal_of_id / correction_of_id, a partial index of unposted claim payments,
  provider_adjustments.claim_id, unmatched_payments.resolved; ledger_entries drops its effective_date
  and patient_id indexes (bulk-write cost; nothing looks rows up by them).
* PostgreSQL: a trigger that rejects UPDATE and DELETE on ``audit_log`` (append-only).
* Analyst views: schema ``analyst`` (PostgreSQL) or ``analyst_<name>`` views (SQLite), created last:
  SQLite batch operations that rebuild a table break views that reference it, so a later migration
  altering one of these tables drops the views first and recreates them at its end
  (``claimflow.services.analyst.drop_views`` / ``create_views``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import claimflow.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


_DERIVED_FKS: dict[str, list[tuple[str, str, str]]] = {
    "ledger_entries": [
        ("fk_ledger_entries_claim_id_claims", "claim_id", "claims"),
        ("fk_ledger_entries_claim_payment_id_claim_payments", "claim_payment_id", "claim_payments"),
        ("fk_ledger_entries_patient_id_patients", "patient_id", "patients"),
        ("fk_ledger_entries_patient_payment_id_patient_payments", "patient_payment_id", "patient_payments"),
        ("fk_ledger_entries_payer_id_payers", "payer_id", "payers"),
    ],
    "claim_balances": [
        ("fk_claim_balances_claim_id_claims", "claim_id", "claims"),
        ("fk_claim_balances_patient_id_patients", "patient_id", "patients"),
        ("fk_claim_balances_payer_id_payers", "payer_id", "payers"),
    ],
    "patient_balances": [("fk_patient_balances_patient_id_patients", "patient_id", "patients")],
}


_COMMENTS: list[tuple[str, str, sa.types.TypeEngine, bool, str]] = [
    ("aging_buckets", "key", sa.String(80), False, "payer code or patient key"),
    (
        "ledger_entries",
        "entry_type",
        sa.String(24),
        False,
        "charge, payer_payment, contractual, other_adjustment, pr_transfer, reversal, provider_adjustment, "
        "unapplied, patient_payment, credit_sweep, credit_applied, refund_due, write_off",
    ),
    (
        "ledger_entries",
        "account",
        sa.String(24),
        False,
        "ar_payer, ar_patient, revenue, contractual, adjustments, cash, write_off, refunds_due, unapplied_cash, "
        "interest_income, payer_offsets, patient_credit",
    ),
    ("ledger_entries", "claim_id", sa.Integer(), True, "claims.id"),
    ("ledger_entries", "patient_id", sa.Integer(), True, "patients.id"),
    ("ledger_entries", "payer_id", sa.Integer(), True, "payers.id"),
    ("ledger_entries", "claim_payment_id", sa.Integer(), True, "claim_payments.id"),
    ("ledger_entries", "patient_payment_id", sa.Integer(), True, "patient_payments.id"),
    ("ledger_entries", "provider_adjustment_id", sa.Integer(), True, "provider_adjustments.id"),
    ("patient_balances", "adjustments", claimflow.db.types.Money(), False, "contractual + other adjustments"),
    ("patient_balances", "patient_paid", claimflow.db.types.Money(), False, "all patient payments received"),
]


def _money_zero(name: str) -> sa.Column:
    return sa.Column(name, claimflow.db.types.Money(), nullable=False, server_default=sa.text("0"))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # ADD COLUMN … REFERENCES: a real foreign key without rebuilding claim_payments (a batch rebuild
        # would DROP a table other tables reference, which fails on a populated database with foreign
        # keys enforced).
        op.execute(
            "ALTER TABLE claim_payments ADD COLUMN correction_of_id INTEGER REFERENCES claim_payments (id)"
        )
    else:
        op.add_column(
            "claim_payments",
            sa.Column(
                "correction_of_id",
                sa.Integer(),
                nullable=True,
                comment="on the claim payment that follows a reversal (CLP02=22): the original payment it corrects",
            ),
        )
        op.create_foreign_key(
            op.f("fk_claim_payments_correction_of_id_claim_payments"),
            "claim_payments",
            "claim_payments",
            ["correction_of_id"],
            ["id"],
        )
    # Derived, append-only / rebuilt-nightly tables written set-based by posting and reconciliation lose
    # their foreign keys: each reference check costs a row lock on the parent (~25 µs on the reference
    # machine, several per row, more than the insert itself) and the rows are built by joins to their
    # sources anyway. The nightly balance proof reports any dangling reference instead.
    for table, fks in _DERIVED_FKS.items():
        if bind.dialect.name == "sqlite":
            # Nothing references these tables, so rebuilding them is safe on a populated database.
            with op.batch_alter_table(table, recreate="always") as b:
                for name, _col, _ref in fks:
                    b.drop_constraint(name, type_="foreignkey")
                if table == "ledger_entries":
                    b.add_column(sa.Column("provider_adjustment_id", sa.Integer(), nullable=True))
        else:
            for name, _col, _ref in fks:
                op.drop_constraint(name, table, type_="foreignkey")
            if table == "ledger_entries":
                op.add_column(
                    "ledger_entries", sa.Column("provider_adjustment_id", sa.Integer(), nullable=True)
                )
    if bind.dialect.name == "postgresql":
        # Byte-order collation for the ledger key: the unique index compares keys, not words.
        op.alter_column(
            "ledger_entries",
            "txn_key",
            type_=sa.String(80, collation="C"),
            existing_type=sa.String(80),
            existing_nullable=False,
        )
    op.create_index(op.f("ix_claim_payments_payer_claim_number"), "claim_payments", ["payer_claim_number"])
    op.create_index(
        "ix_claim_payments_unposted",
        "claim_payments",
        ["id"],
        postgresql_where=sa.text("posted_at IS NULL"),
        sqlite_where=sa.text("posted_at IS NULL"),
    )
    op.create_index(op.f("ix_claim_payments_reversal_of_id"), "claim_payments", ["reversal_of_id"])
    op.create_index(op.f("ix_claim_payments_correction_of_id"), "claim_payments", ["correction_of_id"])
    # The ledger is written in bulk every night: keep the indexes its readers need (txn_key via the
    # unique key, claim_id, claim_payment_id) and drop the ones nothing looks up by (whole-ledger
    # aggregations by date or patient scan the table anyway).
    op.drop_index(op.f("ix_ledger_entries_effective_date"), table_name="ledger_entries")
    op.drop_index(op.f("ix_ledger_entries_patient_id"), table_name="ledger_entries")
    with op.batch_alter_table("claim_balances") as b:
        b.add_column(_money_zero("provider_adjustments"))
        b.add_column(_money_zero("insurance_write_off"))
        b.add_column(_money_zero("patient_write_off"))
        b.add_column(
            sa.Column(
                "secondary_due",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
                comment="primary left patient responsibility and the patient has a "
                "secondary coverage not yet billed",
            )
        )
    with op.batch_alter_table("patient_balances") as b:
        b.add_column(_money_zero("refunds_due"))
        b.add_column(_money_zero("write_offs"))
        b.add_column(sa.Column("claims", sa.Integer(), nullable=False, server_default=sa.text("0")))
        b.add_column(_money_zero("unapplied_credit"))
    with op.batch_alter_table("claims") as b:
        b.create_index(op.f("ix_claims_payer_claim_number"), ["payer_claim_number"])
    with op.batch_alter_table("provider_adjustments") as b:
        b.create_index(op.f("ix_provider_adjustments_claim_id"), ["claim_id"])
    with op.batch_alter_table("unmatched_payments") as b:
        b.create_index(op.f("ix_unmatched_payments_resolved"), ["resolved"])

    op.create_table(
        "patient_keys",
        sa.Column("patient_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("patient_key", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_patient_keys")),
        sa.UniqueConstraint("patient_key", name=op.f("uq_patient_keys_patient_key")),
    )

    if bind.dialect.name == "postgresql":
        op.execute(
            """CREATE OR REPLACE FUNCTION claimflow_audit_log_append_only() RETURNS trigger
               LANGUAGE plpgsql AS $$
               BEGIN
                   RAISE EXCEPTION 'audit_log is append-only (% rejected)', TG_OP
                       USING ERRCODE = 'insufficient_privilege';
               END
               $$"""
        )
        op.execute(
            """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
               FOR EACH ROW EXECUTE FUNCTION claimflow_audit_log_append_only()"""
        )

    if bind.dialect.name == "postgresql":
        for table, column, type_, nullable, comment in _COMMENTS:
            op.alter_column(table, column, comment=comment, existing_type=type_, existing_nullable=nullable)

    from claimflow.services.analyst import create_views

    create_views(bind)


def downgrade() -> None:
    bind = op.get_bind()
    from claimflow.services.analyst import drop_views

    drop_views(bind)
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS claimflow_audit_log_append_only()")
    op.drop_table("patient_keys")
    with op.batch_alter_table("unmatched_payments") as b:
        b.drop_index(op.f("ix_unmatched_payments_resolved"))
    with op.batch_alter_table("provider_adjustments") as b:
        b.drop_index(op.f("ix_provider_adjustments_claim_id"))
    with op.batch_alter_table("claims") as b:
        b.drop_index(op.f("ix_claims_payer_claim_number"))
    with op.batch_alter_table("patient_balances") as b:
        b.drop_column("unapplied_credit")
        b.drop_column("claims")
        b.drop_column("write_offs")
        b.drop_column("refunds_due")
    with op.batch_alter_table("claim_balances") as b:
        b.drop_column("secondary_due")
        b.drop_column("patient_write_off")
        b.drop_column("insurance_write_off")
        b.drop_column("provider_adjustments")
    op.create_index(op.f("ix_ledger_entries_effective_date"), "ledger_entries", ["effective_date"])
    op.create_index(op.f("ix_ledger_entries_patient_id"), "ledger_entries", ["patient_id"])
    op.drop_index(op.f("ix_claim_payments_payer_claim_number"), table_name="claim_payments")
    op.drop_index("ix_claim_payments_unposted", table_name="claim_payments")
    op.drop_index(op.f("ix_claim_payments_reversal_of_id"), table_name="claim_payments")
    op.drop_index(op.f("ix_claim_payments_correction_of_id"), table_name="claim_payments")
    if bind.dialect.name == "postgresql":
        op.alter_column(
            "ledger_entries",
            "txn_key",
            type_=sa.String(80),
            existing_type=sa.String(80, collation="C"),
            existing_nullable=False,
        )
    for table, fks in _DERIVED_FKS.items():
        if bind.dialect.name == "sqlite":
            with op.batch_alter_table(table, recreate="always") as b:
                if table == "ledger_entries":
                    b.drop_column("provider_adjustment_id")
                for name, col, ref in fks:
                    b.create_foreign_key(name, ref, [col], ["id"])
        else:
            if table == "ledger_entries":
                op.drop_column("ledger_entries", "provider_adjustment_id")
            for name, col, ref in fks:
                op.create_foreign_key(name, table, ref, [col], ["id"])
    if bind.dialect.name == "sqlite":
        # SQLite cannot drop a column that is part of a foreign key: rebuild claim_payments (on a
        # populated database run this with foreign keys off).
        with op.batch_alter_table("claim_payments", recreate="always") as b:
            b.drop_column("correction_of_id")
    else:
        op.drop_constraint(
            op.f("fk_claim_payments_correction_of_id_claim_payments"), "claim_payments", type_="foreignkey"
        )
        op.drop_column("claim_payments", "correction_of_id")
