"""Migration 0008's claim details round trip through seed → database → loader → 837, on both backends:
discharge hour, patient's reason for visit, NDC on drug lines; Medicare Part A/B routing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Engine, select

from claimflow.db import models as m
from claimflow.sandbox.seed import seed_practice
from claimflow.sandbox.synthetic import NDC_BY_HCPCS, generate_practice
from claimflow.services.claims_loader import load_claims
from edi.claim import ClaimFilingIndicator, ClaimType, InterchangeParties, Party
from edi.control_numbers import InMemoryControlNumbers
from edi.scrub import scrub_claim
from edi.validate import validate_x12
from edi.x837 import build_interchange

AS_OF = dt.date(2026, 11, 25)


def test_claim_details_round_trip_and_build_clean(engine: Engine) -> None:
    seed_practice(engine, patients=120, claims=500, seed=7, as_of=AS_OF)
    flaws = generate_practice(120, 500, 7, AS_OF).flaws
    with engine.connect() as conn:
        ids = conn.execute(select(m.Claim.id).order_by(m.Claim.id)).scalars().all()
        claims = [c for c in load_claims(conn, ids) if c.claim_id not in flaws]
    inpatient = [c for c in claims if c.bill_type == "111"]
    emergency = [c for c in claims if any(ln.revenue_code == "0450" for ln in c.lines)]
    drugs = [ln for c in claims for ln in c.lines if (ln.procedure_code or "").startswith("J")]
    assert inpatient and emergency and drugs
    assert all(c.discharge_hour and len(c.discharge_hour) in (2, 4) for c in inpatient)
    assert all(len(c.reason_for_visit) == 1 and c.admission_type in ("1", "2") for c in emergency)
    for ln in drugs:
        ndc, unit, per_unit = NDC_BY_HCPCS[ln.procedure_code or ""]
        assert (ln.ndc, ln.ndc_unit) == (ndc, unit)
        assert isinstance(ln.ndc_quantity, Decimal) and ln.ndc_quantity == per_unit * ln.units
    for c in claims:
        fi = c.payer.filing_indicator
        if c.claim_type == ClaimType.PROFESSIONAL:
            assert fi != ClaimFilingIndicator.MEDICARE_A
        else:
            assert fi != ClaimFilingIndicator.MEDICARE_B
    assert any(c.payer.filing_indicator == ClaimFilingIndicator.MEDICARE_A for c in claims)
    assert [f for c in claims for f in scrub_claim(c, AS_OF)] == []  # the practice is clean unless flawed

    # One interchange per claim type from the loaded claims: pyx12 finds nothing wrong.
    parties = InterchangeParties("ZZ", "CLAIMFLOW", "ZZ", "CLEARINGHOUSE")
    submitter = Party("CLAIMFLOW BILLING", "CF0001", "EDI DESK", "5555550100")
    receiver = Party("CLEARINGHOUSE INC", "CH0001")
    for kind in ClaimType:
        of_kind = [c for c in claims if c.claim_type == kind]
        with_ndc = [c for c in of_kind if any(ln.ndc for ln in c.lines)]
        picked = of_kind[:40] + with_ndc[:20]
        if kind == ClaimType.INSTITUTIONAL:
            picked += inpatient[:20] + emergency[:20]
        batch = list({c.claim_id: c for c in picked}.values())
        built = build_interchange(
            batch, parties, submitter, receiver, InMemoryControlNumbers(), dt.datetime(2026, 11, 25, 1, 30)
        )
        assert "DTP*096*TM*" in built.text or kind == ClaimType.PROFESSIONAL
        assert "LIN**N4*" in built.text
        report = validate_x12(built.text.encode("ascii"))
        assert report.ok and report.errors == []
