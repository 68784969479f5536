"""The fast validator never calls a file valid that pyx12 rejects: conformance corpus and seeded mutations.

bench/bench_validate.py --mutations N runs the same comparison with thousands of mutations.
"""

from __future__ import annotations

from pathlib import Path

from edi.fastvalidate.parity import ParityTally, compare, mutations
from tests.conformance.conftest import corpus_dir, corpus_missing, index_rows

REPO = Path(__file__).resolve().parents[2]


def test_corpus_verdicts_match_pyx12() -> None:
    rows = index_rows()
    if not rows:
        corpus_missing()
    tally = ParityTally()
    for row in rows:
        compare((corpus_dir() / row["file"]).read_bytes(), row["file"], tally)
    assert tally.wrong_valid == []
    assert tally.files == len(rows)
    assert tally.both_valid >= 40  # the fast path proves most valid files itself
    assert tally.both_invalid > 100


def test_mutations_never_wrongly_valid() -> None:
    tally = ParityTally()
    for name in ("837p/simple.837", "837i/outpatient.837", "835/denial_with_rarc.835"):
        data = (REPO / "fixtures" / name).read_bytes()
        for label, mutated in mutations(data, seed=20261204, count=60):
            compare(mutated, f"{name} {label}", tally)
    assert tally.wrong_valid == []
    assert tally.files == 180
    assert tally.both_invalid > 100
