"""The embedded default dataset: synthetic abdominal CT phantoms, generated on demand.

Case `syn-007` of `SyntheticDataset(seed=s)` is `make_phantom(case_seed(s, 7), preset)`, so any
case can be loaded alone, in any process, and always comes out identical. Nothing is written to
disk.
"""

from __future__ import annotations

import difflib
import json

import numpy as np

from liverbench.data.phantom import GENERATOR_VERSION, PRESETS, make_phantom
from liverbench.data.volume import Case
from liverbench.errors import InputError
from liverbench.hashing import digest
from liverbench.plugins.base import Dataset, Param

ID_PREFIX = "syn-"
# Far more than any benchmark needs; a typo (1e10) would otherwise list ids into gigabytes.
MAX_CASES = 100_000


def case_seed(seed: int, index: int) -> int:
    """A per-case seed derived from (dataset seed, case index); independent streams per case."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, dtype=np.uint32)[0])


class SyntheticDataset(Dataset):
    """synthetic: n_cases phantoms (preset "tiny" | "small" | "realistic") from one seed."""

    name = "synthetic"
    param_checks = {"n_cases": Param(int, ge=1, le=MAX_CASES), "preset": Param(str, choices=tuple(PRESETS)), "seed": Param(int, ge=0)}
    defaults = {"n_cases": 12, "preset": "small", "seed": 0}

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.n_cases, self.preset, self.seed = self.params["n_cases"], self.params["preset"], self.params["seed"]
        width = max(3, len(str(self.n_cases - 1)))
        self._ids = [f"{ID_PREFIX}{i:0{width}d}" for i in range(self.n_cases)]

    def case_ids(self) -> list[str]:
        return list(self._ids)

    def _index(self, case_id: str) -> int:
        try:
            return self._ids.index(case_id)
        except ValueError:
            close = difflib.get_close_matches(str(case_id), self._ids, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise InputError(
                f"dataset 'synthetic' (n_cases={self.n_cases}, seed={self.seed}): no case {case_id!r}{hint}"
            ) from None

    def load(self, case_id: str) -> Case:
        index = self._index(case_id)
        case = make_phantom(case_seed(self.seed, index), self.preset, case_id=case_id)
        case.meta["dataset"] = self.name
        return case

    def fingerprint(self) -> str:
        payload = {"dataset": self.name, "params": self.params, "generator_version": GENERATOR_VERSION}
        # json.dumps' spaced form, not canonical_json: the text must stay byte-identical so the
        # fingerprints already in stored keys do not change
        return digest(json.dumps(payload, sort_keys=True))
