"""Simulated patients (claimflow.sandbox.patients) on SQLite and PostgreSQL: payments arrive as signed
webhook events over real HTTP, the same seed gives the same numbers, dunning recovery by stage and the
collection rate (adjudication.patient_kpis) agree with what the simulator paid, the KPIs are stored and the
run report shows them."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from adjudication._sql import Sql
from adjudication.patient_kpis import patient_collections
from adjudication.posting import post_remittances
from adjudication.reconcile import reconcile
from adjudication.report import render_run_report
from claimflow.db import models as m
from claimflow.sandbox.patients import (
    Behaviour,
    PatientSimulationError,
    behaviour_of,
    simulate_patients,
    webhook_server,
)
from claimflow.statements import run_statements
from tests.support.databases import truncate_all
from tests.unit.adjudication.builders import D, Line, Pay, Practice

D1 = dt.date(2026, 12, 1)
PATIENTS = 24
CYCLES = 5  # first_statement, reminder, final_notice, pre_collection, then collections
SHARES = Behaviour(
    pay_full=D("0.25"),
    pay_part=D("0.15"),
    plan=D("0.20"),
    after_reminder=D("0.15"),
    after_final_notice=D("0.10"),
    never=D("0.15"),
    failure_rate=D("0.20"),
    retry_after_failure=D("0.50"),
    refund_rate=D("0.25"),
    plan_default_rate=D("0.30"),
    max_delay_days=10,
)


def _practice(engine: Engine) -> list[int]:
    """PATIENTS patients, each with one claim the payer paid leaving a different patient responsibility."""
    pr = Practice(engine)
    pays, pids = [], []
    for i in range(PATIENTS):
        pid = pr.patient(f"A{i:07d}")
        pids.append(pid)
        c = pr.claim(pid, [("99213", D("300.00"))], service_date=dt.date(2026, 10, 1) + dt.timedelta(days=i))
        _lid, lcn, proc, charge = c.lines[0]
        owed = D("20.00") + D(i * 7)
        pays.append(
            Pay(
                pcn=c.pcn,
                lines=[
                    Line(
                        proc, charge, D("200.00") - owed, [("CO", "45", D("100.00")), ("PR", "2", owed)], lcn
                    )
                ],
            )
        )
    pr.remittance(pays, payment_date=dt.date(2026, 11, 20))
    post_remittances(engine, actor="test", as_of=dt.date(2026, 11, 20))
    return pids


def _cycles(engine: Engine, tmp_path: Path, seed: int) -> dict[str, Any]:
    """Statements every 30 days, the patients answer each run; returns what the database then says."""
    results = []
    for k in range(CYCLES):
        day = D1 + dt.timedelta(days=30 * k)
        out = tmp_path / f"st-{seed}-{k}"
        run_statements(engine, run_date=day, out=out, actor="test")
        results.append(
            simulate_patients(
                engine, day, seed=seed, shares=SHARES, manifest=out / "statements.csv", actor="test"
            ).as_dict()
        )
    last = D1 + dt.timedelta(days=30 * (CYCLES - 1) + SHARES.max_delay_days)  # the last payments are in
    with engine.connect() as conn:
        pc = patient_collections(Sql(conn), last, window_days=200)
        events = sorted(
            conn.execute(
                select(
                    m.PaymentEvent.event_type,
                    m.PaymentEvent.outcome,
                    m.PaymentEvent.amount_cents,
                    m.PaymentEvent.patient_id,
                )
            )
            .tuples()
            .all()
        )
        plans = sorted(
            conn.execute(
                select(
                    m.PaymentPlan.patient_id,
                    m.PaymentPlan.total,
                    m.PaymentPlan.installments,
                    m.PaymentPlan.status,
                )
            )
            .tuples()
            .all()
        )
        stages = sorted(
            conn.execute(
                select(
                    m.Statement.patient_id, m.Statement.run_date, m.Statement.stage, m.Statement.amount_due
                )
            )
            .tuples()
            .all()
        )
    return {"runs": results, "events": events, "plans": plans, "stages": stages, "pc": pc}


def test_same_seed_same_numbers_and_measures(engine: Engine, tmp_path: Path) -> None:
    pids = _practice(engine)
    first = _cycles(engine, tmp_path, seed=7)
    pc = first["pc"]
    runs = first["runs"]
    # every behaviour shows up, and payments really went through the webhook
    kinds = {pid: behaviour_of(7, pid, SHARES) for pid in pids}
    assert set(kinds.values()) >= {"pay_full", "pay_part", "plan", "after_reminder", "never"}
    outcomes = {o for _t, o, _c, _p in first["events"]}
    assert {"posted", "failed", "refunded"} <= outcomes
    assert sum(r["events"].get("refused", 0) for r in runs) == 0
    assert sum(r["plans_created"] for r in runs) == len(first["plans"]) > 0
    # patients who never pay are handed to collections; after_reminder patients pay at the reminder
    stages = first["stages"]
    never = {pid for pid, k in kinds.items() if k == "never"}
    assert never and all(any(p == pid and st == "collections" for p, _d, st, _a in stages) for pid in never)
    late = {pid for pid, k in kinds.items() if k == "after_reminder"}
    for pid in late:
        assert [st for p, _d, st, _a in stages if p == pid][:2] == ["first_statement", "reminder"]
    # the simulator's totals are what the ledger holds (all cash here is online)
    paid = sum((D(r["paid"]) for r in runs), D("0.00"))
    refunded = sum((D(r["refunded"]) for r in runs), D("0.00"))
    assert pc.patient_cash == paid - refunded > 0
    assert pc.responsibility == sum((D("20.00") + D(i * 7) for i in range(PATIENTS)), D("0.00"))
    assert pc.collection_rate == (pc.patient_cash / pc.responsibility).quantize(D("0.000001"))
    # recovery by stage: nothing recovered from first statements of never/after_* patients; reminders recover
    first_st = pc.stage("first_statement")
    assert first_st.statements == sum(1 for _p, _d, st, _a in stages if st == "first_statement") >= PATIENTS
    assert first_st.amount_due == sum((a for _p, _d, st, a in stages if st == "first_statement"), D("0.00"))
    assert D(0) < first_st.recovered < first_st.amount_due
    assert pc.stage("reminder").recovered > 0 and pc.stage("collections").statements == len(never) + sum(
        1 for p, _d, st, _a in stages if st == "collections" and p not in never
    )
    # a second, identical practice with the same seed gives the same numbers; another seed does not
    truncate_all(engine)
    _practice(engine)
    again = _cycles(engine, tmp_path, seed=7)
    assert again["runs"] == runs
    assert again["events"] == first["events"] and again["plans"] == first["plans"]
    assert again["stages"] == stages
    assert again["pc"] == pc
    truncate_all(engine)
    _practice(engine)
    other = _cycles(engine, tmp_path, seed=8)
    assert other["events"] != first["events"]


def test_kpis_stored_and_report_section(engine: Engine, tmp_path: Path) -> None:
    _practice(engine)
    run_statements(engine, run_date=D1, out=tmp_path / "st", actor="test")
    res = simulate_patients(engine, D1, seed=3, shares=replace(SHARES, max_delay_days=0), actor="test")
    assert res.statements == PATIENTS and res.paid_cents > 0
    reconcile(engine, D1)
    with engine.connect() as conn:
        kpis = {
            k.name: k
            for k in conn.execute(
                select(m.Kpi.name, m.Kpi.numerator, m.Kpi.denominator, m.Kpi.value, m.Kpi.definition).where(
                    m.Kpi.run_date == D1
                )
            ).all()
        }
        pc = patient_collections(Sql(conn), D1)
    rate = kpis["patient_collection_rate"]
    assert rate.definition and rate.numerator == pc.patient_cash and rate.denominator == pc.responsibility
    assert Decimal(rate.value) == pc.collection_rate
    first = kpis["dunning_recovery_first_statement"]
    assert first.numerator == pc.stage("first_statement").recovered > 0
    assert first.denominator == pc.stage("first_statement").amount_due
    assert {"dunning_recovery_reminder", "dunning_recovery_payment_plan", "plan_delinquency_rate"} <= set(
        kpis
    )
    page = render_run_report(engine, D1, tmp_path / "report.html").read_text()
    section = page[page.index("<h2>Patient collections") :]
    assert "data-table='patient-dunning'" in section and "data-table='payment-plans'" in section
    assert f"{pc.collection_rate * 100:.1f}%" in section
    assert (
        "posted" in section
        and "first_statement" in section
        and f"${pc.stage('first_statement').recovered:,.2f}" in section
    )
    for phi in ("ZZTESTLAST", "ZZTESTFIRST", "A0000001"):
        assert phi not in section


def test_real_http_signature_and_shares(engine: Engine, tmp_path: Path) -> None:
    """The simulator's events are what the webhook accepts; an event signed with another secret is refused
    and nothing is stored; shares that do not add up are refused before anything is sent."""
    _practice(engine)
    run_statements(engine, run_date=D1, out=tmp_path / "st", actor="test")
    with pytest.raises(PatientSimulationError):
        simulate_patients(engine, D1, seed=1, shares=Behaviour(never=D("0.5")))
    with webhook_server(engine, "whsec_right") as url:
        with pytest.raises(PatientSimulationError, match="refused"):
            simulate_patients(
                engine,
                D1,
                seed=1,
                shares=Behaviour(
                    pay_full=D("1"),
                    pay_part=D("0"),
                    plan=D("0"),
                    after_reminder=D("0"),
                    after_final_notice=D("0"),
                    never=D("0"),
                    failure_rate=D("0"),
                ),
                webhook_url=url,
                secret="whsec_wrong",
            )
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(m.PaymentEvent)).scalar_one() == 0
        res = simulate_patients(
            engine,
            D1,
            seed=1,
            shares=Behaviour(
                pay_full=D("1"),
                pay_part=D("0"),
                plan=D("0"),
                after_reminder=D("0"),
                after_final_notice=D("0"),
                never=D("0"),
                failure_rate=D("0"),
                refund_rate=D("0"),
            ),
            webhook_url=url,
            secret="whsec_right",
        )
        assert res.events["posted"] == PATIENTS and res.events["applied"] == PATIENTS
        # a replay of one of them over HTTP: 200, not applied
        from claimflow.services.webhooks import sign

        with engine.connect() as conn:
            sid = conn.execute(select(m.Statement.statement_id).order_by(m.Statement.id)).scalars().first()
        body = json.dumps(
            {
                "id": f"evt_sim_{sid}_1_succeeded",
                "type": "payment_intent.succeeded",
                "created": int(time.time()),
                "data": {
                    "object": {
                        "id": "pi_x",
                        "amount": 100,
                        "currency": "usd",
                        "metadata": {"statement_id": sid},
                    }
                },
            }
        ).encode()
        host, port = url.split("//")[1].split("/")[0].split(":")
        conn_h = http.client.HTTPConnection(host, int(port), timeout=30)
        conn_h.request(
            "POST",
            "/webhooks/payments",
            body=body,
            headers={"Stripe-Signature": sign("whsec_right", body, int(time.time()))},
        )
        resp = conn_h.getresponse()
        assert resp.status == 200 and json.loads(resp.read()) == {"received": True, "applied": False}
        conn_h.close()
    with engine.connect() as conn:
        balances = conn.execute(select(func.count()).select_from(m.PatientPayment)).scalar_one()
    assert balances == PATIENTS


def test_demo_patient_side_pays_and_repeats(engine: Engine, tmp_path: Path) -> None:
    """The demo's night-3 patient side (claimflow.sandbox.demo._patient_side): statements, then the simulator, so the
    JSON line's patient_payments_online and payment_plans are not zero — and the same seed repeats them."""
    from claimflow.sandbox.demo import _patient_side

    _practice(engine)
    got = _patient_side(engine, D1, tmp_path / "a", lambda _msg: None, seed=11)
    assert got["statements_sent"] == PATIENTS
    assert got["patient_payments_online"] > 0 and got["payment_plans"] > 0
    with engine.connect() as conn:
        posted = conn.execute(
            select(func.count()).select_from(m.PaymentEvent).where(m.PaymentEvent.outcome == "posted")
        ).scalar_one()
        cents = conn.execute(
            select(func.sum(m.PaymentEvent.amount_cents)).where(m.PaymentEvent.outcome == "posted")
        ).scalar_one()
    assert got["patient_payments_online"] == posted
    truncate_all(engine)
    _practice(engine)
    assert _patient_side(engine, D1, tmp_path / "b", lambda _msg: None, seed=11) == got
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(func.sum(m.PaymentEvent.amount_cents)).where(m.PaymentEvent.outcome == "posted")
            ).scalar_one()
            == cents
        )
