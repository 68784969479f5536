"""The payer simulator's memory between uploads: one small JSON file under the sandbox root.

Separate uploads on separate nights must behave like one payer: the deductible a patient met on Monday
is met on Tuesday, a claim sent twice is a duplicate, a payment promised today is paid at the next
payment run and a claim paid in one run can be reversed and corrected in a later one. All of that lives
here, together with the sandbox's own control-number counters (ISA13, GS06, payer claim numbers, EFT
trace numbers), so the same seed and the same sequence of files always give the same responses.

The file holds no raw patient identity for accumulators: patient keys are salted SHA-256 digests. The
pending and paid claim payments it keeps (to write an 835 later, or to reverse it) do carry what an 835
carries (patient name, member ID), so the file is written with mode 0600 next to the uploads it came
from, which are PHI already.

Concurrent uploads are serialised with an advisory ``fcntl`` lock on ``<state>.lock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from edi.control_numbers import MAX_CONTROL_NUMBER

STATE_VERSION = 1


class StateError(Exception):
    """The state file cannot be used (wrong seed, unknown version, not JSON)."""


def _empty(seed: int) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "seed": seed,
        "counters": {},
        "accumulators": {},  # "<digest>|<payer>|<year>" -> deductible met, "12.34"
        "claims": {},  # payer claim control number (ICN) -> claim record (see engine)
        "active": {},  # "<payer>|<billing npi>|<CLM01>" -> ICN of the claim that counts (duplicates, voids)
        "pending": [],  # items waiting for the next payment run
        "scheduled": [],  # reprocessing / recoupments promised for a later run
        "forward_balances": {},  # "<route key>" -> {"amount", "ref"} still to recover (PLB FB)
        "runs": [],  # one entry per payment run: {"run": n, "date": iso}
    }


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def _dump(value: Any, fh: IO[str], depth: int = 2) -> None:
    """``json.dump(value, fh, sort_keys=True, separators=(",", ":"))``, the same bytes, much faster.

    ``json.dump`` runs the pure-Python encoder (the C one is only used for one-shot ``dumps``); on a
    night's state (a record per claim, gigabytes at a million claims) that is most of the save. One
    ``dumps`` of everything would hold the whole text in memory at once, so the outer dicts (the state,
    its ``claims``) are written key by key and only their values go through the C encoder.
    """
    if depth <= 0 or not isinstance(value, dict) or not value or not all(isinstance(k, str) for k in value):
        fh.write(_ENCODER.encode(value))
        return
    sep = "{"
    for key, item in sorted(value.items()):
        fh.write(sep)
        fh.write(_ENCODER.encode(key))
        fh.write(":")
        _dump(item, fh, depth - 1)
        sep = ","
    fh.write("}")


class SandboxState:
    """The parsed state; mutate through the helpers, then :meth:`save`."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @classmethod
    def load(cls, path: Path, seed: int) -> SandboxState:
        if not path.exists():
            return cls(path, _empty(seed))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StateError(f"{path.name}: not a readable sandbox state file") from exc
        if data.get("version") != STATE_VERSION:
            raise StateError(f"{path.name}: unsupported state version {data.get('version')!r}")
        if data.get("seed") != seed:
            raise StateError(
                f"{path.name}: created with seed {data.get('seed')}, not {seed}; "
                "use the same seed or a new state file"
            )
        base = _empty(seed)
        base.update(data)
        return cls(path, base)

    def save(self) -> None:
        """Write atomically (temp file in the same directory, fsync, rename)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".state-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                _dump(self.data, fh)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # --- counters -------------------------------------------------------------------------
    def next(self, counter: str, start: int = 1) -> int:
        counters: dict[str, int] = self.data["counters"]
        value = counters.get(counter, start - 1) + 1
        counters[counter] = value
        return value

    def peek(self, counter: str) -> int:
        return int(self.data["counters"].get(counter, 0))

    # --- typed views ------------------------------------------------------------------------
    @property
    def accumulators(self) -> dict[str, str]:
        return self.data["accumulators"]

    @property
    def claims(self) -> dict[str, dict[str, Any]]:
        return self.data["claims"]

    @property
    def active(self) -> dict[str, str]:
        return self.data["active"]

    @property
    def pending(self) -> list[dict[str, Any]]:
        return self.data["pending"]

    @property
    def scheduled(self) -> list[dict[str, Any]]:
        return self.data["scheduled"]

    @property
    def forward_balances(self) -> dict[str, dict[str, str]]:
        return self.data["forward_balances"]

    @property
    def runs(self) -> list[dict[str, Any]]:
        return self.data["runs"]


class StateControlNumbers:
    """The sandbox's ISA13/GS06/ST02 counters, kept in the state file.

    Satisfies :class:`edi.control_numbers.ControlNumberSource`; numbers wrap from 999,999,999 to 1.
    """

    __slots__ = ("state",)

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def _next(self, name: str) -> int:
        value = self.state.next(name)
        if value > MAX_CONTROL_NUMBER:
            self.state.data["counters"][name] = value = 1
        return value

    def next_interchange(self) -> int:
        return self._next("isa")

    def next_group(self) -> int:
        return self._next("gs")

    def next_transaction(self) -> int:
        return self._next("st")


@contextlib.contextmanager
def locked_state(path: Path, seed: int) -> Iterator[SandboxState]:
    """Load under an exclusive lock; save on normal exit (not when the body raised)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            state = SandboxState.load(path, seed)
            yield state
            state.save()
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
