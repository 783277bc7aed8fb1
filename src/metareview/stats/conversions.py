"""Conversions between the forms in which studies report their results.

- Standard error from a confidence interval, a p value or a t statistic (Cochrane Handbook
  ch. 6.3.1 and 6.5.2.2-6.5.2.3): with a t distribution on `df` degrees of freedom when the
  sample size is known, else the normal distribution.
- Mean and SD from the median with the interquartile range, the range, or both: SD after
  Wan et al. 2014 (BMC Med Res Methodol 14:135), mean after Luo et al. 2018 (Stat Methods Med
  Res 27(6):1785-1805). Both assume roughly normal data.
- Two groups combined into one (Cochrane Handbook Table 6.5.a).

All functions accept scalars or arrays (element-wise). Ratio measures (OR, RR) must be passed on
the log scale: the CI of a log ratio is symmetric, the CI of the ratio is not.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from metareview.stats.checks import reject_studies
from metareview.stats.results import ResultMixin, result_class

# Operators of a printed p value that give an SE ("p > x" does not; see se_from_p).
USABLE_P_OPERATORS = ("=", "<")


def _float_array(name: str, value) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    bad = np.flatnonzero(~np.isfinite(np.atleast_1d(array)))
    if bad.size:
        raise ValueError(f"{name} is missing or not finite at index {bad[0]}")
    return array


def critical_value(level: float = 0.95, df=None) -> np.ndarray:
    """Two-sided critical value: the t quantile on `df` degrees of freedom, or z when df is None."""
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    upper = 1 - (1 - level) / 2
    if df is None:
        return np.asarray(stats.norm.ppf(upper))
    df = _float_array("df", df)
    reject_studies(df <= 0, "df must be > 0")
    return np.asarray(stats.t.ppf(upper, df))


def se_from_ci(lower, upper, level: float = 0.95, df=None):
    """SE = (upper − lower) / (2 q) (Cochrane Handbook ch. 6.5.2.2).

    q is the two-sided t quantile with `df` degrees of freedom (df = n − 1 for a single or paired
    mean, n1 + n2 − 2 for two groups) when the sample size is known, else the normal quantile
    (1.959964 for a 95% interval). Pass ratio measures on the log scale.
    """
    lower = _float_array("lower", lower)
    upper = _float_array("upper", upper)
    reject_studies(upper <= lower, "the upper confidence limit must exceed the lower one")
    return (upper - lower) / (2 * critical_value(level, df))


def se_from_t(estimate, t):
    """SE = |estimate / t| (Cochrane Handbook ch. 6.5.2.3)."""
    estimate = _float_array("estimate", estimate)
    t = _float_array("t", t)
    reject_studies(t == 0, "t must not be 0 (the SE is then not determined)")
    return np.abs(estimate / t)


@result_class
class SEFromP(ResultMixin):
    """SE recovered from a two-sided p value.

    Attributes
    ----------
    se : ndarray or float
        |estimate| / statistic.
    statistic : ndarray or float
        The z (df None) or t quantile that gives the two-sided p.
    df : ndarray, float or None
        Degrees of freedom of t, None for z.
    p_is_bound : bool
        True when the p value was reported as an upper bound ("p < x") and used as if it were
        exact: the SE is then an upper bound as well (conservative, larger than the truth).
    """

    se: np.ndarray | float
    statistic: np.ndarray | float
    df: np.ndarray | float | None
    p_is_bound: bool


def se_from_p(estimate, p, df=None, operator: str = "=") -> SEFromP:
    """SE from an estimate and its two-sided p value (Cochrane Handbook ch. 6.5.2.3).

    The test statistic is q = F⁻¹(1 − p/2) with F the t distribution on `df` degrees of freedom
    (df from the sample size: n − 1 paired, n1 + n2 − 2 for two groups) or, when df is None, the
    standard normal; SE = |estimate| / q. `operator` "<" (p reported as "p < x") is handled as
    p = x and flagged in the result; "p > x" gives no usable SE and raises ValueError.
    """
    if operator not in USABLE_P_OPERATORS:
        raise ValueError(
            f"operator {operator!r} gives no usable SE; "
            "only '=' and '<' (treated as '=') are allowed"
        )
    estimate = _float_array("estimate", estimate)
    p = _float_array("p", p)
    reject_studies((p <= 0) | (p >= 1), "p must be strictly between 0 and 1")
    reject_studies(estimate == 0, "the estimate is 0, so the p value carries no SE information")
    statistic = critical_value(1 - p, df)
    se = np.abs(estimate) / statistic
    as_scalar = se.ndim == 0
    return SEFromP(
        se=float(se) if as_scalar else se,
        statistic=float(statistic) if as_scalar else statistic,
        df=df,
        p_is_bound=operator == "<",
    )


# ---- mean and SD from the median and quantiles (Wan et al. 2014; Luo et al. 2018) ----------


def _blom_range_quantile(n: np.ndarray) -> np.ndarray:
    """Φ⁻¹((n − 0.375)/(n + 0.25)): the expected largest of n standard normals (Wan 2014, C1)."""
    return stats.norm.ppf((n - 0.375) / (n + 0.25))


def _blom_quartile(n: np.ndarray) -> np.ndarray:
    """Φ⁻¹((0.75n − 0.125)/(n + 0.25)): the expected upper quartile of n normals (Wan 2014, C3)."""
    return stats.norm.ppf((0.75 * n - 0.125) / (n + 0.25))


def _check_n(n) -> np.ndarray:
    n = _float_array("n", n)
    reject_studies(n < 3, "n must be >= 3 to estimate an SD from quantiles")
    return n


def mean_sd_from_median_iqr(q1, median, q3, n) -> tuple[np.ndarray, np.ndarray]:
    """(mean, SD) from the median, first and third quartiles and sample size (scenario C3).

    Mean (Luo et al. 2018, scenario C3): (0.7 + 0.39/n)(q1 + q3)/2 + (0.3 − 0.39/n) median.
    SD (Wan et al. 2014, scenario C3): (q3 − q1) / (2 Φ⁻¹((0.75n − 0.125)/(n + 0.25))).
    """
    q1, median, q3 = (
        _float_array(name, v) for name, v in (("q1", q1), ("median", median), ("q3", q3))
    )
    n = _check_n(n)
    reject_studies((q1 > median) | (median > q3), "quantiles must satisfy q1 <= median <= q3")
    mean = (0.7 + 0.39 / n) * (q1 + q3) / 2 + (0.3 - 0.39 / n) * median
    sd = (q3 - q1) / (2 * _blom_quartile(n))
    return mean, sd


def mean_sd_from_median_range(minimum, median, maximum, n) -> tuple[np.ndarray, np.ndarray]:
    """(mean, SD) from the median, minimum, maximum and sample size (scenario C1).

    Mean (Luo et al. 2018, scenario C1): w (min + max)/2 + (1 − w) median with w = 4/(4 + n^0.75).
    SD (Wan et al. 2014, scenario C1): (max − min) / (2 Φ⁻¹((n − 0.375)/(n + 0.25))).
    """
    a, m, b = (
        _float_array(name, v)
        for name, v in (("minimum", minimum), ("median", median), ("maximum", maximum))
    )
    n = _check_n(n)
    reject_studies((a > m) | (m > b), "values must satisfy minimum <= median <= maximum")
    weight = 4 / (4 + n**0.75)
    mean = weight * (a + b) / 2 + (1 - weight) * m
    sd = (b - a) / (2 * _blom_range_quantile(n))
    return mean, sd


def mean_sd_from_five_numbers(minimum, q1, median, q3, maximum, n) -> tuple[np.ndarray, np.ndarray]:
    """(mean, SD) from minimum, quartiles, median, maximum and sample size (scenario C2).

    Mean (Luo et al. 2018, scenario C2): w1 (min + max)/2 + w2 (q1 + q3)/2 + (1 − w1 − w2) median,
    w1 = 2.2/(2.2 + n^0.75) and w2 = 0.7 − 0.72/n^0.55.
    SD (Wan et al. 2014, scenario C2): (max − min)/(4 Φ⁻¹((n − 0.375)/(n + 0.25)))
    + (q3 − q1)/(4 Φ⁻¹((0.75n − 0.125)/(n + 0.25))).
    """
    a, q1, m, q3, b = (
        _float_array(name, v)
        for name, v in (
            ("minimum", minimum),
            ("q1", q1),
            ("median", median),
            ("q3", q3),
            ("maximum", maximum),
        )
    )
    n = _check_n(n)
    reject_studies(
        (a > q1) | (q1 > m) | (m > q3) | (q3 > b),
        "values must satisfy min <= q1 <= median <= q3 <= max",
    )
    w_range = 2.2 / (2.2 + n**0.75)
    w_quartiles = 0.7 - 0.72 / n**0.55
    mean = w_range * (a + b) / 2 + w_quartiles * (q1 + q3) / 2 + (1 - w_range - w_quartiles) * m
    sd = (b - a) / (4 * _blom_range_quantile(n)) + (q3 - q1) / (4 * _blom_quartile(n))
    return mean, sd


def combine_groups(n1, mean1, sd1, n2, mean2, sd2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Combine two groups into one (Cochrane Handbook ch. 6.5.2.10, Table 6.5.a).

    N = n1 + n2; mean = (n1 m1 + n2 m2)/N;
    SD = √[((n1 − 1) sd1² + (n2 − 1) sd2² + n1 n2 (m1 − m2)²/N) / (N − 1)].
    Returns (N, mean, SD). To combine more than two groups, apply it repeatedly.
    """
    n1, m1, s1, n2, m2, s2 = (
        _float_array(name, v)
        for name, v in (
            ("n1", n1),
            ("mean1", mean1),
            ("sd1", sd1),
            ("n2", n2),
            ("mean2", mean2),
            ("sd2", sd2),
        )
    )
    reject_studies((n1 < 1) | (n2 < 1), "group sizes must be >= 1")
    reject_studies((s1 < 0) | (s2 < 0), "SDs must be >= 0")
    total = n1 + n2
    mean = (n1 * m1 + n2 * m2) / total
    variance = ((n1 - 1) * s1**2 + (n2 - 1) * s2**2 + n1 * n2 / total * (m1 - m2) ** 2) / (
        total - 1
    )
    return total, mean, np.sqrt(variance)


@result_class
class MDFromMeans(ResultMixin):
    """A mean difference from two arm means with its SE from the between-arm test.

    Attributes
    ----------
    estimate : float
        mean_treatment − mean_control.
    se : float
        SE recovered from the between-arm p value (`se_from_p`).
    df : float
        Degrees of freedom of the t test, nan for z (df not given).
    p_is_bound : bool
        True when "p < x" was used as p = x (the SE is then conservative).
    """

    estimate: float
    se: float
    df: float
    p_is_bound: bool


def md_from_means_and_p(mean_treatment: float, mean_control: float, p: float, df=None,
                        operator: str = "=") -> MDFromMeans:
    """MD = mean_treatment − mean_control with SE from the printed between-arm p value.

    The test statistic behind a two-sided p is t = t_{df}(1 − p/2) (z when df is None), so
    SE = |MD|/t (Cochrane Handbook 6.5.2.3). df is n − 1 for a paired (split-face) test and
    n1 + n2 − 2 for parallel arms. "p < x" is used as p = x, which gives a smaller t and so
    a larger SE than the truth: conservative, flagged in `p_is_bound`. The direction of the
    difference comes from the means, not from the p value.
    """
    md = float(mean_treatment) - float(mean_control)
    if md == 0:
        raise ValueError("the two means are equal: a p value gives no SE for a zero difference")
    converted = se_from_p(md, p, df=df, operator=operator)
    return MDFromMeans(estimate=md, se=float(converted.se),
                       df=float("nan") if df is None else float(df),
                       p_is_bound=bool(converted.p_is_bound))


def counts_from_percent(percent, n) -> np.ndarray:
    """Whole counts from printed percentages of n people: round(percent/100 · n), halves up.

    A printed percentage is itself rounded, so the count is the whole number nearest to
    percent·n/100; `metareview.stats.consistency.percent_possible` checks that the percentage
    can come from that n at all. Used only where the source prints no count (flagged).
    """
    pct = _float_array("percent", percent)
    n_ = _float_array("n", n)
    reject_studies((pct < 0) | (pct > 100), "percent must lie between 0 and 100")
    reject_studies(n_ < 1, "n must be >= 1")
    return np.floor(pct / 100 * n_ + 0.5).astype(int)
