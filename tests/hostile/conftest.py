"""Hypothesis profiles for the fuzz tests and the written hostile corpus.

``HYPOTHESIS_PROFILE=long uv run pytest tests/hostile/test_fuzz.py`` fuzzes for minutes instead of
seconds; the default profile keeps the file under a minute.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.hostile.corpus import Case, cases

settings.register_profile(
    "hostile-default",
    max_examples=150,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same examples every run: CI never flakes on a new one
)
settings.register_profile(
    "long",
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "20000")),
    deadline=5000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "hostile-default")
FUZZ_SETTINGS = settings.get_profile(
    _PROFILE if _PROFILE in ("hostile-default", "long") else "hostile-default"
)

SMALL_CASES: list[Case] = cases(big=False)


@pytest.fixture(scope="session")
def hostile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every small case written once per session."""
    root = tmp_path_factory.mktemp("hostile")
    for c in SMALL_CASES:
        c.write(root / c.name)
    return root
