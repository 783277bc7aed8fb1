"""Study-level effect sizes and their sampling variances, as metafor's `escalc` computes them.

`effect_sizes(measure, **data)` returns a DataFrame with one row per study (input order kept)
and the columns `yi` (effect size) and `vi` (sampling variance). Measures and formulas
(metafor 3.8-1 `escalc` with its defaults: vtype = "LS", add = 1/2, to = "only0",
drop00 = FALSE; Viechtbauer 2010, J Stat Softw 36(3)):

- "MD": m1 − m2, vi = sd1²/n1 + sd2²/n2 (Cochrane Handbook ch. 6.5.1.1).
- "SMD": Hedges' g = J(m) (m1 − m2)/s_pooled with s_pooled² = ((n1−1)sd1² + (n2−1)sd2²)/m,
  m = n1 + n2 − 2, and the exact small-sample correction J(m) = Γ(m/2) / (√(m/2) Γ((m−1)/2))
  (Hedges 1981); vi = 1/n1 + 1/n2 + g²/(2(n1 + n2)), metafor's large-sample variance.
- "RR", "OR" (log scale), "RD" from a 2×2 table (ai, bi events/non-events in group 1; ci, di
  in group 2; n1i/n2i may replace bi/di): log RR = log(a/n1) − log(c/n2),
  vi = 1/a − 1/n1 + 1/c − 1/n2; log OR = log(ad/bc), vi = 1/a + 1/b + 1/c + 1/d;
  RD = a/n1 − c/n2, vi = p1(1−p1)/n1 + p2(1−p2)/n2 (Cochrane Handbook ch. 6.4).
  A study with a zero in any of its four cells gets 0.5 added to all four cells; this applies
  to RD too, as escalc does by default. Studies with zero events (or only events) in both
  groups are kept.
- "PR": x/n, vi = p(1−p)/n; "PLO": logit(x/n), vi = 1/x + 1/(n−x); both add 0.5 to x and to
  n − x of a study with x = 0 or x = n, as escalc does.
- "PFT": Freeman-Tukey double arcsine ½[asin√(x/(n+1)) + asin√((x+1)/(n+1))],
  vi = 1/(4n + 2) (Freeman & Tukey 1950; Miller 1978); no continuity correction.

Back-transformations of pooled values (`back_transform`): exp for log measures, expit for
PLO, and for PFT Miller's (1978) inverse with the harmonic mean of the study sizes (metafor's
`transf.ipft.hm`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import expit, gammaln

from metareview.stats.checks import reject_studies, study_arrays
from metareview.stats.vocabulary import MEASURES

CONTINUITY_CORRECTION = 0.5

_CONTINUOUS_ARGS = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")


def hedges_correction(m: np.ndarray | float) -> np.ndarray:
    """Exact small-sample correction J(m) = Γ(m/2) / (√(m/2) Γ((m−1)/2)) (Hedges 1981).

    Computed on the log scale with log-gamma so that it stays finite for large m; J → 1 as
    m → ∞ and J(m) ≈ 1 − 3/(4m − 1). Requires m > 1.
    """
    m = np.asarray(m, dtype=float)
    return np.exp(gammaln(m / 2) - 0.5 * np.log(m / 2) - gammaln((m - 1) / 2))


def _arrays(data: dict, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The named inputs of one measure, each given, finite and one value per study."""
    absent = [name for name in names if name not in data or data[name] is None]
    if absent:
        raise ValueError(f"missing argument(s): {', '.join(absent)}")
    arrays = study_arrays({name: data[name] for name in names}, "one value of each",
                          finite=True)
    return dict(zip(names, arrays))


def _unexpected(data: dict, allowed: Sequence[str], measure: str) -> None:
    extra = sorted(set(data) - set(allowed))
    if extra:
        raise ValueError(f"measure {measure!r} does not take argument(s): {', '.join(extra)}")


def _continuous(measure: str, data: dict) -> tuple[np.ndarray, np.ndarray]:
    _unexpected(data, _CONTINUOUS_ARGS, measure)
    a = _arrays(data, _CONTINUOUS_ARGS)
    m1, sd1, n1, m2, sd2, n2 = (a[name] for name in _CONTINUOUS_ARGS)
    reject_studies(sd1 <= 0, "sd1i must be > 0")
    reject_studies(sd2 <= 0, "sd2i must be > 0")
    if measure == "MD":
        reject_studies(n1 < 1, "n1i must be >= 1")
        reject_studies(n2 < 1, "n2i must be >= 1")
        return m1 - m2, sd1**2 / n1 + sd2**2 / n2
    # SMD: the pooled SD and J need at least two participants per group.
    reject_studies(n1 < 2, "n1i must be >= 2 for the SMD")
    reject_studies(n2 < 2, "n2i must be >= 2 for the SMD")
    df = n1 + n2 - 2
    sd_pooled = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / df)
    g = hedges_correction(df) * (m1 - m2) / sd_pooled
    return g, 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))


def two_by_two(data: dict, measure: str = "table") -> tuple[np.ndarray, ...]:
    """Validated cells (ai, bi, ci, di) from ai, ci and either bi, di or n1i, n2i."""
    _unexpected(data, ("ai", "bi", "ci", "di", "n1i", "n2i"), measure)
    given = {name for name in data if data[name] is not None}
    if {"bi", "di"} <= given:
        a = _arrays(data, ("ai", "bi", "ci", "di"))
        ai, bi, ci, di = a["ai"], a["bi"], a["ci"], a["di"]
        for name, other in (("n1i", ai + bi), ("n2i", ci + di)):
            if name in given:
                total = _arrays(data, (name,))[name]
                reject_studies(total != other, f"{name} differs from the cell total")
    elif {"n1i", "n2i"} <= given:
        a = _arrays(data, ("ai", "ci", "n1i", "n2i"))
        ai, ci = a["ai"], a["ci"]
        reject_studies(ai > a["n1i"], "events ai exceed the group size n1i")
        reject_studies(ci > a["n2i"], "events ci exceed the group size n2i")
        bi, di = a["n1i"] - ai, a["n2i"] - ci
    else:
        raise ValueError("give ai, ci and either bi, di (non-events) or n1i, n2i (group sizes)")
    for name, cell in (("ai", ai), ("bi", bi), ("ci", ci), ("di", di)):
        reject_studies(cell < 0, f"count {name} is negative")
    reject_studies(ai + bi <= 0, "group 1 has no participants")
    reject_studies(ci + di <= 0, "group 2 has no participants")
    return ai, bi, ci, di


def add_to_zero_cells(*cells: np.ndarray, add: float = CONTINUITY_CORRECTION):
    """Add `add` to every cell of the studies (rows) that have a zero in any cell.

    This is escalc's default (add = 1/2, to = "only0"); studies without a zero are untouched.
    Returns the corrected cells and a boolean array marking the corrected studies.
    """
    has_zero = np.zeros(cells[0].shape, dtype=bool)
    for cell in cells:
        has_zero |= cell == 0
    return tuple(cell + add * has_zero for cell in cells) + (has_zero,)


def _binary(measure: str, data: dict) -> tuple[np.ndarray, np.ndarray]:
    ai, bi, ci, di, _ = add_to_zero_cells(*two_by_two(data, measure))
    n1, n2 = ai + bi, ci + di
    p1, p2 = ai / n1, ci / n2
    if measure == "RR":
        return np.log(p1) - np.log(p2), 1 / ai - 1 / n1 + 1 / ci - 1 / n2
    if measure == "OR":
        return np.log(ai * di / (bi * ci)), 1 / ai + 1 / bi + 1 / ci + 1 / di
    return p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2


def _proportion(measure: str, data: dict) -> tuple[np.ndarray, np.ndarray]:
    _unexpected(data, ("xi", "ni"), measure)
    a = _arrays(data, ("xi", "ni"))
    xi, ni = a["xi"], a["ni"]
    reject_studies(ni <= 0, "ni must be > 0")
    reject_studies(xi < 0, "count xi is negative")
    reject_studies(xi > ni, "events xi exceed the sample size ni")
    if measure == "PFT":
        yi = 0.5 * (np.arcsin(np.sqrt(xi / (ni + 1))) + np.arcsin(np.sqrt((xi + 1) / (ni + 1))))
        return yi, 1 / (4 * ni + 2)
    events, non_events, _ = add_to_zero_cells(xi, ni - xi)
    total = events + non_events
    p = events / total
    if measure == "PR":
        return p, p * (1 - p) / total
    return np.log(events / non_events), 1 / events + 1 / non_events


def effect_sizes(measure: str, **data) -> pd.DataFrame:
    r"""Effect sizes `yi` and sampling variances `vi`, one row per study in input order.

    The equivalent of metafor's ``escalc(measure, ...)`` with its default options.

    Parameters
    ----------
    measure : str
        "SMD", "MD", "RR", "OR", "RD", "PR", "PLO" or "PFT" (metafor's codes).
    **data : array_like
        One value per study, by measure (metafor's names): "SMD", "MD": ``m1i, sd1i, n1i,
        m2i, sd2i, n2i`` (group 1 minus group 2); "RR", "OR", "RD": ``ai, ci`` and ``bi, di``
        (or ``n1i, n2i``), events and non-events in groups 1 and 2; "PR", "PLO", "PFT":
        ``xi, ni``.

    Returns
    -------
    pandas.DataFrame
        Columns ``yi`` (the effect size; log scale for RR and OR, logit for PLO) and ``vi``
        (its sampling variance).

    Raises
    ------
    ValueError
        Naming the study index, for negative counts, events above the total, SD <= 0, n < 2
        (SMD), missing values or arrays of different lengths.

    Notes
    -----
    For a 2×2 table with a = ai, c = ci, n1 = ai + bi, n2 = ci + di:

    .. math::

        \log RR = \log(a/n_1) - \log(c/n_2), \quad
        v = 1/a - 1/n_1 + 1/c - 1/n_2,

    and log OR = log(ad/bc) with v = 1/a + 1/b + 1/c + 1/d; 0.5 is added to the four cells of
    a table with a zero cell. SMD is Hedges' g = J(m)(m1 − m2)/s_pooled, m = n1 + n2 − 2, with
    the exact correction J(m) = Γ(m/2)/(√(m/2) Γ((m − 1)/2)) and v = 1/n1 + 1/n2 +
    g²/(2(n1 + n2)). The module docstring gives every measure's formula.

    References
    ----------
    Hedges LV (1981). Distribution theory for Glass's estimator of effect size and related
    estimators. J Educ Stat 6(2):107-128. doi:10.3102/10769986006002107

    Freeman MF, Tukey JW (1950). Transformations related to the angular and the square root.
    Ann Math Stat 21(4):607-611. doi:10.1214/aoms/1177729756

    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat
    Softw 36(3):1-48. doi:10.18637/jss.v036.i03

    Colditz GA, Brewer TF, Berkey CS, et al. (1994). Efficacy of BCG vaccine in the prevention
    of tuberculosis: meta-analysis of the published literature. JAMA 271(9):698-702.
    doi:10.1001/jama.1994.03510330076038

    Examples
    --------
    The first three BCG vaccine trials of dat.bcg (Colditz et al. 1994): tuberculosis cases
    and non-cases among vaccinated (ai, bi) and unvaccinated (ci, di) participants.

    >>> es = effect_sizes("RR", ai=[4, 6, 3], bi=[119, 300, 228], ci=[11, 29, 11],
    ...                   di=[128, 274, 209])
    >>> es.round(4)
           yi      vi
    0 -0.8893  0.3256
    1 -1.5854  0.1946
    2 -1.3481  0.4154
    """
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; choose one of {', '.join(MEASURES)}")
    if measure in ("SMD", "MD"):
        yi, vi = _continuous(measure, data)
    elif measure in ("RR", "OR", "RD"):
        yi, vi = _binary(measure, data)
    else:
        yi, vi = _proportion(measure, data)
    return pd.DataFrame({"yi": yi, "vi": vi})


def freeman_tukey(proportion: np.ndarray | float, n: np.ndarray | float) -> np.ndarray:
    """The double arcsine of a proportion p for a sample size n (metafor's `transf.pft`)."""
    events = np.asarray(proportion, dtype=float) * n
    return 0.5 * (np.arcsin(np.sqrt(events / (n + 1))) + np.arcsin(np.sqrt((events + 1) / (n + 1))))


def inverse_freeman_tukey(values: np.ndarray | float, n: np.ndarray | float) -> np.ndarray:
    """Proportion from a double-arcsine value t for sample size n (Miller 1978).

    p = ½ [1 − sgn(cos 2t) √(1 − (sin 2t + (sin 2t − 1/sin 2t)/n)²)], set to 0 below the
    transform of p = 0 and to 1 above that of p = 1 (as metafor's `transf.ipft`).
    """
    t = np.asarray(values, dtype=float)
    n = np.broadcast_to(np.asarray(n, dtype=float), t.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sin(2 * t)
        p = 0.5 * (1 - np.sign(np.cos(2 * t)) * np.sqrt(1 - (s + (s - 1 / s) / n) ** 2))
    p = np.where(t > freeman_tukey(1.0, n), 1.0, p)
    p = np.where(t < freeman_tukey(0.0, n), 0.0, p)
    return p


def harmonic_mean(values: Sequence[float] | np.ndarray) -> float:
    """The harmonic mean 1 / mean(1/n)."""
    (values,) = study_arrays({"ni": values}, "one study size", finite=True)
    return float(1 / np.mean(1 / values))


def back_transform(values, measure: str, ni=None) -> np.ndarray:
    """Put pooled values (estimate, CI or PI bounds) back on the natural scale.

    "RR", "OR": exp; "PLO": expit (inverse logit); "PFT": Miller's inverse with the harmonic
    mean of the study sizes `ni` (metafor's `transf.ipft.hm`); other measures unchanged.
    """
    values = np.asarray(values, dtype=float)
    if measure in ("RR", "OR"):
        return np.exp(values)
    if measure == "PLO":
        return expit(values)
    if measure == "PFT":
        if ni is None:
            raise ValueError("the PFT back-transformation needs the study sizes ni")
        return inverse_freeman_tukey(values, harmonic_mean(ni))
    if measure in MEASURES:
        return values.copy()
    raise ValueError(f"unknown measure {measure!r}; choose one of {', '.join(MEASURES)}")
