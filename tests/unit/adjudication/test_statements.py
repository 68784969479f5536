"""Patient statements, dunning, payment plans, refunds and online payment events — on SQLite and PostgreSQL.

Each scenario builds claims and 835s with ``builders.Practice``, posts them, and checks what the
statement run records and writes (files, manifest, ledger, work items, audit)."""

from __future__ import annotations

import csv
import datetime as dt
import stat
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from adjudication.posting import post_remittances
from adjudication.statements import (
    DunningConfig,
    PatientBillingError,
    apply_payment_event,
    create_plan,
    find_refunds,
    issue_refund,
    patient_balances,
    plan_schedule,
    set_dispute,
)
from claimflow.db import models as m
from claimflow.statements import MANIFEST_COLUMNS, run_statements

from .builders import D, Line, Pay, Practice, balance, ledger

POSTED = dt.date(2026, 11, 20)
RUN = dt.date(2026, 12, 1)
PHI = ("ZZTESTLAST", "ZZTESTFIRST", "1 ZZTEST ST", "ZZMEMBER01", "1970-01-02")


DEDUCTIBLE = D("40.00")
COINSURANCE = D("12.50")


def _visit(
    pr: Practice,
    pid: int,
    *,
    deductible: Decimal = DEDUCTIBLE,
    coins: Decimal = COINSURANCE,
    day: dt.date = dt.date(2026, 11, 1),
) -> int:
    """One 99213 visit charged $200: CO-45 $50, PR-1 deductible, PR-2 coinsurance, payer pays the rest."""
    c = pr.claim(pid, [("99213", D("200.00"))], service_date=day)
    _lid, lcn, proc, charge = c.lines[0]
    adj = [("CO", "45", D("50.00")), ("PR", "1", deductible), ("PR", "2", coins)]
    pr.remittance(
        [Pay(pcn=c.pcn, lines=[Line(proc, charge, charge - sum((a for _, _, a in adj), D(0)), adj, lcn)])],
        payment_date=POSTED,
    )
    return c.id


def _setup(engine: Engine) -> tuple[Practice, int, int]:
    pr = Practice(engine)
    pid = pr.patient("A0000042")
    cid = _visit(pr, pid)
    post_remittances(engine, actor="test", as_of=POSTED)
    return pr, pid, cid


def _run(engine: Engine, out: Path, day: dt.date) -> dict[str, object]:
    return run_statements(engine, run_date=day, out=out, actor="test")


def _manifest(out: Path) -> list[dict[str, str]]:
    with (out / "statements.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_statement_files_manifest_and_lines(engine: Engine, tmp_path: Path) -> None:
    _, pid, cid = _setup(engine)
    out = tmp_path / "stmts"
    result = _run(engine, out, RUN)
    assert result["statements"] == 1 and result["amount_due"] == "52.50"
    rows = _manifest(out)
    assert list(rows[0]) == list(MANIFEST_COLUMNS)
    row = rows[0]
    assert row["amount_due"] == "52.50" and row["cycle"] == "1" and row["stage"] == "first_statement"
    assert row["due_date"] == (RUN + dt.timedelta(days=21)).isoformat()
    assert len(row["patient_key"]) == 32
    sid = row["statement_id"]
    # files named by the statement id only, private
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{sid}.pdf", f"{sid}.html", "statements.csv"])
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert (out / f"{sid}.pdf").read_bytes().startswith(b"%PDF-")
    html = (out / f"{sid}.html").read_text(encoding="utf-8")
    assert "Your plan applied $40.00 to your deductible" in html
    assert "Your plan&#x27;s coinsurance (your share) is $12.50" in html
    assert "$52.50" in html and "SAMPLE: office visit" in html and "<svg" in html  # QR code
    assert f"https://pay.example.invalid/s/{sid}" in html
    assert "ZZTESTLAST" in html  # the statement itself is addressed to the patient
    manifest_text = (out / "statements.csv").read_text()
    assert not any(p in manifest_text for p in PHI)
    with engine.connect() as conn:
        st = conn.execute(select(m.Statement)).one()
        assert (st.patient_id, st.stage, st.cycle, st.amount_due) == (pid, "first_statement", 1, D("52.50"))
        line = conn.execute(select(m.StatementLine)).one()
        assert (
            line.claim_id,
            line.charge,
            line.insurance_paid,
            line.insurance_adjusted,
            line.patient_owes,
        ) == (cid, D("200.00"), D("97.50"), D("50.00"), D("52.50"))
        assert "deductible" in (line.reasons or "")
    # the same night again: nothing new (a statement went out less than cycle_days ago)
    again = _run(engine, tmp_path / "again", RUN)
    assert again["statements"] == 0


def test_dunning_stages_then_collections(engine: Engine, tmp_path: Path) -> None:
    _, _pid, _ = _setup(engine)
    stages = []
    for i in range(5):
        day = RUN + dt.timedelta(days=30 * i)
        result = _run(engine, tmp_path / f"n{i}", day)
        rows = _manifest(tmp_path / f"n{i}")
        stages.append(
            (rows[0]["stage"], rows[0]["cycle"]) if rows else ("collections", result["collections"])
        )
    assert stages == [
        ("first_statement", "1"),
        ("reminder", "2"),
        ("final_notice", "3"),
        ("pre_collection", "4"),
        ("collections", 1),
    ]
    hand_off = (tmp_path / "n4" / "collections.csv").read_text()
    assert "A0000042" in hand_off and "52.50" in hand_off
    assert stat.S_IMODE((tmp_path / "n4" / "collections.csv").stat().st_mode) == 0o600
    with engine.connect() as conn:
        item = conn.execute(select(m.WorkItem).where(m.WorkItem.queue == "collections")).one()
        assert item.amount == D("52.50") and not any(p in item.reason for p in PHI)
    # once handed off, no more statements
    assert _run(engine, tmp_path / "n5", RUN + dt.timedelta(days=150))["statements"] == 0


def test_payment_restarts_dunning(engine: Engine, tmp_path: Path) -> None:
    _, pid, _ = _setup(engine)
    _run(engine, tmp_path / "a", RUN)
    _run(engine, tmp_path / "b", RUN + dt.timedelta(days=30))
    with engine.begin() as conn:
        conn.execute(
            m.PatientPayment.__table__.insert().values(
                external_id="PP-1", patient_id=pid, amount=D("20.00"), received_on=RUN + dt.timedelta(days=40)
            )
        )
        from adjudication.patient_payments import post_patient_payments

        post_patient_payments(conn)
    _run(engine, tmp_path / "c", RUN + dt.timedelta(days=60))
    row = _manifest(tmp_path / "c")[0]
    assert (row["stage"], row["cycle"], row["amount_due"]) == ("first_statement", "1", "32.50")
    assert "20.00" in (tmp_path / "c" / f"{row['statement_id']}.html").read_text()


def test_small_balance_written_off_and_dispute_not_dunned(engine: Engine, tmp_path: Path) -> None:
    pr = Practice(engine)
    small = pr.patient("A0000001")
    disputed = pr.patient("A0000002")
    small_claim = _visit(pr, small, deductible=D("0.00"), coins=D("3.00"))
    _visit(pr, disputed)
    post_remittances(engine, actor="test", as_of=POSTED)
    set_dispute(engine, disputed, True, actor="test")
    result = _run(engine, tmp_path / "out", RUN)
    assert result["statements"] == 0 and result["disputed"] == 1
    assert result["written_off"] == {"patients": 1, "claims": 1, "amount": "3.00"}
    assert balance(engine, "ar_patient", claim_id=small_claim) == D("0.00")
    assert (f"wo:{small_claim}:patient:{RUN}", "write_off", "write_off", D("3.00")) in ledger(
        engine, claim_id=small_claim
    )
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(m.AuditLog).where(m.AuditLog.action == "write_off")
            ).scalar_one()
            == 1
        )
    set_dispute(engine, disputed, False, actor="test")
    assert _run(engine, tmp_path / "out2", RUN)["statements"] == 1


def test_payment_plan_statement_then_delinquent(engine: Engine, tmp_path: Path) -> None:
    _, _pid, _ = _setup(engine)
    plan = create_plan(
        engine, account_number="A0000042", amount=D("52.50"), installments=3, day=5, start=RUN, actor="test"
    )
    assert plan["installment_amount"] == "17.50" and plan["first_due"] == "2026-12-05"
    with pytest.raises(PatientBillingError):
        create_plan(
            engine, account_number="A0000042", amount=D("10"), installments=1, day=5, start=RUN, actor="t"
        )
    with pytest.raises(PatientBillingError):
        create_plan(
            engine, account_number="NOPE", amount=D("10"), installments=1, day=5, start=RUN, actor="t"
        )
    _run(engine, tmp_path / "a", RUN)
    row = _manifest(tmp_path / "a")[0]
    assert (row["stage"], row["amount_due"], row["due_date"]) == ("payment_plan", "17.50", "2026-12-05")
    html = (tmp_path / "a" / f"{row['statement_id']}.html").read_text()
    assert "Your payment plan" in html and "3 payments of\n$17.50" in html
    # nothing paid; Dec 5 + 10 grace days has passed on Jan 1: delinquent, dunned again from stage 1
    _run(engine, tmp_path / "b", dt.date(2027, 1, 1))
    row = _manifest(tmp_path / "b")[0]
    assert (row["stage"], row["cycle"], row["amount_due"]) == ("first_statement", "1", "52.50")
    with engine.connect() as conn:
        assert conn.execute(select(m.PaymentPlan.status)).scalar_one() == "delinquent"


def test_plan_schedule_takes_cents_on_the_last_installment() -> None:
    sched = plan_schedule(D("100.00"), 3, dt.date(2026, 1, 31), 28)
    assert [a for _, a in sched] == [D("33.33"), D("33.33"), D("33.34")]
    assert [d.month for d, _ in sched] == [1, 2, 3]


def test_credit_balance_refund_and_no_negative_statement(engine: Engine, tmp_path: Path) -> None:
    _, pid, _cid = _setup(engine)
    with engine.begin() as conn:
        conn.execute(
            m.PatientPayment.__table__.insert().values(
                external_id="PP-9", patient_id=pid, amount=D("80.00"), received_on=POSTED
            )
        )
        from adjudication.patient_payments import post_patient_payments

        post_patient_payments(conn)
    with engine.connect() as conn:
        assert patient_balances(conn, [pid])[pid] == D("-27.50")
    assert _run(engine, tmp_path / "a", RUN)["statements"] == 0  # a credit is never billed
    found = find_refunds(engine, RUN, actor="test")
    assert found == {"refunds": 1, "amount": "27.50"}
    assert find_refunds(engine, RUN, actor="test")["refunds"] == 0  # idempotent
    with engine.connect() as conn:
        refund = conn.execute(select(m.Refund)).one()
        item = conn.execute(select(m.WorkItem).where(m.WorkItem.queue == "refunds")).one()
        assert (refund.payee, refund.amount, item.next_action, item.amount) == (
            "patient",
            D("27.50"),
            "refund",
            D("27.50"),
        )
    issued = issue_refund(engine, refund.id, as_of=RUN, actor="test")
    assert issued["txn_key"] == f"rfi:{refund.id}"
    assert balance(engine, "refunds_due", patient_id=pid) == D("0.00")
    with engine.connect() as conn:
        assert (
            conn.execute(select(m.WorkItem.status).where(m.WorkItem.id == item.id)).scalar_one() == "closed"
        )
    with pytest.raises(PatientBillingError):
        issue_refund(engine, refund.id, as_of=RUN, actor="test")


def test_payer_overpayment_becomes_refund(engine: Engine) -> None:
    pr = Practice(engine)
    pid = pr.patient("A0000042")
    c = pr.claim(pid, [("99213", D("100.00"))])
    _lid, lcn, proc, charge = c.lines[0]
    pay = Pay(pcn=c.pcn, lines=[Line(proc, charge, D("70.00"), [("CO", "45", D("30.00"))], lcn)])
    pr.remittance([pay], payment_date=POSTED)
    post_remittances(engine, actor="test", as_of=POSTED)
    with engine.begin() as conn:  # the payer paid twice on the claim (e.g. a duplicate check): -70 insurance
        from adjudication import ledger as L

        L.write_entries(
            conn,
            [
                L.Entry("test:dup", "payer_payment", "cash", D("70.00"), POSTED, claim_id=c.id),
                L.Entry("test:dup", "payer_payment", "ar_payer", D("-70.00"), POSTED, claim_id=c.id),
            ],
        )
    assert find_refunds(engine, RUN, actor="test") == {"refunds": 1, "amount": "70.00"}
    with engine.connect() as conn:
        refund = conn.execute(select(m.Refund)).one()
    assert refund.payee == "payer" and refund.claim_id == c.id
    issue_refund(engine, refund.id, as_of=RUN, actor="test")
    assert balance(engine, "ar_payer", claim_id=c.id) == D("0.00")


def _event(evt: str, kind: str, cents: int, sid: str | None, obj: str = "pi_1") -> dict[str, object]:
    return {
        "id": evt,
        "type": kind,
        "created": 1796083200,
        "data": {
            "object": {"id": obj, "amount": cents, "currency": "usd", "metadata": {"statement_id": sid}}
        },
    }


def test_payment_events_apply_once(engine: Engine, tmp_path: Path) -> None:
    _, pid, _cid = _setup(engine)
    _run(engine, tmp_path / "a", RUN)
    sid = _manifest(tmp_path / "a")[0]["statement_id"]
    assert (
        apply_payment_event(engine, _event("evt_1", "payment_intent.succeeded", 2500, sid))["applied"] is True
    )
    assert apply_payment_event(engine, _event("evt_1", "payment_intent.succeeded", 2500, sid)) == {
        "event_id": "evt_1",
        "applied": False,
        "outcome": "replay",
    }
    with engine.connect() as conn:
        assert patient_balances(conn, [pid])[pid] == D("27.50")
        pp = conn.execute(select(m.PatientPayment)).one()
        assert (pp.external_id, pp.amount, pp.method) == ("pi_1", D("25.00"), "online")
    failed = apply_payment_event(engine, _event("evt_2", "payment_intent.payment_failed", 2750, sid, "pi_2"))
    assert failed["outcome"] == "failed"
    refunded = apply_payment_event(engine, _event("evt_3", "charge.refunded", 1000, sid, "ch_1"))
    assert refunded["outcome"] == "refunded"
    with engine.connect() as conn:
        assert patient_balances(conn, [pid])[pid] == D("37.50")
        assert conn.execute(select(func.count()).select_from(m.PaymentEvent)).scalar_one() == 3
    assert (
        apply_payment_event(engine, _event("evt_4", "payment_intent.succeeded", 100, "ST-UNKNOWN"))["outcome"]
        == "unmatched"
    )
    from adjudication.statements import WebhookEventError

    with pytest.raises(WebhookEventError):
        apply_payment_event(
            engine, {"id": "evt_5", "type": "payment_intent.succeeded", "data": {"object": {}}}
        )


def test_sample_config_loads(tmp_path: Path) -> None:
    from claimflow.statements import StatementConfigError, load_config, load_descriptions

    brand, cfg = load_config()
    assert cfg == DunningConfig()
    assert brand.link("ST1") == "https://pay.example.invalid/s/ST1"
    assert all(v.startswith("SAMPLE") for v in load_descriptions().values())
    bad = tmp_path / "statement.toml"
    bad.write_text('[colours]\nprimary = "blue"\n')
    with pytest.raises(StatementConfigError):
        load_config(bad)


def test_analyst_views_carry_no_phi(engine: Engine, tmp_path: Path) -> None:
    from sqlalchemy import text

    from claimflow.services.analyst import view_name

    _, _pid, _ = _setup(engine)
    _run(engine, tmp_path / "a", RUN)
    create_plan(
        engine, account_number="A0000042", amount=D("52.50"), installments=2, day=5, start=RUN, actor="t"
    )
    find_refunds(engine, RUN, actor="test")
    seen = {}
    with engine.connect() as conn:
        for name in ("statements", "statement_lines", "payment_plans", "payment_events", "refunds"):
            result = conn.execute(text(f"SELECT * FROM {view_name(engine.dialect.name, name)}"))
            cols, rows = list(result.keys()), result.fetchall()
            assert "patient_id" not in cols and "account_number" not in cols
            assert not any(p in str(r) for r in rows for p in (*PHI, "A0000042"))
            seen[name] = (cols, len(rows))
    assert seen["statements"][1] == 1 and "patient_key" in seen["statements"][0]
    assert seen["statement_lines"][1] == 1 and seen["payment_plans"][1] == 1


def test_patient_night_summary(engine: Engine, tmp_path: Path) -> None:
    from claimflow.statements import patient_night

    _, _pid, _ = _setup(engine)
    night = patient_night(engine, run_date=RUN, out=tmp_path / "n", actor="test")
    assert night["statements_sent"] == 1 and night["amount_due"] == "52.50"
    sid = _manifest(tmp_path / "n")[0]["statement_id"]
    apply_payment_event(engine, _event("evt_n", "payment_intent.succeeded", 5250, sid))
    create_plan(
        engine, account_number="A0000042", amount=D("10.00"), installments=2, day=5, start=RUN, actor="t"
    )
    again = patient_night(engine, run_date=RUN + dt.timedelta(days=31), out=tmp_path / "n2", actor="test")
    assert again["patient_payments_online"] == {"events": 1, "posted": 1, "amount": "52.50"}
    assert again["payment_plans"] == {"active": 0, "delinquent": 0, "completed": 1}
    assert again["statements_sent"] == 0 and again["patient_refunds"] == {
        "due": 0,
        "issued": 0,
        "amount_due": "0.00",
    }
