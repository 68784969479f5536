"""SSH keys: generate an ed25519 pair, render public keys and ``known_hosts`` lines, parse pinned keys.

The sandbox clearinghouse, the demo and the tests all start from *freshly generated* keys; production
profiles carry the partner's host key as an OpenSSH public key (``ssh-ed25519 AAAA…``) or a
``known_hosts`` line, and our private key as a file path or as key text from a secret.

Private key files are created with mode 0600 from the first byte (``os.open(..., 0o600)``), never
chmod-ed after the fact. A private key *file* that group or others may read or write (any of the
``0o077`` bits, e.g. mode 0644) is **refused** with :class:`~sftp.errors.ProfileConfigError`, as OpenSSH
refuses an "UNPROTECTED PRIVATE KEY FILE": whoever could read it can log in to the partner as us.
Fix it with ``chmod 600 <file>``. Key *text* from a secret or an environment variable has no mode to
check.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from edi.files import write_durably
from sftp.errors import ProfileConfigError

#: key types we accept as a pinned host key (DSA is gone from paramiko and OpenSSH).
HOST_KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "rsa-sha2-256",
        "rsa-sha2-512",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
    }
)


@dataclass(frozen=True, slots=True)
class KeyPair:
    """Where a generated key pair lives and its public half as one OpenSSH line."""

    private_path: Path
    public_path: Path
    public_line: str  # "ssh-ed25519 AAAA… comment"

    @property
    def fingerprint(self) -> str:
        return fingerprint_of_line(self.public_line)


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 (created that way, replaced atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_durably(path, data, mode=0o600)


def generate_ed25519(private_path: Path | str, comment: str = "claimflow") -> KeyPair:
    """Generate an ed25519 key pair: ``private_path`` (OpenSSH format, 0600) and ``private_path.pub``."""
    private_path = Path(private_path)
    key = ed25519.Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    public_line = public.decode("ascii") + (f" {comment}" if comment else "")
    write_private_file(private_path, private_pem)
    public_path = private_path.with_name(private_path.name + ".pub")
    public_path.write_text(public_line + "\n", encoding="ascii")
    return KeyPair(private_path, public_path, public_line)


def ensure_ed25519(private_path: Path | str, comment: str = "claimflow") -> KeyPair:
    """Load the pair at ``private_path`` if it exists, else generate it (keeps pinned keys stable)."""
    private_path = Path(private_path)
    public_path = private_path.with_name(private_path.name + ".pub")
    if private_path.exists():
        key = load_private_key(path=private_path)
        line = public_line_of(key, comment)
        if not public_path.exists():
            public_path.write_text(line + "\n", encoding="ascii")
        return KeyPair(private_path, public_path, line)
    return generate_ed25519(private_path, comment)


def public_line_of(key: paramiko.PKey, comment: str = "") -> str:
    """``ssh-ed25519 AAAA… comment`` for a paramiko key (private or public)."""
    line = f"{key.get_name()} {key.get_base64()}"
    return f"{line} {comment}" if comment else line


def known_hosts_line(host: str, port: int, public_line: str) -> str:
    """``[127.0.0.1]:2222 ssh-ed25519 AAAA…`` (plain ``host`` for port 22), as OpenSSH writes it."""
    key_type, b64 = _split_public(public_line)
    name = host if port == 22 else f"[{host}]:{port}"
    return f"{name} {key_type} {b64}"


def fingerprint_of(key: paramiko.PKey) -> str:
    """OpenSSH-style ``SHA256:…`` fingerprint (public information, fine for logs)."""
    return str(key.fingerprint)


def fingerprint_of_line(public_line: str) -> str:
    return fingerprint_of(parse_public_key(public_line))


def _split_public(text: str) -> tuple[str, str]:
    """(type, base64) from a public key line, a known_hosts line or a bare base64 blob."""
    tokens = text.strip().split()
    if not tokens:
        raise ProfileConfigError("empty public key")
    if tokens[0].startswith("@"):
        raise ProfileConfigError(
            f"known_hosts markers ({tokens[0]}) are not supported; pin the host key itself"
        )
    for i, tok in enumerate(tokens[:-1]):
        if tok in HOST_KEY_TYPES:
            return tok, tokens[i + 1]
    if len(tokens) == 1:  # bare base64 (Airflow's host_key extra allows it): the blob names its type
        blob = _b64decode(tokens[0])
        if len(blob) < 4:
            raise ProfileConfigError("public key blob is too short")
        (n,) = struct.unpack(">I", blob[:4])
        key_type = blob[4 : 4 + n].decode("ascii", "replace")
        if key_type not in HOST_KEY_TYPES:
            raise ProfileConfigError(f"unsupported public key type {key_type!r}")
        return key_type, tokens[0]
    raise ProfileConfigError(
        "not an OpenSSH public key or known_hosts line (expected e.g. 'ssh-ed25519 AAAA…'); "
        f"supported types: {', '.join(sorted(HOST_KEY_TYPES))}"
    )


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ProfileConfigError("public key data is not valid base64") from exc


def parse_public_key(text: str) -> paramiko.PKey:
    """A paramiko public key from ``ssh-ed25519 AAAA…``, a ``known_hosts`` line or a bare blob."""
    key_type, b64 = _split_public(text)
    blob = _b64decode(b64)
    if key_type in ("rsa-sha2-256", "rsa-sha2-512"):
        key_type = "ssh-rsa"
    try:
        return paramiko.PKey.from_type_string(key_type, blob)
    except Exception as exc:  # paramiko raises assorted errors for a malformed blob
        raise ProfileConfigError(f"cannot read {key_type} public key: {type(exc).__name__}") from exc


def parse_pinned_host_keys(text: str) -> list[paramiko.PKey]:
    """Every key in ``text`` (one per line; several lines allow a planned host key rotation)."""
    keys = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keys.append(parse_public_key(line))
    if not keys:
        raise ProfileConfigError("no pinned host key given")
    return keys


def check_private_key_mode(path: Path | str, st_mode: int) -> None:
    """Refuse a private key file that group or others can read or write (mode bits ``0o077``)."""
    mode = stat.S_IMODE(st_mode)
    if mode & 0o077:
        raise ProfileConfigError(
            f"private key file {path} has mode {mode:04o}: readable or writable by group/others; "
            f"refusing to use it (run: chmod 600 {path})"
        )


def load_private_key(
    *, path: Path | str | None = None, text: str | None = None, passphrase: str | None = None
) -> paramiko.PKey:
    """Our private key from a file or from key text (OpenSSH or PEM; RSA, ECDSA or ed25519).

    Errors never echo the key text.
    """
    if text is not None:
        data = text.replace("\\n", "\n").strip().encode("ascii", "replace") + b"\n"
    elif path is not None:
        try:
            with open(Path(path).expanduser(), "rb") as fh:
                check_private_key_mode(path, os.fstat(fh.fileno()).st_mode)
                data = fh.read()
        except OSError as exc:
            raise ProfileConfigError(f"cannot read private key file {path}: {exc.strerror}") from None
    else:
        raise ProfileConfigError("no private key configured (private_key or private_key_path)")
    pw = passphrase.encode() if passphrase else None
    loaded: object
    try:
        try:
            loaded = serialization.load_ssh_private_key(data, password=pw)
        except ValueError:
            loaded = serialization.load_pem_private_key(data, password=pw)
    except (ValueError, TypeError) as exc:
        where = f"file {path}" if text is None else "key text"
        raise ProfileConfigError(
            f"cannot load private key from {where} (wrong passphrase or not a private key): "
            f"{type(exc).__name__}"
        ) from None
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key_class: type[paramiko.PKey]
    if isinstance(loaded, ed25519.Ed25519PrivateKey):
        key_class = paramiko.Ed25519Key
    elif isinstance(loaded, rsa.RSAPrivateKey):
        key_class = paramiko.RSAKey
    elif isinstance(loaded, ec.EllipticCurvePrivateKey):
        key_class = paramiko.ECDSAKey
    else:
        raise ProfileConfigError(f"unsupported private key type {type(loaded).__name__}")
    try:
        return key_class.from_private_key(io.StringIO(data.decode("ascii", "replace")), password=passphrase)
    except Exception as exc:  # paramiko's own parse of the same bytes
        raise ProfileConfigError(f"cannot load private key: {type(exc).__name__}") from None
