"""Follow-up claims end to end, on SQLite and PostgreSQL: secondary (COB) claims billed automatically,
replacements (frequency 7) in both arrival orders of the payer's reversal and new payment, voids, and
crossovers that are not billed twice.

Each test runs the real pieces: ``generate_batches`` writes the 837 (every file must pass pyx12 with zero
errors), the sandbox payer answers it (999, 277CA, then 835s in a later payment run), claimflow loads the
answers, applies the acknowledgments, posts, reconciles and runs the balance proof (0 unexplained
exceptions), and the nightly work-queue build closes what the answers resolved.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from adjudication.acks import apply_acknowledgments
from adjudication.posting import post_remittances
from adjudication.reconcile import reconcile
from adjudication.worklist import build_worklist
from claimflow.cli import main
from claimflow.db import models as m
from claimflow.sandbox.payer import EngineConfig, adjudicate_file, release_payments
from claimflow.sandbox.payer.state import locked_state
from claimflow.sandbox.synthetic import luhn_npi
from claimflow.services.inbound import load_files
from claimflow.services.outbound import generate_batches
from claimflow.services.pipeline import issue_follow_up_claims
from claimflow.settings import get_settings
from edi.validate import validate_x12

SEED = 4242
QUIET = EngineConfig(
    member_not_found_per_mille=0,
    medical_necessity_per_mille=0,
    noncovered_per_mille=0,
    reprocess_per_mille=0,
    recoup_per_mille=0,
)
TODAY = dt.date.today()
NIGHT1 = TODAY  # submissions are stamped with the real clock: the nights cannot be in the past
D = Decimal

# (key, payer id, name, payer type, filing indicator): the sandbox payers the office bills.
PAYERS = (
    ("CI", "SBX01", "ZZTEST COMMERCIAL", "commercial", "CI"),
    ("CI2", "SBX02", "ZZTEST SUPPLEMENT", "commercial", "CI"),
    ("MB", "SBX03", "ZZTEST MEDICARE", "medicare", "MB"),
)


class Office:
    """A small practice in the database and the sandbox payer answering it, night by night."""

    def __init__(self, engine: Engine, tmp: Path) -> None:
        self.engine = engine
        self.tmp = tmp
        self.state = tmp / "payer-state.json"
        self.answers = tmp / "answers"
        self.outbox = tmp / "outbox"
        self.files_837: list[Path] = []
        self.n = 0
        self.config = QUIET
        with engine.begin() as conn:

            def add(model: Any, **values: Any) -> int:
                return int(conn.execute(insert(model).values(**values)).inserted_primary_key[0])

            addr = {
                "address_line1": "100 ZZTEST PAYER WAY",
                "city": "SPRINGFIELD",
                "state": "IL",
                "postal_code": "627010001",
            }
            self.payers = {
                key: add(
                    m.Payer,
                    payer_id=payer_id,
                    name=name,
                    payer_type=payer_type,
                    filing_indicator=filing,
                    partner="sandbox",
                    **addr,
                )
                for key, payer_id, name, payer_type, filing in PAYERS
            }
            self.billing = add(
                m.Provider,
                npi=luhn_npi("123456789"),
                entity_type="2",
                role="billing",
                last_name="ZZTEST FAMILY MEDICINE",
                taxonomy="207Q00000X",
                tax_id="371234567",
                address_line1="1 ZZTEST CLINIC RD",
                city="SPRINGFIELD",
                state="IL",
                postal_code="627011234",
            )
            self.rendering = add(
                m.Provider,
                npi=luhn_npi("223456789"),
                entity_type="1",
                role="rendering",
                last_name="ZZTESTDOC",
                first_name="ZZTEST",
                taxonomy="207Q00000X",
            )

    # ---------------------------------------------------------------------------------- data
    def patient(self, payers: list[str]) -> int:
        """A patient (the subscriber) with one coverage per payer, in priority order."""
        self.n += 1
        with self.engine.begin() as conn:
            person = {
                "last_name": "ZZTESTLAST",
                "first_name": "ZZTESTFIRST",
                "birth_date": dt.date(1960, 5, 6),
                "gender": "F",
                "address_line1": "9 ZZTEST ST",
                "city": "SPRINGFIELD",
                "state": "IL",
                "postal_code": "62701",
            }
            pid = conn.execute(
                insert(m.Patient).values(account_number=f"ZZ{self.n:06d}", **person).returning(m.Patient.id)
            ).scalar_one()
            sub = conn.execute(
                insert(m.Subscriber).values(patient_id=pid, **person).returning(m.Subscriber.id)
            ).scalar_one()
            for prio, key in enumerate(payers, start=1):
                conn.execute(
                    insert(m.Coverage).values(
                        patient_id=pid,
                        subscriber_id=sub,
                        payer_id=self.payers[key],
                        member_id=f"ZZM{self.n:04d}{prio}",
                        group_number="ZZGRP",
                        relationship_code="18",
                        priority=prio,
                    )
                )
        return int(pid)

    def claim(
        self,
        patient_id: int,
        lines: list[tuple[str, str, Decimal]],
        *,
        dos: dt.date | None = None,
        dx: tuple[str, ...] = ("E119", "I10"),
    ) -> str:
        """A ready professional claim billed to the patient's primary coverage; returns its claim number."""
        dos = dos or NIGHT1 - dt.timedelta(days=5)
        with self.engine.begin() as conn:
            cov = conn.execute(
                select(m.Coverage.__table__).where(
                    m.Coverage.patient_id == patient_id, m.Coverage.priority == 1
                )
            ).one()
            n = conn.execute(select(func.count()).select_from(m.Claim)).scalar_one() + 1
            number = f"C{n:08d}"
            total = sum((c for _, _, c in lines), D("0.00"))
            cid = conn.execute(
                insert(m.Claim)
                .values(
                    claim_number=number,
                    claim_type="professional",
                    status="ready",
                    patient_id=patient_id,
                    coverage_id=cov.id,
                    payer_id=cov.payer_id,
                    billing_provider_id=self.billing,
                    rendering_provider_id=self.rendering,
                    responsibility="P",
                    frequency="1",
                    place_of_service="11",
                    total_charge=total,
                    service_date_from=dos,
                    service_date_to=dos,
                )
                .returning(m.Claim.id)
            ).scalar_one()
            for i, code in enumerate(dx, start=1):
                conn.execute(insert(m.ClaimDiagnosis).values(claim_id=cid, sequence=i, code=code))
            for i, (proc, mods, charge) in enumerate(lines, start=1):
                conn.execute(
                    insert(m.ServiceLine).values(
                        claim_id=cid,
                        line_number=i,
                        line_control_number=f"L{cid:05d}{i:03d}",
                        procedure_code=proc,
                        modifiers=mods or None,
                        charge=charge,
                        units=D("1"),
                        service_date=dos,
                        diagnosis_pointers="1",
                    )
                )
        return number

    # ---------------------------------------------------------------------------------- nights
    def send(self, day: dt.date) -> list[Path]:
        """claims_submission: write the 837s (each pyx12-clean), the payer acknowledges; load the answers."""
        result = generate_batches(
            self.engine,
            get_settings(),
            out_dir=self.outbox,
            run_id=f"test:{day}",
            today=day,
            now=dt.datetime.combine(day, dt.time(18, 0)),
        )
        paths = [Path(f.path) for f in result.files]
        for path in paths:
            report = validate_x12(path)
            assert report.ok and not report.errors, (path.name, report.errors[:3])
            self.files_837.append(path)
            written = adjudicate_file(
                path,
                self.answers,
                state_path=self.state,
                seed=SEED,
                run_date=day,
                defer_payments=True,
                config=self.config,
            )
            self._load(written)
        apply_acknowledgments(self.engine, actor="test")
        return paths

    def pay(self, day: dt.date, *, hold_reversals: bool = False) -> None:
        """The payer's payment run (optionally keeping its reversals back for a later run); post."""
        held: list[dict[str, Any]] = []
        if hold_reversals:
            with locked_state(self.state, SEED) as state:
                held = [p for p in state.pending if p["kind"] == "reversal"]
                state.pending[:] = [p for p in state.pending if p["kind"] != "reversal"]
        written = release_payments(
            self.answers, state_path=self.state, seed=SEED, run_date=day, config=self.config
        )
        if held:
            with locked_state(self.state, SEED) as state:
                state.pending.extend(held)
        self._load(written)
        post_remittances(self.engine, actor="test", as_of=day)

    def _load(self, paths: list[Path]) -> None:
        outcomes = load_files(paths, actor="test", partner="sandbox")
        assert all(o.status in ("loaded", "duplicate") for o in outcomes), [
            (o.status, o.error) for o in outcomes
        ]

    def close_night(self, day: dt.date) -> dict[str, Any]:
        """Follow-up claims, reconciliation, balance proof (0 unexplained) and the work-queue build."""
        post_remittances(self.engine, actor="test", as_of=day)  # charges of tonight's claims (nightly order)
        follow = issue_follow_up_claims(day.isoformat())
        summary = reconcile(self.engine, day)
        with self.engine.connect() as conn:
            unexplained = conn.execute(
                select(
                    m.BalanceException.level,
                    m.BalanceException.kind,
                    m.BalanceException.expected,
                    m.BalanceException.found,
                ).where(m.BalanceException.run_date == day, m.BalanceException.explained.is_(False))
            ).all()
        assert unexplained == [], unexplained
        build_worklist(self.engine, day)
        return {"follow_up": follow, "reconcile": summary}

    # ---------------------------------------------------------------------------------- reads
    def row(self, number: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(m.Claim.__table__).where(m.Claim.claim_number == number)).one()

    def payments(self, number: str) -> list[Any]:
        with self.engine.connect() as conn:
            cid = conn.execute(select(m.Claim.id).where(m.Claim.claim_number == number)).scalar_one()
            return list(
                conn.execute(
                    select(m.ClaimPayment.__table__)
                    .where(m.ClaimPayment.claim_id == cid)
                    .order_by(m.ClaimPayment.id)
                )
            )

    def ledger(self, number: str, account: str) -> Decimal:
        with self.engine.connect() as conn:
            cid = conn.execute(select(m.Claim.id).where(m.Claim.claim_number == number)).scalar_one()
            total = conn.execute(
                select(func.coalesce(func.sum(m.LedgerEntry.amount), 0)).where(
                    m.LedgerEntry.claim_id == cid, m.LedgerEntry.account == account
                )
            ).scalar_one()
        return Decimal(total)

    def balance(self, number: str, day: dt.date) -> Any:
        with self.engine.connect() as conn:
            cid = conn.execute(select(m.Claim.id).where(m.Claim.claim_number == number)).scalar_one()
            return conn.execute(
                select(m.ClaimBalance.__table__).where(
                    m.ClaimBalance.claim_id == cid, m.ClaimBalance.run_date == day
                )
            ).one()

    def items(self, number: str) -> list[Any]:
        with self.engine.connect() as conn:
            cid = conn.execute(select(m.Claim.id).where(m.Claim.claim_number == number)).scalar_one()
            return list(
                conn.execute(
                    select(m.WorkItem.__table__).where(m.WorkItem.claim_id == cid).order_by(m.WorkItem.id)
                )
            )


def segments(path: Path) -> list[list[str]]:
    text = path.read_text()
    return [s.split("*") for s in text.replace("\n", "").split("~") if s]


def claim_segments(path: Path, pcn_prefix: str) -> list[list[str]]:
    """The segments of one claim (CLM … up to the next HL/CLM/SE) in an 837 we wrote."""
    out: list[list[str]] = []
    inside = False
    for seg in segments(path):
        if seg[0] == "CLM":
            inside = seg[1].startswith(pcn_prefix)
        elif seg[0] in ("HL", "SE"):
            inside = False
        if inside:
            out.append(seg)
    return out


@pytest.fixture
def office(claimflow_env: Engine, tmp_path: Path) -> Office:
    return Office(claimflow_env, tmp_path)


# -------------------------------------------------------------------------------------------- secondary


def test_secondary_claim_is_billed_from_the_primary_835_and_paid_by_cob(
    office: Office, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = office.patient(["CI", "CI2"])
    number = office.claim(pid, [("99213", "", D("180.00")), ("36415", "", D("40.00"))])
    n1, n2, n3, n4 = (NIGHT1 + dt.timedelta(days=k) for k in range(4))
    office.send(n1)
    office.pay(n2)
    primary = office.payments(number)
    assert len(primary) == 1 and primary[0].status_code == "1" and primary[0].patient_responsibility > 0
    night = office.close_night(n2)
    assert night["follow_up"]["secondary_created"] == 1
    sec_number = f"S{office.row(number).id:08d}"
    sec = office.row(sec_number)
    assert (sec.responsibility, sec.primary_claim_id, sec.status) == ("S", office.row(number).id, "ready")
    assert sec.payer_id == office.payers["CI2"] and sec.total_charge == D("220.00")
    # The nightly build closed the secondary_due item by itself (the secondary exists now).
    assert all(i.status == "closed" for i in office.items(number) if i.queue == "secondary_due")

    [path] = office.send(n3)
    segs = claim_segments(path, sec_number)
    ids = [s[0] for s in segs]
    sbr = [s for s in segs if s[0] == "SBR"]
    assert sbr and sbr[0][1] == "P"  # 2320: the primary payer's information
    amt = {s[1]: D(s[2]) for s in segs if s[0] == "AMT"}
    assert amt["D"] == primary[0].paid and amt["EAF"] == primary[0].patient_responsibility
    nm1 = [s for s in segs if s[0] == "NM1"]
    assert [s[1] for s in nm1 if s[1] in ("IL", "PR")] == ["IL", "PR"]  # 2330A, 2330B
    assert any(s[1] == "PR" and s[-1] == "SBX01" for s in nm1)
    svd = [s for s in segs if s[0] == "SVD"]
    assert len(svd) == 2 and all(s[1] == "SBX01" for s in svd)
    with office.engine.connect() as conn:
        line_paid = sorted(
            D(x)
            for x in conn.execute(
                select(m.ServiceLinePayment.paid).where(
                    m.ServiceLinePayment.claim_payment_id == primary[0].id
                )
            ).scalars()
        )
    assert sorted(D(s[2]) for s in svd) == line_paid
    assert ids.count("DTP") >= 3 and any(s[0] == "DTP" and s[1] == "573" for s in segs)
    assert "CAS" in ids

    office.pay(n4)
    [sec_pay] = office.payments(sec_number)
    assert sec_pay.status_code == "2"
    assert D("0") < sec_pay.paid <= primary[0].patient_responsibility
    office.close_night(n4)
    assert office.row(sec_number).status in ("paid", "partially_paid")
    # Ledger = source documents on both claims; the secondary is never created twice.
    for num in (number, sec_number):
        b = office.balance(num, n4)
        assert office.ledger(num, "ar_payer") == b.insurance_balance
        assert office.ledger(num, "ar_patient") == b.patient_balance
    assert issue_follow_up_claims(n4.isoformat())["secondary_created"] == 0
    assert main(["claim", "follow-up", "--date", n4.isoformat()]) == 0  # the same step from the command line
    counts = json.loads(capsys.readouterr().out)
    assert counts["secondary_created"] == 0 and set(counts) >= {
        "tertiary_created",
        "crossovers_skipped",
        "voids_settled",
        "corrections_queued",
    }


def test_secondary_payer_that_denies(office: Office) -> None:
    # Medicare primary (365-day filing limit) pays; the commercial secondary (180 days) denies CO-29.
    pid = office.patient(["MB", "CI2"])
    dos = NIGHT1 - dt.timedelta(days=200)
    number = office.claim(pid, [("99214", "", D("210.00"))], dos=dos)
    n1, n2, n3, n4 = (NIGHT1 + dt.timedelta(days=k) for k in range(4))
    office.send(n1)
    office.pay(n2)
    assert office.close_night(n2)["follow_up"]["secondary_created"] == 1
    sec_number = f"S{office.row(number).id:08d}"
    office.send(n3)
    office.pay(n4)
    [sec_pay] = office.payments(sec_number)
    assert sec_pay.paid == 0 and sec_pay.status_code in ("4", "2")
    office.close_night(n4)
    assert office.row(sec_number).status == "denied"
    assert [i.queue for i in office.items(sec_number) if i.status == "open"] == ["denials"]
    # cob: moved what the primary left to the secondary's insurance balance; the secondary's CO-29 (provider
    # liable) wrote exactly that off, not the whole CLP03; nothing was billed a third time.
    primary = office.payments(number)[0]
    assert office.balance(number, n4).patient_balance == 0
    sec_bal = office.balance(sec_number, n4)
    assert (sec_bal.charge, sec_bal.contractual) == (
        primary.patient_responsibility,
        primary.patient_responsibility,
    )
    assert (sec_bal.insurance_balance, sec_bal.patient_balance) == (0, 0)
    assert issue_follow_up_claims(n4.isoformat())["tertiary_created"] == 0


def test_crossover_is_recognised_and_not_billed_again(office: Office) -> None:
    pid = office.patient(["MB", "CI2"])
    number = office.claim(pid, [("99213", "", D("150.00"))])
    n1, n2 = NIGHT1, NIGHT1 + dt.timedelta(days=1)
    # The Medicare-like payer forwards the claim to the supplemental payer itself: CLP02 = 19, NM1*TT.
    office.config = replace(QUIET, crossovers=(("SBX03", "SBX02", "ZZTEST SUPPLEMENT"),))
    office.send(n1)
    office.pay(n2)
    [pay] = office.payments(number)
    assert pay.status_code == "19" and pay.patient_responsibility > 0
    text = "".join(p.read_text() for p in office.answers.glob("*.835"))
    assert "NM1*TT*2*ZZTEST SUPPLEMENT" in text
    night = office.close_night(n2)
    assert night["follow_up"]["crossovers_skipped"] == 1 and night["follow_up"]["secondary_created"] == 0
    with office.engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(m.Claim).where(m.Claim.responsibility == "S")
            ).scalar_one()
            == 0
        )


def test_tertiary_claim_follows_the_secondary(office: Office) -> None:
    pid = office.patient(["CI", "CI2", "MB"])
    number = office.claim(pid, [("99213", "", D("180.00"))])
    days = [NIGHT1 + dt.timedelta(days=k) for k in range(6)]
    office.send(days[0])
    office.pay(days[1])
    assert office.close_night(days[1])["follow_up"]["secondary_created"] == 1
    root = office.row(number).id
    office.send(days[2])
    office.pay(days[3])
    [sec_pay] = office.payments(f"S{root:08d}")
    assert sec_pay.status_code == "2" and sec_pay.patient_responsibility > 0
    night = office.close_night(days[3])
    assert (night["follow_up"]["tertiary_created"], night["follow_up"]["secondary_created"]) == (1, 0)
    ter = office.row(f"T{root:08d}")
    assert (ter.responsibility, ter.primary_claim_id, ter.payer_id) == ("T", root, office.payers["MB"])
    sent = office.send(days[4])  # pyx12-clean (checked in send)
    with office.engine.connect() as conn:
        held = conn.execute(
            select(m.ScrubResult.rule, m.ScrubResult.reason).where(m.ScrubResult.claim_id == ter.id)
        ).all()
    assert held == []
    [path] = sent
    segs = claim_segments(path, f"T{root:08d}")
    assert [s[1] for s in segs if s[0] == "SBR"] == ["P", "S"]  # one 2320 per earlier payer
    assert [D(s[2]) for s in segs if s[0] == "AMT" and s[1] == "EAF"][-1] == sec_pay.patient_responsibility
    assert {s[1] for s in segs if s[0] == "SVD"} == {"SBX02"}
    office.pay(days[5])
    [ter_pay] = office.payments(f"T{root:08d}")
    assert ter_pay.status_code == "3" and D("0") <= ter_pay.paid <= sec_pay.patient_responsibility
    office.close_night(days[5])
