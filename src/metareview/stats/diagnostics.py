"""Diagnostics of a pooled model: cumulative meta-analysis and the Baujat plot coordinates.

- `cumulative`: the studies are added one at a time in a given order (typically year of
  publication) and the model is refitted after each addition, as metafor 3.8-1's
  `cumul.rma.uni` (Lau et al. 1992).
- `baujat`: for each study, its contribution to the (residual) heterogeneity and its influence
  on the pooled estimate, the two coordinates of the Baujat plot, as metafor 3.8-1's
  `baujat.rma` (Baujat et al. 2002).

Every refit is `metareview.pool` with the same tau² estimator and test as the full model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from metareview.stats.checks import check_study_data
from metareview.stats.pooling import pool

CUMULATIVE_COLUMNS = (
    "study",
    "k",
    "estimate",
    "se",
    "statistic",
    "pval",
    "ci_low",
    "ci_high",
    "q",
    "q_pval",
    "tau2",
    "i2",
    "h2",
)


def cumulative(
    yi: Sequence[float],
    vi: Sequence[float],
    order: Sequence[float] | None = None,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    steps: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Cumulative meta-analysis (metafor: ``cumul(rma(yi, vi, method, test), order=order)``).

    Parameters
    ----------
    yi, vi : sequence of float
        Effect sizes and their sampling variances, one per study.
    order : sequence, optional
        A sort key per study (e.g. the year of publication). Studies are added in increasing
        order of the key; ties keep the order of the input (a stable sort, as R's ``order``).
        Without it the studies are added in the order given.
    method : str
        tau² estimator of every refit (see `metareview.pool`): "FE", "DL", "REML", ...
    test : {"z", "knha"}
        Wald z tests, or the Hartung-Knapp adjustment with t on j − 1 df at step j.
    level : float
        Confidence level of the intervals.
    steps : sequence of int, optional
        Only these steps j (1 ≤ j ≤ k), in increasing order; the others are not fitted (a
        review of thousands of studies shows a few dozen evenly spaced steps). Default: all.

    Returns
    -------
    pandas.DataFrame
        One row per step j = 1, ..., k (or per step of `steps`; index ``step``), with the pooled model of the first j
        studies in that order: ``study`` (0-based input position of the study added at this
        step), ``k`` (= j), ``estimate``, ``se``, ``statistic`` (z, or t under knha),
        ``pval``, ``ci_low``, ``ci_high``, Cochran's ``q`` and ``q_pval``, ``tau2``, ``i2``
        (%) and ``h2``.

    Notes
    -----
    With :math:`\\pi` the permutation that sorts ``order`` and :math:`S_j = \\{\\pi(1), \\dots,
    \\pi(j)\\}`, step *j* reports the intercept-only model

    .. math::

        \\hat\\mu_j = \\frac{\\sum_{i \\in S_j} w_i y_i}{\\sum_{i \\in S_j} w_i}, \\qquad
        w_i = \\frac{1}{v_i + \\hat\\tau^2_j},

    with :math:`\\hat\\tau^2_j` estimated from the studies in :math:`S_j` alone.

    Step 1 holds one study: its own estimate with its own z interval (a t test needs two
    studies, so under knha metafor and `pool` both fall back to z there), tau² = 0, and q,
    q_pval, i2 and h2 not estimable (nan, as `pool` reports them for k = 1; metafor prints
    Q = 0, I² = 0, H² = 1 there). For FE models tau² is 0 at every step (metafor leaves the
    column out).

    References
    ----------
    Lau J, Antman EM, Jimenez-Silva J, Kupelnick B, Mosteller F, Chalmers TC (1992).
    Cumulative meta-analysis of therapeutic trials for myocardial infarction. N Engl J Med
    327:248-254.
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw
    36(3):1-48 (``cumul``).

    Examples
    --------
    >>> table = cumulative([0.1, 0.3, 0.2], [0.01, 0.02, 0.04], order=[2001, 1999, 2005],
    ...                    method="FE")
    >>> table["study"].tolist(), table["k"].tolist()
    ([1, 0, 2], [1, 2, 3])
    """
    y, v = check_study_data(yi, vi)
    k = y.size
    if order is None:
        sequence = np.arange(k)
    else:
        key = np.asarray(order)
        if key.shape != (k,):
            raise ValueError(f"order has {key.size} values but there are {k} studies; give one "
                             "sort key (e.g. the year) per study")
        if pd.isna(key).any():
            raise ValueError(f"order: study {int(np.flatnonzero(pd.isna(key))[0])} has no sort "
                             "key; every study needs one")
        sequence = np.argsort(key, kind="stable")
    chosen = range(1, k + 1) if steps is None else [int(j) for j in steps]
    if steps is not None and (not chosen or any(j < 1 or j > k for j in chosen)
                              or any(b <= a for a, b in zip(chosen, chosen[1:]))):
        raise ValueError(f"steps must be increasing whole numbers from 1 to {k} (the number "
                         f"of studies); got {list(steps)[:10]}")
    rows = []
    for step in chosen:
        included = sequence[:step]
        fit = pool(y[included], v[included], method=method, test=test, level=level)
        rows.append({
            "study": int(sequence[step - 1]),
            "k": step,
            "estimate": fit.estimate,
            "se": fit.se,
            "statistic": fit.statistic,
            "pval": fit.pval,
            "ci_low": fit.ci_low,
            "ci_high": fit.ci_high,
            "q": fit.q,
            "q_pval": fit.q_pval,
            "tau2": fit.tau2,
            "i2": fit.i2,
            "h2": fit.h2,
        })
    table = pd.DataFrame(rows, columns=list(CUMULATIVE_COLUMNS),
                         index=pd.Index(list(chosen), name="step"))
    return table


def baujat(
    yi: Sequence[float],
    vi: Sequence[float],
    method: str = "FE",
    test: str = "z",
) -> pd.DataFrame:
    """Coordinates of the Baujat plot (metafor: ``baujat(rma(yi, vi, method, test))``).

    Parameters
    ----------
    yi, vi : sequence of float
        Effect sizes and their sampling variances, one per study (at least two).
    method : str
        tau² estimator of the model (see `metareview.pool`); "FE" gives Baujat's original plot.
    test : {"z", "knha"}
        Changes the variance of the leave-one-out estimates (the Hartung-Knapp factor).

    Returns
    -------
    pandas.DataFrame
        One row per study (index ``study``, 0-based input position) with ``x``, its
        contribution to the heterogeneity, and ``y``, its influence on the pooled estimate.

    Notes
    -----
    With :math:`\\hat\\mu`, :math:`\\hat\\tau^2` from all studies and :math:`\\hat\\mu_{(i)}`,
    :math:`\\widehat{\\mathrm{Var}}(\\hat\\mu_{(i)})` from the same model fitted without study
    *i*,

    .. math::

        x_i = \\frac{(y_i - \\hat\\mu)^2}{v_i + \\hat\\tau^2}, \\qquad
        y_i = \\frac{(\\hat\\mu_{(i)} - \\hat\\mu)^2}{\\widehat{\\mathrm{Var}}(\\hat\\mu_{(i)})}.

    Under FE (:math:`\\hat\\tau^2 = 0`) the :math:`x_i` sum to Cochran's Q: each is the
    study's contribution to Q. Under a random-effects model :math:`x_i` is the squared
    Pearson residual. :math:`y_i` is the squared standardised shift of the pooled estimate when
    the study is left out; the variance is that of the leave-one-out fit (tau² re-estimated
    without the study; with the Hartung-Knapp factor under knha). With k = 2 each
    leave-one-out fit is the other study alone, with its z-based variance.

    References
    ----------
    Baujat B, Mahé C, Pignon JP, Hill C (2002). A graphical method for exploring heterogeneity
    in meta-analyses: application to a meta-analysis of 65 trials. Stat Med 21:2641-2652.

    Examples
    --------
    >>> from metareview import pool
    >>> yi, vi = [0.1, 0.5, 0.2], [0.01, 0.02, 0.04]
    >>> bool(abs(baujat(yi, vi)["x"].sum() - pool(yi, vi, method="FE").q) < 1e-12)
    True
    """
    y, v = check_study_data(yi, vi)
    k = y.size
    if k < 2:
        raise ValueError("the Baujat plot needs at least 2 studies (it leaves one out)")
    full = pool(y, v, method=method, test=test)
    contribution = (y - full.estimate) ** 2 / (v + full.tau2)
    influence = np.empty(k)
    for i in range(k):
        keep = np.arange(k) != i
        fit = pool(y[keep], v[keep], method=method, test=test)
        with np.errstate(divide="ignore", invalid="ignore"):
            influence[i] = (fit.estimate - full.estimate) ** 2 / fit.se**2
    return pd.DataFrame({"x": contribution, "y": influence},
                        index=pd.RangeIndex(k, name="study"))
