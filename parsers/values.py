"""X12 data element values → Python: amounts (``R``), dates (``DT``), numbers (``N0``/``R`` quantities).

Amounts are :class:`~decimal.Decimal`, never float. ``Decimal()`` alone would accept ``NaN``, ``Infinity``,
``1E400``, ``1_000`` and surrounding blanks; X12's ``R`` type is only an optional minus sign, digits and
an optional decimal point (at most 18 digits), so every new string is checked against that first.

Remittances repeat the same few thousand amount and date strings, so converted values are cached in
plain dicts (a dict hit costs ~30 ns, ``Decimal(str)`` plus the check ~450 ns). ``Decimal`` and
``date`` are immutable, so sharing them is safe. The caches are cleared when they grow past
``CACHE_LIMIT`` entries to keep memory flat on files of any size.

Money and stored quantities are bounded by their columns (:mod:`parsers.limits835`): :func:`money` accepts
at most 12 significant integer digits and no non-zero decimal past the second (``100.000`` is 100,
``100.005`` is refused — never rounded); :func:`quantity` the same with three decimals. :func:`amount`
and :func:`number` are the plain ``R`` check for values that are not stored as money. Each kind has its
own cache, so a string validated as a plain number is never taken from the cache as money.

Errors name the element (``CLP04``), never the value: an amount next to a patient name is PHI.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from edi.errors import X12ParseError
from parsers.limits835 import (
    MONEY_DECIMALS,
    MONEY_INTEGER_DIGITS,
    QUANTITY_DECIMALS,
    QUANTITY_INTEGER_DIGITS,
)

CACHE_LIMIT = 131_072

_DATE8 = re.compile(r"\d{8}")
_DATE6 = re.compile(r"\d{6}")

AMOUNTS: dict[str, Decimal] = {}
"""Validated *money* strings → Decimal (valid ``R`` and within NUMERIC(14,2), see :func:`money`).
Parsers look here first (``AMOUNTS.get(s)``); a hit is valid as money and as a quantity."""

QUANTITIES: dict[str, Decimal] = {}
"""Validated quantity strings → Decimal (valid ``R`` and within NUMERIC(15,3), see :func:`quantity`)."""

NUMBERS: dict[str, Decimal] = {}
"""Validated plain ``R`` strings → Decimal (:func:`amount`, :func:`number`): no range beyond 18 digits."""

DATES: dict[str, dt.date] = {}
"""Validated CCYYMMDD strings → date."""

ZERO = Decimal(0)
CENT = Decimal("0.01")
MONEY_MAX = Decimal(10) ** MONEY_INTEGER_DIGITS - Decimal(1).scaleb(-MONEY_DECIMALS)
"""999,999,999,999.99: the largest amount NUMERIC(14,2) holds (also the bound of the sums stored)."""
MONEY_MIN = -MONEY_MAX


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


def _fits(value: str, int_digits: int, decimals: int) -> bool:
    """A valid ``R`` string within ``int_digits`` significant integer digits whose decimals past
    ``decimals`` are all zero (so the value is exact at that scale)."""
    v = value[1:] if value[:1] == "-" else value
    i, _, f = v.partition(".")
    return len(i.lstrip("0")) <= int_digits and not f[decimals:].strip("0")


def _r(value: str, file: str | None, segno: int | None, sid: str, pos: int | str) -> Decimal:
    """Check the ``R`` syntax of a non-cached string and convert it (no caching)."""
    if not value:
        raise _err("is required (empty)", file, segno, sid, pos)
    if not _valid_r(value):
        raise _err(
            "is not a valid X12 decimal amount (digits, optional minus sign and decimal point)",
            file,
            segno,
            sid,
            pos,
        )
    return Decimal(value)


def _err(msg: str, file: str | None, segno: int | None, sid: str, pos: int | str) -> X12ParseError:
    if isinstance(pos, str):  # a composite position (``SVC01-2``) or an element named in full
        return X12ParseError(msg, file=file, segment_no=segno, segment_id=sid, element=pos)
    return element_error(msg, file, segno, sid, pos)


def money(value: str, file: str | None, segno: int | None, sid: str, pos: int | str) -> Decimal:
    """A monetary amount: ``R``, within ±999,999,999,999.99, no non-zero third decimal; else raise naming
    ``{sid}{pos:02d}``. Empty is an error (use :func:`opt_money`).

    One pass on a cache miss (this runs once per distinct amount string, ~45k times in a 10k-claim file)."""
    d = AMOUNTS.get(value)
    if d is not None:
        return d
    i, _, f = (value[1:] if value[:1] == "-" else value).partition(".")
    if not (
        (i or f)
        and (not i or (i.isascii() and i.isdigit()))
        and (not f or (f.isascii() and f.isdigit()))
        and len(i) + len(f) <= 18
    ):
        raise _r_error(value, file, segno, sid, pos)
    if len(i) > MONEY_INTEGER_DIGITS and len(i.lstrip("0")) > MONEY_INTEGER_DIGITS:
        raise _err("is out of range for an amount (more than ±999,999,999,999.99)", file, segno, sid, pos)
    if len(f) > MONEY_DECIMALS and f[MONEY_DECIMALS:].strip("0"):
        raise _err(
            "has a non-zero digit past the second decimal (amounts are exact to the cent, never rounded)",
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


def _r_error(value: str, file: str | None, segno: int | None, sid: str, pos: int | str) -> X12ParseError:
    """The error for a string that is not an X12 ``R`` value (empty, or not digits/sign/point)."""
    if not value:
        return _err("is required (empty)", file, segno, sid, pos)
    return _err(
        "is not a valid X12 decimal amount (digits, optional minus sign and decimal point)",
        file,
        segno,
        sid,
        pos,
    )


def opt_money(value: str, file: str | None, segno: int | None, sid: str, pos: int | str) -> Decimal | None:
    """Like :func:`money`, but an empty element is ``None``."""
    if not value:
        return None
    return money(value, file, segno, sid, pos)


def quantity(value: str, file: str | None, segno: int | None, sid: str, pos: int | str) -> Decimal:
    """A stored quantity (CAS04 …, SVC05, SVC07, QTY02): ``R`` within NUMERIC(15,3), no non-zero fourth
    decimal; else raise naming the element. Empty is an error (use :func:`opt_quantity`)."""
    d = AMOUNTS.get(value)  # money-valid strings are valid quantities
    if d is not None:
        return d
    d = QUANTITIES.get(value)
    if d is not None:
        return d
    d = _r(value, file, segno, sid, pos)
    if not _fits(value, QUANTITY_INTEGER_DIGITS, 99):
        raise _err("is out of range for a quantity (more than ±999,999,999,999.999)", file, segno, sid, pos)
    if not _fits(value, QUANTITY_INTEGER_DIGITS, QUANTITY_DECIMALS):
        raise _err("has a non-zero digit past the third decimal (quantities are kept to 3 places)",
                   file, segno, sid, pos)  # fmt: skip
    _remember(value, d, QUANTITIES)
    return d


def _remember(value: str, d: Decimal, kind_cache: dict[str, Decimal]) -> None:
    """Cache a validated non-money value: in AMOUNTS when it is also valid money (``1`` units, a DRG
    weight of ``2``), so the hot loops' ``AMOUNTS.get`` finds it; else in its own kind's cache."""
    cache = AMOUNTS if _fits(value, MONEY_INTEGER_DIGITS, MONEY_DECIMALS) else kind_cache
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    cache[value] = d


def opt_quantity(value: str, file: str | None, segno: int | None, sid: str, pos: int | str) -> Decimal | None:
    """Like :func:`quantity`, but an empty element is ``None``."""
    if not value:
        return None
    return quantity(value, file, segno, sid, pos)


def amount(value: str, file: str | None, segno: int | None, sid: str, pos: int) -> Decimal:
    """Convert a plain ``R`` value (up to 18 digits, any decimals) or raise naming ``{sid}{pos:02d}``.

    For values that are not stored as money (rates, weights, counts) and the transactions that keep
    their own rules; 835 money goes through :func:`money`. Empty is an error (use ``opt_amount``)."""
    d = AMOUNTS.get(value)
    if d is not None:
        return d
    d = NUMBERS.get(value)
    if d is not None:
        return d
    d = _r(value, file, segno, sid, pos)
    _remember(value, d, NUMBERS)
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
