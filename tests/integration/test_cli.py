"""The CLI contract: command names, options, exit codes and output keys (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from claimflow.cli import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_init_seed_generate_validate_load(
    claimflow_env: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init-db"]) == 0
    assert "database ready at revision" in capsys.readouterr().out
    assert main(["seed", "--patients", "40", "--claims", "90", "--seed", "7"]) == 0
    seeded = _json_lines(capsys.readouterr().out)[-1]
    assert seeded["patients"] == 40 and seeded["claims"] >= 90
    assert (
        main(["seed", "--patients", "40", "--claims", "90", "--seed", "7"]) == 2
    )  # refuses a second practice
    capsys.readouterr()

    out_dir = tmp_path / "out"
    assert main(["generate-837", "--out", str(out_dir)]) == 0
    text = capsys.readouterr().out
    summary = _json_lines(text)[-1]
    assert {"claims_in", "scrubbed_out", "scrub_reasons", "claims_batched", "files_written"} <= summary.keys()
    assert "claims ready:" in text and "scrubbed out:" in text
    files = sorted(out_dir.glob("*.x12"))
    assert len(files) == summary["files_written"] > 0

    assert main(["validate", str(files[0])]) == 0
    assert "1 valid, 0 with errors" in capsys.readouterr().out
    broken = tmp_path / "broken.x12"
    broken.write_text(files[0].read_text().replace("NM1*85*2*", "NM1*85*9*", 1))  # invalid NM102
    assert main(["validate", str(broken)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith(f"{broken}: segment ") and "(NM1): NM102" in line for line in lines), lines

    assert (
        main(["load", str(FIXTURES / "835" / "denial_with_rarc.835"), str(FIXTURES / "999" / "accepted.999")])
        == 0
    )
    first = capsys.readouterr().out
    assert "new 835" in first and "new 999" in first
    assert main(["load", str(FIXTURES / "835" / "denial_with_rarc.835")]) == 0
    assert "already known" in capsys.readouterr().out
    assert main(["load", str(FIXTURES / "malformed" / "wrong_se_count.835")]) == 2
    assert "quarantined: wrong_se_count.835: segment" in capsys.readouterr().out


def test_parse_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(FIXTURES / "835" / "several_payers.835"), "--summary"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert list(summary) == [
        "transaction",
        "transactions",
        "claims",
        "service_lines",
        "total_charge",
        "total_paid",
        "total_patient_responsibility",
        "provider_adjustments",
        "payment_total",
        "balanced",
    ]
    assert main(["parse", str(FIXTURES / "malformed" / "wrong_se_count.835")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("wrong_se_count.835: segment ")


def test_nightly_steps_as_commands(
    claimflow_env: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """acks apply → post → nightly → report, as the nightly_reconciliation DAG does, on both backends."""
    import datetime as dt
    from decimal import Decimal

    from claimflow.db import models as m

    assert main(["seed", "--patients", "30", "--claims", "60", "--seed", "11"]) == 0
    assert main(["generate-837", "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    files = sorted(str(f) for f in (tmp_path / "out").glob("*.x12"))
    assert main(["sandbox", "adjudicate", *files, "--out", str(tmp_path / "resp")]) == 0
    responses = capsys.readouterr().out.split()
    assert any(r.endswith(".835") for r in responses) and any(r.endswith(".999") for r in responses)
    assert main(["load", *responses]) == 0
    capsys.readouterr()

    assert main(["acks", "apply"]) == 0
    acks = json.loads(capsys.readouterr().out)
    assert acks["claims_accepted"] > 0

    today = dt.date.today().isoformat()
    assert main(["post", "--run-date", today]) == 0
    posted = json.loads(capsys.readouterr().out)
    assert posted["claim_payments_posted"] > 0

    rc = main(["nightly", "--run-date", today])
    captured = capsys.readouterr()
    night = json.loads(captured.out)
    assert list(night) == [
        "acknowledgments_applied",
        "claim_payments_posted",
        "balance_exceptions",
        "data_quality_problems",
        "report",
    ]
    assert night["claim_payments_posted"] == 0, "already posted by `claimflow post`: idempotent"
    # A clean practice is a clean night. (This practice bills secondary claims whose primary was adjudicated
    # before claimflow: they book their own charge — a regression here showed as a negative insurance balance.)
    assert (rc, night["data_quality_problems"], night["balance_exceptions"]) == (0, 0, 0), captured.err
    assert captured.err == ""
    baseline = night["balance_exceptions"]
    assert Path(night["report"]).is_file() and today in night["report"]

    assert main(["report", "--run-date", today, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "report" and lines[1] == night["report"]

    # a one-sided ledger entry: the balance proof finds it, data quality fails, the report is still written
    with claimflow_env.begin() as conn:
        claim_id = conn.execute(m.Claim.__table__.select().limit(1)).first().id
        conn.execute(
            m.LedgerEntry.__table__.insert().values(
                txn_key="test:one-sided",
                entry_type="other_adjustment",
                account="adjustments",
                amount=Decimal("1.00"),
                claim_id=claim_id,
                effective_date=dt.date.today(),
            )
        )
    assert main(["nightly", "--run-date", today]) == 1
    captured = capsys.readouterr()
    night = json.loads(captured.out)
    assert night["data_quality_problems"] >= 1 and night["balance_exceptions"] > baseline
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("claimflow nightly: ") and "data-quality problems" in err[0]
    assert Path(night["report"]).is_file()


def test_formats(claimflow_env: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["acks", "apply", "--format", "table"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["accepted", "0"]
    assert main(["acks", "apply", "--format", "csv"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split(",")[:2] == ["accepted", "rejected"] and row.split(",")[:2] == ["0", "0"]
