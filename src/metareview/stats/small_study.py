"""Small-study effects: Egger's regression test, Begg's rank test, trim-and-fill.

All three follow metafor 3.8-1 (`regtest`, `ranktest`, `trimfill`) so that numbers agree:

- Egger's test (Egger et al. 1997) as metafor's regtest: by default a mixed-effects
  meta-regression of yi on its standard error (tau² by REML, Wald z test of the slope;
  Sterne & Egger 2005); model="lm" is the classic version, a weighted least-squares regression
  with weights 1/vi and a t test on k − 2 df. The intercept is the "limit estimate", the
  expected effect of a study with SE → 0.
- Begg & Mazumdar's (1994) rank correlation test: Kendall's tau between the standardised
  deviates (yi − θ̂)/√(vi − 1/Σw) (θ̂ the fixed-effect estimate) and vi; two-sided p value from
  the exact null distribution of Kendall's statistic when there are no ties (as R's cor.test
  with exact = TRUE, which metafor uses), else the normal approximation with the variance
  corrected for ties.
- Trim-and-fill (Duval & Tweedie 2000a, b) with the L0 or R0 estimator of the number of
  missing studies, iterated as metafor does; the side with the missing studies is chosen from
  the sign of the slope of the Egger-type regression of yi on √vi (negative slope: missing
  on the right); filled studies are the mirror images 2θ̂ − yi of the k0 most extreme studies
  around the estimate θ̂ of the trimmed data, with the same variances.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from metareview.stats.checks import check_study_data
from metareview.stats.pooling import PoolResult, fit_model, pool
from metareview.stats.results import ResultMixin, result_class

PREDICTORS = ("sei", "vi")


@result_class
class EggerResult(ResultMixin):
    """Egger's regression test for funnel-plot asymmetry.

    Attributes
    ----------
    statistic : float
        z (model="rma", test="z") or t (model="lm", or test="knha") for the slope on the
        predictor.
    pval : float
        Two-sided p value of `statistic`.
    df : float
        nan for z, else the t degrees of freedom.
    slope, slope_se : float
        The predictor's coefficient and its standard error.
    limit_estimate, limit_ci_low, limit_ci_high : float
        The intercept (the effect as SE → 0) and its confidence limits.
    k : int
        Number of studies.
    model : str
        "rma" (mixed-effects meta-regression) or "lm" (weighted regression).
    predictor : str
        "sei" (standard error) or "vi" (variance).
    method : str
        tau² estimator of the rma model, "WLS" for lm.
    tau2 : float
        Residual tau² of the rma model (nan for lm).
    """

    statistic: float
    pval: float
    df: float
    slope: float
    slope_se: float
    limit_estimate: float
    limit_ci_low: float
    limit_ci_high: float
    k: int
    model: str
    predictor: str
    method: str
    tau2: float


def egger_test(
    yi: Sequence[float],
    vi: Sequence[float],
    model: str = "rma",
    predictor: str = "sei",
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
) -> EggerResult:
    """Egger's regression test (metafor: regtest(x, model, predictor)).

    model="rma": yi = β0 + β1·sei + u + e fitted as a meta-regression (tau² by `method`), Wald
    test of β1 (z, or t with k − 2 df under test="knha"). model="lm": weighted least squares
    with weights 1/vi and a t test on k − 2 df (Egger et al. 1997). predictor: "sei" (standard
    error, default) or "vi" (sampling variance). Needs k >= 3.
    """
    if model not in ("rma", "lm"):
        raise ValueError(f"model must be 'rma' or 'lm', got {model!r}")
    if predictor not in PREDICTORS:
        raise ValueError(f"predictor must be one of {PREDICTORS}, got {predictor!r}")
    y, v = check_study_data(yi, vi)
    k = y.size
    if k < 3:
        raise ValueError(f"Egger's test needs at least 3 studies, got {k}")
    x = np.sqrt(v) if predictor == "sei" else v
    X = np.column_stack([np.ones(k), x])
    if np.ptp(x) == 0:
        raise ValueError(
            "all studies have the same variance: the regression slope is not estimable"
        )
    if model == "rma":
        fit = fit_model(y, v, X, method=method, test=test, level=level)
        beta, se, crit, df, tau2 = fit.beta, fit.se, fit.crit, fit.df, fit.tau2
        statistic = float(fit.statistics()[1])
        pval = float(fit.pvalues()[1])
        method_used = fit.method
    else:
        # Weighted least squares: the residual variance is estimated (not fixed at 1).
        w = 1 / v
        WX = X * w[:, None]
        xtwx_inv = np.linalg.inv(X.T @ WX)
        beta = xtwx_inv @ (WX.T @ y)
        df = float(k - 2)
        sigma2 = float(np.sum(w * (y - X @ beta) ** 2)) / df
        se = np.sqrt(np.diag(xtwx_inv) * sigma2)
        statistic = float(beta[1] / se[1])
        pval = float(2 * stats.t.sf(abs(statistic), df))
        crit = float(stats.t.isf((1 - level) / 2, df))
        tau2 = math.nan
        method_used = "WLS"
    return EggerResult(
        statistic=statistic,
        pval=pval,
        df=float(df),
        slope=float(beta[1]),
        slope_se=float(se[1]),
        limit_estimate=float(beta[0]),
        limit_ci_low=float(beta[0] - crit * se[0]),
        limit_ci_high=float(beta[0] + crit * se[0]),
        k=k,
        model=model,
        predictor=predictor,
        method=method_used,
        tau2=float(tau2),
    )


# ---- Begg's rank correlation test -----------------------------------------------------------


@result_class
class RankTestResult(ResultMixin):
    """Begg & Mazumdar's rank correlation test.

    Attributes
    ----------
    kendall_tau : float
        Kendall's tau-b between the standardised deviates and the variances (named so because
        `tau` is sqrt(tau²) in every result).
    pval : float
        Two-sided p value.
    k : int
        Number of studies.
    exact : bool
        True when the p value comes from the exact permutation distribution (no ties), False
        when from the tie-corrected normal approximation.
    statistic : float
        The number of concordant pairs T when `exact`, else the tie-corrected z.
    """

    kendall_tau: float
    pval: float
    k: int
    exact: bool
    statistic: float


def kendall_null_distribution(n: int, upto: int | None = None) -> np.ndarray:
    """P(T = t), t = 0 … n(n − 1)/2 (or 0 … `upto`), for T the number of concordant pairs
    among n untied items.

    Under no association T is distributed as the number of inversions of a random permutation
    (Mahonian numbers), built by the recursion p_n(t) = (1/n) Σ_{j=0}^{n−1} p_{n−1}(t − j): a
    moving sum of width n, taken as a difference of cumulative sums. P(T = t) depends only on
    the terms up to t of the smaller sizes, so `upto` (a lower tail) stops every step there:
    the cost is at most n · upto element operations instead of about n³/6.
    """
    full = n * (n - 1) // 2 + 1
    size_needed = full if upto is None else max(1, min(full, upto + 1))
    # two buffers reused at every size (no array is allocated inside the loop)
    probabilities = np.zeros(size_needed)
    probabilities[0] = 1.0
    cumulative = np.zeros(size_needed + 1)  # cumulative[t] = Σ_{u < t} p(u)
    current = 1
    for size in range(2, n + 1):
        length = min(current + size - 1, size_needed)
        np.cumsum(probabilities[:current], out=cumulative[1:current + 1])
        cumulative[current + 1:length + 1] = cumulative[current]
        # p_new(t) = (cumulative[t + 1] − cumulative[max(t − size + 1, 0)]) / size
        probabilities[:length] = cumulative[1:length + 1]
        if length > size:
            probabilities[size:length] -= cumulative[1:length - size + 1]
        probabilities[:length] /= size
        current = length
    return probabilities[:current]


def kendall_exact_cdf(q: int, n: int) -> float:
    """P(T ≤ q) under no association (see `kendall_null_distribution`)."""
    if q < 0:
        return 0.0
    return float(min(1.0, kendall_null_distribution(n, upto=q).sum()))


def _tie_group_sizes(values: np.ndarray) -> np.ndarray:
    _, counts = np.unique(values, return_counts=True)
    return counts[counts > 1].astype(float)


def kendall_test(x: np.ndarray, y: np.ndarray) -> tuple[float, float, bool, float]:
    """Kendall's tau-b with R's cor.test(method = "kendall", exact = TRUE) p value.

    Returns (tau, p, exact, statistic): statistic is the count of concordant pairs T when
    exact, else the tie-corrected z (Kendall 1970), without continuity correction.
    """
    n = x.size
    upper = np.triu_indices(n, 1)
    dx = np.sign(x[:, None] - x[None, :])[upper]
    dy = np.sign(y[:, None] - y[None, :])[upper]
    pairs = n * (n - 1) / 2
    x_ties, y_ties = _tie_group_sizes(x), _tie_group_sizes(y)
    tied_x = np.sum(x_ties * (x_ties - 1)) / 2
    tied_y = np.sum(y_ties * (y_ties - 1)) / 2
    denominator = math.sqrt((pairs - tied_x) * (pairs - tied_y))
    if denominator == 0:
        return math.nan, math.nan, False, math.nan
    s = float(np.sum(dx * dy))
    tau = s / denominator
    if x_ties.size == 0 and y_ties.size == 0:
        # As cor.test: double the smaller tail of T = (S + pairs)/2. The upper tail is summed
        # directly rather than taken as 1 − P(T < q), which loses digits for tiny p values.
        concordant = int(round((s + pairs) / 2))
        # the smaller tail: P(T ≥ c) = P(T ≤ pairs − c) (the distribution is symmetric), so
        # only the terms up to the tail's end are computed
        tail = int(pairs) - concordant if concordant > pairs / 2 else concordant
        p = float(kendall_null_distribution(n, upto=tail).sum())
        return tau, min(2 * p, 1.0), True, float(concordant)
    variance = (
        (
            n * (n - 1) * (2 * n + 5)
            - np.sum(x_ties * (x_ties - 1) * (2 * x_ties + 5))
            - np.sum(y_ties * (y_ties - 1) * (2 * y_ties + 5))
        )
        / 18
        + np.sum(x_ties * (x_ties - 1)) * np.sum(y_ties * (y_ties - 1)) / (2 * n * (n - 1))
        + np.sum(x_ties * (x_ties - 1) * (x_ties - 2))
        * np.sum(y_ties * (y_ties - 1) * (y_ties - 2))
        / (9 * n * (n - 1) * (n - 2))
    )
    z = s / math.sqrt(variance)
    return tau, float(2 * stats.norm.sf(abs(z))), False, z


def rank_test(yi: Sequence[float], vi: Sequence[float]) -> RankTestResult:
    """Begg & Mazumdar (1994) rank correlation test (metafor: ranktest).

    Standardised deviates y*_i = (y_i − θ̂)/√(v_i − 1/Σw) with θ̂ = Σw y/Σw, w = 1/v, are
    correlated with v_i by Kendall's tau; p value as described in `kendall_test`.
    """
    y, v = check_study_data(yi, vi)
    if y.size < 3:
        raise ValueError(f"the rank test needs at least 3 studies, got {y.size}")
    w = 1 / v
    theta = np.sum(w * y) / np.sum(w)
    standardised = (y - theta) / np.sqrt(v - 1 / np.sum(w))
    tau, pval, exact, statistic = kendall_test(standardised, v)
    return RankTestResult(kendall_tau=tau, pval=pval, k=int(y.size), exact=exact,
                          statistic=statistic)


# ---- trim and fill --------------------------------------------------------------------------


@result_class
class TrimFillResult(ResultMixin):
    """Trim-and-fill: the estimated number of missing studies and the pooled model with them.

    Attributes
    ----------
    k0, se_k0 : int, float
        Estimated number of missing studies and its standard error.
    side : str
        Where they are missing: "left" or "right".
    estimator : str
        "L0" or "R0".
    filled : pandas.DataFrame
        yi, vi of the imputed studies.
    pooled : PoolResult
        The model fitted to the observed plus filled studies (observed first, in input order),
        with the same method and test.
    iterations : int
        Number of trim-and-fill iterations until k0 stopped changing.
    """

    k0: int
    se_k0: float
    side: str
    estimator: str
    filled: pd.DataFrame
    pooled: PoolResult
    iterations: int

    def to_frame(self) -> pd.DataFrame:
        row = {"k0": self.k0, "se_k0": self.se_k0, "side": self.side, "estimator": self.estimator}
        row.update({f"pooled_{key}": value for key, value in self.pooled.scalar_items().items()})
        return pd.DataFrame([row])


def funnel_side(yi: np.ndarray, vi: np.ndarray, method: str = "REML") -> str:
    """Side of the funnel where studies are missing, as metafor's trimfill chooses it.

    The slope of the meta-regression of yi on √vi (tau² by `method`): a negative slope means
    small studies have smaller effects, so studies are missing on the right; otherwise left.
    """
    if np.ptp(vi) == 0:
        raise ValueError(
            "all studies have the same variance, so the funnel's asymmetry cannot choose a side; "
            "pass side='left' or side='right'"
        )
    fit = fit_model(yi, vi, np.column_stack([np.ones(yi.size), np.sqrt(vi)]), method=method)
    return "right" if fit.beta[1] < 0 else "left"


def _missing_count(centred: np.ndarray, estimator: str) -> tuple[float, float]:
    """Duval & Tweedie's L0 or R0 from the signed ranks of the centred effects."""
    k = centred.size
    ranks = stats.rankdata(np.abs(centred), method="ordinal")  # ties: first come, first ranked
    signed = np.sign(centred) * ranks
    if estimator == "R0":
        negative = -signed[signed < 0]
        # The rightmost run of positive ranks: ranks above the largest negative-signed rank.
        rightmost_run = k - (negative.max() if negative.size else 0)
        k0 = rightmost_run - 1
        return k0, math.sqrt(2 * max(0.0, k0) + 2)
    wilcoxon = np.sum(signed[signed > 0])
    k0 = (4 * wilcoxon - k * (k + 1)) / (2 * k - 1)
    variance = (
        k * (k + 1) * (2 * k + 1)
        + 10 * k0**3
        + 27 * k0**2
        + 17 * k0
        - 18 * k * k0**2
        - 18 * k * k0
        + 6 * k**2 * k0
    ) / 24
    return k0, 4 * math.sqrt(variance) / (2 * k - 1)


def trim_and_fill(
    yi: Sequence[float],
    vi: Sequence[float],
    method: str = "REML",
    estimator: str = "L0",
    side: str | None = None,
    test: str = "z",
    level: float = 0.95,
    maxiter: int = 100,
) -> TrimFillResult:
    """Duval & Tweedie's trim-and-fill (metafor: trimfill(rma(yi, vi, method), estimator, side)).

    1. side (if None) from the sign of the slope of yi on √vi (see `funnel_side`); effects are
       mirrored (y → −y) when it is "right", so that studies are always missing on the left.
    2. Iterate: pool the k − k0 smallest effects (`method`), rank |y − θ̂| over all k studies,
       and update k0 = max(0, round(L0 or R0)) until k0 no longer changes.
    3. Fill: the k0 largest effects reflected around the final θ̂, with their variances.
    4. Pool observed and filled studies with `method` and `test`.
    """
    if estimator not in ("L0", "R0"):
        raise ValueError(f"estimator must be 'L0' or 'R0', got {estimator!r}")
    if side not in (None, "left", "right"):
        raise ValueError(f"side must be None, 'left' or 'right', got {side!r}")
    y, v = check_study_data(yi, vi)
    k = y.size
    if k < 3:
        raise ValueError(f"trim-and-fill needs at least 3 studies, got {k}")
    if side is None:
        side = funnel_side(y, v, method)
    direction = -1.0 if side == "right" else 1.0
    order = np.argsort(direction * y, kind="stable")
    y_sorted = direction * y[order]
    v_sorted = v[order]

    k0, previous, iterations = 0, -1, 0
    theta = math.nan
    se_k0 = math.nan
    while k0 != previous:
        previous = k0
        iterations += 1
        if iterations > maxiter:
            raise RuntimeError(f"trim-and-fill did not converge in {maxiter} iterations")
        kept = k - k0
        theta = float(
            fit_model(y_sorted[:kept], v_sorted[:kept], np.ones((kept, 1)), method=method).beta[0]
        )
        raw_k0, se_k0 = _missing_count(y_sorted - theta, estimator)
        k0 = int(max(0, round(raw_k0)))
        se_k0 = max(0.0, se_k0)
        if k0 >= k:
            raise ValueError(
                "trim-and-fill estimated that every study is missing; it cannot proceed"
            )

    filled_y = direction * (2 * theta - y_sorted[k - k0 :])
    filled_v = v_sorted[k - k0 :]
    pooled = pool(
        np.concatenate([y, filled_y]),
        np.concatenate([v, filled_v]),
        method=method,
        test=test,
        level=level,
    )
    return TrimFillResult(
        k0=k0,
        se_k0=float(se_k0),
        side=side,
        estimator=estimator,
        filled=pd.DataFrame({"yi": filled_y, "vi": filled_v}),
        pooled=pooled,
        iterations=iterations,
    )
