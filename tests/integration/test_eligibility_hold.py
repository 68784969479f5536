"""Eligibility before claims go out, and claim status requests at night, on both backends.

* the coverage check held by ``claims_submission`` (claimflow.inquiries.eligibility_hold) through the real outbound
  run: inactive on the date of service → held with a plain-language reason, everything else sent;
* ``pipeline.request_eligibility`` / ``request_claim_status`` (the DAG tasks' functions): files written and
  uploaded once, nothing asked twice the same day, a file that could not be sent goes out on the next run.
"""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, update

from claimflow.db import models as m
from claimflow.inquiries.eligibility_hold import RULE, inactive_on
from claimflow.sandbox.seed import seed_practice
from edi.reader import iter_segments

AS_OF = dt.date(2026, 11, 25)
D = dt.date


@pytest.mark.parametrize(
    ("status", "cov_from", "cov_to", "svc_from", "svc_to", "expected"),
    [
        ("inactive", D(2025, 1, 1), D(2025, 12, 31), D(2026, 3, 2), None, D(2026, 3, 2)),  # ended before
        ("inactive", D(2025, 1, 1), D(2026, 3, 31), D(2026, 3, 2), None, None),  # covered that day
        ("inactive", None, None, D(2026, 3, 2), None, D(2026, 3, 2)),  # no dates: nothing covered
        ("inactive", D(2026, 1, 1), D(2026, 3, 3), D(2026, 3, 2), D(2026, 3, 5), D(2026, 3, 4)),  # stay
        ("inactive", D(2026, 4, 1), D(2026, 12, 31), D(2026, 3, 2), None, D(2026, 3, 2)),  # not yet
        ("active", D(2026, 1, 1), None, D(2025, 12, 2), None, None),  # plan-year start is not a gap
        ("active", D(2026, 1, 1), D(2026, 3, 1), D(2026, 3, 2), None, D(2026, 3, 2)),  # ends first
        ("active", None, D(2026, 3, 10), D(2026, 3, 2), D(2026, 3, 4), None),
        ("error", None, None, D(2026, 3, 2), None, None),  # not found: the payer's front end answers
    ],
)
def test_inactive_on(
    status: str,
    cov_from: dt.date | None,
    cov_to: dt.date | None,
    svc_from: dt.date,
    svc_to: dt.date | None,
    expected: dt.date | None,
) -> None:
    assert inactive_on(status, cov_from, cov_to, svc_from, svc_to) == expected


def _answer(conn: Any, coverage_id: int, status: str, cov_from: Any, cov_to: Any, days_ago: int = 1) -> None:
    conn.execute(
        m.CoverageEligibility.__table__.delete().where(m.CoverageEligibility.coverage_id == coverage_id)
    )
    conn.execute(
        insert(m.CoverageEligibility).values(
            coverage_id=coverage_id,
            status=status,
            coverage_from=cov_from,
            coverage_to=cov_to,
            verified_at=dt.datetime.combine(AS_OF - dt.timedelta(days=days_ago), dt.time(9)),
            verified_by="test:271",
        )
    )


def _ready_claims(engine: Engine) -> list[Any]:
    """Ready primary claims, one per coverage, that the scrubber itself passes (no deliberate flaw)."""
    from claimflow.services.claims_loader import ReferenceData, load_claims
    from edi.scrub import scrub_claim

    with engine.connect() as conn:
        rows = conn.execute(
            select(m.Claim.id, m.Claim.coverage_id, m.Claim.service_date_from, m.Claim.service_date_to)
            .where(m.Claim.status == m.ClaimStatus.READY)
            .order_by(m.Claim.id)
        ).all()
        clean = {
            c.claim_id
            for c in load_claims(conn, [r.id for r in rows], ReferenceData(conn))
            if not scrub_claim(c, AS_OF)
        }
    seen: set[int] = set()
    out = []
    for r in rows:
        if r.id in clean and r.coverage_id not in seen:
            seen.add(r.coverage_id)
            out.append(r)
    return out


def test_claims_inactive_on_the_date_of_service_are_held(
    claimflow_env: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from claimflow.services.outbound import generate_batches
    from claimflow.settings import get_settings

    engine = claimflow_env
    seed_practice(engine, patients=40, claims=80, seed=21, as_of=AS_OF)
    claims = _ready_claims(engine)
    assert len(claims) >= 6
    ended, covered, active_ended, active, not_found, stale_inactive = claims[:6]
    with engine.begin() as conn:
        day = ended.service_date_from
        _answer(conn, ended.coverage_id, "inactive", D(2025, 1, 1), day - dt.timedelta(days=1))
        _answer(conn, covered.coverage_id, "inactive", D(2025, 1, 1), covered.service_date_to)
        _answer(
            conn,
            active_ended.coverage_id,
            "active",
            None,
            active_ended.service_date_from - dt.timedelta(days=2),
        )
        _answer(conn, active.coverage_id, "active", D(2026, 1, 1), None)
        _answer(conn, not_found.coverage_id, "error", None, None)
        # the latest answer, however old, still says inactive: held (the billing office re-verifies)
        _answer(conn, stale_inactive.coverage_id, "inactive", None, None, days_ago=90)
        held_ids = {ended.id, active_ended.id, stale_inactive.id}
        sharing = set(
            conn.execute(
                select(m.Claim.id).where(
                    m.Claim.coverage_id.in_([c.coverage_id for c in (ended, active_ended, stale_inactive)]),
                    m.Claim.status == m.ClaimStatus.READY,
                )
            ).scalars()
        )
        ready = conn.execute(
            select(func.count()).select_from(m.Claim).where(m.Claim.status == m.ClaimStatus.READY)
        ).scalar_one()
        # verified in the last 30 days, or held on an older answer: neither "goes out unverified"
        answered = [c.coverage_id for c in (ended, covered, active_ended, active, stale_inactive)]
        unverified = (
            ready
            - conn.execute(
                select(func.count())
                .select_from(m.Claim)
                .where(m.Claim.coverage_id.in_(answered), m.Claim.status == m.ClaimStatus.READY)
            ).scalar_one()
        )

    with caplog.at_level(logging.INFO, logger="claimflow.inquiries.eligibility"):
        result = generate_batches(engine, get_settings(), run_id="t", today=AS_OF)
    assert result.scrub_reasons[RULE] >= len(held_ids)

    with engine.connect() as conn:
        findings = conn.execute(
            select(m.ScrubResult.claim_id, m.ScrubResult.reason).where(m.ScrubResult.rule == RULE)
        ).all()
        status = dict(conn.execute(select(m.Claim.id, m.Claim.status)).all())
        payer_name = dict(
            conn.execute(select(m.Claim.id, m.Payer.name).join(m.Payer, m.Payer.id == m.Claim.payer_id)).all()
        )
        phi = conn.execute(
            select(m.Patient.last_name, m.Patient.first_name, m.Coverage.member_id)
            .join(m.Coverage, m.Coverage.patient_id == m.Patient.id)
            .where(m.Coverage.id == ended.coverage_id)
        ).one()
    held = {cid for cid, _ in findings}
    # exactly the claims of the coverages the answers exclude (other claims of those coverages too, when
    # their dates fall outside: here all of them)
    assert held_ids <= held <= sharing
    for cid in held_ids:
        assert status[cid] == m.ClaimStatus.SCRUB_FAILED
    for c in (covered, active, not_found):
        assert status[c.id] == m.ClaimStatus.SUBMITTED, c
    reason = next(r for cid, r in findings if cid == ended.id)
    assert payer_name[ended.id] in reason and f"{ended.service_date_from:%m/%d/%Y}" in reason
    assert "not active" in reason
    assert not any(str(v) in reason for v in phi if v)
    # the rest go out; the ones never verified are counted in the log (counts only)
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("Eligibility:"))
    assert f"{len(held)} of {ready} claims held" in line
    assert f"{unverified} claims go out with coverage not verified in the last 30 days" in line
    assert not any(str(v) in line for v in phi if v)


class _Recorder:
    """A stand-in partner: records what ``upload_many`` was given, or refuses to connect."""

    def __init__(self) -> None:
        self.sessions = 0
        self.uploaded: list[str] = []
        self.down = False

    @contextmanager
    def connect(self) -> Any:
        if self.down:
            raise ConnectionRefusedError("partner down")
        self.sessions += 1
        yield self, object()


@pytest.fixture
def partner(monkeypatch: pytest.MonkeyPatch) -> _Recorder:
    rec = _Recorder()

    def upload_many(client: _Recorder, paths: list[Path], profile: Any) -> list[Any]:
        client.uploaded += [p.name for p in paths]
        for p in paths:
            assert p.exists()
        return []

    monkeypatch.setattr("sftp.transfer.upload_many", upload_many)
    return rec


def test_request_eligibility_asks_once_a_day(claimflow_env: Engine, partner: _Recorder) -> None:
    from claimflow.services import pipeline
    from claimflow.settings import get_settings

    engine = claimflow_env
    seed_practice(engine, patients=15, claims=30, seed=4, as_of=AS_OF)
    today = dt.date.today().isoformat()
    with engine.connect() as conn:
        due = conn.execute(
            select(func.count(func.distinct(m.Claim.coverage_id))).where(
                m.Claim.status == m.ClaimStatus.READY
            )
        ).scalar_one()

    partner.down = True  # the partner is down: the 270 is written and recorded, the task fails
    with pytest.raises(ConnectionRefusedError):
        pipeline.request_eligibility(today, "sandbox", partner.connect)
    folder = get_settings().inquiries_dir
    (waiting,) = folder.glob("*.270")
    traces = [el[2] for _n, el in iter_segments(waiting) if el[0] == "TRN"]
    assert len(traces) == due

    partner.down = False  # the retry asks nobody again, but sends the file written before
    again = pipeline.request_eligibility(today, "sandbox", partner.connect)
    assert again == {"inquiries": 0, "skipped_fresh": due, "files_sent": 1}
    assert partner.uploaded == [waiting.name] and (folder / "sent" / waiting.name).exists()
    assert not list(folder.glob("*.270"))

    # a third run the same day: nothing to send, no session opened
    assert pipeline.request_eligibility(today, "sandbox", partner.connect)["files_sent"] == 0
    assert partner.sessions == 1
    # the next day, unanswered coverages are asked again
    with engine.begin() as conn:
        conn.execute(
            update(m.EligibilityCheck).values(sent_at=m.EligibilityCheck.sent_at - dt.timedelta(days=1))
        )
    assert pipeline.request_eligibility(today, "sandbox", partner.connect)["inquiries"] == due
    # another partner's run asks nothing about these payers' members
    with engine.begin() as conn:
        conn.execute(
            update(m.EligibilityCheck).values(sent_at=m.EligibilityCheck.sent_at - dt.timedelta(days=1))
        )
    assert pipeline.request_eligibility(today, "otherhouse", partner.connect)["inquiries"] == 0


def test_request_claim_status_asks_about_silent_claims_once_a_day(
    claimflow_env: Engine, partner: _Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from claimflow.inquiries.claim_status import ASKED
    from claimflow.services import pipeline
    from claimflow.services.outbound import generate_batches
    from claimflow.settings import get_settings, reset_settings_cache

    engine = claimflow_env
    seed_practice(engine, patients=15, claims=30, seed=4, as_of=AS_OF)
    generate_batches(engine, get_settings(), run_id="t", today=AS_OF)
    today = dt.date.today().isoformat()
    # sent today: not silent yet with the worklist's 14 days
    assert pipeline.request_claim_status(today, "sandbox", partner.connect) == {"claims": 0, "files_sent": 0}
    assert partner.sessions == 0
    monkeypatch.setenv("CLAIMFLOW_CLAIM_STATUS_DAYS", "0")
    reset_settings_cache()
    with engine.connect() as conn:
        submitted = conn.execute(
            select(func.count()).select_from(m.Claim).where(m.Claim.status == m.ClaimStatus.SUBMITTED)
        ).scalar_one()
    assert submitted > 5
    first = pipeline.request_claim_status(today, "sandbox", partner.connect)
    assert first == {"claims": submitted, "files_sent": 1}
    (sent,) = (get_settings().inquiries_dir / "sent").glob("claim-status-*.276")
    assert partner.uploaded == [sent.name]
    pcns = [el[2] for _n, el in iter_segments(sent) if el[0] == "TRN"]
    with engine.connect() as conn:
        expected = set(
            conn.execute(
                select(m.Submission.patient_control_number)
                .join(m.Claim, m.Claim.id == m.Submission.claim_id)
                .where(m.Claim.status == m.ClaimStatus.SUBMITTED)
            ).scalars()
        )
        asked = conn.execute(
            select(func.count()).select_from(m.AuditLog).where(m.AuditLog.action == ASKED)
        ).scalar_one()
    assert set(pcns) == expected and asked == submitted
    # a rerun (or tomorrow-dated run) the same day asks nobody again
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    assert pipeline.request_claim_status(tomorrow, "sandbox", partner.connect) == {
        "claims": 0,
        "files_sent": 0,
    }
    assert partner.sessions == 1


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_sandbox_mailbox_answers_inquiries_and_pends_claims(claimflow_env: Engine, tmp_path: Path) -> None:
    """The demo's sandbox payer (InquiringPayer): a 270/276 dropped in the mailbox is answered into the
    partner's outbound folder; 837s still go to the payer; a pended claim is paid one run later, and a 276
    meanwhile says pended (P1)."""
    from claimflow.inquiries.claim_status import generate_276
    from claimflow.inquiries.eligibility import generate_270
    from claimflow.sandbox.payer import make_upload_handler
    from claimflow.sandbox.payer.engine import EngineConfig, PayerSimulator
    from claimflow.sandbox.payer.inquiries import InquiringPayer, _h, _not_found, member_inactive
    from claimflow.sandbox.payer.state import SandboxState
    from claimflow.services.outbound import generate_batches
    from claimflow.settings import get_settings
    from parsers import parse_file
    from parsers.records import ClaimStatus, Eligibility

    engine = claimflow_env
    seed_practice(engine, patients=30, claims=40, seed=5, as_of=AS_OF)
    root, out = tmp_path / "sandbox", tmp_path / "out"
    inbound = root / "sandbox" / "inbound"
    inbound.mkdir(parents=True)
    payer = InquiringPayer(make_upload_handler(root, seed=5, defer_payments=True), pend_per_mille=1000)

    (f270,) = generate_270(engine, out, today=AS_OF).files
    upload = inbound / Path(f270).name
    upload.write_bytes(Path(f270).read_bytes())
    payer("sandbox", upload)
    (f271,) = payer.answered
    assert f271.parent == root / "sandbox" / "outbound" and f271.name == upload.stem + ".271"
    members = [el[9] for _n, el in iter_segments(upload) if el[0] == "NM1" and el[1] == "IL"]
    answers = [r for r in parse_file(f271) if isinstance(r, Eligibility) and r.level == "subscriber"]
    assert len(answers) == len(members)
    rules = PayerSimulator(SandboxState.load(tmp_path / "probe.json", 5), 5, EngineConfig())
    payer_ids = [el[9] for _n, el in iter_segments(upload) if el[0] == "NM1" and el[1] == "PR"]
    for member, rec in zip(members, answers, strict=True):
        # a member the front end would reject (277CA A7:164) is never answered active
        if _not_found(rules, payer_ids[0], member) or _h(5, "elig", member) % 10 == 0:
            assert rec.active is None
        elif member_inactive(5, member):
            assert rec.active is False and rec.coverage_to is not None and rec.coverage_to < AS_OF
        else:
            assert rec.active is True

    batches = generate_batches(engine, get_settings(), run_id="t", today=AS_OF)
    for w in batches.files:
        path = inbound / Path(w.path).name
        path.write_bytes(Path(w.path).read_bytes())
        payer("sandbox", path)
    assert len(payer.answered) == 1  # 837s are the payer's: TA1/999/277CA, not inquiry answers
    assert payer.release_payments(AS_OF) == []  # every claim pended for review this run
    (f276,) = generate_276(engine, out, older_than=0, today=dt.date.today()).files
    upload = inbound / Path(f276).name
    upload.write_bytes(Path(f276).read_bytes())
    payer("sandbox", upload)
    cats = {r.category for r in parse_file(payer.answered[-1]) if isinstance(r, ClaimStatus)}
    assert "P1" in cats
    assert payer.release_payments(AS_OF + dt.timedelta(days=1))  # paid at the next run
