"""A hostile partner mailbox, against the in-memory SFTPClient stand-in (the network paths are in
tests/integration): size cap from the listing and while streaming, per-file deadline, per-file failures,
local names; every ISA of an upload; profile fields for the limits; private key file modes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import paramiko
import pytest

from sftp.errors import ProfileConfigError, ProfileMismatch
from sftp.isa import read_isa_headers
from sftp.keys import generate_ed25519, load_private_key
from sftp.partner import profile_from_connection, profile_from_env
from sftp.transfer import JsonFileLedger, _local_target, fetch_new, upload
from tests.unit.sftp.test_ledger_and_fetch import ISA, FakeSFTP, profile

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM2NqYrkOvSX4XVxL/UuiC+CbC9JrFiJbCysWDOZ1t/1"


def _isa(usage: str = "T", control: str = "000000123", receiver: str = "RECEIVER01", sep: str = "*") -> str:
    return (
        ISA.replace("*T*", f"*{usage}*")
        .replace("000000123", control)
        .replace("RECEIVER01", receiver)
        .replace("*", sep)
    )


def _interchange(usage: str = "T", control: str = "000000123", **kw: str) -> str:
    sep = kw.get("sep", "*")
    body = f"GS{sep}HC{sep}X~ST{sep}837{sep}0001~SE{sep}2{sep}0001~GE{sep}1{sep}1~IEA{sep}1{sep}{control}~"
    return _isa(usage, control, **kw) + body


# ------------------------------------------------------------------------------------------- fetch


def test_one_failing_file_never_stops_the_others(tmp_path: Path) -> None:
    fs = FakeSFTP()
    fs.put("/out/a.999", b"ISA*a~")
    fs.put("/out/b-huge.835", b"ISA*" + b"x" * 5000)
    fs.put("/out/c.999", b"ISA*c~")
    real_open = fs.open

    def refuse_one(path: str, mode: str = "r") -> object:
        if path.endswith("c.999"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, mode)

    fs.open = refuse_one  # type: ignore[method-assign]
    fs.put("/out/d.999", b"ISA*d~")
    inbox = tmp_path / "inbox"
    got = fetch_new(fs, profile(max_file_size=1000), inbox, JsonFileLedger(inbox))  # type: ignore[arg-type]
    assert [f.remote_name for f in got] == ["a.999", "d.999"]
    assert [(f.name, f.reason.split(":")[0]) for f in got.failed] == [
        ("'b-huge.835'", "5004 bytes listed, over the partner's max_file_size of 1000; not downloaded"),
        ("'c.999'", "the server refused to read it"),
    ]
    assert all("\n" not in str(f) for f in got.failed)
    assert sorted(n for n in os.listdir(inbox) if not n.startswith(".claimflow")) == ["a.999", "d.999"]


def test_unknown_size_is_read_to_eof_but_never_past_the_cap(tmp_path: Path) -> None:
    """A server that lists no size: read until EOF, stop (and drop the temp file) once past the cap."""
    fs = FakeSFTP()
    fs.put("/out/small.999", b"ISA*small~")
    fs.put("/out/endless.835", b"ISA*" + b"e" * (3 * 32768))
    real_stat = fs.stat

    def no_size(path: str) -> paramiko.SFTPAttributes:
        a = real_stat(path)
        a.st_size = None
        return a

    fs.stat = no_size  # type: ignore[method-assign]
    inbox = tmp_path / "inbox"
    got = fetch_new(fs, profile(max_file_size=40000), inbox, JsonFileLedger(inbox))  # type: ignore[arg-type]
    assert [(f.remote_name, f.size) for f in got] == [("small.999", 10)]
    assert got[0].local_path.read_bytes() == b"ISA*small~"
    assert [f.name for f in got.failed] == ["'endless.835'"]
    assert "grew past max_file_size 40000" in got.failed[0].reason
    assert sorted(os.listdir(inbox)) == [".claimflow-fetched.jsonl", "small.999"]  # no .part left


def test_per_file_deadline(tmp_path: Path) -> None:
    """Each read takes 'two seconds' of a fake clock; the budget is transfer_timeout + size/min rate."""
    fs = FakeSFTP()
    fs.put("/out/a-slow.835", b"ISA*" + b"s" * (10 * 32768))
    fs.put("/out/b-fine.999", b"ISA*fine~")
    now = [0.0]
    real_open = fs.open

    def slow_open(path: str, mode: str = "r") -> object:
        f = real_open(path, mode)
        real_read = f.read

        def read(n: int) -> bytes:
            if path.endswith("slow.835"):
                now[0] += 2.0
            return real_read(n)

        f.read = read  # type: ignore[method-assign]
        return f

    fs.open = slow_open  # type: ignore[method-assign]
    p = profile(transfer_timeout=5.0, min_transfer_rate=1024 * 1024)  # budget ≈ 5.3 s: three reads
    inbox = tmp_path / "inbox"
    got = fetch_new(fs, p, inbox, JsonFileLedger(inbox), clock=lambda: now[0])  # type: ignore[arg-type]
    assert [f.remote_name for f in got] == ["b-fine.999"]
    (failure,) = got.failed
    assert failure.name == "'a-slow.835'"
    assert failure.reason.startswith("too slow: 98304 of 327684 bytes in 6.0 s")
    assert not [n for n in os.listdir(inbox) if n.endswith(".part")]
    # a generous rate lets the same file through
    p2 = profile(transfer_timeout=5.0, min_transfer_rate=1024)
    got2 = fetch_new(fs, p2, inbox, JsonFileLedger(inbox), clock=lambda: now[0])  # type: ignore[arg-type]
    assert [f.remote_name for f in got2] == ["a-slow.835"] and got2.failed == []


def test_temp_names_are_short_whatever_the_remote_name(tmp_path: Path) -> None:
    fs = FakeSFTP()
    long_name = "N" * 250 + ".999"  # 254 bytes: a legal remote name, the longest a local file may be
    fs.put(f"/out/{long_name}", b"ISA*long~")
    seen: list[str] = []
    inbox = tmp_path / "inbox"

    def watch(got: int, total: int) -> None:
        seen.extend(n for n in os.listdir(inbox) if n.endswith(".part"))

    got = fetch_new(fs, profile(), inbox, JsonFileLedger(inbox), progress=watch)  # type: ignore[arg-type]
    assert [f.local_path.name for f in got] == [long_name]
    assert seen and all(len(n) < 40 for n in seen)
    # the same name with other content must get a hash-suffixed name that still fits in NAME_MAX
    fs.put(f"/out/{long_name}", b"ISA*other~")
    (again,) = fetch_new(fs, profile(), inbox, JsonFileLedger(inbox))  # type: ignore[arg-type]
    assert again.local_path != got[0].local_path and again.local_path.read_bytes() == b"ISA*other~"
    assert len(again.local_path.name.encode()) <= 255
    assert again.local_path.name.endswith(f".{again.sha256[:12]}.999")


def test_local_target_keeps_short_names_as_they_were(tmp_path: Path) -> None:
    (tmp_path / "r.999").write_bytes(b"old")
    path, exists = _local_target(tmp_path, "r.999", "ab" * 32)
    assert path.name == "r.abababababab.999" and not exists
    path, _ = _local_target(tmp_path, "noext", "cd" * 32)
    assert path.name == "noext"


# ------------------------------------------------------------------------------------------- upload


def test_every_interchange_is_found_whatever_its_delimiters(tmp_path: Path) -> None:
    f = tmp_path / "three.837"
    f.write_text(
        _interchange("T", "000000001")
        + "\r\n"
        + _interchange("T", "000000002", sep="|")
        + _interchange("P", "000000003")
    )
    heads = read_isa_headers(f)
    assert [(h.control_number, h.usage) for h in heads] == [
        ("000000001", "T"),
        ("000000002", "T"),
        ("000000003", "P"),
    ]
    assert heads[0].offset == 0 and heads[1].offset == len(_interchange()) + 2
    # "ISA" inside an element value is not an interchange
    g = tmp_path / "one.837"
    g.write_text(_interchange().replace("GS*HC*X~", "GS*HC*X~NTE*ADD*LISA*ISA*X~"))
    assert len(read_isa_headers(g)) == 1


def test_upload_refuses_a_test_interchange_followed_by_a_production_one(tmp_path: Path) -> None:
    fs = FakeSFTP()
    f = tmp_path / "mixed.837"
    f.write_text(_interchange("T", "000000001") + "\n" + _interchange("P", "000000002"))
    with pytest.raises(ProfileMismatch) as err:
        upload(fs, f, profile())  # type: ignore[arg-type]
    msg = str(err.value)
    assert "mixed.837 interchange 2 of 2 (ISA13 '000000002', byte " in msg and "ISA15" in msg
    assert fs.files == {}
    ok = tmp_path / "two.837"
    ok.write_text(_interchange("T", "000000001") + _interchange("T", "000000002"))
    assert upload(fs, ok, profile()).remote_path == "/in/two.837"  # type: ignore[arg-type]


def test_malformed_second_interchange_is_refused(tmp_path: Path) -> None:
    fs = FakeSFTP()
    f = tmp_path / "cut.837"
    f.write_text(_interchange() + "ISA*00*  *00*~")
    with pytest.raises(
        ProfileMismatch, match=r"cut.837 interchange 2 \(byte \d+\): ISA segment is truncated"
    ):
        upload(fs, f, profile())  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- profile


def test_limits_come_from_env_and_connection_extra() -> None:
    env = {
        "CLAIMFLOW_PARTNER_ACME_HOST": "h",
        "CLAIMFLOW_PARTNER_ACME_USERNAME": "u",
        "CLAIMFLOW_PARTNER_ACME_HOST_KEY": HOST_KEY,
        "CLAIMFLOW_PARTNER_ACME_MAX_FILE_SIZE": "1048576",
        "CLAIMFLOW_PARTNER_ACME_TRANSFER_TIMEOUT": "30",
        "CLAIMFLOW_PARTNER_ACME_MIN_TRANSFER_RATE": "4096",
    }
    p = profile_from_env("acme", env)
    assert (p.max_file_size, p.transfer_timeout, p.min_transfer_rate) == (1048576, 30.0, 4096)
    c = profile_from_connection("c", "h", 22, "u", {"host_key": HOST_KEY, "max_file_size": "2048"})
    assert c.max_file_size == 2048
    default = profile_from_connection("c", "h", 22, "u", {"host_key": HOST_KEY})
    assert default.max_file_size == 256 * 1024 * 1024
    with pytest.raises(ProfileConfigError, match="max_file_size"):
        profile(max_file_size=0)
    with pytest.raises(ProfileConfigError, match="must be an integer"):
        profile_from_env("acme", {**env, "CLAIMFLOW_PARTNER_ACME_MAX_FILE_SIZE": "lots"})


# ------------------------------------------------------------------------------------------- keys


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_private_key_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    pair = generate_ed25519(tmp_path / "id_ed25519")
    os.chmod(pair.private_path, mode)
    with pytest.raises(ProfileConfigError) as err:
        load_private_key(path=pair.private_path)
    msg = str(err.value)
    assert f"mode {mode:04o}" in msg and "chmod 600" in msg and "BEGIN" not in msg


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_private_key_for_the_owner_only_loads(tmp_path: Path, mode: int) -> None:
    pair = generate_ed25519(tmp_path / "id_ed25519")
    os.chmod(pair.private_path, mode)
    assert stat.S_IMODE(os.stat(pair.private_path).st_mode) == mode
    assert isinstance(load_private_key(path=pair.private_path), paramiko.Ed25519Key)
