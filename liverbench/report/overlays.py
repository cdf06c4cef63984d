"""Gather what the overlay figures need: each entry's best, median and worst case, its image and
reference re-loaded from the run's dataset, and the mask the run saved for that row.

Images are not stored with a run (they may be large and licensed); the dataset named in the
resolved config is opened again through the registry. Anything missing becomes a note.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pandas as pd

from liverbench.report import figures
from liverbench.report.run_data import RunData
from liverbench.report.tables import SCORE


class OverlaysUnavailable(RuntimeError):
    """No overlay can be drawn: the run saved no predictions, or its dataset cannot be opened again
    here (not installed, files moved). One note for the report instead of one per method."""


class CaseCache:
    """Loads cases of the run's scored dataset on demand, keeping the last few in memory."""

    def __init__(self, config: dict, keep: int = 6) -> None:
        self.config = config.get("dataset") or {}
        self.keep = keep
        self._dataset = None
        self._cases: OrderedDict[str, object] = OrderedDict()

    def dataset(self):
        if self._dataset is None:
            from liverbench.plugins.registry import get_dataset

            name = self.config.get("name")
            if not name:
                raise LookupError("the run's config names no [dataset]")
            self._dataset = get_dataset(name)(**(self.config.get("params") or {}))
        return self._dataset

    def load(self, case_id: str):
        if case_id not in self._cases:
            self._cases[case_id] = self.dataset().load(case_id)
            while len(self._cases) > self.keep:
                self._cases.popitem(last=False)
        self._cases.move_to_end(case_id)
        return self._cases[case_id]


def _row_for(ok: pd.DataFrame, entry: str, case_id: str) -> pd.Series:
    """The row shown for a case evaluated under several folds/seeds: the first fold and seed."""
    rows = ok[(ok["entry"] == entry) & (ok["case_id"] == case_id)]
    return rows.sort_values(["fold", "seed", "row_key"], kind="mergesort").iloc[0]


def overlay_figures(run: RunData, values: pd.DataFrame, order: list[str], out_dir: Path,
                    slug) -> list[tuple[str, Path | str]]:
    """[(entry, png path or a note)] for each entry in `order`; `slug(entry)` names the file.

    Raises OverlaysUnavailable when nothing can be drawn at all (one note for all)."""
    from liverbench.data.io import read_volume

    if not any(Path(run.prediction_path(key)).exists() for key in run.ok["row_key"]):
        raise OverlaysUnavailable("the run saved no predictions (set execution.save_predictions = true)")
    cache = CaseCache(run.config)
    results: list[tuple[str, Path | str]] = []
    for entry in order:
        scores = values[values["entry"] == entry].set_index("case_id")[SCORE]
        picks = figures.best_median_worst(scores)
        if not picks:
            results.append((entry, "no successful cases"))
            continue
        panels, notes = [], []
        for role, case_id in picks:
            row = _row_for(run.ok, entry, case_id)
            path = run.prediction_path(row["row_key"])
            if not Path(path).exists():
                notes.append(f"{case_id}: no saved prediction (set execution.save_predictions = true)")
                continue
            try:
                case = cache.load(case_id)
            except Exception as error:  # noqa: BLE001 - any failure to re-open the data ends the overlays
                raise OverlaysUnavailable(
                    f"cannot re-load the dataset's images: {type(error).__name__}: {error}") from error
            segmentation = read_volume(path).array > 0
            if case.liver is None:
                notes.append(f"{case_id}: the dataset has no reference mask for this case")
                continue
            if segmentation.shape != case.image.shape:
                notes.append(f"{case_id}: saved mask grid {segmentation.shape} differs from the image's "
                             f"{case.image.shape}")
                continue
            views = figures.overlay_views(case.image.array, case.liver, segmentation, case.image.spacing)
            panels.append({"role": role, "case_id": case_id, "score": float(scores[case_id]), "views": views})
        if panels:
            png = figures.overlay_figure(panels, entry, out_dir / f"overlay_{slug(entry)}.png")
            results.append((entry, png))
        if notes:
            results.append((entry, "; ".join(dict.fromkeys(notes))))
    return results
