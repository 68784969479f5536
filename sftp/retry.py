"""Retry transient SFTP failures with exponential backoff, jitter and a bound on the total time.

What is retried is decided by :func:`is_retryable`, not by the caller: a connection that was refused,
reset or timed out, a server that went away mid-transfer. Never a changed host key, a refused client key,
a file addressed to the wrong mailbox or usage, or an unsafe remote name: retrying those either cannot
help or (host key) hammers a server that may be an impostor.

Each attempt should be a whole unit (connect + transfer): after a drop the SFTP session is gone, and
:func:`sftp.transfer.upload` / :func:`sftp.transfer.fetch_new` are idempotent, so starting over is safe.
"""

from __future__ import annotations

import errno
import logging
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import paramiko

from sftp.errors import SFTPError

if TYPE_CHECKING:
    from sftp.partner import PartnerProfile

log = logging.getLogger(__name__)
T = TypeVar("T")

_TRANSIENT_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EPIPE,
        errno.EAGAIN,
    }
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` tries in all; the n-th wait is ``min(max_delay, initial_delay * 2**n)`` scaled by a
    random factor in ``[1 - jitter, 1]``; no wait starts that would end past ``max_total`` seconds."""

    attempts: int = 5
    initial_delay: float = 1.0
    max_delay: float = 30.0
    max_total: float = 120.0
    jitter: float = 0.5

    @classmethod
    def from_profile(cls, profile: PartnerProfile) -> RetryPolicy:
        return cls(
            attempts=profile.retry_attempts,
            initial_delay=profile.retry_initial_delay,
            max_delay=profile.retry_max_delay,
            max_total=profile.retry_max_total,
        )

    def delay(self, failures: int, rand: float) -> float:
        """Wait after the ``failures``-th failure (1-based); ``rand`` in [0, 1)."""
        base = min(self.max_delay, self.initial_delay * (2 ** (failures - 1)))
        return base * (1.0 - self.jitter * rand)


def is_retryable(exc: BaseException) -> bool:
    """True for failures another attempt may fix (network, server went away), False for the rest."""
    if isinstance(exc, SFTPError):
        return exc.retryable
    if isinstance(
        exc,
        paramiko.BadHostKeyException
        | paramiko.AuthenticationException
        | paramiko.ssh_exception.IncompatiblePeer,
    ):
        return False
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        return True
    if isinstance(exc, paramiko.SSHException | EOFError | ConnectionError | socket.timeout | TimeoutError):
        return True
    if isinstance(exc, OSError):
        return exc.errno in _TRANSIENT_ERRNOS
    return False


def retry_call(
    fn: Callable[[], T],
    policy: RetryPolicy | None = None,
    *,
    what: str = "SFTP operation",
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rand: Callable[[], float] = random.random,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Call ``fn`` until it succeeds, fails permanently, or the attempts / total time run out.

    The last exception is re-raised unchanged, so the caller sees the typed error of the final attempt.
    ``on_retry(attempt, exc, wait)`` is called before each wait (tests, metrics).
    """
    policy = policy or RetryPolicy()
    start = clock()
    failures = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            failures += 1
            if not is_retryable(exc):
                raise
            if failures >= policy.attempts:
                log.warning("%s: giving up after %d attempts: %s", what, failures, exc)
                raise
            wait = policy.delay(failures, rand())
            if clock() - start + wait > policy.max_total:
                log.warning(
                    "%s: giving up after %d attempts (%.0fs total budget): %s",
                    what,
                    failures,
                    policy.max_total,
                    exc,
                )
                raise
            log.info("%s: attempt %d failed (%s); retrying in %.1fs", what, failures, exc, wait)
            if on_retry is not None:
                on_retry(failures, exc, wait)
            sleep(wait)
