"""Where the conformance corpus is: ``$CLAIMFLOW_CONFORMANCE_DIR`` or ``<repo>/fixtures/conformance``.

The corpus is real X12 written by others (see its README.md and LICENSES.md). ``fixtures/conformance`` is a
byte-for-byte copy of the project's shared corpus (``<repo>/../shared/conformance``), so the suite runs it on
any clone; ``test_copy_matches_shared`` fails when the two drift apart. Under ``CI=true`` a missing corpus
fails the run instead of skipping it.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def corpus_dir() -> Path:
    env = os.environ.get("CLAIMFLOW_CONFORMANCE_DIR")
    return Path(env) if env else (REPO / "fixtures" / "conformance")


def shared_corpus_dir() -> Path:
    """The shared original the fixtures copy is taken from (present beside a checkout, not in every clone)."""
    return REPO.parent / "shared" / "conformance"


def index_rows() -> list[dict[str, str]]:
    """INDEX.tsv rows, or [] when the corpus is missing (the tests then fail in CI, skip locally)."""
    path = corpus_dir() / "INDEX.tsv"
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))


def corpus_missing() -> None:
    msg = f"conformance corpus not found at {corpus_dir()} (set CLAIMFLOW_CONFORMANCE_DIR)"
    if IN_CI:
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)
