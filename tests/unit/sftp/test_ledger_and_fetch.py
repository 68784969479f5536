"""JsonFileLedger, and fetch/upload decisions against an in-memory stand-in for paramiko's SFTPClient
(the real servers are in tests/integration)."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import paramiko
import pytest

from sftp.errors import TransientTransferError
from sftp.partner import PartnerProfile
from sftp.transfer import FetchedFile, FetchLedger, JsonFileLedger, fetch_new, upload

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM2NqYrkOvSX4XVxL/UuiC+CbC9JrFiJbCysWDOZ1t/1"
ISA = "ISA*00*          *00*          *ZZ*SUBMITTER01    *ZZ*RECEIVER01     *250102*1315*^*00501*000000123*0*T*:~"


class _RemoteFile:
    def __init__(self, fs: FakeSFTP, path: str, mode: str) -> None:
        self.fs, self.path, self.mode, self.pos = fs, path, mode, 0
        if "w" in mode:
            fs.files[path] = (b"", fs.clock)

    def prefetch(self, size: int) -> None:
        pass

    def read(self, n: int) -> bytes:
        if self.fs.fail_reads_after is not None and self.pos + n > self.fs.fail_reads_after:
            raise EOFError()
        data = self.fs.files[self.path][0][self.pos : self.pos + n]
        self.pos += len(data)
        return data

    def stat(self) -> paramiko.SFTPAttributes:
        return self.fs.stat(self.path)

    def __enter__(self) -> _RemoteFile:
        return self

    def __exit__(self, *a: object) -> None:
        pass


class FakeSFTP:
    """Enough of paramiko.SFTPClient for sftp.transfer: flat folders of name → (bytes, mtime)."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, int]] = {}
        self.clock = 1_700_000_000
        self.fail_reads_after: int | None = None
        self.removed: list[str] = []

    def put(self, path: str, data: bytes) -> None:
        self.clock += 1
        self.files[path] = (data, self.clock)

    def listdir_attr(self, folder: str) -> list[paramiko.SFTPAttributes]:
        out = []
        for path in self.files:
            if path.rsplit("/", 1)[0] == folder:
                a = self.stat(path)
                a.filename = path.rsplit("/", 1)[1]
                out.append(a)
        return out

    def stat(self, path: str) -> paramiko.SFTPAttributes:
        if path not in self.files:
            raise FileNotFoundError(2, "No such file")
        data, mtime = self.files[path]
        a = paramiko.SFTPAttributes()
        a.st_size, a.st_mtime, a.st_mode = len(data), mtime, stat.S_IFREG | 0o644
        return a

    def open(self, path: str, mode: str = "r") -> _RemoteFile:
        if "r" in mode and path not in self.files:
            raise FileNotFoundError(2, "No such file")
        return _RemoteFile(self, path, mode)

    def putfo(self, fl, remotepath, file_size=0, callback=None, confirm=True):  # type: ignore[no-untyped-def]
        data = b""
        while chunk := fl.read(32768):
            data += chunk
        self.files[remotepath] = (data, self.clock)

    def rename(self, old: str, new: str) -> None:
        if new in self.files:
            raise OSError("Failure")
        self.files[new] = self.files.pop(old)

    def remove(self, path: str) -> None:
        self.removed.append(path)
        del self.files[path]


def profile(**kw: object) -> PartnerProfile:
    values: dict[str, object] = {
        "name": "acme",
        "host": "h",
        "username": "u",
        "host_key": HOST_KEY,
        "remote_outbound": "/in",
        "remote_inbound": "/out",
        "isa_receiver_id": "RECEIVER01",
        "stability_wait": 0.0,
    }
    values.update(kw)
    return PartnerProfile(**values)  # type: ignore[arg-type]


class MinimalLedger:
    """Only the three FetchLedger methods (no record_many), as a database-backed ledger might be."""

    def __init__(self, path: Path) -> None:
        self.inner = JsonFileLedger(path)

    def seen(self, name: str, size: int, mtime: int) -> bool:
        return self.inner.seen(name, size, mtime)

    def seen_sha256(self, sha256: str) -> bool:
        return self.inner.seen_sha256(sha256)

    def record(self, fetched: FetchedFile) -> None:
        self.inner.record(fetched)


def fetched(name: str = "a.999", sha: str = "ab" * 32) -> FetchedFile:
    return FetchedFile("acme", name, f"/out/{name}", Path("/x") / name, 10, 1700, sha, datetime.now(UTC))


# ------------------------------------------------------------------------------------------- ledger


def test_json_ledger_round_trip(tmp_path: Path) -> None:
    led = JsonFileLedger(tmp_path)
    assert isinstance(led, FetchLedger)
    assert not led.seen("a.999", 10, 1700) and not led.seen_sha256("ab" * 32)
    led.record(fetched())
    assert led.seen("a.999", 10, 1700) and led.seen_sha256("ab" * 32)
    assert not led.seen("a.999", 11, 1700) and not led.seen("a.999", 10, 1701)
    path = tmp_path / JsonFileLedger.FILENAME
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = JsonFileLedger(tmp_path)
    assert again.seen("a.999", 10, 1700) and again.seen_sha256("ab" * 32)


def test_json_ledger_ignores_a_torn_last_line(tmp_path: Path) -> None:
    led = JsonFileLedger(tmp_path / "ledger.jsonl")
    led.record(fetched())
    with open(led.path, "a") as fh:
        fh.write('{"remote_name": "half')
    again = JsonFileLedger(tmp_path / "ledger.jsonl")
    assert again.seen_sha256("ab" * 32) and len(again.entries) == 1
    assert json.loads(led.path.read_text().splitlines()[0])["remote_name"] == "a.999"


# ------------------------------------------------------------------------------------------- fetch


def test_fetch_records_before_returning_and_deletes_after(tmp_path: Path) -> None:
    fs = FakeSFTP()
    fs.put("/out/r.999", b"ISA*one~")
    order: list[str] = []

    class Ledger(MinimalLedger):
        def record(self, f: FetchedFile) -> None:
            assert f.local_path.read_bytes() == b"ISA*one~"  # durable before registration
            assert "/out/r.999" in fs.files  # registered before the remote delete
            order.append("record")
            super().record(f)

    got = fetch_new(fs, profile(delete_after_download=True), tmp_path / "inbox", Ledger(tmp_path / "l.jsonl"))  # type: ignore[arg-type]
    assert [f.remote_name for f in got] == ["r.999"] and order == ["record"]
    assert fs.removed == ["/out/r.999"]


def test_same_name_new_content_never_clobbers_the_old_file(tmp_path: Path) -> None:
    fs = FakeSFTP()
    inbox = tmp_path / "inbox"
    led = JsonFileLedger(inbox)
    fs.put("/out/response.999", b"ISA*monday~")
    (first,) = fetch_new(fs, profile(), inbox, led)  # type: ignore[arg-type]
    fs.put("/out/response.999", b"ISA*tuesday~")  # partners reuse names
    (second,) = fetch_new(fs, profile(), inbox, led)  # type: ignore[arg-type]
    assert first.local_path == inbox / "response.999"
    assert second.local_path == inbox / f"response.{second.sha256[:12]}.999"
    assert first.local_path.read_bytes() == b"ISA*monday~"
    assert second.local_path.read_bytes() == b"ISA*tuesday~"


def test_crash_between_link_and_record_is_recovered(tmp_path: Path) -> None:
    """The file reached the inbox but the ledger never heard of it: the next run registers it, once."""
    fs = FakeSFTP()
    inbox = tmp_path / "inbox"
    fs.put("/out/r.835", b"ISA*835~")

    class Crashing(MinimalLedger):
        def record(self, f: FetchedFile) -> None:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        fetch_new(fs, profile(), inbox, Crashing(inbox))  # type: ignore[arg-type]
    assert (inbox / "r.835").read_bytes() == b"ISA*835~"
    got = fetch_new(fs, profile(), inbox, JsonFileLedger(inbox))  # type: ignore[arg-type]
    assert [f.local_path.name for f in got] == ["r.835"]
    assert sorted(os.listdir(inbox)) == [".claimflow-fetched.jsonl", "r.835"]


@pytest.mark.parametrize(("batch_files", "committed"), [(1, ["a.999"]), (256, [])])
def test_connection_lost_mid_fetch_reports_what_was_taken(
    tmp_path: Path, batch_files: int, committed: list[str]
) -> None:
    fs = FakeSFTP()
    fs.put("/out/a.999", b"ISA*a~")
    fs.put("/out/b.999", b"ISA*b~" * 100)
    inbox = tmp_path / "inbox"
    fs.fail_reads_after = 100
    ledger = JsonFileLedger(inbox)
    with pytest.raises(TransientTransferError) as err:
        fetch_new(fs, profile(), inbox, ledger, batch_files=batch_files)  # type: ignore[arg-type]
    # files of a committed batch are registered and reported; an unfinished batch leaves nothing behind
    assert [f.remote_name for f in err.value.fetched] == committed  # type: ignore[attr-defined]
    assert sorted(n for n in os.listdir(inbox) if not n.startswith(".claimflow")) == committed
    assert not [n for n in os.listdir(inbox) if n.endswith(".part")]
    assert [e["remote_name"] for e in ledger.entries] == committed


def test_changed_during_download_is_left_for_later(tmp_path: Path) -> None:
    fs = FakeSFTP()
    fs.put("/out/a.999", b"ISA*a~")
    real_open = fs.open

    def open_and_touch(path: str, mode: str = "r") -> object:
        f = real_open(path, mode)
        fs.put(path, b"ISA*a~ plus more")  # the partner rewrites it while we read
        return f

    fs.open = open_and_touch  # type: ignore[method-assign]
    inbox = tmp_path / "inbox"
    assert fetch_new(fs, profile(), inbox, JsonFileLedger(inbox)) == []  # type: ignore[arg-type]
    assert os.listdir(inbox) == []
    fs.open = real_open  # type: ignore[method-assign]
    (got,) = fetch_new(fs, profile(), inbox, JsonFileLedger(inbox))  # type: ignore[arg-type]
    assert got.local_path.read_bytes() == b"ISA*a~ plus more"


def test_duplicate_content_in_one_batch_is_taken_once(tmp_path: Path) -> None:
    fs = FakeSFTP()
    fs.put("/out/a.999", b"ISA*same~")
    fs.put("/out/b.999", b"ISA*same~")
    inbox = tmp_path / "inbox"
    got = fetch_new(fs, profile(delete_after_download=True), inbox, JsonFileLedger(inbox))  # type: ignore[arg-type]
    assert [f.remote_name for f in got] == ["a.999"]
    assert sorted(fs.removed) == ["/out/a.999", "/out/b.999"]


def test_stability_wait_uses_two_listings(tmp_path: Path) -> None:
    fs = FakeSFTP()
    fs.put("/out/g.835", b"ISA*")
    waits: list[float] = []

    def grow(s: float) -> None:
        waits.append(s)
        fs.put("/out/g.835", b"ISA*more~")

    inbox = tmp_path / "inbox"
    assert fetch_new(fs, profile(stability_wait=1.5), inbox, JsonFileLedger(inbox), sleep=grow) == []  # type: ignore[arg-type]
    assert waits == [1.5]
    got = fetch_new(fs, profile(stability_wait=1.5), inbox, JsonFileLedger(inbox), sleep=lambda s: None)  # type: ignore[arg-type]
    assert [f.size for f in got] == [9]
    # nothing new: no listing pause at all
    assert fetch_new(fs, profile(stability_wait=1.5), inbox, JsonFileLedger(inbox), sleep=grow) == []  # type: ignore[arg-type]
    assert waits == [1.5]


def test_stale_part_files_are_swept(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    stale = inbox / ".r.999.0123abcd.part"
    fresh = inbox / ".q.999.89abcdef.part"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(stale, (1, 1))
    fetch_new(FakeSFTP(), profile(), inbox, JsonFileLedger(inbox))  # type: ignore[arg-type]
    assert not stale.exists() and fresh.exists()


# ------------------------------------------------------------------------------------------- upload


def test_upload_direct_mode_overwrites_only_its_own_shorter_partial(tmp_path: Path) -> None:
    fs = FakeSFTP()
    f = tmp_path / "c.837"
    f.write_text(ISA + "GS*HC~" * 10)
    p = profile(upload_temp_then_rename=False)
    fs.files["/in/c.837"] = (b"ISA*", 1)  # an interrupted earlier direct upload
    r = upload(fs, f, p)  # type: ignore[arg-type]
    assert not r.already_present and fs.files["/in/c.837"][0] == f.read_bytes()


def test_upload_with_temp_name_renames(tmp_path: Path) -> None:
    fs = FakeSFTP()
    f = tmp_path / "c.837"
    f.write_text(ISA)
    r = upload(fs, f, profile(upload_temp_template="{name}.filepart"))  # type: ignore[arg-type]
    assert r.remote_path == "/in/c.837" and list(fs.files) == ["/in/c.837"]


@pytest.mark.parametrize("pattern", [[32768] * 200, [10, -1], [-1], [1 << 21, 5, -1], [1, 2, 3]])
def test_hashing_reader_hands_out_every_byte_once(pattern: list[int]) -> None:
    import hashlib
    import io

    from sftp.transfer import _HashingReader

    data = bytes(range(256)) * 20000
    r = _HashingReader(io.BytesIO(data))
    out = b"".join(r.read(n) for n in pattern)
    while chunk := r.read(32768):
        out += chunk
    assert out == data and r.count == len(data)
    assert r.hash.hexdigest() == hashlib.sha256(data).hexdigest()
