"""The plugin registry: segmenters, post-processors and datasets found through entry points.

Every plugin, built-in or third-party, is an entry point in one of four groups::

    [project.entry-points."liverbench.segmenters"]
    my-method = "my_package.module:MyMethod"

Groups: `liverbench.segmenters`, `liverbench.postprocessors`, `liverbench.datasets`,
`liverbench.backends` (where units run: `liverbench.backends.base`).

- Lazy: `names()` and `describe(load=False)` read installed package metadata only; no plugin
  module is imported until `get_segmenter(name)` (or `get_postprocessor` / `get_dataset`) asks
  for that one name. The loaded class is checked (subclass of the protocol in
  `liverbench.plugins.base`, `name` and `version` declared, resources typed) and cached.
- Provenance: `provenance(kind, name)` says which distribution and version supplied a name
  (`"in-process"` for `register()`), so result rows and reports can say where a method came from.
- Collisions: one name offered by two distributions is an error naming both (raised when the
  name is used, so listing still works and shows it). The same distribution seen twice on
  `sys.path` (an editable install next to a stale `*.egg-info`) is not a collision.
- Restriction, in the manner of pytest's `PYTEST_DISABLE_PLUGIN_AUTOLOAD` and `-p`:
  built-ins (entry points of the `liverbench` distribution itself) and in-process
  registrations always load. Third-party plugins load when autoloading is on (the default) and
  no allow-list is set. `LIVERBENCH_PLUGIN_AUTOLOAD=0` turns autoloading off; an allow-list
  (`set_allow_list([...])`, the run config's `[plugins] allow = [...]`, or the environment
  variable `LIVERBENCH_PLUGINS=a,b`) then names the third-party plugins that may load, by plugin
  name or by distribution name. An allow-list restricts third-party loading whether or not
  autoloading is on. `set_allow_list` takes precedence over the environment variable.
- `register(kind, name, cls)` / `unregister(kind, name)` serve notebooks and tests.

In-process registrations live in this process only; that is enough for runs because the runner
resolves every class in the driver and ships the class itself to its workers.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import inspect
import os
import re
import threading
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from liverbench.backends.base import Backend
from liverbench.errors import RegistryError, UnknownNameError
from liverbench.plugins.base import Dataset, PostProcessor, Resources, Segmenter

KINDS = ("segmenter", "postprocessor", "dataset", "backend")
GROUPS = {
    "segmenter": "liverbench.segmenters",
    "postprocessor": "liverbench.postprocessors",
    "dataset": "liverbench.datasets",
    "backend": "liverbench.backends",
}
PROTOCOLS: dict[str, type] = {"segmenter": Segmenter, "postprocessor": PostProcessor, "dataset": Dataset,
                              "backend": Backend}
LABELS = {"segmenter": "segmenter", "postprocessor": "post-processor", "dataset": "dataset",
          "backend": "execution backend"}

BUILTIN_DISTRIBUTION = "liverbench"
IN_PROCESS = "in-process"
AUTOLOAD_ENV = "LIVERBENCH_PLUGIN_AUTOLOAD"
ALLOW_ENV = "LIVERBENCH_PLUGINS"

_KIND_ALIASES = {
    **{k: k for k in KINDS},
    **{GROUPS[k]: k for k in KINDS},
    "segmenters": "segmenter",
    "method": "segmenter",
    "methods": "segmenter",
    "postprocessors": "postprocessor",
    "post-processor": "postprocessor",
    "post-processors": "postprocessor",
    "refinement": "postprocessor",
    "datasets": "dataset",
    "backends": "backend",
    "executor": "backend",
}


class PluginNotAllowedError(RegistryError):
    """A plugin that is installed but excluded by the autoload switch or the allow-list."""


@dataclass(frozen=True)
class Source:
    """Where one name of one kind comes from: an entry point of a distribution, or `register()`."""

    kind: str
    name: str
    distribution: str
    distribution_version: str | None
    entry_point: str | None  # "module:attr"; None for in-process registrations
    loader: Any = None  # the importlib.metadata.EntryPoint, or the registered class itself

    @property
    def is_builtin(self) -> bool:
        return _canonical(self.distribution) == BUILTIN_DISTRIBUTION

    @property
    def is_in_process(self) -> bool:
        return self.distribution == IN_PROCESS

    def describe_origin(self) -> str:
        if self.is_in_process:
            return "registered in-process"
        version = f" {self.distribution_version}" if self.distribution_version else ""
        return f"distribution {self.distribution}{version} (entry point {self.entry_point!r})"


def _canonical(distribution_name: str) -> str:
    """PEP 503 normalisation, so `My_Pkg` and `my-pkg` are one distribution."""
    return re.sub(r"[-_.]+", "-", distribution_name).lower()


def _kind(kind: str) -> str:
    try:
        return _KIND_ALIASES[kind]
    except (KeyError, TypeError):
        raise UnknownNameError(f"unknown plugin kind {kind!r}; use one of: {', '.join(KINDS)}") from None


def _env_autoload() -> bool:
    return os.environ.get(AUTOLOAD_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


def _parse_names(text: str) -> frozenset[str]:
    return frozenset(part for part in re.split(r"[,\s]+", text) if part)


def _resources_dict(value: Any) -> dict[str, float] | None:
    return asdict(value) if isinstance(value, Resources) else None


class Registry:
    """Discovery, policy, loading and caching. The module-level functions use one shared instance."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._discovered: dict[str, dict[str, list[Source]]] | None = None
        self._registered: dict[str, dict[str, Source]] = {k: {} for k in KINDS}
        self._loaded: dict[tuple[str, str], type] = {}
        self._allow: frozenset[str] | None = None

    # ---------------------------------------------------------------- discovery (no imports)
    def refresh(self) -> None:
        """Forget what was discovered and loaded (after installing a package in-process, in tests)."""
        with self._lock:
            self._discovered = None
            self._loaded.clear()

    def _discover(self) -> dict[str, dict[str, list[Source]]]:
        with self._lock:
            if self._discovered is None:
                found: dict[str, dict[str, list[Source]]] = {k: {} for k in KINDS}
                for kind in KINDS:
                    seen: set[tuple[str, str, str]] = set()
                    for ep in importlib.metadata.entry_points(group=GROUPS[kind]):
                        dist = getattr(ep, "dist", None)
                        dist_name = (dist.metadata["Name"] if dist is not None else None) or "unknown"
                        key = (_canonical(dist_name), ep.name, ep.value)
                        if key in seen:  # one distribution visible twice on sys.path
                            continue
                        seen.add(key)
                        version = dist.version if dist is not None else None
                        found[kind].setdefault(ep.name, []).append(
                            Source(kind, ep.name, dist_name, version, ep.value, ep)
                        )
                self._discovered = found
            return self._discovered

    def _sources(self, kind: str, name: str) -> list[Source]:
        """Everything offering `name`: the in-process registration shadows entry points."""
        registered = self._registered[kind].get(name)
        if registered is not None:
            return [registered]
        return list(self._discover()[kind].get(name, ()))

    def _all_names(self, kind: str) -> set[str]:
        return set(self._discover()[kind]) | set(self._registered[kind])

    # ---------------------------------------------------------------- policy
    def set_allow_list(self, names: Iterable[str] | None) -> None:
        """Names (plugin or distribution names) of third-party plugins that may load; None: no list.

        Built-ins and in-process registrations are always allowed. A list set here takes
        precedence over the `LIVERBENCH_PLUGINS` environment variable.
        """
        with self._lock:
            if isinstance(names, str):
                names = _parse_names(names)
            self._allow = None if names is None else frozenset(str(n) for n in names)

    def allow_list(self) -> frozenset[str] | None:
        """The allow-list in force: `set_allow_list`'s, else `LIVERBENCH_PLUGINS`'s, else None."""
        if self._allow is not None:
            return self._allow
        env = os.environ.get(ALLOW_ENV)
        return _parse_names(env) if env is not None and env.strip() else None

    def _refusal(self, source: Source) -> str | None:
        """Why `source` may not load, or None when it may."""
        if source.is_builtin or source.is_in_process:
            return None
        allow = self.allow_list()
        how = (
            f'add it to the run config\'s [plugins] allow = ["{source.name}"], or set '
            f"{ALLOW_ENV}={source.name} (a plugin or distribution name; comma-separated)"
        )
        if allow is not None:
            if source.name in allow or _canonical(source.distribution) in {_canonical(a) for a in allow}:
                return None
            listed = ", ".join(sorted(allow)) or "empty"
            return f"it is not in the plugin allow-list ({listed}); to allow it, {how}"
        if not _env_autoload():
            return (
                f"third-party plugin autoloading is off ({AUTOLOAD_ENV}=0); to allow it, {how}, "
                f"or unset {AUTOLOAD_ENV}"
            )
        return None

    # ---------------------------------------------------------------- listing (no imports)
    def names(self, kind: str, include_blocked: bool = False) -> list[str]:
        """Sorted names of one kind that may load (all installed ones with include_blocked)."""
        kind = _kind(kind)
        with self._lock:
            out = []
            for name in self._all_names(kind):
                sources = self._sources(kind, name)
                if include_blocked or any(self._refusal(s) is None for s in sources):
                    out.append(name)
            return sorted(out)

    def provenance(self, kind: str, name: str) -> dict[str, str | None]:
        """{"distribution", "version", "entry_point"} of the package that supplies `name`."""
        kind = _kind(kind)
        source = self._one_source(kind, name)
        return {
            "distribution": source.distribution,
            "version": source.distribution_version,
            "entry_point": source.entry_point,
        }

    def _candidates(self, kind: str, name: str) -> list[Source]:
        """The sources that compete for `name`: those allowed to load, or all when none is.

        So a blocked third-party package that reuses a built-in's name does not break the built-in.
        """
        with self._lock:
            sources = self._sources(kind, name)
        allowed = [s for s in sources if self._refusal(s) is None]
        return allowed or sources

    def _one_source(self, kind: str, name: str) -> Source:
        sources = self._candidates(kind, name)
        if not sources:
            raise self._unknown(kind, name)
        if len(sources) > 1:
            offers = "; ".join(s.describe_origin() for s in sources)
            raise RegistryError(
                f"{LABELS[kind]} name {name!r} is provided by more than one distribution: {offers}. "
                f"Uninstall one of them, or ask its author to rename the entry point."
            )
        return sources[0]

    def _unknown(self, kind: str, name: str) -> UnknownNameError:
        label = LABELS[kind]
        known = sorted(self.names(kind))
        folded = {k.lower().replace("_", "-"): k for k in known}
        suggestions = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        exact_fold = folded.get(str(name).lower().replace("_", "-"))
        if exact_fold and exact_fold not in suggestions:
            suggestions.insert(0, exact_fold)
        message = f"unknown {label} {name!r}."
        if suggestions:
            message += f" Did you mean {' or '.join(repr(s) for s in suggestions)}?"
        elsewhere = [LABELS[k] for k in KINDS if k != kind and name in self._all_names(k)]
        if elsewhere:
            message += f" {name!r} is a {' and a '.join(elsewhere)}, not a {label}."
        message += f" Known {label}s: {', '.join(known) or 'none'}."
        blocked = sorted(set(self.names(kind, include_blocked=True)) - set(known))
        if blocked:
            message += f" Installed but not allowed: {', '.join(blocked)}."
        message += " `liverbench methods` lists them with the package that supplies each."
        return UnknownNameError(message)

    # ---------------------------------------------------------------- loading
    def get(self, kind: str, name: str) -> type:
        """Load, check and cache the class registered as `name`."""
        kind = _kind(kind)
        source = self._one_source(kind, name)
        refusal = self._refusal(source)
        if refusal is not None:
            raise PluginNotAllowedError(
                f"{LABELS[kind]} {name!r} from {source.describe_origin()} is not allowed to load: {refusal}"
            )
        with self._lock:
            cached = self._loaded.get((kind, name))
            if cached is not None:
                return cached
            if source.is_in_process:
                obj = source.loader
            else:
                try:
                    obj = source.loader.load()
                except Exception as exc:  # an import error inside a plugin names the plugin
                    raise RegistryError(
                        f"cannot load {LABELS[kind]} {name!r} from {source.describe_origin()}: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                validate_plugin(kind, name, obj, origin=source.describe_origin())
            self._loaded[(kind, name)] = obj
            return obj

    # ---------------------------------------------------------------- in-process registration
    def register(self, kind: str, name: str, obj: type, *, replace: bool = False) -> type:
        """Register `obj` under `name` in this process (notebooks, tests); returns `obj`.

        A name that an installed distribution or an earlier `register()` already provides is an
        error unless `replace=True` (the in-process class then shadows it).
        """
        kind = _kind(kind)
        validate_plugin(kind, name, obj, origin=IN_PROCESS)
        with self._lock:
            existing = self._sources(kind, name)
            if existing and not replace:
                raise RegistryError(
                    f"cannot register {LABELS[kind]} {name!r} in-process: it is already provided by "
                    f"{'; '.join(s.describe_origin() for s in existing)}. Pass replace=True to shadow it, "
                    f"or choose another name."
                )
            self._registered[kind][name] = Source(kind, name, IN_PROCESS, None, None, obj)
            self._loaded.pop((kind, name), None)
        return obj

    def unregister(self, kind: str, name: str) -> None:
        """Remove an in-process registration (entry points cannot be unregistered)."""
        kind = _kind(kind)
        with self._lock:
            if name not in self._registered[kind]:
                raise UnknownNameError(
                    f"no in-process {LABELS[kind]} named {name!r}; registered in-process: "
                    f"{', '.join(sorted(self._registered[kind])) or 'none'}"
                )
            del self._registered[kind][name]
            self._loaded.pop((kind, name), None)

    # ---------------------------------------------------------------- describe
    def describe(self, kind: str | None = None, load: bool = True) -> list[dict[str, Any]]:
        """One row per installed name: where it comes from, what it declares, why it cannot load.

        With `load=False` nothing is imported and the declared fields are None. Load errors,
        collisions and refusals go in the `error` column instead of raising.
        """
        kinds = KINDS if kind is None else (_kind(kind),)
        rows = []
        for k in kinds:
            for name in self.names(k, include_blocked=True):
                sources = self._candidates(k, name)
                first = sources[0]
                row: dict[str, Any] = {
                    "kind": k,
                    "name": name,
                    "distribution": first.distribution,
                    "distribution_version": first.distribution_version,
                    "entry_point": first.entry_point,
                    "version": None,
                    "trainable": None,
                    "fit_resources": None,
                    "predict_resources": None,
                    "resources": None,
                    "allowed": True,
                    "error": "",
                }
                if len(sources) > 1:
                    row["distribution"] = ", ".join(s.distribution for s in sources)
                    row["distribution_version"] = ", ".join(str(s.distribution_version) for s in sources)
                    row["entry_point"] = ", ".join(str(s.entry_point) for s in sources)
                try:
                    if len(sources) > 1:
                        self._one_source(k, name)  # raises the collision error
                    refusal = self._refusal(first)
                    if refusal is not None:
                        row["allowed"] = False
                        row["error"] = f"not allowed: {refusal}"
                    elif load:
                        row.update(_declared(k, self.get(k, name)))
                except Exception as exc:  # noqa: BLE001 -- a listing shows every broken plugin
                    row["error"] = _error_cell(exc)
                rows.append(row)
        return rows


def _error_cell(exc: BaseException) -> str:
    """The error for a listing row, which already names the plugin and its distribution."""
    if isinstance(exc, RegistryError) and exc.__cause__ is not None:  # the plugin failed to import
        cause = exc.__cause__
        return f"cannot load: {type(cause).__name__}: {cause}"
    return str(exc) if isinstance(exc, RegistryError) else f"{type(exc).__name__}: {exc}"


def _declared(kind: str, cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {"version": getattr(cls, "version", None)}
    if kind == "segmenter":
        out["trainable"] = bool(cls.trainable)
        out["fit_resources"] = _resources_dict(cls.fit_resources)
        out["predict_resources"] = _resources_dict(cls.predict_resources)
    elif kind == "postprocessor":
        out["resources"] = _resources_dict(cls.resources)
    return out


def validate_plugin(kind: str, name: str, obj: Any, origin: str = IN_PROCESS) -> None:
    """Raise RegistryError unless `obj` is a concrete subclass of the kind's protocol that declares
    its `name` (equal to the registered name), `version` and typed resources."""
    kind = _kind(kind)
    protocol = PROTOCOLS[kind]
    where = f"{LABELS[kind]} {name!r} ({origin})"
    if not inspect.isclass(obj):
        raise RegistryError(
            f"{where} is {type(obj).__name__} {obj!r}, not a class; the entry point must name a subclass "
            f"of liverbench.plugins.base.{protocol.__name__}"
        )
    qual = f"{obj.__module__}.{obj.__qualname__}"
    if not issubclass(obj, protocol):
        raise RegistryError(f"{where}: {qual} must subclass liverbench.plugins.base.{protocol.__name__}")
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(obj.__abstractmethods__))
        raise RegistryError(f"{where}: {qual} does not implement the abstract method(s) {missing}")
    declared = getattr(obj, "name", None)
    if not isinstance(declared, str) or not declared:
        raise RegistryError(f"{where}: {qual} must declare a class attribute name = {name!r}")
    if declared != name:
        raise RegistryError(
            f"{where}: {qual} declares name = {declared!r} but is registered as {name!r}; "
            f"make them equal (results are stored under the name)"
        )
    if kind in ("segmenter", "postprocessor"):
        version = getattr(obj, "version", None)
        if not isinstance(version, str) or not version.strip():
            raise RegistryError(
                f'{where}: {qual} must declare a class attribute version = "1" (a non-empty string; '
                f"bump it when its results would change), got {version!r}"
            )
    if kind == "segmenter":
        if not isinstance(obj.trainable, bool):
            raise RegistryError(f"{where}: {qual}.trainable must be True or False, got {obj.trainable!r}")
        for attr in ("fit_resources", "predict_resources"):
            if not isinstance(getattr(obj, attr), Resources):
                raise RegistryError(
                    f"{where}: {qual}.{attr} must be a liverbench.plugins.base.Resources, got {getattr(obj, attr)!r}"
                )
    if kind == "postprocessor":
        if not isinstance(obj.resources, Resources):
            raise RegistryError(
                f"{where}: {qual}.resources must be a liverbench.plugins.base.Resources, got {obj.resources!r}"
            )
        wants = obj.wants
        if not isinstance(wants, (tuple, list)) or not all(isinstance(w, str) for w in wants):
            raise RegistryError(f"{where}: {qual}.wants must be a tuple of extra-map names, got {wants!r}")


# ---------------------------------------------------------------- the shared instance
_REGISTRY = Registry()


def names(kind: str, include_blocked: bool = False) -> list[str]:
    """Sorted names of `kind` ("segmenter", "postprocessor", "dataset"); imports no plugin module."""
    return _REGISTRY.names(kind, include_blocked)


def get(kind: str, name: str) -> type:
    return _REGISTRY.get(kind, name)


def get_segmenter(name: str) -> type[Segmenter]:
    return _REGISTRY.get("segmenter", name)


def get_postprocessor(name: str) -> type[PostProcessor]:
    return _REGISTRY.get("postprocessor", name)


def get_dataset(name: str) -> type[Dataset]:
    return _REGISTRY.get("dataset", name)


def provenance(kind: str, name: str) -> dict[str, str | None]:
    return _REGISTRY.provenance(kind, name)


def register(kind: str, name: str, obj: type, *, replace: bool = False) -> type:
    return _REGISTRY.register(kind, name, obj, replace=replace)


def unregister(kind: str, name: str) -> None:
    _REGISTRY.unregister(kind, name)


def set_allow_list(names: Iterable[str] | None) -> None:
    _REGISTRY.set_allow_list(names)


def allow_list() -> frozenset[str] | None:
    return _REGISTRY.allow_list()


def refresh() -> None:
    _REGISTRY.refresh()


def describe(kind: str | None = None, load: bool = True) -> list[dict[str, Any]]:
    return _REGISTRY.describe(kind, load)


def _format_resources(res: dict[str, float] | None) -> str:
    if not res:
        return ""
    gpus = res["num_gpus"]
    text = f"{res['num_cpus']:g} CPU"
    if gpus:
        text += f", {gpus:g} GPU"
    return text + f", {res['memory_gb']:g} GB"


def format_methods_table(rows: list[dict[str, Any]]) -> str:
    """`describe()` rows as the plain-text table `liverbench methods` prints, one block per kind."""
    headers = ("name", "version", "distribution", "trainable", "resources", "error")
    blocks = []
    for kind in KINDS:
        kind_rows = [r for r in rows if r["kind"] == kind]
        if not kind_rows:
            continue
        table = []
        for r in kind_rows:
            dist = r["distribution"] + (f" {r['distribution_version']}" if r.get("distribution_version") else "")
            if kind == "segmenter":
                fit, pred = _format_resources(r.get("fit_resources")), _format_resources(r.get("predict_resources"))
                resources = f"fit {fit}; predict {pred}" if fit or pred else ""
                trainable = "" if r.get("trainable") is None else ("yes" if r["trainable"] else "no")
            else:
                resources, trainable = _format_resources(r.get("resources")), ""
            error = " ".join(str(r.get("error") or "").split())
            if len(error) > 200:
                error = error[:197] + "..."
            table.append((r["name"], r.get("version") or "", dist, trainable, resources, error))
        shown = [h for i, h in enumerate(headers) if any(row[i] for row in table) or h in ("name", "distribution")]
        idx = [headers.index(h) for h in shown]
        widths = [max(len(headers[i]), *(len(row[i]) for row in table)) for i in idx]
        lines = [f"{LABELS[kind]}s ({len(table)})"]
        lines.append("  " + "  ".join(headers[i].ljust(w) for i, w in zip(idx, widths)).rstrip())
        for row in table:
            lines.append("  " + "  ".join(row[i].ljust(w) for i, w in zip(idx, widths)).rstrip())
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else "no plugins installed"
