"""``claimflow load``: every path handled on its own — a directory, a missing path, a FIFO (never opened,
never a hang), an unreadable file, a disk that fills up — one line each on stderr, the rest of the batch
loads, exit 2. SQLite and PostgreSQL (through ``claimflow_env``)."""

from __future__ import annotations

import errno
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from claimflow.cli import main
from claimflow.db import models as m
from claimflow.settings import get_settings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
GOOD = FIXTURES / "835" / "denial_with_rarc.835"
ACK = FIXTURES / "999" / "accepted.999"


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail (instead of blocking the suite for ever) if anything opens a FIFO."""

    def boom(_sig: int, _frame: Any) -> None:
        raise TimeoutError("claimflow load blocked")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _statuses(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(m.Interchange.status, func.count()).group_by(m.Interchange.status)).all()
    return {s: n for s, n in rows}


def test_bad_paths_get_one_line_each_and_the_batch_goes_on(
    claimflow_env: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_hang: None
) -> None:
    folder = tmp_path / "a_folder"
    folder.mkdir()
    fifo = tmp_path / "inbox.fifo"
    os.mkfifo(fifo)
    missing = tmp_path / "missing.835"
    rc = main(["load", str(folder), str(GOOD), str(missing), str(fifo), str(ACK)])
    out, err = capsys.readouterr()
    assert rc == 2
    assert err.splitlines() == [
        "a_folder: not loaded: is a directory, not a regular file",
        "missing.835: not loaded: no such file",
        "inbox.fifo: not loaded: is a FIFO (named pipe), not a regular file",
    ]
    assert "Traceback" not in err
    assert [line.split(":")[0] for line in out.splitlines()] == ["denial_with_rarc.835", "accepted.999"]
    assert _statuses(claimflow_env) == {"loaded": 2}
    # all good: exit 0, nothing new
    assert main(["load", str(GOOD), str(ACK)]) == 0


def test_an_unreadable_file_is_refused_and_the_next_loads(
    claimflow_env: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked.835"
    shutil.copyfile(GOOD, locked)
    locked.chmod(0)
    real_open = os.open

    def deny(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path) == locked:  # root reads any file: deny it the way a normal user would be denied
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    assert main(["load", str(locked), str(ACK)]) == 2
    out, err = capsys.readouterr()
    assert err.strip() == "locked.835: not loaded: cannot be read (EACCES)"
    assert out.startswith("accepted.999: new 999")
    assert _statuses(claimflow_env) == {"loaded": 1}


def test_disk_full_removes_the_temporary_file_and_the_next_file_loads(
    claimflow_env: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_copy = shutil.copyfileobj

    def full(fsrc: Any, fdst: Any, length: int = 0) -> None:
        fdst.write(fsrc.read(100))  # a partial temporary file, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfileobj", full)
    assert main(["load", str(GOOD)]) == 2
    _out, err = capsys.readouterr()
    assert (
        err.strip() == "denial_with_rarc.835: not loaded: could not be archived (ENOSPC); nothing registered"
    )
    archive = get_settings().archive_dir
    assert [p for p in archive.rglob("*") if p.is_file()] == []  # no partial file left behind
    assert _statuses(claimflow_env) == {}
    # space again: the same file and the next one load
    monkeypatch.setattr(shutil, "copyfileobj", real_copy)
    assert main(["load", str(GOOD), str(ACK)]) == 0
    assert _statuses(claimflow_env) == {"loaded": 2}


def test_duplicates_and_quarantined_files_keep_the_exit_codes(
    claimflow_env: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    resent = tmp_path / "resent.835"
    resent.write_bytes(GOOD.read_bytes() + b"\n")
    assert main(["load", str(GOOD)]) == 0
    assert main(["load", str(resent)]) == 0  # a duplicate is not a failure: nothing was lost
    out, _err = capsys.readouterr()
    assert "resent.835: duplicate interchange, not stored: " in out
    bare = tmp_path / "bare.835"
    text = GOOD.read_text()
    bare.write_text("~".join(s for s in text.split("~") if s.strip()[:3] not in ("ISA", "GS*", "GE*", "IEA")))
    assert main(["load", str(bare)]) == 2
    out, _err = capsys.readouterr()
    assert "bare.835: quarantined: bare.835: no ISA/GS envelope" in out


def test_database_unavailable_for_one_file_is_one_line_and_the_batch_goes_on(
    claimflow_env: Engine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from claimflow.services import inbound

    real = inbound.receive_file

    def flaky(engine: Engine, path: Path, **kwargs: Any) -> tuple[int, bool]:
        if path == GOOD:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return real(engine, path, **kwargs)

    monkeypatch.setattr(inbound, "receive_file", flaky)
    assert main(["load", str(GOOD), str(ACK)]) == 2
    out, err = capsys.readouterr()
    assert err.strip() == (
        "denial_with_rarc.835: not loaded: not registered, database unavailable "
        "(OperationalError); load it again later"
    )
    assert out.startswith("accepted.999: new 999")
    monkeypatch.setattr(inbound, "receive_file", real)
    assert main(["load", str(GOOD)]) == 0
    assert _statuses(claimflow_env) == {"loaded": 2}


def test_load_draws_progress_only_on_a_terminal(claimflow_env: Engine) -> None:
    """On a terminal, ``load`` of many files shows a bar on stderr (counts only); piped, stderr stays empty."""
    import pty
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "claimflow.cli", "load", str(GOOD), str(ACK)]
    piped = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""
    assert len(piped.stdout.splitlines()) == 2

    master, slave = pty.openpty()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=slave, timeout=120, env=os.environ.copy())
        os.close(slave)
        drawn = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(master)
    assert proc.returncode == 0
    assert b"loading [" in drawn and b"2/2" in drawn
    assert len(proc.stdout.decode().splitlines()) == 2  # result lines stay on stdout
