"""Implementation-guide validation with pyx12, reported without PHI.

pyx12 checks an interchange against the guide's map: segment order and usage, loop counts, required
elements, code lists, data types and lengths, the envelope counts. claimflow runs it on every generated
837 in the tests and offers it to operators as ``claimflow validate FILE...``.

pyx12's own messages quote element values (``(DOE) is not a valid code``) and it logs every error at
ERROR level; names and member ids would end up in logs. So this wrapper:

* silences the ``pyx12`` logger while it runs;
* keeps pyx12's error codes and positions (segment number counted from ISA = 1, segment ID, element
  reference such as ``NM109`` or ``CLM05-3``) but writes its own messages from the error code and the
  guide's element name, and keeps pyx12's segment-level text only when it matches a known value-free
  pattern.

pyx12 builds its error tree inside ``x12n_document`` and only shows it to the visitors that run at the
end; :func:`validate_x12` asks for the JSON error report and substitutes a visitor that keeps the tree, so
that element errors on ISA/GS/ST (which the JSON report leaves out) are reported too.

Example line from :func:`format_report`::

    out/claims.837: segment 15 (NM1): NM109 mandatory data element missing ("Subscriber Primary Identifier")
"""

from __future__ import annotations

import io
import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ELEMENT_ERRORS = {
    "1": "mandatory data element missing",
    "2": "conditional required data element missing",
    "3": "too many data elements",
    "4": "data element too short",
    "5": "data element too long",
    "6": "invalid character in data element",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated (element not used)",
    "12": "too many repetitions",
    "13": "too many components",
}
"""IK403 / AK403 data element syntax error codes."""

SEGMENT_ERRORS = {
    "1": "unrecognized segment ID",
    "2": "unexpected segment",
    "3": "required segment missing",
    "4": "loop occurs over maximum times",
    "5": "segment exceeds maximum use",
    "6": "segment not in defined transaction set",
    "7": "segment not in proper sequence",
    "8": "segment has data element errors",
    "I4": "implementation 'not used' segment present",
    "I6": "implementation dependent segment missing",
    "I7": "implementation loop occurs under minimum times",
    "I8": "implementation segment below minimum use",
    "I9": "implementation dependent 'not used' segment present",
    "SEG1": "segment has trailing element separators",
    "HL1": "HL01 does not count the HL segments in order",
    "HL2": "HL02 does not name a preceding HL",
    "LX": "LX01 does not number the service lines in order",
}
"""IK304 / AK304 segment syntax error codes, plus pyx12's own (SEG1, HL1, HL2, LX)."""

TRANSACTION_ERRORS = {
    "1": "transaction set not supported",
    "2": "transaction set trailer missing",
    "3": "transaction set control number in header and trailer do not match",
    "4": "number of included segments does not match actual count",
    "5": "one or more segments in error",
    "6": "missing or invalid transaction set identifier",
    "7": "missing or invalid transaction set control number",
    "23": "transaction set control number not unique within the functional group",
}
GROUP_ERRORS = {
    "1": "functional group not supported",
    "2": "functional group version not supported",
    "3": "functional group trailer missing",
    "4": "group control number in the functional group header and trailer do not agree",
    "5": "number of included transaction sets does not match actual count",
    "6": "group control number violates syntax",
    "19": "functional group control number not unique within interchange",
}
INTERCHANGE_ERRORS = {
    "001": "interchange control numbers in header and trailer do not match",
    "021": "invalid number of included groups value",
    "023": "improper (premature) end-of-file",
    "024": "invalid interchange content",
    "025": "duplicate interchange control number",
}
_TRAILER_CODES = {"ISA": ("001", "021", "023", "024"), "GS": ("3", "4", "5"), "ST": ("2", "3", "4")}
_TRAILER_OF = {"ISA": "IEA", "GS": "GE", "ST": "SE"}

# pyx12 segment-level messages that never contain element values.
_SAFE_SEGMENT_MESSAGES = (
    re.compile(r'^Mandatory (segment|loop) "[^"]*" \([A-Z0-9_]+\) missing$'),
    re.compile(r"^Syntax Error \([A-Z0-9]+\): [A-Za-z0-9 ,]+$"),
    re.compile(r"^Segment contains (trailing element terminators|a leading space)$"),
    re.compile(r'^Too many elements in segment "[^"]*" \([A-Z0-9]+\)\. Has \d+, should have \d+$'),
    re.compile(r'^Too many sub-elements in composite "[^"]*" \([A-Z0-9-]+\)$'),
    re.compile(r'^(Mandatory composite|Composite) "[^"]*" \([A-Z0-9-]+\) is (missing|marked as Not Used)$'),
    re.compile(
        r"^(Segment|Loop) [A-Z0-9_]+ (found but marked as not used|exceeded max count\.\s+Found \d+, should have \d+)$"
    ),
    re.compile(r"^My HL count \d+ does not match your HL count \d*$"),
    re.compile(r"^HL parent \(\d*\) is not a valid parent$"),
    re.compile(r"^Your 2400/LX01 Service Line Number \d* does not match my count of \d+$"),
    re.compile(r"^(SE|GE) count of \d* for (SE|GE)02=\w* is wrong\. I count \d+$"),
    re.compile(r"^IEA count for IEA02=\w* is wrong$"),
    re.compile(r"^(SE|GE|IEA) id=\w* does not match (ST|GS|ISA) id=\w*$"),
    re.compile(r'^Mandatory segment "[^"]*" \((SE|GE|IEA)=\w*\) missing$'),
    re.compile(r"^(ISA|GS|ST) Interchange Control Number \w* not unique within file$"),
)
_NOT_FOUND = re.compile(r"^Segment \S+ not found\.\s+Started at (\S+)$")
_LENGTH = re.compile(r"= (\d+) ([<>]) (\d+) \((min|max)_len\)$")

_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class ValidationError:
    """One problem pyx12 found.

    ``segment_no`` counts segments from the ISA (= 1), like :class:`edi.errors.X12ParseError`;
    ``element`` is ``"NM109"``, ``"CLM05-3"`` or ``None`` for segment/envelope-level errors; ``code`` is
    pyx12's (999 IK3/IK4/IK5, TA1) code; ``level`` is ``interchange``, ``group``, ``transaction``,
    ``segment`` or ``element``; ``message`` never contains element values.
    """

    segment_no: int | None
    segment_id: str | None
    element: str | None
    code: str
    message: str
    level: str = "segment"

    def line(self, filename: str) -> str:
        where = []
        if self.segment_no is not None:
            where.append(f"segment {self.segment_no}" + (f" ({self.segment_id})" if self.segment_id else ""))
        elif self.segment_id:
            where.append(f"segment {self.segment_id}")
        prefix = f"{filename}: " + (", ".join(where) + ": " if where else "")
        return prefix + (f"{self.element} {self.message}" if self.element else self.message)


@dataclass(slots=True)
class ValidationReport:
    """pyx12's verdict: ``ok`` is true only when pyx12 accepted the file and reported no error.

    ``engine`` says who produced it: ``"pyx12"``, or ``"fast"`` when :mod:`edi.fastvalidate` gave the
    verdict (and the errors, with pyx12's locations) without running pyx12.
    """

    errors: list[ValidationError] = field(default_factory=list)
    pyx12_valid: bool = False
    transaction_sets: int = 0
    engine: str = "pyx12"

    @property
    def ok(self) -> bool:
        return self.pyx12_valid and not self.errors


def format_report(report: ValidationReport, filename: str) -> list[str]:
    """One line per error, ``out/x.837: segment 12 (NM1): NM109 <message>``; empty when the file is valid."""
    lines = [e.line(filename) for e in report.errors]
    if not report.ok and not lines:
        lines.append(f"{filename}: pyx12 rejected the file without details")
    return lines


@contextmanager
def _pyx12_silenced() -> Iterator[None]:
    log = logging.getLogger("pyx12")
    old_level, old_propagate = log.level, log.propagate
    log.setLevel(logging.CRITICAL + 1)
    log.propagate = False
    try:
        yield
    finally:
        log.setLevel(old_level)
        log.propagate = old_propagate


def _decode(data: bytes) -> tuple[str, list[ValidationError]]:
    """pyx12 reads ASCII only: report non-ASCII bytes by segment and validate the rest with ``?``."""
    try:
        return data.decode("ascii"), []
    except UnicodeDecodeError:
        pass
    term = data[105:106] if len(data) >= 106 and data.startswith(b"ISA") else b"~"
    sep = data[3:4] if data.startswith(b"ISA") else b"*"
    errors = []
    for seg_no, seg in enumerate(data.split(term), start=1):
        if seg.isascii():
            continue
        seg_id = seg.strip().split(sep, 1)[0][:3].decode("ascii", errors="replace")
        errors.append(
            ValidationError(
                seg_no,
                seg_id if seg_id.isalnum() else None,
                None,
                "6",
                "non-ASCII character (pyx12 and most payers read ASCII only)",
                "segment",
            )
        )
    text = data.decode("ascii", errors="replace").replace("\ufffd", "?")
    return text, errors


def _element_ref(seg_id: str | None, ele: Any) -> str:
    ref = f"{seg_id or ''}{int(ele.ele_pos):02d}"
    if ele.subele_pos is not None:
        ref += f"-{int(ele.subele_pos)}"
    return ref


def _element_message(code: str, name: str | None, err_str: str) -> str:
    msg = ELEMENT_ERRORS.get(code, f"data element error (code {code})")
    m = _LENGTH.search(err_str or "")
    if m and code in ("4", "5"):
        msg += f" ({m.group(1)} characters, {m.group(4)} {m.group(3)})"
    if name:
        msg += f' ("{name}")'
    return msg


def _segment_message(code: str, err_str: str, err_val: str | None) -> str:
    text = (err_str or "").strip()
    m = _NOT_FOUND.match(text)
    if m:
        return f"segment not expected here (searched from {m.group(1)})"
    if err_val and err_val in text:
        text = text.replace(err_val, "...")
    if any(p.match(text) for p in _SAFE_SEGMENT_MESSAGES):
        return text
    return SEGMENT_ERRORS.get(code, f"segment error (code {code})")


def _envelope_message(level: str, code: str, err_str: str) -> str:
    text = (err_str or "").strip()
    if any(p.match(text) for p in _SAFE_SEGMENT_MESSAGES):
        return text
    table = {"interchange": INTERCHANGE_ERRORS, "group": GROUP_ERRORS, "transaction": TRANSACTION_ERRORS}[
        level
    ]
    return table.get(code, f"{level} error (code {code})")


def _walk(root: Any) -> tuple[list[ValidationError], int]:
    """Flatten pyx12's error tree (err_handler -> err_isa -> err_gs -> err_st -> err_seg -> err_ele)."""
    out: list[ValidationError] = []
    st_count = 0

    def envelope(
        node: Any, seg_id: str, level: str, header_line: int | None, trailer_line: int | None
    ) -> None:
        for code, err_str in node.errors:
            code = str(code)
            trailer = code in _TRAILER_CODES[seg_id]
            line = trailer_line if trailer and trailer_line else header_line
            sid = _TRAILER_OF[seg_id] if trailer and trailer_line else seg_id
            out.append(ValidationError(line, sid, None, code, _envelope_message(level, code, err_str), level))
        for ele in getattr(node, "elements", []):
            for code, err_str, _val in ele.errors:
                out.append(
                    ValidationError(
                        header_line,
                        seg_id,
                        _element_ref(seg_id, ele),
                        str(code),
                        _element_message(str(code), ele.name, err_str),
                        "element",
                    )
                )

    for isa in root.children:
        envelope(isa, "ISA", "interchange", isa.cur_line_isa, isa.cur_line_iea)
        for gs in isa.children:
            envelope(gs, "GS", "group", gs.cur_line_gs, gs.cur_line_ge)
            for st in gs.children:
                st_count += 1
                envelope(st, "ST", "transaction", st.cur_line_st, st.cur_line_se)
                for seg in st.children:
                    line = seg.get_cur_line()
                    for code, err_str, err_val in seg.errors:
                        out.append(
                            ValidationError(
                                line,
                                seg.seg_id,
                                None,
                                str(code),
                                _segment_message(str(code), err_str, err_val),
                            )
                        )
                    for ele in seg.elements:
                        for code, err_str, _val in ele.errors:
                            out.append(
                                ValidationError(
                                    line,
                                    seg.seg_id,
                                    _element_ref(seg.seg_id, ele),
                                    str(code),
                                    _element_message(str(code), ele.name, err_str),
                                    "element",
                                )
                            )
    out.sort(key=lambda e: e.segment_no if e.segment_no is not None else 0)
    return out, st_count


def _claimflow_map_path(text: str) -> str | None:
    """The map folder from :mod:`edi.maps` when a GS names a guide claimflow ships a map for
    (270/271 005010X279A1, 276/277 005010X212); None (pyx12's own folder) otherwise."""
    from edi.maps import map_path, owns

    sep = text[3:4]
    term = text[105:106]
    if not sep or not term:
        return None
    for seg in text.split(term):
        fields = seg.strip().split(sep)
        if fields[0] == "GS" and len(fields) > 8 and owns(fields[1], fields[8]):
            return map_path()
    return None


def _run_pyx12(text: str) -> tuple[bool, Any]:
    """x12n_document with the error tree kept (see module docstring)."""
    import pyx12.errh_json
    import pyx12.error_visitor
    import pyx12.params
    import pyx12.x12n_document

    captured: list[Any] = []

    class _KeepTree(pyx12.error_visitor.error_visitor):
        def __init__(self, fd: Any) -> None:
            pass

        def visit_root_pre(self, errh: Any) -> None:
            captured.append(errh)

    with _lock, _pyx12_silenced():
        original = pyx12.errh_json.errh_json_visitor
        pyx12.errh_json.errh_json_visitor = _KeepTree
        try:
            valid = pyx12.x12n_document.x12n_document(
                pyx12.params.ParamsBase(),
                io.StringIO(text),
                None,
                None,
                fd_json=io.StringIO(),
                map_path=_claimflow_map_path(text),
            )
        finally:
            pyx12.errh_json.errh_json_visitor = original
    return bool(valid), captured[0] if captured else None


def validate_x12(
    source: str | os.PathLike[str] | bytes | bytearray | memoryview, engine: str = "pyx12"
) -> ValidationReport:
    """Validate one interchange file (path) or its bytes against the implementation guide named in GS08.

    ``engine="fast"`` proves valid files with :mod:`edi.fastvalidate` (same verdict, pyx12's report for
    anything it cannot prove); ``engine="pyx12"`` runs pyx12 itself.
    Never raises for bad content: unreadable or unsupported input becomes a report with errors.
    """
    if engine == "fast":
        from edi.fastvalidate import validate_fast

        fast: ValidationReport = validate_fast(source)
        return fast
    if engine != "pyx12":
        raise ValueError(f"unknown validation engine {engine!r} (fast or pyx12)")
    import pyx12.errors

    data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else Path(source).read_bytes()
    report = ValidationReport()
    text, report.errors = _decode(data)
    if len(text) < 106 or not text.startswith("ISA"):
        report.errors.append(
            ValidationError(1, None, None, "024", "not an X12 interchange (no ISA header)", "interchange")
        )
        return report
    try:
        valid, tree = _run_pyx12(text)
    except pyx12.errors.EngineError:
        report.errors.append(
            ValidationError(
                2, "GS", "GS08", "2", "no pyx12 map for this functional group / guide version", "group"
            )
        )
        return report
    except (
        pyx12.errors.X12Error,
        pyx12.errors.X12PathError,
        ValueError,
        KeyError,
        IndexError,
        AttributeError,
    ) as e:
        report.errors.append(
            ValidationError(
                None,
                None,
                None,
                "024",
                f"pyx12 could not read the interchange ({type(e).__name__})",
                "interchange",
            )
        )
        return report
    report.pyx12_valid = valid and not report.errors
    if tree is not None:
        errors, report.transaction_sets = _walk(tree)
        report.errors.extend(errors)
    elif not valid:
        report.errors.append(
            ValidationError(1, "ISA", None, "024", "not a readable X12 interchange", "interchange")
        )
    return report
