"""277CA Health Care Claim Acknowledgment, guide 005010X214 → claim status records.

The hierarchy (HL03) of a 277CA::

    HL*1**20*1~   2000A information source (the payer or clearinghouse): NM1*PR, TRN, DTP*050/009
    HL*2*1*21*1~  2000B information receiver (us):  NM1*41, 2200B TRN*2 (our batch, BHT03 of the 837),
                                                    STC (batch status), QTY*90/AA, AMT*YU/YY
    HL*3*2*19*1~  2000C billing provider:           NM1*85, 2200C TRN*1, REF, STC, QTY*QA/QC, AMT*YU/YY
    HL*4*3*PT~    2000D patient:                    NM1*QC, then per claim (2200D):
                  TRN*2*<our patient control number>~ STC*A7:562:85*20260115*WQ*150~
                  REF*1K*<payer claim number>~ REF*D9*<clearinghouse trace>~ DTP*472*D8*20260102~
                  SVC*HC:99213*150~ STC*…~ REF*FJ*<our line control number>~ DTP*472*…~  (2220D)

Yields a :class:`~parsers.records.LevelStatus` for each 2200B/2200C loop that has a TRN or STC and a
:class:`~parsers.records.ClaimStatus` for each 2200D loop, as soon as the next loop starts.

``accepted``: categories A1, A2, A5 accept; A3, A4, A6, A7, A8 and the action code ``U`` (STC03,
reject) reject — a reject anywhere in the loop's STCs wins, and for a claim that includes its 2220D
service lines' STCs (a rejected line rejects the claim); any other category (A0, E0 …) leaves it
``None``. A 2200B/2200C status carries what it covers (the batch trace — the BHT03 of our 837 — and,
for 2200C, the billing provider's NM108/NM109), so a batch rejected without any 2000D loop is not lost.

Every element the loader stores is bounded (:mod:`parsers.limits_ack`: TRN02, REF*1K, STC01-1/2/3,
STC04 and AMT02 as NUMERIC(14,2)); a longer value is refused naming the element, never quoting it.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from edi import gc_paused
from edi.delimiters import Delimiters
from edi.reader import CHUNK_SIZE, Source, iter_batches, source_name
from parsers.detect import OTHER_277_GUIDES, describe_277
from parsers.envelope import Envelope, SetWalker
from parsers.limits_ack import (
    NM108_MAX,
    NM109_MAX,
    PCN_MAX,
    REF_1K_MAX,
    STC01_1_MAX,
    STC01_2_MAX,
    STC01_3_MAX,
    STC03_MAX,
    TRN02_MAX,
    check_len,
    check_money,
)
from parsers.records import ClaimStatus, InterchangeAck, LevelStatus, LineStatus, Party, Status
from parsers.values import amount, date_range, opt_amount, opt_date8

GUIDE = "005010X214"
TRANSACTION = "277"
ACCEPT = frozenset({"A1", "A2", "A5"})
REJECT = frozenset({"A3", "A4", "A6", "A7", "A8"})
REJECT_ACTION = "U"
"""STC03 action code "reject" (``WQ`` is "accept")."""
MAX_LINES = 100_000

Record277 = ClaimStatus | LevelStatus | InterchangeAck

_C = {f: i for i, f in enumerate(ClaimStatus._fields)}
_LV = {f: i for i, f in enumerate(LevelStatus._fields)}


def verdict(statuses: tuple[Status, ...] | list[Status], rejected_by_action: bool = False) -> bool | None:
    """Accepted (True), rejected (False) or neither (None) from status categories (and STC03 ``U``)."""
    cats = {s.category for s in statuses}
    if rejected_by_action or cats & REJECT:
        return False
    if cats & ACCEPT:
        return True
    return None


def _line(line: list[Any], rejected_by_action: bool) -> LineStatus:
    line[7] = tuple(line[7])
    line[11] = verdict(line[7], rejected_by_action)
    return LineStatus(*line)


def _party(el: list[str]) -> Party:
    el += [""] * (10 - len(el))
    return Party(el[1], el[2], el[3], el[4], el[5], el[7], el[8], el[9])


class _Parser(SetWalker[Record277]):
    BODY = frozenset({"HL", "NM1", "TRN", "STC", "REF", "DTP", "QTY", "AMT", "SVC"})

    def __init__(self, env: Envelope) -> None:
        super().__init__(env)
        self.level = ""  # HL03 of the current HL
        self.payer: Party | None = None
        self.receiver: Party | None = None
        self.provider: Party | None = None
        self.patient: Party | None = None
        self.batch_trace: str | None = None
        self.provider_trace: str | None = None
        self.claim: list[Any] | None = None
        self.line: list[Any] | None = None
        self.lines: list[LineStatus] = []
        self.lvl: list[Any] | None = None
        self.claim_u = self.line_u = self.lvl_u = False  # an STC03 "U" in the claim / line / level

    # ---- records ------------------------------------------------------------------------------------

    def flush(self) -> Iterator[Record277]:
        if self.claim is not None:
            c = self.claim
            if self.line is not None:
                self.lines.append(_line(self.line, self.line_u))
                self.line = None
            statuses = tuple(c[_C["statuses"]])
            c[_C["statuses"]] = statuses
            first = next((s for s in statuses if s.element == "STC01"), None)
            c[_C["category"]] = first.category if first else ""
            c[_C["status_code"]] = first.code if first else ""
            accepted = verdict(statuses, self.claim_u)
            if any(ln.accepted is False for ln in self.lines):
                accepted = False  # a rejected service line rejects the claim
            c[_C["accepted"]] = accepted
            c[_C["lines"]] = tuple(self.lines)
            self.lines = []
            self.claim = None
            yield ClaimStatus(*c)
        if self.lvl is not None:
            lv = self.lvl
            statuses = tuple(lv[_LV["statuses"]])
            lv[_LV["statuses"]] = statuses
            lv[_LV["accepted"]] = verdict(statuses, self.lvl_u)
            lv[_LV["references"]] = tuple(lv[_LV["references"]])
            self.lvl = None
            yield LevelStatus(*lv)

    def new_level(self, segno: int, loop: str, trace: str | None) -> list[Any]:
        env = self.env
        batch = loop == "2200B"
        entity = self.receiver if batch else self.provider
        self.lvl_u = False
        lv: list[Any] = [
            env.sha256,
            env.isa13,
            env.gs06,
            env.st02,
            segno,
            loop,
            trace,
            entity,
            [],
            None,
            None,
        ]
        lv += [None, None, None, None, []]
        lv += [
            "batch" if batch else "provider",
            self.batch_trace,
            None if batch or entity is None else entity.id_qualifier,
            None if batch or entity is None else entity.id,
            "",
        ]
        assert len(lv) == len(LevelStatus._fields)
        return lv

    def new_claim(self, segno: int, pcn: str) -> list[Any]:
        env = self.env
        c: list[Any] = [None] * len(ClaimStatus._fields)
        c[:5] = [env.sha256, env.isa13, env.gs06, env.st02, segno]
        c[_C["patient_control_number"]] = pcn
        c[_C["statuses"]] = []
        c[_C["action_code"]] = ""
        c[_C["message"]] = ""
        c[_C["payer"]] = self.payer
        c[_C["receiver"]] = self.receiver
        c[_C["provider"]] = self.provider
        c[_C["patient"]] = self.patient
        c[_C["provider_trace"]] = self.provider_trace
        c[_C["batch_trace"]] = self.batch_trace
        self.claim_u = False
        return c

    # ---- segments -----------------------------------------------------------------------------------

    def stc(self, segno: int, el: list[str], comp: str) -> tuple[list[Status], list[str]]:
        el += [""] * (13 - len(el))
        out = []
        for i in (1, 10, 11):
            if not el[i]:
                if i == 1:
                    raise self.err("is required (status category:status:entity)", segno, "STC", "STC01")
                continue
            parts = el[i].split(comp)
            parts += [""] * (4 - len(parts))
            if not parts[0]:
                raise self.err("has no status category code", segno, "STC", f"STC{i:02d}")
            name = f"STC{i:02d}"
            check_len(parts[0], STC01_1_MAX, self.file, segno, "STC", f"{name}-1")
            check_len(parts[1], STC01_2_MAX, self.file, segno, "STC", f"{name}-2")
            check_len(parts[2], STC01_3_MAX, self.file, segno, "STC", f"{name}-3")
            out.append(Status(parts[0], parts[1], parts[2], parts[3], name))
        check_len(el[3], STC03_MAX, self.file, segno, "STC", "STC03")
        return out, el

    def segment(self, segno: int, el: list[str], delims: Delimiters) -> Iterator[Record277]:
        sid = el[0]
        comp = delims.component
        f = self.file
        if sid == "HL":
            yield from self.flush()
            el += [""] * (4 - len(el))
            self.level = el[3]
            if self.level == "20":
                self.payer = self.receiver = self.provider = self.patient = None
                self.batch_trace = self.provider_trace = None
            elif self.level == "21":
                self.receiver = self.provider = self.patient = None
                self.batch_trace = self.provider_trace = None
            elif self.level == "19":
                self.provider = self.patient = None
                self.provider_trace = None
            elif self.level == "PT":
                self.patient = None
            else:
                raise self.err("is not 20, 21, 19 or PT (277CA hierarchical level code)", segno, sid, "HL03")
        elif sid == "NM1":
            party = _party(el)
            if self.level == "20":
                self.payer = party
            elif self.level == "21":
                check_len(party.id, NM109_MAX, f, segno, sid, "NM109")  # stored for a 2200B status
                self.receiver = party
            elif self.level == "19":
                check_len(party.id_qualifier, NM108_MAX, f, segno, sid, "NM108")
                check_len(party.id, NM109_MAX, f, segno, sid, "NM109")
                self.provider = party
            elif self.level == "PT":
                if self.claim is not None or self.lvl is not None:
                    raise self.err("NM1 after the patient's TRN", segno, sid)
                self.patient = party
            else:
                raise self.err("NM1 outside an HL loop", segno, sid)
        elif sid == "TRN":
            yield from self.flush()
            el += [""] * (3 - len(el))
            if self.level == "21":
                self.batch_trace = check_len(el[2], TRN02_MAX, f, segno, sid, "TRN02")
                self.lvl = self.new_level(segno, "2200B", el[2])
            elif self.level == "19":
                self.provider_trace = check_len(el[2], TRN02_MAX, f, segno, sid, "TRN02")
                self.lvl = self.new_level(segno, "2200C", el[2])
            elif self.level == "PT":
                if not el[2]:
                    raise self.err("is required (patient control number)", segno, sid, "TRN02")
                check_len(el[2], PCN_MAX, f, segno, sid, "TRN02")
                self.claim = self.new_claim(segno, el[2])
            elif self.level != "20":
                raise self.err("TRN outside an HL loop", segno, sid)
        elif sid == "STC":
            statuses, el = self.stc(segno, el, comp)
            date = opt_date8(el[2], f, segno, sid, 2)
            charge = opt_amount(el[4], f, segno, sid, 4)  # checked at every level, kept on the claim
            check_money(charge, f, segno, sid, "STC04")
            reject = el[3] == REJECT_ACTION
            if self.line is not None:
                self.line[7].extend(statuses)
                self.line_u = self.line_u or reject
            elif self.claim is not None:
                c = self.claim
                if not c[_C["statuses"]]:
                    c[_C["status_date"]] = date
                    c[_C["action_code"]] = el[3]
                    c[_C["charge"]] = charge
                    c[_C["message"]] = el[12]
                c[_C["statuses"]].extend(statuses)
                self.claim_u = self.claim_u or reject
            elif self.lvl is not None or self.level in ("21", "19"):
                if self.lvl is None:  # an STC without the situational TRN
                    self.lvl = self.new_level(segno, "2200B" if self.level == "21" else "2200C", None)
                lv = self.lvl
                if not lv[_LV["statuses"]]:
                    lv[_LV["status_date"]] = date
                    lv[_LV["action_code"]] = el[3]
                lv[_LV["statuses"]].extend(statuses)
                self.lvl_u = self.lvl_u or reject
            else:
                raise self.err("STC outside a 2200B, 2200C or 2200D loop", segno, sid)
        elif sid == "REF":
            el += [""] * (3 - len(el))
            q, v = el[1], el[2]
            if self.line is not None:
                if q == "FJ":
                    self.line[8] = v
            elif self.claim is not None:
                if q == "1K":
                    check_len(v, REF_1K_MAX, f, segno, sid, "REF02")
                key = {
                    "1K": "payer_claim_control_number",
                    "D9": "clearinghouse_trace",
                    "BLT": "bill_type",
                }.get(q)
                if key is None and q == "EA":
                    key = "medical_record_number"
                if key is not None:
                    self.claim[_C[key]] = v
            elif self.lvl is not None:
                self.lvl[_LV["references"]].append((q, v))
        elif sid == "DTP":
            el += [""] * (4 - len(el))
            # every DTP is checked (050 received, 009 process, 472 service): 20261340 is never a date
            start, end = date_range(el[2], el[3], f, segno, sid, 3)
            if el[1] == "472":
                if self.line is not None:
                    self.line[9], self.line[10] = start, end
                elif self.claim is not None:
                    c = self.claim
                    c[_C["service_date_from"]], c[_C["service_date_to"]] = start, end
        elif sid == "QTY" or sid == "AMT":
            if self.lvl is None:
                return
            el += [""] * (3 - len(el))
            q = el[1]
            value = amount(el[2], f, segno, sid, 2)
            lv = self.lvl
            if sid == "QTY":
                if q in ("90", "QA"):
                    lv[_LV["accepted_quantity"]] = value
                elif q in ("AA", "QC"):
                    lv[_LV["rejected_quantity"]] = value
            elif q == "YU":
                lv[_LV["accepted_amount"]] = check_money(value, f, segno, sid, "AMT02")
            elif q == "YY":
                lv[_LV["rejected_amount"]] = check_money(value, f, segno, sid, "AMT02")
        elif sid == "SVC":
            if self.claim is None:
                raise self.err("SVC outside a claim (no TRN before it)", segno, sid)
            if self.line is not None:
                self.lines.append(_line(self.line, self.line_u))
            if len(self.lines) >= MAX_LINES:
                raise self.err(f"claim has more than {MAX_LINES} service lines", segno, sid)
            el += [""] * (8 - len(el))
            comp_ = el[1].split(comp)
            comp_ += [""] * (2 - len(comp_))
            units: Decimal | None = opt_amount(el[7], f, segno, sid, 7)
            self.line = [
                segno,
                comp_[0],
                comp_[1],
                tuple(comp_[2:6]),
                opt_amount(el[2], f, segno, sid, 2),
                el[4],
                units,
                [],
                None,
                None,
                None,
                None,
            ]
            self.line_u = False
        # BHT and anything else well-formed: counted by the envelope, otherwise not used

    def end_set(self) -> Iterator[Record277]:
        return self.flush()

    def begin(self, segno: int) -> None:
        env = self.env
        if env.st01 != TRANSACTION:
            raise self.err(
                f"ST01 {env.st01} in a 277CA file; one transaction type per file is supported", segno, "ST"
            )
        versions = [v for v in (env.st03, env.gs08 or "") if v]
        if versions and not any("X214" in v for v in versions):
            if any(g in v for v in versions for g in OTHER_277_GUIDES):
                raise self.err(f"{describe_277(*versions)} is not a 277CA ({GUIDE})", segno, "ST")
            if not any(v.startswith("00501") for v in versions):
                raise self.err(f"277 version {versions[0]} is not supported (only {GUIDE})", segno, "ST")
        self.level = ""
        self.payer = self.receiver = self.provider = self.patient = None
        self.batch_trace = self.provider_trace = None
        self.claim = self.line = self.lvl = None
        self.lines = []
        self.claim_u = self.line_u = self.lvl_u = False


def parse(
    source: Source,
    *,
    name: str | None = None,
    file_sha256: str | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[Record277]:
    """Claim status records of a 277CA file (path, bytes or binary stream), streaming."""
    label = source_name(source, name)
    parser = _Parser(Envelope(label, file_sha256))
    with gc_paused():
        yield from parser.run(iter_batches(source, name=label, chunk_size=chunk_size))
