"""A plain folder of volumes: images/ beside labels/ (or masks/) with matching file names.

Layout: `root/images/<name>.nii.gz` and `root/labels/<name>.nii.gz` (or `root/masks/`). Any
volume format works (.nii, .nii.gz, .mhd, .mha), and the image and mask of a case may use
different ones. nnU-Net naming is understood too: image `<name>_0000.nii.gz` pairs with label
`<name>.nii.gz`. Case ids are the names. Images without a label load with no mask; a label
without an image is an error (usually a typo). Masks must be binary (0/1) unless `min_label`
is set: then they are label maps and the liver is label >= min_label (1 for LiTS-style maps).
"""

from __future__ import annotations

import re

from liverbench.data.datasets._files import CaseFiles, FileDataset, require_dir, volume_files, volume_stem
from liverbench.errors import InputError
from liverbench.plugins.base import Param

MASK_FOLDERS = ("labels", "masks")
_NNUNET_CHANNEL = re.compile(r"_0000$")


class NiftiFolderDataset(FileDataset):
    """nifti-folder layout: images/<name>.nii.gz with labels/<name>.nii.gz or masks/<name>.nii.gz."""

    name = "nifti-folder"
    param_checks = {"root": Param(str, null=True),  # null: require_dir says the folder is needed
                    "min_label": Param(int, ge=0, null=True)}
    defaults = {"root": None, "min_label": None}

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.min_label = self.params["min_label"]
        folder = require_dir(self.params["root"], self.name)
        image_dir = folder / "images"
        if not image_dir.is_dir():
            raise InputError(f"dataset 'nifti-folder': {folder} has no images/ folder ({self.layout_hint()})")
        mask_dirs = [folder / d for d in MASK_FOLDERS if (folder / d).is_dir()]
        if len(mask_dirs) > 1:
            raise InputError(f"dataset 'nifti-folder': {folder} has both labels/ and masks/; keep one")
        images = {}
        for path in volume_files(image_dir):
            case_id = _NNUNET_CHANNEL.sub("", volume_stem(path))
            if case_id in images:
                raise InputError(f"dataset 'nifti-folder': case {case_id!r} has two images: {images[case_id]} and {path}")
            images[case_id] = path
        masks = {}
        for path in volume_files(mask_dirs[0]) if mask_dirs else []:
            case_id = volume_stem(path)
            if case_id not in images:
                raise InputError(f"dataset 'nifti-folder': mask {path} has no image named {case_id}.* in {image_dir}")
            if case_id in masks:
                raise InputError(f"dataset 'nifti-folder': case {case_id!r} has two masks: {masks[case_id]} and {path}")
            masks[case_id] = path
        cases = {n: CaseFiles(images[n], masks.get(n), {"source": str(folder)}) for n in images}
        self._set_cases(folder, cases, image_dir)
