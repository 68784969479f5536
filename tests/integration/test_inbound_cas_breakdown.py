"""The loader's claim_payments breakdown columns come from eob.cas: "other patient responsibility" (a PR
reason other than 1/2/3) is no longer dropped, and the stored columns agree with the posting SQL's sums
over the stored adjustments — SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select, text

from claimflow.db import models as m
from claimflow.services.inbound import load_interchange, receive_file
from claimflow.settings import Settings
from eob import cas

FIXTURE = (
    Path(__file__).resolve().parents[2]
    / "fixtures"
    / "835"
    / "payment_contractual_deductible_coinsurance.835"
)
COLUMNS = ("deductible", "coinsurance", "copay", "contractual", "other_adjustments")


def _load(engine: Engine, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "remit.835"
    path.write_bytes(data)
    settings = Settings(database_url="sqlite://", data_dir=tmp_path / "data")
    interchange_id, _new = receive_file(engine, path, partner="sandbox", settings=settings)
    outcome = load_interchange(engine, interchange_id, actor="test", settings=settings)
    assert outcome.status == "loaded", outcome.error


def test_other_patient_responsibility_is_stored(engine: Engine, tmp_path: Path) -> None:
    original = FIXTURE.read_bytes()
    # second line: CO-45 50 + PR-3 20 becomes CO-45 40 + PR-3 5 + PR-45 15 + OA-23 10 (still balanced)
    data = original.replace(
        b"CAS*CO*45*50~\nCAS*PR*3*20~", b"CAS*CO*45*40~\nCAS*PR*3*5**45*15~\nCAS*OA*23*10~"
    ).replace(b"SE*36*0001~", b"SE*37*0001~")
    assert data != original
    _load(engine, tmp_path, data)
    with engine.connect() as conn:
        cp = conn.execute(
            select(
                m.ClaimPayment.id,
                m.ClaimPayment.charge,
                m.ClaimPayment.paid,
                *(getattr(m.ClaimPayment, c) for c in COLUMNS),
            )
        ).one()
        stored = {c: cp._mapping[c] for c in COLUMNS}
        cas_total = conn.execute(
            text("SELECT SUM(amount) FROM adjustments WHERE claim_payment_id = :id"), {"id": cp.id}
        ).scalar_one()
        contractual, patient, other = conn.execute(
            text(
                f"SELECT {cas.sum_sql(cas.CONTRACTUAL)}, {cas.sum_sql(cas.PATIENT_RESPONSIBILITY)}, "
                f"{cas.sum_sql(cas.OTHER)} FROM adjustments a WHERE a.claim_payment_id = :id"
            ),
            {"id": cp.id},
        ).one()
    assert stored == {
        "deductible": Decimal("50.00"),
        "coinsurance": Decimal("30.00"),
        "copay": Decimal("5.00"),
        "contractual": Decimal("90.00"),
        "other_adjustments": Decimal("25.00"),  # OA-23 10 + PR-45 15: the loader used to drop the PR-45
    }
    # the five columns account for every adjustment, and for CLP03 - CLP04
    assert sum(stored.values(), Decimal(0)) == _money(engine, cas_total) == cp.charge - cp.paid
    # the posting SQL's three families over the same stored rows: contractual, all PR, the rest
    assert _money(engine, contractual) == stored["contractual"]
    assert _money(engine, patient) == stored["deductible"] + stored["coinsurance"] + stored[
        "copay"
    ] + Decimal("15.00")
    assert _money(engine, other) == Decimal("10.00")


def _money(engine: Engine, raw: object) -> Decimal:
    """A raw SQL sum of a Money column: integer cents on SQLite, NUMERIC(14,2) on PostgreSQL."""
    value = Decimal(str(raw))
    return value / 100 if engine.dialect.name == "sqlite" else value
