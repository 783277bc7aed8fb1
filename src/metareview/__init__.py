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

`metareview.files` (repository paths and atomic writes) sits beside them and imports of the
package only `metareview.stats.plain` (plain values from numpy and pandas ones), so every layer
but the engine may use it.

The public API (`mr.pool`, `mr.effect_sizes`, ...) is imported on first use, so that the
pipeline runner does not pay for pandas and SciPy at start-up. Every module has one name, its
path in the layers: `metareview.stats.pooling`, `python -m metareview.run.pipeline`.
"""

from __future__ import annotations

import importlib

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

__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'metareview' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
