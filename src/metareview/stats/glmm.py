"""Random-effects logistic model for single-arm proportions (metafor's rma.glmm, measure="PLO").

`pool_glmm(xi, ni)` fits the binomial-normal model by maximum likelihood, the marginal
likelihood being approximated by adaptive Gauss-Hermite quadrature as lme4's glmer does for
metafor. Every reported quantity follows metafor 3.8-1 (with lme4 1.1-31); the definitions are
in the docstring of `pool_glmm`.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy import special, stats

from metareview.stats.checks import study_arrays
from metareview.stats.escalc import effect_sizes
from metareview.stats.heterogeneity import typical_within_variance
from metareview.stats.results import ResultMixin, result_class

MEASURES = ("PLO",)
MAX_NAGQ = 100  # lme4's GHrule() accepts 1 to 100 nodes

# Conditional modes are solved by safeguarded Newton to this relative step (machine precision).
_MODE_STEP_TOL = 1e-15
_MODE_NOISE_TOL = 1e-11
_MODE_MAXITER = 200
# Outer maximisation over (tau, mu): stop when the Newton step is below this in both.
_OUTER_STEP_TOL = 1e-10
_OUTER_MAXITER = 200
# Step of the differences of the analytic gradient that give the Hessian.
_HESS_STEP = 1e-5
# A fitted tau below this is the boundary: the fit is replaced by the exact tau = 0 solution.
_TAU_ZERO = 1e-6

# glm.fit()'s IRLS as R runs it for the saturated model (binomial family, logit link):
# convergence |dev - dev_old| / (|dev| + 0.1) < epsilon within maxit iterations; the inverse
# link and its derivative are clamped outside |eta| <= 30 (R's family.c).
_GLM_EPSILON = 1e-8
_GLM_MAXIT = 25
_GLM_THRESH = 30.0
_DBL_EPS = np.finfo(float).eps

K1_NOTE = ("only one study: tau² and the heterogeneity statistics are not estimable; the "
           "estimate is that study's own logit with its binomial standard error "
           "(metafor's rma.glmm refuses k = 1 with method='ML')")
BOUNDARY_NOTE = "tau² is estimated at its lower bound 0"
NOT_CONVERGED_NOTE = ("the maximisation of the likelihood did not converge to a proper maximum "
                      "(typically when nearly every study has 0 or all events and the "
                      "likelihood keeps rising with tau²); the estimates are unreliable")


@result_class
class GlmmResult(ResultMixin):
    """A binomial-normal random-effects model for proportions (metafor rma.glmm, PLO).

    Attributes
    ----------
    estimate, se : float
        μ̂ on the logit scale and its standard error.
    statistic, pval : float
        z = μ̂/se and its two-sided normal p value.
    ci_low, ci_high : float
        μ̂ ∓ z_(1−α/2) se, logit scale.
    tau2, tau : float
        τ̂² and τ̂ = sqrt(τ̂²), logit scale.
    i2, h2 : float
        I² (%) and H² from tau² and the typical within-study variance of the logits.
    k : int
        Number of studies.
    q, q_pval : float
        Wald-type test of the saturated against the fixed-effect logistic model (metafor's
        QE.Wld) and its p value against chi²(q_df).
    q_lrt, q_lrt_pval : float
        Likelihood-ratio test of the same models (metafor's QE.LRT) and its p value.
    q_df : int
        k − 1.
    loglik : float
        metafor's log-likelihood (conditional at the random-effect modes).
    loglik_marginal : float
        The maximised (quadrature) marginal log-likelihood.
    nagq : int
        Number of adaptive Gauss-Hermite quadrature points (1: the Laplace approximation).
    pred, pred_ci_low, pred_ci_high : float
        expit of μ̂ and of its confidence limits: the proportion scale.
    pi_low, pi_high : float
        Prediction interval expit(μ̂ ∓ z_(1−α/2) sqrt(se² + τ̂²)), on the proportion scale
        (unlike `ci_low`, `ci_high`).
    measure : str
        "PLO".
    level : float
        Confidence level of the intervals.
    note : str
        Special cases (k = 1, tau² at 0, a maximisation that did not converge), "" when none.
    """

    estimate: float
    se: float
    statistic: float
    ci_low: float
    ci_high: float
    pval: float
    tau2: float
    tau: float
    i2: float
    h2: float
    k: int
    q: float
    q_pval: float
    q_lrt: float
    q_lrt_pval: float
    q_df: int
    loglik: float
    loglik_marginal: float
    nagq: int
    pred: float
    pred_ci_low: float
    pred_ci_high: float
    pi_low: float
    pi_high: float
    measure: str
    level: float
    note: str = ""


# --------------------------------------------------------------------------------------------
# input
# --------------------------------------------------------------------------------------------


def _check_counts(xi: Sequence[float], ni: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Return events and totals as float arrays of whole numbers, or raise naming the study.

    Studies are named by their 0-based position. Rules: same length, at least one study, both
    finite whole numbers, total >= 1, 0 <= events <= total.
    """
    x, n = study_arrays({"xi": xi, "ni": ni}, "one event count and one total")
    for index, (events, total) in enumerate(zip(x, n)):
        for name, value in (("events (xi)", events), ("total (ni)", total)):
            if not math.isfinite(value):
                raise ValueError(f"study {index}: {name} is {value}; counts must be finite "
                                 "whole numbers")
            if value != math.floor(value):
                raise ValueError(f"study {index}: {name} is {value}; counts must be whole "
                                 "numbers")
        if events < 0:
            raise ValueError(f"study {index}: events (xi) is {events:g}; counts cannot be "
                             "negative")
        if total < 1:
            raise ValueError(f"study {index}: total (ni) is {total:g}; every study needs at "
                             "least one participant")
        if events > total:
            raise ValueError(f"study {index}: events (xi) = {events:g} exceed the total "
                             f"(ni) = {total:g}")
    return x, n


def _gh_rule(nagq: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes z_k and log weights for the standard normal density (weights sum 1)."""
    if nagq == 1:
        return np.zeros(1), np.zeros(1)
    nodes, weights = hermegauss(nagq)
    return nodes, np.log(weights / weights.sum())


# --------------------------------------------------------------------------------------------
# binomial pieces
# --------------------------------------------------------------------------------------------


def _log_binom_saturated(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """log Bin(x | n, x/n) per study: the saturated (perfect-fit) log-likelihood."""
    return (special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)
            + special.xlogy(x, x / n) + special.xlogy(n - x, (n - x) / n))


def _deviance_residual(x: np.ndarray, n: np.ndarray, eta: np.ndarray,
                       saturated_kernel: np.ndarray) -> np.ndarray:
    """2[log Bin(x | n, x/n) − log Bin(x | n, expit(η))], elementwise (broadcasts over η)."""
    # −log expit(η) = softplus(−η); −log(1 − expit(η)) = softplus(η)
    return 2.0 * (saturated_kernel + x * np.logaddexp(0.0, -eta)
                  + (n - x) * np.logaddexp(0.0, eta))


class _Binomial:
    """The data and the adaptive-quadrature deviance of the random-intercept model.

    With b_i = τ u_i, u_i ~ N(0, 1), and h_i(u) = d_i(μ + τu) + u², d_i the binomial deviance
    residual, the deviance (−2 log marginal likelihood relative to the saturated model) is
    D(τ, μ) = Σ_i [h_i(û_i) + log(1 + τ² w_i) − 2 log Σ_k ω_k exp(z_k²/2 − (h_i(û_i + s_i z_k)
    − h_i(û_i))/2)], û_i the conditional mode, w_i = n_i p_i(1 − p_i) at the mode and
    s_i = (1 + τ² w_i)^(−1/2) (see the Notes of `pool_glmm`). D is even in τ.
    """

    def __init__(self, x: np.ndarray, n: np.ndarray, nagq: int) -> None:
        self.x = x
        self.n = n
        self.nagq = nagq
        self.nodes, self.log_weights = _gh_rule(nagq)
        self.half_z2 = 0.5 * self.nodes**2
        self.kernel = special.xlogy(x, x / n) + special.xlogy(n - x, (n - x) / n)
        self.ll_saturated = float(np.sum(_log_binom_saturated(x, n)))
        self._last_modes = np.zeros_like(x)

    # -- conditional modes --------------------------------------------------------------------
    def modes(self, tau: float, mu: float) -> np.ndarray:
        """û_i solving u = τ(x_i − n_i expit(μ + τu)) (the minimum of the convex h_i)."""
        x, n = self.x, self.n
        if tau == 0.0:
            return np.zeros_like(x)
        # The root lies in [τ(x − n), τx] because expit ∈ (0, 1); Newton, with bisection
        # whenever a step leaves the bracket. g is increasing (g' = 1 + τ²np(1 − p) >= 1).
        lo = tau * (x - n)
        hi = tau * x
        # Start from the modes of the previous evaluation (nearby during the optimisation).
        u = np.clip(self._last_modes, lo, hi)
        previous = np.full_like(x, np.inf)
        for _ in range(_MODE_MAXITER):
            p = special.expit(mu + tau * u)
            g = u - tau * (x - n * p)
            lo = np.where(g < 0.0, u, lo)
            hi = np.where(g > 0.0, u, hi)
            new = u - g / (1.0 + tau * tau * n * p * (1.0 - p))
            outside = (new < lo) | (new > hi)
            new = np.where(outside, 0.5 * (lo + hi), new)
            step = np.abs(new - u)
            u = new
            # Converged: a step at machine precision, or (with large counts, where g carries
            # rounding error of a few ulps) Newton steps that have stopped shrinking.
            scale = 1.0 + np.abs(u)
            done = (step <= _MODE_STEP_TOL * scale) | (
                (step <= _MODE_NOISE_TOL * scale) & (step >= 0.5 * previous))
            if np.all(done):
                break
            previous = step
        self._last_modes = u
        return u

    # -- deviance and its gradient ------------------------------------------------------------
    def deviance(self, tau: float, mu: float, gradient: bool = False):
        """D(τ, μ), and with gradient=True also (∂D/∂τ, ∂D/∂μ) in closed form."""
        sign = -1.0 if tau < 0 else 1.0
        tau = abs(tau)
        x, n = self.x, self.n
        u = self.modes(tau, mu)
        eta = mu + tau * u
        p = special.expit(eta)
        v = p * (1.0 - p)
        w = n * v
        L2 = 1.0 + tau * tau * w
        h0 = _deviance_residual(x, n, eta, self.kernel) + u * u
        quadrature = self.nagq > 1
        if quadrature:
            s = 1.0 / np.sqrt(L2)
            uk = u[:, None] + s[:, None] * self.nodes[None, :]
            etak = mu + tau * uk
            hk = (_deviance_residual(x[:, None], n[:, None], etak, self.kernel[:, None])
                  + uk * uk)
            exponent = self.log_weights + self.half_z2 - 0.5 * (hk - h0[:, None])
            top = exponent.max(axis=1)
            log_mult = top + np.log(np.exp(exponent - top[:, None]).sum(axis=1))
        else:
            log_mult = np.zeros_like(x)
        value = float(np.sum(h0 + np.log(L2) - 2.0 * log_mult))
        if not gradient:
            return value
        # Implicit derivatives of the mode: G(u) = u − τ(x − n p) = 0, G_u = L2.
        resid = n * p - x                     # ∂d/∂η / 2
        du_dmu = -tau * w / L2
        du_dtau = (-resid - tau * w * u) / L2
        deta = {"mu": 1.0 + tau * du_dmu, "tau": u + tau * du_dtau}
        dtau = {"mu": 0.0, "tau": 1.0}
        dw_deta = w * (1.0 - 2.0 * p)
        grads = {}
        for name in ("tau", "mu"):
            # h(û) (envelope: ∂h/∂u = 0 at the mode)
            d_h0 = 2.0 * resid * (u * dtau[name] + (1.0 if name == "mu" else 0.0))
            d_logL2 = (2.0 * tau * w * dtau[name] + tau * tau * dw_deta * deta[name]) / L2
            total = d_h0 + d_logL2
            if quadrature:
                du_k = (du_dmu if name == "mu" else du_dtau)[:, None] \
                    - 0.5 * (s * d_logL2)[:, None] * self.nodes[None, :]
                resid_k = n[:, None] * special.expit(etak) - x[:, None]
                dh_k = 2.0 * resid_k * ((1.0 if name == "mu" else 0.0) + uk * dtau[name]) \
                    + (2.0 * tau * resid_k + 2.0 * uk) * du_k
                probs = np.exp(exponent - log_mult[:, None])
                total = total + np.sum(probs * (dh_k - d_h0[:, None]), axis=1)
            grads[name] = float(np.sum(total))
        return value, np.array([sign * grads["tau"], grads["mu"]])

    def hessian(self, tau: float, mu: float, gradient: np.ndarray | None = None) -> np.ndarray:
        """Hessian of D at (τ, μ) by differences of the analytic gradient, symmetrised.

        Central differences (accurate to ~1e-9 relative; used for the standard error), or,
        when the gradient at (τ, μ) is given, forward differences (enough for a Newton step).
        """
        H = np.empty((2, 2))
        point = np.array([tau, mu])
        for j in range(2):
            step = np.zeros(2)
            step[j] = _HESS_STEP
            plus = self.deviance(*(point + step), gradient=True)[1]
            if gradient is None:
                minus = self.deviance(*(point - step), gradient=True)[1]
                H[:, j] = (plus - minus) / (2.0 * _HESS_STEP)
            else:
                H[:, j] = (plus - gradient) / _HESS_STEP
        return 0.5 * (H + H.T)


# --------------------------------------------------------------------------------------------
# maximisation
# --------------------------------------------------------------------------------------------


def _maximise(model: _Binomial, tau0: float,
              mu0: float) -> tuple[float, float, float, bool]:
    """Minimise D(τ, μ) by Newton's method with a backtracking line search.

    The Hessian is taken from the analytic gradient; where it is not positive definite its
    eigenvalues are replaced by their absolute values (bounded away from 0), which keeps every
    step a descent direction. Close to the minimum, where differences of D are lost in
    rounding, a step is also accepted when it leaves D unchanged within rounding and reduces
    the gradient. Returns (τ̂ >= 0, μ̂, D̂, converged); converged means that the last Newton
    step was below the tolerance, or the gradient vanishes to rounding where no step helps.
    """
    point = np.array([tau0, mu0])
    value, grad = model.deviance(*point, gradient=True)
    converged = False
    for _ in range(_OUTER_MAXITER):
        H = model.hessian(*point, gradient=grad)
        eigval, eigvec = np.linalg.eigh(H)
        eigval = np.maximum(np.abs(eigval), 1e-8 * max(1.0, float(np.max(np.abs(eigval)))))
        direction = -(eigvec @ ((eigvec.T @ grad) / eigval))
        slope = float(grad @ direction)
        rounding = 1e-13 * (1.0 + abs(value))
        step = 1.0
        accepted = False
        while step >= 1e-10:
            trial = point + step * direction
            trial_value, trial_grad = model.deviance(*trial, gradient=True)
            if trial_value <= value + 1e-4 * step * slope or (
                    trial_value <= value + rounding
                    and np.linalg.norm(trial_grad) < np.linalg.norm(grad)):
                accepted = True
                break
            step *= 0.5
        if not accepted:
            converged = bool(np.linalg.norm(grad) <= 1e-7 * (1.0 + abs(value)))
            break
        moved = np.abs(trial - point)
        point, value, grad = trial, trial_value, trial_grad
        if np.all(moved <= _OUTER_STEP_TOL * (1.0 + np.abs(point))):
            converged = True
            break
    return abs(float(point[0])), float(point[1]), float(value), converged


# --------------------------------------------------------------------------------------------
# heterogeneity tests: the fixed-effect and saturated logistic models, as glm() fits them
# --------------------------------------------------------------------------------------------


def _logit_linkinv(eta: np.ndarray) -> np.ndarray:
    odds = np.exp(np.clip(eta, -_GLM_THRESH, _GLM_THRESH))
    odds = np.where(eta < -_GLM_THRESH, _DBL_EPS, np.where(eta > _GLM_THRESH, 1.0 / _DBL_EPS, odds))
    return odds / (1.0 + odds)


def _logit_mu_eta(eta: np.ndarray) -> np.ndarray:
    outside = (eta > _GLM_THRESH) | (eta < -_GLM_THRESH)
    e = np.exp(np.clip(eta, -_GLM_THRESH, _GLM_THRESH))
    return np.where(outside, _DBL_EPS, e / (1.0 + e) ** 2)


def _glm_deviance(y: np.ndarray, n: np.ndarray, mu: np.ndarray) -> float:
    # R's binomial dev.resids: 2 wt (y log(y/mu) + (1 − y) log((1 − y)/(1 − mu))), 0 log 0 = 0
    return float(np.sum(2.0 * n * (special.xlogy(y, y / mu)
                                   + special.xlogy(1.0 - y, (1.0 - y) / (1.0 - mu)))))


def _saturated_fit(x: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The saturated logistic model (one logit per study) by R's glm.fit IRLS.

    The saturated model fits every working response exactly, so each IRLS step sets η_i to
    z_i = η_i + (y_i − μ_i)/μ'(η_i); the iterations and the stopping rule are R's, so that a
    study with 0 or n_i events (whose logit has no finite maximum) stops where glm stops.
    Returns the final linear predictors, the IRLS weights of the last iteration (those of the
    covariance matrix glm reports) and the final fitted probabilities.
    """
    y = x / n
    mu = (n * y + 0.5) / (n + 1.0)                     # binomial()$initialize
    eta = np.log(mu / (1.0 - mu))
    dev_old = _glm_deviance(y, n, mu)
    weights = n * mu * (1.0 - mu)
    for _ in range(_GLM_MAXIT):
        mu_eta = _logit_mu_eta(eta)
        variance = mu * (1.0 - mu)
        weights = n * mu_eta**2 / variance
        eta = eta + (y - mu) / mu_eta
        mu = _logit_linkinv(eta)
        dev = _glm_deviance(y, n, mu)
        if abs(dev - dev_old) / (abs(dev) + 0.1) < _GLM_EPSILON:
            break
        dev_old = dev
    return eta, weights, mu


def _log_binom(x: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    return (special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)
            + special.xlogy(x, p) + special.xlog1py(n - x, -p))


def _heterogeneity_tests(x: np.ndarray, n: np.ndarray) -> dict[str, float]:
    """Wald-type and likelihood-ratio tests of the saturated against the fixed-effect model."""
    k = x.size
    eta, weights, mu = _saturated_fit(x, n)
    # Wald test of equal logits: Σ W_i (η_i − η̄_W)², W the IRLS weights (= b₂ᵀ V₂₂⁻¹ b₂ for
    # the study contrasts of the saturated glm in any parametrisation).
    centre = float(np.sum(weights * eta) / np.sum(weights))
    q = max(0.0, float(np.sum(weights * (eta - centre) ** 2)))
    ll_saturated = float(np.sum(_log_binom(x, n, mu)))
    pooled = float(np.sum(x) / np.sum(n))
    ll_fixed = float(np.sum(_log_binom(x, n, np.full(k, pooled))))
    q_lrt = max(0.0, -2.0 * (ll_fixed - ll_saturated))
    return {"q": q, "q_pval": float(stats.chi2.sf(q, k - 1)),
            "q_lrt": q_lrt, "q_lrt_pval": float(stats.chi2.sf(q_lrt, k - 1)),
            "ll_saturated_glm": ll_saturated}


def _logits(x: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The logits and their sampling variances as escalc's "PLO" computes them (1/2 added to
    both cells of a study with 0 or n events), from which rma.glmm takes its starting value
    and the typical within-study variance of I² and H²."""
    effects = effect_sizes("PLO", xi=x, ni=n)
    return effects["yi"].to_numpy(float), effects["vi"].to_numpy(float)


def _starting_tau(x: np.ndarray, n: np.ndarray) -> float:
    """DerSimonian-Laird tau of the (corrected) logits, kept within [0.1, 5]."""
    y, v = _logits(x, n)
    w = 1.0 / v
    ybar = float(np.sum(w * y) / np.sum(w))
    q = float(np.sum(w * (y - ybar) ** 2))
    c = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    tau2 = max(0.0, (q - (x.size - 1)) / c) if c > 0 else 0.0
    return min(5.0, max(0.1, math.sqrt(tau2)))


# --------------------------------------------------------------------------------------------
# public function
# --------------------------------------------------------------------------------------------


def pool_glmm(xi: Sequence[float], ni: Sequence[float], measure: str = "PLO", nagq: int = 7,
              level: float = 0.95) -> GlmmResult:
    r"""Pool single-arm proportions with the binomial-normal (random-effects logistic) model.

    The equivalent of metafor's ``rma.glmm(measure="PLO", xi=xi, ni=ni, method="ML",
    nAGQ=nagq)`` (metafor 3.8-1 fitting through ``lme4::glmer``). The counts enter the
    likelihood directly, so studies with no events (0/n) or only events (n/n) are used as they
    are, without a continuity correction.

    Parameters
    ----------
    xi : sequence of int
        Number of events in each study (whole numbers, 0 <= xi <= ni).
    ni : sequence of int
        Number of participants in each study (whole numbers >= 1).
    measure : {"PLO"}
        The logit (log odds) of the proportion; the only measure implemented.
    nagq : int, default 7
        Number of adaptive Gauss-Hermite quadrature points, 1 to 100 (metafor's default 7);
        1 is the Laplace approximation.
    level : float, default 0.95
        Confidence level of the confidence and prediction intervals.

    Returns
    -------
    GlmmResult
        ``estimate`` (μ̂, logit scale), ``se``, ``statistic``, ``ci_low``, ``ci_high``, ``pval``,
        ``tau2`` (τ̂²), ``tau``, ``i2``, ``h2``, ``k``, ``q``, ``q_pval``,
        ``q_lrt``, ``q_lrt_pval``, ``q_df``, ``loglik``, ``loglik_marginal``, ``nagq``,
        and on the proportion scale ``pred`` = expit(μ̂), its confidence interval
        ``pred_ci_low``, ``pred_ci_high`` and the prediction interval ``pi_low``,
        ``pi_high``.

    Raises
    ------
    ValueError
        For an unknown measure, an nagq outside 1..100, a level outside (0, 1), mismatched or
        empty inputs, and for a study whose counts are not finite whole numbers, are negative,
        have a total below 1 or more events than participants (the message names the study by
        its 0-based position). Also when the logit has no finite maximum-likelihood estimate:
        every study has 0 events, every study has only events, or k = 1 with 0/n or n/n.

    Notes
    -----
    **Model.** For studies i = 1, ..., k,

    .. math:: x_i \mid u_i \sim \mathrm{Bin}(n_i, p_i), \quad
              \operatorname{logit} p_i = \mu + \tau u_i, \quad u_i \sim N(0, 1),

    so the study logits vary as N(μ, τ²) (Stijnen, Hamza & Özdemir 2010).

    **Likelihood.** The marginal likelihood of study i is

    .. math:: L_i(\mu, \tau) = \int \binom{n_i}{x_i} p_i(u)^{x_i} (1 - p_i(u))^{n_i - x_i}
              \phi(u)\, du,

    and (μ̂, τ̂) maximise Σ log L_i with τ >= 0.

    **Adaptive Gauss-Hermite quadrature** (Liu & Pierce 1994; Pinheiro & Bates 1995), as
    lme4's glmer evaluates it. Write d_i(η) = 2[log Bin(x_i | n_i, x_i/n_i) − log Bin(x_i | n_i,
    expit η)] (the deviance residual) and h_i(u) = d_i(μ + τu) + u². The integrand is
    centred at the conditional mode û_i = argmin h_i (the root of u = τ(x_i − n_i expit(μ +
    τu))) and scaled by the conditional curvature: s_i = (1 + τ² w_i)^(−1/2) with
    w_i = n_i p̂_i(1 − p̂_i) at the mode. With nodes z_k and weights ω_k of the
    Gauss-Hermite rule for the standard normal density (Σω_k = 1),

    .. math:: -2 \log L_i \approx -2 \log \mathrm{Bin}(x_i \mid n_i, x_i/n_i) + h_i(\hat u_i)
              + \log(1 + \tau^2 w_i) - 2 \log \sum_k \omega_k
              \exp\{z_k^2/2 - [h_i(\hat u_i + s_i z_k) - h_i(\hat u_i)]/2\}.

    With one node (z = 0, ω = 1) this is the Laplace approximation. At τ = 0 it is exact and
    equals the fixed-effect binomial likelihood, so with τ̂ = 0 the estimate is
    μ̂ = logit(Σx_i / Σn_i).

    **Estimation.** The deviance D = −2 Σ log L_i (relative to the saturated model) is
    minimised over (τ, μ) by Newton's method with analytic first derivatives (implicit
    differentiation of the modes) and a Hessian from differences of them (forward differences
    during the iterations, central differences at the optimum); the modes are solved to
    machine precision, and the iterations stop when a Newton step is below 1e-10. D is even in
    τ, so τ = 0 is always a stationary point; a fit that ends at |τ| < 1e-6 is replaced by the
    exact boundary solution τ = 0, μ = logit(Σx/Σn). If the iterations end without a proper
    maximum (a likelihood still rising with τ, as when nearly every study has 0 or all
    events), ``note`` says so.

    **Reported quantities** (metafor's definitions):

    - se: from the inverse of the Hessian H of D in (τ, μ) (the observed information of the
      approximated likelihood), Var(μ̂) = 2[H⁻¹]_μμ, as lme4's ``vcov`` for glmer fits (which
      takes H from finite differences of its deviance function with step 1e-4); at τ̂ = 0 the
      cross term vanishes and Var(μ̂) = 1/(Σn_i p̄(1 − p̄)), p̄ = Σx_i/Σn_i.
      statistic = μ̂/se, two-sided normal p value, CI μ̂ ± z_(1−α/2) se.
      ``level=0.95`` corresponds to metafor's ``level=95``.
    - q, q_lrt: Wald-type and likelihood-ratio tests of the saturated logistic model
      (one logit per study, fitted by R's glm IRLS, which stops at a finite but very negative
      logit for a 0/n study) against the fixed-effect model logit p_i = μ; chi² with k − 1 df.
      The Wald statistic is computed as Σ W_i(η_i − η̄_W)² (W_i the IRLS weights of the
      saturated fit), which equals metafor's b₂ᵀV₂₂⁻¹b₂ without inverting V₂₂; with a 0/n or
      n/n study that matrix is nearly singular, and metafor's value then differs by rounding
      (up to about 1e-5 relative).
    - i2 = 100 τ̂²/(s² + τ̂²), h2 = τ̂²/s² + 1 with the typical within-study variance
      s² = (k − 1)Σw_i/((Σw_i)² − Σw_i²), w_i = 1/v_i, v_i = 1/x_i + 1/(n_i − x_i) with 1/2
      added to both cells of a 0/n or n/n study (metafor's escalc defaults). This continuity
      correction enters only I² and H², never the fit.
    - loglik: metafor's log-likelihood of the model, ll_sat − ½Σ d_i(μ̂ + τ̂û_i), i.e. the
      binomial log-likelihood at the conditional modes (ll_sat from the saturated glm).
      It equals the fixed-effect log-likelihood when τ̂ = 0, but it is not the maximised
      marginal likelihood; that is loglik_marginal = Σ log L̂_i (the quadrature value).
    - pred, pred_ci_*: expit of μ̂ and of its CI; pi_low, pi_high: expit(μ̂ ± z_(1−α/2)
      √(se² + τ̂²)), metafor's ``predict(res, transf=transf.ilogit)``.

    **k = 1.** metafor refuses this model with one study. Here the result is that study's
    own logit with its binomial standard error √(1/x + 1/(n − x)) (the fixed-effect fit),
    τ² = 0, and nan for the heterogeneity statistics and the prediction interval; ``note``
    says so.

    References
    ----------
    Stijnen T, Hamza TH, Özdemir P (2010). Random effects meta-analysis of event outcome in the
    framework of the generalized linear mixed model with applications in sparse data.
    Statistics in Medicine 29(29):3046-3067. doi:10.1002/sim.3964

    Schwarzer G, Chemaitelly H, Abu-Raddad LJ, Rücker G (2019). Seriously misleading results
    using inverse of Freeman-Tukey double arcsine transformation in meta-analysis of single
    proportions. Research Synthesis Methods 10(3):476-483. doi:10.1002/jrsm.1348

    Pinheiro JC, Bates DM (1995). Approximations to the log-likelihood function in the
    nonlinear mixed-effects model. Journal of Computational and Graphical Statistics
    4(1):12-35. doi:10.1080/10618600.1995.10474663

    Liu Q, Pierce DA (1994). A note on Gauss-Hermite quadrature. Biometrika 81(3):624-629.
    doi:10.1093/biomet/81.3.624

    Bates D, Mächler M, Bolker B, Walker S (2015). Fitting linear mixed-effects models using
    lme4. Journal of Statistical Software 67(1):1-48. doi:10.18637/jss.v067.i01

    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. Journal of
    Statistical Software 36(3):1-48. doi:10.18637/jss.v036.i03
    """
    if str(measure).upper() not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; pool_glmm implements 'PLO' (logit of "
                         "a proportion)")
    measure = "PLO"
    if isinstance(nagq, bool) or not isinstance(nagq, (int, np.integer)) \
            or not 1 <= nagq <= MAX_NAGQ:
        raise ValueError(f"nagq is {nagq!r}; it must be a whole number from 1 (Laplace) to "
                         f"{MAX_NAGQ}")
    nagq = int(nagq)
    if not (isinstance(level, (int, float, np.floating)) and 0.0 < float(level) < 1.0):
        raise ValueError(f"level is {level!r}; it must be a confidence level between 0 and 1, "
                         "e.g. 0.95")
    level = float(level)
    x, n = _check_counts(xi, ni)
    k = x.size
    crit = float(stats.norm.isf((1.0 - level) / 2.0))

    if k == 1:
        if x[0] == 0 or x[0] == n[0]:
            raise ValueError(f"study 0: {x[0]:g}/{n[0]:g} events and no other study: the "
                             "logit has no finite estimate (use an exact binomial interval "
                             "for a single study)")
        estimate = float(np.log(x[0] / (n[0] - x[0])))
        se = math.sqrt(1.0 / x[0] + 1.0 / (n[0] - x[0]))
        ll = float(_log_binom(x, n, x / n)[0])
        return _assemble(estimate, se, 0.0, crit, level, k, nagq, measure,
                         tests={"q": math.nan, "q_pval": math.nan,
                                "q_lrt": math.nan, "q_lrt_pval": math.nan},
                         q_df=0, i2=math.nan, h2=math.nan, loglik=ll, loglik_marginal=ll,
                         prediction=False, note=K1_NOTE)
    if np.all(x == 0):
        raise ValueError("no study has any event (every xi is 0): the pooled logit has no "
                         "finite maximum-likelihood estimate")
    if np.all(x == n):
        raise ValueError("every participant of every study had the event (xi = ni in all "
                         "studies): the pooled logit has no finite maximum-likelihood estimate")

    model = _Binomial(x, n, nagq)
    mu_fixed = float(np.log(np.sum(x) / np.sum(n - x)))
    deviance_fixed = model.deviance(0.0, mu_fixed)
    tau, mu, deviance, converged = _maximise(model, _starting_tau(x, n), mu_fixed)
    notes = []
    if tau < _TAU_ZERO or deviance_fixed <= deviance:
        tau, mu, deviance, converged = 0.0, mu_fixed, deviance_fixed, True
        notes.append(BOUNDARY_NOTE)
    if tau == 0.0:
        # At τ = 0 the cross-derivatives vanish (D is even in τ), so Var(μ̂) = 2/D_μμ, the
        # fixed-effect binomial variance 1/(N p̄(1 − p̄)), N = Σn_i, p̄ = Σx_i/N.
        pbar = float(np.sum(x) / np.sum(n))
        se = 1.0 / math.sqrt(float(np.sum(n)) * pbar * (1.0 - pbar))
    else:
        H = model.hessian(tau, mu)
        if np.all(np.linalg.eigvalsh(H) > 0):
            se = math.sqrt(2.0 * np.linalg.inv(H)[1, 1])
        else:
            se = math.nan
            converged = False
    if not converged:
        notes.append(NOT_CONVERGED_NOTE)

    tests = _heterogeneity_tests(x, n)
    u = model.modes(tau, mu)
    conditional = _deviance_residual(x, n, mu + tau * u, model.kernel)
    loglik = tests.pop("ll_saturated_glm") - 0.5 * float(np.sum(conditional))
    # Higgins & Thompson's s² of the corrected logits' variances, as rma.glmm computes it
    s2 = typical_within_variance(_logits(x, n)[1], np.ones((k, 1)))
    tau2 = tau * tau
    return _assemble(mu, se, tau2, crit, level, k, nagq, measure, tests=tests, q_df=k - 1,
                     i2=100.0 * tau2 / (s2 + tau2), h2=tau2 / s2 + 1.0, loglik=loglik,
                     loglik_marginal=model.ll_saturated - 0.5 * deviance,
                     prediction=True, note="; ".join(notes))


def _assemble(estimate: float, se: float, tau2: float, crit: float, level: float, k: int,
              nagq: int, measure: str, tests: dict[str, float], q_df: int, i2: float,
              h2: float, loglik: float, loglik_marginal: float, prediction: bool,
              note: str) -> GlmmResult:
    ci_low, ci_high = estimate - crit * se, estimate + crit * se
    if prediction:
        half = crit * math.sqrt(se * se + tau2)
        pi_low, pi_high = float(special.expit(estimate - half)), float(
            special.expit(estimate + half))
    else:
        pi_low = pi_high = math.nan
    statistic = estimate / se
    return GlmmResult(
        estimate=float(estimate), se=float(se), statistic=float(statistic), ci_low=float(ci_low),
        ci_high=float(ci_high), pval=float(2.0 * stats.norm.sf(abs(statistic))), tau2=float(tau2),
        tau=math.sqrt(tau2), i2=float(i2), h2=float(h2), k=int(k),
        q=float(tests["q"]), q_pval=float(tests["q_pval"]),
        q_lrt=float(tests["q_lrt"]), q_lrt_pval=float(tests["q_lrt_pval"]),
        q_df=int(q_df), loglik=float(loglik), loglik_marginal=float(loglik_marginal),
        nagq=int(nagq), pred=float(special.expit(estimate)),
        pred_ci_low=float(special.expit(ci_low)), pred_ci_high=float(special.expit(ci_high)),
        pi_low=pi_low, pi_high=pi_high, measure=measure,
        level=float(level), note=note)
