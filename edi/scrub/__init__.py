"""Claim scrubbing: catch what a payer or clearinghouse would reject before the 837 is built.

Each rule has a stable id (``npi_luhn``, ``icd10_billable``, ...) stored with its findings; a finding's
reason is written for billing staff and carries no PHI (field and element names, line numbers; never
names, ids, dates or codes from the claim)::

    >>> scrub_claim(claim, today=date(2024, 3, 1))
    [ScrubFinding(claim_id=42, rule='icd10_billable',
                  reason='diagnosis 2 (HI02) is a category, not a billable code (more characters are required)')]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from edi.claim import Claim
from edi.scrub.rules import RULES, Rule, ScrubContext


@dataclass(frozen=True, slots=True)
class ScrubFinding:
    claim_id: int
    rule: str
    reason: str


def scrub_claim(claim: Claim, today: dt.date, *, rules: Iterable[str] | None = None) -> list[ScrubFinding]:
    """All findings for one claim (empty when it is clean). ``rules`` restricts to some rule ids."""
    ctx = ScrubContext(today)
    selected = RULES.values() if rules is None else [RULES[r] for r in rules]
    out: list[ScrubFinding] = []
    for r in selected:
        if claim.claim_type not in r.claim_types:
            continue
        out.extend(ScrubFinding(claim.claim_id, r.id, reason) for reason in r.check(claim, ctx))
    return out


def scrub_claims(claims: Iterable[Claim], today: dt.date) -> list[ScrubFinding]:
    """Findings for many claims, in claim order."""
    out: list[ScrubFinding] = []
    for c in claims:
        out.extend(scrub_claim(c, today))
    return out


__all__ = ["RULES", "Rule", "ScrubContext", "ScrubFinding", "scrub_claim", "scrub_claims"]
