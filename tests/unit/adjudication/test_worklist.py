"""Work queues: each source makes exactly one item, later nights update instead of duplicating, resolved
problems close by themselves, and people's actions are audited (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from adjudication.posting import post_remittances
from adjudication.reconcile import reconcile
from adjudication.worklist import (
    WorkItemError,
    add_note,
    assign,
    build_worklist,
    close_item,
    describe,
    list_items,
)
from claimflow.db import models as m

from .builders import D, reversal_of, standard_pay
from .worklist_builders import RUN, denial_pay, every_source, fee, scrub_hold

NEXT = RUN + dt.timedelta(days=1)


def _keys(db: Engine, *, status: str | None = None) -> set[tuple[str, str, str]]:
    stmt = select(m.WorkItem.queue, m.Claim.claim_number, m.WorkItem.reason_key).join(
        m.Claim, m.Claim.id == m.WorkItem.claim_id
    )
    if status:
        stmt = stmt.where(m.WorkItem.status == status)
    with db.connect() as conn:
        return {tuple(r) for r in conn.execute(stmt)}  # type: ignore[misc]


def _item(db: Engine, queue: str, claim_number: str) -> Any:
    with db.connect() as conn:
        row = (
            conn.execute(
                select(*m.WorkItem.__table__.c)
                .join(m.Claim, m.Claim.id == m.WorkItem.claim_id)
                .where(m.WorkItem.queue == queue, m.Claim.claim_number == claim_number)
            )
            .mappings()
            .one()
        )
    return SimpleNamespace(**row)


def _events(db: Engine, item_id: int) -> list[str]:
    with db.connect() as conn:
        return list(
            conn.execute(
                select(m.WorkItemEvent.kind)
                .where(m.WorkItemEvent.work_item_id == item_id)
                .order_by(m.WorkItemEvent.id)
            ).scalars()
        )


def test_every_source_makes_exactly_one_item(engine: Engine) -> None:
    sc = every_source(engine)
    summary = build_worklist(engine, RUN)
    assert _keys(engine) == sc.expected
    assert summary["opened"] == len(sc.expected) and summary["open"] == len(sc.expected)
    assert summary["queues"]["rejections"]["items"] == 2
    n = {k: c.claim_number for k, c in sc.claims.items()}

    denial = _item(engine, "denials", n["denied"])
    assert denial.amount == D("203.00") and denial.next_action == "appeal"
    assert denial.reason_codes == "CO-50,N115"
    assert "medical necessity" in denial.reason and "2 line(s)" in denial.reason
    assert denial.due_date == dt.date(2026, 11, 1) + dt.timedelta(days=90)  # commercial payer default
    assert denial.priority == 3  # 66 days left (more than 60) and $203 (at least $50, under $250)

    under = _item(engine, "underpayments", n["under"])
    assert under.amount == D("18.00")  # fee schedule 130.00 − allowed 112.00
    assert under.next_action == "appeal" and "fee schedule" in under.reason and "99203" in under.reason
    r277 = _item(engine, "rejections", n["r277"])
    assert r277.reason_codes == "277CA A7:21" and "277CA" in r277.reason
    r999 = _item(engine, "rejections", n["r999"])
    assert set(r999.reason_codes.split(",")) == {"999 IK5 R", "IK4 NM1 9 error 7"}
    assert "ZZMEMBER" not in (r999.reason_codes + r999.reason)  # the 999's bad value never leaves its table
    sec = _item(engine, "secondary_due", n["secondary"])
    assert sec.amount == D("10.00") and sec.next_action == "bill_secondary"
    assert sec.payer_id == sc.pr.payer2  # the secondary payer
    assert sec.due_date == dt.date(2026, 11, 1) + dt.timedelta(days=180)  # medicaid default
    credit = _item(engine, "credit_balances", n["credit"])
    assert credit.amount == D("20.00") and credit.next_action == "refund"
    assert credit.due_date == RUN + dt.timedelta(days=60)
    assert _item(engine, "scrub_holds", n["scrub"]).reason_codes == "diagnosis_billable"
    assert _item(engine, "no_response", n["no835"]).next_action == "ask_status"
    for kinds in (_events(engine, i.id) for i in (denial, under, credit)):
        assert kinds == ["opened"]
    line = describe(summary)
    assert line.startswith("9 open work items: ") and "1 denials ($203.00)" in line and "2 rejections" in line
    with engine.connect() as conn:
        audits = conn.execute(
            select(m.AuditLog.action, m.AuditLog.detail).where(m.AuditLog.action == "build_worklist")
        ).all()
    assert len(audits) == 1 and audits[0][1]["opened"] == 9


def test_rerun_and_later_nights_update_instead_of_duplicating(engine: Engine) -> None:
    sc = every_source(engine)
    build_worklist(engine, RUN)
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(m.WorkItemEvent)).scalar_one()
    again = build_worklist(engine, RUN)
    assert (again["opened"], again["updated"], again["closed"], again["reopened"]) == (0, 0, 0, 0)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.WorkItemEvent)).scalar_one() == before
        assert conn.execute(select(func.count()).select_from(m.WorkItem)).scalar_one() == len(sc.expected)

    # The fee schedule goes up: the same item, a new amount, one 'updated' event.
    with engine.begin() as conn:
        conn.execute(update(m.FeeScheduleRate).values(allowed=D("140.00")))
    night2 = build_worklist(engine, NEXT)
    assert night2["opened"] == 0 and night2["updated"] >= 1
    under = _item(engine, "underpayments", sc.claims["under"].claim_number)
    assert under.amount == D("28.00") and under.last_seen == NEXT and under.opened_on == RUN
    assert _events(engine, under.id) == ["opened", "updated"]
    assert _keys(engine) == sc.expected


def test_resolved_problems_close_and_come_back_reopened(engine: Engine) -> None:
    sc = every_source(engine)
    build_worklist(engine, RUN)
    denied, under = sc.claims["denied"], sc.claims["under"]
    # The payer reverses the denial and pays on appeal; the underpaid line is paid at the fee schedule.
    den = denial_pay(denied)
    pr = sc.pr
    pr.remittance(
        [reversal_of(den), standard_pay(denied), standard_pay(under, paid_share=D("0.8125"))],
        payment_date=dt.date(2026, 11, 26),
    )
    post_remittances(engine, actor="test", as_of=dt.date(2026, 11, 26))
    with engine.begin() as conn:  # the scrub finding was fixed and the claim released
        conn.execute(update(m.Claim).where(m.Claim.id == sc.claims["scrub"].id).values(status="ready"))
    reconcile(engine, NEXT)
    night2 = build_worklist(engine, NEXT)
    closed = _keys(engine, status="closed")
    n = {k: c.claim_number for k, c in sc.claims.items()}
    assert {
        ("denials", n["denied"], "denial:CO:medical_necessity"),
        ("scrub_holds", n["scrub"], "scrub"),
    } <= closed
    assert not any(k[0] == "underpayments" and k[1] == n["under"] for k in _keys(engine, status="open"))
    assert night2["closed"] == len(closed)
    item = _item(engine, "scrub_holds", n["scrub"])
    assert item.resolution == "resolved" and _events(engine, item.id) == ["opened", "closed"]

    # The claim fails the scrubber again: the same item reopens (no duplicate).
    scrub_hold(pr, sc.claims["scrub"])
    night3 = build_worklist(engine, NEXT + dt.timedelta(days=1))
    assert night3["reopened"] == 1
    item = _item(engine, "scrub_holds", n["scrub"])
    assert item.status == "open" and _events(engine, item.id) == ["opened", "closed", "reopened"]


def test_assign_note_close_are_audited_and_a_person_closed_item_stays_closed(engine: Engine) -> None:
    sc = every_source(engine)
    build_worklist(engine, RUN)
    item = _item(engine, "denials", sc.claims["denied"].claim_number)
    assign(engine, item.id, "ana", actor="cli:ana")
    add_note(engine, item.id, "called the payer, appeal form requested", actor="cli:ana")
    close_item(engine, item.id, "appeal sent by fax", actor="cli:ana")
    after = _item(engine, "denials", sc.claims["denied"].claim_number)
    assert (after.assignee, after.status, after.resolution) == ("ana", "closed", "closed")
    assert "appeal form requested" in (after.notes or "") and "appeal sent by fax" in (after.notes or "")
    assert _events(engine, item.id) == ["opened", "assigned", "note", "closed"]
    with engine.connect() as conn:
        audits = conn.execute(
            select(m.AuditLog.action, m.AuditLog.object_id, m.AuditLog.detail)
            .where(m.AuditLog.object_type == "work_item")
            .order_by(m.AuditLog.id)
        ).all()
    assert [(a, o) for a, o, _ in audits] == [
        ("work_item_assign", str(item.id)),
        ("work_item_note", str(item.id)),
        ("work_item_close", str(item.id)),
    ]
    assert "appeal form" not in repr([d for _, _, d in audits])  # free text never reaches the audit log
    with pytest.raises(WorkItemError, match="already closed"):
        close_item(engine, item.id, "again", actor="cli:ana")
    with pytest.raises(WorkItemError, match="does not exist"):
        assign(engine, 999999, "bo", actor="cli:bo")
    night2 = build_worklist(engine, NEXT)  # the denial is still on the claim, but a person closed it
    assert (
        night2["reopened"] == 0
        and _item(engine, "denials", sc.claims["denied"].claim_number).status == "closed"
    )
    assert [i["id"] for i in list_items(engine, queue="denials")] == []
    assert [i["id"] for i in list_items(engine, queue="denials", status="all")] == [item.id]


def test_underpaid_against_the_payers_rate_for_the_procedure(engine: Engine) -> None:
    from .builders import Practice

    pr = Practice(engine)
    pid = pr.patient("A0000009")
    first = [pr.claim(pid, [("99214", D("150.00"))]) for _ in range(3)]
    later = pr.claim(pid, [("99214", D("150.00"))])
    odd = pr.claim(pid, [("99215", D("200.00"))])
    pr.remittance(
        [standard_pay(c, paid_share=D("0.60"), pr=D("0.00")) for c in first]
        + [standard_pay(odd, paid_share=D("0.60"), pr=D("0.00"))],
        payment_date=dt.date(2026, 11, 5),
    )
    post_remittances(engine, actor="test", as_of=dt.date(2026, 11, 5))
    pr.remittance(
        [standard_pay(later, paid_share=D("0.50"), pr=D("0.00"))], payment_date=dt.date(2026, 11, 9)
    )
    post_remittances(engine, actor="test", as_of=dt.date(2026, 11, 9))
    build_worklist(engine, RUN)
    got = {(k[0], k[1]) for k in _keys(engine)}
    assert got == {("underpayments", later.claim_number)}
    assert _item(engine, "underpayments", later.claim_number).amount == D(
        "15.00"
    )  # the rate 90.00 (3 of 4 lines) − 75.00
    fee(pr, "99214", D("70.00"))  # a fee schedule rate wins over history: 75.00 is above it
    build_worklist(engine, NEXT)
    assert _item(engine, "underpayments", later.claim_number).status == "closed"


def test_no_phi_in_reasons_and_bad_filters(engine: Engine) -> None:
    every_source(engine)
    build_worklist(engine, RUN)
    for item in list_items(engine, status="all"):
        text = f"{item['reason']} {item['reason_codes']}"
        for phi in ("ZZTESTLAST", "ZZTESTFIRST", "ZZMEMBER", "1970-01-02", "A000000"):
            assert phi not in text
        assert isinstance(item["amount"], Decimal)
    with pytest.raises(WorkItemError, match="unknown queue"):
        list_items(engine, queue="nope")
    assert {i["queue"] for i in list_items(engine, queue="denials")} == {"denials"}


def test_resubmission_answers_and_secondary_claims_close_their_items(engine: Engine) -> None:
    sc = every_source(engine)
    build_worklist(engine, RUN)
    pr, cl = sc.pr, sc.claims
    with engine.begin() as conn:
        # the 999-rejected claim is corrected and sent again (attempt 2)
        conn.execute(
            m.Submission.__table__.insert().values(
                claim_id=cl["r999"].id,
                attempt=2,
                patient_control_number=f"{cl['r999'].claim_number}A2",
                interchange_id=pr.outbound,
                gs06="2",
                st02="0001",
                status="submitted",
                created_at=dt.datetime(2026, 11, 25, 20, 0),
            )
        )
        conn.execute(update(m.Claim).where(m.Claim.id == cl["r999"].id).values(status="submitted"))
        # the secondary claim is created for the claim that had secondary_due
        src = (
            conn.execute(select(*m.Claim.__table__.c).where(m.Claim.id == cl["secondary"].id))
            .mappings()
            .one()
        )
        values = {k: v for k, v in src.items() if k not in ("id", "created_at")}
        values.update(
            claim_number="S" + src["claim_number"][1:],
            responsibility="S",
            payer_id=pr.payer2,
            primary_claim_id=src["id"],
            status="ready",
            total_charge=D("10.00"),
        )
        conn.execute(m.Claim.__table__.insert().values(**values))
    pr.remittance([standard_pay(cl["no835"])], payment_date=dt.date(2026, 11, 25))  # the 835 arrives
    post_remittances(engine, actor="test", as_of=dt.date(2026, 11, 25))
    reconcile(engine, NEXT)
    build_worklist(engine, NEXT)
    n = {k: c.claim_number for k, c in cl.items()}
    closed = _keys(engine, status="closed")
    assert {
        ("rejections", n["r999"], "attempt:1"),
        ("no_response", n["no835"], "no_835"),
        ("secondary_due", n["secondary"], "secondary"),
    } <= closed
    still_open = _keys(engine, status="open")
    assert ("rejections", n["r277"], "attempt:1") in still_open and (
        "no_response",
        n["no277"],
        "no_277ca",
    ) in still_open
    assert not any(k[1] == n["r999"] for k in still_open)
