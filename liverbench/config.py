"""The run configuration: one TOML file, CLI overrides, validated before any work starts.

`load_config(path, overrides)` returns the *resolved* config: every default filled in, every
method / post-processor / dataset name checked against the registry, `threshold` always among
the post-processors (so each refinement is compared against no refinement). The resolved dict
is what the run directory stores as `config.json` and what keys are hashed from.

Errors are `ConfigError` naming the key (e.g. ``execution.max_in_flight``), or the registry's
`UnknownNameError` (with near-match suggestions) re-raised as a ConfigError naming the key.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path
from typing import Any, Iterable

from liverbench.errors import ConfigError, UnknownNameError
from liverbench.schema import METRIC_COLUMNS

# The always-present baseline refinement: P >= 0.5.
THRESHOLD = "threshold"

# Defaults per table; a key absent here is unknown. Types are checked against these values
# (int accepted where a float is expected).
_DEFAULTS: dict[str, dict[str, Any]] = {
    "dataset": {"name": None, "params": {}},
    "train_dataset": {"name": None, "params": {}},
    "split": {"kind": "fixed", "test_fraction": 0.33, "val_fraction": 0.2, "k": 5, "seed": 0,
              "train": None, "test": None},
    "execution": {"backend": "local", "address": "", "num_cpus": 2, "num_gpus": None, "retries": 1,
                  "max_in_flight": 4, "allow_cpu_fallback": True, "save_predictions": False,
                  "seeds": [0], "actors_per_model": 0, "flush_every": 8, "refine_in": "auto"},
    "metrics": {"convention": "sliver07", "nsd_tolerance_mm": 1.0, "refs": None},
}
_TOP_LEVEL = {"name", "runs_dir", "dataset", "train_dataset", "split", "methods", "postprocessors",
              "execution", "metrics", "plugins"}
_METHOD_KEYS = {"name", "params", "cases"}
_PP_KEYS = {"name", "params", "tune", "metric"}
_SPLIT_KINDS = ("fixed", "kfold", "loo", "none")
_BACKENDS = ("local", "ray")
# Ray: "auto" = a CPU prediction actor refines + scores its own rows, a GPU one hands them to CPU tasks;
# "tasks" = always CPU tasks.
_REFINE_IN = ("auto", "tasks")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SLIVER07_REF_KEYS = ("voe", "rvd", "asd", "rmsd", "maxd")

# What a tuned refinement may optimise: every metric column, its SLiver07 score, the case score.
TUNING_METRICS = frozenset(METRIC_COLUMNS)

_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
               list: "a list", dict: "a table"}


def load_config(path: str | Path, overrides: Iterable[str] = (), *, check_names: bool = True) -> dict[str, Any]:
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
    return resolve(raw, source=str(path), check_names=check_names)


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


def resolve(raw: dict[str, Any], *, source: str = "<config>", check_names: bool = True) -> dict[str, Any]:
    """Validate a raw config dict and fill in every default. Raises ConfigError naming the key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the config must be a table")
    _no_unknown(raw, _TOP_LEVEL, "")
    cfg: dict[str, Any] = {}

    name = raw.get("name")
    if name is None:
        raise ConfigError("missing key 'name' (the run's name; results go to runs/<name>)")
    _type(name, str, "name")
    if not _NAME_RE.match(name):
        raise ConfigError(f"name: {name!r} must be letters, digits, '-', '_' or '.' (it names a directory)")
    cfg["name"] = name
    cfg["runs_dir"] = _type(raw.get("runs_dir", "runs"), str, "runs_dir")

    if "dataset" not in raw:
        raise ConfigError("missing table [dataset] (the cases that are scored)")
    cfg["dataset"] = _dataset(raw["dataset"], "dataset")
    cfg["train_dataset"] = _dataset(raw["train_dataset"], "train_dataset") if "train_dataset" in raw else None

    cfg["split"] = _split(raw.get("split", {}), has_train_dataset=cfg["train_dataset"] is not None)
    cfg["methods"] = _methods(raw.get("methods"))
    cfg["postprocessors"] = _postprocessors(raw.get("postprocessors", []))
    cfg["execution"] = _execution(raw.get("execution", {}))
    cfg["metrics"] = _metrics(raw.get("metrics", {}))
    cfg["plugins"] = _plugins(raw.get("plugins", {}))

    if cfg["split"]["kind"] == "none" and cfg["train_dataset"] is None:
        for i, pp in enumerate(cfg["postprocessors"]):
            if pp["tune"]:
                raise ConfigError(f"postprocessors[{i}].tune: tuning needs training cases, but split.kind = 'none'")
    if check_names:
        check_registered(cfg)
    return cfg


def check_registered(cfg: dict[str, Any]) -> None:
    """Every name must resolve in the registry, and every params table must construct."""
    from liverbench import registry

    if cfg.get("plugins", {}).get("allow") is not None:
        registry.set_allow_list(cfg["plugins"]["allow"])

    def load(kind: str, name: str, key: str):
        getter = {"segmenter": registry.get_segmenter, "postprocessor": registry.get_postprocessor,
                  "dataset": registry.get_dataset}[kind]
        try:
            return getter(name)
        except UnknownNameError as exc:
            raise ConfigError(f"{key}: {exc}") from exc
        except Exception as exc:  # a plugin that cannot be imported is a config problem too
            raise ConfigError(f"{key}: {kind} {name!r} could not be loaded: {type(exc).__name__}: {exc}") from exc

    for table in ("dataset", "train_dataset"):
        if cfg[table] is not None:
            cls = load("dataset", cfg[table]["name"], f"{table}.name")
            check_params(cls, cfg[table]["params"], f"{table}.params")  # opened (scanned) in prepare()
    for i, m in enumerate(cfg["methods"]):
        cls = load("segmenter", m["name"], f"methods[{i}].name")
        _construct(cls, m["params"], f"methods[{i}].params")
    for i, pp in enumerate(cfg["postprocessors"]):
        cls = load("postprocessor", pp["name"], f"postprocessors[{i}].name")
        if not pp["tune"]:
            _construct(cls, pp["params"], f"postprocessors[{i}].params")


def _construct(cls: type, params: dict[str, Any], key: str) -> None:
    """The declared checks (`param_checks`), then the constructor itself: the neural methods
    resolve their preset and check the result there (`_check_config`). Plugins keep __init__
    cheap (no weights are loaded there), so this costs nothing before the work."""
    from liverbench.plugin import ParamError

    check_params(cls, params, key)
    try:
        cls(**params)
    except ParamError as exc:
        raise ConfigError(f"{key}.{exc.param}: {exc.problem}") from exc
    except Exception as exc:
        raise ConfigError(f"{key}: {cls.__name__} rejected {params!r}: {type(exc).__name__}: {exc}") from exc


def check_params(cls: type, params: dict[str, Any], key: str) -> None:
    from liverbench.plugin import check_params as check

    check(cls, params, key)


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


def _dataset(value: Any, key: str) -> dict[str, Any]:
    table = _table(value, key)
    _no_unknown(table, _DEFAULTS["dataset"], key + ".")
    if "name" not in table:
        raise ConfigError(f"missing key '{key}.name'")
    return {"name": _type(table["name"], str, f"{key}.name"),
            "params": _params(table.get("params", {}), f"{key}.params")}


def _split(value: Any, has_train_dataset: bool) -> dict[str, Any]:
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
    if not 0.0 < out["test_fraction"] < 1.0:
        raise ConfigError(f"split.test_fraction: {out['test_fraction']} must be between 0 and 1 (exclusive)")
    if not 0.0 <= out["val_fraction"] < 1.0:
        raise ConfigError(f"split.val_fraction: {out['val_fraction']} must be in [0, 1)")
    if kind == "kfold" and out["k"] < 2:
        raise ConfigError(f"split.k: {out['k']} folds; k-fold needs k >= 2")
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
    return out


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


def _methods(value: Any) -> list[dict[str, Any]]:
    if value is None:
        raise ConfigError("missing [[methods]]: at least one method to run")
    if not isinstance(value, list) or not value:
        raise ConfigError("methods: expected a non-empty array of tables ([[methods]])")
    out, seen = [], set()
    for i, m in enumerate(value):
        key = f"methods[{i}]"
        m, entry = _named_entry(m, _METHOD_KEYS, key)
        # `cases` only narrows the rows; the same method twice would give the same fit and rows.
        _check_listed_once(entry, seen, key, "method")
        if "cases" in m:  # score this method on these test cases only (e.g. masks that exist for some)
            cases = m["cases"]
            if not isinstance(cases, list) or not cases or not all(isinstance(c, str) for c in cases):
                raise ConfigError(f"{key}.cases: expected a non-empty list of case ids (strings)")
            entry["cases"] = cases
        out.append(entry)
    return out


def _postprocessors(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ConfigError("postprocessors: expected an array of tables ([[postprocessors]])")
    out, seen = [], set()
    for i, pp in enumerate(value):
        key = f"postprocessors[{i}]"
        pp, entry = _named_entry(pp, _PP_KEYS, key)
        entry["tune"] = _type(pp.get("tune", False), bool, f"{key}.tune")
        entry["metric"] = _type(pp.get("metric", "score"), str, f"{key}.metric")
        if entry["metric"] not in TUNING_METRICS:
            raise ConfigError(f"{key}.metric: unknown metric {entry['metric']!r}; "
                              f"choose one of {', '.join(sorted(TUNING_METRICS))}")
        if entry["tune"] and entry["params"]:
            raise ConfigError(f"{key}.params: give either params or tune = true, not both")
        _check_listed_once(entry, seen, key, "post-processor")
        out.append(entry)
    # Plain thresholding is always in the grid: every refinement is compared against it.
    # Appended (not prepended) so error messages keep the user's indexes.
    if not any(pp["name"] == THRESHOLD and not pp["params"] and not pp["tune"] for pp in out):
        out.append({"name": THRESHOLD, "params": {}, "tune": False, "metric": "score"})
    return out


def _execution(value: Any) -> dict[str, Any]:
    table = _table(value, "execution")
    _no_unknown(table, _DEFAULTS["execution"], "execution.")
    out = copy.deepcopy(_DEFAULTS["execution"])
    out.update(table)
    if _type(out["backend"], str, "execution.backend") not in _BACKENDS:
        raise ConfigError(f"execution.backend: {out['backend']!r} is not one of {', '.join(_BACKENDS)}")
    _type(out["address"], str, "execution.address")
    for key, lo in (("num_cpus", 1), ("retries", 0), ("max_in_flight", 1), ("actors_per_model", 0), ("flush_every", 1)):
        if _type(out[key], int, f"execution.{key}") < lo:
            raise ConfigError(f"execution.{key}: {out[key]} must be >= {lo}")
    if out["num_gpus"] is not None and _type(out["num_gpus"], int, "execution.num_gpus") < 0:
        raise ConfigError(f"execution.num_gpus: {out['num_gpus']} must be >= 0")
    if _type(out["refine_in"], str, "execution.refine_in") not in _REFINE_IN:
        raise ConfigError(f"execution.refine_in: {out['refine_in']!r} is not one of {', '.join(_REFINE_IN)}")
    _type(out["allow_cpu_fallback"], bool, "execution.allow_cpu_fallback")
    _type(out["save_predictions"], bool, "execution.save_predictions")
    seeds = _type(out["seeds"], list, "execution.seeds")
    if not seeds:
        raise ConfigError("execution.seeds: needs at least one seed")
    for j, s in enumerate(seeds):
        _type(s, int, f"execution.seeds[{j}]")
    if len(set(seeds)) != len(seeds):
        raise ConfigError("execution.seeds: lists a seed twice")
    out["seeds"] = list(seeds)
    return out


def _metrics(value: Any) -> dict[str, Any]:
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
        _no_unknown(refs, _SLIVER07_REF_KEYS, "metrics.refs.")
        out["refs"] = {k: _type(v, float, f"metrics.refs.{k}") for k, v in refs.items()}
        for k, v in out["refs"].items():
            if v <= 0:
                raise ConfigError(f"metrics.refs.{k}: {v} must be > 0")
    return out


def _plugins(value: Any) -> dict[str, Any]:
    """`[plugins] allow = [...]`: the third-party plugins (or distributions) allowed to load."""
    table = _table(value, "plugins")
    _no_unknown(table, ("allow",), "plugins.")
    allow = table.get("allow")
    if allow is not None:
        _type(allow, list, "plugins.allow")
        for j, n in enumerate(allow):
            _type(n, str, f"plugins.allow[{j}]")
        allow = list(allow)
    return {"allow": allow}


def save_config(cfg: dict[str, Any], path: Path) -> None:
    from liverbench.store import atomic_write_text

    atomic_write_text(Path(path), json.dumps(cfg, indent=2, sort_keys=True) + "\n")
