"""X12 core: delimiters, streaming reader, writer, envelopes, 837 builders, scrub rules, validation."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector for a hot loop that builds many small objects.

    The parsers create millions of short-lived tuples; the generational GC then rescans them again and
    again and throughput degrades worse than linearly with file size. Reference counting still frees
    everything; the collector is restored (and run once) on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
