"""ISA/GS/ST/SE/GE/IEA (and TA1) bookkeeping shared by every inbound parser.

The parsers own their segment loop (that is where the speed is) and hand every envelope segment to one
:class:`Envelope`, which checks nesting and the trailer counts and keeps the current control numbers
for provenance:

* ``SE01`` = segments counted from ST to SE inclusive; ``SE02`` = ``ST02``;
* ``GE01`` = transaction sets in the group; ``GE02`` = ``GS06``;
* ``IEA01`` = functional groups in the interchange; ``IEA02`` = ``ISA13``. An interchange that carries
  only TA1 segments has no group, so the standard's IEA01 is 0; real senders often write 1 (the number of
  TA1s: they count the TA1 as if it were a group). That is accepted only when the interchange has no
  functional group at all and IEA01 equals its number of TA1 segments — a missing group can never hide
  behind it;
* ``GS`` has its eight elements: GS04 a CCYYMMDD date, GS05 a time, GS06 1-9 digits, GS07 ``X``/``T``,
  GS08 a version — a malformed GS is named as such, not reported later as an unsupported version;
* ``ISA13`` is at most 9 digits, ``ISA06``/``ISA08`` at most 15 characters, ``ISA15`` ``P`` or ``T``,
  ``ST02`` at most 9 characters (their storage columns, :mod:`parsers.limits_ack`);
* nothing outside ST..SE but envelope segments (and TA1 between ISA and the first GS); a file must not
  end inside an envelope (a truncated file).

A file without ISA (``ST..SE`` or ``GS..GE`` only, as guide examples are often published) is accepted in
"bare" mode: provenance then has ``isa13``/``gs06`` ``None``.

Errors look like ``bad.835: segment 57 (SE): SE01 says 40 segments, counted 41``. Control numbers are
not patient data, so messages may quote them.

:class:`SetWalker` is the one segment loop of the 999, 277CA, 277 (X212) and 271 parsers: it splits
segments, hands envelope segments to the :class:`Envelope`, yields TA1 records, and calls the parser's
hooks at ST, at SE and for each body segment it claims. The 835 parser keeps its own loop (its hot path
and the C accelerator live there).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from edi.delimiters import Delimiters
from edi.errors import X12ParseError
from edi.reader import SegmentBatch, check_segment_id
from parsers.limits_ack import (
    GS06_MAX,
    ISA13_MAX,
    ISA_ID_MAX,
    ISA_QUALIFIER_MAX,
    ST02_MAX,
    TA101_MAX,
    TA105_MAX,
    check_len,
)
from parsers.records import InterchangeAck
from parsers.values import date6

ENVELOPE_IDS = frozenset({"ISA", "GS", "ST", "SE", "GE", "IEA", "TA1"})

R = TypeVar("R")


def _int(value: str) -> int | None:
    v = value.strip()
    return int(v) if v.isascii() and v.isdigit() else None


def _quoted(value: str, numeric: bool = True) -> str:
    """A trailer's control number as messages quote it: only when it looks like one (1-9 digits; for
    SE02, which is alphanumeric like ST02, letters too); anything else — possibly a shifted element with
    patient data — is described, not quoted."""
    if not value:
        return "(empty)"
    if len(value) <= 9 and value.isascii() and (value.isdigit() if numeric else value.isalnum()):
        return value
    return "(not a control number)"


class Envelope:
    """Where we are in the envelope of one file, and the checks of every trailer."""

    __slots__ = (
        "bare",
        "file",
        "gs01",
        "gs02",
        "gs03",
        "gs06",
        "gs08",
        "gs_segno",
        "in_gs",
        "in_isa",
        "in_st",
        "isa12",
        "isa13",
        "isa_segno",
        "last_segno",
        "n_gs",
        "n_isa",
        "n_st",
        "n_st_total",
        "n_ta1",
        "sha256",
        "st01",
        "st02",
        "st03",
        "st_segno",
    )

    def __init__(self, file: str | None, sha256: str | None) -> None:
        self.file = file
        self.sha256 = sha256
        self.bare = False
        self.in_isa = self.in_gs = self.in_st = False
        self.isa13: str | None = None
        self.isa12: str | None = None
        self.gs01: str | None = None
        self.gs02: str | None = None
        self.gs03: str | None = None
        self.gs06: str | None = None
        self.gs08: str | None = None
        self.st01 = ""
        self.st02: str | None = None
        self.st03 = ""
        self.isa_segno = self.gs_segno = self.st_segno = 0
        self.n_gs = self.n_st = 0
        self.n_isa = 0
        self.n_st_total = 0
        self.n_ta1 = 0
        self.last_segno = 0

    def error(self, msg: str, segno: int, sid: str | None, element: str | None = None) -> X12ParseError:
        return X12ParseError(msg, file=self.file, segment_no=segno, segment_id=sid, element=element)

    # ---- the dispatcher -------------------------------------------------------------------------------

    def control(self, segno: int, el: list[str]) -> str:
        """Handle an envelope segment and return its ID (``"ST"``, ``"SE"``, …).

        Any other segment is returned as ``""`` after its ID has been validated (junk raises); the caller
        decides what to do with it. Body segments outside a transaction set raise here too.
        """
        sid = el[0]
        if sid == "ST":
            self.st(segno, el)
        elif sid == "SE":
            self.se(segno, el)
        elif sid == "GS":
            self.gs(segno, el)
        elif sid == "GE":
            self.ge(segno, el)
        elif sid == "IEA":
            self.iea(segno, el)
        elif sid == "TA1":
            if not self.in_isa or self.in_gs:
                raise self.error("TA1 must follow ISA, outside any functional group", segno, sid)
            self.n_ta1 += 1
        else:
            el = check_segment_id(el, segno, self.file)
            sid = el[0]
            if sid == "ISA":
                self.isa(segno, el)
                return sid
            if not self.in_st:
                raise self.error(f"{sid} segment outside a transaction set (no ST before it)", segno, sid)
            return ""
        return sid

    # ---- segments -------------------------------------------------------------------------------------

    def isa(self, segno: int, el: list[str]) -> None:
        if self.in_isa:
            raise self.error(f"ISA inside interchange {self.isa13}: its IEA is missing", segno, "ISA")
        if self.bare:
            raise self.error("ISA after a transaction set that had no interchange envelope", segno, "ISA")
        if len(el) < 17:
            raise self.error(f"ISA has {len(el) - 1} elements, 16 required (truncated?)", segno, "ISA")
        isa13 = el[13].strip()
        if not (isa13.isascii() and isa13.isdigit()) or len(isa13) > ISA13_MAX:
            raise self.error("is not a 9-digit interchange control number", segno, "ISA", "ISA13")
        for pos, limit in ((5, ISA_QUALIFIER_MAX), (6, ISA_ID_MAX), (7, ISA_QUALIFIER_MAX), (8, ISA_ID_MAX)):
            check_len(el[pos].strip(), limit, self.file, segno, "ISA", f"ISA{pos:02d}")
        if el[15].strip() not in ("P", "T"):
            raise self.error("is not P or T (usage indicator)", segno, "ISA", "ISA15")
        self.isa13 = isa13
        self.isa12 = el[12].strip()
        self.in_isa = True
        self.isa_segno = segno
        self.n_gs = 0
        self.n_ta1 = 0
        self.n_isa += 1

    def gs(self, segno: int, el: list[str]) -> None:
        if self.in_gs:
            raise self.error(f"GS inside functional group {self.gs06}: its GE is missing", segno, "GS")
        if not self.in_isa:
            if self.n_isa or (self.n_st_total and not self.bare):
                raise self.error("GS outside an interchange (no ISA before it)", segno, "GS")
            self.bare = True
        if self.in_st:
            raise self.error(f"GS inside transaction set {self.st02}: its SE is missing", segno, "GS")
        if len(el) < 7 or not el[6].strip():
            raise self.error("is required (group control number)", segno, "GS", "GS06")
        self._check_gs(segno, el)
        self.gs01 = el[1]
        self.gs02 = el[2] if len(el) > 2 else ""
        self.gs03 = el[3] if len(el) > 3 else ""
        self.gs06 = el[6].strip()
        self.gs08 = el[8].strip() if len(el) > 8 else ""
        self.in_gs = True
        self.gs_segno = segno
        self.n_st = 0
        self.n_gs += 1

    def _check_gs(self, segno: int, el: list[str]) -> None:
        """The GS elements every parser relies on; each problem named by its element, never its value."""
        if len(el) != 9:
            raise self.error(
                f"GS has {len(el) - 1} elements, 8 required (GS01-GS08; a missing or extra separator?)",
                segno,
                "GS",
            )
        gs04, gs05, gs06 = el[4].strip(), el[5].strip(), el[6].strip()
        if not (len(gs04) == 8 and gs04.isascii() and gs04.isdigit()):
            raise self.error("is not a date (CCYYMMDD)", segno, "GS", "GS04")
        if not (4 <= len(gs05) <= 8 and gs05.isascii() and gs05.isdigit()):
            raise self.error("is not a time (HHMM, HHMMSS or HHMMSSDD)", segno, "GS", "GS05")
        if not (gs06.isascii() and gs06.isdigit()) or len(gs06) > GS06_MAX:
            raise self.error(f"is not a group control number (1-{GS06_MAX} digits)", segno, "GS", "GS06")
        if el[7].strip() not in ("X", "T"):
            raise self.error("is not X or T (responsible agency code)", segno, "GS", "GS07")
        gs08 = el[8].strip()
        if not gs08 or len(gs08) > 12 or not (gs08.isascii() and gs08.isalnum()):
            raise self.error(
                "is not a version/release/industry identifier (1-12 characters)", segno, "GS", "GS08"
            )

    def st(self, segno: int, el: list[str]) -> None:
        if self.in_st:
            raise self.error(f"ST inside transaction set {self.st02}: its SE is missing", segno, "ST")
        if not self.in_gs:
            if self.in_isa:
                raise self.error("ST outside a functional group (no GS before it)", segno, "ST")
            if self.n_isa:
                raise self.error("ST outside an interchange (no ISA before it)", segno, "ST")
            self.bare = True
        if len(el) < 3 or not el[2].strip():
            raise self.error("is required (transaction set control number)", segno, "ST", "ST02")
        check_len(el[2].strip(), ST02_MAX, self.file, segno, "ST", "ST02")
        st01 = el[1].strip()
        if not (len(st01) == 3 and st01.isascii() and st01.isalnum()):
            raise self.error("is not a transaction set identifier code (3 characters)", segno, "ST", "ST01")
        st03 = el[3].strip() if len(el) > 3 else ""
        if st03 and not (len(st03) <= 35 and st03.isascii() and st03.isalnum()):
            raise self.error(
                "is not an implementation convention reference (1-35 letters or digits)", segno, "ST", "ST03"
            )
        self.st01 = el[1]
        self.st02 = el[2].strip()
        self.st03 = el[3].strip() if len(el) > 3 else ""
        self.in_st = True
        self.st_segno = segno
        self.n_st += 1
        self.n_st_total += 1

    def se(self, segno: int, el: list[str]) -> None:
        if not self.in_st:
            raise self.error("SE without ST", segno, "SE")
        counted = segno - self.st_segno + 1
        said = _int(el[1]) if len(el) > 1 else None
        if said is None:
            raise self.error("is not a segment count", segno, "SE", "SE01")
        if said != counted:
            raise self.error(f"says {said} segments, counted {counted}", segno, "SE", "SE01")
        se02 = el[2].strip() if len(el) > 2 else ""
        if se02 != self.st02:
            raise self.error(
                f"{_quoted(se02, numeric=False)} does not match ST02 {self.st02}", segno, "SE", "SE02"
            )
        self.in_st = False

    def ge(self, segno: int, el: list[str]) -> None:
        if self.in_st:
            raise self.error(f"GE inside transaction set {self.st02}: its SE is missing", segno, "GE")
        if not self.in_gs:
            raise self.error("GE without GS", segno, "GE")
        said = _int(el[1]) if len(el) > 1 else None
        if said is None:
            raise self.error("is not a transaction set count", segno, "GE", "GE01")
        if said != self.n_st:
            raise self.error(f"says {said} transaction sets, counted {self.n_st}", segno, "GE", "GE01")
        ge02 = el[2].strip() if len(el) > 2 else ""
        if ge02 != self.gs06:
            raise self.error(f"{_quoted(ge02)} does not match GS06 {self.gs06}", segno, "GE", "GE02")
        self.in_gs = False

    def iea(self, segno: int, el: list[str]) -> None:
        if self.in_st:
            raise self.error(f"IEA inside transaction set {self.st02}: its SE is missing", segno, "IEA")
        if self.in_gs:
            raise self.error(f"IEA inside functional group {self.gs06}: its GE is missing", segno, "IEA")
        if not self.in_isa:
            raise self.error("IEA without ISA", segno, "IEA")
        said = _int(el[1]) if len(el) > 1 else None
        if said is None:
            raise self.error("is not a functional group count", segno, "IEA", "IEA01")
        if said != self.n_gs and not (self.n_gs == 0 and self.n_ta1 and said == self.n_ta1):
            counted = f"counted {self.n_gs}"
            if self.n_ta1:
                counted += f" (and {self.n_ta1} TA1)"
            raise self.error(f"says {said} functional groups, {counted}", segno, "IEA", "IEA01")
        iea02 = el[2].strip() if len(el) > 2 else ""
        if iea02 != self.isa13:
            raise self.error(f"{_quoted(iea02)} does not match ISA13 {self.isa13}", segno, "IEA", "IEA02")
        self.in_isa = False

    def ta1(self, segno: int, el: list[str]) -> InterchangeAck:
        """A TA1 segment (already placed by :meth:`control`) as a record."""
        if len(el) < 5:
            raise self.error(f"TA1 has {len(el) - 1} elements, 5 required", segno, "TA1")
        code = el[4].strip()
        if code not in ("A", "E", "R"):
            raise self.error("is not A, E or R", segno, "TA1", "TA104")
        ta101 = el[1].strip()
        if not (ta101.isascii() and ta101.isdigit()) or len(ta101) > TA101_MAX:
            raise self.error(
                f"is not an interchange control number (1-{TA101_MAX} digits)", segno, "TA1", "TA101"
            )
        date = date6(el[2].strip(), self.file, segno, "TA1", 2) if el[2].strip() else None
        ta103 = el[3].strip()
        if ta103 and not (len(ta103) == 4 and ta103.isascii() and ta103.isdigit()):
            raise self.error("is not a time (HHMM)", segno, "TA1", "TA103")
        note = el[5].strip() if len(el) > 5 else ""
        check_len(note, TA105_MAX, self.file, segno, "TA1", "TA105")
        return InterchangeAck(
            self.sha256,
            self.isa13,
            None,
            None,
            segno,
            ta101,
            date,
            ta103,
            code,
            note,
            code != "R",
        )

    def finish(self, last_segno: int, last_sid: str | None) -> None:
        """End of file: nothing may be left open."""
        if last_segno == 0:
            raise self.error("no segments", 1, None)
        if self.in_st:
            raise self.error(
                f"file ends inside transaction set {self.st02} (no SE); truncated?", last_segno, last_sid
            )
        if self.in_gs:
            raise self.error(
                f"file ends inside functional group {self.gs06} (no GE); truncated?", last_segno, last_sid
            )
        if self.in_isa:
            raise self.error(
                f"file ends inside interchange {self.isa13} (no IEA); truncated?", last_segno, last_sid
            )

    # ---- provenance -----------------------------------------------------------------------------------

    def provenance(self) -> tuple[str | None, str | None, str | None, str | None]:
        """(file_sha256, isa13, gs06, st02) of the current transaction set."""
        return (self.sha256, self.isa13, self.gs06, self.st02)

    def version_ok(self, prefix: str) -> bool:
        """Whether the group/transaction claims guide ``prefix`` (``"005010X221"``) or at least 5010.

        Published samples often carry a GS08 that does not match the content; ST03 and ISA12 are
        consulted too. Only a positively older version (003/004…) is refused.
        """
        for v in (self.st03, self.gs08 or ""):
            if v.startswith(prefix):
                return True
        versions = [v for v in (self.st03, self.gs08 or "") if v]
        if versions:
            return any(v.startswith("00501") for v in versions)
        return self.isa12 in (None, "", "00501")


class SetWalker(Generic[R]):
    """The segment loop shared by the transaction-set parsers (999, 277CA, 277 X212, 271).

    Why one loop: each parser used to carry its own copy of ISA/GS/ST/SE/GE/IEA walking, TA1 handling,
    end-of-file checks and the "missing element" error; copies drift. A subclass says which segment IDs
    it reads (:attr:`BODY`) and fills in the hooks; everything else — envelope checks, TA1 records, junk
    segment IDs, body segments outside ST..SE, a truncated file — is decided here, with one wording.

    Order per segment: a :attr:`BODY` segment goes to :meth:`segment` (refused first when outside a
    transaction set, unless :attr:`BODY_NEEDS_ST` is off because the parser names its own loop instead);
    ``ST`` is checked by the envelope, then :meth:`begin`; ``SE`` runs :meth:`before_se`, the envelope's
    trailer check, then :meth:`end_set` (so no record of a set with a bad trailer is yielded); anything
    else goes to :meth:`Envelope.control`.
    """

    BODY: frozenset[str] = frozenset()
    """Segment IDs handed to :meth:`segment`."""
    BODY_NEEDS_ST = True
    """Refuse a :attr:`BODY` segment outside ST..SE before :meth:`segment` sees it."""

    def __init__(self, env: Envelope) -> None:
        self.env = env
        self.file = env.file

    def err(self, msg: str, segno: int, sid: str, element: str | None = None) -> X12ParseError:
        return X12ParseError(msg, file=self.file, segment_no=segno, segment_id=sid, element=element)

    # ---- hooks ----------------------------------------------------------------------------------------

    def segment(self, segno: int, el: list[str], delims: Delimiters) -> Iterator[R]:
        """One :attr:`BODY` segment (``el[0]`` is its ID); yields the records it completes."""
        return iter(())

    def begin(self, segno: int) -> None:
        """A transaction set starts (the envelope has accepted its ST): check ST01/version, reset state."""

    def before_se(self, segno: int) -> None:
        """Checks before the SE trailer (loops the set must have closed)."""

    def end_set(self) -> Iterator[R]:
        """After a valid SE: the records still open in the set."""
        return iter(())

    # ---- the loop -------------------------------------------------------------------------------------

    def run(self, batches: Iterator[SegmentBatch]) -> Iterator[R | InterchangeAck]:
        env = self.env
        body = self.BODY
        needs_st = self.BODY_NEEDS_ST
        segment = self.segment
        segno = 0
        sid: str | None = None
        el: list[str] = []
        try:
            for first, delims, segs in batches:
                e = delims.element
                segno = first - 1
                for s in segs:
                    segno += 1
                    el = s.split(e)
                    sid = el[0]
                    if sid in body:
                        if needs_st and not env.in_st:
                            raise self.err(
                                f"{sid} segment outside a transaction set (no ST before it)", segno, sid
                            )
                        yield from segment(segno, el, delims)
                    elif sid == "ST":
                        env.st(segno, el)
                        self.begin(segno)
                    elif sid == "SE":
                        self.before_se(segno)
                        env.se(segno, el)
                        yield from self.end_set()
                    else:
                        kind = env.control(segno, el)
                        if kind == "TA1":
                            yield env.ta1(segno, el)
            env.finish(segno, sid)
        except IndexError:
            raise self.err(
                f"has only {len(el) - 1} elements; a required element is missing", segno, sid or "?"
            ) from None
