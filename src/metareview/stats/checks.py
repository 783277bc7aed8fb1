"""The engine's per-study input checks, in one place and with one message format.

- `study_arrays`: inputs given per study (effects, variances, counts, means, ...) as flat float
  arrays of one length, at least one study, optionally all finite;
- `check_study_data`: the effects and sampling variances every model takes (`pool`,
  `meta_regression`, the sensitivity and small-study methods, `pool_bayes`);
- `reject_studies`: a rule on the values, naming the first study that breaks it.

Studies are named by their 0-based position, so a user finds the study in their arrays at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np


def reject_studies(condition, message: str) -> None:
    """Raise ValueError naming the first study (0-based index) where `condition` is true.

    The message reads "study 2: sd1 must be > 0", as every message of the engine about one
    study does.
    """
    bad = np.flatnonzero(np.atleast_1d(condition))
    if bad.size:
        raise ValueError(f"study {bad[0]}: {message}")


def _listed(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def study_arrays(named: Mapping[str, object], per_study: str, *, finite: bool = False,
                 broadcast: bool = False) -> list[np.ndarray]:
    """Per-study inputs as one-dimensional float arrays of one length, in the order given.

    Parameters
    ----------
    named : mapping of str to array-like
        The inputs by the names the messages use, e.g. ``{"yi": yi, "vi": vi}``.
    per_study : str
        What each study gives, for the messages, e.g. "one effect and one variance".
    finite : bool
        Refuse a missing (NaN) or infinite value, naming its study and input.
    broadcast : bool
        Let an input of one value stand for every study (a correlation assumed for all).

    Returns
    -------
    list of ndarray
        One float array per input, all of the same length k >= 1.

    Raises
    ------
    ValueError
        On text, an input of more than one dimension, unequal lengths (naming the first study
        without a value), no studies, or (with `finite`) a value that is not a finite number.

    Examples
    --------
    >>> study_arrays({"r": 0.5, "n": [10, 12]}, "one value of each", broadcast=True)
    [array([0.5, 0.5]), array([10., 12.])]
    >>> study_arrays({"yi": [0.1, 0.2], "vi": [0.01]}, "one effect and one variance")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: yi has 2 values but vi has 1: study 1 has no vi; give one effect and one ...
    """
    names = list(named)
    arrays = []
    for name in names:
        try:
            array = np.atleast_1d(np.asarray(named[name], dtype=float))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name} must be numbers ({per_study} per study): {error}") \
                from None
        if array.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional (one value per study), got shape "
                             f"{array.shape}")
        arrays.append(array)
    sizes = [array.size for array in arrays]
    k = max(sizes) if broadcast else sizes[0]
    reference = names[sizes.index(k)]
    for name, size in zip(names, sizes):
        if size != k and not (broadcast and size == 1):
            fewer = name if size < k else reference
            raise ValueError(f"{reference} has {k} values but {name} has {size}: study "
                             f"{min(size, k)} has no {fewer}; give {per_study} per study")
    if k == 0:
        raise ValueError(f"no studies: {_listed(names)} "
                         f"{'is' if len(names) == 1 else 'are'} empty")
    if broadcast:
        arrays = [np.broadcast_to(array, (k,)).astype(float) for array in arrays]
    if finite:
        for name, array in zip(names, arrays):
            reject_studies(~np.isfinite(array), f"{name} is missing or not finite; supply a "
                           "number for every study")
    return arrays


def check_study_data(yi: Sequence[float], vi: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Return yi, vi as float arrays, or raise ValueError naming the first bad study.

    Rules: same length, at least one study, every yi finite, every vi finite and > 0.
    """
    y, v = study_arrays({"yi": yi, "vi": vi}, "one effect and one variance")
    for index, (effect, variance) in enumerate(zip(y, v)):
        if not math.isfinite(effect):
            raise ValueError(f"study {index}: yi is {effect}; every effect size must be a "
                             "finite number (drop the study or supply its value)")
        if not math.isfinite(variance):
            raise ValueError(f"study {index}: vi is {variance}; every sampling variance must be "
                             "a finite number")
        if variance <= 0:
            raise ValueError(f"study {index}: vi is {variance}; sampling variances must be > 0")
    return y, v
