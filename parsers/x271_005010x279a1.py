"""271 Health Care Eligibility Benefit Response, guide 005010X279A1 → :class:`~parsers.records.Eligibility`.

The hierarchy (HL03) of a 271::

    HL*1**20*1~   2000A information source (payer):   AAA (payer cannot answer), 2100A NM1*PR, AAA
    HL*2*1*21*1~  2000B information receiver (us):    2100B NM1*1P, AAA (provider not eligible ...)
    HL*3*2*22*0~  2000C subscriber:  TRN*2*<our trace>~ 2100C NM1*IL*1*DOE*JANE****MI*W123~ REF*6P*<group>~
                  AAA*Y**75*C~ (subscriber not found)  DTP*346*D8*20260101~ (plan begin)
                  2110C EB*1**30**GOLD PPO~  EB*C*IND*30***29*600~ (deductible remaining)
                        EB*G*IND*30***29*2400~ (out of pocket remaining)  EB*B*IND*98***27*25~ (copay)
                        EB*A*IND*30***27**0.2~ (coinsurance 20 %)  DTP, MSG, III, LS/2120C/LE
    HL*4*3*23*0~  2000D dependent: same as 2000C with NM1*03

One record per 2000C/2000D loop, yielded when the next HL (or SE) starts; a 2000A/2000B loop that carries
an AAA and no subscriber loop below it yields a record of level ``source``/``receiver`` so a payer-level
rejection ("payer not available", AAA03 42) is not lost.

Money (EB07) is ``Decimal``; EB08 a decimal fraction. Errors name file, segment, element — never values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from edi import gc_paused
from edi.delimiters import Delimiters
from edi.reader import CHUNK_SIZE, Source, iter_batches, source_name
from parsers.envelope import Envelope, SetWalker
from parsers.limits_ack import check_len
from parsers.records import Benefit, Eligibility, InterchangeAck, Party, Rejection
from parsers.values import date_range, element_error, opt_amount

GUIDE = "005010X279A1"
TRANSACTION = "271"
ACTIVE = frozenset({"1", "2", "3", "4", "5"})
INACTIVE = frozenset({"6", "7", "8"})
TRN02_MAX = 50
NM109_MAX = 80
REF_MAX = 50
EB05_MAX = 50
MAX_BENEFITS = 10_000
_LEVELS = {"20": "source", "21": "receiver", "22": "subscriber", "23": "dependent"}
_BEGIN_DATES = frozenset({"346", "356", "291", "307"})
_END_DATES = frozenset({"347", "357"})

Record271 = Eligibility | InterchangeAck


def _g(el: list[str], i: int) -> str:
    return el[i] if i < len(el) else ""


def _party(el: list[str], file: str | None, segno: int) -> Party:
    nm109 = _g(el, 9)
    check_len(nm109, NM109_MAX, file, segno, "NM1", "NM109")
    return Party(_g(el, 1), _g(el, 2), _g(el, 3), _g(el, 4), _g(el, 5), _g(el, 7), _g(el, 8), nm109)


class _Loop:
    __slots__ = (
        "aaa",
        "benefits",
        "dates",
        "group",
        "hl_segno",
        "level",
        "member",
        "trace",
    )

    def __init__(self, level: str, segno: int) -> None:
        self.level = level
        self.hl_segno = segno
        self.trace: str | None = None
        self.member: Party | None = None
        self.group: str | None = None
        self.aaa: list[Rejection] = []
        self.benefits: list[Benefit] = []
        self.dates: list[tuple[str, dt.date, dt.date]] = []


class _Parser(SetWalker[Record271]):
    # LS, LE, MSG, III … are read by no one here: they fall through to the envelope, which refuses them
    # outside ST..SE with the same words and otherwise lets them pass
    BODY = frozenset({"HL", "NM1", "TRN", "EB", "AAA", "REF", "DTP", "BHT"})

    def __init__(self, env: Envelope) -> None:
        super().__init__(env)
        self.cur: _Loop | None = None
        self.payer: Party | None = None
        self.provider: Party | None = None
        self.pending_upper: list[_Loop] = []  # 2000A/2000B loops with AAA, until a subscriber shows up
        self.where = "2000A"
        self.hl_ids: set[str] = set()

    def begin(self, segno: int) -> None:
        env = self.env
        if env.st01 != TRANSACTION:
            raise self.err(
                f"ST01 {env.st01} in a 271 file; one transaction type per file is supported", segno, "ST"
            )
        self.cur = None
        self.payer = self.provider = None
        self.pending_upper = []
        self.where = "2000A"
        self.hl_ids = set()

    def segment(self, segno: int, el: list[str], delims: Delimiters) -> Iterator[Record271]:
        sid = el[0]
        rep = delims.repetition
        file = self.env.file
        if sid == "BHT":
            return
        if sid == "HL":
            yield from self.flush(final=False)
            hl01 = el[1] if len(el) > 1 else ""
            if not hl01:
                raise self.err("is required (hierarchical ID)", segno, "HL", "HL01")
            parent = el[2] if len(el) > 2 else ""
            if parent and parent not in self.hl_ids:
                raise self.err("names a parent HL that does not precede it", segno, "HL", "HL02")
            self.hl_ids.add(hl01)
            code = el[3] if len(el) > 3 else ""
            level = _LEVELS.get(code)
            if level is None:
                raise self.err("is not 20, 21, 22 or 23 (hierarchical level code)", segno, "HL", "HL03")
            self.cur = _Loop(level, segno)
            self.where = {
                "source": "2000A",
                "receiver": "2000B",
                "subscriber": "2000C",
                "dependent": "2000D",
            }[level]
            return
        cur = self.cur
        if cur is None:
            raise self.err("segment before the first HL", segno, sid)
        suffix = self.where[-1]
        if sid == "NM1":
            party = _party(el, file, segno)
            if cur.level == "source":
                self.payer = party
            elif cur.level == "receiver":
                self.provider = party
            elif self.where.startswith("2000") or self.where.startswith("2100"):
                cur.member = party
            self.where = "2100" + suffix if self.where.startswith("2000") else self.where
            if self.where.startswith("2110"):
                self.where = "2120" + suffix
        elif sid == "TRN":
            if cur.level in ("subscriber", "dependent") and len(el) > 2 and el[1] == "2":
                check_len(el[2], TRN02_MAX, file, segno, "TRN", "TRN02")
                cur.trace = el[2]
        elif sid == "REF":
            if self.where.startswith("2100") and len(el) > 2 and el[1] in ("6P", "IG"):
                check_len(el[2], REF_MAX, file, segno, "REF", "REF02")
                cur.group = el[2]
        elif sid == "AAA":
            if len(el) < 4 or not el[3]:
                raise self.err("is required (reject reason code)", segno, "AAA", "AAA03")
            if el[1] not in ("Y", "N"):
                raise self.err("is not Y or N", segno, "AAA", "AAA01")
            cur.aaa.append(Rejection(el[1], el[3], el[4] if len(el) > 4 else "", self.where))
        elif sid == "DTP":
            if len(el) < 4:
                raise self.err("is required (date)", segno, "DTP", "DTP03")
            a, b = date_range(el[2], el[3], file, segno, "DTP", 3)
            if not self.where.startswith("2110"):
                cur.dates.append((el[1], a, b))
        elif sid == "EB":
            self.where = "2110" + suffix
            if cur.level not in ("subscriber", "dependent"):
                raise self.err("EB outside a subscriber or dependent loop", segno, "EB")
            if len(cur.benefits) >= MAX_BENEFITS:
                raise self.err(f"more than {MAX_BENEFITS} EB segments in one loop", segno, "EB")

            def g(i: int) -> str:
                return _g(el, i)

            if not g(1):
                raise element_error(
                    "is required (eligibility or benefit information code)", file, segno, "EB", 1
                )
            plan = g(5)
            check_len(plan, EB05_MAX, file, segno, "EB", "EB05")
            cur.benefits.append(
                Benefit(
                    g(1),
                    g(2),
                    tuple(x for x in g(3).split(rep) if x) if rep else ((g(3),) if g(3) else ()),
                    g(4),
                    plan,
                    g(6),
                    opt_amount(g(7), file, segno, "EB", 7),
                    opt_amount(g(8), file, segno, "EB", 8),
                    g(12),
                )
            )

    def end_set(self) -> Iterator[Record271]:
        return self.flush(final=True)

    def flush(self, *, final: bool) -> Iterator[Record271]:
        cur = self.cur
        self.cur = None
        if cur is None:
            if final:
                yield from self._upper()
            return
        if cur.level in ("source", "receiver"):
            if cur.aaa:
                self.pending_upper.append(cur)
            if final:
                yield from self._upper()
            return
        self.pending_upper = []  # a subscriber loop answers: upper-level AAAs travel with it
        yield self.record(cur)

    def _upper(self) -> Iterator[Record271]:
        for lp in self.pending_upper:
            yield self.record(lp)
        self.pending_upper = []

    def record(self, lp: _Loop) -> Eligibility:
        env = self.env
        infos = {b.info for b in lp.benefits}
        active: bool | None
        if infos & ACTIVE:
            active = True
        elif infos & INACTIVE:
            active = False
        else:
            active = None
        begin = end = None
        for q, a, b in lp.dates:
            if q in _BEGIN_DATES and begin is None:
                begin = a
                if a != b:
                    end = b
            elif q in _END_DATES:
                end = a
        plan = next((b.plan for b in lp.benefits if b.plan), None)
        return Eligibility(
            env.sha256,
            env.isa13,
            env.gs06,
            env.st02,
            lp.hl_segno,
            lp.level,
            lp.trace,
            self.payer,
            self.provider,
            lp.member,
            lp.group,
            active,
            begin,
            end,
            plan,
            _pick(lp.benefits, "C", remaining=True),
            _pick(lp.benefits, "G", remaining=True),
            _pick(lp.benefits, "B"),
            _pick_percent(lp.benefits),
            tuple(lp.benefits),
            tuple(lp.aaa),
        )


def _preferred(benefits: list[Benefit], info: str) -> list[Benefit]:
    """Benefits of one kind, individual and in-network first."""
    found = [b for b in benefits if b.info == info]
    return sorted(found, key=lambda b: (b.coverage_level not in ("IND", ""), b.in_network == "N"))


def _pick(benefits: list[Benefit], info: str, *, remaining: bool = False) -> Decimal | None:
    for b in _preferred(benefits, info):
        if b.amount is not None and (not remaining or b.time_period == "29"):
            return b.amount
    return None


def _pick_percent(benefits: list[Benefit]) -> Decimal | None:
    for b in _preferred(benefits, "A"):
        if b.percent is not None:
            return b.percent
    return None


def parse(
    source: Source,
    *,
    name: str | None = None,
    file_sha256: str | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[Record271]:
    """Eligibility records of a 271 file (path, bytes or binary stream), streaming."""
    label = source_name(source, name)
    parser = _Parser(Envelope(label, file_sha256))
    with gc_paused():
        yield from parser.run(iter_batches(source, name=label, chunk_size=chunk_size))
