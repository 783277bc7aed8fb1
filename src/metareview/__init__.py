"""metareview: meta-analysis statistics validated against metafor, and the review pipeline.

The public API (see the README's "Statistical methods") is imported lazily, so that
`import metareview` stays fast in notebooks and in the pipeline runner.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_API = {
    "effect_sizes": "effect_sizes",
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
