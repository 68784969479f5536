"""Typed records the inbound parsers yield: flat ``NamedTuple``\\ s, one per thing the database stores.

Every top-level record starts with the same provenance fields, so a loader can bulk-insert any of them
without looking anything up:

``file_sha256``
    hex SHA-256 of the file's bytes (given by the caller, who archived the file first, or computed by
    :func:`parsers.parse_file` before parsing). ``None`` when the parser was handed a stream without one.
``isa13`` / ``gs06`` / ``st02``
    interchange, group and transaction set control numbers of the envelope the record came from
    (``None`` for a file without that envelope level).
``segment_no``
    1-based number of the segment where the record starts (ISA = 1), as in every error message.

Nested parts (a claim's service lines, a line's adjustments) are small ``NamedTuple``\\ s with no
provenance of their own: they belong to the record that holds them. Repeated parts of 835 records are
``Sequence``\\ s: a list when there are some, the empty tuple when there are none (building them as lists
keeps the parser linear and fast; treat them as read-only). Money is ``Decimal``; dates are
``datetime.date``; code values are the strings on the wire.

Records that carry patient data (names, member IDs, bad values echoed in a 999) mask them in ``repr()``,
so a record that ends up in a log line or a traceback does not leak PHI. The values are still there
for the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

PROVENANCE_FIELDS = ("file_sha256", "isa13", "gs06", "st02", "segment_no")


# --------------------------------------------------------------------------------------------------------
# Shared parts


class Party(NamedTuple):
    """An NM1 name: ``NM1*QC*1*DOE*JANE*Q**JR*MI*M123~`` → entity ``QC``, person (``1``), IDs.

    Patient, insured and corrected names are PHI: ``repr`` shows only the entity code.
    """

    entity: str  # NM101: QC patient, IL insured, 74 corrected, 82 rendering, TT crossover, PR payer, 41, 85
    entity_type: str  # NM102: 1 person, 2 non-person
    last_or_org: str  # NM103
    first: str  # NM104
    middle: str  # NM105
    suffix: str  # NM107
    id_qualifier: str  # NM108: MI member ID, XX NPI, FI tax ID, PI payer ID, 46 ETIN ...
    id: str  # NM109

    def __repr__(self) -> str:
        return f"Party(entity={self.entity!r}, <masked>)"


class Contact(NamedTuple):
    """A PER segment: ``PER*BL*EDI SUPPORT*TE*8005551212*EM*EDI@PAYER.COM~``."""

    function: str  # PER01: CX claims, BL technical, IC website
    name: str  # PER02
    numbers: tuple[tuple[str, str], ...]  # (PER03, PER04), (PER05, PER06), (PER07, PER08)


class Adjustment(NamedTuple):
    """One reason of a CAS segment: ``CAS*PR*1*50*1*2*10~`` gives (PR, 1, 50, 1) and (PR, 2, 10, None)."""

    group: (
        str  # CAS01: CO contractual, OA other, PI payer initiated, PR patient responsibility, CR correction
    )
    reason: str  # CARC
    amount: Decimal
    quantity: Decimal | None


# --------------------------------------------------------------------------------------------------------
# TA1


class InterchangeAck(NamedTuple):
    """TA1 interchange acknowledgment: ``TA1*000000905*260115*1200*R*022~``.

    ``accepted`` is True for TA104 ``A`` (accepted) and ``E`` (accepted with errors), False for ``R``.
    """

    file_sha256: str | None
    isa13: str | None  # control number of the interchange that carries the TA1
    gs06: str | None  # always None: TA1 sits outside functional groups
    st02: str | None  # always None
    segment_no: int
    control_number: str  # TA101: the ISA13 we sent
    interchange_date: dt.date | None  # TA102 (YYMMDD)
    interchange_time: str  # TA103 (HHMM)
    ack_code: str  # TA104: A, E, R
    note_code: str  # TA105: 000 no error, 001–031 error codes
    accepted: bool


# --------------------------------------------------------------------------------------------------------
# 999 (005010X231A1)


class ErrorContext(NamedTuple):
    """A CTX segment: business unit (``CTX*CLM01:PCN123~``) or situational trigger context."""

    name: str  # CTX01-1: CLM01 (our patient control number follows) or SITUATIONAL TRIGGER
    reference: str  # CTX01-2: e.g. the patient control number
    segment_id: str  # CTX02
    segment_position: int | None  # CTX03
    loop_id: str  # CTX04
    element_position: str  # CTX05 composite as text, e.g. "2:1"
    element_reference: str  # CTX06 data element reference number


class ElementError(NamedTuple):
    """An IK4 data element note. ``bad_value`` (IK404) may be patient data: ``repr`` masks it."""

    position: int | None  # IK401-1 element position in segment
    component_position: int | None  # IK401-2
    repetition_position: int | None  # IK401-3
    data_element_reference: str  # IK402
    error_code: str  # IK403: 1 required missing, 2 conditional missing, 4 too short, 7 invalid code, ...
    bad_value: str  # IK404 (PHI possible; never log)
    contexts: tuple[ErrorContext, ...]

    def __repr__(self) -> str:
        return (
            f"ElementError(position={self.position!r}, component_position={self.component_position!r}, "
            f"data_element_reference={self.data_element_reference!r}, error_code={self.error_code!r}, "
            f"bad_value=<masked>)"
        )


class SegmentError(NamedTuple):
    """An IK3 segment note with its CTX and IK4 children: ``IK3*NM1*17*2010*8~``."""

    segment_no: int  # where the IK3 is in the 999
    segment_id: str  # IK301: the segment in error in our transaction set
    position: int | None  # IK302: its position in our transaction set (ST = 1)
    loop_id: str  # IK303
    error_code: str  # IK304: 1 unrecognized, 2 unexpected, 3 required missing, 8 has data element errors, ...
    contexts: tuple[ErrorContext, ...]
    elements: tuple[ElementError, ...]

    @property
    def patient_control_number(self) -> str | None:
        """Our claim's PCN when the 999 names the business unit (``CTX*CLM01:PCN123``)."""
        for c in self.contexts:
            if c.name == "CLM01" and c.reference:
                return c.reference
        return None


class TransactionSetAck(NamedTuple):
    """One AK2..IK5 loop: the fate of one transaction set we sent (``AK2*837*0001~ … IK5*R*5~``).

    ``accepted``: IK501 ``A`` (accepted) or ``E`` (accepted, errors noted) → True; ``R``, ``M``, ``W``,
    ``X`` → False.
    """

    file_sha256: str | None
    isa13: str | None
    gs06: str | None
    st02: str | None  # the 999's own ST02
    segment_no: int  # the AK2 segment
    group_control_number: str  # AK102: the GS06 we sent
    functional_id: str  # AK101: HC for 837
    group_version: str  # AK103
    set_id: str  # AK201: 837
    set_control_number: str  # AK202: the ST02 we sent
    implementation_reference: str  # AK203: 005010X222A1
    status: str  # IK501
    accepted: bool
    syntax_errors: tuple[str, ...]  # IK502–IK506
    errors: tuple[SegmentError, ...]


class FunctionalGroupAck(NamedTuple):
    """AK1..AK9: the fate of one functional group we sent (``AK9*P*2*2*1~``).

    ``accepted``: AK901 ``A``, ``E`` or ``P`` (partially accepted) → True; ``R``, ``M``, ``W``, ``X`` → False.
    """

    file_sha256: str | None
    isa13: str | None
    gs06: str | None
    st02: str | None
    segment_no: int  # the AK1 segment
    group_control_number: str  # AK102
    functional_id: str  # AK101
    group_version: str  # AK103
    status: str  # AK901
    accepted: bool
    sets_included: int | None  # AK902
    sets_received: int | None  # AK903
    sets_accepted: int | None  # AK904
    syntax_errors: tuple[str, ...]  # AK905–AK909
    set_acks: int  # how many AK2 loops the group had


# --------------------------------------------------------------------------------------------------------
# 277CA (005010X214)


class Status(NamedTuple):
    """One status composite: STC01, STC10 or STC11 (``A7:562:85``) with the STC's date and amounts."""

    category: str  # -1: A1 received, A2 accepted, A3 returned, A4 not found, A6/A7 rejected, A8 ...
    code: str  # -2: claim status code (code source 508)
    entity: str  # -3: entity identifier code (the party in error)
    code_list_qualifier: str  # -4 (NCPDP reject code list)
    element: str  # "STC01", "STC10" or "STC11"


class LineStatus(NamedTuple):
    """A 2220D service line of a 277CA: ``SVC*HC:99213*150*****1~`` with its STC/REF*FJ/DTP*472."""

    segment_no: int
    procedure_qualifier: str
    procedure_code: str
    modifiers: tuple[str, ...]
    charge: Decimal | None  # SVC02
    revenue_code: str  # SVC04
    units: Decimal | None  # SVC07
    statuses: tuple[Status, ...]
    control_number: str | None  # REF*FJ, our line item control number
    service_date_from: dt.date | None
    service_date_to: dt.date | None
    accepted: bool | None  # this line's STCs, the same rule as the claim's


class ClaimStatus(NamedTuple):
    """A 2200D claim status tracking loop of a 277CA.

    ``accepted``: False when any STC of the claim **or of one of its 2220D service lines** has category
    A3, A4, A6, A7 or A8 or action code ``U`` (STC03 reject) — a rejected line rejects the claim; else
    True when a category is A1, A2 or A5; None when the payer used only other categories (e.g. A0, E0).
    """

    file_sha256: str | None
    isa13: str | None
    gs06: str | None
    st02: str | None
    segment_no: int  # the TRN of the 2200D loop
    patient_control_number: str  # TRN02: our CLM01
    payer_claim_control_number: str | None  # REF*1K
    clearinghouse_trace: str | None  # REF*D9
    bill_type: str | None  # REF*BLT
    medical_record_number: str | None  # REF*EA
    statuses: tuple[Status, ...]  # every STC01/STC10/STC11 of every STC in the loop
    category: str  # first STC01-1
    status_code: str  # first STC01-2
    accepted: bool | None
    status_date: dt.date | None  # STC02
    action_code: str  # STC03
    charge: Decimal | None  # STC04
    message: str  # STC12 free-form message
    service_date_from: dt.date | None  # DTP*472
    service_date_to: dt.date | None
    payer: Party | None  # 2100A
    receiver: Party | None  # 2100B
    provider: Party | None  # 2100C billing provider
    patient: Party | None  # 2100D (PHI)
    provider_trace: str | None  # 2200C TRN02
    batch_trace: str | None  # 2200B TRN02 (the BHT03 we sent)
    lines: tuple[LineStatus, ...]


class LevelStatus(NamedTuple):
    """Status of a whole batch (2200B, information receiver) or provider (2200C) in a 277CA.

    ``QTY*90``/``QTY*QA`` and ``QTY*AA``/``QTY*QC`` are the accepted/rejected claim counts,
    ``AMT*YU``/``AMT*YY`` the accepted/rejected amounts.

    What it covers: a 2200B status is about the whole 837 we sent whose BHT03 is ``batch_trace`` (the
    2200B TRN02); a 2200C status is about that batch's claims of the billing provider
    ``provider_id_qualifier``/``provider_id`` (2100C NM108/NM109). ``accepted`` follows the claim rule
    (a reject category or STC03 ``U`` rejects): a rejected level rejects every claim it covers, also
    when the 277CA lists none of them in 2000D loops.
    """

    file_sha256: str | None
    isa13: str | None
    gs06: str | None
    st02: str | None
    segment_no: int  # the TRN of the loop (or its first STC when it has no TRN)
    loop: str  # "2200B" or "2200C"
    trace_number: str | None  # TRN02
    entity: Party | None  # NM1 of 2100B/2100C
    statuses: tuple[Status, ...]
    accepted: bool | None
    status_date: dt.date | None
    accepted_quantity: Decimal | None
    rejected_quantity: Decimal | None
    accepted_amount: Decimal | None
    rejected_amount: Decimal | None
    references: tuple[tuple[str, str], ...]
    level: str  # "batch" (2200B) or "provider" (2200C), as claim_statuses.level stores it
    batch_trace: str | None  # the 2200B TRN02 this status falls under (its own for 2200B): our BHT03
    provider_id_qualifier: str | None  # 2100C NM108 (XX NPI, FI tax id); None for a batch
    provider_id: str | None  # 2100C NM109; None for a batch
    action_code: str  # STC03 of the first STC: WQ accept, U reject


# --------------------------------------------------------------------------------------------------------
# 835 (005010X221A1)


class Remittance(NamedTuple):
    """Header of one 835 transaction set: BPR, TRN, CUR, REF, DTM*405 and loops 1000A (payer), 1000B (payee).

    Yielded before the transaction's first claim (or at its end when it has none).
    ``BPR*I*1512.50*C*ACH*CCP*01*011000015*DA*123456789*1512345678**01*021000021*DA*987654321*20260115~``
    """

    file_sha256: str | None
    isa13: str | None
    gs06: str | None
    st02: str | None
    segment_no: int  # ST
    sender_id: str | None  # GS02 (the payer's application sender code)
    receiver_id: str | None  # GS03
    handling_code: str  # BPR01: I remittance + payment, H notification only (no payment), C, D, P, U, X
    payment_amount: Decimal  # BPR02
    credit_debit: str  # BPR03: C or D
    payment_method: str  # BPR04: ACH, CHK, FWT, BOP, NON
    payment_format: str  # BPR05: CCP, CTX
    originating_dfi_qualifier: str  # BPR06
    originating_dfi_id: str  # BPR07
    originating_account_qualifier: str  # BPR08
    originating_account: str  # BPR09
    originating_company_id: str  # BPR10
    originating_company_code: str  # BPR11
    receiving_dfi_qualifier: str  # BPR12
    receiving_dfi_id: str  # BPR13
    receiving_account_qualifier: str  # BPR14
    receiving_account: str  # BPR15
    payment_date: dt.date | None  # BPR16: check issue or EFT effective date
    trace_type: str  # TRN01
    trace_number: str  # TRN02: check or EFT trace number (reassociation key)
    trace_originator: str  # TRN03
    trace_reference: str  # TRN04
    currency: str | None  # CUR02
    receiver_reference: str | None  # REF*EV
    version_reference: str | None  # REF*F2
    production_date: dt.date | None  # DTM*405
    payer_name: str  # 1000A N102
    payer_id_qualifier: str  # N103
    payer_id: str  # N104
    payer_address: tuple[str, ...]  # N301, N302
    payer_city: str
    payer_state: str
    payer_postal_code: str
    payer_country: str
    payer_references: Sequence[tuple[str, str]]  # REF*2U, EO, HI, NF
    payer_contacts: Sequence[Contact]  # PER*CX, BL, IC
    payee_name: str  # 1000B N102
    payee_id_qualifier: str  # N103: XX NPI, FI tax ID
    payee_id: str
    payee_address: tuple[str, ...]
    payee_city: str
    payee_state: str
    payee_postal_code: str
    payee_country: str
    payee_references: Sequence[tuple[str, str]]  # REF*TJ, PQ, 0B, D3
    payee_remittance_delivery: tuple[str, ...]  # RDM elements


class ProviderSummary(NamedTuple):
    """LX header number with TS3 (and TS2) provider summary: ``LX*1~TS3*1234567893*11*20261231*3*850~``."""

    file_sha256: str | None
    isa13: str | None
    gs06: str | None
    st02: str | None
    segment_no: int  # LX
    lx_number: str  # LX01
    provider_id: str | None  # TS301
    facility_type: str | None  # TS302
    fiscal_period_end: dt.date | None  # TS303
    claim_count: Decimal | None  # TS304
    total_charge: Decimal | None  # TS305
    amounts: tuple[tuple[str, Decimal], ...]  # other TS3/TS2 amounts keyed by element ("TS313", "TS202")


class ServiceLine(NamedTuple):
    """A 2110 service payment loop: ``SVC*HC:99213:25*150*110**1~`` with DTM, CAS, REF, AMT, QTY, LQ."""

    segment_no: int  # SVC
    procedure_qualifier: str  # SVC01-1: HC, AD, ER, IV, N4, NU (revenue code), WK, ZZ
    procedure_code: str  # SVC01-2
    modifiers: tuple[str, ...]  # SVC01-3..6
    procedure_description: str  # SVC01-7
    charge: Decimal  # SVC02
    paid: Decimal  # SVC03
    revenue_code: str  # SVC04 (NUBC)
    units: Decimal | None  # SVC05 units of service paid
    original_procedure_qualifier: str  # SVC06-1 (the procedure as submitted, when the payer changed it)
    original_procedure_code: str  # SVC06-2
    original_modifiers: tuple[str, ...]  # SVC06-3..6
    original_units: Decimal | None  # SVC07
    service_date: dt.date | None  # DTM*472
    service_date_from: dt.date | None  # DTM*150
    service_date_to: dt.date | None  # DTM*151
    control_number: str | None  # REF*6R: the line item control number we sent (2400 REF*6R)
    allowed: Decimal | None  # AMT*B6
    adjustments: Sequence[Adjustment]
    remark_codes: Sequence[str]  # LQ*HE (RARC)
    ncpdp_reject_codes: Sequence[str]  # LQ*RX
    references: Sequence[tuple[str, str]]  # other REF (1S, APC, BB, E9, G1, G3, LU, RB, 0K, HPI, SY, TJ …)
    amounts: Sequence[tuple[str, Decimal]]  # other AMT (KH, T, T2, ZK, ZL, ZM, ZN, ZO)
    quantities: Sequence[tuple[str, Decimal]]  # QTY (ZK, ZL, ZM, ZN, ZO)


class InpatientAdjudication(NamedTuple):
    """MIA: ``MIA*0***120.50~``. Amounts by element name (``MIA04`` DRG amount …), remark codes apart."""

    covered_days: Decimal | None  # MIA01
    lifetime_psychiatric_days: Decimal | None  # MIA03
    amounts: tuple[tuple[str, Decimal], ...]  # MIA02, MIA04, MIA06–MIA19 except MIA15 (a count)
    cost_report_day_count: Decimal | None  # MIA15
    remark_codes: tuple[str, ...]  # MIA05, MIA20–MIA23


class OutpatientAdjudication(NamedTuple):
    """MOA: ``MOA***MA130~``."""

    reimbursement_rate: Decimal | None  # MOA01 (percent as a fraction)
    hcpcs_payable_amount: Decimal | None  # MOA02
    remark_codes: tuple[str, ...]  # MOA03–MOA07
    esrd_payment_amount: Decimal | None  # MOA08
    nonpayable_professional_component: Decimal | None  # MOA09


class ClaimPayment(NamedTuple):
    """A 2100 claim payment loop with its 2110 service lines.

    ``CLP*PCN123*1*250*175*25*12*PAYERCLM1*11*1~`` — our patient control number, status (1 processed as
    primary, 2 secondary, 3 tertiary, 4 denied, 19–21 forwarded, 22 reversal of previous payment, 23 not
    our claim, 25 predetermination), charge, payment, patient responsibility, filing indicator, the
    payer's claim control number, facility type and frequency. A correction remittance names the claim
    it corrects with ``REF*F8*ORIGINAL123~`` (``original_reference_number``).
    """

    file_sha256: str | None
    isa13: str | None
    gs06: str | None
    st02: str | None
    segment_no: int  # CLP
    lx_number: str | None  # LX01 of the header number loop the claim sits in
    patient_control_number: str  # CLP01
    status: str  # CLP02
    charge: Decimal  # CLP03
    paid: Decimal  # CLP04
    patient_responsibility: Decimal | None  # CLP05
    filing_indicator: str  # CLP06
    payer_claim_control_number: str  # CLP07
    facility_type: str  # CLP08
    frequency: str  # CLP09
    drg_code: str  # CLP11
    drg_weight: Decimal | None  # CLP12
    discharge_fraction: Decimal | None  # CLP13
    patient: Party | None  # NM1*QC
    insured: Party | None  # NM1*IL
    corrected_patient: Party | None  # NM1*74
    service_provider: Party | None  # NM1*82 (rendering provider)
    crossover_carrier: Party | None  # NM1*TT
    corrected_payer: Party | None  # NM1*PR (corrected priority payer)
    other_parties: Sequence[Party]  # NM1*GB and anything else
    inpatient: InpatientAdjudication | None  # MIA
    outpatient: OutpatientAdjudication | None  # MOA
    statement_from: dt.date | None  # DTM*232
    statement_to: dt.date | None  # DTM*233
    received_date: dt.date | None  # DTM*050
    coverage_expiration: dt.date | None  # DTM*036
    other_dates: Sequence[tuple[str, dt.date]]  # other DTM qualifiers
    references: Sequence[tuple[str, str]]  # claim REF: 1L, 1W, 28, 6P, 9A, 9C, BB, CE, EA, F8, G1, G3 …
    original_reference_number: str | None  # REF*F8 (first one; it stays in ``references`` too)
    contacts: Sequence[Contact]  # PER*CX
    amounts: Sequence[tuple[str, Decimal]]  # AMT: AU coverage, D8 discount, F5 patient paid, I interest …
    quantities: Sequence[tuple[str, Decimal]]  # QTY: CA, CD, LA, LE, NE, NR, OU, PS, VS, ZK …
    adjustments: Sequence[Adjustment]  # claim-level CAS
    lines: Sequence[ServiceLine]

    @property
    def remark_codes(self) -> tuple[str, ...]:
        """Claim-level RARCs from MIA and MOA."""
        out: tuple[str, ...] = ()
        if self.inpatient is not None:
            out += self.inpatient.remark_codes
        if self.outpatient is not None:
            out += self.outpatient.remark_codes
        return out

    @property
    def is_reversal(self) -> bool:
        return self.status == "22"


class ProviderAdjustment(NamedTuple):
    """One reason/amount pair of a PLB segment: ``PLB*1234567893*20261231*WO:OVP123*45.20*L6:INT*-1.25~``.

    A positive amount reduces the payment (money the provider owes: WO overpayment recovery, FB
    forwarding balance, 72 authorized return, CS adjustment…); a negative one increases it (L6 interest).
    """

    file_sha256: str | None
    isa13: str | None
    gs06: str | None
    st02: str | None
    segment_no: int  # PLB
    provider_id: str  # PLB01
    fiscal_period_end: dt.date | None  # PLB02
    reason: str  # PLB03-1 (and 05-1, 07-1, …)
    reference: str  # PLB03-2: e.g. the payer claim control number of the claim being recouped
    amount: Decimal  # PLB04 (06, 08, …)


class RemittanceTotals(NamedTuple):
    """End of an 835 transaction set (SE), with the sums the balancing and the summary need."""

    file_sha256: str | None
    isa13: str | None
    gs06: str | None
    st02: str | None
    segment_no: int  # SE
    claims: int
    service_lines: int
    total_charge: Decimal  # ΣCLP03
    total_paid: Decimal  # ΣCLP04
    total_patient_responsibility: Decimal  # ΣCLP05
    provider_adjustments: Decimal  # ΣPLB amounts
    payment_amount: Decimal  # BPR02
    segment_count: int  # SE01
    unbalanced_claims: int  # claims where CLP03 − CLP04 ≠ Σ claim and line CAS (see eob.balance)
    unbalanced_lines: int  # lines where SVC02 − SVC03 ≠ Σ line CAS


# --------------------------------------------------------------------------------------------------------
# 271 eligibility response (005010X279A1) and 277 claim status response (005010X212)


class Benefit(NamedTuple):
    """One EB segment: ``EB*C*IND*30***29*600.00~`` → deductible (C), individual, remaining (29) 600.00."""

    info: str  # EB01: 1 active, 6 inactive, A coinsurance, B co-payment, C deductible, G out of pocket ...
    coverage_level: str  # EB02: IND, FAM, EMP ...
    service_types: tuple[str, ...]  # EB03 (repeats)
    insurance_type: str  # EB04
    plan: str  # EB05 plan coverage description
    time_period: str  # EB06: 23 calendar year, 29 remaining ...
    amount: Decimal | None  # EB07
    percent: Decimal | None  # EB08 (0.2 = 20 %)
    in_network: str  # EB12: Y, N, W (not applicable), U


class Rejection(NamedTuple):
    """An AAA: ``AAA*Y**75*C~`` → valid request (Y), reason 75 (subscriber not found), follow-up C."""

    valid_request: str  # AAA01
    reason: str  # AAA03
    follow_up: str  # AAA04
    loop: str  # 2000A, 2100A, 2100B, 2100C, 2100D, 2110C, 2110D


class Eligibility(NamedTuple):
    """A 2000C subscriber or 2000D dependent loop of a 271 (or a 2000A/2000B loop that only rejects).

    ``active``: True when an EB01 1–5 is present, False for EB01 6/7/8 (inactive), None when the loop has
    only AAA rejections. ``member`` is PHI: masked in ``repr``.
    """

    file_sha256: str | None
    isa13: str | None
    gs06: str | None
    st02: str | None
    segment_no: int  # the HL of the loop
    level: str  # subscriber, dependent, source, receiver
    trace_number: str | None  # TRN*2 TRN02: the trace of our 270 (claimflow: "CF<coverage id>-<date>")
    payer: Party | None
    provider: Party | None
    member: Party | None
    group_number: str | None  # REF*6P / REF*IG
    active: bool | None
    coverage_from: dt.date | None  # DTP 346/356/291/307
    coverage_to: dt.date | None  # DTP 347/357 or the end of an RD8
    plan: str | None  # first EB05 (or EB*1 plan)
    deductible_remaining: Decimal | None  # EB*C … EB06 29
    out_of_pocket_remaining: Decimal | None  # EB*G … EB06 29
    copay: Decimal | None  # EB*B EB07
    coinsurance: Decimal | None  # EB*A EB08
    benefits: tuple[Benefit, ...]
    rejections: tuple[Rejection, ...]

    def __repr__(self) -> str:
        return (
            f"Eligibility(segment_no={self.segment_no}, level={self.level!r}, trace={self.trace_number!r}, "
            f"active={self.active!r}, <member masked>)"
        )


Record = (
    InterchangeAck
    | FunctionalGroupAck
    | TransactionSetAck
    | ClaimStatus
    | LevelStatus
    | Remittance
    | ProviderSummary
    | ClaimPayment
    | ProviderAdjustment
    | RemittanceTotals
    | Eligibility
)
"""Anything :func:`parsers.parse_file` yields."""
