"""Denials counted one way everywhere (definition: :data:`adjudication.carc.DENIAL_DEFINITION`).

The run report's denial tables and the ``denial_rate_<category>`` KPIs both call :func:`denials`, so a
category's "initial denials" in the report is, by construction, that KPI's numerator. Claim-level and
line-level CAS rows both count (a line denied on an otherwise paid claim is a denial too).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from ._sql import Sql
from .carc import category_sql, denial_adjustment_sql
from .lifecycle import sql_in
from .posting import POSTABLE

ZERO = Decimal("0.00")

#: A claim payment's effective date (aliases cp and r): BPR16, else DTM*405, else its posting date.
EFFECTIVE_SQL = (
    "COALESCE(r.payment_date, r.production_date, "
    "(SELECT MIN(le.effective_date) FROM ledger_entries le WHERE le.claim_payment_id = cp.id))"
)


@dataclass
class DenialCount:
    """Denials of one category (or one group-CARC): distinct claims, claim payments, dollars."""

    claims: int = 0
    claim_payments: int = 0
    claim_level: Decimal = ZERO
    line_level: Decimal = ZERO

    @property
    def amount(self) -> Decimal:
        return self.claim_level + self.line_level


@dataclass
class Denials:
    by_category: dict[str, DenialCount] = field(default_factory=dict)
    by_code: dict[tuple[str, str], DenialCount] = field(default_factory=dict)  # (group, CARC)
    claims: int = 0


def claim_payment_scope_sql(cp: str = "cp") -> str:
    """SQL condition: claim payment ``cp`` can carry denials (matched to our claim, posted, CLP02 not a
    reversal or an unknown claim) - the claim-payment half of the definition."""
    return (
        f"{cp}.claim_id IS NOT NULL AND {cp}.posted_at IS NOT NULL AND {cp}.status_code IN {sql_in(POSTABLE)}"
    )


def _scope(first_only: bool) -> str:
    # Each claim's first adjudication as a join to the per-claim MIN(id), not ``cp.id IN (…)``: PostgreSQL
    # cannot estimate how many distinct MIN(id)s the IN de-duplicates (it guesses 200), so it probed
    # claim_payments' primary key once per claim (950,142 probes, 9.0 of the run report's 21 s at
    # 1,000,000 claims); the join is planned as one hash join. The MIN(id)s are distinct, so the join
    # adds no rows.
    first = ""
    if first_only:
        first = (
            f"JOIN (SELECT MIN(f.id) AS id FROM claim_payments f WHERE {claim_payment_scope_sql('f')} "
            "GROUP BY f.claim_id) first_cp ON first_cp.id = cp.id"
        )
    return f"""SELECT cp.id AS cp_id, cp.claim_id AS claim_id FROM claim_payments cp
               JOIN remittances r ON r.id = cp.remittance_id {first}
               WHERE {claim_payment_scope_sql("cp")}
                 AND {EFFECTIVE_SQL} BETWEEN :s AND :d"""


def denials(q: Sql, start: dt.date, end: dt.date, *, first_only: bool = False) -> Denials:
    """Denials on claim payments effective from ``start`` to ``end`` (inclusive). ``first_only``: only
    each claim's first adjudication (the initial denial rate's population).

    The denial adjustments in scope are joined once into a temporary table and the five breakdowns
    aggregate that: at 1,000,000 claims each breakdown re-joining claim payments to 4.6 million
    adjustments cost 5-13 s, five times per call."""
    p = {"s": start, "d": end}
    scope = _scope(first_only)
    level = "CASE WHEN a.service_line_payment_id IS NULL THEN 'claim' ELSE 'line' END"
    out = Denials()
    q.temp_table(
        "cf_denial_adj",
        f"""SELECT s.cp_id AS cp_id, s.claim_id AS claim_id, a.group_code AS group_code,
                   a.reason_code AS reason_code, {category_sql("a.reason_code")} AS category, {level} AS level,
                   a.amount AS amount
            FROM ({scope}) s JOIN adjustments a ON a.claim_payment_id = s.cp_id
            WHERE {denial_adjustment_sql("a")}""",
        p,
    )
    base = "FROM cf_denial_adj d"
    for cat, lvl, amount in q.run(
        f"SELECT d.category, d.level, SUM(d.amount) {base} GROUP BY d.category, d.level"
    ):
        c = out.by_category.setdefault(str(cat), DenialCount())
        if lvl == "claim":
            c.claim_level += q.money(amount)
        else:
            c.line_level += q.money(amount)
    for cat, claims, cps in q.run(
        f"SELECT d.category, COUNT(DISTINCT d.claim_id), COUNT(DISTINCT d.cp_id) {base} GROUP BY d.category"
    ).all():
        c = out.by_category.setdefault(str(cat), DenialCount())
        c.claims, c.claim_payments = int(claims), int(cps)
    for grp, code, lvl, amount in q.run(
        f"SELECT d.group_code, d.reason_code, d.level, SUM(d.amount) {base} "
        "GROUP BY d.group_code, d.reason_code, d.level"
    ).all():
        c = out.by_code.setdefault((str(grp), str(code)), DenialCount())
        if lvl == "claim":
            c.claim_level += q.money(amount)
        else:
            c.line_level += q.money(amount)
    for grp, code, claims, cps in q.run(
        f"SELECT d.group_code, d.reason_code, COUNT(DISTINCT d.claim_id), COUNT(DISTINCT d.cp_id) {base} "
        "GROUP BY d.group_code, d.reason_code"
    ).all():
        c = out.by_code.setdefault((str(grp), str(code)), DenialCount())
        c.claims, c.claim_payments = int(claims), int(cps)
    out.claims = int(q.scalar(f"SELECT COUNT(DISTINCT d.claim_id) {base}") or 0)
    q.drop("cf_denial_adj")
    return out
