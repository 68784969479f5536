"""``fixtures/conformance`` must stay a byte-for-byte copy of the shared corpus it was taken from."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conformance.conftest import IN_CI, REPO, shared_corpus_dir

COPY = REPO / "fixtures" / "conformance"


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_copy_is_complete_with_licenses() -> None:
    assert (COPY / "LICENSES.md").is_file()
    assert (COPY / "INDEX.tsv").is_file()
    assert len(_digests(COPY)) >= 230


def test_copy_matches_shared() -> None:
    shared = shared_corpus_dir()
    if not shared.is_dir():
        # CI lays shared/ beside the clone; elsewhere the committed copy is all there is.
        if IN_CI:
            pytest.fail(f"shared corpus not found at {shared}", pytrace=False)
        pytest.skip("shared corpus not beside this checkout")
    ours, theirs = _digests(COPY), _digests(shared)
    assert sorted(set(ours) ^ set(theirs)) == []
    assert [name for name in ours if ours[name] != theirs[name]] == []
