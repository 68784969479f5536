"""Serialize segments, refusing anything X12 cannot carry.

X12 has no escape character: a value that contains a delimiter would silently split into two elements
(and shift every element after it). So the writer refuses such data and names the segment and element,
never the value (it may be PHI).

Example::

    w = SegmentWriter()
    w.segment("NM1", "85", "2", "SUNRISE CLINIC", "", "", "", "", "XX", "1234567893")
    w.text()  ->  "NM1*85*2*SUNRISE CLINIC*****XX*1234567893~"
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from edi.delimiters import DEFAULT_DELIMITERS, Delimiters
from edi.errors import X12WriteError

Element = str | Sequence[str] | None
"""An element: a plain string, a composite as a sequence of components, or ``None``/``""`` for empty."""


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
        if self._bad.isdisjoint(value):
            return
        where = f"{seg_id}{pos:02d}" + (f"-{comp}" if comp is not None else "")
        ctx = f" (claim {self.context})" if self.context else ""
        raise X12WriteError(f"{where}{ctx}: value contains an X12 delimiter or line break; X12 has no escape")

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
