"""Write the hostile corpus to a folder and run ``claimflow parse`` over every file.

    uv run python bench/hostile_corpus.py [OUT_DIR] [--no-big] [--subprocess] [--keep]

Small cases run in process (``claimflow.cli.parse.main``, captured streams) unless ``--subprocess``; the
big ones (100 MB single segment, millions of empty segments) always run as a real ``claimflow parse``
child whose peak RSS comes from ``RUSAGE_CHILDREN``. Prints counts per family and outcome, every case
whose outcome breaks the contract, and the slowest and largest cases.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hostile.corpus import INVALID, VALID, Case, big_cases, load_sources, small_cases

_MEASURE = r"""
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": p.returncode, "stderr": p.stderr, "elapsed": time.perf_counter() - t0,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("claimflow")
    return [str(exe)] if exe.exists() else ["uv", "run", "claimflow"]


def run_subprocess(path: Path) -> tuple[int, str, float, int]:
    p = subprocess.run(
        [sys.executable, "-c", _MEASURE, *_cli(), "parse", "--summary", str(path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    m = json.loads(p.stdout)
    return m["rc"], m["stderr"], m["elapsed"], m["maxrss_kb"]


def run_in_process(path: Path) -> tuple[int, str, float, int]:
    from claimflow.cli.parse import main

    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(path)])
        except BaseException as exc:  # the contract is broken: report it, keep going
            rc = -1
            err.write(f"{path.name}: RAISED {type(exc).__name__}\n")
    return rc, err.getvalue(), time.perf_counter() - t0, 0


def problem(case: Case, rc: int, stderr: str) -> str | None:
    if case.expect == INVALID and rc != 2:
        return f"expected exit 2, got {rc}"
    if case.expect == VALID and rc != 0:
        return f"expected exit 0, got {rc}"
    if rc not in (0, 2):
        return f"exit {rc}"
    if rc == 2:
        lines = stderr.splitlines()
        if len(lines) != 1:
            return f"{len(lines)} stderr lines"
        if not lines[0].startswith(case.name + ": ") or "internal error" in lines[0]:
            return "malformed error line"
        if case.where == "id" and not re.search(r": segment \d+ \([A-Z0-9]{2,3}\)", lines[0]):
            return "no 'segment N (ID)'"
        if case.where == "number" and not re.search(r": segment \d+", lines[0]):
            return "no 'segment N'"
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", help="folder for the corpus (default: a temporary one)")
    ap.add_argument("--no-big", action="store_true", help="skip the 100 MB / millions-of-segments cases")
    ap.add_argument("--subprocess", action="store_true", help="run every small case as a real child too")
    ap.add_argument("--keep", action="store_true", help="keep the big files after running them")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="hostile-"))
    out.mkdir(parents=True, exist_ok=True)
    srcs = load_sources()
    results: list[tuple[Case, int, str, float, int, int]] = []
    t_all = time.perf_counter()
    for case in small_cases(srcs):
        path = case.write(out / case.name)
        runner = run_subprocess if args.subprocess else run_in_process
        rc, err, elapsed, rss = runner(path)
        results.append((case, rc, err, elapsed, rss, path.stat().st_size))
    if not args.no_big:
        for case in big_cases(srcs):
            path = case.write(out / case.name)
            size = path.stat().st_size
            rc, err, elapsed, rss = run_subprocess(path)
            results.append((case, rc, err, elapsed, rss, size))
            if not args.keep:
                path.unlink()
    total = time.perf_counter() - t_all

    counts: collections.Counter[tuple[str, str, int]] = collections.Counter()
    bad = []
    for case, rc, err, *_ in results:
        counts[(case.family, case.expect, rc)] += 1
        why = problem(case, rc, err)
        if why:
            bad.append((case.name, why, err.strip()[:300]))
    n_invalid = sum(1 for c, *_ in results if c.expect == INVALID)
    n_invalid_ok = sum(1 for c, rc, *_ in results if c.expect == INVALID and rc == 2)
    print(
        f"corpus: {out}  files: {len(results)}  expected invalid: {n_invalid}  exit 2 as expected: "
        f"{n_invalid_ok}  contract violations: {len(bad)}  total time: {total:.1f}s"
    )
    print(f"{'family':<12} {'expect':<8} {'exit':>4} {'files':>6}")
    for (fam, exp, rc), n in sorted(counts.items()):
        print(f"{fam:<12} {exp:<8} {rc:>4} {n:>6}")
    if bad:
        print("\nCONTRACT VIOLATIONS")
        for name, why, err in bad:
            print(f"  {name}: {why}: {err}")
    print("\nslowest")
    for case, rc, _err, elapsed, rss, size in sorted(results, key=lambda r: -r[3])[:10]:
        print(f"  {elapsed:7.3f}s  exit {rc}  {size / 1e6:9.1f} MB  rss {rss / 1024:6.1f} MB  {case.name}")
    print("largest")
    for case, rc, err, elapsed, rss, size in sorted(results, key=lambda r: -r[5])[:10]:
        print(f"  {size / 1e6:9.1f} MB  {elapsed:7.3f}s  exit {rc}  rss {rss / 1024:6.1f} MB  {case.name}")
        if err:
            print(f"      {err.strip()[:200]}")
    maxrss = max((r[4] for r in results), default=0)
    print(f"max child RSS: {maxrss / 1024:.1f} MB  max time: {max(r[3] for r in results):.3f}s")
    if not args.out:
        shutil.rmtree(out, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
