"""Scoring masks made elsewhere: pair each prediction file with its reference, score, tabulate.

`liverbench eval` is the command-line face of `evaluate_folder`; the pairing is by case id,
taken from file names (`<case_id>.nii.gz`, .nii, .mhd, .mha) or from a `{case_id}` pattern.
References come from a folder or from a registered dataset. Label maps (LiTS / MSD: liver 1,
tumour 2) are scored on the labels a `labels` selection names (`parse_labels("1+")`: liver with
its tumours); `summary` is what `summary.json` holds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from liverbench.data.io import VOLUME_SUFFIXES, read_volume
from liverbench.errors import ConfigError, InputError, UnknownNameError

MEAN = "mean"  # case_id of the mean row a written table ends with (its status is "summary")


def parse_labels(text: str) -> tuple[int, bool]:
    """'2' -> (2, False): voxels labelled 2; '1+' -> (1, True): voxels labelled 1 or higher."""
    spec = text.strip()
    at_least = spec.endswith("+")
    number = spec[:-1] if at_least else spec
    if not number.isdigit():
        raise ConfigError(f"--label {text!r}: expected a label number N (voxels == N) or N+ (voxels >= N), "
                          f"e.g. 1 for LiTS' liver alone or 1+ for liver with tumours")
    return int(number), at_least


def select_labels(array: np.ndarray, labels: tuple[int, bool], where: str) -> np.ndarray:
    """The voxels of a label map that `labels` names, as a bool mask; non-integer values refused."""
    array = np.asarray(array)
    if array.dtype.kind == "f" and not np.array_equal(array, np.round(array)):
        raise InputError(f"{where}: --label needs a label map of whole numbers, got fractional values")
    value, at_least = labels
    return array >= value if at_least else array == value


def labels_text(labels: tuple[int, bool] | None) -> str:
    if labels is None:
        return "binary masks (0 / 1)"
    value, at_least = labels
    return f"labels >= {value}" if at_least else f"label == {value}"


def summary(df, *, convention: str, nsd_tolerance_mm: float, labels=None, pred_labels=None) -> dict[str, Any]:
    """What `liverbench eval` writes as summary.json: every case, then mean, std (ddof = 1) and
    median of each metric over the successful cases, with the settings that produced them."""
    import liverbench
    from liverbench.schema import METRIC_COLUMNS

    ok = df[df["status"] == "ok"]
    metrics = ok[list(METRIC_COLUMNS)].astype(float)

    def stat(values) -> dict[str, float | None]:
        return {c: (None if v != v else float(v)) for c, v in values.items()}  # NaN -> null

    cases = []
    for rec in df.to_dict("records"):
        case = {k: rec.get(k) for k in ("case_id", "status", "note", "error", "reference", "prediction")}
        case.update(stat({c: rec.get(c, float("nan")) for c in METRIC_COLUMNS}))
        cases.append(case)
    return {
        "liverbench_version": liverbench.__version__,
        "convention": convention, "nsd_tolerance_mm": float(nsd_tolerance_mm),
        "reference_labels": labels_text(labels), "prediction_labels": labels_text(pred_labels),
        "n_cases": int(len(df)), "n_ok": int(len(ok)), "n_failed": int(len(df) - len(ok)),
        "missing_predictions": list(df.attrs.get("missing_predictions") or []),
        "unmatched_predictions": list(df.attrs.get("unmatched_predictions") or []),
        "mean": stat(metrics.mean()), "std": stat(metrics.std(ddof=1)), "median": stat(metrics.median()),
        "cases": cases,
    }


def with_mean_row(df):
    """The per-case table with a last row holding the mean over the successful cases."""
    import pandas as pd

    from liverbench.schema import METRIC_COLUMNS

    ok = df[df["status"] == "ok"]
    mean = {c: ok[c].astype(float).mean() for c in METRIC_COLUMNS} if len(ok) else {}
    row = {"case_id": MEAN, "status": "summary", "note": f"mean over {len(ok)} successful of {len(df)} cases", **mean}
    return pd.concat([df, pd.DataFrame([row])], ignore_index=True)


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
    from liverbench.plugins import registry
    from liverbench.plugins.base import ParamError

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
                    nsd_tolerance_mm: float = 1.0, only_present: bool = False,
                    labels: tuple[int, bool] | None = None, pred_labels: tuple[int, bool] | None = None):
    """Score every predicted mask in folder `pred` against its reference; a DataFrame, one row per case.

    `ref` is a folder of reference masks (files named by `ref_pattern`, else `<case_id>.<ext>`)
    or a registered dataset name, opened with `ref_params`. Predictions are named by `pattern`
    (which must contain `{case_id}`), else `<case_id>.<ext>`. Each row holds the SLiver07 metrics
    under `convention`, `status` ("ok" or "failed"), `error` and, on failure, `error_kind`
    ("input" for missing, unreadable or mismatched files). `labels` (from `parse_labels`) picks
    the reference's liver from a label map, `pred_labels` the prediction's; None: binary masks.

    A reference case without a prediction is a failed row, unless `only_present` (then it is
    left out and listed in `df.attrs["missing_predictions"]`). Predictions without a reference
    are ignored and listed in `df.attrs["unmatched_predictions"]`."""
    import pandas as pd

    from liverbench.data.validate import binary_mask, same_grid
    from liverbench.errors import error_text
    from liverbench.metrics import evaluate
    from liverbench.schema import METRIC_COLUMNS

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
            ref_where = f"reference of case {cid!r}"
            seg = (binary_mask(pred_vol.array, where) if pred_labels is None
                   else select_labels(pred_vol.array, pred_labels, where))
            truth = (binary_mask(ref_vol.array, ref_where) if labels is None
                     else select_labels(ref_vol.array, labels, ref_where))
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
