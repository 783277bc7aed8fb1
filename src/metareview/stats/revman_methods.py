"""RevMan 5's meta-analysis methods, as its statistical algorithms document defines them.

Review Manager 5 (RevMan) pools each outcome with one *statistical method* (Mantel-Haenszel,
inverse variance or Peto) and one *analysis model* (fixed or random effects). Most of its
numbers are those of metafor with the right settings, but four conventions differ and are the
reason this module exists:

1. **Zero cells.** A study with a zero cell (no events, or only events, in an arm) has 0.5
   added to each of its four cells for its own OR, RR and their SEs, *and* inside the
   Mantel-Haenszel sums (pooled estimate and variance); the risk difference itself is taken
   from the raw counts and only its SE (and, for MH, its weight and variance) from the
   corrected table. Studies with no events in both arms (OR, RR) or only events in both arms
   (OR) are "not estimable" and take no part in the pooled estimate or in Q. Peto's method
   uses no correction.
2. **Heterogeneity of a Mantel-Haenszel analysis.** Q is the inverse-variance weighted sum of
   squares of the study estimates around the *Mantel-Haenszel* estimate (not around the
   inverse-variance mean): Q = Σ wᵢ (yᵢ − θ̂_MH)², wᵢ = 1/SEᵢ², on k − 1 degrees of freedom.
3. **Random effects** are always DerSimonian-Laird on the inverse-variance study estimates,
   with that Q: τ² = max{0, (Q − (k − 1)) / (Σwᵢ − Σwᵢ²/Σwᵢ)}, θ̂ = Σwᵢ*yᵢ/Σwᵢ*,
   wᵢ* = 1/(SEᵢ² + τ²), SE(θ̂) = 1/√Σwᵢ*.
4. **Standardised mean difference** is Hedges' adjusted g with the approximate correction and
   RevMan's own variance::

       g = (m₁ − m₂)/s · (1 − 3/(4N − 9)),  s² = ((n₁ − 1)s₁² + (n₂ − 1)s₂²)/(N − 2),
       SE(g)² = N/(n₁n₂) + g²/(2(N − 3.94)),  N = n₁ + n₂

   (metafor's `escalc("SMD")` uses the exact correction and g²/(2N); R meta's
   `metacont(sm = "SMD", method.smd = "Hedges", exact.smd = FALSE)` is RevMan's).

Everything else is standard: I² = max{0, (Q − df)/Q}·100 %, Z = θ̂/SE, two-sided normal p, CI
θ̂ ± z₁₋α/₂·SE, and study weights in percent (MH weights for a fixed MH analysis, Peto
variances, inverse variances otherwise). Ratio measures are on the natural-log scale in
`estimate`, `ci_low`, `ci_high`, `yi`; the `exp_*` fields hold the ratios. Differences are
always group 1 (experimental) minus group 2 (control), as RevMan shows them.

Formulas per method:

- MH OR: θ̂ = ln(ΣAᵢ/ΣCᵢ), Aᵢ = aᵢdᵢ/Nᵢ, Cᵢ = bᵢcᵢ/Nᵢ, variance of Robins, Breslow & Greenland
  (1986).
- MH RR: θ̂ = ln(ΣRᵢ/ΣSᵢ), Rᵢ = aᵢn₂ᵢ/Nᵢ, Sᵢ = cᵢn₁ᵢ/Nᵢ, variance of Greenland & Robins (1985):
  Σ(n₁ᵢn₂ᵢ(aᵢ + cᵢ) − aᵢcᵢNᵢ)/Nᵢ² / (ΣRᵢ ΣSᵢ).
- MH RD: θ̂ = ΣWᵢRDᵢ/ΣWᵢ, Wᵢ = n₁ᵢn₂ᵢ/Nᵢ, variance
  Σ[(aᵢbᵢn₂ᵢ³ + cᵢdᵢn₁ᵢ³)/(n₁ᵢn₂ᵢNᵢ²)] / (ΣWᵢ)² (Greenland & Robins 1985, as RevMan gives it;
  metafor's `rma.mh` uses the variance of Sato et al. 1989 instead).
- Peto OR: yᵢ = (Oᵢ − Eᵢ)/Vᵢ, SEᵢ = 1/√Vᵢ, θ̂ = Σ(Oᵢ − Eᵢ)/ΣVᵢ, SE = 1/√ΣVᵢ (Yusuf et al. 1985).
- Study effects: ln OR with SE √(1/a + 1/b + 1/c + 1/d); ln RR with SE √(1/a − 1/n₁ + 1/c −
  1/n₂); RD with SE √(ab/n₁³ + cd/n₂³); MD with SE √(s₁²/n₁ + s₂²/n₂).
- Test for subgroup differences: for a fixed-effect analysis, Q_int = Q_total − Σ Q_within
  (each Q as above, so around the MH estimates for MH); for random effects, Q_int =
  Σ (θ̂ⱼ − θ̄)²/SEⱼ² over the subgroup estimates, θ̄ their inverse-variance mean; df = G − 1,
  I² = max{0, (Q_int − df)/Q_int}.

References
----------
Deeks JJ, Higgins JPT. Statistical algorithms in Review Manager 5. The Cochrane
    Collaboration, 2010 (version 1.1, updated August 2010).
Deeks JJ, Altman DG, Bradburn MJ. Statistical methods for examining heterogeneity and
    combining results from several studies in meta-analysis. In: Egger M, Davey Smith G,
    Altman DG (eds). Systematic Reviews in Health Care, 2nd ed. BMJ Books, 2001, ch. 15.
    doi:10.1002/9780470693926.ch15
DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials 1986;7:177-88.
    doi:10.1016/0197-2456(86)90046-2
Greenland S, Robins JM. Estimation of a common effect parameter from sparse follow-up data.
    Biometrics 1985;41:55-68. doi:10.2307/2530643
Robins J, Breslow N, Greenland S. Estimators of the Mantel-Haenszel variance consistent in both
    sparse data and large-strata limiting models. Biometrics 1986;42:311-23.
    doi:10.2307/2531052
Yusuf S, Peto R, Lewis J, Collins R, Sleight P. Beta blockade during and after myocardial
    infarction. Prog Cardiovasc Dis 1985;27:335-71. doi:10.1016/S0033-0620(85)80003-7
Hedges LV, Olkin I. Statistical Methods for Meta-Analysis. Academic Press, 1985.
    doi:10.1016/C2009-0-03396-0
Schwarzer G. meta: General package for meta-analysis, R package (metabin with
    `RR.Cochrane = TRUE`, `Q.Cochrane = TRUE`, `MH.exact = FALSE`; metacont with
    `exact.smd = FALSE`), whose help pages describe these RevMan conventions.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from metareview.stats.results import ResultMixin, result_class

REVMAN_METHODS = ("MH", "IV", "Peto")
REVMAN_MODELS = ("fixed", "random")
DICHOTOMOUS_MEASURES = ("OR", "RR", "RD")
CONTINUOUS_MEASURES = ("MD", "SMD")
ZERO_CELL_INCREMENT = 0.5


@result_class
class RevManResult(ResultMixin):
    """One pooled RevMan analysis (an outcome, or a subgroup of one).

    Attributes
    ----------
    measure : str
        "OR", "RR", "RD", "MD", "SMD" or a generic measure.
    method : str
        "MH", "IV" or "Peto".
    model : str
        "fixed" or "random".
    k : int
        Estimable studies.
    estimate, se, ci_low, ci_high : float
        The pooled estimate (natural-log scale for OR and RR), its SE and its limits at
        `level`.
    statistic, pval : float
        RevMan's Z = |estimate|/se (unsigned, as RevMan prints it) and its two-sided p.
    q, q_df, q_pval : float, int, float
        Heterogeneity as RevMan reports it ("Chi²", df, P).
    i2 : float
        I² in percent.
    tau2 : float
        DerSimonian-Laird tau² (0 for a fixed-effect analysis).
    exp_estimate, exp_ci_low, exp_ci_high : float
        The ratio and its limits for OR and RR (nan otherwise).
    yi, sei : ndarray
        Per study (in the order given): effect and its SE.
    ci_study_low, ci_study_high : ndarray
        Per study: its confidence limits at `level_study`.
    estimable : ndarray
        Per study: True when it enters the analysis.
    weights : ndarray
        Per study: weight in percent (0 for studies that are not estimable).
    level, level_study : float
        Confidence levels of the pooled and of the study intervals.
    note : str
        Special cases in words, "" when none.
    """

    measure: str
    method: str
    model: str
    k: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    statistic: float
    pval: float
    q: float
    q_df: int
    q_pval: float
    i2: float
    tau2: float
    exp_estimate: float
    exp_ci_low: float
    exp_ci_high: float
    yi: np.ndarray
    sei: np.ndarray
    ci_study_low: np.ndarray
    ci_study_high: np.ndarray
    estimable: np.ndarray
    weights: np.ndarray
    level: float = 0.95
    level_study: float = 0.95
    note: str = ""


@result_class
class SubgroupTest(ResultMixin):
    """RevMan's test for subgroup differences.

    Attributes
    ----------
    q_between : float
        RevMan's Chi² of the difference between subgroups.
    df : int
        (subgroups used) − 1.
    pval : float
        p value of `q_between` against chi²(df).
    i2 : float
        I² of the test, in percent.
    method : str
        How `q_between` was computed, in words.
    """

    q_between: float
    df: int
    pval: float
    i2: float
    method: str


def _check_choice(name: str, value: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ValueError(f"{name} {value!r} is not a RevMan {name}; use one of "
                         f"{', '.join(options)}")
    return value


def _floats(name: str, values, k: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    if k is not None and array.size != k:
        raise ValueError(f"{name} has {array.size} values; expected {k} (one per study)")
    return array


def _i2(q: float, df: int) -> float:
    if df < 1:
        return math.nan
    return max(0.0, (q - df) / q) * 100.0 if q > 0 else 0.0


def _q_pval(q: float, df: int) -> float:
    return float(stats.chi2.sf(q, df)) if df >= 1 else math.nan


def _dl_tau2(yi: np.ndarray, vi: np.ndarray, q: float) -> float:
    """DerSimonian-Laird tau² from RevMan's Q (which need not be centred on the IV mean)."""
    w = 1 / vi
    df = yi.size - 1
    if df < 1:
        return 0.0
    return max(0.0, (q - df) / (w.sum() - (w**2).sum() / w.sum()))


# --- per-study effects ---------------------------------------------------------------------


def _cells(e1, n1, e2, n2):
    k = np.asarray(e1, dtype=float).size
    e1, n1 = _floats("events_1", e1, k), _floats("total_1", n1, k)
    e2, n2 = _floats("events_2", e2, k), _floats("total_2", n2, k)
    for i in range(k):
        if not (0 <= e1[i] <= n1[i] and 0 <= e2[i] <= n2[i] and n1[i] > 0 and n2[i] > 0):
            raise ValueError(f"study {i + 1}: events must lie between 0 and a positive total "
                             f"({e1[i]:g}/{n1[i]:g}, {e2[i]:g}/{n2[i]:g})")
    return e1, n1 - e1, e2, n2 - e2


def _zero_cell(a, b, c, d) -> np.ndarray:
    return (a == 0) | (b == 0) | (c == 0) | (d == 0)


def _not_estimable(measure: str, a, b, c, d) -> np.ndarray:
    """OR: no events or only events in both arms; RR: no events in both arms; RD: never."""
    if measure == "OR":
        return ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))
    if measure == "RR":
        return (a == 0) & (c == 0)
    return np.zeros(a.shape, dtype=bool)


def dichotomous_study_effects(events_1, total_1, events_2, total_2, measure: str = "OR",
                              method: str = "MH") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each study's effect as RevMan computes it: (yi, sei, estimable).

    OR and RR on the natural-log scale with 0.5 added to every cell of a table with a zero
    cell; RD from the raw counts with its SE from the corrected table; Peto's ln OR as
    (O − E)/V with SE 1/√V and no correction (measure must be OR). Studies that are not
    estimable have nan in yi and sei.
    """
    _check_choice("measure", measure, DICHOTOMOUS_MEASURES)
    _check_choice("method", method, REVMAN_METHODS)
    a, b, c, d = _cells(events_1, total_1, events_2, total_2)
    n1, n2 = a + b, c + d
    if method == "Peto":
        if measure != "OR":
            raise ValueError("Peto's method pools odds ratios only (measure 'OR')")
        n = n1 + n2
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = n1 * n2 * (a + c) * (b + d) / (n**2 * (n - 1))
            yi = (a - n1 * (a + c) / n) / variance
            sei = 1 / np.sqrt(variance)
        estimable = np.isfinite(variance) & (variance > 0)
        return np.where(estimable, yi, np.nan), np.where(estimable, sei, np.nan), estimable
    add = np.where(_zero_cell(a, b, c, d), ZERO_CELL_INCREMENT, 0.0)
    a2, b2, c2, d2 = a + add, b + add, c + add, d + add
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "OR":
            yi = np.log(a2 * d2 / (b2 * c2))
            sei = np.sqrt(1 / a2 + 1 / b2 + 1 / c2 + 1 / d2)
        elif measure == "RR":
            yi = np.log((a2 / (a2 + b2)) / (c2 / (c2 + d2)))
            sei = np.sqrt(1 / a2 - 1 / (a2 + b2) + 1 / c2 - 1 / (c2 + d2))
        else:
            yi = a / n1 - c / n2
            sei = np.sqrt(a2 * b2 / (a2 + b2) ** 3 + c2 * d2 / (c2 + d2) ** 3)
    estimable = ~_not_estimable(measure, a, b, c, d) & np.isfinite(sei) & (sei > 0)
    return np.where(estimable, yi, np.nan), np.where(estimable, sei, np.nan), estimable


def continuous_study_effects(mean_1, sd_1, n_1, mean_2, sd_2, n_2, measure: str = "MD"
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each study's MD or SMD as RevMan computes it: (yi, sei, estimable).

    MD = m₁ − m₂, SE = √(s₁²/n₁ + s₂²/n₂). SMD: Hedges' adjusted g of the module docstring,
    g = (m₁ − m₂)/s·(1 − 3/(4N − 9)), SE² = N/(n₁n₂) + g²/(2(N − 3.94)). A study with a zero
    SD in both arms (SE 0) is not estimable.
    """
    _check_choice("measure", measure, CONTINUOUS_MEASURES)
    k = np.asarray(mean_1, dtype=float).size
    m1, s1, n1 = (_floats(n, v, k) for n, v in (("mean_1", mean_1), ("sd_1", sd_1),
                                                   ("n_1", n_1)))
    m2, s2, n2 = (_floats(n, v, k) for n, v in (("mean_2", mean_2), ("sd_2", sd_2),
                                                   ("n_2", n_2)))
    for i in range(k):
        if not (n1[i] >= 1 and n2[i] >= 1 and s1[i] >= 0 and s2[i] >= 0
                and np.isfinite(m1[i]) and np.isfinite(m2[i])):
            raise ValueError(f"study {i + 1}: needs finite means, SDs >= 0 and n >= 1")
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "MD":
            yi = m1 - m2
            sei = np.sqrt(s1**2 / n1 + s2**2 / n2)
        else:
            total = n1 + n2
            pooled_sd = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (total - 2))
            yi = (m1 - m2) / pooled_sd * (1 - 3 / (4 * total - 9))
            sei = np.sqrt(total / (n1 * n2) + yi**2 / (2 * (total - 3.94)))
    estimable = np.isfinite(yi) & np.isfinite(sei) & (sei > 0)
    return np.where(estimable, yi, np.nan), np.where(estimable, sei, np.nan), estimable


# --- pooling ----------------------------------------------------------------------------------


def _mantel_haenszel(measure: str, a, b, c, d) -> tuple[float, float, np.ndarray]:
    """(pooled estimate, its SE, MH weights) over the estimable tables, zero cells corrected."""
    add = np.where(_zero_cell(a, b, c, d), ZERO_CELL_INCREMENT, 0.0)
    a2, b2, c2, d2 = a + add, b + add, c + add, d + add
    n1, n2 = a2 + b2, c2 + d2
    n = n1 + n2
    if measure == "OR":
        big_a, big_c = a2 * d2 / n, b2 * c2 / n
        p, q = (a2 + d2) / n, (b2 + c2) / n
        r, s = big_a.sum(), big_c.sum()
        variance = (np.sum(p * big_a) / (2 * r**2) + np.sum(p * big_c + q * big_a) / (2 * r * s)
                    + np.sum(q * big_c) / (2 * s**2))
        return math.log(r / s), math.sqrt(variance), big_c
    if measure == "RR":
        big_r, big_s = a2 * n2 / n, c2 * n1 / n
        variance = (np.sum((n1 * n2 * (a2 + c2) - a2 * c2 * n) / n**2)
                    / (big_r.sum() * big_s.sum()))
        return math.log(big_r.sum() / big_s.sum()), math.sqrt(variance), big_s
    weight = n1 * n2 / n
    raw = a / (a + b) - c / (c + d)
    estimate = float(np.sum(weight * raw) / weight.sum())
    variance = (np.sum((a2 * b2 * n2**3 + c2 * d2 * n1**3) / (n1 * n2 * n**2))
                / weight.sum() ** 2)
    return estimate, math.sqrt(variance), weight


def _finish(measure, method, model, yi, sei, estimable, estimate, se, weights, q, level,
            level_study, tau2=0.0, note="") -> RevManResult:
    """The Wald test, intervals, heterogeneity fields and weights of a pooled analysis."""
    k = int(estimable.sum())
    q_df = max(k - 1, 0)
    crit = stats.norm.isf((1 - level) / 2)
    crit_study = stats.norm.isf((1 - level_study) / 2)
    if k == 0 or not math.isfinite(estimate):
        statistic = pval = ci_low = ci_high = math.nan
        note = note or "no estimable study"
    else:
        statistic = abs(estimate) / se
        pval = float(2 * stats.norm.sf(statistic))
        ci_low, ci_high = estimate - crit * se, estimate + crit * se
    share = np.zeros(yi.size)
    if k:
        share[estimable] = 100.0 * weights / weights.sum()
    ratio = measure in ("OR", "RR")
    return RevManResult(
        measure=measure, method=method, model=model, k=k, estimate=float(estimate),
        se=float(se), ci_low=float(ci_low), ci_high=float(ci_high), statistic=float(statistic),
        pval=float(pval), q=float(q), q_df=q_df, q_pval=_q_pval(q, q_df),
        i2=_i2(q, q_df), tau2=float(tau2),
        exp_estimate=math.exp(estimate) if ratio and math.isfinite(estimate) else math.nan,
        exp_ci_low=math.exp(ci_low) if ratio and math.isfinite(ci_low) else math.nan,
        exp_ci_high=math.exp(ci_high) if ratio and math.isfinite(ci_high) else math.nan,
        yi=yi, sei=sei, ci_study_low=yi - crit_study * sei, ci_study_high=yi + crit_study * sei,
        estimable=estimable, weights=share, level=level, level_study=level_study, note=note)


def _inverse_variance(measure, method, model, yi, sei, estimable, level, level_study,
                      centre: float | None = None, fixed=None) -> RevManResult:
    """Fixed (IV) or DerSimonian-Laird random effects over the estimable studies.

    `centre` is the estimate Q is computed around (the MH estimate for an MH analysis; the IV
    mean when None); `fixed` = (estimate, se, weights) replaces the IV fixed-effect estimate
    (MH, Peto).
    """
    y, v = yi[estimable], sei[estimable] ** 2
    if y.size == 0:
        return _finish(measure, method, model, yi, sei, estimable, math.nan, math.nan,
                       np.array([]), 0.0, level, level_study)
    w = 1 / v
    iv_mean = float(np.sum(w * y) / w.sum())
    if fixed is None:
        fixed = (iv_mean, math.sqrt(1 / w.sum()), w)
    around = fixed[0] if centre is None else centre
    q = float(np.sum(w * (y - around) ** 2))
    if model == "fixed":
        return _finish(measure, method, model, yi, sei, estimable, fixed[0], fixed[1], fixed[2],
                       q, level, level_study)
    tau2 = _dl_tau2(y, v, q)
    w_star = 1 / (v + tau2)
    estimate = float(np.sum(w_star * y) / w_star.sum())
    return _finish(measure, method, model, yi, sei, estimable, estimate,
                   math.sqrt(1 / w_star.sum()), w_star, q, level, level_study, tau2)


def pool_dichotomous(events_1, total_1, events_2, total_2, measure: str = "OR",
                     method: str = "MH", model: str = "fixed", level: float = 0.95,
                     level_study: float | None = None) -> RevManResult:
    """RevMan's pooled OR, RR or RD from events and totals per arm (group 1 = experimental).

    method "MH" (Mantel-Haenszel, zero cells corrected inside the sums), "IV" (inverse
    variance) or "Peto" (OR only, fixed effect only, as in RevMan); model "fixed" or "random"
    (DerSimonian-Laird with RevMan's Q: around the MH estimate for MH). See the module
    docstring for every formula.
    """
    _check_choice("measure", measure, DICHOTOMOUS_MEASURES)
    _check_choice("method", method, REVMAN_METHODS)
    _check_choice("model", model, REVMAN_MODELS)
    if method == "Peto" and model == "random":
        raise ValueError("RevMan has no random-effects model for Peto's method")
    level_study = level if level_study is None else level_study
    yi, sei, estimable = dichotomous_study_effects(events_1, total_1, events_2, total_2,
                                                   measure, method)
    if method == "IV" or not estimable.any():
        return _inverse_variance(measure, method, model, yi, sei, estimable, level, level_study)
    if method == "Peto":
        v = 1 / sei[estimable] ** 2
        estimate = float(np.sum(yi[estimable] * v) / v.sum())
        return _inverse_variance(measure, method, model, yi, sei, estimable, level,
                                 level_study, fixed=(estimate, math.sqrt(1 / v.sum()), v))
    a, b, c, d = _cells(events_1, total_1, events_2, total_2)
    keep = estimable
    estimate, se, weights = _mantel_haenszel(measure, a[keep], b[keep], c[keep], d[keep])
    return _inverse_variance(measure, method, model, yi, sei, estimable, level, level_study,
                             centre=estimate, fixed=(estimate, se, weights))


def pool_continuous(mean_1, sd_1, n_1, mean_2, sd_2, n_2, measure: str = "MD",
                    model: str = "fixed", level: float = 0.95,
                    level_study: float | None = None) -> RevManResult:
    """RevMan's inverse-variance MD or SMD (Hedges' adjusted g), fixed or DL random effects."""
    _check_choice("measure", measure, CONTINUOUS_MEASURES)
    _check_choice("model", model, REVMAN_MODELS)
    yi, sei, estimable = continuous_study_effects(mean_1, sd_1, n_1, mean_2, sd_2, n_2,
                                                  measure)
    return _inverse_variance(measure, "IV", model, yi, sei, estimable, level,
                             level if level_study is None else level_study)


def pool_generic(yi, sei, measure: str = "MD", model: str = "fixed", level: float = 0.95,
                 level_study: float | None = None) -> RevManResult:
    """RevMan's generic inverse variance: estimates with their SEs (ln scale for OR, RR, HR).

    A study with a missing or non-positive SE is not estimable.
    """
    _check_choice("model", model, REVMAN_MODELS)
    y = _floats("yi", yi)
    s = _floats("sei", sei, y.size)
    estimable = np.isfinite(y) & np.isfinite(s) & (s > 0)
    y, s = np.where(estimable, y, np.nan), np.where(estimable, s, np.nan)
    return _inverse_variance(measure, "IV", model, y, s, estimable, level,
                             level if level_study is None else level_study)


def subgroup_test(subgroups: list[RevManResult], overall: RevManResult | None = None
                  ) -> SubgroupTest:
    """RevMan's test for subgroup differences.

    Fixed effect: Q_int = Q_overall − Σ Q_subgroup (`overall` is the analysis of all studies
    together, with the same method). Random effects: Q_int = Σ (θ̂ⱼ − θ̄)²/SEⱼ² over the
    subgroup estimates, θ̄ = ΣθⱼSEⱼ⁻²/ΣSEⱼ⁻². Subgroups without an estimable study are left
    out; df = (subgroups used) − 1.
    """
    used = [s for s in subgroups if s.k > 0 and math.isfinite(s.estimate)]
    df = len(used) - 1
    if df < 1:
        return SubgroupTest(q_between=math.nan, df=max(df, 0), pval=math.nan, i2=math.nan,
                            method="not applicable")
    models = {s.model for s in used}
    if models == {"fixed"}:
        if overall is None:
            raise ValueError("the fixed-effect subgroup test needs the overall analysis")
        chi2 = overall.q - sum(s.q for s in used)
        how = "Q_total - sum of Q within subgroups"
    else:
        est = np.array([s.estimate for s in used])
        w = 1 / np.array([s.se for s in used]) ** 2
        chi2 = float(np.sum(w * (est - np.sum(w * est) / w.sum()) ** 2))
        how = "test on the subgroup estimates"
    return SubgroupTest(q_between=float(chi2), df=df, pval=_q_pval(max(chi2, 0.0), df),
                        i2=_i2(chi2, df), method=how)


__all__ = [
    "REVMAN_METHODS", "REVMAN_MODELS", "RevManResult", "SubgroupTest",
    "continuous_study_effects", "dichotomous_study_effects", "pool_continuous",
    "pool_dichotomous", "pool_generic", "subgroup_test",
]
