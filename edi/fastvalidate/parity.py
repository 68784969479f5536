"""Compare the fast engine with pyx12: corpus files and seeded mutations (used by the test and bench/).

A mutation changes one thing in a valid file — deletes, duplicates or swaps a segment, empties, lengthens
or garbles an element, changes a qualifier or a count — the way a buggy builder or a bad partner file would.
The invariant checked is the one the fast engine promises: it proves a file valid only when pyx12 accepts it.
``fast_rejected_valid`` (fast could not prove a file pyx12 accepts) costs only speed and is counted.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from edi.fastvalidate.engine import prove_valid


@dataclass
class ParityTally:
    files: int = 0
    both_valid: int = 0
    both_invalid: int = 0
    fast_rejected_valid: int = 0
    wrong_valid: list[str] = field(default_factory=list)


def pyx12_ok(data: bytes) -> bool:
    from edi.validate import validate_x12

    return validate_x12(data, engine="pyx12").ok


def compare(data: bytes, label: str, tally: ParityTally) -> None:
    tally.files += 1
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        fast = False
    else:
        fast = prove_valid(text).valid
    slow = pyx12_ok(data)
    if fast and not slow:
        tally.wrong_valid.append(label)
    elif fast and slow:
        tally.both_valid += 1
    elif slow:
        tally.fast_rejected_valid += 1
    else:
        tally.both_invalid += 1


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
