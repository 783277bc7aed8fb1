"""metareview: meta-analysis statistics validated against metafor, and the review pipeline.

The package has four layers, each importing only the layers before it:

- `metareview.stats`: the engine (effect sizes, tau², pooling, Bayesian random effects,
  moderators, binary and small-study methods, sensitivity, proportions, synthesis without
  meta-analysis). numpy,
  SciPy and pandas only; it never touches a file.
- `metareview.review`: a review folder: its schema, sheets and their validation, checksums,
  definitions (review.yaml), parameters, codebook, the derivation of effects and the audit.
- `metareview.report`: tables, plots, text, GRADE and the notebook helper.
- `metareview.run`: the pipeline runner, the committed record and the index page.

`metareview.files` (repository paths and atomic writes) sits beside them and imports nothing
of the package, so every layer but the engine may use it.

The public API (`mr.pool`, `mr.effect_sizes`, ...) is imported on first use, so that the
pipeline runner does not pay for pandas and SciPy at start-up. Modules that moved into the
layers keep their old names as aliases (`metareview.pooling` is `metareview.stats.pooling`,
`python -m metareview.pipeline` runs `metareview.run.pipeline`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys

__version__ = "0.2.0"

# public name -> module that defines it
_API = {
    "effect_sizes": "stats.escalc",
    "pool": "stats.pooling",
    "subgroup": "stats.moderators",
    "meta_regression": "stats.moderators",
    "permutation_test": "stats.moderators",
    "mantel_haenszel": "stats.binary",
    "peto": "stats.binary",
    "egger_test": "stats.small_study",
    "rank_test": "stats.small_study",
    "trim_and_fill": "stats.small_study",
    "leave_one_out": "stats.sensitivity",
    "influence": "stats.sensitivity",
    "vote_count": "stats.swim",
    "combine_pvalues": "stats.swim",
    "pool_glmm": "stats.glmm",
    "pool_bayes": "stats.bayes",
}

# old module name -> its home in the layers
MOVED_MODULES = {
    "results": "stats.results",
    "escalc": "stats.escalc",
    "paired": "stats.paired",
    "conversions": "stats.conversions",
    "heterogeneity": "stats.heterogeneity",
    "pooling": "stats.pooling",
    "moderators": "stats.moderators",
    "binary": "stats.binary",
    "small_study": "stats.small_study",
    "sensitivity": "stats.sensitivity",
    "schema": "review.schema",
    "sheets": "review.sheets",
    "checksums": "review.checksums",
    "codebook": "review.codebook",
    "derive": "review.derive",
    "params": "review.params",
    "plots": "report.figures",
    "outputs": "files",
    "pipeline": "run.pipeline",
    "record": "run.record",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'metareview' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


class _MovedModuleLoader(importlib.abc.Loader):
    """Load an old module name as the very module object of its new home.

    `get_code` serves `python -m metareview.<old>`: runpy asks the loader for the code and runs
    it as `__main__`, exactly as `python -m metareview.<new home>` would.
    """

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module) -> None:
        """Nothing to run: the target module is already executed."""

    def get_code(self, fullname: str):
        spec = importlib.util.find_spec(self.target)
        return spec.loader.get_code(self.target)

    def is_package(self, fullname: str) -> bool:
        return False


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path=None, target=None):
        prefix, _, old = fullname.rpartition(".")
        if prefix != __name__ or old not in MOVED_MODULES:
            return None
        target_name = f"{__name__}.{MOVED_MODULES[old]}"
        # the origin (the new file) becomes __file__ when runpy runs the module as __main__
        origin = importlib.util.find_spec(target_name).origin
        return importlib.machinery.ModuleSpec(fullname, _MovedModuleLoader(target_name),
                                              origin=origin)


if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder())
