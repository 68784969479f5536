"""Data quality catches what posting cannot prevent — negative insurance balances, payments above the
charge, cash without a unique trace — fails the nightly check and shows in the run report. Both
backends (the ``engine`` fixture)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, update

from adjudication.posting import post_remittances
from adjudication.reconcile import data_quality_checks, reconcile
from adjudication.report import render_run_report
from claimflow.db import models as m

from .builders import D, Line, Pay, Practice, reversal_of, standard_pay

RUN = dt.date(2026, 11, 25)


def _night(engine: Engine) -> list[str]:
    post_remittances(engine, actor="test", as_of=RUN)
    with engine.begin() as conn:  # every submission answered by a 277CA
        conn.execute(update(m.Submission).values(status="accepted"))
    reconcile(engine, RUN)
    return data_quality_checks(engine, RUN)


def test_clean_books_have_no_problems(engine: Engine) -> None:
    pr = Practice(engine)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))])
    pr.remittance([standard_pay(c)])
    assert _night(engine) == []


def test_payment_above_the_charge(engine: Engine, tmp_path: Path) -> None:
    pr = Practice(engine)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))])
    over = Pay(
        pcn=c.pcn, lines=[Line("99213", D("100.00"), D("120.00"), [("CO", "45", D("-20.00"))], c.lines[0][1])]
    )
    pr.remittance([over])
    problems = _night(engine)  # balanced by a negative CO: the insurance balance is 0, the payment is wrong
    assert problems == [
        f"1 claim(s) paid more than their charge by their not reversed payments (claim ids {c.id})"
    ]
    assert all(c.pcn not in p and c.claim_number not in p for p in problems)
    report = render_run_report(engine, RUN, tmp_path / "run.html").read_text(encoding="utf-8")
    assert "<h2>Data quality</h2>" in report and "1 problem(s)" in report
    assert "paid more than their charge" in report
    # The payer takes it back: nothing left to flag.
    pr.remittance([reversal_of(over)])
    assert _night(engine) == []


def test_negative_insurance_balance_alone(engine: Engine) -> None:
    pr = Practice(engine)
    c = pr.claim(pr.patient("A0000001", secondary=True), [("99213", D("100.00"))])
    pr.remittance([standard_pay(c, pr=D("0.00"))])  # paid 70, CO-45 30
    secondary = Pay(
        pcn=c.pcn,
        status="2",
        lines=[Line("99213", D("100.00"), D("20.00"), [("CO", "45", D("80.00"))], c.lines[0][1])],
    )
    pr.remittance([secondary], payer_identifier="SBX05")
    problems = _night(engine)  # paid 90 ≤ 100, but 100 − 90 − 110 < 0
    assert problems == [
        f"1 claim(s) with a negative insurance balance on {RUN.isoformat()} (claim ids {c.id})"
    ]


def test_same_payer_and_trace_twice(engine: Engine) -> None:
    pr = Practice(engine)
    pid = pr.patient("A0000001")
    a, b, c = (pr.claim(pid, [("99213", D("100.00"))]) for _ in range(3))
    # Rows as a loader before migration 0004 could store them (no trace_payer, same TRN02).
    first = pr.remittance([standard_pay(a)], trace_number="EFT0001")["remittance"]
    second = pr.remittance([standard_pay(b)], trace_number="EFT0001")["remittance"]
    pr.remittance([standard_pay(c)], trace_number="EFT0001", payer_identifier="SBX05")  # another payer
    problems = _night(engine)
    assert problems == [
        f"2 remittance(s) share a payer + trace number (TRN02) with another: the same payment "
        f"stored twice (remittance ids {first}, {second})"
    ]


def test_cash_from_a_remittance_without_trace(engine: Engine) -> None:
    pr = Practice(engine)
    pid = pr.patient("A0000001")
    c = pr.claim(pid, [("99213", D("100.00"))])
    d = pr.claim(pid, [("99213", D("100.00"))])
    untraced = pr.remittance([standard_pay(c)], trace_number=None)["remittance"]
    # Nothing paid, no cash: not a problem even without a trace.
    pr.remittance(
        [
            Pay(
                pcn=d.pcn,
                status="4",
                lines=[Line("99213", D("100.00"), D("0.00"), [("CO", "50", D("100.00"))], d.lines[0][1])],
            )
        ],
        trace_number=None,
    )
    assert _night(engine) == [
        f"1 remittance(s) without a trace number (TRN02) posted cash (remittance ids {untraced})"
    ]
