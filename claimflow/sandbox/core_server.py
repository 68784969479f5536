"""The sandbox clearinghouse's real-time endpoint, the way CAQH CORE Phase II connectivity works.

``POST /core/realtime`` over HTTPS takes one 270 in a CORE envelope — MIME multipart/form-data or a SOAP
1.2 ``COREEnvelopeRealTimeRequest`` (see :mod:`claimflow.inquiries.core_envelope`) — and answers in the same form:

* ``X12_271_Response_005010X279A1`` with ``ErrorCode`` ``Success``: the sandbox payer's answer
  (:func:`claimflow.sandbox.payer.inquiries.answer_270`, same seed and same state file as the SFTP
  payer, so a member unknown or inactive in a batch 271 is unknown or inactive here too);
* ``X12_999_Response_005010X231A1`` (``Success`` at the envelope level) when the 270 fails validation
  against claimflow's maps: the 999 rejects the set (IK5*R, AK9*R) and names the segments;
* an envelope with no payload and CORE's ``ErrorCode`` (``PayloadTypeIncorrect``, ``VersionMismatch``,
  ``PayloadIDRequired`` …) and HTTP 400 when the envelope itself is wrong, ``UnAuthorized`` and 401
  when credentials are configured and missing or wrong (multipart ``UserName``/``Password`` fields or
  HTTP Basic; SOAP WS-Security ``UsernameToken``).

TLS only. The server certificate is self-signed (``cryptography``, EC P-256, SAN localhost/127.0.0.1/::1),
created on first start in ``<root>/.sandbox/core/`` (key 0600) and reused; clients pin its SHA-256
fingerprint (``CLAIMFLOW_CORE_CERT_SHA256``), which is logged and printed at start.

Run it with ``claimflow sandbox serve --core-port P`` next to the SFTP server, or alone (tests, demos)::

    python -m claimflow.sandbox.core_server --root ./sandbox --port 8443

Nothing about a member is logged: a line names the PayloadID (a UUID), the answer type and the time taken.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import http.server
import ipaddress
import logging
import os
import ssl
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from claimflow.inquiries.core_envelope import (
    MAX_ENVELOPE_BYTES,
    PAYLOAD_271,
    PAYLOAD_999,
    CoreEnvelope,
    CoreEnvelopeError,
    check_request,
    decode,
    encode,
    form_of,
)

log = logging.getLogger(__name__)

PATH = "/core/realtime"
CORE_DIR = "core"  # under <root>/.sandbox/
CERT_NAME = "core-server.crt"
KEY_NAME = "core-server.key"
DEFAULT_CORE_PORT = 8443


# ------------------------------------------------------------------------------------------- certificate


def fingerprint_of(der: bytes) -> str:
    """SHA-256 of a DER certificate, lowercase hex without separators (what clients pin)."""
    return hashlib.sha256(der).hexdigest()


def ensure_certificate(folder: Path, *, days: int = 825) -> tuple[Path, Path, str]:
    """(certificate, key, SHA-256 fingerprint): created on first use, reused afterwards.

    The key is written 0600 before any byte of it lands on disk (``O_EXCL``, then renamed into place)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    cert_path, key_path = folder / CERT_NAME, folder / KEY_NAME
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        return cert_path, key_path, fingerprint_of(cert.public_bytes(serialization.Encoding.DER))
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "claimflow sandbox CORE endpoint")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    for path, data, mode in (
        (key_path, key_pem, 0o600),
        (cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644),
    ):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    return cert_path, key_path, fingerprint_of(cert.public_bytes(serialization.Encoding.DER))


# ------------------------------------------------------------------------------------------- the answer


def _segments(x12: str) -> list[list[str]]:
    from edi.reader import iter_segments

    return [el for _n, el in iter_segments(x12.encode("latin-1", errors="replace"), log_padding=False)]


def write_999_for_270(x12: str, errors: Sequence[Any], *, isa13: int, gs06: int, created: dt.datetime) -> str:
    """A 999 rejecting the 270's transaction set: one IK3 per segment in error (position counted from ST),
    IK5*R*5, AK9*R. Addressed back to the sender; no element values are echoed."""
    from edi.claim import InterchangeParties
    from edi.envelope import EnvelopeWriter

    segs = _segments(x12)
    isa = next((el for el in segs if el[0] == "ISA"), None)
    gs = next((el for el in segs if el[0] == "GS"), None)
    st_index = next((i for i, el in enumerate(segs) if el[0] == "ST"), None)
    parties = InterchangeParties(
        sender_qualifier=(isa[7].strip() if isa and len(isa) > 8 else "ZZ") or "ZZ",
        sender_id=(isa[8].strip() if isa and len(isa) > 8 else "SANDBOXCH") or "SANDBOXCH",
        receiver_qualifier=(isa[5].strip() if isa and len(isa) > 6 else "ZZ") or "ZZ",
        receiver_id=(isa[6].strip() if isa and len(isa) > 6 else "UNKNOWN") or "UNKNOWN",
        usage=(isa[15].strip() if isa and len(isa) > 15 else "T") or "T",
    )
    gs06_in = gs[6] if gs and len(gs) > 6 and gs[6].isdigit() else "0"
    st02 = segs[st_index][2] if st_index is not None and len(segs[st_index]) > 2 else "0001"
    body = [f"AK1*HS*{gs06_in}*005010X279A1", f"AK2*270*{st02}*005010X279A1"]
    seen: set[tuple[int, str]] = set()
    for e in errors:
        if (
            e.segment_no is None
            or st_index is None
            or e.segment_id in (None, "ISA", "GS", "ST", "SE", "GE", "IEA")
        ):
            continue
        position = e.segment_no - st_index  # ST = 1 (segment_no counts from ISA = 1)
        if position < 2 or (position, e.segment_id) in seen:
            continue
        seen.add((position, e.segment_id))
        body.append(f"IK3*{e.segment_id}*{position}**8")
    body += ["IK5*R*5", "AK9*R*1*1*0"]
    w = EnvelopeWriter(parties, isa13, created)
    w.begin_group("FA", "005010X231A1", gs06)
    w.begin_transaction("999", 1, "005010X231A1")
    w.add("".join(s + "~" for s in body), len(body))
    w.end_transaction()
    w.end_group()
    w.end_interchange()
    return w.text()


class Answerer:
    """Validates a 270 and answers it from the sandbox payer's state (one at a time: the state file is
    locked while it is read and its counters move)."""

    def __init__(
        self, root: Path, seed: int, state_path: Path | None = None, run_date: dt.date | None = None
    ) -> None:
        from claimflow.sandbox.payer import default_state_path

        self.root = Path(root)
        self.seed = seed
        self.state_path = Path(state_path) if state_path else default_state_path(self.root)
        self.run_date = run_date
        self.work = self.root / ".sandbox" / CORE_DIR / "work"

    def answer(self, x12: str) -> tuple[str, str]:
        """(payload type, X12 text) for one 270: a 271, or a 999 when it fails validation. A payload that
        is not X12 at all, or holds another transaction, raises :class:`CoreEnvelopeError`."""
        from claimflow.sandbox.payer.inquiries import answer_270
        from claimflow.sandbox.payer.state import StateControlNumbers, locked_state
        from edi.validate import validate_x12

        kind = self._kind(x12)
        if kind is None:
            raise CoreEnvelopeError(
                "PayloadIllegal", "the payload is not an X12 interchange with a transaction set"
            )
        if kind != "270":
            raise CoreEnvelopeError("PayloadTypeIncorrect", f"the payload holds a {kind[:3]}, not a 270")
        data = x12.encode("latin-1", errors="replace")
        report = validate_x12(data, engine="fast")
        run_date = self.run_date or dt.date.today()
        with locked_state(self.state_path, self.seed) as state:
            if not report.ok:
                ctl = StateControlNumbers(state)
                created = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
                errors = list(report.errors)
                return PAYLOAD_999, write_999_for_270(
                    x12, errors, isa13=ctl.next_interchange(), gs06=ctl.next_group(), created=created
                )
            # answer_270 reads a file: a private temporary one, gone when answered (the 270 is PHI)
            self.work.mkdir(parents=True, exist_ok=True)
            os.chmod(self.work, 0o700)
            fd, name = tempfile.mkstemp(prefix=".rt-", suffix=".270", dir=self.work)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                answer = answer_270(Path(name), state, seed=self.seed, run_date=run_date)
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(name)
        return PAYLOAD_271, answer.decode("ascii")

    @staticmethod
    def warm_up() -> None:
        """Validate a made-up 270 once, so the first real request does not pay pyx12's imports."""
        from edi.claim import InterchangeParties
        from edi.validate import validate_x12
        from edi.x270 import Inquiry, build_270

        day = dt.date(2026, 1, 1)
        sample = build_270(
            [Inquiry("CF0-0", "PAYER", "P0", "CLINIC", "1234567893", "A", "B", "M0", day, "U", day)],
            InterchangeParties("ZZ", "WARMUP", "ZZ", "SANDBOXCH"),
            interchange_control_number=1,
            group_control_number=1,
            transaction_control_number=1,
            created=dt.datetime(2026, 1, 1),
        )
        try:
            validate_x12(sample.encode("ascii"), engine="fast")
        except Exception:  # only a warm-up: the real request reports any problem
            log.debug("core: warm-up validation failed", exc_info=True)

    @staticmethod
    def _kind(x12: str) -> str | None:
        from edi.errors import X12Error

        try:
            for el in _segments(x12):
                if el[0] == "ST":
                    return el[1] if len(el) > 1 else None
        except X12Error:
            return None
        return None


# ------------------------------------------------------------------------------------------------ server


class CoreServer:
    """HTTPS server for ``POST /core/realtime`` on a background thread; ``port=0`` picks a free port.

    ``username``/``password`` (both or neither) require those credentials on every request."""

    def __init__(
        self,
        root: Path,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_CORE_PORT,
        seed: int = 42,
        state_path: Path | None = None,
        run_date: dt.date | None = None,
        username: str | None = None,
        password: str | None = None,
        receiver_id: str = "SANDBOXCH",
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both a CORE username and password, or neither")
        self.root = Path(root)
        self.host = host
        self._requested_port = port
        self.username = username
        self.password = password
        self.receiver_id = receiver_id
        self.answerer = Answerer(self.root, seed, state_path, run_date)
        self.cert_path, self.key_path, self.fingerprint = ensure_certificate(
            self.root / ".sandbox" / CORE_DIR
        )
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("CORE server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}{PATH}"

    def start(self) -> CoreServer:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert_path, self.key_path)
        handler = _handler_class(self)
        httpd = http.server.ThreadingHTTPServer((self.host, self._requested_port), handler)
        httpd.daemon_threads = True
        # the TLS handshake runs in the request's thread (first read), not in the accept loop
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="core-realtime", daemon=True)
        self._thread.start()
        threading.Thread(target=self.answerer.warm_up, name="core-warm-up", daemon=True).start()
        log.info("sandbox CORE endpoint on %s, certificate SHA-256 %s", self.url, self.fingerprint)
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> CoreServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -------------------------------------------------------------------------------- one request

    def authorized(self, env: CoreEnvelope, authorization: str | None) -> bool:
        if self.username is None or self.password is None:
            return True
        user, password = env.username, env.password
        if user is None and authorization and authorization.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(authorization[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
        ok_user = hmac.compare_digest((user or "").encode(), self.username.encode())
        ok_pw = hmac.compare_digest((password or "").encode(), self.password.encode())
        return ok_user and ok_pw

    def handle(self, content_type: str, body: bytes, authorization: str | None) -> tuple[int, str, bytes]:
        """(HTTP status, Content-Type, body) for one POST."""
        started = time.perf_counter()
        form = form_of(content_type) or "multipart"
        try:
            env, form = decode(content_type, body)
        except CoreEnvelopeError as exc:
            blank = CoreEnvelope(payload_type="", payload_id="", sender_id="", receiver_id=self.receiver_id)
            return self._error(blank, form, 400, exc.code, exc.message)
        if not self.authorized(env, authorization):
            log.warning("core: payload %s refused: bad or missing credentials", env.payload_id[:50])
            return self._error(env, form, 401, "UnAuthorized", "username/password not accepted")
        try:
            check_request(env)
        except CoreEnvelopeError as exc:
            log.info("core: payload %s refused: %s", env.payload_id[:50], exc.code)
            return self._error(env, form, 400, exc.code, exc.message)
        try:
            payload_type, answer = self.answerer.answer(env.payload)
        except CoreEnvelopeError as exc:
            log.info("core: payload %s refused: %s", env.payload_id[:50], exc.code)
            return self._error(env, form, 400, exc.code, exc.message)
        except Exception:
            log.exception("core: payload %s could not be answered", env.payload_id[:50])
            return self._error(env, form, 500, "ServerError", "the sandbox payer could not answer")
        ct, out = encode(env.response(payload_type, answer), form, response=True)
        log.info(
            "core: payload %s answered with %s in %.1f ms",
            env.payload_id[:50],
            "271" if payload_type == PAYLOAD_271 else "999",
            (time.perf_counter() - started) * 1000,
        )
        return 200, ct, out

    def _error(
        self, env: CoreEnvelope, form: str, status: int, code: str, message: str
    ) -> tuple[int, str, bytes]:
        ct, out = encode(env.response(env.payload_type or "", "", code, message), form, response=True)
        return status, ct, out


def _handler_class(server: CoreServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "claimflow-sandbox-core/1"
        sys_version = ""
        timeout = 15  # a slow or silent client cannot hold a thread for long
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("core: %s", format % args)

        def _send(
            self, status: int, content_type: str, body: bytes, extra: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _plain(self, status: int, text: str) -> None:
            self.close_connection = True
            self._send(status, "text/plain; charset=utf-8", (text + "\n").encode(), {"Connection": "close"})

        def do_GET(self) -> None:
            self._plain(405 if self.path == PATH else 404, "POST a CORE envelope to " + PATH)

        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != PATH:
                self._plain(404, "not found")
                return
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                self._plain(411, "Content-Length required")
                return
            if int(length) > MAX_ENVELOPE_BYTES:
                self._plain(413, f"envelope larger than {MAX_ENVELOPE_BYTES} bytes")
                return
            body = self.rfile.read(int(length))
            status, ct, out = server.handle(
                self.headers.get("Content-Type", ""), body, self.headers.get("Authorization")
            )
            extra = {"WWW-Authenticate": 'Basic realm="claimflow sandbox CORE"'} if status == 401 else None
            self._send(status, ct, out, extra)

    return Handler


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone: ``python -m claimflow.sandbox.core_server --root DIR [--port P] [--host H] [--seed N]``."""
    p = argparse.ArgumentParser(prog="claimflow-sandbox-core", description=__doc__.split("\n", 1)[0])
    p.add_argument("--root", required=True, type=Path, help="sandbox root (key folder and payer state)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--port", type=int, default=DEFAULT_CORE_PORT, help=f"default {DEFAULT_CORE_PORT}; 0 = any"
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--username", default=os.environ.get("CLAIMFLOW_CORE_USERNAME"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    password = os.environ.get("CLAIMFLOW_CORE_PASSWORD") if args.username else None
    try:
        server = CoreServer(
            args.root,
            host=args.host,
            port=args.port,
            seed=args.seed,
            username=args.username,
            password=password,
        ).start()
    except (OSError, ValueError) as exc:
        print(f"claimflow sandbox core: {exc}")
        return 1
    print(f"export CLAIMFLOW_CORE_URL='{server.url}'")
    print(f"export CLAIMFLOW_CORE_CERT_SHA256='{server.fingerprint}'", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
