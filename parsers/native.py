"""The optional C accelerator (``claimflow_speedups``, built from ``native/``) and the switch to turn it off.

Why it exists: the pure-Python 835 parser tops out around 20 MB/s to records and 16 MB/s to EOBs on one
core; the target is 40 MB/s. The C module runs the hot loop of the claim payment loops (CLP, CAS, NM1,
DTM, REF, AMT, SVC, LQ) and the EOB builder, but only on the plain, valid case: for any other segment it
stops before changing anything and the Python parser handles that segment — so every error message,
and every record, is the Python parser's. ``tests/unit/parsers/test_native.py`` checks record-for-record
equality of both paths on fixtures, conformance files and generated files.

``CLAIMFLOW_PURE_PYTHON=1`` disables the accelerator (for debugging, or to compare). When the module is
not installed (a platform without a C compiler), everything works in pure Python, only slower.
"""

from __future__ import annotations

import os
from types import ModuleType


def _load() -> ModuleType | None:
    if os.environ.get("CLAIMFLOW_PURE_PYTHON", "").strip() not in ("", "0"):
        return None
    try:
        import claimflow_speedups
    except ImportError:
        return None
    return claimflow_speedups


SPEEDUPS: ModuleType | None = _load()
"""The C module, or ``None`` (not installed, or disabled by ``CLAIMFLOW_PURE_PYTHON``)."""
