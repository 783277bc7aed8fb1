"""Between-study variance (tau²): estimators, Q statistic, Q-profile interval, I² and H².

Everything works for a general model matrix X (k studies × p columns, intercept included), so
that pooling (X = a column of ones) and meta-regression share one implementation. The formulas
follow metafor 3.8-1 `rma.uni` (Viechtbauer 2010, J Stat Softw 36(3)) step by step, including
its starting values, its truncation of negative estimates at zero and its convergence rules, so
that results agree with metafor to numerical precision.

Notation: W = diag(w) with w_i = 1/(v_i + tau²); P = W − W X (XᵀWX)⁻¹ XᵀW is the residual
projector of weighted least squares; y is centred (y − ȳ) before estimation as metafor does
(which changes nothing when X has an intercept but keeps the arithmetic identical).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from metareview.stats.vocabulary import check_method

# Convergence of the iterative estimators: absolute change in tau² between iterations.
# metafor's default is 1e-5; the fixtures are made with 1e-12, and this is tighter still.
FISHER_THRESHOLD = 1e-14
FISHER_MAXITER = 10_000
# Root finding (Paule-Mandel, Q-profile) to machine precision.
ROOT_XTOL = 1e-15


def residual_projector(vi: np.ndarray, X: np.ndarray, tau2: float = 0.0) -> np.ndarray:
    """P = W − W X (XᵀWX)⁻¹ XᵀW with W = diag(1/(v_i + tau²))."""
    w = 1.0 / (vi + tau2)
    WX = X * w[:, None]
    inner = np.linalg.inv(X.T @ WX)
    return np.diag(w) - WX @ inner @ WX.T


def generalised_q(tau2: float, yi: np.ndarray, vi: np.ndarray, X: np.ndarray) -> float:
    """Q(tau²) = yᵀ P(tau²) y, the weighted residual sum of squares at a given tau².

    At tau² = 0 this is Cochran's Q (the QE test of residual heterogeneity). It decreases in
    tau², which is what the Paule-Mandel estimator and the Q-profile interval invert.
    """
    P = residual_projector(vi, X, tau2)
    return float(yi @ P @ yi)


def cochran_q(yi: np.ndarray, vi: np.ndarray, X: np.ndarray) -> tuple[float, int, float]:
    """Cochran's Q (QE for a meta-regression), its degrees of freedom k − p and p value.

    Q = Σ w_i (y_i − x_iᵀβ̂_FE)², w_i = 1/v_i, referred to chi² with k − p df
    (Cochran 1954; Hedges & Olkin 1985). Returns (nan, 0, nan) when k ≤ p.
    """
    k, p = X.shape
    if k <= p:
        return math.nan, 0, math.nan
    q = max(0.0, generalised_q(0.0, yi - yi.mean(), vi, X))
    return q, k - p, float(stats.chi2.sf(q, k - p))


def typical_within_variance(vi: np.ndarray, X: np.ndarray) -> float:
    """The "typical" within-study variance s² = (k − p) / tr(P_FE) used for I² and H².

    For an intercept-only model this is Higgins & Thompson's (2002) s² =
    (k − 1) Σw / ((Σw)² − Σw²) with w = 1/v; metafor uses the same (k − p)/tr(P) form for
    meta-regression.
    """
    k, p = X.shape
    return (k - p) / float(np.trace(residual_projector(vi, X, 0.0)))


def i2_h2(tau2: float, typical_variance: float) -> tuple[float, float]:
    """Model-based I² = 100 tau²/(s² + tau²) (%) and H² = tau²/s² + 1 (Higgins & Thompson 2002)."""
    return 100.0 * tau2 / (typical_variance + tau2), tau2 / typical_variance + 1.0


def i2_h2_from_q(q: float, df: int) -> tuple[float, float]:
    """Fixed-effect I² = max(0, 100 (Q − df)/Q) and H² = Q/df (Higgins & Thompson 2002)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        i2 = 100.0 * (q - df) / q if q != 0 else -math.inf
    return max(0.0, i2), q / df


# --------------------------------------------------------------------------------------------
# tau² estimators. Each takes centred y, v, X and returns (tau², its standard error).
# --------------------------------------------------------------------------------------------


def _ols_projector(X: np.ndarray) -> np.ndarray:
    k = X.shape[0]
    return np.eye(k) - X @ np.linalg.inv(X.T @ X) @ X.T


def _hedges_raw(ymc: np.ndarray, vi: np.ndarray, X: np.ndarray) -> float:
    """Untruncated Hedges (1983) estimator (RSS_OLS − tr(P_OLS V)) / (k − p)."""
    k, p = X.shape
    P = _ols_projector(X)
    return (float(ymc @ P @ ymc) - float(np.sum(np.diag(P) * vi))) / (k - p)


def tau2_hedges(ymc: np.ndarray, vi: np.ndarray, X: np.ndarray) -> tuple[float, float]:
    """Hedges (1983) method-of-moments estimator from ordinary least squares residuals.

    tau² = max(0, (yᵀP₀y − tr(P₀V)) / (k − p)), P₀ = I − X(XᵀX)⁻¹Xᵀ, V = diag(v).
    """
    k, p = X.shape
    tau2 = max(0.0, _hedges_raw(ymc, vi, X))
    PV = _ols_projector(X) * vi[None, :]
    tr_pv = float(np.trace(PV))
    se = math.sqrt(
        (2.0 * float(np.sum(PV * PV.T)) + 4.0 * tau2 * tr_pv + 2.0 * tau2**2 * (k - p))
        / (k - p) ** 2
    )
    return tau2, se


def tau2_dersimonian_laird(ymc: np.ndarray, vi: np.ndarray, X: np.ndarray) -> tuple[float, float]:
    """DerSimonian & Laird (1986) method of moments: tau² = max(0, (Q − (k − p)) / tr(P_FE))."""
    k, p = X.shape
    P = residual_projector(vi, X, 0.0)
    tr_p = float(np.trace(P))
    tau2 = max(0.0, (float(ymc @ P @ ymc) - (k - p)) / tr_p)
    se = math.sqrt(
        (2.0 * (k - p) + 4.0 * tau2 * tr_p + 2.0 * tau2**2 * float(np.sum(P * P))) / tr_p**2
    )
    return tau2, se


def tau2_hunter_schmidt(ymc: np.ndarray, vi: np.ndarray, X: np.ndarray) -> tuple[float, float]:
    """Hunter & Schmidt (2004) estimator as metafor defines it: tau² = max(0, (Q − k) / Σw).

    w = 1/v. Note the k (not k − p) in the numerator (Viechtbauer et al. 2015).
    """
    k, p = X.shape
    w = 1.0 / vi
    P = residual_projector(vi, X, 0.0)
    tau2 = max(0.0, (float(ymc @ P @ ymc) - k) / float(np.sum(w)))
    se = math.sqrt(
        (2.0 * (k - p) + 4.0 * tau2 * float(np.trace(P)) + 2.0 * tau2**2 * float(np.sum(P * P)))
        / float(np.sum(w)) ** 2
    )
    return tau2, se


def tau2_sidik_jonkman(ymc: np.ndarray, vi: np.ndarray, X: np.ndarray) -> tuple[float, float]:
    """Sidik & Jonkman (2005) estimator, one step from the initial value tau²₀ = Σ(y − ȳ)²/k.

    tau² = tau²₀ · yᵀP(tau²₀)y / (k − p). Always positive unless all y_i are equal.
    """
    k, p = X.shape
    tau2_start = float(np.mean(ymc**2))
    P = residual_projector(vi, X, tau2_start)
    tau2 = max(0.0, tau2_start * float(ymc @ P @ ymc) / (k - p))
    PV = P * vi[None, :]
    se = math.sqrt(
        tau2_start**2
        / (k - p) ** 2
        * (
            2.0 * float(np.sum(PV * PV.T))
            + 4.0 * tau2 * float(np.sum(PV * P))
            + 2.0 * tau2**2 * float(np.sum(P * P))
        )
    )
    return tau2, se


def _max_tau2_search(yi: np.ndarray) -> float:
    """metafor's default upper end of a tau² search: max(100, 10 · MAD(y)²)."""
    mad = 1.4826 * float(np.median(np.abs(yi - np.median(yi))))
    return max(100.0, 10.0 * mad**2)


def _root_of_decreasing(func, lower: float, upper: float) -> float:
    """Root of a decreasing function on [lower, upper], widening `upper` if it is too small."""
    while func(upper) > 0:
        upper *= 10.0
    return optimize.brentq(func, lower, upper, xtol=ROOT_XTOL, rtol=4 * np.finfo(float).eps,
                           maxiter=10_000)


def _moment_se(k: int, p: int, vi: np.ndarray, tau2: float) -> float:
    """Approximate SE used by metafor for PM and EB: sqrt(2k² / ((k − p) (Σw)²))."""
    w = 1.0 / (vi + tau2)
    return math.sqrt(2.0 * k**2 / (k - p) / float(np.sum(w)) ** 2)


def tau2_paule_mandel(ymc: np.ndarray, vi: np.ndarray, X: np.ndarray) -> tuple[float, float]:
    """Paule & Mandel (1982): the tau² at which the generalised Q equals its expectation k − p.

    Solved by Brent's method; 0 when Q(0) is already below k − p.
    """
    k, p = X.shape
    target = k - p
    if generalised_q(0.0, ymc, vi, X) < target:
        tau2 = 0.0
    else:
        tau2 = _root_of_decreasing(
            lambda t: generalised_q(t, ymc, vi, X) - target, 0.0, _max_tau2_search(ymc)
        )
    return tau2, _moment_se(k, p, vi, tau2)


def _reml_loglik(ymc: np.ndarray, vi: np.ndarray, X: np.ndarray, tau2: float, reml: bool) -> float:
    """(Restricted) log-likelihood up to constants shared by all tau² (for metafor's ll0 check)."""
    k, p = X.shape
    w = 1.0 / (vi + tau2)
    XtWX = X.T @ (X * w[:, None])
    beta = np.linalg.solve(XtWX, X.T @ (w * ymc))
    rss = float(np.sum(w * (ymc - X @ beta) ** 2))
    if reml:
        return (-0.5 * (k - p) * math.log(2 * math.pi) - 0.5 * float(np.sum(np.log(vi + tau2)))
                - 0.5 * float(np.linalg.slogdet(XtWX)[1]) - 0.5 * rss)
    return -0.5 * k * math.log(2 * math.pi) - 0.5 * float(np.sum(np.log(vi + tau2))) - 0.5 * rss


def _scoring_step(method: str, ymc: np.ndarray, vi: np.ndarray, X: np.ndarray,
                  tau2: float) -> tuple[float, np.ndarray]:
    """One Fisher-scoring (ML, REML) or Morris (EB) update of tau²; also returns P."""
    k, p = X.shape
    w = 1.0 / (vi + tau2)
    P = residual_projector(vi, X, tau2)
    Py = P @ ymc
    if method == "ML":
        step = (float(Py @ Py) - float(np.sum(w))) / float(np.sum(w**2))
    elif method == "REML":
        step = (float(Py @ Py) - float(np.trace(P))) / float(np.sum(P * P))
    else:  # EB
        step = (float(ymc @ Py) * k / (k - p) - k) / float(np.sum(w))
    return step, P


def tau2_iterative(method: str, ymc: np.ndarray, vi: np.ndarray,
                   X: np.ndarray) -> tuple[float, float]:
    """ML and REML (Viechtbauer 2005, Fisher scoring) and empirical Bayes (Morris 1983).

    Starts at the truncated Hedges estimate, as metafor does; a step that would make tau²
    negative is halved until it does not. Where metafor would stop because the iterations do
    not converge (this happens for EB on some data), the estimate is found by a bracketing
    search instead (EB shares the Paule-Mandel estimating equation; ML/REML maximise the
    likelihood directly). Updates (per method, with P = P(tau²), w = 1/(v+tau²)):

    - ML:   Δ = (yᵀPPy − Σw) / Σw²
    - REML: Δ = (yᵀPPy − tr P) / tr(PP)
    - EB:   Δ = (yᵀPy · k/(k − p) − k) / Σw

    After ML/REML convergence, if the (restricted) likelihood at tau² = 0 is higher than at the
    solution, tau² is set to 0 (metafor's guard against a local maximum).
    """
    k, p = X.shape
    tau2 = max(0.0, _hedges_raw(ymc, vi, X))
    converged = False
    for _ in range(FISHER_MAXITER):
        step, _ = _scoring_step(method, ymc, vi, X, tau2)
        if not math.isfinite(step):
            step = 0.0
        while tau2 + step < 0.0:
            step /= 2.0
        previous, tau2 = tau2, tau2 + step
        if abs(tau2 - previous) <= FISHER_THRESHOLD * max(1.0, tau2):
            converged = True
            break
    if not converged:
        # metafor stops with an error here. The EB estimating equation is the Paule-Mandel
        # one (yᵀPy = k − p), so its root is found by bracketing instead; ML/REML fall back to
        # a bounded maximisation of the (restricted) likelihood.
        tau2 = _solve_without_scoring(method, ymc, vi, X)
    if method in ("ML", "REML") and tau2 > 0:
        reml = method == "REML"
        if _reml_loglik(ymc, vi, X, 0.0, reml) > _reml_loglik(ymc, vi, X, tau2, reml) + 1e-12:
            tau2 = 0.0
    tau2 = max(0.0, tau2)
    if method == "ML":
        se = math.sqrt(2.0 / float(np.sum((1.0 / (vi + tau2)) ** 2)))
    elif method == "REML":
        P = residual_projector(vi, X, tau2)
        se = math.sqrt(2.0 / float(np.sum(P * P)))
    else:
        se = _moment_se(k, p, vi, tau2)
    return tau2, se


def _solve_without_scoring(method: str, ymc: np.ndarray, vi: np.ndarray, X: np.ndarray) -> float:
    """Fallback when the scoring iterations oscillate: the same estimate by a robust 1-D search."""
    if method == "EB":
        return tau2_paule_mandel(ymc, vi, X)[0]
    reml = method == "REML"
    upper = _max_tau2_search(ymc)
    found = optimize.minimize_scalar(lambda t: -_reml_loglik(ymc, vi, X, t, reml),
                                     bounds=(0.0, upper), method="bounded",
                                     options={"xatol": 1e-12, "maxiter": 10_000})
    return float(found.x)


def estimate_tau2(yi: np.ndarray, vi: np.ndarray, X: np.ndarray,
                  method: str = "REML") -> tuple[float, float]:
    """tau² and its standard error by `method` (one of vocabulary.TAU2_METHODS) for the model y = Xβ + u + e.

    Sources: DerSimonian & Laird 1986 (DL); Viechtbauer 2005 (REML, ML); Paule & Mandel 1982
    (PM); Hedges 1983 (HE); Sidik & Jonkman 2005 (SJ); Hunter & Schmidt 2004 (HS); Morris 1983
    (EB). "FE" returns (0, nan). Requires k > p for every method but FE.
    """
    method = check_method(method)
    if method == "FE":
        return 0.0, math.nan
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    X = np.asarray(X, dtype=float)
    ymc = yi - yi.mean()
    if method == "DL":
        return tau2_dersimonian_laird(ymc, vi, X)
    if method == "HE":
        return tau2_hedges(ymc, vi, X)
    if method == "HS":
        return tau2_hunter_schmidt(ymc, vi, X)
    if method == "SJ":
        return tau2_sidik_jonkman(ymc, vi, X)
    if method == "PM":
        return tau2_paule_mandel(ymc, vi, X)
    return tau2_iterative(method, ymc, vi, X)


def q_profile_ci(yi: np.ndarray, vi: np.ndarray, X: np.ndarray, tau2: float,
                 level: float = 0.95) -> tuple[float, float]:
    """Q-profile confidence interval for tau² (Viechtbauer 2007), as metafor's confint.rma.uni.

    The bounds solve Q(tau²) = chi²_{k−p; 1−α/2} (lower bound) and Q(tau²) = chi²_{k−p; α/2}
    (upper bound), searched on [0, max(100, 10 tau²)]. A bound that cannot be reached is set to
    the end of the search range (0 below; the upper end above), as metafor reports it.
    """
    k, p = X.shape
    alpha = 1.0 - level
    crit_upper = float(stats.chi2.isf(alpha / 2, k - p))
    crit_lower = float(stats.chi2.ppf(alpha / 2, k - p))
    lo, hi = min(0.0, tau2), max(100.0, 10.0 * tau2)

    def q_at(t: float) -> float:
        return generalised_q(t, yi, vi, X)

    def root(objective: float) -> float:
        return optimize.brentq(lambda t: q_at(t) - objective, lo, hi, xtol=ROOT_XTOL,
                               rtol=4 * np.finfo(float).eps, maxiter=10_000)

    q_lo, q_hi = q_at(lo), q_at(hi)
    if q_lo < crit_lower:
        lower = upper = lo
    else:
        upper = hi if q_hi > crit_lower else root(crit_lower)
    if q_hi > crit_upper:
        lower = upper = hi
    else:
        lower = lo if q_lo < crit_upper else root(crit_upper)
    return lower, upper
