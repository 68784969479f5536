"""Where the conformance corpus is: ``$CLAIMFLOW_CONFORMANCE_DIR`` or ``<repo>/../shared/conformance``.

The corpus is real X12 written by others (see its README.md); it is read in place, never copied into the
repository. Under ``CI=true`` a missing corpus fails the run instead of skipping it.
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
    return Path(env) if env else (REPO.parent / "shared" / "conformance")


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
