"""Eligibility end to end on both backends: generate-270 → (a payer's) 271 → load → coverage tables."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, func, select

from claimflow.cli import main
from claimflow.db import models as m
from claimflow.sandbox.seed import seed_practice
from edi.claim import InterchangeParties
from edi.envelope import EnvelopeWriter
from edi.reader import iter_segments
from edi.validate import validate_x12

AS_OF = dt.date(2026, 11, 25)


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _traces(path: Path) -> list[str]:
    return [el[2] for _n, el in iter_segments(path) if el[0] == "TRN"]


def _from_payer(body: list[str], *, isa13: int, gs01: str, gs06: int, st01: str, version: str) -> bytes:
    """One transaction set (``body``: BHT to the last segment before SE) enveloped as the sandbox payer
    sends it back to us."""
    w = EnvelopeWriter(
        InterchangeParties("ZZ", "SANDBOXCH", "ZZ", "CLAIMFLOW01"), isa13, dt.datetime(2026, 11, 25, 12)
    )
    w.begin_group(gs01, version, gs06)
    w.begin_transaction(st01, 1, version)
    w.add("".join(s + "~" for s in body), len(body))
    w.end_transaction()
    w.end_group()
    w.end_interchange()
    return w.text().encode()


def _answer(traces: list[str]) -> bytes:
    """A payer's 271: first trace active with benefits, second inactive, third not found (AAA 75)."""
    body = [
        "BHT*0022*11*R1*20261125*1200",
        "HL*1**20*1",
        "NM1*PR*2*PAYER*****PI*P1",
        "HL*2*1*21*1",
        "NM1*1P*2*CLINIC*****XX*1234567893",
    ]
    hl = 2
    for i, trace in enumerate(traces[:3]):
        hl += 1
        body += [f"HL*{hl}*2*22*0", f"TRN*2*{trace}*9PAYERSBOX", "NM1*IL*1*X*Y****MI*M1"]
        if i == 0:
            body += [
                "DTP*346*D8*20260101",
                "EB*1**30**SILVER HMO",
                "EB*C*IND*30***29*250.00",
                "EB*G*IND*30***29*1800.50",
                "EB*B*IND*98***27*30.00",
                "EB*A*IND*30***27**0.15",
            ]
        elif i == 1:
            body += ["DTP*346*D8*20250101", "DTP*347*D8*20251031", "EB*6**30"]
        else:
            body += ["AAA*Y**75*C"]
    return _from_payer(body, isa13=555, gs01="HB", gs06=9, st01="271", version="005010X279A1")


def test_generate_270_load_271(claimflow_env: Engine, tmp_path: Path) -> None:
    engine = claimflow_env
    seed_practice(engine, patients=12, claims=30, seed=11, as_of=AS_OF)
    out = tmp_path / "out"
    code, text, err = _cli("generate-270", "--out", str(out), "--days-ahead", "7")
    assert code == 0, err
    result = json.loads(text)
    assert result["inquiries"] > 3 and result["files"]
    with engine.connect() as conn:
        expected = conn.execute(
            select(func.count(func.distinct(m.Claim.coverage_id))).where(
                m.Claim.status == m.ClaimStatus.READY
            )
        ).scalar_one()
        checks = conn.execute(select(func.count()).select_from(m.EligibilityCheck)).scalar_one()
    assert result["inquiries"] == expected == checks
    traces: list[str] = []
    for f in result["files"]:
        path = Path(f)
        assert path.name.startswith("eligibility-") and path.suffix == ".270"
        report = validate_x12(path)
        assert report.ok, [e.line(path.name) for e in report.errors]
        traces += _traces(path)
    assert len(traces) == result["inquiries"] and all(t.startswith("CF") for t in traces)

    answer = tmp_path / "answer.271"
    answer.write_bytes(_answer(traces))
    assert validate_x12(answer).ok
    code, text, err = _cli("load", str(answer))
    assert code == 0, (text, err)

    with engine.connect() as conn:
        rows = {r.coverage_id: r for r in conn.execute(select(m.CoverageEligibility.__table__))}
        cov = {
            t: conn.execute(
                select(m.EligibilityCheck.coverage_id).where(m.EligibilityCheck.trace_number == t)
            ).scalar_one()
            for t in traces[:3]
        }
        active, inactive, missing = (rows[cov[t]] for t in traces[:3])
        assert active.status == "active" and active.plan == "SILVER HMO"
        assert active.deductible_remaining == Decimal("250.00")
        assert active.out_of_pocket_remaining == Decimal("1800.50")
        assert active.copay == Decimal("30.00") and active.coinsurance == Decimal("0.15")
        assert active.coverage_from == dt.date(2026, 1, 1) and active.verified_by
        assert inactive.status == "inactive" and inactive.coverage_to == dt.date(2025, 10, 31)
        assert missing.status == "error" and missing.reject_reason == "75" and missing.follow_up == "C"
        coverage = conn.execute(select(m.Coverage.__table__).where(m.Coverage.id == cov[traces[1]])).one()
        assert coverage.effective_to == dt.date(2025, 10, 31)
        answered = conn.execute(
            select(func.count())
            .select_from(m.EligibilityCheck)
            .where(m.EligibilityCheck.answered_at.is_not(None))
        ).scalar_one()
        assert answered == 3

    # the same day nobody is asked again (a rerun of the nightly batch sends nothing twice)
    code, text, err = _cli("generate-270", "--out", str(out))
    assert code == 0, err
    assert json.loads(text) == {"files": [], "inquiries": 0, "skipped_fresh": result["inquiries"]}
    # another day: verified coverages (active or inactive) are not asked again; the rejected one is
    with engine.begin() as conn:
        conn.execute(
            m.EligibilityCheck.__table__.update().values(
                sent_at=m.EligibilityCheck.sent_at - dt.timedelta(days=1)
            )
        )
    code, text, err = _cli("generate-270", "--out", str(out))
    assert code == 0, err
    again = json.loads(text)
    assert again["skipped_fresh"] == 2
    assert again["inquiries"] == result["inquiries"] - 2


def test_generate_270_bad_days(claimflow_env: Engine, tmp_path: Path) -> None:
    code, _text, err = _cli("generate-270", "--out", str(tmp_path), "--days-ahead", "-1")
    assert code == 2 and err.count("\n") == 1


# ---- claim status: generate-276 → a payer's 277 (005010X212) → load → history and work items ------------


def _status_answer(pcns: list[str], categories: list[str]) -> bytes:
    body = [
        "BHT*0010*08*S1*20261125*1200*DG",
        "HL*1**20*1",
        "NM1*PR*2*PAYER*****PI*P1",
        "HL*2*1*21*1",
        "NM1*41*2*CLAIMFLOW*****46*CLAIMFLOW01",
        "HL*3*2*19*1",
        "NM1*1P*2*CLINIC*****XX*1234567893",
    ]
    hl = 3
    for pcn, cat in zip(pcns, categories, strict=True):
        hl += 1
        body += [
            f"HL*{hl}*3*22*0",
            "NM1*IL*1*X*Y****MI*M1",
            f"TRN*2*{pcn}",
            f"STC*{cat}:20*20261120**100.00",
            f"REF*EJ*{pcn}",
        ]
    return _from_payer(body, isa13=556, gs01="HN", gs06=10, st01="277", version="005010X212")


def test_generate_276_load_277(claimflow_env: Engine, tmp_path: Path) -> None:
    from sqlalchemy import update

    from adjudication.timeline import claim_story
    from adjudication.worklist import build_worklist, list_items
    from claimflow.services.outbound import generate_batches
    from claimflow.settings import get_settings

    engine = claimflow_env
    seed_practice(engine, patients=12, claims=30, seed=11, as_of=AS_OF)
    generate_batches(engine, get_settings(), run_id="t", today=AS_OF, now=dt.datetime(2026, 11, 25, 1))
    with engine.begin() as conn:
        ids = list(
            conn.execute(select(m.Claim.id).where(m.Claim.status == m.ClaimStatus.SUBMITTED)).scalars()
        )
        assert len(ids) >= 6
        accepted = ids[: len(ids) // 2]
        conn.execute(update(m.Claim).where(m.Claim.id.in_(accepted)).values(status=m.ClaimStatus.ACCEPTED))
        conn.execute(update(m.Submission).values(created_at=dt.datetime(2026, 9, 1)))
    out = tmp_path / "out"
    code, text, err = _cli("generate-276", "--out", str(out), "--older-than", "30")
    assert code == 0, err
    result = json.loads(text)
    assert result["claims"] == len(ids)
    for f in result["files"]:
        assert Path(f).name.startswith("claim-status-")
        report = validate_x12(Path(f))
        assert report.ok, [e.line(f) for e in report.errors]
    with engine.connect() as conn:
        pcns = [
            conn.execute(
                select(m.Submission.patient_control_number).where(m.Submission.claim_id == cid)
            ).scalar_one()
            for cid in accepted[:3]
        ]
    answer = tmp_path / "status.277"
    answer.write_bytes(_status_answer(pcns, ["F1", "P1", "D0"]))
    assert validate_x12(answer).ok, [e.line("a") for e in validate_x12(answer).errors]
    code, text, err = _cli("load", str(answer))
    assert code == 0, (text, err)
    with engine.connect() as conn:
        stored = dict(
            conn.execute(
                select(m.ClaimStatusRecord.patient_control_number, m.ClaimStatusRecord.category).where(
                    m.ClaimStatusRecord.patient_control_number.in_(pcns)
                )
            ).all()
        )
    assert stored == dict(zip(pcns, ["F1", "P1", "D0"], strict=True))

    # the claim's story shows the payer's answer; tonight's no_response item says what it means
    story = claim_story(engine, pcns[1])
    assert any(e.get("source") == "277" and "pended" in e["summary"] for e in story.events)
    build_worklist(engine, AS_OF)
    reasons = {i["claim"]: i["reason"] for i in list_items(engine, queue="no_response")}
    with engine.connect() as conn:
        numbers = [
            conn.execute(select(m.Claim.claim_number).where(m.Claim.id == cid)).scalar_one()
            for cid in accepted[:3]
        ]
    assert "finalized" in reasons[numbers[0]]
    assert "pended" in reasons[numbers[1]]
    assert "does not find" in reasons[numbers[2]]
    # a claim with no 277 keeps the generic reason
    others = [r for c, r in reasons.items() if c not in numbers]
    assert others and all("277" not in r or "277CA" in r for r in others)


# ---- the sandbox answers like a payer ------------------------------------------------------------------


def test_sandbox_answers_270_and_276(claimflow_env: Engine, tmp_path: Path) -> None:
    from claimflow.services.outbound import generate_batches
    from claimflow.settings import get_settings
    from parsers import parse_file
    from parsers.records import ClaimStatus, Eligibility

    engine = claimflow_env
    seed_practice(engine, patients=30, claims=40, seed=5, as_of=AS_OF)
    out, answers, state = tmp_path / "out", tmp_path / "answers", tmp_path / "state.json"
    sandbox = (
        "sandbox",
        "adjudicate",
        "--out",
        str(answers),
        "--state",
        str(state),
        "--run-date",
        "2026-11-25",
    )

    # 270 → 271: realistic benefits, some inactive or unknown members; loads into coverage_eligibility
    code, text, err = _cli("generate-270", "--out", str(out))
    assert code == 0, err
    (f270,) = json.loads(text)["files"]
    code, text, err = _cli(*sandbox, f270)
    assert code == 0, err
    (f271,) = [Path(x) for x in text.split()]
    assert f271.suffix == ".271" and validate_x12(f271).ok
    recs = [r for r in parse_file(f271) if isinstance(r, Eligibility)]
    assert {r.active for r in recs} >= {True}
    active = [r for r in recs if r.active]
    assert all(r.deductible_remaining is not None and r.copay is not None and r.plan for r in active)
    assert all(r.rejections[0].reason == "75" for r in recs if r.active is None)
    code, _text, err = _cli("load", str(f271))
    assert code == 0, err
    with engine.connect() as conn:
        statuses = list(conn.execute(select(m.CoverageEligibility.status)).scalars())
    assert len(statuses) == len(recs) and "active" in statuses

    # 837 (payments deferred) → 276 → 277 X212: pended for what the sandbox adjudicated, D0 otherwise
    batches = generate_batches(
        engine, get_settings(), run_id="t", today=AS_OF, now=dt.datetime(2026, 11, 25, 1)
    )
    f837 = [Path(w.path) for w in batches.files]
    assert f837
    code, text, err = _cli(*sandbox, "--defer-payments", *map(str, f837))
    assert code == 0, err
    code, text, err = _cli("generate-276", "--out", str(out), "--older-than", "0")
    assert code == 0, err
    (f276,) = json.loads(text)["files"]
    code, text, err = _cli(*sandbox, "--defer-payments", f276)
    assert code == 0, err
    (f277,) = [Path(x) for x in text.split()]
    assert f277.suffix == ".277" and validate_x12(f277).ok, [e.line("x") for e in validate_x12(f277).errors]
    cats = [r.category for r in parse_file(f277) if isinstance(r, ClaimStatus)]
    assert cats and set(cats) <= {"P1", "D0"} and "P1" in cats
    code, _text, err = _cli("load", str(f277))
    assert code == 0, err
