"""Invariants of the model engine, checked on generated data (hypothesis).

- permuting the studies changes nothing (weights move with their study);
- shifting every yi by c shifts the estimate, CI and PI by c and leaves tau² alone;
- scaling yi by s and vi by s² scales the estimate, SE and intervals by s and tau² by s²,
  in pooling and in meta-regression, for every tau² method;
- when every yi is equal, FE and REML give the same estimate, SE and CI;
- ML, REML and EB estimates solve their estimating equation (or sit at 0 where they should);
- the vectorised fits of the permutation test equal one-at-a-time fits.

Examples are deterministic under `make test` (hypothesis profile "ci", tests/conftest.py); the
README shows how to run them with random seeds.

Tolerance. The tau² solver stops when the scoring update is below 2⁻⁴⁶ (tau² + v_h) ≈ 1.4e-14
of the scale of tau² (v_h the harmonic mean of the vi) or its bracket of the root is that
narrow, estimates on the boundary are exactly 0, and the Paule-Mandel and Q-profile roots are
found to 4 machine epsilons. Two fits of transformed data then differ only by rounding: over
9000 random fits from these strategies (all methods, both tests) the largest relative
difference of any compared field was 3.4e-13. RTOL = 1e-10 leaves a margin of 300 over that
and is still 10 000 times below the 1e-6 of the metafor parity tests. ATOL covers fields that
are 0 in exact arithmetic and come out as ±1e-17.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from metareview import meta_regression, pool
from metareview.stats.heterogeneity import (
    FISHER_THRESHOLD,
    LL0_TOLERANCE,
    estimate_tau2_batch,
    log_likelihood,
    scoring_iterations,
    scoring_update,
)
from metareview.stats.moderators import batched_qm, design_matrix
from metareview.stats.pooling import fit_model
from metareview.stats.vocabulary import TAU2_METHODS as METHODS

RTOL = 1e-10
ATOL = 1e-12

PROPERTY_SETTINGS = settings(max_examples=30, deadline=None)


@st.composite
def studies(draw, min_k=2, max_k=10):
    k = draw(st.integers(min_k, max_k))
    y = draw(st.lists(st.floats(-3, 3, allow_nan=False), min_size=k, max_size=k))
    v = draw(st.lists(st.floats(0.01, 2.0, allow_nan=False), min_size=k, max_size=k))
    return np.asarray(y), np.asarray(v)


def same(a, b):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=RTOL, atol=ATOL)


INVARIANT_FIELDS = ("estimate", "se", "ci_low", "ci_high", "pval", "tau2", "q", "i2", "h2",
                    "pi_low", "pi_high", "tau2_ci_low", "tau2_ci_high")


@PROPERTY_SETTINGS
@given(data=studies(), method=st.sampled_from(METHODS), test=st.sampled_from(["z", "knha"]),
       seed=st.integers(0, 2**32 - 1))
def test_permuting_studies_changes_nothing(data, method, test, seed):
    y, v = data
    order = np.random.default_rng(seed).permutation(len(y))
    original = pool(y, v, method, test)
    permuted = pool(y[order], v[order], method, test)
    for field in INVARIANT_FIELDS:
        same(getattr(permuted, field), getattr(original, field))
    same(permuted.weights, original.weights[order])


@PROPERTY_SETTINGS
@given(data=studies(), shift=st.floats(-50, 50), method=st.sampled_from(METHODS),
       test=st.sampled_from(["z", "knha"]))
def test_shifting_all_estimates_shifts_the_result(data, shift, method, test):
    y, v = data
    original = pool(y, v, method, test)
    shifted = pool(y + shift, v, method, test)
    # y + shift is rounded to the precision of |shift|: the absolute part scales with it.
    for field in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"):
        assert getattr(shifted, field) == pytest.approx(getattr(original, field) + shift,
                                                        rel=RTOL, abs=ATOL * (1 + abs(shift)))
    for field in ("se", "tau2", "q", "i2", "tau2_ci_low", "tau2_ci_high"):
        same(getattr(shifted, field), getattr(original, field))


@PROPERTY_SETTINGS
@given(data=studies(), scale=st.floats(0.2, 5.0), method=st.sampled_from(METHODS),
       test=st.sampled_from(["z", "knha"]))
def test_scaling_estimates_and_standard_errors(data, scale, method, test):
    y, v = data
    original = pool(y, v, method, test)
    scaled = pool(y * scale, v * scale**2, method, test)
    for field in ("estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high"):
        same(getattr(scaled, field), scale * getattr(original, field))
    same(scaled.tau2, scale**2 * original.tau2)
    for field in ("q", "i2", "h2", "pval", "weights"):
        same(getattr(scaled, field), getattr(original, field))
    # The Q-profile search stops at max(100, 10 tau²) (metafor's range); compare the interval
    # only when neither bound was cut off there.
    top = max(original.tau2_ci_high, scaled.tau2_ci_high)
    if method != "FE" and top < 100 * min(1, scale**2):
        for end in ("tau2_ci_low", "tau2_ci_high"):
            same(getattr(scaled, end), getattr(original, end) * scale**2)


@PROPERTY_SETTINGS
@given(data=studies(min_k=4), scale=st.floats(0.2, 5.0), method=st.sampled_from(METHODS),
       test=st.sampled_from(["z", "knha"]), seed=st.integers(0, 2**32 - 1))
def test_meta_regression_scales_with_the_data(data, scale, method, test, seed):
    y, v = data
    x = np.random.default_rng(seed).normal(size=len(y))
    original = meta_regression(y, v, x, method=method, test=test)
    # A perfect fit (QE = 0, e.g. all yi equal) makes the knha factor 0 and the statistics ±inf
    # with the sign of rounding noise; test_model_edge_cases covers that case.
    assume(original.q > 1e-9)
    scaled = meta_regression(y * scale, v * scale**2, x, method=method, test=test)
    for field in ("estimate", "se", "ci_low", "ci_high"):
        same(getattr(scaled, field), scale * getattr(original, field))
    same(scaled.tau2, scale**2 * original.tau2)
    if method != "FE":
        same(scaled.tau2_se, scale**2 * original.tau2_se)
    for field in ("statistic", "pval", "qm", "qm_pval", "q", "r2"):
        same(getattr(scaled, field), getattr(original, field))


@PROPERTY_SETTINGS
@given(value=st.floats(-3, 3), v=st.lists(st.floats(0.01, 2.0), min_size=2, max_size=10),
       test=st.sampled_from(["z", "knha"]))
def test_fixed_effect_equals_reml_when_all_estimates_are_equal(value, v, test):
    y = np.full(len(v), value)
    fixed = pool(y, v, "FE", test)
    reml = pool(y, v, "REML", test)
    assert reml.tau2 == 0.0
    for field in ("estimate", "se", "ci_low", "ci_high"):
        same(getattr(reml, field), getattr(fixed, field))


@PROPERTY_SETTINGS
@given(data=studies(min_k=3), method=st.sampled_from(["ML", "REML", "EB"]),
       with_moderator=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_iterative_estimates_solve_their_estimating_equation(data, method, with_moderator,
                                                             seed):
    y, v = data
    k = len(y)
    columns = [np.ones(k)]
    if with_moderator and k > 3:
        columns.append(np.random.default_rng(seed).normal(size=k))
    X = np.column_stack(columns)[None, :, :]
    ymc = y - y.mean()
    tau2 = estimate_tau2_batch(X, ymc, v, method)[0]
    v_h = k / np.sum(1 / v)
    score, step = scoring_update(method, X, ymc, v, tau2)
    if tau2[0] > 0:
        # At the solution the scoring update vanishes to the solver's precision (its stopping
        # rule 2⁻⁴⁶ (tau² + v_h), times a few for the contraction of the last step).
        assert abs(step[0]) <= 64 * FISHER_THRESHOLD * (tau2[0] + v_h)
        if method != "EB":
            ll_hat = log_likelihood(X, ymc, v, tau2, reml=method == "REML")[0]
            ll_zero = log_likelihood(X, ymc, v, np.zeros(1), reml=method == "REML")[0]
            assert ll_hat >= ll_zero - 1e-12
    elif scoring_update(method, X, ymc, v, np.zeros(1))[0][0] > 0:
        # A positive estimating function at 0 leaves one way to an estimate of 0: metafor's
        # check (ML, REML) found the likelihood at 0 above that of the root scoring reached.
        assert method != "EB"
        P0 = np.eye(k) - X[0] @ np.linalg.pinv(X[0])
        start = max(0.0, (ymc @ P0 @ ymc - np.sum(np.diag(P0) * v)) / (k - X.shape[2]))
        reached = scoring_iterations(method, X, ymc, v, np.array([start]))["tau2"]
        reml = method == "REML"
        assert (log_likelihood(X, ymc, v, np.zeros(1), reml)[0]
                > log_likelihood(X, ymc, v, reached, reml)[0] + LL0_TOLERANCE)


@PROPERTY_SETTINGS
@given(data=studies(min_k=4), shift=st.floats(-20, 20), seed=st.integers(0, 2**32 - 1))
def test_meta_regression_slope_ignores_shift_and_order(data, shift, seed):
    y, v = data
    x = np.random.default_rng(seed).normal(size=len(y))
    order = np.random.default_rng(seed + 1).permutation(len(y))
    original = meta_regression(y, v, x)
    moved = meta_regression(y[order] + shift, v[order], x[order])
    same(moved.estimate.iloc[1], original.estimate.iloc[1])
    assert moved.estimate.iloc[0] == pytest.approx(original.estimate.iloc[0] + shift, rel=RTOL,
                                                abs=ATOL * (1 + abs(shift)))
    same(moved.qm, original.qm)
    same(moved.tau2, original.tau2)


@PROPERTY_SETTINGS
@given(data=studies(min_k=5, max_k=12), method=st.sampled_from(METHODS),
       test=st.sampled_from(["z", "knha"]), seed=st.integers(0, 2**32 - 1))
def test_vectorised_permutation_fits_equal_single_fits(data, method, test, seed):
    """The batched engine behind permutation_test agrees with fitting each model alone."""
    y, v = data
    rng = np.random.default_rng(seed)
    arm = np.where(rng.random(len(y)) < 0.5, "a", "b").astype(object)
    arm[:2] = ["a", "b"]  # both levels present
    moderators = pd.DataFrame({"dose": rng.normal(size=len(y)), "arm": arm})
    X, _, _ = design_matrix(moderators, len(y))
    orders = np.stack([rng.permutation(len(y)) for _ in range(4)])
    batched = batched_qm(X[orders], y, v, method, test, [1, 2])
    single = [fit_model(y, v, X[order], method, test).wald_test([1, 2])[0] for order in orders]
    same(batched, single)
