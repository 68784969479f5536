"""claimflow's database: SQLAlchemy 2 typed models. Alembic migrations (``claimflow/migrations``) create
them; ``create_all`` is never used outside throwaway tests.

Three groups of tables:

* **Practice and claims** (what we bill): payers, providers, patients, subscribers, coverages, claims,
  claim_diagnoses, service_lines, claim_other_payers, scrub_results, submissions.
* **Files and responses** (what crossed the wire): interchanges (every file in or out, by sha256),
  control_numbers, acknowledgments (+ errors), claim_statuses (277CA), remittances (835 ST), claim_payments,
  service_line_payments, adjustments, remark_codes, provider_adjustments, balance_exceptions.
* **Money and reconciliation** (what analysts query): ledger_entries (double entry), patient_payments,
  unmatched_payments, reconciliation_runs, patient_balances, claim_balances, aging_buckets, kpis,
  audit_log.

Money columns use :class:`claimflow.db.types.Money` (NUMERIC(14,2) on PostgreSQL, integer cents on
SQLite). PHI lives only in patients/subscribers (and the raw archived files); everything else refers to
people by id.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from claimflow.db.types import Money

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _created() -> Mapped[dt.datetime]:
    return mapped_column(DateTime, default=_now, server_default=func.current_timestamp(), nullable=False)


# --------------------------------------------------------------------------------------------------
# Practice and claims
# --------------------------------------------------------------------------------------------------


class Payer(Base):
    __tablename__ = "payers"
    id: Mapped[int] = mapped_column(primary_key=True)
    payer_id: Mapped[str] = mapped_column(String(80), unique=True, comment="Payer identifier (NM109 PI)")
    name: Mapped[str] = mapped_column(String(60))
    payer_type: Mapped[str] = mapped_column(String(20), comment="commercial, medicare, medicaid")
    filing_indicator: Mapped[str] = mapped_column(String(2), comment="SBR09: CI, MB, MA, MC, …")
    partner: Mapped[str] = mapped_column(String(40), default="sandbox", comment="clearinghouse partner")
    address_line1: Mapped[str | None] = mapped_column(String(55))
    city: Mapped[str | None] = mapped_column(String(30))
    state: Mapped[str | None] = mapped_column(String(2))
    postal_code: Mapped[str | None] = mapped_column(String(15))


class Provider(Base):
    __tablename__ = "providers"
    id: Mapped[int] = mapped_column(primary_key=True)
    npi: Mapped[str] = mapped_column(String(10), unique=True)
    entity_type: Mapped[str] = mapped_column(String(1), comment="1 person, 2 organization")
    role: Mapped[str] = mapped_column(String(20), comment="billing, rendering, attending, facility")
    last_name: Mapped[str] = mapped_column(String(60), comment="organization name when entity_type=2")
    first_name: Mapped[str | None] = mapped_column(String(35))
    taxonomy: Mapped[str | None] = mapped_column(String(10))
    tax_id: Mapped[str | None] = mapped_column(String(9))
    address_line1: Mapped[str | None] = mapped_column(String(55))
    city: Mapped[str | None] = mapped_column(String(30))
    state: Mapped[str | None] = mapped_column(String(2))
    postal_code: Mapped[str | None] = mapped_column(String(15))


class Patient(Base):
    """PHI. Analysts see ``analyst.patients_deid`` (hashed ``patient_key``), never this table."""

    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_number: Mapped[str] = mapped_column(String(20), unique=True, comment="practice MRN/account")
    last_name: Mapped[str] = mapped_column(String(60))
    first_name: Mapped[str] = mapped_column(String(35))
    middle_name: Mapped[str | None] = mapped_column(String(25))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(1))
    address_line1: Mapped[str] = mapped_column(String(55))
    address_line2: Mapped[str | None] = mapped_column(String(55))
    city: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str] = mapped_column(String(15))


class Subscriber(Base):
    """The insured person (PHI). May be the patient (relationship 18) or a parent/spouse."""

    __tablename__ = "subscribers"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int | None] = mapped_column(
        ForeignKey("patients.id"), comment="set when the subscriber is also our patient"
    )
    last_name: Mapped[str] = mapped_column(String(60))
    first_name: Mapped[str] = mapped_column(String(35))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(1))
    address_line1: Mapped[str] = mapped_column(String(55))
    city: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str] = mapped_column(String(15))


class Coverage(Base):
    __tablename__ = "coverages"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"))
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"))
    member_id: Mapped[str] = mapped_column(String(80))
    group_number: Mapped[str | None] = mapped_column(String(50))
    relationship_code: Mapped[str] = mapped_column(
        String(2), comment="18 self, 01 spouse, 19 child, G8 other"
    )
    priority: Mapped[int] = mapped_column(Integer, comment="1 primary, 2 secondary, 3 tertiary")
    effective_from: Mapped[dt.date | None] = mapped_column(Date)
    effective_to: Mapped[dt.date | None] = mapped_column(Date)


class ClaimStatus(StrEnum):
    """Claim lifecycle values of ``claims.status``. A ``StrEnum`` so a member *is* its string: it compares
    equal to the column's value, binds as that text and formats into SQL unchanged, while a typo in a
    status name fails at import instead of matching nothing. ``adjudication.lifecycle`` says which
    transitions are allowed."""

    READY = "ready"
    SCRUB_FAILED = "scrub_failed"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    DENIED = "denied"
    REVERSED = "reversed"
    #: A denied or reversed claim whose replacement is prepared (``adjudication.lifecycle``).
    CORRECTED = "corrected"
    CLOSED = "closed"


class InterchangeStatus(StrEnum):
    """Values of ``interchanges.status``. Outbound files go generated → validated → uploaded; inbound files
    are received (archived and registered), then loaded, duplicate (the same interchange seen before) or
    quarantined (malformed: the error names file, segment and element)."""

    GENERATED = "generated"
    VALIDATED = "validated"
    UPLOADED = "uploaded"
    RECEIVED = "received"
    LOADED = "loaded"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"


class SubmissionStatus(StrEnum):
    """Values of ``submissions.status``: one claim in one sent file, as the clearinghouse/payer answered it."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Claim(Base):
    __tablename__ = "claims"
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_number: Mapped[str] = mapped_column(String(20), unique=True, comment="ours, stable across attempts")
    claim_type: Mapped[str] = mapped_column(String(13), comment="professional or institutional")
    status: Mapped[str] = mapped_column(String(20), default=ClaimStatus.READY.value, index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    coverage_id: Mapped[int] = mapped_column(ForeignKey("coverages.id"))
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"), index=True)
    billing_provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    rendering_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    attending_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    responsibility: Mapped[str] = mapped_column(String(1), default="P", comment="SBR01 P/S/T")
    primary_claim_id: Mapped[int | None] = mapped_column(
        ForeignKey("claims.id"), comment="for a secondary claim: the primary claim it follows"
    )
    frequency: Mapped[str] = mapped_column(String(1), default="1", comment="CLM05-3: 1 original, 7, 8")
    original_payer_claim_number: Mapped[str | None] = mapped_column(String(50), comment="REF*F8 for 7/8")
    prior_authorization: Mapped[str | None] = mapped_column(String(50))
    place_of_service: Mapped[str] = mapped_column(String(2), default="11")
    total_charge: Mapped[Decimal] = mapped_column(Money)
    service_date_from: Mapped[dt.date] = mapped_column(Date, index=True)
    service_date_to: Mapped[dt.date] = mapped_column(Date)
    onset_date: Mapped[dt.date | None] = mapped_column(Date)
    bill_type: Mapped[str | None] = mapped_column(String(3))
    admission_date: Mapped[dt.date | None] = mapped_column(Date)
    admission_hour: Mapped[str | None] = mapped_column(String(4))
    admission_type: Mapped[str | None] = mapped_column(String(1))
    admission_source: Mapped[str | None] = mapped_column(String(1))
    patient_status: Mapped[str | None] = mapped_column(String(2))
    admitting_diagnosis: Mapped[str | None] = mapped_column(String(8), comment="837I HI*ABJ, inpatient")
    discharge_hour: Mapped[str | None] = mapped_column(
        String(4), comment="837I DTP*096, HH or HHMM, final inpatient bills"
    )  # migration 0008
    reason_for_visit: Mapped[str | None] = mapped_column(
        String(26), comment="837I HI*APR: up to 3 ICD-10-CM codes, comma-separated"
    )  # migration 0008
    payer_claim_number: Mapped[str | None] = mapped_column(
        String(50), index=True, comment="REF*1K / CLP07 from payer"
    )
    created_at: Mapped[dt.datetime] = _created()
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    diagnoses: Mapped[list[ClaimDiagnosis]] = relationship(order_by="ClaimDiagnosis.sequence")
    lines: Mapped[list[ServiceLine]] = relationship(order_by="ServiceLine.line_number")


class ClaimDiagnosis(Base):
    __tablename__ = "claim_diagnoses"
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, comment="1 = principal")
    code: Mapped[str] = mapped_column(String(8), comment="ICD-10-CM without the dot")


class ServiceLine(Base):
    __tablename__ = "service_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own: the unique constraint it leads serves lookups (migration 0015)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    line_number: Mapped[int] = mapped_column(Integer)
    line_control_number: Mapped[str] = mapped_column(String(30), unique=True, comment="REF*6R, echoed in 835")
    procedure_code: Mapped[str | None] = mapped_column(String(5))
    modifiers: Mapped[str | None] = mapped_column(String(11), comment="colon-separated, e.g. 25:59")
    revenue_code: Mapped[str | None] = mapped_column(String(4))
    charge: Mapped[Decimal] = mapped_column(Money)
    units: Mapped[Decimal] = mapped_column(Numeric(9, 3))
    unit_basis: Mapped[str] = mapped_column(String(2), default="UN")
    service_date: Mapped[dt.date] = mapped_column(Date)
    diagnosis_pointers: Mapped[str] = mapped_column(String(11), default="1", comment="comma-separated")
    place_of_service: Mapped[str | None] = mapped_column(String(2))
    ndc: Mapped[str | None] = mapped_column(
        String(11), comment="2410 LIN03, 11 digits (5-4-2) without hyphens"
    )
    ndc_quantity: Mapped[Decimal | None] = mapped_column(Numeric(12, 3), comment="2410 CTP04")
    ndc_unit: Mapped[str | None] = mapped_column(String(2), comment="2410 CTP05-1: F2, GR, ME, ML, UN")
    __table_args__ = (UniqueConstraint("claim_id", "line_number"),)


class ClaimOtherPayer(Base):
    """Loop 2320/2330 data for a secondary claim: what the prior payer paid."""

    __tablename__ = "claim_other_payers"
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), primary_key=True)
    coverage_id: Mapped[int] = mapped_column(ForeignKey("coverages.id"), primary_key=True)
    responsibility: Mapped[str] = mapped_column(String(1), comment="P/S/T of that payer")
    paid: Mapped[Decimal] = mapped_column(Money)
    adjudication_date: Mapped[dt.date | None] = mapped_column(Date)
    adjustments: Mapped[list[list[str]] | None] = mapped_column(JSON, comment='[["CO","45","12.00"], …]')


class ScrubResult(Base):
    __tablename__ = "scrub_results"
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    rule: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(100), comment="DAG run id or CLI invocation")
    created_at: Mapped[dt.datetime] = _created()
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)


# --------------------------------------------------------------------------------------------------
# Files and responses
# --------------------------------------------------------------------------------------------------


class Interchange(Base):
    """Every file that went out or came in. ``sha256`` is of the exact bytes archived."""

    __tablename__ = "interchanges"
    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(3), comment="out or in")
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    bytes: Mapped[int] = mapped_column(BigInteger)
    file_name: Mapped[str] = mapped_column(String(255))
    archive_path: Mapped[str | None] = mapped_column(String(500))
    partner: Mapped[str | None] = mapped_column(String(40))
    transaction_type: Mapped[str | None] = mapped_column(String(8), comment="837P 837I 999 TA1 277CA 835")
    sender_id: Mapped[str | None] = mapped_column(String(15))
    receiver_id: Mapped[str | None] = mapped_column(String(15))
    isa13: Mapped[str | None] = mapped_column(String(9))
    usage: Mapped[str | None] = mapped_column(String(1), comment="ISA15 T/P")
    status: Mapped[str] = mapped_column(
        String(20),
        comment="out: generated, uploaded; in: received, loaded, duplicate, quarantined",
    )
    error: Mapped[str | None] = mapped_column(Text, comment="one line: file, segment, element, why")
    claim_count: Mapped[int | None] = mapped_column(Integer)
    total_charge: Mapped[Decimal | None] = mapped_column(Money)
    created_at: Mapped[dt.datetime] = _created()
    uploaded_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    loaded_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    remote_name: Mapped[str | None] = mapped_column(String(255))
    remote_size: Mapped[int | None] = mapped_column(BigInteger, comment="as listed on the partner's server")
    remote_mtime: Mapped[int | None] = mapped_column(BigInteger, comment="as listed (epoch seconds)")
    __table_args__ = (
        Index(
            "uq_interchanges_sender_isa13",
            "direction",
            "sender_id",
            "isa13",
            unique=True,
            sqlite_where=text("status <> 'duplicate' AND isa13 IS NOT NULL"),
            postgresql_where=text("status <> 'duplicate' AND isa13 IS NOT NULL"),
        ),
    )


class ControlNumber(Base):
    """Last ISA13/GS06/ST02 handed out per sender. Incremented in its own short transaction."""

    __tablename__ = "control_numbers"
    sender_id: Mapped[str] = mapped_column(String(15), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), primary_key=True, comment="interchange, group, transaction")
    last_value: Mapped[int] = mapped_column(BigInteger, default=0)


class Submission(Base):
    """One attempt to send a claim. ``patient_control_number`` (CLM01) is unique per attempt."""

    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own: the unique constraint it leads serves lookups (migration 0015)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    patient_control_number: Mapped[str] = mapped_column(String(38), unique=True)
    interchange_id: Mapped[int] = mapped_column(ForeignKey("interchanges.id"), index=True)
    gs06: Mapped[str | None] = mapped_column(String(9))
    st02: Mapped[str | None] = mapped_column(String(9))
    frequency: Mapped[str] = mapped_column(String(1), default="1")
    status: Mapped[str] = mapped_column(
        String(20), default=SubmissionStatus.SUBMITTED.value, comment="submitted/accepted/rejected"
    )
    created_at: Mapped[dt.datetime] = _created()
    replaces_submission_id: Mapped[int | None] = mapped_column(
        Integer, comment="the earlier submission a replacement/void/resubmission answers (submissions.id)"
    )  # migration 0007; no foreign key (see there)
    __table_args__ = (UniqueConstraint("claim_id", "attempt"),)


class Acknowledgment(Base):
    """One TA1, or one 999 transaction-set response (IK5) / functional-group response (AK9)."""

    __tablename__ = "acknowledgments"
    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own: the unique constraint it leads serves lookups (migration 0015)
    interchange_id: Mapped[int] = mapped_column(ForeignKey("interchanges.id"))
    kind: Mapped[str] = mapped_column(String(12), comment="TA1, 999_set, 999_group")
    segment_no: Mapped[int] = mapped_column(Integer)
    acked_isa13: Mapped[str | None] = mapped_column(String(9))
    acked_gs06: Mapped[str | None] = mapped_column(String(9))
    acked_st02: Mapped[str | None] = mapped_column(String(9))
    acked_transaction: Mapped[str | None] = mapped_column(String(3))
    code: Mapped[str] = mapped_column(String(2), comment="A, E, P, R, M, W, X (999) or A, E, R (TA1)")
    accepted: Mapped[bool] = mapped_column(Boolean)
    note_code: Mapped[str | None] = mapped_column(String(3), comment="TA105 / IK502 / AK905")
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    matched_interchange_id: Mapped[int | None] = mapped_column(ForeignKey("interchanges.id"))
    __table_args__ = (UniqueConstraint("interchange_id", "segment_no"),)


class AcknowledgmentError(Base):
    """IK3 / IK4 / CTX errors. ``bad_value`` may be PHI: it is kept here only, never logged."""

    __tablename__ = "acknowledgment_errors"
    id: Mapped[int] = mapped_column(primary_key=True)
    acknowledgment_id: Mapped[int] = mapped_column(ForeignKey("acknowledgments.id"), index=True)
    level: Mapped[str] = mapped_column(String(4), comment="IK3, IK4, CTX")
    segment_id: Mapped[str | None] = mapped_column(String(3))
    segment_position: Mapped[int | None] = mapped_column(Integer)
    loop_id: Mapped[str | None] = mapped_column(String(6))
    element_position: Mapped[str | None] = mapped_column(String(10))
    error_code: Mapped[str | None] = mapped_column(String(3))
    patient_control_number: Mapped[str | None] = mapped_column(String(38), comment="from CTX*CLM01")
    bad_value: Mapped[str | None] = mapped_column(Text)


class ClaimStatusRecord(Base):
    """277CA STC at claim (2200D), provider (2200C) or batch (2200B) level."""

    __tablename__ = "claim_statuses"
    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own: the unique constraint it leads serves lookups (migration 0015)
    interchange_id: Mapped[int] = mapped_column(ForeignKey("interchanges.id"))
    st02: Mapped[str] = mapped_column(String(9))
    segment_no: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(8), comment="claim, provider, batch")
    patient_control_number: Mapped[str | None] = mapped_column(String(38), index=True)
    payer_claim_number: Mapped[str | None] = mapped_column(String(50))
    category: Mapped[str] = mapped_column(String(3), comment="STC01-1, e.g. A1, A3, A7")
    status_code: Mapped[str | None] = mapped_column(String(5), comment="STC01-2")
    entity_code: Mapped[str | None] = mapped_column(String(3), comment="STC01-3")
    accepted: Mapped[bool | None] = mapped_column(
        Boolean, comment="true A1/A2/A5, false A3/A4/A6/A7/A8, null for other categories (e.g. A0, E0)"
    )
    status_date: Mapped[dt.date | None] = mapped_column(Date)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    applied_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    trace_number: Mapped[str | None] = mapped_column(
        String(50), comment="TRN02 of 2200B (our BHT03) / 2200C; null at claim level"
    )
    entity_identifier: Mapped[str | None] = mapped_column(
        String(80), comment="NM109 of 2100B/2100C (2100C: billing provider NPI); null at claim level"
    )
    __table_args__ = (UniqueConstraint("interchange_id", "segment_no"),)


class Remittance(Base):
    """One 835 transaction set (ST..SE): one payment (BPR/TRN) from one payer."""

    __tablename__ = "remittances"
    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own: the unique constraint it leads serves lookups (migration 0015)
    interchange_id: Mapped[int] = mapped_column(ForeignKey("interchanges.id"))
    isa13: Mapped[str | None] = mapped_column(String(9))
    gs06: Mapped[str | None] = mapped_column(String(9))
    st02: Mapped[str] = mapped_column(String(9))
    segment_no: Mapped[int] = mapped_column(Integer)
    handling_code: Mapped[str] = mapped_column(String(2), comment="BPR01: I, H, C, D, P, U, X")
    payment_amount: Mapped[Decimal] = mapped_column(Money, comment="BPR02")
    credit_debit: Mapped[str | None] = mapped_column(String(1))
    payment_method: Mapped[str | None] = mapped_column(String(3), comment="ACH, CHK, BOP, FWT, NON")
    payment_date: Mapped[dt.date | None] = mapped_column(Date, comment="BPR16")
    trace_number: Mapped[str | None] = mapped_column(String(50), comment="TRN02 check/EFT number")
    payer_identifier: Mapped[str | None] = mapped_column(String(50), comment="TRN03 / N1*PR")
    payer_name: Mapped[str | None] = mapped_column(String(60))
    payee_identifier: Mapped[str | None] = mapped_column(String(80))
    production_date: Mapped[dt.date | None] = mapped_column(Date, comment="DTM*405")
    balanced: Mapped[bool] = mapped_column(Boolean, default=True)
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"))
    trace_payer: Mapped[str | None] = mapped_column(
        String(50), comment="TRN03, else N1*PR payer id: with trace_number the payment identity"
    )
    __table_args__ = (
        UniqueConstraint("interchange_id", "segment_no"),
        # A payment is stored once, whatever file or ISA13 it is resent in (NULL traces never collide).
        Index("uq_remittances_payment_identity", "trace_payer", "trace_number", unique=True),
    )


class ClaimPayment(Base):
    """One CLP: the payer's decision on one claim in one remittance."""

    __tablename__ = "claim_payments"
    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own: the unique constraint it leads serves lookups (migration 0015)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"))
    segment_no: Mapped[int] = mapped_column(Integer)
    patient_control_number: Mapped[str] = mapped_column(String(38), index=True, comment="CLP01")
    status_code: Mapped[str] = mapped_column(String(2), comment="CLP02: 1,2,3,4,19,20,21,22,23,25")
    charge: Mapped[Decimal] = mapped_column(Money, comment="CLP03")
    paid: Mapped[Decimal] = mapped_column(Money, comment="CLP04")
    patient_responsibility: Mapped[Decimal | None] = mapped_column(Money, comment="CLP05")
    filing_indicator: Mapped[str | None] = mapped_column(String(2), comment="CLP06")
    payer_claim_number: Mapped[str | None] = mapped_column(String(50), index=True, comment="CLP07")
    facility_type: Mapped[str | None] = mapped_column(String(2))
    frequency: Mapped[str | None] = mapped_column(String(1))
    deductible: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), comment="PR-1 claim+lines")
    coinsurance: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), comment="PR-2 claim+lines")
    copay: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), comment="PR-3 claim+lines")
    contractual: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), comment="CO claim+lines")
    other_adjustments: Mapped[Decimal] = mapped_column(
        Money, default=Decimal("0"), comment="OA/PI/CR/other PR"
    )
    statement_from: Mapped[dt.date | None] = mapped_column(Date)
    statement_to: Mapped[dt.date | None] = mapped_column(Date)
    received_date: Mapped[dt.date | None] = mapped_column(Date, comment="DTM*050")
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    match_method: Mapped[str | None] = mapped_column(String(20), comment="pcn, pcn_truncated, payer_number")
    posted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    reversal_of_id: Mapped[int | None] = mapped_column(ForeignKey("claim_payments.id"), index=True)
    correction_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("claim_payments.id"),
        index=True,
        comment="on the claim payment that follows a reversal (CLP02=22): the original payment it corrects",
    )
    original_reference_number: Mapped[str | None] = mapped_column(
        String(50), comment="REF*F8: payer claim number of the claim this one corrects or reverses"
    )
    duplicate_of_id: Mapped[int | None] = mapped_column(
        Integer, comment="claim_payments.id this one repeats: held from posting (unmatched_payments)"
    )
    __table_args__ = (
        UniqueConstraint("remittance_id", "segment_no"),
        # Posting reads the unposted ones every night; a partial index keeps that independent of history.
        Index(
            "ix_claim_payments_unposted",
            "id",
            postgresql_where=text("posted_at IS NULL"),
            sqlite_where=text("posted_at IS NULL"),
        ),
    )


class ServiceLinePayment(Base):
    __tablename__ = "service_line_payments"
    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own: the unique constraint it leads serves lookups (migration 0015)
    claim_payment_id: Mapped[int] = mapped_column(ForeignKey("claim_payments.id"))
    segment_no: Mapped[int] = mapped_column(Integer)
    procedure_qualifier: Mapped[str | None] = mapped_column(String(2), comment="HC, NU, AD, …")
    procedure_code: Mapped[str | None] = mapped_column(String(48))
    modifiers: Mapped[str | None] = mapped_column(String(11))
    revenue_code: Mapped[str | None] = mapped_column(String(4))
    charge: Mapped[Decimal] = mapped_column(Money, comment="SVC02")
    paid: Mapped[Decimal] = mapped_column(Money, comment="SVC03")
    units: Mapped[Decimal | None] = mapped_column(Numeric(15, 3), comment="SVC05")
    original_procedure: Mapped[str | None] = mapped_column(String(60), comment="SVC06")
    line_control_number: Mapped[str | None] = mapped_column(String(50), index=True, comment="REF*6R")
    service_date: Mapped[dt.date | None] = mapped_column(Date)
    allowed: Mapped[Decimal | None] = mapped_column(Money, comment="AMT*B6")
    service_line_id: Mapped[int | None] = mapped_column(ForeignKey("service_lines.id"), index=True)
    __table_args__ = (UniqueConstraint("claim_payment_id", "segment_no"),)


class Adjustment(Base):
    """One CAS triplet (group, reason, amount[, quantity]) at claim or line level."""

    __tablename__ = "adjustments"
    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own: the unique constraint it leads serves lookups (migration 0015)
    claim_payment_id: Mapped[int] = mapped_column(ForeignKey("claim_payments.id"))
    service_line_payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_line_payments.id"), index=True
    )
    segment_no: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, comment="1..6: which triplet of the CAS")
    group_code: Mapped[str] = mapped_column(String(2), comment="CO, OA, PI, PR, CR")
    reason_code: Mapped[str] = mapped_column(String(5), comment="CARC")
    amount: Mapped[Decimal] = mapped_column(Money)
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(15, 3))
    __table_args__ = (UniqueConstraint("claim_payment_id", "segment_no", "position"),)


class RemarkCode(Base):
    __tablename__ = "remark_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own: the unique constraint it leads serves lookups (migration 0015)
    claim_payment_id: Mapped[int] = mapped_column(ForeignKey("claim_payments.id"))
    service_line_payment_id: Mapped[int | None] = mapped_column(ForeignKey("service_line_payments.id"))
    segment_no: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(3), comment="MOA, MIA, LQ")
    code: Mapped[str] = mapped_column(String(30), comment="RARC")
    __table_args__ = (UniqueConstraint("claim_payment_id", "segment_no", "position"),)


class ProviderAdjustment(Base):
    """One PLB adjustment pair. Positive amounts reduce the payment (BPR02 = ΣCLP04 − ΣPLB)."""

    __tablename__ = "provider_adjustments"
    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own: the unique constraint it leads serves lookups (migration 0015)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"))
    segment_no: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    provider_identifier: Mapped[str] = mapped_column(String(50), comment="PLB01")
    fiscal_period_date: Mapped[dt.date | None] = mapped_column(Date, comment="PLB02")
    reason_code: Mapped[str] = mapped_column(String(2), comment="PLB03-1: WO, FB, 72, L6, CS, J1, …")
    reference: Mapped[str | None] = mapped_column(String(50), comment="PLB03-2")
    amount: Mapped[Decimal] = mapped_column(Money)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    __table_args__ = (UniqueConstraint("remittance_id", "segment_no", "position"),)


class BalanceException(Base):
    """Something that does not add up: found while parsing an 835, or by the nightly balance proof."""

    __tablename__ = "balance_exceptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20), comment="835 or reconciliation")
    level: Mapped[str] = mapped_column(String(20), comment="remittance, claim, line, ledger, patient")
    kind: Mapped[str] = mapped_column(String(60))
    interchange_id: Mapped[int | None] = mapped_column(ForeignKey("interchanges.id"), index=True)
    remittance_id: Mapped[int | None] = mapped_column(ForeignKey("remittances.id"))
    claim_payment_id: Mapped[int | None] = mapped_column(ForeignKey("claim_payments.id"))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    reference: Mapped[str | None] = mapped_column(String(60), comment="ST02, CLP01 or REF*6R")
    expected: Mapped[Decimal | None] = mapped_column(Money)
    found: Mapped[Decimal | None] = mapped_column(Money)
    run_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    explained: Mapped[bool] = mapped_column(Boolean, default=False)
    explanation: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()


# --------------------------------------------------------------------------------------------------
# Money and reconciliation
# --------------------------------------------------------------------------------------------------


class LedgerEntry(Base):
    """Double entry: every ``txn_key`` sums to zero. Debits positive, credits negative.

    ``txn_key`` is derived from the source (e.g. ``pay:<claim_payment_id>``) and is unique per account,
    so the database itself refuses a second posting of the same remittance. The account and txn_key
    schemes are documented in ``adjudication.ledger``.

    The id columns carry no foreign keys (migration 0002): rows are written set-based from joins to their
    sources, a reference check would cost more than the insert, and the nightly balance proof reports
    dangling references.
    """

    __tablename__ = "ledger_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    txn_key: Mapped[str] = mapped_column(String(80).with_variant(String(80, collation="C"), "postgresql"))
    entry_type: Mapped[str] = mapped_column(
        String(24),
        comment="charge, payer_payment, contractual, other_adjustment, pr_transfer, reversal, "
        "provider_adjustment, unapplied, patient_payment, credit_sweep, credit_applied, refund_due, write_off",
    )
    account: Mapped[str] = mapped_column(
        String(24),
        comment="ar_payer, ar_patient, revenue, contractual, adjustments, cash, write_off, refunds_due, "
        "unapplied_cash, interest_income, payer_offsets, patient_credit",
    )
    amount: Mapped[Decimal] = mapped_column(Money)
    claim_id: Mapped[int | None] = mapped_column(Integer, index=True, comment="claims.id")
    patient_id: Mapped[int | None] = mapped_column(Integer, comment="patients.id")
    payer_id: Mapped[int | None] = mapped_column(Integer, comment="payers.id")
    claim_payment_id: Mapped[int | None] = mapped_column(Integer, index=True, comment="claim_payments.id")
    patient_payment_id: Mapped[int | None] = mapped_column(Integer, comment="patient_payments.id")
    provider_adjustment_id: Mapped[int | None] = mapped_column(Integer, comment="provider_adjustments.id")
    effective_date: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = _created()
    __table_args__ = (UniqueConstraint("txn_key", "account"),)


class PatientPayment(Base):
    """A payment from a patient (front desk, portal, lockbox), imported from CSV; idempotent by
    ``external_id``. How it was applied to claims is in the ledger (``ppay:<id>:<n>`` entries)."""

    __tablename__ = "patient_payments"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(80), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    received_on: Mapped[dt.date] = mapped_column(Date)
    method: Mapped[str | None] = mapped_column(String(20))
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    posted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = _created()


class UnmatchedPayment(Base):
    """An 835 claim payment that matched none of our claims: kept, never dropped, until worked."""

    __tablename__ = "unmatched_payments"
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_payment_id: Mapped[int] = mapped_column(ForeignKey("claim_payments.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[dt.datetime] = _created()


class ReconciliationRun(Base):
    __tablename__ = "reconciliation_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_date: Mapped[dt.date] = mapped_column(Date, unique=True)
    status: Mapped[str] = mapped_column(String(20), comment="running, done, failed")
    started_at: Mapped[dt.datetime] = _created()
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    summary: Mapped[dict[str, object] | None] = mapped_column(JSON)


def _zero() -> Mapped[Decimal]:
    return mapped_column(Money, default=Decimal("0"), server_default=text("0"))


class PatientBalance(Base):
    """Per patient as of ``run_date``: patient_balance = patient_responsibility − patient_paid
    + refunds_due − write_offs (patient side); negative = a credit. ``unapplied_credit`` is the part of
    the payments not applied to any claim yet (ledger account patient_credit)."""

    __tablename__ = "patient_balances"
    run_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    patient_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    charges: Mapped[Decimal] = mapped_column(Money)
    payer_paid: Mapped[Decimal] = mapped_column(Money)
    adjustments: Mapped[Decimal] = mapped_column(Money, comment="contractual + other adjustments")
    patient_responsibility: Mapped[Decimal] = mapped_column(Money)
    patient_paid: Mapped[Decimal] = mapped_column(Money, comment="all patient payments received")
    insurance_balance: Mapped[Decimal] = mapped_column(Money)
    patient_balance: Mapped[Decimal] = mapped_column(Money)
    refunds_due: Mapped[Decimal] = _zero()
    write_offs: Mapped[Decimal] = _zero()
    claims: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    unapplied_credit: Mapped[Decimal] = _zero()


class ClaimBalance(Base):
    """Per claim (submitted as of ``run_date``), from the source documents (835 rows, patient payment
    applications); the nightly balance proof ties it to the ledger."""

    __tablename__ = "claim_balances"
    run_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    claim_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    patient_id: Mapped[int] = mapped_column(Integer, index=True)
    payer_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    charge: Mapped[Decimal] = mapped_column(Money)
    payer_paid: Mapped[Decimal] = mapped_column(Money)
    contractual: Mapped[Decimal] = mapped_column(Money)
    other_adjustments: Mapped[Decimal] = mapped_column(Money)
    patient_responsibility: Mapped[Decimal] = mapped_column(Money)
    patient_paid: Mapped[Decimal] = mapped_column(Money)
    insurance_balance: Mapped[Decimal] = mapped_column(Money)
    patient_balance: Mapped[Decimal] = mapped_column(Money)
    service_date: Mapped[dt.date] = mapped_column(Date)
    age_days: Mapped[int] = mapped_column(Integer)
    provider_adjustments: Mapped[Decimal] = _zero()
    insurance_write_off: Mapped[Decimal] = _zero()
    patient_write_off: Mapped[Decimal] = _zero()
    secondary_due: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        server_default=text("false"),
        comment="primary left patient responsibility and the patient has a secondary coverage not yet billed",
    )


class AgingBucket(Base):
    __tablename__ = "aging_buckets"
    run_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(10), primary_key=True, comment="payer or patient")
    key: Mapped[str] = mapped_column(String(80), primary_key=True, comment="payer code or patient key")
    bucket: Mapped[str] = mapped_column(String(8), primary_key=True, comment="0-30 31-60 61-90 91-120 120+")
    amount: Mapped[Decimal] = mapped_column(Money)
    claims: Mapped[int] = mapped_column(Integer)


class Kpi(Base):
    __tablename__ = "kpis"
    run_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    numerator: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    denominator: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    definition: Mapped[str | None] = mapped_column(Text)


class PatientKey(Base):
    """The analysts' stable pseudonym of a patient: the first 32 hex digits of
    sha256(salt || ':' || patient id). Computed once per patient (``claimflow.services.analyst``) and never
    recomputed, so keys stay stable even if the salt setting changes later. Not granted to analysts.
    No foreign key: a key outliving its patient row (re-seeded test data) is harmless."""

    __tablename__ = "patient_keys"
    patient_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    patient_key: Mapped[str] = mapped_column(String(32), unique=True)


class AuditLog(Base):
    """Append-only (a PostgreSQL trigger rejects UPDATE and DELETE)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = _created()
    actor: Mapped[str] = mapped_column(String(120), comment="DAG run id / task, or CLI user")
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(80))
    detail: Mapped[dict[str, object] | None] = mapped_column(JSON)


# --------------------------------------------------------------------------------------------------
# Work queues (migration 0006; see adjudication.worklist and docs/WORKQUEUES.md)
# --------------------------------------------------------------------------------------------------


class WorkItemStatus(StrEnum):
    """Values of ``work_items.status`` (a ``StrEnum`` for the same reason as :class:`ClaimStatus`)."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class WorkItemResolution(StrEnum):
    """Values of ``work_items.resolution``: why a closed item is closed."""

    #: Closed by the nightly build: the problem is gone.
    RESOLVED = "resolved"
    #: Closed by a person (``worklist close``, a refund issued).
    CLOSED = "closed"


class PayerRule(Base):
    """Per-payer limits for the work queues; a payer without a row uses the settings defaults."""

    __tablename__ = "payer_rules"
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"), primary_key=True, autoincrement=False)
    timely_filing_days: Mapped[int | None] = mapped_column(Integer, comment="days from the date of service")
    no_277ca_days: Mapped[int | None] = mapped_column(Integer, comment="follow up when no 277CA after N days")
    no_835_days: Mapped[int | None] = mapped_column(Integer, comment="follow up when no 835 after M days")


class FeeScheduleRate(Base):
    """Expected allowed amount per unit of a procedure (payer_id NULL: every payer without its own rate)."""

    __tablename__ = "fee_schedule"
    id: Mapped[int] = mapped_column(primary_key=True)
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"))
    procedure_code: Mapped[str] = mapped_column(String(48))
    allowed: Mapped[Decimal] = mapped_column(Money, comment="per unit")
    __table_args__ = (UniqueConstraint("payer_id", "procedure_code"),)


class WorkItem(Base):
    """One open problem on one claim, built nightly; ``(queue, claim_id, reason_key)`` is its identity, so
    a later night updates the same row, and a resolved problem closes it. No PHI in ``reason``."""

    __tablename__ = "work_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(
        String(30),
        comment="scrub_holds, rejections, denials, underpayments, "
        "no_response, secondary_due, credit_balances",
    )
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    reason_key: Mapped[str] = mapped_column(
        String(120), comment="what makes the problem distinct on the claim"
    )
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"))
    reason_codes: Mapped[str | None] = mapped_column(String(200), comment="comma-separated, e.g. CO-50,N115")
    reason: Mapped[str] = mapped_column(Text, comment="plain language, no PHI")
    amount: Mapped[Decimal] = mapped_column(Money, comment="dollars at stake")
    next_action: Mapped[str] = mapped_column(
        String(30),
        comment="correct_and_resubmit, void, appeal, bill_secondary, bill_patient, write_off, "
        "ask_status, refund",
    )
    priority: Mapped[int] = mapped_column(Integer, comment="1 most urgent … 4")
    due_date: Mapped[dt.date | None] = mapped_column(Date, comment="timely-filing (or refund) deadline")
    status: Mapped[str] = mapped_column(
        String(20), default=WorkItemStatus.OPEN.value, comment="open, in_progress, closed"
    )
    assignee: Mapped[str | None] = mapped_column(String(80))
    notes: Mapped[str | None] = mapped_column(Text, comment="free text from the billing office; may hold PHI")
    resolution: Mapped[str | None] = mapped_column(
        String(20), comment="resolved (nightly) or closed (by a person)"
    )
    opened_on: Mapped[dt.date] = mapped_column(Date)
    last_seen: Mapped[dt.date] = mapped_column(Date, comment="last run date the problem was still there")
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    __table_args__ = (
        Index("uq_work_items_identity", "queue", "claim_id", "reason_key", unique=True),
        Index("ix_work_items_queue_status", "queue", "status"),
    )


class WorkItemEvent(Base):
    """Every change of a work item: opened, updated, reopened, closed, assigned, note, status."""

    __tablename__ = "work_item_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id"), index=True)
    at: Mapped[dt.datetime] = _created()
    actor: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, object] | None] = mapped_column(JSON)


class Appeal(Base):
    """One appeal letter written for a medical-necessity or authorization denial (migration 0013;
    ``claimflow.followup.appeals``). ``file_name`` carries our claim number and ``sequence`` only: no PHI."""

    __tablename__ = "appeals"
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer, comment="1, 2, … per claim (the <n> of the file name)")
    claim_payment_id: Mapped[int | None] = mapped_column(ForeignKey("claim_payments.id"))
    categories: Mapped[str] = mapped_column(String(100), comment="comma-separated CARC categories appealed")
    reason_codes: Mapped[str] = mapped_column(String(200), comment="comma-separated, e.g. CO-50,N115")
    amount: Mapped[Decimal] = mapped_column(Money, comment="denied dollars appealed")
    file_name: Mapped[str] = mapped_column(String(120))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = _created()
    __table_args__ = (UniqueConstraint("claim_id", "sequence", name="uq_appeals_claim_sequence"),)


# --------------------------------------------------------------------------------------------------
# Patient billing (migration 0010; see adjudication.statements and docs/PATIENTS.md)
# --------------------------------------------------------------------------------------------------


class Statement(Base):
    """One patient statement sent (PDF + HTML named by ``statement_id`` only). ``stage`` is the dunning
    stage (first_statement, reminder, final_notice, pre_collection) or payment_plan; collections
    hand-offs are rows with stage ``collections`` and no files."""

    __tablename__ = "statements"
    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[str] = mapped_column(
        String(32), unique=True, comment="public id: files, payment links"
    )
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    run_date: Mapped[dt.date] = mapped_column(Date)
    cycle: Mapped[int] = mapped_column(Integer, comment="1 = first statement of this dunning episode")
    stage: Mapped[str] = mapped_column(String(20))
    balance: Mapped[Decimal] = mapped_column(Money, comment="patient balance on the run date")
    amount_due: Mapped[Decimal] = mapped_column(Money, comment="never negative")
    due_date: Mapped[dt.date] = mapped_column(Date)
    plan_id: Mapped[int | None] = mapped_column(Integer, comment="payment_plans.id when on a plan")
    created_at: Mapped[dt.datetime] = _created()
    __table_args__ = (UniqueConstraint("patient_id", "run_date"),)


class StatementLine(Base):
    """One visit (claim) on a statement; ``reasons`` is plain language built from the PR CAS codes."""

    __tablename__ = "statement_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    service_date: Mapped[dt.date] = mapped_column(Date)
    procedure_codes: Mapped[str | None] = mapped_column(String(60))
    charge: Mapped[Decimal] = mapped_column(Money)
    insurance_paid: Mapped[Decimal] = mapped_column(Money)
    insurance_adjusted: Mapped[Decimal] = mapped_column(Money)
    patient_paid: Mapped[Decimal] = mapped_column(Money)
    patient_owes: Mapped[Decimal] = mapped_column(Money)
    reasons: Mapped[str | None] = mapped_column(Text, comment="no PHI: amounts and plan terms only")


class PaymentPlan(Base):
    """An agreed payment plan: ``installments`` payments of ``installment_amount`` on ``day_of_month``.
    status: active, delinquent (a missed installment: back into dunning), completed, cancelled."""

    __tablename__ = "payment_plans"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    total: Mapped[Decimal] = mapped_column(Money)
    installments: Mapped[int] = mapped_column(Integer)
    installment_amount: Mapped[Decimal] = mapped_column(Money)
    day_of_month: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[dt.date] = mapped_column(Date, comment="payments received from this day count")
    first_due: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = _created()


class PatientAccountFlag(Base):
    """Account-level flags of a patient: ``dispute`` holds dunning while the patient disputes the bill."""

    __tablename__ = "patient_account_flags"
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True, autoincrement=False)
    dispute: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = _created()


class PaymentEvent(Base):
    """One payment-processor webhook event, applied exactly once: ``event_id`` is unique."""

    __tablename__ = "payment_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    event_type: Mapped[str] = mapped_column(String(60))
    object_id: Mapped[str | None] = mapped_column(String(255), comment="payment intent / charge id")
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    statement_id: Mapped[str | None] = mapped_column(String(32))
    patient_id: Mapped[int | None] = mapped_column(Integer)
    patient_payment_id: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(30), comment="posted, refunded, failed, ignored")
    created_at: Mapped[dt.datetime] = _created()


class Refund(Base):
    """Money we owe back: to a patient (credit balance) or a payer (overpaid claim). Issuing it posts
    ``rfi:<id>`` to the ledger."""

    __tablename__ = "refunds"
    id: Mapped[int] = mapped_column(primary_key=True)
    payee: Mapped[str] = mapped_column(String(10), comment="patient or payer")
    patient_id: Mapped[int | None] = mapped_column(Integer)
    payer_id: Mapped[int | None] = mapped_column(Integer)
    claim_id: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(10), default="due", comment="due, issued")
    found_on: Mapped[dt.date] = mapped_column(Date)
    issued_on: Mapped[dt.date | None] = mapped_column(Date)
    issued_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = _created()


class EligibilityCheck(Base):
    """One 270 subscriber inquiry we sent: its TRN02 (``CF<coverage id>-<n>``, no PHI) → coverage.
    Migration 0011."""

    __tablename__ = "eligibility_checks"
    id: Mapped[int] = mapped_column(primary_key=True)
    trace_number: Mapped[str] = mapped_column(String(50), unique=True)
    coverage_id: Mapped[int] = mapped_column(ForeignKey("coverages.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(120))
    isa13: Mapped[str] = mapped_column(String(9))
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    answer_interchange_id: Mapped[int | None] = mapped_column(Integer)


class CoverageEligibility(Base):
    """The latest 271 answer for a coverage (migration 0011). ``status``: active, inactive, error."""

    __tablename__ = "coverage_eligibility"
    coverage_id: Mapped[int] = mapped_column(
        ForeignKey("coverages.id"), primary_key=True, autoincrement=False
    )
    status: Mapped[str] = mapped_column(String(10))
    plan: Mapped[str | None] = mapped_column(String(50))
    coverage_from: Mapped[dt.date | None] = mapped_column(Date)
    coverage_to: Mapped[dt.date | None] = mapped_column(Date)
    deductible_remaining: Mapped[Decimal | None] = mapped_column(Money)
    out_of_pocket_remaining: Mapped[Decimal | None] = mapped_column(Money)
    copay: Mapped[Decimal | None] = mapped_column(Money)
    coinsurance: Mapped[Decimal | None] = mapped_column(Numeric(5, 4), comment="EB08, 0.2 = 20 %")
    reject_reason: Mapped[str | None] = mapped_column(String(3), comment="AAA03")
    follow_up: Mapped[str | None] = mapped_column(String(1), comment="AAA04")
    verified_at: Mapped[dt.datetime] = mapped_column(DateTime)
    verified_by: Mapped[str] = mapped_column(String(120), comment="actor that loaded the 271")
    interchange_id: Mapped[int | None] = mapped_column(Integer)


# --------------------------------------------------------------------------------------------------
# Prior authorizations (migration 0014; see claimflow.inquiries.authorizations and docs/ELIGIBILITY.md)
# --------------------------------------------------------------------------------------------------


class PriorAuthorization(Base):
    """A payer's authorization number for a patient, service codes, units and date span. ``units_used``
    and ``status`` are kept current by :func:`claimflow.inquiries.authorizations.refresh`; the usage rows decide."""

    __tablename__ = "prior_authorizations"
    id: Mapped[int] = mapped_column(primary_key=True)
    auth_number: Mapped[str] = mapped_column(String(50), comment="REF*G1 as the payer issued it")
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    service_codes: Mapped[str] = mapped_column(String(500), comment="normalized, e.g. 97110-97140,G0283")
    units_authorized: Mapped[Decimal] = mapped_column(Numeric(9, 3))
    units_used: Mapped[Decimal] = mapped_column(Numeric(9, 3), default=Decimal("0"))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(
        String(10), default="active", comment="active, expired, exhausted, void"
    )
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    __table_args__ = (UniqueConstraint("payer_id", "auth_number"),)


class PriorAuthorizationUsage(Base):
    """Units of one service line counted against an authorization (one row per line: reruns replace it).
    Lines of held, rejected, voided or not yet sent claims do not count (see claimflow.inquiries.authorizations)."""

    __tablename__ = "prior_authorization_usage"
    id: Mapped[int] = mapped_column(primary_key=True)
    authorization_id: Mapped[int] = mapped_column(ForeignKey("prior_authorizations.id"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    service_line_id: Mapped[int] = mapped_column(ForeignKey("service_lines.id"), unique=True)
    units: Mapped[Decimal] = mapped_column(Numeric(9, 3))
    created_at: Mapped[dt.datetime] = _created()


class PayerAuthRule(Base):
    """Service codes (ranges) a payer authorizes in advance: lines with them need a prior authorization."""

    __tablename__ = "payer_auth_rules"
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"), primary_key=True, autoincrement=False)
    service_codes: Mapped[str] = mapped_column(String(500), comment="normalized, e.g. 97110-97140,G0283")
    updated_at: Mapped[dt.datetime] = _created()
