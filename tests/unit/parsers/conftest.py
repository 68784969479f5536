"""Paths to the hand-written inbound fixtures."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


def fixture(rel: str) -> Path:
    return FIXTURES / rel
