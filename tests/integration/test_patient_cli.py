"""``claimflow statements run``, ``plan create|list``, ``refund find|issue``, ``dispute`` and ``payments webhook
serve`` through the real CLI entry point, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from adjudication.posting import post_remittances
from claimflow.cli import build_parser, main
from claimflow.db import models as m
from tests.unit.adjudication.builders import D, Line, Pay, Practice

PHI = ("ZZTESTLAST", "ZZTESTFIRST", "ZZTEST ST", "ZZMEMBER01")


@pytest.fixture
def billed(claimflow_env: Engine) -> tuple[Engine, int]:
    engine = claimflow_env
    pr = Practice(engine)
    pid = pr.patient("A0000042")
    c = pr.claim(pid, [("99213", D("200.00"))], service_date=dt.date(2026, 11, 1))
    _lid, lcn, proc, charge = c.lines[0]
    adj = [("CO", "45", D("50.00")), ("PR", "3", D("30.00"))]
    pr.remittance(
        [Pay(pcn=c.pcn, lines=[Line(proc, charge, D("120.00"), adj, lcn)])],
        payment_date=dt.date(2026, 11, 20),
    )
    post_remittances(engine, actor="test", as_of=dt.date(2026, 11, 20))
    return engine, pid


def _json(out: str) -> object:
    return json.loads(out.strip().splitlines()[-1])


def test_statements_run_cli(
    billed: tuple[Engine, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "stmts"
    assert main(["statements", "run", "--run-date", "2026-12-01", "--out", str(out)]) == 0
    cap = capsys.readouterr()
    result = _json(cap.out)
    assert isinstance(result, dict) and result["statements"] == 1 and result["amount_due"] == "30.00"
    assert not any(p in cap.out + cap.err for p in PHI)
    rows = list(csv.DictReader((out / "statements.csv").open()))
    sid = rows[0]["statement_id"]
    assert (out / f"{sid}.pdf").exists() and (out / f"{sid}.html").exists()
    assert "Your copay for this visit is $30.00" in (out / f"{sid}.html").read_text()
    # a bad date is a one-line usage error
    with pytest.raises(SystemExit) as exc:
        main(["statements", "run", "--run-date", "2026-13-01", "--out", str(out)])
    assert exc.value.code == 2


def test_plan_cli(billed: tuple[Engine, int], capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "plan",
                "create",
                "--patient",
                "A0000042",
                "--amount",
                "30.00",
                "--installments",
                "3",
                "--day",
                "15",
                "--start",
                "2026-12-01",
            ]
        )
        == 0
    )
    plan = _json(capsys.readouterr().out)
    assert (
        isinstance(plan, dict) and plan["installment_amount"] == "10.00" and plan["first_due"] == "2026-12-15"
    )
    assert main(["plan", "list", "--as-of", "2026-12-01"]) == 0
    listed = _json(capsys.readouterr().out)
    assert isinstance(listed, list) and listed[0]["status"] == "active" and listed[0]["remaining"] == "30.00"
    assert main(["plan", "create", "--patient", "NOPE", "--amount", "1", "--installments", "1"]) == 1
    err = capsys.readouterr().err
    assert "no patient has that account number" in err and "NOPE" not in err
    with pytest.raises(SystemExit) as exc:
        main(["plan", "create", "--patient", "A0000042", "--amount", "-5", "--installments", "1"])
    assert exc.value.code == 2


def test_refund_and_dispute_cli(
    billed: tuple[Engine, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine, pid = billed
    with engine.begin() as conn:
        from adjudication.patient_payments import post_patient_payments

        conn.execute(
            m.PatientPayment.__table__.insert().values(
                external_id="PP-1", patient_id=pid, amount=D("50.00"), received_on=dt.date(2026, 11, 25)
            )
        )
        post_patient_payments(conn)
    assert main(["refund", "find", "--run-date", "2026-12-01"]) == 0
    assert _json(capsys.readouterr().out) == {"refunds": 1, "amount": "20.00"}
    with engine.connect() as conn:
        rid = conn.execute(select(m.Refund.id)).scalar_one()
    assert main(["refund", "issue", str(rid), "--as-of", "2026-12-02"]) == 0
    issued = _json(capsys.readouterr().out)
    assert isinstance(issued, dict) and issued["txn_key"] == f"rfi:{rid}" and issued["amount"] == "20.00"
    assert main(["refund", "issue", str(rid)]) == 1
    assert f"refund {rid} was issued already" in capsys.readouterr().err
    assert main(["dispute", "set", str(pid)]) == 0
    with engine.connect() as conn:
        assert conn.execute(select(m.PatientAccountFlag.dispute)).scalar_one() is True


def test_webhook_serve_is_registered_under_payments() -> None:
    args = build_parser().parse_args(["payments", "webhook", "serve", "--port", "8787"])
    assert args.port == 8787 and args.host == "127.0.0.1" and args.handler.__name__ == "cmd_webhook_serve"
    args = build_parser().parse_args(["payments", "import", "x.csv"])
    assert args.handler.__name__ == "cmd_payments_import"
