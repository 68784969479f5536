"""X12 data element values → Python: amounts (``R``), dates (``DT``), numbers (``N0``/``R`` quantities).

Amounts are :class:`~decimal.Decimal`, never float. ``Decimal()`` alone would accept ``NaN``, ``Infinity``,
``1E400``, ``1_000`` and surrounding blanks; X12's ``R`` type is only an optional minus sign, digits and
an optional decimal point (at most 18 digits), so every new string is checked against that first.

Remittances repeat the same few thousand amount and date strings, so converted values are cached in
plain dicts (a dict hit costs ~30 ns, ``Decimal(str)`` plus the check ~450 ns). ``Decimal`` and
``date`` are immutable, so sharing them is safe. The caches are cleared when they grow past
``CACHE_LIMIT`` entries to keep memory flat on files of any size.

Errors name the element (``CLP04``), never the value: an amount next to a patient name is PHI.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from edi.errors import X12ParseError

CACHE_LIMIT = 131_072

_DATE8 = re.compile(r"\d{8}")
_DATE6 = re.compile(r"\d{6}")

AMOUNTS: dict[str, Decimal] = {}
"""Validated amount strings → Decimal. Parsers look here first (``AMOUNTS.get(s)``)."""

DATES: dict[str, dt.date] = {}
"""Validated CCYYMMDD strings → date."""

ZERO = Decimal(0)
CENT = Decimal("0.01")


def element_error(msg: str, file: str | None, segno: int | None, sid: str, pos: int) -> X12ParseError:
    """``bad.835: segment 23 (CLP): CLP04 is not a valid X12 decimal amount``."""
    return X12ParseError(msg, file=file, segment_no=segno, segment_id=sid, element=f"{sid}{pos:02d}")


def _valid_r(value: str) -> bool:
    """X12 ``R``: optional leading minus, ASCII digits, at most one decimal point, 1–18 digits."""
    v = value[1:] if value[:1] == "-" else value
    i, _, f = v.partition(".")
    if not (i or f):
        return False
    if i and not (i.isascii() and i.isdigit()):
        return False
    if f and not (f.isascii() and f.isdigit()):
        return False
    return len(i) + len(f) <= 18


def amount(value: str, file: str | None, segno: int | None, sid: str, pos: int) -> Decimal:
    """Convert an ``R`` amount or raise naming ``{sid}{pos:02d}``. Empty is an error (use ``opt_amount``)."""
    d = AMOUNTS.get(value)
    if d is not None:
        return d
    if not value:
        raise element_error("is required (empty)", file, segno, sid, pos)
    if not _valid_r(value):
        raise element_error(
            "is not a valid X12 decimal amount (digits, optional minus sign and decimal point)",
            file,
            segno,
            sid,
            pos,
        )
    d = Decimal(value)
    if len(AMOUNTS) >= CACHE_LIMIT:
        AMOUNTS.clear()
    AMOUNTS[value] = d
    return d


def opt_amount(value: str, file: str | None, segno: int | None, sid: str, pos: int) -> Decimal | None:
    """Like :func:`amount`, but an empty element is ``None``."""
    if not value:
        return None
    return amount(value, file, segno, sid, pos)


def date8(value: str, file: str | None, segno: int | None, sid: str, pos: int) -> dt.date:
    """CCYYMMDD → date, or raise naming the element (``20261340`` is not a date)."""
    d = DATES.get(value)
    if d is not None:
        return d
    if not value:
        raise element_error("is required (empty)", file, segno, sid, pos)
    if not _DATE8.fullmatch(value):
        raise element_error("is not a date (CCYYMMDD)", file, segno, sid, pos)
    try:
        d = dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        raise element_error("is not a valid calendar date (CCYYMMDD)", file, segno, sid, pos) from None
    if len(DATES) >= CACHE_LIMIT:
        DATES.clear()
    DATES[value] = d
    return d


def opt_date8(value: str, file: str | None, segno: int | None, sid: str, pos: int) -> dt.date | None:
    if not value:
        return None
    return date8(value, file, segno, sid, pos)


def date6(value: str, file: str | None, segno: int | None, sid: str, pos: int) -> dt.date:
    """YYMMDD (ISA09, TA102) → date; years 00–49 are 20xx as in the X12 interchange standard."""
    if not _DATE6.fullmatch(value):
        raise element_error("is not a date (YYMMDD)", file, segno, sid, pos)
    yy = int(value[:2])
    try:
        return dt.date(2000 + yy if yy < 50 else 1900 + yy, int(value[2:4]), int(value[4:6]))
    except ValueError:
        raise element_error("is not a valid calendar date (YYMMDD)", file, segno, sid, pos) from None


def date_range(
    qualifier: str, value: str, file: str | None, segno: int | None, sid: str, pos: int
) -> tuple[dt.date, dt.date]:
    """DTP date with format qualifier ``D8`` (one date) or ``RD8`` (``CCYYMMDD-CCYYMMDD``)."""
    if qualifier == "RD8":
        a, sep, b = value.partition("-")
        if not sep:
            raise element_error("is not a date range (CCYYMMDD-CCYYMMDD)", file, segno, sid, pos)
        return date8(a, file, segno, sid, pos), date8(b, file, segno, sid, pos)
    if qualifier in ("D8", ""):
        d = date8(value, file, segno, sid, pos)
        return d, d
    raise element_error("date format qualifier must be D8 or RD8", file, segno, sid, pos - 1)


def number(value: str, file: str | None, segno: int | None, sid: str, pos: int) -> Decimal | None:
    """A quantity (``R``/``N0``) as Decimal; empty → None."""
    if not value:
        return None
    return amount(value, file, segno, sid, pos)


def money_str(d: Decimal) -> str:
    """An amount as a string with two decimals (``Decimal("5")`` → ``"5.00"``); more decimals are kept."""
    if d.as_tuple().exponent >= -2:  # type: ignore[operator]
        return f"{d:.2f}"
    return str(d)
