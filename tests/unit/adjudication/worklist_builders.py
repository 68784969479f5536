"""Test helpers for the work queues: one practice with one claim per work-queue source, built through the
real posting, acknowledgment and reconciliation code wherever the source has one."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert, update

from adjudication.acks import apply_acknowledgments
from adjudication.posting import post_remittances
from adjudication.reconcile import reconcile
from claimflow.db import models as m

from .builders import ClaimRef, Line, Pay, Practice, standard_pay

D = Decimal
RUN = dt.date(2026, 11, 25)


@dataclass
class Scenario:
    pr: Practice
    claims: dict[str, ClaimRef]
    expected: set[tuple[str, str, str]]  # (queue, claim_number, reason_key)


def scrub_hold(pr: Practice, c: ClaimRef, rule: str = "diagnosis_billable") -> None:
    with pr.engine.begin() as conn:
        conn.execute(update(m.Claim).where(m.Claim.id == c.id).values(status="scrub_failed"))
        conn.execute(
            insert(m.ScrubResult).values(
                claim_id=c.id, rule=rule, reason="diagnosis 1 (HI01) is a category", run_id="test"
            )
        )


def reject_277ca(pr: Practice, c: ClaimRef, category: str = "A7", status_code: str = "21") -> None:
    with pr.engine.begin() as conn:
        ic = conn.execute(
            insert(m.Interchange).values(
                direction="in",
                sha256=uuid.uuid4().hex,
                bytes=1,
                file_name="in.277",
                status="loaded",
                transaction_type="277CA",
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(m.ClaimStatusRecord).values(
                interchange_id=ic,
                st02="0001",
                segment_no=20,
                level="claim",
                patient_control_number=c.pcn,
                category=category,
                status_code=status_code,
                accepted=category in ("A1", "A2", "A5"),
                status_date=dt.date(2026, 11, 3),
            )
        )
    apply_acknowledgments(pr.engine, actor="test")


def accept_277ca(pr: Practice, c: ClaimRef) -> None:
    reject_277ca(pr, c, category="A1", status_code="20")


def reject_999(pr: Practice, c: ClaimRef) -> None:
    with pr.engine.begin() as conn:
        ic = conn.execute(
            insert(m.Interchange).values(
                direction="in",
                sha256=uuid.uuid4().hex,
                bytes=1,
                file_name="in.999",
                status="loaded",
                transaction_type="999",
            )
        ).inserted_primary_key[0]
        st02 = f"{int(c.claim_number[1:]):04d}"
        ack = conn.execute(
            insert(m.Acknowledgment).values(
                interchange_id=ic,
                kind="999_set",
                segment_no=5,
                acked_gs06="1",
                acked_st02=st02,
                acked_transaction="837",
                code="R",
                accepted=False,
                error_count=1,
                matched_interchange_id=pr.outbound,
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(m.AcknowledgmentError).values(
                acknowledgment_id=ack,
                level="IK4",
                segment_id="NM1",
                segment_position=12,
                element_position="9",
                error_code="7",
                bad_value="ZZMEMBER01",
            )
        )
    apply_acknowledgments(pr.engine, actor="test")


def denial_pay(c: ClaimRef, code: str = "50") -> Pay:
    """Every line denied CO-<code>, with a RARC on the claim."""
    return Pay(
        pcn=c.pcn,
        status="4",
        lines=[
            Line(proc, charge, D("0.00"), [("CO", code, charge)], lcn) for _, lcn, proc, charge in c.lines
        ],
    )


def add_rarc(pr: Practice, claim_payment_id: int, code: str = "N115") -> None:
    with pr.engine.begin() as conn:
        conn.execute(
            insert(m.RemarkCode).values(
                claim_payment_id=claim_payment_id, segment_no=99, position=1, source="MOA", code=code
            )
        )


def fee(pr: Practice, procedure: str, allowed: Decimal, payer_id: int | None = None) -> None:
    with pr.engine.begin() as conn:
        conn.execute(
            insert(m.FeeScheduleRate).values(payer_id=payer_id, procedure_code=procedure, allowed=allowed)
        )


def every_source(db: Engine) -> Scenario:
    """One claim per source; posts, applies acknowledgments and reconciles as of :data:`RUN`."""
    pr = Practice(db)
    p1 = pr.patient("A0000001", secondary=True)
    p2 = pr.patient("A0000002")
    sent = dt.datetime(2026, 11, 2, 20, 0)
    cl: dict[str, ClaimRef] = {}
    cl["scrub"] = pr.claim(p2, [("99213", D("125.00"))], status="ready")
    cl["r277"] = pr.claim(p2, [("99213", D("125.00"))], submitted=sent)
    cl["r999"] = pr.claim(p2, [("99212", D("90.00"))], submitted=sent)
    cl["denied"] = pr.claim(p2, [("99214", D("185.00")), ("36415", D("18.00"))], submitted=sent)
    cl["under"] = pr.claim(p2, [("99203", D("160.00"))], submitted=sent)
    cl["no277"] = pr.claim(p2, [("93000", D("65.00"))], submitted=dt.datetime(2026, 10, 20, 20, 0))
    cl["no835"] = pr.claim(p2, [("93000", D("66.00"))], submitted=dt.datetime(2026, 9, 1, 20, 0))
    cl["secondary"] = pr.claim(p1, [("99215", D("250.00"))], submitted=sent)
    cl["credit"] = pr.claim(p2, [("99211", D("50.00"))], submitted=sent)
    cl["clean"] = pr.claim(
        p2, [("99213", D("126.00"))], submitted=sent
    )  # paid in full of its allowed: no item
    scrub_hold(pr, cl["scrub"])
    reject_277ca(pr, cl["r277"])
    reject_999(pr, cl["r999"])
    accept_277ca(pr, cl["no835"])
    fee(pr, "99203", D("130.00"))
    den = pr.remittance(
        [
            denial_pay(cl["denied"]),
            standard_pay(cl["under"]),
            standard_pay(cl["secondary"]),
            standard_pay(cl["credit"], paid_share=D("1.00"), pr=D("0.00")),
            standard_pay(cl["clean"], paid_share=D("1.00"), pr=D("0.00")),
        ],
        plb=[("FB", cl["credit"].pcn, D("-20.00"))],  # the payer sent $20 more: a credit
        payment_date=dt.date(2026, 11, 10),
    )
    add_rarc(pr, den["claim_payments"][0])
    post_remittances(db, actor="test", as_of=dt.date(2026, 11, 10))
    reconcile(db, RUN)
    n = {k: c.claim_number for k, c in cl.items()}
    expected = {
        ("scrub_holds", n["scrub"], "scrub"),
        ("rejections", n["r277"], "attempt:1"),
        ("rejections", n["r999"], "attempt:1"),
        ("denials", n["denied"], "denial:CO:medical_necessity"),
        ("underpayments", n["under"], f"line:{cl['under'].lines[0][0]}"),
        ("no_response", n["no277"], "no_277ca"),
        ("no_response", n["no835"], "no_835"),
        ("secondary_due", n["secondary"], "secondary"),
        ("credit_balances", n["credit"], "insurance_credit"),
    }
    return Scenario(pr, cl, expected)


def items(db: Engine) -> list[dict[str, Any]]:
    """Every work item with its claim number, as dicts (Decimal money)."""
    from adjudication.worklist import list_items

    return list_items(db, status="all")
