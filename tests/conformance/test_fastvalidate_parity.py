"""The fast validator gives pyx12's verdict, and pyx12's error locations when it reports errors itself.

For every corpus file and 180 seeded mutations: a "valid" from the fast engine is pyx12's "valid"; when the
fast engine reports errors itself (``not deferred``) pyx12 rejects the file too and the set of
(segment number, segment ID, element reference, error code) is pyx12's; anything else the fast engine
defers to pyx12 (counted, with the reason). ``KNOWN_DIFFERENCES`` would list the files where the fast
engine deliberately differs from pyx12 (docs/VALIDATOR.md); there are none.

bench/bench_validate.py --mutations N runs the same comparison with thousands of mutations.
"""

from __future__ import annotations

from pathlib import Path

from edi.fastvalidate.parity import ParityTally, compare, mutations
from tests.conformance.conftest import corpus_dir, corpus_missing, index_rows

REPO = Path(__file__).resolve().parents[2]
KNOWN_DIFFERENCES: frozenset[str] = frozenset()


def _assert_parity(tally: ParityTally) -> None:
    assert tally.wrong_valid == []
    assert tally.wrong_verdict == []
    assert [label for label in tally.location_mismatch if label not in KNOWN_DIFFERENCES] == []
    invalid = tally.invalid_reported_fast + tally.invalid_deferred
    assert invalid == tally.both_invalid
    print(
        f"\n{tally.files} files: {tally.both_valid} valid (fast), {tally.fast_rejected_valid} valid (deferred), "
        f"{invalid} invalid: {tally.invalid_reported_fast} reported by the fast engine, "
        f"{tally.invalid_deferred} deferred {tally.defer_reasons}"
    )


def test_corpus_verdicts_and_locations_match_pyx12() -> None:
    rows = index_rows()
    if not rows:
        corpus_missing()
    tally = ParityTally()
    for row in rows:
        compare((corpus_dir() / row["file"]).read_bytes(), row["file"], tally)
    _assert_parity(tally)
    assert tally.files == len(rows)
    assert tally.both_valid >= 40  # the fast path proves most valid files itself
    assert tally.both_invalid > 100
    # invalid 5010 files of the guides it compiles are reported without pyx12 (the rest: 4010, no ISA, ...)
    assert tally.invalid_reported_fast >= 35


def test_mutations_verdicts_and_locations_match_pyx12() -> None:
    tally = ParityTally()
    for name in ("837p/simple.837", "837i/outpatient.837", "835/denial_with_rarc.835"):
        data = (REPO / "fixtures" / name).read_bytes()
        for label, mutated in mutations(data, seed=20261204, count=60):
            compare(mutated, f"{name} {label}", tally)
    _assert_parity(tally)
    assert tally.files == 180
    assert tally.both_invalid > 100
    assert tally.invalid_reported_fast >= 0.9 * tally.both_invalid
