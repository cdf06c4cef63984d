"""SLiver07 (MICCAI 2007 liver challenge): MetaImage pairs liver-orig0NN.mhd / liver-seg0NN.mhd.

Layout: `root` holds (at any depth, e.g. training/ and test/ subfolders) files named
`liver-orig001.mhd` + `.raw` and, for the training cases, `liver-seg001.mhd` + `.raw`
(binary masks). Case ids are the number as written in the file name ("001", "020"); test
cases without a `liver-seg` file load with no mask. All SLiver07 scans are contrast-enhanced
(portal-venous phase), recorded as meta["phase"] = "contrast".
"""

from __future__ import annotations

import re

from liverbench.data.datasets._files import CaseFiles, FileDataset, paired_files, require_dir
from liverbench.plugins.base import Param

_NAME = re.compile(r"^liver-(orig|seg)(\d+)\.(mhd|mha)$", re.IGNORECASE)


class Sliver07Dataset(FileDataset):
    """SLiver07 layout: liver-orig0NN.mhd (+ .raw) images and liver-seg0NN.mhd masks."""

    name = "sliver07"
    param_checks = {"root": Param(str, null=True)}  # null: require_dir says the folder is needed
    defaults = {"root": None}

    def __init__(self, **params) -> None:
        super().__init__(**params)
        folder = require_dir(self.params["root"], self.name)
        images, masks = paired_files(folder, self.name, _NAME, is_image=lambda m: m.group(1).lower() == "orig",
                                     case_id=lambda m: m.group(2))
        cases = {n: CaseFiles(images[n], masks.get(n), {"source": "sliver07", "phase": "contrast"}) for n in images}
        self._set_cases(folder, cases, folder)
