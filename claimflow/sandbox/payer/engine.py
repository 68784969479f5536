"""The sandbox payer: front-end edits (277CA) and a deterministic adjudication engine (835).

Everything is a pure function of the seed, the sequence of received claims and the state file, so a
demo (or a test) can be replayed exactly. Randomness comes from ``random.Random`` seeded with a string
built from the seed and the claim's identity (payer, our patient control number, line number), never
from the clock or the process.

Money is ``Decimal`` quantized to cents. Every :class:`ClaimPayment` balances by construction and is
checked with :func:`check_balance` before it is stored:

* claim: ``CLP03 − CLP04 = Σ CAS`` (claim and line level), ``CLP05 = Σ PR``;
* line: ``SVC02 − SVC03 = Σ line CAS``;
* remittance: ``BPR02 = Σ CLP04 − Σ PLB``.

Fee schedules never use CPT descriptions (AMA-licensed): the Medicare-like table is a dollar amount per
code derived from a hash of the code within a range for the code's family; Medicaid-like pays a share
of that; commercial payers allow a per-payer percentage of the charge.

Rules (which code for which situation) are listed in :data:`RULES` and in the sandbox's report; the
rates of the seeded ones are in :class:`EngineConfig`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from claimflow.sandbox.payer.claims837 import Address, BillingProvider, Claim837, Line837, PartyName
from claimflow.sandbox.payer.state import SandboxState

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal | int | str) -> Decimal:
    """Quantize to cents, half up (what payers do)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _h(*parts: object) -> int:
    """A stable 64-bit hash of the parts (``hash()`` is salted per process)."""
    data = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


class PayerType(StrEnum):
    COMMERCIAL = "commercial"
    MEDICARE = "medicare"
    MEDICAID = "medicaid"


def payer_type_for(filing_indicator: str) -> PayerType:
    """From SBR09: MA/MB Medicare-like, MC Medicaid-like, anything else commercial."""
    if filing_indicator in ("MA", "MB"):
        return PayerType.MEDICARE
    if filing_indicator == "MC":
        return PayerType.MEDICAID
    return PayerType.COMMERCIAL


# SBR09 (837) -> CLP06 (835). The 835 list has no CI/BL: commercial plans report as PPO ("12").
_CLP06 = {"CI": "12", "BL": "12", "HM": "HM", "MA": "MA", "MB": "MB", "MC": "MC", "CH": "CH", "VA": "VA",
          "WC": "WC", "OF": "OF", "TV": "TV", "AM": "AM", "LM": "LM", "DS": "DS", "12": "12", "13": "13",
          "14": "14", "15": "15", "16": "16", "17": "17"}  # fmt: skip


def clp06_for(filing_indicator: str) -> str:
    return _CLP06.get(filing_indicator, "ZZ")


@dataclass(frozen=True, slots=True)
class BenefitPlan:
    deductible: Decimal  # per patient, payer and calendar year of service
    coinsurance: Decimal  # share of the allowed amount after deductible and copay
    office_copay: Decimal  # once per claim with an office/outpatient E/M visit
    timely_filing_days: int  # from the first date of service to receipt


PLANS = {
    PayerType.COMMERCIAL: BenefitPlan(Decimal("500.00"), Decimal("0.20"), Decimal("25.00"), 180),
    PayerType.MEDICARE: BenefitPlan(Decimal("257.00"), Decimal("0.20"), ZERO, 365),
    PayerType.MEDICAID: BenefitPlan(ZERO, ZERO, Decimal("3.00"), 365),
}


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Seeded rates in per-mille (integers: no floats anywhere near money) and a few knobs."""

    reject_member_prefix: str = "XBAD"  # member IDs starting with this are "not found" (277CA)
    member_not_found_per_mille: int = 10  # plus this share of all other claims
    medical_necessity_per_mille: int = 30  # CO-50 + N115, per service line
    noncovered_per_mille: int = 20  # PR-96 + N130, per service line
    reprocess_per_mille: int = 50  # paid claim reversed (CLP02=22) and corrected in a later run
    recoup_per_mille: int = 20  # paid claim partly recovered with PLB WO in a later run
    correction_uplift: Decimal = Decimal("0.06")  # the correction's retroactive fee-schedule increase
    interest_rate: Decimal = Decimal("0.12")  # prompt-pay interest (PLB L6) on corrected underpayments
    interest_min_days: int = 45  # sandbox convention so a two-night demo still shows an L6
    # Medicare-like crossovers: (payer id, crossover carrier's payer id, its name). A primary claim of that
    # payer leaving patient responsibility is answered CLP02 = 19 with NM1*TT: the payer forwarded it.
    crossovers: tuple[tuple[str, str, str], ...] = ()


RULES: tuple[tuple[str, str], ...] = (
    ("277CA A7:562:85/82/71", "billing/rendering/attending NPI not 10 digits or fails the Luhn check"),
    ("277CA A7:164:IL", "member ID empty, starts with the reserved prefix, or seeded 'not found' rate"),
    ("277CA A7:187", "a date of service after the date the file was received"),
    ("277CA A8:178", "CLM02 differs from the sum of the service line charges"),
    ("277CA A6:464 / A7:464", "frequency 7/8 without REF*F8 / with a payer claim number we never issued"),
    ("277CA A2:20 + REF*1K", "accepted; REF*1K carries the payer claim control number (CLP07 later)"),
    ("OA-18", "same payer, billing NPI and CLM01 already adjudicated (frequency 1); or a repeated line"),
    ("CO-29", "first date of service older than the plan's timely filing limit at receipt"),
    ("CO-16 + M77", "837P place of service missing or 00"),
    ("CO-16 + N290", "837P billed by an organization without a rendering provider (2310B/2420A)"),
    ("CO-16 + MA04", "secondary/tertiary claim without the prior payer's payment (2320 AMT*D / 2430 SVD)"),
    ("CO-16 + M53", "service line with zero units"),
    ("CO-16 + M51", "service line without a valid 5-character procedure code where one is required"),
    ("CO-97 + M15", "E/M visit without modifier 25 on the same date as a 10004-29999 procedure"),
    ("PR-96 + N130", "seeded non-covered rate per line"),
    ("CO-50 + N115", "seeded medical-necessity rate per line"),
    ("CO-45", "charge above the allowed amount"),
    ("PR-1 / PR-2 / PR-3", "deductible (accumulated per patient, payer, year) / coinsurance / copay"),
    ("OA-23", "secondary: prior payer's payment + contractual; pays the primary's PR up to its own benefit"),
    ("MOA / MIA", "claim-level remarks (MA01 on Medicare-like denials); MIA covered days for 11x bills"),
    ("CLP02=22 + corrected CLP", "seeded: a paid claim reversed and corrected in a later run (+ PLB L6)"),
    (
        "CLP02=7 / 8",
        "replacement: the original's payment reversed (CLP02=22), the new claim adjudicated; "
        "void: the reversal only",
    ),
    ("CLP02=19 + NM1*TT", "configured crossover: a primary claim with patient responsibility forwarded"),
    ("PLB WO", "seeded: part of an earlier payment recovered in a later run"),
    ("PLB FB", "a run that would pay less than zero forwards the balance to the next run"),
)

# CARCs that mean "this service was denied", for CLP02=4.
_DENIALS = frozenset(("16", "18", "29", "50", "96", "97"))
_EM_VISIT = re.compile(r"^99(20[2-5]|21[1-5]|28[1-5])$")
_OFFICE_VISIT = re.compile(r"^99(20[2-5]|21[1-5])$")
_PROC = re.compile(r"^[A-Z0-9]{5}$")
_DISTINCT_MODIFIERS = frozenset(("59", "76", "77", "91", "XE", "XS", "XP", "XU"))


def npi_valid(npi: str) -> bool:
    """10 digits passing the Luhn check over the ``80840`` card prefix (CMS NPI rule)."""
    if len(npi) != 10 or not npi.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed("80840" + npi)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# --- records ---------------------------------------------------------------------------------
@dataclass(slots=True)
class Adjustment:
    """One CAS triplet: ``CAS*CO*45*44.59``."""

    group: str
    reason: str
    amount: Decimal
    quantity: Decimal | None = None


@dataclass(slots=True)
class LinePayment:
    """Loop 2110: ``SVC*HC:99213*125*80.41**1~DTM*472*20250102~CAS*CO*45*24.59~REF*6R*L1~AMT*B6*100.59``."""

    number: int
    qualifier: str
    procedure: str | None
    modifiers: tuple[str, ...]
    revenue_code: str | None
    charge: Decimal
    paid: Decimal
    units: Decimal
    service_date: dt.date | None
    service_date_end: dt.date | None
    control_number: str | None
    allowed: Decimal | None
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ClaimPayment:
    """Loop 2100: ``CLP*C0001*1*125*80.41*20*12*2501200000001*11*1``."""

    patient_control_number: str
    status: str  # CLP02
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    filing_indicator: str  # CLP06
    payer_claim_number: str  # CLP07
    facility_code: str  # CLP08
    frequency: str  # CLP09
    kind: str  # P / I
    payer_type: str
    patient: PartyName
    insured: PartyName | None  # NM1*IL when the patient is not the subscriber
    received: dt.date
    lines: list[LinePayment] = field(default_factory=list)
    claim_adjustments: list[Adjustment] = field(default_factory=list)
    claim_remarks: list[str] = field(default_factory=list)
    inpatient_days: int | None = None  # MIA01
    statement_from: dt.date | None = None
    statement_to: dt.date | None = None
    deductible_applied: Decimal = ZERO  # PR-1 total, to give it back on a reversal
    crossover: tuple[str, str] | None = None  # NM1*TT (name, payer id) when CLP02 = 19: forwarded on


@dataclass(slots=True)
class ProviderAdjustment:
    """One PLB adjustment: positive takes money back, negative pays more (``PLB*…*L6:ICN*-1.25``)."""

    reason: str  # WO, L6, FB, 72
    reference: str
    amount: Decimal


@dataclass(slots=True)
class Route:
    """Where an 835 goes and what its header says; one 835 transaction per route and run."""

    partner: str
    our_qualifier: str  # ISA05 of our answer = ISA07 of the 837
    our_id: str
    their_qualifier: str
    their_id: str
    gs_sender: str  # GS02 of our answer = GS03 of the 837
    gs_receiver: str
    usage: str  # ISA15
    payer_id: str
    payer_name: str
    payer_address: Address
    payee: BillingProvider

    def key(self) -> str:
        return "|".join((self.partner, self.their_id, self.payer_id, self.payee.npi, self.payee.tax_id))


@dataclass(slots=True)
class Remittance:
    """One 835 transaction set: a payer paying one payee in one run."""

    route: Route
    run_no: int
    run_date: dt.date
    method: str  # ACH, CHK, NON
    trace_number: str  # TRN02
    claims: list[ClaimPayment]
    adjustments: list[ProviderAdjustment]

    @property
    def total(self) -> Decimal:
        return sum((c.paid for c in self.claims), ZERO) - sum((a.amount for a in self.adjustments), ZERO)


@dataclass(slots=True)
class ClaimStatus:
    """STC01: category, status code and (when the code needs one) entity."""

    category: str
    code: str
    entity: str = ""

    def composite(self) -> tuple[str, ...]:
        return (self.category, self.code, self.entity) if self.entity else (self.category, self.code)

    def __str__(self) -> str:
        return ":".join(self.composite())


@dataclass(slots=True)
class ClaimAck:
    """A claim's 277CA answer."""

    claim: Claim837
    status: ClaimStatus
    payer_claim_number: str | None

    @property
    def accepted(self) -> bool:
        return self.payer_claim_number is not None


class BalanceError(AssertionError):
    """A generated payment does not balance: a bug in the simulator, never a data problem."""


def check_balance(p: ClaimPayment) -> None:
    line_cas = ZERO
    for ln in p.lines:
        cas = sum((a.amount for a in ln.adjustments), ZERO)
        if ln.charge - ln.paid != cas:
            raise BalanceError(f"claim {p.patient_control_number} line {ln.number}: SVC02-SVC03 != sum(CAS)")
        line_cas += cas
    claim_cas = sum((a.amount for a in p.claim_adjustments), ZERO)
    if p.charge - p.paid != claim_cas + line_cas:
        raise BalanceError(f"claim {p.patient_control_number}: CLP03-CLP04 != sum(CAS)")
    if p.lines and sum((ln.paid for ln in p.lines), ZERO) != p.paid:
        raise BalanceError(f"claim {p.patient_control_number}: CLP04 != sum(SVC03)")
    pr = sum((a.amount for a in p.claim_adjustments if a.group == "PR"), ZERO) + sum(
        (a.amount for ln in p.lines for a in ln.adjustments if a.group == "PR"), ZERO
    )
    if pr != p.patient_responsibility:
        raise BalanceError(f"claim {p.patient_control_number}: CLP05 != sum(PR)")


def negate(p: ClaimPayment) -> ClaimPayment:
    """The reversal of a payment (CLP02=22): same codes, every amount and unit count negated."""
    lines = [
        replace(
            ln,
            charge=-ln.charge,
            paid=-ln.paid,
            units=-ln.units,
            allowed=None if ln.allowed is None else -ln.allowed,
            adjustments=[replace(a, amount=-a.amount) for a in ln.adjustments],
            remarks=list(ln.remarks),
        )
        for ln in p.lines
    ]
    return replace(
        p,
        status="22",
        charge=-p.charge,
        paid=-p.paid,
        patient_responsibility=-p.patient_responsibility,
        lines=lines,
        claim_adjustments=[replace(a, amount=-a.amount) for a in p.claim_adjustments],
        claim_remarks=list(p.claim_remarks),
        deductible_applied=-p.deductible_applied,
    )


# --- JSON (state file) -------------------------------------------------------------------------
def _d(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _adj_out(a: Adjustment) -> list[str]:
    return [a.group, a.reason, str(a.amount)] + ([str(a.quantity)] if a.quantity is not None else [])


def _adj_in(v: list[str]) -> Adjustment:
    return Adjustment(v[0], v[1], Decimal(v[2]), Decimal(v[3]) if len(v) > 3 else None)


def _name_out(n: PartyName) -> dict[str, str]:
    return {k: getattr(n, k) for k in PartyName.__slots__}


def payment_to_json(p: ClaimPayment) -> dict[str, Any]:
    return {
        "clm01": p.patient_control_number,
        "status": p.status,
        "charge": str(p.charge),
        "paid": str(p.paid),
        "pr": str(p.patient_responsibility),
        "clp06": p.filing_indicator,
        "icn": p.payer_claim_number,
        "facility": p.facility_code,
        "frequency": p.frequency,
        "kind": p.kind,
        "payer_type": p.payer_type,
        "patient": _name_out(p.patient),
        "insured": _name_out(p.insured) if p.insured else None,
        "received": p.received.isoformat(),
        "claim_adjustments": [_adj_out(a) for a in p.claim_adjustments],
        "claim_remarks": list(p.claim_remarks),
        "inpatient_days": p.inpatient_days,
        "statement_from": _iso(p.statement_from),
        "statement_to": _iso(p.statement_to),
        "deductible_applied": str(p.deductible_applied),
        "crossover": list(p.crossover) if p.crossover else None,
        "lines": [
            {
                "n": ln.number,
                "q": ln.qualifier,
                "proc": ln.procedure,
                "mods": list(ln.modifiers),
                "rev": ln.revenue_code,
                "charge": str(ln.charge),
                "paid": str(ln.paid),
                "units": str(ln.units),
                "date": _iso(ln.service_date),
                "date_end": _iso(ln.service_date_end),
                "ref6r": ln.control_number,
                "allowed": None if ln.allowed is None else str(ln.allowed),
                "adj": [_adj_out(a) for a in ln.adjustments],
                "rarc": list(ln.remarks),
            }
            for ln in p.lines
        ],
    }


def payment_from_json(d: dict[str, Any]) -> ClaimPayment:
    return ClaimPayment(
        patient_control_number=d["clm01"],
        status=d["status"],
        charge=Decimal(d["charge"]),
        paid=Decimal(d["paid"]),
        patient_responsibility=Decimal(d["pr"]),
        filing_indicator=d["clp06"],
        payer_claim_number=d["icn"],
        facility_code=d["facility"],
        frequency=d["frequency"],
        kind=d["kind"],
        payer_type=d["payer_type"],
        patient=PartyName(**d["patient"]),
        insured=PartyName(**d["insured"]) if d.get("insured") else None,
        received=dt.date.fromisoformat(d["received"]),
        claim_adjustments=[_adj_in(a) for a in d["claim_adjustments"]],
        claim_remarks=list(d["claim_remarks"]),
        inpatient_days=d.get("inpatient_days"),
        statement_from=_d(d.get("statement_from")),
        statement_to=_d(d.get("statement_to")),
        deductible_applied=Decimal(d.get("deductible_applied", "0.00")),
        crossover=(d["crossover"][0], d["crossover"][1]) if d.get("crossover") else None,
        lines=[
            LinePayment(
                number=ln["n"],
                qualifier=ln["q"],
                procedure=ln["proc"],
                modifiers=tuple(ln["mods"]),
                revenue_code=ln["rev"],
                charge=Decimal(ln["charge"]),
                paid=Decimal(ln["paid"]),
                units=Decimal(ln["units"]),
                service_date=_d(ln["date"]),
                service_date_end=_d(ln["date_end"]),
                control_number=ln["ref6r"],
                allowed=None if ln["allowed"] is None else Decimal(ln["allowed"]),
                adjustments=[_adj_in(a) for a in ln["adj"]],
                remarks=list(ln["rarc"]),
            )
            for ln in d["lines"]
        ],
    )


def _addr_out(a: Address) -> dict[str, str]:
    return {k: getattr(a, k) for k in Address.__slots__}


def route_to_json(r: Route) -> dict[str, Any]:
    return {
        "partner": r.partner,
        "our_qualifier": r.our_qualifier,
        "our_id": r.our_id,
        "their_qualifier": r.their_qualifier,
        "their_id": r.their_id,
        "gs_sender": r.gs_sender,
        "gs_receiver": r.gs_receiver,
        "usage": r.usage,
        "payer_id": r.payer_id,
        "payer_name": r.payer_name,
        "payer_address": _addr_out(r.payer_address),
        "payee": {
            "name": _name_out(r.payee.name),
            "address": _addr_out(r.payee.address),
            "tax_id": r.payee.tax_id,
        },
    }


def route_from_json(d: dict[str, Any]) -> Route:
    payee = d["payee"]
    return Route(
        partner=d["partner"],
        our_qualifier=d["our_qualifier"],
        our_id=d["our_id"],
        their_qualifier=d["their_qualifier"],
        their_id=d["their_id"],
        gs_sender=d["gs_sender"],
        gs_receiver=d["gs_receiver"],
        usage=d["usage"],
        payer_id=d["payer_id"],
        payer_name=d["payer_name"],
        payer_address=Address(**d["payer_address"]),
        payee=BillingProvider(
            name=PartyName(**payee["name"]), address=Address(**payee["address"]), tax_id=payee["tax_id"]
        ),
    )


# --- fee schedules ------------------------------------------------------------------------------
# (low, high) whole dollars per unit by code family, for the Medicare-like per-code table.
def _family_range(code: str) -> tuple[int, int]:
    if code.startswith("REV"):
        rev = code[3:]
        if rev[:3] in ("010", "011", "012", "013", "014", "015", "016", "017", "020", "021"):
            return 700, 2200  # room and board, per day
        if rev.startswith(("025", "026", "063")):
            return 8, 120  # pharmacy
        return 40, 600
    if _EM_VISIT.match(code):
        return 45, 140
    if code[0].isdigit():
        n = int(code[:5]) if code[:5].isdigit() else 0
        if n < 10000:
            return 120, 600  # anesthesia
        if n < 70000:
            return 70, 900  # surgery
        if n < 80000:
            return 25, 300  # radiology
        if n < 90000:
            return 4, 40  # pathology and laboratory
        return 15, 130  # medicine
    if code.startswith("J"):
        return 1, 60  # drugs, per unit
    if code.startswith("G"):
        return 35, 180
    return 10, 150


@dataclass(slots=True)
class PriorShares:
    """What the prior payer(s) settled on each line of a secondary/tertiary claim (see
    :meth:`PayerSimulator._prior_payer_shares`)."""

    paid: list[Decimal]  # per line: prior payer's payment (2430 SVD02, else a share of 2320 AMT*D)
    pr: list[Decimal | None]  # per line: patient share it left (capped); None = the 837 does not say
    unstated: Decimal | None  # claim patient liability left for the None lines; None = no cap given


class PayerSimulator:
    """The payer. Create one per batch of work on a loaded :class:`SandboxState`."""

    def __init__(self, state: SandboxState, seed: int, config: EngineConfig | None = None) -> None:
        self.state = state
        self.seed = seed
        self.config = config or EngineConfig()

    # --- helpers ------------------------------------------------------------------------------
    def _rng(self, *parts: object) -> random.Random:
        return random.Random("|".join(str(p) for p in (self.seed, *parts)))

    def _roll(self, per_mille: int, *parts: object) -> bool:
        return per_mille > 0 and self._rng(*parts).randrange(1000) < per_mille

    def new_icn(self, received: dt.date) -> str:
        """Payer claim control number: Julian receipt date + sequence, e.g. ``250150000042``."""
        return f"{received:%y%j}{self.state.next('icn'):07d}"

    def patient_digest(self, claim: Claim837) -> str:
        return hashlib.sha256(f"{self.seed}|{claim.payer_id}|{claim.patient_key}".encode()).hexdigest()[:32]

    @staticmethod
    def claim_key(claim: Claim837) -> str:
        return f"{claim.payer_id}|{claim.billing.npi}|{claim.patient_control_number}"

    def allowed_per_unit(self, ptype: PayerType, code: str) -> Decimal:
        """Medicare-like per-code dollar table; Medicaid-like pays 80 % of it."""
        lo, hi = _family_range(code)
        h = _h(self.seed, "fee", code)
        fee = Decimal(lo + h % (hi - lo + 1)) + Decimal((h >> 20) % 100) / 100
        if ptype is PayerType.MEDICAID:
            fee = fee * Decimal("0.80")
        return money(fee)

    def commercial_rate(self, payer_id: str) -> Decimal:
        """Commercial payers allow a fixed percentage of charges (70–90 %, per payer)."""
        return Decimal(70 + _h(self.seed, "pct", payer_id) % 21) / 100

    def allowed_for(self, ptype: PayerType, payer_id: str, ln: Line837) -> Decimal:
        if ln.charge <= 0:
            return ZERO
        if ptype is PayerType.COMMERCIAL:
            allowed = money(ln.charge * self.commercial_rate(payer_id))
        else:
            code = ln.procedure or f"REV{ln.revenue_code or '0000'}"
            allowed = money(self.allowed_per_unit(ptype, code) * ln.units)
        return max(min(allowed, ln.charge), CENT)  # CO-45 must never be the whole charge

    # --- front end (277CA) ----------------------------------------------------------------------
    def front_end(self, claim: Claim837, received: dt.date) -> ClaimAck:
        status = self._front_end_status(claim, received)
        if status is not None:
            return ClaimAck(claim, status, None)
        return ClaimAck(claim, ClaimStatus("A2", "20"), self.new_icn(received))

    def _front_end_status(self, claim: Claim837, received: dt.date) -> ClaimStatus | None:
        for entity, npi in claim.npis:
            if not npi_valid(npi):
                return ClaimStatus("A7", "562", entity)
        member = claim.member_id
        prefix = self.config.reject_member_prefix.upper()
        if (
            not member
            or (prefix and member.upper().startswith(prefix))
            or self._roll(self.config.member_not_found_per_mille, "member", claim.payer_id, member)
        ):
            return ClaimStatus("A7", "164", "IL")
        last = claim.service_to
        if last is not None and last > received:
            return ClaimStatus("A7", "187")
        if sum((ln.charge for ln in claim.lines), ZERO) != claim.total_charge:
            return ClaimStatus("A8", "178")
        if claim.frequency in ("7", "8"):
            if not claim.original_claim_number:
                return ClaimStatus("A6", "464")
            rec = self.state.claims.get(claim.original_claim_number)
            if rec is None or rec["payer_id"] != claim.payer_id:
                return ClaimStatus("A7", "464")
        return None

    # --- adjudication -----------------------------------------------------------------------------
    def accept(self, ack: ClaimAck, route: Route, received: dt.date) -> ClaimPayment | None:
        """Adjudicate an accepted claim now (accumulators move in file order) and queue its payment.

        Returns the payment that will appear in the next payment run (``None`` for a void, whose only
        835 effect is the reversal of the original).
        """
        claim = ack.claim
        assert ack.payer_claim_number is not None
        key = self.claim_key(claim)
        route_json = route_to_json(route)
        if claim.frequency in ("7", "8"):
            assert claim.original_claim_number is not None
            self._queue_reversal(claim.original_claim_number)
        payment: ClaimPayment | None = None
        if claim.frequency != "8":
            payment = self.adjudicate(claim, ack.payer_claim_number, received)
            check_balance(payment)
        record: dict[str, Any] = {
            "key": key,
            "clm01": claim.patient_control_number,
            "payer_id": claim.payer_id,
            "status": "pending" if payment is not None else "void",
            "run": None,
            "route": route_json,
            "acc": self._acc_key(claim, claim.service_from or received),
            "payment": payment_to_json(payment) if payment is not None else None,
            "reprocessable": claim.responsibility not in ("S", "T"),
        }
        self.state.claims[ack.payer_claim_number] = record
        if payment is not None and payment.lines and not self._is_duplicate_denial(payment):
            self.state.active[key] = ack.payer_claim_number
        elif payment is None:
            self.state.active.pop(key, None)
        if payment is not None:
            self.state.pending.append({"kind": "payment", "icn": ack.payer_claim_number})
        return payment

    @staticmethod
    def _is_duplicate_denial(p: ClaimPayment) -> bool:
        return bool(p.lines) and all(any(a.reason == "18" for a in ln.adjustments) for ln in p.lines)

    def _queue_reversal(self, original_icn: str) -> None:
        rec = self.state.claims.get(original_icn)
        seen = {original_icn}
        while rec is not None and rec.get("corrected_by") and rec["corrected_by"] not in seen:
            original_icn = rec["corrected_by"]  # the payer corrected it since: reverse the correction
            seen.add(original_icn)
            rec = self.state.claims.get(original_icn)
        if rec is None or rec["status"] not in ("pending", "released") or rec["payment"] is None:
            return
        rec["status"] = "reversing"
        self.state.pending.append({"kind": "reversal", "icn": original_icn})
        if self.state.active.get(rec["key"]) == original_icn:
            del self.state.active[rec["key"]]

    def _acc_key(self, claim: Claim837, when: dt.date) -> str:
        return f"{self.patient_digest(claim)}|{claim.payer_id}|{when.year}"

    def adjudicate(self, claim: Claim837, icn: str, received: dt.date) -> ClaimPayment:
        ptype = payer_type_for(claim.filing_indicator)
        plan = PLANS[ptype]
        non_primary = claim.responsibility not in ("P", "U", "")
        claim_denial = self._claim_denial(claim, received, plan, non_primary)

        acc_key = self._acc_key(claim, claim.service_from or received)
        met = Decimal(self.state.accumulators.get(acc_key, "0.00"))
        ded_left = max(plan.deductible - met, ZERO)
        copay_left = plan.office_copay
        prior = self._prior_payer_shares(claim) if non_primary else None

        lines: list[LinePayment] = []
        deductible_applied = ZERO
        for idx, ln in enumerate(claim.lines):
            base = LinePayment(
                number=ln.number,
                qualifier=ln.qualifier or ("NU" if ln.procedure is None else "HC"),
                procedure=ln.procedure,
                modifiers=ln.modifiers,
                revenue_code=ln.revenue_code,
                charge=money(ln.charge),
                paid=ZERO,
                units=ln.units,
                service_date=ln.service_date or claim.statement_from,
                service_date_end=ln.service_date_end,
                control_number=ln.control_number,
                allowed=None,
            )
            denial = claim_denial or self._line_denial(claim, idx, ln, non_primary)
            if denial is not None:
                group, reason, remarks = denial
                if base.charge != 0:
                    base.adjustments.append(Adjustment(group, reason, base.charge))
                base.remarks.extend(remarks)
                lines.append(base)
                continue
            allowed = self.allowed_for(ptype, claim.payer_id, ln)
            base.allowed = allowed
            if prior is not None:
                ded = ZERO
                stated = prior.pr[idx]
                used = self._secondary_line(
                    base,
                    allowed,
                    plan,
                    prior.paid[idx],
                    stated,
                    None if stated is not None else prior.unstated,
                )
                if stated is None and prior.unstated is not None:
                    prior.unstated -= used
            else:
                copay = ZERO
                if copay_left > 0 and ln.procedure and _OFFICE_VISIT.match(ln.procedure):
                    copay = min(copay_left, allowed)
                    copay_left -= copay
                ded = min(ded_left, allowed - copay)
                coins = money((allowed - copay - ded) * plan.coinsurance)
                base.paid = allowed - copay - ded - coins
                if base.charge > allowed:
                    base.adjustments.append(Adjustment("CO", "45", base.charge - allowed))
                for reason, amount in (("1", ded), ("2", coins), ("3", copay)):
                    if amount > 0:
                        base.adjustments.append(Adjustment("PR", reason, amount))
            ded_left -= ded
            deductible_applied += ded
            lines.append(base)

        if deductible_applied:
            self.state.accumulators[acc_key] = str(met + deductible_applied)
        return self._claim_payment(claim, icn, received, ptype, lines, deductible_applied, claim_denial)

    def _claim_payment(
        self,
        claim: Claim837,
        icn: str,
        received: dt.date,
        ptype: PayerType,
        lines: list[LinePayment],
        deductible_applied: Decimal,
        claim_denial: tuple[str, str, list[str]] | None,
    ) -> ClaimPayment:
        paid = sum((ln.paid for ln in lines), ZERO)
        pr = sum((a.amount for ln in lines for a in ln.adjustments if a.group == "PR"), ZERO)
        denied_lines = [ln for ln in lines if any(a.reason in _DENIALS for a in ln.adjustments)]
        if lines and paid == 0 and len(denied_lines) == len(lines):
            status = "4"
        else:
            status = {"S": "2", "T": "3"}.get(claim.responsibility, "1")
        remarks: list[str] = list(claim_denial[2]) if claim_denial else []
        if ptype is PayerType.MEDICARE and denied_lines and "MA01" not in remarks:
            remarks.append("MA01")
        inpatient_days = None
        if claim.kind == "I" and (claim.bill_type or "").startswith("11"):
            if claim.statement_from and claim.statement_to:
                inpatient_days = max((claim.statement_to - claim.statement_from).days, 1)
            else:
                inpatient_days = 1
        insured = None if claim.relationship == "18" else claim.subscriber
        patient = replace(claim.patient)
        if claim.relationship == "18":
            patient.id_qualifier, patient.identifier = "MI", claim.member_id
        else:
            patient.id_qualifier, patient.identifier = "", ""
        if insured is not None:
            insured = replace(insured, id_qualifier="MI", identifier=claim.member_id)
        crossover = None
        if status == "1" and pr > 0:
            for payer_id, carrier_id, carrier_name in self.config.crossovers:
                if payer_id == claim.payer_id:
                    status, crossover = "19", (carrier_name, carrier_id)
                    break
        return ClaimPayment(
            patient_control_number=claim.patient_control_number,
            status=status,
            charge=money(claim.total_charge),
            paid=paid,
            patient_responsibility=pr,
            filing_indicator=clp06_for(claim.filing_indicator),
            payer_claim_number=icn,
            facility_code=claim.facility_code,
            frequency=claim.frequency or "1",
            kind=claim.kind,
            payer_type=ptype.value,
            patient=patient,
            insured=insured,
            received=received,
            lines=lines,
            claim_remarks=remarks,
            inpatient_days=inpatient_days,
            statement_from=claim.statement_from,
            statement_to=claim.statement_to,
            deductible_applied=deductible_applied,
            crossover=crossover,
        )

    def _claim_denial(
        self, claim: Claim837, received: dt.date, plan: BenefitPlan, non_primary: bool
    ) -> tuple[str, str, list[str]] | None:
        if claim.frequency not in ("7", "8") and self.claim_key(claim) in self.state.active:
            return ("OA", "18", [])  # CARC 18 is "use only with group code OA" since 2012
        first = claim.service_from
        if first is not None and (received - first).days > plan.timely_filing_days:
            return ("CO", "29", [])
        if claim.kind == "P" and (len(claim.facility_code) != 2 or claim.facility_code == "00"):
            return ("CO", "16", ["M77"])
        if (
            claim.kind == "P"
            and claim.billing.name.entity_type == "2"
            and not claim.rendering_npi
            and not all(ln.rendering_npi for ln in claim.lines)
        ):
            return ("CO", "16", ["N290"])
        if (
            non_primary
            and claim.other_payer_paid is None
            and all(ln.prior_paid is None for ln in claim.lines)
        ):
            return ("CO", "16", ["MA04"])
        return None

    def _line_denial(
        self, claim: Claim837, idx: int, ln: Line837, non_primary: bool
    ) -> tuple[str, str, list[str]] | None:
        if ln.units <= 0:
            return ("CO", "16", ["M53"])
        needs_hcpcs = claim.kind == "P" or (
            not (claim.bill_type or "").startswith("11")
            and (ln.revenue_code or "")[:3] in ("030", "031", "032", "035", "045", "051", "073")
        )
        if (needs_hcpcs or ln.procedure) and not (ln.procedure and _PROC.match(ln.procedure)):
            return ("CO", "16", ["M51"])
        for other in claim.lines[:idx]:
            if (
                other.procedure == ln.procedure
                and other.modifiers == ln.modifiers
                and other.service_date == ln.service_date
                and other.revenue_code == ln.revenue_code
                and not _DISTINCT_MODIFIERS.intersection(ln.modifiers)
            ):
                return ("OA", "18", [])
        if ln.procedure and _EM_VISIT.match(ln.procedure) and "25" not in ln.modifiers:
            for other in claim.lines:
                p = other.procedure or ""
                if (
                    other is not ln
                    and p.isdigit()
                    and 10004 <= int(p) <= 29999  # integumentary/musculoskeletal procedures
                    and (other.service_date == ln.service_date)
                ):
                    return ("CO", "97", ["M15"])
        if non_primary:
            return None
        ident = (claim.payer_id, claim.patient_control_number, ln.number, ln.procedure or ln.revenue_code)
        if self._roll(self.config.noncovered_per_mille, "noncovered", *ident):
            return ("PR", "96", ["N130"])
        if self._roll(self.config.medical_necessity_per_mille, "necessity", *ident):
            return ("CO", "50", ["N115"])
        return None

    @staticmethod
    def _prior_payer_shares(claim: Claim837) -> PriorShares:
        """Per line: what the prior payer(s) paid and left to the patient, capped per claim.

        A line with a 2430 loop is settled by it: its PR CAS are what the patient owes on it, and a 2430
        without CAS (the prior payer paid the line in full) leaves nothing. Only lines without 2430 share
        the claim-level figures (2320 AMT*D and PR CAS, else AMT*EAF minus what the 2430s state), prorated
        by charge. Whatever the lines say, the total never exceeds the claim's remaining patient
        liability (AMT*EAF, else the PR CAS of 2320 and 2430): a secondary pays at most what the primary
        left to the patient, so it cannot overpay when the 837's loops disagree.
        """
        lines = claim.lines
        adjudicated = [ln.prior_paid is not None or bool(ln.prior_adjustments) for ln in lines]
        rest = [i for i, done in enumerate(adjudicated) if not done]
        rest_charge = sum((lines[i].charge for i in rest), ZERO)

        def prorate(amount: Decimal) -> dict[int, Decimal]:
            out: dict[int, Decimal] = {}
            given = ZERO
            for k, i in enumerate(rest):
                if k == len(rest) - 1:
                    share = amount - given
                else:
                    share = money(amount * lines[i].charge / rest_charge) if rest_charge else ZERO
                out[i] = share
                given += share
            return out

        def pr_of(adjustments: tuple[tuple[str, str, Decimal], ...]) -> Decimal:
            return sum((a for g, _, a in adjustments if g == "PR"), ZERO)

        settled = [ln for ln, done in zip(lines, adjudicated, strict=True) if done]
        line_paid = sum((ln.prior_paid or ZERO for ln in settled), ZERO)
        line_pr = sum((pr_of(ln.prior_adjustments) for ln in settled), ZERO)
        claim_pr_cas = [a for g, _, a in claim.other_payer_adjustments if g == "PR"]
        liability = claim.other_payer_patient_liability
        rest_paid = prorate(max((claim.other_payer_paid or ZERO) - line_paid, ZERO))
        rest_pr: dict[int, Decimal] | None = None
        if claim_pr_cas:
            rest_pr = prorate(sum(claim_pr_cas, ZERO))
        elif liability is not None:
            rest_pr = prorate(max(liability - line_pr, ZERO))
        if liability is not None:
            cap: Decimal | None = max(liability, ZERO)
        elif claim_pr_cas or settled:
            cap = sum(claim_pr_cas, ZERO) + line_pr
        else:
            cap = None  # AMT*D only: the patient's share is estimated per line (allowed - paid)

        paid: list[Decimal] = []
        pr: list[Decimal | None] = []
        for i, ln in enumerate(lines):
            if adjudicated[i]:
                paid.append(ln.prior_paid or ZERO)
                stated: Decimal | None = pr_of(ln.prior_adjustments)
            else:
                paid.append(rest_paid[i])
                stated = rest_pr[i] if rest_pr is not None else None
            if stated is not None:
                stated = min(max(stated, ZERO), ln.charge)
                if cap is not None:
                    stated = min(stated, cap)
                    cap -= stated
            pr.append(stated)
        return PriorShares(paid=paid, pr=pr, unstated=cap)

    @staticmethod
    def _secondary_line(
        line: LinePayment,
        allowed: Decimal,
        plan: BenefitPlan,
        prior_paid: Decimal,
        prior_pr: Decimal | None,
        cap: Decimal | None = None,
    ) -> Decimal:
        """Pay up to what the primary left to the patient, never more than our own normal benefit.

        The sandbox's secondary plans are supplemental: no deductible of their own, their coinsurance
        applies to their allowed amount. ``OA-23`` carries everything the prior payer settled (its
        payment and contractual write-off); what the patient still owes stays ``PR-2``. A line whose
        patient share the 837 does not state is estimated (allowed - prior paid), at most ``cap`` (what
        is left of the claim's patient liability). Returns the prior patient share the line used.
        """
        charge = line.charge
        if prior_pr is None:
            prior_pr = max(min(allowed, charge) - prior_paid, ZERO)
        prior_pr = min(max(prior_pr, ZERO), charge)
        if cap is not None:
            prior_pr = min(prior_pr, max(cap, ZERO))
        benefit = allowed - money(allowed * plan.coinsurance)
        pay = max(min(prior_pr, benefit), ZERO)
        line.paid = pay
        if charge - prior_pr > 0:
            line.adjustments.append(Adjustment("OA", "23", charge - prior_pr))
        if prior_pr - pay > 0:
            line.adjustments.append(Adjustment("PR", "2", prior_pr - pay))
        return prior_pr

    # --- payment runs ---------------------------------------------------------------------------
    def release_payments(self, run_date: dt.date, partner: str | None = None) -> list[Remittance]:
        """One payment run: what is due for ``partner`` (all partners when ``None``), grouped per route.

        Order inside each 835: reversals and corrections scheduled by earlier runs, then the claims
        adjudicated since the last run (a void's reversal right after the claim it voids), then PLB.
        """
        run_no = self.state.next("run")
        self.state.runs.append({"run": run_no, "date": run_date.isoformat(), "partner": partner})
        groups: dict[str, tuple[Route, list[ClaimPayment], list[ProviderAdjustment]]] = {}

        def group(route_json: dict[str, Any]) -> tuple[Route, list[ClaimPayment], list[ProviderAdjustment]]:
            route = route_from_json(route_json)
            return groups.setdefault(route.key(), (route, [], []))

        keep_scheduled = []
        for item in self.state.scheduled:
            rec = self.state.claims.get(item["icn"])
            if rec is None or (partner is not None and rec["route"]["partner"] != partner):
                keep_scheduled.append(item)
                continue
            if item["after_run"] >= run_no or rec["status"] != "released":
                if rec["status"] == "released":
                    keep_scheduled.append(item)
                continue
            _, claims, plb = group(rec["route"])
            original = payment_from_json(rec["payment"])
            if item["kind"] == "reprocess":
                corrected = self._correction(original, run_date)
                if corrected is None:
                    continue
                claims.append(negate(original))
                claims.append(corrected)
                new_icn = corrected.payer_claim_number
                self.state.claims[new_icn] = {
                    **{k: v for k, v in rec.items() if k not in ("corrected_by", "recouped")},
                    "status": "released",
                    "run": run_no,
                    "payment": payment_to_json(corrected),
                    "reprocessable": False,
                    "corrects": item["icn"],
                }
                rec["status"] = "reversed"
                rec["corrected_by"] = new_icn
                if self.state.active.get(rec["key"]) == item["icn"]:
                    self.state.active[rec["key"]] = new_icn
                interest = self._interest(corrected.paid - original.paid, original.received, run_date)
                if interest > 0:
                    plb.append(ProviderAdjustment("L6", new_icn, -interest))
            elif item["kind"] == "recoup":
                plb.append(ProviderAdjustment("WO", item["icn"], Decimal(item["amount"])))
                rec["recouped"] = item["amount"]

        self.state.scheduled[:] = keep_scheduled

        released: list[str] = []
        keep_pending = []
        for item in self.state.pending:
            rec = self.state.claims.get(item["icn"])
            if rec is None:
                continue
            if partner is not None and rec["route"]["partner"] != partner:
                keep_pending.append(item)
                continue
            _, claims, _ = group(rec["route"])
            payment = payment_from_json(rec["payment"])
            if item["kind"] == "payment":
                claims.append(payment)
                if rec["status"] == "pending":
                    rec["status"] = "released"
                rec["run"] = run_no
                released.append(item["icn"])
            else:  # reversal of an earlier claim (void or replacement)
                claims.append(negate(payment))
                rec["status"] = "reversed"
                if payment.deductible_applied:
                    acc = rec["acc"]
                    met = Decimal(self.state.accumulators.get(acc, "0.00")) - payment.deductible_applied
                    self.state.accumulators[acc] = str(max(met, ZERO))
        self.state.pending[:] = keep_pending

        for icn in released:
            self._schedule_follow_ups(icn, run_no)

        out = []
        for key, (route, claims, plb) in groups.items():
            self._forward_balance(key, run_no, claims, plb)
            total = sum((c.paid for c in claims), ZERO) - sum((a.amount for a in plb), ZERO)
            if total == 0:
                method = "NON"
            elif _h(self.seed, "method", route.payer_id) % 4 == 0:
                method = "CHK"
            else:
                method = "ACH"
            trace = f"{run_date:%y%m%d}{self.state.next('trace'):05d}"
            out.append(Remittance(route, run_no, run_date, method, trace, claims, plb))
        return out

    def _schedule_follow_ups(self, icn: str, run_no: int) -> None:
        rec = self.state.claims[icn]
        if rec["status"] != "released" or not rec.get("reprocessable"):
            return
        payment = payment_from_json(rec["payment"])
        if payment.status != "1" or payment.paid <= 0:
            return
        if self._roll(self.config.reprocess_per_mille, "reprocess", icn):
            self.state.scheduled.append({"kind": "reprocess", "icn": icn, "after_run": run_no})
        elif self._roll(self.config.recoup_per_mille, "recoup", icn):
            rng = self._rng("recoup-amount", icn)
            amount = min(
                max(money(payment.paid * Decimal(rng.randint(5, 25)) / 100), Decimal("1.00")), payment.paid
            )
            self.state.scheduled.append(
                {"kind": "recoup", "icn": icn, "after_run": run_no, "amount": str(amount)}
            )

    def _correction(self, original: ClaimPayment, run_date: dt.date) -> ClaimPayment | None:
        """Re-adjudicate a paid claim after a retroactive fee-schedule increase: same patient share for
        deductible and copay, coinsurance recomputed on the new allowed amount."""
        ptype = PayerType(original.payer_type)
        plan = PLANS[ptype]
        uplift = 1 + self.config.correction_uplift
        lines = []
        changed = False
        for ln in original.lines:
            new = replace(ln, adjustments=list(ln.adjustments), remarks=list(ln.remarks))
            co45 = sum((a.amount for a in ln.adjustments if (a.group, a.reason) == ("CO", "45")), ZERO)
            if ln.allowed is not None and co45 > 0 and ln.paid > 0:
                allowed = min(ln.charge, money(ln.allowed * uplift))
                keep = {(a.group, a.reason): a.amount for a in ln.adjustments if a.group == "PR"}
                ded = keep.get(("PR", "1"), ZERO)
                copay = keep.get(("PR", "3"), ZERO)
                coins = money((allowed - ded - copay) * plan.coinsurance)
                new.allowed = allowed
                new.paid = allowed - ded - copay - coins
                new.adjustments = []
                if ln.charge > allowed:
                    new.adjustments.append(Adjustment("CO", "45", ln.charge - allowed))
                for reason, amount in (("1", ded), ("2", coins), ("3", copay)):
                    if amount > 0:
                        new.adjustments.append(Adjustment("PR", reason, amount))
                changed = changed or new.paid != ln.paid
            lines.append(new)
        if not changed:
            return None
        corrected = replace(
            original,
            payer_claim_number=self.new_icn(run_date),
            lines=lines,
            paid=sum((ln.paid for ln in lines), ZERO),
            patient_responsibility=sum(
                (a.amount for ln in lines for a in ln.adjustments if a.group == "PR"), ZERO
            ),
        )
        check_balance(corrected)
        return corrected

    def _interest(self, underpaid: Decimal, received: dt.date, run_date: dt.date) -> Decimal:
        if underpaid <= 0:
            return ZERO
        days = max((run_date - received).days, self.config.interest_min_days)
        return money(underpaid * self.config.interest_rate * days / 365)

    def _forward_balance(
        self, key: str, run_no: int, claims: list[ClaimPayment], plb: list[ProviderAdjustment]
    ) -> None:
        """Keep BPR02 ≥ 0: recover an earlier forwarded balance, or forward this run's deficit."""
        total = sum((c.paid for c in claims), ZERO) - sum((a.amount for a in plb), ZERO)
        owed = self.state.forward_balances.get(key)
        if owed and total > 0:
            amount, ref = Decimal(owed["amount"]), owed["ref"]
            take = min(amount, total)
            plb.append(ProviderAdjustment("FB", ref, take))
            total -= take
            if amount - take > 0:
                self.state.forward_balances[key] = {"amount": str(amount - take), "ref": ref}
            else:
                del self.state.forward_balances[key]
        if total < 0:
            ref = f"FB{run_no:06d}"
            plb.append(ProviderAdjustment("FB", ref, total))
            prev = Decimal(self.state.forward_balances.get(key, {"amount": "0"})["amount"])
            self.state.forward_balances[key] = {"amount": str(prev - total), "ref": ref}
