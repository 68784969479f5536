"""999 Implementation Acknowledgment, guide 005010X231A1 (and X231) → acknowledgment records.

::

    ST*999*0001*005010X231A1~
    AK1*HC*17*005010X222A1~            the functional group we sent (GS01, GS06, GS08)
    AK2*837*0001*005010X222A1~         one transaction set we sent (ST01, ST02, ST03)
    IK3*NM1*8*2010BA*8~                segment in error: ID, position in our set, loop, error code
    CTX*CLM01:PCN123~                  business unit: the claim (our patient control number)
    IK4*9*67*7*BADVALUE~               element in error: position, element number, code, copy of bad data
    IK5*R*5~                           the set: A accepted, E accepted with errors, R/M/W/X rejected
    AK9*R*1*1*0~                       the group: A, E, P (partially accepted), R …; counts
    SE*9*0001~

Yields a :class:`~parsers.records.TransactionSetAck` at each IK5 and a
:class:`~parsers.records.FunctionalGroupAck` at each AK9 (and an
:class:`~parsers.records.InterchangeAck` for a TA1 in the same interchange). The copy of the bad data
(IK404) is kept for the database and masked in ``repr``; error messages never quote it.

Every element the loader stores is bounded (:mod:`parsers.limits_ack`): AK101/AK102/AK201/AK202,
IK301-IK304, IK401-IK403, IK502-IK506, AK905-AK909 and the ``CTX*CLM01`` patient control number; IK302
must fit a 32-bit integer. A longer value is refused naming the element (never quoting it).

``accepted`` on a :class:`~parsers.records.TransactionSetAck` is the IK5's own verdict (A or E); whether
the set is accepted in the end also depends on its group's AK9 (:func:`set_accepted`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from edi import gc_paused
from edi.delimiters import Delimiters
from edi.reader import CHUNK_SIZE, Source, iter_batches, source_name
from parsers.envelope import Envelope, SetWalker
from parsers.limits_ack import (
    AK101_MAX,
    AK102_MAX,
    AK103_MAX,
    AK201_MAX,
    AK202_MAX,
    AK203_MAX,
    AK905_MAX,
    CTX01_2_MAX,
    IK301_MAX,
    IK302_DIGITS,
    IK303_MAX,
    IK304_MAX,
    IK401_3_DIGITS,
    IK401_DIGITS,
    IK402_MAX,
    IK403_MAX,
    IK502_MAX,
    INTEGER_MAX,
    check_digits,
    check_len,
)
from parsers.records import (
    ElementError,
    ErrorContext,
    FunctionalGroupAck,
    InterchangeAck,
    SegmentError,
    TransactionSetAck,
)

GUIDE = "005010X231A1"
TRANSACTION = "999"
MAX_ERRORS_PER_SET = 100_000
"""IK3 notes kept for one transaction set; more is refused (bounds memory on a hostile file)."""

SET_CODES = frozenset("AEMRWX")
GROUP_CODES = frozenset("AEMPRWX")
ACCEPTED_SET_CODES = frozenset("AE")
ACCEPTED_GROUP_CODES = frozenset("AEP")
REJECTED_GROUP_CODES = frozenset("MRWX")


def set_accepted(ik501: str, ak901: str) -> bool:
    """Whether a transaction set is accepted in the end: its IK5 accepts it (A, E) **and** its group's
    AK9 does not reject the group (R, M, W, X). Under AK9 P (partially accepted) the IK5 decides."""
    return ik501 in ACCEPTED_SET_CODES and ak901 not in REJECTED_GROUP_CODES


Record999 = TransactionSetAck | FunctionalGroupAck | InterchangeAck


def _int(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() else None


class _Parser(SetWalker[Record999]):
    # the 999 names its own loops ("IK3 outside an AK2 loop", "AK1 outside a transaction set"), so body
    # segments reach segment() even outside ST..SE
    BODY = frozenset({"IK3", "IK4", "CTX", "IK5", "AK2", "AK1", "AK9"})
    BODY_NEEDS_ST = False

    def __init__(self, env: Envelope) -> None:
        super().__init__(env)
        self.group: list[str] | None = None  # AK1 elements + its segment number
        self.group_segno = 0
        self.n_sets = 0
        self.set_: list[str] | None = None  # AK2 elements
        self.set_segno = 0
        self.errors: list[SegmentError] = []
        self.ik3: list[Any] | None = None  # segment error being built
        self.ik4: list[Any] | None = None  # element error being built

    def segment(self, segno: int, el: list[str], delims: Delimiters) -> Iterator[Record999]:
        env = self.env
        c = delims.component
        sid = el[0]
        if sid == "IK3":
            self.close_ik3()
            self.need_set(segno, sid)
            if len(self.errors) >= MAX_ERRORS_PER_SET:
                raise self.err(f"more than {MAX_ERRORS_PER_SET} IK3 in one AK2 loop", segno, sid)
            el += [""] * (5 - len(el))
            f = self.file
            check_len(el[1], IK301_MAX, f, segno, sid, "IK301")
            check_digits(el[2], IK302_DIGITS, f, segno, sid, "IK302")
            position = _int(el[2])
            if position is not None and position > INTEGER_MAX:
                raise self.err("is beyond a segment position (2147483647)", segno, sid, "IK302")
            check_len(el[3], IK303_MAX, f, segno, sid, "IK303")
            check_len(el[4], IK304_MAX, f, segno, sid, "IK304")
            self.ik3 = [segno, el[1], position, el[3], el[4], [], []]
        elif sid == "IK4":
            if self.ik3 is None:
                raise self.err("IK4 without IK3 before it", segno, sid)
            self.close_ik4()
            el += [""] * (5 - len(el))
            pos = el[1].split(c)
            pos += [""] * (3 - len(pos))
            f = self.file
            check_digits(pos[0], IK401_DIGITS, f, segno, sid, "IK401-1")
            check_digits(pos[1], IK401_DIGITS, f, segno, sid, "IK401-2")
            check_digits(pos[2], IK401_3_DIGITS, f, segno, sid, "IK401-3")
            check_len(el[2], IK402_MAX, f, segno, sid, "IK402")
            check_len(el[3], IK403_MAX, f, segno, sid, "IK403")
            self.ik4 = [_int(pos[0]), _int(pos[1]), _int(pos[2]), el[2], el[3], el[4], []]
        elif sid == "CTX":
            ctx = self.ctx(el, c)
            if ctx.name == "CLM01":
                check_len(ctx.reference, CTX01_2_MAX, self.file, segno, sid, "CTX01-2")
            if self.ik4 is not None:
                self.ik4[6].append(ctx)
            elif self.ik3 is not None:
                self.ik3[5].append(ctx)
            else:
                raise self.err("CTX without IK3 or IK4 before it", segno, sid)
        elif sid == "IK5":
            yield self.ik5(segno, el)
        elif sid == "AK2":
            if self.set_ is not None:
                raise self.err(f"AK2 before IK5 of transaction set {self.set_[2]}", segno, sid)
            if self.group is None:
                raise self.err("AK2 without AK1 before it", segno, sid)
            el += [""] * (4 - len(el))
            if not el[2]:
                raise self.err("is required (transaction set control number)", segno, sid, "AK202")
            check_len(el[1], AK201_MAX, self.file, segno, sid, "AK201")
            check_len(el[2], AK202_MAX, self.file, segno, sid, "AK202")
            check_len(el[3], AK203_MAX, self.file, segno, sid, "AK203")
            self.set_ = el
            self.set_segno = segno
            self.errors = []
        elif sid == "AK1":
            if self.group is not None:
                raise self.err("AK1 inside a group that has no AK9", segno, sid)
            if not env.in_st:
                raise self.err("AK1 outside a transaction set (no ST before it)", segno, sid)
            el += [""] * (4 - len(el))
            if not el[2]:
                raise self.err("is required (group control number)", segno, sid, "AK102")
            check_len(el[1], AK101_MAX, self.file, segno, sid, "AK101")
            check_digits(el[2], AK102_MAX, self.file, segno, sid, "AK102")
            check_len(el[3], AK103_MAX, self.file, segno, sid, "AK103")
            self.group = el
            self.group_segno = segno
            self.n_sets = 0
        elif sid == "AK9":
            yield self.ak9(segno, el)

    def begin(self, segno: int) -> None:
        env = self.env
        if env.st01 != TRANSACTION:
            raise self.err(
                f"ST01 {env.st01} in a 999 file; one transaction type per file is supported", segno, "ST"
            )
        if not env.version_ok("005010X231"):
            raise self.err(f"999 version {env.st03 or env.gs08} is not supported (only {GUIDE})", segno, "ST")

    def before_se(self, segno: int) -> None:
        if self.set_ is not None:
            raise self.err(f"SE before IK5 of transaction set {self.set_[2]}", segno, "SE")
        if self.group is not None:
            raise self.err(f"SE before AK9 of group {self.group[2]}", segno, "SE")

    def need_set(self, segno: int, sid: str) -> None:
        if self.set_ is None:
            raise self.err(f"{sid} outside an AK2 loop", segno, sid)

    def ctx(self, el: list[str], c: str) -> ErrorContext:
        el += [""] * (7 - len(el))
        name, _, ref = el[1].partition(c)
        return ErrorContext(name, ref, el[2], _int(el[3]), el[4], el[5], el[6])

    def close_ik4(self) -> None:
        if self.ik4 is not None and self.ik3 is not None:
            ik4 = self.ik4
            ik4[6] = tuple(ik4[6])
            self.ik3[6].append(ElementError(*ik4))
        self.ik4 = None

    def close_ik3(self) -> None:
        self.close_ik4()
        if self.ik3 is not None:
            ik3 = self.ik3
            self.errors.append(
                SegmentError(
                    ik3[0],
                    ik3[1],
                    ik3[2],
                    ik3[3],
                    ik3[4],
                    tuple(ik3[5]),
                    tuple(ik3[6]),
                )
            )
        self.ik3 = None

    def ik5(self, segno: int, el: list[str]) -> TransactionSetAck:
        self.need_set(segno, "IK5")
        self.close_ik3()
        code = el[1] if len(el) > 1 else ""
        if code not in SET_CODES:
            raise self.err("is not A, E, M, R, W or X", segno, "IK5", "IK501")
        for i in range(2, min(len(el), 7)):
            check_len(el[i], IK502_MAX, self.file, segno, "IK5", f"IK5{i:02d}")
        assert self.set_ is not None and self.group is not None
        env, st, g = self.env, self.set_, self.group
        self.n_sets += 1
        rec = TransactionSetAck(
            env.sha256,
            env.isa13,
            env.gs06,
            env.st02,
            self.set_segno,
            g[2],
            g[1],
            g[3],
            st[1],
            st[2],
            st[3],
            code,
            code in ACCEPTED_SET_CODES,
            tuple(x for x in el[2:7] if x),
            tuple(self.errors),
        )
        self.set_ = None
        self.errors = []
        return rec

    def ak9(self, segno: int, el: list[str]) -> FunctionalGroupAck:
        if self.group is None:
            raise self.err("AK9 without AK1 before it", segno, "AK9")
        if self.set_ is not None:
            raise self.err(f"AK9 before IK5 of transaction set {self.set_[2]}", segno, "AK9")
        el += [""] * (5 - len(el))
        code = el[1]
        if code not in GROUP_CODES:
            raise self.err("is not A, E, M, P, R, W or X", segno, "AK9", "AK901")
        counts = []
        for i in (2, 3, 4):
            v = el[i]
            n = _int(v)
            if v and n is None:
                raise self.err("is not a number", segno, "AK9", f"AK9{i:02d}")
            counts.append(n)
        for i in range(5, min(len(el), 10)):
            check_len(el[i], AK905_MAX, self.file, segno, "AK9", f"AK9{i:02d}")
        env, g = self.env, self.group
        rec = FunctionalGroupAck(
            env.sha256,
            env.isa13,
            env.gs06,
            env.st02,
            self.group_segno,
            g[2],
            g[1],
            g[3],
            code,
            code in ACCEPTED_GROUP_CODES,
            counts[0],
            counts[1],
            counts[2],
            tuple(x for x in el[5:10] if x),
            self.n_sets,
        )
        self.group = None
        return rec


def parse(
    source: Source,
    *,
    name: str | None = None,
    file_sha256: str | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[Record999]:
    """Acknowledgment records of a 999 file (path, bytes or binary stream), streaming."""
    label = source_name(source, name)
    parser = _Parser(Envelope(label, file_sha256))
    with gc_paused():
        yield from parser.run(iter_batches(source, name=label, chunk_size=chunk_size))
