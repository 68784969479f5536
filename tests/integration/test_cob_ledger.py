"""Coordination-of-benefits accounting on SQLite and PostgreSQL: an encounter billed to its primary, then
secondary (paid or denied) and tertiary payers books its revenue once (the primary's charge), the
secondary's ``cob:`` transfer moves the primary's patient share to the next payer, claim and patient
balances tie to the ledger to the cent (``close_night`` asserts 0 unexplained balance-proof exceptions),
and a crossover (CLP02 19, NM1*TT) is never ``secondary_due``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from claimflow.db import models as m

from .test_secondary_claims import NIGHT1, QUIET, Office

D = Decimal


@pytest.fixture
def office(claimflow_env: Engine, tmp_path: Path) -> Office:
    return Office(claimflow_env, tmp_path)


def _sum(office: Office, account: str, numbers: list[str], entry_type: str | None = None) -> Decimal:
    with office.engine.connect() as conn:
        ids = [office.row(n).id for n in numbers]
        q = select(func.coalesce(func.sum(m.LedgerEntry.amount), 0)).where(
            m.LedgerEntry.account == account, m.LedgerEntry.claim_id.in_(ids)
        )
        if entry_type:
            q = q.where(m.LedgerEntry.entry_type == entry_type)
        return D(conn.execute(q).scalar_one())


def _patient_row(office: Office, pid: int, day: dt.date) -> tuple[Decimal, Decimal]:
    with office.engine.connect() as conn:
        pb = conn.execute(
            select(m.PatientBalance.patient_balance).where(
                m.PatientBalance.patient_id == pid, m.PatientBalance.run_date == day
            )
        ).scalar_one()
        led = conn.execute(
            select(func.coalesce(func.sum(m.LedgerEntry.amount), 0)).where(
                m.LedgerEntry.patient_id == pid, m.LedgerEntry.account.in_(("ar_patient", "patient_credit"))
            )
        ).scalar_one()
    return D(pb), D(led)


def test_primary_secondary_tertiary_book_revenue_once(office: Office) -> None:
    pid = office.patient(["CI", "CI2", "MB"])
    number = office.claim(pid, [("99213", "", D("180.00")), ("36415", "", D("40.00"))])
    days = [NIGHT1 + dt.timedelta(days=k) for k in range(6)]
    office.send(days[0])
    office.pay(days[1])
    office.close_night(days[1])
    root = office.row(number).id
    sec, ter = f"S{root:08d}", f"T{root:08d}"
    [primary] = office.payments(number)
    office.send(days[2])
    office.pay(days[3])
    office.close_night(days[3])
    [sec_pay] = office.payments(sec)
    assert sec_pay.paid > 0
    # Revenue once; the secondary's ar_payer started at what the primary left the patient (cob:), not CLM02.
    assert _sum(office, "revenue", [number, sec]) == -D("220.00")
    assert _sum(office, "ar_payer", [sec], "cob_transfer") == primary.patient_responsibility
    assert _sum(office, "ar_patient", [number], "cob_transfer") == -primary.patient_responsibility
    b_sec = office.balance(sec, days[3])
    assert b_sec.charge == primary.patient_responsibility
    assert b_sec.insurance_balance == 0 and b_sec.patient_balance == sec_pay.patient_responsibility
    b_pri = office.balance(number, days[3])
    assert (b_pri.patient_responsibility, b_pri.patient_balance, b_pri.secondary_due) == (0, 0, False)
    # Tertiary: takes over what the secondary left; still no new revenue.
    office.send(days[4])
    office.pay(days[5])
    office.close_night(days[5])
    [ter_pay] = office.payments(ter)
    claims = [number, sec, ter]
    assert _sum(office, "revenue", claims) == -D("220.00")
    assert _sum(office, "ar_payer", [ter], "cob_transfer") == sec_pay.patient_responsibility
    total_paid = primary.paid + sec_pay.paid + ter_pay.paid
    assert _sum(office, "cash", claims) == total_paid
    # What is still owed on the encounter = charge − every payer's payment − write-offs posted.
    owed = _sum(office, "ar_payer", claims) + _sum(office, "ar_patient", claims)
    written = _sum(office, "contractual", claims) + _sum(office, "adjustments", claims)
    assert owed == D("220.00") - total_paid - written
    assert office.balance(ter, days[5]).patient_balance == ter_pay.patient_responsibility
    pb, led = _patient_row(office, pid, days[5])
    assert pb == led == ter_pay.patient_responsibility


def test_secondary_denial_does_not_double_write_off(office: Office) -> None:
    pid = office.patient(["MB", "CI2"])
    number = office.claim(pid, [("99214", "", D("210.00"))], dos=NIGHT1 - dt.timedelta(days=200))
    days = [NIGHT1 + dt.timedelta(days=k) for k in range(4)]
    office.send(days[0])
    office.pay(days[1])
    office.close_night(days[1])
    sec = f"S{office.row(number).id:08d}"
    office.send(days[2])
    office.pay(days[3])
    office.close_night(days[3])
    [primary] = office.payments(number)
    assert _sum(office, "revenue", [number, sec]) == -D("210.00")
    # The secondary's CO for the whole CLP03 is posted only for the part cob: moved to it.
    assert _sum(office, "contractual", [sec]) == primary.patient_responsibility
    assert _sum(office, "contractual", [number, sec]) == D("210.00") - primary.paid
    assert office.ledger(sec, "ar_payer") == 0


def test_crossover_is_not_secondary_due(office: Office) -> None:
    pid = office.patient(["MB", "CI2"])
    number = office.claim(pid, [("99213", "", D("150.00"))])
    office.config = replace(QUIET, crossovers=(("SBX03", "SBX02", "ZZTEST SUPPLEMENT"),))
    office.send(NIGHT1)
    day = NIGHT1 + dt.timedelta(days=1)
    office.pay(day)
    [pay] = office.payments(number)
    assert pay.status_code == "19" and pay.patient_responsibility > 0
    office.close_night(day)
    b = office.balance(number, day)
    assert b.secondary_due is False and b.patient_balance == pay.patient_responsibility
    assert [i for i in office.items(number) if i.queue == "secondary_due" and i.status == "open"] == []
    assert _sum(office, "revenue", [number]) == -D("150.00")


def test_analyst_views_show_replacement_and_reference_columns(claimflow_env: Engine) -> None:
    from claimflow.services.analyst import view_name

    with claimflow_env.connect() as conn:
        for view, column in (
            ("submissions", "replaces_submission_id"),
            ("claim_payments", "original_reference_number"),
        ):
            name = view_name(conn.dialect.name, view)
            cols = list(conn.exec_driver_sql(f"SELECT * FROM {name} WHERE 1 = 0").keys())
            assert column in cols, (view, cols)
