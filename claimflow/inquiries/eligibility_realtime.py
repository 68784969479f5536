"""Real-time eligibility: one 270 over CAQH CORE connectivity, the 271 back in the same breath.

:func:`check_patient` builds one 270 (005010X279A1) for a patient's coverage — the primary one, or the one
with the payer asked for — with the same builder, control numbers and ``eligibility_checks`` trace
(``CF<coverage id>-<check id>``, no PHI) as the nightly batch (:mod:`claimflow.inquiries.eligibility`), wraps it in
a CORE envelope (multipart/form-data by default, SOAP 1.2 on request: :mod:`claimflow.inquiries.core_envelope`)
and POSTs it over TLS. The answer is archived and loaded exactly like a batch 271 fetched over SFTP
(``receive_file`` + ``load_interchange`` → :func:`claimflow.inquiries.eligibility.apply_271`), so
``coverage_eligibility`` holds the same answer either way; the archived interchange is named
``realtime-<ISA13>.271`` and the check's ``file_name`` ``realtime-<ISA13>.270``.

Configuration (environment, read when a check runs):

* ``CLAIMFLOW_CORE_URL``: ``https://host:port/core/realtime`` — plain HTTP is refused;
* ``CLAIMFLOW_CORE_CERT_SHA256``: the server certificate's SHA-256 fingerprint (hex, colons allowed).
  When set, the certificate is checked against it *before* a byte of the request is sent (self-signed
  partner and sandbox certificates). When unset, the system's CA store and the host name verify the
  server instead: verification is never switched off;
* ``CLAIMFLOW_CORE_USERNAME`` / ``CLAIMFLOW_CORE_PASSWORD``: CORE credentials (multipart fields or WS-Security
  UsernameToken), optional;
* ``CLAIMFLOW_CORE_TIMEOUT``: seconds for connecting and for the answer (default 10);
* ``CLAIMFLOW_CORE_RECEIVER_ID``: the envelope's ReceiverID (default the settings' receiver id).

Errors are typed: :class:`RealtimeInputError` (unknown patient, no such coverage, bad configuration),
:class:`CoreConnectionError` and its :class:`CertificatePinMismatch` (network, TLS, HTTP),
:class:`CoreRejected` (a CORE error code, a 999, a 271 that would not load). None carries PHI.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import http.client
import logging
import os
import re
import socket
import ssl
import tempfile
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from claimflow.db.models import (
    Claim,
    Coverage,
    CoverageEligibility,
    EligibilityCheck,
    Patient,
    Payer,
    Provider,
)
from claimflow.inquiries.core_envelope import (
    MAX_ENVELOPE_BYTES,
    MULTIPART,
    PAYLOAD_271,
    PAYLOAD_999,
    SUCCESS,
    CoreEnvelope,
    CoreEnvelopeError,
    decode,
    encode,
)

log = logging.getLogger(__name__)

ACTOR = "realtime:271"
DEFAULT_TIMEOUT = 10.0

#: AAA03 reject reasons of 005010X279A1, in words.
AAA_REASONS = {
    "04": "authorized quantity exceeded",
    "15": "required application data missing",
    "41": "authorization/access restrictions",
    "42": "the payer cannot respond at this time",
    "43": "provider identification invalid or missing",
    "44": "provider name invalid or missing",
    "45": "provider specialty invalid or missing",
    "46": "provider phone number invalid or missing",
    "47": "provider state invalid or missing",
    "48": "referring provider identification invalid or missing",
    "49": "provider is not the primary care physician",
    "50": "provider is not eligible for inquiries",
    "51": "provider is not on file",
    "52": "service dates not within the provider's plan enrollment",
    "53": "inquired benefit inconsistent with the provider type",
    "54": "inappropriate product/service ID qualifier",
    "55": "inappropriate product/service ID",
    "56": "inappropriate date",
    "57": "dates of service invalid or missing",
    "58": "date of birth invalid or missing",
    "60": "date of birth follows the dates of service",
    "61": "date of death precedes the dates of service",
    "62": "date of service not within the allowable inquiry period",
    "63": "date of service in the future",
    "64": "patient ID invalid or missing",
    "65": "patient name invalid or missing",
    "66": "patient gender invalid or missing",
    "67": "patient not found",
    "68": "duplicate patient ID number",
    "69": "inconsistent with the patient's age",
    "70": "inconsistent with the patient's gender",
    "71": "birth date does not match the payer's records",
    "72": "member ID invalid or missing",
    "73": "subscriber name invalid or missing",
    "74": "subscriber gender invalid or missing",
    "75": "subscriber/insured not found",
    "76": "duplicate subscriber/insured ID number",
    "77": "subscriber found, patient not found",
    "78": "subscriber/insured not in the group/plan identified",
    "79": "invalid participant identification",
    "80": "no response received, transaction terminated",
    "97": "provider address invalid or missing",
    "T4": "payer name or identifier missing",
}

#: AAA04 follow-up actions, in words.
AAA_FOLLOW_UP = {
    "C": "please correct and resubmit",
    "N": "resubmission not allowed",
    "P": "please resubmit the original transaction",
    "R": "resubmission allowed",
    "S": "do not resubmit; inquiry initiated to a third party",
    "W": "please wait 30 days and resubmit",
    "X": "please wait 10 days and resubmit",
    "Y": "do not resubmit; we will hand deliver",
}


class RealtimeError(Exception):
    """Base of real-time eligibility errors (one line, no PHI)."""


class RealtimeInputError(RealtimeError):
    """The question cannot be asked: unknown patient, no such coverage, no provider, bad configuration."""


class CoreConnectionError(RealtimeError):
    """The CORE endpoint could not be reached or did not answer over HTTP(S) as it should. ``sent``: whether
    the request may have reached the server (False: connection, TLS or pin failed before sending)."""

    def __init__(self, message: str, *, sent: bool = False) -> None:
        super().__init__(message)
        self.sent = sent


class CertificatePinMismatch(CoreConnectionError):
    """The server's certificate is not the one pinned: nothing was sent."""

    def __init__(self, expected: str, got: str) -> None:
        super().__init__(
            f"server certificate SHA-256 {got} does not match the pinned {expected} "
            "(CLAIMFLOW_CORE_CERT_SHA256); nothing was sent"
        )
        self.expected = expected
        self.got = got


class CoreRejected(RealtimeError):
    """The endpoint answered but not with a usable 271 (CORE error code, a 999, a 271 that did not load)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------------------------------ settings


def normalize_fingerprint(value: str) -> str:
    """``AB:CD:…`` / ``sha256:abcd…`` / ``abcd…`` → 64 lowercase hex digits; ValueError otherwise."""
    text = value.strip().lower()
    text = text.removeprefix("sha256:").removeprefix("sha256/")
    text = re.sub(r"[\s:]", "", text)
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise ValueError("a SHA-256 fingerprint is 64 hex digits (colons allowed)")
    return text


@dataclass(slots=True)
class CoreConfig:
    url: str
    cert_sha256: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    receiver_id: str | None = None

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme != "https" or not parts.hostname:
            raise RealtimeInputError(
                "CLAIMFLOW_CORE_URL must be an https:// URL (CORE connectivity is TLS only)"
            )
        if self.cert_sha256 is not None:
            try:
                self.cert_sha256 = normalize_fingerprint(self.cert_sha256)
            except ValueError as exc:
                raise RealtimeInputError(f"CLAIMFLOW_CORE_CERT_SHA256: {exc}") from None
        if (self.username is None) != (self.password is None):
            raise RealtimeInputError(
                "set both CLAIMFLOW_CORE_USERNAME and CLAIMFLOW_CORE_PASSWORD, or neither"
            )
        if not 0 < self.timeout <= 300:
            raise RealtimeInputError("CLAIMFLOW_CORE_TIMEOUT must be between 0 and 300 seconds")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CoreConfig:
        env = os.environ if environ is None else environ
        url = env.get("CLAIMFLOW_CORE_URL", "").strip()
        if not url:
            raise RealtimeInputError("CLAIMFLOW_CORE_URL is not set (https://host:port/core/realtime)")
        try:
            timeout = float(env.get("CLAIMFLOW_CORE_TIMEOUT", "") or DEFAULT_TIMEOUT)
        except ValueError:
            raise RealtimeInputError("CLAIMFLOW_CORE_TIMEOUT must be a number of seconds") from None
        return cls(
            url=url,
            cert_sha256=env.get("CLAIMFLOW_CORE_CERT_SHA256") or None,
            username=env.get("CLAIMFLOW_CORE_USERNAME") or None,
            password=env.get("CLAIMFLOW_CORE_PASSWORD") or None,
            timeout=timeout,
            receiver_id=env.get("CLAIMFLOW_CORE_RECEIVER_ID") or None,
        )


# ------------------------------------------------------------------------------------------- result


@dataclass(slots=True)
class Rejection:
    code: str
    follow_up: str
    words: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "follow_up": self.follow_up, "reason": self.words}


@dataclass(slots=True)
class RealtimeAnswer:
    """What the payer said about one coverage (no names, no member ids)."""

    coverage_id: int
    payer: str
    trace: str
    payload_id: str
    status: str  # active, inactive, error (as coverage_eligibility.status)
    plan: str | None
    coverage_from: dt.date | None
    coverage_to: dt.date | None
    deductible_remaining: Decimal | None
    out_of_pocket_remaining: Decimal | None
    copay: Decimal | None
    coinsurance: Decimal | None
    rejections: list[Rejection]
    interchange_id: int | None
    round_trip_ms: float  # the HTTPS exchange: connect, TLS, POST, answer
    total_ms: float  # build + exchange + archive and load

    def as_dict(self) -> dict[str, Any]:
        def s(v: Any) -> Any:
            return None if v is None else str(v) if isinstance(v, (Decimal, dt.date)) else v

        return {
            "status": self.status,
            "payer": self.payer,
            "coverage_id": self.coverage_id,
            "plan": self.plan,
            "coverage_from": s(self.coverage_from),
            "coverage_to": s(self.coverage_to),
            "deductible_remaining": s(self.deductible_remaining),
            "out_of_pocket_remaining": s(self.out_of_pocket_remaining),
            "copay": s(self.copay),
            "coinsurance": s(self.coinsurance),
            "rejections": [r.as_dict() for r in self.rejections],
            "trace": self.trace,
            "payload_id": self.payload_id,
            "interchange_id": self.interchange_id,
            "round_trip_ms": round(self.round_trip_ms, 1),
            "total_ms": round(self.total_ms, 1),
        }

    def text(self) -> str:
        """Plain words, one fact a line."""
        head = {
            "active": "ACTIVE: coverage is in force",
            "inactive": "INACTIVE: no coverage in force",
            "error": "NOT VERIFIED: the payer could not answer for this member",
        }.get(self.status, self.status)
        lines = [f"Eligibility with payer {self.payer} (coverage {self.coverage_id}): {head}"]
        if self.plan:
            lines.append(f"  plan: {self.plan}")
        if self.coverage_from or self.coverage_to:
            since = f"from {self.coverage_from:%Y-%m-%d}" if self.coverage_from else "start not given"
            until = f"to {self.coverage_to:%Y-%m-%d}" if self.coverage_to else "no end date"
            verb = "ended" if self.status == "inactive" and self.coverage_to else "coverage"
            lines.append(f"  {verb}: {since}, {until}")
        if self.deductible_remaining is not None:
            lines.append(f"  deductible remaining: ${self.deductible_remaining:,.2f}")
        if self.out_of_pocket_remaining is not None:
            lines.append(f"  out-of-pocket remaining: ${self.out_of_pocket_remaining:,.2f}")
        if self.copay is not None:
            lines.append(f"  copay: ${self.copay:,.2f}")
        if self.coinsurance is not None:
            pct = (self.coinsurance * 100).normalize()
            lines.append(f"  coinsurance: {pct:f} %")
        for r in self.rejections:
            follow = AAA_FOLLOW_UP.get(r.follow_up, f"follow-up {r.follow_up}") if r.follow_up else ""
            lines.append(f"  rejected: {r.words} (AAA {r.code})" + (f"; {follow}" if follow else ""))
        lines.append(f"  answered in {self.round_trip_ms:.0f} ms (CORE payload {self.payload_id})")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------- the check


def _coverage(conn: Any, mrn: str, payer: str | None) -> Any:
    q = (
        select(
            Coverage.id,
            Coverage.member_id,
            Coverage.priority,
            Patient.last_name,
            Patient.first_name,
            Patient.birth_date,
            Patient.gender,
            Payer.payer_id,
            Payer.name,
            Payer.partner,
        )
        .join(Patient, Patient.id == Coverage.patient_id)
        .join(Payer, Payer.id == Coverage.payer_id)
        .where(Patient.account_number == mrn)
        .order_by(Coverage.priority, Coverage.id)
    )
    rows = conn.execute(q).all()
    if not rows:
        known = conn.execute(select(Patient.id).where(Patient.account_number == mrn)).first()
        if known is None:
            raise RealtimeInputError("no patient with that MRN")
        raise RealtimeInputError("the patient has no coverage on file")
    if payer is not None:
        rows = [r for r in rows if r.payer_id == payer]
        if not rows:
            raise RealtimeInputError(f"the patient has no coverage with payer {payer}")
    return rows[0]


def _provider(conn: Any, coverage_id: int) -> Any:
    """The billing provider of the coverage's latest claim, else the practice's first billing provider."""
    row = conn.execute(
        select(Provider.npi, Provider.last_name)
        .join(Claim, Claim.billing_provider_id == Provider.id)
        .where(Claim.coverage_id == coverage_id)
        .order_by(Claim.service_date_from.desc(), Claim.id.desc())
        .limit(1)
    ).first()
    if row is None:
        row = conn.execute(
            select(Provider.npi, Provider.last_name)
            .where(Provider.role == "billing")
            .order_by(Provider.id)
            .limit(1)
        ).first()
    if row is None:
        raise RealtimeInputError("no billing provider on file to ask as")
    return row


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def build_inquiry(
    engine: Engine, mrn: str, payer: str | None, *, today: dt.date | None = None, settings: Any = None
) -> tuple[str, str, Any, int]:
    """Register one check and build its 270: (X12 text, trace, coverage row, ISA13)."""
    from claimflow.db.control_numbers import DatabaseControlNumbers
    from claimflow.services.outbound import parties_for
    from claimflow.settings import get_settings
    from edi.x270 import Inquiry, build_270

    settings = settings or get_settings()
    today = today or dt.date.today()
    with engine.connect() as conn:
        cov = _coverage(conn, mrn, payer)
        prov = _provider(conn, cov.id)
    parties, _submitter, _receiver = parties_for(settings, cov.partner or settings.default_partner)
    numbers = DatabaseControlNumbers(engine, settings.submitter_id)
    icn, gcn, tcn = numbers.next_interchange(), numbers.next_group(), numbers.next_transaction()
    created = _now()
    with engine.begin() as conn:
        from claimflow.inquiries.eligibility import register_check

        trace = register_check(conn, cov.id, icn, f"realtime-{icn:09d}.270", created, tag="pending-rt")
    text = build_270(
        [
            Inquiry(
                trace=trace,
                payer_name=cov.name,
                payer_id=cov.payer_id,
                provider_name=prov.last_name,
                provider_npi=prov.npi,
                last_name=cov.last_name,
                first_name=cov.first_name,
                member_id=cov.member_id,
                birth_date=cov.birth_date,
                gender=cov.gender,
                plan_date=today,
            )
        ],
        parties,
        interchange_control_number=icn,
        group_control_number=gcn,
        transaction_control_number=tcn,
        created=created,
    )
    return text, trace, cov, icn


def _connect(config: CoreConfig) -> http.client.HTTPSConnection:
    """An open TLS connection whose server is verified: by the pinned fingerprint, else by CA + host name."""
    parts = urllib.parse.urlsplit(config.url)
    host, port = parts.hostname or "", parts.port or 443
    if config.cert_sha256:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        # the chain is not what we trust: the exact certificate is, checked below before anything is sent
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    conn = http.client.HTTPSConnection(host, port, timeout=config.timeout, context=ctx)
    try:
        conn.connect()
    except ssl.SSLCertVerificationError as exc:
        conn.close()
        raise CoreConnectionError(
            f"TLS: the server certificate is not trusted ({exc.verify_message}); "
            "pin it with CLAIMFLOW_CORE_CERT_SHA256"
        ) from None
    except (OSError, ssl.SSLError) as exc:
        conn.close()
        raise CoreConnectionError(f"cannot connect to {host}:{port}: {_why(exc)}") from None
    if config.cert_sha256:
        sock = conn.sock
        der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
        got = hashlib.sha256(der).hexdigest() if der else "none"
        if not hmac.compare_digest(got, config.cert_sha256):
            conn.close()
            raise CertificatePinMismatch(config.cert_sha256, got)
    return conn


def _why(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or type(exc).__name__})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


def exchange(config: CoreConfig, request: CoreEnvelope, form: str = MULTIPART) -> tuple[CoreEnvelope, int]:
    """POST one envelope; returns (response envelope, HTTP status). Connection problems raise
    :class:`CoreConnectionError`; a response that is not a CORE envelope raises :class:`CoreRejected`."""
    content_type, body = encode(request, form)
    path = urllib.parse.urlsplit(config.url).path or "/"
    conn = _connect(config)
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": content_type, "Accept": content_type.split(";")[0]},
        )
        resp = conn.getresponse()
        data = resp.read(MAX_ENVELOPE_BYTES + 1)
        status, resp_type = resp.status, resp.getheader("Content-Type", "")
    except (OSError, http.client.HTTPException) as exc:
        raise CoreConnectionError(
            f"no answer from {urllib.parse.urlsplit(config.url).netloc}: {_why(exc)}", sent=True
        ) from None
    finally:
        conn.close()
    if len(data) > MAX_ENVELOPE_BYTES:
        raise CoreRejected(f"the answer is larger than {MAX_ENVELOPE_BYTES} bytes", "EnvelopeTooLarge")
    try:
        env, _form = decode(resp_type, data)
    except CoreEnvelopeError:
        raise CoreRejected(f"HTTP {status} without a CORE envelope", f"HTTP{status}") from None
    return env, status


def _load_271(engine: Engine, x12: bytes, name: str, partner: str | None, settings: Any) -> int:
    """Archive and load the 271 the way a fetched file is loaded; returns its interchange id."""
    from claimflow.services.inbound import load_interchange, receive_file

    folder = settings.inbox_dir / "realtime"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".rt-", suffix=".271", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(x12)
        interchange_id, _new = receive_file(
            engine, Path(tmp), partner=partner, remote_name=name, settings=settings
        )
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # the archive holds it byte for byte now
    outcome = load_interchange(engine, interchange_id, actor=ACTOR, settings=settings)
    if outcome.status not in ("loaded", "duplicate"):
        raise CoreRejected(
            f"the 271 did not load ({outcome.status}): {outcome.error or 'see claimflow load'}"
        )
    return interchange_id


def _rejections(x12: bytes, trace: str) -> list[Rejection]:
    from parsers.records import Eligibility
    from parsers.x271_005010x279a1 import parse

    out = []
    for rec in parse(x12, name="realtime.271"):
        if isinstance(rec, Eligibility) and (
            rec.trace_number == trace or rec.level in ("source", "receiver")
        ):
            out += [
                Rejection(r.reason, r.follow_up, AAA_REASONS.get(r.reason, "reason not listed"))
                for r in rec.rejections
            ]
    return out


def check_patient(
    engine: Engine,
    mrn: str,
    *,
    payer: str | None = None,
    config: CoreConfig | None = None,
    form: str = MULTIPART,
    today: dt.date | None = None,
    settings: Any = None,
) -> RealtimeAnswer:
    """Ask the payer about one patient's coverage now, store the answer, return it (see module docstring)."""
    from claimflow.settings import get_settings

    started = time.perf_counter()
    settings = settings or get_settings()
    if not mrn.strip():
        raise RealtimeInputError("give the patient's MRN")
    config = config or CoreConfig.from_env()
    x12, trace, cov, icn = build_inquiry(engine, mrn, payer, today=today, settings=settings)
    request = CoreEnvelope.request(
        x12,
        sender_id=settings.submitter_id,
        receiver_id=config.receiver_id or settings.receiver_id,
        username=config.username,
        password=config.password,
    )
    sent = time.perf_counter()
    try:
        response, status = exchange(config, request, form)
    except CoreConnectionError as exc:
        if not exc.sent:  # never asked: no open inquiry should keep tonight's batch from asking
            with engine.begin() as conn:
                conn.execute(delete(EligibilityCheck).where(EligibilityCheck.trace_number == trace))
        raise
    round_trip = (time.perf_counter() - sent) * 1000
    if response.error_code != SUCCESS or status != 200:
        code = response.error_code or f"HTTP{status}"
        log.warning(
            "realtime 270 payload %s: endpoint answered %s (HTTP %s)", request.payload_id, code, status
        )
        raise CoreRejected(
            f"the CORE endpoint refused the request: {code} ({response.error_message or 'no message'})", code
        )
    if response.payload_id != request.payload_id:
        raise CoreRejected("the answer's PayloadID is not the request's", "PayloadIDMismatch")
    if response.payload_type == PAYLOAD_999:
        raise CoreRejected(
            "the payer rejected the 270 as invalid (999); see `claimflow validate` for the 270", "999"
        )
    if response.payload_type != PAYLOAD_271:
        raise CoreRejected("the answer is not a 271", "PayloadTypeIncorrect")
    data = response.payload.encode("latin-1", errors="replace")
    interchange_id = _load_271(engine, data, f"realtime-{icn:09d}.271", cov.partner, settings)
    with engine.connect() as conn:
        row = conn.execute(
            select(CoverageEligibility.__table__).where(CoverageEligibility.coverage_id == cov.id)
        ).one_or_none()
        answered = conn.execute(
            select(EligibilityCheck.answered_at).where(EligibilityCheck.trace_number == trace)
        ).scalar_one()
    if row is None or answered is None:
        raise CoreRejected("the 271 did not answer our inquiry (trace not echoed)")
    result = RealtimeAnswer(
        coverage_id=cov.id,
        payer=cov.payer_id,
        trace=trace,
        payload_id=request.payload_id,
        status=row.status,
        plan=row.plan,
        coverage_from=row.coverage_from,
        coverage_to=row.coverage_to,
        deductible_remaining=row.deductible_remaining,
        out_of_pocket_remaining=row.out_of_pocket_remaining,
        copay=row.copay,
        coinsurance=row.coinsurance,
        rejections=_rejections(data, trace),
        interchange_id=interchange_id,
        round_trip_ms=round_trip,
        total_ms=(time.perf_counter() - started) * 1000,
    )
    log.info(
        "realtime 270 payload %s coverage %s: %s in %.0f ms",
        request.payload_id,
        cov.id,
        result.status,
        round_trip,
    )
    return result
