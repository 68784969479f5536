from __future__ import annotations

import errno

import paramiko
import pytest

from sftp.errors import (
    AuthenticationFailed,
    HostKeyMismatch,
    ProfileConfigError,
    ProfileMismatch,
    RemoteNameConflict,
    SFTPError,
    TransientTransferError,
    UnsafeRemoteName,
)
from sftp.keys import parse_public_key
from sftp.retry import RetryPolicy, is_retryable, retry_call

KEY_A = parse_public_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM2NqYrkOvSX4XVxL/UuiC+CbC9JrFiJbCysWDOZ1t/1")


@pytest.mark.parametrize(
    "exc",
    [
        TransientTransferError("reset"),
        ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
        ConnectionResetError(errno.ECONNRESET, "reset"),
        TimeoutError("timed out"),
        TimeoutError(),
        EOFError(),
        paramiko.SSHException("Error reading SSH protocol banner"),
        paramiko.ssh_exception.NoValidConnectionsError({("127.0.0.1", 22): OSError(errno.ECONNREFUSED, "x")}),
        OSError(errno.EHOSTUNREACH, "no route"),
    ],
)
def test_transient_failures_are_retried(exc: BaseException) -> None:
    assert is_retryable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        HostKeyMismatch("changed"),
        AuthenticationFailed("refused"),
        ProfileMismatch("P file, T mailbox"),
        UnsafeRemoteName("../x", "path separator"),
        RemoteNameConflict("taken"),
        ProfileConfigError("bad"),
        SFTPError("generic"),
        paramiko.BadHostKeyException("h", KEY_A, KEY_A),
        paramiko.AuthenticationException("no"),
        paramiko.BadAuthenticationType("no", ["publickey"]),
        paramiko.ssh_exception.IncompatiblePeer("no kex"),
        OSError(errno.ENOENT, "no such file"),
        OSError(errno.EACCES, "denied"),
        ValueError("bug"),
    ],
)
def test_permanent_failures_are_not_retried(exc: BaseException) -> None:
    assert not is_retryable(exc)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, s: float) -> None:
        self.waits.append(s)
        self.now += s

    def clock(self) -> float:
        return self.now


def _failing(excs: list[BaseException], result: str = "ok"):
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if excs:
            raise excs.pop(0)
        return result

    return fn, calls


def test_retries_then_succeeds_with_exponential_backoff() -> None:
    clk = FakeClock()
    fn, calls = _failing(
        [TransientTransferError("a"), TransientTransferError("b"), TransientTransferError("c")]
    )
    policy = RetryPolicy(attempts=5, initial_delay=1.0, max_delay=30.0, max_total=100.0, jitter=0.0)
    assert retry_call(fn, policy, sleep=clk.sleep, clock=clk.clock) == "ok"
    assert len(calls) == 4
    assert clk.waits == [1.0, 2.0, 4.0]


def test_jitter_only_shortens_the_wait() -> None:
    policy = RetryPolicy(initial_delay=8.0, max_delay=8.0, jitter=0.5)
    assert policy.delay(1, 0.0) == 8.0
    assert policy.delay(1, 0.999) == pytest.approx(4.004)
    assert policy.delay(10, 0.0) == 8.0  # capped by max_delay


@pytest.mark.parametrize(
    "exc",
    [HostKeyMismatch("x"), AuthenticationFailed("x"), ProfileMismatch("x"), UnsafeRemoteName("..x", "r")],
)
def test_permanent_error_raises_on_first_attempt(exc: BaseException) -> None:
    clk = FakeClock()
    fn, calls = _failing([exc])
    with pytest.raises(type(exc)):
        retry_call(fn, RetryPolicy(), sleep=clk.sleep, clock=clk.clock)
    assert len(calls) == 1 and clk.waits == []


def test_gives_up_after_attempts() -> None:
    clk = FakeClock()
    fn, calls = _failing([TransientTransferError(str(i)) for i in range(10)])
    with pytest.raises(TransientTransferError, match=r"^2$"):
        retry_call(fn, RetryPolicy(attempts=3, jitter=0.0), sleep=clk.sleep, clock=clk.clock)
    assert len(calls) == 3


def test_total_time_is_bounded() -> None:
    clk = FakeClock()
    fn, _ = _failing([TransientTransferError(str(i)) for i in range(100)])
    policy = RetryPolicy(attempts=100, initial_delay=1.0, max_delay=10.0, max_total=20.0, jitter=0.0)
    with pytest.raises(TransientTransferError):
        retry_call(fn, policy, sleep=clk.sleep, clock=clk.clock)
    assert clk.now <= 20.0
    assert clk.waits == [1.0, 2.0, 4.0, 8.0]  # the next (10 s) would end past 20 s


def test_on_retry_hook_sees_each_failure() -> None:
    clk = FakeClock()
    seen: list[tuple[int, str]] = []
    fn, _ = _failing([TransientTransferError("x"), EOFError()])
    retry_call(
        fn,
        RetryPolicy(jitter=0.0),
        sleep=clk.sleep,
        clock=clk.clock,
        on_retry=lambda n, e, w: seen.append((n, type(e).__name__)),
    )
    assert seen == [(1, "TransientTransferError"), (2, "EOFError")]
