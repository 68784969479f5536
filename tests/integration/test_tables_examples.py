"""Every ```python example of docs/TABLES.md runs as written, on both backends, against a small seeded,
submitted, paid, posted and reconciled practice — and gives the right answers (Decimal money, all aging
buckets, denials by the one definition)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from adjudication._sql import Sql
from adjudication.carc import NON_DENIAL, category
from adjudication.denials import denials
from adjudication.posting import post_remittances
from adjudication.reconcile import BUCKETS, reconcile
from claimflow.sandbox.seed import seed_practice
from tests.unit.adjudication.builders import submit_and_pay_seeded

DOC = Path(__file__).resolve().parents[2] / "docs" / "TABLES.md"
DAY = dt.date(2026, 11, 25)


def examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def _for_backend(code: str, dialect: str) -> str:
    """PostgreSQL schema ``analyst.x`` is ``analyst_x`` on SQLite (the only difference the docs name)."""
    return code if dialect == "postgresql" else re.sub(r"(?<![\w.])analyst\.(?=\w)", "analyst_", code)


@pytest.fixture
def practice(engine: Engine) -> Engine:
    seed_practice(engine, patients=25, claims=50, seed=7, as_of=dt.date(2026, 11, 20))
    submit_and_pay_seeded(engine, payment_date=dt.date(2026, 11, 20), deny_every=4)
    post_remittances(engine, actor="test", as_of=dt.date(2026, 11, 20))
    reconcile(engine, DAY)
    return engine


def test_docs_have_python_examples() -> None:
    assert len(examples()) >= 5


def test_tables_examples_run_as_written(practice: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy

    monkeypatch.setattr(sqlalchemy, "create_engine", lambda *a, **k: practice)
    with practice.begin() as conn:  # an empty bucket (the old example raised KeyError on one)
        conn.execute(text("DELETE FROM aging_buckets WHERE bucket = '91-120'"))
    ns: dict[str, Any] = {}
    for i, code in enumerate(examples()):
        try:
            exec(
                compile(
                    _for_backend(code, practice.dialect.name), f"TABLES.md python example {i + 1}", "exec"
                ),
                ns,
            )
        except Exception as exc:  # pragma: no cover - the message names the example
            raise AssertionError(f"docs/TABLES.md python example {i + 1} fails: {exc!r}") from exc

    # Money is Decimal: the helper always, plain pandas with coerce_float=False on PostgreSQL.
    balances = ns["balances"]
    assert len(balances) > 0 and all(isinstance(v, Decimal) for v in balances["insurance_balance"])
    if practice.dialect.name == "postgresql":
        assert all(isinstance(v, Decimal) for v in ns["raw"]["charge"])
    # Aging pivot: every bucket a column even when empty, totals = the aging rows.
    pivot = ns["pivot"]
    assert list(pivot.columns) == list(BUCKETS)
    assert set(pivot["91-120"]) == {Decimal("0.00")}
    assert all(isinstance(v, Decimal) for v in pivot.to_numpy().ravel())
    assert sum(pivot.to_numpy().ravel(), Decimal("0.00")) == sum(ns["aging"]["amount"], Decimal("0.00"))
    # Denials: no contractual / patient responsibility rows, and the same claims as the report and KPIs.
    adj = ns["adj"]
    assert len(adj) > 0 and not set(adj["category"]) & set(NON_DENIAL)
    assert "45" not in set(adj["reason_code"])
    with practice.connect() as conn:
        expected = denials(Sql(conn), dt.date(1900, 1, 1), DAY)
    got = adj.groupby("category").claim_id.nunique().to_dict()
    assert got == {cat: c.claims for cat, c in expected.by_category.items()}
    assert {category(code) for code in adj["reason_code"]} == set(got)
    view = ns["by_category"]
    assert view["claims"].to_dict() == got
    assert view["dollars"].to_dict() == {cat: c.amount for cat, c in expected.by_category.items()}
    # The other examples produced something sensible.
    assert "denial_rate" in ns["trend"].columns
    assert len(ns["by_payer"]) > 0 and (ns["days"]["days_to_pay"] >= 0).all()
