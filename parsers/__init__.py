"""Inbound X12 parsers: TA1, 999 (005010X231A1), 277CA (005010X214), 835 (005010X221A1) → typed records.

One module per transaction and guide version; each has ``parse(source, *, name, file_sha256)`` that
streams :mod:`parsers.records` records. :func:`parse_file` classifies a file (:mod:`parsers.detect`)
and dispatches::

    for rec in parse_file("inbound/remit.835", file_sha256=sha):
        ...

The parsers import only :mod:`edi` (and the standard library), so ``claimflow parse`` starts fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from edi.errors import X12ParseError
from parsers.detect import HEAD_BYTES, classify
from parsers.records import Record

__all__ = ["PARSERS", "Record", "parse_file", "parser_for", "sha256_of"]


def _load(kind: str) -> Callable[..., Iterator[Record]]:
    if kind == "835":
        from parsers import x835_005010x221a1 as m835

        return m835.parse
    if kind == "999":
        from parsers import x999_005010x231a1 as m999

        return m999.parse
    if kind == "277CA":
        from parsers import x277ca_005010x214 as m277

        return m277.parse
    if kind == "TA1":
        from parsers import ta1

        return ta1.parse
    if kind == "271":
        from parsers import x271_005010x279a1 as m271

        return m271.parse
    if kind == "277":
        from parsers import x277_005010x212 as m212

        return m212.parse
    raise KeyError(kind)


PARSERS = ("835", "999", "277CA", "TA1", "271", "277")
"""Kinds :func:`parse_file` reads."""


def parser_for(kind: str) -> Callable[..., Iterator[Record]]:
    """The ``parse`` function for a kind from :func:`parsers.detect.detect_transaction`."""
    return _load(kind)


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, streamed (the one file hash, :func:`edi.files.sha256_file`)."""
    from edi.files import sha256_file

    return sha256_file(path)


_UNSUPPORTED = {
    "277-other": "a 277 that is neither a 277CA (005010X214) nor a claim status response (005010X212)",
    "997": "a 997 (4010 functional acknowledgment); only 999 (005010X231A1) is read",
    "837": "an 837 claim file; claimflow parse reads inbound TA1, 999, 277CA and 835 files",
    "other": "not a TA1, 999, 277CA or 835 file",
}


def _envelope_check(path: str | os.PathLike[str], label: str) -> None:
    """Walk the envelope of a file no parser claims; raise its first structural error, if any."""
    from edi.reader import iter_segments
    from parsers.envelope import Envelope

    env = Envelope(label, None)
    segno = 0
    sid: str | None = None
    for segno, el in iter_segments(path, name=label):
        sid = el[0]
        env.control(segno, el)
    env.finish(segno, sid)


def _is_x212(path: str | os.PathLike[str], label: str) -> bool:
    """A 277 claim status response (005010X212), the one non-277CA 277 that is read."""
    with open(path, "rb") as f:
        c = classify(f.read(HEAD_BYTES), name=label)
    versions = [v for v in (c.st03, c.gs08) if v]
    return any("X212" in v for v in versions)


def parse_file(
    path: str | os.PathLike[str],
    *,
    file_sha256: str | None = None,
    name: str | None = None,
    kind: str | None = None,
) -> Iterator[Record]:
    """Records of the inbound file at ``path``, streaming.

    ``file_sha256``: the digest the caller recorded when it archived the file; when omitted it is
    computed first (one extra read of the file, ~1 GB/s) so every record carries it. ``kind`` skips
    detection. Raises :class:`~edi.errors.X12ParseError` (one line: file, segment, element) for a
    malformed or unsupported file — possibly after some records have been yielded.
    """
    label = name if name is not None else os.path.basename(os.fspath(path))
    if kind is None:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
        kind = classify(head, name=label).kind
    if kind == "277" and not _is_x212(path, label):
        kind = "277-other"  # X213, X228, X364 …: named below, not read
    if kind not in PARSERS:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
        if kind == "other" or classify(head, name=label).st01 is None:
            # no ST in the head, so the kind is a guess from GS01 (or none at all): usually a truncated
            # or broken interchange, which the envelope locates (``segment 2 (GS): file ends inside …``)
            # better than "not an 835"
            _envelope_check(path, label)
        msg = _UNSUPPORTED.get(kind, _UNSUPPORTED["other"])
        if kind == "277-other":  # name the guide it is (X228, X364 …), not a guess
            from parsers.detect import describe_277

            c = classify(head, name=label)
            msg = (
                f"a {describe_277(c.st03, c.gs08)} is not a 277CA (005010X214) or a claim status response "
                "(005010X212); only those 277s are read"
            )
        raise X12ParseError(msg, file=label, segment_no=None)
    digest = file_sha256 if file_sha256 is not None else sha256_of(path)
    return _load(kind)(path, name=label, file_sha256=digest)
