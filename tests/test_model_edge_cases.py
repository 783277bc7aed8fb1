"""Defined behaviour of the model engine at the edges: k = 1, k = 2, tau² = 0, identical
estimates and invalid input; plus textbook formulas computed independently by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from metareview import meta_regression, pool
from metareview.stats.vocabulary import TAU2_METHODS as METHODS


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("test", ["z", "knha"])
def test_single_study_is_the_study_itself(method, test):
    result = pool([0.42], [0.09], method=method, test=test)
    assert result.k == 1
    assert result.estimate == pytest.approx(0.42, rel=1e-15)
    assert result.se == pytest.approx(0.3)
    assert result.tau2 == 0.0
    assert result.weights.tolist() == [100.0]
    for value in (result.q, result.q_pval, result.i2, result.h2, result.pi_low, result.pi_high,
                  result.tau2_ci_low, result.tau2_ci_high, result.i2_ci_low,
                  result.i2_ci_high, result.h2_ci_low, result.h2_ci_high):
        assert math.isnan(value)
    assert "not estimable" in result.note
    # One study has no residual degrees of freedom for a t test: the z interval is reported.
    assert result.test == "z"
    assert result.ci_low == pytest.approx(0.42 - stats.norm.isf(0.025) * 0.3)
    if test == "knha":
        assert "Knapp-Hartung" in result.note


def dersimonian_laird_by_hand(y, v):
    """Textbook DL (DerSimonian & Laird 1986), written out independently of the package."""
    y, v = np.asarray(y, float), np.asarray(v, float)
    w = 1 / v
    mean_fe = np.sum(w * y) / np.sum(w)
    q = np.sum(w * (y - mean_fe) ** 2)
    c = np.sum(w) - np.sum(w**2) / np.sum(w)
    tau2 = max(0.0, (q - (len(y) - 1)) / c)
    w_re = 1 / (v + tau2)
    mean_re = np.sum(w_re * y) / np.sum(w_re)
    se_re = math.sqrt(1 / np.sum(w_re))
    s2 = (len(y) - 1) * np.sum(w) / (np.sum(w) ** 2 - np.sum(w**2))  # Higgins & Thompson 2002
    return mean_re, se_re, tau2, q, 100 * tau2 / (tau2 + s2)


@pytest.mark.parametrize("y, v", [
    ([0.1, 0.9], [0.04, 0.05]),                      # k = 2 with heterogeneity
    ([0.5, 0.1, 1.2, -0.3, 0.7], [0.1, 0.2, 0.15, 0.3, 0.05]),
])
def test_dersimonian_laird_matches_hand_formula(y, v):
    result = pool(y, v, method="DL")
    mean_re, se_re, tau2, q, i2 = dersimonian_laird_by_hand(y, v)
    assert result.estimate == pytest.approx(mean_re, rel=1e-12)
    assert result.se == pytest.approx(se_re, rel=1e-12)
    assert result.tau2 == pytest.approx(tau2, rel=1e-12)
    assert result.q == pytest.approx(q, rel=1e-12)
    assert result.i2 == pytest.approx(i2, rel=1e-12)


def test_two_studies_knha_uses_one_degree_of_freedom():
    y, v = [0.1, 0.9], [0.04, 0.05]
    result = pool(y, v, method="DL", test="knha")
    assert result.df == 1
    w = 1 / (np.asarray(v) + result.tau2)
    factor = np.sum(w * (np.asarray(y) - result.estimate) ** 2) / 1
    assert result.se == pytest.approx(math.sqrt(factor / np.sum(w)), rel=1e-12)
    half = stats.t.isf(0.025, 1) * result.se
    assert result.ci_high - result.estimate == pytest.approx(half, rel=1e-12)
    assert result.pi_high - result.estimate == pytest.approx(
        stats.t.isf(0.025, 1) * math.sqrt(result.se**2 + result.tau2), rel=1e-12)


@pytest.mark.parametrize("method", [m for m in METHODS if m != "SJ"])
def test_tau2_on_the_zero_boundary(method):
    # Q far below its expectation k - 1: every estimator truncates tau² at 0 (SJ excepted: it
    # is positive by construction, see the next test).
    y = [0.30, 0.31, 0.29, 0.305, 0.295]
    v = [0.04, 0.05, 0.03, 0.06, 0.05]
    result = pool(y, v, method=method)
    fixed = pool(y, v, method="FE")
    assert result.tau2 == 0.0
    assert result.estimate == pytest.approx(fixed.estimate, rel=1e-12)
    assert result.se == pytest.approx(fixed.se, rel=1e-12)
    if method != "FE":
        # Q(0) below the lower chi² quantile: metafor reports the interval as (0, 0).
        assert result.tau2_ci_low == result.tau2_ci_high == 0.0
        assert result.i2 == 0.0 and result.h2 == 1.0


def test_sidik_jonkman_stays_positive_when_others_are_zero():
    y = [0.30, 0.31, 0.29, 0.305, 0.295]
    v = [0.04, 0.05, 0.03, 0.06, 0.05]
    result = pool(y, v, method="SJ")
    # tau²₀ = mean squared deviation; tau² = tau²₀ Q(tau²₀)/(k − 1) (Sidik & Jonkman 2005).
    y_arr, v_arr = np.asarray(y), np.asarray(v)
    start = np.mean((y_arr - y_arr.mean()) ** 2)
    w = 1 / (v_arr + start)
    q_start = np.sum(w * (y_arr - np.sum(w * y_arr) / np.sum(w)) ** 2)
    assert result.tau2 == pytest.approx(start * q_start / 4, rel=1e-12)
    assert result.tau2 > 0


def test_empirical_bayes_where_metafor_needs_a_shorter_step():
    # metafor 3.8-1 stops with "Fisher scoring algorithm did not converge" on these data (the
    # EB iterations oscillate ever wider); with half-length steps it converges:
    # rma(yi, vi, method="EB", control=list(threshold=1e-12, tol=1e-12, maxiter=10000,
    # stepadj=0.5)) gives the values below (models.json, tau2_solver "eb_diverging").
    y = [0.0, 0.0, 0.0, 0.0, 0.0, 1.25, -0.5]
    v = [1.0, 1.0, 1.0, 1.0, 1.0, 0.25, 0.25]
    eb = pool(y, v, method="EB")
    assert eb.tau2 == pytest.approx(0.02399663161849382, rel=1e-9)
    assert eb.tau2_se == pytest.approx(0.3317508941828298, rel=1e-9)
    assert eb.estimate == pytest.approx(0.2246936137187131, rel=1e-9)
    assert eb.se == pytest.approx(0.2865083903486118, rel=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_identical_estimates(method):
    y = [0.25] * 4
    v = [0.01, 0.04, 0.02, 0.09]
    result = pool(y, v, method=method)
    assert result.estimate == pytest.approx(0.25, rel=1e-12)
    assert result.tau2 == 0.0
    assert result.q == pytest.approx(0.0, abs=1e-20)
    knha = pool(y, v, method=method, test="knha")
    assert knha.se == 0.0 and knha.knha_factor == 0.0
    assert "zero width" in knha.note


@pytest.mark.parametrize("y, v, message", [
    ([0.1, 0.2, math.nan], [0.1, 0.1, 0.1], "study 2: yi is nan"),
    ([0.1, 0.2, 0.3], [0.1, 0.0, 0.1], "study 1: vi is 0.0; sampling variances must be > 0"),
    ([0.1, 0.2, 0.3], [-0.1, 0.1, 0.1], "study 0: vi is -0.1"),
    ([0.1, 0.2, 0.3], [0.1, math.nan, 0.1], "study 1: vi is nan"),
    ([0.1, 0.2, 0.3], [0.1, math.inf, 0.1], "study 1: vi is inf"),
    ([0.1, 0.2, 0.3], [0.1, 0.1], "yi has 3 values but vi has 2: study 2 has no vi"),
    ([0.1, 0.2], [0.1, 0.1, 0.1], "yi has 2 values but vi has 3: study 2 has no yi"),
    ([], [], "no studies"),
    (["0.1", "high"], [0.1, 0.1], "yi must be numbers"),
])
def test_invalid_input_names_the_study(y, v, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        pool(y, v)


def test_invalid_input_in_meta_regression_too():
    with pytest.raises(ValueError, match="study 3: vi is 0.0"):
        meta_regression([0.1, 0.2, 0.3, 0.4], [0.1, 0.1, 0.1, 0.0], [1.0, 2.0, 3.0, 4.0])


def test_level_changes_interval_width():
    y = [0.5, 0.1, 1.2, -0.3, 0.7]
    v = [0.1, 0.2, 0.15, 0.3, 0.05]
    wide = pool(y, v, level=0.99)
    narrow = pool(y, v, level=0.90)
    assert wide.ci_high - wide.ci_low > narrow.ci_high - narrow.ci_low
    assert wide.tau2_ci_high > narrow.tau2_ci_high
    ratio = (wide.ci_high - wide.ci_low) / (narrow.ci_high - narrow.ci_low)
    assert ratio == pytest.approx(stats.norm.isf(0.005) / stats.norm.isf(0.05), rel=1e-12)


def test_fixed_effect_r2_when_the_spread_of_yi_underflows():
    # Found by the property tests: a subnormal difference between the yi makes the weighted
    # total sum of squares 0; there is nothing to explain, so R² is 0 (not a division by 0).
    result = meta_regression([0.0, 0.0, 0.0, 1.1125369292536007e-308], [1.0] * 4,
                             [0.3, -1.2, 0.8, 0.1], method="FE")
    assert result.r2 == 0.0
