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


def test_init_seed_generate_validate_load(claimflow_env: Engine, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init-db"]) == 0
    assert "database ready at revision" in capsys.readouterr().out
    assert main(["seed", "--patients", "40", "--claims", "90", "--seed", "7"]) == 0
    seeded = _json_lines(capsys.readouterr().out)[-1]
    assert seeded["patients"] == 40 and seeded["claims"] >= 90
    assert main(["seed", "--patients", "40", "--claims", "90", "--seed", "7"]) == 2  # refuses a second practice
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

    assert main(["load", str(FIXTURES / "835" / "denial_with_rarc.835"), str(FIXTURES / "999" / "accepted.999")]) == 0
    first = capsys.readouterr().out
    assert "new 835" in first and "new 999" in first
    assert main(["load", str(FIXTURES / "835" / "denial_with_rarc.835")]) == 0
    assert "already known" in capsys.readouterr().out
    assert main(["load", str(FIXTURES / "malformed" / "wrong_se_count.835")]) == 2
    assert "quarantined: wrong_se_count.835: segment" in capsys.readouterr().out


def test_parse_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(FIXTURES / "835" / "several_payers.835"), "--summary"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert list(summary) == ["transaction", "transactions", "claims", "service_lines", "total_charge",
                             "total_paid", "total_patient_responsibility", "provider_adjustments",
                             "payment_total", "balanced"]
    assert main(["parse", str(FIXTURES / "malformed" / "wrong_se_count.835")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("wrong_se_count.835: segment ")
