"""Real CT cases stored one folder per case: <case>/image.nii.gz + <case>/liver.nii.gz.

This is the layout of `shared/data/real` (see its README): the case id is the folder name,
`liver.nii.gz` is a binary mask on the image's grid (optional per case). A `manifest.json`
beside the case folders, when present, supplies metadata per case: `mask_kind` ("manual" or
"model_output"), `licence`, `source` (the source repository). `phase` comes from the manifest
too and defaults to "contrast" (all four shipped cases are contrast-enhanced).

`root` defaults to the environment variable LIVERBENCH_REAL_DATA, else to
`../shared/data/real` next to the repository checkout.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from liverbench.data.datasets._files import CaseFiles, FileDataset, require_dir
from liverbench.errors import InputError
from liverbench.plugins.base import Param, ParamError

IMAGE_NAME, MASK_NAME = "image.nii.gz", "liver.nii.gz"
ENV_VAR = "LIVERBENCH_REAL_DATA"


def default_root() -> Path:
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    repo = Path(__file__).resolve().parents[3]  # liverbench/data/datasets/real.py -> the checkout
    return repo.parent / "shared" / "data" / "real"


class RealDataset(FileDataset):
    """real layout: <case>/image.nii.gz (+ <case>/liver.nii.gz), optional manifest.json."""

    name = "real"
    param_checks = {"root": Param(str, null=True)}
    defaults = {"root": None}  # kept as None, not resolved: the default folder moves with the checkout

    def __init__(self, **params) -> None:
        super().__init__(**params)
        root = self.params["root"]
        if not root and not default_root().is_dir():
            raise ParamError("root", f"dataset 'real': default folder {default_root()} not found; "
                                     f"pass params.root or set {ENV_VAR}")
        folder = require_dir(Path(root) if root else default_root(), self.name)
        manifest = {}
        manifest_path = folder / "manifest.json"
        if manifest_path.is_file():
            try:
                manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            except ValueError as error:
                raise InputError(f"dataset 'real': {manifest_path} is not valid JSON: {error}") from error
        cases = {}
        for case_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            image = case_dir / IMAGE_NAME
            if not image.is_file():
                continue
            mask = case_dir / MASK_NAME
            entry = manifest.get(case_dir.name, {}) if isinstance(manifest, dict) else {}
            meta = {"phase": entry.get("phase", "contrast")}
            for key, target in (("mask_kind", "mask_kind"), ("license", "licence"), ("licence", "licence"), ("source_repo", "source")):
                if entry.get(key):
                    meta[target] = entry[key]
            cases[case_dir.name] = CaseFiles(image, mask if mask.is_file() else None, meta)
        self._set_cases(folder, cases, folder)
