"""835 Health Care Claim Payment/Advice, implementation guide 005010X221A1 → typed records, streaming.

Per transaction set the parser yields, in file order::

    Remittance            header: BPR, TRN, CUR, REF*EV/F2, DTM*405, 1000A payer, 1000B payee
    ProviderSummary       per LX header number (with TS3/TS2), when present
    ClaimPayment          per 2100 loop (CLP … with its 2110 SVC lines), as soon as the next loop starts
    ProviderAdjustment    per PLB reason/amount pair
    RemittanceTotals      at SE: counts and sums for balancing and summaries

Nothing accumulates across claims, so memory stays flat whatever the file size. Several ISA per file,
several GS per ISA and several ST per GS are fine; a TA1 in the interchange is yielded as an
:class:`~parsers.records.InterchangeAck`.

Structure and speed: :meth:`Parser835.run` loops over the raw segment strings of each chunk
(:func:`edi.reader.iter_batches`) and hands each segment to the handler its ID selects (``on_clp``,
``on_svc``, ``on_cas`` … — one method per segment, like the C accelerator's handlers); envelope and header
segments go to ``on_other``. Handlers keep the open claim and line as lists in record field order and
build records with ``tuple.__new__`` (no keyword parsing); amounts and dates go through the dict caches of
:mod:`parsers.values`, SVC01 composites are split and checked once per distinct value, and the cyclic GC
is paused. The balancing sums (ΣCAS per line and claim) are kept while parsing, so
:class:`RemittanceTotals` carries the counts of unbalanced claims and lines and a summary needs no
second pass; ``parse(..., claims=False)`` skips building claim records altogether.
:mod:`parsers.summary835` reuses the handlers for everything outside its own claim loop.

With the C accelerator installed (:mod:`parsers.native`, built from ``native/``), the plain segments of
the claim payment loops are handled in C and every other segment — and every error — here; the records
are the same either way (``parse(..., native=False)`` forces pure Python; tests/unit/parsers/test_native.py).

The parser checks structure and values, not business rules: it does not refuse a file because it does
not balance — :mod:`eob.balance` reports that — nor because a situational segment is missing. Values
are checked against :mod:`parsers.limits835` (the guide's maximum lengths, money within NUMERIC(14,2)
and exact to the cent, quantities within NUMERIC(15,3), and the balancing sums the loader stores), so a
record either fits the database or the file is refused naming the element (``CLP01``, ``SVC01-2``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, NoReturn

from edi import gc_paused
from edi.errors import X12ParseError
from edi.reader import CHUNK_SIZE, SegmentBatch, Source, iter_batches, source_name
from parsers import limits835 as LIM
from parsers.envelope import Envelope
from parsers.limits835 import (
    AMT01_MAX,
    CAS01_MAX,
    CAS02_MAX,
    CLP01_MAX,
    CLP02_MAX,
    CLP06_MAX,
    CLP07_MAX,
    CLP08_MAX,
    CLP09_MAX,
    CLP11_MAX,
    DTM01_MAX,
    LQ01_MAX,
    LQ02_MAX,
    NM101_MAX,
    NM102_MAX,
    NM103_MAX,
    NM104_MAX,
    NM105_MAX,
    NM107_MAX,
    NM108_MAX,
    NM109_MAX,
    QTY01_MAX,
    REF01_MAX,
    REF02_MAX,
    REVENUE_CODE_MAX,
    SVC01_1_MAX,
    SVC01_2_MAX,
    SVC01_7_MAX,
    SVC01_MODIFIER_MAX,
    SVC04_MAX,
)
from parsers.native import SPEEDUPS
from parsers.records import (
    Adjustment,
    ClaimPayment,
    Contact,
    InpatientAdjudication,
    InterchangeAck,
    OutpatientAdjudication,
    Party,
    ProviderAdjustment,
    ProviderSummary,
    Remittance,
    RemittanceTotals,
    ServiceLine,
)
from parsers.values import (
    AMOUNTS,
    DATES,
    MONEY_MAX,
    MONEY_MIN,
    ZERO,
    date8,
    element_error,
    money,
    number,
    opt_date8,
    opt_money,
    opt_quantity,
    quantity,
)

GUIDE = "005010X221A1"
TRANSACTION = "835"

Record835 = (
    Remittance | ProviderSummary | ClaimPayment | ProviderAdjustment | RemittanceTotals | InterchangeAck
)

_tn = tuple.__new__

SEEN_LIMIT = 65_536
"""Distinct SVC01 composites remembered as checked per file (cleared past this: memory stays flat)."""

MAX_CLAIM_SEGMENTS = 100_000
"""A claim payment loop longer than this is refused: records are built in memory one claim at a time,
so this bounds memory on a corrupt or hostile file (the guide allows 999 service lines per claim)."""

# Field positions of the records built as lists by the segment handlers. The lists are written out in field
# order there; tests/unit/parsers/test_x835.py checks every field lands where its name says.
_C = {f: i for i, f in enumerate(ClaimPayment._fields)}
_L = {f: i for i, f in enumerate(ServiceLine._fields)}
(C_PCN, C_SEGNO, C_PATIENT, C_INSURED, C_CORRECTED, C_PROVIDER, C_CROSSOVER, C_CORR_PAYER, C_OTHER_PARTIES,
 C_MIA, C_MOA, C_FROM, C_TO, C_RECEIVED, C_EXPIRES, C_DATES, C_REFS, C_ORIGREF, C_CONTACTS, C_AMTS, C_QTYS,
 C_ADJ, C_LINES, C_CHARGE, C_PAID, C_PR) = (_C[f] for f in (
    "patient_control_number", "segment_no", "patient", "insured", "corrected_patient", "service_provider",
    "crossover_carrier", "corrected_payer", "other_parties", "inpatient", "outpatient", "statement_from",
    "statement_to", "received_date", "coverage_expiration", "other_dates", "references",
    "original_reference_number", "contacts", "amounts", "quantities", "adjustments", "lines", "charge", "paid",
    "patient_responsibility",
))  # fmt: skip
(L_DATE, L_FROM, L_TO, L_CTRL, L_ALLOWED, L_ADJ, L_RARC, L_NCPDP, L_REFS, L_AMTS, L_QTYS, L_CHARGE,
 L_PAID) = (_L[f] for f in (
    "service_date", "service_date_from", "service_date_to", "control_number", "allowed", "adjustments",
    "remark_codes", "ncpdp_reject_codes", "references", "amounts", "quantities", "charge", "paid",
))  # fmt: skip

_R = {f: i for i, f in enumerate(Remittance._fields)}
_REMIT0: list[Any] = [""] * len(Remittance._fields)
for _f in (
    "payment_amount",
    "payment_date",
    "currency",
    "receiver_reference",
    "version_reference",
    "production_date",
):
    _REMIT0[_R[_f]] = None
for _f in (
    "payer_address",
    "payer_references",
    "payer_contacts",
    "payee_address",
    "payee_references",
    "payee_remittance_delivery",
):
    _REMIT0[_R[_f]] = ()

_CLAIM_NM1 = {
    "QC": C_PATIENT,
    "IL": C_INSURED,
    "74": C_CORRECTED,
    "82": C_PROVIDER,
    "TT": C_CROSSOVER,
    "PR": C_CORR_PAYER,
}

# Length checks (parsers.limits835): (element position, maximum length, element name) per segment. The hot
# loop tests the lengths inline and calls Parser835.too_long, which names the first element that is too long.
Spec = tuple[tuple[int, int, str], ...]
CLP_SPEC: Spec = (
    (1, CLP01_MAX, "CLP01"), (2, CLP02_MAX, "CLP02"), (6, CLP06_MAX, "CLP06"), (7, CLP07_MAX, "CLP07"),
    (8, CLP08_MAX, "CLP08"), (9, CLP09_MAX, "CLP09"), (11, CLP11_MAX, "CLP11"),
)  # fmt: skip
NM1_SPEC: Spec = (
    (1, NM101_MAX, "NM101"), (2, NM102_MAX, "NM102"), (3, NM103_MAX, "NM103"), (4, NM104_MAX, "NM104"),
    (5, NM105_MAX, "NM105"), (7, NM107_MAX, "NM107"), (8, NM108_MAX, "NM108"), (9, NM109_MAX, "NM109"),
)  # fmt: skip
REF_SPEC: Spec = ((1, REF01_MAX, "REF01"), (2, REF02_MAX, "REF02"))
LQ_SPEC: Spec = ((1, LQ01_MAX, "LQ01"), (2, LQ02_MAX, "LQ02"))
_PER_SPEC: Spec = (
    (1, LIM.PER01_MAX, "PER01"), (2, LIM.PER02_MAX, "PER02"), (3, LIM.PER03_MAX, "PER03"),
    (4, LIM.PER04_MAX, "PER04"), (5, LIM.PER03_MAX, "PER05"), (6, LIM.PER04_MAX, "PER06"),
    (7, LIM.PER03_MAX, "PER07"), (8, LIM.PER04_MAX, "PER08"),
)  # fmt: skip
_BPR_SPEC: Spec = (
    (1, LIM.BPR01_MAX, "BPR01"), (3, LIM.BPR03_MAX, "BPR03"), (4, LIM.BPR04_MAX, "BPR04"),
    (5, LIM.BPR05_MAX, "BPR05"), (6, LIM.BPR06_MAX, "BPR06"), (7, LIM.BPR07_MAX, "BPR07"),
    (8, LIM.BPR08_MAX, "BPR08"), (9, LIM.BPR09_MAX, "BPR09"), (10, LIM.BPR10_MAX, "BPR10"),
    (11, LIM.BPR11_MAX, "BPR11"), (12, LIM.BPR06_MAX, "BPR12"), (13, LIM.BPR07_MAX, "BPR13"),
    (14, LIM.BPR08_MAX, "BPR14"), (15, LIM.BPR09_MAX, "BPR15"),
)  # fmt: skip
_TRN_SPEC: Spec = (
    (1, LIM.TRN01_MAX, "TRN01"), (2, LIM.TRN02_MAX, "TRN02"), (3, LIM.TRN03_MAX, "TRN03"),
    (4, LIM.TRN04_MAX, "TRN04"),
)  # fmt: skip
_N1_SPEC: dict[str, Spec] = {
    who: ((1, LIM.N101_MAX, "N101"), (2, LIM.N102_MAX, "N102"), (3, LIM.N103_MAX, "N103"), (4, n104, "N104"))
    for who, n104 in (("PR", LIM.N104_PAYER_MAX), ("PE", LIM.N104_MAX))
}
_N3_SPEC: Spec = ((1, LIM.N301_MAX, "N301"), (2, LIM.N301_MAX, "N302"))
_N4_SPEC: Spec = (
    (1, LIM.N401_MAX, "N401"), (2, LIM.N402_MAX, "N402"), (3, LIM.N403_MAX, "N403"), (4, LIM.N404_MAX, "N404"),
)  # fmt: skip
_RDM_SPEC: Spec = ((1, LIM.RDM01_MAX, "RDM01"), (2, LIM.RDM02_MAX, "RDM02"), (3, LIM.RDM03_MAX, "RDM03"))
_TS3_SPEC: Spec = ((1, LIM.TS301_MAX, "TS301"), (2, LIM.TS302_MAX, "TS302"))


def check_lengths(el: list[str], spec: Spec, file: str | None, segno: int, sid: str) -> None:
    """Raise naming the first element of ``spec`` longer than its maximum (never the value)."""
    n = len(el)
    for i, mx, name in spec:
        if i < n and len(el[i]) > mx:
            raise X12ParseError(
                f"is longer than {mx} characters", file=file, segment_no=segno, segment_id=sid, element=name
            )


# The C accelerator (parsers.native) builds the same lists: the first CLAIM_HEAD / LINE_HEAD fields
# in the order of the literals in Parser835.on_clp and .on_svc, then these defaults.
CLAIM_HEAD = 18
LINE_HEAD = 13
_NONE_FIELDS = {
    "patient", "insured", "corrected_patient", "service_provider", "crossover_carrier", "corrected_payer",
    "inpatient", "outpatient", "statement_from", "statement_to", "received_date", "coverage_expiration",
    "service_date", "service_date_from", "service_date_to", "control_number", "allowed",
    "original_reference_number",
}  # fmt: skip
CLAIM_TAIL: list[Any] = [None if f in _NONE_FIELDS else () for f in ClaimPayment._fields[CLAIM_HEAD:]]
LINE_TAIL: list[Any] = [None if f in _NONE_FIELDS else () for f in ServiceLine._fields[LINE_HEAD:]]


def _configure_speedups() -> Any:
    """The accelerator's ``scan835``, configured with this module's record layout; None without it."""
    if SPEEDUPS is None:
        return None
    idx = {"claim_head": CLAIM_HEAD, "line_head": LINE_HEAD}
    idx.update(_C)
    idx.update({f"l_{f}": i for f, i in _L.items()})
    idx.update({k: v for k, v in vars(LIM).items() if k.isupper() and isinstance(v, int)})
    idx["money_max"] = MONEY_MAX  # type: ignore[assignment]
    SPEEDUPS.configure_835(
        Decimal, ZERO, _CLAIM_NM1, CLAIM_TAIL, LINE_TAIL, idx, ClaimPayment, ServiceLine, Adjustment, Party,
    )  # fmt: skip
    return SPEEDUPS.scan835


_SCAN835 = _configure_speedups()


def _pad(el: list[str], n: int) -> list[str]:
    if len(el) < n:
        el.extend([""] * (n - len(el)))
    return el


def _contact(el: list[str], file: str | None, segno: int) -> Contact:
    check_lengths(el, _PER_SPEC, file, segno, "PER")
    _pad(el, 9)
    nums = tuple((el[i], el[i + 1]) for i in (3, 5, 7) if el[i] or el[i + 1])
    return Contact(el[1], el[2], nums)


# The value caches' lookups, bound once. Why: Python 3.11 compiles ``AMOUNTS.get(x)`` on a name imported
# with ``from … import`` as an attribute load that builds a bound method on every call (it assumes a
# module); the handlers run it for most segments.
_cached_amount = AMOUNTS.get
_cached_date = DATES.get

Handler = Callable[[int, list[str]], None]
"""A segment handler: (segment number, elements with the segment ID at 0); records go to ``Parser835.out``."""


class Parser835:
    """State of one 835 file, fed segment by segment through per-segment handlers.

    :meth:`run` is the loop: it splits each segment and calls the handler its ID selects in
    :meth:`handlers` (``on_clp`` for CLP …; :meth:`on_other` for envelope and header segments). A
    handler updates the open claim/line (``claim``/``line``, lists in record field order) and appends
    finished records to ``out``, which the loop yields after each segment — so records stream out in file
    order, and those a segment completed before failing (a claim closed by the next CLP) still go out
    before its error, as they would from a generator.

    Public for :mod:`parsers.summary835`, which runs its own claim loop but hands LX, PLB, SE, ST, the
    header and the rare claim segments (MOA, MIA, multi-reason CAS, SVC06) to these same methods, so
    both refuse a file in the same words. With ``build=False`` no claim record is built; every check runs.
    """

    # slots: the handlers read and write these on every segment; slot access is the cheapest attribute
    __slots__ = (
        "bad_claims", "bad_lines", "build", "ccas", "claim", "claim_segno", "comp", "env", "fast",
        "file", "hctx", "lcas", "line", "lines", "lx", "n_claims", "n_lines", "out", "remit", "summary",
        "svc01_seen", "t_charge", "t_paid", "t_plb", "t_pr",
    )  # fmt: skip

    def __init__(self, env: Envelope, build: bool = True, native: bool = True) -> None:
        self.env = env
        self.fast: Any = _SCAN835 if native else None  # the C accelerator's scan835 (parsers.native)
        self.build = build  # False: totals only (summaries); every check still runs
        self.file = env.file
        self.out: list[Record835] = []  # records finished by the current segment, yielded by run()
        self.remit: list[Any] | None = None  # header being built (or kept for context)
        self.hctx = 0  # 0 table 1, 1 loop 1000A payer, 2 loop 1000B payee, 3 detail (LX/CLP/PLB)
        self.lx: str | None = None
        self.summary: list[Any] | None = None
        # the open 2100 loop: claim and line as lists in field order, finished lines, ΣCAS of the open
        # line / of the claim so far (for the balancing counts)
        self.claim: list[Any] | None = None
        self.line: list[Any] | None = None
        self.lines: list[ServiceLine] = []
        self.claim_segno = 0
        self.lcas = ZERO
        self.ccas = ZERO
        self.comp = ""  # component separator (ISA16) of the current batch
        # SVC01 composites seen valid (with comp) → (qualifier, code, modifiers, description)
        self.svc01_seen: dict[str, tuple[str, str, tuple[str, ...], str]] = {}
        self._reset_totals()

    def _reset_totals(self) -> None:
        self.n_claims = 0
        self.n_lines = 0
        self.t_charge = ZERO
        self.t_paid = ZERO
        self.t_pr = ZERO
        self.t_plb = ZERO
        self.bad_claims = 0
        self.bad_lines = 0

    def err(self, msg: str, segno: int, sid: str, element: str | None = None) -> X12ParseError:
        return X12ParseError(msg, file=self.file, segment_no=segno, segment_id=sid, element=element)

    # ---- the loop ----------------------------------------------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        """Segment ID → handler. Built per run, not kept on the instance (bound methods would make a cycle
        the paused GC leaves behind); IDs not listed go to :meth:`on_other`."""
        return {
            "DTM": self.on_dtm, "AMT": self.on_amt, "CAS": self.on_cas, "REF": self.on_ref,
            "SVC": self.on_svc, "NM1": self.on_nm1, "CLP": self.on_clp, "LQ": self.on_lq,
            "QTY": self.on_qty, "MOA": self.on_moa, "MIA": self.on_mia, "PER": self.on_per,
            "LX": self.on_lx, "PLB": self.on_plb, "SE": self.on_se, "ST": self.on_st,
        }  # fmt: skip

    def run(self, batches: Iterator[SegmentBatch]) -> Iterator[Record835]:
        env = self.env
        out = self.out
        handlers = self.handlers()
        other = self.on_other
        segno = 0
        sid: str | None = None
        el: list[str] = []
        try:
            for first, delims, segs in batches:
                e = delims.element
                c = delims.component
                self.start_batch(first, c)
                segno = first - 1
                nseg = len(segs)
                pos = 0
                accel = self.fast is not None and len(e) == 1 and len(c) == 1 and e <= "\xff" and c <= "\xff"
                while pos < nseg:
                    if accel:
                        pos0 = pos
                        pos, segno = self.accelerate(segs, pos, e, c, segno)
                        if pos > pos0:
                            sid = segs[pos - 1].partition(e)[0]
                        if out:
                            yield from out
                            out.clear()
                        if pos >= nseg:
                            break
                        todo = segs[pos : pos + 1]
                        pos += 1
                    else:
                        todo = segs
                        pos = nseg
                    for s in todo:
                        segno += 1
                        el = s.split(e)
                        sid = el[0]
                        try:
                            handler = handlers[sid]
                        except KeyError:  # envelope and header segments (rare)
                            handler = other
                        handler(segno, el)
                        if out:
                            yield from out
                            out.clear()
            env.finish(segno, sid)
        except Exception as exc:
            # what the failing segment completed before its error goes out first (see the class docstring)
            done = out.copy()
            out.clear()
            yield from done
            if isinstance(exc, IndexError):
                raise self.err(
                    f"has only {len(el) - 1} elements; a required element is missing", segno, sid or "?"
                ) from None
            raise

    def start_batch(self, first: int, comp: str) -> None:
        """A new chunk of segments: its component separator, and the bound on the open claim's length."""
        if comp != self.comp:
            self.svc01_seen.clear()
            self.comp = comp
        claim = self.claim
        if claim is not None and first - 1 - self.claim_segno > MAX_CLAIM_SEGMENTS:
            raise self.err(
                f"claim {claim[C_PCN]} spans more than {MAX_CLAIM_SEGMENTS} segments", self.claim_segno, "CLP"
            )

    def accelerate(self, segs: list[str], pos: int, e: str, c: str, segno: int) -> tuple[int, int]:
        """The C accelerator takes the plain claim-loop segments from ``pos`` and stops at the first one it
        leaves to the handlers (see parsers.native); state goes in and out by ``st``, records to ``out``.
        Returns the position and segment number it stopped at."""
        env = self.env
        st: list[Any] = [self.claim, self.line, self.lines, self.lcas, self.ccas, segno, self.claim_segno,
              self.n_claims, self.n_lines, self.bad_claims, self.bad_lines, self.t_charge, self.t_paid,
              self.t_pr, self.out]  # fmt: skip
        pos = self.fast(segs, pos, e, c, st, (self.build, env.sha256, env.isa13, env.gs06, env.st02, self.lx))
        (self.claim, self.line, self.lines, self.lcas, self.ccas, segno, self.claim_segno, self.n_claims,
         self.n_lines, self.bad_claims, self.bad_lines, self.t_charge, self.t_paid, self.t_pr, _) = st  # fmt: skip
        return pos, segno

    # ---- 2100/2110 segments (hot; tested by frequency in the synthetic and real files) ---------------------

    def on_dtm(self, segno: int, el: list[str]) -> None:
        """``DTM*472*20260102``: service date (line), statement/received/expiry dates (claim) or header."""
        q = el[1]
        x = el[2]
        d = _cached_date(x)
        if d is None:
            d = date8(x, self.file, segno, "DTM", 2)
        line = self.line
        if line is not None:
            if q == "472":
                line[L_DATE] = d
            elif q == "150":
                line[L_FROM] = d
            elif q == "151":
                line[L_TO] = d
            else:
                raise self.err(f"qualifier {q} is not a service date (472, 150, 151)", segno, "DTM", "DTM01")
            return
        claim = self.claim
        if claim is None:
            self.header_dtm(segno, q, d)
        elif q == "232":
            claim[C_FROM] = d
        elif q == "233":
            claim[C_TO] = d
        elif q == "050":
            claim[C_RECEIVED] = d
        elif q == "036":
            claim[C_EXPIRES] = d
        elif len(q) > DTM01_MAX:
            raise self.err(f"is longer than {DTM01_MAX} characters", segno, "DTM", "DTM01")
        elif claim[C_DATES]:
            claim[C_DATES].append((q, d))
        else:
            claim[C_DATES] = [(q, d)]

    def on_amt(self, segno: int, el: list[str]) -> None:
        """``AMT*B6*135.74``: allowed amount (line) or another supplemental amount (line, claim)."""
        q = el[1]
        x = el[2]
        a = _cached_amount(x)
        if a is None:
            a = money(x, self.file, segno, "AMT", 2)
        if len(q) > AMT01_MAX:
            raise self.err(f"is longer than {AMT01_MAX} characters", segno, "AMT", "AMT01")
        line = self.line
        if line is not None:
            if q == "B6":
                line[L_ALLOWED] = a
            elif line[L_AMTS]:
                line[L_AMTS].append((q, a))
            else:
                line[L_AMTS] = [(q, a)]
            return
        claim = self.claim
        if claim is None:
            raise self.err("AMT outside a claim (no CLP before it)", segno, "AMT")
        if claim[C_AMTS]:
            claim[C_AMTS].append((q, a))
        else:
            claim[C_AMTS] = [(q, a)]

    def on_cas(self, segno: int, el: list[str]) -> None:
        """``CAS*CO*45*23.96``: adjustments of the line or claim; the plain one-reason form inline."""
        x = el[3]
        a = _cached_amount(x)
        if a is None:
            a = money(x, self.file, segno, "CAS", 3)
        if len(el) == 4 and 0 < len(el[1]) <= CAS01_MAX and 0 < len(el[2]) <= CAS02_MAX:
            adj = [_tn(Adjustment, (el[1], el[2], a, None))] if self.build else None
        else:
            adj = self.cas(segno, el, a)
            for extra in adj[1:]:
                a += extra[2]
        line = self.line
        if line is not None:
            self.lcas += a
            if adj is not None:
                v = line[L_ADJ]
                if v:
                    v.extend(adj)
                else:
                    line[L_ADJ] = adj
            return
        claim = self.claim
        if claim is None:
            raise self.err("CAS outside a claim (no CLP before it)", segno, "CAS")
        self.ccas += a
        if adj is not None:
            v = claim[C_ADJ]
            if v:
                v.extend(adj)
            else:
                claim[C_ADJ] = adj

    def on_ref(self, segno: int, el: list[str]) -> None:
        """``REF*6R*1-1``: line control number, original reference (claim REF*F8) or other references."""
        q = el[1]
        x = el[2]
        if len(x) > REF02_MAX or len(q) > REF01_MAX:
            self.too_long(segno, el, REF_SPEC)
        line = self.line
        if line is not None:
            if q == "6R":
                line[L_CTRL] = x
            elif line[L_REFS]:
                line[L_REFS].append((q, x))
            else:
                line[L_REFS] = [(q, x)]
            return
        claim = self.claim
        if claim is None:
            self.header_ref(segno, el)
            return
        if q == "F8" and claim[C_ORIGREF] is None:
            claim[C_ORIGREF] = x
        if claim[C_REFS]:
            claim[C_REFS].append((q, x))
        else:
            claim[C_REFS] = [(q, x)]

    def on_svc(self, segno: int, el: list[str]) -> None:
        """``SVC*HC:85025:25*159.7*110.74**1``: closes the open line and opens loop 2110."""
        if self.claim is None:
            raise self.err("SVC outside a claim (no CLP before it)", segno, "SVC")
        line = self.line
        if line is not None:
            self.close_line(line, self.lcas)
        self.lcas = ZERO
        self.n_lines += 1
        c = self.comp
        svc01 = el[1]
        parts = self.svc01_seen.get(svc01)
        if parts is None:
            comp = svc01.split(c)
            if len(comp) < 2 or not comp[1]:
                raise self.err(
                    f"must be a composite qualifier{c}procedure code (ISA16 component separator)",
                    segno,
                    "SVC",
                    "SVC01",
                )
        file = self.file
        x = el[2]
        a = _cached_amount(x)
        if a is None:
            a = money(x, file, segno, "SVC", 2)
        x = el[3]
        p = _cached_amount(x)
        if p is None:
            p = money(x, file, segno, "SVC", 3)
        n = len(el)
        if parts is None:
            # SVC01 split and its components' lengths checked once per distinct composite (procedure
            # codes and modifiers repeat); SVC04 with them
            self.svc_too_long(segno, el, comp)
            parts = (
                comp[0],
                comp[1],
                tuple(comp[2:6]) if len(comp) > 2 else (),
                comp[6] if len(comp) > 6 else "",
            )
            seen = self.svc01_seen
            if len(seen) >= SEEN_LIMIT:
                seen.clear()
            seen[svc01] = parts
        elif n > 4 and len(el[4]) > SVC04_MAX:
            self.svc_too_long(segno, el, svc01.split(c))
        qualifier, code, modifiers, description = parts
        units = None
        if n > 5 and el[5]:
            x = el[5]
            units = _cached_amount(x)
            if units is None:
                units = quantity(x, file, segno, "SVC", 5)
        if n > 6:
            oq, ocode, omods, ounits = self.svc_original(segno, el, c)
        else:
            oq = ocode = ""
            omods = ()
            ounits = None
        # field order of ServiceLine (checked by tests/unit/parsers/test_x835.py)
        self.line = [
            segno,
            qualifier,
            code,
            modifiers,
            description,
            a,
            p,
            el[4] if n > 4 else "",
            units,
            oq,
            ocode,
            omods,
            ounits,
            None,  # service_date
            None,  # service_date_from
            None,  # service_date_to
            None,  # control_number
            None,  # allowed
            (),  # adjustments
            (),  # remark_codes
            (),  # ncpdp_reject_codes
            (),  # references
            (),  # amounts
            (),  # quantities
        ]

    def on_nm1(self, segno: int, el: list[str]) -> None:
        """``NM1*QC*1*JONES*ANA****MI*M000000001``: a party of the claim (patient, insured, provider …)."""
        claim = self.claim
        if claim is None or self.line is not None:
            raise self.err("NM1 outside a claim payment loop (2100)", segno, "NM1")
        n = len(el)
        if n < 10:
            el.extend([""] * (10 - n))
        if (
            len(el[3]) > NM103_MAX
            or len(el[4]) > NM104_MAX
            or len(el[9]) > NM109_MAX
            or len(el[1]) > NM101_MAX
            or len(el[2]) > NM102_MAX
            or len(el[5]) > NM105_MAX
            or len(el[7]) > NM107_MAX
            or len(el[8]) > NM108_MAX
        ):
            self.too_long(segno, el, NM1_SPEC)
        if not self.build:
            return
        party = _tn(Party, (el[1], el[2], el[3], el[4], el[5], el[7], el[8], el[9]))
        k = _CLAIM_NM1.get(el[1])
        if k is not None and claim[k] is None:
            claim[k] = party
        elif claim[C_OTHER_PARTIES]:
            claim[C_OTHER_PARTIES].append(party)
        else:
            claim[C_OTHER_PARTIES] = [party]

    def on_clp(self, segno: int, el: list[str]) -> None:
        """``CLP*PCN000000001*2*379.37*255.39*73.66*12*PAYER00000000001*11*1``: closes the open claim (or
        completes the header) and opens loop 2100."""
        claim = self.claim
        if claim is not None:
            self.close_claim(claim)
        else:
            self.before_claim(segno)
        n = len(el)
        if n < 14:
            el.extend([""] * (14 - n))
        if not el[1]:
            raise self.err("is required (patient control number)", segno, "CLP", "CLP01")
        if not el[2]:
            raise self.err("is required (claim status)", segno, "CLP", "CLP02")
        if (
            len(el[1]) > CLP01_MAX
            or len(el[7]) > CLP07_MAX
            or len(el[2]) > CLP02_MAX
            or len(el[6]) > CLP06_MAX
            or len(el[8]) > CLP08_MAX
            or len(el[9]) > CLP09_MAX
            or len(el[11]) > CLP11_MAX
        ):
            self.too_long(segno, el, CLP_SPEC)
        file = self.file
        x = el[3]
        a = _cached_amount(x)
        if a is None:
            a = money(x, file, segno, "CLP", 3)
        x = el[4]
        p = _cached_amount(x)
        if p is None:
            p = money(x, file, segno, "CLP", 4)
        x = el[5]
        pr = _cached_amount(x) if x else None
        if pr is None and x:
            pr = money(x, file, segno, "CLP", 5)
        env = self.env
        # field order of ClaimPayment (checked by tests/unit/parsers/test_x835.py)
        self.claim = [
            env.sha256,
            env.isa13,
            env.gs06,
            env.st02,
            segno,
            self.lx,
            el[1],
            el[2],
            a,
            p,
            pr,
            el[6],
            el[7],
            el[8],
            el[9],
            el[11],
            number(el[12], file, segno, "CLP", 12) if el[12] else None,
            number(el[13], file, segno, "CLP", 13) if el[13] else None,
            None,  # patient
            None,  # insured
            None,  # corrected_patient
            None,  # service_provider
            None,  # crossover_carrier
            None,  # corrected_payer
            (),  # other_parties
            None,  # inpatient
            None,  # outpatient
            None,  # statement_from
            None,  # statement_to
            None,  # received_date
            None,  # coverage_expiration
            (),  # other_dates
            (),  # references
            None,  # original_reference_number
            (),  # contacts
            (),  # amounts
            (),  # quantities
            (),  # adjustments
            (),  # lines
        ]
        self.claim_segno = segno
        self.lines = []
        self.lcas = self.ccas = ZERO

    def on_lq(self, segno: int, el: list[str]) -> None:
        """``LQ*HE*N130``: a remark code (HE) or NCPDP reject code of the line."""
        line = self.line
        if line is None:
            raise self.err("LQ outside a service line (no SVC before it)", segno, "LQ")
        if len(el[2]) > LQ02_MAX or len(el[1]) > LQ01_MAX:
            self.too_long(segno, el, LQ_SPEC)
        k = L_RARC if el[1] == "HE" else L_NCPDP
        if line[k]:
            line[k].append(el[2])
        else:
            line[k] = [el[2]]

    def on_qty(self, segno: int, el: list[str]) -> None:
        """``QTY*CA*3``: a supplemental quantity of the line or claim."""
        x = el[2]
        qty = _cached_amount(x)
        if qty is None:
            qty = quantity(x, self.file, segno, "QTY", 2)
        if len(el[1]) > QTY01_MAX:
            raise self.err(f"is longer than {QTY01_MAX} characters", segno, "QTY", "QTY01")
        line = self.line
        if line is not None:
            if line[L_QTYS]:
                line[L_QTYS].append((el[1], qty))
            else:
                line[L_QTYS] = [(el[1], qty)]
            return
        claim = self.claim
        if claim is None:
            raise self.err("QTY outside a claim (no CLP before it)", segno, "QTY")
        if claim[C_QTYS]:
            claim[C_QTYS].append((el[1], qty))
        else:
            claim[C_QTYS] = [(el[1], qty)]

    def _claim_level(self, segno: int, sid: str) -> list[Any]:
        """The open claim, for a segment that belongs to loop 2100 itself (not to a line)."""
        claim = self.claim
        if claim is None or self.line is not None:
            raise self.err(f"{sid} outside a claim payment loop (2100)", segno, sid)
        return claim

    def on_moa(self, segno: int, el: list[str]) -> None:
        """``MOA***MA01``: outpatient adjudication of the claim."""
        self._claim_level(segno, "MOA")[C_MOA] = self.moa(segno, el)

    def on_mia(self, segno: int, el: list[str]) -> None:
        """``MIA*3***8200``: inpatient adjudication of the claim."""
        self._claim_level(segno, "MIA")[C_MIA] = self.mia(segno, el)

    def on_per(self, segno: int, el: list[str]) -> None:
        """``PER*CX*CLAIMS*TE*8005551212``: claim contact; outside a claim, a payer contact (1000A)."""
        claim = self.claim
        if claim is None:
            self.on_other(segno, el)
            return
        if self.line is not None:
            raise self.err("PER inside a service line", segno, "PER")
        if claim[C_CONTACTS]:
            claim[C_CONTACTS].append(_contact(el, self.file, segno))
        else:
            claim[C_CONTACTS] = [_contact(el, self.file, segno)]

    # ---- segments that end the claim loop ------------------------------------------------------------------

    def close_claim(self, claim: list[Any]) -> None:
        """The open 2100 loop ``claim`` ends (next CLP, LX, PLB): its record goes out."""
        rec = self.finish(claim)
        self.claim = self.line = None
        if rec is not None:
            self.out.append(rec)

    def on_lx(self, segno: int, el: list[str]) -> None:
        """``LX*1``: a provider summary group (header number) begins."""
        claim = self.claim
        if claim is not None:
            self.close_claim(claim)
        self.lx_segment(segno, el)

    def on_plb(self, segno: int, el: list[str]) -> None:
        """``PLB*1234567893*20261231*WO:INV01*-25``: provider-level adjustments."""
        claim = self.claim
        if claim is not None:
            self.close_claim(claim)
        self.plb(segno, el, self.comp)

    def on_se(self, segno: int, el: list[str]) -> None:
        """``SE*35*0001``: the transaction set ends; the open claim, then its totals, go out."""
        claim = self.claim
        if claim is not None:
            rec = self.finish(claim)
            self.claim = self.line = None
            self.env.se(segno, el)  # checked before the claim goes out: a wrong SE01 refuses it
            if rec is not None:
                self.out.append(rec)
        else:
            self.env.se(segno, el)
        self.end_transaction(segno, el)

    def on_st(self, segno: int, el: list[str]) -> None:
        """``ST*835*0001``: a transaction set begins."""
        self.env.st(segno, el)
        self.begin_transaction(segno)

    def on_other(self, segno: int, el: list[str]) -> None:
        """Envelope segments (ISA, GS, GE, IEA, TA1) and the header (BPR, TRN, N1 …, TS3/TS2)."""
        kind = self.env.control(segno, el)
        if kind == "TA1":
            self.out.append(self.env.ta1(segno, el))
        elif kind == "":
            self.header_segment(segno, el, self.comp)

    def before_claim(self, segno: int) -> None:
        """First CLP of a transaction or of an LX group: header and provider summary are complete."""
        if not self.env.in_st:
            raise self.err("CLP outside a transaction set (no ST before it)", segno, "CLP")
        if self.hctx != 3:
            self.begin_detail(segno, "CLP")
        self.end_summary()

    def sums_error(self, segno: int, sid: str, what: str) -> NoReturn:
        """A balancing figure the database stores (balance_exceptions.expected/found) that does not fit."""
        raise self.err(f"{what} is beyond ±999,999,999,999.99 (NUMERIC(14,2))", segno, sid)

    def too_long(self, segno: int, el: list[str], spec: Spec) -> None:
        """Raise naming the first element of ``spec`` that is longer than its maximum."""
        check_lengths(el, spec, self.file, segno, el[0])

    @staticmethod
    def svc_long_components(comp: list[str]) -> bool:
        """SVC01-3..6 (modifiers) or SVC01-7 (description) longer than allowed."""
        return any(len(m) > SVC01_MODIFIER_MAX for m in comp[2:6]) or (
            len(comp) > 6 and len(comp[6]) > SVC01_7_MAX
        )

    def svc_too_long(self, segno: int, el: list[str], comp: list[str]) -> None:
        """Raise naming the first SVC01 component (``SVC01-2``) or SVC04 that is too long."""
        nu = comp[0] == "NU"
        spec = (
            (0, SVC01_1_MAX, "SVC01-1"),
            (1, REVENUE_CODE_MAX if nu else SVC01_2_MAX, "SVC01-2"),
            *((i, SVC01_MODIFIER_MAX, f"SVC01-{i + 1}") for i in range(2, 6)),
            (6, SVC01_7_MAX, "SVC01-7"),
        )
        check_lengths(comp, spec, self.file, segno, "SVC")
        check_lengths(el, ((4, SVC04_MAX, "SVC04"),), self.file, segno, "SVC")

    def cas(self, segno: int, el: list[str], first_amount: Decimal) -> list[Adjustment]:
        """CAS with quantities or several reasons: up to six reason/amount/quantity triplets."""
        f = self.file
        AM = AMOUNTS
        tn = _tn
        g = el[1]
        n = len(el)
        if len(g) > CAS01_MAX:
            raise self.err(f"is longer than {CAS01_MAX} characters", segno, "CAS", "CAS01")
        adj = []
        for i in range(2, n, 3):
            r = el[i]
            if len(r) > CAS02_MAX:
                raise self.err(f"is longer than {CAS02_MAX} characters", segno, "CAS", f"CAS{i:02d}")
            if i == 2:
                a: Decimal | None = first_amount
            else:
                x = el[i + 1] if i + 1 < n else ""
                a = AM.get(x) if x else None
                if a is None and x:
                    a = money(x, f, segno, "CAS", i + 1)
            x = el[i + 2] if i + 2 < n else ""
            qty = (AM.get(x) or quantity(x, f, segno, "CAS", i + 2)) if x else None
            if r:
                if a is None:
                    raise element_error("is required with a reason code", f, segno, "CAS", i + 1)
                adj.append(tn(Adjustment, (g, r, a, qty)))
            elif a is not None or qty is not None:
                raise element_error("is required with an amount", f, segno, "CAS", i)
        if not g:
            raise element_error("is required (claim adjustment group code)", f, segno, "CAS", 1)
        if not adj:
            raise element_error("is required (adjustment reason code)", f, segno, "CAS", 2)
        if len(adj) > 6:
            raise self.err(f"has {len(adj)} adjustment reasons; at most 6 per CAS", segno, "CAS")
        return adj

    def svc_original(
        self, segno: int, el: list[str], c: str
    ) -> tuple[str, str, tuple[str, ...], Decimal | None]:
        """SVC06 (procedure as submitted) and SVC07 (units as submitted)."""
        if el[6]:
            oc = el[6].split(c)
            check_lengths(
                oc,
                ((0, LIM.SVC01_1_MAX, "SVC06-1"), (1, LIM.SVC06_2_MAX, "SVC06-2"),
                 *((i, SVC01_MODIFIER_MAX, f"SVC06-{i + 1}") for i in range(2, 6)),
                 (6, SVC01_7_MAX, "SVC06-7")),
                self.file,
                segno,
                "SVC",
            )  # fmt: skip
            oq, ocode, omods = oc[0], oc[1] if len(oc) > 1 else "", tuple(oc[2:6])
        else:
            oq = ocode = ""
            omods = ()
        ounits = opt_quantity(el[7], self.file, segno, "SVC", 7) if len(el) > 7 else None
        return oq, ocode, omods, ounits

    # ---- claims ---------------------------------------------------------------------------------------

    def close_line(self, line: list[Any], lcas: Decimal) -> None:
        """End of a 2110 loop (next SVC, end of the claim): the balancing count, the line record."""
        x = line[L_CHARGE] - line[L_PAID]
        if not MONEY_MIN <= x <= MONEY_MAX:
            self.sums_error(line[0], "SVC", "SVC02 − SVC03")
        if x != lcas:
            self.bad_lines += 1
            if not MONEY_MIN <= lcas <= MONEY_MAX:
                self.sums_error(line[0], "SVC", "the sum of the line's CAS amounts")
        self.ccas += lcas
        if self.build:
            self.lines.append(_tn(ServiceLine, line))

    def finish(self, claim: list[Any]) -> ClaimPayment | None:
        """End of the open 2100 loop ``claim``: totals, the balancing counts, and the record (when building
        records). ``lcas``/``ccas`` hold ΣCAS of its open line and of the claim so far (claim CAS + closed lines).
        """
        line = self.line
        if line is not None:
            self.close_line(line, self.lcas)
        ccas = self.ccas
        x = claim[C_CHARGE] - claim[C_PAID]
        if not MONEY_MIN <= x <= MONEY_MAX:
            self.sums_error(claim[C_SEGNO], "CLP", "CLP03 − CLP04")
        if x != ccas:
            self.bad_claims += 1
            if not MONEY_MIN <= ccas <= MONEY_MAX:
                self.sums_error(claim[C_SEGNO], "CLP", "the sum of the claim's CAS amounts (claim and lines)")
        self.n_claims += 1
        self.t_charge += claim[C_CHARGE]
        self.t_paid += claim[C_PAID]
        pr = claim[C_PR]
        if pr is not None:
            self.t_pr += pr
        if not self.build:
            return None
        lines = self.lines
        if lines:
            claim[C_LINES] = lines
        return _tn(ClaimPayment, claim)

    def moa(self, segno: int, el: list[str]) -> OutpatientAdjudication:
        _pad(el, 10)
        f, s = self.file, "MOA"
        check_lengths(el, tuple((i, LIM.MOA03_MAX, f"MOA{i:02d}") for i in range(3, 8)), f, segno, s)
        return OutpatientAdjudication(
            number(el[1], f, segno, s, 1),
            opt_money(el[2], f, segno, s, 2),
            tuple(x for x in el[3:8] if x),
            opt_money(el[8], f, segno, s, 8),
            opt_money(el[9], f, segno, s, 9),
        )

    def mia(self, segno: int, el: list[str]) -> InpatientAdjudication:
        _pad(el, 25)
        f, s = self.file, "MIA"
        amounts = []
        check_lengths(el, tuple((i, LIM.MIA05_MAX, f"MIA{i:02d}") for i in (5, 20, 21, 22, 23)), f, segno, s)
        for i in (2, 4, *range(6, 15), *range(16, 20)):
            a = opt_money(el[i], f, segno, s, i)
            if a is not None:
                amounts.append((f"MIA{i:02d}", a))
        remarks = tuple(x for x in (el[5], *el[20:24]) if x)
        return InpatientAdjudication(
            number(el[1], f, segno, s, 1),
            number(el[3], f, segno, s, 3),
            tuple(amounts),
            number(el[15], f, segno, s, 15),
            remarks,
        )

    # ---- transaction structure ------------------------------------------------------------------------

    def begin_transaction(self, segno: int) -> None:
        env = self.env
        if env.st01 != TRANSACTION:
            raise self.err(
                f"ST01 {env.st01} in an 835 file; one transaction type per file is supported",
                segno,
                "ST",
                None,
            )
        if not env.version_ok("005010X221"):
            version = env.st03 or env.gs08 or env.isa12
            raise self.err(f"835 version {version} is not supported (only {GUIDE})", segno, "ST")
        for value, mx, where, sid in (
            (env.isa13, LIM.ISA13_MAX, env.isa_segno, "ISA"),
            (env.gs06, LIM.GS06_MAX, env.gs_segno, "GS"),
            (env.st02, LIM.ST02_MAX, segno, "ST"),
        ):
            if value is not None and len(value) > mx:
                elem = {"ISA": "ISA13", "GS": "GS06", "ST": "ST02"}[sid]
                raise self.err(f"is longer than {mx} characters", where, sid, elem)
        remit = _REMIT0.copy()
        remit[:7] = [env.sha256, env.isa13, env.gs06, env.st02, segno, env.gs02, env.gs03]
        self.remit = remit
        self.hctx = 0
        self.lx = None
        self.summary = None
        self._reset_totals()

    def begin_detail(self, segno: int, sid: str) -> None:
        """First LX/CLP/PLB/SE of a transaction: the header is complete; it goes out."""
        remit = self.remit
        if remit is None:
            raise self.err(f"{sid} outside a transaction set (no ST before it)", segno, sid)
        if self.hctx == 3:
            return
        if remit[_R["payment_amount"]] is None:
            raise self.err(f"835 transaction set {self.env.st02} has no BPR segment", segno, sid)
        self.hctx = 3
        self.out.append(_tn(Remittance, remit))

    def end_summary(self) -> None:
        """The open LX group is complete (next LX, CLP, PLB, SE): its provider summary goes out."""
        if self.summary is not None:
            self.out.append(_tn(ProviderSummary, self.summary))
            self.summary = None

    def lx_segment(self, segno: int, el: list[str]) -> None:
        self.begin_detail(segno, "LX")
        self.end_summary()
        env = self.env
        self.lx = el[1] if len(el) > 1 else ""
        if len(self.lx) > LIM.LX01_MAX:
            raise self.err(f"is longer than {LIM.LX01_MAX} characters", segno, "LX", "LX01")
        self.summary = [
            env.sha256,
            env.isa13,
            env.gs06,
            env.st02,
            segno,
            self.lx,
            None,
            None,
            None,
            None,
            None,
            (),
        ]

    def ts(self, segno: int, el: list[str]) -> None:
        summ = self.summary
        sid = el[0]
        if summ is None:
            raise self.err(f"{sid} without LX before it", segno, sid)
        f = self.file
        amounts = list(summ[11])
        if sid == "TS3":
            _pad(el, 6)
            check_lengths(el, _TS3_SPEC, f, segno, sid)
            summ[6] = el[1]
            summ[7] = el[2]
            summ[8] = opt_date8(el[3], f, segno, sid, 3)
            summ[9] = number(el[4], f, segno, sid, 4)
            summ[10] = opt_money(el[5], f, segno, sid, 5)
            start = 6
        else:
            start = 1
        for i in range(start, len(el)):
            a = opt_money(el[i], f, segno, sid, i)
            if a is not None:
                amounts.append((f"{sid}{i:02d}", a))
        summ[11] = tuple(amounts)

    def plb(self, segno: int, el: list[str], comp: str) -> None:
        self.begin_detail(segno, "PLB")
        self.end_summary()
        env, f = self.env, self.file
        if len(el) < 5:
            raise self.err("needs a provider, a date and at least one reason/amount pair", segno, "PLB")
        if len(el[1]) > LIM.PLB01_MAX:
            raise self.err(f"is longer than {LIM.PLB01_MAX} characters", segno, "PLB", "PLB01")
        fiscal = opt_date8(el[2], f, segno, "PLB", 2)
        for i in range(3, len(el), 2):
            if not el[i] and (i + 1 >= len(el) or not el[i + 1]):
                continue
            parts = el[i].split(comp)
            if not parts[0]:
                raise self.err("is required (adjustment reason)", segno, "PLB", f"PLB{i:02d}")
            if len(parts[0]) > LIM.PLB03_1_MAX:
                raise self.err(f"is longer than {LIM.PLB03_1_MAX} characters", segno, "PLB", f"PLB{i:02d}-1")
            if len(parts) > 1 and len(parts[1]) > LIM.PLB03_2_MAX:
                raise self.err(f"is longer than {LIM.PLB03_2_MAX} characters", segno, "PLB", f"PLB{i:02d}-2")
            if i + 1 >= len(el):
                raise self.err("is required (adjustment amount)", segno, "PLB", f"PLB{i + 1:02d}")
            a = money(el[i + 1], f, segno, "PLB", i + 1)
            self.t_plb += a
            self.out.append(
                ProviderAdjustment(
                    env.sha256,
                    env.isa13,
                    env.gs06,
                    env.st02,
                    segno,
                    el[1],
                    fiscal,
                    parts[0],
                    parts[1] if len(parts) > 1 else "",
                    a,
                )
            )

    def end_transaction(self, segno: int, el: list[str]) -> None:
        self.begin_detail(segno, "SE")
        self.end_summary()
        env = self.env
        remit = self.remit
        assert remit is not None
        if not MONEY_MIN <= self.t_paid - self.t_plb <= MONEY_MAX:
            self.sums_error(segno, "SE", "ΣCLP04 − ΣPLB of the transaction set")
        totals = RemittanceTotals(
            env.sha256,
            env.isa13,
            env.gs06,
            env.st02,
            segno,
            self.n_claims,
            self.n_lines,
            self.t_charge,
            self.t_paid,
            self.t_pr,
            self.t_plb,
            remit[_R["payment_amount"]],
            segno - env.st_segno + 1,
            self.bad_claims,
            self.bad_lines,
        )
        self.out.append(totals)
        self.remit = None

    # ---- header (table 1, loops 1000A/1000B) ----------------------------------------------------------

    def _remit(self, segno: int, sid: str) -> list[Any]:
        remit = self.remit
        if remit is None:
            raise self.err(f"{sid} outside a transaction set (no ST before it)", segno, sid)
        if self.hctx == 3:
            raise self.err(f"{sid} after the first claim; header segments must come first", segno, sid)
        return remit

    def header_dtm(self, segno: int, q: str, d: dt.date) -> None:
        remit = self._remit(segno, "DTM")
        if q == "405":
            remit[_R["production_date"]] = d
        # other header DTM qualifiers are not in the guide; ignored

    def header_ref(self, segno: int, el: list[str]) -> None:
        remit = self._remit(segno, "REF")
        q, val = el[1], el[2]
        if self.hctx == 0:
            if q == "EV":
                remit[_R["receiver_reference"]] = val
            elif q == "F2":
                remit[_R["version_reference"]] = val
        elif self.hctx == 1:
            v = remit[_R["payer_references"]]
            if v:
                v.append((q, val))
            else:
                remit[_R["payer_references"]] = [(q, val)]
        else:
            v = remit[_R["payee_references"]]
            if v:
                v.append((q, val))
            else:
                remit[_R["payee_references"]] = [(q, val)]

    def header_segment(self, segno: int, el: list[str], comp: str) -> None:
        sid = el[0]
        if sid in ("TS3", "TS2"):
            self.ts(segno, el)
            return
        if sid not in ("BPR", "TRN", "CUR", "N1", "N3", "N4", "PER", "RDM"):
            return  # a well-formed segment this guide does not use: counted, otherwise ignored
        remit = self._remit(segno, sid)
        f = self.file
        R = _R
        if sid == "BPR":
            _pad(el, 17)
            remit[R["handling_code"] : R["payment_date"]] = el[1:16]
            if not el[1]:
                raise self.err("is required (transaction handling code)", segno, sid, "BPR01")
            check_lengths(el, _BPR_SPEC, f, segno, sid)
            remit[R["payment_amount"]] = money(el[2], f, segno, sid, 2)
            remit[R["payment_date"]] = opt_date8(el[16], f, segno, sid, 16)
        elif sid == "TRN":
            _pad(el, 5)
            check_lengths(el, _TRN_SPEC, f, segno, sid)
            remit[R["trace_type"] : R["trace_reference"] + 1] = el[1:5]
        elif sid == "CUR":
            check_lengths(el, ((2, LIM.CUR02_MAX, "CUR02"),), f, segno, sid)
            remit[R["currency"]] = el[2]
        elif sid == "N1":
            _pad(el, 5)
            if el[1] in _N1_SPEC:
                check_lengths(el, _N1_SPEC[el[1]], f, segno, sid)
            if el[1] == "PR":
                self.hctx = 1
                remit[R["payer_name"] : R["payer_id"] + 1] = el[2:5]
            elif el[1] == "PE":
                self.hctx = 2
                remit[R["payee_name"] : R["payee_id"] + 1] = el[2:5]
            else:
                raise self.err(f"entity {el[1]} is not PR (payer) or PE (payee)", segno, sid, "N101")
        elif sid == "N3":
            key = "payer_address" if self.hctx == 1 else "payee_address"
            check_lengths(el, _N3_SPEC, f, segno, sid)
            remit[R[key]] = tuple(x for x in el[1:3] if x)
        elif sid == "N4":
            _pad(el, 5)
            check_lengths(el, _N4_SPEC, f, segno, sid)
            who = "payer" if self.hctx == 1 else "payee"
            remit[R[f"{who}_city"]] = el[1]
            remit[R[f"{who}_state"]] = el[2]
            remit[R[f"{who}_postal_code"]] = el[3]
            remit[R[f"{who}_country"]] = el[4]
        elif sid == "PER":
            v = remit[R["payer_contacts"]]
            if v:
                v.append(_contact(el, f, segno))
            else:
                remit[R["payer_contacts"]] = [_contact(el, f, segno)]
        elif sid == "RDM":
            check_lengths(el, _RDM_SPEC, f, segno, sid)
            remit[R["payee_remittance_delivery"]] = tuple(el[1:])


def parse(
    source: Source,
    *,
    name: str | None = None,
    file_sha256: str | None = None,
    chunk_size: int = CHUNK_SIZE,
    claims: bool = True,
    native: bool = True,
) -> Iterator[Record835]:
    """Records of an 835 file (path, bytes or binary stream), streaming.

    ``claims=False`` skips building :class:`ClaimPayment` records (and their parties and adjustments):
    for summaries, which only need :class:`RemittanceTotals`. Every check still runs, so a file fails
    the same way in both modes.

    ``native=False`` keeps the C accelerator (:mod:`parsers.native`) out even when it is installed; the
    records are the same either way (that is what the equivalence tests check).

    ``file_sha256`` is the file's digest for provenance (the caller archived the file and knows it);
    :func:`parsers.parse_file` computes it when not given. Raises :class:`~edi.errors.X12ParseError`
    (one line, names file/segment/element) at the first malformed segment; records before it have
    already been yielded, so a caller that stores them must treat the file as one transaction.
    """
    label = source_name(source, name)
    parser = Parser835(Envelope(label, file_sha256), build=claims, native=native)
    with gc_paused():
        yield from parser.run(iter_batches(source, name=label, chunk_size=chunk_size))
