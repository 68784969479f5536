"""Migrations, seeding, claim loading and control numbers on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from sqlalchemy import Engine, func, select

from claimflow.db import models as m
from claimflow.db.control_numbers import DatabaseControlNumbers
from claimflow.sandbox.seed import SeedRefused, seed_practice
from claimflow.services.claims_loader import load_claims

AS_OF = dt.date(2026, 11, 25)


def test_seed_and_load_round_trip(engine: Engine) -> None:
    summary = seed_practice(engine, patients=60, claims=150, seed=5, as_of=AS_OF)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.Claim)).scalar_one() == summary.claims
        ids = conn.execute(select(m.Claim.id).order_by(m.Claim.id)).scalars().all()
        claims = list(load_claims(conn, ids))
        total = conn.execute(select(func.sum(m.Claim.total_charge))).scalar_one()
    assert len(claims) == summary.claims
    assert sum((c.total_charge for c in claims), Decimal(0)) == total
    assert all(isinstance(c.total_charge, Decimal) for c in claims)
    assert {c.claim_type.value for c in claims} == {"professional", "institutional"}


def test_seed_refuses_a_database_with_claims(engine: Engine) -> None:
    seed_practice(engine, patients=5, claims=5, seed=1, as_of=AS_OF)
    try:
        seed_practice(engine, patients=5, claims=5, seed=1, as_of=AS_OF)
    except SeedRefused:
        pass
    else:
        raise AssertionError("second seed should be refused")
    seed_practice(engine, patients=5, claims=7, seed=1, as_of=AS_OF, replace=True)


def test_control_numbers_are_never_reused_under_concurrency(engine: Engine) -> None:
    source = DatabaseControlNumbers(engine, "SENDER1")

    def grab(_: int) -> list[int]:
        return [source.next_interchange() for _ in range(10)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        got = [n for chunk in pool.map(grab, range(4)) for n in chunk]
    assert sorted(got) == list(range(1, 41))
    block = source.reserve("transaction", 100)
    assert len(block) == 100
    assert source.next_transaction() == block[-1] + 1
    assert DatabaseControlNumbers(engine, "OTHER").next_interchange() == 1


def test_money_is_exact_to_the_cent(engine: Engine) -> None:
    seed_practice(engine, patients=1, claims=1, seed=1, as_of=AS_OF)
    with engine.begin() as conn:
        conn.execute(m.Claim.__table__.update().values(total_charge=Decimal("0.10")))
        conn.execute(m.ServiceLine.__table__.update().values(charge=Decimal("12345678901.99")))
        assert conn.execute(select(m.Claim.total_charge)).scalar_one() == Decimal("0.10")
        n = conn.execute(select(func.count()).select_from(m.ServiceLine)).scalar_one()
        # A double would lose the cents here; NUMERIC / integer cents must not.
        assert (
            conn.execute(select(func.sum(m.ServiceLine.charge))).scalar_one() == Decimal("12345678901.99") * n
        )
