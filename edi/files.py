"""Local files that must survive a crash, and their identity: one durable write, one file hash.

Every file that crosses the wire is kept by its sha256 and written so that a crash (``kill -9``, power
loss) leaves either the old file or the whole new one, never a torn or world-readable one. The 837 writer
(:mod:`claimflow.services.outbound`), the inbound archive (:mod:`claimflow.services.inbound`), SSH key files
(:mod:`sftp.keys`) and the SFTP inbox (:mod:`sftp.transfer`) all use these functions. They live in
:mod:`edi`, the lowest layer, because both ``sftp`` and ``parsers`` sit on it and neither may import the
other or the app shell (tests/quality/test_layers.py); they need nothing beyond the standard library.

The durable write, step by step (each step is why the next is safe):

1. a temporary name beside the target, ``.<name>.<16 hex>.tmp``, created with ``O_EXCL`` and the final
   mode (0600 by default): concurrent writers never share a temporary file, and no one can read it early;
2. an exclusive ``flock`` on it while it is written: a temporary file nobody holds a lock on belongs to a
   dead writer, and :func:`sweep_stale_temps` removes exactly those;
3. the bytes, then ``fsync``: they are on disk before they get the real name;
4. ``rename`` over the target, still under the lock; then ``fsync`` of the folder, so the new name is too.

Any failure (disk full, a vanished source, a signal) removes the temporary file and re-raises.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import io
import logging
import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

CHUNK = 1 << 20
"""Bytes per read when copying a file."""

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def sha256_file(source: str | os.PathLike[str] | io.BufferedIOBase) -> str:
    """Hex SHA-256 of a file (a path, or a binary file open for reading at its start), read in chunks —
    never the whole file in memory. Callers that must refuse FIFOs or devices open the file themselves
    and pass it in."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    return hashlib.file_digest(source, "sha256").hexdigest()


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """fsync a folder, so the names created or renamed in it survive a power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")


def write_durably(
    path: str | os.PathLike[str], source: bytes | BinaryIO, *, mode: int = 0o600, sync_dir: bool = True
) -> None:
    """Write ``source`` (bytes, or a binary file read to its end) to ``path`` durably and atomically —
    the steps in the module docstring. ``sync_dir=False`` leaves the folder's fsync to a caller that
    batches it. The parent folder must exist."""
    path = Path(path)
    tmp = _temp_name(path)
    fout = os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, mode), "wb")
    try:
        with fout:
            fcntl.flock(fout.fileno(), fcntl.LOCK_EX)
            os.fchmod(fout.fileno(), mode)  # the umask may have narrowed it; never wider than asked
            if isinstance(source, bytes | bytearray | memoryview):
                fout.write(source)
            else:
                shutil.copyfileobj(source, fout, CHUNK)
            fout.flush()
            os.fsync(fout.fileno())
            os.replace(tmp, path)  # still under the lock: no sweeper removes it before the rename
    except BaseException:
        tmp.unlink(missing_ok=True)  # disk full, a vanished source, a kill signal: never a partial file left
        raise
    if sync_dir:
        fsync_dir(path.parent)


def sweep_stale_temps(path: str | os.PathLike[str]) -> int:
    """Remove temporary files of ``path`` left by a :func:`write_durably` that died (``kill -9``, power
    loss): their flock went with the process. A live writer's file is locked and left alone. Returns how
    many were removed."""
    path = Path(path)
    removed = 0
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*tmp"):
        try:
            fd = os.open(tmp, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | _O_CLOEXEC)
        except OSError:
            continue
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live writer
            tmp.unlink(missing_ok=True)
            removed += 1
            log.info("removed a temporary copy of %s… left by an interrupted writer", path.name[:12])
        finally:
            os.close(fd)
    return removed
