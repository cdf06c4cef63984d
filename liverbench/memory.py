"""The peak resident memory of this process: one definition for rows, fits and `liverbench profile`."""

from __future__ import annotations

import resource
import sys


def peak_rss_mb() -> float:
    """The peak resident set size of this process so far, in MiB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (2**20 if sys.platform == "darwin" else 2**10)  # ru_maxrss is in KiB on Linux, bytes on macOS
