"""Cases listed in a CSV file: columns id, image, mask (mask optional).

Layout: a CSV with a header row holding at least `id` and `image`; `mask` may be absent or
empty for cases without a reference. Paths are relative to the CSV's folder unless absolute;
an image may also be a DICOM series directory. Any other columns (phase, source, ...) go into
the case's `meta`. Masks must be binary unless `min_label` is set (see nifti-folder).
"""

from __future__ import annotations

import csv
from pathlib import Path

from liverbench.data.datasets._files import CaseFiles, FileDataset
from liverbench.errors import InputError
from liverbench.plugins.base import Param, ParamError

REQUIRED_COLUMNS = ("id", "image")


class ManifestDataset(FileDataset):
    """manifest layout: a CSV with columns id,image[,mask] and paths relative to the CSV."""

    name = "manifest"
    param_checks = {"path": Param(str, null=True), "min_label": Param(int, ge=0, null=True)}
    defaults = {"path": None, "min_label": None}

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.min_label = self.params["min_label"]
        if not self.params["path"]:
            raise ParamError("path", "dataset 'manifest' needs the `path` of its CSV file")
        csv_path = Path(self.params["path"]).expanduser()
        if not csv_path.is_file():
            raise ParamError("path", f"CSV file {str(csv_path)!r} not found (dataset 'manifest')")
        base = csv_path.parent
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise InputError(f"dataset 'manifest': {csv_path} lacks column(s) {missing}; header is {columns}")
            cases = {}
            for line, row in enumerate(reader, start=2):
                row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
                case_id = row.pop("id")
                image, mask = row.pop("image"), row.pop("mask", "")
                if not case_id or not image:
                    raise InputError(f"dataset 'manifest': {csv_path} line {line}: id and image must not be empty")
                if case_id in cases:
                    raise InputError(f"dataset 'manifest': {csv_path} line {line}: duplicate id {case_id!r}")
                image_path = base / image
                mask_path = base / mask if mask else None
                for p in (image_path, mask_path):
                    if p is not None and not p.exists():
                        raise InputError(f"dataset 'manifest': {csv_path} line {line}: {p} not found")
                meta = {k: v for k, v in row.items() if k and v}
                cases[case_id] = CaseFiles(image_path, mask_path, meta)
        self._set_cases(base, cases, csv_path)
