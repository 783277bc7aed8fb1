"""Moderators: meta-regression, subgroup analysis and the permutation test of QM.

- `meta_regression`: mixed-effects meta-regression y = Xβ + u + e (metafor's rma.uni with
  `mods`), with the omnibus test QM of all moderators (Wald chi², or F under knha) and the
  pseudo-R² of Raudenbush (2009) as metafor computes it.
- `subgroup`: differences between subgroups, either with one tau² common to all subgroups
  (a meta-regression on subgroup dummies; QM test) or with a separate tau² in each subgroup
  (Q-between: a fixed-effect test of the subgroup estimates, as RevMan and R's meta report it;
  Borenstein et al. 2009, ch. 19).
- `permutation_test`: the permutation p value of QM (Higgins & Thompson 2004), computed as
  metafor's permutest: exact over all distinct re-arrangements of the moderator rows when there
  are few enough, otherwise Monte Carlo with the observed arrangement counted once.
  All permuted models are fitted at once (batched numpy arrays), not one by one.

Moderators may be a 1-D array, a 2-D array or a pandas DataFrame. Columns of object, string,
bool or category dtype are dummy-coded with the first level as the reference (the first
category of a categorical; otherwise the sorted order of the values, as R's `factor`). An
intercept is always added. Terms are named as in metafor: "intrcpt", the column name for a
numeric moderator, column name + level for a dummy (e.g. "allocrandom").
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from metareview.stats.checks import check_study_data
from metareview.stats.heterogeneity import (
    cochran_q,
    estimate_tau2_batch,
    i2_h2,
    i2_h2_from_q,
    projection_pieces,
    typical_within_variance,
)
from metareview.stats.pooling import (
    PoolResult,
    coefficient_critical_value,
    fit_model,
    pool,
)
from metareview.stats.results import ResultMixin, result_class
from metareview.stats.summary import meta_regression_summary
from metareview.stats.vocabulary import check_method, check_test

INTERCEPT = "intrcpt"
# metafor's permutest counts a permuted QM as "at least as large" within this absolute margin.
PERMUTATION_TOLERANCE = math.sqrt(np.finfo(float).eps)
# Largest number of distinct arrangements enumerated when exact=True is forced.
MAX_EXACT_PERMUTATIONS = 2_000_000


# --------------------------------------------------------------------------------------------
# Design matrix
# --------------------------------------------------------------------------------------------


def _is_categorical(series: pd.Series) -> bool:
    return (isinstance(series.dtype, pd.CategoricalDtype) or series.dtype == object
            or pd.api.types.is_string_dtype(series.dtype) or pd.api.types.is_bool_dtype(series))


def _levels(series: pd.Series) -> list:
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna())
        return [level for level in series.cat.categories if level in present]
    return sorted(series.dropna().unique(), key=lambda value: (str(type(value)), value))


def _as_frame(moderators: Any, k: int) -> pd.DataFrame:
    if isinstance(moderators, pd.DataFrame):
        frame = moderators.reset_index(drop=True)
    elif isinstance(moderators, pd.Series):
        frame = moderators.reset_index(drop=True).to_frame(name=moderators.name or "x")
    else:
        values = np.asarray(moderators)
        if values.ndim == 1:
            frame = pd.DataFrame({"x": values})
        elif values.ndim == 2:
            frame = pd.DataFrame(values, columns=[f"x{j + 1}" for j in range(values.shape[1])])
        else:
            raise ValueError("moderators must be a 1-D array, a 2-D array or a DataFrame")
    if len(frame) != k:
        raise ValueError(f"moderators have {len(frame)} rows but there are {k} studies: "
                         f"study {min(len(frame), k)} has no moderator row")
    if frame.shape[1] == 0:
        raise ValueError("no moderator columns given")
    return frame


def design_matrix(moderators: Any, k: int) -> tuple[np.ndarray, tuple[str, ...], list[int]]:
    """Model matrix X (intercept first), term names, and the index of the source column of each
    term (-1 for the intercept). Raises ValueError naming the study of a missing value."""
    frame = _as_frame(moderators, k)
    columns: list[np.ndarray] = [np.ones(k)]
    terms: list[str] = [INTERCEPT]
    sources: list[int] = [-1]
    for position, name in enumerate(frame.columns):
        series = frame[name]
        missing = np.flatnonzero(pd.isna(series).to_numpy())
        if missing.size:
            raise ValueError(f"study {missing[0]}: moderator {name!r} is missing; every study "
                             "needs a value for every moderator")
        if _is_categorical(series):
            levels = _levels(series)
            for level in levels[1:]:
                columns.append((series == level).to_numpy(dtype=float))
                terms.append(f"{name}{level}")
                sources.append(position)
        else:
            numeric = pd.to_numeric(series, errors="raise").to_numpy(dtype=float)
            bad = np.flatnonzero(~np.isfinite(numeric))
            if bad.size:
                raise ValueError(f"study {bad[0]}: moderator {name!r} is {numeric[bad[0]]}")
            columns.append(numeric)
            terms.append(str(name))
            sources.append(position)
    return np.column_stack(columns), tuple(terms), sources


# --------------------------------------------------------------------------------------------
# Meta-regression
# --------------------------------------------------------------------------------------------


@result_class
class MetaRegressionResult(ResultMixin):
    """A fitted meta-regression (metafor: rma(yi, vi, mods=..., method, test)).

    `print(result)` or `result.summary()` shows it as metafor's ``print.rma.uni`` does;
    `predict(newmods)` gives fitted values with their confidence and prediction intervals
    (metafor's ``predict.rma``) and `conf_int(level)` the coefficients' intervals at another
    level, both from `estimate` and `vcov` without refitting.

    Attributes
    ----------
    terms : tuple of str
        Names of the coefficients, "intrcpt" first.
    estimate, se, statistic, pval, ci_low, ci_high : pandas.Series
        Per term (indexed by `terms`): coefficient, standard error, z (or t with k − p df under
        knha), two-sided p value and confidence limits at `level`.
    qm : float
        Omnibus Wald test of all coefficients but the intercept: chi² with qm_df df, or F with
        (qm_df, qm_df2) df under knha.
    qm_df : int
        Number of coefficients tested by `qm` (p − 1).
    qm_df2 : float
        Second df of the F test (k − p) under knha, nan under z.
    qm_pval : float
        p value of `qm`.
    tau2, tau2_se : float
        Residual tau² and its standard error.
    q, q_df, q_pval : float, int, float
        Test of residual heterogeneity: Q_E on k − p df and its p value.
    i2, h2 : float
        Residual I² (%) and H²: from tau² and the typical within-study variance of the model
        (metafor's s² = (k − p)/tr(P)), or from Q_E for FE.
    vcov : pandas.DataFrame
        Var(β̂), terms × terms (multiplied by the Knapp-Hartung factor under knha).
    r2 : float
        Pseudo-R² in % (Raudenbush 2009): max(0, 100 (tau²_RE − tau²_ME)/tau²_RE), tau²_RE from
        the intercept-only model by the same method, 0 when tau²_RE = 0; for FE models the
        adjusted R² of the weighted least-squares fit, as metafor.
    k, p : int
        Number of studies and of coefficients.
    method : str
        tau² estimator.
    test : str
        "z" or "knha".
    level : float
        Confidence level of the intervals.
    """

    terms: tuple[str, ...]
    estimate: pd.Series
    se: pd.Series
    statistic: pd.Series
    pval: pd.Series
    ci_low: pd.Series
    ci_high: pd.Series
    qm: float
    qm_df: int
    qm_df2: float
    qm_pval: float
    tau2: float
    tau2_se: float
    q: float
    q_df: int
    q_pval: float
    r2: float
    k: int
    p: int
    method: str
    test: str
    level: float
    i2: float
    h2: float
    vcov: pd.DataFrame

    @property
    def tau(self) -> float:
        """sqrt(tau²), the residual between-study standard deviation."""
        return math.sqrt(self.tau2)

    def _critical(self, level: float | None) -> float:
        return coefficient_critical_value(self.level if level is None else level, self.test,
                                          float(self.k - self.p))

    def conf_int(self, level: float | None = None) -> pd.DataFrame:
        """Each coefficient's confidence interval at `level` (default: the fit's level).

        β̂_j ∓ c·se_j, c the z or (under knha) t(k − p) critical value; the same limits as a
        refit with `level` gives.
        """
        crit = self._critical(level)
        return pd.DataFrame({"term": list(self.terms), "estimate": self.estimate.to_numpy(),
                             "ci_low": (self.estimate - crit * self.se).to_numpy(),
                             "ci_high": (self.estimate + crit * self.se).to_numpy()})

    def predict(self, newmods: Any, level: float | None = None) -> pd.DataFrame:
        """Fitted values at moderator values `newmods` (metafor: predict(res, newmods)).

        Parameters
        ----------
        newmods : array_like
            One row per prediction with the p − 1 moderator values (in the order of `terms`
            after the intercept; dummies as 0/1). With one moderator a 1-D array gives one
            prediction per value.
        level : float, optional
            Confidence level of the intervals (default: the fit's level).

        Returns
        -------
        pandas.DataFrame
            Columns pred, se, ci_low, ci_high, pi_low, pi_high, one row per prediction.

        Notes
        -----
        With x₀ = (1, newmods), pred = x₀ᵀβ̂, se = sqrt(x₀ᵀ V x₀), the confidence interval
        pred ∓ c·se and the prediction interval pred ∓ c·sqrt(se² + tau²), V = `vcov` and c
        the z or (under knha) t(k − p) critical value; for FE the prediction interval is the
        confidence interval.
        """
        values = np.asarray(newmods, dtype=float)
        moderators = self.p - 1
        if values.ndim == 0 or (values.ndim == 1 and moderators == 1):
            values = values.reshape(-1, 1)
        elif values.ndim == 1:
            values = values.reshape(1, -1)
        if values.ndim != 2 or values.shape[1] != moderators:
            raise ValueError(f"newmods needs {moderators} value(s) per row "
                             f"({', '.join(self.terms[1:])}), got shape {values.shape}")
        design = np.column_stack([np.ones(len(values)), values])
        pred = design @ self.estimate.to_numpy(float)
        vcov = self.vcov.to_numpy(float)
        se = np.sqrt(np.einsum("ij,jk,ik->i", design, vcov, design))
        crit = self._critical(level)
        spread = np.sqrt(se**2 + self.tau2)
        return pd.DataFrame({"pred": pred, "se": se, "ci_low": pred - crit * se,
                             "ci_high": pred + crit * se, "pi_low": pred - crit * spread,
                             "pi_high": pred + crit * spread})

    def summary(self) -> str:
        """The model as metafor's print.rma.uni prints it (see `metareview.stats.summary`)."""
        return meta_regression_summary(self)

    def __str__(self) -> str:
        return self.summary()

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per term (estimate, se, statistic, pval, ci_low, ci_high)."""
        return pd.DataFrame({
            "term": list(self.terms),
            "estimate": self.estimate.to_numpy(),
            "se": self.se.to_numpy(),
            "statistic": self.statistic.to_numpy(),
            "pval": self.pval.to_numpy(),
            "ci_low": self.ci_low.to_numpy(),
            "ci_high": self.ci_high.to_numpy(),
        })


def _fe_r2(y: np.ndarray, v: np.ndarray, X: np.ndarray) -> float:
    """Adjusted R² (%) of the weighted least-squares fit of y on X, weights 1/v (as R's lm).

    0 when y has no spread to explain (all equal, or differences so small that the weighted
    total sum of squares underflows to 0).
    """
    if np.all(y == y[0]):
        return 0.0
    k, p = X.shape
    w = 1.0 / v
    WX = X * w[:, None]
    beta = np.linalg.solve(X.T @ WX, WX.T @ y)
    rss = float(np.sum(w * (y - X @ beta) ** 2))
    tss = float(np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2))
    if tss == 0.0:
        return 0.0
    adjusted = 1.0 - (rss / tss) * (k - 1) / (k - p)
    return max(0.0, 100.0 * adjusted)


def pseudo_r2(y: np.ndarray, v: np.ndarray, X: np.ndarray, tau2: float, method: str) -> float:
    """Proportion of tau² accounted for by the moderators, in % (see MetaRegressionResult)."""
    if method == "FE":
        return _fe_r2(y, v, X)
    tau2_re = fit_model(y, v, np.ones((len(y), 1)), method, "z").tau2
    if tau2_re == 0.0:
        return 0.0
    return max(0.0, 100.0 * (tau2_re - tau2) / tau2_re)


def meta_regression(yi: Sequence[float], vi: Sequence[float], moderators: Any,
                    method: str = "REML", test: str = "z",
                    level: float = 0.95) -> MetaRegressionResult:
    r"""Mixed-effects meta-regression of `yi` on `moderators` (an intercept is added).

    The equivalent of metafor's ``rma(yi, vi, mods = ~ ..., method, test)``.

    Parameters
    ----------
    yi, vi : sequence of float
        The studies' effect sizes and sampling variances.
    moderators : array_like or pandas.DataFrame
        One row per study: a 1-D array (one moderator), a 2-D array or a DataFrame. Text,
        boolean and categorical columns are dummy-coded against their first level (see the
        module docstring); terms are named as metafor names them.
    method : str
        tau² estimator as in `pool` ("REML" by default), or "FE".
    test : str
        "z" (default) or "knha" (Knapp & Hartung 2003).
    level : float
        Confidence level of the intervals (default 0.95).

    Returns
    -------
    MetaRegressionResult
        Coefficients with their tests and intervals, QM, residual tau², Q_E, I², H², R², and
        ``vcov``; ``predict(newmods)`` and ``print(result)`` as metafor's.

    Raises
    ------
    ValueError
        For invalid studies (named), a missing moderator value, a model matrix without full
        column rank, or k ≤ p (fewer studies than coefficients).

    Notes
    -----
    With X the k × p model matrix and W = diag(1/(v_i + τ̂²)),

    .. math::

        \hat\beta = (X^T W X)^{-1} X^T W y, \quad
        Var(\hat\beta) = s^2 (X^T W X)^{-1}, \quad
        Q_M = \hat\beta_S^T Var(\hat\beta_S)^{-1} \hat\beta_S,

    S the coefficients other than the intercept; under test="z" s² = 1 and Q_M is chi² on
    m = p − 1 df; under knha s² = Σ w_i (y_i − x_iᵀβ̂)²/(k − p), coefficients have t tests on
    k − p df and Q_M/m is F(m, k − p). Q_E = Σ (y_i − x_iᵀβ̂_FE)²/v_i on k − p df. R² =
    max(0, 100 (τ̂²_RE − τ̂²)/τ̂²_RE), τ̂²_RE from the model without moderators (Raudenbush
    2009).

    References
    ----------
    Thompson SG, Higgins JPT (2002). How should meta-regression analyses be undertaken and
    interpreted? Stat Med 21(11):1559-1573. doi:10.1002/sim.1187

    Knapp G, Hartung J (2003). Improved tests for a random effects meta-regression with a
    single covariate. Stat Med 22(17):2693-2710. doi:10.1002/sim.1482

    Viechtbauer W (2005). Bias and efficiency of meta-analytic variance estimators in the
    random-effects model. J Educ Behav Stat 30(3):261-293. doi:10.3102/10769986030003261

    Raudenbush SW (2009). Analyzing effect sizes: random-effects models. In Cooper H, Hedges
    LV, Valentine JC (eds), The Handbook of Research Synthesis and Meta-Analysis, 2nd ed.,
    295-315. New York: Russell Sage Foundation.

    Colditz GA, Brewer TF, Berkey CS, et al. (1994). Efficacy of BCG vaccine in the prevention
    of tuberculosis: meta-analysis of the published literature. JAMA 271(9):698-702.
    doi:10.1001/jama.1994.03510330076038

    Examples
    --------
    dat.bcg's log risk ratios (rounded to four decimals) against the trials' absolute
    latitude; metafor gives the same to the digits shown:

    >>> yi = [-0.8893, -1.5854, -1.3481, -1.4416, -0.2175, -0.7861, -1.6209, 0.0120,
    ...       -0.4694, -1.3713, -0.3394, 0.4459, -0.0173]
    >>> vi = [0.3256, 0.1946, 0.4154, 0.0200, 0.0512, 0.0069, 0.2230, 0.0040, 0.0564,
    ...       0.0730, 0.0124, 0.5325, 0.0714]
    >>> ablat = [44, 55, 42, 52, 13, 44, 19, 13, 27, 42, 18, 33, 33]
    >>> fit = meta_regression(yi, vi, ablat)
    >>> fit.estimate.round(3).tolist(), round(fit.tau2, 3), round(fit.r2, 1)
    ([0.251, -0.029], 0.076, 75.6)
    >>> fit.predict([10, 50]).round(3)
        pred     se  ci_low  ci_high  pi_low  pi_high
    0 -0.040  0.187  -0.405    0.326  -0.693    0.614
    1 -1.204  0.172  -1.540   -0.867  -1.841   -0.566
    """
    method = check_method(method)
    test = check_test(test)
    y, v = check_study_data(yi, vi)
    X, terms, _ = design_matrix(moderators, y.size)
    k, p = X.shape
    if k <= p:
        raise ValueError(f"{k} studies cannot support {p} coefficients ({', '.join(terms)}); "
                         "a meta-regression needs more studies than coefficients")
    fit = fit_model(y, v, X, method, test, level)
    qm, qm_df, qm_pval = fit.wald_test(range(1, p))
    q, q_df, q_pval = cochran_q(y, v, X)
    if method == "FE":
        i2, h2 = i2_h2_from_q(q, q_df)
    else:
        i2, h2 = i2_h2(fit.tau2, typical_within_variance(v, X))
    index = pd.Index(terms, name="term")

    def series(values: np.ndarray, name: str) -> pd.Series:
        return pd.Series(np.asarray(values, dtype=float), index=index, name=name)

    return MetaRegressionResult(
        terms=terms,
        estimate=series(fit.beta, "estimate"),
        se=series(fit.se, "se"),
        statistic=series(fit.statistics(), "statistic"),
        pval=series(fit.pvalues(), "pval"),
        ci_low=series(fit.beta - fit.crit * fit.se, "ci_low"),
        ci_high=series(fit.beta + fit.crit * fit.se, "ci_high"),
        qm=qm,
        qm_df=int(qm_df),
        qm_df2=fit.df,
        qm_pval=qm_pval,
        tau2=fit.tau2,
        tau2_se=fit.tau2_se,
        q=q,
        q_df=q_df,
        q_pval=q_pval,
        r2=pseudo_r2(y, v, X, fit.tau2, method),
        k=k,
        p=p,
        method=method,
        test=test,
        level=level,
        i2=float(i2),
        h2=float(h2),
        vcov=pd.DataFrame(fit.vcov, index=index, columns=index),
    )


# --------------------------------------------------------------------------------------------
# Subgroups
# --------------------------------------------------------------------------------------------


@result_class
class SubgroupResult(ResultMixin):
    """Test of subgroup differences.

    Attributes
    ----------
    q_between : float
        QM of the dummy-coded subgroups (tau2_mode="common"; an F value under knha) or the
        fixed-effect Q of the subgroup estimates (tau2_mode="separate").
    df : int
        Number of subgroups − 1: the (first) degrees of freedom of `q_between`.
    df2 : float
        k − G, the second df of the F test (common mode under knha), else nan.
    pval : float
        p value of `q_between`.
    groups : dict
        Each subgroup's `PoolResult` (same method and test), in level order.
    tau2_mode : str
        "common" (one tau² for all subgroups) or "separate".
    tau2 : float
        The common tau² (common mode) or nan (separate mode: see each group's tau2).
    method : str
        tau² estimator.
    test : str
        "z" or "knha".
    """

    q_between: float
    df: int
    df2: float
    pval: float
    groups: dict[Any, PoolResult]
    tau2_mode: str
    tau2: float
    method: str
    test: str

    def to_frame(self) -> pd.DataFrame:
        """One row per subgroup: its pooled result, with the test of differences repeated."""
        rows = []
        for name, result in self.groups.items():
            row = {"group": name, **result.scalar_items()}
            rows.append(row)
        frame = pd.DataFrame(rows)
        frame["q_between"] = self.q_between
        frame["q_between_df"] = self.df
        frame["q_between_pval"] = self.pval
        frame["tau2_mode"] = self.tau2_mode
        return frame


def subgroup(yi: Sequence[float], vi: Sequence[float], groups: Sequence, method: str = "REML",
             tau2: str = "common", test: str = "z", level: float = 0.95) -> SubgroupResult:
    """Compare subgroups with a common tau² (QM test) or separate tau² (Q-between).

    common: meta-regression on G − 1 subgroup dummies; Q-between = QM, chi² with G − 1 df
    (F(G − 1, k − G) under knha). separate: each subgroup pooled alone; Q-between =
    Σ_g (μ̂_g − μ̂_FE)² / SE_g², chi² with G − 1 df, μ̂_FE the inverse-variance mean of the μ̂_g
    (Borenstein et al. 2009; RevMan; meta's `subgroup`).
    """
    method = check_method(method)
    test = check_test(test)
    mode = str(tau2).lower()
    if mode not in ("common", "separate"):
        raise ValueError(f"tau2 must be 'common' or 'separate', not {tau2!r}")
    y, v = check_study_data(yi, vi)
    labels = pd.Series(list(groups) if not isinstance(groups, pd.Series) else groups.to_numpy(),
                       dtype=groups.dtype if isinstance(groups, pd.Series) else None)
    if len(labels) != y.size:
        raise ValueError(f"groups has {len(labels)} labels but there are {y.size} studies: "
                         f"study {min(len(labels), y.size)} has no group")
    missing = np.flatnonzero(pd.isna(labels).to_numpy())
    if missing.size:
        raise ValueError(f"study {missing[0]}: group label is missing")
    if not isinstance(labels.dtype, pd.CategoricalDtype):
        labels = labels.astype(object)
    levels = _levels(labels)
    if len(levels) < 2:
        raise ValueError("subgroup analysis needs at least two groups")
    label_values = labels.to_numpy()
    pooled = {name: pool(y[label_values == name], v[label_values == name], method, test, level)
              for name in levels}
    if mode == "common":
        model = meta_regression(y, v, pd.DataFrame({"group": labels}), method, test, level)
        return SubgroupResult(q_between=model.qm, df=model.qm_df, df2=model.qm_df2,
                              pval=model.qm_pval, groups=pooled, tau2_mode=mode,
                              tau2=model.tau2, method=method, test=test)
    estimates = np.array([result.estimate for result in pooled.values()])
    weights = 1.0 / np.array([result.se for result in pooled.values()]) ** 2
    mean = np.sum(weights * estimates) / np.sum(weights)
    q_between = float(np.sum(weights * (estimates - mean) ** 2))
    df = len(levels) - 1
    return SubgroupResult(q_between=q_between, df=df, df2=math.nan,
                          pval=float(stats.chi2.sf(q_between, df)), groups=pooled,
                          tau2_mode=mode, tau2=math.nan, method=method, test=test)


# --------------------------------------------------------------------------------------------
# Batched model fitting (many model matrices, same y and v) for the permutation test
# --------------------------------------------------------------------------------------------


def batched_tau2(X: np.ndarray, y: np.ndarray, v: np.ndarray, method: str) -> np.ndarray:
    """tau² for each model matrix X[b] (B × k × p); y must be centred.

    The same engine as every single fit (`heterogeneity.estimate_tau2_batch`, of which a single
    fit is a batch of one), without the standard errors the permutation test does not need.
    """
    return estimate_tau2_batch(X, y, v, method, with_se=False)[0]


def batched_qm(X: np.ndarray, y: np.ndarray, v: np.ndarray, method: str, test: str,
               columns: Sequence[int]) -> np.ndarray:
    """QM of the coefficients `columns` for each model matrix X[b] (B × k × p).

    Same definition as `ModelFit.wald_test`: β̂_Sᵀ [s² (XᵀWX)⁻¹]_SS⁻¹ β̂_S, divided by m under
    knha, where s² is the Knapp-Hartung factor (1 under test="z").
    """
    k, p = X.shape[1:]
    tau2 = batched_tau2(X, y - y.mean(), v, method)
    pieces = projection_pieces(X, y, 1.0 / (v[None, :] + tau2[:, None]))
    cols = np.asarray(list(columns))
    b = pieces["beta"][:, cols]
    cov = pieces["A"][:, cols[:, None], cols[None, :]]
    qm = np.einsum("bi,bi->b", b, np.linalg.solve(cov, b[:, :, None])[:, :, 0])
    if test == "knha":
        rss = pieces["rss"]
        s2w = np.where(rss > np.finfo(float).eps, rss / (k - p), 0.0)
        # A zero factor makes the covariance singular; metafor then reports QM as NA.
        with np.errstate(divide="ignore", invalid="ignore"):
            qm = np.where(s2w > 0, qm / s2w / len(cols), np.nan)
    return qm


# --------------------------------------------------------------------------------------------
# Permutation test
# --------------------------------------------------------------------------------------------


@result_class
class PermutationResult(ResultMixin):
    """Permutation test of QM (Higgins & Thompson 2004; metafor's permutest).

    Attributes
    ----------
    qm : float
        QM of the observed arrangement.
    qm_df : int
        Number of coefficients tested by QM.
    pval : float
        Share of the reference distribution with QM_perm ≥ QM_obs (within 1.5e-8, as metafor):
        (1 + #{random QM ≥ QM_obs}) / n_perm when not `exact`.
    n_perm : int
        Size of the reference distribution.
    exact : bool
        True when the distribution holds every distinct arrangement of the moderator rows (the
        observed one among them); False: the observed arrangement plus n_perm − 1 random ones.
    seed : int or None
        Seed of numpy's default generator for the random arrangements.
    method : str
        tau² estimator.
    test : str
        "z" or "knha".
    distribution : ndarray
        The QM values of the reference distribution.
    """

    qm: float
    qm_df: int
    pval: float
    n_perm: int
    exact: bool
    seed: int | None
    method: str
    test: str
    distribution: np.ndarray


def count_distinct_arrangements(X: np.ndarray) -> int:
    """Number of distinct orderings of the rows of X: k! / Π n_j! over groups of equal rows."""
    _, counts = np.unique(X, axis=0, return_counts=True)
    total = math.factorial(int(counts.sum()))
    for count in counts:
        total //= math.factorial(int(count))
    return total


def _distinct_arrangements(codes: np.ndarray) -> np.ndarray:
    """All distinct orderings of the multiset `codes`, one per row, in lexicographic order
    (the classic next-permutation algorithm started from the sorted sequence)."""
    current = np.sort(codes).tolist()
    k = len(current)
    rows = [current.copy()]
    while True:
        i = k - 2
        while i >= 0 and current[i] >= current[i + 1]:
            i -= 1
        if i < 0:
            break
        j = k - 1
        while current[j] <= current[i]:
            j -= 1
        current[i], current[j] = current[j], current[i]
        current[i + 1:] = reversed(current[i + 1:])
        rows.append(current.copy())
    return np.asarray(rows, dtype=int)


def _chunked_qm(X_batches: np.ndarray, y, v, method, test, columns, chunk: int) -> np.ndarray:
    return np.concatenate([batched_qm(X_batches[start:start + chunk], y, v, method, test, columns)
                           for start in range(0, len(X_batches), chunk)])


def permutation_test(yi: Sequence[float], vi: Sequence[float], moderators: Any,
                     n_perm: int = 10_000, seed: int | None = 1, method: str = "REML",
                     test: str = "z", exact: bool | str = "auto") -> PermutationResult:
    """Permutation p value of the omnibus moderator test QM (metafor's permutest.rma.uni).

    The rows of the model matrix are permuted across studies while yi and vi stay put, and QM
    is recomputed for each arrangement. exact="auto" enumerates all distinct arrangements when
    there are no more than `n_perm` of them (metafor's rule), True always enumerates, False
    never does. Random arrangements come from numpy's default generator seeded with `seed`.
    """
    method = check_method(method)
    test = check_test(test)
    y, v = check_study_data(yi, vi)
    X, terms, _ = design_matrix(moderators, y.size)
    k, p = X.shape
    if p < 2:
        raise ValueError("a permutation test of QM needs at least one moderator")
    if k <= p:
        raise ValueError(f"{k} studies cannot support {p} coefficients")
    if n_perm < 2:
        raise ValueError("n_perm must be at least 2")
    columns = list(range(1, p))
    observed = fit_model(y, v, X, method, test).wald_test(columns)[0]

    n_distinct = count_distinct_arrangements(X)
    use_exact = (n_distinct <= n_perm) if exact == "auto" else bool(exact)
    if use_exact and n_distinct > MAX_EXACT_PERMUTATIONS:
        raise ValueError(f"{n_distinct} distinct arrangements are too many to enumerate; "
                         "use exact=False")
    if use_exact:
        _, codes = np.unique(X, axis=0, return_inverse=True)
        order = _distinct_arrangements(codes.ravel())
        rows_of_code = np.unique(X, axis=0)
        X_batches = rows_of_code[order]
    else:
        rng = np.random.default_rng(seed)
        order = rng.permuted(np.tile(np.arange(k), (n_perm - 1, 1)), axis=1)
        X_batches = X[order]
    # Keep each batch near a few million numbers so memory stays small for large k.
    chunk = max(1, 4_000_000 // (k * p * p + k))
    permuted = _chunked_qm(X_batches, y, v, method, test, columns, chunk)
    if not use_exact:
        permuted = np.concatenate([[observed], permuted])
    # Arrangements whose QM is undefined are left out, as metafor does (na.rm = TRUE).
    valid = permuted[~np.isnan(permuted)]
    if math.isnan(observed) or valid.size == 0:
        pval = math.nan
    else:
        pval = float(np.mean(valid >= observed - PERMUTATION_TOLERANCE))
    return PermutationResult(qm=observed, qm_df=p - 1, pval=pval, n_perm=int(permuted.size),
                             exact=use_exact, seed=None if use_exact else seed, method=method,
                             test=test, distribution=permuted)
