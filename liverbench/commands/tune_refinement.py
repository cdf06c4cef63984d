"""`liverbench tune-refinement`: grid-search a refinement's parameters on a method's predictions.

    liverbench tune-refinement densecrf --method dsn3d --params '{"preset": "cpu"}' --cases 4

The model comes from `--model DIR` or is fitted here on `--fit-cases` (as `liverbench profile`
does, whose helpers it shares); the search is `liverbench.run.tuning.tune_refinement`'s.
"""

from __future__ import annotations

import argparse

import pandas as pd

from liverbench.commands.profile import get_model, open_dataset
from liverbench.devices import resolve_device
from liverbench.errors import ConfigError
from liverbench.plugins.base import Context, Prediction
from liverbench.table_file import check_table_path, write_table


def cmd_tune(args: argparse.Namespace) -> int:
    from liverbench.plugins import registry
    from liverbench.run.config import tuning_metrics
    from liverbench.run.tuning import tune_refinement

    registry.get_postprocessor(args.postprocessor)  # unknown names and file types fail before any work
    if args.out:
        check_table_path(args.out)
    if args.metric not in tuning_metrics():
        raise ConfigError(f"--metric: unknown metric {args.metric!r}; choose one of {', '.join(sorted(tuning_metrics()))}")
    device = resolve_device("auto")
    trainable = registry.get_segmenter(args.method).trainable and not args.model
    ds = open_dataset(args.dataset, args.dataset_params, args.cases + (args.fit_cases if trainable else 0))
    ids = sorted(ds.case_ids())
    if len(ids) < args.cases:
        raise ConfigError(f"--cases {args.cases}: dataset {args.dataset!r} has only {len(ids)} cases")
    model, _ = get_model(args.method, args.params, args.model, ds,
                         ids[args.cases:args.cases + args.fit_cases] if trainable else [], device)
    items = []
    for cid in ids[: args.cases]:
        case = ds.load(cid)
        pred = model.predict(case.image, Context(device=device, seed=0, case_id=cid))
        items.append((case, pred if isinstance(pred, Prediction) else Prediction(prob=pred)))
    best, table = tune_refinement(args.postprocessor, items, metric=args.metric)
    with pd.option_context("display.max_rows", 50, "display.width", 160):
        print(table)
    print(f"best {args.postprocessor} params for {args.metric}: {best}")
    if args.out:
        write_table(table, args.out)
    return 0
