"""Trading-partner profiles: where a clearinghouse's SFTP mailbox is, how to log in, what it accepts.

A profile comes from the environment (CLI, demo) or from an Airflow connection (DAGs); secrets never live
in code. Environment, for a partner called ``availity`` (the name is upper-cased and every character
other than A-Z/0-9 becomes ``_``):

* ``CLAIMFLOW_PARTNER_AVAILITY`` — optional JSON object with any of the field names below, and/or
* ``CLAIMFLOW_PARTNER_AVAILITY_<FIELD>`` — one variable per field (``_HOST``, ``_PORT``, ``_USERNAME``,
  ``_PRIVATE_KEY`` (key text), ``_PRIVATE_KEY_PATH``, ``_HOST_KEY``, ``_REMOTE_OUTBOUND``,
  ``_ISA_RECEIVER_ID``, ``_USAGE_INDICATOR``…); a per-field variable wins over the JSON blob.

Airflow: :func:`profile_from_connection` takes the pieces of a Connection (host, port, login,
``extra_dejson``) so this package never imports airflow. The extra uses the SFTP provider's own keys for
the SSH part (``host_key``, ``private_key``, ``key_file``, ``private_key_passphrase``) and this module's
field names for the rest; an extra that switches host-key checking off is refused.

Folder names are *ours*: ``remote_outbound`` is where we upload claims (the clearinghouse's inbound),
``remote_inbound`` is where the partner leaves TA1/999/277CA/835 for us (its outbound).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sftp.errors import ProfileConfigError
from sftp.keys import parse_pinned_host_keys

ENV_PREFIX = "CLAIMFLOW_PARTNER_"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_TEMPLATE_FIELDS = {
    "name": "CLAIMS.837",
    "stem": "CLAIMS",
    "suffix": ".837",
    "partner": "partner",
    "isa13": "000000001",
    "isa15": "T",
    "isa09": "250101",
    "isa10": "1200",
    "sender_id": "SENDER",
    "receiver_id": "RECEIVER",
    "sha8": "0123abcd",
}


@dataclass(frozen=True, slots=True)
class PartnerProfile:
    """One trading partner's SFTP mailbox and interchange identity.

    ``repr()`` never shows the private key text or passphrase.
    """

    name: str
    host: str
    username: str
    host_key: str
    """Pinned host key(s): ``ssh-ed25519 AAAA…``, a ``known_hosts`` line, or several lines (rotation)."""
    port: int = 22
    private_key: str | None = field(default=None, repr=False)
    """Key text (OpenSSH or PEM) from a secret / env var; ``\\n`` escapes are accepted."""
    private_key_path: str | None = None
    private_key_passphrase: str | None = field(default=None, repr=False)
    remote_outbound: str = "/inbound"
    """Remote folder we upload claims into (the clearinghouse's inbound)."""
    remote_inbound: str = "/outbound"
    """Remote folder the partner leaves responses in (the clearinghouse's outbound)."""
    upload_name_template: str = "{name}"
    """Final remote name; fields: name stem suffix partner isa13 isa15 isa09 isa10 sender_id receiver_id
    sha8. Deliberately no wall-clock time: the same file must map to the same name on a re-run, which is
    what makes the upload idempotent."""
    upload_temp_then_rename: bool = True
    upload_temp_template: str = ".{name}.part"
    """Temporary name while uploading; ``{name}`` is the final remote name."""
    delete_after_download: bool = False
    isa_sender_qualifier: str | None = None
    isa_sender_id: str | None = None
    isa_receiver_qualifier: str | None = None
    isa_receiver_id: str | None = None
    usage_indicator: str = "T"
    """ISA15 this mailbox accepts: ``T`` (test) or ``P`` (production). Defaults to T: a profile has to
    say P explicitly before production claims go out."""
    connect_timeout: float = 15.0
    io_timeout: float = 60.0
    stability_wait: float = 2.0
    """Seconds between the two listings that tell a finished remote file from one still being written."""
    verify_existing_max_bytes: int = 16 * 1024 * 1024
    """A remote file already under the final name with the same size is also compared by sha256 when it
    is at most this big (reading it back is cheap); above, equal size is taken as equal."""
    max_file_size: int = 256 * 1024 * 1024
    """Largest remote file :func:`sftp.transfer.fetch_new` takes (bytes). Checked against the listing
    and again while the bytes arrive; a bigger file is listed as failed and never fills the inbox."""
    transfer_timeout: float = 120.0
    min_transfer_rate: int = 64 * 1024
    """Per-file deadline of a download: ``transfer_timeout + size / min_transfer_rate`` seconds (bytes/s).
    A server that trickles data slower than that cannot hold a fetch hostage: the file is abandoned
    (listed as failed) and the others go on. ``io_timeout`` still bounds each single wait."""
    retry_attempts: int = 5
    retry_initial_delay: float = 1.0
    retry_max_delay: float = 30.0
    retry_max_total: float = 120.0

    def __post_init__(self) -> None:
        problems = []
        if not _NAME_RE.fullmatch(self.name or ""):
            problems.append("name must be 1-64 characters of A-Z a-z 0-9 _ . - (starting alphanumeric)")
        if not self.host:
            problems.append("host is empty")
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            problems.append(f"port {self.port!r} is not a TCP port")
        if not self.username:
            problems.append("username is empty")
        if not self.host_key:
            problems.append("host_key is empty: host keys are always pinned")
        if self.private_key is not None and self.private_key_path is not None:
            problems.append("give private_key or private_key_path, not both")
        if self.usage_indicator not in ("T", "P"):
            problems.append(f"usage_indicator must be T or P, not {self.usage_indicator!r}")
        for attr in ("remote_outbound", "remote_inbound"):
            if not getattr(self, attr):
                problems.append(f"{attr} is empty")
        for attr in ("upload_name_template", "upload_temp_template"):
            try:
                getattr(self, attr).format(**_TEMPLATE_FIELDS)
            except (KeyError, IndexError, ValueError) as exc:
                problems.append(f"{attr} uses an unknown field or bad syntax ({exc})")
        for attr in ("connect_timeout", "io_timeout"):
            if not getattr(self, attr) > 0:
                problems.append(f"{attr} must be > 0")
        if self.max_file_size < 1 or self.min_transfer_rate < 1 or not self.transfer_timeout > 0:
            problems.append("max_file_size and min_transfer_rate must be >= 1, transfer_timeout > 0")
        if self.stability_wait < 0 or self.retry_max_total < 0 or self.retry_attempts < 1:
            problems.append("stability_wait/retry_max_total must be >= 0 and retry_attempts >= 1")
        if problems:
            raise ProfileConfigError(f"partner profile {self.name!r}: " + "; ".join(problems))
        try:
            parse_pinned_host_keys(self.host_key)
        except ProfileConfigError as exc:
            raise ProfileConfigError(f"partner profile {self.name!r}: host_key: {exc}") from None

    @property
    def address(self) -> str:
        """``host:port`` as it appears in messages (``[::1]:22`` for IPv6)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def with_overrides(self, **changes: Any) -> PartnerProfile:
        return replace(self, **changes)


_FIELD_NAMES = tuple(f.name for f in fields(PartnerProfile))
_BOOL_FIELDS = {"upload_temp_then_rename", "delete_after_download"}
_INT_FIELDS = {"port", "verify_existing_max_bytes", "retry_attempts", "max_file_size", "min_transfer_rate"}
_FLOAT_FIELDS = {
    "connect_timeout",
    "io_timeout",
    "stability_wait",
    "retry_initial_delay",
    "retry_max_delay",
    "retry_max_total",
    "transfer_timeout",
}
_ALIASES = {
    "user": "username",
    "login": "username",
    "key_file": "private_key_path",
    "isa15": "usage_indicator",
    "usage": "usage_indicator",
    "conn_timeout": "connect_timeout",
    "timeout": "connect_timeout",
}
# Extra keys the Airflow SSH/SFTP providers understand that say nothing about the partner profile.
_AIRFLOW_EXTRA_KEYS = {
    "compress",
    "allow_host_key_change",
    "look_for_keys",
    "disabled_algorithms",
    "ciphers",
    "cmd_timeout",
    "keepalive_interval",
    "auth_timeout",
    "banner_timeout",
    "channel_timeout",
    "disable_sha2",
    "prefetch",
}


def _coerce(name: str, value: Any, source: str) -> Any:
    """Convert an env/extra string to the field's type. Errors never echo the value: it could be a
    secret pasted into the wrong variable."""
    if value is None:
        return None
    if name in _BOOL_FIELDS:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ProfileConfigError(f"{source}: field {name} must be true or false")
    if name in _INT_FIELDS:
        try:
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise ProfileConfigError(f"{source}: field {name} must be an integer") from None
    if name in _FLOAT_FIELDS:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ProfileConfigError(f"{source}: field {name} must be a number") from None
    return str(value)


def env_key(partner: str) -> str:
    """``availity-test`` → ``CLAIMFLOW_PARTNER_AVAILITY_TEST``."""
    return ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", partner.upper())


def _normalise_keys(raw: Mapping[str, Any], source: str, *, strict: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        k = _ALIASES.get(key.lower(), key.lower())
        if k in _FIELD_NAMES:
            out[k] = _coerce(k, value, source)
        elif strict:
            raise ProfileConfigError(
                f"{source}: unknown field {key!r}; known fields: {', '.join(_FIELD_NAMES)}"
            )
    return out


def profile_from_mapping(name: str, values: Mapping[str, Any], *, source: str = "profile") -> PartnerProfile:
    """Build a profile from field-name → value pairs (strings are converted); unknown fields refused."""
    data = _normalise_keys(values, source, strict=True)
    data.setdefault("name", name)
    missing = [f for f in ("host", "username", "host_key") if not data.get(f)]
    if missing:
        raise ProfileConfigError(f"{source}: missing {', '.join(missing)}")
    return PartnerProfile(**data)


def profile_from_env(partner: str, environ: Mapping[str, str] | None = None) -> PartnerProfile:
    """The profile of ``partner`` from ``CLAIMFLOW_PARTNER_<NAME>`` (JSON) and ``…_<FIELD>`` variables."""
    env = os.environ if environ is None else environ
    prefix = env_key(partner)
    values: dict[str, Any] = {}
    blob = env.get(prefix)
    if blob:
        try:
            parsed = json.loads(blob)
        except json.JSONDecodeError as exc:
            raise ProfileConfigError(
                f"{prefix} is not valid JSON (line {exc.lineno} col {exc.colno})"
            ) from None
        if not isinstance(parsed, dict):
            raise ProfileConfigError(f"{prefix} must be a JSON object")
        values.update(_normalise_keys(parsed, prefix, strict=True))
    for fname in _FIELD_NAMES:
        var = f"{prefix}_{fname.upper()}"
        if var in env:
            values[fname] = _coerce(fname, env[var], var)
    # a per-field variable for one kind of key replaces the other kind coming from the JSON blob
    has_path_var, has_text_var = f"{prefix}_PRIVATE_KEY_PATH" in env, f"{prefix}_PRIVATE_KEY" in env
    if has_path_var and not has_text_var:
        values.pop("private_key", None)
    elif has_text_var and not has_path_var:
        values.pop("private_key_path", None)
    if not values:
        raise ProfileConfigError(
            f"no profile for partner {partner!r}: set {prefix} (JSON) or {prefix}_HOST, {prefix}_USERNAME, "
            f"{prefix}_HOST_KEY, {prefix}_PRIVATE_KEY_PATH …"
        )
    values["name"] = partner
    return profile_from_mapping(partner, values, source=prefix)


def partners_in_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """Partner names (lower-case) that have a JSON blob or a ``…_HOST`` variable."""
    env = os.environ if environ is None else environ
    names = set()
    for var, value in env.items():
        if not var.startswith(ENV_PREFIX):
            continue
        rest = var[len(ENV_PREFIX) :]
        if value.lstrip().startswith("{") and rest:
            names.add(rest.lower())
        elif rest.endswith("_HOST") and len(rest) > 5:
            names.add(rest[:-5].lower())
    return sorted(names)


def profile_from_connection(
    conn_id: str,
    host: str | None,
    port: int | None,
    login: str | None,
    extra: Mapping[str, Any] | str | None,
) -> PartnerProfile:
    """A profile from an Airflow Connection's parts: ``profile_from_connection(c.conn_id, c.host, c.port,
    c.login, c.extra_dejson)``.

    SSH keys in ``extra`` follow the SFTP provider (``host_key``, ``private_key``, ``key_file``,
    ``private_key_passphrase``); partner fields use this module's names (``remote_outbound``,
    ``isa_receiver_id``, ``usage_indicator``…); ``partner`` overrides the profile name (default: conn_id).
    Unknown keys are ignored (extras are shared with the provider), but ``no_host_key_check`` is refused.
    """
    source = f"connection {conn_id!r}"
    if isinstance(extra, str):
        try:
            extra = json.loads(extra) if extra.strip() else {}
        except json.JSONDecodeError:
            raise ProfileConfigError(f"{source}: extra is not valid JSON") from None
    extra = dict(extra or {})
    if not isinstance(extra, dict):
        raise ProfileConfigError(f"{source}: extra must be a JSON object")
    for flag in ("no_host_key_check", "ignore_hostkey_verification"):
        if str(extra.get(flag, "false")).lower() == "true":
            raise ProfileConfigError(f"{source}: {flag}=true is not allowed; pin the partner's host_key")
    name = str(extra.pop("partner", None) or conn_id)
    values = {k: v for k, v in extra.items() if k.lower() not in _AIRFLOW_EXTRA_KEYS}
    values = _normalise_keys(values, source, strict=False)
    if host:
        values["host"] = host
    if port:
        values["port"] = int(port)
    if login:
        values["username"] = login
    values["name"] = name
    return profile_from_mapping(name, values, source=source)
