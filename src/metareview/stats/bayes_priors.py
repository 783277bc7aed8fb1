r"""Prior distributions of the Bayesian random-effects model (`metareview.stats.bayes`).

A prior on the heterogeneity τ is a `TauPrior`: a named family with its parameters, whose
log density, its derivative and its quantile function the posterior computation uses. A prior
on the overall effect μ is a `MuPrior`: improper uniform, or normal N(m₀, s₀²).

Families of τ (all proper, so that the posterior is proper for any data):

==================  =====================================================================
``half_normal``     p(τ) = 2/s · φ(τ/s), τ ≥ 0
``half_student_t``  p(τ) = 2/s · t_ν(τ/s), τ ≥ 0 (Student-t density with ν df)
``half_cauchy``     the half-Student-t with ν = 1: p(τ) = 2s / (π(s² + τ²))
``exponential``     p(τ) = exp(−τ/s)/s (mean s, rate 1/s)
``log_normal``      log τ ~ N(m, v²)
``log_student_t``   (log τ − l)/s ~ t_ν
``uniform``         p(τ) = 1/(b − a) on [a, b]
``turner_prior``    Turner et al. (2015), log odds ratios: log τ² ~ N(m, v²), so
                    log τ ~ N(m/2, (v/2)²)
``rhodes_prior``    Rhodes et al. (2015), standardised mean differences: (log τ² − l)/s ~
                    t₅, so (log τ − l/2)/(s/2) ~ t₅
==================  =====================================================================

References
----------
Turner RM, Jackson D, Wei Y, Thompson SG, Higgins JPT (2015). Predictive distributions for
between-study heterogeneity and simple methods for their application in Bayesian
meta-analysis. Statistics in Medicine 34(6):984-998. doi:10.1002/sim.6381 (Table IV).

Rhodes KM, Turner RM, Higgins JPT (2015). Predictive distributions were developed for the
extent of heterogeneity in meta-analyses of continuous outcome data. Journal of Clinical
Epidemiology 68(1):52-60. doi:10.1016/j.jclinepi.2014.08.012 (Table 3 and Appendix
Tables A.3.1, A.3.2).

Röver C, Bender R, Dias S, Schmid CH, Schmidli H, Sturtz S, Weber S, Friede T (2021). On
weakly informative prior distributions for the heterogeneity parameter in Bayesian
random-effects meta-analysis. Research Synthesis Methods 12(4):448-474. doi:10.1002/jrsm.1475.

The numbers of the two empirical presets are those of R's bayesmeta 3.4
(``TurnerEtAlPrior``, ``RhodesEtAlPrior``), so that results equal bayesmeta's.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

__all__ = [
    "MuPrior", "TauPrior", "half_normal", "half_student_t", "half_cauchy", "exponential",
    "log_normal", "log_student_t", "uniform", "turner_prior", "rhodes_prior", "tau_prior",
    "mu_prior", "TURNER_OUTCOMES", "TURNER_COMPARISONS", "RHODES_OUTCOMES",
    "RHODES_COMPARISONS", "RHODES_AREAS", "COMPARATORS",
]

_LOG2 = math.log(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _log_t_density(z: np.ndarray, df: float) -> np.ndarray:
    """log of Student's t density with `df` degrees of freedom at z (scipy.stats without the
    overhead of a distribution object)."""
    const = (special.gammaln((df + 1) / 2) - special.gammaln(df / 2)
             - 0.5 * math.log(df * math.pi))
    return const - (df + 1) / 2 * np.log1p(z * z / df)


def _t_quantile(p: np.ndarray, df: float) -> np.ndarray:
    return special.stdtrit(df, p)


@dataclass(frozen=True)
class TauPrior:
    """A proper prior density of the heterogeneity τ (a standard deviation, τ ≥ 0).

    Made by the functions of this module (`half_normal`, `turner_prior`, ...) or parsed from
    text by `tau_prior`. ``family`` names the density, ``parameters`` its parameters by name,
    ``label`` says it in words (with the preset's source for Turner and Rhodes priors);
    ``lower`` and ``upper`` bound its support.
    """

    family: str
    parameters: dict[str, float] = field(hash=False)
    label: str
    lower: float = 0.0
    upper: float = math.inf

    @property
    def at_zero(self) -> str:
        """How the density behaves as τ → 0: "finite", "vanishing" (faster than any power:
        log-normal) or "infinite" (log-Student-t: like 1/(τ |log τ|^(ν+1)))."""
        return {"lognormal": "vanishing", "logt": "infinite"}.get(self.family, "finite")

    def logpdf(self, tau: Any) -> np.ndarray:
        """log p(τ), −inf outside the support."""
        tau = np.asarray(tau, dtype=float)
        out = np.full(tau.shape, -np.inf)
        inside = (tau >= self.lower) & (tau <= self.upper)
        out[inside] = _LOGPDF[self.family](tau[inside], **self.parameters)
        return out

    def pdf(self, tau: Any) -> np.ndarray:
        """p(τ)."""
        return np.exp(self.logpdf(tau))

    def dlogpdf(self, tau: Any) -> np.ndarray:
        """d log p(τ) / dτ inside the support (used to locate the posterior mode)."""
        tau = np.asarray(tau, dtype=float)
        return _DLOGPDF[self.family](tau, **self.parameters)

    def cdf(self, tau: Any) -> np.ndarray:
        """P(τ' ≤ τ) under the prior."""
        tau = np.clip(np.asarray(tau, dtype=float), self.lower, self.upper)
        return _CDF[self.family](tau, **self.parameters)

    def quantile(self, p: Any) -> np.ndarray:
        """The prior quantile function."""
        return _QUANTILE[self.family](np.asarray(p, dtype=float), **self.parameters)

    @property
    def median(self) -> float:
        return float(self.quantile(0.5))

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class MuPrior:
    """The prior of the overall effect μ: improper uniform (``sd`` = inf) or N(mean, sd²)."""

    mean: float = 0.0
    sd: float = math.inf

    def __post_init__(self) -> None:
        if not math.isfinite(self.mean):
            raise ValueError(f"the normal prior of mu needs a finite mean, not {self.mean}")
        if not (self.sd > 0):
            raise ValueError(f"the normal prior of mu needs a standard deviation > 0, "
                             f"not {self.sd}")

    @property
    def proper(self) -> bool:
        return math.isfinite(self.sd)

    @property
    def label(self) -> str:
        if not self.proper:
            return "uniform (improper)"
        return f"normal(mean={self.mean:g}, sd={self.sd:g})"

    def pdf(self, mu: Any) -> np.ndarray:
        """The prior density of μ (nan for the improper uniform prior, which has none)."""
        mu = np.asarray(mu, dtype=float)
        if not self.proper:
            return np.full(mu.shape, np.nan)
        z = (mu - self.mean) / self.sd
        return np.exp(-0.5 * z * z - _LOG_SQRT_2PI) / self.sd

    def __str__(self) -> str:
        return self.label


# --- the families ------------------------------------------------------------------------------

def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"the prior's {name} must be a finite number > 0, not {value}")
    return value


def _finite(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"the prior's {name} must be a finite number, not {value}")
    return value


def half_normal(scale: float) -> TauPrior:
    """Half-normal prior with scale s: p(τ) = 2/s · φ(τ/s), τ ≥ 0 (Friede et al. 2017, doi
    10.1002/bimj.201500236, suggest s = 0.5 or 1 for log odds ratios)."""
    scale = _positive("scale", scale)
    return TauPrior("halfnormal", {"scale": scale}, f"half-normal(scale={scale:g})")


def half_student_t(scale: float, df: float) -> TauPrior:
    """Half-Student-t prior with scale s and ν degrees of freedom: p(τ) = 2/s · t_ν(τ/s)."""
    scale = _positive("scale", scale)
    df = _positive("degrees of freedom", df)
    return TauPrior("halft", {"scale": scale, "df": df},
                    f"half-Student-t(scale={scale:g}, df={df:g})")


def half_cauchy(scale: float) -> TauPrior:
    """Half-Cauchy prior with scale s: p(τ) = 2s / (π(s² + τ²)) (half-Student-t, ν = 1)."""
    scale = _positive("scale", scale)
    return TauPrior("halft", {"scale": scale, "df": 1.0}, f"half-Cauchy(scale={scale:g})")


def exponential(scale: float | None = None, *, rate: float | None = None) -> TauPrior:
    """Exponential prior with mean (scale) s, rate 1/s: p(τ) = exp(−τ/s)/s."""
    if (scale is None) == (rate is None):
        raise ValueError("give the exponential prior either its scale (mean) or its rate")
    scale = _positive("scale", scale) if rate is None else 1.0 / _positive("rate", rate)
    return TauPrior("exponential", {"scale": scale},
                    f"exponential(scale={scale:g}, rate={1 / scale:g})")


def log_normal(meanlog: float, sdlog: float, label: str | None = None) -> TauPrior:
    """Log-normal prior: log τ ~ N(meanlog, sdlog²)."""
    meanlog = _finite("meanlog", meanlog)
    sdlog = _positive("sdlog", sdlog)
    return TauPrior("lognormal", {"meanlog": meanlog, "sdlog": sdlog},
                    label or f"log-normal(meanlog={meanlog:g}, sdlog={sdlog:g})")


def log_student_t(location: float, scale: float, df: float,
                  label: str | None = None) -> TauPrior:
    """Log-Student-t prior: (log τ − location)/scale ~ t_df."""
    location = _finite("location", location)
    scale = _positive("scale", scale)
    df = _positive("degrees of freedom", df)
    return TauPrior("logt", {"location": location, "scale": scale, "df": df},
                    label or f"log-Student-t(location={location:g}, scale={scale:g}, "
                             f"df={df:g})")


def uniform(low: float, high: float) -> TauPrior:
    """Uniform prior on the range [low, high], 0 ≤ low < high < inf."""
    low, high = float(low), float(high)
    if not (math.isfinite(low) and math.isfinite(high) and 0 <= low < high):
        raise ValueError(f"the uniform prior needs 0 <= low < high < inf, not [{low}, {high}]")
    return TauPrior("uniform", {"low": low, "high": high},
                    f"uniform(low={low:g}, high={high:g})", lower=low, upper=high)


def _lp_halfnormal(tau, scale):
    z = tau / scale
    return _LOG2 - math.log(scale) - _LOG_SQRT_2PI - 0.5 * z * z


def _lp_halft(tau, scale, df):
    return _LOG2 - math.log(scale) + _log_t_density(tau / scale, df)


def _lp_exponential(tau, scale):
    return -math.log(scale) - tau / scale


def _lp_lognormal(tau, meanlog, sdlog):
    out = np.full(np.shape(tau), -np.inf)
    positive = tau > 0
    log_tau = np.log(tau[positive])
    z = (log_tau - meanlog) / sdlog
    out[positive] = -log_tau - math.log(sdlog) - _LOG_SQRT_2PI - 0.5 * z * z
    return out


def _lp_logt(tau, location, scale, df):
    # the density grows without bound towards 0, like 1 / (tau |log tau|^(df + 1))
    out = np.full(np.shape(tau), np.inf)
    positive = tau > 0
    log_tau = np.log(tau[positive])
    out[positive] = (_log_t_density((log_tau - location) / scale, df) - math.log(scale)
                     - log_tau)
    return out


def _lp_uniform(tau, low, high):
    return np.full(np.shape(tau), -math.log(high - low))


def _dlp_halfnormal(tau, scale):
    return -tau / scale**2


def _dlp_halft(tau, scale, df):
    return -(df + 1) * tau / (df * scale**2 + tau * tau)


def _dlp_exponential(tau, scale):
    return np.full(np.shape(tau), -1.0 / scale)


def _dlp_lognormal(tau, meanlog, sdlog):
    return -(1.0 + (np.log(tau) - meanlog) / sdlog**2) / tau


def _dlp_logt(tau, location, scale, df):
    z = (np.log(tau) - location) / scale
    return (-(df + 1) * z / (df + z * z) / scale - 1.0) / tau


def _dlp_uniform(tau, low, high):
    return np.zeros(np.shape(tau))


def _c_halfnormal(tau, scale):
    return special.erf(tau / (scale * math.sqrt(2.0)))


def _c_halft(tau, scale, df):
    return 2.0 * special.stdtr(df, tau / scale) - 1.0


def _c_exponential(tau, scale):
    return -np.expm1(-tau / scale)


def _c_lognormal(tau, meanlog, sdlog):
    with np.errstate(divide="ignore"):
        return special.ndtr((np.log(tau) - meanlog) / sdlog)


def _c_logt(tau, location, scale, df):
    with np.errstate(divide="ignore"):
        return special.stdtr(df, (np.log(tau) - location) / scale)


def _c_uniform(tau, low, high):
    return (tau - low) / (high - low)


def _q_halfnormal(p, scale):
    return scale * special.ndtri((1 + p) / 2)


def _q_halft(p, scale, df):
    return scale * _t_quantile((1 + p) / 2, df)


def _q_exponential(p, scale):
    return -scale * np.log1p(-p)


def _q_lognormal(p, meanlog, sdlog):
    return np.exp(meanlog + sdlog * special.ndtri(p))


def _q_logt(p, location, scale, df):
    return np.exp(location + scale * _t_quantile(p, df))


def _q_uniform(p, low, high):
    return low + p * (high - low)


_LOGPDF = {"halfnormal": _lp_halfnormal, "halft": _lp_halft, "exponential": _lp_exponential,
           "lognormal": _lp_lognormal, "logt": _lp_logt, "uniform": _lp_uniform}
_DLOGPDF = {"halfnormal": _dlp_halfnormal, "halft": _dlp_halft,
            "exponential": _dlp_exponential, "lognormal": _dlp_lognormal, "logt": _dlp_logt,
            "uniform": _dlp_uniform}
_CDF = {"halfnormal": _c_halfnormal, "halft": _c_halft, "exponential": _c_exponential,
        "lognormal": _c_lognormal, "logt": _c_logt, "uniform": _c_uniform}
_QUANTILE = {"halfnormal": _q_halfnormal, "halft": _q_halft, "exponential": _q_exponential,
             "lognormal": _q_lognormal, "logt": _q_logt, "uniform": _q_uniform}


# --- the empirical presets ---------------------------------------------------------------------

COMPARATORS = ("pharmacological", "non-pharmacological", "placebo / control")

TURNER_COMPARISONS = (
    "pharmacological vs. placebo / control",
    "pharmacological vs. pharmacological",
    "non-pharmacological vs. placebo / control",
    "non-pharmacological vs. pharmacological",
    "non-pharmacological vs. non-pharmacological",
)
TURNER_OUTCOMES = (
    "all-cause mortality",
    "obstetric outcomes",
    "cause-specific mortality / major morbidity event / composite (mortality or morbidity)",
    "resource use / hospital stay / process",
    "surgical / device related success / failure",
    "withdrawals / drop-outs",
    "internal / structure-related outcomes",
    "general physical health indicators",
    "adverse events",
    "infection / onset of new disease",
    "signs / symptoms reflecting continuation / end of condition",
    "pain",
    "quality of life / functioning (dichotomized)",
    "mental health indicators",
    "biological markers (dichotomized)",
    "subjective outcomes (various)",
)
# Turner et al. (2015), Table IV: log τ² ~ N(mean, sd²); one row per outcome type (in the
# order of TURNER_OUTCOMES), one column per comparison type (TURNER_COMPARISONS).
_TURNER_MEAN = np.array([
    [-3.95, -4.18, -4.17, -2.92, -3.50],
    [-3.52, -3.75, -3.74, -2.49, -3.08],
    [-3.71, -3.95, -3.93, -2.68, -3.27],
    [-2.34, -2.58, -2.56, -1.31, -1.90],
    [-2.14, -2.37, -2.36, -1.11, -1.69],
    [-2.99, -3.23, -3.21, -1.96, -2.55],
    [-2.71, -2.94, -2.93, -1.67, -2.26],
    [-2.29, -2.53, -2.51, -1.26, -1.85],
    [-1.87, -2.10, -2.10, -0.84, -1.43],
    [-2.49, -2.73, -2.71, -1.46, -2.05],
    [-2.06, -2.29, -2.28, -1.03, -1.61],
    [-1.83, -2.06, -2.05, -0.80, -1.38],
    [-2.54, -2.78, -2.77, -1.51, -2.10],
    [-2.12, -2.35, -2.34, -1.09, -1.67],
    [-1.77, -2.00, -1.99, -0.74, -1.33],
    [-2.70, -2.93, -2.92, -1.67, -2.26],
])
_TURNER_SD = np.array([
    [1.34, 1.41, 1.55, 1.02, 1.26],
    [1.74, 1.79, 1.91, 1.50, 1.68],
    [1.74, 1.79, 1.91, 1.51, 1.68],
    [1.74, 1.79, 1.91, 1.50, 1.68],
    [1.74, 1.79, 1.91, 1.50, 1.68],
    [1.74, 1.79, 1.91, 1.51, 1.68],
    [1.74, 1.79, 1.92, 1.51, 1.68],
    [1.53, 1.58, 1.72, 1.25, 1.46],
    [1.52, 1.58, 1.71, 1.24, 1.45],
    [1.52, 1.58, 1.71, 1.24, 1.45],
    [1.51, 1.58, 1.71, 1.24, 1.45],
    [1.52, 1.58, 1.71, 1.25, 1.45],
    [1.54, 1.60, 1.73, 1.27, 1.47],
    [1.53, 1.60, 1.72, 1.27, 1.47],
    [1.52, 1.58, 1.71, 1.24, 1.45],
    [1.52, 1.58, 1.71, 1.25, 1.45],
])
# Turner et al. (2015), p. 993: the distribution over all outcome and comparison types.
_TURNER_ANY = (-2.56, 1.74)
# Which comparison type a pair of comparators is (rows and columns in COMPARATORS order);
# two placebo/control arms are no comparison.
_TURNER_PAIR = ((1, 3, 0), (3, 4, 2), (0, 2, None))

RHODES_COMPARISONS = (
    "pharmacological vs. placebo / control",
    "pharmacological vs. pharmacological",
    "non-pharmacological (any)",
)
RHODES_OUTCOMES = (
    "obstetric outcome",
    "resource use and hospital stay / process",
    "internal and external structure-related outcome",
    "general physical health and adverse event and pain and quality of life / functioning",
    "signs / symptoms reflecting continuation / end of condition and infection / onset of "
    "new acute / chronic disease",
    "mental health outcome",
    "biological marker",
    "various subjectively measured outcomes",
)
RHODES_AREAS = ("other", "respiratory", "cancer")
# Rhodes et al. (2015): (log τ² − location)/scale ~ t₅, one row per outcome type
# (RHODES_OUTCOMES), one column per comparison type (RHODES_COMPARISONS); Table 3 for the
# medical areas other than respiratory diseases and cancer, Tables A.3.1 and A.3.2 for those.
# As in bayesmeta 3.4. Its entry for mental health outcomes x non-pharmacological in Table 3,
# -3.85, breaks the additive pattern of every other cell (each non-pharmacological location
# is 0.14 above the pharmacological-vs-placebo one, which would give -2.85); it is kept as
# bayesmeta has it, so that results equal bayesmeta's.
_RHODES_LOCATION = {
    "other": np.array([
        [-4.13, -4.40, -3.99], [-2.55, -2.83, -2.41], [-2.43, -2.70, -2.29],
        [-3.16, -3.44, -3.02], [-3.00, -3.27, -2.86], [-2.99, -3.27, -3.85],
        [-3.41, -3.68, -3.27], [-2.76, -3.03, -2.62]]),
    "respiratory": np.array([
        [-6.03, -6.31, -5.89], [-4.46, -4.73, -4.32], [-4.33, -4.61, -4.19],
        [-5.07, -5.34, -4.93], [-4.90, -5.18, -4.76], [-4.90, -5.17, -4.76],
        [-5.31, -5.59, -5.17], [-4.66, -4.94, -4.52]]),
    "cancer": np.array([
        [-1.57, -1.85, -1.43], [0.01, -0.27, 0.15], [-0.13, -0.14, 0.27],
        [-0.60, -0.88, -0.46], [-0.44, -0.71, -0.30], [-0.43, -0.71, -0.29],
        [-0.85, -1.13, -0.71], [-0.20, -0.48, -0.06]]),
}
_RHODES_SCALE = {
    "other": np.array([
        [2.34, 2.31, 2.11], [2.73, 2.70, 2.57], [2.50, 2.46, 2.32], [2.50, 2.44, 2.27],
        [2.50, 2.47, 2.33], [2.16, 2.14, 1.93], [2.83, 2.78, 2.66], [2.58, 2.59, 2.41]]),
    "respiratory": np.array([
        [2.36, 2.31, 2.21], [2.74, 2.70, 2.57], [2.51, 2.46, 2.33], [2.51, 2.45, 2.28],
        [2.50, 2.47, 2.33], [2.17, 2.14, 1.94], [2.83, 2.78, 2.66], [2.59, 2.59, 2.41]]),
    "cancer": np.array([
        [2.45, 2.41, 2.24], [2.83, 2.79, 2.68], [2.61, 2.56, 2.45], [2.61, 2.55, 2.40],
        [2.60, 2.57, 2.46], [2.28, 2.25, 2.08], [2.93, 2.87, 2.78], [2.68, 2.68, 2.53]]),
}
# Rhodes et al. (2015), Section 3.3: the distribution over all outcome and comparison types.
_RHODES_ANY = (-3.44, 2.59)
_RHODES_PAIR = ((1, 2, 0), (2, 2, 2), (0, 2, None))
_RHODES_DF = 5.0


def _match(value: str, options: tuple[str, ...], what: str) -> int:
    """Index of `value` in `options`: exact, else the one option it is a prefix of (as R's
    match.arg), case-insensitive."""
    text = str(value).strip().lower()
    lowered = [option.lower() for option in options]
    if text in lowered:
        return lowered.index(text)
    hits = [i for i, option in enumerate(lowered) if option.startswith(text)]
    if len(hits) == 1:
        return hits[0]
    listing = "; ".join(options)
    if hits:
        raise ValueError(f"{what} {value!r} matches several: "
                         f"{'; '.join(options[i] for i in hits)}")
    raise ValueError(f"unknown {what} {value!r}; use one of: {listing}")


def _comparison(pairs, comparator1: str, comparator2: str) -> int:
    first = _match(comparator1, COMPARATORS, "comparator")
    second = _match(comparator2, COMPARATORS, "comparator")
    index = pairs[first][second]
    if index is None:
        raise ValueError("placebo / control against placebo / control is not a comparison")
    return index


def turner_prior(outcome: str | None = None, comparator1: str = "pharmacological",
                 comparator2: str = "placebo / control") -> TauPrior:
    """The empirical prior of Turner et al. (2015, Table IV) for log odds ratios.

    log τ² ~ N(m, v²) for the outcome type and the comparison of `comparator1` with
    `comparator2` (each "pharmacological", "non-pharmacological" or "placebo / control"); so
    τ is log-normal with meanlog m/2 and sdlog v/2. With `outcome` None, the distribution
    over all settings (m = −2.56, v = 1.74; p. 993). Names may be abbreviated to a unique
    prefix ("surgical", "pharma"). doi:10.1002/sim.6381.
    """
    if outcome is None:
        mean, sd = _TURNER_ANY
        where = "any outcome, any comparison"
    else:
        row = _match(outcome, TURNER_OUTCOMES, "Turner outcome type")
        column = _comparison(_TURNER_PAIR, comparator1, comparator2)
        mean, sd = float(_TURNER_MEAN[row, column]), float(_TURNER_SD[row, column])
        where = f"{TURNER_OUTCOMES[row]}, {TURNER_COMPARISONS[column]}"
    prior = log_normal(mean / 2, sd / 2)
    return TauPrior(prior.family, prior.parameters,
                    f"Turner 2015 ({where}): log-normal(meanlog={mean / 2:g}, "
                    f"sdlog={sd / 2:g})")


def rhodes_prior(outcome: str | None = None, comparator1: str = "pharmacological",
                 comparator2: str = "placebo / control", area: str = "other") -> TauPrior:
    """The empirical prior of Rhodes et al. (2015) for standardised mean differences.

    (log τ² − l)/s ~ t₅ for the outcome type, the comparison of `comparator1` with
    `comparator2` and the medical `area` ("other", "respiratory" or "cancer"; Table 3, A.3.1,
    A.3.2), so (log τ − l/2)/(s/2) ~ t₅. With `outcome` None, the distribution over all
    settings (l = −3.44, s = 2.59; Section 3.3). Names may be abbreviated to a unique prefix.
    doi:10.1016/j.jclinepi.2014.08.012.
    """
    if outcome is None:
        location, scale = _RHODES_ANY
        where = "any outcome, any comparison"
    else:
        row = _match(outcome, RHODES_OUTCOMES, "Rhodes outcome type")
        column = _comparison(_RHODES_PAIR, comparator1, comparator2)
        area_name = RHODES_AREAS[_match(area, RHODES_AREAS, "medical area")]
        location = float(_RHODES_LOCATION[area_name][row, column])
        scale = float(_RHODES_SCALE[area_name][row, column])
        where = f"{RHODES_OUTCOMES[row]}, {RHODES_COMPARISONS[column]}, area {area_name}"
    prior = log_student_t(location / 2, scale / 2, _RHODES_DF)
    return TauPrior(prior.family, prior.parameters,
                    f"Rhodes 2015 ({where}): log-Student-t(location={location / 2:g}, "
                    f"scale={scale / 2:g}, df=5)")


# --- priors written as text --------------------------------------------------------------------

_FAMILIES = {
    "halfnormal": (half_normal, ("scale",)),
    "halft": (half_student_t, ("scale", "df")),
    "halfstudentt": (half_student_t, ("scale", "df")),
    "halfcauchy": (half_cauchy, ("scale",)),
    "exponential": (exponential, ("scale",)),
    "lognormal": (log_normal, ("meanlog", "sdlog")),
    "logt": (log_student_t, ("location", "scale", "df")),
    "logstudentt": (log_student_t, ("location", "scale", "df")),
    "uniform": (uniform, ("low", "high")),
    "turner": (turner_prior, ("outcome", "comparator1", "comparator2")),
    "rhodes": (rhodes_prior, ("outcome", "comparator1", "comparator2", "area")),
}
_TEXT_ARGUMENTS = {"outcome", "comparator1", "comparator2", "area"}
_SPEC = re.compile(r"^\s*([A-Za-z][A-Za-z _-]*?)\s*(?:\((.*)\))?\s*$", re.DOTALL)


def _split_arguments(text: str) -> list[str]:
    """Split on the commas that are not inside parentheses."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def tau_prior(spec: "TauPrior | str") -> TauPrior:
    """A `TauPrior` from itself or from text such as ``"halfnormal(0.5)"``.

    Text forms (positional arguments in the order shown, or ``name=value``):
    ``halfnormal(scale)``, ``halft(scale, df)``, ``halfcauchy(scale)``,
    ``exponential(scale)`` or ``exponential(rate=r)``, ``lognormal(meanlog, sdlog)``,
    ``logt(location, scale, df)``, ``uniform(low, high)``, ``turner`` or
    ``turner(outcome, comparator1, comparator2)``, ``rhodes`` or
    ``rhodes(outcome, comparator1, comparator2, area)``. Names ignore case, spaces, hyphens
    and underscores; outcome and comparator names may be shortened to a unique prefix.
    """
    if isinstance(spec, TauPrior):
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"tau_prior must be a TauPrior or text such as 'halfnormal(0.5)', "
                         f"not {spec!r}")
    found = _SPEC.match(spec)
    if not found:
        raise ValueError(f"cannot read the tau prior {spec!r}; write it as e.g. "
                         "'halfnormal(0.5)', 'halfcauchy(1)' or 'turner(pain, "
                         "non-pharmacological, placebo / control)'")
    name = re.sub(r"[ _-]", "", found.group(1)).lower()
    if name not in _FAMILIES:
        raise ValueError(f"unknown tau prior {found.group(1)!r}; use one of "
                         f"{', '.join(sorted(_FAMILIES))}")
    make, names = _FAMILIES[name]
    positional, keywords = [], {}
    for argument in _split_arguments(found.group(2) or ""):
        key, equals, value = argument.partition("=")
        if equals and re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", key.strip()):
            keywords[key.strip()] = value.strip()
        else:
            if keywords:
                raise ValueError(f"in the tau prior {spec!r} a positional argument follows a "
                                 "named one")
            positional.append(argument)
    if len(positional) > len(names):
        raise ValueError(f"the tau prior {name} takes at most {len(names)} arguments "
                         f"({', '.join(names)}), not {len(positional)}")
    values = dict(zip(names, positional))
    for key in keywords:
        if key not in names and not (name == "exponential" and key == "rate"):
            raise ValueError(f"the tau prior {name} has no argument {key!r}; its arguments "
                             f"are {', '.join(names)}")
    values.update(keywords)
    converted = {}
    for key, value in values.items():
        if key in _TEXT_ARGUMENTS:
            converted[key] = value
            continue
        try:
            converted[key] = float(value)
        except ValueError:
            raise ValueError(f"the {key} of the tau prior {spec!r} must be a number, not "
                             f"{value!r}") from None
    try:
        return make(**converted)
    except TypeError as error:
        raise ValueError(f"the tau prior {spec!r} is incomplete: {error}") from None


def mu_prior(spec: "MuPrior | str | tuple | None") -> MuPrior:
    """A `MuPrior` from itself, None or "uniform" (improper uniform), a (mean, sd) pair or
    text ``"normal(mean, sd)"``."""
    if spec is None:
        return MuPrior()
    if isinstance(spec, MuPrior):
        return spec
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text in ("uniform", "flat", "improper"):
            return MuPrior()
        found = re.fullmatch(r"normal\s*\((.*)\)", text)
        if not found:
            raise ValueError(f"cannot read the mu prior {spec!r}; write 'uniform' or "
                             "'normal(mean, sd)'")
        parts = _split_arguments(found.group(1))
        named = dict(part.partition("=")[::2] for part in parts if "=" in part)
        plain = [part for part in parts if "=" not in part]
        values = dict(zip(("mean", "sd"), plain))
        values.update({key.strip(): value for key, value in named.items()})
        try:
            return MuPrior(float(values["mean"]), float(values["sd"]))
        except (KeyError, ValueError):
            raise ValueError(f"the mu prior {spec!r} needs a numeric mean and sd") from None
    try:
        mean, sd = spec
    except (TypeError, ValueError):
        raise ValueError(f"mu_prior must be None, 'uniform', (mean, sd) or 'normal(mean, sd)', "
                         f"not {spec!r}") from None
    return MuPrior(float(mean), float(sd))
