"""A fit's `ctx.progress(done, total, message)` on the driver's progress bar, across processes.

The fit runs wherever the backend puts it (a Ray worker, this process); it writes its latest
report to `progress.json` in its work directory (`<run>/fits/<fit_key>/work`, atomically, at
most once a second). The driver's `Watcher` thread reads the files of the fits in flight every
few seconds and hands them to `Progress.report`. A fit on a node that cannot write the run
folder works in its own temp dir: its reports stay there, and the bar shows the fits count only.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

FILE = "progress.json"


class FileReporter:
    """The `ctx.progress` a fit gets: `progress(done, total, message="")`, any number of calls."""

    def __init__(self, workdir: Path, every: float = 1.0, clock=time.monotonic) -> None:
        self.path, self.every, self.clock = Path(workdir) / FILE, every, clock
        self._last = -float("inf")

    def __call__(self, done, total, message: str = "") -> None:
        now = self.clock()
        if now - self._last < self.every and float(done) < float(total):
            return  # the driver polls every few seconds; more writes would only cost I/O
        self._last = now
        tmp = self.path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps({"done": float(done), "total": float(total), "message": str(message)}),
                           encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:  # a full or vanished work directory must not fail the fit
            pass


def read(workdir: Path) -> dict | None:
    """The latest report in `workdir`, or None (none yet, or the folder is gone: the fit is stored)."""
    try:
        report = json.loads((Path(workdir) / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(report, dict) and all(isinstance(report.get(k), (int, float)) for k in ("done", "total"))
    return report if ok and report["total"] > 0 else None


class Watcher:
    """Polls the work directories of the fits in flight and reports them to `progress`."""

    def __init__(self, progress, every: float = 2.0) -> None:
        self.progress, self.every = progress, every
        self._dirs: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, name: str, workdir: Path) -> None:
        with self._lock:
            self._dirs[name] = Path(workdir)

    def forget(self, name: str) -> None:
        with self._lock:
            self._dirs.pop(name, None)

    def poll(self) -> None:
        with self._lock:
            dirs = list(self._dirs.items())
        for name, workdir in dirs:
            report = read(workdir)
            if report is not None:
                self.progress.report(name, report["done"], report["total"], report.get("message", ""))

    def __enter__(self) -> "Watcher":
        def loop() -> None:
            while not self._stop.wait(self.every):
                self.poll()

        self._thread = threading.Thread(target=loop, name="liverbench-fit-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
