"""What the sandbox writes back for generated 837s: valid X12 (pyx12, zero errors), parseable by claimflow's
parsers, balanced, and tied to the claims that were sent (CLM01, REF*6R, ISA13/GS06/ST02)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from claimflow.sandbox import adjudicate_cli
from claimflow.sandbox.payer import EngineConfig, SandboxPayer, make_upload_handler
from edi.reader import iter_segments
from edi.validate import format_report, validate_x12
from eob.balance import iter_exceptions
from parsers import parse_file
from parsers.records import (
    ClaimPayment,
    ClaimStatus,
    FunctionalGroupAck,
    InterchangeAck,
    LevelStatus,
    ProviderAdjustment,
    Remittance,
    RemittanceTotals,
    TransactionSetAck,
)
from tests.unit.sandbox.conftest import (
    MEDICAID,
    NEXT_NIGHT,
    RECEIVED,
    SEED,
    Sandbox,
    bad_npi,
    build_837,
    five_patients,
    inpatient,
    line,
    outpatient,
    prof,
    secondary,
)

EVERYTHING = EngineConfig(  # every seeded path at once, to exercise the writers
    member_not_found_per_mille=0, medical_necessity_per_mille=150, noncovered_per_mille=100
)


def professional_batch() -> list:
    return [
        *five_patients([line(1, "99215", "250.00"), line(2, "71046", "600.00"), line(3, "85025", "32.00")]),
        prof("PCN-006", [line(1, "99213", "125.00"), line(2, "11102", "130.00")]),
        prof("PCN-007", rendering=None),
        prof("PCN-008", member="XBAD0000001"),
        prof("PCN-009", billing=dataclasses.replace(prof("X").billing_provider, npi=bad_npi("123456789"))),
        secondary("PCN-010"),
        prof("PCN-011", [line(1, "36415", "18.00", dos=RECEIVED + dt.timedelta(days=5))]),
    ]


def segments(path: Path) -> list[list[str]]:
    return [el for _, el in iter_segments(path)]


def assert_valid(path: Path) -> None:
    report = validate_x12(path)
    assert report.ok, "\n".join(format_report(report, path.name))
    assert report.errors == []


def claim_statuses(path: Path) -> dict[str, tuple[str, str | None]]:
    """277CA 2200D loops: CLM01 (TRN*2 under an HL*PT) -> (STC01, REF*1K or None)."""
    out: dict[str, tuple[str, str | None]] = {}
    in_patient, current = False, ""
    for s in segments(path):
        if s[0] == "HL":
            in_patient = s[3] == "PT"
        elif in_patient and s[:2] == ["TRN", "2"]:
            current = s[2]
        elif in_patient and s[0] == "STC":
            out[current] = (s[1], None)
        elif in_patient and s[:2] == ["REF", "1K"]:
            out[current] = (out[current][0], s[2])
    return out


def by_suffix(paths: list[Path]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = defaultdict(list)
    for p in paths:
        out[p.suffix].append(p)
    return out


def parsed_835(paths: list[Path]) -> list:
    return [r for p in paths for r in parse_file(p)]


def assert_835_balances(records: list) -> None:
    """claimflow's balancing rules on the parsed 835 (eob.balance adds its own checks when present)."""
    remittance: Remittance | None = None
    paid = plb = Decimal(0)
    for r in records:
        if isinstance(r, Remittance):
            remittance, paid, plb = r, Decimal(0), Decimal(0)
        elif isinstance(r, ClaimPayment):
            line_cas = sum((a.amount for ln in r.lines for a in ln.adjustments), Decimal(0))
            claim_cas = sum((a.amount for a in r.adjustments), Decimal(0))
            assert r.charge - r.paid == claim_cas + line_cas, r.patient_control_number
            for ln in r.lines:
                assert ln.charge - ln.paid == sum((a.amount for a in ln.adjustments), Decimal(0))
            pr = sum((a.amount for a in r.adjustments if a.group == "PR"), Decimal(0)) + sum(
                (a.amount for ln in r.lines for a in ln.adjustments if a.group == "PR"), Decimal(0)
            )
            assert r.patient_responsibility == pr
            paid += r.paid
        elif isinstance(r, ProviderAdjustment):
            plb += r.amount
        elif isinstance(r, RemittanceTotals):
            assert remittance is not None
            assert remittance.payment_amount == paid - plb == r.payment_amount
            assert r.payment_amount >= 0
            assert (remittance.handling_code == "H") == (r.payment_amount == 0)
    assert list(iter_exceptions(records)) == []  # claimflow's own balancing (eob.balance)


def parsed(path: Path) -> list:
    """Every response file must parse with claimflow's inbound parsers (TA1, 999, 277CA, 835)."""
    return list(parse_file(path))


# ------------------------------------------------------------------------------------------------ 837P


def test_professional_batch_every_response_valid_and_balanced(sandbox: Sandbox) -> None:
    sandbox.config = EVERYTHING
    sent = professional_batch()
    files = by_suffix(sandbox.send(sent))
    assert sorted(files) == [".277", ".835", ".999"]
    for paths in files.values():
        for p in paths:
            assert_valid(p)

    # 999: one transaction set for the one functional group, accepted
    seg999 = segments(files[".999"][0])
    assert ["AK1", "HC", "101", "005010X222A1"] in seg999
    assert ["IK5", "A"] in seg999 and ["AK9", "A", "1", "1", "1"] in seg999

    # 277CA: one answer per claim sent, CLM01 in TRN*2, REF*1K exactly for accepted claims
    answers = claim_statuses(files[".277"][0])
    assert sorted(answers) == sorted(c.patient_control_number for c in sent)
    status = {k: v[0] for k, v in answers.items()}
    assert status["PCN-001"] == "A2:20"
    assert status["PCN-008"] == "A7:164:IL"
    assert status["PCN-009"] == "A7:562:85"
    assert status["PCN-011"] == "A7:187"
    assert all((icn is not None) == (stc == "A2:20") for stc, icn in answers.values())

    # ... and claimflow's 999/277CA parsers read the same
    (group_ack,) = [r for r in parsed(files[".999"][0]) if isinstance(r, FunctionalGroupAck)]
    (set_ack,) = [r for r in parsed(files[".999"][0]) if isinstance(r, TransactionSetAck)]
    assert group_ack.accepted and group_ack.group_control_number == "101"
    assert set_ack.accepted and set_ack.set_control_number == "0001" and set_ack.errors == ()
    records277 = parsed(files[".277"][0])
    statuses = {r.patient_control_number: r for r in records277 if isinstance(r, ClaimStatus)}
    assert {k: f"{v.category}:{v.status_code}" for k, v in statuses.items()} == {
        k: ":".join(v.split(":")[:2]) for k, v in status.items()
    }
    assert all(v.accepted == (status[k] == "A2:20") for k, v in statuses.items())
    assert all(v.payer_claim_control_number == answers[k][1] for k, v in statuses.items())
    assert statuses["PCN-009"].statuses[0].entity == "85"
    levels = [r for r in records277 if isinstance(r, LevelStatus)]
    batches = [lv for lv in levels if lv.loop == "2200B"]  # one per payer
    assert len(batches) == len({c.payer.payer_id for c in sent})
    assert sum(b.accepted_quantity or 0 for b in batches) == sum(1 for v in status.values() if v == "A2:20")
    assert sum(b.rejected_quantity or 0 for b in batches) == sum(1 for v in status.values() if v != "A2:20")

    # 835: parsed by claimflow's parser, balanced, CLP01 = the CLM01s that were accepted
    records = parsed_835(files[".835"])
    assert_835_balances(records)
    clp01 = {r.patient_control_number for r in records if isinstance(r, ClaimPayment)}
    accepted = {k for k, v in status.items() if v == "A2:20"}
    assert clp01 == accepted
    for r in records:
        if isinstance(r, ClaimPayment):
            assert r.payer_claim_control_number == answers[r.patient_control_number][1]
            sent_claim = next(c for c in sent if c.patient_control_number == r.patient_control_number)
            assert [ln.control_number for ln in r.lines] == [
                ln.line_control_number for ln in sent_claim.lines
            ]
            assert r.received_date == RECEIVED


def test_institutional_and_secondary_responses_valid_and_balanced(sandbox: Sandbox) -> None:
    files = by_suffix(sandbox.send([outpatient("INS-1"), inpatient("INS-2")]))
    files2 = by_suffix(sandbox.send([secondary("SEC-1"), secondary("SEC-2", payer=MEDICAID, member="MCD1")]))
    for group in (files, files2):
        for paths in group.values():
            for p in paths:
                assert_valid(p)
    records = parsed_835(files[".835"] + files2[".835"])
    assert_835_balances(records)
    claims = {r.patient_control_number: r for r in records if isinstance(r, ClaimPayment)}
    assert claims["INS-2"].inpatient is not None and claims["INS-2"].inpatient.covered_days == 3
    assert (
        claims["INS-1"].lines[2].procedure_qualifier == "NU"
        and claims["INS-1"].lines[2].procedure_code == "0250"
    )
    assert claims["SEC-1"].status == "2"
    assert any(a.group == "OA" and a.reason == "23" for ln in claims["SEC-1"].lines for a in ln.adjustments)


def test_reversal_correction_and_plb_across_two_nights(sandbox: Sandbox) -> None:
    sandbox.config = EngineConfig(member_not_found_per_mille=0, reprocess_per_mille=1000)
    big = [line(1, "99215", "250.00"), line(2, "71046", "600.00")]
    night1 = by_suffix(sandbox.send([prof("REV-1", big)]))
    night2 = sandbox.release(NEXT_NIGHT)
    assert len(night2) == 1 and night2[0].suffix == ".835"
    for p in night1[".835"] + night2:
        assert_valid(p)
    records = parsed_835(night2)
    assert_835_balances(records)
    claims = [r for r in records if isinstance(r, ClaimPayment)]
    assert [c.status for c in claims] == ["22", "1"]
    assert {c.patient_control_number for c in claims} == {"REV-1"}
    first = next(r for r in parsed_835(night1[".835"]) if isinstance(r, ClaimPayment))
    assert claims[0].payer_claim_control_number == first.payer_claim_control_number
    assert claims[0].paid == -first.paid
    plb = [r for r in records if isinstance(r, ProviderAdjustment)]
    assert [p.reason for p in plb] == ["L6"] and plb[0].amount < 0


def test_deferred_payments_come_at_the_next_release(sandbox: Sandbox) -> None:
    first = sandbox.send(
        [prof("LATER-1", [line(1, "99215", "250.00"), line(2, "71046", "600.00")])], defer=True
    )
    assert sorted(p.suffix for p in first) == [".277", ".999"]
    paid = sandbox.release(NEXT_NIGHT)
    assert [p.suffix for p in paid] == [".835"]
    assert paid[0].name == f"SBX01-{NEXT_NIGHT:%Y%m%d}-0001.835"
    assert_valid(paid[0])
    assert sandbox.release(NEXT_NIGHT + dt.timedelta(days=1)) == []


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    outputs = []
    for run in ("a", "b"):
        sb = Sandbox(tmp_path / run)
        paths = sb.send(professional_batch()) + sb.release(NEXT_NIGHT)
        outputs.append([(p.name, p.read_bytes()) for p in paths])
    assert outputs[0] == outputs[1]


# ------------------------------------------------------------------------------------- 999 / TA1 paths


def test_invalid_837_content_gets_ik3_ik4_and_no_277(sandbox: Sandbox, tmp_path: Path) -> None:
    text = build_837([prof("BAD-1")], isa13=555)
    text = text.replace("*******CI~", "*******QQ~")  # SBR09: not a claim filing indicator code
    bad = tmp_path / "bad.837"
    bad.write_text(text)
    files = sandbox.send_file(bad)
    assert [p.suffix for p in files] == [".999"]
    assert_valid(files[0])
    seg = segments(files[0])
    ik3 = [s for s in seg if s[0] == "IK3"]
    assert ik3 and ik3[0][1] == "SBR" and ik3[0][3] == "2000"  # IK303: loop number (element 447 max 4)
    assert ["IK4", "9", "", "7"] in seg  # SBR09 invalid code value
    assert ["IK5", "R", "5"] in seg and ["AK9", "R", "1", "1", "0"] in seg
    assert all("DOE" not in "*".join(s) for s in seg)  # no patient data echoed
    (set_ack,) = [r for r in parsed(files[0]) if isinstance(r, TransactionSetAck)]
    assert not set_ack.accepted and set_ack.syntax_errors == ("5",)
    (err,) = set_ack.errors
    assert (err.segment_id, err.loop_id, err.error_code) == ("SBR", "2000", "8")
    assert [(e.position, e.error_code) for e in err.elements] == [(9, "7")]


def test_ik3_inside_a_claim_names_its_clm01(sandbox: Sandbox, tmp_path: Path) -> None:
    text = build_837([prof("CTX-1")], isa13=556)
    text = text.replace("DTP*472*D8*20250303~", "DTP*472*D8*2025033~", 1)
    bad = tmp_path / "ctx.837"
    bad.write_text(text)
    (ack,) = sandbox.send_file(bad)
    seg = segments(ack)
    assert ["CTX", "CLM01:CTX-1"] in [[s[0], s[1]] for s in seg if s[0] == "CTX"]
    assert_valid(ack)
    (set_ack,) = [r for r in parsed(ack) if isinstance(r, TransactionSetAck)]
    assert [e.patient_control_number for e in set_ack.errors] == ["CTX-1"]


def test_bad_envelope_gets_only_a_ta1(sandbox: Sandbox, tmp_path: Path) -> None:
    text = build_837([prof("ENV-1")], isa13=777).replace("IEA*1*000000777~", "IEA*1*000000778~")
    bad = tmp_path / "env.837"
    bad.write_text(text)
    files = sandbox.send_file(bad)
    assert [p.name for p in files] == ["000000777.ta1"]
    assert_valid(files[0])
    ta1 = segments(files[0])[1]
    assert ta1[:2] == ["TA1", "000000777"] and ta1[4:] == ["R", "001"]  # 001: ISA13 and IEA02 differ
    (rec,) = parsed(files[0])
    assert isinstance(rec, InterchangeAck) and not rec.accepted and rec.control_number == "000000777"


def test_ta1_on_request(sandbox: Sandbox) -> None:
    files = sandbox.send([prof("TA1-1")], ack_requested="1")
    assert files[0].suffix == ".ta1"
    ta1 = segments(files[0])[1]
    assert ta1[0] == "TA1" and ta1[4:] == ["A", "000"]
    for p in files:
        assert_valid(p)
        assert parsed(p)
    (rec,) = parsed(files[0])
    assert isinstance(rec, InterchangeAck) and rec.accepted


# -------------------------------------------------------------------------------- handler, CLI, privacy


def test_upload_handler_delivers_into_the_partner_outbound(tmp_path: Path) -> None:
    root = tmp_path / "sb"
    payer = make_upload_handler(root, SEED, today=lambda: RECEIVED)
    assert isinstance(payer, SandboxPayer)
    inbound = root / "acme" / "inbound"
    inbound.mkdir(parents=True)
    up = inbound / "claims.837"
    up.write_text(
        build_837([prof("H-1", [line(1, "99215", "250.00"), line(2, "71046", "600.00")])], isa13=42)
    )
    payer("acme", up)
    outbound = root / "acme" / "outbound"
    assert sorted(p.name for p in outbound.iterdir()) == ["000000042.277", "000000042.999"]
    delivered = payer.release_payments(NEXT_NIGHT)
    assert [p.parent for p in delivered] == [outbound] and delivered[0].suffix == ".835"
    assert (root / ".sandbox" / "payer-state.json").exists()
    # the same file again: new answers under new names, and the claim is a duplicate now
    payer("acme", up)
    assert len(list(outbound.iterdir())) == 5
    (dup,) = payer.release_payments(NEXT_NIGHT)
    (claim,) = [r for r in parse_file(dup) if isinstance(r, ClaimPayment)]
    assert claim.status == "4" and claim.lines[0].adjustments[0].reason == "18"


def test_cli_writes_and_prints_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "c.837"
    src.write_text(build_837([prof("CLI-1")], isa13=9))
    out = tmp_path / "out"
    rc = adjudicate_cli.main([str(src), "--out", str(out), "--seed", "7", "--run-date", "2025-03-10"])
    assert rc == 0
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == ["000000009.999", "000000009.277", "SBX01-20250310-0001.835"]
    assert (out / ".payer-state.json").exists()
    rc = adjudicate_cli.main([str(src), "--out", str(out), "--seed", "8", "--run-date", "2025-03-10"])
    assert rc == 1  # a state file is tied to its seed
    assert adjudicate_cli.main(["--out", str(out), "--seed", "7", "--release-payments"]) == 0
    assert adjudicate_cli.main(["--out", str(out)]) == 2  # nothing to do


def test_cli_is_reachable_as_claimflow_sandbox_adjudicate(tmp_path: Path) -> None:
    from claimflow.cli import build_parser

    args = build_parser().parse_args(
        ["sandbox", "adjudicate", "c.837", "--out", str(tmp_path), "--seed", "3"]
    )
    assert args.handler is adjudicate_cli.run and args.seed == 3 and args.files == [Path("c.837")]


def test_no_phi_in_logs_or_file_names(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    files = sandbox.send(professional_batch()) + sandbox.release(NEXT_NIGHT)
    text = caplog.text + " ".join(p.name for p in files)
    for phi in ("DOE", "JANE", "JIMMY", "OSCAR", "ACM10000001", "1EG4TE5MK73", "19800412"):
        assert phi not in text


FIXTURES = sorted((Path(__file__).resolve().parents[3] / "fixtures").glob("837[pi]/*.837"))


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f"{p.parent.name}/{p.name}" for p in FIXTURES])
def test_every_837_fixture_gets_valid_balanced_answers(fixture: Path, tmp_path: Path) -> None:
    from claimflow.sandbox.payer.claims837 import read_837

    ich = read_837(fixture)
    last = max((c.service_to for c in ich.claims if c.service_to), default=RECEIVED)
    sb = Sandbox(tmp_path)
    files = by_suffix(sb.send_file(fixture, last + dt.timedelta(days=10)))
    assert ".999" in files and ".277" in files
    for paths in files.values():
        for p in paths:
            assert_valid(p)
            assert parsed(p)
    assert_835_balances(parsed_835(files.get(".835", [])))
    assert sorted(claim_statuses(files[".277"][0])) == sorted(c.patient_control_number for c in ich.claims)


def test_other_delimiters_and_unwritable_characters_in_the_837(sandbox: Sandbox, tmp_path: Path) -> None:
    from edi.control_numbers import InMemoryControlNumbers
    from edi.delimiters import Delimiters
    from edi.x837 import build_interchange
    from tests.unit.sandbox.conftest import CREATED, RECEIVER, SUBMITTER

    claim = prof("DELIM-1", [line(1, "99215", "250.00"), line(2, "71046", "600.00")])
    parties = dataclasses.replace(claimflow_parties(), sender_id="CLAIMFLOW")
    text = build_interchange(
        [claim], parties, SUBMITTER, RECEIVER, InMemoryControlNumbers(interchange=321), CREATED,
        delimiters=Delimiters("|", ">", "^", "~"),
    ).text  # fmt: skip
    text = text.replace("|DOE|JANE", "|D*OE|JA:NE")  # legal in this file, not in ours
    src = tmp_path / "pipes.837"
    src.write_text(text)
    files = sandbox.send_file(src)
    assert sorted(p.suffix for p in files) == [".277", ".835", ".999"]
    for p in files:
        assert_valid(p)
    assert "D OE" in next(p for p in files if p.suffix == ".277").read_text()


def claimflow_parties():  # the interchange parties the conftest builder uses
    from edi.claim import InterchangeParties

    return InterchangeParties(
        sender_qualifier="ZZ", sender_id="CLAIMFLOW", receiver_qualifier="ZZ", receiver_id="SANDBOXCH"
    )


@pytest.mark.parametrize(
    ("isa_edit", "note"),
    [((9, "251399"), "014"), ((15, "X"), "020"), ((13, "00000012A"), "018"), ((12, "00401"), "017")],
)
def test_broken_isa_elements_get_a_valid_rejecting_ta1(
    isa_edit: tuple[int, str], note: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    text = build_837([prof("ISA-1")], isa13=12)
    isa, rest = text.split("~", 1)
    el = isa.split("*")
    pos, value = isa_edit
    el[pos] = value.ljust(len(el[pos]))
    src = tmp_path / "isa.837"
    src.write_text("*".join(el) + "~" + rest)
    (ta1,) = sandbox.send_file(src)
    assert ta1.suffix == ".ta1"
    assert segments(ta1)[1][4:] == ["R", note]
    assert_valid(ta1)
    (rec,) = parsed(ta1)
    assert isinstance(rec, InterchangeAck) and rec.note_code == note


def test_recoupment_without_claims_is_a_valid_notification_835(sandbox: Sandbox) -> None:
    sandbox.config = EngineConfig(member_not_found_per_mille=0, recoup_per_mille=1000)
    sandbox.send([prof("WO-1", [line(1, "99215", "250.00"), line(2, "71046", "600.00")])])
    (remit,) = sandbox.release(NEXT_NIGHT)
    assert_valid(remit)
    records = parsed(remit)
    assert_835_balances(records)
    header = next(r for r in records if isinstance(r, Remittance))
    assert (header.handling_code, header.payment_method, header.payment_amount) == ("H", "NON", 0)
    assert not any(isinstance(r, ClaimPayment) for r in records)
    assert [r.reason for r in records if isinstance(r, ProviderAdjustment)] == ["WO", "FB"]


def test_zero_config_on_upload_for_the_serve_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from claimflow.sandbox.payer import on_upload

    monkeypatch.setenv("CLAIMFLOW_SANDBOX_SEED", "5")
    inbound = tmp_path / "sb" / "claimflow" / "inbound"
    inbound.mkdir(parents=True)
    up = inbound / "c.837"
    up.write_text(build_837([prof("Z-1")], isa13=77))
    on_upload("claimflow", up)
    names = sorted(p.name for p in (tmp_path / "sb" / "claimflow" / "outbound").iterdir())
    assert names[:2] == ["000000077.277", "000000077.999"] and names[2].endswith(".835")
    assert (tmp_path / "sb" / ".sandbox" / "payer-state.json").exists()
