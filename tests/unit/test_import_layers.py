"""The import graph of `liverbench`: no cycles, and imports flow one way (issue 18).

Every module is parsed with `ast`, so imports inside functions count too: a lazy import hides
a cycle from the interpreter, not from the design. Importing `a.b.c` also runs the packages
`a.b` and `a` (their `__init__`), so those are edges as well, except the importer's own
packages (already running when it is imported).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "liverbench"

# Top-level packages that sit above the library: it must never import them.
NEVER_IMPORTED = ("baselines", "benchmarks", "tests")

# Data and metric modules: read, check and score volumes; they know nothing of how a run is
# planned, executed, reported or driven from the command line.
CORE = ("liverbench.errors", "liverbench.data.volume", "liverbench.data.validate", "liverbench.data.io",
        "liverbench.metrics", "liverbench.hashing", "liverbench.data.phantom")
ABOVE_CORE = ("liverbench.commands", "liverbench.run", "liverbench.backends", "liverbench.report",
              "liverbench.plugins.registry", "liverbench.data.datasets")


def _module_files() -> dict[str, Path]:
    files = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = path
    return files


MODULES = _module_files()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _in(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _imported_names(module: str) -> set[str]:
    """Dotted names `module` imports anywhere in its source (absolute, relative ones resolved)."""
    package = module if _is_package(module) else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"), str(MODULES[module]))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0]
                base = f"{anchor}.{base}" if base else anchor
            # `from a import b` imports the submodule a.b when there is one, else a name of a
            names.update(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names)
    return names


def _edges(module: str) -> set[str]:
    """The liverbench modules that importing `module` runs, directly."""
    out = set()
    for name in _imported_names(module):
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            target = ".".join(parts[:i])
            if target in MODULES and target != module and not module.startswith(target + "."):
                out.add(target)
    return out


GRAPH = {m: _edges(m) for m in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[tuple[list[str], set[str]]]:
    """(one cycle, all its modules) per strongly connected component of several modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(set(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [(_cycle_in(graph, c), c) for c in components]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first, inside it)."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle in component {component}")


def test_the_graph_sees_lazy_and_package_imports():
    # both imported inside a function; `report.console` also runs the package `report`
    assert {"liverbench.commands.profile", "liverbench.report.console", "liverbench.report"} <= GRAPH["liverbench.commands.cli"]


def test_the_cycle_finder_names_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert _cycles(graph) == [(["a", "b", "c", "a"], {"a", "b", "c"})]


def test_no_import_cycles():
    cycles = _cycles(GRAPH)
    assert not cycles, "import cycles:\n" + "\n".join(
        " -> ".join(cycle) + (f"  (cycles run through all of: {', '.join(sorted(c))})" if len(c) > 2 else "")
        for cycle, c in cycles)


@pytest.mark.parametrize("top", NEVER_IMPORTED)
def test_the_library_never_imports(top):
    offenders = sorted(m for m in MODULES for n in _imported_names(m) if _in(n, (top,)))
    assert not offenders, f"{top} imported by: {', '.join(offenders)}"


def test_core_modules_do_not_import_upward():
    offenders = sorted(f"{m} -> {t}" for m in MODULES if _in(m, CORE) for t in GRAPH[m] if _in(t, ABOVE_CORE))
    assert not offenders, "core modules importing upward:\n" + "\n".join(offenders)
