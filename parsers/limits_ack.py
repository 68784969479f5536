"""Maximum sizes of the TA1/999/277CA (and envelope) elements the parsers emit and the loader stores.

Why: every value these parsers yield can end up in a column of ``acknowledgments``,
``acknowledgment_errors``, ``claim_statuses`` or ``interchanges`` (``claimflow/db/models.py``). A value
longer than its column (or a segment position beyond a 32-bit ``INTEGER``, an amount beyond
``NUMERIC(14,2)``) used to fail the load half-way with a driver traceback on PostgreSQL and be stored
whole on SQLite. The parsers refuse such a file up front with one :class:`~edi.errors.X12ParseError`
line — file, segment number, segment ID, element, never the value — so the loader quarantines it like
any malformed file.

Each limit is named after the element (``AK202_MAX``); the value is the implementation guide's maximum
length, or the storage column's length where that is shorter (said in the comment).
``tests/unit/parsers/test_limits_ack.py`` compares these constants with the model's column lengths (the
parsers package never imports ``claimflow``), so the two cannot drift apart.
"""

from __future__ import annotations

from decimal import Decimal

from edi.errors import X12ParseError

# ---- envelope (every transaction) ------------------------------------------------------------------------

ISA13_MAX = 9  # interchange control number, N0 9/9 → interchanges.isa13, remittances.isa13
ISA_QUALIFIER_MAX = 2  # ISA05/ISA07 interchange ID qualifier, ID 2/2
ISA_ID_MAX = 15  # ISA06 sender / ISA08 receiver ID, AN 15/15 → interchanges.sender_id, .receiver_id
GS06_MAX = 9  # group control number, N0 1/9 → remittances.gs06 (and the 999's own provenance)
ST02_MAX = 9  # transaction set control number, AN 4/9 → claim_statuses.st02, remittances.st02

# ---- TA1 → acknowledgments (kind TA1) ----------------------------------------------------------------------

TA101_MAX = 9  # interchange control number we sent, N0 9/9 → acknowledgments.acked_isa13
TA104_MAX = 1  # interchange acknowledgment code, ID 1/1 (A, E, R) → acknowledgments.code (VARCHAR(2))
TA105_MAX = 3  # interchange note code, ID 3/3 → acknowledgments.note_code

# ---- 999 → acknowledgments (kinds 999_set, 999_group) and acknowledgment_errors ------------------------

AK101_MAX = 2  # functional identifier code, ID 2/2 → acknowledgments.acked_transaction (VARCHAR(3))
AK102_MAX = 9  # group control number we sent, N0 1/9 → acknowledgments.acked_gs06
AK103_MAX = 12  # version / release / industry identifier code, AN 1/12
AK201_MAX = 3  # transaction set identifier code, ID 3/3 → acknowledgments.acked_transaction
AK202_MAX = 9  # transaction set control number we sent, AN 4/9 → acknowledgments.acked_st02
AK203_MAX = 35  # implementation convention reference, AN 1/35
IK501_MAX = 1  # transaction set acknowledgment code, ID 1/1 → acknowledgments.code (VARCHAR(2))
IK502_MAX = 3  # implementation transaction set syntax error code (IK502-IK506), ID 1/3 → .note_code
AK901_MAX = 1  # functional group acknowledge code, ID 1/1 → acknowledgments.code (VARCHAR(2))
AK905_MAX = 3  # functional group syntax error code (AK905-AK909), ID 1/3 → acknowledgments.note_code
IK301_MAX = 3  # segment ID code, ID 2/3 → acknowledgment_errors.segment_id
IK302_DIGITS = 10  # segment position in transaction set, N0 1/10 → acknowledgment_errors.segment_position
IK303_MAX = 6  # loop identifier code, AN 1/4 in the guide; senders write "2010BA" too, and
#               acknowledgment_errors.loop_id is VARCHAR(6): the column's length is the limit
IK304_MAX = 3  # implementation segment syntax error code, ID 1/3 → acknowledgment_errors.error_code
IK401_DIGITS = 2  # IK401-1 element position / -2 component position, N0 1/2 → element_position "9:1"
IK401_3_DIGITS = 4  # IK401-3 repeating data element position, N0 1/4 (not stored)
IK402_MAX = 4  # data element reference number, N0 1/4
IK403_MAX = 3  # implementation data element syntax error code, ID 1/3 → acknowledgment_errors.error_code
CTX01_2_MAX = 38  # CTX*CLM01 business unit value: our CLM01 (AN 1/38) → .patient_control_number
ELEMENT_POSITION_MAX = 10  # acknowledgment_errors.element_position: "IK401-1:IK401-2" (at most "99:99")
INTEGER_MAX = 2**31 - 1  # a 32-bit INTEGER column (segment positions)

# ---- 277CA → claim_statuses -------------------------------------------------------------------------------

TRN02_MAX = (
    50  # trace number, AN 1/50 (2200B batch trace, 2200C provider trace) → claim_statuses.trace_number
)
PCN_MAX = 38  # 2200D TRN02: our CLM01, AN 1/38 in the 837 → claim_statuses.patient_control_number
REF_1K_MAX = 50  # payer claim control number, AN 1/50 → claim_statuses.payer_claim_number
STC01_1_MAX = 3  # health care claim status category code, AN 1/30; claim_statuses.category VARCHAR(3)
STC01_2_MAX = 5  # health care claim status code, AN 1/30; claim_statuses.status_code VARCHAR(5)
STC01_3_MAX = 3  # entity identifier code, ID 2/3 → claim_statuses.entity_code
STC03_MAX = 2  # action code, ID 1/2 (WQ accept, U reject)
NM108_MAX = 2  # identification code qualifier, ID 1/2 (2100C: XX NPI, FI tax id)
NM109_MAX = 80  # identification code, AN 2/80 (2100B/2100C) → claim_statuses.entity_identifier

MONEY_INTEGER_DIGITS = 12
"""STC04 / AMT02 amounts are stored as NUMERIC(14,2) (``claim_statuses.amount``): ±999,999,999,999.99."""
MONEY_DECIMALS = 2

STORED_STRING_LIMITS: dict[str, tuple[int, str]] = {
    "ISA13": (ISA13_MAX, "interchanges.isa13"),
    "ISA06": (ISA_ID_MAX, "interchanges.sender_id"),
    "ISA08": (ISA_ID_MAX, "interchanges.receiver_id"),
    "ST02": (ST02_MAX, "claim_statuses.st02"),
    "TA101": (TA101_MAX, "acknowledgments.acked_isa13"),
    "TA104": (TA104_MAX, "acknowledgments.code"),
    "TA105": (TA105_MAX, "acknowledgments.note_code"),
    "AK101": (AK101_MAX, "acknowledgments.acked_transaction"),
    "AK102": (AK102_MAX, "acknowledgments.acked_gs06"),
    "AK201": (AK201_MAX, "acknowledgments.acked_transaction"),
    "AK202": (AK202_MAX, "acknowledgments.acked_st02"),
    "IK501": (IK501_MAX, "acknowledgments.code"),
    "IK502": (IK502_MAX, "acknowledgments.note_code"),
    "AK901": (AK901_MAX, "acknowledgments.code"),
    "AK905": (AK905_MAX, "acknowledgments.note_code"),
    "IK301": (IK301_MAX, "acknowledgment_errors.segment_id"),
    "IK303": (IK303_MAX, "acknowledgment_errors.loop_id"),
    "IK304": (IK304_MAX, "acknowledgment_errors.error_code"),
    "IK403": (IK403_MAX, "acknowledgment_errors.error_code"),
    "CTX01-2": (CTX01_2_MAX, "acknowledgment_errors.patient_control_number"),
    "IK401": (ELEMENT_POSITION_MAX, "acknowledgment_errors.element_position"),
    "2200D TRN02": (PCN_MAX, "claim_statuses.patient_control_number"),
    "2200B/2200C TRN02": (TRN02_MAX, "claim_statuses.trace_number"),
    "2100B/2100C NM109": (NM109_MAX, "claim_statuses.entity_identifier"),
    "REF02 (1K)": (REF_1K_MAX, "claim_statuses.payer_claim_number"),
    "STC01-1": (STC01_1_MAX, "claim_statuses.category"),
    "STC01-2": (STC01_2_MAX, "claim_statuses.status_code"),
    "STC01-3": (STC01_3_MAX, "claim_statuses.entity_code"),
}
"""Element → (limit, ``table.column`` it is stored in): what the model test compares."""


def too_long(
    value: str, limit: int, file: str | None, segno: int, sid: str, element: str
) -> X12ParseError | None:
    """The error for ``value`` longer than ``limit`` characters (``None`` when it fits)."""
    if len(value) <= limit:
        return None
    return X12ParseError(
        f"is longer than {limit} characters (the X12 maximum or its storage column)",
        file=file,
        segment_no=segno,
        segment_id=sid,
        element=element,
    )


def check_len(value: str, limit: int, file: str | None, segno: int, sid: str, element: str) -> str:
    """``value`` when it has at most ``limit`` characters; otherwise raise naming the element."""
    if len(value) > limit:
        err = too_long(value, limit, file, segno, sid, element)
        assert err is not None
        raise err
    return value


def check_money(
    value: Decimal | None, file: str | None, segno: int, sid: str, element: str
) -> Decimal | None:
    """A stored amount within NUMERIC(14,2), exact to the cent (never rounded); else raise."""
    if value is None:
        return None
    if abs(value) >= Decimal(10) ** MONEY_INTEGER_DIGITS:
        raise X12ParseError(
            "is out of range for an amount (more than ±999,999,999,999.99)",
            file=file,
            segment_no=segno,
            segment_id=sid,
            element=element,
        )
    if value != value.quantize(Decimal(1).scaleb(-MONEY_DECIMALS), rounding="ROUND_DOWN"):
        raise X12ParseError(
            "has a non-zero digit past the second decimal (amounts are exact to the cent, never rounded)",
            file=file,
            segment_no=segno,
            segment_id=sid,
            element=element,
        )
    return value


def check_digits(value: str, digits: int, file: str | None, segno: int, sid: str, element: str) -> None:
    """An ``N0`` element of at most ``digits`` digits (empty allowed); else raise."""
    if value and not (value.isascii() and value.isdigit() and len(value) <= digits):
        raise X12ParseError(
            f"is not a number of at most {digits} digits",
            file=file,
            segment_no=segno,
            segment_id=sid,
            element=element,
        )
