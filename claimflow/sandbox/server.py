"""The sandbox clearinghouse's SFTP server: real SSH, key auth only, one chrooted mailbox per partner.

Layout under ``root`` (see ``docs/SANDBOX.md``)::

    <root>/<partner>/inbound/    partner → clearinghouse: claims are uploaded here (our remote_outbound)
    <root>/<partner>/outbound/   clearinghouse → partner: TA1/999/277CA/835 appear here (our remote_inbound)
    <root>/.sandbox/             server state, outside every mailbox: host key, authorized keys, temp files

A partner logs in with its name as the SSH user and sees its mailbox as ``/``: ``/inbound`` and
``/outbound``. It may write (and rename, remove) only in ``/inbound``, read and remove in ``/outbound``;
no mkdir, symlinks or hard links.

``on_upload(partner, path)`` is called, in a worker thread (one at a time, in arrival order), when a file
in ``inbound/`` reaches its final name: when a client *closes* a file it wrote under a non-temporary
name, or *renames* a temporary name (``.x.part``, ``x.filepart``… see :func:`sftp.names.is_temp_name`)
to a final one. A file left open by a dropped connection is never reported. ``path`` is the absolute
local path ``<root>/<partner>/inbound/<name>``.

Limits, because people point partners' scripts at this server (each a ``SandboxServer`` argument):

* ``setstat``/``fsetstat`` never change owner or group (uid/gid/owner/group are dropped) and keep only the
  ``0o644`` permission bits: no setuid/setgid/sticky, no exec, nothing group/world-writable;
* no file in ``inbound/`` grows beyond ``max_file_size`` (default 256 MiB), by writing or by a size
  ``setstat`` (truncate/extend: a 1 TiB sparse file is refused);
* ``quota_bytes`` (default 1 GiB) caps the bytes stored in one partner's ``inbound/``: a write or an
  extension that would pass it fails with SSH_FX_QUOTA_EXCEEDED (a failure to a v3 client);
* ``max_connections_per_partner`` (default 4) concurrent logins per mailbox, ``max_connections``
  (default 64) connections in all, authenticated or not; one more is disconnected at once
  ("too many connections").

Responses go into ``outbound/`` with :func:`deliver`, which writes a temp file outside the mailbox and
links it in, so a partner listing ``/outbound`` never sees a partial response.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import posixpath
import re
import secrets
import stat
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sftp.names import is_temp_name

if TYPE_CHECKING:
    import asyncssh

    from sftp.partner import PartnerProfile

log = logging.getLogger(__name__)

INBOUND = "inbound"
OUTBOUND = "outbound"
STATE_DIR = ".sandbox"
HOST_KEY_NAME = "ssh_host_ed25519_key"
_PARTNER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
ALLOWED_MODE_BITS = 0o644
"""Permission bits a partner may set on its uploads; everything else (setuid 04000, setgid 02000,
sticky 01000, exec, group/other write) is dropped."""
DEFAULT_MAX_FILE_SIZE = 256 * 1024 * 1024
DEFAULT_QUOTA_BYTES = 1024 * 1024 * 1024
DEFAULT_MAX_CONNECTIONS_PER_PARTNER = 4
DEFAULT_MAX_CONNECTIONS = 64

OnUpload = Callable[[str, Path], None]


def check_partner(partner: str) -> str:
    """A partner name is also an SSH user and a directory: ``[A-Za-z0-9][A-Za-z0-9_.-]*``, ≤ 64 chars."""
    if not _PARTNER_RE.fullmatch(partner or ""):
        raise ValueError(f"invalid sandbox partner name {partner!r} (use A-Z a-z 0-9 _ . -)")
    return partner


def mailbox(root: Path | str, partner: str, *, create: bool = True) -> Path:
    """``<root>/<partner>`` with its ``inbound/`` and ``outbound/`` folders (created 0700 if missing)."""
    box = Path(root) / check_partner(partner)
    if create:
        for sub in (INBOUND, OUTBOUND):
            (box / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
    return box


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def deliver(root: Path | str, partner: str, name: str, data: bytes, *, overwrite: bool = False) -> Path:
    """Make ``data`` appear atomically as ``<root>/<partner>/outbound/<name>``; returns that path.

    For the payer simulator. The bytes are written and fsynced under ``<root>/.sandbox/tmp/`` (same file
    system, outside the mailbox) and then hard-linked into place, so a listing shows either nothing or the
    whole file. An existing file of that name is an error (``FileExistsError``) unless ``overwrite``.
    ``name`` must be one path component; anything else in it is allowed on purpose (tests deliver
    hostile names such as ``..evil`` or ``a\\nb`` to check the client refuses them).
    """
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"deliver: {name!r} is not a single file name")
    root = Path(root)
    outbound = mailbox(root, partner) / OUTBOUND
    tmpdir = root / STATE_DIR / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = tmpdir / f"deliver-{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        final = outbound / name
        if overwrite:
            os.replace(tmp, final)
        else:
            os.link(tmp, final)  # atomic, and refuses to clobber
        _fsync_dir(outbound)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return final


def _key_lines(value: str | Sequence[str]) -> str:
    return value if isinstance(value, str) else "\n".join(value)


class SandboxServer:
    """An in-process SFTP server for the sandbox clearinghouse (asyncssh, own thread and event loop).

    ::

        srv = SandboxServer(root, authorized_keys={"claimflow": pub_line}, on_upload=payer.on_upload)
        srv.start()
        profile = srv.profile("claimflow", private_key_path=key, isa_receiver_id="SANDBOXCH")
        ...
        srv.stop()

    ``host_key_path``: the server's ed25519 host key; default ``<root>/.sandbox/ssh_host_ed25519_key``,
    generated on first start and kept, so a pinned key stays valid across restarts.
    ``authorized_keys``: partner → OpenSSH public key line(s). ``None``: read
    ``<root>/.sandbox/authorized_keys/<partner>.pub`` at each login (what ``claimflow sandbox serve``
    uses; drop a file there to add a partner).
    ``max_file_size`` / ``quota_bytes`` / ``max_connections_per_partner`` / ``max_connections``: the abuse
    limits of the module docstring.
    """

    def __init__(
        self,
        root: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        host_key_path: Path | str | None = None,
        authorized_keys: Mapping[str, str | Sequence[str]] | None = None,
        on_upload: OnUpload | None = None,
        *,
        login_timeout: float = 30.0,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        quota_bytes: int = DEFAULT_QUOTA_BYTES,
        max_connections_per_partner: int = DEFAULT_MAX_CONNECTIONS_PER_PARTNER,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        for arg, value in (
            ("max_file_size", max_file_size),
            ("quota_bytes", quota_bytes),
            ("max_connections_per_partner", max_connections_per_partner),
            ("max_connections", max_connections),
        ):
            if value < 1:
                raise ValueError(f"SandboxServer: {arg} must be >= 1")
        self.max_file_size = max_file_size
        self.quota_bytes = quota_bytes
        self.max_connections_per_partner = max_connections_per_partner
        self.max_connections = max_connections
        self._sessions: dict[str, int] = {}  # partner → authenticated connections (event loop only)
        self._over_cap: set[Any] = set()  # connections past their mailbox's cap (event loop only)
        self._usage: dict[str, int] = {}  # partner → bytes in inbound/ as last counted (under _lock)
        self.root = Path(root).resolve()
        self.host = host
        self._requested_port = port
        self.host_key_path = Path(host_key_path) if host_key_path else self.root / STATE_DIR / HOST_KEY_NAME
        self._keys: dict[str, str] | None = (
            {check_partner(p): _key_lines(v) for p, v in authorized_keys.items()}
            if authorized_keys is not None
            else None
        )
        self.on_upload = on_upload
        self.login_timeout = login_timeout
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._acceptor: Any = None
        self._conns: set[Any] = set()
        self._port: int | None = None
        self._host_key_line: str | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: set[concurrent.futures.Future[None]] = set()
        self.uploads: list[tuple[str, Path]] = []
        """Every (partner, path) reported to ``on_upload``, in order (handy in tests)."""

    # ------------------------------------------------------------------------------------ public API

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("sandbox SFTP server is not started")
        return self._port

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def host_key_line(self) -> str:
        """The server's public host key, ``ssh-ed25519 AAAA…``: pin this as the profile's ``host_key``."""
        if self._host_key_line is None:
            self._host_key_line = self._ensure_host_key()
        return self._host_key_line

    def known_hosts_line(self) -> str:
        from sftp.keys import known_hosts_line

        return known_hosts_line(self.host, self.port, self.host_key_line())

    def mailbox(self, partner: str) -> Path:
        return mailbox(self.root, partner)

    def add_partner(self, partner: str, public_key: str | Sequence[str]) -> Path:
        """Authorize ``public_key`` for ``partner`` and create its mailbox (works while running)."""
        check_partner(partner)
        if self._keys is None:
            d = self.root / STATE_DIR / "authorized_keys"
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
            (d / f"{partner}.pub").write_text(_key_lines(public_key).strip() + "\n", encoding="ascii")
        else:
            with self._lock:
                self._keys[partner] = _key_lines(public_key)
        return self.mailbox(partner)

    def profile(self, partner: str, **fields: Any) -> PartnerProfile:
        """A :class:`sftp.partner.PartnerProfile` for this server's mailbox of ``partner``.

        ``fields`` supply the rest (``private_key_path``, ``isa_receiver_id``…) and may override
        ``remote_outbound="/inbound"`` / ``remote_inbound="/outbound"``.
        """
        from sftp.partner import PartnerProfile

        values: dict[str, Any] = {
            "name": partner,
            "host": self.host,
            "port": self.port,
            "username": partner,
            "host_key": self.host_key_line(),
            "remote_outbound": f"/{INBOUND}",
            "remote_inbound": f"/{OUTBOUND}",
        }
        values.update(fields)
        return PartnerProfile(**values)

    def start(self) -> SandboxServer:
        """Listen (in a background thread) and return once the port is bound."""
        if self.running:
            return self
        import asyncssh  # noqa: F401  (fail here, in the caller's thread, if it is missing)

        self.host_key_line()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / STATE_DIR).mkdir(exist_ok=True, mode=0o700)
        if self._keys is not None:
            for partner in self._keys:
                self.mailbox(partner)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="sandbox-upload"
        )
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=self._run_loop, name="sandbox-sftp", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._listen(), loop).result(timeout=15)
        except BaseException:
            self.stop()
            raise
        log.info("sandbox SFTP server on %s:%d, root %s", self.host, self.port, self.root)
        return self

    def drop_connections(self) -> int:
        """Abort every client connection at once, as a crash would (no SSH disconnect). Returns how many."""
        if self._loop is None:
            return 0

        async def _abort() -> int:
            conns = list(self._conns)
            for conn in conns:
                conn.abort()
            return len(conns)

        return asyncio.run_coroutine_threadsafe(_abort(), self._loop).result(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop listening, abort open connections, wait for pending ``on_upload`` calls; idempotent."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():

            async def _close() -> None:
                if self._acceptor is not None:
                    self._acceptor.close()
                for conn in list(self._conns):
                    conn.abort()
                if self._acceptor is not None:
                    await self._acceptor.wait_closed()
                await asyncio.sleep(0)

            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(_close(), loop).result(timeout=timeout)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self._loop = None
        self._thread = None
        self._acceptor = None
        self._conns.clear()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every ``on_upload`` call queued so far has finished; False on timeout."""
        with self._lock:
            pending = list(self._pending)
        _, not_done = concurrent.futures.wait(pending, timeout=timeout)
        return not not_done

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------ internals

    def _ensure_host_key(self) -> str:
        from sftp.keys import ensure_ed25519

        pair = ensure_ed25519(self.host_key_path, comment="")
        return " ".join(pair.public_line.split()[:2])

    def _authorized_keys_for(self, username: str) -> str | None:
        if not _PARTNER_RE.fullmatch(username):
            return None
        if self._keys is not None:
            with self._lock:
                return self._keys.get(username)
        f = self.root / STATE_DIR / "authorized_keys" / f"{username}.pub"
        try:
            return f.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError):
            return None

    def _run_loop(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    async def _listen(self) -> None:
        import asyncssh

        server = self

        class _SSHServer(asyncssh.SSHServer):
            def __init__(self) -> None:
                self._conn: asyncssh.SSHServerConnection | None = None
                self._partner: str | None = None  # set once counted against a mailbox's cap

            def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
                self._conn = conn
                if len(server._conns) >= server.max_connections:
                    log.warning("sandbox: refusing a connection: %d open", len(server._conns))
                    conn.disconnect(asyncssh.DISC_TOO_MANY_CONNECTIONS, "too many connections")
                    return
                server._conns.add(conn)

            def connection_lost(self, exc: Exception | None) -> None:
                server._conns.discard(self._conn)
                server._over_cap.discard(self._conn)
                if self._partner is not None:
                    server._sessions[self._partner] -= 1
                    self._partner = None

            def auth_completed(self) -> None:
                assert self._conn is not None
                user = self._conn.get_extra_info("username")
                if server._sessions.get(user, 0) >= server.max_connections_per_partner:
                    # disconnected when it asks for the SFTP subsystem: a disconnect racing the auth
                    # success would look like a refused key to the client, which never retries that
                    log.warning("sandbox: partner %s has too many connections; refusing one more", user)
                    server._over_cap.add(self._conn)
                    return
                server._sessions[user] = server._sessions.get(user, 0) + 1
                self._partner = user

            def begin_auth(self, username: str) -> bool:
                keys = server._authorized_keys_for(username)
                assert self._conn is not None
                try:
                    self._conn.set_authorized_keys(asyncssh.import_authorized_keys(keys) if keys else None)
                except (asyncssh.KeyImportError, ValueError):
                    log.warning("sandbox: authorized key for partner %s is not a valid public key", username)
                    self._conn.set_authorized_keys(None)
                return True  # always require auth; unknown users simply have no key that works

            def public_key_auth_supported(self) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return False

            def kbdint_auth_supported(self) -> bool:
                return False

        def sftp_factory(chan: asyncssh.SSHServerChannel[Any]) -> asyncssh.SFTPServer:
            conn = chan.get_connection()
            if conn in server._over_cap:
                conn.disconnect(asyncssh.DISC_TOO_MANY_CONNECTIONS, "too many connections for this mailbox")
            return _mailbox_sftp_server_class()(chan, server)

        self._acceptor = await asyncssh.listen(
            self.host,
            self._requested_port,
            server_factory=_SSHServer,
            server_host_keys=[str(self.host_key_path)],
            sftp_factory=sftp_factory,
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
            login_timeout=self.login_timeout,
        )
        self._port = int(self._acceptor.get_port())

    def _inbound_usage(self, partner: str) -> int:
        total = 0
        with contextlib.suppress(FileNotFoundError), os.scandir(self.root / partner / INBOUND) as it:
            for entry in it:
                with contextlib.suppress(OSError):
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISREG(st.st_mode):
                        total += st.st_size
        return total

    def _reserve(self, partner: str, growth: int) -> bool:
        """Account ``growth`` more bytes in the partner's ``inbound/``; False if it would pass the quota.

        The count only goes up between recounts; a folder listing recounts it whenever it would refuse
        (files removed or picked up since are freed then), so it never refuses wrongly.
        """
        if growth <= 0:
            return True
        with self._lock:
            used = self._usage.get(partner)
            if used is None or used + growth > self.quota_bytes:
                used = self._inbound_usage(partner)
            if used + growth > self.quota_bytes:
                self._usage[partner] = used
                return False
            self._usage[partner] = used + growth
            return True

    def _notify(self, partner: str, path: Path) -> None:
        """Queue ``on_upload(partner, path)`` on the worker thread (called on the event loop)."""
        log.info("sandbox: partner %s uploaded %s", partner, path.name)
        self.uploads.append((partner, path))
        if self.on_upload is None or self._executor is None:
            return
        callback = self.on_upload

        def _call() -> None:
            try:
                callback(partner, path)
            except Exception:
                log.exception("sandbox: on_upload for partner %s file %s failed", partner, path.name)

        fut = self._executor.submit(_call)
        with self._lock:
            self._pending.add(fut)
        fut.add_done_callback(self._forget)

    def _forget(self, fut: concurrent.futures.Future[None]) -> None:
        with self._lock:
            self._pending.discard(fut)


_SERVER_CLASS: type | None = None


def _mailbox_sftp_server_class() -> type:
    """Build the asyncssh SFTPServer subclass on first use (keeps ``import asyncssh`` out of import time)."""
    global _SERVER_CLASS
    if _SERVER_CLASS is not None:
        return _SERVER_CLASS

    import asyncssh
    from asyncssh import FXF_APPEND, FXF_CREAT, FXF_TRUNC, FXF_WRITE

    write_flags = FXF_WRITE | FXF_APPEND | FXF_CREAT | FXF_TRUNC

    class MailboxSFTPServer(asyncssh.SFTPServer):
        """One partner's SFTP session, chrooted to ``<root>/<partner>``."""

        def __init__(self, chan: asyncssh.SSHServerChannel[Any], sandbox: SandboxServer) -> None:
            self.partner = chan.get_extra_info("username")
            self.sandbox = sandbox
            self.box = mailbox(sandbox.root, self.partner)
            super().__init__(chan, chroot=os.fsencode(self.box))
            self._writing: dict[Any, str] = {}  # open file object → virtual path it will end up at
            self._exiting = False

        # -- helpers
        @staticmethod
        def _vpath(path: bytes) -> str:
            return posixpath.normpath(posixpath.join("/", os.fsdecode(path)))

        def _real(self, vpath: str) -> Path:
            return self.box / vpath.lstrip("/")

        @staticmethod
        def _in(folder: str, vpath: str) -> bool:
            return posixpath.dirname(vpath) == f"/{folder}"

        def _final_upload(self, vpath: str) -> None:
            if self._in(INBOUND, vpath) and not is_temp_name(posixpath.basename(vpath)):
                self.sandbox._notify(self.partner, self._real(vpath))

        # -- files
        def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
            v = self._vpath(path)
            writing = bool(pflags & write_flags)
            if writing:
                if not self._in(INBOUND, v):
                    raise asyncssh.SFTPPermissionDenied(f"uploads go to /{INBOUND}")
                attrs.permissions = 0o600
            file_obj = super().open(path, pflags, attrs)
            if writing:
                self._writing[file_obj] = v
            return file_obj

        def close(self, file_obj: object) -> None:
            v = self._writing.pop(file_obj, None)
            super().close(file_obj)
            if v is not None:
                # A close from the session cleanup of a dropped connection is followed synchronously by
                # exit(); an explicit SSH_FXP_CLOSE is not. Decide on the next loop turn.
                asyncio.get_running_loop().call_soon(self._closed_after_write, v)

        def _closed_after_write(self, vpath: str) -> None:
            if not self._exiting:
                self._final_upload(vpath)

        def exit(self) -> None:
            self._exiting = True

        # -- renames: only inside /inbound; temp → final is an upload
        def _renamed(self, old: str, new: str) -> None:
            for fobj, v in self._writing.items():
                if v == old:  # still open: report on close, under the new name
                    self._writing[fobj] = new
                    return
            if is_temp_name(posixpath.basename(old)):
                self._final_upload(new)

        def _check_rename(self, oldpath: bytes, newpath: bytes) -> tuple[str, str]:
            old, new = self._vpath(oldpath), self._vpath(newpath)
            if not (self._in(INBOUND, old) and self._in(INBOUND, new)):
                raise asyncssh.SFTPPermissionDenied(f"renames are allowed only inside /{INBOUND}")
            return old, new

        def rename(self, oldpath: bytes, newpath: bytes) -> None:
            old, new = self._check_rename(oldpath, newpath)
            try:
                os.link(self._real(old), self._real(new))  # atomic no-clobber, as SFTP rename promises
            except FileExistsError:
                raise asyncssh.SFTPFileAlreadyExists("file already exists") from None
            except FileNotFoundError:
                raise asyncssh.SFTPNoSuchFile("no such file") from None
            os.unlink(self._real(old))
            self._renamed(old, new)

        def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
            old, new = self._check_rename(oldpath, newpath)
            try:
                os.replace(self._real(old), self._real(new))
            except FileNotFoundError:
                raise asyncssh.SFTPNoSuchFile("no such file") from None
            self._renamed(old, new)

        def remove(self, path: bytes) -> None:
            v = self._vpath(path)
            if not (self._in(INBOUND, v) or self._in(OUTBOUND, v)):
                raise asyncssh.SFTPPermissionDenied("files can be removed only in /inbound and /outbound")
            super().remove(path)

        # -- limits: size and quota on every write and size change
        def _refuse_growth(self, current: int, new_size: int) -> None:
            limit = self.sandbox.max_file_size
            if new_size > limit:
                raise asyncssh.SFTPFailure(f"file size limit is {limit} bytes")
            if not self.sandbox._reserve(self.partner, new_size - current):
                raise asyncssh.SFTPQuotaExceeded(
                    f"upload quota of {self.sandbox.quota_bytes} bytes for this mailbox is used up"
                )

        def write(self, file_obj: Any, offset: int, data: bytes) -> int:
            current = os.fstat(file_obj.fileno()).st_size
            end = (current if "a" in file_obj.mode else offset) + len(data)
            if end > current:
                self._refuse_growth(current, end)
            written = super().write(file_obj, offset, data)
            assert isinstance(written, int)  # the base server writes local files synchronously
            return written

        @staticmethod
        def _tame(attrs: asyncssh.SFTPAttrs) -> None:
            """Drop what a partner may not set: owner, group, and every mode bit outside 0o644."""
            attrs.uid = attrs.gid = None
            attrs.owner = attrs.group = None
            if attrs.permissions is not None:
                attrs.permissions = stat.S_IMODE(attrs.permissions) & ALLOWED_MODE_BITS

        def _check_size(self, real: Path | int, attrs: asyncssh.SFTPAttrs) -> None:
            if attrs.size is not None:
                current = os.stat(real).st_size
                if attrs.size > current:
                    self._refuse_growth(current, attrs.size)

        # -- attributes (mtime, mode) may change only on the partner's own uploads
        def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
            v = self._vpath(path)
            if not self._in(INBOUND, v):
                raise asyncssh.SFTPPermissionDenied(f"attributes can be changed only in /{INBOUND}")
            self._tame(attrs)
            self._check_size(self._real(v), attrs)
            super().setstat(path, attrs)

        def lsetstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
            self.setstat(path, attrs)

        def fsetstat(self, file_obj: Any, attrs: asyncssh.SFTPAttrs) -> None:
            if file_obj not in self._writing:
                raise asyncssh.SFTPPermissionDenied("attributes can be changed only on files being uploaded")
            self._tame(attrs)
            self._check_size(file_obj.fileno(), attrs)
            super().fsetstat(file_obj, attrs)

        # -- no new directories or links in a mailbox
        def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
            raise asyncssh.SFTPPermissionDenied("mailbox folders are fixed")

        def rmdir(self, path: bytes) -> None:
            raise asyncssh.SFTPPermissionDenied("mailbox folders are fixed")

        def symlink(self, oldpath: bytes, newpath: bytes) -> None:
            raise asyncssh.SFTPPermissionDenied("links are not allowed")

        def link(self, oldpath: bytes, newpath: bytes) -> None:
            raise asyncssh.SFTPPermissionDenied("links are not allowed")

    _SERVER_CLASS = MailboxSFTPServer
    return MailboxSFTPServer
