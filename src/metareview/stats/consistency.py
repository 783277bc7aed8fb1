"""Checks that a study's printed numbers fit together: the engine of the consistency audit.

- `two_sample_p`, `paired_p`: the p value of the between-arm t test that the printed means,
  SDs and n imply (Student's pooled-variance test for parallel arms; the paired test for
  split-face data, whose SD of differences needs the within-person correlation r).
- `p_agrees`: whether a recomputed p value fits the printed one, given its operator and the
  rounding of the inputs.
- `read_unlabelled_dispersion`: decides whether an unlabelled "mean ± x" is an SD or an SE by
  which reading reproduces the printed p value.
- `grim`: the GRIM test (Brown & Heathers 2017, doi 10.1177/1948550616673876): a mean of n
  whole-number scores must be a whole number divided by n, to the printed decimals.
- `percent_possible`: a printed percentage of n people must be k/n for some whole k.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from metareview.stats.results import ResultMixin, result_class

# A recomputed p "agrees" with an exact printed p when it is within this factor of it: means
# and SDs are printed rounded, which moves p by far more than its own rounding.
P_RATIO_TOLERANCE = 1.5


def two_sample_p(mean1: float, sd1: float, n1: float, mean2: float, sd2: float,
                 n2: float) -> float:
    """Two-sided p of Student's t test from summary statistics (pooled variance, df n1 + n2 − 2).

    t = (m1 − m2) / (s_p √(1/n1 + 1/n2)), s_p² = ((n1 − 1) sd1² + (n2 − 1) sd2²)/(n1 + n2 − 2);
    the same number as `scipy.stats.ttest_ind_from_stats(..., equal_var=True)`.
    """
    return float(stats.ttest_ind_from_stats(mean1, sd1, n1, mean2, sd2, n2,
                                            equal_var=True).pvalue)


def paired_p(mean1: float, sd1: float, mean2: float, sd2: float, n: float, r: float) -> float:
    """Two-sided p of the paired t test implied by per-side summaries and a correlation r.

    SD_diff = √(sd1² + sd2² − 2 r sd1 sd2), t = (m1 − m2)/(SD_diff/√n), df = n − 1
    (Cochrane Handbook 23.2.7.2).
    """
    sd_diff = math.sqrt(sd1**2 + sd2**2 - 2 * r * sd1 * sd2)
    t = (mean1 - mean2) / (sd_diff / math.sqrt(n))
    return float(2 * stats.t.sf(abs(t), n - 1))


def _decimals(value: float) -> int:
    text = repr(float(value))
    if "e" in text:
        return int(text.split("e-")[1]) if "e-" in text else 0
    return len(text.split(".")[1].rstrip("0")) if "." in text else 0


def p_agrees(computed: float, printed: float, operator: str = "=") -> bool:
    """Does a recomputed p fit the printed "p <operator> printed"?

    "<": computed < printed; ">": computed > printed; "=": within a factor of
    `P_RATIO_TOLERANCE` of the printed value, or equal to it at the printed decimals.
    """
    if not (math.isfinite(computed) and math.isfinite(printed)):
        return False
    if operator == "<":
        return computed < printed
    if operator == ">":
        return computed > printed
    if round(computed, _decimals(printed)) == printed:
        return True
    ratio = computed / printed if printed > 0 else math.inf
    return 1 / P_RATIO_TOLERANCE <= ratio <= P_RATIO_TOLERANCE


@result_class
class DispersionReading(ResultMixin):
    """How an unlabelled "±" was read.

    Attributes
    ----------
    reading : str
        "SD" or "SE".
    decided : bool
        False when the printed p could not tell the two readings apart (then the Cochrane
        convention, SD, applies).
    p_if_sd, p_if_se : float
        The p values each reading implies.
    reason : str
        The decision in words.
    """

    reading: str
    decided: bool
    p_if_sd: float
    p_if_se: float
    reason: str


def read_unlabelled_dispersion(mean1: float, x1: float, n1: float, mean2: float, x2: float,
                               n2: float, p: float, operator: str = "=", paired: bool = False,
                               r: float = 0.5) -> DispersionReading:
    """Decide whether the x of "mean ± x" is an SD or an SE from the printed between-arm p.

    Under the SD reading the arms' SDs are x; under the SE reading they are x·√n. Each reading
    gives a t test (`two_sample_p`, or `paired_p` with the assumed r for split-face data); the
    reading whose p agrees with the printed one (`p_agrees`) is taken. When both or neither
    agree, the Cochrane Handbook's convention applies (an unlabelled ± is an SD, 6.5.2.2) and
    `decided` is False.
    """
    def p_for(sd1: float, sd2: float) -> float:
        if paired:
            return paired_p(mean1, sd1, mean2, sd2, n1, r)
        return two_sample_p(mean1, sd1, n1, mean2, sd2, n2)

    p_sd = p_for(x1, x2)
    p_se = p_for(x1 * math.sqrt(n1), x2 * math.sqrt(n2))
    sd_fits, se_fits = p_agrees(p_sd, p, operator), p_agrees(p_se, p, operator)
    printed = f"p {operator} {p:g}"
    if sd_fits and not se_fits:
        return DispersionReading("SD", True, p_sd, p_se,
                                 f"read as SD: gives p = {p_sd:.2g}, printed {printed} "
                                 f"(as SE it would give p = {p_se:.2g})")
    if se_fits and not sd_fits:
        return DispersionReading("SE", True, p_sd, p_se,
                                 f"read as SE: gives p = {p_se:.2g}, printed {printed} "
                                 f"(as SD it would give p = {p_sd:.2g})")
    both = "both readings fit" if sd_fits else "neither reading fits"
    return DispersionReading("SD", False, p_sd, p_se,
                             f"read as SD by convention: {both} {printed} "
                             f"(p = {p_sd:.2g} as SD, {p_se:.2g} as SE)")


def grim(mean: float, n: int, decimals: int, items: int = 1) -> bool | None:
    """GRIM: can a mean printed to `decimals` come from n whole-number scores (sum of `items`
    whole-number items each)? None when n·items ≥ 10^decimals (every mean is then possible)."""
    granularity = n * items
    if granularity >= 10**decimals:
        return None
    target = round(mean, decimals)
    centre = mean * granularity
    for total in (math.floor(centre) - 1, math.floor(centre), math.ceil(centre),
                  math.ceil(centre) + 1):
        if round(total / granularity, decimals) == target:
            return True
    return False


def percent_possible(percent: float, n: int, decimals: int) -> bool:
    """Can a percentage printed to `decimals` be 100·k/n for a whole k between 0 and n?"""
    k = np.arange(0, int(n) + 1)
    return bool(np.any(np.round(100 * k / n, decimals) == round(percent, decimals)))


def decimals_of(text: str) -> int:
    """Decimals of a number as printed ("44.60" → 2), for GRIM and percentage checks."""
    text = str(text).strip()
    return len(text.split(".")[1]) if "." in text else 0
