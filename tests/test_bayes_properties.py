"""Properties of `pool_bayes` and its priors that need no reference software: the posterior is
a proper distribution, the model's invariances, its limits, and agreement with an independent
quadrature (scipy's adaptive `quad`) of the same integrals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, stats

import metareview as mr
from metareview.stats import bayes_priors as priors
from metareview.stats.bayes import BayesResult, pool_bayes
from metareview.stats.bayes_integration import Model

# CrinsEtAl2014 (bayesmeta's example data): log odds ratios of acute rejection
CRINS_EVENTS = ([14, 16, 3, 9, 4, 0], [61, 28, 18, 54, 36, 50],
                [15, 19, 8, 29, 11, 3], [20, 28, 12, 54, 36, 34])


@pytest.fixture(scope="module")
def crins():
    ai, n1, ci, n2 = (np.array(x) for x in CRINS_EVENTS)
    es = mr.effect_sizes("OR", ai=ai, bi=n1 - ai, ci=ci, di=n2 - ci)
    return es["yi"].to_numpy(), es["vi"].to_numpy()


PRIORS = ["halfnormal(0.5)", "halft(0.5, 3)", "halfcauchy(1)", "exponential(rate=2)",
          "lognormal(-1.5, 0.8)", "uniform(0, 2)", "uniform(0.1, 1.5)",
          "turner(surgical, pharma, placebo / control)",
          "rhodes(resource use, non-pharma, non-pharma)"]


def quad(f, a, b, **extra):
    return integrate.quad(f, a, b, epsabs=0, epsrel=1e-13, limit=2000, **extra)[0]


def _conditional(y, v, tau, mu_prior):
    """log p(y | tau), m(tau) and s²(tau) in plain floats (for scipy's quad)."""
    terms = [(yi, vi + tau * tau) for yi, vi in zip(y, v)]
    if mu_prior is not None:
        terms.append((mu_prior[0], mu_prior[1] ** 2))
    sum_w = sum(1 / var for _, var in terms)
    mean = sum(value / var for value, var in terms) / sum_w
    loglik = -0.5 * ((len(terms) - 1) * math.log(2 * math.pi)
                     + sum(math.log(var) for _, var in terms)
                     + sum((value - mean) ** 2 / var for value, var in terms) + math.log(sum_w))
    return loglik, mean, 1 / sum_w


def reference_tau(y, v, prior_text, mu=None):
    """The normalising constant, median and mean of tau, P(mu <= x), the SD of mu and the
    shrinkage mean of the first study, by scipy's quad over log tau (split around the bulk),
    independently of pool_bayes's cells and nodes."""
    prior = priors.tau_prior(prior_text)
    y, v = list(map(float, y)), list(map(float, v))
    lo = math.log(prior.lower) if prior.lower > 0 else -80.0
    hi = math.log(prior.upper) if math.isfinite(prior.upper) else 12.0

    def h(u, power=0):
        tau = math.exp(u)
        loglik = _conditional(y, v, tau, mu)[0]
        return math.exp(float(prior.logpdf(np.array([tau]))[0]) + loglik + (1 + power) * u + 8)

    breaks = [b for b in (-6, -4, -3, -2, -1.5, -1, -0.5, 0, 0.5, 1) if lo < b < hi]
    z = quad(h, lo, hi, points=breaks)
    mean = quad(lambda u: h(u, 1), lo, hi, points=breaks) / z

    def cdf(x):
        return quad(h, lo, math.log(x)) / z

    median = optimize.brentq(lambda x: cdf(x) - 0.5, math.exp(lo) + 1e-12, math.exp(hi),
                             xtol=1e-15, rtol=1e-14)

    def mu_cdf(x):
        def part(u):
            _, mean_u, var_u = _conditional(y, v, math.exp(u), mu)
            return h(u) * 0.5 * math.erfc((mean_u - x) / math.sqrt(2 * var_u))
        return quad(part, lo, hi, points=breaks) / z

    def mixed(g):
        return quad(lambda u: h(u) * g(math.exp(u), *_conditional(y, v, math.exp(u), mu)[1:]),
                    lo, hi, points=breaks) / z

    mu_mean = mixed(lambda tau, m, s2: m)
    mu_sd = math.sqrt(mixed(lambda tau, m, s2: m * m + s2) - mu_mean**2)
    first = mixed(lambda tau, m, s2: (tau * tau * y[0] + v[0] * m) / (v[0] + tau * tau))
    return z, median, mean, mu_cdf, mu_sd, first


@pytest.mark.parametrize("prior", ["halfnormal(0.5)", "halfcauchy(1)", "exponential(rate=2)",
                                   "uniform(0.1, 1.5)", PRIORS[-2]])
def test_tau_and_mu_agree_with_an_independent_quadrature(crins, prior):
    y, v = crins
    r = pool_bayes(y, v, prior)
    z, median, mean, mu_cdf, mu_sd, first = reference_tau(y, v, prior)
    assert r.tau_median == pytest.approx(median, rel=1e-11)
    assert r.mu_sd == pytest.approx(mu_sd, rel=1e-11)
    assert r.shrinkage_mean[0] == pytest.approx(first, rel=1e-11)
    assert r.tau_mean == pytest.approx(mean, rel=1e-11)
    assert r.mu_cdf(r.mu_median) == pytest.approx(0.5, abs=1e-13)
    assert mu_cdf(r.mu_median) == pytest.approx(0.5, abs=1e-11)
    assert mu_cdf(0.0) == pytest.approx(r.p_mu_below_zero, rel=1e-10)


def test_marginal_likelihood_is_the_normalising_constant(crins):
    y, v = crins
    r = pool_bayes(y, v, "halfnormal(0.5)", mu_prior=(0, 4))
    z, *_ = reference_tau(y, v, "halfnormal(0.5)", mu=(0, 4))
    assert r.log_marginal_likelihood == pytest.approx(math.log(z) - 8, rel=1e-12)
    assert r.marginal_likelihood == pytest.approx(math.exp(r.log_marginal_likelihood))
    assert math.isnan(pool_bayes(y, v).marginal_likelihood)


@pytest.mark.parametrize("prior", PRIORS)
def test_posteriors_are_proper_distributions(crins, prior):
    y, v = crins
    r = pool_bayes(y, v, prior)
    assert r.support_weight.sum() == pytest.approx(1.0, abs=1e-14)
    assert np.all(r.support_weight >= 0)
    # the density of tau integrates to 1 over its support (split at the nodes' bulk)
    from metareview.stats.bayes_integration import TauPosterior
    post = TauPosterior(Model(y, v, priors.mu_prior(None)), priors.tau_prior(prior))
    lower, upper = post.prior.lower, min(post.prior.upper, 60.0)
    pieces = np.unique(np.clip([lower, r.tau_central_low, r.tau_median, r.tau_central_high,
                                3 * r.tau_central_high, upper], lower, upper))
    total = sum(quad(lambda t: float(post.pdf(t)[0]), a, b) for a, b in zip(pieces, pieces[1:]))
    assert total == pytest.approx(1.0, abs=1e-7 if "rhodes" in prior else 1e-10)
    # so do the densities of mu and of a new study's theta
    for predict in (False, True):
        mix = r._mixture(predict)
        density = quad(lambda x: float(mix.pdf(np.array([x]))[0]), -np.inf, np.inf)
        assert density == pytest.approx(1.0, abs=1e-10)
    # the CDF and the quantile function invert each other
    for p in (0.01, 0.3, 0.9):
        assert r.mu_cdf(r.mu_quantile(p)) == pytest.approx(p, abs=1e-13)
        assert float(post.cdf(post.quantile(p))[0]) == pytest.approx(p, abs=1e-12)


def test_intervals_hold_their_probability_and_the_shortest_is_shortest(crins):
    y, v = crins
    r = pool_bayes(y, v, "turner(surgical, pharma, placebo / control)", level=0.9)
    for lo, hi, predict in ((r.mu_shortest_low, r.mu_shortest_high, False),
                            (r.theta_shortest_low, r.theta_shortest_high, True),
                            (r.mu_central_low, r.mu_central_high, False)):
        assert r.mu_cdf(hi, predict) - r.mu_cdf(lo, predict) == pytest.approx(0.9, abs=1e-12)
    assert r.mu_cdf(r.mu_central_low) == pytest.approx(0.05, abs=1e-13)
    assert (r.mu_shortest_high - r.mu_shortest_low) < (r.mu_central_high - r.mu_central_low)
    assert (r.tau_shortest_high - r.tau_shortest_low) < (r.tau_central_high - r.tau_central_low)
    # the shortest interval of mu: no shift of its left end shortens it
    mix = r._mixture(False)
    def width(a):
        return mix.quantile(np.array([mix.cdf(np.array([a]))[0] + 0.9]))[0] - a
    best = width(r.mu_shortest_low)
    for shift in (-1e-3, 1e-3):
        assert width(r.mu_shortest_low + shift) > best
    # equal density at both ends
    ends = mix.pdf(np.array([r.mu_shortest_low])), mix.pdf(np.array([r.mu_shortest_high]))
    assert ends[0] == pytest.approx(ends[1], rel=1e-10)


def test_the_modes_are_maxima(crins):
    y, v = crins
    r = pool_bayes(y, v, "lognormal(-1.5, 0.8)")
    mix = r._mixture(False)
    peak = mix.pdf(np.array([r.mu_mode]))[0]
    for shift in (-1e-4, 1e-4):
        assert mix.pdf(np.array([r.mu_mode + shift]))[0] < peak
    from metareview.stats.bayes_integration import TauPosterior
    post = TauPosterior(Model(y, v, priors.mu_prior(None)),
                        priors.tau_prior("lognormal(-1.5, 0.8)"))
    assert post.derivative(r.tau_mode) == pytest.approx(0.0, abs=1e-8)
    assert float(post.pdf(r.tau_mode * 1.001)[0]) < float(post.pdf(r.tau_mode)[0])
    # a half-normal prior with homogeneous data: the density of tau is highest at 0
    flat = pool_bayes([0.1, 0.12, 0.09], [0.04, 0.05, 0.03], "halfnormal(0.5)")
    assert flat.tau_mode == 0.0
    assert flat.tau_shortest_low == 0.0


def test_a_vanishing_prior_scale_gives_the_fixed_effect_model(crins):
    y, v = crins
    fe = mr.pool(y, v, method="FE")
    r = pool_bayes(y, v, "halfnormal(1e-7)")
    assert r.mu_mean == pytest.approx(fe.estimate, rel=1e-10)
    assert r.mu_sd == pytest.approx(fe.se, rel=1e-10)
    assert r.mu_shortest_low == pytest.approx(fe.ci_low, rel=1e-9)
    assert r.mu_central_high == pytest.approx(fe.ci_high, rel=1e-9)
    assert r.p_mu_below_zero == pytest.approx(stats.norm.cdf(0, fe.estimate, fe.se), rel=1e-9)
    # every study is shrunk all the way to the common effect
    np.testing.assert_allclose(r.shrinkage_mean, fe.estimate, rtol=1e-9)
    # and the posterior of tau is the prior (the likelihood is flat on its scale)
    assert r.tau_median == pytest.approx(priors.half_normal(1e-7).median, rel=1e-9)


def test_location_invariance(crins):
    y, v = crins
    base = pool_bayes(y, v, "halfcauchy(0.5)", mu_prior=(-1, 3), threshold=-1)
    shifted = pool_bayes(y + 7.5, v, "halfcauchy(0.5)", mu_prior=(6.5, 3), threshold=6.5)
    for name in ("tau_median", "tau_mean", "tau_sd", "tau_mode", "mu_sd", "theta_sd",
                 "p_mu_above_threshold", "log_marginal_likelihood"):
        assert getattr(shifted, name) == pytest.approx(getattr(base, name), rel=1e-10), name
    for name in ("mu_median", "mu_mean", "mu_mode", "theta_median"):
        assert getattr(shifted, name) == pytest.approx(getattr(base, name) + 7.5,
                                                       abs=1e-10), name
    np.testing.assert_allclose([shifted.mu_shortest_low, shifted.mu_shortest_high],
                               np.add([base.mu_shortest_low, base.mu_shortest_high], 7.5),
                               atol=1e-10)
    np.testing.assert_allclose(shifted.shrinkage_median, base.shrinkage_median + 7.5,
                               atol=1e-10)


def test_scale_invariance(crins):
    y, v = crins
    c = 12.0
    base = pool_bayes(y, v, "halfnormal(0.5)", mu_prior=(0, 4))
    scaled = pool_bayes(c * y, c * c * v, "halfnormal(6)", mu_prior=(0, 48))
    for name in ("tau_median", "tau_mean", "tau_sd", "tau_mode", "mu_median", "mu_mean",
                 "mu_sd", "mu_mode", "theta_median", "theta_sd"):
        assert getattr(scaled, name) == pytest.approx(c * getattr(base, name), rel=1e-10), name
    np.testing.assert_allclose([scaled.tau_central_low, scaled.tau_central_high],
                               np.multiply([base.tau_central_low, base.tau_central_high], c),
                               rtol=1e-10)
    np.testing.assert_allclose(scaled.shrinkage_shortest_low,
                               c * base.shrinkage_shortest_low, rtol=1e-10)
    # the density of the data scales with the Jacobian c^-k
    assert scaled.log_marginal_likelihood == pytest.approx(
        base.log_marginal_likelihood - len(y) * math.log(c), rel=1e-11)
    assert scaled.p_mu_below_zero == pytest.approx(base.p_mu_below_zero, rel=1e-10)


def test_order_of_studies_does_not_matter(crins):
    y, v = crins
    order = [3, 0, 5, 1, 4, 2]
    a = pool_bayes(y, v, "exponential(0.4)")
    b = pool_bayes(y[order], v[order], "exponential(0.4)")
    for name in ("tau_median", "mu_median", "mu_shortest_low", "mu_shortest_high",
                 "theta_central_low", "theta_central_high"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-12)
    np.testing.assert_allclose(b.shrinkage_mean, a.shrinkage_mean[order], rtol=1e-12)


def test_one_study_leaves_the_prior_of_tau_unchanged():
    r = pool_bayes([0.4], [0.09], "halfnormal(0.5)")
    prior = priors.half_normal(0.5)
    assert r.tau_median == pytest.approx(prior.median, rel=1e-11)
    assert r.tau_mean == pytest.approx(0.5 * math.sqrt(2 / math.pi), rel=1e-11)
    assert r.mu_median == pytest.approx(0.4, abs=1e-12)
    assert "one study" in r.note
    # with a proper prior of mu the study does inform tau
    informed = pool_bayes([0.4], [0.09], "halfnormal(0.5)", mu_prior=(0, 0.5))
    assert informed.tau_median != pytest.approx(prior.median, rel=1e-3)


def test_a_heavy_tail_with_two_studies_has_infinite_moments(crins):
    y, v = crins
    r = pool_bayes(y[:2], v[:2], "halfcauchy(0.5)")
    assert r.tau_sd == math.inf and r.mu_sd == math.inf and r.theta_sd == math.inf
    assert math.isfinite(r.tau_mean) and math.isfinite(r.tau_median)
    assert "reported as inf" in r.note
    # a half-normal prior keeps every moment finite
    assert math.isfinite(pool_bayes(y[:2], v[:2], "halfnormal(0.5)").mu_sd)


def test_uniform_prior_keeps_tau_inside_its_range(crins):
    y, v = crins
    r = pool_bayes(y, v, "uniform(0.1, 0.3)")
    assert 0.1 <= r.tau_central_low < r.tau_median < r.tau_central_high <= 0.3
    assert r.tau_shortest_low >= 0.1 and r.tau_shortest_high <= 0.3
    assert r.grid_tau[0] == 0.1 and r.grid_tau[-1] <= 0.3


def test_probabilities_grids_and_summary(crins):
    y, v = crins
    r = pool_bayes(y, v, threshold=-1.0)
    assert r.p_mu_above_threshold == pytest.approx(1 - r.mu_cdf(-1.0), abs=1e-15)
    assert r.p_mu_below_zero == pytest.approx(r.mu_cdf(0.0), abs=1e-15)
    assert r.grid_effect.size == r.posterior_mu_density.size == r.predictive_theta_density.size
    assert np.all(np.isnan(r.prior_mu_density))
    step = r.grid_effect[1] - r.grid_effect[0]
    assert np.sum(r.predictive_theta_density) * step == pytest.approx(1.0, abs=2e-3)
    assert r.prior_tau_density[0] == pytest.approx(2 / (0.5 * math.sqrt(2 * math.pi)))
    assert r.estimate == r.mu_median and (r.ci_low, r.ci_high) == (r.mu_shortest_low,
                                                                  r.mu_shortest_high)
    text = r.summary()
    assert "half-normal(scale=0.5)" in text and f"{r.mu_median:.4f}" in text
    assert len(r.shrinkage_rows()) == 6
    assert isinstance(r, BayesResult) and r.to_frame().shape[0] == 1


def test_public_name(crins):
    y, v = crins
    assert mr.pool_bayes is pool_bayes
    assert mr.pool_bayes(y, v).tau_prior == "half-normal(scale=0.5)"


# --- the priors --------------------------------------------------------------------------------

@pytest.mark.parametrize("text", PRIORS)
def test_every_prior_is_a_normalised_density_with_its_cdf_and_quantiles(text):
    prior = priors.tau_prior(text)
    # the density integrates to its own CDF, up to the 99.9% quantile and over each half
    q_half, q_top = prior.quantile(np.array([0.5, 0.999]))
    if prior.at_zero == "infinite":   # the log-t: integrate in log tau
        def mass(a, b):
            def in_u(u):
                tau = math.exp(u)
                return 0.0 if tau == 0 else math.exp(float(prior.logpdf(np.array([tau]))[0]) + u)
            return quad(in_u, -np.inf if a == 0 else math.log(a), math.log(b))
    else:
        def mass(a, b):
            return quad(lambda t: float(prior.pdf(np.array([t]))[0]), a, b)
    assert mass(prior.lower, q_half) == pytest.approx(0.5, abs=1e-9)
    assert mass(q_half, q_top) == pytest.approx(0.499, abs=1e-9)
    p = np.array([0.05, 0.5, 0.95])
    np.testing.assert_allclose(prior.cdf(prior.quantile(p)), p, atol=1e-13)
    tau = prior.quantile(np.array([0.3]))
    step = 1e-6 * tau
    slope = (prior.logpdf(tau + step) - prior.logpdf(tau - step)) / (2 * step)
    assert prior.dlogpdf(tau)[0] == pytest.approx(slope[0], rel=1e-6)


def test_text_forms_of_the_priors():
    assert priors.tau_prior("halfnormal(0.5)") == priors.half_normal(0.5)
    assert priors.tau_prior("Half-Normal( scale = 0.5 )") == priors.half_normal(0.5)
    assert priors.tau_prior("halft(1, df=4)") == priors.half_student_t(1, 4)
    assert priors.tau_prior("halfcauchy(2)").parameters == {"scale": 2.0, "df": 1.0}
    assert priors.tau_prior("exponential(rate=4)").parameters == {"scale": 0.25}
    assert priors.tau_prior("uniform(0, 3)").upper == 3.0
    turner = priors.tau_prior("turner(cause-specific, pharmacological, placebo / control)")
    assert turner.parameters == {"meanlog": -3.71 / 2, "sdlog": 1.74 / 2}
    assert turner.label.startswith("Turner 2015 (cause-specific mortality")
    assert priors.tau_prior("turner").parameters == {"meanlog": -1.28, "sdlog": 0.87}
    assert priors.tau_prior("rhodes").parameters == {"location": -1.72, "scale": 1.295,
                                                     "df": 5.0}
    assert priors.mu_prior(None).proper is False
    assert priors.mu_prior("normal(0, 4)") == priors.MuPrior(0.0, 4.0)
    assert priors.mu_prior((1, 2)) == priors.MuPrior(1.0, 2.0)


@pytest.mark.parametrize("text, message", [
    ("halfnormal(-1)", "must be a finite number > 0"),
    ("normal(0.5)", "unknown tau prior"),
    ("halfnormal(0.5, 2)", "at most 1 arguments"),
    ("halfnormal(size=2)", "has no argument 'size'"),
    ("uniform(2, 1)", "0 <= low < high"),
    ("turner(s, pharma, placebo)", "matches several"),
    ("turner(mortality of cats)", "unknown Turner outcome"),
    ("rhodes(obstetric, placebo, placebo)", "not a comparison"),
    ("halfnormal(abc)", "must be a number"),
    ("exponential(scale=1, rate=2)", "either its scale"),
])
def test_invalid_priors_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        priors.tau_prior(text)


def test_invalid_input_is_refused(crins):
    y, v = crins
    with pytest.raises(ValueError, match="vi is -1"):
        pool_bayes([0.1, 0.2], [0.1, -1])
    with pytest.raises(ValueError, match="level"):
        pool_bayes(y, v, level=1.2)
    with pytest.raises(ValueError, match="mu prior"):
        pool_bayes(y, v, mu_prior="cauchy(0, 1)")
    with pytest.raises(ValueError, match="standard deviation > 0"):
        pool_bayes(y, v, mu_prior=(0, 0))



def test_mixture_quantiles_stop_at_the_rounding_of_a_probability(crins, monkeypatch):
    """Far in a tail F(x) − p has the rounding of a probability (1e-16), which can move x by
    more than 1e-13 of the SD: the solvers stop there instead of stepping back and forth (in
    the fit of CrinsEtAl2014 the 99.95% quantile of a new study's theta, the end of the
    plotting grid, once did so for 300 steps)."""
    from metareview.stats.bayes_integration import Mixtures

    y, v = crins
    calls = []
    original = Mixtures.derivatives

    def counted(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Mixtures, "derivatives", counted)
    r = pool_bayes(y, v, "halfnormal(0.5)")
    # quantiles, shortest intervals and modes of all mixtures together (19 evaluations)
    assert len(calls) <= 30
    monkeypatch.undo()
    ends = r.grid_effect[[0, -1]]
    np.testing.assert_allclose([r.mu_cdf(e, predict=True) for e in ends], [0.0005, 0.9995],
                               rtol=0, atol=1e-15)
