r"""Bayesian random-effects meta-analysis by numerical integration (R's bayesmeta).

`pool_bayes(yi, vi, tau_prior, mu_prior)` computes the posterior of the normal-normal
hierarchical model exactly, up to a stated quadrature accuracy, without sampling: the
heterogeneity τ is integrated numerically and the effect μ given τ is normal, so every
marginal posterior is a mixture of normals. Results equal those of R's bayesmeta 3.4 (Röver
2020) run at tight accuracy; the priors are in `metareview.stats.bayes_priors`.

References
----------
Röver C (2020). Bayesian random-effects meta-analysis using the bayesmeta R package. Journal
of Statistical Software 93(6):1-51. doi:10.18637/jss.v093.i06.

Röver C, Friede T (2017). Discrete approximation of a mixture distribution via restricted
divergence. Journal of Computational and Graphical Statistics 26(1):217-222.
doi:10.1080/10618600.2016.1276840.

Friede T, Röver C, Wandel S, Neuenschwander B (2017). Meta-analysis of few small studies in
orphan diseases. Biometrical Journal 59(4):658-671. doi:10.1002/bimj.201500236.

Turner RM et al. (2015), doi:10.1002/sim.6381; Rhodes KM et al. (2015),
doi:10.1016/j.jclinepi.2014.08.012; Röver C et al. (2021), doi:10.1002/jrsm.1475: see
`metareview.stats.bayes_priors`.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from metareview.stats.bayes_integration import (
    PRUNE,
    RTOL,
    Mixtures,
    Model,
    TauPosterior,
    grid_density,
)
from metareview.stats.bayes_priors import MuPrior, TauPrior, mu_prior as as_mu_prior
from metareview.stats.bayes_priors import tau_prior as as_tau_prior
from metareview.stats.checks import check_study_data
from metareview.stats.results import ResultMixin, result_class

__all__ = ["BayesResult", "pool_bayes", "DEFAULT_TAU_PRIOR", "RTOL"]

DEFAULT_TAU_PRIOR = "halfnormal(0.5)"

_GRID_POINTS = 201

K1_NOTE = ("one study and a uniform prior of mu: the data say nothing about tau, so its "
           "posterior is its prior, and mu's posterior is the study's estimate widened by tau")


# --- the result --------------------------------------------------------------------------------

@result_class
class BayesResult(ResultMixin):
    r"""The posterior of the normal-normal hierarchical model (bayesmeta's summary and more).

    Scale: every effect (μ, θ, shrinkage estimates, grids) is on the scale of ``yi``; ratio
    measures stay on the log scale.

    Attributes
    ----------
    k : int
        Number of studies.
    tau_prior, mu_prior : str
        The priors in words.
    level : float
        Probability of every interval (bayesmeta's 95%).
    tau_mode, tau_median, tau_mean, tau_sd : float
        Posterior mode, median, mean and standard deviation of the heterogeneity τ (mean and
        SD are inf when the posterior's moment diverges, as with a half-Cauchy prior and two
        studies, or its tail is still not negligible at τ = 1e150).
    tau_central_low, tau_central_high, tau_shortest_low, tau_shortest_high : float
        Equal-tailed and shortest intervals of τ (the shortest starts at 0 when the density is
        highest there).
    mu_mode, mu_median, mu_mean, mu_sd, mu_central_low, mu_central_high, mu_shortest_low,
    mu_shortest_high : float
        The same for the overall effect μ: posterior mode, median, mean, SD, equal-tailed and
        shortest credible intervals.
    theta_mode, theta_median, theta_mean, theta_sd, theta_central_low, theta_central_high,
    theta_shortest_low, theta_shortest_high : float
        The same for θ_new, the effect of a new study (the posterior predictive distribution:
        θ_new | μ, τ ~ N(μ, τ²)); its intervals are prediction intervals.
    p_mu_below_zero : float
        P(μ < 0 | y).
    threshold, p_mu_above_threshold : float
        A threshold c and P(μ > c | y).
    study_y, study_se : ndarray
        The studies' estimates and standard errors, as given.
    shrinkage_mode, shrinkage_median, shrinkage_mean, shrinkage_sd : ndarray
        Per study, the posterior of its own true effect θ_i (the "shrinkage estimate").
    shrinkage_central_low, shrinkage_central_high, shrinkage_shortest_low,
    shrinkage_shortest_high : ndarray
        Per study, the equal-tailed and the shortest interval of θ_i.
    marginal_likelihood, log_marginal_likelihood : float
        p(y) = ∫∫ p(y | μ, τ) p(μ) p(τ) dμ dτ, defined only when both priors are proper (nan
        for the improper uniform prior of μ, as in bayesmeta).
    grid_tau, prior_tau_density, posterior_tau_density : ndarray
        Densities of τ on a grid from the prior's lower bound to the posterior's 99.9%
        quantile, for plotting.
    grid_effect, prior_mu_density, posterior_mu_density, predictive_theta_density : ndarray
        Densities of μ (prior: nan when improper) and of θ_new on one grid of effects (the
        predictive 0.05% to 99.95% quantiles).
    support_tau, support_weight, support_mean, support_sd : ndarray
        The mixture behind every marginal: quadrature nodes τ_j with posterior weights W_j
        (summing to 1) and the conditional posterior μ | τ_j, y ~ N(mean_j, sd_j²); so
        p(μ | y) = Σ W_j N(μ; mean_j, sd_j²) and θ_new adds τ_j² to each variance
        (bayesmeta's ``support``).
    n_nodes : int
        Number of quadrature nodes over τ.
    accuracy : float
        The relative accuracy asked of each integral over τ (RTOL).
    note : str
        Special cases (one study; moments that diverge; a slowly falling tail).
    """

    k: int
    tau_prior: str
    mu_prior: str
    level: float
    tau_mode: float
    tau_median: float
    tau_mean: float
    tau_sd: float
    tau_central_low: float
    tau_central_high: float
    tau_shortest_low: float
    tau_shortest_high: float
    mu_mode: float
    mu_median: float
    mu_mean: float
    mu_sd: float
    mu_central_low: float
    mu_central_high: float
    mu_shortest_low: float
    mu_shortest_high: float
    theta_mode: float
    theta_median: float
    theta_mean: float
    theta_sd: float
    theta_central_low: float
    theta_central_high: float
    theta_shortest_low: float
    theta_shortest_high: float
    p_mu_below_zero: float
    threshold: float
    p_mu_above_threshold: float
    marginal_likelihood: float
    log_marginal_likelihood: float
    study_y: np.ndarray
    study_se: np.ndarray
    shrinkage_mode: np.ndarray
    shrinkage_median: np.ndarray
    shrinkage_mean: np.ndarray
    shrinkage_sd: np.ndarray
    shrinkage_central_low: np.ndarray
    shrinkage_central_high: np.ndarray
    shrinkage_shortest_low: np.ndarray
    shrinkage_shortest_high: np.ndarray
    grid_tau: np.ndarray
    prior_tau_density: np.ndarray
    posterior_tau_density: np.ndarray
    grid_effect: np.ndarray
    prior_mu_density: np.ndarray
    posterior_mu_density: np.ndarray
    predictive_theta_density: np.ndarray
    support_tau: np.ndarray
    support_weight: np.ndarray
    support_mean: np.ndarray
    support_sd: np.ndarray
    n_nodes: int
    accuracy: float
    note: str = ""

    # the names a frequentist result has, for tables that show both
    @property
    def estimate(self) -> float:
        """The posterior median of μ."""
        return self.mu_median

    @property
    def ci_low(self) -> float:
        """Lower end of the shortest credible interval of μ (bayesmeta's default)."""
        return self.mu_shortest_low

    @property
    def ci_high(self) -> float:
        return self.mu_shortest_high

    @property
    def pi_low(self) -> float:
        """Lower end of the shortest prediction interval of θ_new."""
        return self.theta_shortest_low

    @property
    def pi_high(self) -> float:
        return self.theta_shortest_high

    def _mixture(self, predict: bool) -> Mixtures:
        sd = (np.sqrt(self.support_sd**2 + self.support_tau**2) if predict
              else self.support_sd)
        return Mixtures(self.support_weight, self.support_mean[None, :], sd[None, :])

    def mu_cdf(self, x: float, predict: bool = False) -> float:
        """P(μ ≤ x | y), or P(θ_new ≤ x | y) with `predict`."""
        return float(self._mixture(predict).cdf(np.array([float(x)]))[0])

    def mu_quantile(self, p: float, predict: bool = False) -> float:
        """The p-quantile of μ (or of θ_new with `predict`)."""
        return float(self._mixture(predict).quantile(np.array([float(p)]))[0])

    def shrinkage_rows(self) -> list[dict[str, float]]:
        """One dict per study: y, se and the summaries of θ_i (for a table)."""
        rows = []
        for i in range(self.k):
            rows.append({
                "y": float(self.study_y[i]), "se": float(self.study_se[i]),
                "mode": float(self.shrinkage_mode[i]),
                "median": float(self.shrinkage_median[i]),
                "mean": float(self.shrinkage_mean[i]), "sd": float(self.shrinkage_sd[i]),
                "central_low": float(self.shrinkage_central_low[i]),
                "central_high": float(self.shrinkage_central_high[i]),
                "shortest_low": float(self.shrinkage_shortest_low[i]),
                "shortest_high": float(self.shrinkage_shortest_high[i]),
            })
        return rows

    def summary(self, digits: int = 4) -> str:
        """The posterior summary as text (as bayesmeta's print and summary)."""
        width = digits + 9

        def number(value: float) -> str:
            text = f"{value:.{digits}f}" if math.isfinite(value) else str(value)
            return f"{text:>{width}}"

        percent = f"{100 * self.level:g}%"
        lines = [
            f"Bayesian random-effects meta-analysis of {self.k} "
            f"stud{'y' if self.k == 1 else 'ies'} (normal-normal hierarchical model)",
            f"  prior of tau: {self.tau_prior}",
            f"  prior of mu:  {self.mu_prior}",
            "",
            f"{'':<24}{'tau':>{width}}{'mu':>{width}}{'theta (new)':>{width}}",
        ]
        parameters = ("tau", "mu", "theta")
        for name in ("mode", "median", "mean", "sd"):
            lines.append(f"{name:<24}" + "".join(number(getattr(self, f"{p}_{name}"))
                                                 for p in parameters))
        for title, name in (("shortest", "shortest"), ("equal-tailed", "central")):
            for end, field in (("lower", "low"), ("upper", "high")):
                label = f"{percent} {title} {end}"
                lines.append(f"{label:<24}" + "".join(
                    number(getattr(self, f"{p}_{name}_{field}")) for p in parameters))
        lines += [
            "",
            f"P(mu < 0) = {self.p_mu_below_zero:.4g}; P(mu > {self.threshold:g}) = "
            f"{self.p_mu_above_threshold:.4g}",
            "marginal likelihood: " + (f"{self.marginal_likelihood:.6g}"
                                       if math.isfinite(self.marginal_likelihood)
                                       else "not defined (improper prior of mu)"),
            f"integration over tau: {self.n_nodes} nodes, relative accuracy {self.accuracy:g}",
        ]
        if self.note:
            lines.append(f"note: {self.note}")
        return "\n".join(lines)


# --- the fit -----------------------------------------------------------------------------------

def _check_level(level: float) -> float:
    level = float(level)
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (exclusive), not {level}")
    return level


def pool_bayes(yi: Sequence[float], vi: Sequence[float],
               tau_prior: TauPrior | str = DEFAULT_TAU_PRIOR,
               mu_prior: MuPrior | str | tuple[float, float] | None = None,
               level: float = 0.95, threshold: float = 0.0) -> BayesResult:
    r"""Bayesian random-effects meta-analysis: the posterior of the normal-normal model.

    The equivalent of R's ``bayesmeta(y=yi, sigma=sqrt(vi), tau.prior=..., mu.prior=...)``
    (bayesmeta 3.4, Röver 2020), computed by numerical integration over τ to a stated
    accuracy instead of bayesmeta's DIRECT discretisation.

    Parameters
    ----------
    yi : sequence of float
        Effect estimates (log scale for ratio measures).
    vi : sequence of float
        Their sampling variances σ_i² (> 0).
    tau_prior : TauPrior or str, default "halfnormal(0.5)"
        The prior of the heterogeneity τ: a `TauPrior` from `metareview.stats.bayes_priors`
        (``half_normal``, ``half_student_t``, ``half_cauchy``, ``exponential``,
        ``log_normal``, ``log_student_t``, ``uniform``, ``turner_prior``, ``rhodes_prior``) or
        its text form, e.g. ``"halfnormal(0.5)"``, ``"halfcauchy(1)"``,
        ``"turner(surgical, pharmacological, placebo / control)"``,
        ``"rhodes(resource use, non-pharmacological, non-pharmacological)"``. The default,
        half-normal with scale 0.5, is the weakly informative prior of Friede et al. (2017)
        and Röver et al. (2021) for log odds ratios; for a mean difference scale it to the
        outcome's unit.
    mu_prior : None, "uniform", (mean, sd), "normal(mean, sd)" or MuPrior
        The prior of μ: improper uniform (None, the default) or normal.
    level : float, default 0.95
        Probability of the credible and prediction intervals.
    threshold : float, default 0
        c of the reported P(μ > c | y).

    Returns
    -------
    BayesResult
        Posterior summaries of τ, μ and θ_new, probabilities, shrinkage estimates, the marginal
        likelihood, densities on grids and the mixture behind them (see `BayesResult`).

    Raises
    ------
    ValueError
        For invalid studies (as `metareview.pool`), an unknown or invalid prior, a level
        outside (0, 1).

    Notes
    -----
    **Model** (Röver 2020, Section 2):

    .. math:: y_i \mid \theta_i \sim N(\theta_i, \sigma_i^2), \quad
              \theta_i \mid \mu, \tau \sim N(\mu, \tau^2), \quad
              p(\mu, \tau) = p(\mu)\, p(\tau),

    with p(μ) ∝ 1 or N(μ₀, s₀²).

    **μ given τ.** With w_i(τ) = 1/(σ_i² + τ²), and for a normal prior the extra term
    (y₀, w₀) = (μ₀, 1/s₀²),

    .. math:: \mu \mid \tau, y \sim N\Bigl(m(\tau) = \frac{\sum_j w_j y_j}{\sum_j w_j},\;
              s^2(\tau) = \frac{1}{\sum_j w_j}\Bigr).

    **τ.** The marginal posterior is p(τ | y) = p(τ) p(y | τ) / Z with, over the K terms,

    .. math:: \log p(y \mid \tau) = -\tfrac12\Bigl[(K-1)\log 2\pi + \sum_j \log w_j^{-1}
              + \sum_j w_j (y_j - m)^2 + \log \sum_j w_j\Bigr],

    and Z = ∫ p(τ) p(y | τ) dτ, which is the marginal likelihood p(y) when both priors are
    proper. Z, the moments of τ and the mixture weights below come from adaptive
    Gauss-Legendre quadrature over u = log τ, and below the posterior's bulk over τ or over
    the prior's probability F_prior(τ) (10 nodes per cell, cells halved until each integral's
    rule on a cell and on its halves agree to a relative 1e-11; see
    `metareview.stats.bayes_integration.TauPosterior`). Quantiles of τ solve F(τ) = p inside
    a cell by Newton's method on the exact partial integral; the mode solves
    d log p(τ | y)/dτ = 0 (or is a bound of the prior's support, 0 when the density is
    infinite there).

    **Marginals of μ and θ.** With nodes τ_j and posterior weights W_j (Σ W_j = 1),

    .. math:: p(\mu \mid y) = \sum_j W_j\, N(\mu; m(\tau_j), s^2(\tau_j)), \quad
              p(\theta_\text{new} \mid y) = \sum_j W_j\, N(\theta; m(\tau_j),
              s^2(\tau_j) + \tau_j^2),

    the quadrature of the exact integrals ∫ p(τ | y) N(· ; m(τ), s²(τ)) dτ; bayesmeta
    approximates the same integrals by its DIRECT grid (Röver & Friede 2017), whose error is
    set by its ``delta`` (1e-3 relative in the quantiles of μ at its default 0.01). Means and
    SDs are those of the mixtures; medians, equal-tailed limits, modes (Newton on f' = 0 from
    the median) and shortest intervals (f(a) = f(b) with F(b) − F(a) = level) are solved to
    a relative 1e-13 of the SD, or (quantiles far in a tail) until F − p is at the rounding of
    a probability, 4 machine epsilons.

    **Shrinkage.** Study i's true effect given τ (Röver 2020, Section 2.4): with
    B_i = σ_i²/(σ_i² + τ²),

    .. math:: \theta_i \mid \tau, y \sim N\bigl((1 - B_i) y_i + B_i m(\tau),\;
              (1 - B_i)\sigma_i^2 + B_i^2 s^2(\tau)\bigr),

    mixed over τ as above.

    With one study the data carry no information on τ (p(y | τ) is constant under the uniform
    prior of μ), so its posterior equals its prior.
    """
    y, v = check_study_data(yi, vi)
    level = _check_level(level)
    threshold = float(threshold)
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, not {threshold}")
    tau_p = as_tau_prior(tau_prior)
    mu_p = as_mu_prior(mu_prior)
    model = Model(y, v, mu_p)
    post = TauPosterior(model, tau_p)
    notes = list(post.notes)
    if y.size == 1 and not mu_p.proper:
        notes.append(K1_NOTE)
    alpha = 1.0 - level

    # tau
    # every quantile of tau in one solve: median, central interval, the shortest interval's
    # fallback [lower, Q(level)] and the top of the plotting grid
    tau_median, tau_lo, tau_hi, tau_top, grid_top = post.quantile(
        [0.5, alpha / 2, 1 - alpha / 2, level, 0.999])
    tau_w = post.node_weight
    tau_mean = float(tau_w @ post.node_tau) if post.moment_finite[1] else math.inf
    if post.moment_finite[1] and post.moment_finite[2]:
        tau_sd = float(math.sqrt(max(tau_w @ (post.node_tau - tau_mean) ** 2, 0.0)))
    else:
        tau_sd = math.inf
    if not post.moment_finite[2]:
        # s²(τ) grows like τ²/k, so the variances of μ and θ_new diverge with that of τ
        which = "mean and SD" if not post.moment_finite[1] else "SD"
        notes.append(f"the posterior {which} of tau, and the SDs of mu and of a new study's "
                     "theta, are reported as inf: the posterior's tail is too heavy for them "
                     "to be finite (or to be integrated to 1e150) with this prior and this "
                     "number of studies")
    tau_short = post.shortest(level, (tau_lo, tau_hi, tau_top))

    # the mixtures of mu, theta_new and each study's theta_i
    tau_j, mean_j, var_j = post.node_tau, post.node_mean, post.node_var
    shrink = v[:, None] / (v[:, None] + (tau_j * tau_j)[None, :])
    study_mean = (1 - shrink) * y[:, None] + shrink * mean_j[None, :]
    study_var = (1 - shrink) * v[:, None] + shrink * shrink * var_j[None, :]
    means = np.vstack([mean_j, mean_j, study_mean])
    sds = np.sqrt(np.vstack([var_j, var_j + tau_j * tau_j, study_var]))
    # means and SDs from every node: a light node far out in tau's tail still adds to the
    # variance; quantiles, modes and intervals from the mixture without its lightest nodes
    # (of total weight PRUNE, so no probability moves by more than that)
    moments = Mixtures(tau_w, means, sds)
    order = np.argsort(tau_w)
    keep = np.zeros(tau_w.size, dtype=bool)
    keep[order[np.cumsum(tau_w[order]) > PRUNE]] = True
    weights = tau_w[keep] / tau_w[keep].sum()
    means, sds = means[:, keep], sds[:, keep]
    mixtures = Mixtures(weights, means, sds)
    rows = means.shape[0]
    # every quantile in one solve: medians and central intervals of all rows, and the ends of
    # the plotting grid of effects (θ_new's 0.05% and 99.95% quantiles)
    stacked = Mixtures(weights, np.vstack([means] * 3 + [means[[1, 1]]]),
                       np.vstack([sds] * 3 + [sds[[1, 1]]]))
    solved = stacked.quantile(np.concatenate([np.repeat([0.5, alpha / 2, 1 - alpha / 2], rows),
                                              [0.0005, 0.9995]]))
    medians, central_low, central_high = np.split(solved[:-2], 3)
    short_low, short_high = mixtures.shortest(level, (central_low, central_high))
    modes = mixtures.mode(medians)
    mu_only = Mixtures(weights, means[:1], sds[:1])
    p_below_zero, p_below_threshold = (float(mu_only.cdf(np.array([0.0]))[0]),
                                       float(mu_only.cdf(np.array([threshold]))[0]))

    # grids for plotting
    grid_top = float(grid_top)
    if math.isfinite(tau_p.upper):
        grid_top = min(grid_top, tau_p.upper)
    grid_tau = np.linspace(tau_p.lower, grid_top, _GRID_POINTS)
    grid_effect = np.linspace(solved[-2], solved[-1], _GRID_POINTS)
    posterior_mu = grid_density(weights, means[0], sds[0], grid_effect)
    predictive = grid_density(weights, means[1], sds[1], grid_effect)

    proper = mu_p.proper
    log_ml = post.log_z if proper else math.nan
    return BayesResult(
        k=int(y.size),
        tau_prior=tau_p.label,
        mu_prior=mu_p.label,
        level=level,
        tau_mode=float(post.mode()),
        tau_median=float(tau_median),
        tau_mean=tau_mean,
        tau_sd=tau_sd,
        tau_central_low=float(tau_lo),
        tau_central_high=float(tau_hi),
        tau_shortest_low=float(tau_short[0]),
        tau_shortest_high=float(tau_short[1]),
        mu_mode=float(modes[0]),
        mu_median=float(medians[0]),
        mu_mean=float(moments.mean[0]),
        mu_sd=float(moments.sd[0]) if post.moment_finite[2] else math.inf,
        mu_central_low=float(central_low[0]),
        mu_central_high=float(central_high[0]),
        mu_shortest_low=float(short_low[0]),
        mu_shortest_high=float(short_high[0]),
        theta_mode=float(modes[1]),
        theta_median=float(medians[1]),
        theta_mean=float(moments.mean[1]),
        theta_sd=float(moments.sd[1]) if post.moment_finite[2] else math.inf,
        theta_central_low=float(central_low[1]),
        theta_central_high=float(central_high[1]),
        theta_shortest_low=float(short_low[1]),
        theta_shortest_high=float(short_high[1]),
        p_mu_below_zero=p_below_zero,
        threshold=threshold,
        p_mu_above_threshold=1.0 - p_below_threshold,
        marginal_likelihood=math.exp(log_ml) if proper else math.nan,
        log_marginal_likelihood=log_ml,
        study_y=y,
        study_se=np.sqrt(v),
        shrinkage_mode=modes[2:],
        shrinkage_median=medians[2:],
        shrinkage_mean=moments.mean[2:],
        shrinkage_sd=moments.sd[2:],
        shrinkage_central_low=central_low[2:],
        shrinkage_central_high=central_high[2:],
        shrinkage_shortest_low=short_low[2:],
        shrinkage_shortest_high=short_high[2:],
        grid_tau=grid_tau,
        prior_tau_density=tau_p.pdf(grid_tau),
        posterior_tau_density=post.pdf(grid_tau),
        grid_effect=grid_effect,
        prior_mu_density=mu_p.pdf(grid_effect),
        posterior_mu_density=posterior_mu,
        predictive_theta_density=predictive,
        support_tau=tau_j,
        support_weight=tau_w,
        support_mean=mean_j,
        support_sd=np.sqrt(var_j),
        n_nodes=int(post.n_nodes),
        accuracy=RTOL,
        note="; ".join(notes),
    )
