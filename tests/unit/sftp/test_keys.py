from __future__ import annotations

import os
import stat
from pathlib import Path

import paramiko
import pytest

from sftp.errors import ProfileConfigError
from sftp.keys import (
    ensure_ed25519,
    fingerprint_of_line,
    generate_ed25519,
    known_hosts_line,
    load_private_key,
    parse_pinned_host_keys,
    parse_public_key,
)


def test_generated_pair_is_0600_and_loadable(tmp_path: Path) -> None:
    pair = generate_ed25519(tmp_path / "sub" / "id_ed25519", comment="test")
    assert stat.S_IMODE(os.stat(pair.private_path).st_mode) == 0o600
    assert pair.public_path.read_text().strip() == pair.public_line
    assert pair.public_line.startswith("ssh-ed25519 AAAA") and pair.public_line.endswith(" test")
    key = load_private_key(path=pair.private_path)
    assert isinstance(key, paramiko.Ed25519Key)
    assert key == parse_public_key(pair.public_line)
    assert pair.fingerprint.startswith("SHA256:")
    assert fingerprint_of_line(pair.public_line) == key.fingerprint
    # from key text, including the "\n"-escaped form secrets managers often produce
    text = pair.private_path.read_text()
    assert load_private_key(text=text) == key
    assert load_private_key(text=text.replace("\n", "\\n")) == key


def test_ensure_keeps_an_existing_key(tmp_path: Path) -> None:
    a = ensure_ed25519(tmp_path / "host")
    b = ensure_ed25519(tmp_path / "host")
    assert a.public_line.split()[:2] == b.public_line.split()[:2]


def test_known_hosts_line(tmp_path: Path) -> None:
    line = generate_ed25519(tmp_path / "k").public_line
    b64 = line.split()[1]
    assert known_hosts_line("127.0.0.1", 2222, line) == f"[127.0.0.1]:2222 ssh-ed25519 {b64}"
    assert known_hosts_line("sftp.example.org", 22, line) == f"sftp.example.org ssh-ed25519 {b64}"
    assert parse_public_key(known_hosts_line("h", 2222, line)) == parse_public_key(line)


def test_pinned_keys_allow_rotation(tmp_path: Path) -> None:
    a = generate_ed25519(tmp_path / "a").public_line
    b = generate_ed25519(tmp_path / "b").public_line
    keys = parse_pinned_host_keys(f"# old and new\n{a}\n\n{b}\n")
    assert [k.get_base64() for k in keys] == [a.split()[1], b.split()[1]]
    with pytest.raises(ProfileConfigError):
        parse_pinned_host_keys("# nothing\n")


def test_bad_private_key_errors_do_not_echo_key_text(tmp_path: Path) -> None:
    secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nTOPSECRETMATERIAL\n-----END OPENSSH PRIVATE KEY-----"
    with pytest.raises(ProfileConfigError) as err:
        load_private_key(text=secret)
    assert "TOPSECRET" not in str(err.value)
    with pytest.raises(ProfileConfigError, match="cannot read private key file"):
        load_private_key(path=tmp_path / "missing")
    with pytest.raises(ProfileConfigError, match="no private key"):
        load_private_key()
