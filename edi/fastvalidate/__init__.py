"""A table-driven 5010 validator that gives pyx12's verdict at a fraction of its cost.

pyx12 builds a node tree and an error tree per segment; claimflow's nightly 837s are valid almost always,
so :func:`validate_fast` proves validity with compiled tables (maps loaded once by pyx12's own loader and
flattened, see :mod:`edi.fastvalidate.compile`) and a tight loop (:mod:`edi.fastvalidate.engine`). The
moment anything might be an error — a walk that would report, an element that fails a check, anything the
tables do not model — it hands the whole file to pyx12 and returns pyx12's report. So a "valid" verdict is
only ever given when pyx12 would give it too, and every error report is pyx12's own (docs/VALIDATOR.md).
"""

from __future__ import annotations

from edi.fastvalidate.engine import FastOutcome, prove_valid, validate_fast

__all__ = ["FastOutcome", "prove_valid", "validate_fast"]
