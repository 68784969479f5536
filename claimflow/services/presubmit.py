"""Checks before a claim is sent that need the database, not just the claim: coverage that an eligibility
answer says is inactive on the date of service, a missing or exhausted prior authorization.

``edi.scrub`` rules see one claim in memory; these see the claims of a batch together with what claimflow
knows about the patient (271 answers, authorizations). Each check returns scrub findings, which are stored
in ``scrub_results`` and turned into work items exactly like the scrubber's own, so a held claim shows up in
the same queue with a plain-language reason. A check is a function::

    check(engine, claims, today) -> list[ScrubFinding]

registered in :data:`CHECKS` (import path strings, imported when first run so the scrubber stays light).
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from edi.claim import Claim
    from edi.scrub import ScrubFinding

Check = Callable[["Engine", "Sequence[Claim]", dt.date], "list[ScrubFinding]"]

#: ``"module:function"`` of every database-aware check, run in this order.
CHECKS: list[str] = [
    "claimflow.inquiries.eligibility_hold:check_coverage",
    "claimflow.inquiries.authorizations:check_authorizations",
]


def _load(path: str) -> Check:
    module, _, name = path.partition(":")
    fn: Check = getattr(importlib.import_module(module), name)
    return fn


def run_checks(engine: Engine, claims: Sequence[Claim], today: dt.date) -> list[ScrubFinding]:
    """Every finding of every registered check for ``claims`` (empty when all may be sent)."""
    findings: list[ScrubFinding] = []
    if not claims:
        return findings
    for path in CHECKS:
        findings.extend(_load(path)(engine, claims, today))
    return findings
