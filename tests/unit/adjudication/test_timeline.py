"""A claim's story: every event in time order, CARC/RARC in words, no PHI (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from adjudication.patient_payments import import_payments_csv
from adjudication.posting import post_remittances
from adjudication.reconcile import reconcile
from adjudication.timeline import ClaimNotFound, claim_story, render_text
from adjudication.worklist import build_worklist
from adjudication.writeoffs import write_off

from .builders import D, Practice, reversal_of, standard_pay
from .worklist_builders import RUN, accept_277ca, add_rarc, denial_pay, scrub_hold


def _denied_then_reversed(db: Engine, tmp_path: Path) -> dict[str, object]:
    """Sent 11-02, accepted 11-03 (277CA), denied 11-10 (CO-50, N115), the denial reversed and the claim
    paid 11-20, the patient pays 11-21, the rest of the patient's share written off 11-24."""
    pr = Practice(db)
    pid = pr.patient("A0000001")
    c = pr.claim(
        pid, [("99214", D("185.00")), ("36415", D("18.00"))], submitted=dt.datetime(2026, 11, 2, 20, 0)
    )
    accept_277ca(pr, c)
    den = denial_pay(c)
    den.payer_claim_number = "ICN-777"
    first = pr.remittance([den], payment_date=dt.date(2026, 11, 10))
    add_rarc(pr, first["claim_payments"][0])
    post_remittances(db, actor="test", as_of=dt.date(2026, 11, 10))
    build_worklist(db, dt.date(2026, 11, 11))  # a denial work item opens
    pr.remittance(
        [reversal_of(den), standard_pay(c, pr=D("25.00"), payer_claim_number="ICN-778")],
        payment_date=dt.date(2026, 11, 20),
    )
    post_remittances(db, actor="test", as_of=dt.date(2026, 11, 20))
    csv = tmp_path / "pp.csv"
    csv.write_text(
        "external_id,account_number,claim_number,amount,received_on,method\n"
        f"PP-1,A0000001,{c.claim_number},20.00,2026-11-21,card\n",
        encoding="utf-8",
    )
    import_payments_csv(db, csv, actor="test")
    write_off(
        db, claim_id=c.id, side="patient", actor="test", as_of=dt.date(2026, 11, 24), reason="small balance"
    )
    reconcile(db, RUN)
    build_worklist(db, RUN)  # the denial is gone: its item closes
    return {"claim": c}


def test_claim_show_tells_a_denial_and_its_reversal_in_order(engine: Engine, tmp_path: Path) -> None:
    c = _denied_then_reversed(engine, tmp_path)["claim"]
    story = claim_story(engine, c.claim_number)  # type: ignore[attr-defined]
    kinds = [e["kind"] for e in story.events]
    main = [k for k in kinds if k not in ("posted", "work_item")]
    assert main == [
        "created",
        "submitted",
        "accepted",
        "denied",
        "reversed",
        "paid",
        "patient_payment",
        "write_off",
    ]
    assert kinds.index("work_item") > kinds.index("denied")
    ats = [e["at"][:10] for e in story.events]
    assert ats == sorted(ats)
    denied = next(e for e in story.events if e["kind"] == "denied")
    assert denied["adjustments"][0]["words"].startswith("CO-50 (contractual obligation; medical necessity")
    assert [r["code"] for r in denied["remarks"]] == ["N115"] and "N115" in denied["summary"]
    reversed_ = next(e for e in story.events if e["kind"] == "reversed")
    assert reversed_["reversal_of"] == denied["claim_payment_id"]
    paid = next(e for e in story.events if e["kind"] == "paid")
    # 70% of 185.00 + 18.00 = 142.10 allowed, less 25.00 patient responsibility
    assert paid["paid"] == "117.10" and paid["correction_of"] == denied["claim_payment_id"]
    assert any(e["kind"] == "posted" and e["txn_key"].startswith("rev:") for e in story.events)
    items = [e for e in story.events if e["kind"] == "work_item"]
    assert [e["event"] for e in items] == ["opened", "closed"] and items[0]["queue"] == "denials"
    wo = next(e for e in story.events if e["kind"] == "write_off")
    assert "$5.00" in wo["summary"]  # PR 25.00 − 20.00 paid

    claim = story.claim
    assert claim["claim_number"] == c.claim_number and claim["patient"]["account_number"] == "A0000001"
    assert claim["balance"]["patient_balance"] == "0.00"
    text = json.dumps(story.as_dict()) + "\n".join(render_text(story))
    for phi in ("ZZTESTLAST", "ZZTESTFIRST", "ZZMEMBER", "1970-01-02", "ZZTEST ST"):
        assert phi not in text
    # the same claim by CLM01 and by the payer's claim number
    assert claim_story(engine, c.pcn).claim["id"] == claim["id"]  # type: ignore[attr-defined]
    assert claim_story(engine, "ICN-778").claim["id"] == claim["id"]


def test_scrub_holds_and_unknown_claims(engine: Engine) -> None:
    pr = Practice(engine)
    c = pr.claim(pr.patient("A0000002"), [("99213", D("125.00"))], status="ready")
    scrub_hold(pr, c, rule="diagnosis_billable")
    story = claim_story(engine, c.claim_number)
    scrub = next(e for e in story.events if e["kind"] == "scrubbed")
    assert scrub["rule"] == "diagnosis_billable" and "HI01" not in scrub["summary"]
    with pytest.raises(ClaimNotFound, match="no claim answers"):
        claim_story(engine, "NOPE")
