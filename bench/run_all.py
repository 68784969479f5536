"""Run every benchmark one after the other (``make bench``) and print each one's own output.

    uv run python bench/run_all.py            # the figures docs/PERFORMANCE.md records (~15 min)
    uv run python bench/run_all.py --quick    # smaller sizes, a few minutes: a smoke run, not the figures
    uv run python bench/run_all.py --only 835 cycle

Benchmarks are not timed tests: run them on a quiet machine (the load average is printed first) and
copy the figures into docs/PERFORMANCE.md by hand. PostgreSQL (and, for SFTP, Debian's OpenSSH sshd or
the built-in sandbox) must be running, as for the test suite. The crash harness is separate
(``bench/crash_harness.py``): it takes 20+ minutes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

BENCHES: dict[str, tuple[list[str], list[str]]] = {
    # name: (full arguments, --quick arguments)
    "837": (["bench/bench_837.py"], ["bench/bench_837.py", "--claims", "20000", "--repeat", "1"]),
    "837i": (["bench/bench_837.py", "--type", "I"], ["bench/bench_837.py", "--type", "I", "--claims", "20000", "--repeat", "1"]),
    "835": (["-m", "bench.bench_835", "--skip-models"], ["-m", "bench.bench_835", "--sizes", "10000", "--skip-models"]),
    "sftp": (["bench/bench_sftp.py"], ["bench/bench_sftp.py", "--small-count", "100", "--big-mb", "50", "--reps", "1"]),
    "cycle": (["bench/bench_cycle.py"], ["bench/bench_cycle.py", "--claims", "10000"]),
}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="smaller sizes (a smoke run, not the recorded figures)"
    )
    ap.add_argument("--only", nargs="+", choices=sorted(BENCHES), help="run only these")
    a = ap.parse_args(argv)
    names = a.only or list(BENCHES)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    failed = []
    for name in names:
        full, quick = BENCHES[name]
        cmd = [sys.executable, *(quick if a.quick else full)]
        print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd, cwd=REPO, env=env)
        print(f"=== {name}: exit {rc} after {time.perf_counter() - t0:.0f} s", flush=True)
        if rc != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
