"""The numerical core of `metareview.stats.bayes`: the normal-normal model with μ integrated
out, the posterior of τ by adaptive Gauss-Legendre quadrature, and mixtures of normals.

Nothing here is public: `metareview.stats.bayes.pool_bayes` assembles its results. The
methods are described in the docstrings of `Model`, `TauPosterior` and `Mixtures`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy import optimize, special

from metareview.stats.bayes_priors import MuPrior, TauPrior

# Accuracy of the integration over tau. Each integral (the normalising constant, the first two
# moments of tau and of mu | tau) is computed by adaptive Gauss-Legendre quadrature until, on
# every cell, the rule on the whole cell and the sum of the rules on its two halves differ by
# at most RTOL times the whole integral; the halves are kept, so the error left is far smaller
# than this bound (against scipy's adaptive quad at 1e-13 on the CrinsEtAl2014 data: the
# median and mean of tau agree to 3e-16).
RTOL = 1e-11
_GL_ORDER = 10
_GL_X, _GL_W = leggauss(_GL_ORDER)
_MAX_ROUNDS = 60
_INITIAL_PANEL = 2.0        # width of the first panels in log tau
_SCAN_STEP = 0.25           # step of the first scan in log tau
_SCAN_HALF_RANGE = 40.0     # the scan reaches e^40 beyond the data's and the prior's scales
_NEGLIGIBLE = 50.0          # integrand below exp(-50) of its maximum: outside the region
_TAIL_TOLERATED = 23.0      # a tail still above exp(-23) of its maximum at the cap: infinite
_LOG_TAU_CAP = math.log(1e150)   # tau^2 stays finite in double precision
PRUNE = 1e-14               # the lightest mixture components, of this total weight, are dropped
SOLVE_TOL = 1e-13           # relative accuracy of quantiles, modes and interval ends
_ROUNDING = 1e-14           # a probability residual this small is rounding
_CDF_ROUNDING = 4 * np.finfo(float).eps   # F − p this small: F's own rounding
_LOG_2PI = math.log(2.0 * math.pi)
SQRT_2PI = math.sqrt(2.0 * math.pi)


# --- the model ---------------------------------------------------------------------------------

class Model:
    """The normal-normal hierarchical model with μ integrated out.

    For τ ≥ 0, μ | τ, y ~ N(m(τ), s²(τ)) with precision-weighted terms w_i = 1/(σ_i² + τ²)
    over the studies and, for a normal prior N(m₀, s₀²), one more term y₀ = m₀, w₀ = 1/s₀².
    The marginal likelihood p(y | τ) = ∫ p(y | μ, τ) p(μ) dμ (with p(μ) = 1 for the uniform
    prior) is, over the K terms,

        log p(y | τ) = −½ [(K − 1) log 2π + Σ log(1/w_j) + Σ w_j (y_j − m)² + log Σ w_j].
    """

    def __init__(self, y: np.ndarray, v: np.ndarray, prior: MuPrior) -> None:
        self.y = y
        self.v = v
        self.prior = prior
        self.terms = y.size + (1 if prior.proper else 0)
        self.w0 = 1.0 / prior.sd**2 if prior.proper else 0.0
        self.log_v0 = 2.0 * math.log(prior.sd) if prior.proper else 0.0

    def evaluate(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """log p(y | τ), m(τ) and s²(τ) at every τ of a 1-d array."""
        total = self.v[None, :] + (tau * tau)[:, None]
        w = 1.0 / total
        sum_w = w.sum(axis=1) + self.w0
        mean = (w @ self.y + self.w0 * self.prior.mean) / sum_w
        resid = self.y[None, :] - mean[:, None]
        quad = (w * resid * resid).sum(axis=1)
        if self.prior.proper:
            quad = quad + self.w0 * (self.prior.mean - mean) ** 2
        logdet = np.log(total).sum(axis=1) + self.log_v0
        loglik = -0.5 * ((self.terms - 1) * _LOG_2PI + logdet + quad + np.log(sum_w))
        return loglik, mean, 1.0 / sum_w

    def score(self, tau: float) -> float:
        """d log p(y | τ) / dτ = 2τ · [½ Σ w_i² r_i² − ½ Σ (w_i − w_i²/Σw)] over the studies
        (the restricted-likelihood score in τ², Harville 1977; the prior term has no τ)."""
        return float(self.scores(np.array([float(tau)]))[0])

    def scores(self, tau: np.ndarray) -> np.ndarray:
        """`score` at every τ of a 1-d array."""
        w = 1.0 / (self.v[None, :] + (tau * tau)[:, None])
        sum_w = w.sum(axis=1) + self.w0
        mean = (w @ self.y + self.w0 * self.prior.mean) / sum_w
        resid = self.y[None, :] - mean[:, None]
        w2 = w * w
        d_tau2 = 0.5 * (w2 * resid * resid).sum(axis=1) - 0.5 * (
            w.sum(axis=1) - w2.sum(axis=1) / sum_w)
        return 2.0 * tau * d_tau2


# --- the integral over tau ---------------------------------------------------------------------

class TauPosterior:
    """p(τ | y) ∝ p(τ) p(y | τ), integrated by adaptive Gauss-Legendre quadrature.

    Two segments. Above t₁ the integral is taken in u = log τ, with integrand
    h(u) = p(e^u) p(y | e^u) e^u, which falls like a power of τ beyond the data's and the
    prior's scales; a scan of u finds where h exceeds e^-50 of its maximum (and its peak u*;
    t₁ = e^(u* − 2)). From the prior's lower bound up to t₁ the variable depends on the prior's
    density near 0: τ itself where it is finite (half-normal, half-t, exponential, uniform);
    the prior's probability q = F_prior(τ), with the bounded, smooth integrand p(y | F⁻¹(q)),
    where it is infinite (the log-Student-t prior of Rhodes et al., on which bayesmeta's
    integrate() fails); none where it vanishes faster than any power (log-normal), whose
    integrand in u falls off towards 0 within the scanned range. Each segment is cut into
    panels, and every panel is halved until the rule on it and the sum of the rules on its
    halves agree to RTOL (relative to the whole integral) for each of the integrals of the
    density, τ, τ², m and m² + s² against it; a moment whose integral diverges (τ² under a
    heavy-tailed prior with few studies) is left out and reported as inf. The final cells are
    the halves, each with `_GL_ORDER` nodes.
    """

    LINEAR, PROB, LOG = 0, 1, 2

    def __init__(self, model: Model, prior: TauPrior) -> None:
        self.model = model
        self.prior = prior
        self.notes: list[str] = []
        self._build()

    def log_h(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """log p(τ) + log p(y | τ) (not normalised), and m(τ), s²(τ)."""
        loglik, mean, var = self.model.evaluate(tau)
        with np.errstate(invalid="ignore"):
            return self.prior.logpdf(tau) + loglik, mean, var

    def _to_tau(self, x: np.ndarray, space: np.ndarray) -> np.ndarray:
        tau = np.where(space == self.LOG, np.exp(np.minimum(x, _LOG_TAU_CAP)), x)
        prob = space == self.PROB
        if prob.any():
            tau[prob] = self.prior.quantile(x[prob])
        return tau

    def _log_integrand(self, x: np.ndarray, space: np.ndarray):
        """log of the integrand in a cell's own variable x (τ, q or u), with τ, m and s²."""
        tau = self._to_tau(x, space)
        loglik, mean, var = self.model.evaluate(tau)
        log_f = loglik.copy()
        density = space != self.PROB
        if density.any():
            log_f[density] += self.prior.logpdf(tau[density])
        log_f += np.where(space == self.LOG, x, 0.0)
        return log_f, tau, mean, var

    # the range of u that carries the posterior
    def _scan(self) -> tuple[float, float, float, list[bool]]:
        sigma = np.sqrt(self.model.v)
        scales = [float(np.min(sigma)), float(np.max(sigma)), self.prior.median]
        if self.model.prior.proper:
            scales.append(self.model.prior.sd)
        low = math.log(min(scales)) - _SCAN_HALF_RANGE
        high = math.log(max(scales)) + _SCAN_HALF_RANGE
        if self.prior.lower > 0:
            low = math.log(self.prior.lower)
        if math.isfinite(self.prior.upper):
            high = math.log(self.prior.upper)
        count = max(int(math.ceil((high - low) / _SCAN_STEP)), 200)
        u = np.linspace(low, high, count + 1)
        values = self.log_h(np.exp(u))[0] + u
        bounded_above = math.isfinite(self.prior.upper)
        tails = [values + m * u for m in range(3)]
        if not bounded_above and any(t[-1] > t.max() - _NEGLIGIBLE for t in tails):
            # a slowly falling tail: follow it up to the largest tau whose square is finite
            extra = np.append(np.arange(high + 1.0, _LOG_TAU_CAP, 1.0), _LOG_TAU_CAP)
            u = np.concatenate([u, extra])
            values = np.concatenate([values, self.log_h(np.exp(extra))[0] + extra])
            tails = [values + m * u for m in range(3)]
        if not np.isfinite(values).any():
            raise ValueError("the posterior of tau is zero wherever it was evaluated: the "
                             "prior's support and the data do not overlap")
        finite = [True, True, True]
        starts, ends = [], []
        for m, tail in enumerate(tails):
            peak = tail.max()
            inside = np.flatnonzero(tail > peak - _NEGLIGIBLE)
            at_cap = (not bounded_above) and inside[-1] == u.size - 1
            if at_cap and tail[-1] > peak - _TAIL_TOLERATED:
                if m == 0:
                    raise ValueError("the posterior of tau falls off too slowly to be "
                                     "integrated (its tail is still above 1e-10 of its peak "
                                     "at tau = 1e150)")
                finite[m] = False
                continue
            if at_cap and m == 0:
                self.notes.append("tau's posterior has a slowly falling tail, integrated up "
                                  "to tau = 1e150; the mass beyond is below 1e-10")
            starts.append(u[max(inside[0] - 1, 0)])
            ends.append(u[min(inside[-1] + 1, u.size - 1)])
        peak_u = float(u[np.nanargmax(np.where(np.isfinite(values), values, -np.inf))])
        reference = float(np.max(values[np.isfinite(values)]))
        return peak_u, min(starts), max(ends), reference, finite

    def _rule(self, a: np.ndarray, b: np.ndarray, space: np.ndarray, reference: float):
        """Gauss-Legendre rules on the cells [a, b]: integrals of the five components (scaled
        by exp(−reference)) and of their absolute values, and the nodes."""
        half = 0.5 * (b - a)
        x = 0.5 * (a + b)[:, None] + half[:, None] * _GL_X[None, :]
        weights = half[:, None] * _GL_W[None, :]
        spaces = np.repeat(space, _GL_ORDER)
        log_f, tau, mean, var = self._log_integrand(x.ravel(), spaces)
        f = np.exp(log_f - reference)
        parts = np.stack([f, tau * f, tau * tau * f, mean * f, (mean * mean + var) * f],
                         axis=-1).reshape(*x.shape, 5)
        integral = np.einsum("pn,pnc->pc", weights, parts)
        absolute = np.einsum("pn,pnc->pc", weights, np.abs(parts))
        nodes = (log_f.reshape(x.shape), weights, tau.reshape(x.shape),
                 mean.reshape(x.shape), var.reshape(x.shape), a, b, space)
        return integral, absolute, nodes

    def _panels(self):
        peak_u, low, high, reference, finite = self._scan()
        lower = self.prior.lower
        t1 = math.exp(peak_u - 2.0)
        a_parts, b_parts, space_parts = [], [], []
        start = low
        first = {"finite": self.LINEAR, "infinite": self.PROB}.get(self.prior.at_zero)
        if first is not None and lower < t1 < self.prior.upper and math.log(t1) > low:
            if first == self.PROB:
                ends = np.array([0.0, float(self.prior.cdf(t1))])
            else:
                ends = np.array([lower, t1])
            middle = ends.mean()
            a_parts.append(np.array([ends[0], middle]))
            b_parts.append(np.array([middle, ends[1]]))
            space_parts.append(np.full(2, first))
            start = math.log(t1)
        high = max(high, start + 1e-6)
        count = max(int(math.ceil((high - start) / _INITIAL_PANEL)), 1)
        edges = np.linspace(start, high, count + 1)
        a_parts.append(edges[:-1])
        b_parts.append(edges[1:])
        space_parts.append(np.full(count, self.LOG))
        return (np.concatenate(a_parts), np.concatenate(b_parts),
                np.concatenate(space_parts), reference, finite)

    def _build(self) -> None:
        a, b, space, reference, finite = self._panels()
        self.moment_finite = finite
        # the components that decide where to halve; a divergent moment is left out
        columns = [0] + [m for m in (1, 2) if finite[m]] + [3, 4]
        whole = self._rule(a, b, space, reference)[0]
        accepted = []
        accepted_absolute = np.zeros(5)
        for _ in range(_MAX_ROUNDS):
            mid = 0.5 * (a + b)
            left, left_abs, left_cells = self._rule(a, mid, space, reference)
            right, right_abs, right_cells = self._rule(mid, b, space, reference)
            error = np.abs(whole - left - right)
            total = accepted_absolute + (left_abs + right_abs).sum(axis=0)
            small = (b - a) <= 1e-12 * np.maximum(np.abs(a), 1.0)
            bad = np.any(error[:, columns] > RTOL * total[columns], axis=1) & ~small
            for cells, absolute in ((left_cells, left_abs), (right_cells, right_abs)):
                accepted.append(tuple(part[~bad] for part in cells))
                accepted_absolute = accepted_absolute + absolute[~bad].sum(axis=0)
            if not bad.any():
                break
            a = np.concatenate([a[bad], mid[bad]])
            b = np.concatenate([mid[bad], b[bad]])
            space = np.concatenate([space[bad], space[bad]])
            whole = np.concatenate([left[bad], right[bad]])
        else:
            self.notes.append("the integration over tau stopped at its round limit before "
                              "reaching its accuracy")
        log_f, weights, tau, mean, var, cell_a, cell_b, cell_space = (
            np.concatenate([block[i] for block in accepted]) for i in range(8))
        # order the cells along tau: the probability cells first, each segment by its start
        order = np.lexsort((cell_a, cell_space))
        self.cell_a, self.cell_b = cell_a[order], cell_b[order]
        self.cell_space = cell_space[order]
        self.cell_tau_low = self._to_tau(self.cell_a, self.cell_space)
        log_mass = log_f[order] + np.log(weights[order])
        self.log_z = float(special.logsumexp(log_mass))
        mass = np.exp(log_mass - self.log_z)
        self.cell_mass = mass.sum(axis=1)
        self.cdf_at_cells = np.concatenate([[0.0], np.cumsum(self.cell_mass)])
        self.node_tau = tau[order].ravel()
        self.node_weight = mass.ravel()
        self.node_mean = mean[order].ravel()
        self.node_var = var[order].ravel()
        with np.errstate(divide="ignore", invalid="ignore"):
            self.node_log_density = self.logpdf(self.node_tau)
        self.n_nodes = self.node_tau.size

    # distribution functions of tau
    def logpdf(self, tau: Any) -> np.ndarray:
        tau = np.atleast_1d(np.asarray(tau, dtype=float))
        out = np.full(tau.shape, -np.inf)
        inside = (tau >= self.prior.lower) & (tau <= self.prior.upper)
        if inside.any():
            out[inside] = self.log_h(tau[inside])[0] - self.log_z
        return out

    def pdf(self, tau: Any) -> np.ndarray:
        return np.exp(self.logpdf(tau))

    def _partial(self, cell: np.ndarray, x: np.ndarray, with_density: bool = False):
        """∫ from the start of `cell` to x (in the cell's variable) of the normalised
        integrand (and, with `with_density`, the integrand at x, from the same evaluation)."""
        start = self.cell_a[cell]
        half = 0.5 * (x - start)
        nodes = 0.5 * (x + start)[:, None] + half[:, None] * _GL_X[None, :]
        if with_density:
            nodes = np.concatenate([nodes, x[:, None]], axis=1)
        spaces = np.repeat(self.cell_space[cell], nodes.shape[1])
        f = np.exp(self._log_integrand(nodes.ravel(), spaces)[0] - self.log_z)
        f = f.reshape(nodes.shape)
        integral = (f[:, :_GL_ORDER] @ _GL_W) * half
        return (integral, f[:, _GL_ORDER]) if with_density else integral

    def cdf(self, tau: Any, with_logpdf: bool = False):
        """P(τ' ≤ τ | y) (and, with `with_logpdf`, log p(τ | y) from the same evaluation of
        the model: the points themselves are evaluated in τ beside the partial integrals'
        nodes)."""
        tau = np.atleast_1d(np.asarray(tau, dtype=float))
        cell = np.clip(np.searchsorted(self.cell_tau_low, tau, side="right") - 1, 0,
                       self.cell_a.size - 1)
        space = self.cell_space[cell]
        with np.errstate(divide="ignore"):
            x = np.where(space == self.LOG, np.log(np.maximum(tau, 1e-300)),
                         np.where(space == self.PROB, self.prior.cdf(tau), tau))
        x = np.clip(x, self.cell_a[cell], self.cell_b[cell])
        start = self.cell_a[cell]
        half = 0.5 * (x - start)
        nodes = (0.5 * (x + start)[:, None] + half[:, None] * _GL_X[None, :]).ravel()
        spaces = np.repeat(space, _GL_ORDER)
        if with_logpdf:
            # in the linear space the integrand is log p(τ) + log p(y | τ) itself
            nodes = np.concatenate([nodes, tau])
            spaces = np.concatenate([spaces, np.full(tau.size, self.LINEAR)])
        with np.errstate(invalid="ignore"):
            log_f = self._log_integrand(nodes, spaces)[0] - self.log_z
        count = tau.size * _GL_ORDER
        partial = (np.exp(log_f[:count]).reshape(tau.size, _GL_ORDER) @ _GL_W) * half
        values = self.cdf_at_cells[cell] + partial
        values = np.where(tau <= self.prior.lower, 0.0, values)
        last = self.cell_space[-1] == self.LOG and tau >= np.exp(self.cell_b[-1])
        values = np.where(last, self.cdf_at_cells[-1], values)
        values = np.clip(values, 0.0, 1.0)
        if not with_logpdf:
            return values
        inside = (tau >= self.prior.lower) & (tau <= self.prior.upper)
        return values, np.where(inside, log_f[count:], -np.inf)

    def quantile(self, p: Any) -> np.ndarray:
        """τ with P(τ' ≤ τ | y) = p: the cell by the cumulative masses, then Newton's method
        in the cell's variable on the exact partial integral, kept inside the cell."""
        p = np.atleast_1d(np.asarray(p, dtype=float))
        target = np.clip(p, 0.0, 1.0) * self.cdf_at_cells[-1]
        cell = np.clip(np.searchsorted(self.cdf_at_cells, target, side="right") - 1, 0,
                       self.cell_a.size - 1)
        lo, hi = self.cell_a[cell].copy(), self.cell_b[cell].copy()
        base = self.cdf_at_cells[cell]
        mass = np.maximum(self.cell_mass[cell], 1e-300)
        x = lo + (hi - lo) * np.clip((target - base) / mass, 0.0, 1.0)
        width = hi - lo
        spaces = self.cell_space[cell]
        for _ in range(100):
            partial, slope = self._partial(cell, x, with_density=True)
            f = base + partial - target
            lo = np.where(f < 0, x, lo)
            hi = np.where(f > 0, x, hi)
            with np.errstate(divide="ignore", invalid="ignore"):
                new = x - f / slope
            small = np.abs(new - x) <= SOLVE_TOL * width
            outside = ~small & (~np.isfinite(new) | (new <= lo) | (new >= hi))
            new = np.where(outside, 0.5 * (lo + hi), new)
            done = small | (f == 0)
            x = new
            if done.all():
                break
        out = self._to_tau(x, spaces)
        out[p <= 0] = self.prior.lower
        out[p >= 1] = self.prior.upper
        return out

    def derivative(self, tau: float) -> float:
        """d log p(τ | y) / dτ."""
        return float(self.prior.dlogpdf(np.array(tau))) + self.model.score(tau)

    def derivatives(self, tau: np.ndarray) -> np.ndarray:
        """`derivative` at every τ of a 1-d array."""
        return self.prior.dlogpdf(tau) + self.model.scores(tau)

    def mode(self) -> float:
        """The maximum of p(τ | y) on the prior's support: a bound (0 when the density is
        infinite there, as bayesmeta takes it), or the root of the derivative next to the
        highest node."""
        candidates = {}
        for bound in (self.prior.lower, self.prior.upper):
            if math.isfinite(bound):
                value = float(self.logpdf(bound)[0])
                if value == math.inf:
                    return bound
                if math.isfinite(value):
                    candidates[bound] = value
        best = int(np.argmax(self.node_log_density))
        lo = self.node_tau[max(best - 1, 0)]
        hi = self.node_tau[min(best + 1, self.n_nodes - 1)]
        if 0 < lo < hi and self.derivative(lo) > 0 > self.derivative(hi):
            root = optimize.brentq(self.derivative, lo, hi, xtol=1e-300,
                                   rtol=4 * np.finfo(float).eps, maxiter=200)
            candidates[root] = float(self.logpdf(root)[0])
        elif not candidates:
            candidates[self.node_tau[best]] = float(self.node_log_density[best])
        return max(candidates, key=candidates.get)

    def shortest(self, level: float, quantiles: Any = None) -> tuple[float, float]:
        """The shortest interval of probability `level`: the narrower of [lower bound,
        Q(level)] and the interval [a, b] with r₁ = F(b) − F(a) − level = 0 and
        r₂ = log f(a) − log f(b) = 0 (Newton's method in (a, b) from the central interval,
        each step halved until it shrinks the residual and keeps lower < a < b).
        `quantiles`: Q((1 − level)/2), Q((1 + level)/2) and Q(level) when already known."""
        lower = self.prior.lower
        if quantiles is None:
            quantiles = self.quantile([(1 - level) / 2, (1 + level) / 2, level])
        low, high, top = (float(q) for q in quantiles)
        if self.logpdf(lower)[0] >= self.logpdf(top)[0] and math.isfinite(
                self.logpdf(lower)[0]):
            return lower, top

        def residual(a: float, b: float):
            cdf, log_f = self.cdf(np.array([a, b]), with_logpdf=True)
            r1, r2 = cdf[1] - cdf[0] - level, log_f[0] - log_f[1]
            return r1, r2, np.exp(log_f), abs(r1) + abs(r2) * level

        a, b = low, high
        r1, r2, f, size = residual(a, b)
        converged = False
        for _ in range(100):
            da, db = (float(d) for d in self.derivatives(np.array([a, b])))
            det = f[0] * db - f[1] * da   # of [[-f(a), f(b)], [d log f(a), -d log f(b)]]
            if det == 0 or not math.isfinite(det):
                break
            step_a = (-r1 * db - f[1] * r2) / det
            step_b = (-f[0] * r2 - da * r1) / det
            factor = 1.0
            while factor > 1e-12:
                new_a, new_b = a - factor * step_a, b - factor * step_b
                if lower < new_a < new_b < self.prior.upper:
                    trial = residual(new_a, new_b)
                    if trial[-1] <= size:
                        break
                factor /= 2.0
            else:
                break
            done = max(abs(new_a - a), abs(new_b - b)) <= SOLVE_TOL * b
            a, b = new_a, new_b
            r1, r2, f, size = trial
            if done or size == 0:
                converged = True
                break
        if converged and b - a < top - lower:
            return a, b
        return lower, top


# --- mixtures of normals -----------------------------------------------------------------------

class Mixtures:
    """r mixtures of normals sharing the weights W (n,), with means M (r, n) and SDs S (r, n):
    F_j(x) = Σ W_i Φ((x − M_ji)/S_ji). All methods work on all r at once; the solvers
    evaluate only the mixtures whose root is not yet found (`rows`)."""

    def __init__(self, weights: np.ndarray, means: np.ndarray, sds: np.ndarray) -> None:
        self.w = weights
        self.m = means
        self.s = sds
        self.inv_s = 1.0 / sds
        self.mean = means @ weights
        self.sd = np.sqrt(((means - self.mean[:, None]) ** 2 + sds * sds) @ weights)

    def _z(self, x: np.ndarray, rows: np.ndarray | None = None):
        """z = (x − M)/S of the mixtures `rows` (all when None), with 1/S."""
        if rows is None:
            m, inv_s = self.m, self.inv_s
        else:
            m, inv_s = self.m[rows], self.inv_s[rows]
        return (x[:, None] - m) * inv_s, inv_s

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return special.ndtr(self._z(x)[0]) @ self.w

    def pdf(self, x: np.ndarray) -> np.ndarray:
        z, inv_s = self._z(x)
        return (np.exp(-0.5 * z * z) * inv_s) @ self.w / SQRT_2PI

    def derivatives(self, x: np.ndarray, with_cdf: bool = False, second: bool = True,
                    rows: np.ndarray | None = None):
        """f, f' and f'' at x (F first, with `with_cdf`; no f'' without `second`), of the
        mixtures `rows` (all when None)."""
        z, inv_s = self._z(x, rows)
        phi = np.exp(-0.5 * z * z) * inv_s
        f = phi @ self.w / SQRT_2PI
        z_over_s = z * inv_s
        d1 = (-z_over_s * phi) @ self.w / SQRT_2PI
        out = [f, d1]
        if second:
            out.append(((z_over_s * z_over_s - inv_s * inv_s) * phi) @ self.w / SQRT_2PI)
        if with_cdf:
            out.insert(0, special.ndtr(z) @ self.w)
        return tuple(out)

    def quantile(self, p: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
        """x with F_j(x) = p_j, by Halley's method (Newton's step x − g/f for g = F − p,
        corrected by the density's slope f': divided by 1 − g f'/(2 f²), cubic convergence)
        kept inside the bracket that the iterates build (bisection once both ends are known,
        a step of one SD towards the root before)."""
        p = np.asarray(p, dtype=float)
        if start is None:
            start = self.mean + self.sd * special.ndtri(np.clip(p, 1e-300, 1 - 1e-16))
        x = np.asarray(start, dtype=float).copy()
        lo = np.full(x.shape, -np.inf)
        hi = np.full(x.shape, np.inf)
        tol = SOLVE_TOL * self.sd
        active = np.arange(x.size)
        for _ in range(300):
            xa = x[active]
            f, density, slope = self.derivatives(
                xa, with_cdf=True, second=False, rows=None if active.size == x.size else active)
            f = f - p[active]
            lo_a = np.where(f < 0, xa, lo[active])
            hi_a = np.where(f > 0, xa, hi[active])
            with np.errstate(divide="ignore", invalid="ignore"):
                newton = f / density
                correction = 1.0 - 0.5 * newton * slope / density
                # Halley's correction only where it is modest; Newton's step elsewhere
                new = xa - np.where((correction > 0.5) & (correction < 2.0),
                                    newton / correction, newton)
            small = np.abs(new - xa) <= tol[active]
            outside = ~small & (~np.isfinite(new) | (new <= lo_a) | (new >= hi_a))
            bracketed = np.isfinite(lo_a) & np.isfinite(hi_a)
            with np.errstate(invalid="ignore"):
                middle = 0.5 * (lo_a + hi_a)
            sd = self.sd[active]
            fallback = np.where(bracketed, middle, np.where(f < 0, xa + sd, xa - sd))
            x[active] = np.where(outside, fallback, new)
            lo[active], hi[active] = lo_a, hi_a
            # done: a step within the tolerance, or F − p at the rounding of a probability
            # (near 0 or 1 F is not monotone at that level, and the bracket may cross)
            rounding = (np.abs(f) <= _CDF_ROUNDING) | ~(lo_a < hi_a)
            active = active[~(small | rounding)]
            if active.size == 0:
                break
        return x

    def mode(self, start: np.ndarray) -> np.ndarray:
        """A local maximum of each density near `start` (the median): Newton's method on
        f'(x) = 0 inside a bracket where f' changes sign from + to −."""
        lo = start - 3.0 * self.sd
        hi = start + 3.0 * self.sd
        for _ in range(50):
            up_low = self.derivatives(lo, second=False)[1] <= 0
            down_high = self.derivatives(hi, second=False)[1] >= 0
            if not (up_low.any() or down_high.any()):
                break
            lo = np.where(up_low, lo - 3.0 * self.sd, lo)
            hi = np.where(down_high, hi + 3.0 * self.sd, hi)
        x = start.copy()
        tol = SOLVE_TOL * self.sd
        active = np.arange(x.size)
        for _ in range(200):
            xa = x[active]
            _, d1, d2 = self.derivatives(xa, rows=None if active.size == x.size else active)
            lo_a = np.where(d1 > 0, xa, lo[active])
            hi_a = np.where(d1 < 0, xa, hi[active])
            with np.errstate(divide="ignore", invalid="ignore"):
                new = xa - d1 / d2
            small = (np.abs(new - xa) <= tol[active]) & (d2 < 0)
            outside = ~small & (~np.isfinite(new) | (new <= lo_a) | (new >= hi_a) | (d2 >= 0))
            x[active] = np.where(outside, 0.5 * (lo_a + hi_a), new)
            lo[active], hi[active] = lo_a, hi_a
            active = active[~small]
            if active.size == 0:
                break
        return x

    def shortest(self, level: float, central: tuple[np.ndarray, np.ndarray]
                 ) -> tuple[np.ndarray, np.ndarray]:
        """The shortest intervals [a, b] of probability `level`: the roots of
        r₁ = F(b) − F(a) − level and r₂ = f(a) − f(b), by Newton's method in (a, b) (the
        Jacobian [[−f(a), f(b)], [f'(a), −f'(b)]]) from the central interval, each step halved
        until it shrinks the residual."""
        a, b = central[0].copy(), central[1].copy()
        rows_all = a.size

        def residual(a, b, rows):
            # both ends in one evaluation: the mixtures `rows` twice
            both = None if rows.size == rows_all else np.concatenate([rows, rows])
            if both is None:
                both = np.concatenate([np.arange(rows_all)] * 2)
            cdf, f, d = self.derivatives(np.concatenate([a, b]), with_cdf=True,
                                         second=False, rows=both)
            n = rows.size
            cdf_a, fa, da, cdf_b, fb, db = cdf[:n], f[:n], d[:n], cdf[n:], f[n:], d[n:]
            r1 = cdf_b - cdf_a - level
            r2 = fa - fb
            # both residuals as probabilities: r₂ times the interval's width
            size = np.abs(r1) + np.abs(r2) * (b - a)
            return r1, r2, fa, da, fb, db, size

        active = np.arange(rows_all)
        r1, r2, fa, da, fb, db, size = residual(a, b, active)
        for _ in range(100):
            tol = SOLVE_TOL * self.sd[active]
            aa, ba = a[active], b[active]
            det = (-fa) * (-db) - fb * da
            with np.errstate(divide="ignore", invalid="ignore"):
                step_a = (r1 * (-db) - fb * r2) / det
                step_b = ((-fa) * r2 - da * r1) / det
            step_a = np.where(np.isfinite(step_a), step_a, 0.0)
            step_b = np.where(np.isfinite(step_b), step_b, 0.0)
            # a step within the tolerance, or a residual at rounding level, is taken as it is
            tiny = (np.abs(step_a) <= tol) & (np.abs(step_b) <= tol)
            factor = np.ones_like(aa)
            for _ in range(40):
                new_a, new_b = aa - factor * step_a, ba - factor * step_b
                trial = residual(new_a, new_b, active)
                worse = ((trial[-1] > size) & (trial[-1] > _ROUNDING) & ~tiny
                         & (factor > 1e-12))
                if not worse.any():
                    break
                factor = np.where(worse, factor / 2.0, factor)
            done = (np.abs(new_a - aa) <= tol) & (np.abs(new_b - ba) <= tol)
            a[active], b[active] = new_a, new_b
            keep = ~done
            active = active[keep]
            if active.size == 0:
                break
            r1, r2, fa, da, fb, db, size = (part[keep] for part in trial)
        return a, b


def grid_density(weights: np.ndarray, means: np.ndarray, sds: np.ndarray,
                  x: np.ndarray) -> np.ndarray:
    """The density of one mixture Σ W_j N(means_j, sds_j²) at every point of x."""
    z = (x[:, None] - means[None, :]) / sds[None, :]
    return (np.exp(-0.5 * z * z) / sds[None, :]) @ weights / SQRT_2PI
