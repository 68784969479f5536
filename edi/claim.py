"""The claim as the 837 builders and scrubbers see it: plain, immutable-by-convention data.

These classes are the boundary between the database (``claimflow.db``) and X12. The app shell loads rows
into them; ``edi.x837`` turns them into segments and ``edi.scrub`` checks them. Nothing here touches a
database or a file, so the builders can be benchmarked on a million claims and tested without fixtures.

Money is ``Decimal`` throughout. Dates are ``datetime.date``. Codes are strings exactly as they go on
the wire (``"11"`` for office place of service, ``"0450"`` for a revenue code).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class ClaimType(StrEnum):
    """Which guide the claim is billed under."""

    PROFESSIONAL = "professional"  # 837P, 005010X222A1
    INSTITUTIONAL = "institutional"  # 837I, 005010X223A2


class ClaimFrequency(StrEnum):
    """CLM05-3 claim frequency type code."""

    ORIGINAL = "1"
    REPLACEMENT = "7"  # REF*F8 with the payer's claim control number is required
    VOID = "8"  # REF*F8 required


class PayerResponsibility(StrEnum):
    """SBR01 payer responsibility sequence number code."""

    PRIMARY = "P"
    SECONDARY = "S"
    TERTIARY = "T"


class ClaimFilingIndicator(StrEnum):
    """SBR09 claim filing indicator code (subset used by the product)."""

    COMMERCIAL = "CI"
    BLUE_CROSS = "BL"
    MEDICARE_A = "MA"
    MEDICARE_B = "MB"
    MEDICAID = "MC"
    HMO = "HM"
    OTHER = "ZZ"


class Relationship(StrEnum):
    """PAT01 / SBR02 individual relationship code, patient to subscriber."""

    SELF = "18"
    SPOUSE = "01"
    CHILD = "19"
    OTHER = "G8"


class DrugUnit(StrEnum):
    """CTP05-1 unit or basis for measurement of a drug quantity (loop 2410): the five the 5010 837 allows."""

    INTERNATIONAL_UNIT = "F2"
    GRAM = "GR"
    MILLIGRAM = "ME"
    MILLILITER = "ML"
    UNIT = "UN"


class EntityCode(StrEnum):
    """NM101 entity identifier code of the provider loops the 837 builders write from a :class:`Provider`."""

    BILLING_PROVIDER = "85"  # 2010AA
    ATTENDING = "71"  # 837I 2310A
    RENDERING = "82"  # 837P 2310B, 837I 2310D
    REFERRING = "DN"  # 837P 2310A, 837I 2310F


class ProviderCode(StrEnum):
    """PRV01 provider code: the role a taxonomy (PRV03) is given for."""

    BILLING = "BI"  # 2000A
    ATTENDING = "AT"  # 837I 2310A
    PERFORMING = "PE"  # 837P 2310B


@dataclass(slots=True)
class Address:
    line1: str
    city: str
    state: str
    postal_code: str  # 5 or 9 digits; the billing provider's must be 9 (guide rule)
    line2: str | None = None


@dataclass(slots=True)
class Provider:
    """A billing, rendering or attending provider.

    ``entity_type`` "1" is a person (``last_name``/``first_name``), "2" an organization (``last_name`` is the
    organization name).
    """

    npi: str
    last_name: str
    entity_type: str = "2"
    first_name: str | None = None
    taxonomy: str | None = None  # PRV03, 10 characters ending in X
    tax_id: str | None = None  # EIN, 9 digits (billing provider only)
    address: Address | None = None


@dataclass(slots=True)
class Person:
    last_name: str
    first_name: str
    birth_date: dt.date
    gender: str  # M, F or U
    address: Address
    middle_name: str | None = None


@dataclass(slots=True)
class Payer:
    payer_id: str  # NM109 with qualifier PI
    name: str
    filing_indicator: ClaimFilingIndicator = ClaimFilingIndicator.COMMERCIAL
    address: Address | None = None


@dataclass(slots=True)
class Subscriber:
    member_id: str
    person: Person
    group_number: str | None = None


@dataclass(slots=True)
class OtherPayerLine:
    """Loop 2430: what a prior payer did with one service line (for secondary claims)."""

    paid: Decimal
    adjustments: tuple[tuple[str, str, Decimal], ...] = ()  # (group, CARC, amount)
    adjudication_date: dt.date | None = None
    # Added for the 837 builders (optional):
    payer_id: str | None = None  # SVD01: the 2330B payer; default: the first that adjudicated


@dataclass(slots=True)
class OtherCoverage:
    """Loop 2320/2330: another payer on the claim. For a secondary claim, the primary's adjudication."""

    payer: Payer
    subscriber: Subscriber
    responsibility: PayerResponsibility
    relationship: Relationship = Relationship.SELF
    paid: Decimal | None = None  # AMT*D, payer paid amount
    adjustments: tuple[tuple[str, str, Decimal], ...] = ()  # claim-level CAS (group, CARC, amount)
    adjudication_date: dt.date | None = None
    # Added for the 837 builders (optional):
    patient_liability: Decimal | None = None  # AMT*EAF, remaining patient liability after this payer


@dataclass(slots=True)
class ServiceLine:
    """Loop 2400. Professional lines carry a procedure; institutional lines a revenue code (and usually a
    procedure)."""

    line_number: int
    charge: Decimal
    units: Decimal
    service_date: dt.date
    procedure_code: str | None = None  # CPT/HCPCS, 5 characters
    modifiers: tuple[str, ...] = ()
    revenue_code: str | None = None  # 837I SV201
    diagnosis_pointers: tuple[int, ...] = (1,)  # 1-based into Claim.diagnoses (837P SV107)
    place_of_service: str | None = None  # only when it differs from the claim's
    unit_basis: str = "UN"  # UN units, MJ minutes; institutional uses DA (days) for room and board
    line_control_number: str | None = None  # REF*6R, echoed back in the 835 as REF*6R
    service_date_end: dt.date | None = None
    other_payer: OtherPayerLine | None = None
    # Loop 2410 drug identification (optional; Medicaid requires it on drug lines, HCPCS J0000-J9999):
    ndc: str | None = None  # LIN03, 11 digits (5-4-2, no hyphens)
    ndc_quantity: Decimal | None = None  # CTP04, in ndc_unit
    ndc_unit: str = "UN"  # CTP05-1: F2 international unit, GR gram, ME milligram, ML millilitre, UN unit
    prescription_number: str | None = None  # REF*XZ, when the drug was dispensed on a prescription


@dataclass(slots=True)
class Claim:
    """Loop 2300 with everything above it that the 837 needs.

    ``patient`` is ``None`` when the patient is the subscriber (relationship 18); the guide then puts the
    patient in loop 2010BA and omits loop 2000C.
    """

    claim_id: int
    claim_type: ClaimType
    patient_control_number: str  # CLM01, ours; at most 20 characters so payers do not truncate it
    total_charge: Decimal
    billing_provider: Provider
    payer: Payer
    subscriber: Subscriber
    diagnoses: list[str]  # ICD-10-CM without the dot; first is principal
    lines: list[ServiceLine]
    place_of_service: str = "11"  # 837P CLM05-1
    frequency: ClaimFrequency = ClaimFrequency.ORIGINAL
    responsibility: PayerResponsibility = PayerResponsibility.PRIMARY
    relationship: Relationship = Relationship.SELF
    patient: Person | None = None
    rendering_provider: Provider | None = None
    attending_provider: Provider | None = None  # 837I loop 2310A
    referring_provider: Provider | None = None
    payer_claim_control_number: str | None = None  # REF*F8 for frequency 7/8
    prior_authorization: str | None = None  # REF*G1
    onset_date: dt.date | None = None
    # Institutional (837I) only
    bill_type: str | None = None  # three characters, e.g. "111": CLM05-1 = "11", CLM05-3 = "1"
    statement_from: dt.date | None = None
    statement_to: dt.date | None = None
    admission_date: dt.date | None = None
    admission_hour: str | None = None
    admission_type: str | None = None  # CL101
    admission_source: str | None = None  # CL102
    patient_status: str | None = None  # CL103, discharge status
    other_coverages: list[OtherCoverage] = field(default_factory=list)
    # Added for the 837 builders (optional; defaults are what almost every practice sends):
    signature_on_file: str = "Y"  # 837P CLM06 provider signature indicator
    assignment: str = "A"  # CLM07 assignment or plan participation code (A, B, C)
    benefits_assigned: str = "Y"  # CLM08 / OI03 benefits assignment certification (Y, N, W)
    release_of_information: str = "Y"  # CLM09 / OI06 release of information (Y, I)
    admitting_diagnosis: str | None = None  # 837I HI*ABJ, inpatient
    reason_for_visit: tuple[str, ...] = ()  # 837I HI*APR, unscheduled outpatient, at most 3
    poa_indicators: tuple[str, ...] = ()  # 837I HI0n-9 present-on-admission, parallel to diagnoses
    discharge_hour: str | None = None  # 837I DTP*096 (HH or HHMM), final inpatient bills (frequency 1 or 4)

    @property
    def patient_person(self) -> Person:
        """The person the services were for, whichever loop they go in."""
        return self.patient if self.patient is not None else self.subscriber.person


@dataclass(slots=True)
class Party:
    """Submitter (1000A) or receiver (1000B)."""

    name: str
    identifier: str
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None


@dataclass(slots=True)
class InterchangeParties:
    """ISA/GS addressing for one trading partner, from the partner profile."""

    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    usage: str = "T"  # ISA15: T test, P production
    gs_sender: str | None = None  # defaults to sender_id
    gs_receiver: str | None = None  # defaults to receiver_id
    ack_requested: str = "0"  # ISA14
