"""edi.files: the one durable write (temp + flock + fsync + rename + folder fsync) and the one file hash."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from edi import files


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sha256_of_a_path_and_of_an_open_file(tmp_path: Path) -> None:
    path = tmp_path / "big.x12"
    data = os.urandom(3 * files.CHUNK + 17)  # more than one chunk, not a multiple of it
    path.write_bytes(data)
    want = hashlib.sha256(data).hexdigest()
    assert files.sha256_file(path) == files.sha256_file(str(path)) == want
    with open(path, "rb") as f:
        assert files.sha256_file(f) == want


@pytest.mark.parametrize("kind", ["bytes", "file"])
def test_write_durably_replaces_the_target_privately(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "out.x12"
    target.write_bytes(b"old")
    data = b"ISA*00*" + os.urandom(2 * files.CHUNK)
    source: Any = data if kind == "bytes" else io.BytesIO(data)
    old_umask = os.umask(0o277)  # a umask that would narrow 0600 to 0400: the helper still gives 0600
    try:
        files.write_durably(target, source)
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == data
    assert _mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["out.x12"]  # no temporary file left


def test_write_durably_honours_mode_and_syncs_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    monkeypatch.setattr(files, "fsync_dir", lambda p: synced.append(os.fspath(p)))
    files.write_durably(tmp_path / "a", b"1", mode=0o640)
    files.write_durably(tmp_path / "b", b"2", sync_dir=False)
    assert _mode(tmp_path / "a") == 0o640
    assert synced == [str(tmp_path)]


def test_a_failed_write_leaves_neither_temp_nor_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fsrc: Any, fdst: Any, length: int = 0) -> None:
        fdst.write(fsrc.read(10))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfileobj", full)
    with pytest.raises(OSError, match="No space"):
        files.write_durably(tmp_path / "t", io.BytesIO(b"x" * 100))
    assert list(tmp_path.iterdir()) == []


def test_sweep_removes_dead_writers_temps_only(tmp_path: Path) -> None:
    dest = tmp_path / "abcdef"
    live = tmp_path / ".abcdef.1111.tmp"
    dead = tmp_path / ".abcdef.2222.tmp"
    other = tmp_path / ".other.3333.tmp"
    for p in (live, dead, other):
        p.write_bytes(b"partial")
    with live.open("ab") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert files.sweep_stale_temps(dest) == 1
    assert live.exists() and not dead.exists() and other.exists()
