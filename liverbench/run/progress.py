"""Progress on stderr: fits and cases done / total, failures, what a long fit reports, ETA.

On a terminal one line is redrawn in place; otherwise (CI logs, files) plain lines are written,
at most one every `interval` seconds plus the last. `quiet=True` prints nothing.

The ETA counts both kinds of work: the models still to train (from the pace of the fits done
so far, or, before any is done, from what the running fits report through `ctx.progress`) and
the rows still to compute (from the pace of rows since the first one).
"""

from __future__ import annotations

import sys
import threading
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
        self.fits_total = 0
        self.fits_done = 0
        self._fits_started: float | None = None
        self._activity: dict[str, tuple[float, float, float, str]] = {}  # fit -> (since, done, total, message)
        self._last = -float("inf")
        self._first: tuple[float, int] | None = None  # (time, done) just after the first update
        self._lock = threading.Lock()  # fit reports arrive from a watcher thread

    def add_fits(self, n: int) -> None:
        """`n` models are to be trained before (some of) the rows can run."""
        with self._lock:
            self.fits_total += n
            if n and self._fits_started is None:
                self._fits_started = self.clock()

    def fit_done(self, name: str = "") -> None:
        with self._lock:
            self.fits_done += 1
            self._activity.pop(name, None)
        self._maybe_emit(force=True)

    def report(self, name: str, done: float, total: float, message: str = "") -> None:
        """What a running fit says through `ctx.progress(done, total, message)`."""
        with self._lock:
            # timed from when the fits were submitted: a fit's first report comes after its start
            started = self._fits_started if self._fits_started is not None else self.clock()
            self._activity[name] = (started, float(done), float(total), str(message))
        self._maybe_emit()

    def _fits_eta(self) -> float:
        left = self.fits_total - self.fits_done
        if left <= 0:
            return 0.0
        if self.fits_done and self._fits_started is not None:
            # fits run side by side: the wall time per finished fit already includes that
            return (self.clock() - self._fits_started) / self.fits_done * left
        remaining = [(self.clock() - started) * (total - done) / done
                     for started, done, total, _ in self._activity.values() if 0 < done <= total]
        return max(remaining) if remaining else float("nan")

    def _rows_eta(self) -> float:
        if self.done >= self.total:
            return 0.0
        if self._first is None or self.done <= self._first[1]:
            return float("nan")
        t0, n0 = self._first
        return (self.clock() - t0) / (self.done - n0) * (self.total - self.done)

    def eta(self) -> float:
        """Fits still to train plus rows still to compute; unknown (NaN) until each has a pace.
        Rows before any fit finishes wait for the fits: the time before the first row says
        nothing about the pace of rows, so that part is unknown until a second row."""
        return self._fits_eta() + self._rows_eta()

    def _eta_text(self) -> str:
        fits, rows = self._fits_eta(), self._rows_eta()
        if fits == fits and rows != rows and self.fits_total > self.fits_done:
            return f"> {format_seconds(fits)}"  # at least the fits; the rows' pace is not known yet
        return format_seconds(fits + rows)

    def line(self) -> str:
        pct = 100.0 * self.done / self.total if self.total else 100.0
        width = 24
        filled = int(width * self.done / self.total) if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        fail = f", {self.failed} failed" if self.failed else ""
        fits = f"fits {self.fits_done}/{self.fits_total}, " if self.fits_total else ""
        activity = ""
        if self._activity:
            name, (_, done, total, message) = next(reversed(self._activity.items()))
            activity = f" | {name}: {done:g}/{total:g}" + (f" {message}" if message else "")
        return (f"[{bar}] {fits}{self.done}/{self.total} {self.label} ({pct:3.0f}%{fail}) "
                f"elapsed {format_seconds(self.clock() - self.start)} ETA {self._eta_text()}{activity}")

    def update(self, n: int = 1, failed: int = 0) -> None:
        with self._lock:
            self.done += n
            self.failed += failed
            if self._first is None:
                self._first = (self.clock(), self.done)
        self._maybe_emit(force=self.done >= self.total)

    def _maybe_emit(self, force: bool = False) -> None:
        if self.quiet:
            return
        with self._lock:
            now = self.clock()
            if not force and now - self._last < self.interval:
                return
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
        with self._lock:
            if self.tty:
                self.stream.write("\r\x1b[K")
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        if not self.quiet and self.tty:
            self.stream.write("\n")
            self.stream.flush()
