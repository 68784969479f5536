"""PHI at rest stays private: claimflow's files are readable by the user that runs claimflow and nobody else.

* :func:`private_umask` — umask 077 for the whole process, so every file and folder claimflow (and the
  libraries it calls: SQLite, Airflow's ``dag.test()``, the sandbox) creates is 0600 / 0700. Called once
  by each entry point: the CLI's ``main()``, every DAG task (``dags.common.default_args``), the demo and
  its DAG runner.
* :func:`ensure_private_dir` — create a folder 0700, or tighten one that group or others can use (a
  folder made by an older release or by hand) and log which folder was tightened.
* :func:`tighten_file` — the same for one file (the SQLite database and its ``-wal``/``-shm``/``-journal``).

Stdlib only: ``claimflow parse`` imports this on its fast path.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("claimflow.db.at_rest")

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
_OPEN_TO_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def private_umask() -> int:
    """Set umask 077 for this process; returns the previous umask (``os.umask(old)`` restores it)."""
    old = os.umask(PRIVATE_UMASK)
    if old & ~PRIVATE_UMASK:
        os.umask(old | PRIVATE_UMASK)  # keep stricter bits the caller had (e.g. 0o277): only remove access
    return old


def ensure_private_dir(path: Path) -> Path:
    """``path`` (and any missing parents claimflow creates for it) exists as a folder only its owner can
    use. A folder that group or others may read, write or enter is tightened to 0700, with one log line
    naming the folder (paths are claimflow's own folders: never PHI)."""
    path = Path(path)
    if not path.exists():
        missing = [p for p in (path, *path.parents) if not p.exists()]
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        # mkdir's mode is filtered by the umask, and parents= ignores mode for the parents: set them.
        for p in missing:
            _chmod_if_open(p, DIR_MODE, quiet=True)
        return path
    _chmod_if_open(path, DIR_MODE)
    return path


def tighten_file(path: Path) -> bool:
    """Make an existing file 0600 if group or others have any access; True if it was changed."""
    return _chmod_if_open(Path(path), FILE_MODE)


def _chmod_if_open(path: Path, mode: int, *, quiet: bool = False) -> bool:
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    if not st.st_mode & _OPEN_TO_OTHERS:
        return False
    os.chmod(path, mode)
    if not quiet:
        kind = "folder" if stat.S_ISDIR(st.st_mode) else "file"
        log.warning(
            "tightened %s %s from %o to %o (claimflow's files are private)",
            kind,
            path,
            stat.S_IMODE(st.st_mode),
            mode,
        )
    return True
