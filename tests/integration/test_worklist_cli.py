"""The work-queue CLI contract: ``claimflow worklist`` (list, assign, note, close) and ``claimflow claim
show`` — keys, formats, audit rows, one-line errors with exit 2 (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from adjudication.worklist import build_worklist
from claimflow.cli import main
from claimflow.db import models as m
from tests.unit.adjudication.worklist_builders import RUN, every_source

KEYS = [
    "id",
    "queue",
    "claim",
    "payer",
    "reason_codes",
    "reason",
    "amount",
    "next_action",
    "due_date",
    "status",
    "assignee",
]


def _json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def worked(claimflow_env: Engine) -> dict[str, object]:
    sc = every_source(claimflow_env)
    build_worklist(claimflow_env, RUN)
    return {"engine": claimflow_env, "claims": sc.claims, "expected": sc.expected}


def test_worklist_json_csv_table(worked: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worklist", "--format", "json"]) == 0
    rows = _json_lines(capsys.readouterr().out)
    assert len(rows) == len(worked["expected"])
    assert all(list(r) == KEYS for r in rows)
    assert {(r["queue"], r["claim"]) for r in rows} == {(q, c) for q, c, _ in worked["expected"]}
    denial = next(r for r in rows if r["queue"] == "denials")
    assert denial["amount"] == "203.00" and Decimal(denial["amount"]) == Decimal("203.00")
    assert denial["reason_codes"] == ["CO-50", "N115"] and denial["payer"] == "SBX01"
    assert denial["due_date"] == "2027-01-30" and denial["status"] == "open" and denial["assignee"] is None

    assert main(["worklist", "--queue", "denials", "--format", "json"]) == 0
    assert [r["id"] for r in _json_lines(capsys.readouterr().out)] == [denial["id"]]

    assert main(["worklist", "--format", "csv", "--queue", "rejections"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(table[0]) == KEYS and len(table) == 2

    assert main(["worklist"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["ID", "QUEUE", "CLAIM"]
    assert f"{len(rows)} work items, $" in out and "ZZTEST" not in out


def test_assign_note_close_from_the_command_line(worked: dict, capsys: pytest.CaptureFixture[str]) -> None:
    engine: Engine = worked["engine"]  # type: ignore[assignment]
    main(["worklist", "--queue", "denials", "--format", "json"])
    item = _json_lines(capsys.readouterr().out)[0]["id"]
    assert main(["worklist", "assign", str(item), "--to", "ana"]) == 0
    assert main(["worklist", "note", str(item), "payer", "wants", "records"]) == 0
    assert main(["worklist", "--queue", "denials", "--format", "json"]) == 0
    row = _json_lines(capsys.readouterr().out.splitlines()[-1])[0]
    assert (row["assignee"], row["status"]) == ("ana", "in_progress")
    assert main(["worklist", "close", str(item), "--why", "appeal won"]) == 0
    capsys.readouterr()
    assert main(["worklist", "--queue", "denials", "--format", "json"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["worklist", "--queue", "denials", "--status", "all", "--format", "json"]) == 0
    assert _json_lines(capsys.readouterr().out)[0]["status"] == "closed"
    with engine.connect() as conn:
        audits = conn.execute(
            select(m.AuditLog.action, m.AuditLog.actor)
            .where(m.AuditLog.object_type == "work_item")
            .order_by(m.AuditLog.id)
        ).all()
        events = conn.execute(
            select(m.WorkItemEvent.kind, m.WorkItemEvent.detail)
            .where(m.WorkItemEvent.work_item_id == item)
            .order_by(m.WorkItemEvent.id)
        ).all()
    assert [a for a, _ in audits] == ["work_item_assign", "work_item_note", "work_item_close"]
    assert all(actor.startswith("cli:") for _, actor in audits)
    assert [k for k, _ in events] == ["opened", "assigned", "note", "closed"]
    assert events[2][1]["text"] == "payer wants records"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["worklist", "assign", "5"], "usage: claimflow worklist assign ID --to NAME"),
        (["worklist", "assign", "x", "--to", "ana"], "work item id must be a number"),
        (["worklist", "assign", "99999", "--to", "ana"], "work item 99999 does not exist"),
        (["worklist", "frobnicate", "5"], "unknown action"),
        (["worklist", "--queue", "nope"], "unknown queue"),
        (["worklist", "--format", "xml"], "--format must be one of"),
        (["worklist", "close", "1"], "usage: claimflow worklist close ID --why TEXT"),
        (["claim", "show", "NOPE"], "no claim answers to 'NOPE'"),
        (["claim", "show", "X", "--format", "pdf"], "--format must be text or json"),
    ],
)
def test_errors_are_one_line_with_exit_2(
    worked: dict, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err


def test_unknown_options_are_usage_errors(worked: dict, capsys: pytest.CaptureFixture[str]) -> None:
    # Unknown options are reported by the top-level parser, like every other claimflow command.
    with pytest.raises(SystemExit) as exc:
        main(["worklist", "--bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --bogus" in err and "Traceback" not in err


def test_claim_show_json_and_text(worked: dict, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    denied = worked["claims"]["denied"]  # type: ignore[index]
    assert main(["claim", "show", denied.claim_number, "--format", "json"]) == 0
    story = json.loads(capsys.readouterr().out)
    assert set(story) == {"claim", "events"}
    assert story["claim"]["claim_number"] == denied.claim_number
    assert story["claim"]["patient"] == {
        "account_number": "A0000002",
        "patient_key": story["claim"]["patient"]["patient_key"],
    }
    kinds = [e["kind"] for e in story["events"]]
    assert kinds[:2] == ["created", "submitted"] and "denied" in kinds and "work_item" in kinds
    assert all({"at", "kind", "summary"} <= set(e) for e in story["events"])
    assert main(["claim", "show", denied.pcn]) == 0
    text = capsys.readouterr().out
    assert f"claim {denied.claim_number}" in text and "CO-50" in text and "ZZTEST" not in text


def test_nightly_task_on_a_seeded_practice(claimflow_env: Engine, caplog: pytest.LogCaptureFixture) -> None:
    """A realistic night: a seeded practice, its claims sent and answered (some denied, some unanswered),
    posted and reconciled, then the DAG task's function — twice."""
    import datetime as dt
    import logging

    from adjudication.posting import post_remittances
    from adjudication.reconcile import reconcile
    from claimflow.sandbox.seed import seed_practice
    from claimflow.services.pipeline import build_worklist as task
    from tests.unit.adjudication.builders import submit_and_pay_seeded

    as_of = dt.date(2026, 11, 20)
    seed_practice(claimflow_env, patients=30, claims=60, seed=11, as_of=as_of)
    submit_and_pay_seeded(claimflow_env, payment_date=as_of)
    post_remittances(claimflow_env, actor="test", as_of=as_of)
    reconcile(claimflow_env, as_of)
    with claimflow_env.connect() as conn:
        denied = conn.execute(select(m.Claim.id).where(m.Claim.status == "denied")).scalars().all()
    with caplog.at_level(logging.INFO, logger="claimflow.services.pipeline"):
        night = task(as_of.isoformat())
    assert night["opened"] == night["open"] > 0 and night["queues"]["denials"] == len(denied) > 0
    line = next(r.getMessage() for r in caplog.records if "open work items" in r.getMessage())
    assert line.startswith(f"{night['open']} open work items: ") and f"{len(denied)} denials ($" in line
    json.dumps(night)  # XCom: counts only, JSON-able
    again = task(as_of.isoformat())
    assert (again["opened"], again["updated"], again["closed"], again["open"]) == (0, 0, 0, night["open"])
