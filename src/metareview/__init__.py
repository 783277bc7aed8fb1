"""metareview: meta-analysis statistics validated against metafor, and the review pipeline.

The public API (see the README's "Statistical methods") is imported on first use, so that the
pipeline runner, which only needs `metareview.pipeline`, does not pay for pandas and SciPy at
start-up. Every other module is imported by name, e.g. `from metareview import sheets, derive`.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it (no module shares its name with a public function,
# since importing a submodule sets the package attribute of that name)
_API = {
    "effect_sizes": "escalc",
    "pool": "pooling",
    "subgroup": "moderators",
    "meta_regression": "moderators",
    "permutation_test": "moderators",
    "mantel_haenszel": "binary",
    "peto": "binary",
    "egger_test": "small_study",
    "rank_test": "small_study",
    "trim_and_fill": "small_study",
    "leave_one_out": "sensitivity",
    "influence": "sensitivity",
    "pool_glmm": "stats.glmm",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(f"metareview.{_API[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'metareview' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
