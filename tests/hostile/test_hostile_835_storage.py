"""Poison 835 values never reach the database; the largest storable ones land exactly — both backends.

Before the parser checked lengths and sizes, a CLP01 of 39 characters or a 13-digit amount failed the
PostgreSQL COPY with a driver traceback, an 18-digit amount raised ``OverflowError`` on SQLite (integer
cents), and ``100.005`` was rounded differently per backend. Now such a file is quarantined with the
parser's one line (the same line ``claimflow parse`` prints) and nothing of it is stored; a file at the
exact limits loads and reads back digit for digit.
"""

from __future__ import annotations

import contextlib
import io
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from claimflow.cli.parse import main
from claimflow.db import models as m
from claimflow.services.inbound import load_interchange, receive_file
from claimflow.settings import Settings
from tests.hostile.corpus import FIXTURES

BASE = (FIXTURES / "835" / "denial_with_rarc.835").read_text()
STORED = [
    m.Remittance,
    m.ClaimPayment,
    m.ServiceLinePayment,
    m.Adjustment,
    m.RemarkCode,
    m.ProviderAdjustment,
]


def _edit(edits: list[tuple[str, int, str]], extra_after_clp: list[str] | None = None) -> bytes:
    """The base file with element ``pos`` of the first segment starting with each prefix replaced."""
    segs = [s.strip() for s in BASE.split("~") if s.strip()]
    for prefix, pos, value in edits:
        i = next(k for k, s in enumerate(segs) if s.startswith(prefix))
        el = segs[i].split("*")
        el.extend([""] * (pos + 1 - len(el)))
        el[pos] = value
        segs[i] = "*".join(el)
    if extra_after_clp:
        i = next(k for k, s in enumerate(segs) if s.startswith("CLP*"))
        segs[i + 1 : i + 1] = extra_after_clp
        st = next(k for k, s in enumerate(segs) if s.startswith("ST*"))
        se = next(k for k, s in enumerate(segs) if s.startswith("SE*"))
        segs[se] = f"SE*{se - st + 1}*" + segs[se].split("*")[2]
    return ("~\n".join(segs) + "~\n").encode()


def _load(engine: Engine, path: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = Settings(database_url="sqlite://", data_dir=tmp_path / "data")
    iid, _new = receive_file(engine, path, partner="sandbox", settings=settings)
    return load_interchange(engine, iid, actor="test", settings=settings)


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.__tablename__: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in STORED
        }


POISON = [
    ("CLP*", 1, "P" * 39, "CLP01"),
    ("CLP*", 7, "7" * 51, "CLP07"),
    ("N1*PR*", 2, "N" * 61, "N102"),
    ("TRN*", 2, "T" * 51, "TRN02"),
    ("LQ*", 2, "L" * 31, "LQ02"),
    ("SVC*", 1, "HC:" + "9" * 49, "SVC01-2"),
    ("REF*6R*", 2, "R" * 51, "REF02"),
    ("CLP*", 3, "1000000000000", "CLP03"),  # NUMERIC(14,2) overflow on PostgreSQL
    ("CLP*", 3, "123456789012345678", "CLP03"),  # OverflowError on SQLite (integer cents)
    ("CLP*", 4, "100.005", "CLP04"),  # rounded 100.00 (SQLite) / 100.01 (PostgreSQL) before
    ("SVC*", 5, "1.0005", "SVC05"),
    ("CAS*", 3, "1000000000000.50", "CAS03"),
    # every value fits, a figure the loader stores does not: ΣCLP04 (balance_exceptions.found)
    ("CLP*", 4, "999999999999.99", "ΣCLP04 − ΣPLB"),
    # CLP03 − CLP04 (balance_exceptions.expected)
    ("CLP*", 4, "-999999999999.99", "CLP03 − CLP04"),
]


@pytest.mark.parametrize(
    ("prefix", "pos", "value", "element"), POISON, ids=[f"{p[3]}-{len(p[2])}" for p in POISON]
)
def test_poison_value_is_quarantined_not_stored(
    engine: Engine, tmp_path: Path, prefix: str, pos: int, value: str, element: str
) -> None:
    path = tmp_path / "poison.835"
    path.write_bytes(_edit([(prefix, pos, value)]))
    outcome = _load(engine, path, tmp_path)
    assert outcome.status == "quarantined", outcome
    sid = {"ΣCLP04 − ΣPLB": "SE"}.get(element, prefix.split("*")[0])
    assert f"({sid}): {element} " in (outcome.error or "")
    assert value not in (outcome.error or "")
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert main([str(path)]) == 2
    assert outcome.error == err.getvalue().rstrip("\n")  # the CLI's line, word for word
    assert set(_counts(engine).values()) == {0}


def test_values_at_the_limits_land_exactly(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "limits.835"
    path.write_bytes(
        _edit(
            [
                ("CLP*", 1, "P" * 38),
                ("CLP*", 3, "999999999999.99"),
                # a zero third decimal is the same exact value; with the other claims' 80.00,
                # ΣCLP04 is exactly 999,999,999,999.99 (balance_exceptions.found)
                ("CLP*", 4, "999999999919.990"),
                ("CLP*", 7, "7" * 50),
                ("N1*PR*", 2, "N" * 60),
                ("TRN*", 2, "T" * 50),
                ("LQ*", 2, "L" * 30),
                ("SVC*", 1, "HC:" + "9" * 48 + ":AB:CD:EF:GH"),
                ("SVC*", 5, "999999999999.999"),
                ("REF*6R*", 2, "R" * 50),
            ],
            extra_after_clp=["REF*F8*" + "F" * 50],
        )
    )
    outcome = _load(engine, path, tmp_path)
    assert outcome.status == "loaded", outcome.error
    with engine.connect() as conn:
        remit = conn.execute(select(m.Remittance)).one()
        cp = conn.execute(
            select(m.ClaimPayment).where(m.ClaimPayment.patient_control_number == "P" * 38)
        ).one()
        ln = conn.execute(
            select(m.ServiceLinePayment).where(m.ServiceLinePayment.claim_payment_id == cp.id)
        ).one()
        codes = conn.execute(select(m.RemarkCode.code)).scalars().all()
    assert remit.payer_name == "N" * 60 and remit.trace_number == "T" * 50
    assert cp.patient_control_number == "P" * 38 and cp.payer_claim_number == "7" * 50
    assert cp.charge == Decimal("999999999999.99") and cp.paid == Decimal("999999999919.99")
    assert cp.original_reference_number == "F" * 50
    assert ln.procedure_code == "9" * 48 and ln.modifiers == "AB:CD:EF:GH"
    assert ln.units == Decimal("999999999999.999") and ln.line_control_number == "R" * 50
    assert "L" * 30 in codes
