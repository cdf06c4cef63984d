"""The plugin registry: laziness, provenance, collisions, restriction, unknown names, register().

Third-party packages are simulated by real `*.dist-info` directories on a temporary `sys.path`
entry, so discovery goes through importlib.metadata exactly as for an installed package.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import itertools
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import liverbench
from liverbench.errors import RegistryError, UnknownNameError
from liverbench.plugins import registry
from liverbench.plugins.base import PostProcessor, Prediction, Resources, Segmenter

BUILTIN_SEGMENTERS = {"intensity", "cnn3d", "dsn3d", "di2in", "di2in-adv"}
BUILTIN_POSTPROCESSORS = {"threshold", "largest-component", "densecrf", "graphcut"}
_counter = itertools.count()

SEGMENTER_SOURCE = '''
import numpy as np
from liverbench.plugins.base import Prediction, Resources, Segmenter

class {cls}(Segmenter):
    name = {name!r}
    version = "7"
    trainable = False
    predict_resources = Resources(num_cpus=2, memory_gb=1.5)

    def predict(self, image, ctx):
        return Prediction((image.array > 0).astype(np.float32))

    def save(self, directory):
        pass

    @classmethod
    def load(cls, directory):
        return cls()
'''


@pytest.fixture
def reg(monkeypatch):
    """A fresh shared registry (module-level functions use it), no restriction from the environment."""
    monkeypatch.delenv(registry.AUTOLOAD_ENV, raising=False)
    monkeypatch.delenv(registry.ALLOW_ENV, raising=False)
    monkeypatch.setattr(registry, "_REGISTRY", registry.Registry())
    return registry


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A directory on sys.path where fake distributions are installed; cleaned up afterwards."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    created_modules: list[str] = []

    def install(dist: str, version: str, entry_points: dict[str, dict[str, str]], modules: dict[str, str] = {}) -> Path:
        info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8")
        lines = []
        for group, entries in entry_points.items():
            lines.append(f"[{group}]")
            lines += [f"{name} = {value}" for name, value in entries.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        for module, source in modules.items():
            (root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
            created_modules.append(module)
        importlib.invalidate_caches()
        registry.refresh()
        return info

    install.root = root
    yield install
    for module in created_modules:
        sys.modules.pop(module, None)


def unique_module(prefix: str = "acme_plugin") -> str:
    return f"{prefix}_{next(_counter)}_{id(object())}"


def install_acme(site, name: str = "acme", dist: str = "acme-liver", version: str = "2.3.1") -> str:
    module = unique_module()
    site(dist, version, {"liverbench.segmenters": {name: f"{module}:Acme"}},
         {module: SEGMENTER_SOURCE.format(cls="Acme", name=name)})
    return module


# ------------------------------------------------------------------ discovery and laziness
def test_builtins_are_listed_with_the_liverbench_distribution(reg):
    assert BUILTIN_SEGMENTERS <= set(reg.names("segmenter"))
    assert BUILTIN_POSTPROCESSORS <= set(reg.names("postprocessor"))
    assert {"synthetic", "sliver07", "nifti-folder", "manifest"} <= set(reg.names("dataset"))
    prov = reg.provenance("segmenter", "dsn3d")
    assert prov == {"distribution": "liverbench", "version": importlib.metadata.version("liverbench"),
                    "entry_point": "baselines.dou_dsn:DSN3D"}
    assert reg.names("segmenter") == sorted(reg.names("segmenter"))


def test_listing_and_provenance_import_no_plugin_module():
    """In a fresh interpreter: names(), describe(load=False) and provenance() import no plugin module."""
    script = textwrap.dedent("""
        import importlib.metadata, json, sys
        from liverbench.plugins import registry
        for kind in registry.KINDS:
            for name in registry.names(kind):
                registry.provenance(kind, name)
        rows = registry.describe(load=False)
        modules = sorted({ep.value.split(":")[0] for g in registry.GROUPS.values()
                          for ep in importlib.metadata.entry_points(group=g)})
        print(json.dumps({"rows": len(rows), "modules": modules,
                          "imported": [m for m in modules if m in sys.modules]}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "baselines.dou_dsn" in result["modules"]
    assert result["rows"] >= len(BUILTIN_SEGMENTERS | BUILTIN_POSTPROCESSORS)
    assert result["imported"] == []


def test_get_loads_checks_caches_and_records_provenance(reg, site):
    module = install_acme(site)
    assert "acme" in reg.names("segmenter")
    assert module not in sys.modules, "listing must not import the plugin"
    assert reg.provenance("segmenter", "acme") == {
        "distribution": "acme-liver", "version": "2.3.1", "entry_point": f"{module}:Acme"}
    assert module not in sys.modules

    cls = reg.get_segmenter("acme")
    assert module in sys.modules
    assert issubclass(cls, Segmenter) and cls.name == "acme"
    assert reg.get_segmenter("acme") is cls
    assert reg.get("segmenters", "acme") is cls  # kind aliases: plural and group names

    row = next(r for r in reg.describe("segmenter") if r["name"] == "acme")
    assert row["distribution"] == "acme-liver" and row["distribution_version"] == "2.3.1"
    assert row["version"] == "7" and row["trainable"] is False and row["error"] == ""
    assert row["predict_resources"] == {"num_cpus": 2, "num_gpus": 0.0, "memory_gb": 1.5}


def test_same_distribution_seen_twice_is_not_a_collision(reg, site, tmp_path, monkeypatch):
    module = install_acme(site)
    # An editable install next to a copy of the same metadata elsewhere on sys.path.
    twin = tmp_path / "twin"
    twin.mkdir()
    info = next(site.root.glob("acme_liver-*.dist-info"))
    (twin / info.name).mkdir()
    for f in info.iterdir():
        (twin / info.name / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.syspath_prepend(str(twin))
    importlib.invalidate_caches()
    reg.refresh()
    assert reg.get_segmenter("acme").__module__ == module


def test_same_name_from_two_distributions_fails_naming_both(reg, site):
    install_acme(site, name="dup", dist="acme-liver")
    install_acme(site, name="dup", dist="other-lab-methods", version="0.9")
    assert "dup" in reg.names("segmenter")  # listing still works and shows it
    with pytest.raises(RegistryError) as info:
        reg.get_segmenter("dup")
    message = str(info.value)
    assert "acme-liver 2.3.1" in message and "other-lab-methods 0.9" in message and "'dup'" in message
    with pytest.raises(RegistryError, match="more than one distribution"):
        reg.provenance("segmenter", "dup")
    row = next(r for r in reg.describe("segmenter") if r["name"] == "dup")
    assert "acme-liver" in row["error"] and "other-lab-methods" in row["error"]
    assert row["distribution"] == "acme-liver, other-lab-methods"
    reg.set_allow_list(["acme-liver"])  # allowing one of them settles it
    assert reg.provenance("segmenter", "dup")["distribution"] == "acme-liver"
    assert reg.get_segmenter("dup").name == "dup"


def test_third_party_name_colliding_with_a_builtin_fails(reg, site, monkeypatch):
    install_acme(site, name="intensity", dist="shadowing-pkg")
    with pytest.raises(RegistryError, match=r"liverbench .*shadowing-pkg|shadowing-pkg.*liverbench"):
        reg.get_segmenter("intensity")
    # A third-party package that may not load does not take the built-in's name away.
    monkeypatch.setenv(registry.AUTOLOAD_ENV, "0")
    assert reg.provenance("segmenter", "intensity")["distribution"] == "liverbench"
    assert reg.get_segmenter("intensity").__module__.startswith("baselines.intensity.")
    reg.set_allow_list(["Shadowing_Pkg"])  # distribution names match in any PEP 503 spelling
    with pytest.raises(RegistryError, match="more than one distribution"):
        reg.get_segmenter("intensity")


# ------------------------------------------------------------------ unknown names
def test_unknown_names_suggest_near_matches(reg):
    with pytest.raises(UnknownNameError) as info:
        reg.get_segmenter("dsn")
    assert "'dsn3d'" in str(info.value) and "Known segmenters:" in str(info.value)
    assert isinstance(info.value, KeyError)
    with pytest.raises(UnknownNameError, match="Did you mean 'di2in-adv'"):
        reg.get_segmenter("di2in_adv")
    with pytest.raises(UnknownNameError, match="Did you mean 'densecrf'"):
        reg.get_postprocessor("densecfr")
    with pytest.raises(UnknownNameError, match="'threshold' is a post-processor, not a segmenter"):
        reg.get_segmenter("threshold")
    with pytest.raises(UnknownNameError, match="unknown plugin kind"):
        reg.names("model")


# ------------------------------------------------------------------ restriction
def test_autoload_off_loads_only_builtins(reg, site, monkeypatch):
    install_acme(site)
    monkeypatch.setenv(registry.AUTOLOAD_ENV, "0")
    assert "acme" not in reg.names("segmenter")
    assert "acme" in reg.names("segmenter", include_blocked=True)
    assert "intensity" in reg.names("segmenter")
    with pytest.raises(registry.PluginNotAllowedError) as info:
        reg.get_segmenter("acme")
    message = str(info.value)
    assert "acme-liver" in message and "LIVERBENCH_PLUGIN_AUTOLOAD=0" in message
    assert 'allow = ["acme"]' in message and "LIVERBENCH_PLUGINS=acme" in message
    row = next(r for r in reg.describe("segmenter", load=False) if r["name"] == "acme")
    assert row["allowed"] is False and row["error"].startswith("not allowed")
    # Built-ins keep working (intensity has landed; its module imports without torch).
    assert reg.provenance("segmenter", "intensity")["distribution"] == "liverbench"
    # Naming the plugin re-allows it even with autoloading off (like pytest's -p).
    monkeypatch.setenv(registry.ALLOW_ENV, "acme")
    assert reg.get_segmenter("acme").name == "acme"


def test_allow_list_restricts_third_party_plugins(reg, site, monkeypatch):
    install_acme(site)
    reg.set_allow_list(["someone-else"])
    assert "acme" not in reg.names("segmenter")
    with pytest.raises(registry.PluginNotAllowedError, match=r"not in the plugin allow-list \(someone-else\)"):
        reg.get_segmenter("acme")
    assert BUILTIN_SEGMENTERS <= set(reg.names("segmenter")), "built-ins are always allowed"

    reg.set_allow_list(["acme-liver"])  # a distribution name allows all its plugins
    assert reg.get_segmenter("acme").name == "acme"

    reg.set_allow_list(None)  # back to the environment
    monkeypatch.setenv(registry.ALLOW_ENV, "x, acme")
    assert reg.allow_list() == frozenset({"x", "acme"})
    assert "acme" in reg.names("segmenter")
    monkeypatch.setenv(registry.ALLOW_ENV, "x")
    with pytest.raises(registry.PluginNotAllowedError):
        reg.get_segmenter("acme")  # checked on every get, also after caching
    reg.set_allow_list(["acme"])  # the explicit list wins over the environment
    assert reg.get_segmenter("acme").name == "acme"


def test_unknown_name_mentions_installed_but_blocked_plugins(reg, site):
    install_acme(site)
    reg.set_allow_list([])
    with pytest.raises(UnknownNameError, match="Installed but not allowed: acme"):
        reg.get_segmenter("acmee")


# ------------------------------------------------------------------ bad plugins
BAD_PLUGINS = {
    "not-a-class": ("def Plugin(**params):\n    return None\n", "not a class"),
    "wrong-base": ("class Plugin:\n    name = 'wrong-base'\n    version = '1'\n", "must subclass liverbench.plugins.base.Segmenter"),
    "abstract": ("from liverbench.plugins.base import Segmenter\n"
                 "class Plugin(Segmenter):\n    name = 'abstract'\n    version = '1'\n",
                 "does not implement the abstract method(s) load, predict, save"),
    "no-version": (SEGMENTER_SOURCE.format(cls="Plugin", name="no-version").replace('version = "7"', ""),
                   'must declare a class attribute version = "1"'),
    "misnamed": (SEGMENTER_SOURCE.format(cls="Plugin", name="something-else"),
                 "declares name = 'something-else' but is registered as 'misnamed'"),
    "bad-resources": (SEGMENTER_SOURCE.format(cls="Plugin", name="bad-resources").replace(
        "Resources(num_cpus=2, memory_gb=1.5)", "{'num_cpus': 2}"), "predict_resources must be a liverbench.plugins.base.Resources"),
    "import-error": ("import a_module_that_does_not_exist_anywhere\n", "ModuleNotFoundError"),
}


@pytest.mark.parametrize("plugin", sorted(BAD_PLUGINS))
def test_bad_plugins_fail_with_an_error_naming_plugin_and_distribution(reg, site, plugin):
    source, expected = BAD_PLUGINS[plugin]
    module = unique_module("bad_plugin")
    site("broken-plugins", "1.0", {"liverbench.segmenters": {plugin: f"{module}:Plugin"}}, {module: source})
    with pytest.raises(RegistryError) as info:
        reg.get_segmenter(plugin)
    message = str(info.value)
    assert expected in message
    assert f"'{plugin}'" in message and "broken-plugins 1.0" in message
    row = next(r for r in reg.describe("segmenter") if r["name"] == plugin)  # listing does not crash
    assert expected in row["error"]


# ------------------------------------------------------------------ in-process registration
class LocalSegmenter(Segmenter):
    name = "local-test"
    version = "1"
    trainable = False

    def predict(self, image, ctx):
        return Prediction(np.zeros(image.shape, np.float32))

    def save(self, directory):
        pass

    @classmethod
    def load(cls, directory):
        return cls()


class LocalRefinement(PostProcessor):
    name = "local-refine"
    version = "1"
    resources = Resources(num_cpus=0.5)

    def __call__(self, image, pred, ctx):
        return pred.prob >= 0.5


def test_register_and_unregister(reg, monkeypatch):
    monkeypatch.setenv(registry.AUTOLOAD_ENV, "0")  # in-process classes load whatever the policy
    reg.set_allow_list(["nothing"])
    assert reg.register("segmenter", "local-test", LocalSegmenter) is LocalSegmenter
    reg.register("postprocessor", "local-refine", LocalRefinement)
    assert "local-test" in reg.names("segmenter") and "local-refine" in reg.names("postprocessor")
    assert reg.get_segmenter("local-test") is LocalSegmenter
    assert reg.get_postprocessor("local-refine") is LocalRefinement
    assert reg.provenance("segmenter", "local-test") == {"distribution": "in-process", "version": None,
                                                         "entry_point": None}
    row = next(r for r in reg.describe("postprocessor") if r["name"] == "local-refine")
    assert row["distribution"] == "in-process" and row["resources"]["num_cpus"] == 0.5

    with pytest.raises(RegistryError, match="already provided by registered in-process"):
        reg.register("segmenter", "local-test", LocalSegmenter)
    with pytest.raises(RegistryError, match="must subclass liverbench.plugins.base.Segmenter"):
        reg.register("segmenter", "local-refine", LocalRefinement)
    with pytest.raises(RegistryError, match="registered as 'other'"):
        reg.register("segmenter", "other", LocalSegmenter)

    reg.unregister("segmenter", "local-test")
    assert "local-test" not in reg.names("segmenter")
    with pytest.raises(UnknownNameError, match="Did you mean 'local-refine'"):
        reg.get_postprocessor("local-refin")
    with pytest.raises(UnknownNameError):
        reg.get_segmenter("local-test")
    with pytest.raises(UnknownNameError, match="no in-process segmenter named 'local-test'"):
        reg.unregister("segmenter", "local-test")


def test_register_over_an_installed_name_needs_replace(reg):
    class Intensity(LocalSegmenter):
        name = "intensity"

    with pytest.raises(RegistryError, match="distribution liverbench"):
        reg.register("segmenter", "intensity", Intensity)
    reg.register("segmenter", "intensity", Intensity, replace=True)
    assert reg.get_segmenter("intensity") is Intensity
    assert reg.provenance("segmenter", "intensity")["distribution"] == "in-process"
    reg.unregister("segmenter", "intensity")
    assert reg.provenance("segmenter", "intensity")["distribution"] == "liverbench"


# ------------------------------------------------------------------ the `liverbench methods` table
def test_methods_table_shows_distribution_version_resources_and_errors(reg, site):
    install_acme(site)
    reg.register("postprocessor", "local-refine", LocalRefinement)
    text = reg.format_methods_table(reg.describe())
    lines = text.splitlines()
    acme = next(line for line in lines if line.strip().startswith("acme "))
    assert "acme-liver 2.3.1" in acme and " 7 " in acme and "predict 2 CPU, 1.5 GB" in acme
    assert any(line.strip().startswith("local-refine") and "in-process" in line for line in lines)
    assert "segmenters (" in text and "post-processors (" in text and "datasets (" in text
    assert f"liverbench {liverbench.__version__}" in text
