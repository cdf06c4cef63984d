"""One writer per run directory: an exclusive lock on `runs/<name>/.lock`, held while a run works.

Two `liverbench run` on one folder would both compute everything and write every row twice.
The lock is an `fcntl.flock` on the file, so the kernel drops it when its holder dies however
it dies (SIGKILL included): a lock left by a killed run is stale by construction and the next
run takes it over. The file records the holder's pid, host and start time, for the message a
second run gets (or, with `wait=True`, while it waits).

flock is per host on most network file systems; two hosts sharing one run folder over NFS
should not rely on it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from liverbench.errors import LiverbenchError

LOCK_NAME = ".lock"


class RunLockedError(LiverbenchError):
    """Another live process holds the run directory."""


def _holder(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def _describe(info: dict[str, Any]) -> str:
    if not info:
        return "another process"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    return f"pid {info.get('pid', '?')} on host {info.get('host', '?')} (since {started})"


class RunLock:
    """`with RunLock(run_dir, wait=False):` -- refuse (RunLockedError) or wait while another
    process holds `run_dir`."""

    def __init__(self, run_dir: str | Path, *, wait: bool = False, out: TextIO | None = None) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self.wait = wait
        self.out = out or sys.stderr
        self._fd: int | None = None
        self.took_over: dict[str, Any] | None = None  # the dead holder whose lock was taken over

    def acquire(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(self.path)
                if not self.wait:
                    raise RunLockedError(
                        f"{self.path.parent}: another run is using this folder: {_describe(holder)}; "
                        "wait for it (liverbench run --wait) or stop it") from None
                self.out.write(f"waiting for {_describe(holder)} to finish with {self.path.parent} ...\n")
                self.out.flush()
                fcntl.flock(fd, fcntl.LOCK_EX)
            previous = _holder(self.path)
            if previous and not previous.get("released"):
                # The kernel freed it, yet the holder never said it was done: it was killed.
                self.took_over = previous
            me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(me).encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            info = _holder(self.path)
            info["released"] = time.time()
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, json.dumps(info).encode(), 0)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
