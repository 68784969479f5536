"""Secondary and tertiary claims, billed automatically from what the earlier payer's 835 said.

:func:`issue_secondary_claims` finds every claim whose latest live (posted, not reversed) 835 payment is
an adjudication as primary (CLP02 = 1) or secondary (2) that left patient responsibility (CLP05 > 0),
where the patient has an active coverage of the next priority (2, then 3) and no claim for that coverage
exists yet. For each it inserts a new ``ready`` claim for the same services:

* claim number ``S<primary claim id:08d>`` (``T…`` for tertiary), ``responsibility`` S/T,
  ``primary_claim_id`` = the primary claim, coverage and payer of the next coverage;
* the same diagnoses and lines (line control numbers ``S…``/``T…``);
* one ``claim_other_payers`` row per earlier payer: CLP04 (2320 AMT*D), the claim-level CAS of its 835
  (lines the 835 did not tie to our lines bring their CAS to claim level), the payment date (DTP*573).

The 837 loader (:mod:`claimflow.services.claims_loader`) adds the rest from the same 835 rows: 2430 SVD/CAS/DTP*573
for every line the earlier payer adjudicated and 2320 AMT*EAF (its CLP05). The next ``claims_submission``
sends them.

**Crossovers** (CLP02 = 19 or 20: "processed as primary, forwarded to the additional payer", with
NM1*TT naming the crossover carrier) are counted and never billed: the payer already sent the claim on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, and_, insert, or_, select

from claimflow.db import models as m

log = logging.getLogger("claimflow.followup.secondary")

#: CLP02 values of a live adjudication, by the responsibility of the claim it pays.
_PROCESSED_AS = {"P": ("1",), "S": ("2",)}
CROSSOVER = ("19", "20")
_NEXT = {"P": ("S", 2), "S": ("T", 3)}


def _live_payments(conn: Any) -> dict[int, Any]:
    """Per claim: its latest posted claim payment that no reversal took back (any CLP02 but 22/23/25)."""
    cp = m.ClaimPayment
    reversed_ids = select(cp.reversal_of_id).where(cp.reversal_of_id.is_not(None), cp.posted_at.is_not(None))
    rows = conn.execute(
        select(
            cp.id,
            cp.claim_id,
            cp.status_code,
            cp.paid,
            cp.patient_responsibility,
            m.Remittance.payment_date,
            m.Remittance.production_date,
        )
        .join(m.Remittance, m.Remittance.id == cp.remittance_id)
        .where(
            cp.posted_at.is_not(None),
            cp.claim_id.is_not(None),
            cp.duplicate_of_id.is_(None),
            cp.status_code.not_in(("22", "23", "25")),
            cp.id.not_in(reversed_ids),
        )
        .order_by(cp.id)
    ).all()
    return {r.claim_id: r for r in rows}


def issue_secondary_claims(
    engine: Engine, run_date: dt.date | None = None, *, actor: str = "claimflow"
) -> dict[str, int]:
    """Create the secondary/tertiary claims due (see the module docstring). Idempotent.

    Returns ``{"secondary_created", "tertiary_created", "crossovers_skipped", "no_coverage_active"}``.
    """
    from claimflow.db.audit import audit

    run_date = run_date or dt.date.today()
    counts = {"secondary_created": 0, "tertiary_created": 0, "crossovers_skipped": 0, "no_coverage_active": 0}
    with engine.begin() as conn:
        live = _live_payments(conn)
        if not live:
            return counts
        c = m.Claim
        claims = {
            r.id: r
            for r in conn.execute(
                select(c.__table__).where(
                    c.id.in_(list(live)),
                    c.responsibility.in_(("P", "S")),
                    c.status.in_((m.ClaimStatus.PAID, m.ClaimStatus.PARTIALLY_PAID, m.ClaimStatus.CLOSED)),
                )
            )
        }
        patients = {cl.patient_id for cl in claims.values()}
        coverages: dict[int, dict[int, list[Any]]] = defaultdict(lambda: defaultdict(list))
        for cov in (
            conn.execute(select(m.Coverage.__table__).where(m.Coverage.patient_id.in_(patients)))
            if patients
            else []
        ):
            coverages[cov.patient_id][cov.priority].append(cov)
        billed = {
            (r.root, r.coverage_id)
            for r in conn.execute(
                select(func_coalesce(c.primary_claim_id, c.id).label("root"), c.coverage_id)
            ).all()
        }
        taken_numbers = set(conn.execute(select(c.claim_number)).scalars())
        for cid in sorted(claims):
            claim = claims[cid]
            pay = live[cid]
            if pay.status_code in CROSSOVER:
                counts["crossovers_skipped"] += 1
                continue
            if pay.status_code not in _PROCESSED_AS[claim.responsibility]:
                continue
            if not (pay.patient_responsibility or Decimal(0)) > 0:
                continue
            resp, priority = _NEXT[claim.responsibility]
            root = claim.primary_claim_id or claim.id
            active = [
                v
                for v in coverages[claim.patient_id].get(priority, [])
                if (v.effective_from is None or v.effective_from <= claim.service_date_from)
                and (v.effective_to is None or v.effective_to >= claim.service_date_from)
            ]
            if not active:
                if coverages[claim.patient_id].get(priority):
                    counts["no_coverage_active"] += 1
                continue
            cov = active[0]
            if (root, cov.id) in billed:
                continue
            number = f"{resp}{root:08d}"
            if number in taken_numbers:
                number = f"{resp}{root:08d}-{cov.id}"[:20]
                if number in taken_numbers:
                    continue
            new_id = _create(conn, claim, root, resp, cov, number, live, claims, run_date)
            taken_numbers.add(number)
            billed.add((root, cov.id))
            counts["secondary_created" if resp == "S" else "tertiary_created"] += 1
            audit(
                conn,
                actor=actor,
                action="secondary_claim_created",
                object_type="claim",
                object_id=str(new_id),
                detail={
                    "claim": number,
                    "primary_claim_id": root,
                    "from_claim_id": claim.id,
                    "responsibility": resp,
                },
            )
    if any(counts.values()):
        log.info(
            "follow-up claims: %d secondary, %d tertiary created; %d crossovers not billed again",
            counts["secondary_created"],
            counts["tertiary_created"],
            counts["crossovers_skipped"],
        )
    return counts


def func_coalesce(*cols: Any) -> Any:
    from sqlalchemy import func

    return func.coalesce(*cols)


def _create(
    conn: Any,
    claim: Any,
    root: int,
    resp: str,
    cov: Any,
    number: str,
    live: dict[int, Any],
    claims: dict[int, Any],
    run_date: dt.date,
) -> int:
    """Insert the claim, its diagnoses, lines and one ``claim_other_payers`` row per earlier payer."""
    c = m.Claim
    skip = {
        "id",
        "claim_number",
        "status",
        "coverage_id",
        "payer_id",
        "responsibility",
        "primary_claim_id",
        "frequency",
        "original_payer_claim_number",
        "payer_claim_number",
        "created_at",
        "submitted_at",
        "status_changed_at",
    }
    values = {col.key: getattr(claim, col.key) for col in c.__table__.columns if col.key not in skip}
    values.update(
        claim_number=number,
        status=m.ClaimStatus.READY,
        coverage_id=cov.id,
        payer_id=cov.payer_id,
        responsibility=resp,
        primary_claim_id=root,
        frequency="1",
    )
    new_id = int(conn.execute(insert(c).values(**values).returning(c.id)).scalar_one())
    conn.execute(
        insert(m.ClaimDiagnosis).from_select(
            ["claim_id", "sequence", "code"],
            select(new_id_literal(new_id), m.ClaimDiagnosis.sequence, m.ClaimDiagnosis.code).where(
                m.ClaimDiagnosis.claim_id == claim.id
            ),
        )
    )
    sl = m.ServiceLine
    existing = set(conn.execute(select(sl.line_control_number)).scalars())
    rows = []
    for ln in conn.execute(select(sl.__table__).where(sl.claim_id == claim.id).order_by(sl.line_number)):
        lcn = f"{resp}{ln.line_control_number[1:]}"
        if lcn in existing or lcn == ln.line_control_number:
            lcn = f"{number}-{ln.line_number}"
        existing.add(lcn)
        rows.append(
            {k.key: getattr(ln, k.key) for k in sl.__table__.columns if k.key not in ("id", "claim_id")}
            | {"claim_id": new_id, "line_control_number": lcn}
        )
    if rows:
        conn.execute(insert(sl), rows)
    # Earlier payers: the claim this one follows, and (tertiary) the primary before it.
    chain = [claim.id] if claim.primary_claim_id is None else [claim.primary_claim_id, claim.id]
    for prior_id in chain:
        prior = claims.get(prior_id) or conn.execute(select(c.__table__).where(c.id == prior_id)).one()
        pay = live.get(prior_id)
        if pay is None:
            continue
        conn.execute(
            insert(m.ClaimOtherPayer).values(
                claim_id=new_id,
                coverage_id=prior.coverage_id,
                responsibility=prior.responsibility,
                paid=pay.paid,
                adjudication_date=pay.payment_date or pay.production_date or run_date,
                # 2430 carries only the latest earlier payer's lines: an earlier one's line CAS go to its 2320
                adjustments=_claim_level_cas(conn, pay.id, every_level=prior_id != claim.id),
            )
        )
    return new_id


def new_id_literal(value: int) -> Any:
    from sqlalchemy import Integer, literal

    return literal(value, Integer)


def _claim_level_cas(conn: Any, claim_payment_id: int, *, every_level: bool = False) -> list[list[str]]:
    """The 835's claim-level CAS, plus the CAS of service lines it did not tie to one of our lines (so
    2320 + 2430 still add up to what the payer adjusted, CLM02 = AMT*D + CAS). ``every_level``: all of
    them, summed per group and reason (a payer whose lines do not go in 2430)."""
    a, slp = m.Adjustment, m.ServiceLinePayment
    where = [a.claim_payment_id == claim_payment_id, a.amount != 0]
    if not every_level:
        where.append(
            or_(a.service_line_payment_id.is_(None), and_(slp.id.is_not(None), slp.service_line_id.is_(None)))
        )
    rows = conn.execute(
        select(a.group_code, a.reason_code, a.amount)
        .outerjoin(slp, slp.id == a.service_line_payment_id)
        .where(*where)
        .order_by(a.segment_no, a.position)
    ).all()
    if not every_level:
        return [[g, r, f"{Decimal(x):.2f}"] for g, r, x in rows]
    summed: dict[tuple[str, str], Decimal] = {}
    for g, r, x in rows:
        summed[(g, r)] = summed.get((g, r), Decimal(0)) + Decimal(x)
    return [[g, r, f"{x:.2f}"] for (g, r), x in summed.items() if x != 0]
