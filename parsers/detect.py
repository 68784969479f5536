"""Classify an inbound file from its head: TA1, 999, 277CA, 835, 837 or something else.

Routing reads the first segments only (ISA, TA1, GS, ST and, for a 277, the BHT), never the whole file:

* ST01 decides the transaction (published samples often carry a GS08 that does not match the content);
  without an ST in the head, GS01 does (``HP`` 835, ``FA`` 999/997, ``HN`` 277, ``HC`` 837);
* a 277 is a 277CA when ST03 or GS08 names ``X214``, or failing that when BHT06 is ``TH`` (a 277CA's
  transaction type code; a 277 claim status response has ``DG``) and no other 277 guide is named
  (:data:`OTHER_277_GUIDES`: X212, X213, X228, X364 — each named as itself in error messages by
  :func:`describe_277`);
* an interchange that has a TA1 and no functional group in the head is ``TA1``.

``detect_transaction(head)`` returns the kind; :func:`classify` also returns the codes it used.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from edi.errors import X12ParseError
from edi.reader import iter_segments

HEAD_BYTES = 65536

TA1 = "TA1"
ACK_999 = "999"
ACK_997 = "997"
CLAIM_ACK_277CA = "277CA"
STATUS_277 = "277"
REMITTANCE_835 = "835"
CLAIM_837 = "837"
ELIGIBILITY_271 = "271"
OTHER = "other"
KINDS = (
    TA1,
    ACK_999,
    ACK_997,
    CLAIM_ACK_277CA,
    STATUS_277,
    REMITTANCE_835,
    CLAIM_837,
    ELIGIBILITY_271,
    OTHER,
)

_BY_GS01 = {"HP": REMITTANCE_835, "HN": STATUS_277, "HC": CLAIM_837, "HB": ELIGIBILITY_271}

OTHER_277_GUIDES = {
    "X212": "claim status response to a 276",
    "X213": "request for additional information",
    "X228": "health care claim pending status information",
    "X364": "data reporting acknowledgment",
}
"""5010 guides of the 277 transaction that are not the 277CA (005010X214), by their guide code."""


def describe_277(*versions: str | None) -> str:
    """How to name a 277 from its ST03/GS08: ``"277 005010X228 (health care claim pending status
    information)"``, or ``"277 of no known guide"``. Used in errors, so a file is named as what it is."""
    for v in versions:
        if not v:
            continue
        for code, what in OTHER_277_GUIDES.items():
            if code in v:
                return f"277 {v} ({what})"
        if "X214" in v:
            return f"277CA {v}"
    named = next((v for v in versions if v), None)
    return f"277 {named}" if named else "277 of no known guide"


class Classification(NamedTuple):
    kind: str  # one of KINDS
    gs01: str | None
    gs08: str | None
    st01: str | None
    st03: str | None
    has_ta1: bool


def classify(head: bytes, *, name: str | None = None) -> Classification:
    """Classify from the first bytes of a file (64 KiB is plenty; a shorter head works if it has the ST).

    Raises :class:`~edi.errors.X12ParseError` when the head is not X12 at all (empty, binary, no ISA/ST).
    """
    gs01 = gs08 = st01 = st03 = None
    has_ta1 = False
    bht06: str | None = None
    try:
        for _n, el in iter_segments(head, name=name, log_padding=False):
            sid = el[0]
            if sid == "TA1":
                has_ta1 = True
            elif sid == "GS" and gs01 is None:
                gs01 = el[1] if len(el) > 1 else ""
                gs08 = el[8].strip() if len(el) > 8 else ""
            elif sid == "ST":
                st01 = el[1] if len(el) > 1 else ""
                st03 = el[3].strip() if len(el) > 3 else ""
                if st01 != "277":
                    break
            elif st01 is not None:  # the segment after a 277's ST: its BHT
                if sid == "BHT":
                    bht06 = el[6] if len(el) > 6 else ""
                break
    except X12ParseError as exc:
        if exc.segment_no == 1 or (gs01 is None and st01 is None and not has_ta1):
            raise
        # the head ends inside a later segment: what we have is enough
    kind = _kind(gs01, gs08, st01, st03, has_ta1, bht06)
    return Classification(kind, gs01, gs08, st01, st03, has_ta1)


def _kind(
    gs01: str | None, gs08: str | None, st01: str | None, st03: str | None, has_ta1: bool, bht06: str | None
) -> str:
    versions = " ".join(v for v in (st03, gs08) if v)
    tx = st01
    if tx is None and gs01 is not None:
        if gs01 == "FA":
            tx = "999" if "X231" in versions or versions.startswith("00501") else "997"
        else:
            tx = _BY_GS01.get(gs01)
    if tx is None:
        return TA1 if has_ta1 else OTHER
    if tx == "999":
        return ACK_999
    if tx == "997":
        return ACK_997
    if tx == "835":
        return REMITTANCE_835
    if tx == "837":
        return CLAIM_837
    if tx == "271":
        return ELIGIBILITY_271
    if tx == "277":
        if "X214" in versions or (bht06 == "TH" and not any(g in versions for g in OTHER_277_GUIDES)):
            return CLAIM_ACK_277CA
        return STATUS_277
    return OTHER


def detect_transaction(head: bytes, *, name: str | None = None) -> str:
    """``"TA1"``, ``"999"``, ``"997"``, ``"277CA"``, ``"277"``, ``"835"``, ``"837"`` or ``"other"``."""
    return classify(head, name=name).kind


def detect_file(path: str | os.PathLike[str], *, name: str | None = None) -> Classification:
    """Classify a file on disk from its first 64 KiB."""
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    return classify(head, name=name if name is not None else os.path.basename(os.fspath(path)))
