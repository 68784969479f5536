"""Every hostile file ends in exit 0 (still valid) or exit 2 with ONE line naming the file and segment.

In-process (``claimflow.cli.parse.main`` with captured streams) for the few thousand small cases; a real
``claimflow parse`` subprocess for a handful of them and for the big ones (100 MB single segment, millions
of empty segments), whose time and peak memory are measured with ``RUSAGE_CHILDREN``. The pipeline test
loads a sample through ``receive_file`` + ``load_interchange``: each is quarantined with the same line,
and a good file in the same batch still loads.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from claimflow.cli.parse import main
from tests.hostile.conftest import SMALL_CASES
from tests.hostile.corpus import ANY, FIXTURES, INVALID, VALID, Case, big_cases

SMALL_BOUND_S = 2.0
BIG_BOUND_S = 10.0
BIG_RSS_BOUND_KB = 200 * 1024

_SEG_ID = re.compile(r": segment \d+ \([A-Z0-9]{2,3}\)")
_SEG_NO = re.compile(r": segment \d+\b")


def run_in_process(path: Path, *extra: str) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(path), *extra])
    return rc, out.getvalue(), err.getvalue(), time.perf_counter() - t0


def check_outcome(case: Case, rc: int, stderr: str) -> None:
    """The contract: 0 (only if the case may be valid) or 2 with one well-formed line."""
    if case.expect == INVALID:
        assert rc == 2, f"{case.name}: expected exit 2, got {rc}"
    elif case.expect == VALID:
        assert rc == 0, f"{case.name}: expected exit 0, got {rc}: {stderr!r}"
    else:
        assert rc in (0, 2)
    if rc == 0:
        assert stderr == ""
        return
    lines = stderr.splitlines()
    assert len(lines) == 1, f"{case.name}: {len(lines)} stderr lines: {stderr[:2000]!r}"
    line = lines[0]
    assert line.startswith(case.name + ": "), line
    assert "Traceback" not in line and "internal error" not in line, line
    if case.where == "id":
        assert _SEG_ID.search(line), f"no 'segment N (ID)' in {line!r}"
    elif case.where == "number":
        assert _SEG_NO.search(line), f"no 'segment N' in {line!r}"


# ---- the generator itself ---------------------------------------------------------------------------


def test_corpus_is_large_deterministic_and_named() -> None:
    assert len(SMALL_CASES) >= 300
    assert sum(c.expect == INVALID for c in SMALL_CASES) >= 300
    families = {c.family for c in SMALL_CASES}
    assert {
        "truncate",
        "delete",
        "duplicate",
        "swap",
        "count",
        "delimiter",
        "encoding",
        "nul",
        "amount",
        "date",
        "junk",
    } <= families
    from tests.hostile.corpus import cases

    again = cases(big=False)
    assert [(c.name, c.data) for c in again] == [(c.name, c.data) for c in SMALL_CASES]
    assert all(c.expect in (INVALID, VALID, ANY) for c in SMALL_CASES)


def test_corpus_covers_the_named_hostile_values() -> None:
    blob = b"\n".join(c.data or b"" for c in SMALL_CASES)
    for v in (
        b"1E400",
        b"NaN",
        b"Infinity",
        b"-0",
        b"1,000.00",
        b"$10",
        b"12.345",
        b"20261340",
        b"20260230",
        b"\x00",
    ):
        assert v in blob, v
    names = {c.name for c in SMALL_CASES}
    for sid in ("ISA", "GS", "ST", "CLP", "SVC", "SE", "GE"):
        assert any(f"__truncate__after-{sid}1" in n for n in names), sid
    for el in ("SE01", "SE02", "GE01", "GE02", "IEA01", "IEA02"):
        assert any(f"__count__{el}-" in n for n in names), el


# ---- every small case, in process --------------------------------------------------------------------


@pytest.mark.parametrize("case", SMALL_CASES, ids=[c.name for c in SMALL_CASES])
def test_hostile_file(case: Case, hostile_dir: Path) -> None:
    rc, _out, err, elapsed = run_in_process(hostile_dir / case.name)
    check_outcome(case, rc, err)
    assert elapsed < SMALL_BOUND_S, f"{case.name} took {elapsed:.2f}s"


@pytest.mark.parametrize(
    "case", [c for c in SMALL_CASES if c.name.startswith("835-")][::97], ids=lambda c: c.name
)
def test_hostile_835_summary(case: Case, hostile_dir: Path) -> None:
    """``--summary`` takes the 835 fast path (no claim records): same contract."""
    rc, out, err, _ = run_in_process(hostile_dir / case.name, "--summary")
    check_outcome(case, rc, err)
    if rc == 0:
        json.loads(out)


# ---- a real subprocess: no traceback, one line --------------------------------------------------------


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("claimflow")
    return [str(exe)] if exe.exists() else ["uv", "run", "claimflow"]


SUBPROCESS_SAMPLE = [c for c in SMALL_CASES if c.expect == INVALID][::350]


@pytest.mark.parametrize("case", SUBPROCESS_SAMPLE, ids=lambda c: c.name)
def test_hostile_file_subprocess(case: Case, hostile_dir: Path) -> None:
    p = subprocess.run(
        [*_cli(), "parse", str(hostile_dir / case.name)], capture_output=True, text=True, timeout=60
    )
    assert "Traceback" not in p.stderr
    check_outcome(case, p.returncode, p.stderr)


# ---- the big cases: streamed to disk, parsed in a child, time and RSS measured --------------------------

_MEASURE = r"""
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
elapsed = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": p.returncode, "stderr": p.stderr, "stdout_bytes": len(p.stdout),
                  "elapsed": elapsed, "maxrss_kb": rss}))
"""


def measure(path: Path, *extra: str) -> dict[str, object]:
    """Run ``claimflow parse`` on ``path`` in a grandchild: a fresh RUSAGE_CHILDREN for each case."""
    p = subprocess.run(
        [sys.executable, "-c", _MEASURE, *_cli(), "parse", str(path), *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)  # type: ignore[no-any-return]


BIG = list(big_cases())


@pytest.mark.slow
@pytest.mark.parametrize("case", BIG, ids=lambda c: c.name)
def test_big_hostile_file(case: Case, tmp_path: Path) -> None:
    path = case.write(tmp_path / case.name)
    try:
        m = measure(path, "--summary")
    finally:
        path.unlink()
    check_outcome(case, int(m["rc"]), str(m["stderr"]))  # type: ignore[call-overload]
    # the interpreter's own start-up (uv, imports) is in the elapsed time too
    assert float(m["elapsed"]) < BIG_BOUND_S, m  # type: ignore[arg-type]
    assert int(m["maxrss_kb"]) <= BIG_RSS_BOUND_KB, m  # type: ignore[call-overload]


# ---- through the pipeline: quarantined with the same line, the good file still loads ------------------


def test_pipeline_quarantines_hostile_files(tmp_path: Path, hostile_dir: Path) -> None:
    from claimflow.db.session import make_engine
    from claimflow.services.inbound import load_interchange, receive_file
    from claimflow.settings import Settings
    from tests.support.databases import migrated_sqlite

    url = migrated_sqlite(tmp_path / "claimflow.db")
    settings = Settings(database_url=url, data_dir=tmp_path / "data")
    engine = make_engine(url)
    seen: set[bytes] = set()
    sample: list[Case] = []
    for c in [c for c in SMALL_CASES if c.expect == INVALID][::60]:
        if c.data not in seen:
            seen.add(c.data or b"")
            sample.append(c)
    good = FIXTURES / "835" / "denial_with_rarc.835"
    half = len(sample) // 2
    batch: list[tuple[Case | None, Path]] = [(c, hostile_dir / c.name) for c in sample[:half]]
    batch.append((None, good))
    batch += [(c, hostile_dir / c.name) for c in sample[half:]]
    try:
        for case, path in batch:
            iid, new = receive_file(engine, path, settings=settings)
            assert new
            outcome = load_interchange(engine, iid, actor="test", settings=settings)
            if case is None:
                assert outcome.status == "loaded", outcome
                continue
            assert outcome.status == "quarantined", (case.name, outcome)
            _rc, _out, cli_line, _ = run_in_process(path)
            assert outcome.error == cli_line.rstrip("\n"), (case.name, outcome.error, cli_line)
            assert "\n" not in (outcome.error or "")
        from sqlalchemy import text

        with engine.connect() as conn:
            rows = conn.execute(text("SELECT status, count(*) FROM interchanges GROUP BY status")).all()
        assert dict(rows) == {"quarantined": len(sample), "loaded": 1}
    finally:
        engine.dispose()


# ---- 835 values that do not fit: named by element, never echoed ----------------------------------------


def test_oversize_835_is_named_by_element_never_by_value(hostile_dir: Path) -> None:
    """CLP01 > 38, CLP07 > 50, N102 > 60, TRN02 > 50, LQ02 > 30, SVC01-2 > 48, amounts beyond NUMERIC(14,2) or
    with a non-zero third decimal, units beyond NUMERIC(15,3): exit 2, one line naming the element."""
    from tests.hostile.corpus import OVERSIZE_835

    cases = [c for c in SMALL_CASES if c.family == "oversize" and c.expect == INVALID]
    assert len(cases) >= 100
    values = {v for _sid, _pos, v, _expect in OVERSIZE_835 if len(v) > 3}
    for c in cases:
        rc, out, err, _ = run_in_process(hostile_dir / c.name)
        assert rc == 2 and out == "", c.name
        element = c.name.split("__oversize__")[1].split("-")[0]  # CLP01, SVC01 (→ SVC01-2) …
        assert f"): {element}" in err, (c.name, err)
        assert not any(v in err for v in values), (c.name, err)
