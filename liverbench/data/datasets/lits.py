"""LiTS (Liver Tumor Segmentation Challenge 2017): volume-N.nii / segmentation-N.nii.

Layout: `root` holds (at any depth, e.g. "Training Batch 1/" and "Training Batch 2/") files
`volume-N.nii` (or .nii.gz) and `segmentation-N.nii` with labels 0 background, 1 liver,
2 tumour. The liver reference is label >= 1 (tumours count as liver, as in SLiver07). Case
ids are N zero-padded to three digits ("000" ... "130"), so they sort like the numbers.
Volumes without a segmentation (the test set) load with no mask.
"""

from __future__ import annotations

import re

from liverbench.data.datasets._files import CaseFiles, FileDataset, paired_files, require_dir
from liverbench.plugins.base import Param

_NAME = re.compile(r"^(volume|segmentation)-(\d+)\.nii(\.gz)?$", re.IGNORECASE)


class LitsDataset(FileDataset):
    """LiTS layout: volume-N.nii(.gz) images and segmentation-N.nii(.gz) label maps."""

    name = "lits"
    min_label = 1
    param_checks = {"root": Param(str, null=True)}  # null: require_dir says the folder is needed
    defaults = {"root": None}

    def __init__(self, **params) -> None:
        super().__init__(**params)
        folder = require_dir(self.params["root"], self.name)
        images, masks = paired_files(folder, self.name, _NAME, is_image=lambda m: m.group(1).lower() == "volume",
                                     case_id=lambda m: f"{int(m.group(2)):03d}")
        cases = {n: CaseFiles(images[n], masks.get(n), {"source": "lits"}) for n in images}
        self._set_cases(folder, cases, folder)
