"""The run configuration: one TOML file, CLI overrides, validated before any work starts.

`load_config(path, overrides)` returns a frozen, typed `RunConfig`: every default filled in,
`threshold` always among the post-processors (so each refinement is compared against no
refinement), and -- unless `check_names=False` -- every plugin name and params table checked by
`liverbench.run.workspec.resolve`, the one place that turns names into classes. `RunConfig.to_dict()`
is what the run directory stores as `config.json`.

Errors are `ConfigError` naming the key (e.g. ``execution.max_in_flight``), with near-match
suggestions for unknown keys and names. The validation is written by hand rather than with a
schema library (pydantic was considered): its messages name the TOML key as the user wrote it
(``methods[1].params.sigma``), suggest near matches, say what moved, and take plugin-declared
checks (`liverbench.plugins.base.Param`) -- a library's errors would have to be rewritten for each.
"""

from __future__ import annotations

import copy
import json
import math
import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from liverbench.errors import ConfigError

# The always-present baseline refinement: P >= 0.5.
THRESHOLD = "threshold"

# Defaults per table; a key absent here is unknown. Types are checked against these values
# (int accepted where a float is expected).
_DEFAULTS: dict[str, dict[str, Any]] = {
    "dataset": {"name": None, "params": {}},
    "train_dataset": {"name": None, "params": {}},
    "split": {"kind": "fixed", "test_fraction": 0.33, "val_fraction": 0.2, "k": 5, "seed": 0,
              "train": None, "test": None},
    # the backend's own keys live in a sub-table named after it ([execution.ray]), checked by it
    "execution": {"backend": "local", "num_cpus": 2, "num_gpus": None, "retries": 1,
                  "max_in_flight": 4, "allow_cpu_fallback": True, "save_predictions": False,
                  "seeds": [0], "flush_every": 8},
    "metrics": {"convention": "sliver07", "nsd_tolerance_mm": 1.0, "refs": None},
}
_TOP_LEVEL = {"name", "runs_dir", "dataset", "train_dataset", "split", "methods", "postprocessors",
              "execution", "metrics", "plugins", "report"}
# [report]: what the report of this run asks and shows; never part of a row's key.
_REPORT_KEYS = {"compare", "link_figures", "figures_note"}
_COMPARE_KEYS = {"a", "b"}
_METHOD_KEYS = {"name", "params", "cases", "postprocessors"}
_PP_KEYS = {"name", "params", "tune", "metric"}
_SPLIT_KINDS = ("fixed", "kfold", "loo", "none")
# Sizes have upper bounds far above any real cluster or run, so a typo (num_cpus = 1e9) is
# refused before it plans or asks Ray for anything.
_EXECUTION_BOUNDS = {"num_cpus": (1, 100_000), "num_gpus": (0, 10_000), "retries": (0, 100),
                     "max_in_flight": (1, 100_000), "flush_every": (1, 1_000_000)}
_MAX_SEEDS = 1000
_MAX_FOLDS = 10_000
# Keys that once sat in [execution] and now belong to a backend's own table.
_MOVED = {"address": "ray", "actors_per_model": "ray", "refine_in": "ray"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def tuning_metrics() -> frozenset[str]:
    """What a tuned refinement may optimise: every metric column, its SLiver07 score, the case
    score (read from liverbench.schema when asked, so a metric declared there is one too)."""
    from liverbench import schema

    return frozenset(schema.METRIC_COLUMNS)

_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
               list: "a list", dict: "a table"}


# --- the typed tree --------------------------------------------------------------------------


@dataclass(frozen=True)
class PluginTable:
    """A named plugin with its params table: [dataset], [train_dataset]."""

    name: str
    params: dict[str, Any]


@dataclass(frozen=True)
class MethodEntry:
    name: str
    params: dict[str, Any]
    cases: tuple[str, ...] | None = None  # score on these test cases only
    postprocessors: tuple[str, ...] | None = None  # refine with these [[postprocessors]] only


@dataclass(frozen=True)
class PostprocessorEntry:
    name: str
    params: dict[str, Any]
    tune: bool = False
    metric: str = "score"  # what tuning maximises


@dataclass(frozen=True)
class SplitConfig:
    kind: str
    test_fraction: float
    val_fraction: float
    k: int
    seed: int
    train: tuple[str, ...] | None
    test: tuple[str, ...] | None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form that `splits.json` records (and compares on resume)."""
        d = asdict(self)
        d.update(train=_listed(self.train), test=_listed(self.test))
        return d


@dataclass(frozen=True)
class ExecutionConfig:
    backend: str
    num_cpus: int
    num_gpus: int | None
    retries: int
    max_in_flight: int
    allow_cpu_fallback: bool
    save_predictions: bool
    seeds: tuple[int, ...]
    flush_every: int
    options: dict[str, Any]  # [execution.<backend>], checked against the backend in workspec.resolve


@dataclass(frozen=True)
class MetricsConfig:
    convention: str
    nsd_tolerance_mm: float
    refs: dict[str, float] | None

    def as_dict(self) -> dict[str, Any]:
        """The form that every row key hashes."""
        return asdict(self)


@dataclass(frozen=True)
class ReportConfig:
    """`[report]`: the user's own questions for the Findings family (`[[report.compare]]`, each
    `a` against `b`, entries as the report names them) and whether report.md links its figures
    (`link_figures = false` names them with `figures_note` instead, for figures kept out of a
    repository)."""

    compare: tuple[tuple[str, str], ...] = ()
    link_figures: bool = True
    figures_note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"compare": [{"a": a, "b": b} for a, b in self.compare], "link_figures": self.link_figures,
                "figures_note": self.figures_note}


@dataclass(frozen=True)
class RunConfig:
    name: str
    runs_dir: str
    dataset: PluginTable
    train_dataset: PluginTable | None
    split: SplitConfig
    methods: tuple[MethodEntry, ...]
    postprocessors: tuple[PostprocessorEntry, ...]
    execution: ExecutionConfig
    metrics: MetricsConfig
    plugins_allow: tuple[str, ...] | None  # [plugins] allow: the third-party plugins that may load
    report: ReportConfig = ReportConfig()

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.name

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: what `config.json` stores."""
        ex = asdict(self.execution)
        options = ex.pop("options")
        ex["seeds"] = list(self.execution.seeds)
        if options:
            ex[self.execution.backend] = options
        return {"name": self.name, "runs_dir": self.runs_dir, "dataset": asdict(self.dataset),
                "train_dataset": asdict(self.train_dataset) if self.train_dataset else None,
                "split": self.split.as_dict(),
                "methods": [{"name": m.name, "params": m.params,
                             **{k: list(v) for k in ("cases", "postprocessors") if (v := getattr(m, k)) is not None}}
                            for m in self.methods],
                "postprocessors": [asdict(pp) for pp in self.postprocessors],
                "execution": ex, "metrics": self.metrics.as_dict(),
                "plugins": {"allow": _listed(self.plugins_allow)}, "report": self.report.as_dict()}


def _listed(items: tuple | None) -> list | None:
    return None if items is None else list(items)


def load_config(path: str | Path, overrides: Iterable[str] = (), *, check_names: bool = True) -> RunConfig:
    """Read, override, validate and resolve a run config file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"run config {str(path)!r} not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a text file: {exc}") from exc
    raw = apply_overrides(raw, overrides)
    return parse(raw, source=str(path), check_names=check_names)


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """`--set a.b=value` overrides; the value is parsed as TOML (`4`, `true`, `[0, 1]`, `"x"`),
    falling back to a bare string. List items are addressed by index: `methods.0.params.preset=paper`.
    """
    raw = copy.deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.path=value")
        key, text = item.split("=", 1)
        key = key.strip()
        if not key or any(not part for part in key.split(".")):
            raise ConfigError(f"override {item!r}: empty key")
        value = _parse_value(text.strip())
        node: Any = raw
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            node = _child(node, part, ".".join(parts[: i + 1]), create=True)
        last = parts[-1]
        if isinstance(node, list):
            index = _index(node, last, key)
            node[index] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ConfigError(f"override {key!r}: {'.'.join(parts[:-1])!r} is not a table")
    return raw


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _index(node: list, part: str, key: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"override {key!r}: {part!r} is not an index of a list of {len(node)}")
    return int(part)


def _child(node: Any, part: str, key: str, create: bool) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, key)]
    if not isinstance(node, dict):
        raise ConfigError(f"override: {key!r} is not a table")
    if part not in node and create:
        node[part] = {}
    return node[part]


def parse(raw: dict[str, Any], *, source: str = "<config>", check_names: bool = True) -> RunConfig:
    """Validate a raw config dict and fill in every default. Raises ConfigError naming the key.
    `check_names`: also resolve every plugin name and check its params (workspec.resolve)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the config must be a table")
    _no_unknown(raw, _TOP_LEVEL, "")

    name = raw.get("name")
    if name is None:
        raise ConfigError("missing key 'name' (the run's name; results go to runs/<name>)")
    _type(name, str, "name")
    if not _NAME_RE.match(name):
        raise ConfigError(f"name: {name!r} must be letters, digits, '-', '_' or '.' (it names a directory)")
    if "dataset" not in raw:
        raise ConfigError("missing table [dataset] (the cases that are scored)")
    train_dataset = _dataset(raw["train_dataset"], "train_dataset") if "train_dataset" in raw else None
    cfg = RunConfig(
        name=name, runs_dir=_type(raw.get("runs_dir", "runs"), str, "runs_dir"),
        dataset=_dataset(raw["dataset"], "dataset"), train_dataset=train_dataset,
        split=_split(raw.get("split", {}), has_train_dataset=train_dataset is not None),
        methods=_methods(raw.get("methods")), postprocessors=_postprocessors(raw.get("postprocessors", [])),
        execution=_execution(raw.get("execution", {})), metrics=_metrics(raw.get("metrics", {})),
        plugins_allow=_plugins(raw.get("plugins", {})), report=_report(raw.get("report", {})))

    if cfg.split.kind == "none" and cfg.train_dataset is None:
        for i, pp in enumerate(cfg.postprocessors):
            if pp.tune:
                raise ConfigError(f"postprocessors[{i}].tune: tuning needs training cases, but split.kind = 'none'")
    listed = {pp.name for pp in cfg.postprocessors}
    for i, m in enumerate(cfg.methods):
        unknown = sorted(set(m.postprocessors or ()) - listed)
        if unknown:
            raise ConfigError(f"methods[{i}].postprocessors: {unknown} are not in [[postprocessors]] "
                              f"(listed: {sorted(listed)})")
    if check_names:
        from liverbench.run.workspec import resolve

        resolve(cfg)
    return cfg


# --- per-table validation ------------------------------------------------------------------


def _no_unknown(table: dict[str, Any], allowed: Iterable[str], prefix: str) -> None:
    import difflib

    allowed = set(allowed)
    for key in table:
        if key not in allowed:
            near = difflib.get_close_matches(key, sorted(allowed), n=3)
            hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else f"; known keys: {', '.join(sorted(allowed))}"
            raise ConfigError(f"unknown key {prefix + key!r}{hint}")


def _type(value: Any, kind: type, key: str) -> Any:
    ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok, value = True, float(value)
    if not ok:
        raise ConfigError(f"{key}: expected {_TYPE_NAMES[kind]}, got {type(value).__name__} {value!r}")
    if kind is float and not math.isfinite(value):  # nan and inf pass every comparison check below
        raise ConfigError(f"{key}: {value} must be a finite number")
    return value


def _table(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a table, got {type(value).__name__} {value!r}")
    return value


def _params(value: Any, key: str) -> dict[str, Any]:
    params = _table(value, key)
    try:
        json.dumps(params, sort_keys=True)
    except (TypeError, ValueError) as exc:  # TOML datetimes are the only non-JSON values
        raise ConfigError(f"{key}: parameters must be JSON-serialisable ({exc})") from exc
    return copy.deepcopy(params)


def _dataset(value: Any, key: str) -> PluginTable:
    table = _table(value, key)
    _no_unknown(table, _DEFAULTS["dataset"], key + ".")
    if "name" not in table:
        raise ConfigError(f"missing key '{key}.name'")
    return PluginTable(name=_type(table["name"], str, f"{key}.name"),
                       params=_params(table.get("params", {}), f"{key}.params"))


def _split(value: Any, has_train_dataset: bool) -> SplitConfig:
    table = _table(value, "split")
    _no_unknown(table, _DEFAULTS["split"], "split.")
    out = dict(_DEFAULTS["split"])
    out.update(table)
    kind = _type(out["kind"], str, "split.kind")
    if kind not in _SPLIT_KINDS:
        raise ConfigError(f"split.kind: {kind!r} is not one of {', '.join(_SPLIT_KINDS)}")
    out["test_fraction"] = _type(out["test_fraction"], float, "split.test_fraction")
    out["val_fraction"] = _type(out["val_fraction"], float, "split.val_fraction")
    out["k"] = _type(out["k"], int, "split.k")
    out["seed"] = _type(out["seed"], int, "split.seed")
    if out["seed"] < 0:  # numpy's seeding takes non-negative integers only
        raise ConfigError(f"split.seed: {out['seed']} must be >= 0")
    if not 0.0 < out["test_fraction"] < 1.0:
        raise ConfigError(f"split.test_fraction: {out['test_fraction']} must be between 0 and 1 (exclusive)")
    if not 0.0 <= out["val_fraction"] < 1.0:
        raise ConfigError(f"split.val_fraction: {out['val_fraction']} must be in [0, 1)")
    if kind == "kfold" and out["k"] < 2:
        raise ConfigError(f"split.k: {out['k']} folds; k-fold needs k >= 2")
    if out["k"] > _MAX_FOLDS:
        raise ConfigError(f"split.k: {out['k']} folds; at most {_MAX_FOLDS}")
    for lst in ("train", "test"):
        if out[lst] is not None:
            ids = _type(out[lst], list, f"split.{lst}")
            for j, cid in enumerate(ids):
                _type(cid, str, f"split.{lst}[{j}]")
            if len(set(ids)) != len(ids):
                raise ConfigError(f"split.{lst}: lists a case twice")
    if (out["train"] is None) != (out["test"] is None) and out["test"] is None:
        raise ConfigError("split.train: an explicit train list needs an explicit split.test list too")
    if out["train"] is not None and out["test"] is not None:
        both = set(out["train"]) & set(out["test"])
        if both:
            raise ConfigError(f"split.test: cases {sorted(both)} are also in split.train")
    # loo takes a `test` list: one fold per listed case (the others are always trained on)
    if out["train"] is not None and kind != "fixed":
        raise ConfigError(f"split.train: an explicit train list needs split.kind = 'fixed', not {kind!r}")
    if out["test"] is not None and kind not in ("fixed", "loo"):
        raise ConfigError(f"split.test: an explicit test list needs split.kind = 'fixed' or 'loo', not {kind!r}")
    if has_train_dataset and out["test"] is not None and kind == "fixed":
        raise ConfigError("split.test: with [train_dataset] and kind 'fixed' every [dataset] case is tested; "
                          "use kind = 'loo' with split.test to hold out some of them")
    return SplitConfig(**{**out, "train": _tupled(out["train"]), "test": _tupled(out["test"])})


def _tupled(items: list | None) -> tuple | None:
    return None if items is None else tuple(items)


def _named_entry(table: Any, allowed: set[str], key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The raw table and its checked {name, params}: the part methods and post-processors share."""
    table = _table(table, key)
    _no_unknown(table, allowed, key + ".")
    if "name" not in table:
        raise ConfigError(f"missing key '{key}.name'")
    return table, {"name": _type(table["name"], str, f"{key}.name"),
                   "params": _params(table.get("params", {}), f"{key}.params")}


def _check_listed_once(ident: dict[str, Any], seen: set[str], key: str, what: str) -> None:
    text = json.dumps(ident, sort_keys=True)
    if text in seen:
        raise ConfigError(f"{key}: the same {what} with the same params is listed twice")
    seen.add(text)


def _methods(value: Any) -> tuple[MethodEntry, ...]:
    if value is None:
        raise ConfigError("missing [[methods]]: at least one method to run")
    if not isinstance(value, list) or not value:
        raise ConfigError("methods: expected a non-empty array of tables ([[methods]])")
    out, seen = [], set()
    for i, m in enumerate(value):
        key = f"methods[{i}]"
        m, entry = _named_entry(m, _METHOD_KEYS, key)
        # `cases` and `postprocessors` only narrow the rows (score on these test cases, e.g. masks
        # that exist for some; refine with these [[postprocessors]], checked against that list in
        # `parse`): the same method twice would give the same fit.
        _check_listed_once(entry, seen, key, "method")
        for field_name, what in (("cases", "case ids"), ("postprocessors", "post-processor names")):
            if field_name in m:
                names = m[field_name]
                if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
                    raise ConfigError(f"{key}.{field_name}: expected a non-empty list of {what} (strings)")
                entry[field_name] = tuple(names)
        out.append(MethodEntry(**entry))
    return tuple(out)


def _postprocessors(value: Any) -> tuple[PostprocessorEntry, ...]:
    if not isinstance(value, list):
        raise ConfigError("postprocessors: expected an array of tables ([[postprocessors]])")
    out, seen = [], set()
    for i, pp in enumerate(value):
        key = f"postprocessors[{i}]"
        pp, entry = _named_entry(pp, _PP_KEYS, key)
        entry["tune"] = _type(pp.get("tune", False), bool, f"{key}.tune")
        entry["metric"] = _type(pp.get("metric", "score"), str, f"{key}.metric")
        if entry["metric"] not in tuning_metrics():
            raise ConfigError(f"{key}.metric: unknown metric {entry['metric']!r}; "
                              f"choose one of {', '.join(sorted(tuning_metrics()))}")
        if entry["tune"] and entry["params"]:
            raise ConfigError(f"{key}.params: give either params or tune = true, not both")
        _check_listed_once(entry, seen, key, "post-processor")
        out.append(PostprocessorEntry(**entry))
    # Plain thresholding is always in the grid: every refinement is compared against it.
    # Appended (not prepended) so error messages keep the user's indexes.
    if not any(pp.name == THRESHOLD and not pp.params and not pp.tune for pp in out):
        out.append(PostprocessorEntry(name=THRESHOLD, params={}))
    return tuple(out)


def _execution(value: Any) -> ExecutionConfig:
    table = dict(_table(value, "execution"))
    for key, backend in _MOVED.items():
        if key in table:
            raise ConfigError(f"execution.{key}: a {backend} option; it moved to its own table: "
                              f"[execution.{backend}] {key} = ... (or --set execution.{backend}.{key}=...)")
    backend = _type(table.get("backend", _DEFAULTS["execution"]["backend"]), str, "execution.backend")
    # The backend's own table; any other sub-table is a mistake worth naming.
    options = _params(table.pop(backend, {}), f"execution.{backend}")
    for key, v in table.items():
        if isinstance(v, dict) and key not in _DEFAULTS["execution"]:
            raise ConfigError(f"execution.{key}: options for a backend {key!r}, but execution.backend = {backend!r}")
    _no_unknown(table, _DEFAULTS["execution"], "execution.")
    out = copy.deepcopy(_DEFAULTS["execution"])
    out.update(table)
    for key, (lo, hi) in _EXECUTION_BOUNDS.items():
        if out[key] is None and key == "num_gpus":
            continue
        value = _type(out[key], int, f"execution.{key}")
        if not lo <= value <= hi:
            raise ConfigError(f"execution.{key}: {value} must be {'>= ' + str(lo) if value < lo else '<= ' + str(hi)}")
    _type(out["allow_cpu_fallback"], bool, "execution.allow_cpu_fallback")
    _type(out["save_predictions"], bool, "execution.save_predictions")
    seeds = _type(out["seeds"], list, "execution.seeds")
    if not seeds:
        raise ConfigError("execution.seeds: needs at least one seed")
    for j, s in enumerate(seeds):
        if _type(s, int, f"execution.seeds[{j}]") < 0:
            raise ConfigError(f"execution.seeds[{j}]: {s} must be >= 0")
    if len(set(seeds)) != len(seeds):
        raise ConfigError("execution.seeds: lists a seed twice")
    if len(seeds) > _MAX_SEEDS:
        raise ConfigError(f"execution.seeds: {len(seeds)} seeds; at most {_MAX_SEEDS} (each one repeats every fit)")
    return ExecutionConfig(**{**out, "seeds": tuple(seeds), "options": options})


def _metrics(value: Any) -> MetricsConfig:
    table = _table(value, "metrics")
    _no_unknown(table, _DEFAULTS["metrics"], "metrics.")
    out = copy.deepcopy(_DEFAULTS["metrics"])
    out.update(table)
    _type(out["convention"], str, "metrics.convention")
    from liverbench.metrics.conventions import resolve_convention

    resolve_convention(out["convention"])  # ConfigError naming metrics.convention
    out["nsd_tolerance_mm"] = _type(out["nsd_tolerance_mm"], float, "metrics.nsd_tolerance_mm")
    if out["nsd_tolerance_mm"] <= 0:
        raise ConfigError(f"metrics.nsd_tolerance_mm: {out['nsd_tolerance_mm']} must be > 0")
    if out["refs"] is not None:
        refs = _table(out["refs"], "metrics.refs")
        from liverbench import schema

        _no_unknown(refs, [m.column for m in schema.SLIVER07], "metrics.refs.")  # the scored measures
        out["refs"] = {k: _type(v, float, f"metrics.refs.{k}") for k, v in refs.items()}
        for k, v in out["refs"].items():
            if v <= 0:
                raise ConfigError(f"metrics.refs.{k}: {v} must be > 0")
    return MetricsConfig(**out)


def _plugins(value: Any) -> tuple[str, ...] | None:
    """`[plugins] allow = [...]`: the third-party plugins (or distributions) allowed to load."""
    table = _table(value, "plugins")
    _no_unknown(table, ("allow",), "plugins.")
    allow = table.get("allow")
    if allow is not None:
        _type(allow, list, "plugins.allow")
        for j, n in enumerate(allow):
            _type(n, str, f"plugins.allow[{j}]")
        allow = tuple(allow)
    return allow


def _report(value: Any) -> ReportConfig:
    table = _table(value, "report")
    _no_unknown(table, _REPORT_KEYS, "report.")
    compare = _type(table.get("compare", []), list, "report.compare")
    pairs = []
    for i, item in enumerate(compare):
        key = f"report.compare[{i}]"
        item = _table(item, key)
        _no_unknown(item, _COMPARE_KEYS, key + ".")
        for side in ("a", "b"):
            if side not in item:
                raise ConfigError(f"{key}: missing key {side!r} (an entry as the report names it, "
                                  f"e.g. 'dsn3d + densecrf', or a method alone for its threshold entry)")
            if not _type(item[side], str, f"{key}.{side}").strip():
                raise ConfigError(f"{key}.{side}: must not be empty")
        if item["a"] == item["b"]:
            raise ConfigError(f"{key}: a and b are both {item['a']!r}")
        pairs.append((item["a"], item["b"]))
    return ReportConfig(tuple(pairs), _type(table.get("link_figures", True), bool, "report.link_figures"),
                        _type(table.get("figures_note", ""), str, "report.figures_note"))
