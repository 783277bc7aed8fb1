"""Between-study variance (tau²): estimators, Q statistic, Q-profile interval, I² and H².

Everything works for a general model matrix X (k studies × p columns, intercept included), so
that pooling (X = a column of ones) and meta-regression share one implementation. The formulas
follow metafor 3.8-1 `rma.uni` (Viechtbauer 2010, J Stat Softw 36(3)): the same estimating
equations, starting values, truncation of negative estimates at zero and check of the
likelihood at tau² = 0, so that results agree with metafor wherever metafor converges.

One engine serves single and batched fits. `estimate_tau2_batch` takes a stack of model
matrices X[b] (B × k × p) that share y and v (the permutation test refits B re-arrangements of
the moderators at once) and works on all of them together; a single fit is a batch of one
(`estimate_tau2`). Nothing here forms the k × k matrix P for the estimators: every quadratic
form and trace is computed from the p × p matrix (XᵀWX)⁻¹ (see `projection_pieces`).

Notation: W = diag(w) with w_i = 1/(v_i + tau²); P = W − W X (XᵀWX)⁻¹ XᵀW is the residual
projector of weighted least squares; y is centred (y − ȳ) before estimation as metafor does
(which changes nothing when X has an intercept but keeps the arithmetic identical).

Iterative estimators (ML, REML, EB) are solved to machine precision, not to metafor's default
change of 1e-5 in tau²: Fisher scoring with step-halving, finished (rarely) by a bracketing
root finder on the same estimating equation; see `scoring_iterations` and
`solve_score_equation`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from metareview.stats.vocabulary import check_method


# Scoring stops once the full (unhalved) update is below FISHER_THRESHOLD · (tau² + v_h), v_h
# the harmonic mean of the sampling variances: a relative precision of about 1e-14, a few units
# of the rounding noise in the update itself, the same at every scale of the data. (metafor's
# default stops at an absolute change of 1e-5; its fixtures here use 1e-12.)
FISHER_THRESHOLD = 2.0**-46
# Scoring iterations before the bracketing solver takes over (metafor's default maxiter).
FISHER_MAXITER = 100
# Root finding (Paule-Mandel fallback, Q-profile): Brent's method to machine precision.
ROOT_XTOL = 1e-15
ROOT_RTOL = 4 * np.finfo(float).eps
# metafor's check of the likelihood at tau² = 0 (ll0check) with tight control: tau² is set to
# 0 when ll(0) exceeds ll(tau²) by more than this.
LL0_TOLERANCE = 1e-12


# --------------------------------------------------------------------------------------------
# Quadratic forms and traces of P for a batch of model matrices
# --------------------------------------------------------------------------------------------


def projection_pieces(X: np.ndarray, y: np.ndarray, w: np.ndarray,
                      traces: bool = False) -> dict[str, np.ndarray]:
    r"""Weighted least squares of y on each X[b], and the quadratic forms and traces of P.

    Parameters
    ----------
    X : ndarray, shape (B, k, p)
        A batch of model matrices of full column rank.
    y : ndarray, shape (k,)
        Outcomes, shared by the batch.
    w : ndarray, shape (B, k)
        Weights of each fit, 1/(v_i + tau²) for the random-effects model.
    traces : bool
        Also return "leverage", "tr_p" and "tr_pp".

    Returns
    -------
    dict of ndarray
        "w", "A" = (XᵀWX)⁻¹ (B, p, p), "XtWX", "beta" (B, p), "rss" = yᵀPy and "ypp" = yᵀPPy
        (B,), and with `traces` "leverage" (B, k), "tr_p" and "tr_pp" (B,).

    Notes
    -----
    With β̂ = A XᵀWy, r = y − Xβ̂ and the leverages h_i = x_iᵀ A x_i, the residual projector
    P = W − WXAXᵀW never needs to be formed (k × k):

    .. math::

        Py = Wr,\quad y^T P y = \sum w_i r_i^2,\quad y^T P P y = \sum (w_i r_i)^2,

        \operatorname{tr} P = \sum w_i - \sum w_i^2 h_i,\quad
        \operatorname{tr} PP = \sum w_i^2 - 2 \sum w_i^3 h_i + \operatorname{tr}((A X^T W^2 X)^2).

    These are the pieces of every tau² estimator of metafor's rma.uni (Viechtbauer 2010).
    """
    if X.shape[2] == 1:
        return _projection_pieces_one_column(X[:, :, 0], y, w, traces)
    Xt = X.transpose(0, 2, 1)
    Xw = X * w[:, :, None]
    XtWX = Xt @ Xw
    A = np.linalg.inv(XtWX)
    beta = (A @ (Xt @ (w * y[None, :])[:, :, None]))[:, :, 0]
    resid = y[None, :] - (X @ beta[:, :, None])[:, :, 0]
    wr = w * resid
    pieces = {"w": w, "A": A, "XtWX": XtWX, "beta": beta, "rss": (wr * resid).sum(axis=1),
              "ypp": (wr * wr).sum(axis=1)}
    if traces:
        leverage = ((X @ A) * X).sum(axis=2)
        AW2 = A @ (Xt @ (Xw * w[:, :, None]))
        w2 = w * w
        pieces["leverage"] = leverage
        pieces["tr_p"] = w.sum(axis=1) - (w2 * leverage).sum(axis=1)
        pieces["tr_pp"] = (w2.sum(axis=1) - 2.0 * (w2 * w * leverage).sum(axis=1)
                           + (AW2 * AW2.transpose(0, 2, 1)).sum(axis=(1, 2)))
    return pieces


def _projection_pieces_one_column(x: np.ndarray, y: np.ndarray, w: np.ndarray,
                                  traces: bool) -> dict[str, np.ndarray]:
    """`projection_pieces` for p = 1 (x: (B, k)), where (XᵀWX)⁻¹ is the scalar 1/Σ w x².

    The same formulas with scalars in place of p × p matrices: pooling fits a column of ones,
    and this saves the batched matrix inverse and products that dominate a single small fit.
    """
    wx = w * x
    xtwx = (wx * x).sum(axis=1)
    a = 1.0 / xtwx
    beta = a * (wx * y[None, :]).sum(axis=1)
    resid = y[None, :] - x * beta[:, None]
    wr = w * resid
    pieces = {"w": w, "A": a[:, None, None], "XtWX": xtwx[:, None, None],
              "beta": beta[:, None], "rss": (wr * resid).sum(axis=1),
              "ypp": (wr * wr).sum(axis=1)}
    if traces:
        leverage = x * x * a[:, None]
        w2 = w * w
        aw2 = a * (w2 * x * x).sum(axis=1)
        pieces["leverage"] = leverage
        pieces["tr_p"] = w.sum(axis=1) - (w2 * leverage).sum(axis=1)
        pieces["tr_pp"] = w2.sum(axis=1) - 2.0 * (w2 * w * leverage).sum(axis=1) + aw2 * aw2
    return pieces


def trace_pdpd(X: np.ndarray, pieces: dict, d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
    r"""tr(P D₁ P D₂) for diagonal matrices D₁ = diag(d1), D₂ = diag(d2), without forming P.

    Parameters
    ----------
    X : ndarray, shape (B, k, p)
        The model matrices of `pieces`.
    pieces : dict
        Output of `projection_pieces` with ``traces=True``.
    d1, d2 : ndarray, shape (B, k) or (k,)
        Diagonals of D₁ and D₂ (e.g. the sampling variances, or ones).

    Returns
    -------
    ndarray, shape (B,)

    Notes
    -----
    Expanding P = W − G A Gᵀ with G = WX and M_j = Gᵀ D_j G:

    .. math::

        \operatorname{tr}(P D_1 P D_2) = \sum w_i^2 d_{1i} d_{2i}
        - 2 \sum w_i^3 h_i d_{1i} d_{2i} + \operatorname{tr}(A M_2 A M_1).

    The variances of the HE and SJ estimators need tr(PVPV) and tr(PPV) (Hedges 1983; Sidik &
    Jonkman 2005; as metafor computes them).
    """
    w, A, leverage = pieces["w"], pieces["A"], pieces["leverage"]
    G = X * w[:, :, None]
    Gt = G.transpose(0, 2, 1)
    M1 = Gt @ (G * d1[..., None])
    M2 = Gt @ (G * d2[..., None])
    return (np.sum(w**2 * d1 * d2, axis=1) - 2.0 * np.sum(w**3 * leverage * d1 * d2, axis=1)
            + np.sum((A @ M2) * (A @ M1).transpose(0, 2, 1), axis=(1, 2)))


def _weights(v: np.ndarray, tau2: np.ndarray) -> np.ndarray:
    return 1.0 / (v[None, :] + tau2[:, None])


def _as_batch(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    return X[None, :, :] if X.ndim == 2 else X


def residual_projector(vi: np.ndarray, X: np.ndarray, tau2: float = 0.0) -> np.ndarray:
    """P = W − W X (XᵀWX)⁻¹ XᵀW with W = diag(1/(v_i + tau²)) (the k × k matrix itself)."""
    w = 1.0 / (vi + tau2)
    WX = X * w[:, None]
    inner = np.linalg.inv(X.T @ WX)
    return np.diag(w) - WX @ inner @ WX.T


def generalised_q(tau2: float, yi: np.ndarray, vi: np.ndarray, X: np.ndarray) -> float:
    """Q(tau²) = yᵀ P(tau²) y, the weighted residual sum of squares at a given tau².

    At tau² = 0 this is Cochran's Q (the QE test of residual heterogeneity). It decreases in
    tau², which is what the Paule-Mandel estimator and the Q-profile interval invert.
    """
    vi = np.asarray(vi, dtype=float)
    w = 1.0 / (vi + tau2)
    return float(projection_pieces(_as_batch(X), np.asarray(yi, float), w[None, :])["rss"][0])


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
    meta-regression, and rma.glmm the intercept-only s² of the escalc "PLO" variances (the
    logits with 1/2 added to both cells of a study with 0 or n events; `glmm._logits`).
    """
    k, p = X.shape
    # tr(P) = Σw − tr((XᵀWX)⁻¹ XᵀW²X): the trace without the k × k matrix itself, so that a
    # review of thousands of studies costs O(k p²), not O(k²) time and memory
    w = 1.0 / np.asarray(vi, dtype=float)
    inner = np.linalg.inv(X.T @ (X * w[:, None]))
    trace = float(np.sum(w) - np.trace(inner @ (X.T @ (X * (w * w)[:, None]))))
    return (k - p) / trace


def i2_h2(tau2: float, typical_variance: float) -> tuple[float, float]:
    """Model-based I² = 100 tau²/(s² + tau²) (%) and H² = tau²/s² + 1 (Higgins & Thompson 2002)."""
    return 100.0 * tau2 / (typical_variance + tau2), tau2 / typical_variance + 1.0


def i2_h2_from_q(q: float, df: int) -> tuple[float, float]:
    """Fixed-effect I² = max(0, 100 (Q − df)/Q) and H² = Q/df (Higgins & Thompson 2002)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        i2 = 100.0 * (q - df) / q if q != 0 else -math.inf
    return max(0.0, i2), q / df


# --------------------------------------------------------------------------------------------
# Non-iterative estimators (batched): each returns (tau², SE), arrays of length B
# --------------------------------------------------------------------------------------------


def _ols_pieces(X: np.ndarray, y: np.ndarray) -> dict:
    return projection_pieces(X, y, np.ones(X.shape[:2]), traces=True)


def _hedges_untruncated(X: np.ndarray, y: np.ndarray, v: np.ndarray,
                        ols: dict | None = None) -> np.ndarray:
    """Hedges (1983): (yᵀP₀y − tr(P₀V)) / (k − p), P₀ = I − X(XᵀX)⁻¹Xᵀ, before truncation."""
    k, p = X.shape[1:]
    ols = _ols_pieces(X, y) if ols is None else ols
    tr_p0v = np.sum(v) - np.sum(ols["leverage"] * v[None, :], axis=1)
    return (ols["rss"] - tr_p0v) / (k - p)


def _hedges(X, y, v, with_se):
    """tau² = max(0, (yᵀP₀y − tr(P₀V)) / (k − p)); Var from tr(P₀VP₀V) and tr(P₀V)."""
    k, p = X.shape[1:]
    ols = _ols_pieces(X, y)
    tau2 = np.maximum(0.0, _hedges_untruncated(X, y, v, ols))
    if not with_se:
        return tau2, None
    vb = np.broadcast_to(v, ols["w"].shape)
    tr_p0v = np.sum(v) - np.sum(ols["leverage"] * vb, axis=1)
    tr_p0vp0v = trace_pdpd(X, ols, vb, vb)
    se = np.sqrt((2.0 * tr_p0vp0v + 4.0 * tau2 * tr_p0v + 2.0 * tau2**2 * (k - p)) / (k - p)**2)
    return tau2, se


def _dersimonian_laird_or_hunter_schmidt(method, X, y, v, with_se):
    """DL: max(0, (Q − (k − p)) / tr P_FE); HS: max(0, (Q − k) / Σ(1/v)).

    Var (both): (2(k − p) + 4 tau² tr P + 2 tau⁴ tr PP) / c², c = tr P (DL) or Σ(1/v) (HS),
    with P = P_FE.
    """
    B, k, p = X.shape
    at_zero = projection_pieces(X, y, _weights(v, np.zeros(B)), traces=True)
    if method == "DL":
        scale = at_zero["tr_p"]
        tau2 = np.maximum(0.0, (at_zero["rss"] - (k - p)) / scale)
    else:
        scale = np.full(B, np.sum(1.0 / v))
        tau2 = np.maximum(0.0, (at_zero["rss"] - k) / scale)
    if not with_se:
        return tau2, None
    se = np.sqrt(2.0 * (k - p) + 4.0 * tau2 * at_zero["tr_p"]
                 + 2.0 * tau2**2 * at_zero["tr_pp"]) / scale
    return tau2, se


def _sidik_jonkman(X, y, v, with_se):
    """tau² = tau²₀ yᵀP(tau²₀)y / (k − p) from tau²₀ = Σ(y − ȳ)²/k (one step).

    Var: tau²₀²/(k − p)² · (2 tr(PVPV) + 4 tau² tr(PPV) + 2 tau⁴ tr(PP)), P = P(tau²₀).
    """
    B, k, p = X.shape
    start = np.full(B, float(np.mean(y**2)))
    pieces = projection_pieces(X, y, _weights(v, start), traces=True)
    tau2 = np.maximum(0.0, start * pieces["rss"] / (k - p))
    if not with_se:
        return tau2, None
    vb = np.broadcast_to(v, pieces["w"].shape)
    ones = np.ones_like(pieces["w"])
    se = start / (k - p) * np.sqrt(2.0 * trace_pdpd(X, pieces, vb, vb)
                                   + 4.0 * tau2 * trace_pdpd(X, pieces, ones, vb)
                                   + 2.0 * tau2**2 * pieces["tr_pp"])
    return tau2, se


def _moment_se(k: int, p: int, w: np.ndarray) -> np.ndarray:
    """SE that metafor reports for PM and EB: sqrt(2k² / ((k − p) (Σw)²)), w at tau²."""
    return np.sqrt(2.0 * k**2 / (k - p)) / np.sum(w, axis=1)


def _paule_mandel(X, y, v, with_se):
    """Paule & Mandel (1982): the tau² at which yᵀP(tau²)y equals its expectation k − p.

    Newton's method from tau² = 0, Δ = (yᵀPy − (k − p)) / yᵀPPy (the derivative of yᵀPy is
    −yᵀPPy). Q(tau²) = yᵀP(tau²)y is convex and decreasing (each term r²/(v + tau²) is jointly
    convex in (r, tau²), and minimising over β keeps convexity), so the iterates rise
    monotonically to the root; 0 when Q(0) ≤ k − p. Elements that have not converged after
    FISHER_MAXITER steps (never seen) are finished by Brent's method.
    """
    B, k, p = X.shape
    tau2 = np.zeros(B)
    tol_scale = _tolerance_scale(v)
    active = projection_pieces(X, y, _weights(v, tau2))["rss"] > (k - p)
    for _ in range(FISHER_MAXITER):
        index = np.flatnonzero(active)
        if index.size == 0:
            break
        pieces = projection_pieces(X[index], y, _weights(v, tau2[index]))
        step = (pieces["rss"] - (k - p)) / pieces["ypp"]
        step = np.where(np.isfinite(step), step, 0.0)
        current = tau2[index]
        tau2[index] = np.maximum(0.0, current + step)
        done = np.abs(step) <= FISHER_THRESHOLD * (current + tol_scale)
        active[index[done]] = False
    for b in np.flatnonzero(active):
        tau2[b] = solve_score_equation("PM", y, v, X[b])
    if not with_se:
        return tau2, None
    return tau2, _moment_se(k, p, _weights(v, tau2))


# --------------------------------------------------------------------------------------------
# ML, REML and EB: scoring with step-halving, a bracketing fallback, metafor's ll0 check
# --------------------------------------------------------------------------------------------


def _tolerance_scale(v: np.ndarray) -> float:
    """v_h, the harmonic mean of the sampling variances: the scale of tau² in tolerances."""
    return float(v.size / np.sum(1.0 / v))


def scoring_update(method: str, X: np.ndarray, y: np.ndarray, v: np.ndarray,
                   tau2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The estimating function U(tau²) of `method` and its scoring update Δ = U/I, batched.

    Parameters
    ----------
    method : {"ML", "REML", "EB"}
    X : ndarray, shape (B, k, p)
    y : ndarray, shape (k,)
        Centred outcomes.
    v : ndarray, shape (k,)
        Sampling variances.
    tau2 : ndarray, shape (B,)

    Returns
    -------
    score, step : ndarray, shape (B,)
        U(tau²) and Δ = U/I (0 where I is 0 or not finite). U > 0 means the root lies above.

    Notes
    -----
    ========  ===========================  ========  ======================
    method    U                            I         source
    ========  ===========================  ========  ======================
    ML        yᵀPPy − Σw                   Σw²       Viechtbauer 2005
    REML      yᵀPPy − tr P                 tr PP     Viechtbauer 2005
    EB        yᵀPy · k/(k − p) − k         Σw        Morris 1983
    ========  ===========================  ========  ======================

    U is twice the derivative of the ML or REML log-likelihood and I twice its Fisher
    information; for EB, U = 0 is the Paule-Mandel equation yᵀPy = k − p scaled by k/(k − p),
    and I is Morris' scaling, as in metafor's rma.uni.
    """
    k, p = X.shape[1:]
    pieces = projection_pieces(X, y, _weights(v, tau2), traces=method == "REML")
    w = pieces["w"]
    if method == "ML":
        score, information = pieces["ypp"] - np.sum(w, axis=1), np.sum(w**2, axis=1)
    elif method == "REML":
        score, information = pieces["ypp"] - pieces["tr_p"], pieces["tr_pp"]
    elif method == "EB":
        score, information = pieces["rss"] * k / (k - p) - k, np.sum(w, axis=1)
    else:
        raise ValueError(f"no scoring update for method {method!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        step = score / information
    return score, np.where(np.isfinite(step), step, 0.0)


def scoring_iterations(method: str, X: np.ndarray, y: np.ndarray, v: np.ndarray,
                       start: np.ndarray, maxiter: int | None = None) -> dict:
    """Fisher scoring (ML, REML) or Morris' iteration (EB) with step-halving, batched.

    Parameters
    ----------
    method : {"ML", "REML", "EB"}
    X : ndarray, shape (B, k, p)
    y : ndarray, shape (k,)
        Centred outcomes.
    v : ndarray, shape (k,)
        Sampling variances.
    start : ndarray, shape (B,)
        Starting values (metafor: the truncated Hedges estimate).
    maxiter : int, optional
        Iterations before giving up (default FISHER_MAXITER, read at call time).

    Returns
    -------
    dict of ndarray
        "tau2", "converged", "iterations", "lower" and "upper" (the bracket: U > 0 at "lower"
        unless it is the starting 0, U < 0 at "upper", inf when not yet seen).

    Notes
    -----
    Each iteration sets tau² ← max(0, tau² + λΔ) with Δ from `scoring_update` (Viechtbauer
    2005; Morris 1983), and

    - step-halving: when Δ changes sign between two iterations the previous step overshot
      the root; when it also shrank by less than half, plain scoring is oscillating slowly or
      not settling at all (metafor then needs hundreds of iterations, or stops with "Fisher
      scoring algorithm did not converge"), so λ, which starts at 1, is halved. Where plain
      scoring contracts well, λ stays 1 and the iterates are metafor's;
    - a bracket: the largest tau² seen with U > 0 and the smallest with U < 0 enclose a root;
      the iteration stops when they are close enough, and the fallback searches between them;
    - the boundary: a step that would make tau² negative goes to 0 instead (metafor halves it
      until it does not, approaching 0 without reaching it); at 0, U(0) ≤ 0 ends the iteration
      with the estimate exactly 0, while U(0) > 0 makes 0 the lower end of the bracket.

    An element stops when |Δ| ≤ FISHER_THRESHOLD · (tau² + v_h) (v_h the harmonic mean of v)
    or its bracket is that narrow, or unconverged after `maxiter` iterations.
    """
    B = X.shape[0]
    maxiter = FISHER_MAXITER if maxiter is None else maxiter
    tau2 = np.array(start, dtype=float)
    tol_scale = _tolerance_scale(v)
    lam = np.ones(B)
    lower = np.zeros(B)
    upper = np.full(B, np.inf)
    previous_step = np.zeros(B)
    iterations = np.zeros(B, dtype=int)
    converged = np.zeros(B, dtype=bool)
    active = np.ones(B, dtype=bool)
    for _ in range(maxiter):
        # While every element is active, index with a slice: views instead of copies.
        index = slice(None) if active.all() else np.flatnonzero(active)
        current = tau2[index].copy()
        if current.size == 0:
            break
        score, full = scoring_update(method, X[index], y, v, current)
        iterations[index] += 1
        lower[index] = np.where(score > 0, np.maximum(lower[index], current), lower[index])
        upper[index] = np.where(score < 0, np.minimum(upper[index], current), upper[index])
        # Δ·Δ_before < −½Δ_before²: opposite signs and |Δ| > ½|Δ_before| (0 before: never).
        before = previous_step[index]
        slow_oscillation = full * before < -0.5 * before * before
        lam[index] *= np.where(slow_oscillation, 0.5, 1.0)
        previous_step[index] = full
        tau2[index] = np.maximum(0.0, current + lam[index] * full)
        tolerance = FISHER_THRESHOLD * (current + tol_scale)
        done = np.minimum(np.abs(full), upper[index] - lower[index]) <= tolerance
        finished = np.flatnonzero(done) if isinstance(index, slice) else index[done]
        converged[finished] = True
        active[finished] = False
    return {"tau2": tau2, "converged": converged, "iterations": iterations, "lower": lower,
            "upper": upper}


def solve_score_equation(method: str, y: np.ndarray, v: np.ndarray, X: np.ndarray,
                         lower: float = 0.0, upper: float = math.inf) -> float:
    """Root of the estimating equation of `method` on [lower, upper] by Brent's method.

    The fallback of the iterative estimators when scoring has not converged.

    Parameters
    ----------
    method : {"ML", "REML", "EB", "PM"}
    y : ndarray, shape (k,)
        Centred outcomes.
    v : ndarray, shape (k,)
        Sampling variances.
    X : ndarray, shape (k, p)
        One model matrix.
    lower, upper : float
        A bracket of the root (U > 0 at `lower` unless it is 0, U < 0 at `upper`); an infinite
        `upper` is found by doubling from 2 max(lower, v_h) until U < 0.

    Returns
    -------
    float
        tau² with U(tau²) = 0 to xtol = ROOT_XTOL · v_h and rtol = ROOT_RTOL (machine
        precision); 0 when `lower` is 0 and U(0) ≤ 0 (the boundary).

    Notes
    -----
    ML, REML and EB solve U(tau²) = 0 with U from `scoring_update`; PM solves
    yᵀP(tau²)y = k − p (Paule & Mandel 1982). Brent (1973), as scipy.optimize.brentq.
    """
    X = _as_batch(X)
    k, p = X.shape[1:]
    if method == "PM":
        def estimating_function(t: float) -> float:
            w = 1.0 / (v + t)
            return float(projection_pieces(X, y, w[None, :])["rss"][0]) - (k - p)
    else:
        def estimating_function(t: float) -> float:
            return float(scoring_update(method, X, y, v, np.array([t]))[0][0])
    scale = _tolerance_scale(v)
    if lower == 0.0 and estimating_function(0.0) <= 0.0:
        return 0.0
    if not math.isfinite(upper):
        upper = 2.0 * max(lower, scale)
        for _ in range(2000):
            if estimating_function(upper) < 0.0:
                break
            upper *= 2.0
    return float(optimize.brentq(estimating_function, lower, upper, xtol=ROOT_XTOL * scale,
                                 rtol=ROOT_RTOL, maxiter=10_000))


def log_likelihood(X: np.ndarray, y: np.ndarray, v: np.ndarray, tau2: np.ndarray,
                   reml: bool) -> np.ndarray:
    r"""ML or REML log-likelihood of the random-effects model at tau², batched.

    Parameters
    ----------
    X : ndarray, shape (B, k, p)
    y : ndarray, shape (k,)
        Centred outcomes.
    v : ndarray, shape (k,)
    tau2 : ndarray, shape (B,)
    reml : bool
        Restricted (REML) rather than full (ML) likelihood.

    Returns
    -------
    ndarray, shape (B,)

    Notes
    -----
    .. math::

        \ell_{ML} = -\tfrac{k}{2}\log 2\pi - \tfrac12 \sum \log(v_i + \tau^2)
        - \tfrac12 y^T P y,

        \ell_{REML} = -\tfrac{k-p}{2}\log 2\pi - \tfrac12 \sum \log(v_i + \tau^2)
        - \tfrac12 \log|X^T W X| - \tfrac12 y^T P y

    (Viechtbauer 2005), as metafor evaluates them for its check at tau² = 0.
    """
    k, p = X.shape[1:]
    pieces = projection_pieces(X, y, _weights(v, tau2))
    ll = -0.5 * np.sum(np.log(v[None, :] + tau2[:, None]), axis=1) - 0.5 * pieces["rss"]
    if reml:
        return ll - 0.5 * (k - p) * math.log(2 * math.pi) - 0.5 * np.linalg.slogdet(
            pieces["XtWX"])[1]
    return ll - 0.5 * k * math.log(2 * math.pi)


def _iterative(method, X, y, v, with_se):
    """ML, REML (Viechtbauer 2005) and EB (Morris 1983), batched; see `scoring_iterations`.

    Starts at the truncated Hedges estimate, as metafor does. Elements whose iterations have
    not converged after FISHER_MAXITER steps are solved by `solve_score_equation` on their
    bracket. For ML and REML, tau² is then set to 0 when the (restricted) log-likelihood at 0
    exceeds that at the solution by more than LL0_TOLERANCE (metafor's ll0check: scoring can
    stop at a local maximum). SE: ML sqrt(2/Σw²), REML sqrt(2/tr PP), EB as PM.
    """
    B, k, p = X.shape
    start = np.maximum(0.0, _hedges_untruncated(X, y, v))
    solution = scoring_iterations(method, X, y, v, start)
    tau2 = solution["tau2"]
    for b in np.flatnonzero(~solution["converged"]):
        tau2[b] = solve_score_equation(method, y, v, X[b], solution["lower"][b],
                                       solution["upper"][b])
    if method in ("ML", "REML"):
        positive = np.flatnonzero(tau2 > 0)
        if positive.size:
            reml = method == "REML"
            ll_zero = log_likelihood(X[positive], y, v, np.zeros(positive.size), reml)
            ll_hat = log_likelihood(X[positive], y, v, tau2[positive], reml)
            tau2[positive[ll_zero - ll_hat > LL0_TOLERANCE]] = 0.0
    tau2 = np.maximum(0.0, tau2)
    if not with_se:
        return tau2, None
    if method == "ML":
        se = np.sqrt(2.0 / np.sum(_weights(v, tau2) ** 2, axis=1))
    elif method == "REML":
        se = np.sqrt(2.0 / projection_pieces(X, y, _weights(v, tau2), traces=True)["tr_pp"])
    else:
        se = _moment_se(k, p, _weights(v, tau2))
    return tau2, se


def estimate_tau2_batch(X: np.ndarray, y: np.ndarray, v: np.ndarray, method: str = "REML",
                        with_se: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """tau² and its standard error by `method` for each model matrix of a batch.

    The one tau² engine: `estimate_tau2` (single fits) is a batch of one, and the permutation
    test fits all its re-arrangements of the moderators in one call.

    Parameters
    ----------
    X : ndarray, shape (B, k, p) or (k, p)
        Model matrices (intercept included, full column rank), k > p.
    y : ndarray, shape (k,)
        Centred outcomes, shared by the batch.
    v : ndarray, shape (k,)
        Sampling variances, shared by the batch.
    method : str
        One of vocabulary.TAU2_METHODS.
    with_se : bool
        Also compute the standard errors (the permutation test does not need them).

    Returns
    -------
    tau2 : ndarray, shape (B,)
    se : ndarray, shape (B,) or None
        metafor's se.tau2 of each estimator (nan for FE); None when `with_se` is false.

    Notes
    -----
    DL: max(0, (Q − (k − p))/tr P₀) (DerSimonian & Laird 1986); HE: max(0, (yᵀP_OLS y −
    tr(P_OLS V))/(k − p)) (Hedges 1983); HS: max(0, (Q − k)/Σ(1/v)) (Hunter & Schmidt 2004, with
    k as in metafor; Viechtbauer et al. 2015); SJ: tau²₀ yᵀP(tau²₀)y/(k − p) with tau²₀ =
    Σ(y − ȳ)²/k (Sidik & Jonkman 2005); PM: yᵀP(tau²)y = k − p (Paule & Mandel 1982); ML, REML
    (Viechtbauer 2005) and EB (Morris 1983): see `scoring_update`. FE gives zeros.
    """
    method = check_method(method)
    X = _as_batch(X)
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    B = X.shape[0]
    if method == "FE":
        return np.zeros(B), (np.full(B, math.nan) if with_se else None)
    if method == "HE":
        return _hedges(X, y, v, with_se)
    if method in ("DL", "HS"):
        return _dersimonian_laird_or_hunter_schmidt(method, X, y, v, with_se)
    if method == "SJ":
        return _sidik_jonkman(X, y, v, with_se)
    if method == "PM":
        return _paule_mandel(X, y, v, with_se)
    return _iterative(method, X, y, v, with_se)


def estimate_tau2(yi: np.ndarray, vi: np.ndarray, X: np.ndarray,
                  method: str = "REML") -> tuple[float, float]:
    """tau² and its standard error by `method` for the model y = Xβ + u + e.

    Parameters
    ----------
    yi, vi : ndarray, shape (k,)
        Outcomes (centred here, as metafor does) and sampling variances.
    X : ndarray, shape (k, p)
        Model matrix with intercept, k > p.
    method : str
        One of vocabulary.TAU2_METHODS; "FE" returns (0, nan).

    Returns
    -------
    tau2, se : float

    Notes
    -----
    A batch of one for `estimate_tau2_batch`, where the estimators and their sources are
    listed.
    """
    yi = np.asarray(yi, dtype=float)
    tau2, se = estimate_tau2_batch(np.asarray(X, dtype=float), yi - yi.mean(), vi, method)
    return float(tau2[0]), float(se[0])


def q_profile_search_end(tau2: float) -> float:
    """The upper end of the Q-profile search for tau²'s interval, max(100, 10 tau²), as in
    metafor's confint.rma.uni. An upper bound at this end was not reached: the data give no
    upper limit for tau² (common with two or three studies)."""
    return max(100.0, 10.0 * float(tau2))


def tau2_bound_reached_search_end(tau2: float, upper: float) -> bool:
    """True when the interval's upper bound is the end of the search range, not a solution."""
    return bool(np.isfinite(upper) and upper >= q_profile_search_end(tau2) * (1 - 1e-12))


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
    lo, hi = min(0.0, tau2), q_profile_search_end(tau2)

    def q_at(t: float) -> float:
        return generalised_q(t, yi, vi, X)

    def root(objective: float) -> float:
        return optimize.brentq(lambda t: q_at(t) - objective, lo, hi, xtol=ROOT_XTOL,
                               rtol=ROOT_RTOL, maxiter=10_000)

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
