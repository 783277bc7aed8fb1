"""Conversions between reported forms.

Reference quantiles were computed in R 4.2.2 (qnorm, qt) and are written out below, so the tests
do not reuse scipy's quantile functions that the code itself calls.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.stats import norm

from metareview.stats.conversions import (
    combine_groups,
    mean_sd_from_five_numbers,
    mean_sd_from_median_iqr,
    mean_sd_from_median_range,
    se_from_ci,
    se_from_p,
    se_from_t,
)

RTOL = 1e-6
Z_975 = 1.959963984540054  # qnorm(0.975)
T_975_10 = 2.228138851986274  # qt(0.975, 10)
T_975_19 = 2.093024054408309  # qt(0.975, 19)
Z_985 = 2.17009037758456  # qnorm(1 - 0.03/2)
T_985_24 = 2.306913404870395  # qt(1 - 0.03/2, 24)
RANGE_20 = 1.86824165486393  # qnorm((20 - 0.375)/20.25)


def test_se_from_ci_normal_and_t():
    assert_allclose(se_from_ci(-1.0, 3.0), 4 / (2 * Z_975), rtol=RTOL)
    assert_allclose(se_from_ci(-1.0, 3.0, df=10), 4 / (2 * T_975_10), rtol=RTOL)
    assert_allclose(
        se_from_ci([0.0, 1.0], [2.0, 5.0], df=[10, 19]), [1 / T_975_10, 2 / T_975_19], rtol=RTOL
    )


def test_se_from_ci_other_level_and_log_ratio():
    lower, upper = np.log(0.5), np.log(2.0)
    assert_allclose(
        se_from_ci(lower, upper, level=0.90), (upper - lower) / (2 * 1.6448536269514722), rtol=RTOL
    )


def test_se_from_ci_rejects_reversed_limits():
    with pytest.raises(ValueError, match="study 1: the upper confidence limit"):
        se_from_ci([0.0, 3.0], [1.0, 2.0])


def test_se_from_p_normal_t_and_bound_flag():
    exact = se_from_p(1.5, 0.03)
    assert_allclose(exact.se, 1.5 / Z_985, rtol=RTOL)
    assert not exact.p_is_bound
    with_df = se_from_p(-1.5, 0.03, df=24)
    assert_allclose(with_df.se, 1.5 / T_985_24, rtol=RTOL)
    assert_allclose(with_df.statistic, T_985_24, rtol=RTOL)
    bound = se_from_p(1.5, 0.03, operator="<")
    assert bound.p_is_bound
    assert_allclose(bound.se, exact.se, rtol=1e-15)


def test_se_from_p_round_trip_with_ci():
    # A 95% CI built from an SE gives p; converting p back must give the same SE.
    se = 0.4
    estimate = 0.9
    p = 2 * norm.sf(estimate / se)
    assert_allclose(se_from_p(estimate, p).se, se, rtol=1e-9)
    assert_allclose(se_from_ci(estimate - Z_975 * se, estimate + Z_975 * se), se, rtol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(estimate=1.0, p=0.2, operator=">"), "no usable SE"),
        (dict(estimate=1.0, p=0.0), "strictly between 0 and 1"),
        (dict(estimate=0.0, p=0.5), "estimate is 0"),
    ],
)
def test_se_from_p_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        se_from_p(**kwargs)


def test_se_from_t():
    assert_allclose(se_from_t(-2.0, 4.0), 0.5, rtol=RTOL)
    with pytest.raises(ValueError, match="t must not be 0"):
        se_from_t(1.0, 0.0)


# Worked examples with n = 20, min 2, q1 10, median 14, q3 20, max 40, done by hand below
# (each number written out, not recomputed by the formulas of the code), with 20^0.75 =
# 9.45741609 and 20^0.55 = 5.19477208 (R: 20^0.75, 20^0.55) and the normal quantiles above.
# Wan et al. (2014), Table 1, lists ξ(20) = 3.735, the expected range of 20 standard normal
# values, which their formula approximates by 2 Φ⁻¹((20 − 0.375)/20.25) = 2 · RANGE_20 =
# 3.73648: the published number checks the approximation to about 0.05%.


def test_wan_table_1_expected_range():
    assert 2 * RANGE_20 == pytest.approx(3.735, rel=1e-3)


def test_median_iqr_worked_example():
    mean, sd = mean_sd_from_median_iqr(q1=10.0, median=14.0, q3=20.0, n=20)
    # Luo et al. 2018 (C3): (0.7 + 0.39/20) · (10 + 20)/2 + (0.3 − 0.39/20) · 14
    #   = 0.7195 · 15 + 0.2805 · 14 = 10.7925 + 3.927 = 14.7195
    assert_allclose(mean, 14.7195, rtol=1e-12)
    # Wan et al. 2014 (C3): (20 − 10) / (2 · 0.62668735) = 7.97846007
    assert_allclose(sd, 7.97846007, rtol=1e-8)


def test_median_range_worked_example():
    mean, sd = mean_sd_from_median_range(minimum=2.0, median=14.0, maximum=40.0, n=20)
    # Luo et al. 2018 (C1): w = 4 / (4 + 9.45741609) = 0.29723388;
    #   w · (2 + 40)/2 + (1 − w) · 14 = 0.29723388 · 21 + 0.70276612 · 14
    #   = 6.24191148 + 9.83872568 = 16.08063716
    assert_allclose(mean, 16.08063716, rtol=1e-8)
    # Wan et al. 2014 (C1): (40 − 2) / (2 · 1.86824165) = 38 / 3.73648331 = 10.16999056; with
    # the table's exact expected range 3.735: 38 / 3.735 = 10.1740, 0.04% away.
    assert_allclose(sd, 10.16999056, rtol=1e-8)
    assert_allclose(sd, 38 / 3.735, rtol=1e-3)


def test_five_numbers_worked_example():
    mean, sd = mean_sd_from_five_numbers(2.0, 10.0, 14.0, 20.0, 40.0, n=20)
    # Luo et al. 2018 (C2): w1 = 2.2 / (2.2 + 9.45741609) = 0.18872107,
    #   w2 = 0.7 − 0.72 / 5.19477208 = 0.7 − 0.13860088 = 0.56139912, 1 − w1 − w2 = 0.24987981;
    #   0.18872107 · 21 + 0.56139912 · 15 + 0.24987981 · 14
    #   = 3.96314247 + 8.42098680 + 3.49831734 = 15.88244661 (8-digit weights: rtol 1e-8)
    assert_allclose(mean, 15.88244661, rtol=1e-8)
    # Wan et al. 2014 (C2): 38 / (2 · 3.73648331) + 10 / (4 · 0.62668735)
    #   = 5.08499528 + 3.98923004 = 9.07422532
    assert_allclose(sd, 9.07422532, rtol=1e-8)


@pytest.mark.parametrize("n", [5, 20, 137, 1000])
def test_exact_normal_quantiles_give_back_mu_and_sigma(n):
    # Quantiles placed at the normal scores the formulas assume must return mu and sigma exactly,
    # and a symmetric summary gives mean = median.
    mu, sigma = 3.0, 2.5
    half_iqr = sigma * norm.ppf((0.75 * n - 0.125) / (n + 0.25))
    half_range = sigma * norm.ppf((n - 0.375) / (n + 0.25))
    mean, sd = mean_sd_from_median_iqr(mu - half_iqr, mu, mu + half_iqr, n)
    assert_allclose([mean, sd], [mu, sigma], rtol=1e-12)
    mean, sd = mean_sd_from_median_range(mu - half_range, mu, mu + half_range, n)
    assert_allclose([mean, sd], [mu, sigma], rtol=1e-12)
    mean, sd = mean_sd_from_five_numbers(
        mu - half_range, mu - half_iqr, mu, mu + half_iqr, mu + half_range, n
    )
    assert_allclose([mean, sd], [mu, sigma], rtol=1e-12)


def test_mean_estimates_are_shift_equivariant():
    shift = 7.0
    base = mean_sd_from_five_numbers(1.0, 3.0, 4.0, 8.0, 20.0, n=30)
    moved = mean_sd_from_five_numbers(8.0, 10.0, 11.0, 15.0, 27.0, n=30)
    assert_allclose(moved[0], base[0] + shift, rtol=1e-12)
    assert_allclose(moved[1], base[1], rtol=1e-12)


def test_quantile_order_checked():
    with pytest.raises(ValueError, match="q1 <= median <= q3"):
        mean_sd_from_median_iqr(5.0, 4.0, 8.0, 20)
    with pytest.raises(ValueError, match="n must be >= 3"):
        mean_sd_from_median_range(1.0, 2.0, 3.0, 2)


def test_combine_groups_matches_pooling_raw_data():
    rng = np.random.default_rng(3)
    a = rng.normal(5, 2, size=13)
    b = rng.normal(8, 3, size=21)
    n, mean, sd = combine_groups(a.size, a.mean(), a.std(ddof=1), b.size, b.mean(), b.std(ddof=1))
    both = np.concatenate([a, b])
    assert n == 34
    assert_allclose(mean, both.mean(), rtol=1e-12)
    assert_allclose(sd, both.std(ddof=1), rtol=1e-12)
