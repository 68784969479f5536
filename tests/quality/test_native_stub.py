"""``native/claimflow_speedups.pyi`` matches the built C extension: ``mypy.stubtest`` imports the module
and fails on a function missing from either side, so the stub cannot silently drift from the C code."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_stub_matches_the_built_extension() -> None:
    assert importlib.util.find_spec("claimflow_speedups") is not None, (
        "claimflow_speedups is not importable: run `make setup` (needs a C compiler)"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "claimflow_speedups"],
        cwd=ROOT,
        env={**os.environ, "MYPYPATH": str(ROOT / "native")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues found in 1 module" in result.stdout
