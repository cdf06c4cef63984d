"""`liverbench check NAME`: the contract kit (`liverbench.plugins.testing`) on an installed plugin.

    liverbench check hu-threshold
    liverbench check cnn3d --params '{"preset": "cpu", "iterations": 2}'
    liverbench check nifti-folder --params '{"root": "data/mine"}'

The name is looked up among the segmenters, post-processors and datasets (`--kind` picks one
where a name is used by several); `--params` are its constructor parameters (a dataset needs
the ones that find its data). Exit 0 when every check passes, 1 when one fails (the message
names the check), 2 for an unknown name or bad params.
"""

from __future__ import annotations

import argparse
import difflib

from liverbench.errors import ConfigError, UnknownNameError
from liverbench.run.workspec import construct

CHECKED_KINDS = ("segmenter", "postprocessor", "dataset")


def find_kind(name: str, kind: str | None = None) -> str:
    """The kind of plugin `name` is, among CHECKED_KINDS (or `kind` itself, checked)."""
    from liverbench.plugins import registry

    if kind is not None:
        registry.get(kind, name)  # an unknown name: UnknownNameError with near matches
        return kind
    kinds = [k for k in CHECKED_KINDS if name in registry.names(k)]
    if len(kinds) > 1:
        raise ConfigError(f"{name!r} is a {' and a '.join(kinds)}: choose one with --kind")
    if not kinds:
        known = sorted({n for k in CHECKED_KINDS for n in registry.names(k)})
        near = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(map(repr, near))}?" if near else f"; installed: {', '.join(known)}"
        raise UnknownNameError(f"no segmenter, post-processor or dataset named {name!r}{hint}")
    return kinds[0]


def check(name: str, kind: str | None = None, params: dict | None = None) -> tuple[str, dict]:
    """(kind, the contract kit's report) for the installed plugin `name`; raises ContractError
    (an AssertionError naming the check) where the plugin breaks the contract."""
    from liverbench.plugins import registry, testing

    kind = find_kind(name, kind)
    cls = registry.get(kind, name)
    params = dict(params or {})
    if kind == "dataset":
        return kind, testing.check_dataset(construct(cls, params, "--params"))
    construct(cls, params, "--params")  # bad params are a usage error (exit 2), not a broken contract
    run = testing.check_segmenter if kind == "segmenter" else testing.check_postprocessor
    return kind, run(cls, **params)


def cmd_check(args: argparse.Namespace) -> int:
    from liverbench.plugins import registry
    from liverbench.plugins.testing import ContractError

    try:
        kind, report = check(args.name, args.kind, args.params)
    except ContractError as exc:
        print(f"liverbench: check failed: {exc}")
        return 1
    source = registry.provenance(kind, args.name)
    supplier = f"{source.get('distribution') or 'in-process'} {source.get('version') or ''}".strip()
    details = ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in report.items() if k != "name")
    print(f"{args.name} ({kind}, from {supplier}): the contract holds ({details})")
    return 0
