"""Turn claimflow's pyx12 validation of a received 837 into 999 material (IK3/IK4/IK5/AK9).

:func:`edi.validate.validate_x12` reports each problem with its file segment number (ISA = 1), segment
ID, element reference (``NM109``, ``CLM05-3``) and 999 code, without PHI. The 999 wants positions inside
the transaction set (ST = 1) and the loop each segment is in; the first come from the reader's segment
ranges, the second from a second pyx12 pass with a callback that records each segment's map loop (only
run when there are segment errors to report, and with pyx12's logger silenced: its messages quote
values).

pyx12's own 999 writer is not used: it stamps the wall clock and a random GS06, writes ``SE*0`` and one
999 transaction for the whole interchange.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from claimflow.sandbox.payer.claims837 import Interchange837
from claimflow.sandbox.payer.responses import ElementError, GroupResult, SegmentError, TransactionResult
from edi.validate import ValidationError, validate_x12

_PYX12_ONLY = {"SEG1": "8", "HL1": "8", "HL2": "8", "LX": "8"}  # pyx12's own segment codes -> IK304
_TA1_CODES = frozenset(f"{n:03d}" for n in range(25))


@contextmanager
def _quiet_pyx12() -> Iterator[None]:
    log = logging.getLogger("pyx12")
    saved = (log.level, log.propagate, log.disabled)
    log.disabled, log.propagate = True, False
    try:
        yield
    finally:
        log.level, log.propagate, log.disabled = saved


def _loop_id(node: Any) -> str | None:
    """The implementation-guide loop ID of a map segment node (``2010BA``); None outside loops."""
    parent = getattr(node, "parent", None)
    while parent is not None:
        pid = str(getattr(parent, "id", None) or "")
        if pid[:1].isdigit():
            return pid
        if pid in ("ST_LOOP", "GS_LOOP", "ISA_LOOP", ""):
            return None
        parent = getattr(parent, "parent", None)
    return None


def loop_ids(path: Path) -> dict[int, str]:
    """File segment number -> guide loop ID, from a pyx12 pass with a callback."""
    import pyx12.params
    import pyx12.x12n_document

    loops: dict[int, str] = {}
    counter = [0]

    def callback(seg: Any, src: Any, node: Any, valid: bool) -> None:
        counter[0] += 1
        try:
            loop = _loop_id(node)
        except Exception:  # a nicety: never fail over it
            loop = None
        if loop:
            loops[counter[0]] = loop

    with _quiet_pyx12():
        try:
            pyx12.x12n_document.x12n_document(pyx12.params.params(), str(path), None, None, callback=callback)
        except Exception:  # the real verdict came from validate_x12; loop IDs are optional
            return {}
    return loops


_REF = re.compile(r"^(\d{2})(?:-(\d+))?$")


def _element(err: ValidationError) -> ElementError | None:
    ref = (err.element or "")[len(err.segment_id or "") :]
    m = _REF.match(ref)
    if not m:
        return None
    return ElementError(int(m.group(1)), int(m.group(2)) if m.group(2) else None, None, None, err.code)


def validate_837(path: Path, ich: Interchange837) -> tuple[list[GroupResult], list[str]]:
    """(one :class:`GroupResult` per functional group, TA1 note codes for interchange-level errors)."""
    report = validate_x12(path, engine="fast")  # pyx12's verdict; pyx12's own report for any file with errors
    ta1: list[str] = []
    results: list[GroupResult] = []
    ranges: list[tuple[int, int, GroupResult, TransactionResult, int]] = []
    for g in ich.groups:
        gr = GroupResult(
            control_number=g.control_number,
            functional_id=g.functional_id,
            version=g.version,
            declared_count=g.declared_count if g.declared_count is not None else len(g.transactions),
            received_count=len(g.transactions),
        )
        results.append(gr)
        for t in g.transactions:
            tr = TransactionResult(t.control_number, t.transaction_set_id, t.version)
            gr.transactions.append(tr)
            ranges.append((t.first_segment, t.first_segment + t.segment_count - 1, gr, tr, t.first_segment))

    def locate(segno: int | None) -> tuple[GroupResult, TransactionResult, int] | None:
        if segno is None:
            return None
        for lo, hi, gr, tr, first in ranges:
            if lo <= segno <= hi:
                return gr, tr, first
        return None

    def group_of(segno: int | None) -> GroupResult | None:
        if segno is None:
            return results[0] if results else None
        for g, gr in zip(ich.groups, results, strict=True):
            if g.first_segment <= segno <= (g.last_segment or 10**12):
                return gr
        return results[-1] if results else None

    segments: dict[tuple[int, int], SegmentError] = {}
    for err in report.errors:
        if err.level == "interchange":
            ta1.append(err.code if err.code in _TA1_CODES else "024")
            continue
        if err.level == "group" or err.segment_id in ("GS", "GE"):
            owner = group_of(err.segment_no)
            if owner is not None:
                owner.codes.append(err.code if err.level == "group" else "1")
            continue
        where = locate(err.segment_no)
        if where is None:
            owner = group_of(err.segment_no)
            if owner is not None:
                owner.codes.append("1")
            continue
        _gr, tr, first = where
        if err.level == "transaction":
            tr.codes.append(err.code)
            continue
        assert err.segment_no is not None
        pos = err.segment_no - first + 1
        key = (first, pos)
        seg = segments.get(key)
        if seg is None:
            seg = SegmentError(err.segment_id or "", pos, None)
            segments[key] = seg
            tr.segments.append(seg)
        if err.level == "element":
            el = _element(err)
            if el is not None:
                seg.elements.append(el)
            elif "8" not in seg.codes:
                seg.codes.append("8")
        else:
            code = _PYX12_ONLY.get(err.code, err.code)
            if code not in seg.codes:
                seg.codes.append(code)
    if segments:
        loops = loop_ids(path)
        for (first, pos), seg in segments.items():
            loop = loops.get(first + pos - 1)
            # IK303 (element 447) holds at most four characters: the loop number, "2010" for 2010BA.
            seg.loop_id = loop[:4] if loop else None
    if not report.ok and not report.errors:
        ta1.append("024")
    return results, ta1
