"""Upload claims to, and fetch responses from, a partner mailbox over a *connected* ``SFTPClient``.

The client may come from :func:`sftp.connect.open_sftp` (CLI) or from Airflow's ``SFTPHook.get_conn()``
(DAGs); nothing here connects, so both paths share the same guarantees:

Upload (:func:`upload`, :func:`upload_many`)
    * the file's ISA07/ISA08 receiver, ISA05/ISA06 sender (when the profile names one) and ISA15 usage must
      match the profile, else :class:`ProfileMismatch` — a test interchange never reaches a production
      mailbox;
    * the final remote name is rendered from the profile's template using only the file's own data, so a
      re-run maps the same file to the same name;
    * written under a temporary name, size-checked, then renamed (SFTP ``rename`` never overwrites): the
      partner never sees a partial file under its final name;
    * idempotent: if the final name already holds the same bytes (same size; same sha256 when reading it
      back is cheap) nothing is sent and the result says ``already_present`` — a run that died after the
      upload but before recording it does not send the claims twice. Different bytes under that name:
      :class:`RemoteNameConflict`, nothing overwritten.

Fetch (:func:`fetch_new`)
    * a hostile mailbox stops nothing but the file at fault: each file that cannot be taken (over the
      profile's ``max_file_size``, slower than its deadline ``transfer_timeout + size /
      min_transfer_rate``, refused by the server) is listed in the result's ``failed`` with a one-line
      reason, and the others are fetched; only a lost session raises;
    * the listing is read as bytes: a name that is not UTF-8 is skipped (logged as escaped bytes)
      instead of losing the whole listing;
    * downloads are pipelined with a bounded window (at most 4 MiB asked for and not yet written), so
      memory does not grow with the file, and an abandoned download leaves the session usable;
    * remote names are data: unsafe ones are logged and skipped (:mod:`sftp.names`), temp names ignored;
    * files the ledger has seen (name + size + mtime) are not downloaded again; a file whose size or mtime
      moves between two listings ``stability_wait`` seconds apart is left for the next run;
    * download to ``.cf-<sha256 of the name, 16 hex>.<random>.part`` (mode 0600; short whatever the
      remote name's length) hashing on the way, fsync, check (one listing
      per batch) that size and mtime did not move, skip if the sha256 is already known, rename into the
      inbox under the remote name (or ``<stem>.<sha12>.<ext>`` if a different file already has it; never
      clobbering) and fsync the directory; **then** ``ledger.record()`` (before anything parses it),
      **then** the optional remote delete.
    * durability is batched (up to 256 files / 256 MiB): a file's fsync runs in a helper thread while the
      next one downloads, and the inbox is fsynced once per batch. A crash at any point leaves either a
      ``.part`` (swept after an hour) or a complete file the next run re-registers by its sha256.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import hashlib
import json
import logging
import os
import posixpath
import re
import secrets
import stat
import string
import threading
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

import paramiko

from edi.files import fsync_dir, sha256_file
from sftp.connect import translate_ssh_error
from sftp.errors import (
    FileFetchFailed,
    ProfileConfigError,
    ProfileMismatch,
    RemoteNameConflict,
    SFTPError,
    TransientTransferError,
    UnsafeRemoteName,
)
from sftp.isa import IsaHeader, read_isa_headers
from sftp.names import check_remote_name, is_temp_name
from sftp.partner import PartnerProfile

log = logging.getLogger(__name__)

CHUNK = 32768  # paramiko's maximum SFTP read/write request size
Progress = Callable[[int, int], None]
_STALE_PART_RE = re.compile(r"^\..+\.[0-9a-f]{8}\.part$")
_STALE_PART_AGE = 3600.0

_SSH_ERRORS = (paramiko.SSHException, EOFError, OSError)
_NET_ERRORS = (ConnectionError, TimeoutError)
R = TypeVar("R")


# --------------------------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class UploadResult:
    local_path: Path
    remote_path: str
    """Final remote path (``<remote_outbound>/<rendered name>``)."""
    size: int
    sha256: str
    isa_control_number: str
    already_present: bool
    """True when the same bytes were already under the final name and nothing was sent."""
    seconds: float


@dataclass(frozen=True, slots=True)
class FetchedFile:
    partner: str
    remote_name: str
    remote_path: str
    local_path: Path
    """Where the bytes are now: inside ``inbox_dir``, mode 0600, fsynced."""
    size: int
    mtime: int
    """Remote modification time (seconds since the epoch) as listed; part of the ledger's identity."""
    sha256: str
    fetched_at: datetime

    def to_json(self) -> dict[str, object]:
        """Every field, in field order (a new field is never forgotten), the path and time as text."""
        out: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["local_path"] = str(self.local_path)
        out["fetched_at"] = self.fetched_at.isoformat()
        return out


@dataclass(frozen=True, slots=True)
class FetchFailure:
    """A remote file :func:`fetch_new` did not take, and why, in one line (``name`` is escaped)."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


class FetchResult(list[FetchedFile]):
    """What :func:`fetch_new` returns: the fetched files (a list, as before), plus

    * ``failed``: files it tried or refused to take (over ``max_file_size``, too slow, refused by the
      server, local trouble), each with a one-line reason; the next run tries them again;
    * ``skipped``: names it will never take (unsafe, not UTF-8).

    One file's failure never stops the others; only a failed *session* (connection lost) raises.
    """

    def __init__(self, items: Iterable[FetchedFile] = ()) -> None:
        super().__init__(items)
        self.failed: list[FetchFailure] = []
        self.skipped: list[FetchFailure] = []


@runtime_checkable
class FetchLedger(Protocol):
    """What :func:`fetch_new` asks about files it has already taken (one ledger per partner mailbox).

    ``record`` is called after the file is durable in the inbox and before :func:`fetch_new` returns it
    (and before the optional remote delete); when it returns, the file must count as received. It may
    raise to abort the fetch (the local file then stays, and the next run re-registers it by sha256).
    """

    def seen(self, name: str, size: int, mtime: int) -> bool: ...

    def seen_sha256(self, sha256: str) -> bool: ...

    def record(self, fetched: FetchedFile) -> None: ...


class JsonFileLedger:
    """A :class:`FetchLedger` in one JSON-lines file (default ``<inbox>/.claimflow-fetched.jsonl``).

    For the CLI, the demo and tests; one process at a time. Each record is one appended, fsynced line, so
    a crash loses at most the record being written (a torn last line is ignored on load).
    """

    FILENAME = ".claimflow-fetched.jsonl"

    def __init__(self, path: Path | str) -> None:
        """``path``: the inbox folder (the ledger goes inside it) or a ``.json``/``.jsonl`` file."""
        p = Path(path)
        self.path = p / self.FILENAME if p.is_dir() or p.suffix not in (".json", ".jsonl") else p
        self._lock = threading.Lock()
        self._keys: set[tuple[str, int, int]] = set()
        self._shas: set[str] = set()
        self.entries: list[dict[str, object]] = []
        if self.path.exists():
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        entry = json.loads(line)
                        key = (str(entry["remote_name"]), int(entry["size"]), int(entry["mtime"]))
                        sha = str(entry["sha256"])
                    except (ValueError, KeyError, TypeError):
                        continue
                    self._keys.add(key)
                    self._shas.add(sha)
                    self.entries.append(entry)

    def seen(self, name: str, size: int, mtime: int) -> bool:
        return (name, int(size), int(mtime)) in self._keys

    def seen_sha256(self, sha256: str) -> bool:
        return sha256 in self._shas

    def record(self, fetched: FetchedFile) -> None:
        self.record_many([fetched])

    def record_many(self, fetched: Iterable[FetchedFile]) -> None:
        """Append several records with one write and one fsync (``fetch_new`` calls it once per batch)."""
        items = list(fetched)
        if not items:
            return
        entries = [f.to_json() for f in items]
        data = "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries).encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            for f, e in zip(items, entries, strict=True):
                self._keys.add((f.remote_name, f.size, f.mtime))
                self._shas.add(f.sha256)
                self.entries.append(e)


# --------------------------------------------------------------------------------------------- helpers


def _sftp_call(profile: PartnerProfile, doing: str, fn: Callable[[], R]) -> R:
    try:
        return fn()
    except SFTPError:
        raise
    except _SSH_ERRORS as exc:
        raise _remote_error(exc, profile, doing) from None


def _remote_error(exc: BaseException, profile: PartnerProfile, doing: str) -> SFTPError:
    """paramiko reports SFTP status codes as OSError(errno); network loss as SSHException/EOFError."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOENT, errno.EACCES, errno.EPERM):
        what = "no such file or folder" if exc.errno == errno.ENOENT else "permission denied"
        return SFTPError(f"partner {profile.name} ({profile.address}): {doing}: {what}")
    if isinstance(exc, OSError) and exc.errno is None and not isinstance(exc, _NET_ERRORS):
        # SSH_FX_FAILURE and friends: the server said no without saying why (disk full, quota…)
        return TransientTransferError(
            f"partner {profile.name} ({profile.address}): {doing}: server failure: {exc}"
        )
    return translate_ssh_error(exc, profile, doing)


def _stat_or_none(sftp: paramiko.SFTPClient, path: str) -> paramiko.SFTPAttributes | None:
    try:
        return sftp.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def _remote_sha256(sftp: paramiko.SFTPClient, path: str, size: int) -> str:
    h = hashlib.sha256()
    with sftp.open(path, "rb") as rf:
        if size:
            rf.prefetch(size)
        while chunk := rf.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


WRITE_BATCH_DEFAULT = 1024 * 1024


class _HashingReader:
    """File-like ``read`` for ``putfo`` that hashes what it hands out.

    Reads and hashes the local file a MiB at a time and serves ``putfo``'s 32 KiB requests from memory:
    every file read and hash update releases the GIL, and doing that per 32 KiB chunk makes the main
    thread queue behind paramiko's transport thread far longer than the work itself takes.
    """

    __slots__ = ("_block", "_fh", "_pos", "_step", "count", "hash")

    def __init__(self, fh: object, size_hint: int = WRITE_BATCH_DEFAULT) -> None:
        self._fh = fh
        self.hash = hashlib.sha256()
        self.count = 0
        self._block = b""
        self._pos = 0
        # no 1 MiB buffer for a 2 KiB file (+1: the read that finds EOF stays small too)
        self._step = max(1, min(WRITE_BATCH_DEFAULT, size_hint + 1))

    def read(self, n: int = -1) -> bytes:
        if n < 0:  # everything that is left
            rest = self._block[self._pos :] + self._fh.read()  # type: ignore[attr-defined]
            self.hash.update(rest[len(self._block) - self._pos :])
            self._block, self._pos = b"", 0
            self.count += len(rest)
            return rest
        if self._pos >= len(self._block):
            self._block = self._fh.read(max(n, self._step))  # type: ignore[attr-defined]
            self._pos = 0
            self.hash.update(self._block)
        data = self._block[self._pos : self._pos + n]
        self._pos += len(data)
        self.count += len(data)
        return data


# ---------------------------------------------------------------------------------------------- upload


def check_profile(header: IsaHeader, profile: PartnerProfile, label: str) -> None:
    """Refuse a file whose interchange is not addressed to this partner mailbox (ProfileMismatch)."""
    where = f"{label}: not sent to partner {profile.name}"
    if profile.isa_receiver_id is None:
        raise ProfileMismatch(
            f"{where}: the profile has no isa_receiver_id, so the file's receiver cannot be checked"
        )
    if header.usage != profile.usage_indicator:
        raise ProfileMismatch(
            f"{where}: ISA15 usage indicator is {header.usage!r} but this mailbox is "
            f"{'production (P)' if profile.usage_indicator == 'P' else 'test (T)'}"
        )
    if header.receiver_id != profile.isa_receiver_id.strip() or (
        profile.isa_receiver_qualifier is not None
        and header.receiver_qualifier != profile.isa_receiver_qualifier.strip()
    ):
        raise ProfileMismatch(f"{where}: ISA07/ISA08 receiver does not match the profile's receiver")
    if (profile.isa_sender_id is not None and header.sender_id != profile.isa_sender_id.strip()) or (
        profile.isa_sender_qualifier is not None
        and header.sender_qualifier != profile.isa_sender_qualifier.strip()
    ):
        raise ProfileMismatch(f"{where}: ISA05/ISA06 sender does not match the profile's sender")


def check_profile_all(headers: list[IsaHeader], profile: PartnerProfile, label: str) -> None:
    """:func:`check_profile` for every interchange of a file; a refusal names the interchange's position,
    byte offset and ISA13 control number when the file holds more than one."""
    if len(headers) == 1:
        check_profile(headers[0], profile, label)
        return
    for i, h in enumerate(headers, 1):
        check_profile(
            h,
            profile,
            f"{label} interchange {i} of {len(headers)} (ISA13 {h.control_number!r}, byte {h.offset})",
        )


def _template_fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def _name_fields(
    profile: PartnerProfile, local_path: Path, header: IsaHeader, sha256: str | None
) -> dict[str, str]:
    return {
        "name": local_path.name,
        "stem": local_path.stem,
        "suffix": local_path.suffix,
        "partner": profile.name,
        "isa13": header.control_number,
        "isa15": header.usage,
        "isa09": header.date,
        "isa10": header.time,
        "sender_id": header.sender_id,
        "receiver_id": header.receiver_id,
        "sha8": (sha256 or "")[:8],
    }


def render_upload_name(
    profile: PartnerProfile, local_path: Path, header: IsaHeader, sha256: str | None
) -> str:
    """The final remote name for ``local_path`` (checked safe, and not a temp-looking name)."""
    local_path = Path(local_path)
    if "sha8" in _template_fields(profile.upload_name_template) and not sha256:
        raise ProfileConfigError("upload_name_template uses {sha8} but no sha256 was computed")
    name = profile.upload_name_template.format(**_name_fields(profile, local_path, header, sha256))
    try:
        check_remote_name(name)
    except UnsafeRemoteName as exc:
        raise ProfileConfigError(
            f"partner {profile.name}: upload name for {local_path.name} is unsafe: {exc.reason}"
        ) from None
    if is_temp_name(name):
        raise ProfileConfigError(
            f"partner {profile.name}: upload name {name!r} looks like a temporary name; the partner would "
            "ignore it"
        )
    return name


def render_temp_name(
    profile: PartnerProfile, local_path: Path, header: IsaHeader, sha256: str | None, final: str
) -> str:
    """The temporary remote name (``{name}`` is the final remote name)."""
    fields = {**_name_fields(profile, Path(local_path), header, sha256), "name": final}
    temp = profile.upload_temp_template.format(**fields)
    try:
        check_remote_name(temp)
    except UnsafeRemoteName as exc:
        raise ProfileConfigError(
            f"partner {profile.name}: upload temp name is unsafe: {exc.reason}"
        ) from None
    if temp == final:
        raise ProfileConfigError(f"partner {profile.name}: upload_temp_template gives the final name itself")
    return temp


def _check_same_content(
    sftp: paramiko.SFTPClient, profile: PartnerProfile, remote: str, size: int, local_sha: str, label: str
) -> None:
    """Same size already checked; compare sha256 too when reading the remote file back is cheap."""
    if size > profile.verify_existing_max_bytes:
        return
    remote_sha = _sftp_call(profile, f"reading back {remote}", lambda: _remote_sha256(sftp, remote, size))
    if remote_sha != local_sha:
        raise RemoteNameConflict(
            f"partner {profile.name}: {remote} already exists with different content of the same size; "
            f"not overwriting ({label})"
        )


def list_remote(
    sftp: paramiko.SFTPClient,
    folder: str,
    profile: PartnerProfile,
    undecodable: list[bytes] | None = None,
) -> dict[str, paramiko.SFTPAttributes]:
    """Name → attributes of a remote folder (one round trip per ~100 names).

    Names come off the wire as bytes: a name that is not UTF-8 is left out (appended to
    ``undecodable`` when given, logged as escaped bytes), where paramiko's ``listdir_attr`` would raise
    ``UnicodeDecodeError`` and lose the whole listing.
    """
    if not hasattr(sftp, "_request"):  # a stand-in without paramiko's request layer (tests)
        attrs = _sftp_call(profile, f"listing {folder}", lambda: sftp.listdir_attr(folder))
        return {a.filename: a for a in attrs}
    raw = _sftp_call(profile, f"listing {folder}", lambda: _listdir_bytes(sftp, folder))
    out: dict[str, paramiko.SFTPAttributes] = {}
    for name_bytes, attrs in raw:
        try:
            name = name_bytes.decode("utf-8")
        except UnicodeDecodeError:
            if undecodable is not None:
                log.warning(
                    "partner %s: skipping %r in %s: the name is not UTF-8", profile.name, name_bytes, folder
                )
                undecodable.append(name_bytes)
            continue
        attrs.filename = name
        out[name] = attrs
    return out


def _listdir_bytes(sftp: paramiko.SFTPClient, folder: str) -> list[tuple[bytes, paramiko.SFTPAttributes]]:
    """``listdir_attr`` keeping each name as the bytes the server sent (OPENDIR / READDIR / CLOSE)."""
    from paramiko.sftp import CMD_CLOSE, CMD_HANDLE, CMD_NAME, CMD_OPENDIR, CMD_READDIR

    t, msg = sftp._request(CMD_OPENDIR, sftp._adjust_cwd(folder))
    if t != CMD_HANDLE:
        raise paramiko.SFTPError("Expected handle")
    handle = msg.get_binary()
    out: list[tuple[bytes, paramiko.SFTPAttributes]] = []
    try:
        while True:
            try:
                t, msg = sftp._request(CMD_READDIR, handle)
            except EOFError:
                break  # SSH_FX_EOF: end of the folder
            if t != CMD_NAME:
                raise paramiko.SFTPError("Expected name response")
            for _ in range(msg.get_int()):
                name = msg.get_string()
                longname = msg.get_string()
                attrs = paramiko.SFTPAttributes._from_msg(msg, "", longname.decode("utf-8", "replace"))
                if name not in (b".", b".."):
                    out.append((name, attrs))
    finally:
        with contextlib.suppress(EOFError, OSError):
            sftp._request(CMD_CLOSE, handle)
    return out


def upload(
    sftp: paramiko.SFTPClient,
    local_path: Path | str,
    profile: PartnerProfile,
    *,
    remote_listing: Mapping[str, paramiko.SFTPAttributes] | None = None,
    progress: Progress | None = None,
) -> UploadResult:
    """Upload one interchange file to ``profile.remote_outbound`` (see the module docstring).

    ``remote_listing`` (name → attributes of the outbound folder) saves the per-file ``stat`` when many
    files go up in one session (:func:`upload_many` passes it). ``progress(sent, total)`` is called as
    chunks are sent.
    """
    t0 = time.monotonic()
    local_path = Path(local_path)
    label = local_path.name
    headers = read_isa_headers(local_path)
    check_profile_all(headers, profile, label)
    header = headers[0]
    size = local_path.stat().st_size
    needs_sha = "sha8" in _template_fields(profile.upload_name_template + profile.upload_temp_template)
    local_sha = sha256_file(local_path) if needs_sha else None
    final = render_upload_name(profile, local_path, header, local_sha)
    remote_final = posixpath.join(profile.remote_outbound, final)

    if remote_listing is not None:
        existing = remote_listing.get(final)
    else:
        existing = _sftp_call(profile, f"checking {remote_final}", lambda: _stat_or_none(sftp, remote_final))

    def already(sha: str) -> UploadResult:
        log.info("partner %s: %s already present as %s; not sent again", profile.name, label, remote_final)
        return UploadResult(
            local_path, remote_final, size, sha, header.control_number, True, time.monotonic() - t0
        )

    if existing is not None:
        existing_size = existing.st_size
        if existing_size == size:
            local_sha = local_sha or sha256_file(local_path)
            _check_same_content(sftp, profile, remote_final, size, local_sha, label)
            return already(local_sha)
        if profile.upload_temp_then_rename or (existing_size or 0) > size:
            raise RemoteNameConflict(
                f"partner {profile.name}: {remote_final} already exists with a different size; not "
                f"overwriting ({label})"
            )
        # direct-write mode and a shorter file under our name: our own interrupted upload, overwrite it

    target = (
        posixpath.join(
            profile.remote_outbound, render_temp_name(profile, local_path, header, local_sha, final)
        )
        if profile.upload_temp_then_rename
        else remote_final
    )
    with open(local_path, "rb") as fh:
        reader = _HashingReader(fh, size)
        _sftp_call(
            profile,
            f"uploading {label} to {target}",
            lambda: sftp.putfo(reader, target, file_size=size, callback=progress, confirm=False),
        )
    sha = reader.hash.hexdigest()
    if reader.count != size:
        raise TransientTransferError(
            f"{label} changed size while it was being uploaded ({size} → {reader.count})"
        )
    sent = _sftp_call(profile, f"checking {target}", lambda: sftp.stat(target))
    if sent.st_size != size:
        raise TransientTransferError(
            f"partner {profile.name}: {target} has {sent.st_size} bytes after upload, expected {size}"
        )
    if target != remote_final:
        try:
            sftp.rename(target, remote_final)  # SSH_FXP_RENAME: fails rather than overwrite
        except OSError as exc:
            if isinstance(exc, _NET_ERRORS):
                raise _remote_error(exc, profile, f"renaming {target}") from None
            # the final name appeared meanwhile (another run of the same upload?): fine if same bytes
            now = _sftp_call(profile, f"checking {remote_final}", lambda: _stat_or_none(sftp, remote_final))
            if now is None:
                raise _remote_error(exc, profile, f"renaming {target} to {final}") from None
            if now.st_size != size:
                raise RemoteNameConflict(
                    f"partner {profile.name}: {remote_final} appeared during the upload with a different "
                    f"size; not overwriting ({label})"
                ) from None
            _check_same_content(sftp, profile, remote_final, size, sha, label)
            _sftp_call(profile, f"removing {target}", lambda: sftp.remove(target))
            return already(sha)
        except _SSH_ERRORS as exc:
            raise _remote_error(exc, profile, f"renaming {target}") from None
    log.info("partner %s: uploaded %s as %s (%d bytes)", profile.name, label, remote_final, size)
    return UploadResult(
        local_path, remote_final, size, sha, header.control_number, False, time.monotonic() - t0
    )


def upload_many(
    sftp: paramiko.SFTPClient,
    paths: Iterable[Path | str],
    profile: PartnerProfile,
    *,
    progress: Progress | None = None,
) -> list[UploadResult]:
    """Upload several files in one session, listing the outbound folder once instead of a stat per file.

    Stops at the first error (raised); files uploaded before it are on the server, and a re-run reports
    them ``already_present``.
    """
    listing = list_remote(sftp, profile.remote_outbound, profile)
    results = []
    for p in paths:
        r = upload(sftp, p, profile, remote_listing=listing, progress=progress)
        if not r.already_present:
            listing[posixpath.basename(r.remote_path)] = sftp_attrs(r.size)
        results.append(r)
    return results


def sftp_attrs(size: int) -> paramiko.SFTPAttributes:
    a = paramiko.SFTPAttributes()
    a.st_size = size
    return a


# ----------------------------------------------------------------------------------------------- fetch


def _clean_stale_parts(inbox: Path) -> None:
    now = time.time()
    for entry in os.scandir(inbox):
        if _STALE_PART_RE.match(entry.name):
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime > _STALE_PART_AGE:
                    os.unlink(entry.path)
            except FileNotFoundError:
                pass


def _shown(name: str | bytes) -> str:
    """A remote name as it may appear in a log line or a result: escaped, never raw control bytes."""
    return repr(name)


def _candidates(
    listing: Mapping[str, paramiko.SFTPAttributes],
    profile: PartnerProfile,
    ledger: FetchLedger,
    result: FetchResult,
) -> dict[str, paramiko.SFTPAttributes]:
    out = {}
    for name, attrs in listing.items():
        try:
            check_remote_name(name)
        except UnsafeRemoteName as exc:
            log.warning("partner %s: skipping %s in %s", profile.name, exc, profile.remote_inbound)
            result.skipped.append(FetchFailure(_shown(name), exc.reason))
            continue
        if is_temp_name(name):
            log.debug("partner %s: skipping in-progress %s", profile.name, name)
            continue
        if attrs.st_mode is not None and not stat.S_ISREG(attrs.st_mode):
            continue
        if ledger.seen(name, int(attrs.st_size or 0), int(attrs.st_mtime or 0)):
            continue
        if attrs.st_size is not None and attrs.st_size > profile.max_file_size:
            _fail(
                result,
                profile,
                name,
                f"{attrs.st_size} bytes listed, over the partner's max_file_size of "
                f"{profile.max_file_size}; not downloaded",
            )
            continue
        out[name] = attrs
    return out


def _fail(result: FetchResult, profile: PartnerProfile, name: str, reason: str) -> None:
    log.warning("partner %s: not fetched: %s: %s", profile.name, _shown(name), reason)
    result.failed.append(FetchFailure(_shown(name), reason))


def _name_max(inbox: Path) -> int:
    try:
        return int(os.pathconf(inbox, "PC_NAME_MAX"))
    except (OSError, ValueError):  # pragma: no cover - every POSIX file system answers
        return 255


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (never splitting a character)."""
    return text.encode("utf-8")[: max(1, limit)].decode("utf-8", "ignore")


def _local_target(inbox: Path, name: str, sha: str) -> tuple[Path, bool]:
    """Where ``name`` goes in the inbox: (path, already_there). Never overwrites a different file.

    A name the local file system cannot hold (``NAME_MAX``) is shortened, keeping its extension and
    adding 12 hex digits of the content's sha256, so it still lands and stays unique.
    """
    limit = _name_max(inbox)
    if len(name.encode("utf-8")) <= limit:
        first = inbox / name
        if not first.exists():
            return first, False
        if sha256_file(first) == sha:
            return first, True
    stem, dot, suffix = name.rpartition(".")
    ext = f".{suffix}" if dot and stem and len(suffix) <= 16 else ""
    base = stem if ext else name
    alt_name = f"{base}.{sha[:12]}{ext}"
    if len(alt_name.encode("utf-8")) > limit:
        alt_name = f"{_cut(base, limit - 13 - len(ext.encode('utf-8')))}.{sha[:12]}{ext}"
    alt = inbox / alt_name
    if alt.exists():
        return alt, True  # named by its own hash: same bytes
    return alt, False


@dataclass(slots=True)
class _Pending:
    """A file downloaded to ``tmp`` (fsync queued) and not yet checked, linked or recorded."""

    name: str
    remote: str
    size: int
    mtime: int
    tmp: Path
    sha256: str
    synced: concurrent.futures.Future[None]


SYNC_EVERY = 32 * 1024 * 1024  # start writeback of a big download while the rest is still arriving
WRITE_BATCH = WRITE_BATCH_DEFAULT


def _fsync_and_close(fd: int, earlier: concurrent.futures.Future[None] | None = None) -> None:
    try:
        if earlier is not None:
            with contextlib.suppress(OSError):
                earlier.result()  # never close the fd under a running fdatasync
        os.fsync(fd)
    finally:
        os.close(fd)


MAX_IN_FLIGHT = 4 * 1024 * 1024
"""Most bytes asked for and not yet handed on, per download: bounds memory whatever the server does."""
MAX_READ_REQUEST = 256 * 1024
"""Largest READ request; starts at :data:`CHUNK` and doubles while the server answers in full (OpenSSH
answers up to ~255 KiB), drops back to what a server that answers short actually sends."""
_INITIAL_WINDOW = 4


class _Answers:
    """Receives paramiko's answers to our pipelined READ requests (it dispatches by request number)."""

    __slots__ = ("__weakref__", "got")  # paramiko keeps request owners in a WeakValueDictionary

    def __init__(self) -> None:
        self.got: dict[int, tuple[int, paramiko.Message]] = {}

    def _async_response(self, t: int, msg: paramiko.Message, num: int) -> None:
        self.got[num] = (t, msg)


def _read_pipelined(
    sftp: paramiko.SFTPClient, rf: paramiko.SFTPFile, name: str, limit: int, check: Callable[[int], None]
) -> Generator[bytes, None, None]:
    """The first ``limit`` bytes of an open remote file, in order, with pipelined READ requests.

    Unlike ``SFTPFile.prefetch`` (which requests the whole file at once, and whose close reads every
    outstanding answer into memory: 2 GB for an abandoned 2 GB file), at most ``window`` requests are in
    flight, and the window follows the rate seen (about one second of data, never more than
    :data:`MAX_IN_FLIGHT` bytes). So memory stays bounded and abandoning a file from a server that
    trickles costs about a second of draining, not minutes. Short reads are asked again for the rest;
    ``check(done)`` runs after every answer (the caller's deadline).
    """
    from paramiko.sftp import CMD_DATA, CMD_READ, CMD_STATUS, int64

    sink = _Answers()
    outstanding: dict[int, tuple[int, int]] = {}
    pieces: dict[int, bytes] = {}
    next_req = next_out = received = 0
    eof_at: int | None = None
    window = _INITIAL_WINDOW
    request, ceiling = CHUNK, MAX_READ_REQUEST
    t0 = time.monotonic()
    in_step = True

    def ask(offset: int, length: int) -> None:
        num = sftp._async_request(sink, CMD_READ, rf.handle, int64(offset), int(length))
        outstanding[num] = (offset, length)

    try:
        while True:
            while next_out in pieces:
                data = pieces.pop(next_out)
                next_out += len(data)
                yield data
            if next_out >= limit or (eof_at is not None and next_out >= eof_at):
                return
            while len(outstanding) < window and next_req < limit and eof_at is None:
                n = min(request, limit - next_req)
                ask(next_req, n)
                next_req += n
            if not outstanding:
                return  # nothing more will come (the caller sees the short count)
            sftp._read_response()
            for num in list(sink.got):
                t, msg = sink.got.pop(num)
                offset, length = outstanding.pop(num)
                if t == CMD_DATA:
                    data = msg.get_string()
                    if len(data) > length:
                        raise FileFetchFailed(name, "the server answered a read with more bytes than asked")
                    if not data:
                        eof_at = offset if eof_at is None else min(eof_at, offset)
                        continue
                    pieces[offset] = data
                    received += len(data)
                    if len(data) < length:  # a short read: ask for the rest of that range
                        ask(offset + len(data), length - len(data))
                        ceiling = request = max(CHUNK, min(request, len(data)))  # the server's size
                    elif length == request < ceiling:
                        request = min(ceiling, request * 2)
                elif t == CMD_STATUS:
                    try:
                        sftp._convert_status(msg)
                    except EOFError:
                        eof_at = offset if eof_at is None else min(eof_at, offset)
                    else:  # "OK" with no data would leave a hole we could wait on forever
                        raise FileFetchFailed(name, "the server answered a read with a status and no data")
                else:
                    raise paramiko.SFTPError("Expected data")
            check(next_out)
            elapsed = time.monotonic() - t0
            if elapsed > 0.02:
                window = max(1, min(MAX_IN_FLIGHT // request, int(received / elapsed / request) + 1))
    except (FileFetchFailed, GeneratorExit):
        raise
    except BaseException:
        in_step = False  # the session itself failed: reading more answers would only wait again
        raise
    finally:
        # read and drop the answers still in flight, so the session stays in step for the next file
        while in_step and outstanding:
            sftp._read_response()
            for num in list(sink.got):
                sink.got.pop(num)
                outstanding.pop(num, None)


def _read_plain(
    rf: paramiko.SFTPFile, limit: int, check: Callable[[int], None]
) -> Generator[bytes, None, None]:
    """The same, one request at a time, for an ``SFTPClient`` stand-in without paramiko's request layer."""
    got = 0
    while got < limit:
        chunk = rf.read(min(CHUNK, limit - got))
        if not chunk:
            return
        got += len(chunk)
        yield chunk
        check(got)


def _session_alive(sftp: paramiko.SFTPClient) -> bool:
    """False when the SFTP channel or its SSH transport is gone (paramiko then raises a bare
    ``OSError("Socket is closed")``, which must count as a lost session, not as this file's fault)."""
    get_channel = getattr(sftp, "get_channel", None)
    if get_channel is None:
        return True  # a stand-in without a channel (tests)
    chan = get_channel()
    if chan is None or chan.closed:
        return False
    transport = chan.get_transport()
    return transport is not None and transport.is_active()


def _download_to_temp(
    sftp: paramiko.SFTPClient,
    profile: PartnerProfile,
    inbox: Path,
    name: str,
    attrs: paramiko.SFTPAttributes,
    progress: Progress | None,
    syncer: concurrent.futures.Executor,
    clock: Callable[[], float] = time.monotonic,
) -> _Pending | None:
    """Copy the remote file into ``.cf-<hash of name>.<random>.part`` (0600), hashing as it goes; queue
    its fsync. Returns None when the file vanished or shrank (left for a later run); raises
    :class:`FileFetchFailed` for this file alone (too big, too slow, refused, local trouble) and
    :class:`TransientTransferError` when the session itself failed."""
    remote = posixpath.join(profile.remote_inbound, name)
    listed = attrs.st_size is not None
    size, mtime = int(attrs.st_size or 0), int(attrs.st_mtime or 0)
    cap = profile.max_file_size
    if size > cap:
        raise FileFetchFailed(name, f"{size} bytes listed, over max_file_size {cap}")
    # a server that lists no size: read to EOF, never more than the cap (+1 byte to notice it)
    limit = size if listed else cap + 1
    budget = profile.transfer_timeout + (size if listed else cap) / profile.min_transfer_rate
    t0 = clock()

    def check(done: int) -> None:
        if clock() - t0 > budget:
            raise FileFetchFailed(
                name,
                f"too slow: {done} of {size if listed else 'unknown'} bytes in {clock() - t0:.1f} s; "
                f"abandoned at the deadline of {budget:.1f} s (transfer_timeout + size / min_transfer_rate)",
            )

    # short and independent of the remote name's length (a 246-character name would not fit in
    # ".<name>.<random>.part"); still matches _STALE_PART_RE, so a crash's leftovers are swept
    tmp = inbox / f".cf-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:16]}.{secrets.token_hex(4)}.part"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise FileFetchFailed(name, f"cannot create a temp file in the inbox: {exc.strerror}") from None
    handed_over = False
    try:
        h = hashlib.sha256()
        got = 0
        unsynced = 0
        partial_sync: concurrent.futures.Future[None] | None = None
        buf: list[bytes] = []
        buffered = 0

        def flush() -> None:
            # one hash update and one write per MiB: each call releases the GIL, and 32 KiB at a time
            # that hand-off with paramiko's transport thread costs more than the hashing itself
            nonlocal buffered
            data = b"".join(buf)
            buf.clear()
            buffered = 0
            h.update(data)
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(fd, view) :]
            except OSError as exc:
                raise FileFetchFailed(name, f"writing the temp file failed: {exc.strerror}") from None

        try:
            with sftp.open(remote, "rb") as rf:
                pipelined = hasattr(sftp, "_async_request") and hasattr(rf, "handle")
                chunks = (
                    _read_pipelined(sftp, rf, name, limit, check)
                    if pipelined
                    else _read_plain(rf, limit, check)
                )
                try:
                    for chunk in chunks:
                        buf.append(chunk)
                        buffered += len(chunk)
                        got += len(chunk)
                        if got > cap:
                            raise FileFetchFailed(
                                name, f"grew past max_file_size {cap} while downloading; abandoned"
                            )
                        if buffered >= WRITE_BATCH:
                            flush()
                            unsynced += WRITE_BATCH
                            if unsynced >= SYNC_EVERY and (partial_sync is None or partial_sync.done()):
                                partial_sync = syncer.submit(os.fdatasync, fd)
                                unsynced = 0
                        if progress is not None:
                            progress(got, size)
                finally:
                    chunks.close()  # drains the requests still in flight
            if buf:
                flush()
        except SFTPError:
            raise
        except _SSH_ERRORS as exc:
            if isinstance(exc, OSError) and exc.errno == errno.ENOENT:
                log.info("partner %s: %s vanished before it was fetched", profile.name, name)
                return None
            if (
                isinstance(exc, OSError)
                and not isinstance(exc, _NET_ERRORS)
                and exc.errno != errno.EPIPE
                and _session_alive(sftp)
            ):
                # an SFTP status for this file (permission denied, failure): the session is fine
                what = "permission denied" if exc.errno in (errno.EACCES, errno.EPERM) else str(exc)
                raise FileFetchFailed(name, f"the server refused to read it: {what}") from None
            raise _remote_error(exc, profile, f"downloading {remote}") from None
        if listed and got != size:
            log.info(
                "partner %s: %s shrank while being fetched; leaving it for the next run", profile.name, name
            )
            return None
        synced = syncer.submit(_fsync_and_close, fd, partial_sync)  # overlaps the next download
        handed_over = True
        return _Pending(name, remote, got, mtime, tmp, h.hexdigest(), synced)
    finally:
        if not handed_over:
            if partial_sync is not None:
                with contextlib.suppress(OSError):
                    partial_sync.result()
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _discard(items: Iterable[_Pending]) -> None:
    for item in items:
        with contextlib.suppress(Exception):
            item.synced.result()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(item.tmp)


def _commit(
    sftp: paramiko.SFTPClient,
    profile: PartnerProfile,
    inbox: Path,
    ledger: FetchLedger,
    batch: list[_Pending],
) -> list[FetchedFile]:
    """Make a batch of downloads durable and registered: check none changed on the server while it was
    read (one listing for the batch), drop content already known, link into place, fsync the inbox,
    then ``ledger.record`` each, then the optional remote deletes."""
    if not batch:
        return []
    try:
        after = list_remote(sftp, profile.remote_inbound, profile)
    except BaseException:
        _discard(batch)
        raise
    for item in batch:
        item.synced.result()  # the file's bytes are on disk
    keep: list[_Pending] = []
    duplicates: list[_Pending] = []
    shas_in_batch: set[str] = set()
    for item in batch:
        now = after.get(item.name)
        if now is not None and (
            (now.st_size is not None and int(now.st_size) != item.size)
            or int(now.st_mtime or 0) != item.mtime
        ):
            log.info(
                "partner %s: %s changed while being fetched; leaving it for the next run",
                profile.name,
                item.name,
            )
            _discard([item])
        elif item.sha256 in shas_in_batch or ledger.seen_sha256(item.sha256):
            log.info(
                "partner %s: %s has the content of a file already fetched; skipped", profile.name, item.name
            )
            _discard([item])
            duplicates.append(item)
        else:
            shas_in_batch.add(item.sha256)
            keep.append(item)

    fetched: list[FetchedFile] = []
    try:
        for item in keep:
            final, exists = _local_target(inbox, item.name, item.sha256)
            if exists:
                os.unlink(item.tmp)  # a crash after linking, before recording: same bytes already there
            else:
                os.rename(item.tmp, final)
            fetched.append(
                FetchedFile(
                    partner=profile.name,
                    remote_name=item.name,
                    remote_path=item.remote,
                    local_path=final,
                    size=item.size,
                    mtime=item.mtime,
                    sha256=item.sha256,
                    fetched_at=datetime.now(UTC),
                )
            )
        fsync_dir(inbox)
    except BaseException:
        _discard(keep)
        raise
    record_many = getattr(ledger, "record_many", None)
    if callable(record_many):
        record_many(fetched)
    else:
        for f in fetched:
            ledger.record(f)
    for f in fetched:
        log.info(
            "partner %s: fetched %s (%d bytes, sha256 %s…)",
            profile.name,
            f.remote_name,
            f.size,
            f.sha256[:12],
        )
    if profile.delete_after_download:
        for remote in [f.remote_path for f in fetched] + [d.remote for d in duplicates]:
            _remove_remote(sftp, profile, remote)
    return fetched


def _remove_remote(sftp: paramiko.SFTPClient, profile: PartnerProfile, remote: str) -> None:
    try:
        sftp.remove(remote)
    except _SSH_ERRORS as exc:  # the ledger already keeps us from fetching it twice
        log.warning("partner %s: could not delete %s after download: %s", profile.name, remote, exc)


def fetch_new(
    sftp: paramiko.SFTPClient,
    profile: PartnerProfile,
    inbox_dir: Path | str,
    ledger: FetchLedger,
    *,
    stability_wait: float | None = None,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    batch_files: int = 256,
    batch_bytes: int = 256 * 1024 * 1024,
    clock: Callable[[], float] = time.monotonic,
) -> FetchResult:
    """Download every new, complete file from ``profile.remote_inbound`` into ``inbox_dir``.

    Returns the files fetched in this call (a :class:`FetchResult`: a list), each already durable in the
    inbox and registered with ``ledger``; files it could not take are in ``result.failed`` with a
    one-line reason each (over ``profile.max_file_size``, slower than the per-file deadline
    ``transfer_timeout + size / min_transfer_rate``, refused by the server, local trouble) and names it
    will never take in ``result.skipped`` (unsafe, not UTF-8): one file never stops the others. On a
    dropped connection raises :class:`TransientTransferError` whose ``fetched`` lists
    the files registered before it (downloads of the unfinished batch are discarded; the next run takes
    them again). ``stability_wait`` (default: the profile's) is the pause between the two listings that
    keeps a file still being written for a later run; with 0 only the listing taken after the downloads
    guards against a file that changed while it was read.

    Durability is batched (``batch_files`` / ``batch_bytes``): each file's fsync runs in a helper thread
    while the next one downloads, and the inbox folder is fsynced once per batch, before ``record``.
    A ledger with a ``record_many(list)`` method gets one call per batch.
    """
    inbox = Path(inbox_dir)
    inbox.mkdir(parents=True, exist_ok=True, mode=0o700)
    _clean_stale_parts(inbox)
    wait = profile.stability_wait if stability_wait is None else stability_wait
    folder = profile.remote_inbound

    result = FetchResult()
    undecodable: list[bytes] = []
    listing = list_remote(sftp, folder, profile, undecodable)
    result.skipped.extend(FetchFailure(_shown(b), "the name is not UTF-8") for b in undecodable)
    candidates = _candidates(listing, profile, ledger, result)
    if not candidates:
        return result
    if wait > 0:
        sleep(wait)
        second = list_remote(sftp, folder, profile)
        stable = {}
        for name, a in candidates.items():
            b = second.get(name)
            if b is None:
                continue
            if b.st_size != a.st_size or b.st_mtime != a.st_mtime:
                log.info(
                    "partner %s: %s is still being written; will fetch it on a later run", profile.name, name
                )
                continue
            stable[name] = b
        candidates = stable

    batch: list[_Pending] = []
    batch_size = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="claimflow-fsync") as syncer:
        try:
            for name in sorted(candidates):
                try:
                    item = _download_to_temp(
                        sftp, profile, inbox, name, candidates[name], progress, syncer, clock
                    )
                except FileFetchFailed as exc:  # this file only; the others go on
                    _fail(result, profile, name, exc.reason)
                    continue
                if item is None:
                    continue
                batch.append(item)
                batch_size += item.size
                if len(batch) >= batch_files or batch_size >= batch_bytes:
                    pending, batch, batch_size = batch, [], 0
                    result.extend(_commit(sftp, profile, inbox, ledger, pending))
            pending, batch = batch, []
            result.extend(_commit(sftp, profile, inbox, ledger, pending))
        except TransientTransferError as exc:
            _discard(batch)
            exc.fetched = list(result)
            raise
        except BaseException:
            _discard(batch)
            raise
    if result.failed:
        log.warning(
            "partner %s: %d file(s) fetched, %d failed (listed in the result; retried next run)",
            profile.name,
            len(result),
            len(result.failed),
        )
    return result
