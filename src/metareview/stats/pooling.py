"""Inverse-variance pooling: fixed-effect and random-effects models (metafor's rma.uni).

`pool(yi, vi)` fits the intercept-only model; `fit_model(yi, vi, X)` is the engine shared with
meta-regression, subgroups and the sensitivity analyses. Conventions follow metafor 3.8-1:

- weights w_i = 1/(v_i + tau²); β̂ = (XᵀWX)⁻¹XᵀWy; Var(β̂) = (XᵀWX)⁻¹;
- test="z": Wald z tests and normal-based intervals;
- test="knha": Hartung & Knapp (2001) / Sidik & Jonkman (2002): Var(β̂) multiplied by
  s² = Σw_i(y_i − x_iᵀβ̂)²/(k − p) (not truncated at 1, as in metafor), t tests with k − p df;
- prediction interval (Riley et al. 2011, as metafor's predict.rma): μ̂ ± c·sqrt(SE² + tau²),
  c the same z or t critical value as the confidence interval; for FE it equals the CI;
- Q, I², H² and the Q-profile tau² interval: see `metareview.stats.heterogeneity`.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats

from metareview.stats.checks import check_study_data
from metareview.stats.heterogeneity import (
    cochran_q,
    estimate_tau2,
    i2_h2,
    i2_h2_from_q,
    q_profile_ci,
    typical_within_variance,
)
from metareview.stats.results import ResultMixin, result_class
from metareview.stats.summary import pool_summary
from metareview.stats.vocabulary import check_method, check_test

K1_NOTE = ("only one study: heterogeneity (tau², Q, I², H²) is not estimable; the estimate is "
           "that study's own value with its own standard error")
K1_KNHA_NOTE = ("the Knapp-Hartung t test needs at least two studies; with one study the z-based "
                "interval of that study is reported")
KNHA_ZERO_NOTE = ("all weighted residuals are zero, so the Knapp-Hartung scale factor is 0 and "
                  "the interval has zero width (as in metafor)")


@result_class
class ModelFit(ResultMixin):
    """The pieces of a fitted (mixed-effects) meta-regression model y = Xβ + u + e.

    The engine shared by `pool`, `meta_regression`, the subgroup and sensitivity analyses.

    Attributes
    ----------
    yi, vi : ndarray
        The studies' effect sizes and sampling variances, as fitted.
    X : ndarray
        The k × p model matrix (a column of ones for the intercept-only model).
    method : str
        tau² estimator ("FE" for the fixed-effect model).
    test : str
        "z" or "knha".
    level : float
        Confidence level of the intervals built from `crit`.
    k, p : int
        Number of studies and of coefficients.
    tau2, tau2_se : float
        Estimated tau² and its standard error (0 and nan when k ≤ p).
    beta : ndarray
        The coefficients β̂ = (XᵀWX)⁻¹XᵀWy.
    vcov : ndarray
        Var(β̂) = (XᵀWX)⁻¹, already multiplied by the Knapp-Hartung factor `s2w` under knha.
    se : ndarray
        sqrt(diag(vcov)).
    w : ndarray
        Raw inverse-variance weights 1/(v_i + tau²) (`PoolResult.weights` are percentages).
    s2w : float
        The Knapp-Hartung factor Σw_i(y_i − x_iᵀβ̂)²/(k − p) under knha, else 1.
    df : float
        k − p under knha, nan under z.
    crit : float
        The two-sided critical value (z, or t with `df` df) at `level`.
    """

    yi: np.ndarray
    vi: np.ndarray
    X: np.ndarray
    method: str
    test: str
    level: float
    k: int
    p: int
    tau2: float
    tau2_se: float
    beta: np.ndarray
    vcov: np.ndarray
    se: np.ndarray
    w: np.ndarray
    s2w: float
    df: float
    crit: float

    def statistics(self) -> np.ndarray:
        """Wald statistics β̂/SE (z, or t under knha)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.beta / self.se

    def pvalues(self) -> np.ndarray:
        stat = np.abs(self.statistics())
        if self.test == "knha":
            return 2.0 * stats.t.sf(stat, self.df)
        return 2.0 * stats.norm.sf(stat)

    def wald_test(self, columns: Sequence[int]) -> tuple[float, float, float]:
        """QM = β̂_Sᵀ Var(β̂_S)⁻¹ β̂_S for the coefficients S = `columns`; returns (QM, df1, p).

        Under knha QM is divided by m = |S| and referred to F(m, k − p); otherwise chi²(m).
        """
        cols = list(columns)
        m = len(cols)
        b = self.beta[cols]
        try:
            qm = float(b @ np.linalg.solve(self.vcov[np.ix_(cols, cols)], b))
        except np.linalg.LinAlgError:
            qm = math.nan
        if self.test == "knha":
            qm /= m
            pval = float(stats.f.sf(qm, m, self.df)) if self.df > 0 else math.nan
        else:
            pval = float(stats.chi2.sf(qm, m))
        return qm, float(m), pval


def coefficient_critical_value(level: float, test: str, df: float) -> float:
    """Two-sided critical value at `level`: z, or t with `df` degrees of freedom under knha."""
    alpha = 1.0 - level
    if test == "knha":
        return float(stats.t.isf(alpha / 2, df)) if df > 0 else math.nan
    return float(stats.norm.isf(alpha / 2))


def fit_model(yi: np.ndarray, vi: np.ndarray, X: np.ndarray, method: str = "REML",
              test: str = "z", level: float = 0.95) -> ModelFit:
    """Fit y = Xβ + u + e, u ~ N(0, tau²), e_i ~ N(0, v_i) as metafor's rma.uni.

    Inputs must already be checked (`check_study_data`); X must have full column rank. tau² is
    estimated by `method` (see `metareview.stats.heterogeneity.estimate_tau2`) when k > p, else 0.
    """
    method = check_method(method)
    test = check_test(test)
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    X = np.asarray(X, dtype=float).reshape(len(y), -1)
    k, p = X.shape
    if np.linalg.matrix_rank(X) < p:
        raise ValueError("the model matrix is not of full rank (a moderator is constant or "
                         "collinear with others); cannot fit the model")
    if k > p:
        tau2, tau2_se = estimate_tau2(y, v, X, method)
    else:
        tau2, tau2_se = 0.0, math.nan
    w = 1.0 / (v + tau2)
    WX = X * w[:, None]
    vcov = np.linalg.inv(X.T @ WX)
    beta = vcov @ (WX.T @ y)
    s2w = 1.0
    df = math.nan
    if test == "knha":
        df = float(k - p)
        rss = float(np.sum(w * (y - X @ beta) ** 2))
        # metafor: a residual sum of squares at machine zero gives a factor of exactly 0.
        s2w = rss / (k - p) if (rss > np.finfo(float).eps and k > p) else 0.0
        vcov = s2w * vcov
    crit = coefficient_critical_value(level, test, df)
    se = np.sqrt(np.diag(vcov))
    return ModelFit(yi=y, vi=v, X=X, method=method, test=test, level=level, k=k, p=p,
                    tau2=tau2, tau2_se=tau2_se, beta=beta, vcov=vcov, se=se, w=w,
                    s2w=s2w, df=df, crit=crit)


@result_class
class PoolResult(ResultMixin):
    """A pooled estimate with its heterogeneity statistics (metafor rma.uni, intercept only).

    Attributes
    ----------
    estimate, se : float
        The pooled estimate μ̂ and its standard error (multiplied by sqrt(knha_factor) under
        knha).
    ci_low, ci_high : float
        μ̂ ∓ c·se, c the z or t (df = k − 1) critical value at `level`.
    pval : float
        Two-sided p value of `statistic`.
    k : int
        Number of studies.
    tau2 : float
        Estimated tau² (0 for FE).
    tau2_ci_low, tau2_ci_high : float
        Q-profile interval of tau² at `level` (nan for FE, which has no tau²); the pair is
        `tau2_ci`.
    i2, h2 : float
        I² (%) and H²: for random-effects methods from tau² and the typical within-study
        variance, for FE from Q.
    q, q_pval : float
        Cochran's Q and its p value against chi²(q_df).
    pi_low, pi_high : float
        Prediction interval μ̂ ∓ c·sqrt(se² + tau²) (equal to the CI for FE; nan for k = 1).
    weights : ndarray
        Each study's weight in percent (summing to 100).
    method : str
        tau² estimator ("FE", "DL", "REML", ...).
    test : str
        "z" or "knha" ("z" when knha was asked for a single study).
    level : float
        Confidence level of every interval.
    statistic : float
        estimate/se: z (test="z") or t with `df` degrees of freedom (test="knha").
    df : float
        k − 1 under knha, nan under z.
    q_df : int
        k − 1.
    tau2_se : float
        Standard error of tau² (nan for FE and methods without one).
    i2_ci_low, i2_ci_high, h2_ci_low, h2_ci_high : float
        I² and H² at the limits of the tau² interval; the pairs are `i2_ci` and `h2_ci`.
    knha_factor : float
        The Knapp-Hartung factor s² by which the variance of μ̂ is multiplied (1 under z).
    note : str
        Special cases in words (k = 1, a knha factor of 0), "" when none.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    pval: float
    k: int
    tau2: float
    tau2_ci_low: float
    tau2_ci_high: float
    i2: float
    h2: float
    q: float
    q_pval: float
    pi_low: float
    pi_high: float
    weights: np.ndarray
    method: str
    test: str
    level: float
    statistic: float
    df: float
    q_df: int
    tau2_se: float
    i2_ci_low: float
    i2_ci_high: float
    h2_ci_low: float
    h2_ci_high: float
    knha_factor: float
    note: str = ""

    @property
    def tau(self) -> float:
        """sqrt(tau²), the between-study standard deviation."""
        return math.sqrt(self.tau2)

    # The intervals as (low, high) pairs, read from their two fields: the public interface
    # names `r.tau2_ci` a pair, a result stores only the fields (vocabulary.INTERVAL_ENDS).
    @property
    def tau2_ci(self) -> tuple[float, float]:
        """(tau2_ci_low, tau2_ci_high), the Q-profile interval of tau²."""
        return self.tau2_ci_low, self.tau2_ci_high

    @property
    def i2_ci(self) -> tuple[float, float]:
        """(i2_ci_low, i2_ci_high)."""
        return self.i2_ci_low, self.i2_ci_high

    @property
    def h2_ci(self) -> tuple[float, float]:
        """(h2_ci_low, h2_ci_high)."""
        return self.h2_ci_low, self.h2_ci_high

    def conf_int(self, level: float | None = None) -> tuple[float, float]:
        """Confidence interval of the estimate at `level` (default: the fit's level).

        estimate ∓ c·se, c the z or (under knha) t(k − 1) critical value; the same limits as
        `pool(..., level=level)` gives, without refitting (metafor: confint(res, fixed=TRUE)).
        """
        crit = coefficient_critical_value(self.level if level is None else level, self.test,
                                          self.df)
        return self.estimate - crit * self.se, self.estimate + crit * self.se

    def summary(self) -> str:
        """The model as metafor's print.rma.uni prints it (see `metareview.stats.summary`)."""
        return pool_summary(self)

    def __str__(self) -> str:
        return self.summary()


def pool(yi: Sequence[float], vi: Sequence[float], method: str = "REML", test: str = "z",
         level: float = 0.95) -> PoolResult:
    r"""Pool effect sizes `yi` with sampling variances `vi` (metafor: rma(yi, vi, method, test)).

    Parameters
    ----------
    yi, vi : sequence of float
        The studies' effect sizes (analysis scale: log for ratios) and sampling variances.
    method : str
        "FE" (fixed effect, inverse variance) or the tau² estimator of the random-effects
        model: "DL" (DerSimonian & Laird 1986), "REML" (default) or "ML" (Viechtbauer 2005),
        "PM" (Paule & Mandel 1982), "HE" (Hedges 1983), "SJ" (Sidik & Jonkman 2005), "HS"
        (Hunter & Schmidt 2004), "EB" (Morris 1983).
    test : str
        "z" (Wald z tests and intervals, default) or "knha" (Hartung & Knapp 2001; Sidik &
        Jonkman 2002: t with k − 1 df and the variance scaled by the Knapp-Hartung factor).
    level : float
        Confidence level of every interval (default 0.95).

    Returns
    -------
    PoolResult
        The estimate, its test and intervals, tau², Q, I², H² and the prediction interval;
        its Attributes section defines each field. ``print(result)`` shows it as metafor.

    Raises
    ------
    ValueError
        Naming the study, for NaN yi, non-positive or NaN vi, or inputs of different lengths.

    Notes
    -----
    With weights :math:`w_i = 1/(v_i + \hat\tau^2)` (:math:`\hat\tau^2 = 0` for FE),

    .. math::

        \hat\mu = \frac{\sum w_i y_i}{\sum w_i}, \quad
        SE(\hat\mu) = \sqrt{s^2 / \sum w_i}, \quad
        \hat\mu \pm c\,SE, \quad
        \hat\mu \pm c\sqrt{SE^2 + \hat\tau^2},

    the confidence and the prediction interval (Riley et al. 2011), where c is the z critical
    value and s² = 1, or under knha c is t with k − 1 df and
    :math:`s^2 = \sum w_i (y_i - \hat\mu)^2/(k - 1)`. Q = Σ (y_i − μ̂_FE)²/v_i on k − 1 df;
    I² = 100 τ̂²/(τ̂² + s̃²) and H² = (τ̂² + s̃²)/s̃² with s̃² the typical within-study variance
    (Higgins & Thompson 2002); for FE, I² = 100 (Q − (k − 1))/Q and H² = Q/(k − 1).

    With k = 1 the result is the study itself, tau² = 0, and Q, I², H², their intervals and
    the prediction interval are nan (`note` says why); test="knha" then falls back to the z
    interval of that study, since t with 0 df is undefined.

    References
    ----------
    DerSimonian R, Laird N (1986). Meta-analysis in clinical trials. Control Clin Trials
    7(3):177-188. doi:10.1016/0197-2456(86)90046-2

    Viechtbauer W (2005). Bias and efficiency of meta-analytic variance estimators in the
    random-effects model. J Educ Behav Stat 30(3):261-293. doi:10.3102/10769986030003261

    Hartung J, Knapp G (2001). A refined method for the meta-analysis of controlled clinical
    trials with binary outcome. Stat Med 20(24):3875-3889. doi:10.1002/sim.1009

    Higgins JPT, Thompson SG (2002). Quantifying heterogeneity in a meta-analysis. Stat Med
    21(11):1539-1558. doi:10.1002/sim.1186

    Riley RD, Higgins JPT, Deeks JJ (2011). Interpretation of random effects meta-analyses.
    BMJ 342:d549. doi:10.1136/bmj.d549

    Colditz GA, Brewer TF, Berkey CS, et al. (1994). Efficacy of BCG vaccine in the prevention
    of tuberculosis: meta-analysis of the published literature. JAMA 271(9):698-702.
    doi:10.1001/jama.1994.03510330076038

    Examples
    --------
    The 13 BCG vaccine trials of dat.bcg (Colditz et al. 1994), log risk ratios rounded to
    four decimals (metafor's rma on the full data gives the same to the digits shown):

    >>> yi = [-0.8893, -1.5854, -1.3481, -1.4416, -0.2175, -0.7861, -1.6209, 0.0120,
    ...       -0.4694, -1.3713, -0.3394, 0.4459, -0.0173]
    >>> vi = [0.3256, 0.1946, 0.4154, 0.0200, 0.0512, 0.0069, 0.2230, 0.0040, 0.0564,
    ...       0.0730, 0.0124, 0.5325, 0.0714]
    >>> fit = pool(yi, vi)
    >>> print(f"{fit.estimate:.3f} [{fit.ci_low:.3f}, {fit.ci_high:.3f}], tau2 {fit.tau2:.3f}")
    -0.715 [-1.067, -0.362], tau2 0.313
    >>> round(fit.i2, 1), fit.q_df
    (92.2, 12)
    >>> knha = pool(yi, vi, method="DL", test="knha")
    >>> print(f"t({knha.df:g}) = {knha.statistic:.2f}, p = {knha.pval:.4f}")
    t(12) = -3.95, p = 0.0019
    """
    method = check_method(method)
    test = check_test(test)
    y, v = check_study_data(yi, vi)
    k = y.size
    notes = []
    if k == 1:
        notes.append(K1_NOTE)
        if test == "knha":
            notes.append(K1_KNHA_NOTE)
        fit = fit_model(y, v, np.ones((1, 1)), method, "z", level)
    else:
        fit = fit_model(y, v, np.ones((k, 1)), method, test, level)
    if fit.test == "knha" and fit.s2w == 0.0:
        notes.append(KNHA_ZERO_NOTE)

    estimate = float(fit.beta[0])
    se = float(fit.se[0])
    statistic = float(fit.statistics()[0])
    pval = float(fit.pvalues()[0])
    nan_pair = (math.nan, math.nan)
    if k == 1:
        q = q_pval = i2 = h2 = pi_low = pi_high = tau2_se = math.nan
        q_df = 0
        tau2_ci = i2_ci = h2_ci = nan_pair
    else:
        q, q_df, q_pval = cochran_q(y, v, fit.X)
        tau2_se = fit.tau2_se
        if method == "FE":
            i2, h2 = i2_h2_from_q(q, q_df)
            tau2_ci = i2_ci = h2_ci = nan_pair
        else:
            s2 = typical_within_variance(v, fit.X)
            i2, h2 = i2_h2(fit.tau2, s2)
            tau2_ci = q_profile_ci(y, v, fit.X, fit.tau2, level)
            i2_ci = tuple(i2_h2(bound, s2)[0] for bound in tau2_ci)
            h2_ci = tuple(i2_h2(bound, s2)[1] for bound in tau2_ci)
        half_width = fit.crit * math.sqrt(se**2 + fit.tau2)
        pi_low, pi_high = estimate - half_width, estimate + half_width
    return PoolResult(
        estimate=estimate,
        se=se,
        ci_low=estimate - fit.crit * se,
        ci_high=estimate + fit.crit * se,
        pval=pval,
        k=k,
        tau2=float(fit.tau2),
        tau2_ci_low=float(tau2_ci[0]),
        tau2_ci_high=float(tau2_ci[1]),
        i2=float(i2),
        h2=float(h2),
        q=float(q),
        q_pval=float(q_pval),
        pi_low=float(pi_low),
        pi_high=float(pi_high),
        weights=100.0 * fit.w / fit.w.sum(),
        method=method,
        test=fit.test,
        level=level,
        statistic=statistic,
        df=fit.df,
        q_df=int(q_df),
        tau2_se=float(tau2_se),
        i2_ci_low=float(i2_ci[0]),
        i2_ci_high=float(i2_ci[1]),
        h2_ci_low=float(h2_ci[0]),
        h2_ci_high=float(h2_ci[1]),
        knha_factor=float(fit.s2w),
        note="; ".join(notes),
    )
