"""277CA rejections above claim level (2200B batch, 2200C billing provider) and below it (2220D line)
apply to every claim they cover. Both backends (the ``engine`` fixture)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from adjudication.acks import apply_acknowledgments
from claimflow.db import models as m

from .builders import ClaimRef, D, Practice

OTHER_NPI = "1999999984"


def _inbound(conn: Any) -> int:
    return int(
        conn.execute(
            insert(m.Interchange).values(
                direction="in",
                sha256=uuid.uuid4().hex,
                bytes=1,
                file_name="in.277",
                status="loaded",
                transaction_type="277CA",
            )
        ).inserted_primary_key[0]
    )


def _in_one_837(engine: Engine, st02: str, *claims: ClaimRef) -> str:
    """Put the claims' submissions in transaction set ``st02`` of the Practice's outbound interchange;
    returns that 837's BHT03 as claimflow writes it (``CF`` + ISA13 + ST02)."""
    with engine.begin() as conn:
        conn.execute(
            update(m.Submission).where(m.Submission.claim_id.in_([c.id for c in claims])).values(st02=st02)
        )
    return f"CF000000001{st02}"


def _status(engine: Engine, *claims: ClaimRef) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.Claim.status, m.Submission.status)
            .join(m.Submission, m.Submission.claim_id == m.Claim.id)
            .where(m.Claim.id.in_([c.id for c in claims]))
            .order_by(m.Claim.id)
        ).all()
    return [(str(a), str(b)) for a, b in rows]


def _level_row(
    conn: Any,
    ic: int,
    seg: int,
    level: str,
    category: str,
    accepted: bool | None,
    trace: str | None,
    npi: str | None = None,
    st02: str = "0001",
) -> None:
    conn.execute(
        insert(m.ClaimStatusRecord).values(
            interchange_id=ic,
            st02=st02,
            segment_no=seg,
            level=level,
            category=category,
            status_code="24",
            accepted=accepted,
            trace_number=trace,
            entity_identifier=npi,
        )
    )


def test_2200b_rejection_rejects_every_claim_of_that_837(engine: Engine) -> None:
    pr = Practice(engine)
    pid = pr.patient("A0000001")
    a, b, other = (pr.claim(pid, [("99213", D("100.00"))]) for _ in range(3))
    bht03 = _in_one_837(engine, "0101", a, b)
    _in_one_837(engine, "0102", other)
    with engine.begin() as conn:
        ic = _inbound(conn)
        _level_row(conn, ic, 8, "batch", "A3", False, bht03)  # STC03 = U, no 2000D loops
    result = apply_acknowledgments(engine, actor="test")
    assert result["rejected_277ca_batch"] == 2 and result["claims_rejected"] == 2
    assert result["rejected"] == 2 and result["levels_unmatched"] == 0
    assert _status(engine, a, b, other) == [("rejected", "rejected")] * 2 + [("submitted", "submitted")]
    again = apply_acknowledgments(engine, actor="test")
    assert again["rejected"] == 0 and again["rejected_277ca_batch"] == 0
    with engine.connect() as conn:
        assert conn.execute(select(m.ClaimStatusRecord.applied_at)).scalar_one() is not None


def test_2200c_rejection_rejects_that_providers_claims_in_that_837(engine: Engine) -> None:
    pr = Practice(engine)
    pid = pr.patient("A0000001")
    mine, theirs, elsewhere = (pr.claim(pid, [("99213", D("100.00"))]) for _ in range(3))
    with engine.begin() as conn:
        other = int(
            conn.execute(
                insert(m.Provider).values(
                    npi=OTHER_NPI, entity_type="2", role="billing", last_name="ZZTEST OTHER CLINIC"
                )
            ).inserted_primary_key[0]
        )
        conn.execute(update(m.Claim).where(m.Claim.id == theirs.id).values(billing_provider_id=other))
    bht03 = _in_one_837(engine, "0201", mine, theirs)
    _in_one_837(engine, "0202", elsewhere)
    with engine.begin() as conn:
        ic = _inbound(conn)
        # 2200B accepted (the batch as such), its 2200C for our clinic's NPI rejected.
        _level_row(conn, ic, 8, "batch", "A1", True, bht03)
        _level_row(conn, ic, 14, "provider", "A3", False, "PRV0000301", npi="1234567893")
        # A 2200C of another transaction set in the same file (its 2200B names no 837 of ours).
        _level_row(conn, ic, 30, "batch", "A1", True, "NOTOURS01", st02="0002")
        _level_row(conn, ic, 34, "provider", "A3", False, "PRV0000302", npi="1234567893", st02="0002")
    result = apply_acknowledgments(engine, actor="test")
    assert result["rejected_277ca_provider"] == 1 and result["rejected_277ca_batch"] == 0
    assert result["levels_unmatched"] == 1
    assert _status(engine, mine, theirs, elsewhere) == [
        ("rejected", "rejected"),
        ("submitted", "submitted"),
        ("submitted", "submitted"),
    ]
    assert apply_acknowledgments(engine, actor="test")["rejected"] == 0


def test_rejection_above_claim_level_never_rewinds_a_paid_claim(engine: Engine) -> None:
    pr = Practice(engine)
    pid = pr.patient("A0000001")
    paid = pr.claim(pid, [("99213", D("100.00"))], status=m.ClaimStatus.PAID)
    accepted = pr.claim(pid, [("99213", D("100.00"))], status=m.ClaimStatus.ACCEPTED)
    bht03 = _in_one_837(engine, "0301", paid, accepted)
    with engine.begin() as conn:
        _level_row(conn, _inbound(conn), 8, "batch", "A3", False, bht03)
    result = apply_acknowledgments(engine, actor="test")
    assert result["rejected_277ca_batch"] == 2 and result["claims_rejected"] == 1
    assert _status(engine, paid, accepted) == [("paid", "rejected"), ("rejected", "rejected")]


def test_claim_rejected_only_on_a_service_line_is_rejected(engine: Engine) -> None:
    pr = Practice(engine)
    pid = pr.patient("A0000001")
    line_rejected, fine = (pr.claim(pid, [("99213", D("100.00"))]) for _ in range(2))
    with engine.begin() as conn:
        ic = _inbound(conn)
        # The claim's STC accepts (A1); a 2220D STC rejects: the parser reports accepted = false.
        for seg, (c, accepted) in enumerate(((line_rejected, False), (fine, True)), start=10):
            conn.execute(
                insert(m.ClaimStatusRecord).values(
                    interchange_id=ic,
                    st02="0001",
                    segment_no=seg,
                    level="claim",
                    patient_control_number=c.pcn,
                    category="A1",
                    status_code="19",
                    accepted=accepted,
                )
            )
    result = apply_acknowledgments(engine, actor="test")
    assert result["rejected_277ca"] == 1 and result["accepted"] == 1
    assert _status(engine, line_rejected, fine) == [("rejected", "rejected"), ("accepted", "accepted")]


def test_loaded_277ca_rejecting_a_whole_837_applies(claimflow_env: Engine, tmp_path: Path) -> None:
    """End to end through the loader: the 2200B TRN02 and 2100C NM109 are stored and used."""
    from claimflow.services.inbound import load_files

    engine = claimflow_env
    pr = Practice(engine)
    pid = pr.patient("A0000001")
    a, b = (pr.claim(pid, [("99213", D("100.00"))]) for _ in range(2))
    bht03 = _in_one_837(engine, "0401", a, b)
    body = [
        "ST*277*0001*005010X214",
        "BHT*0085*08*ACK20260115*20260115*1015*TH",
        "HL*1**20*1",
        "NM1*PR*2*ACME HEALTH PLAN*****PI*ACME01",
        "TRN*1*ACK0000302",
        "DTP*050*D8*20260115",
        "DTP*009*D8*20260115",
        "HL*2*1*21*1",
        "NM1*41*2*CLAIMFLOW CLEARINGHOUSE*****46*CLAIMFLOW",
        f"TRN*2*{bht03}",
        "STC*A1:19:PR*20260115*WQ*200",
        "QTY*90*0",
        "HL*3*2*19*0",
        "NM1*85*2*SUNRISE FAMILY CLINIC*****XX*1234567893",
        "TRN*1*PRV0000302",
        "STC*A3:24:85*20260115*U*200",
        "QTY*QC*2",
        "AMT*YY*200",
    ]
    body.append(f"SE*{len(body) + 1}*0001")
    text = (
        "~\n".join(
            [
                "ISA*00*          *00*          *ZZ*ACMEHEALTH     *ZZ*CLAIMFLOW      *260115*1015*^*00501*000000302*0*P*:",
                "GS*HN*ACMEHEALTH*CLAIMFLOW*20260115*1015*302*X*005010X214",
                *body,
                "GE*1*302",
                "IEA*1*000000302",
            ]
        )
        + "~\n"
    )
    path = tmp_path / "reject_batch.277"
    path.write_text(text)
    outcomes = load_files([path], actor="test")
    assert [o.status for o in outcomes] == ["loaded"], outcomes
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                m.ClaimStatusRecord.level,
                m.ClaimStatusRecord.trace_number,
                m.ClaimStatusRecord.entity_identifier,
            ).order_by(m.ClaimStatusRecord.segment_no)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("batch", bht03, "CLAIMFLOW"),
        ("provider", "PRV0000302", "1234567893"),
    ]
    result = apply_acknowledgments(engine, actor="test")
    assert result["rejected_277ca_provider"] == 2 and result["claims_rejected"] == 2
    assert _status(engine, a, b) == [("rejected", "rejected")] * 2
