"""Applying 999 / TA1 / 277CA acknowledgments to submissions and claims."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, insert, select

from adjudication.acks import apply_acknowledgments
from claimflow.db import models as m

from .builders import D, Practice


def _inbound(conn: Any, kind: str) -> int:
    return int(
        conn.execute(
            insert(m.Interchange).values(
                direction="in",
                sha256=uuid.uuid4().hex,
                bytes=1,
                file_name=f"in.{kind}",
                status="loaded",
                transaction_type=kind,
            )
        ).inserted_primary_key[0]
    )


def _statuses(engine: Engine, *claim_ids: int) -> list[tuple[str, str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.Claim.status, m.Submission.status, m.Claim.payer_claim_number)
            .join(m.Submission, m.Submission.claim_id == m.Claim.id)
            .where(m.Claim.id.in_(claim_ids))
            .order_by(m.Claim.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_277ca_accepts_and_rejects_and_is_idempotent(db: Engine) -> None:
    pr = Practice(db)
    pid = pr.patient("A0000001")
    ok, bad, both = (pr.claim(pid, [("99213", D("100.00"))]) for _ in range(3))
    with db.begin() as conn:
        ic = _inbound(conn, "277CA")
        rows = [
            (ok.pcn, "A2", True, "ICN-OK"),
            (bad.pcn, "A7", False, None),
            (both.pcn, "A1", True, None),
            (both.pcn, "A7", False, None),
            ("NOT-OURS-1", "A2", True, "ICN-X"),
        ]
        for seg, (pcn, cat, accepted, icn) in enumerate(rows, start=10):
            conn.execute(
                insert(m.ClaimStatusRecord).values(
                    interchange_id=ic,
                    st02="0001",
                    segment_no=seg,
                    level="claim",
                    patient_control_number=pcn,
                    payer_claim_number=icn,
                    category=cat,
                    status_code="20",
                    accepted=accepted,
                )
            )
        conn.execute(
            insert(m.ClaimStatusRecord).values(
                interchange_id=ic, st02="0001", segment_no=5, level="batch", category="A1", accepted=True
            )
        )
    result = apply_acknowledgments(db, actor="test")
    assert result["accepted"] == 1 and result["rejected_277ca"] == 2 and result["unmatched"] == 1
    assert _statuses(db, ok.id, bad.id, both.id) == [
        ("accepted", "accepted", "ICN-OK"),
        ("rejected", "rejected", None),
        ("rejected", "rejected", None),
    ]
    again = apply_acknowledgments(db, actor="test")
    assert again["accepted"] == 0 and again["rejected"] == 0 and again["unmatched"] == 0
    with db.connect() as conn:
        applied = (
            conn.execute(
                select(m.ClaimStatusRecord.claim_id)
                .where(m.ClaimStatusRecord.level == "claim")
                .order_by(m.ClaimStatusRecord.segment_no)
            )
            .scalars()
            .all()
        )
    assert applied == [ok.id, bad.id, both.id, both.id, None]


def test_999_set_rejection_rejects_the_submissions_of_that_transaction_set(db: Engine) -> None:
    pr = Practice(db)
    pid = pr.patient("A0000001")
    a = pr.claim(pid, [("99213", D("100.00"))])
    b = pr.claim(pid, [("99213", D("100.00"))])
    with db.begin() as conn:
        st02 = conn.execute(select(m.Submission.st02).where(m.Submission.claim_id == a.id)).scalar_one()
        ic = _inbound(conn, "999")
        conn.execute(
            insert(m.Acknowledgment).values(
                interchange_id=ic,
                kind="999_set",
                segment_no=4,
                acked_gs06="1",
                acked_st02=st02,
                acked_transaction="837",
                code="R",
                accepted=False,
                error_count=1,
            )
        )
    result = apply_acknowledgments(db, actor="test")
    assert result["rejected_999"] == 1 and result["claims_rejected"] == 1
    assert _statuses(db, a.id, b.id) == [("rejected", "rejected", None), ("submitted", "submitted", None)]
    assert apply_acknowledgments(db, actor="test")["rejected"] == 0


def test_ta1_rejection_rejects_the_whole_interchange(db: Engine) -> None:
    pr = Practice(db)
    pid = pr.patient("A0000001")
    a = pr.claim(pid, [("99213", D("100.00"))])
    b = pr.claim(pid, [("99213", D("100.00"))])
    with db.begin() as conn:
        ic = _inbound(conn, "TA1")
        conn.execute(
            insert(m.Acknowledgment).values(
                interchange_id=ic,
                kind="TA1",
                segment_no=2,
                acked_isa13="000000001",
                code="R",
                accepted=False,
                note_code="006",
                error_count=1,
            )
        )
    result = apply_acknowledgments(db, actor="test")
    assert result["rejected_ta1"] == 2
    assert [s[0] for s in _statuses(db, a.id, b.id)] == ["rejected", "rejected"]


def test_acceptance_never_rewinds_an_adjudicated_claim(db: Engine) -> None:
    pr = Practice(db)
    c = pr.claim(pr.patient("A0000001"), [("99213", D("100.00"))], status=m.ClaimStatus.PAID)
    with db.begin() as conn:
        ic = _inbound(conn, "277CA")
        conn.execute(
            insert(m.ClaimStatusRecord).values(
                interchange_id=ic,
                st02="0001",
                segment_no=9,
                level="claim",
                patient_control_number=c.pcn,
                category="A2",
                accepted=True,
                payer_claim_number="ICN-9",
            )
        )
    apply_acknowledgments(db, actor="test")
    assert _statuses(db, c.id) == [("paid", "accepted", "ICN-9")]
