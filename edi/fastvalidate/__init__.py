"""A table-driven 5010 validator that gives pyx12's verdict at a fraction of its cost.

pyx12 builds a node tree and an error tree per segment; claimflow's nightly 837s are valid almost always,
so :func:`validate_fast` proves validity with compiled tables (maps loaded once by pyx12's own loader and
flattened, see :mod:`edi.fastvalidate.compile`) and a tight loop (:mod:`edi.fastvalidate.engine`). Errors it
models (element checks, walk errors, envelope counts and control numbers, HL/LX numbering) are recorded in
pyx12's own error tree, fed the calls pyx12 makes, and the walk goes on; so the report has pyx12's segment
numbers, element references, codes and messages. Inputs it does not model (non-5010, no map, ...) are
handed whole to pyx12 and pyx12's report returned (docs/VALIDATOR.md).
"""

from __future__ import annotations

from edi.fastvalidate.engine import FastOutcome, prove_valid, validate_fast

__all__ = ["FastOutcome", "prove_valid", "validate_fast"]
