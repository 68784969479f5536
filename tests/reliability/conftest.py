"""Crash-consistency tests: the ``reliability`` marker and the input corpus, built once per session."""

from __future__ import annotations

import os

import pytest

from tests.reliability.harness import Corpus, build_corpus
from tests.support import databases as dbs

#: 837 files the sandbox payer answers for the CI run (all 12: ``CLAIMFLOW_CRASH_ANSWERED=0``).
ANSWERED = int(os.environ.get("CLAIMFLOW_CRASH_ANSWERED", "4")) or None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "reliability: SIGKILL crash-consistency tests (load → post → reconcile); select with -m reliability",
    )


@pytest.fixture(scope="session")
def crash_corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """300 seeded claims batched into 12 837s; the sandbox payer's 999/277CA/835 answers to the first
    4 of them (pyx12 runs once, here), plus a corrupt and a resent file: 15 files to load."""
    return build_corpus(
        tmp_path_factory.mktemp("crash-corpus"), patients=120, claims=300, seed=1, answered=ANSWERED
    )


@pytest.fixture(scope="session")
def crash_pg_admin_url() -> str:
    """The PostgreSQL admin URL, checked before anything is built: skipped locally when the server is
    down, a failure under ``CI=true``."""
    if not dbs.pg_reachable():
        dbs.service_missing(f"PostgreSQL at {dbs.PG_ADMIN_URL}")
    return dbs.PG_ADMIN_URL
