"""Content hashes: one canonical JSON text and one digest, for every key and fingerprint.

Fit and row keys, dataset fingerprints and checkpoint identities are all a short sha256 of a
JSON text. They live here once so that a key made in one room can be rebuilt in another.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, non-JSON values as str(): equal content gives equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def digest(text: str, n: int = 16) -> str:
    """The first `n` hex digits of the sha256 of `text`."""
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def content_hash(obj: Any, n: int = 16) -> str:
    """`digest` of `canonical_json(obj)`: the fit and row keys."""
    return digest(canonical_json(obj), n)
