"""Sensitivity analyses: leave-one-out and case-deletion influence diagnostics.

Both refit the model with each study left out in turn, with the same tau² estimator, as
metafor 3.8-1's `leave1out` and `influence.rma.uni` do (Viechtbauer & Cheung 2010, Res Synth
Methods 1:112-125, for the diagnostics).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from metareview.stats.checks import check_study_data
from metareview.stats.heterogeneity import cochran_q
from metareview.stats.pooling import fit_model, pool

LEAVE_ONE_OUT_COLUMNS = (
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


def leave_one_out(
    yi: Sequence[float],
    vi: Sequence[float],
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    omitted: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Pool the studies with each one left out in turn (metafor: leave1out(rma(yi, vi, ...))).

    `omitted`: the 0-based positions of the studies to leave out, one at a time (default:
    every study); a review of thousands of studies refits only those worth a row.

    Returns one row per omitted study (index `omitted`: its 0-based position) with the pooled
    estimate, se, statistic (metafor's zval: the Wald z, or t with k − 2 df under
    test="knha"), pval, ci_low, ci_high, Cochran's q and q_pval, tau2, i2 (%) and h2 of the
    remaining studies; see `metareview.stats.pooling.pool` for each definition. Needs k >= 2.
    """
    y, v = check_study_data(yi, vi)
    k = y.size
    if k < 2:
        raise ValueError("leave-one-out needs at least 2 studies")
    positions = range(k) if omitted is None else [int(i) for i in omitted]
    if any(not 0 <= i < k for i in positions):
        raise ValueError(f"omitted names positions outside 0 to {k - 1} (the {k} studies)")
    rows = []
    for position in positions:
        keep = np.arange(k) != position
        fit = pool(y[keep], v[keep], method=method, test=test, level=level)
        rows.append(
            {
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
            }
        )
    frame = pd.DataFrame(rows, columns=list(LEAVE_ONE_OUT_COLUMNS),
                         index=pd.Index(list(positions), name="omitted"))
    return frame


def influence(yi: Sequence[float], vi: Sequence[float], method: str = "REML") -> pd.DataFrame:
    """Case-deletion diagnostics of the random-effects model (metafor: influence.rma.uni).

    With μ̂, Var(μ̂) and tau² from all k studies and μ̂₍ᵢ₎, Var(μ̂₍ᵢ₎), tau²₍ᵢ₎ without study i,
    w_i = 1/(v_i + tau²) and hat_i = w_i/Σw (z tests, as metafor with test="z"):

    - rstudent: externally standardised residual (y_i − μ̂₍ᵢ₎)/√(v_i + tau²₍ᵢ₎ + Var(μ̂₍ᵢ₎));
    - dffits: (μ̂ − μ̂₍ᵢ₎)/√(hat_i (tau²₍ᵢ₎ + v_i));
    - cook_d: Cook's distance (μ̂ − μ̂₍ᵢ₎)²/Var(μ̂);
    - cov_r: covariance ratio Var(μ̂₍ᵢ₎)/Var(μ̂);
    - tau2_del, qe_del: tau² and Cochran's Q without study i;
    - hat: hat_i; weight: 100 hat_i (%); dfbetas: (μ̂ − μ̂₍ᵢ₎)/√(1/Σ_j 1/(v_j + tau²₍ᵢ₎));
    - influential: metafor's flag: |dffits| > 3√(1/(k − 1)), or P(χ²₁ ≤ cook_d) > 0.5, or
      hat > 3/k, or |dfbetas| > 1.

    Column names are metafor's with "." replaced by "_" (cook.d → cook_d, QE.del → qe_del).
    One row per study (index `study`, 0-based). Needs k >= 2.
    """
    y, v = check_study_data(yi, vi)
    k = y.size
    if k < 2:
        raise ValueError("influence diagnostics need at least 2 studies")
    ones = np.ones((k, 1))
    full = fit_model(y, v, ones, method=method)
    estimate = float(full.beta[0])
    variance = float(full.vcov[0, 0])
    hat = full.w / full.w.sum()

    tau2_del = np.empty(k)
    estimate_del = np.empty(k)
    variance_del = np.empty(k)
    qe_del = np.empty(k)
    for i in range(k):
        keep = np.arange(k) != i
        fit = fit_model(y[keep], v[keep], ones[keep], method=method)
        tau2_del[i] = fit.tau2
        estimate_del[i] = fit.beta[0]
        variance_del[i] = fit.vcov[0, 0]
        qe_del[i] = cochran_q(y[keep], v[keep], ones[keep])[0] if k > 2 else 0.0

    change = estimate - estimate_del
    residual = y - estimate_del
    # As metafor: a residual at rounding-error size is set to exactly zero.
    residual[np.abs(residual) < 100 * np.finfo(float).eps] = 0.0
    rstudent = residual / np.sqrt(v + variance_del + tau2_del)
    dffits = change / np.sqrt(hat * (tau2_del + v))
    cook_d = change**2 / variance
    cov_r = variance_del / variance
    variance_all_del = 1 / np.sum(1 / (v[None, :] + tau2_del[:, None]), axis=1)
    dfbetas = change / np.sqrt(variance_all_del)
    influential = (
        (np.abs(dffits) > 3 * np.sqrt(1 / (k - 1)))
        | (stats.chi2.cdf(cook_d, 1) > 0.5)
        | (hat > 3 / k)
        | (np.abs(dfbetas) > 1)
    )
    frame = pd.DataFrame(
        {
            "rstudent": rstudent,
            "dffits": dffits,
            "cook_d": cook_d,
            "cov_r": cov_r,
            "tau2_del": tau2_del,
            "qe_del": qe_del,
            "hat": hat,
            "weight": 100 * hat,
            "dfbetas": dfbetas,
            "influential": influential,
        }
    )
    frame.index.name = "study"
    return frame
