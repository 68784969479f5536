"""A real OpenSSH ``sshd`` for tests: own config, own host key, one authorized client key, loopback only.

``Sshd(workdir, authorized_keys=[pub_line]).start()`` runs ``/usr/sbin/sshd -D -e -f <workdir>/sshd_config``
on a free 127.0.0.1 port. The config allows only the current user (root in CI:
``PermitRootLogin prohibit-password``), only public-key auth, only the keys in the fixture's own
``authorized_keys`` file, only ``internal-sftp`` (``ForceCommand``), no forwarding, no TTY, no PAM.

Faults for tests: :meth:`Sshd.kill_sessions` SIGKILLs the per-connection processes (an in-flight transfer
dies, the listener survives); :meth:`Sshd.crash` kills everything; :meth:`Sshd.start` again brings it back
on the same port, optionally with a new host key.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd")


def find_sshd() -> str | None:
    for path in SSHD_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("sshd")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        # pid (comm) state ppid …; comm may contain spaces/parens, so split after the last ')'
        rest = data[data.rfind(b")") + 2 :].split()
        kids.setdefault(int(rest[1]), []).append(int(entry))
    return kids


def descendants(pid: int) -> list[int]:
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


CONFIG = """\
Port {port}
ListenAddress {host}
AddressFamily inet
HostKey {host_key}
PidFile {workdir}/sshd.pid
AuthorizedKeysFile {authorized_keys}
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowUsers {user}
Subsystem sftp internal-sftp -u 0077
ForceCommand internal-sftp -u 0077
AllowTcpForwarding no
AllowAgentForwarding no
AllowStreamLocalForwarding no
X11Forwarding no
PermitTTY no
PermitTunnel no
PermitUserRC no
PrintMotd no
LoginGraceTime 20
MaxStartups 100:30:200
LogLevel VERBOSE
"""


class Sshd:
    """One OpenSSH server process owned by a test (see the module docstring)."""

    host = "127.0.0.1"

    def __init__(self, workdir: Path, *, authorized_keys: list[str], port: int | None = None) -> None:
        from sftp.keys import generate_ed25519

        binary = find_sshd()
        if binary is None:
            raise FileNotFoundError("OpenSSH sshd is not installed (apt-get install openssh-server)")
        self.binary = binary
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port(self.host)
        self.user = getpass.getuser()
        self.host_key_path = self.workdir / "ssh_host_ed25519_key"
        self._host_key = generate_ed25519(self.host_key_path, comment="")
        self.authorized_keys_path = self.workdir / "authorized_keys"
        self.authorized_keys_path.write_text(
            "".join(f"restrict {line.strip()}\n" for line in authorized_keys), encoding="ascii"
        )
        self.config_path = self.workdir / "sshd_config"
        self.log_path = self.workdir / "sshd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    # -------------------------------------------------------------------------------------- keys
    def host_key_line(self) -> str:
        """``ssh-ed25519 AAAA…`` of the current host key (pin this)."""
        return " ".join(self._host_key.public_line.split()[:2])

    def new_host_key(self) -> str:
        """Replace the host key (takes effect at the next :meth:`start`); returns the new public line."""
        from sftp.keys import generate_ed25519

        self._host_key = generate_ed25519(self.host_key_path, comment="")
        return self.host_key_line()

    # -------------------------------------------------------------------------------------- process
    def _write_config(self) -> None:
        self.config_path.write_text(
            CONFIG.format(
                port=self.port,
                host=self.host,
                host_key=self.host_key_path,
                workdir=self.workdir,
                authorized_keys=self.authorized_keys_path,
                user=self.user,
            ),
            encoding="ascii",
        )

    def start(self, timeout: float = 10.0) -> Sshd:
        if self.proc is not None and self.proc.poll() is None:
            return self
        if os.geteuid() == 0:
            # Debian's sshd refuses to start without its privilege separation directory
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self._write_config()
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child keeps it)
        try:
            self.proc = subprocess.Popen(
                [self.binary, "-D", "-e", "-f", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited with {self.proc.returncode}:\n{self.log_text()[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    s.settimeout(2)
                    if s.recv(64).startswith(b"SSH-2.0-"):
                        return self
            except OSError:
                pass
            time.sleep(0.02)
        self.crash()
        raise RuntimeError(f"sshd did not come up on {self.host}:{self.port}:\n{self.log_text()[-2000:]}")

    def session_pids(self) -> list[int]:
        return descendants(self.proc.pid) if self.proc is not None and self.proc.poll() is None else []

    def kill_sessions(self, sig: int = signal.SIGKILL) -> int:
        """Kill every per-connection process (listener survives). Returns how many were signalled."""
        pids = self.session_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return len(pids)

    def crash(self) -> None:
        """SIGKILL the listener and every session, like a server that lost power."""
        if self.proc is None:
            return
        pids = self.session_pids()
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        pids = self.session_pids()
        with contextlib.suppress(ProcessLookupError):
            self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc = None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> Sshd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
