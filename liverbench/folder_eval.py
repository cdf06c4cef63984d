"""Scoring masks made elsewhere: pair each prediction file with its reference, score, tabulate.

`liverbench eval` is the command-line face of `evaluate_folder`; the pairing is by case id,
taken from file names (`<case_id>.nii.gz`, .nii, .mhd, .mha) or from a `{case_id}` pattern.
References come from a folder or from a registered dataset.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from liverbench.errors import ConfigError, InputError, UnknownNameError
from liverbench.io import VOLUME_SUFFIXES, read_volume


def _case_id_of(path: Path) -> str | None:
    name = path.name
    for suffix in VOLUME_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def _index_folder(folder: Path, pattern: str | None, case_ids: list[str] | None) -> dict[str, Path]:
    """case id -> file. With a pattern, ids come from the other side; else from file names."""
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    if pattern:
        if "{case_id}" not in pattern:
            raise ConfigError(f"--pattern {pattern!r} must contain '{{case_id}}'")
        if case_ids is None:  # derive ids by matching the pattern against the files
            head, tail = pattern.split("{case_id}", 1)
            rx = re.compile(re.escape(head) + r"(?P<id>.+?)" + re.escape(tail) + "$")
            out = {}
            for p in sorted(folder.rglob("*")):
                m = rx.match(p.relative_to(folder).as_posix())
                if m and p.is_file():
                    out[m.group("id")] = p
            return out
        return {cid: folder / pattern.format(case_id=cid) for cid in case_ids
                if (folder / pattern.format(case_id=cid)).exists()}
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        cid = _case_id_of(p)
        if cid is None:
            continue
        if cid in out:
            raise InputError(f"{folder}: two files for case {cid!r}: {out[cid].name} and {p.name}")
        out[cid] = p
    return out


def _dataset_references(ref: str, ref_params: dict[str, Any] | None):
    """(sorted case ids, case id -> reference mask) of a registered dataset."""
    from liverbench import registry
    from liverbench.plugin import ParamError

    try:
        ds = registry.get_dataset(ref)(**(ref_params or {}))
    except UnknownNameError as exc:
        raise ConfigError(f"--ref {ref!r} is neither a folder nor a dataset: {exc}") from exc
    except ParamError as exc:
        raise ConfigError(f"--ref-params.{exc.param}: {exc.problem}") from exc
    except TypeError as exc:
        raise ConfigError(f"--ref-params: dataset {ref!r} rejected {ref_params!r}: {exc}") from exc

    def load_ref(cid):
        case = ds.load(cid)
        if case.mask is None:
            raise InputError(f"case {cid!r}: dataset {ref!r} has no reference mask for it")
        return case.mask
    return sorted(ds.case_ids()), load_ref


def evaluate_folder(pred: str | Path, ref: str, *, ref_params: dict[str, Any] | None = None,
                    pattern: str | None = None, ref_pattern: str | None = None, convention: str = "sliver07",
                    nsd_tolerance_mm: float = 1.0, only_present: bool = False):
    """Score every predicted mask in folder `pred` against its reference; a DataFrame, one row per case.

    `ref` is a folder of reference masks (files named by `ref_pattern`, else `<case_id>.<ext>`)
    or a registered dataset name, opened with `ref_params`. Predictions are named by `pattern`
    (which must contain `{case_id}`), else `<case_id>.<ext>`. Each row holds the SLiver07 metrics
    under `convention`, `status` ("ok" or "failed"), `error` and, on failure, `error_kind`
    ("input" for missing, unreadable or mismatched files).

    A reference case without a prediction is a failed row, unless `only_present` (then it is
    left out and listed in `df.attrs["missing_predictions"]`). Predictions without a reference
    are ignored and listed in `df.attrs["unmatched_predictions"]`."""
    import pandas as pd

    from liverbench.errors import error_text
    from liverbench.metrics import evaluate
    from liverbench.schema import METRIC_COLUMNS
    from liverbench.validate import binary_mask, same_grid

    pred_dir = Path(pred)
    if Path(ref).is_dir():
        refs = _index_folder(Path(ref), ref_pattern, None)
        ref_ids = sorted(refs)
        load_ref = lambda cid: read_volume(refs[cid])  # noqa: E731
        ref_name = str(ref)
    else:
        ref_ids, load_ref = _dataset_references(ref, ref_params)
        ref_name = ref
    if not ref_ids:
        raise InputError(f"{ref}: no reference masks found")
    preds = _index_folder(pred_dir, pattern, ref_ids if pattern else None)
    missing: list[str] = []
    if only_present:
        missing = [cid for cid in ref_ids if cid not in preds]
        ref_ids = [cid for cid in ref_ids if cid in preds]
        if not ref_ids:
            raise InputError(f"{pred_dir}: no prediction matches a reference case of {ref}")
    rows = []
    for cid in ref_ids:
        row: dict[str, Any] = {"case_id": cid, "reference": ref_name, "prediction": str(preds.get(cid, ""))}
        try:
            if cid not in preds:
                raise InputError(f"case {cid!r}: no prediction in {pred_dir}")
            ref_vol = load_ref(cid)
            pred_vol = read_volume(preds[cid])
            where = f"{preds[cid]} (case {cid!r})"
            same_grid(ref_vol, pred_vol, where)
            seg = binary_mask(pred_vol.array, where)
            truth = binary_mask(ref_vol.array, f"reference of case {cid!r}")
            m = evaluate(seg, truth, ref_vol.spacing, convention=convention, nsd_tolerance_mm=nsd_tolerance_mm)
            row["note"] = m.pop("note", "") or ""
            row.update(m)
            row.update(status="ok", error="")
        except InputError as exc:
            row.update(status="failed", error=str(exc), error_kind="input")
        except Exception as exc:  # noqa: BLE001 -- one bad case must not hide the others
            row.update(status="failed", error=error_text(exc), error_kind="other")
        rows.append(row)
    extra = sorted(set(preds) - set(ref_ids))
    df = pd.DataFrame(rows)
    for col in METRIC_COLUMNS:
        if col not in df.columns:
            df[col] = float("nan")
    df.attrs["unmatched_predictions"] = extra
    df.attrs["missing_predictions"] = missing
    return df
