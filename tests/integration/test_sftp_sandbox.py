"""Upload/fetch against the sandbox clearinghouse's SFTP server, faults included, plus its own rules:
chrooted mailboxes, write only to /inbound, on_upload only for finished files, atomic deliver()."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import paramiko
import pytest

pytest.register_assert_rewrite("tests.integration.sftp_fixtures")

from claimflow.sandbox.server import SandboxServer, deliver  # noqa: E402
from sftp.connect import open_sftp  # noqa: E402
from sftp.errors import AuthenticationFailed, SFTPError, TransientTransferError  # noqa: E402
from sftp.keys import KeyPair, generate_ed25519, parse_public_key  # noqa: E402
from sftp.partner import PartnerProfile  # noqa: E402
from sftp.transfer import JsonFileLedger, fetch_new, upload  # noqa: E402
from tests.integration.sftp_fixtures import (  # noqa: E402
    BIG,
    PARTNER,
    Backend,
    ExchangeContract,
    make_interchange,
)

pytest_plugins = ["tests.integration.sftp_fixtures"]


class TestSandboxServer(ExchangeContract):
    @pytest.fixture
    def backend(
        self, sandbox: SandboxServer, sandbox_profile: PartnerProfile, client_key: KeyPair, tmp_path: Path
    ) -> Iterator[Backend]:
        servers = [sandbox]
        keys = {PARTNER: client_key.public_line}

        def restart(host_key_path: Path | None = None) -> None:
            old = servers[-1]
            old.stop()
            new = SandboxServer(old.root, port=old.port, authorized_keys=keys, host_key_path=host_key_path)
            servers.append(new.start())

        box = sandbox.mailbox(PARTNER)
        yield Backend(
            profile=sandbox_profile,
            out_dir=box / "inbound",
            in_dir=box / "outbound",
            drop_sessions=lambda: servers[-1].drop_connections(),
            crash_and_restart=restart,
            restart_with_new_host_key=lambda: restart(tmp_path / "other_host_key"),
        )
        for s in servers:
            s.stop()


# -------------------------------------------------------------------------------------------- on_upload


@pytest.fixture
def recording_sandbox(tmp_path: Path, client_key: KeyPair) -> Iterator[tuple[SandboxServer, list]]:
    calls: list[tuple[str, Path, bytes]] = []

    def on_upload(partner: str, path: Path) -> None:
        calls.append((partner, path, path.read_bytes()))

    srv = SandboxServer(
        tmp_path / "sb", authorized_keys={PARTNER: client_key.public_line}, on_upload=on_upload
    )
    srv.start()
    yield srv, calls
    srv.stop()


def _profile(srv: SandboxServer, key: KeyPair, **kw: object) -> PartnerProfile:
    return srv.profile(
        PARTNER,
        private_key_path=str(key.private_path),
        isa_receiver_id="SANDBOXCH",
        stability_wait=0.0,
        connect_timeout=5.0,
        **kw,
    )


def _partner_env(monkeypatch: pytest.MonkeyPatch, p: PartnerProfile, **settings: str) -> None:
    """Describe the sandbox partner to the ``claimflow sftp`` CLI as an operator would: environment
    variables ``CLAIMFLOW_PARTNER_SBX_*`` (connection from ``p``, then any extra ``settings``)."""
    values: dict[str, object] = {
        "HOST": p.host,
        "PORT": p.port,
        "USERNAME": p.username,
        "HOST_KEY": p.host_key,
        "PRIVATE_KEY_PATH": p.private_key_path,
        "ISA_RECEIVER_ID": "SANDBOXCH",
        **settings,
    }
    for field, value in values.items():
        monkeypatch.setenv(f"CLAIMFLOW_PARTNER_SBX_{field}", str(value))


def test_on_upload_fires_once_per_finished_file(
    recording_sandbox: tuple[SandboxServer, list], client_key: KeyPair, tmp_path: Path
) -> None:
    srv, calls = recording_sandbox
    p = _profile(srv, client_key)
    f = make_interchange(tmp_path / "a.837")
    with open_sftp(p) as s:
        upload(s, f, p)
        upload(s, f, p)  # already present: no second event
    assert srv.wait_idle()
    assert [(c[0], c[1].name) for c in calls] == [(PARTNER, "a.837")]
    assert calls[0][1] == srv.mailbox(PARTNER) / "inbound" / "a.837"
    assert calls[0][2] == f.read_bytes()  # the callback sees the complete file

    # a partner that writes straight to the final name: reported when it closes the file
    direct = replace(p, upload_temp_then_rename=False)
    g = make_interchange(tmp_path / "b.837", control="000000002")
    with open_sftp(direct) as s:
        upload(s, g, direct)
    assert srv.wait_idle()
    assert [c[1].name for c in calls] == ["a.837", "b.837"]


def test_dropped_upload_is_never_reported(
    recording_sandbox: tuple[SandboxServer, list], client_key: KeyPair, tmp_path: Path
) -> None:
    srv, calls = recording_sandbox
    for temp_then_rename in (True, False):
        p = replace(_profile(srv, client_key), upload_temp_then_rename=temp_then_rename)
        big = make_interchange(tmp_path / f"big{int(temp_then_rename)}.837", size=BIG // 2)

        def drop(sent: int, total: int, done: list[int] = []) -> None:  # noqa: B006
            if not done and sent > total // 3:
                done.append(1)
                srv.drop_connections()

        with pytest.raises(Exception), open_sftp(p) as s:  # noqa: B017
            upload(s, big, p, progress=drop)
    time.sleep(0.2)
    assert srv.wait_idle()
    assert calls == []


def test_payer_simulator_style_response(tmp_path: Path, client_key: KeyPair) -> None:
    """on_upload → deliver(): the response is there for the next fetch."""
    root = tmp_path / "sb"

    def payer(partner: str, path: Path) -> None:
        deliver(root, partner, path.name + ".999", b"ISA*ack for " + path.name.encode() + b"~")

    with SandboxServer(root, authorized_keys={PARTNER: client_key.public_line}, on_upload=payer) as srv:
        p = _profile(srv, client_key)
        f = make_interchange(tmp_path / "c1.837")
        with open_sftp(p) as s:
            upload(s, f, p)
            assert srv.wait_idle()
            got = fetch_new(s, p, tmp_path / "inbox", JsonFileLedger(tmp_path / "inbox"))
        assert [g.remote_name for g in got] == ["c1.837.999"]
        assert got[0].local_path.read_bytes() == b"ISA*ack for c1.837~"


# -------------------------------------------------------------------------------------------- mailbox


def test_mailbox_is_chrooted_and_write_only_to_inbound(
    sandbox: SandboxServer, sandbox_profile: PartnerProfile, tmp_path: Path
) -> None:
    other = sandbox.add_partner("otherpartner", generate_ed25519(tmp_path / "other").public_line)
    (other / "outbound" / "secret.835").write_bytes(b"ISA*not yours~")
    with open_sftp(sandbox_profile) as s:
        assert sorted(s.listdir("/")) == ["inbound", "outbound"]
        assert sorted(s.listdir("/..")) == ["inbound", "outbound"]
        assert s.normalize("../../..") == "/"
        with pytest.raises(IOError):
            s.stat("/../otherpartner/outbound/secret.835")
        with pytest.raises(PermissionError):
            s.open("/outbound/x.837", "wb").close()
        with pytest.raises(PermissionError):
            s.open("/x.837", "wb").close()
        with pytest.raises(PermissionError):
            s.mkdir("/inbound/sub")
        with pytest.raises(PermissionError):
            s.symlink("/etc/passwd", "/inbound/link")
        deliver(sandbox.root, PARTNER, "resp.999", b"ISA*~")
        with pytest.raises(PermissionError):
            s.chmod("/outbound/resp.999", 0o777)
        with pytest.raises(PermissionError):
            s.rename("/outbound/resp.999", "/inbound/resp.999")
    assert not (sandbox.root / ".sandbox" / "x.837").exists()


def test_deliver_is_atomic_and_never_clobbers(
    sandbox: SandboxServer, sandbox_profile: PartnerProfile
) -> None:
    data = b"ISA*" + b"x" * (4 * 1024 * 1024) + b"~"
    outbound = sandbox.mailbox(PARTNER) / "outbound"
    seen_sizes: set[int] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for e in os.scandir(outbound):
                seen_sizes.add(e.stat().st_size)

    t = threading.Thread(target=watch)
    t.start()
    path = deliver(sandbox.root, PARTNER, "r.835", data)
    stop.set()
    t.join()
    assert path == outbound / "r.835" and path.read_bytes() == data
    assert seen_sizes <= {len(data)}
    assert os.listdir(outbound) == ["r.835"]
    with pytest.raises(FileExistsError):
        deliver(sandbox.root, PARTNER, "r.835", b"other")
    deliver(sandbox.root, PARTNER, "r.835", b"ISA*new~", overwrite=True)
    assert path.read_bytes() == b"ISA*new~"
    with pytest.raises(ValueError):
        deliver(sandbox.root, PARTNER, "../escape", b"x")
    assert os.listdir(sandbox.root / ".sandbox" / "tmp") == []


def test_keys_from_state_dir_and_unknown_users(tmp_path: Path, client_key: KeyPair) -> None:
    """authorized_keys=None: keys are read from <root>/.sandbox/authorized_keys/<partner>.pub per login."""
    root = tmp_path / "sb"
    with SandboxServer(root) as srv:
        p = _profile(srv, client_key)
        with pytest.raises(AuthenticationFailed), open_sftp(p):
            pass
        srv.add_partner(PARTNER, client_key.public_line)
        assert (root / ".sandbox" / "authorized_keys" / f"{PARTNER}.pub").exists()
        with open_sftp(p) as s:
            assert sorted(s.listdir("/")) == ["inbound", "outbound"]
        nobody = replace(p, username="nobody")
        with pytest.raises(AuthenticationFailed), open_sftp(nobody):
            pass
        first_key = srv.host_key_line()
    # host key persists across restarts (pinned profiles keep working)
    with SandboxServer(root) as again:
        assert again.host_key_line() == first_key


def test_password_auth_is_not_offered(sandbox: SandboxServer) -> None:
    t = paramiko.Transport(("127.0.0.1", sandbox.port))
    try:
        t.start_client(timeout=5)
        assert t.get_remote_server_key() == parse_public_key(sandbox.host_key_line())
        with pytest.raises(paramiko.BadAuthenticationType) as err:
            t.auth_password(PARTNER, "guess")
        assert err.value.allowed_types == ["publickey"]
    finally:
        t.close()


# -------------------------------------------------------------------------------------------- network


@pytest.mark.parametrize("behaviour", ["silent", "hang-up"])
def test_silent_or_hanging_up_server_is_transient(behaviour: str, sandbox_profile: PartnerProfile) -> None:
    """A server that accepts and never speaks times out; one that hangs up at once is a reset. Both are
    TransientTransferError (retried), and neither takes longer than the profile's timeout."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            if behaviour == "hang-up":
                conn.close()
            else:
                accepted.append(conn)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    p = replace(sandbox_profile, port=listener.getsockname()[1], connect_timeout=1.0)
    t0 = time.monotonic()
    try:
        with pytest.raises(TransientTransferError), open_sftp(p):
            pass
        assert time.monotonic() - t0 < 5
    finally:
        listener.close()
        for c in accepted:
            c.close()


# -------------------------------------------------------------------------------------------- CLI


def test_cli_put_and_fetch(
    sandbox: SandboxServer,
    sandbox_profile: PartnerProfile,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from claimflow.cli.sftp import main

    p = sandbox_profile
    _partner_env(monkeypatch, p, STABILITY_WAIT="0.1", RETRY_MAX_TOTAL="1")
    good = make_interchange(tmp_path / "good.837")
    prod = make_interchange(tmp_path / "prod.837", usage="P")
    assert main(["sftp", "put", str(good), str(prod), "--partner", "sbx", "--json"]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(x["file"], x["status"]) for x in lines] == [(str(good), "sent"), (str(prod), "refused")]
    assert main(["sftp", "put", str(good), "--partner", "sbx"]) == 0
    assert "already-present" in capsys.readouterr().out

    deliver(sandbox.root, PARTNER, "resp.999", b"ISA*999~")
    inbox = tmp_path / "inbox"
    assert main(["sftp", "fetch", "--partner", "sbx", "--inbox", str(inbox)]) == 0
    out = capsys.readouterr().out
    assert "resp.999" in out and "1 new file(s)" in out
    assert main(["sftp", "fetch", "--partner", "sbx", "--inbox", str(inbox)]) == 0
    assert "0 new file(s)" in capsys.readouterr().out
    assert main(["sftp", "fetch", "--partner", "nobody"]) == 2


# -------------------------------------------------------------------------------------------- hostile server


def test_trickling_server_cannot_hang_the_fetch(
    sandbox: SandboxServer, sandbox_profile: PartnerProfile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server answers every read of one file with 16 bytes after a pause: always inside the 5 s read
    timeout, so only the per-file deadline stops it. That file fails with one line; the others arrive."""
    import asyncio

    from claimflow.sandbox.server import _mailbox_sftp_server_class

    cls = _mailbox_sftp_server_class()
    real_read = cls.read

    async def trickle(self: object, file_obj: object, offset: int, size: int) -> bytes:
        data = real_read(self, file_obj, offset, size)
        if getattr(file_obj, "name", b"").endswith(b"slow.835"):
            await asyncio.sleep(0.05)
            return data[:16]
        return data

    monkeypatch.setattr(cls, "read", trickle)
    box = sandbox.mailbox(PARTNER) / "outbound"
    deliver(sandbox.root, PARTNER, "a-first.999", b"ISA*first~")
    deliver(sandbox.root, PARTNER, "slow.835", b"ISA*" + b"s" * (64 * 1024))  # ~200 s at this pace
    deliver(sandbox.root, PARTNER, "z-last.999", b"ISA*last~")
    p = replace(sandbox_profile, io_timeout=5.0, transfer_timeout=1.0, min_transfer_rate=1024 * 1024)
    inbox = tmp_path / "inbox"
    t0 = time.monotonic()
    with open_sftp(p) as s:
        got = fetch_new(s, p, inbox, JsonFileLedger(inbox))
    elapsed = time.monotonic() - t0
    assert sorted(f.remote_name for f in got) == ["a-first.999", "z-last.999"]
    assert [f.name for f in got.failed] == ["'slow.835'"]
    reason = got.failed[0].reason
    assert reason.startswith("too slow:") and "deadline" in reason and "\n" not in reason
    assert elapsed < 6, f"the fetch took {elapsed:.1f} s"
    assert sorted(n for n in os.listdir(inbox) if not n.startswith(".claimflow")) == [
        "a-first.999",
        "z-last.999",
    ]
    assert (box / "slow.835").exists()  # still there for a later run


def test_setstat_cannot_grant_setuid_chown_or_a_huge_sparse_file(tmp_path: Path, client_key: KeyPair) -> None:
    srv = SandboxServer(
        tmp_path / "sb", authorized_keys={PARTNER: client_key.public_line}, max_file_size=1024 * 1024
    )
    with srv:
        p = _profile(srv, client_key)
        inbound = srv.mailbox(PARTNER) / "inbound"
        with open_sftp(p) as s:
            with s.open("/inbound/x.837", "wb") as fh:
                fh.write(b"ISA*x~")
            s.chmod("/inbound/x.837", 0o4777)
            assert os.stat(inbound / "x.837").st_mode & 0o7777 == 0o644
            s.chmod("/inbound/x.837", 0o2755)
            assert os.stat(inbound / "x.837").st_mode & 0o7777 == 0o644
            s.chown("/inbound/x.837", 0, 0)  # ignored, not an error
            assert os.stat(inbound / "x.837").st_uid == os.getuid()
            with pytest.raises(OSError):
                s.truncate("/inbound/x.837", 1 << 40)  # 1 TiB sparse
            with pytest.raises(OSError), s.open("/inbound/x.837", "r+") as fh:
                fh.seek(2 * 1024 * 1024)  # a write past the size limit
                fh.write(b"y")
                fh.flush()
            s.truncate("/inbound/x.837", 3)  # shrinking is fine
        assert os.stat(inbound / "x.837").st_size == 3


def test_upload_quota_per_mailbox(tmp_path: Path, client_key: KeyPair) -> None:
    srv = SandboxServer(
        tmp_path / "sb",
        authorized_keys={PARTNER: client_key.public_line},
        quota_bytes=300 * 1024,
        max_file_size=200 * 1024,
    )
    with srv:
        p = _profile(srv, client_key)
        first = make_interchange(tmp_path / "first.837", size=150 * 1024, control="000000001")
        second = make_interchange(tmp_path / "second.837", size=180 * 1024, control="000000002")
        inbound = srv.mailbox(PARTNER) / "inbound"
        with open_sftp(p) as s:
            upload(s, first, p)
            with pytest.raises(SFTPError):  # 150 + 180 KiB > 300 KiB
                upload(s, second, p)
            assert "second.837" not in os.listdir(inbound)
            assert sum(e.stat().st_size for e in os.scandir(inbound)) <= 300 * 1024
            for n in os.listdir(inbound):  # the clearinghouse picked the first file up
                os.unlink(inbound / n)
            assert not upload(s, second, p).already_present  # room again: the quota recounts
        assert (inbound / "second.837").read_bytes() == second.read_bytes()


def test_connection_caps(tmp_path: Path, client_key: KeyPair) -> None:
    srv = SandboxServer(
        tmp_path / "sb",
        authorized_keys={PARTNER: client_key.public_line},
        max_connections_per_partner=2,
        max_connections=3,
    )
    with srv, contextlib.ExitStack() as stack:
        p = replace(_profile(srv, client_key), connect_timeout=3.0, io_timeout=3.0)
        sessions = [stack.enter_context(open_sftp(p)) for _ in range(2)]
        with pytest.raises(TransientTransferError), open_sftp(p) as extra:
            extra.listdir("/")  # a third login for this mailbox is disconnected at once
        for s in sessions:
            assert sorted(s.listdir("/")) == ["inbound", "outbound"]  # the first two are untouched
        sessions[0].get_channel().get_transport().close()  # one logs out: there is room again
        deadline = time.monotonic() + 5
        while srv._sessions[PARTNER] > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        sessions[0] = stack.enter_context(open_sftp(p))
        assert sessions[0].listdir("/")
        import socket

        raw = [stack.enter_context(socket.create_connection(("127.0.0.1", srv.port))) for _ in range(2)]
        time.sleep(0.3)
        assert len(raw) == 2
        other = generate_ed25519(tmp_path / "other")
        srv.add_partner("otherpartner", other.public_line)
        q = replace(p, username="otherpartner", private_key_path=str(other.private_path), name="other")
        with pytest.raises(TransientTransferError), open_sftp(q) as s:
            s.listdir("/")  # 2 sessions + 2 bare sockets = 4 > 3 connections in all
    with (
        SandboxServer(tmp_path / "sb", authorized_keys={PARTNER: client_key.public_line}) as again,
        open_sftp(_profile(again, client_key)) as s,
    ):
        assert s.listdir("/")  # the count was per running server


def test_cli_put_checks_every_interchange_and_fetch_lists_failures(
    sandbox: SandboxServer,
    sandbox_profile: PartnerProfile,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from claimflow.cli.sftp import main

    p = sandbox_profile
    _partner_env(monkeypatch, p, STABILITY_WAIT="0", RETRY_MAX_TOTAL="1", MAX_FILE_SIZE="4096")
    mixed = tmp_path / "mixed.837"
    mixed.write_bytes(
        make_interchange(tmp_path / "t.x12", control="000000001").read_bytes()
        + b"\n"
        + make_interchange(tmp_path / "p.x12", usage="P", control="000000002").read_bytes()
    )
    assert main(["sftp", "put", str(mixed), "--partner", "sbx", "--json"]) == 1
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["status"] == "refused"
    assert "interchange 2 of 2 (ISA13 '000000002'" in line["error"] and "ISA15" in line["error"]
    assert os.listdir(sandbox.mailbox(PARTNER) / "inbound") == []

    deliver(sandbox.root, PARTNER, "big.835", b"ISA*" + b"b" * 8192)
    deliver(sandbox.root, PARTNER, "ok.999", b"ISA*999~")
    inbox = tmp_path / "inbox"
    assert main(["sftp", "fetch", "--partner", "sbx", "--inbox", str(inbox)]) == 1
    out = capsys.readouterr().out
    assert "ok.999" in out and "1 new file(s)" in out
    assert "failed  'big.835': 8196 bytes listed, over the partner's max_file_size of 4096" in out
    assert main(["sftp", "fetch", "--partner", "sbx", "--inbox", str(inbox), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout keeps one JSON object per fetched file, nothing else
    assert "not fetched: 'big.835'" in captured.err


def test_cli_refuses_a_private_key_readable_by_others(
    sandbox: SandboxServer,
    sandbox_profile: PartnerProfile,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from claimflow.cli.sftp import main

    p = sandbox_profile
    assert p.private_key_path is not None
    os.chmod(p.private_key_path, 0o644)
    _partner_env(monkeypatch, p)
    assert main(["sftp", "fetch", "--partner", "sbx", "--inbox", str(tmp_path / "in"), "--no-retry"]) == 1
    err = capsys.readouterr().err
    assert "has mode 0644" in err and "chmod 600" in err
    os.chmod(p.private_key_path, 0o600)
    assert main(["sftp", "fetch", "--partner", "sbx", "--inbox", str(tmp_path / "in"), "--no-retry"]) == 0


def test_sandbox_serve_cli_applies_the_limits(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "claimflow.cli.sftp", "sandbox", "serve", "--root", str(tmp_path / "sb")]
    bad = subprocess.run(
        [*cmd, "--port", "0", "--quota-bytes", "0"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "quota_bytes must be >= 1" in bad.stderr
    proc = subprocess.Popen(
        [*cmd, "--port", "0", "--max-connections-per-partner", "1"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        exports: dict[str, str] = {}
        for line in proc.stdout:
            if line.strip().startswith("export CLAIMFLOW_PARTNER_SANDBOX_"):
                var, _, value = line.strip()[len("export CLAIMFLOW_PARTNER_SANDBOX_") :].partition("=")
                exports[var] = value.strip("'")
            if line.startswith("Ctrl-C"):
                break
        p = PartnerProfile(
            name="sandbox",
            host=exports["HOST"],
            port=int(exports["PORT"]),
            username=exports["USERNAME"],
            host_key=exports["HOST_KEY"],
            private_key_path=exports["PRIVATE_KEY_PATH"],
            connect_timeout=5.0,
        )
        with open_sftp(p) as s:
            assert sorted(s.listdir("/")) == ["inbound", "outbound"]
            with pytest.raises(TransientTransferError), open_sftp(p) as second:
                second.listdir("/")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
