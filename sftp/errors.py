"""Typed errors for the clearinghouse SFTP exchange.

Two families, because the caller's only real decision is "try again later or page someone":

* permanent (``retryable = False``): the host key changed, the server refused our key, the file is
  addressed to another mailbox or usage (T/P), a remote name is unsafe, the final remote name is taken by
  different content. Retrying cannot help and, for a host key, must not happen.
* transient (``retryable = True``): connection refused / reset / timed out, the server went away in the
  middle of a transfer. :mod:`sftp.retry` retries these with backoff.

Messages are written for an operator reading an Airflow log: they name the partner, host:port, remote
folder and file names, key *fingerprints* (public), ISA *qualifiers/usage*; never key material, passwords,
or file contents (an X12 file is PHI).
"""

from __future__ import annotations


class SFTPError(Exception):
    """Base class of every SFTP exchange problem claimflow reports.

    ``retryable`` and ``operator_hint`` (one sentence: what to do next) are what callers decide on
    (:func:`sftp.retry.is_retryable`, Airflow's retry policy and failure message in ``dags.common``),
    never the class name."""

    retryable: bool = False
    operator_hint: str = "Check the partner connection named in the message; rerunning the task is safe."


class ProfileConfigError(SFTPError, ValueError):
    """A partner profile that cannot be used as configured (missing host key, bad port, unknown field)."""

    operator_hint = "Fix the partner's Airflow connection or CLAIMFLOW_PARTNER_<NAME>_* settings, then rerun."


class HostKeyMismatch(SFTPError):
    """The server presented a host key other than the pinned one. Never retried: it may be an attack.

    ``str(err)``: ``partner availity: host key of [sftp.example.org]:22 is SHA256:abc…, pinned SHA256:def…;
    refusing to connect (if the partner really rotated its key, update the profile's host_key)``.
    """

    operator_hint = "The clearinghouse's server key changed: confirm the new key with them before updating the connection."

    def __init__(self, message: str, *, expected: str | None = None, got: str | None = None) -> None:
        super().__init__(message)
        self.expected_fingerprint = expected
        self.got_fingerprint = got


class AuthenticationFailed(SFTPError):
    """The server refused our key (or asked for a method we do not use). Never retried."""

    operator_hint = (
        "The clearinghouse refused our key: check the connection's login (user name) and private key file "
        "(for the sandbox, the user and key `claimflow sandbox serve` printed); not retried."
    )


class TransientTransferError(SFTPError):
    """Connection refused, reset or timed out; the server went away mid-transfer. Safe to retry.

    ``fetched`` carries the files a :func:`sftp.transfer.fetch_new` call had already downloaded and
    recorded in the ledger before the failure, so a caller that works from the return value loses nothing.
    """

    retryable = True
    operator_hint = (
        "The clearinghouse could not be reached; tonight's files stay queued and go out on the next run."
    )

    def __init__(self, message: str, *, fetched: list[object] | None = None) -> None:
        super().__init__(message)
        self.fetched: list[object] = list(fetched or [])


class UnsafeRemoteName(SFTPError):
    """A remote file name we refuse to use as a local path component (``../x``, ``a/b``, control chars).

    The name is shown with :func:`repr`-style escaping so a newline or escape sequence in it cannot forge
    log lines.
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"unsafe remote file name {name!r}: {reason}")
        self.name = name
        self.reason = reason


class ProfileMismatch(SFTPError):
    """The file's interchange header does not match the partner profile (ISA07/08 receiver, ISA05/06
    sender, ISA15 usage). A test file never goes to a production mailbox, nor one partner's claims to
    another. Names the file and the ISA elements, never other content.
    """

    operator_hint = "The file was not sent: its ISA sender/receiver/usage do not match the partner profile."


class FileFetchFailed(SFTPError):
    """One remote file could not be taken (larger than the profile's ``max_file_size``, slower than its
    deadline, refused by the server, a local name problem). :func:`sftp.transfer.fetch_new` catches it
    per file, lists the file in its result's ``failed`` and goes on with the others; the message is one
    line naming the partner and the (escaped) remote name, never file content.
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name!r}: {reason}")
        self.name = name
        self.reason = reason


class RemoteNameConflict(SFTPError):
    """The final remote name already exists with *different* content: we will not overwrite a file the
    partner may not have picked up yet. Rename the local file or check the upload naming template."""
