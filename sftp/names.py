"""Remote file names: which ones we accept as a local path component, which ones are still in transit.

A name in a remote listing comes from the partner's server; it is data, never a path. We accept a single
component of ASCII letters, digits and ``._-+=@,~#`` (what clearinghouses actually use) and refuse
everything else with :class:`~sftp.errors.UnsafeRemoteName`: ``../x``, ``/etc/x``, ``a/b``, ``a\\b``,
``.``/``..``, names starting with ``..`` or ``-``, control characters (a newline could forge log lines),
non-ASCII (bidi overrides can disguise an extension) and names over 255 bytes.

A *temporary* name is one a writer uses while a file is incomplete: a leading dot (``.x12.part``) or a
``.part``/``.partial``/``.filepart``/``.tmp`` suffix. We never fetch those, never upload under a final name
that looks like one, and the sandbox server never reports them as an upload.
"""

from __future__ import annotations

import re

from sftp.errors import UnsafeRemoteName

_ALLOWED = re.compile(r"[A-Za-z0-9._\-+=@,~#]+")
TEMP_SUFFIXES = (".part", ".partial", ".filepart", ".tmp")
MAX_NAME_BYTES = 255


def check_remote_name(name: str) -> str:
    """Return ``name`` if it is a safe single path component, else raise :class:`UnsafeRemoteName`."""
    if not isinstance(name, str) or name == "":
        raise UnsafeRemoteName(str(name), "empty name")
    if name in (".", ".."):
        raise UnsafeRemoteName(name, "is a directory reference")
    if "/" in name or "\\" in name:
        raise UnsafeRemoteName(name, "contains a path separator")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in name):
        raise UnsafeRemoteName(name, "contains control characters")
    if name.startswith(".."):
        raise UnsafeRemoteName(name, "starts with '..'")
    if name.startswith("-"):
        raise UnsafeRemoteName(name, "starts with '-'")
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise UnsafeRemoteName(name, f"longer than {MAX_NAME_BYTES} bytes")
    if not _ALLOWED.fullmatch(name):
        raise UnsafeRemoteName(name, "contains characters outside A-Z a-z 0-9 . _ - + = @ , ~ #")
    return name


def is_safe_remote_name(name: str) -> bool:
    try:
        check_remote_name(name)
    except UnsafeRemoteName:
        return False
    return True


def is_temp_name(name: str) -> bool:
    """True for names writers use while a file is incomplete (``.name.part``, ``name.filepart``…)."""
    return name.startswith(".") or name.lower().endswith(TEMP_SUFFIXES)
