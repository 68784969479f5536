"""The CAS breakdown: which bucket each adjustment (CAS group + CARC) counts in — once, in Python and SQL.

An 835 adjustment ``CAS*PR*1*50`` is "patient responsibility, deductible, $50". Every place that sums
adjustments by meaning uses :data:`RULES`: the EOB builder (:mod:`eob.records`), the loader's
``claim_payments`` columns (:mod:`claimflow.services.inbound`) and the posting and reconciliation SQL
(:mod:`adjudication.posting`, :mod:`adjudication.reconcile`), which render their conditions from the same
table with :func:`condition_sql` / :func:`sum_sql`. The C EOB builder (``native/src/claimflow_speedups.c``,
``sum_adjustments``) hard-codes the same branches for speed; ``tests/unit/parsers/test_native.py`` keeps it
equal to :func:`breakdown`, and ``tests/unit/eob/test_cas.py`` keeps the SQL equal to it on SQLite and
PostgreSQL.

Why one table and not an if-chain per site: the chains drifted (the loader lost the "other patient
responsibility" bucket), and a rule that lives once cannot.

Example::

    >>> bucket("PR", "2")
    <Bucket.COINSURANCE: 'coinsurance'>
    >>> condition_sql(PATIENT_RESPONSIBILITY)
    "a.group_code = 'PR'"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Set
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple, cast

ZERO = Decimal(0)


class Bucket(StrEnum):
    """What an adjustment means, in :class:`Breakdown` field order."""

    DEDUCTIBLE = "deductible"  # PR-1
    COINSURANCE = "coinsurance"  # PR-2
    COPAY = "copay"  # PR-3
    OTHER_PATIENT_RESPONSIBILITY = "other_patient_responsibility"  # PR, any other reason
    CONTRACTUAL = "contractual"  # CO
    OTHER_ADJUSTMENTS = "other_adjustments"  # OA
    PAYER_INITIATED = "payer_initiated"  # PI
    CORRECTIONS = "corrections"  # CR, and any group RULES does not name


RULES: tuple[tuple[str, str | None, Bucket], ...] = (
    ("CO", None, Bucket.CONTRACTUAL),
    ("PR", "1", Bucket.DEDUCTIBLE),
    ("PR", "2", Bucket.COINSURANCE),
    ("PR", "3", Bucket.COPAY),
    ("PR", None, Bucket.OTHER_PATIENT_RESPONSIBILITY),
    ("OA", None, Bucket.OTHER_ADJUSTMENTS),
    ("PI", None, Bucket.PAYER_INITIATED),
)
"""(CAS01 group, CARC or None for "any other reason", bucket). A reason rule comes before its group's
catch-all; an adjustment whose group is not listed goes to :data:`FALLBACK`."""

FALLBACK = Bucket.CORRECTIONS

PATIENT_RESPONSIBILITY: frozenset[Bucket] = frozenset(
    {Bucket.DEDUCTIBLE, Bucket.COINSURANCE, Bucket.COPAY, Bucket.OTHER_PATIENT_RESPONSIBILITY}
)
"""Group PR, whatever the reason: what the patient owes."""
CONTRACTUAL: frozenset[Bucket] = frozenset({Bucket.CONTRACTUAL})
"""Group CO: the payer's fee schedule, written off."""
OTHER: frozenset[Bucket] = frozenset({Bucket.OTHER_ADJUSTMENTS, Bucket.PAYER_INITIATED, Bucket.CORRECTIONS})
"""Neither CO nor PR (OA, PI, CR, unknown groups): the ledger's "other adjustments"."""
NOT_PATIENT: frozenset[Bucket] = CONTRACTUAL | OTHER
"""Every group but PR: where a denial CARC means a denial."""

_CODE = re.compile(r"[A-Z0-9]{1,5}")
for _group, _reason, _b in RULES:  # the SQL below quotes these constants: keep them plain codes
    assert _CODE.fullmatch(_group) and (_reason is None or _CODE.fullmatch(_reason)), (_group, _reason)

_BY_REASON = {(g, r): b for g, r, b in RULES if r is not None}
_BY_GROUP = {g: b for g, r, b in RULES if r is None}


class Breakdown(NamedTuple):
    """Adjustments summed by what they mean."""

    patient_responsibility: Decimal  # ΣPR
    deductible: Decimal  # PR-1
    coinsurance: Decimal  # PR-2
    copay: Decimal  # PR-3
    other_patient_responsibility: Decimal  # PR, any other reason
    contractual: Decimal  # ΣCO
    other_adjustments: Decimal  # ΣOA
    payer_initiated: Decimal  # ΣPI
    corrections: Decimal  # ΣCR


def bucket(group: str, reason: str) -> Bucket:
    """The bucket of one adjustment (CAS01 group, CARC)."""
    found = _BY_REASON.get((group, reason))
    return found if found is not None else _BY_GROUP.get(group, FALLBACK)


def _sums_source() -> str:
    """Python source of :func:`sums`, written out from :data:`RULES` as the if-chain a person would type.

    Why generate it: the pure-Python EOB builder calls this once per claim and per line, and a dict
    lookup per adjustment plus a list of accumulators made that builder ~24% slower than the hand-typed
    chain (20,000 synthetic claims, 0.40 s → 0.49 s); the generated chain is as fast as the hand-typed one
    was, and the rule still lives only in the table. ``print(eob.cas.SUMS_SOURCE)`` shows it.
    """
    slot = {b: i for i, b in enumerate(Bucket)}
    n = len(slot)
    out = [
        "def sums(adjustments):",
        f"    {' = '.join(f's{i}' for i in range(n))} = ZERO",
        "    for g, r, a, _q in adjustments:",
    ]
    keyword = "if"
    for g in dict.fromkeys(g for g, _r, _b in RULES):
        out.append(f"        {keyword} g == {g!r}:")
        keyword = "elif"
        reasons = [(r, b) for gg, r, b in RULES if gg == g and r is not None]
        default = next((b for gg, r, b in RULES if gg == g and r is None), FALLBACK)
        inner = "if"
        for r, b in reasons:
            out += [f"            {inner} r == {r!r}:", f"                s{slot[b]} += a"]
            inner = "elif"
        if reasons:
            out += ["            else:", f"                s{slot[default]} += a"]
        else:
            out.append(f"            s{slot[default]} += a")
    out += ["        else:", f"            s{slot[FALLBACK]} += a"]
    out.append(f"    return {', '.join(f's{i}' for i in range(n))}")
    return "\n".join(out) + "\n"


SUMS_SOURCE = _sums_source()
_namespace: dict[str, object] = {"ZERO": ZERO}
exec(compile(SUMS_SOURCE, "<eob.cas.sums>", "exec"), _namespace)  # our own text, written from RULES
sums = cast(Callable[[Iterable[tuple[str, str, Decimal, object]]], tuple[Decimal, ...]], _namespace["sums"])
"""Per-bucket sums of (group, reason, amount, quantity) adjustments, in :class:`Bucket` order — the EOB
builder's inner loop (see :func:`_sums_source` for why it is generated)."""


def breakdown(adjustments: Iterable[tuple[str, str, Decimal, object]]) -> Breakdown:
    """Sum CAS adjustments by meaning."""
    ded, coi, cop, oth, co, oa, pi, cr = sums(adjustments)
    return Breakdown(ded + coi + cop + oth, ded, coi, cop, oth, co, oa, pi, cr)


# --------------------------------------------------------------------------------------------- SQL


SQL_PARAMS: dict[str, str] = {
    **{f"cas_group_{g.lower()}": g for g, _r, _b in RULES},
    **{f"cas_reason_{r.lower()}": r for _g, r, _b in RULES if r is not None},
}
"""The bind parameters ``bind=True`` renders (``:cas_group_co`` → ``"CO"``); pass them with the statement."""


def _code(kind: str, code: str, bind: bool) -> str:
    """A group/reason code in SQL text: quoted (safe: :data:`RULES` holds only ``[A-Z0-9]`` codes) or a
    bind parameter of :data:`SQL_PARAMS`."""
    return f":cas_{kind}_{code.lower()}" if bind else f"'{code}'"


def _member(column: str, codes: list[str], *, negate: bool = False) -> str:
    if len(codes) == 1:
        return f"{column} {'<>' if negate else '='} {codes[0]}"
    return f"{column} {'NOT IN' if negate else 'IN'} ({', '.join(codes)})"


def bucket_sql(a: str = "a", *, bind: bool = False) -> str:
    """A CASE expression giving the :class:`Bucket` value of the adjustment row aliased ``a`` (columns
    ``group_code``, ``reason_code``), rule for rule in :data:`RULES` order (the first that matches wins,
    as in :func:`bucket`)."""
    whens = []
    for g, r, b in RULES:
        cond = f"{a}.group_code = {_code('group', g, bind)}"
        if r is not None:
            cond += f" AND {a}.reason_code = {_code('reason', r, bind)}"
        whens.append(f"WHEN {cond} THEN '{b.value}'")
    return f"CASE {' '.join(whens)} ELSE '{FALLBACK.value}' END"


def condition_sql(buckets: Set[Bucket], a: str = "a", *, bind: bool = False) -> str:
    """An SQL condition, true when the adjustment row aliased ``a`` falls in one of ``buckets``.

    Rendered as tight as the table allows, so the hot posting SQL keeps its plain comparisons:
    :data:`CONTRACTUAL` is ``a.group_code = 'CO'``, :data:`OTHER` is ``a.group_code NOT IN ('CO', 'PR')``.
    ``bind=True`` names the codes as :data:`SQL_PARAMS` parameters instead of quoting them.
    """
    want = set(buckets)
    group_col, reason_col = f"{a}.group_code", f"{a}.reason_code"
    inside: list[str] = []  # groups all of whose reasons are wanted
    outside: list[str] = []  # groups RULES names that are not wholly wanted
    partial: list[str] = []  # (group AND reasons) for a group only some of whose reasons are wanted
    for g in dict.fromkeys(g for g, _r, _b in RULES):
        reasons = [(r, b) for gg, r, b in RULES if gg == g and r is not None]
        default = next((b for gg, r, b in RULES if gg == g and r is None), FALLBACK)
        hit = [_code("reason", r, bind) for r, b in reasons if b in want]
        miss = [_code("reason", r, bind) for r, b in reasons if b not in want]
        code = _code("group", g, bind)
        if not miss and default in want:
            inside.append(code)
            continue
        outside.append(code)
        if default in want:  # the group, but not the reasons that go elsewhere
            partial.append(f"({group_col} = {code} AND {_member(reason_col, miss, negate=True)})")
        elif hit:
            partial.append(f"({group_col} = {code} AND {_member(reason_col, hit)})")
    if FALLBACK in want:
        terms = [_member(group_col, outside, negate=True) if outside else "1 = 1"]
    else:
        terms = [_member(group_col, inside)] if inside else []
    terms += partial
    if not terms:
        return "1 = 0"
    return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"


def sum_sql(buckets: Set[Bucket], a: str = "a", *, also: str | None = None, bind: bool = False) -> str:
    """``SUM(CASE WHEN <in buckets> [AND also] THEN a.amount ELSE 0 END)`` over adjustment rows ``a``."""
    cond = condition_sql(buckets, a, bind=bind) + (f" AND {also}" if also else "")
    return f"SUM(CASE WHEN {cond} THEN {a}.amount ELSE 0 END)"
