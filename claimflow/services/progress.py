"""A tiny progress display for long CLI work, drawn on stderr only when stderr is a terminal.

Never in logs, pipes or files (a redirected ``2>`` stays clean): when stderr is not a TTY every call is
a no-op. Shows counts and elapsed time only, never file contents or patient data.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


def enabled(stream: TextIO | None = None) -> bool:
    s = stream or sys.stderr
    try:
        return bool(s.isatty())
    except (AttributeError, ValueError):
        return False


class Bar:
    """``with Bar("validating", total=len(files)) as bar: ... bar.step()``; ``total=None``: elapsed time."""

    def __init__(self, label: str, total: int | None = None, *, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.on = enabled(self.stream)
        self._t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _draw(self) -> None:
        with self._lock:
            self._draw_locked()

    def _draw_locked(self) -> None:
        elapsed = time.monotonic() - self._t0
        if self.total:
            width = 30
            filled = int(width * min(self.done, self.total) / self.total)
            text = f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {elapsed:.0f}s"
        else:
            text = f"\r{self.label}… {elapsed:.0f}s"
        self.stream.write(text)
        self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self._draw()

    def echo(self, line: str) -> None:
        """Print a result line on stdout without mixing it into the bar (the bar is redrawn below it)."""
        if not self.on:
            print(line)
            return
        with self._lock:
            self.stream.write("\r\033[K")
            self.stream.flush()
            print(line, flush=True)
            self._draw_locked()

    def step(self, n: int = 1) -> None:
        self.done += n
        if self.on:
            self._draw()

    def __enter__(self) -> Bar:
        if self.on:
            self._draw()
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
        if self.on:
            self.stream.write("\r\033[K")  # erase the bar: what follows starts on a clean line
            self.stream.flush()


@contextmanager
def working(label: str) -> Iterator[Bar]:
    """Elapsed-time display for work without a count (seeding, writing 837s)."""
    with Bar(label) as bar:
        yield bar
