"""Fixed-effect methods for 2×2 tables: Mantel-Haenszel and Peto (metafor's rma.mh, rma.peto).

Each study is a table with ai/bi events/non-events in group 1 (treatment) and ci/di in group 2
(control); n1i, n2i may be given instead of bi, di. Conventions follow metafor 3.8-1 defaults:

- The pooled estimate uses the raw counts of all tables: no continuity correction (a table
  with a zero cell still contributes what it can).
- Cochran's Q (and I², H²) is computed from the study-level estimates yi, vi of
  `effect_sizes` (0.5 added to the four cells of a table with a zero cell) around the pooled
  estimate, leaving out tables with no events or only events in both groups ("double-zero"
  tables: their yi carries no information about the effect). `k` counts all tables, `k_q`
  those used in Q, which has k_q − 1 degrees of freedom.
- OR and RR are on the log scale (`estimate`, `ci_low`, `ci_high`); `exp_estimate`,
  `exp_ci_low`, `exp_ci_high` give the ratio for presentation. RD is on its own scale.

Formulas:
- MH odds ratio: OR = Σ(a d/N) / Σ(b c/N); Var(log OR) by Robins, Breslow & Greenland (1986).
- MH risk ratio: RR = Σ(a n2/N) / Σ(c n1/N); Var(log RR) by Greenland & Robins (1985).
- MH risk difference: RD = Σ((a n2 − c n1)/N) / Σ(n1 n2/N) (Greenland & Robins 1985); its
  variance by Sato, Greenland & Robins (1989), valid for sparse and for large tables alike.
- Cochran-Mantel-Haenszel test (OR; Mantel & Haenszel 1959) with continuity correction,
  Breslow-Day test and Tarone's (1985) correction of it for homogeneity of the ORs.
- Peto's one-step OR (Yusuf et al. 1985): log OR = Σ(O − E)/ΣV with E = n1 (a + c)/N,
  V = n1 n2 (a + c)(b + d) / (N² (N − 1)), SE = 1/√ΣV; Q = Σ(O − E)²/V − (Σ(O − E))²/ΣV.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from metareview.stats.escalc import effect_sizes, two_by_two
from metareview.stats.results import ResultMixin, result_class
from metareview.stats.vocabulary import is_ratio

MH_MEASURES = ("OR", "RR", "RD")


@result_class
class BinaryPoolResult(ResultMixin):
    """A Mantel-Haenszel or Peto pooled estimate (fixed effect).

    Attributes
    ----------
    method : str
        "MH" or "Peto".
    measure : str
        "OR", "RR" or "RD".
    estimate, se, ci_low, ci_high : float
        Log scale for OR and RR, risk-difference scale for RD; limits at `level`.
    statistic, pval : float
        Wald z = estimate/se and its two-sided p value.
    k : int
        Tables used for the estimate.
    k_q : int
        Tables in the heterogeneity test (double-zero tables left out).
    q, q_df, q_pval : float, int, float
        Cochran's Q of the study estimates around the pooled one, on k_q − 1 df, and its p.
    i2, h2 : float
        I² (%) and H² from Q.
    exp_estimate, exp_ci_low, exp_ci_high : float
        The ratio and its limits (nan for RD).
    cmh, cmh_pval : float
        Cochran-Mantel-Haenszel test of OR = 1 (MH OR only, else nan).
    tarone, tarone_pval : float
        Tarone's homogeneity test of the ORs (MH OR only, else nan).
    breslow_day, breslow_day_pval : float
        The Breslow-Day homogeneity test (MH OR only, else nan).
    homogeneity_df : float
        (tables usable for the Tarone and Breslow-Day tests) − 1, nan when not computed.
    level : float
        Confidence level of the intervals.
    note : str
        Why the estimate is undefined, "" otherwise.
    """

    method: str
    measure: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    statistic: float
    pval: float
    k: int
    k_q: int
    q: float
    q_df: int
    q_pval: float
    i2: float
    h2: float
    exp_estimate: float
    exp_ci_low: float
    exp_ci_high: float
    cmh: float = math.nan
    cmh_pval: float = math.nan
    tarone: float = math.nan
    tarone_pval: float = math.nan
    breslow_day: float = math.nan
    breslow_day_pval: float = math.nan
    homogeneity_df: int = 0
    level: float = 0.95
    note: str = ""


def _tables(ai, bi, ci, di, n1i, n2i):
    data = {"ai": ai, "bi": bi, "ci": ci, "di": di, "n1i": n1i, "n2i": n2i}
    return two_by_two({name: value for name, value in data.items() if value is not None})


def _double_zero(ai, bi, ci, di) -> np.ndarray:
    """Tables with no events, or only events, in both groups."""
    return ((ai == 0) & (ci == 0)) | ((bi == 0) & (di == 0))


def _heterogeneity(measure, ai, bi, ci, di, estimate):
    """Cochran's Q of the study estimates around the pooled one, as rma.mh / rma.peto report it.

    Returns (Q, df, p, I², H², number of tables used). With fewer than two informative tables
    metafor reports Q = 0, p = 1, I² = 0, H² = 1; so does this function.
    """
    keep = ~_double_zero(ai, bi, ci, di)
    k_q = int(keep.sum())
    if k_q <= 1 or not math.isfinite(estimate):
        return 0.0, max(k_q - 1, 0), 1.0, 0.0, 1.0, k_q
    cells = {"ai": ai[keep], "bi": bi[keep], "ci": ci[keep], "di": di[keep]}
    study = effect_sizes(measure, **cells)
    q = max(0.0, float(np.sum((study["yi"] - estimate) ** 2 / study["vi"])))
    df = k_q - 1
    i2 = max(0.0, 100.0 * (q - df) / q) if q > 0 else 0.0
    return q, df, float(stats.chi2.sf(q, df)), i2, q / df, k_q


def _wald(estimate: float, se: float, level: float):
    crit = stats.norm.isf((1 - level) / 2)
    statistic = estimate / se
    pval = float(2 * stats.norm.sf(abs(statistic)))
    return statistic, pval, estimate - crit * se, estimate + crit * se


def _result(method: str, measure: str, estimate: float, se: float, level: float, k: int,
            heterogeneity: tuple, note: str = "", **tests) -> BinaryPoolResult:
    """A BinaryPoolResult with its Wald test and interval (nan for an undefined estimate) and,
    for ratios, the exponentiated estimate and limits. `heterogeneity` is (Q, df, p, I², H²,
    tables in Q) as `_heterogeneity` returns it; `tests` the MH OR's CMH and homogeneity tests.
    """
    if math.isnan(estimate):
        statistic = pval = ci_low = ci_high = math.nan
    else:
        statistic, pval, ci_low, ci_high = _wald(estimate, se, level)
    q, q_df, q_pval, i2, h2, k_q = heterogeneity
    ratio = is_ratio(measure)
    return BinaryPoolResult(
        method=method, measure=measure, estimate=float(estimate), se=float(se),
        ci_low=float(ci_low), ci_high=float(ci_high), statistic=float(statistic), pval=float(pval),
        k=k, k_q=k_q, q=q, q_df=q_df, q_pval=q_pval, i2=i2, h2=h2,
        exp_estimate=math.exp(estimate) if ratio else math.nan,
        exp_ci_low=math.exp(ci_low) if ratio else math.nan,
        exp_ci_high=math.exp(ci_high) if ratio else math.nan,
        level=level, note=note, **tests,
    )


def _mh_odds_ratio(ai, bi, ci, di):
    n = ai + bi + ci + di
    p = (ai + di) / n
    q = (bi + ci) / n
    r = ai * di / n
    s = bi * ci / n
    big_r, big_s = r.sum(), s.sum()
    if big_r == 0 or big_s == 0:
        return math.nan, math.nan
    variance = 0.5 * (
        np.sum(p * r) / big_r**2
        + np.sum(p * s + q * r) / (big_r * big_s)
        + np.sum(q * s) / big_s**2
    )
    return math.log(big_r / big_s), math.sqrt(variance)


def _mh_risk_ratio(ai, bi, ci, di):
    n1, n2 = ai + bi, ci + di
    n = n1 + n2
    big_r = np.sum(ai * n2 / n)
    big_s = np.sum(ci * n1 / n)
    if ai.sum() == 0 or ci.sum() == 0:
        return math.nan, math.nan
    variance = np.sum(n1 * n2 * (ai + ci) / n**2 - ai * ci / n) / (big_r * big_s)
    return math.log(big_r / big_s), math.sqrt(variance)


def _mh_risk_difference(ai, bi, ci, di):
    n1, n2 = ai + bi, ci + di
    n = n1 + n2
    weight_sum = np.sum(n1 * n2 / n)
    estimate = np.sum(ai * n2 / n - ci * n1 / n) / weight_sum
    numerator = estimate * np.sum(
        ci * (n1 / n) ** 2 - ai * (n2 / n) ** 2 + (n1 / n) * (n2 / n) * (n2 - n1) / 2
    )
    numerator += np.sum(ai * (n2 - ci) / n + ci * (n1 - ai) / n) / 2
    return float(estimate), math.sqrt(numerator / weight_sum**2)


def _cmh_test(ai, bi, ci, di, correct: bool):
    """Cochran-Mantel-Haenszel chi² (1 df) with the hypergeometric variance (N − 1)."""
    n1, n2 = ai + bi, ci + di
    n = n1 + n2
    events, non_events = ai + ci, bi + di
    if events.sum() == 0 or non_events.sum() == 0:
        return math.nan, math.nan
    deviation = abs(np.sum(ai - n1 / n * events)) - (0.5 if correct else 0.0)
    variance = np.sum(n1 / n * (n2 / n) * events * non_events / (n - 1))
    statistic = float(deviation**2 / variance)
    return statistic, float(stats.chi2.sf(statistic, 1))


def _breslow_day_tarone(ai, bi, ci, di, odds_ratio: float):
    """Breslow-Day homogeneity statistic and Tarone's (1985) corrected version.

    For each informative table, the expected count of `ai` under the common MH odds ratio solves
    a quadratic; the statistics compare observed and expected counts with the hypergeometric
    variance 1/(1/N11 + 1/N12 + 1/N21 + 1/N22). Both have (tables used − 1) df.
    """
    n1, n2 = ai + bi, ci + di
    n = n1 + n2
    events, non_events = ai + ci, bi + di
    if odds_ratio == 1:
        expected = n1 / n * events
    else:
        a = odds_ratio * (n1 + events) + (n2 - events)
        root = np.sqrt(a**2 - 4 * n1 * events * odds_ratio * (odds_ratio - 1))
        expected = (a - root) / (2 * (odds_ratio - 1))
    usable = (expected > 0) & (events > 0) & (non_events > 0)
    n11 = expected[usable]
    n12 = n1[usable] - n11
    n21 = events[usable] - n11
    n22 = n11 - n1[usable] - events[usable] + n[usable]
    variance = 1 / (1 / n11 + 1 / n12 + 1 / n21 + 1 / n22)
    deviation = ai[usable] - n11
    breslow_day = max(0.0, float(np.sum(deviation**2 / variance)))
    tarone = max(0.0, breslow_day - float(np.sum(deviation) ** 2 / np.sum(variance)))
    df = int(usable.sum()) - 1
    if df < 1:
        return breslow_day, math.nan, tarone, math.nan, max(df, 0)
    return (
        breslow_day,
        float(stats.chi2.sf(breslow_day, df)),
        tarone,
        float(stats.chi2.sf(tarone, df)),
        df,
    )


def mantel_haenszel(
    ai,
    bi=None,
    ci=None,
    di=None,
    measure: str = "OR",
    *,
    n1i=None,
    n2i=None,
    level: float = 0.95,
    correct: bool = True,
) -> BinaryPoolResult:
    """Mantel-Haenszel pooled OR, RR or RD (metafor: rma.mh(ai, bi, ci, di, measure)).

    Estimates and variances: see the module docstring. `correct` applies the continuity
    correction to the CMH test (metafor's default). Invalid tables raise ValueError naming the
    study index. If the estimate is undefined (e.g. no events at all in one group for RR), the
    estimate fields are nan and `note` says why.
    """
    if measure not in MH_MEASURES:
        raise ValueError(f"unknown measure {measure!r}; choose one of {', '.join(MH_MEASURES)}")
    ai, bi, ci, di = _tables(ai, bi, ci, di, n1i, n2i)
    if measure == "OR":
        estimate, se = _mh_odds_ratio(ai, bi, ci, di)
    elif measure == "RR":
        estimate, se = _mh_risk_ratio(ai, bi, ci, di)
    else:
        estimate, se = _mh_risk_difference(ai, bi, ci, di)
    note = ""
    if math.isnan(estimate):
        note = (
            "the Mantel-Haenszel estimate is undefined: a sum in its ratio is zero "
            "(no events in a group)"
        )
    extra = {}
    if measure == "OR":
        extra["cmh"], extra["cmh_pval"] = _cmh_test(ai, bi, ci, di, correct)
        if not math.isnan(estimate):
            bd, bd_p, ta, ta_p, df = _breslow_day_tarone(ai, bi, ci, di, math.exp(estimate))
            extra.update(breslow_day=bd, breslow_day_pval=bd_p, tarone=ta, tarone_pval=ta_p,
                         homogeneity_df=df)
    heterogeneity = _heterogeneity(measure, ai, bi, ci, di, estimate)
    return _result("MH", measure, estimate, se, level, int(ai.size), heterogeneity, note,
                   **extra)


def peto(
    ai, bi=None, ci=None, di=None, *, n1i=None, n2i=None, level: float = 0.95
) -> BinaryPoolResult:
    """Peto's one-step pooled log odds ratio (metafor: rma.peto(ai, bi, ci, di)).

    log OR = Σ(O − E)/ΣV, SE = 1/√ΣV (Yusuf et al. 1985); Q = Σ(O − E)²/V − (Σ(O − E))²/ΣV over
    the tables with V > 0, on k_q − 1 df. Raises ValueError if no table has both events and
    non-events (ΣV = 0).
    """
    ai, bi, ci, di = _tables(ai, bi, ci, di, n1i, n2i)
    n1, n2 = ai + bi, ci + di
    n = n1 + n2
    events, non_events = ai + ci, bi + di
    expected = events * n1 / n
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = events * non_events * (n1 / n) * (n2 / n) / (n - 1)
    variance = np.where(np.isfinite(variance), variance, 0.0)
    total_variance = float(variance.sum())
    if total_variance == 0:
        raise ValueError(
            "every table has only events or no events at all: Peto's method cannot be used"
        )
    observed_minus_expected = ai - expected
    estimate = float(observed_minus_expected.sum() / total_variance)
    se = 1 / math.sqrt(total_variance)

    informative = variance > 0
    k_q = int((~_double_zero(ai, bi, ci, di)).sum())
    q = max(
        0.0,
        float(np.sum(observed_minus_expected[informative] ** 2 / variance[informative]))
        - float(observed_minus_expected.sum()) ** 2 / total_variance,
    )
    q_df = max(k_q - 1, 0)
    if informative.sum() > 1:
        i2 = max(0.0, 100.0 * (q - q_df) / q) if q > 0 else 0.0
        heterogeneity = (q, q_df, float(stats.chi2.sf(q, q_df)), i2, q / q_df, k_q)
    else:
        heterogeneity = (q, q_df, 1.0, 0.0, 1.0, k_q)
    return _result("Peto", "OR", estimate, se, level, int(ai.size), heterogeneity)
