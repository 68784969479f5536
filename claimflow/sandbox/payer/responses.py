"""Writers for what the sandbox sends back: TA1, 999 (005010X231A1), 277CA (005010X214), 835 (005010X221A1).

Each writer returns the complete interchange as text with the default delimiters (``* : ^ ~``). The
envelope mirrors the received 837: our ISA06/GS02 are the 837's ISA08/GS03 and the other way round;
ISA15 (test/production) is echoed. Timestamps come from the caller (the sandbox uses a fixed time on
the run date so that the same seed and files give byte-identical responses), control numbers from the
sandbox's own counters in its state file.

Examples of what comes out::

    TA1*000000017*250120*1000*A*000~
    AK1*HC*17*005010X222A1~AK2*837*0001*005010X222A1~IK3*SBR*13**8~IK4*9*1032*7*QQ~IK5*R*5~AK9*R*1*1*0~
    STC*A7:562:85*20250121*U*143~            (277CA 2200D, rejected claim)
    CLP*C00000001*1*143*80.41*45*12*2502100000001*11*1~CAS*CO*45*17.1~...   (835)
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from claimflow.sandbox.payer.claims837 import Group837, Interchange837, PartyName
from claimflow.sandbox.payer.engine import (
    Adjustment,
    BalanceError,
    ClaimAck,
    ClaimPayment,
    LinePayment,
    Remittance,
    check_balance,
)
from edi.claim import InterchangeParties
from edi.envelope import (
    EnvelopeWriter,
    format_st02,
    ge_segment,
    gs_segment,
    iea_segment,
    isa_segment,
    se_segment,
)
from edi.writer import Element, SegmentWriter, format_amount, format_d8, format_quantity

VERSION_999 = "005010X231A1"
VERSION_277CA = "005010X214"
VERSION_835 = "005010X221A1"

_IK3_CODES = frozenset(("1", "2", "3", "4", "5", "6", "7", "8", "I4", "I6", "I7", "I8", "I9"))
_IK4_CODES = frozenset(
    ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "12", "13", "I10", "I11", "I12", "I13", "I6", "I9")
)
_IK5_CODES = frozenset(
    [
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "7",
        "8",
        "9",
        "10",
        "11",
        "12",
        "13",
        "15",
        "16",
        "17",
        "18",
        "19",
        "23",
        "24",
        "25",
        "26",
        "27",
        "I5",
        "I6",
    ]
)
_AK9_CODES = frozenset(
    [
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "10",
        "11",
        "12",
        "13",
        "14",
        "15",
        "16",
        "17",
        "18",
        "19",
        "23",
        "24",
        "25",
        "26",
    ]
)


def _m(value: Decimal) -> str:
    return format_amount(value)


_UNSAFE = str.maketrans({c: " " for c in "*:^~\r\n\t"})
_DELIMITERS = frozenset("*:^~")


def _clean(value: str) -> str:
    """Values echoed from the received file may hold characters our delimiters cannot carry (the 837 may
    have used other delimiters): blank them rather than refuse to answer. Non-ASCII becomes ``?``."""
    if value.isascii() and value.isprintable() and _DELIMITERS.isdisjoint(value):  # (called per element)
        return value
    out = value.translate(_UNSAFE)
    return "".join(c if c.isascii() and c.isprintable() else "?" for c in out)


class _Writer(SegmentWriter):
    """:class:`SegmentWriter` that cleans every element (see :func:`_clean`) instead of refusing it."""

    __slots__ = ()

    def segment(self, seg_id: str, *elements: Element) -> None:
        cleaned: list[Element] = []
        for el in elements:
            if el is None or isinstance(el, str):
                cleaned.append(_clean(el) if el else el)
            else:
                cleaned.append([_clean(c) if c else c for c in el])
        super().segment(seg_id, *cleaned)


_QUALIFIERS = frozenset(("01", "14", "20", "27", "28", "29", "30", "33", "ZZ"))


def _party_id(value: str) -> str:
    return _clean(value)[:15] or "UNKNOWN"


def response_parties(ich: Interchange837, group: Group837 | None = None) -> InterchangeParties:
    """The envelope of an answer: sender and receiver of the received interchange swapped.

    A broken envelope (the reason for a rejecting TA1) still gets an answer: unusable qualifiers become
    ``ZZ`` and missing IDs ``UNKNOWN``.
    """
    return InterchangeParties(
        sender_qualifier=ich.receiver_qualifier if ich.receiver_qualifier in _QUALIFIERS else "ZZ",
        sender_id=_party_id(ich.receiver_id),
        receiver_qualifier=ich.sender_qualifier if ich.sender_qualifier in _QUALIFIERS else "ZZ",
        receiver_id=_party_id(ich.sender_id),
        usage=ich.usage if ich.usage in ("P", "T") else "T",
        gs_sender=_clean((group.receiver if group else "") or ich.receiver_id)[:15] or "UNKNOWN",
        gs_receiver=_clean((group.sender if group else "") or ich.sender_id)[:15] or "UNKNOWN",
        ack_requested="0",
    )


# --- TA1 --------------------------------------------------------------------------------------------
def write_ta1(ich: Interchange837, note_code: str, isa13: int, created: dt.datetime) -> str:
    """A TA1-only interchange: ``ISA…~TA1*<ISA13>*<ISA09>*<ISA10>*A|R*<note>~IEA*0*…~``.

    ``note_code`` ``000`` accepts the interchange (answering ISA14=1); any other code rejects it.
    """
    parties = response_parties(ich)
    w = _Writer()
    # Echo ISA13/ISA09/ISA10; when those are what is wrong, send well-formed stand-ins instead.
    control = ich.control_number if len(ich.control_number) == 9 and ich.control_number.isdigit() else "0" * 9
    try:
        dt.datetime.strptime(ich.date + ich.time, "%y%m%d%H%M")
        date, time = ich.date, ich.time
    except ValueError:
        date, time = created.strftime("%y%m%d"), created.strftime("%H%M")
    w.segment("TA1", control, date, time, "A" if note_code == "000" else "R", note_code)
    return isa_segment(parties, isa13, created) + w.text() + iea_segment(0, isa13)


# --- 999 --------------------------------------------------------------------------------------------
@dataclass(slots=True)
class ElementError:
    """IK4: element position (and component/repeat), data element reference number, IK403 code."""

    position: int
    component: int | None
    repeat: int | None
    reference: str | None
    code: str
    bad_value: str | None = None  # echoed (IK404) only for code-value errors, never free text


@dataclass(slots=True)
class SegmentError:
    """IK3: segment ID, position in the transaction set (ST = 1), loop, IK304 codes, element errors."""

    segment_id: str
    position: int
    loop_id: str | None
    codes: list[str] = field(default_factory=list)
    elements: list[ElementError] = field(default_factory=list)


@dataclass(slots=True)
class TransactionResult:
    """One received ST/SE as the validator saw it."""

    control_number: str
    transaction_set_id: str
    version: str
    codes: list[str] = field(default_factory=list)  # IK5 syntax error codes (ST/SE level)
    segments: list[SegmentError] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return not self.codes and not self.segments


@dataclass(slots=True)
class GroupResult:
    control_number: str
    functional_id: str
    version: str
    declared_count: int
    received_count: int
    codes: list[str] = field(default_factory=list)  # AK9 error codes (GS/GE level)
    transactions: list[TransactionResult] = field(default_factory=list)

    @property
    def group_codes(self) -> list[str]:
        """AK905-AK909 codes for what is wrong with the group itself (GS/GE), in 999 code list terms.

        A GE01 that does not match the sets received is code 5 even when the validator did not say so;
        codes outside the 999 list are kept out (``"1"`` stands for them, so a group in error always
        says why).
        """
        codes = [c for c in self.codes if c in _AK9_CODES]
        if self.codes and not codes:
            codes = ["1"]
        if self.declared_count != len(self.transactions) and "5" not in codes:
            codes.append("5")
        return codes

    @property
    def rejected(self) -> bool:
        """The group is in error itself: every set in it is rejected, whatever its own content."""
        return bool(self.codes) or self.declared_count != len(self.transactions)

    @property
    def accepted_count(self) -> int:
        """Transaction sets accepted; none when the group itself is in error (GS/GE problems)."""
        if self.rejected:
            return 0
        return sum(1 for t in self.transactions if t.accepted)

    def accepted_transactions(self) -> list[TransactionResult]:
        return [] if self.rejected else [t for t in self.transactions if t.accepted]


def write_999(
    ich: Interchange837,
    groups: Sequence[GroupResult],
    isa13: int,
    gs06: int,
    created: dt.datetime,
    claim_spans: dict[str, list[tuple[int, int, str]]] | None = None,
) -> str:
    """One 999 transaction set per received functional group, all in one interchange.

    ``claim_spans`` maps ST02 to ``(first, last, CLM01)`` positions of each claim in that transaction set,
    so an IK3 inside a claim gets ``CTX*CLM01:<patient control number>`` (the submitter's own number).

    The 999 never contradicts itself (:func:`check_999_group`): AK904 is the number of IK5 ``A``; AK901 is
    ``A`` when every set is accepted, ``P`` when some are, ``R`` when none is. A group in error itself
    (GS/GE: ``GroupResult.rejected``) gets ``AK9*R`` with its codes and AK904 = 0, and only its sets that
    have errors of their own are listed (AK2 loops are situational): an ``IK5*A`` never sits under an
    ``AK9*R``.
    """
    first = ich.groups[0] if ich.groups else None
    ew = EnvelopeWriter(response_parties(ich, first), isa13, created)
    ew.begin_group("FA", VERSION_999, gs06)
    for n, g in enumerate(groups, start=1):
        ew.begin_transaction("999", n, VERSION_999)
        w = _Writer()
        w.segment("AK1", g.functional_id or "HC", g.control_number, g.version)
        group_rejected = g.rejected
        ik5_accepted = 0
        for t in g.transactions:
            if group_rejected and t.accepted:
                continue  # nothing of its own to report; the AK9 rejects it with the group
            w.segment("AK2", t.transaction_set_id, t.control_number, t.version)
            spans = (claim_spans or {}).get(t.control_number, [])
            for s in t.segments:
                seg_codes = [c for c in s.codes if c in _IK3_CODES]
                if not seg_codes:
                    seg_codes = ["8"] if s.elements else ["1"]
                for code in seg_codes:
                    w.segment("IK3", s.segment_id, str(s.position), s.loop_id or "", code)
                clm01 = next((c for a, b, c in spans if a <= s.position <= b), None)
                if clm01:
                    w.segment("CTX", ("CLM01", clm01))
                for e in s.elements:
                    if e.code not in _IK4_CODES:
                        continue
                    pos = [str(e.position)]
                    if e.component or e.repeat:
                        pos.append(str(e.component) if e.component else "")
                    if e.repeat:
                        pos.append(str(e.repeat))
                    w.segment("IK4", pos, e.reference or "", e.code, e.bad_value if e.code == "7" else None)
            if t.accepted:
                w.segment("IK5", "A")
                ik5_accepted += 1
            else:
                codes = [c for c in t.codes if c in _IK5_CODES] or ["5"]
                if t.segments and "5" not in codes:
                    codes.append("5")
                w.segment("IK5", "R", *codes[:5])
        accepted = g.accepted_count
        received = len(g.transactions)
        ak9_codes = g.group_codes if group_rejected else []
        if group_rejected or accepted == 0:
            ak9 = "R"
        elif accepted < received:
            ak9 = "P"
        else:
            ak9 = "A"
        check_999_group(ak9, g.declared_count, received, accepted, ik5_accepted, ak9_codes)
        w.segment("AK9", ak9, str(g.declared_count), str(received), str(accepted), *ak9_codes[:5])
        ew.add(w.text(), w.segment_count)
        ew.end_transaction()
    ew.end_group()
    ew.end_interchange()
    return ew.text()


def check_999_group(
    ak901: str, ak902: int, ak903: int, ak904: int, ik5_accepted: int, ak905: Sequence[str]
) -> None:
    """Raise AssertionError when an AK9 would contradict its own AK2 loops (a sandbox bug, never input).

    AK904 = the IK5 ``A`` under it; ``A`` ⇔ all received accepted, ``P`` ⇔ some, ``R`` ⇔ none; AK904 ≤
    AK903; a rejection for group errors says why (AK905); AK902 ≠ AK903 is a group error (code 5).
    """
    problems = []
    if ak904 != ik5_accepted:
        problems.append("AK904 differs from the number of IK5 A")
    if not 0 <= ak904 <= ak903:
        problems.append("AK904 is not between 0 and AK903")
    expected = "R" if ak904 == 0 else "A" if ak904 == ak903 else "P"
    if ak901 != expected:
        problems.append(f"AK901 {ak901} with {ak904} of {ak903} sets accepted")
    if ak902 != ak903 and (ak901 != "R" or "5" not in ak905):
        problems.append("AK902 differs from AK903 without AK9 R and code 5")
    if problems:
        raise AssertionError("sandbox 999 contradicts itself: " + "; ".join(problems))


# --- 277CA ------------------------------------------------------------------------------------------
def _nm1_person(w: SegmentWriter, code: str, n: PartyName, qualifier: str, identifier: str) -> None:
    w.segment("NM1", code, "1", n.last, n.first, n.middle, "", n.suffix, qualifier, identifier)


def _period(start: dt.date | None, end: dt.date | None) -> tuple[str, str]:
    if start is None:
        return "", ""
    if end is not None and end != start:
        return "RD8", f"{format_d8(start)}-{format_d8(end)}"
    return "D8", format_d8(start)


def write_277ca(
    ich: Interchange837,
    acks: Sequence[ClaimAck],
    isa13: int,
    gs06: int,
    created: dt.datetime,
    received: dt.date,
) -> str:
    """Claim acknowledgments for every claim of the accepted transaction sets, one 2000A per payer.

    ``HL*1**20*1~NM1*PR*2*ACME HEALTH*****PI*SBX01~TRN*1*…~DTP*050*D8*…~DTP*009*D8*…~``
    ``HL*2*1*21*1~NM1*41*2*SUNRISE*****46*SUB001~TRN*2*<BHT03>~STC*A1:19:PR*…*WQ*…~QTY*90*…~AMT*YU*…~``
    ``HL*3*2*19*1~NM1*85*2*…*XX*<NPI>~TRN*1*…~STC*A1:19:PR**WQ*…~``
    ``HL*4*3*PT~NM1*QC*1*DOE*JANE****MI*…~TRN*2*<CLM01>~STC*A2:20*…*WQ*…~REF*1K*<ICN>~DTP*472*D8*…~``
    """
    first = ich.groups[0] if ich.groups else None
    ew = EnvelopeWriter(response_parties(ich, first), isa13, created)
    ew.begin_group("HN", VERSION_277CA, gs06)
    ew.begin_transaction("277", 1, VERSION_277CA)
    w = _Writer()
    day = format_d8(created.date())
    w.segment("BHT", "0085", "08", f"{isa13:09d}", day, created.strftime("%H%M"), "TH")

    # payer -> submitter (first transaction carrying it) -> billing provider -> claims
    txn_of: dict[int, tuple[str, str, str]] = {}
    for g in ich.groups:
        for t in g.transactions:
            for c in t.claims:
                txn_of[id(c)] = (t.submitter_name, t.submitter_id, t.reference)
    by_payer: dict[str, list[ClaimAck]] = {}
    for a in acks:
        by_payer.setdefault(a.claim.payer_id, []).append(a)

    hl = 0
    for payer_no, (payer_id, payer_acks) in enumerate(by_payer.items(), start=1):
        hl += 1
        hl_a = hl
        c0 = payer_acks[0].claim
        w.segment("HL", str(hl_a), "", "20", "1")
        w.segment("NM1", "PR", "2", c0.payer_name or payer_id, "", "", "", "", "PI", payer_id)
        w.segment("TRN", "1", f"{isa13:09d}{payer_no:03d}")
        w.segment("DTP", "050", "D8", format_d8(received))
        w.segment("DTP", "009", "D8", day)
        hl += 1
        hl_b = hl
        sub_name, sub_id, batch = txn_of.get(id(c0), ("", "", ""))
        w.segment("HL", str(hl_b), str(hl_a), "21", "1")
        w.segment("NM1", "41", "2", sub_name or ich.sender_id, "", "", "", "", "46", sub_id or ich.sender_id)
        w.segment("TRN", "2", batch or ich.control_number)
        _totals(w, payer_acks, level="B", date=day)

        by_provider: dict[str, list[ClaimAck]] = {}
        for a in payer_acks:
            by_provider.setdefault(
                a.claim.billing.name.identifier + "|" + a.claim.billing.name.last, []
            ).append(a)
        for prov_no, prov_acks in enumerate(by_provider.values(), start=1):
            hl += 1
            hl_c = hl
            bp = prov_acks[0].claim.billing
            w.segment("HL", str(hl_c), str(hl_b), "19", "1")
            etype = bp.name.entity_type if bp.name.entity_type in ("1", "2") else "2"
            w.segment(
                "NM1",
                "85",
                etype,
                bp.name.last,
                bp.name.first if etype == "1" else "",
                bp.name.middle if etype == "1" else "",
                "",
                "",
                "XX",
                bp.name.identifier or "0000000000",
            )
            w.segment("TRN", "1", f"{isa13:09d}{payer_no:03d}{prov_no:03d}")
            _totals(w, prov_acks, level="C", date=day)
            for a in prov_acks:
                hl += 1
                c = a.claim
                w.segment("HL", str(hl), str(hl_c), "PT")
                _nm1_person(w, "QC", c.patient, "MI", c.member_id or "UNKNOWN")
                w.segment("TRN", "2", c.patient_control_number)
                w.segment("STC", a.status.composite(), day, "WQ" if a.accepted else "U", _m(c.total_charge))
                if a.payer_claim_number:
                    w.segment("REF", "1K", a.payer_claim_number)
                if c.kind == "I" and c.bill_type:
                    w.segment("REF", "BLT", c.bill_type)
                fmt, value = _period(c.service_from, c.service_to)
                if not fmt:
                    fmt, value = "D8", format_d8(received)
                w.segment("DTP", "472", fmt, value)
    ew.add(w.text(), w.segment_count)
    ew.end_transaction()
    ew.end_group()
    ew.end_interchange()
    return ew.text()


def _totals(w: SegmentWriter, acks: Sequence[ClaimAck], *, level: str, date: str) -> None:
    total = sum((a.claim.total_charge for a in acks), Decimal(0))
    ok = [a for a in acks if a.accepted]
    bad = [a for a in acks if not a.accepted]
    # 2200B carries the receipt date in STC02; the guide does not use STC02 at 2200C.
    w.segment("STC", ("A1", "19", "PR"), date if level == "B" else "", "WQ", _m(total))
    q_ok, q_bad = ("90", "AA") if level == "B" else ("QA", "QC")
    if ok:
        w.segment("QTY", q_ok, str(len(ok)))
    if bad:
        w.segment("QTY", q_bad, str(len(bad)))
    if ok:
        w.segment("AMT", "YU", _m(sum((a.claim.total_charge for a in ok), Decimal(0))))
    if bad:
        w.segment("AMT", "YY", _m(sum((a.claim.total_charge for a in bad), Decimal(0))))


# --- 835 --------------------------------------------------------------------------------------------
def _digits(seed: str, n: int) -> str:
    h = hashlib.sha256(seed.encode()).hexdigest()
    return "".join(str(int(c, 16) % 10) for c in h)[:n]


def _aba(seed: str) -> str:
    """A routing number with a valid ABA check digit (synthetic, derived from ``seed``)."""
    d = [int(c) for c in "0" + _digits(seed, 7)]
    d[0] = 1  # Federal Reserve routing symbols start 01-12
    check = (10 - (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5])) % 10) % 10
    return "".join(map(str, d)) + str(check)


def payer_tin(payer_id: str) -> str:
    """TRN03/BPR10: ``1`` followed by the payer's (synthetic) nine-digit EIN."""
    return "1" + _digits("tin|" + payer_id, 9)


def _cas(w: SegmentWriter, adjustments: Iterable[Adjustment]) -> None:
    """One CAS per group code, up to six reason/amount/quantity triplets each."""
    by_group: dict[str, list[Adjustment]] = {}
    for a in adjustments:
        by_group.setdefault(a.group, []).append(a)
    for group, items in by_group.items():
        for i in range(0, len(items), 6):
            els: list[Element] = [group]
            for a in items[i : i + 6]:
                els += [a.reason, _m(a.amount), format_quantity(a.quantity) if a.quantity is not None else ""]
            w.segment("CAS", *els)


def _svc(w: SegmentWriter, ln: LinePayment) -> None:
    if ln.procedure:
        comp = [ln.qualifier if ln.qualifier in ("HC", "AD", "ER", "HP", "IV", "N4", "WK") else "HC"]
        comp += [ln.procedure, *ln.modifiers[:4]]
        rev = ln.revenue_code or ""
    else:
        comp = ["NU", ln.revenue_code or "0001"]
        rev = ""
    units = format_quantity(ln.units) if ln.units != 1 else ""
    w.segment("SVC", comp, _m(ln.charge), _m(ln.paid), rev, units)
    if ln.service_date is not None:
        if ln.service_date_end is not None and ln.service_date_end != ln.service_date:
            w.segment("DTM", "150", format_d8(ln.service_date))
            w.segment("DTM", "151", format_d8(ln.service_date_end))
        else:
            w.segment("DTM", "472", format_d8(ln.service_date))
    _cas(w, ln.adjustments)
    if ln.control_number:
        w.segment("REF", "6R", ln.control_number)
    if ln.allowed is not None:
        w.segment("AMT", "B6", _m(ln.allowed))
    for code in ln.remarks:
        w.segment("LQ", "HE", code)


def _clp(w: SegmentWriter, p: ClaimPayment) -> None:
    w.segment(
        "CLP",
        p.patient_control_number,
        p.status,
        _m(p.charge),
        _m(p.paid),
        _m(p.patient_responsibility),
        p.filing_indicator,
        p.payer_claim_number,
        p.facility_code,
        p.frequency,
    )
    _cas(w, p.claim_adjustments)
    _nm1_person(w, "QC", p.patient, p.patient.id_qualifier, p.patient.identifier)
    if p.insured is not None:
        _nm1_person(w, "IL", p.insured, p.insured.id_qualifier or "MI", p.insured.identifier)
    if p.crossover is not None:  # CLP02 = 19: NM1*TT*2*<carrier>*****PI*<id>
        w.segment("NM1", "TT", "2", p.crossover[0], "", "", "", "", "PI", p.crossover[1])
    if p.inpatient_days is not None:
        remarks = p.claim_remarks[:5]
        w.segment(
            "MIA",
            str(p.inpatient_days),
            "",
            "",
            "",
            remarks[0] if remarks else "",
            *([""] * 14),
            *remarks[1:5],
        )
    elif p.claim_remarks:
        w.segment("MOA", "", "", *p.claim_remarks[:5])
    if p.statement_from is not None:
        w.segment("DTM", "232", format_d8(p.statement_from))
        w.segment("DTM", "233", format_d8(p.statement_to or p.statement_from))
    w.segment("DTM", "050", format_d8(p.received))
    for ln in p.lines:
        _svc(w, ln)


def _remittance_body(w: SegmentWriter, r: Remittance) -> None:
    route = r.route
    total = r.total
    when = format_d8(r.run_date)
    tin = payer_tin(route.payer_id)
    if r.method == "ACH":
        w.segment(
            "BPR",
            "I",
            _m(total),
            "C",
            "ACH",
            "CCP",
            "01",
            _aba("payer|" + route.payer_id),
            "DA",
            _digits("acct|" + route.payer_id, 10),
            tin,
            "",
            "01",
            _aba("payee|" + route.payee.npi),
            "DA",
            _digits("acct|" + route.payee.npi + route.payee.tax_id, 12),
            when,
        )
    elif r.method == "CHK":
        w.segment("BPR", "C", _m(total), "C", "CHK", *([""] * 11), when)
    else:
        w.segment("BPR", "H", _m(total), "C", "NON", *([""] * 11), when)
    w.segment("TRN", "1", r.trace_number, tin)
    w.segment("DTM", "405", when)
    addr = route.payer_address
    w.segment("N1", "PR", route.payer_name or route.payer_id)
    w.segment("N3", addr.line1 or "PO BOX 1000", addr.line2)
    w.segment("N4", addr.city or "CLAIMSVILLE", addr.state or "TX", addr.postal_code or "75001")
    w.segment("REF", "2U", route.payer_id)
    w.segment("PER", "BL", "SANDBOX EDI SUPPORT", "TE", "8005550100")
    payee = route.payee
    w.segment(
        "N1", "PE", payee.name.last if payee.name.entity_type == "2" else _person(payee.name), "XX", payee.npi
    )
    if payee.address.line1:
        w.segment("N3", payee.address.line1, payee.address.line2)
        w.segment("N4", payee.address.city, payee.address.state, payee.address.postal_code)
    if payee.tax_id:
        w.segment("REF", "TJ", payee.tax_id)
    if r.claims:
        w.segment("LX", "1")
        for p in r.claims:
            w.context = p.patient_control_number
            _clp(w, p)
        w.context = None
    for i in range(0, len(r.adjustments), 6):
        els: list[Element] = [payee.npi, f"{r.run_date.year}1231"]
        for a in r.adjustments[i : i + 6]:
            els += [(a.reason, a.reference), _m(a.amount)]
        w.segment("PLB", *els)


def _person(n: PartyName) -> str:
    return " ".join(x for x in (n.first, n.middle, n.last) if x)


def write_835(remittances: Sequence[Remittance], isa13: int, gs06: int, created: dt.datetime) -> str:
    """One interchange per payer and run; one 835 transaction set per payee (remittance).

    All remittances must share the same route envelope (partner, submitter, payer). Raises
    :class:`~claimflow.sandbox.payer.engine.BalanceError` if any claim or the BPR would not balance.
    """
    if not remittances:
        raise ValueError("no remittances to write")
    route = remittances[0].route
    parties = InterchangeParties(
        sender_qualifier=route.our_qualifier,
        sender_id=route.our_id,
        receiver_qualifier=route.their_qualifier,
        receiver_id=route.their_id,
        usage=route.usage,
        gs_sender=route.gs_sender,
        gs_receiver=route.gs_receiver,
    )
    # Built by hand: the 835 guide does not use ST03 (EnvelopeWriter always writes it).
    parts = [
        isa_segment(parties, isa13, created),
        gs_segment("HP", route.gs_sender, route.gs_receiver, created, gs06, VERSION_835),
    ]
    for n, r in enumerate(remittances, start=1):
        for p in r.claims:
            check_balance(p)
        if r.total < 0:
            raise BalanceError("BPR02 would be negative")
        st02 = format_st02(n)
        w = _Writer()
        _remittance_body(w, r)
        parts += [f"ST*835*{st02}~", w.text(), se_segment(w.segment_count + 2, st02)]
    parts += [ge_segment(len(remittances), gs06), iea_segment(1, isa13)]
    return "".join(parts)
