"""metareview: meta-analysis statistics validated against metafor, and the review pipeline.

The public API (see the README's "Statistical methods"); every other module is imported by name,
e.g. `from metareview import sheets, derive`.
"""

from __future__ import annotations

from metareview.binary import mantel_haenszel, peto
from metareview.effect_sizes import effect_sizes
from metareview.moderators import meta_regression, permutation_test, subgroup
from metareview.pooling import pool
from metareview.sensitivity import influence, leave_one_out
from metareview.small_study import egger_test, rank_test, trim_and_fill

__version__ = "0.1.0"

__all__ = [
    "effect_sizes",
    "egger_test",
    "influence",
    "leave_one_out",
    "mantel_haenszel",
    "meta_regression",
    "peto",
    "permutation_test",
    "pool",
    "rank_test",
    "subgroup",
    "trim_and_fill",
]
