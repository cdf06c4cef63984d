"""liverbench: train, evaluate and compare 3D CT liver segmentation methods the SLiver07 way.

The public API, importable from `liverbench` itself:

- data: `Case` (one CT scan and its liver mask), `Volume` (an array on a grid; see
  liverbench.data.volume for an example);
- writing a plugin: `Segmenter`, `PostProcessor`, `Dataset`, `Prediction`, `Context`,
  `Resources`, `Param` (liverbench.plugins.base), `register` (an in-process registration), and the
  contract kit `check_segmenter`, `check_postprocessor`, `check_dataset` (liverbench.plugins.testing);
- scoring: `evaluate(seg, ref, spacing)`, one case's SLiver07 measures and scores;
- running: `run_benchmark(config)` (liverbench.run.api: a TOML path, a dict or a RunConfig),
  `load_config`, `ResultStore(run_dir).rows()`, `build_report(run_dir, out_dir)`.

The plugin API loads with the package; the rest is imported when first used, so a worker that
only needs a plugin's base classes does not pay for the runner, the store or the report.
"""

from liverbench.data.volume import Case, Volume
from liverbench.plugins.base import Context, Dataset, Param, PostProcessor, Prediction, Resources, Segmenter

__version__ = "0.1.0"
__all__ = ["Case", "Volume", "Context", "Dataset", "Param", "PostProcessor", "Prediction", "Resources", "Segmenter",
           "register", "check_segmenter", "check_postprocessor", "check_dataset", "evaluate", "run_benchmark",
           "load_config", "ResultStore", "build_report"]

# The rest of the public API: name -> the module it is imported from on first use.
_LAZY = {"evaluate": "liverbench.metrics", "run_benchmark": "liverbench.run.api",
         "load_config": "liverbench.run.config", "ResultStore": "liverbench.run.store",
         "build_report": "liverbench.report", "register": "liverbench.plugins.registry",
         **dict.fromkeys(("check_segmenter", "check_postprocessor", "check_dataset"), "liverbench.plugins.testing")}


def __getattr__(name: str):
    """The rest of the public API, imported on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module 'liverbench' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)
