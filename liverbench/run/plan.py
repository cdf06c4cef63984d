"""The plan: which models to fit and which rows to compute, each with a content-hash key.

- `fit_key` = hash(training data fingerprint, scored dataset fingerprint, fold's case lists,
  method name + version + params, seed). Same key -> same trained model, reused on resume.
- `row_key` = hash(fit_key, case id, post-processor name + version + params (or its tuning
  spec), metrics config). Same key -> same row; a changed parameter or a bumped version makes
  a new key instead of overwriting an old row.

Planning also settles devices: a method that declares GPUs gets them where the cluster has
GPUs; on a GPU-less cluster the plan fails unless `execution.allow_cpu_fallback`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from liverbench.errors import ConfigError
from liverbench.hashing import canonical_json, content_hash
from liverbench.plugins.base import Resources
from liverbench.run.config import THRESHOLD


@dataclass(frozen=True)
class FitJob:
    fit_key: str
    method: str
    method_version: str
    method_params: dict[str, Any]
    trainable: bool
    fold: int
    seed: int
    train: tuple[str, ...]
    val: tuple[str, ...]
    train_source: str  # "dataset" or "train_dataset": where train/val cases are read from
    fit_resources: Resources
    predict_resources: Resources
    device: str  # "cuda" or "cpu"
    # [dataset] cases trained on besides `train` (a loo/kfold split with a [train_dataset])
    train_from_dataset: tuple[str, ...] = ()

    def training_cases(self) -> list[tuple[str, str]]:
        """(source, case id) of every case the model trains on, so tuning uses the same set."""
        return ([(self.train_source, cid) for cid in self.train]
                + [("dataset", cid) for cid in self.train_from_dataset])


@dataclass(frozen=True)
class RowJob:
    row_key: str
    fit_key: str
    case_id: str
    postprocessor: str
    pp_version: str
    pp_params: dict[str, Any]
    tune: bool
    tune_metric: str
    fold: int
    seed: int


@dataclass
class Plan:
    run: str
    dataset: str
    fits: list[FitJob] = field(default_factory=list)
    rows: list[RowJob] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fit(self, fit_key: str) -> FitJob:
        for f in self.fits:
            if f.fit_key == fit_key:
                return f
        raise KeyError(fit_key)

    def summary(self, done: dict[str, str] | None = None) -> str:
        """A human-readable plan for `--dry-run`: fits, rows, resources, what resume would skip."""
        done = done or {}
        lines = [f"run {self.run!r} on dataset {self.dataset!r}: {len(self.fits)} fit(s), {len(self.rows)} row(s)"]
        by_fit: dict[str, list[RowJob]] = {}
        for r in self.rows:
            by_fit.setdefault(r.fit_key, []).append(r)
        lines.append(f"{'fit_key':<17} {'method':<22} {'fold':>4} {'seed':>4} {'train':>5} {'val':>4} "
                     f"{'rows':>5} {'todo':>5}  fit resources -> predict resources")
        for f in self.fits:
            rows = by_fit.get(f.fit_key, [])
            todo = sum(1 for r in rows if done.get(r.row_key) != "ok")
            fr, pr = f.fit_resources, f.predict_resources
            fit_res = f"cpu={fr.num_cpus:g} gpu={fr.num_gpus:g} mem={fr.memory_gb:g}G" if f.trainable else "no training"
            n_train = len(f.train) + len(f.train_from_dataset)
            lines.append(f"{f.fit_key:<17} {f.method:<22} {f.fold:>4} {f.seed:>4} {n_train:>5} {len(f.val):>4} "
                         f"{len(rows):>5} {todo:>5}  {fit_res} -> cpu={pr.num_cpus:g} gpu={pr.num_gpus:g} "
                         f"mem={pr.memory_gb:g}G on {f.device}")
        pps: dict[str, int] = {}
        for r in self.rows:
            label = r.postprocessor + (" (tuned)" if r.tune else (f" {canonical_json(r.pp_params)}" if r.pp_params else ""))
            pps[label] = pps.get(label, 0) + 1
        lines.append("post-processors: " + ", ".join(f"{k} x{v}" for k, v in pps.items()))
        n_ok = sum(1 for r in self.rows if done.get(r.row_key) == "ok")
        n_failed = sum(1 for r in self.rows if done.get(r.row_key) == "failed")
        lines.append(f"stored: {n_ok} ok, {n_failed} failed; to compute: {len(self.rows) - n_ok} "
                     f"(failed rows re-run only with --retry-failed)")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "dataset": self.dataset, "fits": [asdict(f) for f in self.fits],
                "rows": [asdict(r) for r in self.rows], "notes": list(self.notes)}


def build_plan(cfg, spec, folds: list[dict[str, Any]], dataset_fp: str, train_fp: str | None,
               available_gpus: float) -> Plan:
    """Expand the `RunConfig` over folds, seeds, methods, cases and post-processors, with the
    plugin classes `spec` (workspec.resolve) holds."""
    plan = Plan(run=cfg.name, dataset=cfg.dataset.name)
    metrics_cfg = cfg.metrics.as_dict()
    pps = []
    for pp in cfg.postprocessors:
        cls = spec.postprocessors[pp.name]
        pps.append((pp, pp.params if pp.tune else effective_params(cls, pp.params), cls))
    all_test = {case_id for fold in folds for case_id in fold["test"]}
    for i, m in enumerate(cfg.methods):
        unknown = sorted(set(m.cases or ()) - all_test)
        if unknown:
            raise ConfigError(f"methods[{i}].cases: {unknown} are not test cases of this run "
                              f"(test cases: {sorted(all_test)})")
    for m in cfg.methods:
        cls = spec.segmenters[m.name]
        version = str(cls.version)
        params = effective_params(cls, m.params)
        fit_res, pred_res, device = _placement(cls, m.name, available_gpus, cfg.execution.allow_cpu_fallback, plan)
        for fold in folds:
            for seed in cfg.execution.seeds:
                trainable = bool(cls.trainable)
                if trainable and not fold["train"]:
                    raise ConfigError(f"methods: {m.name!r} needs training cases but fold {fold['fold']} has none "
                                      f"(split.kind = {cfg.split.kind!r})")
                fit_key = content_hash({
                    "dataset": dataset_fp, "train_dataset": train_fp,
                    "train": fold["train"] if trainable else [], "val": fold["val"] if trainable else [],
                    # only where present, so the keys of splits without it stay as they were
                    **({"train_from_dataset": fold["train_from_dataset"] if trainable else []}
                       if "train_from_dataset" in fold else {}),
                    # the fold number matters only through its lists; keep it for readable provenance
                    "fold": fold["fold"], "method": m.name, "version": version, "params": params,
                    "seed": seed})
                plan.fits.append(FitJob(
                    fit_key=fit_key, method=m.name, method_version=version, method_params=params,
                    trainable=trainable, fold=fold["fold"], seed=seed,
                    train=tuple(fold["train"]), val=tuple(fold["val"]),
                    train_source="train_dataset" if cfg.train_dataset else "dataset",
                    train_from_dataset=tuple(fold.get("train_from_dataset", ())),
                    fit_resources=fit_res, predict_resources=pred_res, device=device))
                for case_id in fold["test"]:
                    if m.cases is not None and case_id not in m.cases:
                        continue
                    for pp, pp_params, pp_cls in pps:
                        # plain thresholding stays: every refinement is compared against it
                        if m.postprocessors is not None and pp.name not in m.postprocessors and pp.name != THRESHOLD:
                            continue
                        pp_spec = {"tune": True, "metric": pp.metric} if pp.tune else pp_params
                        if pp.tune and fold.get("train_from_dataset"):
                            # tuning once left these training cases out: new keys, so such rows are redone
                            pp_spec = {**pp_spec, "tuned_on_dataset": list(fold["train_from_dataset"])}
                        row_key = content_hash({
                            "fit_key": fit_key, "case": case_id, "dataset": dataset_fp,
                            "pp": pp.name, "pp_version": str(pp_cls.version), "pp_params": pp_spec,
                            "metrics": metrics_cfg})
                        plan.rows.append(RowJob(
                            row_key=row_key, fit_key=fit_key, case_id=case_id, postprocessor=pp.name,
                            pp_version=str(pp_cls.version), pp_params=dict(pp_params), tune=pp.tune,
                            tune_metric=pp.metric, fold=fold["fold"], seed=seed))
    return plan


def effective_params(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters with the plugin's own defaults filled in (what the instance stores), so
    `{}` and `{"iterations": 1}` (the default) are one key, and the row shows every value."""
    try:
        return json.loads(canonical_json(cls(**params).params))
    except Exception:  # noqa: BLE001 -- config validation already reported bad params
        return dict(params)


def _placement(cls: type, name: str, available_gpus: float, allow_cpu_fallback: bool, plan: Plan):
    fit_res: Resources = cls.fit_resources
    pred_res: Resources = cls.predict_resources
    wants_gpu = fit_res.num_gpus > 0 or pred_res.num_gpus > 0
    if not wants_gpu:
        return fit_res, pred_res, "cpu"
    if available_gpus > 0:
        if max(fit_res.num_gpus, pred_res.num_gpus) > available_gpus:
            raise ConfigError(f"methods: {name!r} asks for {max(fit_res.num_gpus, pred_res.num_gpus):g} GPU(s) "
                              f"per task but the cluster has {available_gpus:g}")
        return fit_res, pred_res, "cuda"
    if not allow_cpu_fallback:
        raise ConfigError(f"execution.allow_cpu_fallback: method {name!r} wants a GPU and the cluster has none; "
                          f"set execution.allow_cpu_fallback = true to run it on the CPU")
    plan.notes.append(f"{name}: wants a GPU, none in the cluster: running on the CPU (allow_cpu_fallback)")
    return replace(fit_res, num_gpus=0.0), replace(pred_res, num_gpus=0.0), "cpu"
