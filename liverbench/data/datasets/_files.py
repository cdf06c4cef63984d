"""What the file-based dataset adapters share: finding files, natural sort, fingerprints, and
a base class that turns a table of case files into `case_ids()` / `load()` / `fingerprint()`.

Adapters scan their folder when constructed (a directory listing, cheap), so a wrong layout
fails at once with an error naming the folder; volumes are read only in `load()`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from liverbench.data.io import VOLUME_SUFFIXES, read_case
from liverbench.data.volume import Case
from liverbench.errors import InputError
from liverbench.plugins.base import Dataset, ParamError


@dataclass(frozen=True)
class CaseFiles:
    image: Path
    mask: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def natural_key(text: str) -> list:
    """Sort key that orders "case2" before "case10"."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def natural_sorted(items: Iterable[str]) -> list[str]:
    return sorted(items, key=natural_key)


def require_dir(root: str | os.PathLike | None, dataset: str) -> Path:
    """The dataset's root folder. A missing one is a config error naming `root` (the runner
    prefixes `dataset.params.`), not bad input data."""
    if root is None or str(root) == "":
        raise ParamError("root", f"dataset {dataset!r} needs a `root` folder")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise ParamError("root", f"folder {str(path)!r} not found" +
                         (" (it is a file)" if path.exists() else "") + f" (dataset {dataset!r})")
    return path


def volume_stem(path: Path) -> str | None:
    """File name without its volume suffix ("liver_3.nii.gz" -> "liver_3"); None if not a volume."""
    name = path.name
    for suffix in VOLUME_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return None


def volume_files(folder: Path, recursive: bool = False) -> list[Path]:
    """Volume files (.nii, .nii.gz, .mhd, .mha) in `folder`, skipping hidden files (macOS "._x")."""
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    out = []
    for p in candidates:
        if p.name.startswith(".") or volume_stem(p) is None:
            continue
        if p.is_dir():  # skipping it would surface later as a misleading "mask has no image"
            raise InputError(f"{p}: is a folder, but its name says volume file")
        if p.is_file():
            out.append(p)
    return sorted(out)


def paired_files(folder: Path, dataset: str, pattern: "re.Pattern[str]", is_image, case_id) -> tuple[dict, dict]:
    """Image and mask files under `folder` (any depth) whose names match `pattern`, by case id.

    `is_image(match)` tells an image from a mask, `case_id(match)` gives the id. A case id seen
    twice, or a mask without its image, is an InputError naming the files.
    """
    images: dict[str, Path] = {}
    masks: dict[str, Path] = {}
    for path in volume_files(folder, recursive=True):
        match = pattern.match(path.name)
        if not match:
            continue
        table = images if is_image(match) else masks
        cid = case_id(match)
        if cid in table:
            raise InputError(f"dataset {dataset!r}: case {cid} appears twice: {table[cid]} and {path}")
        table[cid] = path
    orphans = sorted(set(masks) - set(images))
    if orphans:
        raise InputError(f"dataset {dataset!r}: masks without an image in {folder}: "
                         + ", ".join(str(masks[n]) for n in orphans))
    return images, masks


def _stat_entries(path: Path, root: Path) -> list[tuple[str, int, int]]:
    """(name, size, mtime) of a file, of every file in a DICOM folder, and of an .mhd's data file."""
    paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    if path.suffix.lower() == ".mhd":
        paths += sorted(path.parent.glob(path.stem + ".*raw"))
    entries = []
    for p in paths:
        try:
            st = p.stat()
            size, mtime = st.st_size, st.st_mtime_ns
        except OSError:
            size, mtime = -1, -1  # a missing file changes the fingerprint too
        entries.append((os.path.relpath(p, root), size, mtime))
    return entries


def fingerprint(name: str, params: dict[str, Any], cases: dict[str, CaseFiles], root: Path) -> str:
    """16 hex digits of sha256 over the dataset name, its parameters, and every file's name,
    size and modification time: it changes whenever the data would."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"dataset": name, "params": params}, sort_keys=True, default=str).encode())
    for case_id in natural_sorted(cases):
        files = cases[case_id]
        digest.update(case_id.encode())
        for path in (files.image, files.mask):
            if path is not None:
                digest.update(json.dumps(_stat_entries(path, root)).encode())
    return digest.hexdigest()[:16]


class FileDataset(Dataset):
    """Base for adapters whose cases are files on disk. Subclasses fill `self._cases` and
    `self._root`; `min_label` set means masks are label maps with liver = label >= min_label."""

    _root: Path
    _cases: dict[str, CaseFiles]
    min_label: int | None = None

    def _set_cases(self, root: Path, cases: dict[str, CaseFiles], where: Path) -> None:
        if not cases:
            raise InputError(f"dataset {self.name!r}: no cases found in {where} ({self.layout_hint()})")
        self._root = root
        self._cases = {case_id: cases[case_id] for case_id in natural_sorted(cases)}

    def layout_hint(self) -> str:
        return (self.__doc__ or "").strip().splitlines()[0]

    def case_ids(self) -> list[str]:
        return list(self._cases)

    def case_files(self, case_id: str) -> CaseFiles:
        try:
            return self._cases[case_id]
        except KeyError:
            close = difflib.get_close_matches(str(case_id), list(self._cases), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise InputError(f"dataset {self.name!r} at {self._root}: no case {case_id!r}{hint}") from None

    def load(self, case_id: str) -> Case:
        files = self.case_files(case_id)
        meta = {"dataset": self.name, **files.meta}
        return read_case(case_id, files.image, files.mask, meta, min_label=self.min_label)

    def fingerprint(self) -> str:
        return fingerprint(self.name, self.params, self._cases, self._root)
