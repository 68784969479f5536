"""Where ISA13, GS06 and ST02 come from.

Control numbers must be unique per sender (ISA13 per trading partner, GS06 within the interchange's
sender, ST02 within the group); acknowledgments (TA1, 999) echo them back, so posting an acknowledgment
means finding the interchange by them. The builders only ask a :class:`ControlNumberSource` for the next
value. claimflow's database-backed source (in ``claimflow/``) hands them out under a row lock so that two
concurrent runs never reuse a number; :class:`InMemoryControlNumbers` is for tests and benchmarks.

Example: ``ISA*...*000000417*0*T*:~`` / ``GS*HC*...*418*X*005010X222A1~`` / ``ST*837*0419*005010X222A1~``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol, runtime_checkable

MAX_CONTROL_NUMBER = 999_999_999
"""ISA13 is nine digits; GS06 and ST02 are at most nine too."""


class ControlKind(StrEnum):
    INTERCHANGE = "interchange"  # ISA13 / IEA02
    GROUP = "group"  # GS06 / GE02
    TRANSACTION = "transaction"  # ST02 / SE02


@runtime_checkable
class ControlNumberSource(Protocol):
    """Hands out control numbers, each between 1 and 999,999,999."""

    def next_interchange(self) -> int:
        """ISA13 (and IEA02)."""
        ...

    def next_group(self) -> int:
        """GS06 (and GE02)."""
        ...

    def next_transaction(self) -> int:
        """ST02 (and SE02)."""
        ...


@runtime_checkable
class BlockControlNumberSource(ControlNumberSource, Protocol):
    """A source that can also hand out ``n`` consecutive numbers in one call (one round trip)."""

    def reserve(self, kind: ControlKind | str, n: int) -> range:
        """Reserve ``n`` consecutive numbers of ``kind``; returns them as a range."""
        ...


def take_transactions(source: ControlNumberSource, n: int) -> list[int]:
    """``n`` ST02 values, in one call when the source supports :meth:`BlockControlNumberSource.reserve`."""
    if n <= 0:
        return []
    if isinstance(source, BlockControlNumberSource):
        return list(source.reserve(ControlKind.TRANSACTION, n))
    return [source.next_transaction() for _ in range(n)]


def check_control_number(value: int, what: str) -> int:
    if not 1 <= value <= MAX_CONTROL_NUMBER:
        raise ValueError(f"{what} control number out of range 1..{MAX_CONTROL_NUMBER}")
    return value


class InMemoryControlNumbers:
    """Counters in memory. Not shared between processes: tests and benchmarks only.

    Numbers wrap from 999,999,999 back to 1, as partners expect.
    """

    __slots__ = ("_next",)

    def __init__(self, interchange: int = 1, group: int = 1, transaction: int = 1) -> None:
        self._next = {
            ControlKind.INTERCHANGE: check_control_number(interchange, "interchange"),
            ControlKind.GROUP: check_control_number(group, "group"),
            ControlKind.TRANSACTION: check_control_number(transaction, "transaction"),
        }

    def reserve(self, kind: ControlKind | str, n: int) -> range:
        kind = ControlKind(kind)
        if n < 1:
            raise ValueError("reserve at least one control number")
        start = self._next[kind]
        if start + n - 1 > MAX_CONTROL_NUMBER:
            start = 1  # wrap: never hand out a block that straddles the limit
        self._next[kind] = start + n if start + n <= MAX_CONTROL_NUMBER else 1
        return range(start, start + n)

    def next_interchange(self) -> int:
        return self.reserve(ControlKind.INTERCHANGE, 1).start

    def next_group(self) -> int:
        return self.reserve(ControlKind.GROUP, 1).start

    def next_transaction(self) -> int:
        return self.reserve(ControlKind.TRANSACTION, 1).start

    def peek(self, kind: ControlKind | str) -> int:
        """The number the next call for ``kind`` will return (tests)."""
        return self._next[ControlKind(kind)]
