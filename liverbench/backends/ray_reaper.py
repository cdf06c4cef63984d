"""A watchdog that ends the Ray processes a liverbench driver started, when that driver ends.

Ray's gcs_server and raylet die with the driver that started them, but some helpers (the
dashboard and runtime-env agents, idle workers) outlive a driver killed with SIGKILL by a
minute or more. When the Ray executor starts its own local instance it also starts this
watchdog: a small process in its own session that notes the driver's descendants twice a
second and, once the driver is gone (its pipe to the watchdog reads end-of-file, however the
driver ended), terminates those still alive (SIGTERM, then SIGKILL after a grace period).
Processes that existed before Ray started are left alone, and a pid is only signalled while
it still belongs to the process that was noted (same start time).

Linux only (it reads /proc); elsewhere nothing is started. What it cannot cover: a Ray
process started in the last half second before the driver died, and everything when the
watchdog itself is killed together with the driver (see the README).
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

POLL_S = 0.5
GRACE_S = 3.0


def process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time in clock ticks), from /proc."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            text = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()  # the command name may hold spaces
        table[int(name)] = (int(fields[1]), fields[19])  # stat fields 4 (ppid) and 22 (starttime)
    return table


def descendants(root: int, table: dict[int, tuple[int, str]]) -> dict[int, str]:
    """pid -> start time of every process below `root`."""
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _) in table.items():
        children[ppid].append(pid)
    out, stack = {}, [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in out:
                out[child] = table[child][1]
                stack.append(child)
    return out


def _alive(noted: dict[int, str]) -> list[int]:
    table = process_table()
    return [pid for pid, start in noted.items() if pid in table and table[pid][1] == start]


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def watch(driver: int, exclude: set[int]) -> None:
    """The watchdog's main loop: note the driver's descendants until stdin reaches EOF."""
    me = os.getpid()
    noted: dict[int, str] = {}
    selector = selectors.DefaultSelector()
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ)
    while True:
        noted.update({p: s for p, s in descendants(driver, process_table()).items() if p != me and p not in exclude})
        if selector.select(timeout=POLL_S) and not os.read(sys.stdin.fileno(), 4096):
            break  # the driver closed the pipe or died
    left = _alive(noted)
    _signal(left, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = _alive(noted)
    _signal(left, signal.SIGKILL)


def start() -> subprocess.Popen | None:
    """Start the watchdog for this process (call it just before `ray.init`)."""
    if not sys.platform.startswith("linux") or not Path("/proc/self/stat").exists():
        return None
    before = descendants(os.getpid(), process_table())
    return subprocess.Popen([sys.executable, "-m", "liverbench.backends.ray_reaper", str(os.getpid()), *map(str, before)],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # Ctrl-C of the driver's terminal does not reach it


def stop(proc: subprocess.Popen | None, timeout: float = GRACE_S + 5.0) -> None:
    """After `ray.shutdown()`: let the watchdog end what is left, and wait for it."""
    if proc is None:
        return
    try:
        proc.stdin.close()
        proc.wait(timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch(int(sys.argv[1]), {int(p) for p in sys.argv[2:]})
