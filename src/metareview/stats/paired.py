"""Paired (within-person, split-face) designs: both "arms" are the same n patients.

In a split-face trial each patient has one side of the face treated and the other side as
control, so the two sides' outcomes are correlated (within-person correlation r). Ignoring r
treats the sides as independent groups and misstates the variance (Cochrane Handbook ch. 23.2,
which recommends using the paired analysis or imputing r).

- `paired_md`: MD = m1 − m2 with Var = (sd1² + sd2² − 2 r sd1 sd2)/n, the variance of a mean of
  within-person differences (Cochrane Handbook ch. 23.2; metafor's escalc measure "MC").
- `paired_smd`: Hedges' g = J(n − 1) (m1 − m2)/s_av with s_av = √((sd1² + sd2²)/2), the average
  of the two sides' SDs taken on the variance scale (Cumming 2012, "d_av"), and
  Var = 2(1 − r)/n + g²/(2n), the variance of the standardised mean change in the raw-score
  metric (Becker 1988; Morris & DeShon 2002). Standardising by the sides' SD, not by the SD of the
  differences, keeps a split-face g on the same scale as a parallel-group g (Morris & DeShon
  2002; Cochrane Handbook ch. 23.2). With two groups of equal size, s_av is exactly the
  pooled SD of a parallel design. These formulas are metafor's escalc measure "SMCR" applied
  with s_av as the standardiser (sd1i = s_av), which the tests check.
- `paired_from_reported`: MD and SE from a reported paired difference with its CI, t statistic
  or p value, using t with df = n − 1 (Cochrane Handbook ch. 6.5.2.3 and 23.2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metareview.stats.checks import reject_studies, study_arrays
from metareview.stats.conversions import se_from_ci, se_from_p, se_from_t
from metareview.stats.escalc import hedges_correction
from metareview.stats.results import ResultMixin, result_class


def _arrays(**named) -> dict[str, np.ndarray]:
    """The inputs, finite and one per study; a single value (an assumed r) stands for all."""
    arrays = study_arrays(named, "one value of each (or one for all studies)", finite=True,
                          broadcast=True)
    return dict(zip(named, arrays))


def _validate(a: dict[str, np.ndarray], minimum_n: int) -> None:
    reject_studies(a["sd1"] <= 0, "sd1 must be > 0")
    reject_studies(a["sd2"] <= 0, "sd2 must be > 0")
    reject_studies(a["n"] < minimum_n, f"n must be >= {minimum_n}")
    reject_studies(np.abs(a["r"]) > 1, "the within-person correlation r must lie in [-1, 1]")


def paired_md(m1, sd1, m2, sd2, n, r) -> pd.DataFrame:
    """Paired mean difference and its variance (Cochrane Handbook ch. 23.2; escalc "MC").

    yi = m1 − m2; vi = (sd1² + sd2² − 2 r sd1 sd2) / n, where side 1 is the treated side,
    n the number of patients and r the within-person correlation of the two sides.
    Returns a DataFrame with yi, vi (one row per study, input order).
    """
    a = _arrays(m1=m1, sd1=sd1, m2=m2, sd2=sd2, n=n, r=r)
    _validate(a, minimum_n=2)
    vi = (a["sd1"] ** 2 + a["sd2"] ** 2 - 2 * a["r"] * a["sd1"] * a["sd2"]) / a["n"]
    reject_studies(
        vi <= 0,
        "the SD of the differences is 0 (r = 1 with equal SDs); the variance is not positive",
    )
    return pd.DataFrame({"yi": a["m1"] - a["m2"], "vi": vi})


def paired_smd(m1, sd1, m2, sd2, n, r) -> pd.DataFrame:
    """Paired standardised mean difference (split-face Hedges' g) and its variance.

    g = J(n − 1) (m1 − m2) / s_av with s_av = √((sd1² + sd2²)/2) and the exact correction
    J(m) = Γ(m/2)/(√(m/2) Γ((m − 1)/2)); vi = 2(1 − r)/n + g²/(2n)
    (Morris & DeShon 2002; Cumming 2012 for s_av; metafor escalc "SMCR" with sd1i = s_av).
    Returns a DataFrame with yi, vi and the standardiser sd_av.
    """
    a = _arrays(m1=m1, sd1=sd1, m2=m2, sd2=sd2, n=n, r=r)
    _validate(a, minimum_n=3)  # J(n − 1) needs n − 1 > 1
    n_ = a["n"]
    sd_av = np.sqrt((a["sd1"] ** 2 + a["sd2"] ** 2) / 2)
    g = hedges_correction(n_ - 1) * (a["m1"] - a["m2"]) / sd_av
    vi = 2 * (1 - a["r"]) / n_ + g**2 / (2 * n_)
    return pd.DataFrame({"yi": g, "vi": vi, "sd_av": sd_av})


@result_class
class PairedDifference(ResultMixin):
    """A paired mean difference with its SE, recovered from what a study reported.

    Attributes
    ----------
    estimate : float
        The paired mean difference.
    se : float
        Its standard error.
    vi : float
        se², the sampling variance.
    df : float
        n − 1, the degrees of freedom of a paired t test (used by the CI and p conversions).
    source : str
        The reported quantity used: "se", "ci", "t" or "p".
    p_is_bound : bool
        True when a "p < x" was used as p = x (the SE is then conservative).
    """

    estimate: float
    se: float
    vi: float
    df: float
    source: str
    p_is_bound: bool = False


def paired_from_reported(
    estimate: float,
    n: int,
    *,
    se: float | None = None,
    ci: tuple[float, float] | None = None,
    level: float = 0.95,
    t: float | None = None,
    p: float | None = None,
    p_operator: str = "=",
) -> PairedDifference:
    """MD and SE of a paired difference from its reported SE, CI, t statistic or p value.

    Uses the first available of se, ci, t, p. The CI and p conversions use the t distribution
    with df = n − 1, the degrees of freedom of a paired t test (Cochrane Handbook ch. 6.5.2.3,
    23.2): SE = (upper − lower)/(2 t_{df}); SE = |MD/t|; SE = |MD|/t_{df}(1 − p/2).
    """
    if not np.isfinite(estimate):
        raise ValueError(f"estimate must be a finite number, got {estimate!r}")
    if n < 2:
        raise ValueError(f"n must be >= 2 for a paired difference, got {n}")
    df = float(n - 1)
    bound = False
    if se is not None:
        if not se > 0:
            raise ValueError(f"se must be > 0, got {se!r}")
        value, source = float(se), "se"
    elif ci is not None:
        lower, upper = ci
        if not lower <= estimate <= upper:
            raise ValueError(f"the estimate {estimate} lies outside its CI ({lower}, {upper})")
        value, source = float(se_from_ci(lower, upper, level=level, df=df)), "ci"
    elif t is not None:
        value, source = float(se_from_t(estimate, t)), "t"
    elif p is not None:
        converted = se_from_p(estimate, p, df=df, operator=p_operator)
        value, source, bound = float(converted.se), "p", converted.p_is_bound
    else:
        raise ValueError("give one of se, ci, t or p with the paired difference")
    return PairedDifference(
        estimate=float(estimate), se=value, vi=value**2, df=df, source=source, p_is_bound=bound
    )


def smd_from_paired_md(md, se, n, r) -> pd.DataFrame:
    """Split-face SMD from a paired mean difference and its SE, when scales differ by study.

    The SD of the within-person differences is SD_diff = SE·√n, so d_z = MD/SD_diff (Morris &
    DeShon 2002, eq. 8). Assuming the two sides have equal SDs, SD_diff = s·√(2(1 − r)), so the
    standardiser of a parallel-group scale is s_av = SD_diff/√(2(1 − r)) and
    d_av = d_z·√(2(1 − r)) (Morris & DeShon 2002, eq. 11-12, doi 10.1037/1082-989X.7.1.105).
    The result is `paired_smd` with both sides' SDs set to s_av: g = J(n − 1)·MD/s_av and
    vi = 2(1 − r)/n + g²/(2n), so effects from per-side data and from reported differences
    sit on one scale.

    Returns a DataFrame with yi, vi, d_z and sd_av.
    """
    a = _arrays(md=md, se=se, n=n, r=r)
    reject_studies(a["se"] <= 0, "se must be > 0")
    reject_studies(a["n"] < 3, "n must be >= 3")
    reject_studies(np.abs(a["r"]) >= 1, "the within-person correlation r must lie in (-1, 1)")
    sd_diff = a["se"] * np.sqrt(a["n"])
    sd_av = sd_diff / np.sqrt(2 * (1 - a["r"]))
    out = paired_smd(a["md"], sd_av, 0.0, sd_av, a["n"], a["r"])
    out["d_z"] = a["md"] / sd_diff
    return out


def paired_binary(p1, p2, n, r, measure: str = "OR") -> pd.DataFrame:
    """Log OR or log RR of a split-face binary outcome from its two marginal proportions.

    Each of n patients contributes both sides: p1 and p2 are the proportions of treated and
    control sides with the event, q = 1 − p, and r is the within-person correlation of the two
    sides' event indicators, whose covariance is therefore r·√(p1 q1 p2 q2)/n for the two
    proportions. The delta method then gives

    - OR (Becker & Balagtas 1993, doi 10.1002/sim.4780120305): log[p1/q1] − log[p2/q2],
      Var = (1/n)·[1/(p1 q1) + 1/(p2 q2) − 2 r / √(p1 q1 p2 q2)];
    - RR: log p1 − log p2, Var = (1/n)·[q1/p1 + q2/p2 − 2 r √(q1 q2/(p1 p2))].

    With r = 0 both reduce to the unpaired variances with n per group. Elbourne et al. 2002
    (doi 10.1093/ije/31.1.140) and Cochrane Handbook 23.2.7.3 describe this marginal approach
    for split-body trials that report no discordant pairs; r is then an assumption (the
    parameter `paired_r`, varied in sensitivity analyses).

    Returns a DataFrame with yi, vi.
    """
    a = _arrays(p1=p1, p2=p2, n=n, r=r)
    if measure not in ("OR", "RR"):
        raise ValueError(f"measure must be 'OR' or 'RR' for paired binary data, not {measure!r}")
    for name in ("p1", "p2"):
        reject_studies((a[name] <= 0) | (a[name] >= 1),
                       f"{name} must lie strictly between 0 and 1 (no zero or full cells)")
    reject_studies(a["n"] < 2, "n must be >= 2")
    reject_studies(np.abs(a["r"]) > 1, "the within-person correlation r must lie in [-1, 1]")
    p1_, p2_ = a["p1"], a["p2"]
    q1, q2 = 1 - p1_, 1 - p2_
    if measure == "OR":
        yi = np.log(p1_ / q1) - np.log(p2_ / q2)
        vi = (1 / (p1_ * q1) + 1 / (p2_ * q2) - 2 * a["r"] / np.sqrt(p1_ * q1 * p2_ * q2))
    else:
        yi = np.log(p1_) - np.log(p2_)
        vi = q1 / p1_ + q2 / p2_ - 2 * a["r"] * np.sqrt(q1 * q2 / (p1_ * p2_))
    vi = vi / a["n"]
    reject_studies(vi <= 0, "the variance is not positive (r too close to 1)")
    return pd.DataFrame({"yi": yi, "vi": vi})
