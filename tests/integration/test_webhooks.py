"""POST /webhooks/payments over real HTTP (a server on 127.0.0.1, ephemeral port), SQLite and PostgreSQL:
signature and timestamp checks, exactly-once application under concurrent replays, refunds, failures."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from adjudication.posting import post_remittances
from adjudication.statements import patient_balances
from claimflow.db import models as m
from claimflow.services.webhooks import PATH, make_server, sign
from claimflow.statements import run_statements
from tests.unit.adjudication.builders import D, Line, Pay, Practice

SECRET = "whsec_test_only"


@pytest.fixture
def setup(engine: Engine, tmp_path: Path) -> Iterator[tuple[Engine, int, int, str]]:
    pr = Practice(engine)
    pid = pr.patient("A0000042")
    c = pr.claim(pid, [("99213", D("200.00"))], service_date=dt.date(2026, 11, 1))
    _lid, lcn, proc, charge = c.lines[0]
    adj = [("CO", "45", D("50.00")), ("PR", "1", D("40.00"))]
    pr.remittance(
        [Pay(pcn=c.pcn, lines=[Line(proc, charge, D("110.00"), adj, lcn)])],
        payment_date=dt.date(2026, 11, 20),
    )
    post_remittances(engine, actor="test", as_of=dt.date(2026, 11, 20))
    run_statements(engine, run_date=dt.date(2026, 12, 1), out=tmp_path / "st", actor="test")
    with engine.connect() as conn:
        sid = conn.execute(select(m.Statement.statement_id)).scalar_one()
    server = make_server(engine, SECRET, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield engine, server.server_address[1], pid, sid
    finally:
        server.shutdown()
        server.server_close()


def _post(port: int, body: bytes, header: str | None) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    conn.request("POST", PATH, body=body, headers=headers)
    resp = conn.getresponse()
    data = json.loads(resp.read() or b"{}")
    conn.close()
    return resp.status, data


def _body(evt: str, kind: str, cents: int, sid: str, obj: str = "pi_1") -> bytes:
    return json.dumps(
        {
            "id": evt,
            "type": kind,
            "created": int(time.time()),
            "data": {
                "object": {"id": obj, "amount": cents, "currency": "usd", "metadata": {"statement_id": sid}}
            },
        }
    ).encode()


def _count(engine: Engine, model: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def test_signature_and_staleness_refused(setup: tuple[Engine, int, int, str]) -> None:
    engine, port, _pid, sid = setup
    body = _body("evt_bad", "payment_intent.succeeded", 1000, sid)
    now = int(time.time())
    assert _post(port, body, None)[0] == 400
    assert _post(port, body, sign("wrong-secret", body, now))[0] == 400
    assert _post(port, body, sign(SECRET, body, now - 301))[0] == 400  # stale
    assert _post(port, body, sign(SECRET, body, now + 400))[0] == 400  # from the future
    tampered = body.replace(b"1000", b"9000")
    assert _post(port, tampered, sign(SECRET, body, now))[0] == 400
    assert _count(engine, m.PaymentEvent) == 0 and _count(engine, m.PatientPayment) == 0


def test_concurrent_replays_apply_once(setup: tuple[Engine, int, int, str]) -> None:
    engine, port, pid, sid = setup
    body = _body("evt_pay_1", "payment_intent.succeeded", 2500, sid)
    header = sign(SECRET, body, int(time.time()))
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: _post(port, body, header), range(8)))
    assert all(status == 200 for status, _ in results)
    assert sum(1 for _, data in results if data["applied"]) == 1
    assert _count(engine, m.PaymentEvent) == 1 and _count(engine, m.PatientPayment) == 1
    with engine.connect() as conn:
        assert patient_balances(conn, [pid])[pid] == D("15.00")
    # a later replay: 200, nothing changes
    assert _post(port, body, sign(SECRET, body, int(time.time()))) == (
        200,
        {"received": True, "applied": False},
    )
    with engine.connect() as conn:
        assert patient_balances(conn, [pid])[pid] == D("15.00")


def test_failure_and_refund_events(setup: tuple[Engine, int, int, str]) -> None:
    engine, port, pid, sid = setup
    pay = _body("evt_a", "payment_intent.succeeded", 4000, sid)
    assert _post(port, pay, sign(SECRET, pay, int(time.time())))[0] == 200
    fail = _body("evt_b", "payment_intent.payment_failed", 4000, sid, "pi_2")
    assert _post(port, fail, sign(SECRET, fail, int(time.time())))[0] == 200
    with engine.connect() as conn:
        assert patient_balances(conn, [pid])[pid] == D("0.00")
    refund = _body("evt_c", "charge.refunded", 1500, sid, "ch_1")
    assert _post(port, refund, sign(SECRET, refund, int(time.time()))) == (
        200,
        {"received": True, "applied": True},
    )
    with engine.connect() as conn:
        assert patient_balances(conn, [pid])[pid] == D("15.00")
        outcomes = dict(conn.execute(select(m.PaymentEvent.event_id, m.PaymentEvent.outcome)).tuples().all())
    assert outcomes == {"evt_a": "posted", "evt_b": "failed", "evt_c": "refunded"}
    not_json = b"[1, 2]"
    assert _post(port, not_json, sign(SECRET, not_json, int(time.time())))[0] == 400
