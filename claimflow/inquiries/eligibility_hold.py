"""Hold claims whose coverage the payer already told us was not active on the date of service.

Registered in :data:`claimflow.services.presubmit.CHECKS`, so ``claims_submission`` runs it beside the scrubber on
every chunk of ready claims. The payer's latest 271 for the claim's coverage (``coverage_eligibility``,
written by :func:`claimflow.inquiries.eligibility.apply_271`) decides:

* **inactive** on the date of service — the answer says *inactive* and the coverage dates it gave do not
  span the claim's dates, or the answer says *active* but the coverage ends before the claim's last date
  — the claim is held (rule ``coverage_inactive``): a claim the payer will deny for "coverage terminated"
  (CO-27) costs a denial, a resubmission and weeks of cash, while a held one is a work item the billing
  office can fix tonight (other insurance, self-pay, a corrected member id).
* **no answer, or an answer older than** ``CLAIMFLOW_ELIGIBILITY_FRESH_DAYS`` — the claim is sent: the
  ``request_eligibility`` 270 batch asks the payer, and a claim is never held on a guess. These claims are
  counted and logged (no PHI: counts only).
* an ``error`` answer (AAA: subscriber not found, payer unavailable) holds nothing either: the payer's
  front end answers the claim itself (277CA), and the worklist shows the 271's reason.

Set-based: two primary-key queries per slice of :data:`SLICE` claim ids whatever the batch size (no
per-claim query); ``bench/bench_eligibility_hold.py`` measures it for 100,000 claims.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from claimflow.db.models import Claim, CoverageEligibility, Payer

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from edi.claim import Claim as EdiClaim
    from edi.scrub import ScrubFinding

log = logging.getLogger("claimflow.inquiries.eligibility")

RULE = "coverage_inactive"
#: Claim ids per IN (...) list: well under SQLite's bound-parameter limit, few round trips for 100k claims.
SLICE = 5000


def _date(value: dt.date) -> str:
    return f"{value:%m/%d/%Y}"


def inactive_on(
    status: str,
    coverage_from: dt.date | None,
    coverage_to: dt.date | None,
    service_from: dt.date,
    service_to: dt.date | None,
) -> dt.date | None:
    """The first date of service the answer says is not covered, or None when the claim may go out.

    An *inactive* answer covers only the dates it names (none named: nothing is covered); an *active*
    answer covers everything up to its end date when it has one (a plan-year begin date after the service
    is not read as "not covered": 271s give the current plan year's start, not when coverage began).
    """
    last = service_to or service_from
    if status == "inactive":
        if coverage_from is not None and service_from < coverage_from:
            return service_from
        if coverage_to is None or coverage_to < service_from:
            return service_from
        if coverage_to < last:
            return coverage_to + dt.timedelta(days=1)
        return None
    if status == "active" and coverage_to is not None and coverage_to < last:
        return max(service_from, coverage_to + dt.timedelta(days=1))
    return None


def _reason(payer: str, day: dt.date, verified: dt.datetime, coverage_to: dt.date | None) -> str:
    ended = f", coverage ended {_date(coverage_to)}" if coverage_to is not None else ""
    return (
        f"{payer} says this coverage was not active on {_date(day)} (eligibility answer of "
        f"{_date(verified.date())}{ended}). Held, not sent: check the patient's insurance, then correct the "
        "coverage or bill the other payer or the patient."
    )


def check_coverage(engine: Engine, claims: Sequence[EdiClaim], today: dt.date) -> list[ScrubFinding]:
    """Findings (rule ``coverage_inactive``) for the claims the latest 271 says are not covered; see the
    module docstring. Logs how many claims go out with coverage not verified recently."""
    from claimflow.settings import get_settings
    from edi.scrub import ScrubFinding

    ids = sorted({c.claim_id for c in claims})
    if not ids:
        return []
    fresh_days = get_settings().eligibility_fresh_days
    cutoff = dt.datetime.combine(today - dt.timedelta(days=fresh_days), dt.time())
    ce = CoverageEligibility
    findings: list[ScrubFinding] = []
    unverified = 0
    with engine.connect() as conn:
        payers: dict[int, str] = {pid: name for pid, name in conn.execute(select(Payer.id, Payer.name))}
        for start in range(0, len(ids), SLICE):
            # two primary-key lookups per slice (claims by id, answers by coverage id): a plan no planner
            # can turn into a scan, whatever the table sizes
            claims_rows = conn.execute(
                select(
                    Claim.id,
                    Claim.coverage_id,
                    Claim.payer_id,
                    Claim.service_date_from,
                    Claim.service_date_to,
                ).where(Claim.id.in_(ids[start : start + SLICE]))
            ).all()
            answers = {
                r.coverage_id: r
                for r in conn.execute(
                    select(ce.coverage_id, ce.status, ce.coverage_from, ce.coverage_to, ce.verified_at).where(
                        ce.coverage_id.in_(sorted({c.coverage_id for c in claims_rows}))
                    )
                )
            }
            for c in claims_rows:
                a = answers.get(c.coverage_id)
                if a is None:
                    unverified += 1
                    continue
                day = inactive_on(
                    a.status, a.coverage_from, a.coverage_to, c.service_date_from, c.service_date_to
                )
                if day is not None:
                    reason = _reason(payers.get(c.payer_id, "The payer"), day, a.verified_at, a.coverage_to)
                    findings.append(ScrubFinding(c.id, RULE, reason))
                elif a.verified_at < cutoff or a.status == "error":
                    unverified += 1
    held = {f.claim_id for f in findings}
    log.info(
        "Eligibility: %d of %d claims held because the payer says coverage was not active on the date of "
        "service; %d claims go out with coverage not verified in the last %d days (tonight's eligibility "
        "requests ask their payers)",
        len(held),
        len(ids),
        unverified,
        fresh_days,
    )
    return findings
