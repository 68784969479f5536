"""Interchange framing: ISA/GS/ST ... SE/GE/IEA with the counts and control numbers partners check.

Every transaction set travels inside a functional group (GS/GE) inside an interchange (ISA/IEA)::

    ISA*00*          *00*          *ZZ*CLAIMFLOW      *ZZ*CLEARINGHOUSE  *240115*1230*^*00501*000000417*0*T*:~
    GS*HC*CLAIMFLOW*CLEARINGHOUSE*20240115*1230*418*X*005010X222A1~
    ST*837*0419*005010X222A1~
    ...
    SE*42*0419~        SE01 counts ST through SE inclusive
    GE*1*418~          GE01 counts the ST/SE pairs in the group
    IEA*1*000000417~   IEA01 counts the GS/GE pairs in the interchange

ISA is fixed width (106 characters with its terminator): receivers locate the delimiters by position, so
every ISA element is padded to its exact length. A wrong count or control number gets the whole file
rejected by TA1/999 before any claim is looked at, which is why the counts are computed here and nowhere
else.

:class:`EnvelopeWriter` frames bodies written with the canonical delimiters (``* : ^ ~``) and translates
them to the partner's delimiters on the way out (values were checked against both sets).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import StrEnum

from edi.claim import InterchangeParties
from edi.control_numbers import MAX_CONTROL_NUMBER
from edi.delimiters import DEFAULT_DELIMITERS, Delimiters
from edi.errors import X12WriteError
from edi.writer import delimiter_translation, unsafe_reason

ISA_LENGTH = 106
"""Characters in an ISA segment including its terminator."""

VERSION_5010 = "00501"
"""ISA12 interchange control version number for 5010."""


class InterchangeIdQualifier(StrEnum):
    """ISA05 / ISA07 interchange ID qualifier: what kind of identifier ISA06 / ISA08 is."""

    DUNS = "01"
    DUNS_PLUS_SUFFIX = "14"
    HEALTH_INDUSTRY_NUMBER = "20"
    CARRIER_ID = "27"  # assigned by CMS
    FISCAL_INTERMEDIARY_ID = "28"  # assigned by CMS
    MEDICARE_PROVIDER_ID = "29"  # Medicare provider and supplier identification number
    FEDERAL_TAX_ID = "30"
    NAIC_COMPANY_CODE = "33"
    MUTUALLY_DEFINED = "ZZ"


_QUALIFIERS = frozenset(InterchangeIdQualifier)


def check_delimiters(d: Delimiters) -> None:
    """Four distinct single characters that cannot be confused with data (not letters, digits or space)."""
    chars = (d.element, d.component, d.repetition, d.segment)
    if any(len(c) != 1 for c in chars):
        raise X12WriteError("delimiters must be single characters")
    if len(set(chars)) != 4:
        raise X12WriteError("delimiters must be four distinct characters")
    if any(c.isalnum() or c == " " for c in chars):
        raise X12WriteError("delimiters cannot be letters, digits or space")


def _id(value: str, where: str, lo: int, hi: int, d: Delimiters) -> str:
    if not lo <= len(value) <= hi:
        raise X12WriteError(f"{where}: must be {lo} to {hi} characters")
    reason = unsafe_reason(value, d)
    if reason:
        raise X12WriteError(f"{where}: {reason}")
    return value


def isa_segment(
    parties: InterchangeParties,
    control_number: int,
    created: dt.datetime,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
) -> str:
    """The fixed-width ISA, terminator included (106 characters).

    ``ISA*00*          *00*          *ZZ*CLAIMFLOW      *ZZ*CLEARINGHOUSE  *240115*1230*^*00501*000000417*0*T*:~``
    """
    d = delimiters
    check_delimiters(d)
    if not 1 <= control_number <= MAX_CONTROL_NUMBER:
        raise X12WriteError("ISA13: interchange control number must be 1..999999999")
    for where, q in (("ISA05", parties.sender_qualifier), ("ISA07", parties.receiver_qualifier)):
        if q not in _QUALIFIERS:
            raise X12WriteError(f"{where}: not a valid interchange ID qualifier")
    sender = _id(parties.sender_id, "ISA06", 1, 15, d)
    receiver = _id(parties.receiver_id, "ISA08", 1, 15, d)
    if parties.usage not in ("T", "P"):
        raise X12WriteError("ISA15: usage indicator must be T or P")
    if parties.ack_requested not in ("0", "1"):
        raise X12WriteError("ISA14: acknowledgment requested must be 0 or 1")
    e = d.element
    seg = (
        e.join(
            (
                "ISA",
                "00",
                " " * 10,
                "00",
                " " * 10,
                parties.sender_qualifier,
                sender.ljust(15),
                parties.receiver_qualifier,
                receiver.ljust(15),
                created.strftime("%y%m%d"),
                created.strftime("%H%M"),
                d.repetition,
                VERSION_5010,
                f"{control_number:09d}",
                parties.ack_requested,
                parties.usage,
                d.component,
            )
        )
        + d.segment
    )
    assert len(seg) == ISA_LENGTH, len(seg)
    return seg


def gs_segment(
    functional_id: str,
    sender: str,
    receiver: str,
    created: dt.datetime,
    control_number: int,
    version: str,
) -> str:
    """GS in canonical delimiters: ``GS*HC*CLAIMFLOW*CLEARINGHOUSE*20240115*1230*418*X*005010X222A1~``."""
    if not 1 <= control_number <= MAX_CONTROL_NUMBER:
        raise X12WriteError("GS06: group control number must be 1..999999999")
    _id(sender, "GS02", 2, 15, DEFAULT_DELIMITERS)
    _id(receiver, "GS03", 2, 15, DEFAULT_DELIMITERS)
    return f"GS*{functional_id}*{sender}*{receiver}*{created:%Y%m%d}*{created:%H%M}*{control_number}*X*{version}~"


def format_st02(control_number: int) -> str:
    """ST02/SE02: at least four digits, at most nine (``417`` -> ``"0417"``)."""
    if not 1 <= control_number <= MAX_CONTROL_NUMBER:
        raise X12WriteError("ST02: transaction set control number must be 1..999999999")
    return f"{control_number:04d}"


def st_segment(transaction_set_id: str, st02: str, version: str) -> str:
    """``ST*837*0419*005010X222A1~``"""
    return f"ST*{transaction_set_id}*{st02}*{version}~"


def se_segment(segment_count: int, st02: str) -> str:
    """``SE*42*0419~``: SE01 counts every segment from ST to SE inclusive."""
    return f"SE*{segment_count}*{st02}~"


def ge_segment(transaction_count: int, group_control_number: int) -> str:
    """``GE*1*418~``"""
    return f"GE*{transaction_count}*{group_control_number}~"


def iea_segment(group_count: int, interchange_control_number: int) -> str:
    """``IEA*1*000000417~``"""
    return f"IEA*{group_count}*{interchange_control_number:09d}~"


class EnvelopeWriter:
    """Writes one interchange, framing bodies and keeping the counts.

    Bodies are passed to :meth:`add` as canonical text (``* : ~``) with their segment count; the writer
    translates to ``delimiters`` and hands the text to ``emit`` (a file's ``write``), or keeps it for
    :meth:`text` when ``emit`` is ``None``. Typical use::

        w = EnvelopeWriter(parties, isa13, created)
        w.begin_group("HC", "005010X222A1", gs06)
        w.begin_transaction("837", st02_number, "005010X222A1")
        w.add(body_text, body_segment_count)
        se01 = w.end_transaction()
        w.end_group()
        w.end_interchange()
    """

    __slots__ = (
        "_emit",
        "_group",
        "_group_count",
        "_parts",
        "_st02",
        "_st_count",
        "_st_segments",
        "_state",
        "_table",
        "created",
        "delimiters",
        "interchange_control_number",
        "parties",
    )

    def __init__(
        self,
        parties: InterchangeParties,
        interchange_control_number: int,
        created: dt.datetime,
        delimiters: Delimiters = DEFAULT_DELIMITERS,
        *,
        newline: bool = False,
        emit: Callable[[str], object] | None = None,
    ) -> None:
        self.parties = parties
        self.interchange_control_number = interchange_control_number
        self.created = created
        self.delimiters = delimiters
        self._table = delimiter_translation(delimiters, newline=newline)
        self._parts: list[str] = []
        self._emit: Callable[[str], object] = emit if emit is not None else self._parts.append
        self._group: int | None = None
        self._group_count = 0
        self._st02: str | None = None
        self._st_count = 0
        self._st_segments = 0
        self._state = "interchange"
        isa = isa_segment(parties, interchange_control_number, created, delimiters)
        self._emit(isa + ("\n" if newline else ""))

    def _out(self, text: str) -> None:
        self._emit(self._table(text) if self._table is not None else text)

    def begin_group(
        self,
        functional_id: str,
        version: str,
        group_control_number: int,
        *,
        sender: str | None = None,
        receiver: str | None = None,
    ) -> None:
        """GS; ``sender``/``receiver`` default to the parties' GS (or ISA) identifiers."""
        if self._state != "interchange":
            raise X12WriteError(f"GS: cannot begin a group while a {self._state} is open")
        p = self.parties
        snd = sender or p.gs_sender or p.sender_id
        rcv = receiver or p.gs_receiver or p.receiver_id
        self._out(gs_segment(functional_id, snd, rcv, self.created, group_control_number, version))
        self._group = group_control_number
        self._st_count = 0
        self._state = "group"

    def begin_transaction(self, transaction_set_id: str, control_number: int, version: str) -> str:
        """ST; returns ST02 as written."""
        if self._state != "group":
            raise X12WriteError(f"ST: cannot begin a transaction set while a {self._state} is open")
        st02 = format_st02(control_number)
        self._out(st_segment(transaction_set_id, st02, version))
        self._st02 = st02
        self._st_segments = 1
        self._state = "transaction"
        return st02

    def add(self, text: str, segment_count: int) -> None:
        """Body segments of the open transaction set, canonical delimiters, ``segment_count`` of them."""
        if self._state != "transaction":
            raise X12WriteError("body segments outside a transaction set")
        self._out(text)
        self._st_segments += segment_count

    def end_transaction(self) -> int:
        """SE; returns SE01."""
        if self._state != "transaction" or self._st02 is None:
            raise X12WriteError("SE: no open transaction set")
        count = self._st_segments + 1
        self._out(se_segment(count, self._st02))
        self._st_count += 1
        self._st02 = None
        self._state = "group"
        return count

    def end_group(self) -> int:
        """GE; returns GE01 (transaction sets in the group)."""
        if self._state != "group" or self._group is None:
            raise X12WriteError(f"GE: cannot end a group while a {self._state} is open")
        if self._st_count == 0:
            raise X12WriteError("GE: a functional group needs at least one transaction set")
        self._out(ge_segment(self._st_count, self._group))
        self._group_count += 1
        self._group = None
        self._state = "interchange"
        return self._st_count

    def end_interchange(self) -> int:
        """IEA; returns IEA01 (groups in the interchange)."""
        if self._state != "interchange":
            raise X12WriteError(f"IEA: cannot end the interchange while a {self._state} is open")
        if self._group_count == 0:
            raise X12WriteError("IEA: an interchange needs at least one functional group")
        self._out(iea_segment(self._group_count, self.interchange_control_number))
        self._state = "closed"
        return self._group_count

    def text(self) -> str:
        """Everything written so far (only when constructed without ``emit``)."""
        return "".join(self._parts)
