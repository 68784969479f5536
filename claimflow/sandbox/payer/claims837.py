"""Read a received 837P/837I into the few records the payer simulator needs.

The simulator is not an 837 parser for the product (that direction is ours to *write*); it only needs
what a front-end edit and an adjudication engine look at: the envelope (to address the TA1/999/277CA
back to the submitter), and per claim the patient control number, charges, frequency, billing NPI,
payer ID, member ID, the patient's identity (kept in memory only, hashed before it touches the state
file), SBR01/SBR09, the prior payer's adjudication for secondary claims, REF*F8 and the service lines.

Loops are recognised the way the guides build them (005010X222A1 / 005010X223A2)::

    HL*1**20*1~NM1*85*2*SUNRISE CLINIC*****XX*1234567893~        2000A / 2010AA billing provider
    HL*2*1*22*0~SBR*P*18*******CI~NM1*IL*1*DOE*JANE****MI*ACM1~  2000B / 2010BA subscriber
    NM1*PR*2*ACME HEALTH*****PI*SBX01~                           2010BB payer
    CLM*C00000001*125***11:B:1*Y*A*Y*Y~                          2300 claim
    SBR*S*18*******CI~AMT*D*80~CAS*PR*2*20~                      2320 other payer (secondary claims)
    LX*1~SV1*HC:99213*125*UN*1***1~DTP*472*D8*20250101~REF*6R*L1~  2400 service line

Nothing here logs or raises with element values: errors name the file, segment number and segment ID.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from edi.errors import X12ParseError

PROFESSIONAL_VERSION = "005010X222A1"
INSTITUTIONAL_VERSION = "005010X223A2"


@dataclass(slots=True)
class Address:
    line1: str = ""
    line2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""


@dataclass(slots=True)
class PartyName:
    """An NM1: ``entity_type`` 1 person, 2 organization; ``last`` is the organization name for 2."""

    entity_type: str = "1"
    last: str = ""
    first: str = ""
    middle: str = ""
    suffix: str = ""
    id_qualifier: str = ""
    identifier: str = ""


@dataclass(slots=True)
class BillingProvider:
    """Loop 2010AA: the payee of the 835 (N1*PE) and the 2000C provider of the 277CA."""

    name: PartyName = field(default_factory=PartyName)
    address: Address = field(default_factory=Address)
    tax_id: str = ""

    @property
    def npi(self) -> str:
        return self.name.identifier if self.name.id_qualifier == "XX" else ""


@dataclass(slots=True)
class Line837:
    """Loop 2400 (with its 2430 prior-payer adjudication when the claim is secondary)."""

    number: int  # LX01
    qualifier: str  # SV101-1 / SV202-1, usually HC
    procedure: str | None  # CPT/HCPCS
    modifiers: tuple[str, ...]
    revenue_code: str | None  # 837I SV201
    charge: Decimal
    unit_basis: str
    units: Decimal
    service_date: dt.date | None = None
    service_date_end: dt.date | None = None
    control_number: str | None = None  # REF*6R, echoed in the 835
    rendering_npi: str | None = None  # 2420A
    prior_paid: Decimal | None = None  # 2430 SVD02
    prior_adjustments: tuple[tuple[str, str, Decimal], ...] = ()  # 2430 CAS (group, CARC, amount)


@dataclass(slots=True)
class Claim837:
    """Loop 2300 and what it inherits from 2000A/2000B/2000C."""

    kind: str  # "P" professional, "I" institutional
    patient_control_number: str  # CLM01
    total_charge: Decimal  # CLM02
    facility_code: str  # CLM05-1: place of service (837P) or first two digits of the bill type (837I)
    frequency: str  # CLM05-3
    billing: BillingProvider
    payer_id: str  # 2010BB NM109
    payer_name: str
    payer_address: Address
    member_id: str  # 2010BA NM109
    subscriber: PartyName
    patient: PartyName  # 2010CA, or the subscriber when the patient is the subscriber
    patient_birth_date: str  # DMG02 of the patient (CCYYMMDD), "" when absent
    relationship: str  # "18" self, else PAT01
    responsibility: str  # SBR01: P, S, T, ...
    filing_indicator: str  # SBR09
    segment_no: int  # CLM's position in the file (for messages)
    st_control: str = ""
    st_position: int = 0  # CLM's position in its transaction set (ST = 1), as a 999 IK302 counts
    rendering_npi: str | None = None  # 2310B (837P)
    attending_npi: str | None = None  # 2310A (837I)
    bill_type: str | None = None  # 837I: CLM05-1 + CLM05-3
    original_claim_number: str | None = None  # REF*F8
    statement_from: dt.date | None = None  # 837I DTP*434
    statement_to: dt.date | None = None
    other_payer_paid: Decimal | None = None  # 2320 AMT*D (sum over prior payers)
    other_payer_adjustments: tuple[tuple[str, str, Decimal], ...] = ()  # 2320 CAS
    other_payer_patient_liability: Decimal | None = None  # 2320 AMT*EAF (remaining patient liability)
    lines: list[Line837] = field(default_factory=list)

    @property
    def patient_key(self) -> str:
        """Who the accumulators belong to: member ID + relationship + patient name and birth date.

        PHI: keep it in memory; ``engine`` hashes it (salted with the seed) before it is stored.
        """
        p = self.patient
        return "|".join((self.member_id, self.relationship, p.last, p.first, self.patient_birth_date))

    @property
    def service_from(self) -> dt.date | None:
        dates = [ln.service_date for ln in self.lines if ln.service_date] + (
            [self.statement_from] if self.statement_from else []
        )
        return min(dates) if dates else None

    @property
    def service_to(self) -> dt.date | None:
        dates = [ln.service_date_end or ln.service_date for ln in self.lines if ln.service_date] + (
            [self.statement_to] if self.statement_to else []
        )
        return max(d for d in dates if d) if dates else None

    @property
    def npis(self) -> list[tuple[str, str]]:
        """(entity code, NPI) pairs the front end checks: 85 billing, 82 rendering, 71 attending."""
        out = [("85", self.billing.npi)]
        if self.rendering_npi:
            out.append(("82", self.rendering_npi))
        if self.attending_npi:
            out.append(("71", self.attending_npi))
        out.extend(("82", ln.rendering_npi) for ln in self.lines if ln.rendering_npi)
        return out


@dataclass(slots=True)
class Transaction837:
    control_number: str  # ST02
    version: str  # ST03
    segment_count: int  # counted ST..SE inclusive
    declared_count: int | None  # SE01
    submitter_name: str = ""  # 1000A NM103
    submitter_id: str = ""  # 1000A NM109
    receiver_name: str = ""  # 1000B NM103
    receiver_id: str = ""
    reference: str = ""  # BHT03
    transaction_set_id: str = "837"  # ST01
    claims: list[Claim837] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # structural problems the reader noticed (no values)
    boundaries: list[int] = field(default_factory=list)  # positions of HL segments (a claim ends there)
    first_segment: int = 0  # file segment number of the ST (ISA = 1)

    def claim_spans(self) -> list[tuple[int, int, str]]:
        """``(first, last, CLM01)`` positions of each claim (2300 and its 2400s) in this transaction set."""
        stops = sorted({*self.boundaries, *(c.st_position for c in self.claims), self.segment_count})
        out = []
        for c in self.claims:
            # the first stop after the claim's CLM: a binary search, as a scan is quadratic in the claims
            i = bisect.bisect_right(stops, c.st_position)
            end = stops[i] if i < len(stops) else self.segment_count
            out.append((c.st_position, end - 1, c.patient_control_number))
        return out

    @property
    def kind(self) -> str:
        return "I" if self.version.startswith("005010X223") else "P"


@dataclass(slots=True)
class Group837:
    control_number: str  # GS06
    functional_id: str  # GS01
    sender: str  # GS02
    receiver: str  # GS03
    version: str  # GS08
    transactions: list[Transaction837] = field(default_factory=list)
    declared_count: int | None = None  # GE01
    trailer_control: str | None = None  # GE02
    first_segment: int = 0  # file segment numbers of GS and GE
    last_segment: int = 0


@dataclass(slots=True)
class Interchange837:
    control_number: str  # ISA13
    sender_qualifier: str  # ISA05
    sender_id: str  # ISA06 (trailing blanks stripped)
    receiver_qualifier: str  # ISA07
    receiver_id: str  # ISA08
    date: str  # ISA09 YYMMDD
    time: str  # ISA10 HHMM
    version: str  # ISA12
    ack_requested: str  # ISA14
    usage: str  # ISA15
    groups: list[Group837] = field(default_factory=list)
    declared_groups: int | None = None  # IEA01
    trailer_control: str | None = None  # IEA02
    envelope_errors: list[str] = field(default_factory=list)  # TA105 note codes

    @property
    def claims(self) -> Iterator[Claim837]:
        for g in self.groups:
            for t in g.transactions:
                yield from t.claims


def _dec(value: str, segno: int, seg_id: str, element: str) -> Decimal:
    try:
        return Decimal(value)
    except (InvalidOperation, ValueError):
        raise X12ParseError("is not a number", segment_no=segno, segment_id=seg_id, element=element) from None


def _date(value: str) -> dt.date | None:
    try:
        if len(value) == 8 and value.isascii() and value.isdigit():
            # CCYYMMDD, as nearly every date is: what strptime would give, without its regex (a per-claim cost)
            return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
        return dt.datetime.strptime(value, "%Y%m%d").date()  # its leniency ("2025033") for the rest
    except ValueError:
        return None


def _period(fmt: str, value: str) -> tuple[dt.date | None, dt.date | None]:
    if fmt == "RD8" and "-" in value:
        a, _, b = value.partition("-")
        return _date(a), _date(b)
    d = _date(value)
    return d, None


def _el(seg: list[str], i: int) -> str:
    return seg[i] if len(seg) > i else ""


def _name(seg: list[str]) -> PartyName:
    return PartyName(
        entity_type=_el(seg, 2),
        last=_el(seg, 3),
        first=_el(seg, 4),
        middle=_el(seg, 5),
        suffix=_el(seg, 7),
        id_qualifier=_el(seg, 8),
        identifier=_el(seg, 9),
    )


def _address(addr: Address, seg: list[str]) -> None:
    if seg[0] == "N3":
        addr.line1, addr.line2 = _el(seg, 1), _el(seg, 2)
    else:
        addr.city, addr.state, addr.postal_code = _el(seg, 1), _el(seg, 2), _el(seg, 3)


class _ClaimReader:
    """A small state machine over one transaction's segments; see the module docstring for the loops."""

    def __init__(self, txn: Transaction837, component: str) -> None:
        self.txn = txn
        self.comp = component
        self.loop = "header"
        self.billing = BillingProvider()
        self.subscriber = PartyName()
        self.subscriber_dob = ""
        self.member_id = ""
        self.sbr01 = ""
        self.sbr02 = ""
        self.sbr09 = ""
        self.payer = PartyName()
        self.payer_address = Address()
        self.patient: PartyName | None = None
        self.patient_dob = ""
        self.pat01 = ""
        self.claim: Claim837 | None = None
        self.line: Line837 | None = None
        self.nm1_target = ""  # which NM1 the following N3/N4/DMG/REF belong to

    def _comp(self, value: str) -> list[str]:
        return value.split(self.comp) if value else [""]

    def feed(self, segno: int, seg: list[str]) -> None:
        sid = seg[0]
        handler = getattr(self, "_" + sid, None)
        if handler is not None:
            handler(segno, seg)

    # --- header and hierarchy -------------------------------------------------------------
    def _BHT(self, segno: int, seg: list[str]) -> None:
        self.txn.reference = _el(seg, 3)

    def _HL(self, segno: int, seg: list[str]) -> None:
        self.txn.boundaries.append(self.txn.segment_count)
        level = _el(seg, 3)
        self.claim = None
        self.line = None
        self.nm1_target = ""
        if level == "20":
            self.loop = "2000A"
            self.billing = BillingProvider()
        elif level == "22":
            self.loop = "2000B"
            self.subscriber, self.subscriber_dob, self.member_id = PartyName(), "", ""
            self.payer, self.payer_address = PartyName(), Address()
            self.patient, self.patient_dob, self.pat01 = None, "", ""
        elif level == "23":
            self.loop = "2000C"
            self.patient, self.patient_dob = PartyName(), ""

    def _SBR(self, segno: int, seg: list[str]) -> None:
        if self.loop == "2000B":
            self.sbr01, self.sbr02, self.sbr09 = _el(seg, 1), _el(seg, 2), _el(seg, 9)
        elif self.claim is not None:
            self.loop = "2320"
            self.line = None

    def _PAT(self, segno: int, seg: list[str]) -> None:
        self.pat01 = _el(seg, 1)

    def _NM1(self, segno: int, seg: list[str]) -> None:
        code = _el(seg, 1)
        if self.loop == "header":
            if code == "41":
                self.txn.submitter_name, self.txn.submitter_id = _el(seg, 3), _el(seg, 9)
            elif code == "40":
                self.txn.receiver_name, self.txn.receiver_id = _el(seg, 3), _el(seg, 9)
            self.nm1_target = code
            return
        if self.loop == "2000A":
            self.nm1_target = code
            if code == "85":
                self.billing.name = _name(seg)
            return
        if self.loop == "2000B":
            self.nm1_target = code
            if code == "IL":
                self.subscriber = _name(seg)
                self.member_id = _el(seg, 9)
            elif code == "PR":
                self.payer = _name(seg)
            return
        if self.loop == "2000C":
            self.nm1_target = code
            if code == "QC":
                self.patient = _name(seg)
            return
        self.nm1_target = ""
        if self.loop == "2300" and self.claim is not None:
            if code == "82":
                self.claim.rendering_npi = _el(seg, 9) if _el(seg, 8) == "XX" else None
            elif code == "71":
                self.claim.attending_npi = _el(seg, 9) if _el(seg, 8) == "XX" else None
        elif self.loop == "2400" and self.line is not None and code == "82":
            self.line.rendering_npi = _el(seg, 9) if _el(seg, 8) == "XX" else None

    def _N3(self, segno: int, seg: list[str]) -> None:
        self._addr(seg)

    def _N4(self, segno: int, seg: list[str]) -> None:
        self._addr(seg)

    def _addr(self, seg: list[str]) -> None:
        if self.loop == "2000A" and self.nm1_target == "85":
            _address(self.billing.address, seg)
        elif self.loop == "2000B" and self.nm1_target == "PR":
            _address(self.payer_address, seg)

    def _DMG(self, segno: int, seg: list[str]) -> None:
        if self.loop == "2000B" and self.nm1_target == "IL":
            self.subscriber_dob = _el(seg, 2)
        elif self.loop == "2000C" and self.nm1_target == "QC":
            self.patient_dob = _el(seg, 2)

    # --- claim ------------------------------------------------------------------------------
    def _CLM(self, segno: int, seg: list[str]) -> None:
        kind = self.txn.kind
        pos = self._comp(_el(seg, 5))
        facility, freq = pos[0], pos[2] if len(pos) > 2 else ""
        self_pay = self.patient is None
        patient = self.subscriber if self_pay else self.patient
        assert patient is not None
        self.claim = Claim837(
            kind=kind,
            patient_control_number=_el(seg, 1),
            total_charge=_dec(_el(seg, 2), segno, "CLM", "CLM02"),
            facility_code=facility,
            frequency=freq,
            billing=self.billing,
            payer_id=self.payer.identifier,
            payer_name=self.payer.last,
            payer_address=self.payer_address,
            member_id=self.member_id,
            subscriber=self.subscriber,
            patient=patient,
            patient_birth_date=self.subscriber_dob if self_pay else self.patient_dob,
            relationship="18" if self_pay else (self.pat01 or self.sbr02),
            responsibility=self.sbr01,
            filing_indicator=self.sbr09,
            segment_no=segno,
            st_control=self.txn.control_number,
            st_position=self.txn.segment_count,
            bill_type=(facility + freq) if kind == "I" else None,
        )
        self.txn.claims.append(self.claim)
        self.loop = "2300"
        self.line = None

    def _DTP(self, segno: int, seg: list[str]) -> None:
        qual, fmt, value = _el(seg, 1), _el(seg, 2), _el(seg, 3)
        if self.loop == "2300" and self.claim is not None and qual == "434":
            self.claim.statement_from, self.claim.statement_to = _period(fmt, value)
        elif self.loop == "2400" and self.line is not None and qual == "472":
            start, end = _period(fmt, value)
            self.line.service_date, self.line.service_date_end = start, (end if end != start else None)

    def _REF(self, segno: int, seg: list[str]) -> None:
        qual, value = _el(seg, 1), _el(seg, 2)
        if self.loop == "2000A" and self.nm1_target == "85" and qual in ("EI", "SY"):
            self.billing.tax_id = value
        elif self.loop == "2300" and self.claim is not None and qual == "F8":
            self.claim.original_claim_number = value
        elif self.loop == "2400" and self.line is not None and qual == "6R":
            self.line.control_number = value

    def _AMT(self, segno: int, seg: list[str]) -> None:
        if self.loop != "2320" or self.claim is None:
            return
        if _el(seg, 1) == "D":
            paid = _dec(_el(seg, 2), segno, "AMT", "AMT02")
            self.claim.other_payer_paid = (self.claim.other_payer_paid or Decimal(0)) + paid
        elif _el(seg, 1) == "EAF":  # the last prior payer's figure is the one that counts
            self.claim.other_payer_patient_liability = _dec(_el(seg, 2), segno, "AMT", "AMT02")

    def _CAS(self, segno: int, seg: list[str]) -> None:
        group = _el(seg, 1)
        adjustments = []
        for i in range(2, len(seg), 3):
            reason, amount = _el(seg, i), _el(seg, i + 1)
            if reason and amount:
                adjustments.append((group, reason, _dec(amount, segno, "CAS", f"CAS{i + 1:02d}")))
        if self.loop == "2320" and self.claim is not None:
            self.claim.other_payer_adjustments += tuple(adjustments)
        elif self.loop == "2430" and self.line is not None:
            self.line.prior_adjustments += tuple(adjustments)

    def _LX(self, segno: int, seg: list[str]) -> None:
        if self.claim is None:
            self.txn.problems.append(f"segment {segno} (LX) outside a claim")
            return
        try:
            number = int(_el(seg, 1))
        except ValueError:
            number = len(self.claim.lines) + 1
        self.line = Line837(number, "", None, (), None, Decimal(0), "UN", Decimal(0))
        self.claim.lines.append(self.line)
        self.loop = "2400"

    def _SV1(self, segno: int, seg: list[str]) -> None:
        if self.line is None:
            return
        proc = self._comp(_el(seg, 1))
        self.line.qualifier = proc[0]
        self.line.procedure = proc[1] if len(proc) > 1 and proc[1] else None
        self.line.modifiers = tuple(m for m in proc[2:6] if m)
        self.line.charge = _dec(_el(seg, 2) or "0", segno, "SV1", "SV102")
        self.line.unit_basis = _el(seg, 3) or "UN"
        self.line.units = _dec(_el(seg, 4) or "0", segno, "SV1", "SV104")

    def _SV2(self, segno: int, seg: list[str]) -> None:
        if self.line is None:
            return
        self.line.revenue_code = _el(seg, 1) or None
        proc = self._comp(_el(seg, 2))
        self.line.qualifier = proc[0]
        self.line.procedure = proc[1] if len(proc) > 1 and proc[1] else None
        self.line.modifiers = tuple(m for m in proc[2:6] if m)
        self.line.charge = _dec(_el(seg, 3) or "0", segno, "SV2", "SV203")
        self.line.unit_basis = _el(seg, 4) or "UN"
        self.line.units = _dec(_el(seg, 5) or "0", segno, "SV2", "SV205")

    def _SVD(self, segno: int, seg: list[str]) -> None:
        if self.line is None:
            return
        self.loop = "2430"
        paid = _dec(_el(seg, 2) or "0", segno, "SVD", "SVD02")
        self.line.prior_paid = (self.line.prior_paid or Decimal(0)) + paid


def _segment_source(path: Path) -> tuple[Iterable[tuple[int, list[str]]], str]:
    """(numbered segments, component separator) from claimflow's streaming reader."""
    from edi.reader import detect_delimiters, iter_segments

    with path.open("rb") as fh:
        head = fh.read(4096)
    delims = detect_delimiters(head)
    return iter_segments(path, name=path.name), delims.component


def read_837(path: Path) -> Interchange837:
    """Read one interchange (the sandbox takes one per uploaded file) into records.

    Envelope problems that a TA1 reports (IEA01/IEA02 mismatches, missing IEA) are collected in
    ``envelope_errors`` rather than raised, so the caller can answer them; a file that is not X12 at
    all raises :class:`X12ParseError`.
    """
    segments, component = _segment_source(path)
    return read_837_segments(segments, component=component, name=path.name)


_QUALIFIERS = frozenset(("01", "14", "20", "27", "28", "29", "30", "33", "ZZ"))


def _isa_problems(seg: list[str]) -> list[str]:
    """TA105 note codes for ISA elements the sandbox cannot accept (the codes of X12 TA1 note list)."""
    out = []
    if seg[5].strip() not in _QUALIFIERS:
        out.append("005")
    if not seg[6].strip():
        out.append("006")
    if seg[7].strip() not in _QUALIFIERS:
        out.append("007")
    if not seg[8].strip():
        out.append("008")
    try:
        dt.datetime.strptime(seg[9], "%y%m%d")
    except ValueError:
        out.append("014")
    try:
        dt.datetime.strptime(seg[10], "%H%M")
    except ValueError:
        out.append("015")
    if seg[12] != "00501":
        out.append("017")
    if not (len(seg[13]) == 9 and seg[13].isdigit()):
        out.append("018")
    if seg[14] not in ("0", "1"):
        out.append("019")
    if seg[15] not in ("P", "T"):
        out.append("020")
    return out


def read_837_segments(
    segments: Iterable[tuple[int, list[str]]], *, component: str = ":", name: str = "<input>"
) -> Interchange837:
    ich: Interchange837 | None = None
    group: Group837 | None = None
    txn: Transaction837 | None = None
    reader: _ClaimReader | None = None
    for segno, seg in segments:
        sid = seg[0]
        if sid == "ISA":
            if ich is not None:
                ich.envelope_errors.append("024")  # one interchange per file in the sandbox
                break
            if len(seg) < 17:
                raise X12ParseError(
                    "ISA must have 16 elements", file=name, segment_no=segno, segment_id="ISA"
                )
            ich = Interchange837(
                control_number=seg[13].strip(),
                sender_qualifier=seg[5].strip(),
                sender_id=seg[6].strip(),
                receiver_qualifier=seg[7].strip(),
                receiver_id=seg[8].strip(),
                date=seg[9],
                time=seg[10],
                version=seg[12],
                ack_requested=seg[14],
                usage=seg[15],
            )
            ich.envelope_errors.extend(_isa_problems(seg))
            continue
        if ich is None:
            raise X12ParseError("file does not start with ISA", file=name, segment_no=segno, segment_id=sid)
        if sid == "GS":
            group = Group837(
                control_number=_el(seg, 6),
                functional_id=_el(seg, 1),
                sender=_el(seg, 2),
                receiver=_el(seg, 3),
                version=_el(seg, 8),
                first_segment=segno,
            )
            ich.groups.append(group)
        elif sid == "ST":
            txn = Transaction837(
                control_number=_el(seg, 2),
                version=_el(seg, 3),
                segment_count=1,
                declared_count=None,
                first_segment=segno,
                transaction_set_id=_el(seg, 1),
            )
            if group is not None:
                group.transactions.append(txn)
            reader = _ClaimReader(txn, component)
        elif sid == "SE":
            if txn is not None:
                txn.segment_count += 1
                try:
                    txn.declared_count = int(_el(seg, 1))
                except ValueError:
                    txn.declared_count = None
            txn, reader = None, None
        elif sid == "GE":
            if group is not None:
                try:
                    group.declared_count = int(_el(seg, 1))
                except ValueError:
                    group.declared_count = None
                group.trailer_control = _el(seg, 2)
                group.last_segment = segno
            group = None
        elif sid == "IEA":
            try:
                ich.declared_groups = int(_el(seg, 1))
            except ValueError:
                ich.declared_groups = None
            ich.trailer_control = _el(seg, 2)
        elif txn is not None and reader is not None:
            txn.segment_count += 1
            try:
                reader.feed(segno, seg)
            except X12ParseError as err:
                txn.problems.append(err.with_file(name).line())
    if ich is None:
        raise X12ParseError("no ISA segment", file=name)
    if ich.trailer_control is None:
        ich.envelope_errors.append("023")  # premature end of file
    else:
        if ich.trailer_control != ich.control_number:
            ich.envelope_errors.append("001")  # ISA13 and IEA02 do not match
        if ich.declared_groups != len(ich.groups):
            ich.envelope_errors.append("021")  # invalid number of included groups
    return ich
