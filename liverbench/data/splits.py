"""Train / validation / test splits: fixed, k-fold, leave-one-out, none, or train_dataset -> dataset.

A split is a list of folds; each fold is ``{"fold": i, "train": [...], "val": [...], "test": [...]}``
(case ids). Splits are seeded, made once per run and saved as `splits.json`; a resumed run
reuses the saved file (so a dataset that grows does not silently reshuffle finished folds).

Leave-one-out is what Dou et al. (2016) used on the 20 SLiver07 training scans: one fold per
case, trained on all others; `split.test` limits the folds to the cases it lists (the others are
then always trained on).

With a `train_dataset`:
- `fixed` (and `none`): fold 0 trains on (a part of) it and tests on every case of `dataset`
  (e.g. synthetic -> real);
- `loo` / `kfold`: the folds run over `dataset` as without one, and every fold trains on all of
  `train_dataset` *plus* the `dataset` cases it does not test, listed under the fold's extra key
  `"train_from_dataset"` (e.g. phantoms + the other real cases, scored on the held-out real
  case). The validation hold-out comes from `train_dataset` only, the same in every fold, so the
  scarce scored-dataset cases all go to training.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from typing import Any, Sequence

import numpy as np

from liverbench.errors import ConfigError


def make_splits(split: dict[str, Any], case_ids: Sequence[str],
                train_case_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Folds for the resolved `split` table over `case_ids` (the scored dataset's ids)."""
    ids = sorted(case_ids)
    if len(set(ids)) != len(ids):
        raise ConfigError("dataset: case ids are not unique")
    if not ids:
        raise ConfigError("dataset: has no cases")
    kind, seed = split["kind"], split["seed"]
    rng = np.random.default_rng(seed)

    if train_case_ids is not None:
        train = sorted(train_case_ids)
        if not train and kind != "none":
            raise ConfigError("train_dataset: has no cases")
        if kind == "none":
            return [_fold(0, [], [], ids)]
        if kind == "fixed":
            tr, va = _hold_out(train, split["val_fraction"], rng)
            return [_fold(0, tr, va, ids)]
        tr, va = _hold_out(train, split["val_fraction"], rng)  # the same hold-out as `fixed`
        tests = _held_out_groups(split, ids, rng)
        return [_fold(i, tr, va, test, train_from_dataset=[c for c in ids if c not in set(test)])
                for i, test in enumerate(tests)]

    if kind == "none":
        return [_fold(0, [], [], ids)]

    if kind == "fixed":
        if split.get("test") is not None:
            test = list(split["test"])
            missing = sorted(set(test) - set(ids))
            if missing:
                raise ConfigError(f"split.test: cases {missing} are not in the dataset")
            if split.get("train") is not None:
                train = list(split["train"])
                missing = sorted(set(train) - set(ids))
                if missing:
                    raise ConfigError(f"split.train: cases {missing} are not in the dataset")
            else:
                train = [c for c in ids if c not in set(test)]
        else:
            n_test = max(1, int(round(split["test_fraction"] * len(ids))))
            if n_test >= len(ids):
                raise ConfigError(f"split.test_fraction: {split['test_fraction']} of {len(ids)} cases leaves none to train on")
            order = list(rng.permutation(ids))
            test, train = sorted(order[:n_test]), sorted(order[n_test:])
        tr, va = _hold_out(train, split["val_fraction"], rng)
        return [_fold(0, tr, va, sorted(test))]

    if kind in ("kfold", "loo"):
        folds = []
        for i, test in enumerate(_held_out_groups(split, ids, rng)):
            train = sorted(c for c in ids if c not in set(test))
            tr, va = _hold_out(train, split["val_fraction"], np.random.default_rng([seed, i]))
            folds.append(_fold(i, tr, va, test))
        return folds

    raise ConfigError(f"split.kind: unknown kind {kind!r}")


def _held_out_groups(split: dict[str, Any], ids: list[str], rng: np.random.Generator) -> list[list[str]]:
    """The test lists of the k-fold or leave-one-out folds over `ids`."""
    kind = split["kind"]
    if kind == "kfold":
        k = split["k"]
        if k > len(ids):
            raise ConfigError(f"split.k: {k} folds but the dataset has only {len(ids)} cases")
        order = list(rng.permutation(ids))
        return [sorted(order[i::k]) for i in range(k)]
    if kind == "loo":
        if len(ids) < 2:
            raise ConfigError("split.kind: leave-one-out needs at least 2 cases")
        held = ids
        if split.get("test") is not None:
            missing = sorted(set(split["test"]) - set(ids))
            if missing:
                raise ConfigError(f"split.test: cases {missing} are not in the dataset")
            held = sorted(split["test"])
        return [[cid] for cid in held]
    raise ConfigError(f"split.kind: unknown kind {kind!r}")


def _hold_out(train: list[str], val_fraction: float, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Hold a seeded part of the training cases out for validation curves (never for testing)."""
    if val_fraction <= 0 or len(train) < 2:
        return sorted(train), []
    n_val = min(len(train) - 1, max(1, int(math.floor(val_fraction * len(train) + 0.5))))
    order = list(rng.permutation(train))
    return sorted(order[n_val:]), sorted(order[:n_val])


def _fold(i: int, train: list[str], val: list[str], test: list[str],
          train_from_dataset: list[str] | None = None) -> dict[str, Any]:
    fold = {"fold": i, "train": list(train), "val": list(val), "test": list(test)}
    if train_from_dataset is not None:  # only where a train_dataset fold also trains on dataset cases
        fold["train_from_dataset"] = list(train_from_dataset)
    return fold


def split_spec(split: dict[str, Any], dataset_fp: str, train_fp: str | None) -> dict[str, Any]:
    """What a saved split was made from; a resumed run checks it before reusing the file."""
    return {"split": split, "dataset": dataset_fp, "train_dataset": train_fp}


def read_saved(store, *, set_aside: bool) -> dict[str, Any] | None:
    """`splits.json` of an earlier run, or None. An unreadable one (cut short, edited by hand) is
    warned about and, with `set_aside`, moved aside: the split is then made again from its seed,
    and since every fit's key covers its case lists, no fit or row of another split is reused."""
    path = store.run_dir / "splits.json"
    try:
        saved = store.splits()
    except (ValueError, OSError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        problem = f"{type(exc).__name__}: {exc}"
    else:
        if saved is None or (isinstance(saved, dict) and "spec" in saved and isinstance(saved.get("folds"), list)
                             and all(isinstance(f, dict) and "test" in f for f in saved["folds"])):
            return saved
        problem = "not a saved split (no spec and folds)"
    moved = ""
    if set_aside:
        from liverbench.run.store import writing

        target = path.with_name(f"splits.json.unreadable-{time.time_ns()}")
        with writing(target):
            path.replace(target)
        moved = f" moved to {target.name};"
    warnings.warn(f"{path}: unreadable ({problem});{moved} the split is made again from its seed")
    return None


def load_or_make(store, split: dict[str, Any], case_ids: Sequence[str], train_case_ids: Sequence[str] | None,
                 dataset_fp: str, train_fp: str | None) -> list[dict[str, Any]]:
    """Reuse `splits.json` from an earlier run of the same config, else make and save it."""
    spec = split_spec(split, dataset_fp, train_fp)
    saved = read_saved(store, set_aside=True)
    if saved is not None:
        if saved.get("spec") != json.loads(json.dumps(spec)):
            raise ConfigError(
                f"split: the run directory {store.run_dir} was made with a different split or dataset "
                f"(saved {saved.get('spec')!r}); give the run a new name to start a fresh one")
        return saved["folds"]
    folds = make_splits(split, case_ids, train_case_ids)
    store.write_splits({"spec": spec, "folds": folds})
    return folds
