"""Fast 835 totals for ``claimflow parse --summary`` (pure-Python installs; see :func:`totals`): the :class:`RemittanceTotals` of every transaction set,
without building any other record.

Why a second scanner: a summary needs only counts and sums (ST/CLP/SVC, ΣCLP03/04/05, ΣPLB, BPR02 and
the per-claim/per-line ΣCAS for the balancing verdict), but the file must still be refused exactly as
:func:`parsers.x835_005010x221a1.parse` refuses it. This module does the same checks with less work per
segment, and never reports an error itself:

* NM1/REF/LQ in a claim are only split to check element lengths (:mod:`parsers.limits835`): anything
  too long, like any other doubt, goes to the reference parser, which names the element;
* DTM, CAS segments are validated once per distinct segment string and remembered (payers repeat the
  same service dates and copays thousands of times), so a repeat costs one set/dict lookup;
* header, LX, PLB, SE, ST, envelope and every rare segment go through the very same
  :class:`~parsers.x835_005010x221a1.Parser835` segment handlers (``on_lx``, ``on_se``, ``on_other`` …) and
  methods (``cas``, ``moa``, ``svc_original`` …) as the record path: with no claim open in the parser,
  those handlers do exactly the header/summary part, and the records they finish land in ``Parser835.out``,
  from which this scanner keeps the :class:`RemittanceTotals`.

When anything is off — any check fails, a segment is malformed, an internal surprise — the scanner
gives up and the reference parser runs over the file from the start (``claims=False``): the error line
(or, if the reference accepts what the scanner doubted, the totals) is then the reference's, word for
word. Valid files, which are the common case, are read once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal

from edi import gc_paused
from edi.reader import CHUNK_SIZE, SegmentBatch, Source, iter_batches, source_name
from parsers.envelope import Envelope
from parsers.limits835 import (
    AMT01_MAX,
    CAS01_MAX,
    CAS02_MAX,
    DTM01_MAX,
    QTY01_MAX,
    REVENUE_CODE_MAX,
    SVC01_1_MAX,
    SVC01_2_MAX,
    SVC04_MAX,
)
from parsers.native import SPEEDUPS
from parsers.records import RemittanceTotals
from parsers.values import AMOUNTS, DATES, MONEY_MAX, MONEY_MIN, ZERO, date8, money, number, quantity
from parsers.x835_005010x221a1 import (
    CLP_SPEC,
    LQ_SPEC,
    MAX_CLAIM_SEGMENTS,
    NM1_SPEC,
    REF_SPEC,
    Parser835,
    Spec,
    parse,
)

_SEEN_LIMIT = 65_536
"""Distinct DTM/CAS strings remembered per file; the memo is cleared past this (memory stays flat)."""

_LINE_DATES = ("472", "150", "151")


class _Doubt(Exception):
    """The fast scanner is not sure; the reference parser decides."""


def _long(el: list[str], spec: Spec) -> bool:
    """Some element of ``spec`` is longer than its maximum (the reference parser says which)."""
    n = len(el)
    return any(i < n and len(el[i]) > mx for i, mx, _ in spec)


def totals(
    source: Source,
    *,
    name: str | None = None,
    file_sha256: str | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> list[RemittanceTotals]:
    """The :class:`RemittanceTotals` of every 835 transaction set in ``source``, in file order.

    Same values as filtering ``parse(source, claims=False)``, and the same
    :class:`~edi.errors.X12ParseError` for a malformed file (the reference parser produces it).
    With the C accelerator installed (:mod:`parsers.native`) the reference parser itself is 2x faster
    than this scanner, so it is used directly; the scanner serves pure-Python installs.
    ``source`` is a path or bytes (the fallback reads it again); a stream goes to the reference directly.
    """
    label = source_name(source, name)
    if SPEEDUPS is None and isinstance(source, str | os.PathLike | bytes | bytearray | memoryview):
        try:
            with gc_paused():
                return _scan(iter_batches(source, name=label, chunk_size=chunk_size), label, file_sha256)
        except Exception:  # any doubt: the reference parser decides, exactly
            pass
    return [
        r
        for r in parse(source, name=label, file_sha256=file_sha256, chunk_size=chunk_size, claims=False)
        if type(r) is RemittanceTotals
    ]


def _take(P: Parser835, out: list[RemittanceTotals]) -> None:
    """Keep the totals among the records the parser's handlers finished; drop the rest."""
    for r in P.out:
        if type(r) is RemittanceTotals:
            out.append(r)
    P.out.clear()


def _scan(batches: Iterator[SegmentBatch], file: str | None, sha: str | None) -> list[RemittanceTotals]:
    """Mirror of ``Parser835.run`` with ``build=False``; raises (anything) wherever the reference would."""
    env = Envelope(file, sha)
    P = Parser835(env, build=False)
    out: list[RemittanceTotals] = []
    AM = AMOUNTS
    DA = DATES
    dtm_line: set[str] = set()
    dtm_claim: set[str] = set()
    cas_seen: dict[str, Decimal] = {}
    in_claim = in_line = False
    c_charge = c_paid = ZERO
    c_pr: Decimal | None = None
    l_charge = l_paid = ZERO
    lcas = ccas = ZERO
    n_lines = 0
    claim_segno = 0
    segno = 0
    e = ""
    for first, delims, segs in batches:
        if delims.element != e:
            e = delims.element
            k_dtm, k_cas, k_ref, k_amt = "DTM" + e, "CAS" + e, "REF" + e, "AMT" + e
            k_svc, k_nm1, k_clp = "SVC" + e, "NM1" + e, "CLP" + e
            dtm_line.clear()
            dtm_claim.clear()
            cas_seen.clear()
        c = delims.component
        P.start_batch(first, c)  # the component separator for the parser's handlers
        segno = first - 1
        if in_claim and segno - claim_segno > MAX_CLAIM_SEGMENTS:
            raise _Doubt
        for s in segs:
            segno += 1
            k = s[:4]
            if k == k_dtm:
                if in_line:
                    if s not in dtm_line:
                        el = s.split(e)
                        x = el[2]
                        if x not in DA:
                            date8(x, file, segno, "DTM", 2)
                        if el[1] not in _LINE_DATES:
                            raise _Doubt
                        if len(dtm_line) >= _SEEN_LIMIT:
                            dtm_line.clear()
                        dtm_line.add(s)
                elif in_claim:
                    if s not in dtm_claim:
                        el = s.split(e)
                        x = el[2]
                        if x not in DA:
                            date8(x, file, segno, "DTM", 2)
                        if len(el[1]) > DTM01_MAX:
                            raise _Doubt
                        if len(dtm_claim) >= _SEEN_LIMIT:
                            dtm_claim.clear()
                        dtm_claim.add(s)
                else:
                    P.on_dtm(segno, s.split(e))  # no claim open in P: a header date
            elif k == k_cas:
                a = cas_seen.get(s)
                if a is None:
                    el = s.split(e)
                    x = el[3]
                    a = AM.get(x)
                    if a is None:
                        a = money(x, file, segno, "CAS", 3)
                    if not (len(el) == 4 and 0 < len(el[1]) <= CAS01_MAX and 0 < len(el[2]) <= CAS02_MAX):
                        for extra in P.cas(segno, el, a)[1:]:
                            a += extra[2]
                    if len(cas_seen) >= _SEEN_LIMIT:
                        cas_seen.clear()
                    cas_seen[s] = a
                if in_line:
                    lcas += a
                elif in_claim:
                    ccas += a
                else:
                    raise _Doubt
            elif k == k_amt:
                if not in_claim:
                    raise _Doubt
                el = s.split(e)
                x = el[2]
                if x not in AM:
                    money(x, file, segno, "AMT", 2)
                if len(el[1]) > AMT01_MAX:
                    raise _Doubt
            elif k == k_ref:
                if in_claim:
                    if s.count(e) < 2 or _long(s.split(e), REF_SPEC):
                        raise _Doubt
                else:
                    P.on_ref(segno, s.split(e))  # no claim open in P: a header reference
            elif k == k_svc:
                if not in_claim:
                    raise _Doubt
                if in_line:
                    ld = l_charge - l_paid
                    if not (MONEY_MIN <= ld <= MONEY_MAX and MONEY_MIN <= lcas <= MONEY_MAX):
                        raise _Doubt  # the reference names the figure that does not fit
                    if ld != lcas:
                        P.bad_lines += 1
                    ccas += lcas
                lcas = ZERO
                n_lines += 1
                el = s.split(e)
                comp = el[1].split(c)
                if len(comp) < 2 or not comp[1]:
                    raise _Doubt
                x = el[2]
                l_charge = AM.get(x)  # type: ignore[assignment]
                if l_charge is None:
                    l_charge = money(x, file, segno, "SVC", 2)
                x = el[3]
                l_paid = AM.get(x)  # type: ignore[assignment]
                if l_paid is None:
                    l_paid = money(x, file, segno, "SVC", 3)
                n = len(el)
                if (
                    len(comp[0]) > SVC01_1_MAX
                    or len(comp[1]) > (REVENUE_CODE_MAX if comp[0] == "NU" else SVC01_2_MAX)
                    or (len(comp) > 2 and P.svc_long_components(comp))
                    or (n > 4 and len(el[4]) > SVC04_MAX)
                ):
                    raise _Doubt
                if n > 5 and el[5]:
                    x = el[5]
                    if x not in AM:
                        quantity(x, file, segno, "SVC", 5)
                if n > 6:
                    P.svc_original(segno, el, c)
                in_line = True
            elif k == k_nm1:
                if not in_claim or in_line or _long(s.split(e), NM1_SPEC):
                    raise _Doubt
            elif k == k_clp:
                if in_claim:
                    _close(P, in_line, l_charge, l_paid, lcas, ccas, c_charge, c_paid, c_pr)
                    in_line = False
                else:
                    P.before_claim(segno)
                    _take(P, out)
                el = s.split(e)
                n = len(el)
                if n < 14:
                    el.extend([""] * (14 - n))
                if not el[1] or not el[2] or _long(el, CLP_SPEC):
                    raise _Doubt
                x = el[3]
                c_charge = AM.get(x)  # type: ignore[assignment]
                if c_charge is None:
                    c_charge = money(x, file, segno, "CLP", 3)
                x = el[4]
                c_paid = AM.get(x)  # type: ignore[assignment]
                if c_paid is None:
                    c_paid = money(x, file, segno, "CLP", 4)
                x = el[5]
                c_pr = AM.get(x) if x else None
                if c_pr is None and x:
                    c_pr = money(x, file, segno, "CLP", 5)
                if el[12]:
                    number(el[12], file, segno, "CLP", 12)
                if el[13]:
                    number(el[13], file, segno, "CLP", 13)
                in_claim = True
                claim_segno = segno
                lcas = ccas = ZERO
            else:
                el = s.split(e)
                sid = el[0]
                if sid == "LQ":
                    if not in_line or len(el) < 3 or _long(el, LQ_SPEC):
                        raise _Doubt
                elif sid in ("DTM", "CAS", "AMT", "REF", "SVC", "NM1", "CLP"):
                    raise _Doubt  # no elements at all: the reference says which one is missing
                elif sid == "QTY":
                    if not in_claim:
                        raise _Doubt
                    x = el[2]
                    if x not in AM:
                        quantity(x, file, segno, sid, 2)
                    if len(el[1]) > QTY01_MAX:
                        raise _Doubt
                elif sid == "MOA" or sid == "MIA":
                    if not in_claim or in_line:
                        raise _Doubt
                    if sid == "MOA":
                        P.moa(segno, el)
                    else:
                        P.mia(segno, el)
                elif sid == "PER" and in_claim:
                    if in_line:
                        raise _Doubt
                    if len(el) < 2:  # _contact pads; nothing else can fail
                        raise _Doubt
                elif sid == "LX" or sid == "PLB" or sid == "SE":
                    if in_claim:
                        _close(P, in_line, l_charge, l_paid, lcas, ccas, c_charge, c_paid, c_pr)
                        in_claim = in_line = False
                    P.n_lines += n_lines
                    n_lines = 0
                    if sid == "LX":
                        P.on_lx(segno, el)
                    elif sid == "PLB":
                        P.on_plb(segno, el)
                    else:
                        P.on_se(segno, el)
                    _take(P, out)
                elif sid == "ST":
                    P.on_st(segno, el)
                    n_lines = 0
                else:
                    P.on_other(segno, el)  # envelope, TA1, header (BPR, N1 …), TS3/TS2
                    _take(P, out)
    env.finish(segno, None)
    if segno == 0:
        raise _Doubt
    return out


def _close(
    P: Parser835,
    in_line: bool,
    l_charge: Decimal,
    l_paid: Decimal,
    lcas: Decimal,
    ccas: Decimal,
    charge: Decimal,
    paid: Decimal,
    pr: Decimal | None,
) -> None:
    """End of a 2100 loop: what ``Parser835.finish`` does when no record is built."""
    if in_line:
        x = l_charge - l_paid
        if not (MONEY_MIN <= x <= MONEY_MAX and MONEY_MIN <= lcas <= MONEY_MAX):
            raise _Doubt
        if x != lcas:
            P.bad_lines += 1
        ccas += lcas
    x = charge - paid
    if not (MONEY_MIN <= x <= MONEY_MAX and MONEY_MIN <= ccas <= MONEY_MAX):
        raise _Doubt
    if x != ccas:
        P.bad_claims += 1
    P.n_claims += 1
    P.t_charge += charge
    P.t_paid += paid
    if pr is not None:
        P.t_pr += pr
