"""``claimflow claim correct | void | resubmit``: the --set fields, their validation, the statuses each
action accepts, and the error contract (one line on stderr, exit 2, never a value from the claim or from
--set) — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from claimflow.cli import main
from claimflow.db import models as m
from claimflow.followup.corrections import CorrectionError, correct_claim, parse_changes, void_claim
from tests.integration.test_secondary_claims import NIGHT1, Office

D = Decimal


@pytest.fixture
def paid(claimflow_env: Engine, tmp_path: Path) -> dict:
    """One claim sent and paid by the sandbox payer (two lines, two diagnoses)."""
    office = Office(claimflow_env, tmp_path)
    pid = office.patient(["CI"])
    number = office.claim(pid, [("99213", "25", D("150.00")), ("11102", "", D("1200.00"))])
    office.send(NIGHT1)
    office.pay(NIGHT1)
    return {"office": office, "number": number, "engine": claimflow_env}


def _state(engine: Engine, number: str) -> tuple:
    with engine.connect() as conn:
        c = conn.execute(select(m.Claim.__table__).where(m.Claim.claim_number == number)).one()
        lines = conn.execute(
            select(
                m.ServiceLine.procedure_code,
                m.ServiceLine.modifiers,
                m.ServiceLine.units,
                m.ServiceLine.charge,
            )
            .where(m.ServiceLine.claim_id == c.id)
            .order_by(m.ServiceLine.line_number)
        ).all()
        dx = list(
            conn.execute(
                select(m.ClaimDiagnosis.code)
                .where(m.ClaimDiagnosis.claim_id == c.id)
                .order_by(m.ClaimDiagnosis.sequence)
            ).scalars()
        )
        ledger = conn.execute(select(func.count()).select_from(m.LedgerEntry)).scalar_one()
    return (
        c.status,
        c.frequency,
        c.original_payer_claim_number,
        c.total_charge,
        c.place_of_service,
        [tuple(x) for x in lines],
        dx,
        ledger,
    )


SECRET = "Q99ZZSECRET"  # a value that must never be echoed back


@pytest.mark.parametrize(
    "argv, message",
    [
        (["claim", "correct", "NOPE"], "no claim answers to 'NOPE'"),
        (["claim", "correct", "{n}", "--set", "member_id=" + SECRET], "--set member_id: unknown field"),
        (["claim", "correct", "{n}", "--set", "diagnosis.1"], "--set takes FIELD=VALUE"),
        (["claim", "correct", "{n}", "--set", "diagnosis.1=" + SECRET], "not an ICD-10-CM code"),
        (["claim", "correct", "{n}", "--set", "diagnosis.5=E119"], "diagnosis 5 does not exist"),
        (["claim", "correct", "{n}", "--set", "line.3.charge=10.00"], "line 3 does not exist"),
        (["claim", "correct", "{n}", "--set", "line.1.charge=-" + "5"], "not negative"),
        (["claim", "correct", "{n}", "--set", "line.1.charge=1.005"], "at most 2 decimals"),
        (["claim", "correct", "{n}", "--set", "line.1.units=" + SECRET], "not a number"),
        (["claim", "correct", "{n}", "--set", "line.1.units=0"], "units must be more than 0"),
        (["claim", "correct", "{n}", "--set", "line.1.procedure=" + SECRET], "5 letters or digits"),
        (["claim", "correct", "{n}", "--set", "line.1.modifiers=25:59:76:77:91"], "up to 4 modifiers"),
        (["claim", "correct", "{n}", "--set", "place_of_service=1" + SECRET], "must be two digits"),
        (["claim", "correct", "{n}", "--set", "diagnosis.1=E11"], "would fail scrubbing (icd10_billable)"),
        (["claim", "correct", "{n}", "--format", "xml"], "--format must be text or json"),
        (["claim", "resubmit", "{n}"], "cannot resubmit it (use claimflow claim correct or void)"),
        (["claim", "void", "{n}", "--set", "line.1.units=2"], "unrecognized arguments"),
    ],
)
def test_errors_are_one_line_exit_2_and_change_nothing(
    paid: dict, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    number, engine = paid["number"], paid["engine"]
    before = _state(engine, number)
    capsys.readouterr()
    try:
        code = main([a.replace("{n}", number) for a in argv])
    except SystemExit as exc:  # argparse's own errors (an option the action does not take)
        code = exc.code
    assert code == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err, err
    assert SECRET not in err and "ZZTEST" not in err and captured.out == ""
    assert _state(engine, number) == before


def test_correct_applies_every_field_and_queues_a_replacement(
    paid: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    number, engine = paid["number"], paid["engine"]
    with engine.connect() as conn:
        clp07 = conn.execute(select(m.ClaimPayment.payer_claim_number)).scalar_one()
    assert (
        main(
            [
                "claim",
                "correct",
                number,
                "--set",
                "diagnosis.1=e11.9",
                "--set",
                "diagnosis.3=Z7984",
                "--set",
                "line.1.procedure=99214",
                "--set",
                "line.1.modifiers=25",
                "--set",
                "line.2.units=2",
                "--set",
                "line.2.charge=1300.50",
                "--set",
                "place_of_service=22",
                "--format",
                "json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert list(out) == [
        "claim_id",
        "claim",
        "action",
        "frequency",
        "payer_claim_number",
        "changed",
        "charge_before",
        "charge_after",
        "work_items_noted",
    ]
    assert (out["action"], out["frequency"], out["payer_claim_number"]) == ("correct", "7", clp07)
    assert (out["charge_before"], out["charge_after"]) == ("1350.00", "1450.50")
    status, freq, f8, total, pos, lines, dx, _ = _state(engine, number)
    assert (status, freq, f8, total, pos) == ("corrected", "7", clp07, D("1450.50"), "22")
    assert lines == [("99214", "25", D("1"), D("150.00")), ("11102", None, D("2"), D("1300.50"))]
    assert dx == ["E119", "I10", "Z7984"]
    with engine.connect() as conn:
        cid = conn.execute(select(m.Claim.id).where(m.Claim.claim_number == number)).scalar_one()
        adj = conn.execute(
            select(m.LedgerEntry.account, m.LedgerEntry.amount)
            .where(m.LedgerEntry.txn_key == f"chgadj:{cid}:1")
            .order_by(m.LedgerEntry.account)
        ).all()
        audit = conn.execute(
            select(m.AuditLog.detail).where(m.AuditLog.action == "claim_correct")
        ).scalar_one()
    assert [(a, D(x)) for a, x in adj] == [("ar_payer", D("100.50")), ("revenue", D("-100.50"))]
    assert audit["fields"][0] == "diagnosis.1" and "E119" not in json.dumps(audit)  # field names, no values
    # A second correction before the claim goes out edits the same pending replacement.
    correct_claim(engine, number, ["line.2.charge=1200.00"], actor="test")
    assert _state(engine, number)[3] == D("1350.00")
    with engine.connect() as conn:
        keys = sorted(
            conn.execute(
                select(m.LedgerEntry.txn_key).where(m.LedgerEntry.txn_key.like("chgadj:%")).distinct()
            ).scalars()
        )
    assert keys == [f"chgadj:{cid}:1", f"chgadj:{cid}:2"]
    void_claim(engine, number, actor="test")  # and may turn into a void
    assert _state(engine, number)[:2] == ("corrected", "8")


def test_text_output_and_lookup_by_clm01(paid: dict, capsys: pytest.CaptureFixture[str]) -> None:
    number = paid["number"]
    assert main(["claim", "correct", f"{number}A1", "--set", "line.1.units=2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"claim {number}: replacement (frequency 7), REF*F8 ")
    assert lines[1] == "  changed: line.1.units"


def test_claims_not_yet_answered_cannot_be_corrected(paid: dict) -> None:
    engine = paid["engine"]
    office: Office = paid["office"]
    pid = office.patient(["CI"])
    fresh = office.claim(pid, [("99213", "", D("100.00"))])
    with pytest.raises(CorrectionError, match="is ready: cannot correct it"):
        correct_claim(engine, fresh, [], actor="test")
    with engine.begin() as conn:  # sent, but no 277CA/835 yet: no payer claim number for REF*F8
        conn.execute(update(m.Claim).where(m.Claim.claim_number == fresh).values(status="accepted"))
    with pytest.raises(CorrectionError, match="has no payer claim number yet"):
        void_claim(engine, fresh, actor="test")


def test_parse_changes_names_fields_never_values() -> None:
    assert parse_changes(["line.2.charge = 10.00", "diagnosis.1=E119"]) == [
        ("line.2.charge", "10.00"),
        ("diagnosis.1", "E119"),
    ]
    with pytest.raises(CorrectionError) as exc:
        parse_changes(["line.x.charge=" + SECRET])
    assert SECRET not in str(exc.value) and "line.x.charge: unknown field" in str(exc.value)


def test_a_rejected_replacement_is_resubmitted_as_a_replacement(
    paid: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    number, engine = paid["number"], paid["engine"]
    first = correct_claim(engine, number, ["line.1.units=2"], actor="test")
    with engine.begin() as conn:  # the replacement went out and the payer's front end rejected it
        conn.execute(update(m.Claim).where(m.Claim.claim_number == number).values(status="rejected"))
    assert main(["claim", "resubmit", number]) == 0
    assert capsys.readouterr().out.startswith(
        f"claim {number}: replacement (frequency 7), REF*F8 {first.payer_claim_number} queued"
    )
    assert _state(engine, number)[:3] == ("ready", "7", first.payer_claim_number)
