"""The scrub rules. Each takes a claim and a :class:`ScrubContext` and yields reasons.

Reasons are read by billing staff and land in logs and the database, so they name the field and the
X12 element it becomes (``subscriber member id (2010BA NM109)``) and the line number, never the value:
no names, member ids, dates of birth, addresses, nor diagnosis codes (a diagnosis tied to a claim is PHI).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from edi.claim import (
    Address,
    Claim,
    ClaimFilingIndicator,
    ClaimFrequency,
    ClaimType,
    PayerResponsibility,
    Person,
    Provider,
    Relationship,
)
from edi.scrub.codes import (
    ANNUAL_WELLNESS_VISIT,
    BILL_TYPE,
    DRUG_HCPCS,
    EIN,
    EMERGENCY_ROOM,
    ESTABLISHED_PATIENT_EM,
    FINAL_FREQUENCIES,
    HOUR,
    INPATIENT_FACILITY_TYPES,
    MODIFIER,
    NDC,
    NDC_UNITS,
    NEW_PATIENT_EM,
    PO_BOX,
    POS_CODES,
    POSTAL_CODE,
    PREVENTIVE_AGE_BANDS,
    PROCEDURE_CODE,
    REVENUE_CODE,
    ROOM_AND_BOARD,
    ROOM_AND_BOARD_FACILITY_TYPES,
    TAXONOMY,
    UNSCHEDULED_ADMISSION_TYPES,
    UNSCHEDULED_VISIT_FACILITY_TYPES,
    US_STATES,
    ZIP9,
    age_on,
    icd10_status,
    npi_is_valid,
)
from edi.writer import text_is_safe, unsafe_reason

PROFESSIONAL = frozenset({ClaimType.PROFESSIONAL})
INSTITUTIONAL = frozenset({ClaimType.INSTITUTIONAL})
BOTH = frozenset(ClaimType)

MAX_DIAGNOSES = {ClaimType.PROFESSIONAL: 12, ClaimType.INSTITUTIONAL: 25}
MAX_LINES = {ClaimType.PROFESSIONAL: 50, ClaimType.INSTITUTIONAL: 999}
MAX_POINTERS = 4


@dataclass(frozen=True, slots=True)
class ScrubContext:
    today: dt.date


RuleFunc = Callable[[Claim, ScrubContext], Iterable[str]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A registered rule: stable ``id`` (stored with findings, never renamed), what it checks, for which
    claim types."""

    id: str
    description: str
    check: RuleFunc
    claim_types: frozenset[ClaimType] = BOTH


RULES: dict[str, Rule] = {}
"""Registry, in evaluation order. Rule ids are stable: they are stored with findings."""


def rule(
    rule_id: str, description: str, claim_types: frozenset[ClaimType] = BOTH
) -> Callable[[RuleFunc], RuleFunc]:
    def register(func: RuleFunc) -> RuleFunc:
        if rule_id in RULES:
            raise ValueError(f"duplicate scrub rule id {rule_id}")
        RULES[rule_id] = Rule(rule_id, description, func, claim_types)
        return func

    return register


# ---------------------------------------------------------------------------------------------- helpers


def _providers(claim: Claim) -> Iterator[tuple[str, Provider]]:
    yield "billing provider (2010AA)", claim.billing_provider
    if claim.rendering_provider is not None:
        loop = "2310B" if claim.claim_type == ClaimType.PROFESSIONAL else "2310D"
        yield f"rendering provider ({loop})", claim.rendering_provider
    if claim.attending_provider is not None:
        yield "attending provider (2310A)", claim.attending_provider
    if claim.referring_provider is not None:
        loop = "2310A" if claim.claim_type == ClaimType.PROFESSIONAL else "2310F"
        yield f"referring provider ({loop})", claim.referring_provider


def _blank(v: object) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _address(what: str, loop: str, a: Address | None, *, zip9: bool = False) -> Iterator[str]:
    if a is None:
        yield f"{what} address ({loop} N3/N4) is missing"
        return
    if _blank(a.line1):
        yield f"{what} address line ({loop} N301) is missing"
    if _blank(a.city):
        yield f"{what} city ({loop} N401) is missing"
    if a.state not in US_STATES:
        yield f"{what} state ({loop} N402) is not a USPS state code"
    if zip9:
        if not ZIP9.match(a.postal_code or ""):
            yield f"{what} ZIP code ({loop} N403) must be 9 digits"
    elif not POSTAL_CODE.match(a.postal_code or ""):
        yield f"{what} ZIP code ({loop} N403) must be 5 or 9 digits"


def _person(what: str, loop: str, p: Person | None) -> Iterator[str]:
    if p is None:
        yield f"{what} ({loop}) is missing"
        return
    if _blank(p.last_name):
        yield f"{what} last name ({loop} NM103) is missing"
    if _blank(p.first_name):
        yield f"{what} first name ({loop} NM104) is missing"
    if not isinstance(p.birth_date, dt.date):
        yield f"{what} birth date ({loop} DMG02) is missing"
    if p.gender not in ("M", "F", "U"):
        yield f"{what} gender ({loop} DMG03) must be M, F or U"
    yield from _address(what, loop, p.address)


def _line_label(claim: Claim, i: int) -> str:
    return f"line {i + 1}"


# ------------------------------------------------------------------------------------------------ rules


@rule("npi_luhn", "Every provider NPI is 10 digits with a valid check digit (Luhn over prefix 80840).")
def npi_luhn(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    for what, p in _providers(claim):
        if _blank(p.npi):
            yield f"{what} NPI (NM109) is missing"
        elif not npi_is_valid(p.npi):
            yield f"{what} NPI (NM109) is not 10 digits with a valid check digit"


@rule("icd10_billable", "Diagnosis codes are billable ICD-10-CM codes written without the decimal point.")
def icd10_billable(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    for i, code in enumerate(claim.diagnoses):
        status = icd10_status(code) if isinstance(code, str) else "is missing"
        if status:
            yield f"diagnosis {i + 1} (HI{i + 1:02d}) {status}"
    if claim.admitting_diagnosis:
        status = icd10_status(claim.admitting_diagnosis)
        if status:
            yield f"admitting diagnosis (HI*ABJ) {status}"
    for i, code in enumerate(claim.reason_for_visit):
        status = icd10_status(code)
        if status:
            yield f"reason for visit {i + 1} (HI*APR) {status}"


@rule("diagnosis_count", "At least one diagnosis; at most 12 on an 837P, 25 on an 837I; no duplicates.")
def diagnosis_count(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    n = len(claim.diagnoses)
    limit = MAX_DIAGNOSES[claim.claim_type]
    if n == 0:
        yield "the claim has no diagnosis (HI01 is required)"
    elif n > limit:
        yield f"the claim has {n} diagnoses; at most {limit} fit the {claim.claim_type.value} claim"
    if len(set(claim.diagnoses)) != n:
        yield "the same diagnosis code is listed more than once"
    if claim.poa_indicators and len(claim.poa_indicators) != n:
        yield "present-on-admission indicators do not pair up with the diagnoses"
    for i, poa in enumerate(claim.poa_indicators):
        if poa not in ("Y", "N", "U", "W", "1"):
            yield f"present-on-admission indicator {i + 1} (HI0n-9) must be Y, N, U, W or 1"


@rule(
    "diagnosis_pointers",
    "837P line pointers (SV107) are 1 to 4 distinct values within 1..number of diagnoses.",
    PROFESSIONAL,
)
def diagnosis_pointers(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    n = len(claim.diagnoses)
    for i, line in enumerate(claim.lines):
        ptrs = line.diagnosis_pointers
        label = _line_label(claim, i)
        if not ptrs:
            yield f"{label}: no diagnosis pointer (SV107-1 is required)"
            continue
        if len(ptrs) > MAX_POINTERS:
            yield f"{label}: {len(ptrs)} diagnosis pointers; at most {MAX_POINTERS}"
        if len(set(ptrs)) != len(ptrs):
            yield f"{label}: a diagnosis pointer is repeated"
        for p in ptrs:
            if not isinstance(p, int) or not 1 <= p <= min(n, 12):
                yield f"{label}: diagnosis pointer {p} is outside 1..{min(n, 12)}"


@rule("charges_balance", "Line charges add up to the claim total; no negative charges.")
def charges_balance(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    total = sum((ln.charge for ln in claim.lines), Decimal(0))
    if total != claim.total_charge:
        yield f"line charges add up to {total}, the claim total (CLM02) says {claim.total_charge}"
    if claim.total_charge <= 0:
        yield "claim total charge (CLM02) must be positive"
    for i, line in enumerate(claim.lines):
        if line.charge < 0:
            yield f"{_line_label(claim, i)}: charge is negative"


@rule("amount_format", "Amounts carry at most two decimal places (cents).")
def amount_format(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    def cents_ok(a: Decimal) -> bool:
        return a.is_finite() and a == a.quantize(Decimal("0.01"))

    if not cents_ok(claim.total_charge):
        yield "claim total charge (CLM02) has more than two decimal places"
    for i, line in enumerate(claim.lines):
        if not cents_ok(line.charge):
            yield f"{_line_label(claim, i)}: charge has more than two decimal places"
        if line.other_payer is not None and not cents_ok(line.other_payer.paid):
            yield f"{_line_label(claim, i)}: prior payer paid amount (SVD02) has more than two decimal places"
    for j, oc in enumerate(claim.other_coverages):
        if oc.paid is not None and not cents_ok(oc.paid):
            yield f"other payer {j + 1}: paid amount (AMT*D) has more than two decimal places"


@rule("service_date_future", "No service, statement or admission date after today.")
def service_date_future(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    today = ctx.today
    for i, line in enumerate(claim.lines):
        if line.service_date > today or (line.service_date_end is not None and line.service_date_end > today):
            yield f"{_line_label(claim, i)}: service date (DTP*472) is in the future"
    if claim.statement_to is not None and claim.statement_to > today:
        yield "statement period (DTP*434) ends in the future"
    if claim.admission_date is not None and claim.admission_date > today:
        yield "admission date (DTP*435) is in the future"
    if claim.onset_date is not None and claim.onset_date > today:
        yield "onset date (DTP*431) is in the future"


@rule("service_date_before_birth", "No service or admission date before the patient's birth.")
def service_date_before_birth(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    born = claim.patient_person.birth_date
    if not isinstance(born, dt.date):
        return
    for i, line in enumerate(claim.lines):
        if line.service_date < born:
            yield f"{_line_label(claim, i)}: service date (DTP*472) is before the patient's birth date"
    if claim.admission_date is not None and claim.admission_date < born:
        yield "admission date (DTP*435) is before the patient's birth date"
    if claim.statement_from is not None and claim.statement_from < born:
        yield "statement period (DTP*434) starts before the patient's birth date"


@rule("service_date_order", "Date spans run forward; line dates fall inside the statement period (837I).")
def service_date_order(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    for i, line in enumerate(claim.lines):
        if line.service_date_end is not None and line.service_date_end < line.service_date:
            yield f"{_line_label(claim, i)}: service period (DTP*472 RD8) ends before it starts"
    sf, st = claim.statement_from, claim.statement_to
    if sf is not None and st is not None:
        if st < sf:
            yield "statement period (DTP*434) ends before it starts"
        else:
            for i, line in enumerate(claim.lines):
                if not sf <= line.service_date <= st:
                    yield f"{_line_label(claim, i)}: service date is outside the statement period (DTP*434)"


@rule("subscriber_required", "Subscriber member id, name, birth date, gender and address; patient likewise.")
def subscriber_required(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    sub = claim.subscriber
    if _blank(sub.member_id):
        yield "subscriber member id (2010BA NM109) is missing"
    elif not 2 <= len(sub.member_id) <= 80:
        yield "subscriber member id (2010BA NM109) must be 2 to 80 characters"
    yield from _person("subscriber", "2010BA", sub.person)
    if claim.patient is not None:
        yield from _person("patient", "2010CA", claim.patient)
        if claim.relationship == Relationship.SELF:
            yield "a separate patient (2000C) needs a relationship other than self (PAT01)"
    elif claim.relationship != Relationship.SELF:
        yield "relationship is not self but no patient is given (2000C/2010CA)"


@rule("payer_required", "Payer id and name, for the destination payer and every other payer.")
def payer_required(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    payers = [("payer (2010BB)", claim.payer)] + [
        (f"other payer {j + 1} (2330B)", oc.payer) for j, oc in enumerate(claim.other_coverages)
    ]
    for what, payer in payers:
        if _blank(payer.payer_id):
            yield f"{what} id (NM109) is missing"
        elif not 2 <= len(payer.payer_id) <= 80:
            yield f"{what} id (NM109) must be 2 to 80 characters"
        if _blank(payer.name):
            yield f"{what} name (NM103) is missing"
        if payer.address is not None:
            yield from _address(what, "2010BB" if what.startswith("payer") else "2330B", payer.address)
    for j, oc in enumerate(claim.other_coverages):
        if _blank(oc.subscriber.member_id):
            yield f"other payer {j + 1} subscriber member id (2330A NM109) is missing"
        if oc.payer.payer_id == claim.payer.payer_id:
            yield f"other payer {j + 1} (2330B) is the same payer the claim is sent to (2010BB)"


@rule("billing_provider_required", "Billing provider NPI, name, street address with ZIP+4, and EIN.")
def billing_provider_required(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    bp = claim.billing_provider
    if _blank(bp.last_name):
        yield "billing provider name (2010AA NM103) is missing"
    if bp.entity_type not in ("1", "2"):
        yield "billing provider entity type (2010AA NM102) must be 1 or 2"
    if claim.claim_type == ClaimType.INSTITUTIONAL and bp.entity_type != "2":
        yield "an 837I billing provider must be an organization (2010AA NM102 = 2)"
    if bp.entity_type == "1" and _blank(bp.first_name):
        yield "billing provider first name (2010AA NM104) is missing"
    yield from _address("billing provider", "2010AA", bp.address, zip9=True)
    if bp.address is not None and (
        PO_BOX.search(bp.address.line1 or "") or PO_BOX.search(bp.address.line2 or "")
    ):
        yield "billing provider address (2010AA N3) must be a street address, not a post office box"
    if _blank(bp.tax_id):
        yield "billing provider tax id (2010AA REF*EI) is missing"
    elif not EIN.match(bp.tax_id or ""):
        yield "billing provider tax id (2010AA REF*EI) must be 9 digits without a hyphen"


@rule("place_of_service", "Place of service codes (CLM05-1, SV105) are in the CMS code set.", PROFESSIONAL)
def place_of_service(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    if claim.place_of_service not in POS_CODES:
        yield "place of service (CLM05-1) is not a CMS place-of-service code"
    for i, line in enumerate(claim.lines):
        if line.place_of_service is not None and line.place_of_service not in POS_CODES:
            yield f"{_line_label(claim, i)}: place of service (SV105) is not a CMS place-of-service code"


@rule("taxonomy_format", "Provider taxonomy codes are 10 characters ending in X.")
def taxonomy_format(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    for what, p in _providers(claim):
        if p.taxonomy is not None and not TAXONOMY.match(p.taxonomy):
            yield f"{what} taxonomy (PRV03) must be 10 characters ending in X"


@rule(
    "procedure_code_format",
    "CPT (4 digits + digit/F/T/U) or HCPCS Level II (letter + 4 digits); required on every 837P line.",
)
def procedure_code_format(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    element = "SV101-2" if claim.claim_type == ClaimType.PROFESSIONAL else "SV202-2"
    for i, line in enumerate(claim.lines):
        code = line.procedure_code
        if code is None:
            if claim.claim_type == ClaimType.PROFESSIONAL:
                yield f"{_line_label(claim, i)}: procedure code ({element}) is missing"
        elif not PROCEDURE_CODE.match(code):
            yield f"{_line_label(claim, i)}: procedure code ({element}) is not a CPT or HCPCS code"


@rule("modifier_format", "Procedure modifiers are 2 letters/digits, at most 4 per line.")
def modifier_format(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    for i, line in enumerate(claim.lines):
        mods = line.modifiers
        if len(mods) > 4:
            yield f"{_line_label(claim, i)}: {len(mods)} modifiers; at most 4"
        for k, m in enumerate(mods):
            if not isinstance(m, str) or not MODIFIER.match(m):
                yield f"{_line_label(claim, i)}: modifier {k + 1} is not 2 letters or digits"
        if mods and line.procedure_code is None:
            yield f"{_line_label(claim, i)}: modifiers without a procedure code"


@rule("units_positive", "Service units are greater than zero, with a valid unit basis.")
def units_positive(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    allowed = ("UN", "MJ") if claim.claim_type == ClaimType.PROFESSIONAL else ("UN", "DA")
    for i, line in enumerate(claim.lines):
        if not line.units.is_finite() or line.units <= 0:
            yield f"{_line_label(claim, i)}: units must be greater than zero"
        if line.unit_basis not in allowed:
            yield f"{_line_label(claim, i)}: unit basis must be one of {', '.join(allowed)}"


@rule("line_count", "At least one service line; at most 50 (837P) or 999 (837I).")
def line_count(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    n = len(claim.lines)
    if n == 0:
        yield "the claim has no service line"
    elif n > MAX_LINES[claim.claim_type]:
        yield f"the claim has {n} service lines; at most {MAX_LINES[claim.claim_type]}"


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(obj: object) -> tuple[str, ...]:
    """Field names of a dataclass instance; ``()`` for anything else (cached per type)."""
    t = type(obj)
    names = _FIELD_NAMES.get(t)
    if names is None:
        is_dc = dataclasses.is_dataclass(obj) and not isinstance(obj, type)
        names = _FIELD_NAMES[t] = tuple(f.name for f in dataclasses.fields(obj)) if is_dc else ()  # type: ignore[arg-type]
    return names


_NOT_TEXT: frozenset[type] = frozenset(
    {type(None), int, bool, float, Decimal, dt.date, dt.datetime}
    | {type(m) for e in (ClaimFrequency, ClaimType, Relationship) for m in e}
    | {type(m) for m in PayerResponsibility}
    | {type(m) for m in ClaimFilingIndicator}
)


def _collect_text(obj: object, out: list[str]) -> None:
    """Every plain string in the claim tree (enum members are safe by construction and skipped)."""
    if type(obj) is list or type(obj) is tuple:
        items: Iterable[object] = obj
    else:
        names = _FIELD_NAMES.get(type(obj))
        if names is None:
            names = _field_names(obj)
        items = [getattr(obj, name) for name in names]
    for v in items:
        tv = type(v)
        if tv is str:
            out.append(v)  # type: ignore[arg-type]
        elif tv not in _NOT_TEXT:
            _collect_text(v, out)


def _text_fields(obj: object, path: str) -> Iterator[tuple[str, str]]:
    """``(path, value)`` for every plain string, e.g. ``("subscriber.person.last_name", ...)``."""
    t = type(obj)
    if t is str:
        yield path, obj  # type: ignore[misc]
    elif t is list or t is tuple:
        seq: Iterable[object] = obj  # type: ignore[assignment]
        for k, item in enumerate(seq):
            yield from _text_fields(item, f"{path}[{k + 1}]")
    else:
        for name in _field_names(obj):
            yield from _text_fields(getattr(obj, name), f"{path}.{name}" if path else name)


@rule("x12_safe_text", "No text field contains an X12 delimiter (~ * : ^), a control character or non-ASCII.")
def x12_safe_text(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    texts: list[str] = []
    _collect_text(claim, texts)
    if text_is_safe("".join(texts)):  # one pass over everything; walk with paths only on failure
        return
    for path, value in _text_fields(claim, ""):
        reason = unsafe_reason(value)
        if reason:
            yield f"{path}: {reason.replace('value ', 'text ', 1)}"


@rule(
    "frequency_reference",
    "Replacement (7) and void (8) claims carry the payer's claim control number (REF*F8).",
)
def frequency_reference(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    freq = claim.frequency
    if claim.claim_type == ClaimType.INSTITUTIONAL and claim.bill_type and len(claim.bill_type) == 3:
        if claim.bill_type[2] != freq.value:
            yield "bill type frequency (third digit, CLM05-3) disagrees with the claim frequency"
        if claim.bill_type[2] in ("7", "8") and freq == ClaimFrequency.ORIGINAL:
            freq = ClaimFrequency(claim.bill_type[2])
    if freq in (ClaimFrequency.REPLACEMENT, ClaimFrequency.VOID) and _blank(claim.payer_claim_control_number):
        yield f"frequency {freq.value} needs the payer claim control number (REF*F8)"
    if freq == ClaimFrequency.ORIGINAL and claim.payer_claim_control_number:
        yield "an original claim (frequency 1) must not carry a payer claim control number (REF*F8)"


@rule(
    "bill_type", "837I bill type is three digits (facility type, classification, frequency).", INSTITUTIONAL
)
def bill_type(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    if _blank(claim.bill_type):
        yield "bill type (CLM05) is missing"
    elif not BILL_TYPE.match(claim.bill_type or ""):
        yield "bill type (CLM05) must be three digits without the leading zero"


@rule("revenue_code", "837I revenue codes (SV201) are four digits.", INSTITUTIONAL)
def revenue_code(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    for i, line in enumerate(claim.lines):
        if line.revenue_code is None:
            yield f"{_line_label(claim, i)}: revenue code (SV201) is missing"
        elif not REVENUE_CODE.match(line.revenue_code):
            yield f"{_line_label(claim, i)}: revenue code (SV201) must be four digits"


@rule(
    "institutional_required",
    "837I statement period, patient status (CL103) and attending provider.",
    INSTITUTIONAL,
)
def institutional_required(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    if claim.statement_from is None or claim.statement_to is None:
        yield "statement period (DTP*434) is missing"
    if _blank(claim.patient_status):
        yield "patient status (CL103) is missing"
    elif not (len(claim.patient_status or "") == 2 and (claim.patient_status or "").isdigit()):
        yield "patient status (CL103) must be two digits"
    if claim.attending_provider is None:
        yield "attending provider (2310A) is missing"
    if len(claim.reason_for_visit) > 3:
        yield "at most 3 reasons for visit (HI*APR)"


@rule(
    "inpatient_admission",
    "Inpatient bill types carry admission date, type and source; hour is HH or HHMM.",
    INSTITUTIONAL,
)
def inpatient_admission(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    bt = claim.bill_type or ""
    if claim.admission_hour is not None and not HOUR.match(claim.admission_hour):
        yield "admission hour (DTP*435) must be HH or HHMM (24-hour clock)"
    if bt[:2] not in INPATIENT_FACILITY_TYPES:
        return
    if claim.admission_date is None:
        yield "inpatient claim without an admission date (DTP*435)"
    if _blank(claim.admission_type):
        yield "inpatient claim without an admission type (CL101)"
    if _blank(claim.admission_source):
        yield "inpatient claim without an admission source / point of origin (CL102)"
    if claim.admitting_diagnosis is None:
        yield "inpatient claim without an admitting diagnosis (HI*ABJ)"


_LENGTHS = (
    ("patient control number (CLM01)", lambda c: [c.patient_control_number], 20),
    ("prior authorization (REF*G1)", lambda c: [c.prior_authorization], 50),
    ("payer claim control number (REF*F8)", lambda c: [c.payer_claim_control_number], 50),
    (
        "last or organization name (NM103)",
        lambda c: [
            c.subscriber.person.last_name,
            c.billing_provider.last_name,
            c.payer.name,
            c.patient.last_name if c.patient else None,
        ],
        60,
    ),
    (
        "first name (NM104)",
        lambda c: [c.subscriber.person.first_name, c.patient.first_name if c.patient else None],
        35,
    ),
    (
        "middle name (NM105)",
        lambda c: [c.subscriber.person.middle_name, c.patient.middle_name if c.patient else None],
        25,
    ),
    (
        "address line (N301/N302)",
        lambda c: [
            a
            for p in (c.subscriber.person, c.patient)
            if p is not None
            for a in (p.address.line1, p.address.line2)
        ],
        55,
    ),
    (
        "city (N401)",
        lambda c: [p.address.city for p in (c.subscriber.person, c.patient) if p is not None],
        30,
    ),
    ("line item control number (REF*6R)", lambda c: [ln.line_control_number for ln in c.lines], 50),
)


@rule("field_length", "Values fit their X12 elements (CLM01 is kept to 20 so payers echo it whole).")
def field_length(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    for what, get, limit in _LENGTHS:
        for v in get(claim):
            if isinstance(v, str) and len(v) > limit:
                yield f"{what} is longer than {limit} characters"
                break


@rule(
    "cob_balance", "Secondary claims balance: charge = prior payer paid + adjustments, claim and line level."
)
def cob_balance(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    if not claim.other_coverages:
        if any(ln.other_payer is not None for ln in claim.lines):
            yield "lines carry prior payer adjudication (2430) but the claim has no other payer (2320)"
        return
    if claim.responsibility.value == "P" and any(oc.paid is not None for oc in claim.other_coverages):
        yield "the claim is billed as primary (SBR01 = P) but another payer already adjudicated it"
    default = next((oc for oc in claim.other_coverages if oc.paid is not None), claim.other_coverages[0])
    for i, line in enumerate(claim.lines):
        op = line.other_payer
        if op is None:
            continue
        adj = sum((a for _, _, a in op.adjustments), Decimal(0))
        if op.paid + adj != line.charge:
            yield f"{_line_label(claim, i)}: prior payer paid plus adjustments (2430) do not equal the line charge"
        if op.adjudication_date is None and default.adjudication_date is None:
            yield f"{_line_label(claim, i)}: prior payer adjudication date (2430 DTP*573) is missing"
    for j, oc in enumerate(claim.other_coverages):
        if oc.paid is None:
            continue
        pid = oc.payer.payer_id
        lines = [
            ln
            for ln in claim.lines
            if ln.other_payer is not None and (ln.other_payer.payer_id or default.payer.payer_id) == pid
        ]
        line_paid = sum((ln.other_payer.paid for ln in lines if ln.other_payer is not None), Decimal(0))
        line_adj = sum(
            (a for ln in lines if ln.other_payer is not None for _, _, a in ln.other_payer.adjustments),
            Decimal(0),
        )
        claim_adj = sum((a for _, _, a in oc.adjustments), Decimal(0))
        if lines and line_paid != oc.paid:
            yield f"other payer {j + 1}: line paid amounts (SVD02) do not add up to the claim paid amount (AMT*D)"
        if oc.paid + claim_adj + line_adj != claim.total_charge:
            yield f"other payer {j + 1}: paid amount plus adjustments does not equal the claim charge (CLM02)"


# ------------------------------------------------------------------- implementation-guide situational rules


def _facility_type(claim: Claim) -> str:
    return (claim.bill_type or "")[:2]


def _frequency_digit(claim: Claim) -> str:
    bt = claim.bill_type or ""
    return bt[2] if len(bt) == 3 else claim.frequency.value


@rule(
    "discharge_hour",
    "Final inpatient bills (frequency 1 or 4, patient no longer in house) carry the discharge hour (DTP*096); "
    "other claims do not.",
    INSTITUTIONAL,
)
def discharge_hour(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    hour = claim.discharge_hour
    if hour is not None and not HOUR.match(hour):
        yield "discharge hour (DTP*096) must be HH or HHMM (24-hour clock)"
    inpatient = _facility_type(claim) in INPATIENT_FACILITY_TYPES
    freq = _frequency_digit(claim)
    if inpatient and freq in FINAL_FREQUENCIES and claim.patient_status != "30":
        if _blank(hour):
            yield "final inpatient claim without the discharge hour (DTP*096)"
    elif hour is not None and (not inpatient or freq in ("2", "3") or claim.patient_status == "30"):
        yield "discharge hour (DTP*096) is only sent on a final inpatient claim (the patient has not been discharged)"


@rule(
    "reason_for_visit",
    "Unscheduled outpatient visits (bill type 013x/078x/085x with admission type 1, 2 or 5, or an emergency "
    "room line 045x) carry the patient's reason for visit (HI*APR); inpatient claims do not.",
    INSTITUTIONAL,
)
def reason_for_visit(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    ft = _facility_type(claim)
    if ft in INPATIENT_FACILITY_TYPES:
        if claim.reason_for_visit:
            yield "patient's reason for visit (HI*APR) is only sent on outpatient claims"
        return
    unscheduled = (
        ft in UNSCHEDULED_VISIT_FACILITY_TYPES and claim.admission_type in UNSCHEDULED_ADMISSION_TYPES
    ) or any(ln.revenue_code is not None and EMERGENCY_ROOM.match(ln.revenue_code) for ln in claim.lines)
    if unscheduled and not claim.reason_for_visit:
        yield "unscheduled outpatient visit without the patient's reason for visit (HI*APR)"


@rule(
    "room_and_board",
    "Inpatient stays bill room and board (revenue codes 0100-0219) in days: units add up to the days of the stay.",
    INSTITUTIONAL,
)
def room_and_board(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    if _facility_type(claim) not in ROOM_AND_BOARD_FACILITY_TYPES:
        return
    days = Decimal(0)
    found = False
    for i, line in enumerate(claim.lines):
        if line.revenue_code is None or not ROOM_AND_BOARD.match(line.revenue_code):
            continue
        found = True
        if line.unit_basis != "DA":
            yield f"{_line_label(claim, i)}: room and board is billed in days (SV204 DA)"
        if line.units.is_finite():
            days += line.units
    if not found:
        yield "inpatient claim without a room and board line (revenue code 0100-0219, units in days)"
        return
    sf, st = claim.statement_from, claim.statement_to
    if sf is not None and st is not None and st >= sf:
        stay = (st - sf).days + (1 if claim.patient_status == "30" else 0)
        if days != max(stay, 1):
            yield "room and board days (SV205) do not add up to the days of the stay (DTP*434)"


@rule(
    "drug_ndc",
    "Drug lines (HCPCS J0000-J9999) to Medicaid carry the NDC (2410 LIN/CTP); every NDC is 11 digits with a "
    "quantity and unit.",
)
def drug_ndc(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    medicaid = claim.payer.filing_indicator == ClaimFilingIndicator.MEDICAID
    for i, line in enumerate(claim.lines):
        if line.ndc is None:
            if medicaid and line.procedure_code is not None and DRUG_HCPCS.match(line.procedure_code):
                yield f"{_line_label(claim, i)}: drug billed to Medicaid without its NDC (2410 LIN03)"
            continue
        if not NDC.match(line.ndc):
            yield f"{_line_label(claim, i)}: NDC (2410 LIN03) must be 11 digits without hyphens"
        q = line.ndc_quantity
        if q is None or not q.is_finite() or q <= 0:
            yield f"{_line_label(claim, i)}: NDC quantity (2410 CTP04) must be greater than zero"
        if line.ndc_unit not in NDC_UNITS:
            yield f"{_line_label(claim, i)}: NDC unit (2410 CTP05-1) must be one of F2, GR, ME, ML, UN"


@rule(
    "preventive_age_band",
    "Preventive medicine visits (99381-99387, 99391-99397) match the patient's age on the date of service.",
    PROFESSIONAL,
)
def preventive_age_band(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    born = claim.patient_person.birth_date
    for i, line in enumerate(claim.lines):
        band = PREVENTIVE_AGE_BANDS.get(line.procedure_code or "")
        if band is None:
            continue
        age = age_on(born, line.service_date)
        if age is not None and not band[0] <= age <= band[1]:
            yield (
                f"{_line_label(claim, i)}: preventive visit code (SV101-2) is for another age group than the "
                "patient's age on the date of service"
            )


@rule(
    "new_and_established_visit",
    "A claim does not bill a new-patient and an established-patient visit (9920x/9938x with 9921x/9939x).",
    PROFESSIONAL,
)
def new_and_established_visit(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    codes = {ln.procedure_code for ln in claim.lines}
    if codes & NEW_PATIENT_EM and codes & ESTABLISHED_PATIENT_EM:
        yield "new-patient and established-patient visit codes on the same claim: a patient is one or the other"


_MEDICARE = frozenset({ClaimFilingIndicator.MEDICARE_A, ClaimFilingIndicator.MEDICARE_B})


@rule(
    "awv_medicare_only",
    "Annual wellness visits (G0438, G0439) are billed only when Medicare is the payer or paid first.",
    PROFESSIONAL,
)
def awv_medicare_only(claim: Claim, ctx: ScrubContext) -> Iterator[str]:
    if claim.payer.filing_indicator in _MEDICARE or any(
        oc.payer.filing_indicator in _MEDICARE for oc in claim.other_coverages
    ):
        return
    for i, line in enumerate(claim.lines):
        if line.procedure_code in ANNUAL_WELLNESS_VISIT:
            yield (
                f"{_line_label(claim, i)}: annual wellness visit (HCPCS G0438/G0439) is a Medicare benefit; "
                "bill the payer's preventive visit code instead"
            )
