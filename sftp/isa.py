"""Peek at an interchange's ISA header without reading the file: who it is from, to, and T or P.

The upload refuses a file whose ISA07/ISA08 (receiver) or ISA15 (usage) disagree with the partner
profile, so a test interchange never lands in a production mailbox. *Every* interchange of the file is
checked (:func:`read_isa_headers`): a file holding a T interchange followed by a P one must not reach
either mailbox. The file is memory-mapped and scanned for ``ISA`` directly after the previous
interchange's segment terminator (whitespace between them allowed), each interchange with its own
delimiters, so a second interchange cannot hide behind other separators; a 500 MB file scans in well
under a second.

``ISA*00*          *00*          *ZZ*SUBMITTERID    *ZZ*RECEIVERID     *250101*1200*^*00501*000000001*0*T*:~``
"""

from __future__ import annotations

import mmap
import re
from dataclasses import dataclass, replace
from pathlib import Path

from sftp.errors import ProfileMismatch

_PEEK_BYTES = 4096


@dataclass(frozen=True, slots=True)
class IsaHeader:
    sender_qualifier: str  # ISA05
    sender_id: str  # ISA06, trailing pad stripped
    receiver_qualifier: str  # ISA07
    receiver_id: str  # ISA08, trailing pad stripped
    date: str  # ISA09 YYMMDD
    time: str  # ISA10 HHMM
    control_number: str  # ISA13
    usage: str  # ISA15 T/P
    offset: int = 0
    """Byte offset of this ISA segment in the file (0 for the first)."""
    segment_terminator: str = ""
    """The character after ISA16 (``~`` above); empty when the segment ends at the end of the data."""


def parse_isa_header(data: bytes, *, label: str = "<input>") -> IsaHeader:
    """Parse the first ISA segment of ``data`` (the first few KB of a file are enough)."""
    text = data.lstrip(b"\xef\xbb\xbf \t\r\n").decode("latin-1")
    if not text.startswith("ISA") or len(text) < 4:
        raise ProfileMismatch(f"{label}: does not start with an ISA segment; not an X12 interchange")
    sep = text[3]
    if sep.isalnum() or sep.isspace():
        raise ProfileMismatch(f"{label}: ISA element separator is not a delimiter character")
    elements: list[str] = []
    pos = 4
    for _ in range(15):  # ISA01..ISA15 end at the next separator
        nxt = text.find(sep, pos)
        if nxt < 0:
            raise ProfileMismatch(f"{label}: ISA segment is truncated (fewer than 16 elements)")
        elements.append(text[pos:nxt])
        pos = nxt + 1
    if len(elements) != 15:
        raise ProfileMismatch(f"{label}: ISA segment is malformed")
    # ISA16 is one character (the component separator); the segment terminator follows it
    terminator = text[pos + 1] if len(text) > pos + 1 else ""
    return IsaHeader(
        sender_qualifier=elements[4].strip(),
        sender_id=elements[5].strip(),
        receiver_qualifier=elements[6].strip(),
        receiver_id=elements[7].strip(),
        date=elements[8].strip(),
        time=elements[9].strip(),
        control_number=elements[12].strip(),
        usage=elements[14].strip(),
        segment_terminator=terminator,
    )


def read_isa_header(path: Path) -> IsaHeader:
    with open(path, "rb") as fh:
        head = fh.read(_PEEK_BYTES)
    return parse_isa_header(head, label=Path(path).name)


def read_isa_headers(path: Path) -> list[IsaHeader]:
    """Every interchange header in the file at ``path``, in order (``offset`` set on each).

    The first must start the file (after a BOM / whitespace); each next one is an ``ISA`` followed by an
    element separator right after the previous interchange's segment terminator. Raises
    :class:`ProfileMismatch` when the file does not start with an ISA or one of them is malformed.
    """
    label = Path(path).name
    with open(path, "rb") as fh:
        head = fh.read(_PEEK_BYTES)
        first = parse_isa_header(head, label=label)
        if not first.segment_terminator:
            return [first]
        size = fh.seek(0, 2)
        if size == 0:  # pragma: no cover - parse_isa_header refused it already
            return [first]
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            pos = data.find(b"ISA")
            headers = [_at(first, pos)]
            term = first.segment_terminator.encode("latin-1")
            start = pos
            while True:
                start = data.find(b"ISA", start + 3)  # bytes.find: memchr-fast, ~2 GB/s
                if start < 0:
                    break
                if not _DELIMITER.fullmatch(data[start + 3 : start + 4]):
                    continue  # "ISA" followed by a letter, digit or space: not a segment ID
                before = start
                while term not in _SPACE and before > 0 and data[before - 1 : before] in _SPACE:
                    before -= 1
                if before == 0 or data[before - 1 : before] != term:
                    continue  # "ISA" inside an element value, not a segment start
                n = len(headers) + 1
                header = parse_isa_header(
                    data[start : start + _PEEK_BYTES], label=f"{label} interchange {n} (byte {start})"
                )
                headers.append(_at(header, start))
                if not header.segment_terminator:
                    break
                term = header.segment_terminator.encode("latin-1")
            return headers


_DELIMITER = re.compile(rb"[^A-Za-z0-9 \t\r\n]")
_SPACE = (b" ", b"\t", b"\r", b"\n")


def _at(header: IsaHeader, offset: int) -> IsaHeader:
    return replace(header, offset=offset)
