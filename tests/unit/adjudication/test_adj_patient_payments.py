"""Patient payment CSV import: validation by line, idempotence by external id, ledger application."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from adjudication.errors import PaymentFileError
from adjudication.patient_payments import import_payments_csv, refund_patient_credits
from adjudication.posting import post_remittances
from adjudication.reconcile import reconcile
from claimflow.db import models as m

from .builders import D, Practice, balance, ledger, standard_pay

AS_OF = dt.date(2026, 11, 25)
HEADER = "external_id,account_number,claim_number,amount,received_on,method\n"


def _setup(db: Engine) -> tuple[Practice, int, object, object]:
    pr = Practice(db)
    pid = pr.patient("A0000042")
    pr.patient("A0000043")
    old = pr.claim(pid, [("99213", D("100.00"))], service_date=dt.date(2026, 10, 1))
    new = pr.claim(pid, [("99214", D("200.00"))], service_date=dt.date(2026, 11, 1))
    pr.remittance([standard_pay(old, pr=D("30.00")), standard_pay(new, pr=D("25.00"))])
    post_remittances(db, actor="test", as_of=AS_OF)
    return pr, pid, old, new


def test_import_is_idempotent_and_reports_bad_lines(db: Engine, tmp_path: Path) -> None:
    _, pid, old, new = _setup(db)
    csv = tmp_path / "payments.csv"
    csv.write_text(
        HEADER
        + f"PP-1,A0000042,{new.claim_number},20.00,2026-11-24,card\n"  # type: ignore[attr-defined]
        + "PP-2,A0000042,,25,2026-11-24,cash\n"
        + "PP-3,A0000042,,12.345,2026-11-24,cash\n"
        + "PP-4,A9999999,,10.00,2026-11-24,cash\n"
        + "PP-1,A0000042,,5.00,2026-11-24,cash\n"
        + "PP-5,A0000043,C00000001,5.00,2026-11-24,cash\n"
        + "PP-6,A0000042,,-5.00,11/24/2026,cash\n"
        + "\n",
        encoding="utf-8",
    )
    result = import_payments_csv(db, csv, actor="test")
    assert {k: result[k] for k in ("rows", "imported", "already_known", "rejected", "amount")} == {
        "rows": 7,
        "imported": 2,
        "already_known": 0,
        "rejected": 5,
        "amount": "45.00",
    }
    assert result["errors"] == [
        "line 4: amount is not a positive amount with at most two decimals",
        "line 5: account_number matches no patient",
        "line 6: external_id repeats the one on line 2",
        "line 7: claim_number belongs to another patient's claim",
        "line 8: amount is not a positive amount with at most two decimals",
        "line 8: received_on is not a YYYY-MM-DD date",
    ]
    assert not any("A9999999" in e or "12.345" in e for e in result["errors"])  # no values echoed
    # PP-1 (20.00) goes to the named claim (25.00 open); PP-2 (25.00) to the oldest open claim (30.00).
    assert balance(db, "ar_patient", claim_id=new.id) == D("5.00")  # type: ignore[attr-defined]
    assert balance(db, "ar_patient", claim_id=old.id) == D("5.00")  # type: ignore[attr-defined]
    assert balance(db, "cash", patient_id=pid, entry_type="patient_payment") == D("45.00")
    n_ledger = len(ledger(db))

    again = import_payments_csv(db, csv, actor="test")
    assert (again["imported"], again["already_known"], again["rejected"], again["amount"]) == (
        0,
        2,
        5,
        "0.00",
    )
    assert len(ledger(db)) == n_ledger
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.PatientPayment)).scalar_one() == 2
        audits = conn.execute(
            select(m.AuditLog.object_type, m.AuditLog.detail).where(
                m.AuditLog.action == "import_patient_payments"
            )
        ).all()
    assert len(audits) == 2 and audits[0][0] == "file" and audits[0][1]["imported"] == 2


def test_overpayment_becomes_a_credit_and_a_refund_only_on_request(db: Engine, tmp_path: Path) -> None:
    _, pid, _old, _new = _setup(db)  # open patient balances 30 + 25
    csv = tmp_path / "over.csv"
    csv.write_text(HEADER + "PP-9,A0000042,,70.00,2026-11-24,check\n", encoding="utf-8")
    result = import_payments_csv(db, csv, actor="test")
    assert result["applied"] == "55.00" and result["unapplied_credit"] == "15.00"
    assert balance(db, "ar_patient", patient_id=pid) == D("0.00")
    assert balance(db, "patient_credit", patient_id=pid) == D("-15.00")
    keys = sorted({k for k, _, _, _ in ledger(db, entry_type="patient_payment")})
    assert keys == ["ppay:1:1", "ppay:1:2", "ppay:1:3"]
    s = reconcile(db, AS_OF)
    assert s["balance_exceptions"] == 0
    assert s["patient_balance_total"] == "-15.00" and s["unapplied_credit"] == "15.00"  # a credit
    refunded = refund_patient_credits(db, as_of=AS_OF, actor="test")
    assert refunded == {"patients": 1, "amount": "15.00"}
    assert refund_patient_credits(db, as_of=AS_OF, actor="test") == {"patients": 0, "amount": "0.00"}
    s = reconcile(db, AS_OF)
    assert (
        s["balance_exceptions"] == 0 and s["refunds_due"] == "15.00" and s["patient_balance_total"] == "0.00"
    )


def test_payment_before_the_remittance_is_applied_when_it_arrives(db: Engine, tmp_path: Path) -> None:
    pr = Practice(db)
    pid = pr.patient("A0000042")
    a = pr.claim(pid, [("99213", D("100.00"))], service_date=dt.date(2026, 10, 1))
    b = pr.claim(pid, [("99214", D("200.00"))], service_date=dt.date(2026, 11, 1))
    csv = tmp_path / "front-desk.csv"
    csv.write_text(
        HEADER + f"PP-1,A0000042,{a.claim_number},40.00,2026-10-01,card\n"
        "PP-2,A0000042,,25.00,2026-10-02,cash\n",
        encoding="utf-8",
    )
    result = import_payments_csv(db, csv, actor="test")
    assert result["applied"] == "40.00" and result["unapplied_credit"] == "25.00"
    assert balance(db, "ar_patient", claim_id=a.id) == D("-40.00")  # copay collected before adjudication
    # The 835 arrives: claim a leaves 30.00 to the patient (10.00 overpaid), claim b 50.00.
    pr.remittance([standard_pay(a, pr=D("30.00")), standard_pay(b, pr=D("50.00"))])
    posted = post_remittances(db, actor="test", as_of=AS_OF)
    assert posted["credit_swept"] == "10.00" and posted["credit_applied"] == "35.00"
    assert balance(db, "ar_patient", claim_id=a.id) == D("0.00")
    assert balance(db, "ar_patient", claim_id=b.id) == D("15.00")
    assert balance(db, "patient_credit", patient_id=pid) == D("0.00")
    s = reconcile(db, AS_OF)
    assert s["balance_exceptions"] == 0, s["balance_exceptions_by_kind"]
    assert s["patient_responsibility"] == "80.00" and s["patient_payments"] == "65.00"
    assert s["patient_balance_total"] == "15.00"


def test_bad_header_is_refused(db: Engine, tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("id,amount\n1,2.00\n", encoding="utf-8")
    with pytest.raises(PaymentFileError, match="external_id"):
        import_payments_csv(db, csv, actor="test")
