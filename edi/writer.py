"""Serialize segments, refusing anything X12 cannot carry.

X12 has no escape character: a value that contains a delimiter would silently split into two elements
(and shift every element after it). So the writer refuses such data and names the segment and element,
never the value (it may be PHI). Control characters (a line break inside a name) and non-ASCII characters
(most trading partners, and pyx12, read the basic/extended character set only) are refused the same way.

Two ways to write:

* :class:`SegmentWriter` checks every element as it is added. Convenient for envelopes, acknowledgments
  and tests; a few microseconds per segment.
* The 837 builders (``edi.x837``) build segment text directly and check all free-text values of a claim
  in one pass with :func:`text_is_safe`; only when that pass fails do they look for the offending element
  with :func:`unsafe_reason`. Same guarantee, about twenty times faster.

Example::

    w = SegmentWriter()
    w.segment("NM1", "85", "2", "SUNRISE CLINIC", "", "", "", "", "XX", "1234567893")
    w.text()  ->  "NM1*85*2*SUNRISE CLINIC*****XX*1234567893~"
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from edi.delimiters import DEFAULT_DELIMITERS, Delimiters
from edi.errors import X12WriteError

Element = str | Sequence[str] | None
"""An element: a plain string, a composite as a sequence of components, or ``None``/``""`` for empty."""

CANONICAL_DELIMITERS = DEFAULT_DELIMITERS
"""The delimiters the fast builders write with (``* : ^ ~``); :func:`delimiter_translation` maps them to a
partner's delimiters afterwards."""


def unsafe_reason(value: str, delimiters: Delimiters = DEFAULT_DELIMITERS) -> str | None:
    """Why ``value`` cannot go into an element, or ``None`` when it can. Never quotes the value."""
    if not value:
        return None
    forbidden = delimiters.all() + CANONICAL_DELIMITERS.all()
    for ch in value:
        if ch in forbidden:
            return "value contains an X12 delimiter; X12 has no escape"
        if ch in "\r\n":
            return "value contains a line break"
        o = ord(ch)
        if o < 0x20 or o == 0x7F:
            return "value contains a control character"
        if o > 0x7E:
            return "value contains a non-ASCII character"
    return None


def make_text_checker(delimiters: Delimiters = DEFAULT_DELIMITERS) -> Callable[[str], bool]:
    """Return a fast ``is_safe(text) -> bool`` for the concatenation of many values.

    Safe means printable ASCII (space to tilde) without any of the interchange's delimiters, nor the
    canonical ``* : ^ ~`` the builders write with before translating. Joining all values of a claim and
    checking once costs about 0.3 microseconds, against 0.1 per value when checked one by one.
    """
    extra = "".join(sorted(set(delimiters.all()) - set(CANONICAL_DELIMITERS.all())))
    if not extra:

        def is_safe(text: str) -> bool:
            return (
                text.isascii()
                and text.isprintable()
                and "*" not in text
                and "~" not in text
                and ":" not in text
                and "^" not in text
            )

        return is_safe

    forbidden = frozenset(CANONICAL_DELIMITERS.all() + extra)

    def is_safe_custom(text: str) -> bool:
        return text.isascii() and text.isprintable() and forbidden.isdisjoint(text)

    return is_safe_custom


text_is_safe = make_text_checker(DEFAULT_DELIMITERS)
"""Checker for the default delimiters; see :func:`make_text_checker`."""


def delimiter_translation(delimiters: Delimiters, *, newline: bool = False) -> Callable[[str], str] | None:
    """A function rewriting canonical ``* : ^ ~`` text with ``delimiters`` (``None`` when identical).

    Values were checked against both sets, so the only canonical characters in builder output are
    delimiters, and the translation cannot touch data. Uses chained ``str.replace`` (memchr speed) unless
    the mapping swaps characters, in which case one ``str.translate`` pass.
    """
    c = CANONICAL_DELIMITERS
    seg_out = delimiters.segment + ("\n" if newline else "")
    pairs = [
        (src, dst)
        for src, dst in (
            (c.element, delimiters.element),
            (c.component, delimiters.component),
            (c.repetition, delimiters.repetition),
            (c.segment, seg_out),
        )
        if src != dst
    ]
    if not pairs:
        return None
    sources = {src for src, _ in pairs}
    if all(not (sources & set(dst)) for _, dst in pairs):

        def replace_chain(text: str) -> str:
            for src, dst in pairs:
                text = text.replace(src, dst)
            return text

        return replace_chain
    table = {ord(src): dst for src, dst in pairs}

    def translate(text: str) -> str:
        return text.translate(table)

    return translate


def format_amount(value: Decimal) -> str:
    """X12 ``R`` (decimal) for money: no exponent, no trailing zeros after the point.

    ``Decimal("125.50")`` -> ``"125.5"``; ``Decimal("100.00")`` -> ``"100"``; ``Decimal("-5")`` -> ``"-5"``.
    """
    s = str(value)
    if "E" in s or "e" in s or "n" in s or "N" in s:  # exponent, Infinity, NaN
        if not value.is_finite():
            raise X12WriteError("amount is not a finite number")
        s = format(value, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    if s == "-0":
        s = "0"
    return s


format_quantity = format_amount
"""Quantities (``SV104`` units) follow the same ``R`` rules as money."""


def format_d8(value: dt.date) -> str:
    """``D8`` date, CCYYMMDD: ``2024-01-15`` -> ``"20240115"``."""
    return value.isoformat().replace("-", "")


class D8Cache(dict[dt.date, str]):
    """Memoized :func:`format_d8`; claims repeat the same few hundred dates (service dates, birth dates)."""

    __slots__ = ()

    def __missing__(self, key: dt.date) -> str:
        s = key.isoformat().replace("-", "")
        self[key] = s
        return s


class SegmentWriter:
    """Collects segments into a list of strings; counts them for SE01.

    ``newline=True`` adds a line feed after each terminator (many partners accept it, humans like it);
    claimflow's default is off, because it is not part of the standard.
    """

    __slots__ = ("_bad", "_parts", "context", "delimiters", "newline", "segment_count")

    def __init__(self, delimiters: Delimiters = DEFAULT_DELIMITERS, *, newline: bool = False) -> None:
        self.delimiters = delimiters
        self.newline = newline
        self._parts: list[str] = []
        self.segment_count = 0
        self._bad = frozenset(delimiters.all()) | {"\r", "\n"}
        self.context: str | None = None  # e.g. the patient control number, used in error messages

    def _check(self, seg_id: str, pos: int, value: str, comp: int | None = None) -> None:
        if self._bad.isdisjoint(value) and value.isascii() and value.isprintable():
            return
        where = f"{seg_id}{pos:02d}" + (f"-{comp}" if comp is not None else "")
        ctx = f" (claim {self.context})" if self.context else ""
        if not self._bad.isdisjoint(value):
            reason = "value contains an X12 delimiter or line break; X12 has no escape"
        else:
            reason = unsafe_reason(value, self.delimiters) or "value contains an unsupported character"
        raise X12WriteError(f"{where}{ctx}: {reason}")

    def segment(self, seg_id: str, *elements: Element) -> None:
        """Append one segment; trailing empty elements are dropped, as the standard requires."""
        d = self.delimiters
        out: list[str] = [seg_id]
        for pos, el in enumerate(elements, start=1):
            if el is None or el == "":
                out.append("")
                continue
            if isinstance(el, str):
                self._check(seg_id, pos, el)
                out.append(el)
                continue
            comps = list(el)
            while comps and not comps[-1]:
                comps.pop()
            for ci, c in enumerate(comps, start=1):
                if c:
                    self._check(seg_id, pos, c, ci)
            out.append(d.component.join(c or "" for c in comps))
        while len(out) > 1 and out[-1] == "":
            out.pop()
        self._parts.append(d.element.join(out) + d.segment + ("\n" if self.newline else ""))
        self.segment_count += 1

    def raw(self, text: str) -> None:
        """Append pre-serialized segment text (used for the fixed-width ISA)."""
        self._parts.append(text + self.delimiters.segment + ("\n" if self.newline else ""))
        self.segment_count += 1

    def extend(self, segments: Iterable[tuple[str, Sequence[Element]]]) -> None:
        for seg_id, els in segments:
            self.segment(seg_id, *els)

    def text(self) -> str:
        return "".join(self._parts)

    def parts(self) -> list[str]:
        return self._parts
