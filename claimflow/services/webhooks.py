"""Payment-processor webhooks: ``POST /webhooks/payments`` (Stripe's event shape and signature).

Why stdlib ``http.server`` (a thread per request): one small endpoint, no new dependency, and the
database — not the web server — is what makes delivery safe: ``payment_events.event_id`` is unique and
:func:`adjudication.statements.apply_payment_event` stores and applies an event in one transaction.

Verification (before anything is parsed or stored): header ``Stripe-Signature: t=<unix time>,v1=<hex>``
where ``v1 = HMAC-SHA256(secret, "{t}.{raw body}")``; several ``v1`` values are allowed (secret
rotation). The secret comes from ``CLAIMFLOW_WEBHOOK_SECRET``. A missing/bad signature or a timestamp
more than :data:`TOLERANCE` seconds from now → 400 and nothing stored. A valid event → 200
``{"received": true, "applied": <bool>}`` (a replay is 200 with ``applied: false``). Logs name the event
id and outcome only — never the body (it may carry PHI in metadata).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import Engine

from adjudication.errors import AdjudicationError
from adjudication.statements import apply_payment_event
from claimflow.errors import ClaimflowError

log = logging.getLogger("claimflow.services.webhooks")

PATH = "/webhooks/payments"
TOLERANCE = 300
MAX_BODY = 256 * 1024
SECRET_ENV = "CLAIMFLOW_WEBHOOK_SECRET"


class WebhookConfigError(ClaimflowError):
    """The webhook server cannot start (no secret configured)."""


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Stripe-Signature`` header value for ``body`` at ``timestamp`` (tests and tools)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(
    secret: str, body: bytes, header: str | None, *, now: float | None = None, tolerance: int = TOLERANCE
) -> bool:
    if not header:
        return False
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        k, _, v = item.strip().partition("=")
        parts.setdefault(k, []).append(v)
    try:
        t = int(parts.get("t", [""])[0])
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, sig) for sig in parts.get("v1", []))


def make_server(engine: Engine, secret: str, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A ready (not yet serving) server; ``server.server_address`` has the bound port."""
    if not secret:
        raise WebhookConfigError(f"set {SECRET_ENV} to the processor's webhook signing secret")

    class Handler(BaseHTTPRequestHandler):
        server_version = "claimflow-webhooks"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            return  # the access log would carry client details; outcomes are logged below

        def _reply(self, code: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._reply(404 if self.path != "/healthz" else 200, {"ok": self.path == "/healthz"})

        def do_POST(self) -> None:
            if self.path != PATH:
                self._reply(404, {"error": "not found"})
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY:
                self._reply(400, {"error": "bad length"})
                return
            body = self.rfile.read(length)
            if not verify(secret, body, self.headers.get("Stripe-Signature")):
                log.warning("webhook refused: bad signature or stale timestamp")
                self._reply(400, {"error": "signature"})
                return
            try:
                event = json.loads(body)
                if not isinstance(event, dict):
                    raise ValueError
            except ValueError:
                self._reply(400, {"error": "not a JSON object"})
                return
            try:
                result = apply_payment_event(engine, event)
            except AdjudicationError as exc:
                log.warning("webhook event refused: %s", exc)
                self._reply(400, {"error": "event"})
                return
            except Exception:
                log.exception("webhook event failed (processor will retry)")
                self._reply(500, {"error": "retry"})
                return
            log.info("webhook event %s: %s", result["event_id"][:64], result["outcome"])
            self._reply(200, {"received": True, "applied": result["applied"]})

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def serve(engine: Engine, *, host: str, port: int) -> None:
    server = make_server(engine, os.environ.get(SECRET_ENV, ""), host, port)
    log.info("payment webhooks on http://%s:%d%s", host, server.server_address[1], PATH)
    try:
        server.serve_forever()
    finally:
        server.server_close()
