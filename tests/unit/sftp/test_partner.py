from __future__ import annotations

import json
from pathlib import Path

import pytest

from sftp.errors import ProfileConfigError
from sftp.keys import generate_ed25519, known_hosts_line
from sftp.partner import (
    PartnerProfile,
    env_key,
    partners_in_env,
    profile_from_connection,
    profile_from_env,
)

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM2NqYrkOvSX4XVxL/UuiC+CbC9JrFiJbCysWDOZ1t/1"
SECRET_KEY_TEXT = "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0\n-----END OPENSSH PRIVATE KEY-----"


def base(**kw: object) -> PartnerProfile:
    values: dict[str, object] = {
        "name": "acme",
        "host": "sftp.example.org",
        "username": "u",
        "host_key": HOST_KEY,
    }
    values.update(kw)
    return PartnerProfile(**values)  # type: ignore[arg-type]


def test_defaults_are_the_safe_ones() -> None:
    p = base()
    assert p.port == 22
    assert p.usage_indicator == "T"
    assert p.upload_temp_then_rename is True
    assert p.delete_after_download is False
    assert p.remote_outbound == "/inbound" and p.remote_inbound == "/outbound"


def test_repr_hides_secrets() -> None:
    p = base(private_key=SECRET_KEY_TEXT, private_key_passphrase="hunter2")
    text = repr(p)
    assert "c2VjcmV0" not in text and "hunter2" not in text


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"name": "../x"}, "name"),
        ({"host": ""}, "host"),
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"username": ""}, "username"),
        ({"host_key": ""}, "host_key"),
        ({"host_key": "not a key"}, "host_key"),
        ({"host_key": "ssh-ed25519 !!!notbase64"}, "host_key"),
        ({"usage_indicator": "X"}, "usage_indicator"),
        ({"upload_name_template": "{nope}"}, "upload_name_template"),
        ({"upload_temp_template": "{"}, "upload_temp_template"),
        ({"private_key": "x", "private_key_path": "/k"}, "not both"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"remote_inbound": ""}, "remote_inbound"),
    ],
)
def test_invalid_profiles_are_refused(kw: dict[str, object], msg: str) -> None:
    with pytest.raises(ProfileConfigError, match=msg):
        base(**kw)


def test_host_key_forms(tmp_path: Path) -> None:
    pair = generate_ed25519(tmp_path / "k")
    line = pair.public_line
    b64 = line.split()[1]
    for form in (line, f"ssh-ed25519 {b64}", known_hosts_line("h", 2222, line), b64, f"{line}\n{HOST_KEY}\n"):
        base(host_key=form)
    with pytest.raises(ProfileConfigError, match="markers"):
        base(host_key=f"@cert-authority * {line}")


def test_env_per_field_variables(tmp_path: Path) -> None:
    env = {
        "CLAIMFLOW_PARTNER_AVAILITY_TEST_HOST": "127.0.0.1",
        "CLAIMFLOW_PARTNER_AVAILITY_TEST_PORT": "2222",
        "CLAIMFLOW_PARTNER_AVAILITY_TEST_USERNAME": "claimflow",
        "CLAIMFLOW_PARTNER_AVAILITY_TEST_HOST_KEY": HOST_KEY,
        "CLAIMFLOW_PARTNER_AVAILITY_TEST_PRIVATE_KEY_PATH": "/secrets/key",
        "CLAIMFLOW_PARTNER_AVAILITY_TEST_ISA_RECEIVER_ID": "030240928",
        "CLAIMFLOW_PARTNER_AVAILITY_TEST_USAGE_INDICATOR": "P",
        "CLAIMFLOW_PARTNER_AVAILITY_TEST_DELETE_AFTER_DOWNLOAD": "true",
        "CLAIMFLOW_PARTNER_AVAILITY_TEST_STABILITY_WAIT": "0.5",
    }
    p = profile_from_env("availity-test", env)
    assert env_key("availity-test") == "CLAIMFLOW_PARTNER_AVAILITY_TEST"
    assert (p.name, p.host, p.port, p.username) == ("availity-test", "127.0.0.1", 2222, "claimflow")
    assert p.private_key_path == "/secrets/key" and p.private_key is None
    assert p.usage_indicator == "P" and p.delete_after_download is True and p.stability_wait == 0.5
    assert partners_in_env(env) == ["availity_test"]


def test_env_json_blob_and_override() -> None:
    blob = {
        "host": "sftp.example.org",
        "port": 22,
        "username": "u",
        "host_key": HOST_KEY,
        "private_key": SECRET_KEY_TEXT.replace("\n", "\\n"),
        "remote_outbound": "/in",
        "isa15": "T",
    }
    env = {
        "CLAIMFLOW_PARTNER_ACME": json.dumps(blob),
        "CLAIMFLOW_PARTNER_ACME_PORT": "2200",
    }
    p = profile_from_env("acme", env)
    assert p.port == 2200 and p.remote_outbound == "/in" and p.private_key is not None
    # a per-field key path replaces the blob's key text
    env["CLAIMFLOW_PARTNER_ACME_PRIVATE_KEY_PATH"] = "/k"
    p = profile_from_env("acme", env)
    assert p.private_key is None and p.private_key_path == "/k"
    assert partners_in_env(env) == ["acme"]


@pytest.mark.parametrize(
    ("env", "msg"),
    [
        ({}, "no profile for partner"),
        ({"CLAIMFLOW_PARTNER_ACME": "{not json"}, "not valid JSON"),
        ({"CLAIMFLOW_PARTNER_ACME": "[1]"}, "JSON object"),
        ({"CLAIMFLOW_PARTNER_ACME": json.dumps({"hots": "x"})}, "unknown field 'hots'"),
        ({"CLAIMFLOW_PARTNER_ACME_HOST": "h"}, "missing username, host_key"),
        ({"CLAIMFLOW_PARTNER_ACME_PORT": "twenty-two"}, "field port"),
        ({"CLAIMFLOW_PARTNER_ACME_DELETE_AFTER_DOWNLOAD": "maybe"}, "delete_after_download"),
    ],
)
def test_env_errors(env: dict[str, str], msg: str) -> None:
    with pytest.raises(ProfileConfigError, match=msg):
        profile_from_env("acme", env)


def test_env_error_never_echoes_a_value() -> None:
    with pytest.raises(ProfileConfigError) as err:
        profile_from_env("acme", {"CLAIMFLOW_PARTNER_ACME_PORT": "s3cr3t-password"})
    assert "s3cr3t" not in str(err.value)


def test_from_airflow_connection_parts() -> None:
    extra = {
        "host_key": HOST_KEY,
        "private_key": SECRET_KEY_TEXT,
        "private_key_passphrase": "pw",
        "conn_timeout": "7",
        "compress": "false",  # provider option, ignored here
        "remote_outbound": "/claims/in",
        "remote_inbound": "/claims/out",
        "isa_receiver_id": "RECV",
        "usage_indicator": "T",
        "delete_after_download": "true",
        "partner": "availity",
    }
    p = profile_from_connection("sftp_availity", "sftp.example.org", 2222, "claimflow", extra)
    assert p.name == "availity" and p.host == "sftp.example.org" and p.port == 2222
    assert p.username == "claimflow" and p.connect_timeout == 7.0
    assert p.private_key == SECRET_KEY_TEXT and p.private_key_passphrase == "pw"
    assert p.remote_outbound == "/claims/in" and p.delete_after_download is True
    p2 = profile_from_connection(
        "sftp_x", "h", None, "u", json.dumps({"host_key": HOST_KEY, "key_file": "/k"})
    )
    assert p2.name == "sftp_x" and p2.port == 22 and p2.private_key_path == "/k"


@pytest.mark.parametrize("flag", ["no_host_key_check", "ignore_hostkey_verification"])
def test_connection_without_host_key_check_is_refused(flag: str) -> None:
    with pytest.raises(ProfileConfigError, match=flag):
        profile_from_connection("c", "h", 22, "u", {"host_key": HOST_KEY, flag: "true"})


def test_connection_without_host_key_is_refused() -> None:
    with pytest.raises(ProfileConfigError, match="host_key"):
        profile_from_connection("c", "h", 22, "u", {"key_file": "/k"})
