"""SLiver07 (MICCAI 2007 liver challenge): MetaImage pairs liver-orig0NN.mhd / liver-seg0NN.mhd.

Layout: `root` holds (at any depth, e.g. training/ and test/ subfolders) files named
`liver-orig001.mhd` + `.raw` and, for the training cases, `liver-seg001.mhd` + `.raw`
(binary masks). Case ids are the number as written in the file name ("001", "020"); test
cases without a `liver-seg` file load with no mask. All SLiver07 scans are contrast-enhanced
(portal-venous phase), recorded as meta["phase"] = "contrast".
"""

from __future__ import annotations

import re

from liverbench.datasets._files import CaseFiles, FileDataset, require_dir, volume_files
from liverbench.errors import InputError

_NAME = re.compile(r"^liver-(orig|seg)(\d+)\.(mhd|mha)$", re.IGNORECASE)


class Sliver07Dataset(FileDataset):
    """SLiver07 layout: liver-orig0NN.mhd (+ .raw) images and liver-seg0NN.mhd masks."""

    name = "sliver07"

    def __init__(self, root: str) -> None:
        super().__init__(root=str(root))
        folder = require_dir(root, self.name)
        images, masks = {}, {}
        for path in volume_files(folder, recursive=True):
            match = _NAME.match(path.name)
            if not match:
                continue
            role, number = match.group(1).lower(), match.group(2)
            table = images if role == "orig" else masks
            if number in table:
                raise InputError(f"dataset 'sliver07': case {number} appears twice: {table[number]} and {path}")
            table[number] = path
        orphans = sorted(set(masks) - set(images))
        if orphans:
            raise InputError(f"dataset 'sliver07': masks without an image in {folder}: " + ", ".join(str(masks[n]) for n in orphans))
        cases = {n: CaseFiles(images[n], masks.get(n), {"source": "sliver07", "phase": "contrast"}) for n in images}
        self._set_cases(folder, cases, folder)
