"""The fast 835 summary scanner (:mod:`parsers.summary835`) against the record path.

Same :class:`RemittanceTotals` for every fixture and for synthetic files (balanced and unbalanced), and the
same error line for malformed files — the scanner's own answer, not only via its fallback.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bench.synth_835 import segments
from claimflow.cli.parse import _summary, run
from edi.errors import X12ParseError
from edi.reader import iter_batches
from parsers.records import RemittanceTotals
from parsers.summary835 import _scan, totals
from parsers.x835_005010x221a1 import parse

from .conftest import FIXTURES

FIXTURES_835 = sorted((FIXTURES / "835").glob("*.835"))


def _reference(data: bytes) -> list[RemittanceTotals]:
    return [
        r for r in parse(data, name="t.835", file_sha256="x", claims=False) if type(r) is RemittanceTotals
    ]


def _reference_error(data: bytes) -> str:
    with pytest.raises(X12ParseError) as exc:
        for _ in parse(data, name="t.835", file_sha256="x", claims=True):
            pass
    return exc.value.line()


def _synth(n: int) -> list[str]:
    return list(segments(n, per_st=7))


def _join(segs: list[str]) -> bytes:
    return ("~".join(segs) + "~").encode()


@pytest.mark.parametrize("path", FIXTURES_835, ids=lambda p: p.name)
def test_fixture_totals_match_record_path(path: Path) -> None:
    data = path.read_bytes()
    assert totals(data, name="t.835", file_sha256="x") == _reference(data)
    # the scanner itself (no fallback) agrees on every fixture
    assert _scan(iter_batches(data, name="t.835"), "t.835", "x") == _reference(data)


def test_synthetic_balanced() -> None:
    data = _join(_synth(60))
    ref = _reference(data)
    assert ref and all(not r.unbalanced_claims and not r.unbalanced_lines for r in ref)
    assert _scan(iter_batches(data, name="t.835"), "t.835", "x") == ref
    assert _summary("835", ref)["balanced"] is True


def _unbalance(segs: list[str], prefix: str, pos: int, nth: int = 5) -> list[str]:
    out = list(segs)
    seen = 0
    for i, s in enumerate(out):
        if s.startswith(prefix):
            seen += 1
            if seen == nth:
                el = s.split("*")
                el[pos] = "9999.99"
                out[i] = "*".join(el)
                return out
    raise AssertionError(prefix)


@pytest.mark.parametrize(
    ("prefix", "pos"), [("CAS*CO*45*", 3), ("CLP*", 4), ("SVC*", 3), ("CAS*PR*", 3), ("BPR*", 2)]
)
def test_synthetic_unbalanced(prefix: str, pos: int) -> None:
    data = _join(_unbalance(_synth(60), prefix, pos))
    ref = _reference(data)
    fast = _scan(iter_batches(data, name="t.835"), "t.835", "x")
    assert fast == ref
    assert _summary("835", fast)["balanced"] is False


@pytest.mark.parametrize("chunk", [64, 1000, 1 << 20])
def test_chunk_boundaries(chunk: int) -> None:
    data = _join(_unbalance(_synth(40), "CAS*CO*45*", 3))
    ref = _reference(data)
    assert _scan(iter_batches(data, name="t.835", chunk_size=chunk), "t.835", "x") == ref
    assert totals(data, name="t.835", file_sha256="x", chunk_size=chunk) == ref


def _mutate(segs: list[str], prefix: str, new: str, nth: int = 3) -> list[str]:
    out = list(segs)
    seen = 0
    for i, s in enumerate(out):
        if s.startswith(prefix):
            seen += 1
            if seen == nth:
                out[i] = new
                return out
    raise AssertionError(prefix)


MALFORMED = [
    ("DTM*472", "DTM*472*20261340"),  # not a calendar date (line)
    ("DTM*472", "DTM*999*20260102"),  # not a service date qualifier
    ("DTM*232", "DTM*232*2026010"),  # claim date malformed
    ("DTM*472", "DTM*472"),  # missing element
    ("DTM*472", "DTM"),  # no elements at all
    ("CAS*CO", "CAS*CO*45*1.2.3"),  # bad amount
    ("CAS*CO", "CAS**45*10"),  # missing group
    ("CAS*PR", "CAS*PR*1*5***"),  # fine? (reference decides)
    ("CAS*PR", "CAS*PR*1*5**2"),  # reason without amount
    ("AMT*B6", "AMT*B6*NaN"),
    ("AMT*B6", "AMT*B6"),
    ("REF*6R", "REF*6R"),
    ("NM1*82", "NM1"),
    ("SVC*", "SVC*99213*10*5"),  # no composite qualifier
    ("SVC*", "SVC*HC:99213*10*x"),
    ("SVC*", "SVC*HC:99213*10*5**1*HC:99213*abc"),
    ("CLP*", "CLP**1*10*5"),
    ("CLP*", "CLP*X*1*10*5*0*12*A*11*1***1e5"),
    ("LQ*HE", "LQ*HE"),
    ("SE*", "SE*3*0001"),
    ("ST*", "ST*835"),
    ("N1*PR", "N1*XX*PAYER"),
    ("BPR*", "BPR**1*C"),
    ("LX*", "NM1*QC*1*A*B"),  # NM1 before any claim
    ("REF*6R", "NM1*QC*1*A*B"),  # NM1 inside a service line
    ("REF*6R", "MOA***MA130"),  # MOA inside a service line
    ("REF*6R", "PER*CX*X"),  # PER inside a service line
    ("REF*6R", "ref*6R*1"),  # junk segment ID
    ("AMT*B6", "QTY*ZK*abc"),
    ("GE*", "GE*9*835"),
    ("IEA*", "IEA*1*000000999"),
]


@pytest.mark.parametrize(("prefix", "new"), MALFORMED)
def test_malformed_same_error(prefix: str, new: str) -> None:
    data = _join(_mutate(_synth(60), prefix, new, nth=1 if prefix in ("ST*", "LX*", "GE*", "IEA*") else 3))
    try:
        ref = _reference(data)
    except X12ParseError:
        line = _reference_error(data)
        with pytest.raises(X12ParseError) as exc:
            totals(data, name="t.835", file_sha256="x")
        assert exc.value.line() == line
        # and the scanner refuses it too (it never accepts what the reference refuses)
        with pytest.raises(Exception):  # noqa: B017
            _scan(iter_batches(data, name="t.835"), "t.835", "x")
    else:
        assert totals(data, name="t.835", file_sha256="x") == ref


def test_truncated_and_empty() -> None:
    data = _join(_synth(5)[:-3])
    with pytest.raises(X12ParseError) as exc:
        totals(data, name="t.835")
    assert exc.value.line() == _reference_error(data)
    with pytest.raises(X12ParseError) as exc:
        totals(b"", name="t.835")
    assert exc.value.line() == _reference_error(b"")


def test_stream_source_uses_record_path() -> None:
    data = _join(_synth(9))
    assert totals(io.BytesIO(data), name="t.835", file_sha256="x") == _reference(data)


@pytest.mark.parametrize("path", FIXTURES_835, ids=lambda p: p.name)
def test_cli_summary_unchanged(path: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    assert run(str(path), summary=True, out=out) == 0
    import json

    ref = _summary("835", parse(str(path), name=path.name, file_sha256="", claims=True))
    assert json.loads(out.getvalue()) == ref
