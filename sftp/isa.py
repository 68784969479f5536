"""Peek at an interchange's ISA header without reading the file: who it is from, to, and T or P.

The upload refuses a file whose ISA07/ISA08 (receiver) or ISA15 (usage) disagree with the partner
profile, so a test interchange never lands in a production mailbox. Only the first ISA is read (a file
normally holds one interchange; reading a 500 MB file to find more is not worth it here, the envelope
validator owns that).

``ISA*00*          *00*          *ZZ*SUBMITTERID    *ZZ*RECEIVERID     *250101*1200*^*00501*000000001*0*T*:~``
"""

from __future__ import annotations

from dataclasses import dataclass
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
    return IsaHeader(
        sender_qualifier=elements[4].strip(),
        sender_id=elements[5].strip(),
        receiver_qualifier=elements[6].strip(),
        receiver_id=elements[7].strip(),
        date=elements[8].strip(),
        time=elements[9].strip(),
        control_number=elements[12].strip(),
        usage=elements[14].strip(),
    )


def read_isa_header(path: Path) -> IsaHeader:
    with open(path, "rb") as fh:
        head = fh.read(_PEEK_BYTES)
    return parse_isa_header(head, label=Path(path).name)
