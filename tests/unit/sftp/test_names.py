from __future__ import annotations

import pytest

from sftp.errors import UnsafeRemoteName
from sftp.names import check_remote_name, is_safe_remote_name, is_temp_name


@pytest.mark.parametrize(
    "name",
    [
        "CLAIMS_20250101.837",
        "resp-000000001.999",
        "835_ACME+BCBS@2025,v1~x#2.x12",
        "a",
        ".hidden.part",  # safe (a temp name; fetch ignores it, but it is not dangerous)
        "x" * 255,
    ],
)
def test_safe_names(name: str) -> None:
    assert check_remote_name(name) == name
    assert is_safe_remote_name(name)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        (".", "directory reference"),
        ("..", "directory reference"),
        ("../x", "path separator"),
        ("../../etc/passwd", "path separator"),
        ("/etc/passwd", "path separator"),
        ("/", "path separator"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("..\\x", "path separator"),
        ("..evil", "starts with '..'"),
        ("bad\nname.999", "control characters"),
        ("nul\x00byte", "control characters"),
        ("esc\x1b[31m", "control characters"),
        ("del\x7f", "control characters"),
        ("c1\x85", "control characters"),
        ("-rf", "starts with '-'"),
        ("has space.999", "characters outside"),
        ("semi;colon", "characters outside"),
        ("quote'd", "characters outside"),
        ("bidi\u202etxt.exe", "characters outside"),
        ("ünïcode.835", "characters outside"),
        ("x" * 256, "longer than 255"),
    ],
)
def test_unsafe_names(name: str, reason: str) -> None:
    with pytest.raises(UnsafeRemoteName) as err:
        check_remote_name(name)
    assert reason in err.value.reason
    assert not is_safe_remote_name(name)
    # the message shows the name escaped: no raw control character reaches a log line
    assert "\n" not in str(err.value) and "\x1b" not in str(err.value)


def test_non_string_is_refused() -> None:
    with pytest.raises(UnsafeRemoteName):
        check_remote_name(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "temp"),
    [
        (".claims.837.part", True),
        ("claims.837.part", True),
        ("claims.837.PART", True),
        ("claims.837.filepart", True),
        ("claims.837.partial", True),
        ("claims.tmp", True),
        (".anything", True),
        ("claims.837", False),
        ("particular.999", False),
        ("report.parts", False),
    ],
)
def test_temp_names(name: str, temp: bool) -> None:
    assert is_temp_name(name) is temp
