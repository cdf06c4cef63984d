"""Progress on stderr: cases done / total, failures, ETA.

On a terminal one line is redrawn in place; otherwise (CI logs, files) plain lines are written,
at most one every `interval` seconds plus the last. `quiet=True` prints nothing.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_seconds(s: float) -> str:
    if s != s or s == float("inf"):  # NaN / unknown
        return "?"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class Progress:
    def __init__(self, total: int, label: str = "rows", *, quiet: bool = False, stream: TextIO | None = None,
                 interval: float = 5.0, clock=time.monotonic) -> None:
        self.total, self.label, self.quiet = total, label, quiet
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if not self.tty else 0.1
        self.clock = clock
        self.start = clock()
        self.done = 0
        self.failed = 0
        self._last = -float("inf")
        self._first: tuple[float, int] | None = None  # (time, done) just after the first update

    def eta(self) -> float:
        """Remaining x the pace since the first update: the time before it (training, say) says
        nothing about the pace of rows, so the ETA is unknown until a second update."""
        if self._first is None or self.done <= self._first[1]:
            return float("nan")
        t0, n0 = self._first
        return (self.clock() - t0) / (self.done - n0) * (self.total - self.done)

    def line(self) -> str:
        pct = 100.0 * self.done / self.total if self.total else 100.0
        width = 24
        filled = int(width * self.done / self.total) if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        fail = f", {self.failed} failed" if self.failed else ""
        return (f"[{bar}] {self.done}/{self.total} {self.label} ({pct:3.0f}%{fail}) "
                f"elapsed {format_seconds(self.clock() - self.start)} ETA {format_seconds(self.eta())}")

    def update(self, n: int = 1, failed: int = 0) -> None:
        self.done += n
        self.failed += failed
        now = self.clock()
        if self._first is None:
            self._first = (now, self.done)
        if self.quiet:
            return
        if now - self._last >= self.interval or self.done >= self.total:
            self._last = now
            self._emit()

    def _emit(self) -> None:
        if self.tty:
            self.stream.write("\r" + self.line() + "\x1b[K")
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line of its own (a fit finished, a model failed), not overwritten by the bar."""
        if self.quiet:
            return
        if self.tty:
            self.stream.write("\r\x1b[K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if not self.quiet and self.tty:
            self.stream.write("\n")
            self.stream.flush()
