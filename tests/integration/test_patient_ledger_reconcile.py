"""Patient balances in the nightly reconciliation agree with the ledger after every kind of patient entry
(issue #12) — on SQLite and PostgreSQL.

One practice goes through the patient's side for real: 835 patient responsibility (``pr:``), a front-desk
copay swept to a credit (``ppay:``/``psw:``), a statement, a payment plan with installments paid online
and by import, an online payment given back by the processor (``orf:``), a small-balance write-off
(``wo:``), an overpayment refunded (``rfd:`` then ``rfi:``) and a payer overpayment refunded (``rfi:`` on
ar_payer). Reconciling the last date and then earlier dates (after all the later postings) must give no
balance exception and the exact balances of each date; a ledger row the snapshot cannot explain must.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select

from adjudication import ledger as L
from adjudication.ledger import Account
from adjudication.patient_payments import import_payments_csv
from adjudication.posting import post_remittances
from adjudication.reconcile import reconcile
from adjudication.statements import apply_payment_event, create_plan, find_refunds, issue_refund
from adjudication.writeoffs import write_off_small_balances
from claimflow.db import models as m
from claimflow.statements import run_statements
from tests.unit.adjudication.builders import ClaimRef, D, Line, Pay, Practice, balance

ADJUDICATED = dt.date(2026, 11, 20)
EARLY = dt.date(2026, 11, 22)  # after the 835, before any patient activity but the copay
MID = dt.date(2026, 12, 3)  # after the first installment and an online payment, before its refund
RUN = dt.date(2026, 12, 10)  # after everything

#: patient_balances columns compared: responsibility, paid, refunds_due, write_offs, balance, credit.
COLS = (
    "patient_responsibility",
    "patient_paid",
    "refunds_due",
    "write_offs",
    "patient_balance",
    "unapplied_credit",
)


def _pay(c: ClaimRef, *, co: Decimal, pr: list[tuple[str, Decimal]]) -> Pay:
    _lid, lcn, proc, charge = c.lines[0]
    adj = [("CO", "45", co)] + [("PR", reason, amount) for reason, amount in pr]
    return Pay(pcn=c.pcn, lines=[Line(proc, charge, charge - sum((a for _, _, a in adj), D(0)), adj, lcn)])


def _csv(path: Path, rows: list[tuple[str, str, str, str, dt.date]]) -> Path:
    lines = ["external_id,account_number,claim_number,amount,received_on,method"]
    lines += [f"{x},{acct},{claim},{amount},{day.isoformat()},card" for x, acct, claim, amount, day in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _event(evt: str, kind: str, cents: int, statement_id: str, obj: str, day: dt.date) -> dict[str, object]:
    created = int(dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC).timestamp())
    return {
        "id": evt,
        "type": kind,
        "created": created,
        "data": {
            "object": {
                "id": obj,
                "amount": cents,
                "currency": "usd",
                "metadata": {"statement_id": statement_id},
            }
        },
    }


def _practice(engine: Engine, tmp_path: Path) -> dict[str, int]:
    pr = Practice(engine)
    pa, pb, pc, pd, pe, pf = (pr.patient(f"A000000{i}") for i in range(1, 7))  # F: no claim, no payment
    a = pr.claim(pa, [("99213", D("200.00"))], service_date=dt.date(2026, 11, 1))
    b = pr.claim(pb, [("99212", D("100.00"))], service_date=dt.date(2026, 11, 2))
    c = pr.claim(pc, [("99212", D("120.00"))], service_date=dt.date(2026, 11, 3))
    d = pr.claim(pd, [("99211", D("80.00"))], service_date=dt.date(2026, 11, 4))
    e = pr.claim(pe, [("99212", D("90.00"))], service_date=dt.date(2026, 11, 5))
    pr.claim(pe, [("99213", D("150.00"))], service_date=dt.date(2026, 11, 6))  # still with the payer
    # E pays a $25 copay at the front desk before the payer answers.
    import_payments_csv(
        engine, _csv(tmp_path / "copay.csv", [("PP-E1", "A0000005", e.claim_number, "25.00", dt.date(2026, 11, 10))]),
        actor="test",
    )  # fmt: skip
    pr.remittance(
        [
            _pay(a, co=D("50.00"), pr=[("1", D("40.00")), ("2", D("12.50"))]),  # A owes 52.50
            _pay(b, co=D("20.00"), pr=[("3", D("30.00"))]),  # B owes 30.00
            _pay(c, co=D("40.00"), pr=[("2", D("20.00"))]),  # C owes 20.00
            _pay(d, co=D("20.00"), pr=[]),  # D owes nothing; the payer also sends $15 too much (FB)
            _pay(e, co=D("30.00"), pr=[("3", D("15.00"))]),  # E owes 15.00, paid 25.00: a $10 credit
        ],
        plb=[("FB", d.pcn, D("-15.00"))],
        payment_date=ADJUDICATED,
    )
    post_remittances(engine, actor="test", as_of=ADJUDICATED)
    # C overpays by $30 (no claim named: 20 applied, 30 patient credit).
    import_payments_csv(
        engine,
        _csv(tmp_path / "c.csv", [("PP-C1", "A0000003", "", "50.00", dt.date(2026, 11, 25))]),
        actor="test",
    )
    # Statements; A takes a 3-installment plan and pays the first one online, plus $10 the processor gives back.
    run_statements(engine, run_date=dt.date(2026, 12, 1), out=tmp_path / "statements", actor="test")
    with engine.connect() as conn:
        sid = conn.execute(select(m.Statement.statement_id).where(m.Statement.patient_id == pa)).scalar_one()
    plan = create_plan(
        engine, account_number="A0000001", amount=D("52.50"), installments=3, day=1, start=dt.date(2026, 12, 1),
        actor="test",
    )  # fmt: skip
    assert plan["installment_amount"] == "17.50"
    events = [
        ("evt_1", "payment_intent.succeeded", 1750, "pi_1", dt.date(2026, 12, 2), "posted"),
        ("evt_2", "payment_intent.succeeded", 1000, "pi_2", dt.date(2026, 12, 3), "posted"),
        ("evt_3", "charge.refunded", 1000, "pi_2", dt.date(2026, 12, 4), "refunded"),
    ]
    for evt, kind, cents, obj, day, outcome in events:
        assert apply_payment_event(engine, _event(evt, kind, cents, sid, obj, day))["outcome"] == outcome
    # B pays all but $3, which is written off as a small balance.
    import_payments_csv(
        engine, _csv(tmp_path / "b.csv", [("PP-B1", "A0000002", b.claim_number, "27.00", dt.date(2026, 12, 1))]),
        actor="test",
    )  # fmt: skip
    assert write_off_small_balances(
        engine, max_amount=D("5.00"), side="patient", actor="test", as_of=dt.date(2026, 12, 5)
    ) == {"claims": 1, "amount": "3.00"}
    # Refunds: C's credit (E keeps hers: a claim is still with the payer) and the payer's $15, both issued.
    assert find_refunds(engine, dt.date(2026, 12, 4), actor="test") == {"refunds": 2, "amount": "45.00"}
    with engine.connect() as conn:
        refunds = conn.execute(select(m.Refund.id, m.Refund.payee).order_by(m.Refund.id)).tuples().all()
    assert sorted(p for _, p in refunds) == ["patient", "payer"]
    for rid, _payee in refunds:
        issue_refund(engine, rid, as_of=dt.date(2026, 12, 6), actor="test")
    # A's second installment arrives by import, naming no claim.
    import_payments_csv(
        engine,
        _csv(tmp_path / "a.csv", [("PP-A2", "A0000001", "", "17.50", dt.date(2026, 12, 8))]),
        actor="test",
    )
    return {"A": pa, "B": pb, "C": pc, "D": pd, "E": pe, "F": pf, "claim_d": d.id}


def _patient_rows(engine: Engine, run_date: dt.date, ids: dict[str, int]) -> dict[str, tuple[Decimal, ...]]:
    with engine.connect() as conn:
        rows = {
            r.patient_id: tuple(getattr(r, c) for c in COLS)
            for r in conn.execute(select(m.PatientBalance).where(m.PatientBalance.run_date == run_date))
        }
    assert ids["F"] not in rows  # nothing to reconcile for a patient without claims or payments
    return {name: rows[ids[name]] for name in "ABCDE"}


def _ledger_patient(engine: Engine, pid: int, upto: dt.date) -> Decimal:
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.LedgerEntry.amount).where(
                m.LedgerEntry.patient_id == pid,
                m.LedgerEntry.account.in_([Account.AR_PATIENT, Account.PATIENT_CREDIT]),
                m.LedgerEntry.effective_date <= upto,
            )
        ).scalars()
        return sum(rows, D("0.00"))


def _exceptions(engine: Engine, run_date: dt.date) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.BalanceException.level, m.BalanceException.kind).where(
                m.BalanceException.source == "reconciliation", m.BalanceException.run_date == run_date
            )
        ).all()
    return [tuple(r) for r in rows]


def _claim_d(engine: Engine, run_date: dt.date, claim_id: int) -> tuple[Decimal, Decimal, Decimal]:
    with engine.connect() as conn:
        b = conn.execute(
            select(m.ClaimBalance).where(
                m.ClaimBalance.run_date == run_date, m.ClaimBalance.claim_id == claim_id
            )
        ).one()
        return b.payer_paid, b.provider_adjustments, b.insurance_balance


def test_patient_balances_agree_with_the_ledger_after_patient_activity(
    engine: Engine, tmp_path: Path
) -> None:
    ids = _practice(engine, tmp_path)
    # Every kind of patient entry is in the ledger (the scenario really exercised each path).
    with engine.connect() as conn:
        prefixes = {k.split(":", 1)[0] for k in conn.execute(select(m.LedgerEntry.txn_key)).scalars()}
    assert {"pr", "ppay", "psw", "orf", "wo", "rfd", "rfi"} <= prefixes
    assert balance(engine, Account.REFUNDS_DUE) == D("0.00")  # every refund decided was paid out

    summary = reconcile(engine, RUN)
    assert summary["balance_exceptions"] == 0 and _exceptions(engine, RUN) == []
    z = D("0.00")
    assert _patient_rows(engine, RUN, ids) == {
        # 52.50 PR − (17.50 plan + 10.00 refunded online + 17.50 plan − 10.00 given back)
        "A": (D("52.50"), D("35.00"), z, z, D("17.50"), z),
        "B": (D("30.00"), D("27.00"), z, D("3.00"), z, z),  # $3 written off
        "C": (D("20.00"), D("20.00"), z, z, z, z),  # paid 50.00, $30 credit refunded (decided and issued)
        "D": (z, z, z, z, z, z),
        "E": (D("15.00"), D("25.00"), z, z, D("-10.00"), D("10.00")),  # a credit balance
    }
    for name in "ABCDE":
        assert _patient_rows(engine, RUN, ids)[name][4] == _ledger_patient(engine, ids[name], RUN)
    # The payer's $15 overpayment, refunded: payer_paid is net of it and the claim is square again.
    assert _claim_d(engine, RUN, ids["claim_d"]) == (D("45.00"), D("-15.00"), z)
    assert summary["patient_payments"] == "107.00" and summary["refunds_due"] == "0.00"

    # Earlier dates, reconciled after all the later postings: only what was effective by then, both sides.
    assert reconcile(engine, MID)["balance_exceptions"] == 0 and _exceptions(engine, MID) == []
    assert _patient_rows(engine, MID, ids) == {
        "A": (D("52.50"), D("27.50"), z, z, D("25.00"), z),  # the $10 came back on 12-04
        "B": (D("30.00"), D("27.00"), z, z, D("3.00"), z),  # written off on 12-05
        "C": (D("20.00"), D("50.00"), z, z, D("-30.00"), D("30.00")),  # refund decided on 12-04
        "D": (z, z, z, z, z, z),
        "E": (D("15.00"), D("25.00"), z, z, D("-10.00"), D("10.00")),
    }
    assert _claim_d(engine, MID, ids["claim_d"]) == (D("60.00"), D("-15.00"), D("-15.00"))  # not refunded yet
    decided = dt.date(2026, 12, 5)  # refunds decided on 12-04, issued on 12-06
    assert reconcile(engine, decided)["balance_exceptions"] == 0 and _exceptions(engine, decided) == []
    assert _patient_rows(engine, decided, ids)["C"] == (D("20.00"), D("50.00"), D("30.00"), z, z, z)
    assert _claim_d(engine, decided, ids["claim_d"]) == (D("60.00"), D("-15.00"), D("-15.00"))
    assert reconcile(engine, EARLY)["balance_exceptions"] == 0 and _exceptions(engine, EARLY) == []
    assert _patient_rows(engine, EARLY, ids) == {
        "A": (D("52.50"), z, z, z, D("52.50"), z),
        "B": (D("30.00"), z, z, z, D("30.00"), z),
        "C": (D("20.00"), z, z, z, D("20.00"), z),  # paid on 11-25
        "D": (z, z, z, z, z, z),
        "E": (D("15.00"), D("25.00"), z, z, D("-10.00"), D("10.00")),  # copay 11-10, swept 11-20
    }
    for day in (MID, EARLY):
        for name in "ABCDE":
            assert _patient_rows(engine, day, ids)[name][4] == _ledger_patient(engine, ids[name], day)
    # Rerunning the last date after the earlier ones changes nothing.
    assert reconcile(engine, RUN)["balance_exceptions"] == 0


def test_a_patient_entry_the_snapshot_cannot_explain_is_an_exception(engine: Engine, tmp_path: Path) -> None:
    ids = _practice(engine, tmp_path)
    with engine.begin() as conn:
        L.write_entries(
            conn,
            [  # an online refund without its processor event, a refund paid out with no refund issued and
                # a credit for a patient with no activity
                L.Entry("test:orf", "online_refund", Account.AR_PATIENT, D("4.00"), RUN, patient_id=ids["E"]),
                L.Entry("test:orf", "online_refund", Account.CASH, D("-4.00"), RUN, patient_id=ids["E"]),
                L.Entry(
                    "test:rfi", "refund_issued", Account.REFUNDS_DUE, D("5.00"), RUN, patient_id=ids["B"]
                ),
                L.Entry("test:rfi", "refund_issued", Account.CASH, D("-5.00"), RUN, patient_id=ids["B"]),
                L.Entry(
                    "test:stray",
                    "patient_payment",
                    Account.PATIENT_CREDIT,
                    D("-6.00"),
                    RUN,
                    patient_id=ids["F"],
                ),
                L.Entry("test:stray", "patient_payment", Account.CASH, D("6.00"), RUN, patient_id=ids["F"]),
            ],
        )
    # Rows dated after the run date are not part of that date, on either side.
    assert reconcile(engine, MID)["balance_exceptions"] == 0
    summary = reconcile(engine, RUN)
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.BalanceException.kind, m.BalanceException.expected, m.BalanceException.found)
            .where(m.BalanceException.source == "reconciliation", m.BalanceException.run_date == RUN)
            .order_by(m.BalanceException.expected)
        ).all()
    # E: the source documents say -10.00, the ledger -6.00; B: 5.00 left refunds_due that no refund row
    # explains (expected -5.00, owes 0.00); F: only the ledger knows her.
    assert [tuple(r) for r in rows] == [
        ("patient_balance_vs_ledger", D("-10.00"), D("-6.00")),
        ("patient_balance_vs_ledger", D("-5.00"), D("0.00")),
        ("patient_balance_vs_ledger", D("0.00"), D("-6.00")),
    ]
    assert summary["balance_exceptions"] == 3
