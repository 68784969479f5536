"""``claimflow claim appeal``: appeal letters for medical-necessity and authorization denials, on SQLite and
PostgreSQL, through the command line (files and modes, letter content, refusal, JSON, timeline, no PHI)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, update

from adjudication.posting import post_remittances
from adjudication.timeline import claim_story
from adjudication.worklist import build_worklist
from claimflow.cli import main
from claimflow.db import models as m
from tests.unit.adjudication.builders import ClaimRef, D, Practice, standard_pay
from tests.unit.adjudication.worklist_builders import add_rarc, denial_pay

PHI = ("ZZTESTLAST", "ZZTESTFIRST", "ZZMEMBER01", "1970-01-02", "ZZTEST ST")


def _denied(
    engine: Engine,
    code: str = "50",
    *,
    auth: str | None = None,
    pr: Practice | None = None,
    account: str = "A0000001",
) -> ClaimRef:
    """A claim whose two lines the payer denied CO-<code> (with N115 on the claim), posted; the nightly
    worklist has opened its denial work item."""
    pr = pr or Practice(engine)
    pid = pr.patient(account)
    c = pr.claim(
        pid, [("99214", D("185.00")), ("36415", D("18.00"))], submitted=dt.datetime(2026, 11, 2, 20, 0)
    )
    with engine.begin() as conn:
        conn.execute(insert(m.ClaimDiagnosis).values(claim_id=c.id, sequence=1, code="E119"))
        conn.execute(insert(m.ClaimDiagnosis).values(claim_id=c.id, sequence=2, code="I10"))
        conn.execute(
            update(m.ServiceLine)
            .where(m.ServiceLine.claim_id == c.id, m.ServiceLine.line_number == 1)
            .values(modifiers="25:59", diagnosis_pointers="1,2")
        )
        if auth:
            conn.execute(update(m.Claim).where(m.Claim.id == c.id).values(prior_authorization=auth))
    den = denial_pay(c, code)
    den.payer_claim_number = "ICN-777"
    first = pr.remittance([den], payment_date=dt.date(2026, 11, 10))
    add_rarc(pr, first["claim_payments"][0])
    post_remittances(engine, actor="test", as_of=dt.date(2026, 11, 10))
    build_worklist(engine, dt.date(2026, 11, 11))
    return c


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_appeal_writes_private_letter_with_codes_and_denial_words(
    claimflow_env: Engine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    c = _denied(claimflow_env)
    with claimflow_env.begin() as conn:
        conn.execute(
            update(m.Payer)
            .where(m.Payer.payer_id == "SBX01")
            .values(address_line1="PO Box 50", city="Springfield", state="IL", postal_code="62701")
        )
    out = tmp_path / "letters"
    caplog.set_level(logging.DEBUG)
    assert main(["claim", "appeal", "ICN-777", "--out", str(out), "--format", "json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert set(result) == {
        "claim_id",
        "claim",
        "payer_claim_number",
        "appeal",
        "categories",
        "reason_codes",
        "amount",
        "html",
        "pdf",
        "work_items_noted",
    }
    assert (result["claim"], result["payer_claim_number"], result["appeal"]) == (c.claim_number, "ICN-777", 1)
    assert result["categories"] == ["medical_necessity"]
    assert result["reason_codes"] == ["CO-50", "N115"]
    assert result["amount"] == "203.00" and result["work_items_noted"] == 1
    html_path, pdf_path = out / f"appeal-{c.claim_number}-1.html", out / f"appeal-{c.claim_number}-1.pdf"
    assert (Path(result["html"]), Path(result["pdf"])) == (html_path, pdf_path)
    assert _mode(out) == 0o700 and _mode(html_path) == 0o600 and _mode(pdf_path) == 0o600
    assert {p.name for p in out.iterdir()} == {html_path.name, pdf_path.name}
    assert pdf_path.read_bytes().startswith(b"%PDF")

    page = html_path.read_text(encoding="utf-8")
    for fragment in (
        c.claim_number,
        "ICN-777",
        "2026-11-01",
        "99214",
        "36415",
        "25 59",
        "E11.9",
        "I10",
        "CO-50",
        "N115",
        "$185.00",
        "$18.00",
        "ACME COMMERCIAL",
        "Sample Family Medicine",
        "medically necessary",
        "medical records",
        "835 remittance",
        f"original claim {c.claim_number}",
        "ZZTESTFIRST ZZTESTLAST",
        "line 1",
        "claim level",
    ):
        assert fragment in page, fragment
    assert "Contractual obligation: Medical necessity" in page  # CARC in words (category, no licensed file)
    assert "PO Box 50" in page and "Springfield, IL 62701" in page  # the payer's address
    # no PHI on stdout, in the logs or in file names
    for phi in PHI:
        assert phi not in captured.out and phi not in captured.err and phi not in caplog.text
        assert all(phi not in p.name for p in out.iterdir())

    # a second appeal gets the next number; the timeline, the work item and the audit log know
    assert main(["claim", "appeal", c.claim_number, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"appeal-{c.claim_number}-2.pdf" in text and not any(phi in text for phi in PHI)
    story = claim_story(claimflow_env, c.claim_number)
    appealed = [e for e in story.events if e["kind"] == "appealed"]
    assert [e["appeal"] for e in appealed] == [1, 2]
    assert appealed[0]["reason_codes"] == ["CO-50", "N115"] and appealed[0]["amount"] == "203.00"
    assert appealed[0]["file"] == f"appeal-{c.claim_number}-1.pdf"
    assert story.events.index(appealed[0]) > max(
        i for i, e in enumerate(story.events) if e["kind"] == "denied"
    )
    with claimflow_env.connect() as conn:
        notes = conn.execute(
            select(m.WorkItem.notes).where(m.WorkItem.claim_id == c.id, m.WorkItem.queue == "denials")
        ).scalar_one()
        assert "appeal 1 written (CO-50, N115)" in (notes or "") and "appeal 2 written" in (notes or "")
        audits = (
            conn.execute(select(m.AuditLog.detail).where(m.AuditLog.action == "claim_appeal")).scalars().all()
        )
    assert [a["appeal"] for a in audits] == [1, 2] and all("ZZTEST" not in json.dumps(a) for a in audits)


def test_authorization_denial_lists_the_authorization_number(
    claimflow_env: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = _denied(claimflow_env, "197", auth="AUTH12345")
    assert main(["claim", "appeal", c.claim_number, "--out", str(tmp_path), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["categories"] == ["authorization"] and result["reason_codes"][0] == "CO-197"
    page = (tmp_path / f"appeal-{c.claim_number}-1.html").read_text(encoding="utf-8")
    assert "Authorization number AUTH12345" in page and "authorized before they were provided" in page
    assert "medically necessary" not in page


def test_contractual_only_claim_is_refused(
    claimflow_env: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pr = Practice(claimflow_env)
    c = pr.claim(pr.patient("A0000002"), [("99213", D("100.00"))])
    pr.remittance([standard_pay(c, payer_claim_number="ICN-900")])
    post_remittances(claimflow_env, actor="test", as_of=dt.date(2026, 11, 20))
    out = tmp_path / "letters"
    assert main(["claim", "appeal", c.claim_number, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("claimflow claim appeal: ")
    assert "no medical-necessity or authorization denial" in err and "categories: none" in err
    assert not out.exists()
    coding = _denied(
        claimflow_env, "97", pr=pr, account="A0000003"
    )  # bundling: a denial, but not one this letter argues
    assert main(["claim", "appeal", coding.claim_number, "--out", str(out)]) == 2
    assert "categories: bundling" in capsys.readouterr().err
    with claimflow_env.connect() as conn:
        assert conn.execute(select(m.Appeal.id)).first() is None


def test_template_override_from_the_environment(
    claimflow_env: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    c = _denied(claimflow_env)
    tpl = tmp_path / "mine.html.j2"
    tpl.write_text(
        "{% set medical_necessity_argument %}Dr. Example says so.{% endset %}"
        "<p>{{ a.claim_number }} {% for d in a.denials %}{{ d.group }}-{{ d.code }} {% endfor %}"
        "{{ medical_necessity_argument }}</p>",
        encoding="utf-8",
    )
    monkeypatch.setenv("CLAIMFLOW_APPEAL_TEMPLATE", str(tpl))
    assert main(["claim", "appeal", c.claim_number, "--out", str(tmp_path / "o")]) == 0
    page = (tmp_path / "o" / f"appeal-{c.claim_number}-1.html").read_text(encoding="utf-8")
    assert page == f"<p>{c.claim_number} CO-50 CO-50 Dr. Example says so.</p>"
    bad = tmp_path / "bad.html.j2"
    bad.write_text("{% for x in %}", encoding="utf-8")
    assert (
        main(["claim", "appeal", c.claim_number, "--out", str(tmp_path / "o"), "--template", str(bad)]) == 2
    )
    assert "bad.html.j2: template error" in capsys.readouterr().err
