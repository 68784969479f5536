"""Simulated patients: who pays a statement, who pays part, who joins a plan, who waits, who never pays.

Why: the run report's patient collection rate and dunning recovery by stage (``adjudication.patient_kpis``)
mean nothing on a sandbox where nobody ever pays. :func:`simulate_patients` takes the statements sent on
one run date (the ``statements`` table, or the ``statements.csv`` manifest the run wrote) and lets each
patient answer the way a seeded behaviour model says, through the real doors:

* a **payment** is a Stripe-shaped ``payment_intent.succeeded`` event, signed exactly as
  :func:`claimflow.services.webhooks.verify` checks it (``Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "{t}.{body}")``)
  and POSTed over HTTP to the webhook server (:func:`claimflow.services.webhooks.make_server`) this module starts on
  127.0.0.1 (ephemeral port) — or to ``webhook_url`` when one is given;
* some attempts fail first (``payment_intent.payment_failed``; part of them are retried and succeed), a few
  payments are given back (``charge.refunded``);
* a **payment plan** is created with :func:`adjudication.statements.create_plan`, the function
  ``claimflow plan create`` calls, and its first installment is paid at once; on later ``payment_plan``
  statements the installment due is paid, except by the share of plan patients who default (their plan
  turns delinquent and dunning resumes).

Behaviours (shares configurable in :class:`Behaviour`): ``pay_full`` (pays the amount due),
``pay_part`` (pays 25–75 % of it), ``plan``, ``after_reminder`` (pays in full from the second statement of
an episode on), ``after_final_notice`` (from the third), ``never``. A patient's behaviour is drawn from
``(seed, patient id)`` only, so the same patient behaves the same way on every run and the same seed on
the same practice gives the same numbers; what happens on one run date (delay, failure, refund) is drawn
from ``(seed, patient id, run date)``. No float anywhere: shares are Decimal, draws integers, money
integer cents. Nothing logged or raised names a patient: statement ids, patient ids and counts only.
"""

from __future__ import annotations

import csv
import datetime as dt
import http.client
import json
import logging
import os
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, func, select

from adjudication.statements import COLLECTIONS, PLAN_STAGE, PatientBillingError, create_plan
from claimflow.db import models as m
from claimflow.errors import ClaimflowError

log = logging.getLogger("claimflow.sandbox.patients")

BEHAVIOURS = ("pay_full", "pay_part", "plan", "after_reminder", "after_final_notice", "never")
BASIS = 10_000  # draws are integers in [0, BASIS): shares are compared in basis points


class PatientSimulationError(ClaimflowError):
    """The simulation cannot run (shares that do not add up, a manifest naming an unknown statement, a
    webhook that refuses the events). Messages name files, line numbers and counts, never values."""

    exit_code = 2


def _bp(share: Decimal) -> int:
    return int((Decimal(share) * BASIS).to_integral_value())


@dataclass(frozen=True)
class Behaviour:
    """How simulated patients answer statements. Shares of patients (must add up to 1); rates per event."""

    pay_full: Decimal = Decimal("0.30")
    pay_part: Decimal = Decimal("0.15")
    plan: Decimal = Decimal("0.15")
    after_reminder: Decimal = Decimal("0.10")
    after_final_notice: Decimal = Decimal("0.05")
    never: Decimal = Decimal("0.25")
    #: share of payment attempts that fail first; of those, the share retried successfully the same day
    failure_rate: Decimal = Decimal("0.10")
    retry_after_failure: Decimal = Decimal("0.50")
    #: share of successful payments refunded in full (charge.refunded)
    refund_rate: Decimal = Decimal("0.05")
    #: share of plan patients who stop paying after the first installment
    plan_default_rate: Decimal = Decimal("0.20")
    part_percent: tuple[int, int] = (25, 75)
    installments: tuple[int, int] = (3, 6)
    #: payments arrive 0..max_delay_days days after the statement date
    max_delay_days: int = 0

    def check(self) -> None:
        shares = [getattr(self, b) for b in BEHAVIOURS]
        rates = (self.failure_rate, self.retry_after_failure, self.refund_rate, self.plan_default_rate)
        if any(Decimal(s) < 0 or Decimal(s) > 1 for s in (*shares, *rates)):
            raise PatientSimulationError("behaviour shares and rates must be between 0 and 1")
        if sum((Decimal(s) for s in shares), Decimal(0)) != 1:
            raise PatientSimulationError("behaviour shares must add up to 1")
        lo, hi = self.part_percent
        n1, n2 = self.installments
        if not (1 <= lo <= hi <= 99 and 1 <= n1 <= n2 <= 120 and self.max_delay_days >= 0):
            raise PatientSimulationError(
                "part_percent must be within 1..99, installments within 1..120 and max_delay_days >= 0"
            )


@dataclass
class _Statement:
    statement_id: str
    patient_id: int
    account_number: str  # PHI-adjacent (the MRN): only ever passed to create_plan, never logged
    run_date: dt.date
    cycle: int
    stage: str
    amount_due: Decimal


@dataclass
class SimulationResult:
    run_date: dt.date
    seed: int
    statements: int = 0
    behaviours: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)  # sent, applied, replayed, refused, <outcome>
    paid_cents: int = 0
    refunded_cents: int = 0
    plans_created: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_date": self.run_date.isoformat(),
            "seed": self.seed,
            "statements": self.statements,
            "behaviours": {b: int(self.behaviours.get(b, 0)) for b in BEHAVIOURS},
            "events": dict(sorted(self.events.items())),
            "paid": f"{Decimal(self.paid_cents) / 100:.2f}",
            "refunded": f"{Decimal(self.refunded_cents) / 100:.2f}",
            "plans_created": self.plans_created,
        }


def behaviour_of(seed: int, patient_id: int, shares: Behaviour) -> str:
    """The patient's behaviour: a pure function of (seed, patient id) and the shares."""
    draw = random.Random(f"claimflow-patients:{seed}:{patient_id}").randrange(BASIS)
    edge = 0
    for b in BEHAVIOURS:
        edge += _bp(getattr(shares, b))
        if draw < edge:
            return b
    return "never"


def _defaults_on_plan(seed: int, patient_id: int, shares: Behaviour) -> bool:
    return random.Random(f"claimflow-patients:plan:{seed}:{patient_id}").randrange(BASIS) < _bp(
        shares.plan_default_rate
    )


# --------------------------------------------------------------------------------------------------
# which statements
# --------------------------------------------------------------------------------------------------


def _statements(engine: Engine, run_date: dt.date, manifest: Path | None) -> list[_Statement]:
    cols = (
        m.Statement.statement_id,
        m.Statement.patient_id,
        m.Patient.account_number,
        m.Statement.run_date,
        m.Statement.cycle,
        m.Statement.stage,
        m.Statement.amount_due,
    )
    base = select(*cols).join(m.Patient, m.Patient.id == m.Statement.patient_id)
    with engine.connect() as conn:
        if manifest is None:
            rows = (
                conn.execute(
                    base.where(m.Statement.run_date == run_date, m.Statement.stage != COLLECTIONS).order_by(
                        m.Statement.patient_id
                    )
                )
                .tuples()
                .all()
            )
            return [_Statement(*r) for r in rows]
        ids = _manifest_ids(Path(manifest))
        found = {
            r[0]: _Statement(*r)
            for r in conn.execute(base.where(m.Statement.statement_id.in_(ids or ["-"]))).tuples().all()
        }
    missing = [i for i, sid in enumerate(ids, start=2) if sid not in found]
    if missing:
        raise PatientSimulationError(
            f"{Path(manifest).name}: line(s) {', '.join(map(str, missing[:10]))} name "
            "a statement that is not in the statements table"
        )
    return sorted((found[sid] for sid in ids), key=lambda s: s.patient_id)


def _manifest_ids(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if "statement_id" not in (reader.fieldnames or []):
                raise PatientSimulationError(f"{path.name}: no statement_id column")
            return [row["statement_id"].strip() for row in reader if (row.get("statement_id") or "").strip()]
    except OSError as exc:
        raise PatientSimulationError(f"{path.name}: cannot read ({exc.strerror})") from None


# --------------------------------------------------------------------------------------------------
# events and their delivery
# --------------------------------------------------------------------------------------------------


def _event(event_id: str, etype: str, obj: dict[str, Any], day: dt.date) -> dict[str, Any]:
    created = int(dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC).timestamp())
    return {
        "id": event_id,
        "object": "event",
        "type": etype,
        "created": created,
        "livemode": False,
        "data": {"object": obj},
    }


def _intent(intent_id: str, cents: int, statement_id: str, *, succeeded: bool) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": cents,
        "currency": "usd",
        "status": "succeeded" if succeeded else "requires_payment_method",
        "metadata": {"statement_id": statement_id},
    }
    if succeeded:
        obj["amount_received"] = cents
    return obj


def _charge_refunded(intent_id: str, cents: int, statement_id: str) -> dict[str, Any]:
    return {
        "id": "ch_" + intent_id[3:],
        "object": "charge",
        "payment_intent": intent_id,
        "amount": cents,
        "amount_refunded": cents,
        "refunded": True,
        "currency": "usd",
        "metadata": {"statement_id": statement_id},
    }


class _Sender:
    """POSTs signed events to a webhook URL; a 5xx or a dropped connection is retried (same event id, so a
    retry that did land is a harmless replay)."""

    def __init__(self, engine: Engine, url: str, secret: str) -> None:
        from claimflow.services.webhooks import PATH

        self.engine = engine
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise PatientSimulationError("webhook_url must be http://host:port[/path]")
        self.host, self.port = parts.hostname, parts.port or 80
        self.path = parts.path if parts.path not in ("", "/") else PATH
        self.secret = secret

    def post(self, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        from claimflow.services.webhooks import sign

        body = json.dumps(event, separators=(",", ":")).encode()
        status, data = 0, {}
        for attempt in range(4):
            header = sign(self.secret, body, int(time.time()))  # t=…,v1=HMAC-SHA256(secret, "{t}.{body}")
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                try:
                    conn.request(
                        "POST",
                        self.path,
                        body=body,
                        headers={"Content-Type": "application/json", "Stripe-Signature": header},
                    )
                    resp = conn.getresponse()
                    status, raw = resp.status, resp.read()
                finally:
                    conn.close()
                data = json.loads(raw or b"{}")
            except (OSError, ValueError):
                status, data = 0, {}
            if 200 <= status < 500 and status != 0:
                return status, data
            time.sleep(0.2 * (attempt + 1))
        return status, data


@contextmanager
def webhook_server(engine: Engine, secret: str) -> Iterator[str]:
    """The real webhook server (``claimflow.services.webhooks.make_server``) on 127.0.0.1, an ephemeral port, in a
    thread; yields its URL and stops it afterwards."""
    from claimflow.services.webhooks import PATH, make_server

    server = make_server(engine, secret, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, name="sim-webhooks", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{PATH}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --------------------------------------------------------------------------------------------------
# the simulation
# --------------------------------------------------------------------------------------------------


def _cents(amount: Decimal) -> int:
    return int((Decimal(amount) * 100).to_integral_value())


def simulate_patients(
    engine: Engine,
    run_date: dt.date,
    *,
    seed: int,
    shares: Behaviour | None = None,
    manifest: Path | None = None,
    webhook_url: str | None = None,
    secret: str | None = None,
    actor: str = "sandbox:patients",
) -> SimulationResult:
    """Let the patients of ``run_date``'s statements answer them (see the module docstring).

    Events go over HTTP: to ``webhook_url`` (signed with ``secret``, else ``CLAIMFLOW_WEBHOOK_SECRET``) or, by
    default, to a webhook server started here for the duration (secret: the given one, else the environment's,
    else a fresh random one handed to that server). Returns counts and amounts (no PHI)."""
    shares = shares or Behaviour()
    shares.check()
    statements = _statements(engine, run_date, manifest)
    secret = secret or os.environ.get("CLAIMFLOW_WEBHOOK_SECRET") or ""
    result = SimulationResult(run_date=run_date, seed=seed, statements=len(statements))
    if webhook_url is not None:
        if not secret:
            raise PatientSimulationError(
                "an external webhook_url needs its signing secret (secret= or CLAIMFLOW_WEBHOOK_SECRET)"
            )
        _run(engine, statements, _Sender(engine, webhook_url, secret), shares, result, actor)
    else:
        secret = secret or "whsec_sim_" + secrets.token_hex(24)
        with webhook_server(engine, secret) as url:
            _run(engine, statements, _Sender(engine, url, secret), shares, result, actor)
    log.info(
        "simulated patients %s: %d statements, events %s, %d plan(s) created",
        run_date.isoformat(),
        result.statements,
        dict(result.events),
        result.plans_created,
    )
    if result.events.get("refused"):
        raise PatientSimulationError(
            f"the webhook refused {result.events['refused']} event(s): check the secret"
        )
    return result


def _run(
    engine: Engine,
    statements: list[_Statement],
    sender: _Sender,
    shares: Behaviour,
    result: SimulationResult,
    actor: str,
) -> None:
    seed = result.seed
    for s in statements:
        kind = behaviour_of(seed, s.patient_id, shares)
        result.behaviours[kind] += 1
        rng = random.Random(f"claimflow-patients:{seed}:{s.patient_id}:{s.run_date.isoformat()}")
        delay = rng.randint(0, shares.max_delay_days)
        day = s.run_date + dt.timedelta(days=delay)
        due = _cents(s.amount_due)
        pay = 0
        if due <= 0:
            continue
        if s.stage == PLAN_STAGE:
            if kind == "plan" and not _defaults_on_plan(seed, s.patient_id, shares):
                pay = due
        elif (
            kind == "pay_full"
            or (kind == "after_reminder" and s.cycle >= 2)
            or (kind == "after_final_notice" and s.cycle >= 3)
        ):
            pay = due
        elif kind == "pay_part":
            lo, hi = shares.part_percent
            pay = max(1, due * rng.randint(lo, hi) // 100)
        elif kind == "plan":
            n = rng.randint(*shares.installments)
            try:
                created = create_plan(
                    engine,
                    account_number=s.account_number,
                    amount=Decimal(due) / 100,
                    installments=n,
                    day=min(day.day, 28),
                    start=day,
                    actor=actor,
                )
            except PatientBillingError:
                created = None  # already on a (delinquent) plan: a defaulter does not pay
            if created is not None:
                result.plans_created += 1
                pay = _cents(Decimal(created["installment_amount"]))
        if pay > 0:
            _pay(sender, s, pay, day, rng, shares, result)


def _pay(
    sender: _Sender,
    s: _Statement,
    cents: int,
    day: dt.date,
    rng: random.Random,
    shares: Behaviour,
    result: SimulationResult,
) -> None:
    base = f"sim_{s.statement_id}"
    attempt = 1
    if rng.randrange(BASIS) < _bp(shares.failure_rate):
        intent = f"pi_{base}_{attempt}"
        _send(
            sender,
            _event(
                f"evt_{base}_{attempt}_failed",
                "payment_intent.payment_failed",
                _intent(intent, cents, s.statement_id, succeeded=False),
                day,
            ),
            result,
        )
        if rng.randrange(BASIS) >= _bp(shares.retry_after_failure):
            return
        attempt += 1
    intent = f"pi_{base}_{attempt}"
    outcome = _send(
        sender,
        _event(
            f"evt_{base}_{attempt}_succeeded",
            "payment_intent.succeeded",
            _intent(intent, cents, s.statement_id, succeeded=True),
            day,
        ),
        result,
    )
    if outcome != "posted":
        return
    result.paid_cents += cents
    refund = rng.randrange(BASIS) < _bp(shares.refund_rate)
    if (
        refund
        and _send(
            sender,
            _event(
                f"evt_{base}_{attempt}_refunded",
                "charge.refunded",
                _charge_refunded(intent, cents, s.statement_id),
                day,
            ),
            result,
        )
        == "refunded"
    ):
        result.refunded_cents += cents


def _send(sender: _Sender, event: dict[str, Any], result: SimulationResult) -> str:
    """Deliver one event; returns the outcome the database recorded (or ``replay``/``refused``)."""
    status, data = sender.post(event)
    result.events["sent"] += 1
    if status != 200 or not data.get("received"):
        result.events["refused"] += 1
        return "refused"
    if not data.get("applied"):
        result.events["replayed"] += 1
        return "replay"
    result.events["applied"] += 1
    with sender.engine.connect() as conn:  # what the server recorded (its reply only says "applied")
        outcome = str(
            conn.execute(
                select(m.PaymentEvent.outcome).where(m.PaymentEvent.event_id == event["id"])
            ).scalar()
            or "unknown"
        )
    result.events[outcome] += 1
    return outcome


def online_summary(engine: Engine) -> dict[str, Any]:
    """The shape ``claimflow.statements.patient_night`` reports, recounted (e.g. after a simulation):
    ``{"patient_payments_online": {"events", "posted", "amount"}, "payment_plans": {"active", "delinquent",
    "completed"}}`` (money as a string)."""
    with engine.connect() as conn:
        events = (
            conn.execute(
                select(m.PaymentEvent.outcome, func.count(), func.sum(m.PaymentEvent.amount_cents)).group_by(
                    m.PaymentEvent.outcome
                )
            )
            .tuples()
            .all()
        )
        plans = dict(
            conn.execute(select(m.PaymentPlan.status, func.count()).group_by(m.PaymentPlan.status))
            .tuples()
            .all()
        )
    posted_cents = sum(int(c or 0) for o, _, c in events if o == "posted")
    return {
        "patient_payments_online": {
            "events": sum(int(n) for _, n, _ in events),
            "posted": sum(int(n) for o, n, _ in events if o == "posted"),
            "amount": f"{Decimal(posted_cents) / 100:.2f}",
        },
        "payment_plans": {k: int(plans.get(k, 0)) for k in ("active", "delinquent", "completed")},
    }
