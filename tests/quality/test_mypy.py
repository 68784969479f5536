"""The tree type-checks: ``mypy`` over the packages configured in ``[tool.mypy]`` plus the app shell
(claimflow) and the DAGs, so a change that breaks a signature or a narrowing fails the build instead of
piling up (the last cleanup fixed 31 errors in 16 files)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _targets() -> list[str]:
    """The configured packages (read from pyproject.toml, so a package added there is checked here too)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    return sorted({*config.get("packages", []), "claimflow", "dags"})


def test_mypy_is_clean() -> None:
    targets = _targets()
    assert {"claimflow", "dags", "edi"} <= set(targets)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", *targets],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, f"mypy {' '.join(targets)}:\n" + result.stdout + result.stderr
