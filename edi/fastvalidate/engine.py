"""The fast engine: walk an interchange the way pyx12 would and give pyx12's verdict and error report.

:func:`prove_valid` mirrors pyx12's ``x12n_document`` loop — the raw reader's splitting, ``X12Base``'s
envelope/HL/LX bookkeeping, ``walk_tree``'s search for the map node (with its counters) and
``segment_if.is_valid_errors``. Errors it models are filed in pyx12's own error tree (:class:`_Report`)
with the calls ``x12n_document`` makes, and the walk continues; anything it does not model stops it with a
short, value-free reason and the caller runs pyx12. The map walk is memoised: where a segment lands depends
only on the node we are at and the segment's identifying values (ID, qualifier), never on counts, so each
``(node, signature)`` is searched once and then replayed as a short list of counter operations.

Example: ``validate_fast("out/claims.837")`` returns an :class:`edi.validate.ValidationReport`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edi import gc_paused
from edi.fastvalidate.compile import CompSpec, EleSpec, SegSpec, load_map, map_file_for, param, seg_spec

_SEG_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$", re.S)
_BAD_CHARS = re.compile(r"[^\x20-\x7e]")
_N = re.compile(r"-?[0-9]+", re.ASCII)
_R = re.compile(r"-?[0-9]*(\.[0-9]+)?", re.ASCII)
_ENVELOPE = frozenset(("ISA", "IEA", "GS", "GE", "ST", "SE"))


class Bail(Exception):
    """pyx12 would (or might) report something here; ``reason`` names the rule, never a value."""

    def __init__(self, reason: str, segment_no: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.segment_no = segment_no


@dataclass(frozen=True, slots=True)
class FastOutcome:
    """Result of :func:`prove_valid`.

    ``valid``: pyx12 would accept the file. Otherwise either ``errors`` holds the report pyx12 would give
    (``deferred`` False, ``reason`` "errors reported") or ``deferred`` is True and ``reason`` names the
    first thing the fast engine does not model (the caller then runs pyx12).
    """

    valid: bool
    transaction_sets: int
    reason: str | None = None
    segment_no: int | None = None
    errors: tuple[Any, ...] = ()
    deferred: bool = False


# ---------------------------------------------------------------------------------------------- values
def _valid_type(value: str, dtype: str, charset: str, icvn: str) -> bool:
    import pyx12.validation as v

    if dtype in ("ID", "AN"):
        return not v.not_match_re("ID", value, charset, icvn)
    if not dtype:
        return True
    if dtype[0] == "N":
        return _N.fullmatch(value) is not None
    if dtype == "R":
        return _R.fullmatch(value) is not None
    return bool(v.IsValidDataType(value, dtype, charset, icvn))


class _Checker:
    """Element checks with pyx12's rules; one per map root (charset, icvn, external code sets)."""

    def __init__(self, root: Any) -> None:
        self.charset = param().get("charset")
        self.icvn = root.icvn or "00401"
        self.ext = root.ext_codes
        self.ok_cache: dict[tuple[int, str], bool] = {}

    def simple(self, spec: EleSpec, value: str, sub: str, type_list: list[str | None] | None) -> bool:
        if value == "":
            return not spec.empty_error
        if sub in value:
            return False  # a composite where a simple element belongs
        if spec.usage == "N":
            return False
        key = (id(spec), value)
        if not type_list:
            hit = self.ok_cache.get(key)
            if hit is not None:
                return hit
        ok = self._check(spec, value, type_list)
        if not type_list and (
            spec.codes is not None or spec.external is not None or len(self.ok_cache) < 200_000
        ):
            self.ok_cache[key] = ok
        return ok

    def _check(self, spec: EleSpec, value: str, type_list: list[str | None] | None) -> bool:
        measured = value.replace("-", "").replace(".", "") if spec.numeric else value
        n = len(measured)
        if n < spec.min_len or n > spec.max_len:
            return False
        if spec.dtype in ("AN", "ID") and value[-1] == " " and len(value.rstrip()) >= spec.min_len:
            return False
        if (spec.codes is not None or spec.external is not None) and not (
            spec.codes is not None and value in spec.codes
        ):
            if spec.external is None:
                return False
            try:
                if not self.ext.isValid(spec.external, value):
                    return False
            except Exception:
                return False
        if not _valid_type(value, spec.dtype, self.charset, self.icvn):
            return False
        if type_list:
            import pyx12.validation as v

            typed = any(t is not None and v.IsValidDataType(value, t, self.charset) for t in type_list)
            if not typed and ("TM" in type_list or any(t in type_list for t in ("RD8", "DT", "D8", "D6"))):
                return False
        return not (spec.regex is not None and not spec.regex.search(value))

    def composite(self, spec: CompSpec, raw: str | None, sub: str) -> bool:
        parts = raw.split(sub) if raw is not None else None
        empty = parts is None or all(p == "" for p in parts)
        if empty and spec.usage in ("N", "S"):
            return True
        if spec.usage == "R" and empty:
            return False
        assert parts is not None
        if spec.usage == "N":
            return False
        kids = spec.children
        if len(parts) > len(kids):
            return False
        for i, part in enumerate(parts):
            if not self.simple(kids[i], part, "\x00", None):
                return False
        return all(not kids[i].empty_error for i in range(len(parts), len(kids)))

    def segment(self, spec: SegSpec, elems: list[str], sub: str) -> bool:
        """``elems`` are the element strings after the segment ID (pyx12's ``Segment`` elements)."""
        children = spec.children
        n = len(elems)
        if n > len(children):
            return False
        seg_id = spec.seg_id
        type_list: list[str | None] = []
        dtype: list[str | None] = []
        for i in range(n):
            child = children[i]
            raw = elems[i]
            if isinstance(child, CompSpec):
                if len(raw.split(sub)) > len(child.children) and child.usage != "N":
                    return False
                if not self.composite(child, raw, sub):
                    return False
                continue
            if i == 1 and seg_id == "DTP":
                v02 = raw.rstrip(sub)
                if v02 in ("RD8", "D8", "D6", "DT", "TM"):
                    dtype = [v02]
            if child.data_ele == "1250":
                type_list.extend(child.valid_codes)
            if i == 2 and seg_id == "DTP":
                ok = self.simple(child, raw, sub, dtype)
            elif child.data_ele == "1251" and type_list:
                ok = self.simple(child, raw, sub, type_list)
            else:
                ok = self.simple(child, raw, sub, None)
            if not ok:
                return False
        for i in range(n, len(children)):
            child = children[i]
            if isinstance(child, CompSpec):
                if child.usage == "R":
                    return False
            elif child.empty_error:
                return False
        if spec.bad_syntax:
            return False
        for code, idx in spec.syntax:
            present = [s <= n and elems[s - 1].replace(sub, "") != "" for s in idx]
            if code == "P":
                c = sum(present)
                if c != 0 and c != len(idx):
                    return False
            elif code == "R":
                if not any(present):
                    return False
            elif code == "E":
                if sum(present) > 1:
                    return False
            elif code == "C":
                if present[0] and sum(present[1:]) != len(idx) - 1:
                    return False
            elif code == "L":
                if present[0] and not any(present[1:]):
                    return False
            else:
                return False
        return True


# ------------------------------------------------------------------------------------------------ walk
def _path(node: Any) -> str:
    return str(node.x12path.format())


def _eq(node: Any) -> tuple[Any, Any]:
    return (node.id, node.parent.id if node.parent is not None else None)


def _parent_loop(node: Any) -> Any:
    if node.is_map_root():
        return node
    p = node.parent
    while not (p.is_loop() or p.is_map_root()):
        p = p.parent
    return p


def _match_key(node: Any) -> tuple[int, int | None, frozenset[Any]] | None:
    if hasattr(node, "_fast_key"):
        cached: tuple[int, int | None, frozenset[Any]] | None = node._fast_key
        return cached
    key = node._resolve_unique_key_field(node.id, with_qual=False)
    out: tuple[int, int | None, frozenset[Any]] | None = None
    if key is not None:
        child, ele_idx, sub_idx = key
        out = (ele_idx, sub_idx, child._valid_codes_set)
    node._fast_key = out
    return out


def _value(elems: list[str], sub: str, ele_idx: int, sub_idx: int | None) -> str | None:
    if ele_idx > len(elems):
        return None
    raw = elems[ele_idx - 1]
    if sub_idx is None:
        return raw.rstrip(sub)
    parts = raw.split(sub)
    return parts[sub_idx - 1] if sub_idx <= len(parts) else None


class _Planner:
    """Mirror of ``pyx12.map_walker.walk_tree`` that records counter operations instead of errors."""

    def __init__(self, seg_id: str, elems: list[str], sub: str) -> None:
        self.seg_id = seg_id
        self.elems = elems
        self.sub = sub
        self.ops: list[tuple[Any, ...]] = []

    def match(self, node: Any) -> bool:
        if node.id != self.seg_id:
            return False
        key = _match_key(node)
        if key is None:
            return True
        return _value(self.elems, self.sub, key[0], key[1]) in key[2]

    def walk(self, start: Any) -> Any:
        node_pos = start.pos
        node = start if (start.is_loop() or start.is_map_root()) else _parent_loop(start)
        while True:
            found, target = self.scan(node, node_pos)
            if found:
                return target
            if node.is_map_root():
                return None
            node_pos = node.pos
            node = _parent_loop(node)

    def scan(self, node: Any, node_pos: int) -> tuple[bool, Any]:
        for ord1 in sorted(a for a in node.pos_map if a >= node_pos):
            for child in node.pos_map[ord1]:
                if child.is_segment():
                    if self.match(child):
                        if node.is_loop() and self.loop_match(node):
                            return True, self.goto(node)
                        self.ops.append(
                            ("seg", _path(child), child.usage, child.get_max_repeat(), child, _anc(child))
                        )
                        self.ops.append(("rm", _eq(child)))
                        self.ops.append(("flush", child.pos))
                        return True, child
                    if child.usage == "R":
                        msg = f'Mandatory segment "{child.name}" ({child.id}) missing'
                        self.ops.append(("miss", _path(child), _eq(child), child.pos, child, msg))
                elif child.is_loop() and self.loop_match(child):
                    return True, self.goto(child)
        return False, None

    def loop_match(self, loop: Any) -> bool:
        if len(loop) <= 0:
            return False
        first = loop.get_first_node()
        if first.is_loop():
            return any(c.is_loop() and self.loop_match(c) for c in loop.childIterator())
        if first.is_segment() and self.match(first):
            return True
        if loop.usage == "R":
            msg = f'Mandatory loop "{loop.name}" ({loop.id}) missing'
            self.ops.append(("miss", _path(loop), _eq(first), first.pos, first, msg))
        return False

    def goto(self, loop: Any) -> Any:
        first = loop.get_first_seg()
        if first is not None and self.match(first):
            self.ops.append(("loop", _path(loop), loop.usage, loop.get_max_repeat(), loop, _anc(loop)))
            self.ops.append(("inc", _path(first), _anc(first)))
            self.ops.append(("flush", None))
            return first
        for child in loop.childIterator():
            if child.is_loop():
                found = self.goto(child)
                if found is not None:
                    return found
        return None


_SCANNED = frozenset(("/ISA_LOOP", "/ISA_LOOP/GS_LOOP", "/ISA_LOOP/GS_LOOP/ST_LOOP"))


def _anc(node: Any) -> tuple[str, ...]:
    """The loops above ``node`` whose reset goes through ``_Counts.below``: those a "loop" op can reset
    (they start with a segment), except the envelope loops, which are reset by scanning the keys."""
    out = []
    p = node.parent
    while p is not None and not p.is_map_root():
        if p.is_loop() and p.get_first_seg() is not None:
            path = _path(p)
            if path not in _SCANNED:
                out.append(path)
        p = p.parent
    return tuple(out)


class _Counts:
    """pyx12's ``NodeCounter`` (path -> count; resetting a path drops every count below it).

    ``below[p]`` lists the keys inserted under ``p`` since ``p`` was last reset, so a reset touches only
    those instead of scanning every key (stale entries are harmless: deleting an absent key is a no-op).
    """

    __slots__ = ("below", "n")

    def __init__(self) -> None:
        self.n: dict[str, int] = {}
        self.below: dict[str, list[str]] = {}

    def inc(self, path: str, anc: tuple[str, ...]) -> int:
        n = self.n
        c = n.get(path)
        if c is None:
            n[path] = 1
            below = self.below
            for a in anc:
                lst = below.get(a)
                if lst is None:
                    below[a] = [path]
                else:
                    lst.append(path)
            return 1
        n[path] = c + 1
        return c + 1

    def reset(self, path: str) -> None:
        if path in _SCANNED:
            self.reset_all_below(path)
            return
        keys = self.below.pop(path, None)
        if keys:
            n = self.n
            for k in keys:
                n.pop(k, None)

    def reset_all_below(self, path: str) -> None:
        prefix = path + "/"
        for k in [k for k in self.n if k.startswith(prefix)]:
            del self.n[k]


def _replay(ops: tuple[tuple[Any, ...], ...], counts: _Counts) -> list[tuple[Any, ...]] | None:
    """Apply a plan to the counters like pyx12's walker; the walk errors it would report, in its order.

    Each error is ``(code, message, map node or None)``; a None node means pyx12 files the error on the
    segment before (``SegError.map_node`` None), a ``"3"`` (mandatory missing) names the missing node.
    ``_Counts.inc`` is inlined: this runs once per segment.
    """
    errs: list[tuple[Any, ...]] | None = None
    pending: list[tuple[Any, ...]] = []
    n = counts.n
    below = counts.below
    for op in ops:
        kind = op[0]
        if kind == "seg" or kind == "inc" or kind == "loop":
            if kind == "loop":
                if op[2] == "N":
                    errs = errs or []
                    errs.append(("2", f"Loop {op[4].id} found but marked as not used", None))
                    continue
                if op[2] not in ("R", "S"):
                    raise Bail("loop usage")
                counts.reset(op[1])
            path = op[1]
            c = n.get(path)
            if c is None:
                n[path] = c = 1
                for a in op[-1]:
                    lst = below.get(a)
                    if lst is None:
                        below[a] = [path]
                    else:
                        lst.append(path)
            else:
                c += 1
                n[path] = c
            if kind == "seg":
                if op[2] == "N":
                    errs = errs or []
                    errs.append(("2", f"Segment {op[4].id} found but marked as not used", None))
                elif op[2] not in ("R", "S"):
                    raise Bail("segment usage")
                elif c > op[3]:
                    errs = errs or []
                    msg = f"Segment {op[4].id} exceeded max count.  Found {c}, should have {op[3]}"
                    errs.append(("5", msg, op[4]))
            elif kind == "loop" and c > op[3]:
                errs = errs or []
                errs.append(
                    ("4", f"Loop {op[4].id} exceeded max count.  Found {c}, should have {op[3]}", op[4])
                )
        elif kind == "miss":
            if n.get(op[1], 0) < 1:
                pending.append(op)
        elif kind == "rm":
            if pending:
                pending = [m for m in pending if m[2] != op[1]]
        elif kind == "flush" and pending:
            for m in pending:
                if m[3] != op[1]:
                    errs = errs or []
                    errs.append(("3", m[5], m[4]))
            pending = [m for m in pending if m[3] == op[1]]
    return errs


# ---------------------------------------------------------------------------------------------- driver
def _segments(text: str, term: str) -> list[str]:
    """pyx12's raw reader: split on the terminator, strip leading CR/LF, stop at the first empty one."""
    pieces = text.split(term)
    out: list[str] = []
    for i, piece in enumerate(pieces):
        line = piece.lstrip("\n\r")
        if line == "":
            if any(p.strip() for p in pieces[i + 1 :]):
                raise Bail("content after an empty segment", len(out) + 1)
            break
        if i == len(pieces) - 1:
            raise Bail("text after the last terminator", len(out) + 1)
        out.append(line)
    return out


class _Src:
    """The part of pyx12's ``X12Reader`` its error handler reads (``get_isa_id``, ``get_cur_line``, ...)."""

    def __init__(self, loops: list[tuple[str, str | None]]) -> None:
        self.loops = loops
        self.cur_line = 0
        self.st_count = 0

    def _id(self, kind: str) -> str | None:
        return next((i for k, i in self.loops if k == kind), None)

    def get_isa_id(self) -> str | None:
        return self._id("ISA")

    def get_gs_id(self) -> str | None:
        return self._id("GS")

    def get_st_id(self) -> str | None:
        return self._id("ST")

    def get_cur_line(self) -> int:
        return self.cur_line


class _Report:
    """pyx12's own error tree (``pyx12.error_handler.err_handler``), fed the calls ``x12n_document`` makes.

    The calls for ordinary segments are made lazily: pyx12 opens an error node for every segment
    (``add_seg``) but keeps it only when an error lands on it, so the node of the last segment is created
    only when an error needs the cursor (``cursor``). Element errors come from pyx12's
    ``apply_segment_errors`` on that one segment, so codes, element references and messages are its own.
    """

    def __init__(self, term: str, ele: str, sub: str, loops: list[tuple[str, str | None]]) -> None:
        import pyx12.error_handler

        self.errh = pyx12.error_handler.err_handler()
        self.src = _Src(loops)
        self.term, self.ele, self.sub = term, ele, sub
        self.lazy: tuple[Any, str, int, int] | None = None
        self.valid = True

    def seg(self, line: str) -> Any:
        import pyx12.segment

        return pyx12.segment.Segment(line, self.term, self.ele, self.sub)

    def cursor(self) -> None:
        if self.lazy is not None:
            node, line, seg_no, seg_count = self.lazy
            self.lazy = None
            self.errh.add_seg(node, self.seg(line), seg_count, seg_no, None)

    def walk_errors(self, errs: list[tuple[Any, ...]], line: str, seg_no: int, seg_count: int) -> None:
        import pyx12.segment
        from pyx12.error_item import SegError
        from pyx12.map_walker import apply_walk_errors

        self.cursor()
        seg_data = self.seg(line)
        items = []
        for code, msg, map_node in errs:
            if map_node is None:
                items.append(SegError(err_cde=code, err_str=msg, src_line=seg_no))
                continue
            data = pyx12.segment.Segment(map_node.id, "~", "*", ":") if code == "3" else seg_data
            items.append(
                SegError(code, msg, src_line=seg_no, map_node=map_node, seg_data=data, seg_count=seg_count)
            )
        apply_walk_errors(self.errh, items)

    def not_found(self, orig_node: Any, line: str, seg_no: int, seg_count: int) -> None:
        seg_data = self.seg(line)
        if seg_data.get_seg_id() == "HL":
            seg_str = seg_data.format("", "*", ":")
        else:
            seg_str = f"{seg_data.get_seg_id()}*{seg_data.get_value('01')}"
        msg = f"Segment {seg_str} not found.  Started at {orig_node.get_path()}"
        self.walk_errors([("1", msg, orig_node)], line, seg_no, seg_count)
        self.lazy = None

    def handle(self, src_errors: list[tuple[Any, ...]]) -> None:
        if src_errors:
            self.cursor()
            self.errh.handle_errors(src_errors)
            src_errors.clear()

    def elements(self, node: Any, line: str) -> None:
        from pyx12.map_if._segment import apply_segment_errors

        self.cursor()
        self.valid &= bool(apply_segment_errors(node, self.seg(line), self.errh))

    def errors(self) -> tuple[bool, list[Any], int]:
        """(pyx12's verdict, the report's errors, transaction sets) -- edi.validate flattens the tree."""
        from edi.validate import _walk

        errors, st_count = _walk(self.errh)
        return self.valid and self.errh.get_error_count() == 0, errors, st_count


def prove_valid(text: str) -> FastOutcome:
    """Walk ``text`` (one decoded file) like pyx12: valid, pyx12's errors, or the rule that stopped it."""
    from edi.validate import _pyx12_silenced

    try:
        with gc_paused(), _pyx12_silenced():  # pyx12's error handler logs each error (with values)
            return _prove(text)
    except Bail as b:
        return FastOutcome(False, 0, b.reason, b.segment_no, deferred=True)


def _prove(text: str) -> FastOutcome:
    if len(text) < 106 or not text.startswith("ISA"):
        raise Bail("no ISA header", 1)
    icvn = text[84:89]
    if icvn != "00501":
        raise Bail("only 5010 interchanges are modelled", 1)
    term, ele, sub = text[105], text[3], text[104]
    if len({term, ele, sub}) != 3:
        raise Bail("delimiters", 1)
    control = load_map("x12.control.00501.xml")
    isa_node = control.getnodebypath("/ISA_LOOP/ISA")
    control_checker = _Checker(control)
    counts = _Counts()
    plans: dict[tuple[Any, ...], tuple[Any, tuple[tuple[Any, ...], ...]]] = {}
    seen_ok: set[tuple[int, str]] = set()
    cur_map: Any = None
    kp: dict[str, tuple[tuple[int, int | None], ...]] = {}
    checker = control_checker
    map_file = "x12.control.00501.xml"
    node: Any = isa_node
    loops: list[tuple[str, str | None]] = []
    rep = _Report(term, ele, sub, loops)
    src = rep.src
    src_errors: list[tuple[Any, ...]] = []  # X12Reader.err_list: popped at the next segment found in the map
    isa_ids: list[str] = []
    gs_ids: list[str | None] = []
    st_ids: list[str | None] = []
    gs_count = st_count = seg_count = hl_count = lx_count = 0
    hl_stack: list[int | None] = []
    check_lx = False
    transaction_sets = 0
    bad = _BAD_CHARS.search
    seg_id_ok = _SEG_ID.match
    segs = _segments(text, term)
    dirty = bad(text) is not None  # else no line can hold a control or non-ASCII character
    good_ids: set[str] = set()
    for seg_no, line in enumerate(segs, start=1):
        forced = False  # a reader error on this line: pyx12's element check, not the tables
        if line[0] == " ":
            src_errors.append(("seg", "1", "Segment contains a leading space", None, seg_no))
            line = line.lstrip()
            forced = True
            if not line:
                raise Bail("blank segment", seg_no)
        if line[-1] == ele:
            src_errors.append(("seg", "SEG1", "Segment contains trailing element terminators", None, seg_no))
            forced = True
        if dirty and bad(line):
            raise Bail("control or non-ASCII character", seg_no)
        parts = line.split(ele)
        seg_id = parts[0]
        elems = parts[1:]
        if not any(e.strip(sub) for e in elems):  # X12Base: a segment of only empty elements
            seg_data = rep.seg(line)
            if seg_data.is_empty():
                src_errors.append(("seg", "8", f'Segment "{seg_data}" is empty', None, seg_no))
                forced = True
        if seg_id not in good_ids:
            if not seg_id_ok(seg_id):
                raise Bail("invalid segment ID", seg_no)
            good_ids.add(seg_id)
        # X12Base._parse_segment
        if seg_id == "ISA":
            if len(elems) != 16:
                raise Bail("ISA element count", seg_no)
            icn = elems[12]
            if icn in isa_ids:
                src_errors.append(
                    ("isa", "025", f"ISA Interchange Control Number {icn} not unique within file", None, None)
                )
            loops.append(("ISA", icn))
            isa_ids.append(icn)
            gs_count = 0
            gs_ids = []
        elif seg_id == "GS":
            gcn = _get(elems, 5, sub)
            if gcn in gs_ids:
                src_errors.append(
                    ("gs", "6", f"GS Interchange Control Number {gcn} not unique within file", None, None)
                )
            gs_count += 1
            gs_ids.append(gcn)
            loops.append(("GS", gcn))
            st_count = 0
            st_ids = []
        elif seg_id == "ST":
            hl_stack = []
            hl_count = 0
            tcn = _get(elems, 1, sub)
            if tcn in st_ids:
                src_errors.append(
                    ("st", "23", f"ST Interchange Control Number {tcn} not unique within file", None, None)
                )
            st_count += 1
            transaction_sets += 1
            st_ids.append(tcn)
            loops.append(("ST", tcn))
            seg_count = 1
        elif seg_id == "HL":
            hl_count += 1
            hl01 = _get(elems, 0, sub)
            if _int(hl01) != hl_count:
                src_errors.append(
                    (
                        "seg",
                        "HL1",
                        f"My HL count {hl_count:d} does not match your HL count {hl01}",
                        None,
                        None,
                    )
                )
            hl02 = _get(elems, 1, sub)
            if hl02 != "":
                parent = _int(hl02)
                if parent not in hl_stack:
                    src_errors.append(
                        ("seg", "HL2", f"HL parent ({parent}) is not a valid parent", None, None)
                    )
                while hl_stack and parent != hl_stack[-1]:
                    del hl_stack[-1]
            hl_stack.append(hl_count)
        elif check_lx and seg_id == "CLM":
            lx_count = 0
        elif check_lx and seg_id == "LX":
            lx_count += 1
            lx01 = _get(elems, 0, sub)
            if lx01 != str(lx_count):
                msg = f"Your 2400/LX01 Service Line Number {lx01} does not match my count of {lx_count:d}"
                src_errors.append(("seg", "LX", msg, None, None))
        if seg_id not in _ENVELOPE:
            seg_count += 1
        # X12Reader._parse_segment (trailers)
        if seg_id == "IEA":
            iea02 = _get(elems, 1, sub)
            if not loops:
                raise Bail("IEA without an open interchange", seg_no)
            if loops[-1][0] != "ISA":
                src_errors.append(("isa", "024", f"Unterminated Loop {loops[-1][0]}", None, None))
                del loops[-1]
                if not loops:
                    raise Bail("IEA without an open interchange", seg_no)
            if loops[-1][1] != iea02:
                src_errors.append(
                    ("isa", "001", f"IEA id={iea02} does not match ISA id={loops[-1][1]}", None, None)
                )
            if _int(_get(elems, 0, sub)) != gs_count:
                src_errors.append(("isa", "021", f"IEA count for IEA02={iea02} is wrong", None, None))
            del loops[-1]
        elif seg_id == "GE":
            ge01, ge02 = _get(elems, 0, sub), _get(elems, 1, sub)
            if not loops or _int(ge01) is None:
                raise Bail("GE pyx12 cannot read", seg_no)  # pyx12 raises (IndexError / int(GE01))
            if loops[-1][0] != "GS":
                src_errors.append(("gs", "3", f"Unterminated segment {loops[-1][1]}", None, None))
                del loops[-1]
                if not loops:
                    raise Bail("GE without an open group", seg_no)
            if loops[-1][1] != ge02:
                src_errors.append(
                    ("gs", "4", f"GE id={ge02} does not match GS id={loops[-1][1]}", None, None)
                )
            if _int(ge01) != st_count:
                msg = f"GE count of {ge01} for GE02={ge02} is wrong. I count {st_count}"
                src_errors.append(("gs", "5", msg, None, None))
            del loops[-1]
        elif seg_id == "SE":
            se01, se02 = _get(elems, 0, sub), _get(elems, 1, sub)
            if not loops:
                raise Bail("SE without an open transaction", seg_no)
            if loops[-1][0] != "ST" or loops[-1][1] != se02:
                src_errors.append(
                    ("st", "3", f"SE id={se02} does not match ST id={loops[-1][1]}", None, None)
                )
            if _int(se01) != seg_count + 1:
                msg = f"SE count of {se01} for SE02={se02} is wrong. I count {seg_count + 1}"
                src_errors.append(("st", "4", msg, None, None))
            del loops[-1]
        src.cur_line = seg_no
        # find the map node (x12n_document)
        if seg_id == "ISA":
            node = isa_node
            counts.reset_all_below("/ISA_LOOP")
            counts.inc("/ISA_LOOP", ())
            counts.inc("/ISA_LOOP/ISA", ("/ISA_LOOP",))
            rep.lazy = None
            rep.errh.add_isa_loop(rep.seg(line), src)
            rep.handle(src_errors)
            if forced or not control_checker.segment(seg_spec(node), elems, ele):
                rep.elements(node, line)
            continue
        if seg_id == "GS":
            counts.reset_all_below("/ISA_LOOP/GS_LOOP")
            counts.inc("/ISA_LOOP/GS_LOOP", ("/ISA_LOOP",))
            counts.inc("/ISA_LOOP/GS_LOOP/GS", ("/ISA_LOOP", "/ISA_LOOP/GS_LOOP"))
            fic, vriic = _get(elems, 0, sub), _get(elems, 7, sub)
            if _claimflow_map(fic or "", vriic or ""):
                raise Bail("guide with a claimflow map (edi.maps): pyx12 decides", seg_no)
            new_file = map_file_for(icvn, vriic or "", fic or "")
            if new_file is None:
                raise Bail("no map for the functional group", seg_no)
            if new_file != map_file:
                map_file = new_file
                cur_map = load_map(map_file)
                checker = _Checker(cur_map)
                check_lx = cur_map.id == "837"
                kp = keypaths(cur_map)
            if cur_map is None:
                raise Bail("no map", seg_no)
            node = cur_map.getnodebypath("/ISA_LOOP/GS_LOOP/GS")
            rep.lazy = None
            rep.errh.add_gs_loop(rep.seg(line), src)
            rep.handle(src_errors)
        else:
            paths = kp.get(seg_id, ())
            if not paths:
                key: tuple[Any, ...] = (id(node), seg_id)
            elif len(paths) == 1 and paths[0] == (1, None):
                key = (id(node), seg_id, elems[0].rstrip(sub) if elems else None)
            else:
                key = (id(node), seg_id, _signature(elems, sub, paths))
            plan = plans.get(key)
            if plan is None:
                planner = _Planner(seg_id, elems, sub)
                target = planner.walk(node)
                plan = (target, tuple(planner.ops))
                if target is not None:
                    plans[key] = plan
            target, ops = plan
            if target is None:
                if seg_id in _ENVELOPE:
                    raise Bail("envelope segment not found in the map", seg_no)
                # pyx12 reports it, stays at the node it started from and skips the element checks
                rep.not_found(node, line, seg_no, seg_count)
                continue
            walk_errs = _replay(ops, counts)
            if walk_errs:
                rep.walk_errors(walk_errs, line, seg_no, seg_count)
            node = target
            if seg_id == "ST":
                rep.lazy = None
                rep.errh.add_st_loop(rep.seg(line), src)
                rep.handle(src_errors)
            elif seg_id == "SE" or seg_id == "GE" or seg_id == "IEA":
                src.st_count = st_count
                rep.handle(src_errors)
                rep.lazy = None
                if seg_id == "SE":
                    rep.errh.close_st_loop(node, rep.seg(line), src)
                elif seg_id == "GE":
                    rep.errh.close_gs_loop(node, rep.seg(line), src)
                else:
                    rep.errh.close_isa_loop(node, rep.seg(line), src)
            else:
                rep.lazy = (node, line, seg_no, seg_count)
                if src_errors:
                    rep.handle(src_errors)
        skey = (id(node), line)
        if forced:
            rep.elements(node, line)
        elif skey not in seen_ok:
            if not checker.segment(seg_spec(node), elems, sub):
                rep.elements(node, line)
            elif len(seen_ok) < 500_000:
                seen_ok.add(skey)
    if loops:  # X12Reader.cleanup: missing trailers
        for kind, id1 in loops:
            if kind == "ST":
                msg = f'Mandatory segment "Transaction Set Trailer" (SE={id1}) missing'
                src_errors.append(("st", "2", msg, None, None))
            elif kind == "GS":
                msg = f'Mandatory segment "Functional Group Trailer" (GE={id1}) missing'
                src_errors.append(("gs", "3", msg, None, None))
            elif kind == "ISA":
                msg = f'Mandatory segment "Interchange Control Trailer" (IEA={id1}) missing'
                src_errors.append(("isa", "023", msg, None, None))
    rep.handle(src_errors)
    if rep.valid and rep.errh.get_error_count() == 0:
        return FastOutcome(True, transaction_sets)
    valid, errors, st_count = rep.errors()
    return FastOutcome(valid, st_count, "errors reported", errors=tuple(errors))


def _claimflow_map(fic: str, vriic: str) -> bool:
    """True for a guide claimflow validates with its own map (``edi.maps``, when present): the fast engine
    compiles pyx12's shipped maps only, so such groups are left to pyx12 with claimflow's map folder."""
    try:
        from edi.maps import owns  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return False
    return bool(owns(fic, vriic))


def _get(elems: list[str], i: int, sub: str) -> str | None:
    """pyx12's ``get_value``: the element with trailing empty components dropped; None when absent."""
    return elems[i].rstrip(sub) if i < len(elems) else None


def _int(value: str | None) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return None


_KEYPATHS: dict[int, dict[str, tuple[tuple[int, int | None], ...]]] = {}


def keypaths(root: Any) -> dict[str, tuple[tuple[int, int | None], ...]]:
    """Per segment ID, every (element, component) any map node of that ID is matched on (pyx12 is_match)."""
    table = _KEYPATHS.get(id(root))
    if table is None:
        found: dict[str, set[tuple[int, int | None]]] = {}
        stack = [root]
        while stack:
            n = stack.pop()
            if n.is_segment():
                k = _match_key(n)
                found.setdefault(n.id, set())
                if k is not None:
                    found[n.id].add((k[0], k[1]))
            elif n.is_loop() or n.is_map_root():
                stack.extend(c for k in sorted(n.pos_map) for c in n.pos_map[k])
        table = {sid: tuple(sorted(v, key=lambda x: (x[0], x[1] or 0))) for sid, v in found.items()}
        _KEYPATHS[id(root)] = table
    return table


def _signature(
    elems: list[str], sub: str, paths: tuple[tuple[int, int | None], ...]
) -> tuple[str | None, ...]:
    """The values that decide which map node a segment matches (its qualifiers), nothing else."""
    return tuple(_value(elems, sub, e, c) for e, c in paths)


# ---------------------------------------------------------------------------------------------- report
def validate_fast(source: str | os.PathLike[str] | bytes | bytearray | memoryview) -> Any:
    """Same contract as :func:`edi.validate.validate_x12` (``engine="pyx12"``): a ``ValidationReport``.

    Valid files and the errors the engine models are reported here (``report.engine == "fast"``); anything
    else is validated by pyx12 and its report returned unchanged (``report.engine == "pyx12"``).
    """
    from edi.validate import ValidationReport, validate_x12

    data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else Path(source).read_bytes()
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return validate_x12(data, engine="pyx12")
    outcome = prove_valid(text)
    if outcome.deferred:
        return validate_x12(data, engine="pyx12")
    return ValidationReport(
        errors=list(outcome.errors),
        pyx12_valid=outcome.valid,
        transaction_sets=outcome.transaction_sets,
        engine="fast",
    )
