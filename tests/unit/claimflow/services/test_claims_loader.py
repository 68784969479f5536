"""The 837 loader's COB data for a secondary claim, on SQLite and PostgreSQL: every line the primary's 835
adjudicated gets its 2430 (a line whose only CAS is PR, and a line paid in full with no CAS at all), the
2320 AMT*EAF is the primary's CLP05, the 837 passes pyx12, and the sandbox secondary reading it pays at
most what the primary left to the patient (the demo's negative insurance balance, issue #10)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Engine, insert, select, update

from adjudication.posting import post_remittances
from claimflow.db import models as m
from claimflow.followup.secondary import issue_secondary_claims
from claimflow.sandbox.payer.engine import EngineConfig
from claimflow.services.claims_loader import load_claims
from edi.validate import validate_x12
from tests.unit.adjudication.builders import DAY, Line, Pay, Practice
from tests.unit.sandbox.conftest import PayerHarness, build_837, make_npi

D = Decimal
RUN = dt.date(2026, 11, 21)
ADDRESS = {"address_line1": "1 ZZTEST RD", "city": "SPRINGFIELD", "state": "IL", "postal_code": "627011234"}
QUIET = EngineConfig(
    member_not_found_per_mille=0,
    medical_necessity_per_mille=0,
    noncovered_per_mille=0,
    reprocess_per_mille=0,
    recoup_per_mille=0,
)


def _secondary_of_a_primary_with_pr_on_single_lines(engine: Engine) -> int:
    """Primary (commercial) paid line 1 with CO-45 + PR-3 copay, line 2 in full (no CAS), denied line 3
    PR-96 (non-covered, its only CAS); no claim-level CAS. Returns the secondary claim's id."""
    pr = Practice(engine)
    with engine.begin() as conn:  # what a real 837 needs (the builders leave addresses out)
        conn.execute(update(m.Provider).values(taxonomy="207Q00000X", tax_id="371234567", **ADDRESS))
        conn.execute(update(m.Payer).values(**ADDRESS))
    c = pr.claim(
        pr.patient("A0000001", secondary=True),
        [("99213", D("150.00")), ("85025", D("3.00")), ("93000", D("65.00"))],
    )
    with engine.begin() as conn:
        doc = conn.execute(
            insert(m.Provider)
            .values(
                npi=make_npi("223456789"),
                entity_type="1",
                role="rendering",
                last_name="ZZTESTDOC",
                first_name="ZZ",
            )
            .returning(m.Provider.id)
        ).scalar_one()
        conn.execute(update(m.Claim).where(m.Claim.id == c.id).values(rendering_provider_id=doc))
        conn.execute(insert(m.ClaimDiagnosis).values(claim_id=c.id, sequence=1, code="I10"))
        conn.execute(
            update(m.ServiceLine).where(m.ServiceLine.claim_id == c.id).values(diagnosis_pointers="1")
        )
    (_, lcn1, _, _), (_, lcn2, _, _), (_, lcn3, _, _) = c.lines
    pr.remittance(
        [
            Pay(
                pcn=c.pcn,
                lines=[
                    Line("99213", D("150.00"), D("100.00"), [("CO", "45", D("47.00")), ("PR", "3", D("3.00"))], lcn1),
                    Line("85025", D("3.00"), D("3.00"), [], lcn2),
                    Line("93000", D("65.00"), D("0.00"), [("PR", "96", D("65.00"))], lcn3),
                ],
            )
        ]
    )  # fmt: skip
    post_remittances(engine, actor="test", as_of=RUN)
    assert issue_secondary_claims(engine, RUN)["secondary_created"] == 1
    with engine.connect() as conn:
        return int(conn.execute(select(m.Claim.id).where(m.Claim.primary_claim_id == c.id)).scalar_one())


def test_every_adjudicated_line_gets_its_2430_and_the_secondary_pays_at_most_the_pr(engine: Engine) -> None:
    sec_id = _secondary_of_a_primary_with_pr_on_single_lines(engine)
    with engine.connect() as conn:
        [claim] = list(load_claims(conn, [sec_id]))
    [other] = claim.other_coverages
    assert other.paid == D("103.00") and other.patient_liability == D("68.00")
    assert other.adjustments == ()  # all CAS were on lines the 835 tied to ours: they go in 2430
    assert [ln.other_payer is not None for ln in claim.lines] == [True, True, True]
    first, full, denied = (ln.other_payer for ln in claim.lines)
    assert first is not None and full is not None and denied is not None
    assert (first.paid, first.adjustments) == (
        D("100.00"),
        (("CO", "45", D("47.00")), ("PR", "3", D("3.00"))),
    )
    assert (full.paid, full.adjustments) == (D("3.00"), ())
    assert (denied.paid, denied.adjustments) == (D("0.00"), (("PR", "96", D("65.00")),))
    assert {op.adjudication_date for op in (first, full, denied)} == {DAY + dt.timedelta(days=19)}

    text = build_837([claim])
    report = validate_x12(text.encode("ascii"))
    assert report.ok, [e.line("secondary.837") for e in report.errors]
    segments = [s.split("*") for s in text.split("~") if s.strip()]
    svd = [s for s in segments if s[0] == "SVD"]
    assert [D(s[2]) for s in svd] == [D("100.00"), D("3.00"), D("0")]
    assert ["EAF", "68"] in [s[1:3] for s in segments if s[0] == "AMT"]

    h = PayerHarness(config=QUIET)
    [ack] = h.submit([claim], received=RUN)
    assert ack.accepted
    [remit] = h.run(RUN)
    [pay] = remit.claims
    assert pay.status == "2"
    assert D("0") < pay.paid <= D("68.00")  # never more than the primary left to the patient
    left = sum(
        (ln.paid + sum((a.amount for a in ln.adjustments if a.group == "PR"), D("0")) for ln in pay.lines),
        D("0"),
    )
    assert left == D("68.00")
    assert pay.lines[1].paid == 0  # the line the primary paid in full
