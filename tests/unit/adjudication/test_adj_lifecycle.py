"""Claim lifecycle rules, CARC categories and the ledger writer (no database needed for most)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from adjudication import carc, ledger
from adjudication.errors import InvalidTransition, LedgerImbalance
from adjudication.lifecycle import (
    ALL_STATUSES,
    CORRECTED,
    TRANSITIONS,
    can_transition,
    check_transition,
    sources_for,
)
from claimflow.db.models import ClaimStatus as S


def test_happy_path_and_forbidden_moves() -> None:
    for a, b in [
        (S.READY, S.SUBMITTED),
        (S.SUBMITTED, S.ACCEPTED),
        (S.ACCEPTED, S.PARTIALLY_PAID),
        (S.PARTIALLY_PAID, S.REVERSED),
        (S.REVERSED, S.PAID),
        (S.DENIED, CORRECTED),
        (CORRECTED, S.SUBMITTED),
        (S.PAID, S.CLOSED),
        (S.CLOSED, S.REVERSED),
        (S.SUBMITTED, S.REJECTED),
    ]:
        assert can_transition(a, b), (a, b)
    for a, b in [
        (S.CLOSED, S.ACCEPTED),
        (S.PAID, S.ACCEPTED),
        (S.READY, S.PAID),
        (S.CLOSED, S.PAID),
        (S.SCRUB_FAILED, S.SUBMITTED),
    ]:
        assert not can_transition(a, b), (a, b)
    with pytest.raises(InvalidTransition, match="C00000001"):
        check_transition("C00000001", S.CLOSED, S.ACCEPTED)


def test_every_status_is_reachable_and_known() -> None:
    assert set(TRANSITIONS) == set(ALL_STATUSES)
    targets = {t for ts in TRANSITIONS.values() for t in ts}
    assert targets <= set(ALL_STATUSES)
    assert set(ALL_STATUSES) - targets == set()  # ready is reached again from rejected/scrub_failed
    assert S.CLOSED not in sources_for(S.PAID)


def test_carc_categories() -> None:
    assert carc.category("45") == "contractual" and not carc.is_denial("45")
    assert carc.category("1") == "patient_responsibility" and not carc.is_denial("1")
    assert carc.category("50") == "medical_necessity" and carc.is_denial("50")
    assert carc.category("197") == "authorization"
    assert carc.category("ZZ9") == "other" and carc.is_denial("ZZ9")
    assert "other" in carc.DENIAL_CATEGORIES and "contractual" not in carc.DENIAL_CATEGORIES


def test_ledger_writer_refuses_unbalanced_transactions(db: Engine) -> None:
    day = dt.date(2026, 11, 25)
    entries = [
        ledger.Entry("t:1", "charge", "ar_payer", Decimal("10.00"), day),
        ledger.Entry("t:1", "charge", "revenue", Decimal("-9.99"), day),
    ]
    with pytest.raises(LedgerImbalance, match="t:1"), db.begin() as conn:
        ledger.write_entries(conn, entries)
    with pytest.raises(TypeError), db.begin() as conn:
        ledger.write_entries(conn, [ledger.Entry("t:2", "charge", "cash", 1.5, day)])  # type: ignore[arg-type]
