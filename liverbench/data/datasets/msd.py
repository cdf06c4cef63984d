"""Medical Segmentation Decathlon, Task03_Liver: dataset.json with imagesTr/ and labelsTr/.

Layout: `root` is the Task03_Liver folder; its `dataset.json` lists "training" entries
{"image": "./imagesTr/liver_0.nii.gz", "label": "./labelsTr/liver_0.nii.gz"} and "test"
entries (image paths only). Labels: 0 background, 1 liver, 2 tumour; the liver reference is
label >= 1. Case ids are the file stems ("liver_0"). `subset` picks "training" (default,
with masks) or "test" (images only).
"""

from __future__ import annotations

import json

from liverbench.data.datasets._files import CaseFiles, FileDataset, require_dir, volume_stem
from liverbench.errors import InputError
from liverbench.plugins.base import Param

SUBSETS = ("training", "test")


class MsdDataset(FileDataset):
    """MSD layout: dataset.json listing imagesTr/ and labelsTr/ files."""

    name = "msd"
    min_label = 1
    param_checks = {"root": Param(str, null=True),  # null: require_dir says the folder is needed
                    "subset": Param(str, choices=SUBSETS)}
    defaults = {"root": None, "subset": "training"}

    def __init__(self, **params) -> None:
        super().__init__(**params)
        folder = require_dir(self.params["root"], self.name)
        subset = self.params["subset"]
        index = folder / "dataset.json"
        if not index.is_file():
            raise InputError(f"dataset 'msd': {index} not found (expected the Task03_Liver folder)")
        try:
            entries = json.loads(index.read_text(encoding="utf-8")).get(subset, [])
        except (ValueError, AttributeError) as error:
            raise InputError(f"dataset 'msd': {index} is not a valid dataset.json: {error}") from error
        cases = {}
        for entry in entries:
            image_name = entry if isinstance(entry, str) else entry.get("image") if isinstance(entry, dict) else None
            if not image_name:
                raise InputError(f"dataset 'msd': {index}: {subset} entry {entry!r} has no image path")
            image = folder / image_name
            mask = folder / entry["label"] if isinstance(entry, dict) and entry.get("label") else None
            for path in (image, mask):
                if path is not None and not path.is_file():
                    raise InputError(f"dataset 'msd': {path} listed in {index} not found")
            case_id = volume_stem(image) or image.name
            if case_id in cases:
                raise InputError(f"dataset 'msd': {index} lists case {case_id!r} twice")
            cases[case_id] = CaseFiles(image, mask, {"source": "msd"})
        self._set_cases(folder, cases, index)
