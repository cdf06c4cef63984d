"""LiTS (Liver Tumor Segmentation Challenge 2017): volume-N.nii / segmentation-N.nii.

Layout: `root` holds (at any depth, e.g. "Training Batch 1/" and "Training Batch 2/") files
`volume-N.nii` (or .nii.gz) and `segmentation-N.nii` with labels 0 background, 1 liver,
2 tumour. The liver reference is label >= 1 (tumours count as liver, as in SLiver07). Case
ids are N zero-padded to three digits ("000" ... "130"), so they sort like the numbers.
Volumes without a segmentation (the test set) load with no mask.
"""

from __future__ import annotations

import re

from liverbench.datasets._files import CaseFiles, FileDataset, require_dir, volume_files
from liverbench.errors import InputError

_NAME = re.compile(r"^(volume|segmentation)-(\d+)\.nii(\.gz)?$", re.IGNORECASE)


class LitsDataset(FileDataset):
    """LiTS layout: volume-N.nii(.gz) images and segmentation-N.nii(.gz) label maps."""

    name = "lits"
    min_label = 1

    def __init__(self, root: str) -> None:
        super().__init__(root=str(root))
        folder = require_dir(root, self.name)
        images, masks = {}, {}
        for path in volume_files(folder, recursive=True):
            match = _NAME.match(path.name)
            if not match:
                continue
            table = images if match.group(1).lower() == "volume" else masks
            case_id = f"{int(match.group(2)):03d}"
            if case_id in table:
                raise InputError(f"dataset 'lits': case {case_id} appears twice: {table[case_id]} and {path}")
            table[case_id] = path
        orphans = sorted(set(masks) - set(images))
        if orphans:
            raise InputError(f"dataset 'lits': segmentations without a volume in {folder}: " + ", ".join(str(masks[n]) for n in orphans))
        cases = {n: CaseFiles(images[n], masks.get(n), {"source": "lits"}) for n in images}
        self._set_cases(folder, cases, folder)
