"""Synthesis without meta-analysis (SWiM): vote counting by direction and combined p values.

For outcomes whose studies print no usable effect estimate (only a p value, or only which arm
did better), the Cochrane Handbook (McKenzie & Brennan, chapter 12) accepts two statistical
syntheses, and the SWiM reporting guideline (Campbell et al. 2020) asks that the method be named
and its limits stated:

- `vote_count`: how many studies favour the treatment, against how many favour the control,
  with a sign test and the proportion favouring the treatment with its confidence interval.
  It answers "is there any evidence of an effect?", never "how large is it?".
- `combine_pvalues`: one-sided p values in favour of the treatment combined by Stouffer's
  (optionally weighted) Z or Fisher's method. It too answers "is there evidence that the
  treatment helps in at least some study?", and says nothing about the size of the effect.

Vote counting by statistical significance ("3 of 5 studies were significant") is not offered:
the Handbook advises against it.

References
----------
Campbell M, McKenzie JE, Sowden A, et al. Synthesis without meta-analysis (SWiM) in systematic
reviews: reporting guideline. BMJ 2020;368:l6890. doi:10.1136/bmj.l6890

McKenzie JE, Brennan SE. Chapter 12: Synthesizing and presenting findings using other methods.
In: Higgins JPT, Thomas J, et al. (eds). Cochrane Handbook for Systematic Reviews of
Interventions, version 6. Cochrane; https://training.cochrane.org/handbook
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from metareview.stats.results import ResultMixin, result_class
from metareview.stats.vocabulary import P_OPERATORS

DIRECTIONS = (-1, 0, 1)
COMBINE_METHODS = ("stouffer", "fisher")


# --- input checks ------------------------------------------------------------------------------


def _vector(name: str, values) -> np.ndarray:
    """A 1-D float array of at least one value; None and NaN become NaN (checked by the caller)."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numbers, got {values!r}") from error
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence (one value per study), got shape "
                         f"{array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty: give one value per study")
    return array


def _directions(values) -> np.ndarray:
    """Directions as an int array, each -1, 0 or +1."""
    array = _vector("direction", values)
    for index, value in enumerate(array):
        if np.isnan(value):
            raise ValueError(
                f"direction at index {index} is missing: record +1 (favours treatment), "
                "-1 (favours control) or 0 (no clear difference or unclear)"
            )
        if value not in DIRECTIONS:
            raise ValueError(
                f"direction at index {index} is {value:g}; it must be +1 (favours treatment), "
                "-1 (favours control) or 0 (no clear difference or unclear)"
            )
    return array.astype(int)


def _same_length(k: int, **arrays) -> None:
    for name, array in arrays.items():
        if len(array) != k:
            raise ValueError(
                f"{name} has {len(array)} values but direction has {k}: give one per study"
            )


# --- vote counting -----------------------------------------------------------------------------


@result_class
class VoteCountResult(ResultMixin):
    """Vote count based on the direction of effect.

    Attributes
    ----------
    k : int
        All studies given.
    n_favour, n_against : int
        Studies favouring the treatment and the control.
    n_unclear : int
        Studies with no clear difference or an unclear direction (left out of the sign test
        and of the proportion).
    proportion : float
        n_favour / (n_favour + n_against).
    ci_low, ci_high : float
        Wilson score interval of `proportion` at `level`.
    pval : float
        Two-sided exact sign test of proportion = 0.5.
    level : float
        Confidence level of the interval.
    ci_method : str
        The interval's name ("wilson").
    """

    k: int
    n_favour: int
    n_against: int
    n_unclear: int
    proportion: float
    ci_low: float
    ci_high: float
    pval: float
    level: float
    ci_method: str


def vote_count(directions: Sequence[int], level: float = 0.95) -> VoteCountResult:
    """Vote counting based on the direction of effect, with a sign test.

    Parameters
    ----------
    directions : sequence of int
        One value per study: +1 the effect favours the treatment, -1 it favours the control,
        0 no clear difference, or the direction cannot be told. Only the direction counts, not
        whether the study's result was statistically significant.
    level : float
        Confidence level of the interval for the proportion (default 0.95).

    Returns
    -------
    VoteCountResult
        k, n_favour, n_against, n_unclear, proportion, ci_low, ci_high, pval, level, ci_method.

    Raises
    ------
    ValueError
        If a direction is missing or not -1, 0 or +1; if no study has a direction (+1 or -1);
        if `level` is not strictly between 0 and 1.

    Notes
    -----
    Studies with direction 0 are counted apart and left out (Cochrane Handbook chapter 12,
    vote counting based on the direction of effect). With :math:`m = n_+ + n_-` studies that
    have a direction and :math:`n_+` of them favouring the treatment, the proportion is
    :math:`\\hat\\pi = n_+ / m` and the sign test is the exact two-sided binomial test of
    :math:`\\pi = 0.5` (``scipy.stats.binomtest(n_+, m, 0.5)``), whose p value sums the
    probabilities of all outcomes no more likely than the one observed:

    .. math:: p = \\sum_{j:\\, P(j) \\le P(n_+)} \\binom{m}{j} 0.5^m

    The interval is the Wilson score interval (Wilson 1927), which keeps its coverage for the
    small numbers of studies typical of a review, unlike the Wald interval; with
    :math:`z = \\Phi^{-1}(1 - (1 - \\text{level})/2)`:

    .. math::

        \\frac{\\hat\\pi + z^2/(2m) \\pm z \\sqrt{\\hat\\pi(1-\\hat\\pi)/m + z^2/(4m^2)}}
              {1 + z^2/m}

    (``binomtest(...).proportion_ci(method="wilson")``, without continuity correction).
    The sign test treats every study alike whatever its size, and ignores how large the effects
    are: it says whether there is evidence of an effect, not how big it is.

    References
    ----------
    McKenzie JE, Brennan SE. Chapter 12 of the Cochrane Handbook for Systematic Reviews of
    Interventions, version 6 (see the module docstring).

    Wilson EB. Probable inference, the law of succession, and statistical inference.
    J Am Stat Assoc 1927;22(158):209-212. doi:10.1080/01621459.1927.10502953

    Examples
    --------
    >>> v = vote_count([1, 1, 1, 1, 1, 1, 1, -1, -1, 0])
    >>> v.n_favour, v.n_against, v.n_unclear, round(v.pval, 7)
    (7, 2, 1, 0.1796875)
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be strictly between 0 and 1, got {level!r}")
    d = _directions(directions)
    n_favour = int(np.sum(d == 1))
    n_against = int(np.sum(d == -1))
    n_unclear = int(np.sum(d == 0))
    m = n_favour + n_against
    if m == 0:
        raise ValueError(
            f"none of the {d.size} studies has a direction (+1 or -1): the sign test and the "
            "proportion need at least one"
        )
    test = stats.binomtest(n_favour, m, p=0.5, alternative="two-sided")
    interval = test.proportion_ci(confidence_level=level, method="wilson")
    return VoteCountResult(
        k=int(d.size),
        n_favour=n_favour,
        n_against=n_against,
        n_unclear=n_unclear,
        proportion=n_favour / m,
        ci_low=float(interval.low),
        ci_high=float(interval.high),
        pval=float(test.pvalue),
        level=float(level),
        ci_method="wilson",
    )


# --- combining p values ------------------------------------------------------------------------


@result_class
class CombinedPResult(ResultMixin):
    """One-sided p values in favour of the treatment, combined.

    Attributes
    ----------
    method : str
        "stouffer" or "fisher".
    z : float
        The combined Z (Stouffer; nan for Fisher).
    chi2, df : float
        Fisher's statistic and its degrees of freedom, 2k (nan for Stouffer).
    statistic : float
        z or chi2, whichever the method gives.
    pval : float
        One-sided p value, small when the studies favour the treatment.
    k : int
        Studies combined (all of them, including those entered with Z = 0).
    study_weights : ndarray
        Stouffer's weights (√n, or 1 each when n is not given; 1 each for Fisher, which is
        unweighted).
    study_z, study_p_one_sided : ndarray
        Each study's Z and one-sided p as entered.
    bounded : ndarray
        Indices of studies printed as "p < x" and entered with p = x.
    zeroed : ndarray
        Indices entered with Z = 0 (printed as "p > x", or without a direction).
    pval_bias : str
        How the approximations move pval: "none" (no approximation), "conservative" (pval can
        only be too large), "anti-conservative" (pval can only be too small) or "unknown".
    note : str
        The same in words, for a report.
    """

    method: str
    z: float
    chi2: float
    df: float
    statistic: float
    pval: float
    k: int
    study_weights: np.ndarray
    study_z: np.ndarray
    study_p_one_sided: np.ndarray
    bounded: np.ndarray
    zeroed: np.ndarray
    pval_bias: str
    note: str


def _operators(operators, k: int) -> np.ndarray:
    if operators is None:
        return np.array(["="] * k, dtype=object)
    ops = np.asarray(list(operators) if not isinstance(operators, str) else [operators],
                     dtype=object)
    _same_length(k, operators=ops)
    for index, op in enumerate(ops):
        if op not in P_OPERATORS:
            raise ValueError(
                f"operator at index {index} is {op!r}; it must be one of {P_OPERATORS} "
                "(the sign printed before the p value)"
            )
    return ops


def _check_p(p: np.ndarray, ops: np.ndarray) -> None:
    for index, value in enumerate(p):
        if np.isnan(value):
            raise ValueError(
                f"p at index {index} is missing: give the printed two-sided p value (use p = 1 "
                "for a study that reports no difference and no p value)"
            )
        if not 0 < value <= 1:
            raise ValueError(
                f"p at index {index} is {value:g}; a two-sided p value lies in (0, 1] "
                "(for 'p < 0.001' give p = 0.001 with operator '<')"
            )
        if ops[index] == ">" and value == 1:
            raise ValueError(f"p at index {index} is printed as 'p > 1', which is impossible")


def _weights(n, k: int, method: str) -> np.ndarray:
    if n is None:
        return np.ones(k)
    if method == "fisher":
        raise ValueError(
            "Fisher's method is unweighted: pass n=None, or use method='stouffer' to weight "
            "studies by √n"
        )
    sizes = _vector("n", n)
    _same_length(k, n=sizes)
    for index, value in enumerate(sizes):
        if np.isnan(value):
            raise ValueError(
                f"n at index {index} is missing: weighted Stouffer needs every study's sample "
                "size; pass n=None to weight the studies equally"
            )
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"n at index {index} is {value:g}; a sample size must be positive")
    return np.sqrt(sizes)


def _pval_bias(d: np.ndarray, p: np.ndarray, ops: np.ndarray, bounded: np.ndarray,
               zeroed: np.ndarray) -> tuple[str, str]:
    """Which way the approximate studies move the combined p value, and a sentence saying so.

    Both combinations are monotone: the combined one-sided p can only fall when a study's Z
    rises. Every approximation below enters a Z nearer 0 than the study's true Z (or Z = 0 when
    the true sign is unknown), so a study favouring the treatment is under-counted (pval too
    large: conservative) and a study favouring the control is under-counted against the
    treatment (pval too small: anti-conservative).
    """
    approximate = np.union1d(bounded, zeroed).astype(int)
    # A study with no direction and p = 1 has Z = 0 exactly: nothing is approximated.
    approximate = np.array(
        [i for i in approximate if not (d[i] == 0 and p[i] == 1 and ops[i] == "=")], dtype=int
    )
    if approximate.size == 0:
        return "none", "every study entered with its exact Z"
    signs = set(d[approximate].tolist())
    if signs == {1}:
        bias = "conservative"
        why = ("their evidence for the treatment is understated, so the combined p value is an "
               "upper bound (conservative)")
    elif signs == {-1}:
        bias = "anti-conservative"
        why = ("their evidence against the treatment is understated, so the combined p value "
               "may be too small (anti-conservative)")
    else:
        bias = "unknown"
        why = ("they favour different arms or have no direction, so the combined p value may "
               "be too large or too small")
    parts = []
    if bounded.size:
        parts.append(f"studies {bounded.tolist()} printed 'p < x' and entered with p = x")
    if zeroed.size:
        parts.append(f"studies {zeroed.tolist()} entered with Z = 0 ('p > x' or no direction)")
    return bias, "; ".join(parts) + f": {why}"


def combine_pvalues(
    p: Sequence[float],
    direction: Sequence[int],
    n: Sequence[float] | None = None,
    method: str = "stouffer",
    operators: Sequence[str] | None = None,
) -> CombinedPResult:
    """Combine two-sided p values, oriented by each study's direction, into one-sided evidence.

    Parameters
    ----------
    p : sequence of float
        Two-sided p value of each study, in (0, 1]. For "p < 0.001" give 0.001 with operator
        "<". A study reporting no difference and no p value can be given p = 1.
    direction : sequence of int
        +1 the study's effect favours the treatment, -1 the control, 0 no clear difference or
        the direction cannot be told.
    n : sequence of float, optional
        Sample size of each study. Given, Stouffer's Z is weighted by √n (every study needs
        one); None weights the studies equally. Fisher's method takes no weights.
    method : {"stouffer", "fisher"}
        Stouffer's (weighted) Z, or Fisher's method.
    operators : sequence of str, optional
        The sign printed before each p value: "=" (default for all), "<" or ">".

    Returns
    -------
    CombinedPResult
        method, z, chi2, df, statistic, pval (one-sided, small when the treatment is better),
        k, study_weights, study_z, study_p_one_sided, bounded, zeroed, pval_bias, note.

    Raises
    ------
    ValueError
        If the inputs differ in length or are empty; a p value is missing or outside (0, 1], or
        is printed as "p > 1"; a direction is not -1, 0 or +1; an operator is not "=", "<" or
        ">"; n is given with a missing or non-positive value, or given for Fisher's method; the
        method is unknown.

    Notes
    -----
    Each two-sided :math:`p_i` becomes a one-sided p value in favour of the treatment,

    .. math::

        p^{(1)}_i = p_i / 2 \\ \\text{if } d_i = +1, \\qquad
        p^{(1)}_i = 1 - p_i / 2 \\ \\text{if } d_i = -1, \\qquad
        Z_i = \\Phi^{-1}(1 - p^{(1)}_i) = d_i\\, \\Phi^{-1}(1 - p_i / 2).

    Stouffer's method (Stouffer et al. 1949), weighted (Zaykin 2011) with
    :math:`w_i = \\sqrt{n_i}` or unweighted (:math:`w_i = 1`):

    .. math::

        Z = \\frac{\\sum_i w_i Z_i}{\\sqrt{\\sum_i w_i^2}}, \\qquad p = 1 - \\Phi(Z).

    Fisher's method (Fisher 1932):

    .. math::

        X^2 = -2 \\sum_i \\ln p^{(1)}_i \\sim \\chi^2_{2k}, \\qquad p = P(\\chi^2_{2k} \\ge X^2).

    Both are ``scipy.stats.combine_pvalues`` on the one-sided p values. For Stouffer, a study
    favouring the control enters as :math:`p_i / 2` with weight :math:`-w_i`, which gives the
    same :math:`w_i Z_i` but keeps all digits of very small p values (:math:`1 - p_i/2` rounds
    to 1 for :math:`p_i < 10^{-16}`).

    Approximations, listed in the result:

    - "p < x" is entered as p = x (`bounded`). The study's true :math:`|Z_i|` is larger, so its
      evidence is understated. For a study favouring the treatment this makes the combined p
      value conservative (too large); for one favouring the control, whose evidence *against*
      the treatment is understated, it makes it anti-conservative (too small).
    - "p > x" (not significant) is entered as p = 1, i.e. :math:`Z_i = 0` (`zeroed`): the true
      :math:`Z_i` lies between 0 and :math:`d_i \\Phi^{-1}(1 - x/2)`, and 0 is the value that
      claims nothing. The same directional caveat applies.
    - Direction 0 is entered as :math:`Z_i = 0` (:math:`p^{(1)}_i = 0.5`) whatever its p value
      (`zeroed`): a p value without a direction cannot be oriented. The study still counts in
      k (and, for Stouffer, in the denominator), which pulls the combined Z towards 0.

    `pval_bias` sums these up. Fisher's method is asymmetric: a few studies strongly favouring
    the treatment give a small p even when others favour the control, so it tests "an effect in
    at least one study", while Stouffer's Z weighs evidence in both directions against each
    other. Neither estimates the size of the effect, and both assume independent studies.

    References
    ----------
    Stouffer SA, Suchman EA, DeVinney LC, Star SA, Williams RM. The American Soldier, vol. 1:
    Adjustment during Army Life. Princeton University Press; 1949.

    Fisher RA. Statistical Methods for Research Workers, 4th ed. Oliver and Boyd; 1932.

    Zaykin DV. Optimally weighted Z-test is a powerful method for combining probabilities in
    meta-analysis. J Evol Biol 2011;24(8):1836-1841. doi:10.1111/j.1420-9101.2011.02297.x

    McKenzie JE, Brennan SE. Chapter 12 of the Cochrane Handbook for Systematic Reviews of
    Interventions, version 6 (see the module docstring).

    Examples
    --------
    >>> c = combine_pvalues([0.05, 0.05], [1, -1])
    >>> c.study_z.round(6).tolist(), round(c.z, 12)
    ([1.959964, -1.959964], 0.0)
    """
    if method not in COMBINE_METHODS:
        raise ValueError(f"method must be one of {COMBINE_METHODS}, got {method!r}")
    d = _directions(direction)
    k = int(d.size)
    pvalues = _vector("p", p)
    _same_length(k, p=pvalues)
    ops = _operators(operators, k)
    _check_p(pvalues, ops)
    weights = _weights(n, k, method)

    # A "p < x" without a direction is entered as Z = 0, so it is zeroed, not bounded.
    bounded = np.flatnonzero((ops == "<") & (d != 0))
    zeroed = np.flatnonzero((ops == ">") | (d == 0))
    is_zero = np.zeros(k, dtype=bool)
    is_zero[zeroed] = True
    # p/2 is the one-sided p in the direction the study points to; a Z of 0 is p/2 = 0.5.
    half_p = np.where(is_zero, 0.5, pvalues / 2)
    sign = np.where(is_zero, 0, d)
    study_z = sign * stats.norm.isf(half_p)
    study_p_one_sided = np.where(sign == -1, 1 - half_p, half_p)

    if method == "stouffer":
        signed_weights = np.where(sign == -1, -weights, weights)
        combined = stats.combine_pvalues(half_p, method="stouffer", weights=signed_weights)
        z, chi2, df = float(combined.statistic), float("nan"), float("nan")
    else:
        combined = stats.combine_pvalues(study_p_one_sided, method="fisher")
        z, chi2, df = float("nan"), float(combined.statistic), float(2 * k)
    bias, note = _pval_bias(d, pvalues, ops, bounded, zeroed)
    return CombinedPResult(
        method=method,
        z=z,
        chi2=chi2,
        df=df,
        statistic=float(combined.statistic),
        pval=float(combined.pvalue),
        k=k,
        study_weights=weights,
        study_z=study_z,
        study_p_one_sided=study_p_one_sided,
        bounded=bounded,
        zeroed=zeroed,
        pval_bias=bias,
        note=note,
    )
