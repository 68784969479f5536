"""The CAS breakdown rule (eob.cas): Python and the SQL rendered from the same table agree on every group
code, reason and sign — on SQLite and PostgreSQL — and the posting SQL's coarse sets keep their plain form."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from eob import cas, records
from eob.cas import Bucket
from parsers import parse_file
from parsers.records import Adjustment, ClaimPayment, Remittance

FIXTURE = (
    Path(__file__).resolve().parents[3]
    / "fixtures"
    / "835"
    / "payment_contractual_deductible_coinsurance.835"
)
GROUPS = sorted({g for g, _r, _b in cas.RULES} | {"CR", "XX"})  # every named group, CR and an unknown one
REASONS = sorted({r for _g, r, _b in cas.RULES if r is not None} | {"45", "23", "96", "P24"})
PROBES = [
    (i, g, r, sign * (i + 1) * 100)  # distinct amounts in cents: a sum tells which rows it took
    for i, (g, r, sign) in enumerate(itertools.product(GROUPS, REASONS, (1, -1)))
]
SUBSETS = [
    frozenset(c) for n in range(len(Bucket) + 1) for c in itertools.combinations(list(Bucket), n)
]  # all 256 sets of buckets
NAMED = {
    "contractual": cas.CONTRACTUAL,
    "patient_responsibility": cas.PATIENT_RESPONSIBILITY,
    "other": cas.OTHER,
    "not_patient": cas.NOT_PATIENT,
}


def _adjustments() -> list[Adjustment]:
    return [Adjustment(g, r, Decimal(cents), None) for _i, g, r, cents in PROBES]


def test_each_rule_and_the_fallback() -> None:
    assert [cas.bucket("PR", r) for r in ("1", "2", "3", "45")] == [
        Bucket.DEDUCTIBLE,
        Bucket.COINSURANCE,
        Bucket.COPAY,
        Bucket.OTHER_PATIENT_RESPONSIBILITY,
    ]
    assert cas.bucket("CO", "1") is Bucket.CONTRACTUAL  # a PR reason means nothing in another group
    assert cas.bucket("OA", "23") is Bucket.OTHER_ADJUSTMENTS
    assert cas.bucket("PI", "45") is Bucket.PAYER_INITIATED
    assert cas.bucket("CR", "45") is cas.bucket("XX", "1") is Bucket.CORRECTIONS


def test_breakdown_sums_each_bucket_and_patient_responsibility() -> None:
    adjustments = _adjustments()
    b = cas.breakdown(adjustments)
    for bk in Bucket:
        assert getattr(b, bk.value) == sum(
            (a.amount for a in adjustments if cas.bucket(a.group, a.reason) is bk), Decimal(0)
        )
    assert b.patient_responsibility == sum((a.amount for a in adjustments if a.group == "PR"), Decimal(0))
    assert sum(b[1:], Decimal(0)) == sum((a.amount for a in adjustments), Decimal(0))


def test_the_posting_sets_render_as_plain_comparisons() -> None:
    """The hot posting/reconciliation SQL keeps the comparisons it had before the rule moved here."""
    assert cas.condition_sql(cas.CONTRACTUAL) == "a.group_code = 'CO'"
    assert cas.condition_sql(cas.PATIENT_RESPONSIBILITY) == "a.group_code = 'PR'"
    assert cas.condition_sql(cas.OTHER) == "a.group_code NOT IN ('CO', 'PR')"
    assert cas.condition_sql(cas.NOT_PATIENT, "da") == "da.group_code <> 'PR'"


@pytest.fixture
def probes(engine: Engine) -> Iterator[Engine]:
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS cas_probe"))
        conn.execute(
            text(
                "CREATE TABLE cas_probe (id INTEGER PRIMARY KEY, group_code VARCHAR(2) NOT NULL, "
                "reason_code VARCHAR(5) NOT NULL, amount BIGINT NOT NULL)"
            )
        )
        conn.execute(
            text("INSERT INTO cas_probe VALUES (:i, :g, :r, :a)"),
            [{"i": i, "g": g, "r": r, "a": a} for i, g, r, a in PROBES],
        )
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE cas_probe"))


@pytest.mark.parametrize("bind", [False, True], ids=["constants", "bound"])
def test_sql_bucket_of_every_row_is_the_python_bucket(probes: Engine, bind: bool) -> None:
    params = cas.SQL_PARAMS if bind else {}
    with probes.connect() as conn:
        rows = conn.execute(
            text(f"SELECT p.id, {cas.bucket_sql('p', bind=bind)} FROM cas_probe p ORDER BY p.id"), params
        ).all()
    assert [(i, str(b)) for i, b in rows] == [(i, cas.bucket(g, r).value) for i, g, r, _a in PROBES]


@pytest.mark.parametrize("bind", [False, True], ids=["constants", "bound"])
def test_sql_condition_of_every_set_of_buckets_matches_python(probes: Engine, bind: bool) -> None:
    """All 256 sets of buckets, every probe row: the rendered condition holds exactly when the Python
    bucket is in the set."""
    params = cas.SQL_PARAMS if bind else {}
    columns = ", ".join(
        f"CASE WHEN {cas.condition_sql(s, 'p', bind=bind)} THEN 1 ELSE 0 END" for s in SUBSETS
    )
    with probes.connect() as conn:
        rows = conn.execute(text(f"SELECT p.id, {columns} FROM cas_probe p ORDER BY p.id"), params).all()
    assert len(rows) == len(PROBES)
    for (i, g, r, _a), row in zip(PROBES, rows, strict=True):
        assert row[0] == i
        expected = [int(cas.bucket(g, r) in s) for s in SUBSETS]
        assert list(row[1:]) == expected, (g, r)


def test_sql_sums_match_the_python_breakdown_with_both_signs(probes: Engine) -> None:
    b = cas.breakdown(_adjustments())
    sets = {bk.value: frozenset({bk}) for bk in Bucket} | NAMED
    expected = {name: sum((getattr(b, bk.value) for bk in s), Decimal(0)) for name, s in sets.items()}
    assert expected["patient_responsibility"] == b.patient_responsibility
    select = ", ".join(f"{cas.sum_sql(s, 'p')} AS {name}" for name, s in sets.items())
    with probes.connect() as conn:
        row = conn.execute(text(f"SELECT {select} FROM cas_probe p")).one()
        negative = conn.execute(
            text(
                f"SELECT {cas.sum_sql(cas.PATIENT_RESPONSIBILITY, 'p', also='p.amount < 0')} FROM cas_probe p"
            )
        ).scalar_one()
    assert {name: Decimal(row._mapping[name]) for name in sets} == expected
    assert Decimal(negative) == sum(
        (a.amount for a in _adjustments() if a.group == "PR" and a.amount < 0), Decimal(0)
    )


def test_the_eob_builders_apply_the_same_rule() -> None:
    """The C builder (native/, which repeats the rule for speed) and the Python one sum every probe
    adjustment, claim-level and line-level, as eob.cas does."""
    remittance = claim = None
    for rec in parse_file(FIXTURE):
        if isinstance(rec, Remittance):
            remittance = rec
        elif isinstance(rec, ClaimPayment):
            claim = rec
            break
    assert remittance is not None and claim is not None
    adjustments = _adjustments()
    half = len(adjustments) // 2
    claim = claim._replace(
        adjustments=adjustments[:half],
        lines=(claim.lines[0]._replace(adjustments=adjustments[half:]),),
    )
    expected = cas.breakdown(adjustments)
    line_expected = cas.breakdown(adjustments[half:])
    for build in (records.build_eob, records.build_eob_python):
        eob = build(remittance, claim)
        assert tuple(getattr(eob, f) for f in expected._fields[1:]) == expected[1:]
        assert eob.patient_responsibility_adjusted == expected.patient_responsibility
        assert tuple(getattr(eob.lines[0], f) for f in line_expected._fields) == line_expected
