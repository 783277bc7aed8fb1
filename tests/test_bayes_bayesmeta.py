"""`pool_bayes` against R's bayesmeta 3.4 (Röver 2020, doi 10.18637/jss.v093.i06).

Reference values: tests/fixtures/bayesmeta/bayesmeta.json, made by make_bayesmeta_fixtures.R in
the same folder (each case stores its exact R call; the file records the R, bayesmeta, metafor
and metadat versions). Every bayesmeta fit there uses delta = 1e-5, epsilon = 1e-7. R is never
needed to run these tests.

Tolerances, and why each is what it is (every difference below was measured on these cases):

- tau (median, mean, SD, equal-tailed interval, density and CDF at fixed points) and the
  marginal likelihood: bayesmeta integrates tau's posterior with integrate() at a relative
  1.5e-11 and solves quantiles with uniroot at 1.5e-11, as exact as our quadrature; they agree
  to 3e-12 (relative), compared at TAU_RTOL = 1e-10.
- mu and a new study's theta (median, mean, equal-tailed interval, CDF, P(mu < 0)):
  bayesmeta's marginals are its DIRECT mixture, whose error at delta = 1e-5 is of order 1e-6;
  the differences are 1e-8 to 4.4e-6 of the posterior SD, compared at MIXTURE_TOL = 5e-6 of
  the SD. Looser, because the grid is: SDs and densities (relative, 7.2e-6 and 1.2e-5) at
  1e-5 and 2e-5; the shrinkage estimates of single studies, whose conditional means move
  faster with tau than mu's (1.7e-5 of the largest SD; up to 2.6e-5 for their modes), at
  SHRINKAGE_TOL = 3e-5; and the SDs of mu and theta under the half-t(3) prior with three
  studies (4.4e-5, 7.7e-5), whose posterior tail beyond the epsilon = 1e-7 quantile the grid
  leaves out, at 1e-4. That these are bayesmeta's errors and not ours: the same quantities
  from scipy's quad agree with ours to 1e-14 and differ from bayesmeta's by the same amounts
  (tests/test_bayes_properties.py checks the quadrature).
- Modes and shortest intervals: bayesmeta finds them with optimize() at its default tolerance
  (about 1.2e-4), so its reported values are up to 8e-5 of the SD away; the fixture recomputes
  them from the same bayesmeta object with optimize(tol = 1e-12) (`tight`), compared at
  MIXTURE_TOL (modes, with DIRECT's error on a flat maximum: 6.2e-6, at MODE_TOL = 1e-5), and
  bayesmeta's own values at REPORTED_TOL = 1e-4 of the SD. tau's mode at 1e-7 (relative): a
  maximum found by golden section is only as precise as the square root of the density's
  rounding (measured 5.5e-8).
- The Rhodes et al. prior: bayesmeta 3.4 stops on it (its density is infinite at tau = 0 and
  integrate() reports a divergent integral; the error is stored in the fixture), so that case
  is compared with R's integrate() over log tau on the whole line at 1e-9.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from metareview.stats import bayes_priors as priors
from metareview.stats.bayes import pool_bayes

FIXTURES = json.loads(
    (Path(__file__).parent / "fixtures" / "bayesmeta" / "bayesmeta.json").read_text())
CASES = FIXTURES["cases"]

TAU_RTOL = 1e-10
TAU_MODE_RTOL = 1e-7
MIXTURE_TOL = 5e-6
MODE_TOL = 1e-5
SD_RTOL = 1e-5
DENSITY_RTOL = 2e-5
SHRINKAGE_TOL = 3e-5
HEAVY_TAIL_SD_RTOL = 1e-4
HEAVY_TAIL_CASES = ("three_studies",)
REPORTED_TOL = 1e-4
ML_RTOL = 1e-12
RHODES_RTOL = 1e-9


def interval(result, name: str) -> tuple[float, float]:
    """The interval `name` of a result, read from its two fields `<name>_low`, `<name>_high`."""
    return getattr(result, f"{name}_low"), getattr(result, f"{name}_high")


def fit(case):
    mu_prior = case["ours"]["mu_prior"]
    return pool_bayes(case["y"], np.square(case["sigma"]), tau_prior=case["ours"]["tau_prior"],
                      mu_prior=None if mu_prior is None else tuple(mu_prior))


@pytest.fixture(scope="module")
def fits():
    return {case["name"]: fit(case) for case in CASES}


def ids(cases):
    return [case["name"] for case in cases]


def test_fixture_records_versions_calls_and_tight_accuracy():
    assert FIXTURES["bayesmeta_version"] == "3.4"
    assert FIXTURES["metafor_version"] == "3.8.1"
    assert FIXTURES["r_version"].startswith("R version 4.2")
    assert FIXTURES["accuracy"] == "delta=1e-05, epsilon=1e-07"
    for case in CASES:
        assert case["call"].startswith("bayesmeta(es, tau.prior=")
        assert case["call"].endswith("delta=1e-05, epsilon=1e-07)")
    names = set(ids(CASES))
    assert {"crins_halfnormal", "crins_turner", "bcg_halfcauchy", "bcg_normal_mu",
            "two_studies", "three_studies"} <= names
    assert [len(c["y"]) for c in CASES if c["name"] == "two_studies"] == [2]
    assert [len(c["y"]) for c in CASES if c["name"] == "three_studies"] == [3]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_tau_equals_bayesmeta(case, fits):
    r = fits[case["name"]]
    s = case["summary"]["tau"]
    assert r.tau_median == pytest.approx(s["median"], rel=TAU_RTOL)
    assert r.tau_mean == pytest.approx(s["mean"], rel=TAU_RTOL)
    assert r.tau_sd == pytest.approx(s["sd"], rel=TAU_RTOL)
    np.testing.assert_allclose(interval(r, "tau_central"), case["central"]["tau"], rtol=TAU_RTOL)
    from metareview.stats.bayes_integration import Model, TauPosterior
    mu_prior = case["ours"]["mu_prior"]
    post = TauPosterior(Model(np.array(case["y"]), np.square(case["sigma"]),
                              priors.mu_prior(None if mu_prior is None else tuple(mu_prior))),
                        priors.tau_prior(case["ours"]["tau_prior"]))
    np.testing.assert_allclose(post.pdf(np.array(case["tau_points"])), case["tau_density"],
                               rtol=TAU_RTOL)
    np.testing.assert_allclose(post.cdf(np.array(case["tau_points"])), case["tau_cdf"],
                               rtol=TAU_RTOL)
    tight = case["tight"]
    assert r.tau_mode == pytest.approx(tight["tau_mode"], rel=TAU_MODE_RTOL, abs=1e-12)
    np.testing.assert_allclose(interval(r, "tau_shortest"), tight["tau_shortest"],
                               rtol=TAU_MODE_RTOL, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_mu_and_theta_equal_bayesmeta(case, fits):
    r = fits[case["name"]]
    sd_rtol = HEAVY_TAIL_SD_RTOL if case["name"] in HEAVY_TAIL_CASES else SD_RTOL
    for parameter in ("mu", "theta"):
        s = case["summary"][parameter]
        tol = MIXTURE_TOL * s["sd"]
        assert getattr(r, f"{parameter}_median") == pytest.approx(s["median"], abs=tol)
        assert getattr(r, f"{parameter}_mean") == pytest.approx(s["mean"], abs=tol)
        assert getattr(r, f"{parameter}_sd") == pytest.approx(s["sd"], rel=sd_rtol)
        np.testing.assert_allclose(interval(r, f"{parameter}_central"),
                                   case["central"][parameter], rtol=0, atol=tol)
        tight = case["tight"]
        assert getattr(r, f"{parameter}_mode") == pytest.approx(tight[f"{parameter}_mode"],
                                                                abs=MODE_TOL * s["sd"])
        np.testing.assert_allclose(interval(r, f"{parameter}_shortest"),
                                   tight[f"{parameter}_shortest"], rtol=0, atol=tol)
        # bayesmeta's own summary: its optimize() stops at a looser tolerance
        assert getattr(r, f"{parameter}_mode") == pytest.approx(s["mode"],
                                                                abs=REPORTED_TOL * s["sd"])
        np.testing.assert_allclose(interval(r, f"{parameter}_shortest"),
                                   (s["lower"], s["upper"]), rtol=0,
                                   atol=REPORTED_TOL * s["sd"])
    mix = r._mixture(False)
    np.testing.assert_allclose(mix.pdf(np.array(case["mu_points"])), case["mu_density"],
                               rtol=DENSITY_RTOL)
    np.testing.assert_allclose(mix.cdf(np.array(case["mu_points"])), case["mu_cdf"], rtol=0,
                               atol=MIXTURE_TOL)
    assert r.p_mu_below_zero == pytest.approx(case["p_mu_below_zero"], abs=MIXTURE_TOL)


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_shrinkage_equals_bayesmeta(case, fits):
    r = fits[case["name"]]
    s = case["shrinkage"]
    tol = SHRINKAGE_TOL * max(s["sd"])
    pairs = [(r.shrinkage_mean, s["mean"]), (r.shrinkage_median, s["median"]),
             (r.shrinkage_central_low, s["central_lower"]),
             (r.shrinkage_central_high, s["central_upper"]),
             (r.shrinkage_mode, case["tight"]["shrinkage_mode"]),
             (r.shrinkage_shortest_low, case["tight"]["shrinkage_shortest_lower"]),
             (r.shrinkage_shortest_high, case["tight"]["shrinkage_shortest_upper"])]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=tol)
    np.testing.assert_allclose(r.shrinkage_sd, s["sd"], rtol=SHRINKAGE_TOL)
    np.testing.assert_allclose(r.study_y, case["y"], rtol=1e-15)


@pytest.mark.parametrize("case", [c for c in CASES if c["marginal_likelihood"] is not None],
                         ids=ids([c for c in CASES if c["marginal_likelihood"] is not None]))
def test_marginal_likelihood_equals_bayesmeta(case, fits):
    r = fits[case["name"]]
    assert r.marginal_likelihood == pytest.approx(case["marginal_likelihood"], rel=ML_RTOL)


def test_improper_prior_of_mu_has_no_marginal_likelihood(fits):
    for case in CASES:
        if case["ours"]["mu_prior"] is None:
            assert case["marginal_likelihood"] is None
            assert math.isnan(fits[case["name"]].marginal_likelihood)


def test_default_accuracy_of_bayesmeta_is_much_looser():
    """At bayesmeta's default delta = 0.01 its mu is about 1e-4 to 1e-3 (relative to the SD)
    from the tight fit, which ours matches to 1e-6: the reason the fixtures use delta = 1e-5."""
    default = FIXTURES["default_accuracy"]
    case = next(c for c in CASES if c["name"] == "crins_halfnormal")
    ours = fit(case)
    sd = case["summary"]["mu"]["sd"]
    off_default = abs(default["summary"]["mu"]["median"] - ours.mu_median) / sd
    off_tight = abs(case["summary"]["mu"]["median"] - ours.mu_median) / sd
    assert off_default > 10 * off_tight
    assert default["support_points"] < case["support_points"]
    # tau does not depend on delta
    assert default["summary"]["tau"]["median"] == pytest.approx(ours.tau_median, rel=TAU_RTOL)


def test_rhodes_prior_against_integrate_where_bayesmeta_stops():
    case = FIXTURES["rhodes_reference"]
    assert "divergent" in case["bayesmeta_error"]
    prior = priors.tau_prior(case["ours"]["tau_prior"])
    assert [prior.parameters["location"], prior.parameters["scale"]] == pytest.approx(
        case["prior_tau_parameters"])
    r = pool_bayes(case["y"], np.square(case["sigma"]), tau_prior=prior)
    tau = case["tau"]
    assert r.tau_median == pytest.approx(tau["median"], rel=RHODES_RTOL)
    assert r.tau_mean == pytest.approx(tau["mean"], rel=RHODES_RTOL)
    assert r.tau_sd == pytest.approx(tau["sd"], rel=RHODES_RTOL)
    np.testing.assert_allclose(interval(r, "tau_central"), tau["central"], rtol=RHODES_RTOL)
    for parameter in ("mu", "theta"):
        ref = case[parameter]
        assert getattr(r, f"{parameter}_mean") == pytest.approx(ref["mean"], rel=RHODES_RTOL)
        assert getattr(r, f"{parameter}_sd") == pytest.approx(ref["sd"], rel=RHODES_RTOL)
        assert getattr(r, f"{parameter}_median") == pytest.approx(ref["median"],
                                                                  rel=RHODES_RTOL)
        np.testing.assert_allclose(interval(r, f"{parameter}_central"), ref["central"],
                                   rtol=RHODES_RTOL)
    assert r.p_mu_below_zero == pytest.approx(case["mu"]["p_below_zero"], rel=RHODES_RTOL)
    assert r.tau_mode == 0.0  # the density is infinite at 0


def test_preset_tables_equal_bayesmeta():
    turner = FIXTURES["presets"]["turner"]
    assert list(priors.TURNER_OUTCOMES) == turner["outcomes"]
    assert list(priors.TURNER_COMPARISONS) == turner["comparisons"]
    np.testing.assert_array_equal(priors._TURNER_MEAN, turner["mean"])
    np.testing.assert_array_equal(priors._TURNER_SD, turner["sd"])
    assert list(priors._TURNER_ANY) == turner["any"]
    rhodes = FIXTURES["presets"]["rhodes"]
    assert list(priors.RHODES_OUTCOMES) == rhodes["outcomes"]
    assert list(priors.RHODES_COMPARISONS) == rhodes["comparisons"]
    for area, location, scale in zip(rhodes["areas"], rhodes["location"], rhodes["scale"]):
        np.testing.assert_array_equal(priors._RHODES_LOCATION[area], location)
        np.testing.assert_array_equal(priors._RHODES_SCALE[area], scale)
    assert list(priors._RHODES_ANY) == rhodes["any"]
    examples = FIXTURES["presets"]["examples"]
    turner_prior = priors.turner_prior("surgical", "pharma", "placebo / control")
    assert [turner_prior.parameters["meanlog"], turner_prior.parameters["sdlog"]] == \
        pytest.approx(examples["turner"]["tau"], rel=1e-15)
    rhodes_prior = priors.rhodes_prior("resource use", "non-pharma", "non-pharma")
    assert [rhodes_prior.parameters["location"], rhodes_prior.parameters["scale"]] == \
        pytest.approx(examples["rhodes"]["tau"], rel=1e-15)
