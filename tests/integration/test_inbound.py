"""Inbound files: archived before parsing, stored exactly once, all or nothing — SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import stat
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from claimflow.db import models as m
from claimflow.services.inbound import load_interchange, receive_file
from claimflow.settings import Settings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
COUNTED = [
    m.Remittance,
    m.ClaimPayment,
    m.ServiceLinePayment,
    m.Adjustment,
    m.RemarkCode,
    m.ProviderAdjustment,
    m.Acknowledgment,
    m.AcknowledgmentError,
    m.ClaimStatusRecord,
    m.BalanceException,
]


def _settings(tmp_path: Path) -> Settings:
    return Settings(database_url="sqlite://", data_dir=tmp_path / "data")


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.__tablename__: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in COUNTED
        }


def _load(engine: Engine, path: Path, settings: Settings):  # type: ignore[no-untyped-def]
    interchange_id, _new = receive_file(engine, path, partner="sandbox", settings=settings)
    return load_interchange(engine, interchange_id, actor="test", settings=settings)


@pytest.mark.parametrize(
    "fixture",
    sorted(
        str(p.relative_to(FIXTURES)) for d in ("835", "999", "277ca", "ta1") for p in (FIXTURES / d).iterdir()
    ),
)
def test_every_fixture_loads_once(engine: Engine, tmp_path: Path, fixture: str) -> None:
    settings = _settings(tmp_path)
    path = FIXTURES / fixture
    outcome = _load(engine, path, settings)
    assert outcome.status == "loaded", outcome.error
    first = _counts(engine)
    assert sum(first.values()) > 0
    # archived byte-for-byte, private
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    archived = settings.archive_dir / sha[:2] / sha
    assert archived.read_bytes() == path.read_bytes()
    assert stat.S_IMODE(os.stat(archived).st_mode) == 0o600
    # the same file again: nothing new
    again = _load(engine, path, settings)
    assert again.status == "already_loaded"
    assert _counts(engine) == first


def test_835_amounts_land_exactly(engine: Engine, tmp_path: Path) -> None:
    path = FIXTURES / "835" / "several_payers.835"
    _load(engine, path, _settings(tmp_path))
    text = path.read_text()
    seg_term = text[105]
    clp04 = sum(Decimal(s.split(text[3])[4]) for s in text.split(seg_term) if s.strip().startswith("CLP"))
    with engine.connect() as conn:
        assert conn.execute(select(func.sum(m.ClaimPayment.paid))).scalar_one() == clp04


def test_unbalanced_835_is_stored_with_exceptions(engine: Engine, tmp_path: Path) -> None:
    outcome = _load(engine, FIXTURES / "835" / "unbalanced.835", _settings(tmp_path))
    assert outcome.status == "loaded"
    with engine.connect() as conn:
        kinds = conn.execute(
            select(m.BalanceException.level, m.BalanceException.expected, m.BalanceException.found)
        ).all()
    assert kinds and all(e != f for _l, e, f in kinds)


@pytest.mark.parametrize("bad", sorted(p.name for p in (FIXTURES / "malformed").iterdir()))
def test_malformed_files_are_quarantined_and_the_batch_goes_on(
    engine: Engine, tmp_path: Path, bad: str
) -> None:
    settings = _settings(tmp_path)
    outcome = _load(engine, FIXTURES / "malformed" / bad, settings)
    assert outcome.status == "quarantined"
    assert outcome.error and outcome.error.startswith(f"{bad}: ")
    assert "Traceback" not in outcome.error
    assert sum(_counts(engine).values()) == 0  # nothing half-stored
    with engine.connect() as conn:
        row = conn.execute(select(m.Interchange.status, m.Interchange.error)).one()
    assert row.status == "quarantined" and row.error == outcome.error
    good = _load(engine, FIXTURES / "835" / "denial_with_rarc.835", settings)
    assert good.status == "loaded"


def test_same_sender_and_isa13_with_different_bytes_is_a_duplicate(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    original = FIXTURES / "835" / "denial_with_rarc.835"
    assert _load(engine, original, settings).status == "loaded"
    copy = tmp_path / "resent.835"
    copy.write_bytes(
        original.read_bytes().replace(b"\n", b"\r\n")
        if b"\n" in original.read_bytes()
        else original.read_bytes() + b"\n"
    )
    outcome = _load(engine, copy, settings)
    assert outcome.status == "duplicate"
    assert "already loaded" in (outcome.error or "")
