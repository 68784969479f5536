"""Compare the fast engine with pyx12: corpus files and seeded mutations (used by the test and bench/).

A mutation changes one thing in a valid file — deletes, duplicates or swaps a segment, empties, lengthens
or garbles an element, changes a qualifier or a count — the way a buggy builder or a bad partner file would.
The invariants checked are the ones the fast engine promises: it calls a file valid only when pyx12 accepts
it, it reports errors only on files pyx12 rejects, and then its (segment number, segment ID, element
reference, error code) set is pyx12's. Files it defers to pyx12 cost only speed and are counted, with the
reason (``defer_reasons``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from edi.fastvalidate.engine import FastOutcome, prove_valid


@dataclass
class ParityTally:
    """Counts per outcome; the lists name files (labels carry no values) where fast and pyx12 differ."""

    files: int = 0
    both_valid: int = 0
    both_invalid: int = 0
    fast_rejected_valid: int = 0
    invalid_reported_fast: int = 0
    invalid_deferred: int = 0
    wrong_valid: list[str] = field(default_factory=list)
    wrong_verdict: list[str] = field(default_factory=list)
    location_mismatch: list[str] = field(default_factory=list)
    defer_reasons: dict[str, int] = field(default_factory=dict)


def error_keys(errors: Iterable[Any]) -> set[tuple[int | None, str | None, str | None, str]]:
    """The locations compared with pyx12: (segment number, segment ID, element reference, error code)."""
    return {(e.segment_no, e.segment_id, e.element, e.code) for e in errors}


def pyx12_ok(data: bytes) -> bool:
    from edi.validate import validate_x12

    return validate_x12(data, engine="pyx12").ok


def compare(data: bytes, label: str, tally: ParityTally) -> None:
    """Run both engines on ``data`` and file the outcome in ``tally``."""
    from edi.validate import validate_x12

    tally.files += 1
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        fast = FastOutcome(False, 0, "non-ASCII", deferred=True)
    else:
        fast = prove_valid(text)
    slow = validate_x12(data, engine="pyx12")
    if fast.valid and not slow.ok:
        tally.wrong_valid.append(label)
    elif fast.valid:
        tally.both_valid += 1
    elif fast.deferred:
        if slow.ok:
            tally.fast_rejected_valid += 1
        else:
            tally.both_invalid += 1
            tally.invalid_deferred += 1
        reason = fast.reason or "?"
        tally.defer_reasons[reason] = tally.defer_reasons.get(reason, 0) + 1
    elif slow.ok:
        tally.wrong_verdict.append(label)
    else:
        tally.both_invalid += 1
        tally.invalid_reported_fast += 1
        if error_keys(fast.errors) != error_keys(slow.errors):
            tally.location_mismatch.append(label)


_GARBAGE = (
    "",
    "X",
    "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
    "20251399",
    "1.5.5",
    "-",
    "A B ",
    "99",
    "0",
    "1",
    "AB:CD",
    "NOPE",
)


def mutations(data: bytes, seed: int, count: int) -> Iterator[tuple[str, bytes]]:
    """``count`` single mutations of one interchange, deterministic for ``seed`` (labels name no values)."""
    text = data.decode("ascii")
    term, ele, sub = text[105], text[3], text[104]
    segs = text.split(term)
    tail = segs[-1]
    segs = segs[:-1]
    rng = random.Random(seed)
    for n in range(count):
        s = list(segs)
        i = rng.randrange(1, len(s))
        kind = rng.choice(
            ("delete", "duplicate", "swap", "element", "element", "element", "drop_tail", "add")
        )
        if kind == "delete":
            del s[i]
        elif kind == "duplicate":
            s.insert(i, s[i])
        elif kind == "swap" and i + 1 < len(s):
            s[i], s[i + 1] = s[i + 1], s[i]
        elif kind == "drop_tail":
            parts = s[i].split(ele)
            if len(parts) > 2:
                s[i] = ele.join(parts[:-1])
        elif kind == "add":
            s[i] = s[i] + ele + rng.choice(_GARBAGE[1:])
        else:
            parts = s[i].split(ele)
            if len(parts) > 1:
                j = rng.randrange(1, len(parts))
                choice = rng.random()
                if choice < 0.4:
                    parts[j] = rng.choice(_GARBAGE)
                elif choice < 0.6 and parts[j]:
                    parts[j] = parts[j][:-1]
                elif choice < 0.8:
                    parts[j] = parts[j] + rng.choice("0A ")
                else:
                    parts[j] = parts[j].replace(sub, ele if rng.random() < 0.5 else "")
                s[i] = ele.join(parts)
        yield f"mutation {n} ({kind}, segment {i + 1})", (term.join(s) + term + tail).encode("ascii")
