"""Open a paramiko SFTP session to a partner, with the host key pinned and errors typed.

Used by the CLI and the demo; DAGs get their ``SFTPClient`` from Airflow's ``SFTPHook`` instead and call
:mod:`sftp.transfer` directly.

* The host key is *always* checked against the profile's pinned key(s): they are added to the client's
  host-key table under the exact ``[host]:port`` name and the missing-host-key policy rejects. No
  ``~/.ssh/known_hosts``, and no policy that adds or merely warns about an unknown key.
* Key authentication only: ``look_for_keys=False, allow_agent=False``; no password is ever sent.
* Every phase has a timeout (TCP connect, banner, auth, channel open) and the SFTP channel has an I/O
  timeout, so a server that stops answering becomes a :class:`TransientTransferError`, not a hung task.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import paramiko

from sftp.errors import (
    AuthenticationFailed,
    HostKeyMismatch,
    ProfileConfigError,
    SFTPError,
    TransientTransferError,
)
from sftp.keys import fingerprint_of, load_private_key, parse_pinned_host_keys
from sftp.partner import PartnerProfile
from sftp.retry import is_retryable

log = logging.getLogger(__name__)


def host_key_name(host: str, port: int) -> str:
    """The name OpenSSH and paramiko file a host key under: ``host`` on 22, ``[host]:port`` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"


class RejectUnpinnedHostKey(paramiko.MissingHostKeyPolicy):
    """Refuse any server whose key is not pinned in the profile (the only policy claimflow uses)."""

    def __init__(self, profile: PartnerProfile, pinned: list[paramiko.PKey]) -> None:
        self.profile = profile
        self.pinned = pinned

    def missing_host_key(self, client: Any, hostname: str, key: paramiko.PKey) -> None:
        expected = ", ".join(fingerprint_of(k) for k in self.pinned) or "none"
        raise HostKeyMismatch(
            f"partner {self.profile.name}: host key of {hostname} is {fingerprint_of(key)} "
            f"({key.get_name()}), pinned {expected}; refusing to connect",
            expected=expected,
            got=fingerprint_of(key),
        )


def translate_ssh_error(exc: BaseException, profile: PartnerProfile, doing: str) -> SFTPError:
    """Map a paramiko / socket exception to the typed error an operator (and the retry loop) needs."""
    where = f"partner {profile.name} ({profile.username}@{profile.address})"
    if isinstance(exc, SFTPError):
        return exc
    if isinstance(exc, paramiko.BadHostKeyException):
        got, expected = fingerprint_of(exc.key), fingerprint_of(exc.expected_key)
        return HostKeyMismatch(
            f"{where}: host key changed: server presented {got} ({exc.key.get_name()}), pinned {expected}; "
            "refusing to connect (if the partner really rotated its key, update the profile's host_key)",
            expected=expected,
            got=got,
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return AuthenticationFailed(
            f"{where}: authentication failed: the server refused our key ({type(exc).__name__}); "
            "check the username and that our public key is registered with the partner"
        )
    if isinstance(exc, paramiko.ssh_exception.IncompatiblePeer):
        return SFTPError(f"{where}: no common SSH algorithms while {doing}: {exc}")
    if is_retryable(exc):
        detail = (
            exc.strerror if isinstance(exc, OSError) and exc.strerror else (str(exc) or type(exc).__name__)
        )
        return TransientTransferError(f"{where}: {doing}: {detail}")
    return SFTPError(f"{where}: {doing}: {type(exc).__name__}: {exc}")


@contextmanager
def typed_ssh_errors(profile: PartnerProfile, doing: str) -> Iterator[None]:
    """Raise the typed error (:class:`AuthenticationFailed`, :class:`HostKeyMismatch`,
    :class:`TransientTransferError`, …) for a paramiko / socket failure inside the block: for connections
    opened by other code (Airflow's ``SFTPHook``), so they fail, retry and explain like :func:`open_ssh`."""
    try:
        yield
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise translate_ssh_error(exc, profile, doing) from None


@contextmanager
def open_ssh(profile: PartnerProfile, *, timeout: float | None = None) -> Iterator[paramiko.SSHClient]:
    """A connected, authenticated :class:`paramiko.SSHClient` (closed on exit)."""
    pinned = parse_pinned_host_keys(profile.host_key)
    if profile.private_key is None and profile.private_key_path is None:
        raise ProfileConfigError(f"partner {profile.name}: no private key (private_key or private_key_path)")
    pkey = load_private_key(
        path=profile.private_key_path, text=profile.private_key, passphrase=profile.private_key_passphrase
    )
    t = timeout if timeout is not None else profile.connect_timeout
    client = paramiko.SSHClient()
    # never load_system_host_keys(): the profile's pin is the only source of trust
    client.set_missing_host_key_policy(RejectUnpinnedHostKey(profile, pinned))
    name = host_key_name(profile.host, profile.port)
    for key in pinned:
        client.get_host_keys().add(name, key.get_name(), key)
    try:
        try:
            client.connect(
                profile.host,
                port=profile.port,
                username=profile.username,
                pkey=pkey,
                timeout=t,
                banner_timeout=t,
                auth_timeout=t,
                channel_timeout=t,
                allow_agent=False,
                look_for_keys=False,
            )
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise translate_ssh_error(exc, profile, "connecting") from None
        log.debug("connected to partner %s at %s", profile.name, profile.address)
        yield client
    finally:
        client.close()


@contextmanager
def open_sftp(profile: PartnerProfile, *, timeout: float | None = None) -> Iterator[paramiko.SFTPClient]:
    """``with open_sftp(profile) as sftp: upload(sftp, path, profile)``.

    Raises :class:`HostKeyMismatch` / :class:`AuthenticationFailed` at once (never retried) and
    :class:`TransientTransferError` for refused / reset / timed-out connections.
    """
    with open_ssh(profile, timeout=timeout) as client:
        try:
            sftp = client.open_sftp()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            transport = client.get_transport()
            hung_up = transport is None or not transport.is_active()
            # paramiko raises a bare OSError("Socket is closed") (no errno) when the peer disconnected; its
            # transport thread may not have noticed yet, so is_active() can still say True for a moment
            hung_up = hung_up or (isinstance(exc, OSError | EOFError) and getattr(exc, "errno", None) is None)
            if not isinstance(exc, SFTPError) and hung_up:
                # the server hung up (paramiko says only "Socket is closed"): e.g. too many connections
                raise TransientTransferError(
                    f"partner {profile.name} ({profile.username}@{profile.address}): the server closed "
                    "the connection while the SFTP channel was opened"
                ) from None
            raise translate_ssh_error(exc, profile, "opening the SFTP channel") from None
        try:
            channel = sftp.get_channel()
            if channel is not None:
                channel.settimeout(profile.io_timeout)
            yield sftp
        finally:
            with suppress(OSError, EOFError, paramiko.SSHException, socket.error):
                sftp.close()
