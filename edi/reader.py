"""Streaming X12 segment reader: any delimiters, any file size, constant memory.

The reader finds the delimiters in the ISA (or, for a bare ``ST..SE`` file, in the ST segment), then reads
the input in 1 MiB chunks and splits each chunk into segments with ``str.split`` — the per-segment work is
done in C, which is what makes 40 MB/s parsers possible in CPython. Two interfaces:

* :func:`iter_segments` yields ``(segment_no, elements)`` — ``elements[0]`` is the segment ID. Simple; use
  it for small files and tests.
* :func:`iter_batches` yields :class:`SegmentBatch` (``first``, ``delimiters``, ``segments``): the raw
  segment strings of one chunk, whitespace and empty segments already removed. Hot parsers (835) loop
  over these themselves, count ``segment_no`` and split elements only where needed.

What is tolerated, because real files do it (see ``../shared/conformance/README.md``):

* a UTF-8 byte-order mark (the file is then decoded as UTF-8); otherwise bytes are decoded as latin-1,
  which maps every byte to one character and never fails, so a stray ``é`` does not stop a remittance;
* CR/LF after terminators, a newline as the terminator itself, lines wrapped at a fixed width, lines
  indented with spaces, empty segments (``~~``), a missing terminator after the last segment;
* variable-width ISA segments as printed in the implementation guides (``ISA *00 *...``): the element
  separator is the first non-space character after ``ISA``, ISA16 the first non-space character after
  the 16th separator and the terminator the character after it;
* files that are only transaction sets (``ST*835*...~``) or functional groups, without an ISA: element
  separator from the ST/GS, terminator from the end of that segment, component separator ``:`` unless a
  composite in the first kilobytes shows another one;
* several interchanges per file, each with its own delimiters;
* end-of-file padding after the last segment: a DOS end-of-file byte (0x1A), NUL bytes, whitespace — as
  long as nothing but padding follows; the padding is ignored and its length logged (a warning).

What is refused, with an :class:`~edi.errors.X12ParseError` naming file and segment number: an empty file,
a file that does not start with ISA/GS/ST, NUL bytes and other control characters (binary junk), a
segment longer than ``max_segment`` characters (1 MiB: a corrupt or hostile file must not be read into
memory whole), UTF-16 files, invalid UTF-8 after a UTF-8 byte-order mark, and an element separator that
is a multi-byte UTF-8 character (X12 delimiters are single bytes; the message says so).

ISA elements are returned with their fixed-width padding stripped (``ISA06`` is ``"SENDER"``).
"""

from __future__ import annotations

import codecs
import functools
import logging
import os
import re
from collections.abc import Iterator
from typing import IO, NamedTuple

from edi.delimiters import Delimiters
from edi.errors import X12ParseError

CHUNK_SIZE = 1 << 20
"""Bytes read per chunk."""

MAX_SEGMENT = 1 << 20
"""Longest segment accepted, in characters. The longest segment in the 835/277CA/999 guides is a few
hundred characters; anything near a megabyte is a corrupt file (or a file with no terminator at all)."""

_BOM = b"\xef\xbb\xbf"
_HEAD = 4096  # bytes needed to find the delimiters (ISA is 106; bare ST files need a composite)
_WS = " \t\r\n"
_BASE_ALLOWED = bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100)) + b"\t\r\n"
_PADDING = b"\x1a\x00 \t\r\n"  # what may follow the last segment: DOS end-of-file byte, NUL, whitespace
_PADDING_START = frozenset(b"\x1a\x00")

log = logging.getLogger(__name__)

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]


class SegmentBatch(NamedTuple):
    """Segments of one chunk: ``segments[i]`` is segment number ``first + i``."""

    first: int
    delimiters: Delimiters
    segments: list[str]


def source_name(source: object, name: str | None = None) -> str | None:
    """The name errors use for ``source``: ``name`` if given, else a path's or file object's base name."""
    if name is not None:
        return name
    if isinstance(source, str | os.PathLike):
        return os.path.basename(os.fspath(source))
    fname = getattr(source, "name", None)
    if isinstance(fname, str):
        return os.path.basename(fname)
    return None


def _err(msg: str, name: str | None, segno: int | None, sid: str | None = None) -> X12ParseError:
    return X12ParseError(msg, file=name, segment_no=segno, segment_id=sid)


def _bad_char_message(ch: str) -> str:
    if ch == "\x00":
        return "NUL byte in data (binary or corrupt file)"
    return f"control character 0x{ord(ch):02X} in data (binary or corrupt file)"


# --------------------------------------------------------------------------------------------------------
# Delimiter detection


def _check_delims(d: Delimiters, name: str | None, segno: int, sid: str) -> Delimiters:
    chars = [d.element, d.component, d.segment]
    if len(set(chars)) != 3:
        raise _err(
            "element separator, component separator and segment terminator must be three different characters",
            name,
            segno,
            sid,
        )
    for label, c in (("element separator", d.element), ("component separator", d.component)):
        if c.isalnum() or c in _WS:
            raise _err(f"{label} must not be a letter, digit, space or line break", name, segno, sid)
    if d.segment.isalnum() or d.segment in " \t":
        raise _err("segment terminator must not be a letter, digit or space", name, segno, sid)
    return d


_ISA_FIXED_SEPARATORS = (3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103)


def _detect_isa(text: str, name: str | None, segno: int, eof: bool = True) -> tuple[Delimiters, int]:
    """Delimiters declared by the ISA at the start of ``text``; also the index of the terminator."""
    n = len(text)
    i = 3
    while i < n and text[i] == " ":
        i += 1
    if i >= n:
        raise _err("ISA segment is truncated", name, segno, "ISA")
    e = text[i]
    if e.isalnum() or e in _WS:
        raise _err(
            "ISA element separator is missing (a letter, digit or line break follows ISA)", name, segno, "ISA"
        )
    # Fixed width: separators at the standard positions, ISA16 at 104, terminator at 105.
    if n > 105 and all(text[q] == e for q in _ISA_FIXED_SEPARATORS):
        pos = 103
    else:
        pos = i
        for _ in range(15):
            pos = text.find(e, pos + 1)
            if pos < 0 or pos > 400:
                raise _err("ISA segment has fewer than 16 elements (truncated?)", name, segno, "ISA")
    j = pos + 1
    while j < n and text[j] == " ":
        j += 1
    if j + 1 >= n:
        raise _err("ISA segment is truncated (no ISA16 or terminator)", name, segno, "ISA")
    comp = text[j]
    k = j + 1
    while k < n and text[k] == " ":
        k += 1
    if k >= n:
        raise _err("ISA segment is truncated (no terminator)", name, segno, "ISA")
    term = text[k]
    if term in "\r\n":
        # A newline right after ISA16 is the terminator, unless the next line starts with punctuation:
        # ``...*:\n~GS*...`` writes the terminator at the start of each line.
        m = k
        while m < n and text[m] in _WS:
            m += 1
        if m < n and not text[m].isalnum() and text[m] not in (e, comp):
            term = text[m]
            k = m
        elif term == "\r" and k + 1 < n and text[k + 1] == "\n":
            term = "\n"
            k += 1
    fields = text[i + 1 : pos].split(e)
    rep = fields[10].strip() if len(fields) > 10 else ""
    version = fields[11].strip() if len(fields) > 11 else ""
    if len(rep) != 1 or rep.isalnum() or rep in _WS or rep in (e, comp, term) or version < "00402":
        rep = ""
    return _check_delims(Delimiters(e, comp, rep, term), name, segno, "ISA"), k


_COMPOSITE_HINT = re.compile(r"(?:SVC|STC|CLM|HI|SV1|SV2|IK4|CTX)\*[A-Z0-9]{1,3}([^A-Za-z0-9 *])")


def _detect_bare(text: str, name: str | None) -> Delimiters:
    """Delimiters of a file that starts with ST or GS (no interchange envelope)."""
    sid = text[:2]
    e = text[2:3]
    if not e or e.isalnum() or e in _WS:
        raise _err("file does not start with an ISA segment (nor a GS or ST)", name, 1)
    term = ""
    for ch in text[3:300]:
        if ch.isalnum() or ch == e or ch == " " or ch == "-" or ch == ".":
            continue
        term = ch
        break
    if not term:
        raise _err(f"{sid} segment has no terminator in its first 300 characters", name, 1, sid)
    comp = ":"
    probe = text[:_HEAD].replace(e, "*") if e != "*" else text[:_HEAD]
    m = _COMPOSITE_HINT.search(probe)
    if m and m.group(1) not in (term, e, "\r", "\n"):
        comp = m.group(1)
    rep = "^" if "^" not in (e, comp, term) else ""
    return _check_delims(Delimiters(e, comp, rep, term), name, 1, sid)


def _refuse_multibyte_separator(raw: bytes, name: str | None) -> None:
    """Raise when the element separator after the leading ISA/GS/ST is a multi-byte UTF-8 character.

    X12 delimiters are single characters of the basic or extended character set (the ISA is 106 bytes);
    ``ISA§00§…`` written in UTF-8 puts two bytes there. Read as latin-1 that looks like a letter
    followed by junk, and the message would blame something else.
    """
    sid = raw[:3] if raw.startswith(b"ISA") else raw[:2]
    if sid not in (b"ISA", b"GS", b"ST"):
        return
    i = len(sid)
    while i < len(raw) and raw[i] == 0x20:
        i += 1
    lead = raw[i] if i < len(raw) else 0
    if lead < 0xC2 or lead > 0xF4:
        return
    size = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    try:
        raw[i : i + size].decode("utf-8")
    except UnicodeDecodeError:
        return  # a single-byte (latin-1) separator such as 0xA7 followed by data
    raise _err(
        f"{sid.decode()} element separator is a multi-byte character ({size} bytes in UTF-8); "
        "X12 delimiters are single bytes",
        name,
        1,
        sid.decode(),
    )


def detect_delimiters(head: bytes | str, *, name: str | None = None) -> Delimiters:
    """Delimiters of the interchange (or bare transaction set) that ``head`` starts with.

    ``head`` is the start of a file (a few hundred bytes are enough). A byte-order mark and leading
    whitespace are skipped. Raises :class:`X12ParseError` when no delimiters can be found.
    """
    if isinstance(head, bytes | bytearray | memoryview):
        raw = bytes(head)
        if raw.startswith(_BOM):
            raw = raw[3:]
        raw = raw.lstrip(b" \t\r\n")
        _refuse_multibyte_separator(raw, name)
        text = raw.decode("latin-1")
    else:
        text = head.lstrip("\ufeff")
    text = text.lstrip(_WS)
    if not text:
        raise _err("empty file", name, 1)
    if text.startswith("ISA"):
        return _detect_isa(text, name, 1)[0]
    if text.startswith(("ST", "GS")):
        return _detect_bare(text, name)
    raise _err("file does not start with an ISA segment (nor a GS or ST)", name, 1)


def split_components(value: str, delimiters: Delimiters) -> list[str]:
    """``"HC:99213:25"`` → ``["HC", "99213", "25"]``; an empty value gives ``[""]``."""
    return value.split(delimiters.component)


def split_repetitions(value: str, delimiters: Delimiters) -> list[str]:
    """Repeated element values (5010 ISA11); without a repetition separator, the value itself."""
    return value.split(delimiters.repetition) if delimiters.repetition else [value]


# --------------------------------------------------------------------------------------------------------
# Streaming


def _open(source: Source) -> tuple[IO[bytes] | None, bytes | None, bool]:
    """(file object, in-memory bytes, whether we opened the file)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return None, bytes(source), False
    if isinstance(source, str | os.PathLike):
        return open(source, "rb"), None, True
    if hasattr(source, "read"):
        return source, None, False
    raise TypeError(f"cannot read X12 from {type(source).__name__}")


class _Input:
    """Chunks of decoded text; the decoder is chosen once the head has been seen."""

    __slots__ = ("_allowed", "_data", "_dec", "_fh", "_pos", "chunk_size", "eof", "name", "padding")

    def __init__(self, fh: IO[bytes] | None, data: bytes | None, chunk_size: int, name: str | None) -> None:
        self._fh = fh
        self._data = data
        self._pos = 0
        self.chunk_size = chunk_size
        self.eof = False
        self.name = name
        self.padding = 0
        self._dec: codecs.IncrementalDecoder | None = None
        self._allowed = _BASE_ALLOWED

    def raw(self, size: int) -> bytes:
        if self._fh is not None:
            b = self._fh.read(size)
            if not isinstance(b, bytes | bytearray):
                raise TypeError("X12 input must be opened in binary mode")
            b = bytes(b)
        else:
            assert self._data is not None
            b = self._data[self._pos : self._pos + size]
            self._pos += len(b)
        if not b:
            self.eof = True
        return b

    def _padding_to_eof(self, tail: bytes) -> int | None:
        """Bytes of padding when ``tail`` and the rest of the input are only padding; else None.

        Reads the rest of the input (in chunks): padding is only padding when nothing follows it. When
        something does, the input is not rewound — the caller raises for the control character anyway.
        """
        if tail.translate(None, _PADDING):
            return None
        n = len(tail)
        while not self.eof:
            more = self.raw(self.chunk_size)
            if more.translate(None, _PADDING):
                return None
            n += len(more)
        return n

    def set_encoding(self, utf8: bool) -> None:
        self._dec = codecs.getincrementaldecoder("utf-8")("strict") if utf8 else None

    def allow(self, delims: Delimiters) -> None:
        extra = "".join(c for c in delims.all() if ord(c) < 0x20 or ord(c) == 0x7F)
        self._allowed = _BASE_ALLOWED + extra.encode("latin-1")

    def decode(self, b: bytes, segno: int) -> tuple[str, str | None]:
        """Text of ``b`` and, when a control character is in it, that character (text stops there).

        End-of-file padding — a DOS end-of-file byte (0x1A), NUL bytes, whitespace — that runs to the end
        of the input is not an error: the text stops there, the input is at its end and the padding is
        logged (its length only).
        """
        bad = b.translate(None, self._allowed)
        if bad and bad[0] in _PADDING_START:
            cut = b.find(bad[0])
            pad = self._padding_to_eof(b[cut:])
            if pad is not None:
                self.padding = pad  # logged when the reader reaches the end (not by a head-only probe)
                b = b[:cut]
                bad = b""
        if self._dec is None:
            text = b.decode("latin-1")
        else:
            try:
                text = self._dec.decode(b, final=self.eof)
            except UnicodeDecodeError:
                raise _err(
                    "invalid UTF-8 (the file starts with a UTF-8 byte-order mark)", self.name, segno + 1
                ) from None
        if bad:
            ch = chr(bad[0])
            return text[: text.find(ch)], ch
        return text, None


@functools.lru_cache(maxsize=32)
def _gaps(term: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Patterns for "indentation or an empty segment after a terminator" (``~ ``, ``~~``) and for
    indentation alone.

    One compiled pattern scans a 1 MB chunk 3-4x faster than the three ``term + " " in text`` checks
    it replaces (CPython's two-character substring search), and every chunk is checked.
    """
    t = re.escape(term)
    return re.compile(t + "[ \t" + t + "]"), re.compile(t + "[ \t]")


def _clean(text: str, term: str, at_boundary: bool) -> tuple[str, bool]:
    """Drop line breaks that are not the terminator and indentation after terminators (all in C).

    ``at_boundary``: ``text`` starts a new segment, so leading blanks are indentation, not data.
    Also returns whether the text is free of empty segments (``~~``), so the caller can skip filtering.
    """
    if term == "\n":
        if "\r" in text:
            text = text.replace("\r", "")
    elif term == "\r":
        if "\n" in text:
            text = text.replace("\n", "")
    else:
        if "\n" in text:
            text = text.replace("\n", "")
        if "\r" in text:
            text = text.replace("\r", "")
    any_gap, indent = _gaps(term)
    no_gaps = any_gap.search(text) is None
    if not no_gaps and indent.search(text):
        text = re.sub(re.escape(term) + r"[ \t]+", lambda _m: term, text)
    if at_boundary and text[:1] in (" ", "\t"):
        text = text.lstrip(" \t")
    return text, no_gaps


def iter_batches(
    source: Source,
    *,
    name: str | None = None,
    chunk_size: int = CHUNK_SIZE,
    max_segment: int = MAX_SEGMENT,
    log_padding: bool = True,
) -> Iterator[SegmentBatch]:
    """Segments of ``source`` (path, bytes or binary file) in batches, streaming in ``chunk_size`` reads.

    Each batch holds complete, non-empty segments stripped of surrounding whitespace; segment numbers
    count these (ISA = 1). Errors are raised after every good segment before them has been yielded, so
    a parser reports the first problem in file order. ``log_padding=False``: end-of-file padding is
    still ignored but not logged (a probe such as routing, so each file logs it once, when parsed).
    """
    label = source_name(source, name)
    fh, data, opened = _open(source)
    try:
        yield from _batches(_Input(fh, data, max(chunk_size, 1), label), label, max_segment, log_padding)
    finally:
        if opened and fh is not None:
            fh.close()


_ISA_LOOKAHEAD = 300  # characters needed after a later ``~ISA`` to read its delimiters


def _head(inp: _Input, name: str | None) -> tuple[bytes, Delimiters, bool]:
    """First bytes (BOM and leading whitespace removed), their delimiters, and whether to decode UTF-8."""
    head = inp.raw(inp.chunk_size)
    while len(head) < _HEAD and not inp.eof:
        head += inp.raw(inp.chunk_size)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _err("file is UTF-16 encoded; X12 files must be 8-bit text", name, 1)
    utf8 = head.startswith(_BOM)
    if utf8:
        head = head[3:]
    head = head.lstrip(b" \t\r\n")
    if not head:
        raise _err("empty file", name, 1)
    _refuse_multibyte_separator(head, name)
    probe = head[:_HEAD].decode("utf-8", errors="replace") if utf8 else head[:_HEAD].decode("latin-1")
    if probe.startswith("ISA"):
        try:
            delims, _ = _detect_isa(probe, name, 1)
        except X12ParseError:
            if utf8 or max(head[:400], default=0) < 0x80:
                raise
            # a multi-byte UTF-8 terminator (``…``) makes the file UTF-8 even without a byte-order mark
            delims, _ = _detect_isa(head[:_HEAD].decode("utf-8", errors="replace"), name, 1)
            utf8 = True
    elif probe.startswith(("ST", "GS")):
        delims = _detect_bare(probe, name)
    else:
        bad = head[:64].translate(None, _BASE_ALLOWED)
        if bad:
            raise _err(_bad_char_message(chr(bad[0])) + "; not an X12 file", name, 1)
        raise _err("file does not start with an ISA segment (nor a GS or ST)", name, 1)
    return head, delims, utf8


def _batches(
    inp: _Input, name: str | None, max_segment: int, log_padding: bool = True
) -> Iterator[SegmentBatch]:
    head, delims, utf8 = _head(inp, name)
    inp.set_encoding(utf8)
    inp.allow(delims)
    term = delims.segment
    text, pending_error = inp.decode(head, 0)
    text, no_empty = _clean(text, term, True)
    segno = 0
    while True:
        # ``text`` starts at a segment boundary, is cleaned and holds no control characters.
        if text.startswith("ISA") and len(text) < _ISA_LOOKAHEAD and not inp.eof and pending_error is None:
            b = inp.raw(inp.chunk_size)
            chunk, pending_error = inp.decode(b, segno)
            text += _clean(chunk, term, False)[0]
            no_empty = False  # a "~~" may straddle the two pieces: filter this round
            continue
        final = inp.eof or pending_error is not None
        tisa = term + "ISA"
        start = 0
        if segno and text.startswith("ISA"):
            new = _redetect(text, 0, name, segno)
            if new is not None and new != delims:
                delims, term, tisa = new, new.segment, new.segment + "ISA"
                no_empty = False  # checked for the old terminator
                inp.allow(new)
        n = len(text)
        # Later interchanges may declare other delimiters: find each ``~ISA`` and re-detect.
        p = text.find(tisa)
        while p >= 0:
            if n - p < _ISA_LOOKAHEAD and not final:
                break  # not enough text to read that ISA: carry it into the next round
            new = _redetect(text, p + 1, name, segno)
            if new is not None and new != delims:
                segs = list(filter(None, text[start : p + 1].split(term)))
                if segs:
                    yield SegmentBatch(segno + 1, delims, segs)
                    segno += len(segs)
                delims, term, tisa = new, new.segment, new.segment + "ISA"
                no_empty = False  # checked for the old terminator
                inp.allow(new)
                start = p + 1
            p = text.find(tisa, p + 4)
        carry = p >= 0
        if carry:
            parts = text[start : p + 1].split(term)
            parts.pop()
            rest = text[p + 1 :]
        else:
            parts = (text[start:] if start else text).split(term)
            rest = parts.pop()
        # drop empty segments (``~~``) — only when there can be any: the scan is in C either way
        segs = parts if (no_empty and text[:1] != term) else list(filter(None, parts))
        if segs:
            yield SegmentBatch(segno + 1, delims, segs)
            segno += len(segs)
        if len(rest) > max_segment:
            raise _err(
                f"segment longer than {max_segment} characters (no segment terminator; corrupt file?)",
                name,
                segno + 1,
            )
        if carry:
            text = rest
            continue
        if pending_error is not None:
            raise _err(_bad_char_message(pending_error), name, segno + 1)
        if inp.eof:
            last = rest.strip(_WS)
            if last:
                # the last segment without a terminator: accept it (the envelope notices truncation)
                yield SegmentBatch(segno + 1, delims, [last])
            if inp.padding and log_padding:
                log.warning(
                    "%s: %d bytes of end-of-file padding (0x1A/NUL/whitespace) after the last segment ignored",
                    name or "<input>",
                    inp.padding,
                )
            return
        b = inp.raw(inp.chunk_size)
        chunk, pending_error = inp.decode(b, segno)
        # ``rest`` holds no terminator, so "~~" in the new text can only come from the new chunk
        if rest:
            cleaned, no_empty = _clean(chunk, term, False)
            text = rest + cleaned
        else:
            text, no_empty = _clean(chunk, term, True)


def _redetect(text: str, at: int, name: str | None, segno: int) -> Delimiters | None:
    """Delimiters of a later ISA at ``text[at:]``; None when it is malformed (the envelope says why)."""
    try:
        return _detect_isa(text[at : at + 600], name, segno + 1)[0]
    except X12ParseError:
        return None


# --------------------------------------------------------------------------------------------------------
# Segment-at-a-time interface

_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")
_known_ids: set[str] = set()


def check_segment_id(elements: list[str], segno: int, name: str | None) -> list[str]:
    """Validate ``elements[0]`` as a segment ID; normalise an ISA (padding stripped).

    Returns the elements to use. Junk before a segment ID (``~GS``), lower case or a too long ID is an
    error naming the segment number — not the text, which might be patient data.
    """
    sid = elements[0]
    if sid.rstrip(" ") == "ISA":
        return [e.strip(" ") for e in elements]
    if _ID.fullmatch(sid):
        if len(_known_ids) < 4096:
            _known_ids.add(sid)
        return elements
    stripped = sid.strip(_WS)
    if stripped != sid and _ID.fullmatch(stripped):
        elements[0] = stripped
        return elements
    raise _err("segment ID is not 2-3 capital letters or digits (junk before the segment ID?)", name, segno)


def iter_segments(
    source: Source,
    *,
    name: str | None = None,
    chunk_size: int = CHUNK_SIZE,
    max_segment: int = MAX_SEGMENT,
    log_padding: bool = True,
) -> Iterator[tuple[int, list[str]]]:
    """``(segment_no, elements)`` for every segment; ``elements[0]`` is the segment ID.

    >>> list(iter_segments(b"ST*999*0001~AK1*HC*17~"))[1]
    (2, ['AK1', 'HC', '17'])
    """
    label = source_name(source, name)
    known = _known_ids
    for first, delims, segs in iter_batches(
        source, name=label, chunk_size=chunk_size, max_segment=max_segment, log_padding=log_padding
    ):
        e = delims.element
        n = first - 1
        for s in segs:
            n += 1
            el = s.split(e)
            if el[0] not in known:
                el = check_segment_id(el, n, label)
            yield n, el
