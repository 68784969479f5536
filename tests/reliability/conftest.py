"""Crash-consistency tests: the ``reliability`` marker and the input corpus, built once per session."""

from __future__ import annotations

import pytest

from tests.reliability.harness import Corpus, build_corpus


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "reliability: SIGKILL crash-consistency tests (load → post → reconcile); select with -m reliability",
    )


@pytest.fixture(scope="session")
def crash_corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """~300 seeded claims batched into 837s and the sandbox payer's 999/277CA/835 answers (pyx12 runs
    once here, ~8 s per 1,000 claims), plus a corrupt and a resent file."""
    return build_corpus(tmp_path_factory.mktemp("crash-corpus"), patients=120, claims=300, seed=1)
