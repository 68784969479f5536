"""Replacement (frequency 7), void (8) and resubmitted (1) claims end to end, on SQLite and PostgreSQL,
through the command line: the 837 says CLM05-3 = 7/8 with REF*F8 = the payer's claim number (pyx12-clean),
the sandbox payer reverses the original (CLP02 = 22) and pays the replacement, and the money ends right
whichever of the two arrives first (balance proof: 0 unexplained exceptions)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from claimflow.cli import main
from claimflow.db import models as m
from tests.integration.test_secondary_claims import NIGHT1, Office, claim_segments

D = Decimal


@pytest.fixture
def office(claimflow_env: Engine, tmp_path: Path) -> Office:
    return Office(claimflow_env, tmp_path)


def nights(n: int) -> list[dt.date]:
    return [NIGHT1 + dt.timedelta(days=k) for k in range(n)]


def _denied_visit(office: Office) -> str:
    """An office visit without modifier 25 on the day of a biopsy: the payer denies the visit (CO-97)."""
    pid = office.patient(["CI"])
    return office.claim(pid, [("99213", "", D("150.00")), ("11102", "", D("1200.00"))])  # past the deductible


def _correct(office: Office, number: str, capsys: pytest.CaptureFixture[str]) -> dict:
    assert (
        main(
            [
                "claim",
                "correct",
                number,
                "--set",
                "line.1.modifiers=25",
                "--set",
                "line.1.charge=160.00",
                "--format",
                "json",
            ]
        )
        == 0
    )
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("reversal_first", [True, False], ids=["reversal-first", "payment-first"])
def test_replacement_carries_the_balance_over_in_either_order(
    office: Office, capsys: pytest.CaptureFixture[str], reversal_first: bool
) -> None:
    n1, n2, n3, n4, n5 = nights(5)
    number = _denied_visit(office)
    office.send(n1)
    office.pay(n2)
    [original] = office.payments(number)
    assert original.paid > 0 and original.payer_claim_number
    office.close_night(n2)
    denial = [i for i in office.items(number) if i.queue == "denials"]
    assert len(denial) == 1 and denial[0].status == "open"

    result = _correct(office, number, capsys)
    assert result["frequency"] == "7" and result["payer_claim_number"] == original.payer_claim_number
    assert result["changed"] == ["line.1.modifiers", "line.1.charge"]
    assert (result["charge_before"], result["charge_after"]) == ("1350.00", "1360.00")
    assert result["work_items_noted"] == 1
    assert office.row(number).status == "corrected"

    [path] = office.send(n3)
    segs = claim_segments(path, number)
    clm = segs[0]
    assert clm[1] == f"{number}A2" and clm[2] == "1360" and clm[5] == "11:B:7"
    assert ["REF", "F8", original.payer_claim_number] in segs
    assert ["SV1", "HC:99213:25", "160", "UN", "1", "", "", "1"] in segs
    with office.engine.connect() as conn:
        subs = conn.execute(
            select(m.Submission.__table__)
            .where(m.Submission.claim_id == office.row(number).id)
            .order_by(m.Submission.attempt)
        ).all()
    assert [(s.attempt, s.frequency) for s in subs] == [(1, "1"), (2, "7")]
    assert subs[1].replaces_submission_id == subs[0].id and subs[0].replaces_submission_id is None

    if reversal_first:
        office.pay(n4)
    else:
        office.pay(n4, hold_reversals=True)  # the replacement's payment arrives first …
        assert office.row(number).status in ("paid", "partially_paid")
        office.close_night(n4)
        office.pay(n5)  # … and the reversal of the original a night later
    payments = office.payments(number)
    by_status = {p.status_code: p for p in payments}
    assert len(payments) == 3 and set(by_status) == {"1", "22"}
    reversal = by_status["22"]
    new = next(p for p in payments if p.status_code == "1" and p.id != original.id)
    assert reversal.reversal_of_id == original.id  # never the replacement's payment
    assert reversal.patient_control_number == original.patient_control_number
    assert (
        new.patient_control_number == f"{number}A2" and new.payer_claim_number != original.payer_claim_number
    )
    assert office.row(number).status in ("paid", "partially_paid")
    last = n4 if reversal_first else n5
    office.close_night(last)
    b = office.balance(number, last)
    assert b.charge == D("1360.00")
    assert b.payer_paid == new.paid  # the original's payment is taken back, the new one stands
    assert office.ledger(number, "ar_payer") == b.insurance_balance == D("0.00")
    assert office.ledger(number, "ar_patient") == b.patient_balance == new.patient_responsibility
    # The denial the correction answered closed by itself once the payer's answer was posted.
    closed = [i for i in office.items(number) if i.queue == "denials"]
    assert [(i.status, i.resolution) for i in closed] == [("closed", "resolved")]
    assert "replacement claim (frequency 7) queued" in (closed[0].notes or "")


def test_void_of_a_paid_claim(office: Office, capsys: pytest.CaptureFixture[str]) -> None:
    n1, n2, n3, n4 = nights(4)
    pid = office.patient(["CI"])
    number = office.claim(pid, [("99213", "25", D("150.00")), ("11102", "", D("1200.00"))])
    office.send(n1)
    office.pay(n2)
    [original] = office.payments(number)
    assert original.paid > 0
    office.close_night(n2)
    assert main(["claim", "void", original.payer_claim_number]) == 0  # the payer's claim number works too
    out = capsys.readouterr().out
    assert f"claim {number}: void (frequency 8), REF*F8 {original.payer_claim_number} queued" in out
    [path] = office.send(n3)
    segs = claim_segments(path, number)
    assert segs[0][5] == "11:B:8" and ["REF", "F8", original.payer_claim_number] in segs
    office.pay(n4)
    payments = office.payments(number)
    assert [p.status_code for p in payments] == ["1", "22"] and payments[1].reversal_of_id == original.id
    assert office.row(number).status == "reversed"
    night = office.close_night(n4)
    assert night["follow_up"]["voids_settled"] == 1
    assert office.row(number).status == "closed"
    b = office.balance(number, n4)
    assert b.payer_paid == 0 and b.insurance_balance == 0 and b.patient_balance == 0
    assert office.ledger(number, "ar_payer") == 0 and office.ledger(number, "ar_patient") == 0
    assert office.ledger(number, "write_off") == D("1350.00")


def test_resubmit_after_a_front_end_rejection(office: Office, capsys: pytest.CaptureFixture[str]) -> None:
    n1, n2, n3 = nights(3)
    pid = office.patient(["CI"])
    with office.engine.begin() as conn:  # a member id the payer does not know: 277CA A7:164
        conn.execute(update(m.Coverage).where(m.Coverage.patient_id == pid).values(member_id="XBAD0001"))
    number = office.claim(pid, [("99213", "", D("150.00"))])
    office.send(n1)
    assert office.row(number).status == "rejected"
    office.close_night(n1)
    assert [i.queue for i in office.items(number) if i.status == "open"] == ["rejections"]
    assert main(["claim", "correct", number]) == 2  # never adjudicated: nothing to replace
    assert "use claimflow claim resubmit" in capsys.readouterr().err

    with office.engine.begin() as conn:  # the front desk fixes the member id
        conn.execute(update(m.Coverage).where(m.Coverage.patient_id == pid).values(member_id="ZZM000101"))
    assert main(["claim", "resubmit", number, "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["frequency"], result["payer_claim_number"], result["work_items_noted"]) == ("1", None, 1)
    [path] = office.send(n2)
    segs = claim_segments(path, number)
    assert (
        segs[0][1] == f"{number}A2"
        and segs[0][5] == "11:B:1"
        and not [s for s in segs if s[:2] == ["REF", "F8"]]
    )
    assert office.row(number).status == "accepted"
    office.close_night(n2)
    assert [(i.status, i.resolution) for i in office.items(number)] == [("closed", "resolved")]
    office.pay(n3)
    assert office.row(number).status in ("paid", "partially_paid")
    office.close_night(n3)
