"""Real-world X12 from other projects: every complete 5010 835, 277CA (X214), 999 and TA1 interchange
either parses — with claim and amount counts equal to an independent count of its CLP/STC/AK2/TA1
segments — or fails with one clear X12ParseError line. No crash, no hang.

A second, broader test feeds *every* file in the corpus (837s, 270s, 4010 files, snippets…) through
routing and, where claimflow reads that kind, the parser: it must read it or refuse it cleanly.

The independent count deliberately shares no code with ``edi.reader``: it takes the element separator
and terminator from INDEX.tsv and counts with plain string operations.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from edi.errors import X12ParseError
from parsers import PARSERS, parse_file
from parsers.detect import detect_file
from parsers.records import (
    ClaimPayment,
    ClaimStatus,
    FunctionalGroupAck,
    InterchangeAck,
    LevelStatus,
    TransactionSetAck,
)
from tests.conformance.conftest import corpus_dir, corpus_missing, index_rows

ROWS = index_rows()


def _target(row: dict[str, str]) -> str | None:
    """The kind a row is checked as, or None when it is not a complete 5010 835/277CA/999/TA1."""
    if row["complete_interchange"] != "yes" or row["kind"] != "interchange":
        return None
    st01, gs08 = row["st01"], row["gs08"]
    if st01 == "TA1":
        return "TA1"
    if st01 == "835" and gs08.startswith("005010X221"):
        return "835"
    if st01 == "277" and "X214" in gs08:
        return "277CA"
    if st01 == "999" and gs08.startswith("005010X231"):
        return "999"
    return None


TARGETS = [(r["file"], _target(r), r) for r in ROWS if _target(r)]
ALL_FILES = [r["file"] for r in ROWS]

# Files in the corpus that break the standard; each must fail with exactly this kind of message.
EXPECTED_FAILURES = {
    # ISA16 declares ':' but the composites use '>'
    "LinuxForHealth+x12/src/tests/resources/835_005010X221A1/cob-contractural-adjustment.835": r"SVC01 must be a composite",
    "LinuxForHealth+x12/src/tests/resources/835_005010X221A1/secondary-payment.835": r"SVC01 must be a composite",
    "LinuxForHealth+x12/src/tests/resources/835_005010X221A1/tertiary-payment.835": r"SVC01 must be a composite",
    # BPR16 20002316 / 20990080 are not calendar dates
    "LinuxForHealth+x12/src/tests/resources/835_005010X221A1/managed-care.835": r"\(BPR\): BPR16 is not a valid calendar date",
    "moov-io+x12/examples/example_5010_835/sample2.txt": r"\(BPR\): BPR16 is not a valid calendar date",
    # deliberately broken sample (SE/GE/IEA counts and control numbers)
    "albmarin+badX12/tests/files/errors/error_validation.edi": r"\(SE\): SE01 says 30 segments, counted 27",
    # (UHIN TA1.edi: IEA01 = 1 in a TA1-only interchange is now read — the TA1 counted as its group)
    # IEA02 000000001 against ISA13 000000286
    "imsweb+x12-parser/src/test/resources/837_5010/x12_999_accepted.txt": r"\(IEA\): IEA02 000000001 does not match ISA13",
}


def _normalized_segments(path: Path, row: dict[str, str]) -> list[list[str]]:
    """Independent split: delimiters from INDEX.tsv, whitespace between segments dropped."""
    text = path.read_bytes().decode("latin-1").lstrip("\ufeff\xef\xbb\xbf")
    term = {"\\n": "\n", "\\r": "\r"}.get(row["segterm"], row["segterm"])
    if term != "\n":
        text = text.replace("\r", "").replace("\n", "")
    elsep = row["elsep"]
    out = []
    for seg in text.split(term):
        seg = seg.strip()
        if seg:
            out.append(
                re.split(r"\s*" + re.escape(elsep), seg) if seg.startswith("ISA") else seg.split(elsep)
            )
    return out


def _clean_failure(path: Path, exc: X12ParseError) -> None:
    line = str(exc)
    assert "\n" not in line
    assert line.startswith(path.name + ": ")
    assert exc.segment_no is not None and exc.segment_no >= 1


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("rel", "kind", "row"),
    TARGETS or [("corpus-missing", None, {})],
    ids=[t[0] for t in TARGETS] or ["corpus-missing"],
)
def test_complete_interchange(rel: str, kind: str | None, row: dict[str, str]) -> None:
    if not TARGETS:
        corpus_missing()
    path = corpus_dir() / rel
    assert detect_file(path).kind == kind
    try:
        recs = list(parse_file(path))
    except X12ParseError as exc:
        _clean_failure(path, exc)
        expected = EXPECTED_FAILURES.get(rel)
        assert expected is not None, f"unexpected failure: {exc}"
        assert re.search(expected, str(exc)), str(exc)
        return
    assert rel not in EXPECTED_FAILURES, "this file was expected to fail"
    segs = _normalized_segments(path, row)
    ids = Counter(s[0] for s in segs)
    types = Counter(type(r).__name__ for r in recs)
    if kind == "835":
        assert types["ClaimPayment"] == ids["CLP"]
        claims = [r for r in recs if isinstance(r, ClaimPayment)]
        assert sum(len(c.lines) for c in claims) == ids["SVC"]
        clp = [s for s in segs if s[0] == "CLP"]
        assert sum(c.charge for c in claims) == sum(Decimal(s[3]) for s in clp)
        assert sum(c.paid for c in claims) == sum(Decimal(s[4]) for s in clp)
        cas = sum(Decimal(v) for s in segs if s[0] == "CAS" for v in s[3::3] if v)
        assert (
            sum(a.amount for c in claims for a in c.adjustments)
            + sum(a.amount for c in claims for ln in c.lines for a in ln.adjustments)
            == cas
        )
        assert types["RemittanceTotals"] == types["Remittance"] == ids["ST"]
    elif kind == "277CA":
        assert types["ClaimStatus"] == sum(
            1 for i, s in enumerate(segs) if s[0] == "TRN" and _hl_level_before(segs, i) == "PT"
        )
        stc01 = sum(
            1
            for r in recs
            if isinstance(r, ClaimStatus | LevelStatus)
            for st in r.statuses
            if st.element == "STC01"
        ) + sum(
            1
            for r in recs
            if isinstance(r, ClaimStatus)
            for ln in r.lines
            for st in ln.statuses
            if st.element == "STC01"
        )
        assert stc01 == ids["STC"]
    elif kind == "999":
        assert sum(isinstance(r, TransactionSetAck) for r in recs) == ids["AK2"]
        assert sum(isinstance(r, FunctionalGroupAck) for r in recs) == ids["AK1"]
    else:
        assert sum(isinstance(r, InterchangeAck) for r in recs) == ids["TA1"]


def _hl_level_before(segs: list[list[str]], i: int) -> str | None:
    for s in reversed(segs[:i]):
        if s[0] == "HL":
            return s[3] if len(s) > 3 else None
    return None


@pytest.mark.timeout(60)
@pytest.mark.parametrize("rel", ALL_FILES or ["corpus-missing"])
def test_every_file_reads_or_fails_cleanly(rel: str) -> None:
    if not ALL_FILES:
        corpus_missing()
    path = corpus_dir() / rel
    try:
        kind = detect_file(path).kind
        if kind in PARSERS:
            for _ in parse_file(path):
                pass
        else:
            from edi.reader import iter_segments

            for _ in iter_segments(path):
                pass
    except X12ParseError as exc:
        _clean_failure(path, exc)


def test_corpus_has_what_the_readme_promises() -> None:
    if not ROWS:
        corpus_missing()
    kinds = Counter(k for _, k, _ in TARGETS)
    assert kinds["835"] >= 20 and kinds["277CA"] >= 2 and kinds["999"] >= 4 and kinds["TA1"] >= 1
