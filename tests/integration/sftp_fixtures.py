"""Fixtures for the SFTP integration tests: a real OpenSSH sshd and the sandbox SFTP server.

Register with ``pytest_plugins = ["tests.integration.sftp_fixtures"]`` (test module or root conftest).

* ``sshd`` — :class:`tests.support.sshd.Sshd` on a free loopback port with its own host key and the
  ``client_key`` authorized. Missing sshd: **fails** under ``CI=true``, skips elsewhere.
* ``sshd_profile`` — a :class:`PartnerProfile` for it; the "mailbox" is two local folders
  (``sshd_remote / "to_partner"`` is our remote outbound, ``sshd_remote / "from_partner"`` our inbound).
* ``sandbox`` / ``sandbox_profile`` — :class:`SandboxServer` with partner ``claimflow``.
* :func:`make_interchange` — an X12 file with a real ISA header padded to a size.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from claimflow.sandbox.server import SandboxServer
from sftp.connect import open_sftp
from sftp.errors import (
    AuthenticationFailed,
    HostKeyMismatch,
    ProfileMismatch,
    RemoteNameConflict,
    TransientTransferError,
    UnsafeRemoteName,
)
from sftp.keys import KeyPair, generate_ed25519
from sftp.names import check_remote_name
from sftp.partner import PartnerProfile
from sftp.retry import RetryPolicy, retry_call
from sftp.transfer import JsonFileLedger, fetch_new, upload, upload_many
from tests.support.sshd import Sshd, find_sshd, free_port

PARTNER = "claimflow"
RECEIVER = "SANDBOXCH"
SENDER = "CLAIMFLOW"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_sshd() -> str:
    path = find_sshd()
    if path is None:
        msg = "OpenSSH sshd is not installed (apt-get install -y openssh-server)"
        if in_ci():
            pytest.fail(f"{msg}; CI=true requires it", pytrace=False)
        pytest.skip(msg)
    return path


def make_interchange(
    path: Path,
    *,
    receiver: str = RECEIVER,
    sender: str = SENDER,
    usage: str = "T",
    control: str = "000000001",
    size: int = 0,
    seed: str = "",
) -> Path:
    """Write an interchange (ISA … IEA) of at least ``size`` bytes; ``seed`` makes contents differ."""
    isa = (
        f"ISA*00*          *00*          *ZZ*{sender:<15}*ZZ*{receiver:<15}*250101*1200*^*00501*"
        f"{control}*0*{usage}*:~"
    )
    body = [isa, f"GS*HC*{sender}*{receiver}*20250101*1200*1*X*005010X222A1~", "ST*837*0001*005010X222A1~"]
    if seed:
        body.append(f"REF*EA*{seed}~")
    text = "".join(body)
    trailer = "SE*3*0001~GE*1*1~IEA*1*" + control + "~"
    filler = "NTE*ADD*" + "X" * 70 + "~"
    missing = size - len(text) - len(trailer)
    if missing > 0:
        text += filler * (missing // len(filler) + 1)
    data = (text + trailer).encode("ascii")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def client_key(tmp_path: Path) -> KeyPair:
    return generate_ed25519(tmp_path / "keys" / "client_ed25519", comment="claimflow-test")


@pytest.fixture
def sshd(tmp_path: Path, client_key: KeyPair) -> Iterator[Sshd]:
    require_sshd()
    for attempt in range(3):  # the free port may be taken between choosing it and sshd binding it
        server = Sshd(tmp_path / f"sshd{attempt}", authorized_keys=[client_key.public_line])
        try:
            server.start()
            break
        except RuntimeError:
            if attempt == 2:
                raise
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sshd_remote(tmp_path: Path) -> Path:
    root = tmp_path / "remote"
    for sub in ("to_partner", "from_partner"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def sshd_profile(sshd: Sshd, client_key: KeyPair, sshd_remote: Path) -> PartnerProfile:
    return PartnerProfile(
        name=PARTNER,
        host=sshd.host,
        port=sshd.port,
        username=sshd.user,
        host_key=sshd.host_key_line(),
        private_key_path=str(client_key.private_path),
        remote_outbound=str(sshd_remote / "to_partner"),
        remote_inbound=str(sshd_remote / "from_partner"),
        isa_sender_qualifier="ZZ",
        isa_sender_id=SENDER,
        isa_receiver_qualifier="ZZ",
        isa_receiver_id=RECEIVER,
        usage_indicator="T",
        stability_wait=0.3,
        connect_timeout=5.0,
        io_timeout=10.0,
        retry_initial_delay=0.05,
        retry_max_delay=0.2,
        retry_max_total=5.0,
    )


@pytest.fixture
def sandbox(tmp_path: Path, client_key: KeyPair) -> Iterator[SandboxServer]:
    server = SandboxServer(tmp_path / "sandbox", authorized_keys={PARTNER: client_key.public_line})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sandbox_profile(sandbox: SandboxServer, client_key: KeyPair) -> PartnerProfile:
    return sandbox.profile(
        PARTNER,
        private_key_path=str(client_key.private_path),
        isa_sender_qualifier="ZZ",
        isa_sender_id=SENDER,
        isa_receiver_qualifier="ZZ",
        isa_receiver_id=RECEIVER,
        usage_indicator="T",
        stability_wait=0.3,
        connect_timeout=5.0,
        io_timeout=10.0,
        retry_initial_delay=0.05,
        retry_max_delay=0.2,
        retry_max_total=5.0,
    )


# ------------------------------------------------------------------------------------------------------
# The exchange contract both servers must honour. Each test module subclasses it and supplies a
# ``backend`` fixture (see Backend): same tests against real OpenSSH and against the sandbox server.
# ------------------------------------------------------------------------------------------------------

BIG = 24 * 1024 * 1024


@dataclass
class Backend:
    """What a contract test needs from a server."""

    profile: PartnerProfile
    out_dir: Path  # server-side folder our uploads land in
    in_dir: Path  # server-side folder responses are left in
    drop_sessions: Callable[[], object]  # kill live connections, the listener survives
    crash_and_restart: Callable[[], object]  # kill the whole server, start it again (same port/key)
    restart_with_new_host_key: Callable[[], object]

    def put_response(self, name: str, data: bytes) -> Path:
        """Create a response file server-side, atomically (temp outside the folder, then link)."""
        tmp = self.in_dir.parent / f"tmp-{time.monotonic_ns()}"
        tmp.write_bytes(data)
        final = self.in_dir / name
        os.link(tmp, final)
        os.unlink(tmp)
        return final


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _counting(fn: Callable[[], object]) -> tuple[Callable[[], object], list[int]]:
    calls: list[int] = []

    def wrapped() -> object:
        calls.append(1)
        return fn()

    return wrapped, calls


class ExchangeContract:
    """Upload/fetch guarantees, faults included. Subclasses provide the ``backend`` fixture."""

    # ---------------------------------------------------------------------------------- round trips
    def test_upload_then_fetch_round_trip(self, backend: Backend, tmp_path: Path) -> None:
        p = backend.profile
        files = [
            make_interchange(tmp_path / "out" / f"claims{i}.837", control=f"00000000{i}", seed=str(i))
            for i in range(3)
        ]
        with open_sftp(p) as s:
            results = upload_many(s, files, p)
        assert [r.already_present for r in results] == [False] * 3
        for f, r in zip(files, results, strict=True):
            landed = backend.out_dir / f.name
            assert r.remote_path.endswith("/" + f.name)
            assert landed.read_bytes() == f.read_bytes()
            assert r.sha256 == sha256(f)
        assert not [n for n in os.listdir(backend.out_dir) if n.endswith(".part")]

        for i in range(2):
            backend.put_response(f"resp{i}.999", f"ISA*response {i}~".encode())
        inbox = tmp_path / "inbox"
        ledger = JsonFileLedger(inbox)
        with open_sftp(p) as s:
            got = fetch_new(s, p, inbox, ledger)
        assert sorted(f.remote_name for f in got) == ["resp0.999", "resp1.999"]
        for f in got:
            assert f.local_path.parent == inbox
            assert f.local_path.read_bytes() == (backend.in_dir / f.remote_name).read_bytes()
            assert f.sha256 == sha256(f.local_path)
            assert (f.local_path.stat().st_mode & 0o777) == 0o600
            assert ledger.seen(f.remote_name, f.size, f.mtime) and ledger.seen_sha256(f.sha256)
        assert not [n for n in os.listdir(inbox) if n.endswith(".part")]

    def test_upload_is_idempotent_and_never_overwrites(self, backend: Backend, tmp_path: Path) -> None:
        p = backend.profile
        f = make_interchange(tmp_path / "c.837")
        with open_sftp(p) as s:
            first = upload(s, f, p)
            again = upload(s, f, p)
            assert not first.already_present and again.already_present
            assert sorted(os.listdir(backend.out_dir)) == ["c.837"]
            # same name, different bytes of the same size: refused, remote untouched
            before = (backend.out_dir / "c.837").read_bytes()
            make_interchange(f, control="000000002")
            with pytest.raises(RemoteNameConflict):
                upload(s, f, p)
            assert (backend.out_dir / "c.837").read_bytes() == before

    def test_delete_after_download(self, backend: Backend, tmp_path: Path) -> None:
        p = replace(backend.profile, delete_after_download=True)
        backend.put_response("once.277", b"ISA*277CA~")
        with open_sftp(p) as s:
            got = fetch_new(s, p, tmp_path / "inbox", JsonFileLedger(tmp_path / "inbox"))
        assert [f.remote_name for f in got] == ["once.277"]
        assert not (backend.in_dir / "once.277").exists()

    # ---------------------------------------------------------------------------------- faults
    def test_server_killed_mid_upload(self, backend: Backend, tmp_path: Path) -> None:
        p = backend.profile
        big = make_interchange(tmp_path / "big.837", size=BIG)
        killed: list[int] = []

        def kill_at_a_third(sent: int, total: int) -> None:
            if not killed and sent > total // 3:
                killed.append(sent)
                backend.drop_sessions()

        with pytest.raises(TransientTransferError), open_sftp(p) as s:
            upload(s, big, p, progress=kill_at_a_third)
        assert killed
        assert not (backend.out_dir / "big.837").exists(), "partial upload visible under its final name"

        result = retry_call(lambda: _upload_once(p, big), RetryPolicy.from_profile(p))
        assert not result.already_present
        assert sha256(backend.out_dir / "big.837") == sha256(big)
        assert sorted(os.listdir(backend.out_dir)) == ["big.837"]  # the temp name was reused and renamed

    def test_server_killed_mid_download(self, backend: Backend, tmp_path: Path) -> None:
        p = backend.profile
        src = make_interchange(tmp_path / "src.835", size=BIG)
        backend.put_response("big.835", src.read_bytes())
        inbox = tmp_path / "inbox"
        ledger = JsonFileLedger(inbox)
        killed: list[int] = []

        def crash_at_a_third(got: int, total: int) -> None:
            if not killed and got > total // 3:
                killed.append(got)
                backend.crash_and_restart()

        with pytest.raises(TransientTransferError) as err, open_sftp(p) as s:
            fetch_new(s, p, inbox, ledger, progress=crash_at_a_third)
        assert killed and err.value.fetched == []
        assert os.listdir(inbox) == [], "partial download left in the inbox"
        assert not ledger.seen_sha256(sha256(src))

        got = retry_call(lambda: _fetch_once(p, inbox, ledger), RetryPolicy.from_profile(p))
        assert [f.remote_name for f in got] == ["big.835"]
        assert sha256(got[0].local_path) == sha256(src)
        assert sorted(n for n in os.listdir(inbox) if not n.startswith(".claimflow")) == ["big.835"]

    def test_host_key_change_is_refused_without_retry(self, backend: Backend) -> None:
        p = backend.profile
        with open_sftp(p) as s:
            s.listdir(p.remote_outbound)
        backend.restart_with_new_host_key()
        attempt, calls = _counting(lambda: _list_once(p))
        t0 = time.monotonic()
        with pytest.raises(HostKeyMismatch) as err:
            retry_call(attempt, RetryPolicy(attempts=5, initial_delay=0.5, max_total=30))
        assert len(calls) == 1
        assert time.monotonic() - t0 < 5
        assert "SHA256:" in str(err.value) and "AAAA" not in str(err.value)

    def test_wrong_client_key_is_refused_fast_without_retry(self, backend: Backend, tmp_path: Path) -> None:
        stranger = generate_ed25519(tmp_path / "stranger_key")
        p = replace(backend.profile, private_key_path=str(stranger.private_path))
        attempt, calls = _counting(lambda: _list_once(p))
        t0 = time.monotonic()
        with pytest.raises(AuthenticationFailed) as err:
            retry_call(attempt, RetryPolicy(attempts=5, initial_delay=0.5, max_total=30))
        assert len(calls) == 1
        assert time.monotonic() - t0 < 5
        assert "BEGIN" not in str(err.value)

    def test_connection_refused_is_retried_then_given_up(self, backend: Backend) -> None:
        p = replace(backend.profile, port=_closed_port())
        attempt, calls = _counting(lambda: _list_once(p))
        with pytest.raises(TransientTransferError):
            retry_call(attempt, RetryPolicy(attempts=3, initial_delay=0.01, max_delay=0.02, max_total=5))
        assert len(calls) == 3

    # ---------------------------------------------------------------------------------- names
    def test_hostile_remote_names_are_refused_and_skipped(
        self, backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        p = backend.profile
        hostile = ["..evil", "bad\nname.999", "-rf.999", "tab\tname.999", "ok but spaced.999"]
        for name in hostile:
            backend.put_response(name, b"ISA*evil~")
        backend.put_response("good.999", b"ISA*good~")
        backend.put_response(".still-uploading.999.part", b"ISA*half")
        inbox = tmp_path / "box" / "inbox"
        with caplog.at_level(logging.WARNING, logger="sftp.transfer"), open_sftp(p) as s:
            got = fetch_new(s, p, inbox, JsonFileLedger(inbox))
        assert [f.remote_name for f in got] == ["good.999"]
        assert sorted(n for n in os.listdir(inbox) if not n.startswith(".claimflow")) == ["good.999"]
        assert sorted(os.listdir(tmp_path / "box")) == ["inbox"]  # nothing escaped next to the inbox
        warned = caplog.text
        assert "'..evil'" in warned and "'bad\\nname.999'" in warned
        assert "\nname.999" not in warned  # the raw newline never reaches the log
        # names a real server cannot list (they contain '/'), checked directly
        for name in ("../x", "/etc/passwd", "a/b", "a\\b", "..", ".", ""):
            with pytest.raises(UnsafeRemoteName):
                check_remote_name(name)

    def test_same_remote_file_is_fetched_once(self, backend: Backend, tmp_path: Path) -> None:
        p = backend.profile
        backend.put_response("r1.999", b"ISA*999 one~")
        inbox = tmp_path / "inbox"
        ledger = JsonFileLedger(inbox)
        with open_sftp(p) as s:
            assert [f.remote_name for f in fetch_new(s, p, inbox, ledger)] == ["r1.999"]
            assert fetch_new(s, p, inbox, ledger) == []
        # a fresh ledger object reading the same file agrees (survives a restart)
        with open_sftp(p) as s:
            assert fetch_new(s, p, inbox, JsonFileLedger(inbox)) == []
            # the same bytes under another name are not taken twice either
            backend.put_response("r1-copy.999", b"ISA*999 one~")
            assert fetch_new(s, p, inbox, JsonFileLedger(inbox)) == []

    def test_growing_file_is_not_fetched_until_stable(self, backend: Backend, tmp_path: Path) -> None:
        p = backend.profile
        growing = backend.put_response("slow.835", b"ISA*first part~")
        inbox = tmp_path / "inbox"
        ledger = JsonFileLedger(inbox)

        def sleep_while_partner_writes(seconds: float) -> None:
            time.sleep(seconds)
            with open(growing, "ab") as fh:
                fh.write(b"SE*more~")

        with open_sftp(p) as s:
            assert fetch_new(s, p, inbox, ledger, sleep=sleep_while_partner_writes) == []
            assert not (inbox / "slow.835").exists()
            got = fetch_new(s, p, inbox, ledger)
        assert [f.remote_name for f in got] == ["slow.835"]
        assert got[0].local_path.read_bytes() == b"ISA*first part~SE*more~"

    # ---------------------------------------------------------------------------------- profile
    def test_production_file_refused_for_test_profile(self, backend: Backend, tmp_path: Path) -> None:
        p = backend.profile
        assert p.usage_indicator == "T"
        prod = make_interchange(tmp_path / "prod.837", usage="P")
        other = make_interchange(tmp_path / "other.837", receiver="SOMEONEELSE")
        with open_sftp(p) as s:
            with pytest.raises(ProfileMismatch, match="ISA15"):
                upload(s, prod, p)
            with pytest.raises(ProfileMismatch, match="receiver"):
                upload(s, other, p)
        assert os.listdir(backend.out_dir) == []

    # ---------------------------------------------------------------------------------- hostile mailbox
    def test_undecodable_and_very_long_names_do_not_stop_the_fetch(
        self, backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        p = backend.profile
        raw = os.path.join(os.fsencode(backend.in_dir), b"bad\xff\xfename.999")
        with open(raw, "wb") as fh:  # a name that is not UTF-8: paramiko's listdir_attr raises on it
            fh.write(b"ISA*undecodable~")
        long_name = "L" * 242 + ".999"  # 246 characters: a safe name, too long for ".<name>.<rand>.part"
        backend.put_response(long_name, b"ISA*long~")
        backend.put_response("good.999", b"ISA*good~")
        inbox = tmp_path / "inbox"
        with caplog.at_level(logging.WARNING, logger="sftp.transfer"), open_sftp(p) as s:
            got = fetch_new(s, p, inbox, JsonFileLedger(inbox))
        assert sorted(f.remote_name for f in got) == sorted(["good.999", long_name])
        assert {f.local_path.name: f.local_path.read_bytes() for f in got} == {
            "good.999": b"ISA*good~",
            long_name: b"ISA*long~",
        }
        assert [(f.name, f.reason) for f in got.skipped] == [
            (repr(b"bad\xff\xfename.999"), "the name is not UTF-8")
        ]
        assert got.failed == []
        assert "b'bad\\xff\\xfename.999'" in caplog.text  # escaped bytes, never the raw name
        assert not [n for n in os.listdir(inbox) if n.endswith(".part")]

    def test_file_over_the_size_cap_is_refused_from_the_listing(
        self, backend: Backend, tmp_path: Path
    ) -> None:
        p = replace(backend.profile, max_file_size=64 * 1024)
        backend.put_response("huge.835", b"ISA*" + b"x" * (200 * 1024))
        backend.put_response("small.999", b"ISA*small~")
        inbox = tmp_path / "inbox"
        with open_sftp(p) as s:
            got = fetch_new(s, p, inbox, JsonFileLedger(inbox))
        assert [f.remote_name for f in got] == ["small.999"]
        assert [f.name for f in got.failed] == ["'huge.835'"]
        assert "max_file_size" in got.failed[0].reason and "\n" not in got.failed[0].reason
        assert sorted(n for n in os.listdir(inbox) if not n.startswith(".claimflow")) == ["small.999"]

    def test_file_growing_past_the_cap_while_streaming_is_abandoned(
        self, backend: Backend, tmp_path: Path
    ) -> None:
        cap = 4 * 1024 * 1024
        p = replace(backend.profile, max_file_size=cap, stability_wait=0.0)
        growing = backend.put_response("grows.835", b"ISA*" + b"g" * (3 * 1024 * 1024))
        inbox = tmp_path / "inbox"
        ledger = JsonFileLedger(inbox)
        grew: list[int] = []

        def partner_appends(got: int, total: int) -> None:
            if not grew and got > total // 3:
                with open(growing, "ab") as fh:
                    fh.write(b"more" * (512 * 1024))  # now 5 MiB: past the cap
                grew.append(got)

        with open_sftp(p) as s:
            first = fetch_new(s, p, inbox, ledger, progress=partner_appends)
            assert grew and list(first) == [] and first.failed == []  # changed while read: left for later
            assert os.listdir(inbox) == []  # the temp file is gone
            second = fetch_new(s, p, inbox, ledger)
        assert list(second) == [] and [f.name for f in second.failed] == ["'grows.835'"]
        assert "max_file_size" in second.failed[0].reason
        assert not ledger.entries and os.listdir(inbox) == []

    def test_abandoned_download_keeps_memory_bounded_and_the_session_usable(
        self, backend: Backend, tmp_path: Path
    ) -> None:
        """A file abandoned at its deadline a third of the way in: the rest of it is never pulled into
        memory (paramiko's prefetch would read every outstanding answer on close), and the next file of
        the same session arrives intact."""
        import tracemalloc

        p = backend.profile
        src = make_interchange(tmp_path / "src.835", size=BIG)
        backend.put_response("a-big.835", src.read_bytes())
        backend.put_response("b-next.999", b"ISA*next~")
        inbox = tmp_path / "inbox"
        skew = [0.0]

        def clock() -> float:
            return time.monotonic() + skew[0]

        def stall_at_a_third(got: int, total: int) -> None:
            if total >= BIG and got > total // 3:
                skew[0] = 1e6  # the deadline has passed, as if the server had slowed to a trickle

        tracemalloc.start()
        try:
            with open_sftp(p) as s:
                got = fetch_new(s, p, inbox, JsonFileLedger(inbox), progress=stall_at_a_third, clock=clock)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert [f.remote_name for f in got] == ["b-next.999"]
        assert got[0].local_path.read_bytes() == b"ISA*next~"
        assert [f.name for f in got.failed] == ["'a-big.835'"] and "too slow" in got.failed[0].reason
        assert peak < 12 * 1024 * 1024, f"peak {peak} bytes while abandoning a {BIG}-byte file"
        assert sorted(n for n in os.listdir(inbox) if not n.startswith(".claimflow")) == ["b-next.999"]

    def test_upload_checks_every_interchange_of_the_file(self, backend: Backend, tmp_path: Path) -> None:
        p = backend.profile
        test_part = make_interchange(tmp_path / "t.part", control="000000001").read_bytes()
        prod_part = make_interchange(tmp_path / "p.part", usage="P", control="000000002").read_bytes()
        mixed = tmp_path / "mixed.837"
        mixed.write_bytes(test_part + b"\n" + prod_part)
        other = make_interchange(tmp_path / "o.part", receiver="SOMEONEELSE", control="000000003")
        hidden = tmp_path / "hidden.837"  # the second interchange uses other delimiters
        hidden.write_bytes(test_part + other.read_bytes().replace(b"*", b"|"))
        with open_sftp(p) as s:
            with pytest.raises(ProfileMismatch, match=r"interchange 2 of 2 \(ISA13 '000000002'.*ISA15"):
                upload(s, mixed, p)
            with pytest.raises(ProfileMismatch, match=r"interchange 2 of 2 \(ISA13 '000000003'.*receiver"):
                upload(s, hidden, p)
            both_test = tmp_path / "both.837"
            both_test.write_bytes(
                test_part + make_interchange(tmp_path / "t2", control="000000009").read_bytes()
            )
            assert not upload(s, both_test, p).already_present
        assert os.listdir(backend.out_dir) == ["both.837"]


def _upload_once(p: PartnerProfile, path: Path) -> object:
    with open_sftp(p) as s:
        return upload(s, path, p)


def _fetch_once(p: PartnerProfile, inbox: Path, ledger: JsonFileLedger) -> list:
    with open_sftp(p) as s:
        return fetch_new(s, p, inbox, ledger)


def _list_once(p: PartnerProfile) -> object:
    with open_sftp(p) as s:
        return s.listdir(p.remote_outbound)


def _closed_port() -> int:
    return free_port()
