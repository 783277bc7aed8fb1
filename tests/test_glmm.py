"""`pool_glmm` against metafor 3.8-1 rma.glmm(measure="PLO") fitted through lme4 1.1-31.

Reference values: tests/fixtures/metafor/glmm.json, made by make_glmm_fixtures.R in the same
folder (each case stores its exact R call and the R, metafor and lme4 versions). R is never
needed to run these tests.

Tolerances, and why they are not 1e-6 as for `pool`:

- The quadrature approximation itself agrees with lme4 to better than 2e-8 (relative):
  `test_deviance_function_matches_lme4` evaluates lme4's own deviance function at fixed
  parameters. What differences remain come from lme4: the Cholesky factor that enters the
  deviance is computed with the working weights of the penultimate PIRLS iteration, not at the
  conditional modes (checked in R: lme4's stored log-determinant differs from
  Σ log(1 + θ²w_i) at its own final fitted values), which shifts its objective by up to ~3e-7.
- The fits are made with tight control (bobyqa, rhoend = 1e-12, tolPwrss = 1e-12), so lme4's
  optimiser is not what limits agreement (with the default Nelder-Mead stage the estimates are
  ~1e-5 away). The optimum moves with the objective's error, and lme4's standard error comes from
  a finite-difference Hessian (step 1e-4) of that slightly noisy objective. Measured worst cases:
  SE relative 5e-5 for the Laplace approximation (nAGQ = 1; the constructed 0/n, n/n data),
  2.2e-6 with nAGQ = 7. Hence RTOL = 1e-4 for nAGQ = 1 and 1e-5 for nAGQ = 7: tighter than the
  1e-4 at which lme4's default optimiser stops, with a margin of 2 to 4 over what was measured.
- Derived quantities are compared on their natural scale, so that the tolerance means the same
  thing everywhere: interval limits on the logit scale relative to |estimate| + half-width (a
  limit near 0 has no relative precision), p values through their z statistic.
- The heterogeneity tests do not depend on the GLMM fit and agree to 1e-12, except metafor's
  Wald statistic, which inverts a covariance matrix with condition number up to 2e11 when a study
  has 0 or n events; it is compared at 1e-5 to metafor and at 1e-12 to the same statistic
  computed in R without the inversion (stored in the fixture).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, special, stats

import metareview as mr
from metareview.stats.glmm import GlmmResult, _Binomial, pool_glmm

FIXTURES = json.loads(
    (Path(__file__).parent / "fixtures" / "metafor" / "glmm.json").read_text()
)
CASES = FIXTURES["cases"]

RTOL = {1: 1e-4, 7: 1e-5}
TIGHT = 1e-12
DEVIANCE_RTOL = 2e-8
WALD_VS_METAFOR_RTOL = 1e-5

RELATIVE_FIELDS = ("estimate", "se", "statistic", "tau2", "tau", "i2", "h2", "loglik",
                   "loglik_marginal", "pred")
EXACT_FIELDS = ("k", "q_df", "nagq")
LOGIT_LIMITS = ("ci_low", "ci_high")
PROPORTION_LIMITS = ("pred_ci_low", "pred_ci_high", "pi_low", "pi_high")
LRT_FIELDS = ("q_lrt", "q_lrt_pval")
EVERY_FIELD = (RELATIVE_FIELDS + EXACT_FIELDS + LOGIT_LIMITS + PROPORTION_LIMITS + LRT_FIELDS
               + ("q", "q_pval", "pval"))
# The fixture keeps the names of metafor's output (zval, QE.Wld as qe_wald, ...); the result
# uses the package's vocabulary (metareview.stats.vocabulary.RESULT_FIELDS).
FIXTURE_KEY = {"statistic": "zval", "q_df": "qe_df", "q": "qe_wald", "q_pval": "qe_wald_pval",
               "q_lrt": "qe_lrt", "q_lrt_pval": "qe_lrt_pval"}


def key(field: str) -> str:
    return FIXTURE_KEY.get(field, field)


def case_id(case: dict) -> str:
    return f"{case['dataset']}-nAGQ{case['nagq']}-level{case['level']}"


@pytest.fixture(scope="module")
def fits() -> dict[str, GlmmResult]:
    return {case_id(c): pool_glmm(c["xi"], c["ni"], nagq=c["nagq"], level=c["level"])
            for c in CASES}


def test_fixture_records_versions_calls_and_tight_control():
    assert FIXTURES["metafor_version"] == "3.8.1"
    assert FIXTURES["lme4_version"] == "1.1.31"
    assert FIXTURES["r_version"].startswith("R version 4.2.2")
    for case in CASES:
        assert case["call"].startswith('rma.glmm(measure="PLO"')
        assert f"nAGQ={case['nagq']}" in case["call"]
        assert "rhoend=1e-12" in case["call"] and "tolPwrss=1e-12" in case["call"]
        assert case["glmer"]["optimizer_convergence"] == 0
    covered = {(c["dataset"], c["nagq"]) for c in CASES}
    assert covered >= {(d, q) for d in ("pritz", "zeros", "tau0") for q in (1, 7)}


def test_every_result_field_is_compared():
    assert {key(f) for f in EVERY_FIELD} == set(FIXTURES["cases"][0]["result"])
    assert set(EVERY_FIELD) <= {f for f in GlmmResult.__dataclass_fields__}


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matches_metafor(case, fits):
    result = fits[case_id(case)]
    expected = case["result"]
    rtol = RTOL[case["nagq"]]
    label = case["call"]
    for field in EXACT_FIELDS:
        assert getattr(result, field) == expected[key(field)], f"{field} ({label})"
    for field in RELATIVE_FIELDS:
        # tau² (and tau, I²) of the tau0 case are exactly 0 in both
        assert getattr(result, field) == pytest.approx(expected[key(field)], rel=rtol, abs=1e-12), \
            f"{field} ({label})"
    crit = stats.norm.isf((1 - case["level"]) / 2)
    mu, se, tau2 = expected["estimate"], expected["se"], expected["tau2"]
    ci_scale = abs(mu) + crit * se
    pi_scale = abs(mu) + crit * math.sqrt(se**2 + tau2)
    for field in LOGIT_LIMITS:
        assert getattr(result, field) == pytest.approx(expected[field], abs=rtol * ci_scale), \
            f"{field} ({label})"
    for field in PROPORTION_LIMITS:
        scale = pi_scale if field.startswith("pi_") else ci_scale
        assert special.logit(getattr(result, field)) == pytest.approx(
            special.logit(expected[key(field)]), abs=rtol * scale), f"{field} ({label})"
    # p = 2Φ(−|z|) moves by 2φ(z)Δz, with |Δz| <= rtol·|z|
    z = expected["zval"]
    assert result.pval == pytest.approx(
        expected["pval"], rel=1e-12, abs=2 * stats.norm.pdf(z) * rtol * abs(z)), label
    for field in LRT_FIELDS:
        assert getattr(result, field) == pytest.approx(
            expected[key(field)], rel=TIGHT, abs=1e-15), \
            f"{field} ({label})"
    for field in ("q", "q_pval"):
        assert getattr(result, field) == pytest.approx(
            expected[key(field)], rel=WALD_VS_METAFOR_RTOL), f"{field} ({label})"
    assert result.q == pytest.approx(case["wald_check"]["qe_wald_from_glm"], rel=TIGHT)
    assert result.q_pval == pytest.approx(
        stats.chi2.sf(case["wald_check"]["qe_wald_from_glm"], expected["qe_df"]), rel=TIGHT)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_deviance_function_matches_lme4(case):
    """The adaptive quadrature itself, at fixed (tau, mu): lme4's devFunOnly deviance."""
    model = _Binomial(np.array(case["xi"], float), np.array(case["ni"], float), case["nagq"])
    # lme4's Laplace deviance (nAGQ = 1) is absolute (−2 log L); with nAGQ > 1 it is relative
    # to the saturated binomial model, as _Binomial.deviance always is.
    offset = -2.0 * model.ll_saturated if case["nagq"] == 1 else 0.0
    for point in case["deviance_points"]:
        value = model.deviance(point["tau"], point["mu"]) + offset
        assert value == pytest.approx(point["deviance"], rel=DEVIANCE_RTOL), point


def test_boundary_case_reports_tau2_zero():
    case = next(c for c in CASES if c["dataset"] == "tau0" and c["nagq"] == 7)
    assert case["glmer"]["theta"] == 0
    result = pool_glmm(case["xi"], case["ni"])
    assert result.tau2 == 0.0 and result.tau == 0.0 and result.i2 == 0.0 and result.h2 == 1.0
    assert (result.pi_low, result.pi_high) == (result.pred_ci_low, result.pred_ci_high)
    assert "lower bound 0" in result.note


def test_tau2_zero_gives_logit_of_pooled_proportion_by_hand():
    # x = (2, 3, 5), n = (10, 10, 20): Σx = 10, Σn = 40, p̄ = 10/40 = 0.25.
    # With tau² = 0 the model is one binomial proportion, whose ML estimate is p̄:
    #   μ̂ = logit(0.25) = log(0.25/0.75) = log(1/3) = −1.0986122886681098,
    #   Var(μ̂) = 1/(Σn · p̄(1 − p̄)) = 1/(40 · 0.25 · 0.75) = 1/7.5, SE = 0.3651483716701107.
    # The data are homogeneous: Σ[(x_i − n_i p̄)² − n_i p̄(1 − p̄)]
    #   = (0.5² + 0.5² + 0²) − 7.5 = −7 < 0, the score for tau² at 0 points below 0, so the
    # ML fit of tau² is 0 and the fit must be exactly the hand values.
    x, n = [2, 3, 5], [10, 10, 20]
    mu_hand = math.log(1 / 3)
    se_hand = 1 / math.sqrt(7.5)
    for nagq in (1, 7):
        model = _Binomial(np.array(x, float), np.array(n, float), nagq)
        value, gradient = model.deviance(0.0, mu_hand, gradient=True)
        # dD/dμ at tau = 0 is 2 Σ(n_i p − x_i) = 2(40 · 0.25 − 10) = 0
        assert gradient[1] == pytest.approx(0.0, abs=1e-12)
        assert value < model.deviance(0.0, mu_hand + 1e-3)
        assert value < model.deviance(0.0, mu_hand - 1e-3)
        result = pool_glmm(x, n, nagq=nagq)
        assert result.tau2 == 0.0
        assert result.estimate == pytest.approx(mu_hand, rel=1e-14)
        assert result.se == pytest.approx(se_hand, rel=1e-14)
        assert result.pred == pytest.approx(0.25, rel=1e-14)
        # at tau = 0 both log-likelihoods are the binomial one at p̄
        ll_hand = float(np.sum(stats.binom.logpmf(x, n, 0.25)))
        assert result.loglik == pytest.approx(ll_hand, rel=1e-12)
        assert result.loglik_marginal == pytest.approx(ll_hand, rel=1e-12)


def test_many_quadrature_points_reproduce_the_exact_marginal_likelihood():
    """Independent check of the AGQ formula: numerical integration of the binomial-normal
    likelihood with scipy's adaptive quadrature, at the dat.pritz1997 fit."""
    case = next(c for c in CASES if c["dataset"] == "pritz")
    x, n = np.array(case["xi"], float), np.array(case["ni"], float)
    tau, mu = 0.77, 1.38
    exact = 0.0
    for xi, ni in zip(x, n):
        log_choose = math.lgamma(ni + 1) - math.lgamma(xi + 1) - math.lgamma(ni - xi + 1)

        def integrand(u, xi=xi, ni=ni, log_choose=log_choose):
            eta = mu + tau * u    # log p = −log(1 + e^−η), log(1 − p) = −log(1 + e^η)
            return math.exp(log_choose - xi * math.log1p(math.exp(-eta))
                            - (ni - xi) * math.log1p(math.exp(eta)) - u * u / 2) \
                / math.sqrt(2 * math.pi)
        exact += math.log(integrate.quad(integrand, -12, 12, epsabs=0, epsrel=1e-13)[0])
    model = _Binomial(x, n, 30)
    approx = model.ll_saturated - 0.5 * model.deviance(tau, mu)
    assert approx == pytest.approx(exact, rel=1e-10)
    laplace = _Binomial(x, n, 1)
    assert laplace.ll_saturated - 0.5 * laplace.deviance(tau, mu) != pytest.approx(exact,
                                                                                    rel=1e-4)


def test_studies_with_zero_or_all_events_enter_without_correction():
    case = next(c for c in CASES if c["dataset"] == "zeros" and c["nagq"] == 7)
    x, n = np.array(case["xi"]), np.array(case["ni"])
    assert {0} <= set(x) and np.any(x == n)
    result = pool_glmm(x, n)
    # events and non-events swapped: the logit changes sign, nothing else changes
    swapped = pool_glmm(n - x, n)
    assert swapped.estimate == pytest.approx(-result.estimate, rel=1e-9)
    assert swapped.se == pytest.approx(result.se, rel=1e-7)
    assert swapped.tau2 == pytest.approx(result.tau2, rel=1e-9)
    assert swapped.pred == pytest.approx(1 - result.pred, rel=1e-9)
    # dropping the 0/n studies raises the pooled proportion: they were used as they are
    keep = x > 0
    assert pool_glmm(x[keep], n[keep]).pred > result.pred


def test_single_study():
    result = pool_glmm([12], [40])
    assert result.k == 1
    assert result.estimate == pytest.approx(math.log(12 / 28), rel=1e-15)
    assert result.se == pytest.approx(math.sqrt(1 / 12 + 1 / 28), rel=1e-15)
    assert result.pred == pytest.approx(0.3, rel=1e-15)
    assert result.tau2 == 0.0
    for value in (result.i2, result.h2, result.q, result.q_lrt, result.q_pval,
                  result.q_lrt_pval, result.pi_low, result.pi_high):
        assert math.isnan(value)
    assert "only one study" in result.note
    with pytest.raises(ValueError, match="study 0: 0/25 events"):
        pool_glmm([0], [25])
    with pytest.raises(ValueError, match="study 0: 25/25 events"):
        pool_glmm([25], [25])


@pytest.mark.parametrize(("xi", "ni", "message"), [
    ([3, 12, 5], [10, 10, 10], r"study 1: events \(xi\) = 12 exceed the total \(ni\) = 10"),
    ([3, -1, 5], [10, 10, 10], r"study 1: events \(xi\) is -1"),
    ([3, 4, 2.5], [10, 10, 10], r"study 2: events \(xi\) is 2.5; counts must be whole"),
    ([3, 4, 5], [10, 10.5, 10], r"study 1: total \(ni\) is 10.5; counts must be whole"),
    ([3, math.nan, 5], [10, 10, 10], r"study 1: events \(xi\) is nan"),
    ([3, 0, 5], [10, 0, 10], r"study 1: total \(ni\) is 0"),
    ([3, 4], [10, 10, 10], r"xi has 2 values but ni has 3: study 2 has no xi"),
    ([], [], "no studies"),
    ([0, 0, 0], [5, 10, 8], "no study has any event"),
    ([5, 10, 8], [5, 10, 8], "every participant of every study had the event"),
    (["a", "b"], [5, 10], "must be numbers"),
])
def test_invalid_counts_name_the_study(xi, ni, message):
    with pytest.raises(ValueError, match=message):
        pool_glmm(xi, ni)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"measure": "PFT"}, "unknown measure 'PFT'"),
    ({"nagq": 0}, "nagq is 0"),
    ({"nagq": 101}, "nagq is 101"),
    ({"nagq": 2.5}, "nagq is 2.5"),
    ({"nagq": True}, "nagq is True"),
    ({"level": 95}, "level is 95"),
    ({"level": 0.0}, "level is 0.0"),
])
def test_invalid_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pool_glmm([3, 4, 5], [10, 12, 15], **kwargs)


def test_result_object_and_public_name():
    assert mr.pool_glmm is pool_glmm
    result = pool_glmm([3, 4, 5, 9], [10, 12, 15, 11])
    with pytest.raises(Exception):
        result.estimate = 0.0
    as_dict = result.to_dict()
    assert as_dict["estimate"] == result.estimate and as_dict["nagq"] == 7
    assert set(EVERY_FIELD) <= set(as_dict)
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert result.to_frame().shape == (1, len(as_dict))
    text = repr(result)
    assert text.startswith("GlmmResult(") and "tau2=" in text and "pi_high=" in text
    assert result.measure == "PLO" and result.level == 0.95
