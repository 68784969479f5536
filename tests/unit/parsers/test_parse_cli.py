"""``claimflow parse FILE [--summary]`` (claimflow/cli/parse.py): output, exit codes, light imports."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from claimflow.cli.parse import main
from parsers.values import money_str
from tests.unit.parsers.conftest import FIXTURES, fixture

REPO = FIXTURES.parent


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_835_summary() -> None:
    code, out, err = run(str(fixture("835/provider_adjustments_plb.835")), "--summary")
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "transaction": "835",
        "transactions": 1,
        "claims": 1,
        "service_lines": 1,
        "total_charge": "600.00",
        "total_paid": "500.00",
        "total_patient_responsibility": "0.00",
        "provider_adjustments": "207.30",
        "payment_total": "292.70",
        "balanced": True,
    }
    assert out.count("\n") == 1


def test_835_unbalanced_summary_still_exits_zero() -> None:
    code, out, _ = run(str(fixture("835/unbalanced.835")), "--summary")
    assert code == 0 and json.loads(out)["balanced"] is False


def test_835_lines_are_eobs_without_phi() -> None:
    code, out, _ = run(str(fixture("835/payment_contractual_deductible_coinsurance.835")))
    assert code == 0
    (obj,) = [json.loads(x) for x in out.splitlines()]
    assert obj["type"] == "claim_payment" and obj["patient_control_number"] == "SUN-000123"
    assert (obj["charge"], obj["paid"], obj["deductible"], obj["coinsurance"], obj["copay"]) == (
        "450.00",
        "250.00",
        "50.00",
        "30.00",
        "20.00",
    )
    assert obj["lines"][0]["adjustments"][0] == {
        "group": "CO",
        "reason": "45",
        "amount": "50.00",
        "quantity": None,
    }
    assert obj["file_sha256"] and obj["isa13"] == "000000101" and obj["segment_no"] == 19
    assert "DOE" not in out and "ACM123456789" not in out  # patient name and member ID stay out


def test_other_summaries() -> None:
    assert json.loads(run(str(fixture("277ca/accepted_and_rejected.277")), "--summary")[1]) == {
        "transaction": "277",
        "claims": 2,
        "accepted": 1,
        "rejected": 1,
        "batches": 1,
        "rejected_batches": 0,
        "providers": 1,
        "rejected_providers": 0,
    }
    assert json.loads(run(str(fixture("999/partially_accepted.999")), "--summary")[1]) == {
        "transaction": "999",
        "accepted_sets": 2,
        "rejected_sets": 1,
        "groups": 1,
        "rejected_groups": 0,
    }
    assert json.loads(run(str(fixture("ta1/accepted.ta1")), "--summary")[1]) == {
        "transaction": "TA1",
        "interchanges": 2,
        "accepted": 2,
        "rejected": 0,
    }


def test_999_summary_from_ak9_without_ak2_loops(tmp_path: Path) -> None:
    text = fixture("999/accepted.999").read_text()
    text = text.replace("AK2*837*0001*005010X222A1~\nIK5*A~\nAK2*837*0002*005010X222A1~\nIK5*A~\n", "")
    text = text.replace("AK9*A*2*2*2", "AK9*P*3*3*2").replace("SE*8*0001", "SE*4*0001")
    p = tmp_path / "noak2.999"
    p.write_text(text)
    assert json.loads(run(str(p), "--summary")[1]) == {
        "transaction": "999",
        "accepted_sets": 2,
        "rejected_sets": 1,
        "groups": 1,
        "rejected_groups": 0,
    }


def test_record_lines_for_acks() -> None:
    _code, out, _ = run(str(fixture("999/rejected_ik3_ik4.999")))
    (obj,) = [json.loads(x) for x in out.splitlines()]
    assert obj["type"] == "transaction_set_ack" and obj["accepted"] is False
    assert obj["errors"][0]["patient_control_number"] == "SUN-000123"
    assert "XYZ12345" not in out  # IK404 copy of bad data is PHI-prone: never printed
    out = run(str(fixture("277ca/accepted_and_rejected.277")))[1]
    objs = [json.loads(x) for x in out.splitlines()]
    assert [o["accepted"] for o in objs if o["type"] == "claim_status"] == [True, False]
    assert [(o["type"], o["level"], o["batch_trace"]) for o in objs if o["type"] == "level_status"] == [
        ("level_status", "batch", "BATCH20260114A"),
        ("level_status", "provider", "BATCH20260114A"),
    ]
    out = run(str(fixture("ta1/rejected.ta1")))[1]
    assert json.loads(out)["control_number"] == "000001001"


@pytest.mark.parametrize(
    "name",
    [
        "truncated.835",
        "wrong_se_count.835",
        "missing_isa.835",
        "wrong_iea_control.835",
        "binary_junk.835",
        "empty.835",
    ],
)
def test_malformed_exit_2_with_one_line(name: str) -> None:
    code, out, err = run(str(fixture(f"malformed/{name}")))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"{name}: ") and "Traceback" not in err


def test_unsupported_missing_and_usage() -> None:
    code, _, err = run(str(fixture("837p/simple.837")))
    assert (
        code == 2
        and err
        == "simple.837: an 837 claim file; claimflow parse reads inbound TA1, 999, 277CA and 835 files\n"
    )
    code, _, err = run("/no/such/file.835")
    assert code == 2 and err == "file.835: cannot read: No such file or directory\n"
    code, _, err = run()
    assert code == 2 and "required" in err


def test_money_format() -> None:
    from decimal import Decimal

    assert money_str(Decimal("5")) == "5.00" and money_str(Decimal("-3.2")) == "-3.20"
    assert money_str(Decimal("1.005")) == "1.005"  # more decimals are kept, never rounded away


def test_module_entry_point_is_light_and_fast() -> None:
    code = (
        "import sys, runpy; sys.argv = ['x', sys.argv[1], '--summary'];\n"
        "try:\n    runpy.run_module('claimflow.cli.parse', run_name='__main__')\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'pandas', 'pydantic', 'airflow', 'pyx12')]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(fixture("835/several_payers.835"))],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["claims"] == 3
