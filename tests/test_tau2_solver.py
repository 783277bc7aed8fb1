"""The tau² solver on data where plain Fisher scoring stalls, against metafor 3.8-1.

Reference values: the "tau2_solver" and "ll0_check" sections of
tests/fixtures/metafor/models.json (make_model_fixtures.R, control threshold = tol = 1e-12).
Each stall case is fitted at five scalings of the data (yi · s, vi · s²); tau² must be s²
times the same number at each. metafor's stopping rule is an absolute change in tau², so the
fixtures scale it with the data (threshold = 1e-12 · s²); its fits then agree with the exact
root to about 3e-11 relative at every scale, and 1e-9 is the tolerance: loose enough for
metafor's last digits, tight enough that the old bounded search, which stopped about 1e-7
away, fails. Comparisons are relative only (abs=0: pytest.approx's default absolute 1e-12
would swallow the difference on the small scales).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from metareview import pool
from metareview.stats import heterogeneity
from metareview.stats.heterogeneity import (
    estimate_tau2_batch,
    scoring_iterations,
    scoring_update,
    solve_score_equation,
)

FIXTURES = json.loads(
    (Path(__file__).parent / "fixtures" / "metafor" / "models.json").read_text()
)
SOLVER_CASES = FIXTURES["tau2_solver"]
LL0_CASES = FIXTURES["ll0_check"]
RTOL = 1e-9


def scaled(case):
    scale = case["scale"]
    return np.asarray(case["yi"]) * scale, np.asarray(case["vi"]) * scale**2


def solver_id(case):
    return f"{case['name']}-s{case['scale']:g}"


def hedges_start(y, v):
    """The truncated Hedges (1983) estimate, metafor's starting value, by hand (X = 1)."""
    k = y.size
    return max(0.0, (np.sum((y - y.mean()) ** 2) - (np.sum(v) - np.sum(v) / k)) / (k - 1))


def test_fixture_has_each_method_slow_and_diverging_at_five_scales():
    names = {case["name"] for case in SOLVER_CASES}
    assert names == {f"{method}_{kind}" for method in ("reml", "ml", "eb")
                     for kind in ("slow", "diverging")}
    for name in names:
        scales = sorted(c["scale"] for c in SOLVER_CASES if c["name"] == name)
        assert scales == [0.1, 0.5, 1, 2, 10]
    # metafor's plain iteration converges on the slow cases and fails on the diverging ones,
    # which were therefore fitted with control stepadj=0.5.
    for case in SOLVER_CASES:
        assert case["plain_scoring_converges"] == case["name"].endswith("slow")
        assert ("stepadj=0.5" in case["call"]) != case["plain_scoring_converges"]


def test_issue_case_value():
    # The case of the engine-hardening issue: metafor's tight REML fit gives
    # tau² / s² = 0.0157166564246368 at every scale s.
    for case in SOLVER_CASES:
        assert "threshold=1e-12 * s^2" in case["call"]
        if case["name"] == "reml_slow":
            assert case["result"]["tau2"] / case["scale"] ** 2 == pytest.approx(
                0.0157166564246368, rel=1e-12, abs=0)


@pytest.mark.parametrize("case", SOLVER_CASES, ids=solver_id)
def test_pool_matches_metafor_at_every_scale(case):
    y, v = scaled(case)
    result = pool(y, v, method=case["method"])
    expected = case["result"]
    for field in ("tau2", "tau2_se", "estimate", "se"):
        assert getattr(result, field) == pytest.approx(expected[field], rel=RTOL, abs=0), field


@pytest.mark.parametrize("name", sorted({case["name"] for case in SOLVER_CASES}))
def test_tau2_scales_with_the_square_of_the_data(name):
    cases = [case for case in SOLVER_CASES if case["name"] == name]
    per_unit = [pool(*scaled(case), method=case["method"]).tau2 / case["scale"] ** 2
                for case in cases]
    # One solution, whatever the scale: the relative spread is rounding noise.
    assert np.ptp(per_unit) <= 1e-12 * np.mean(per_unit)


@pytest.mark.parametrize("case", [c for c in SOLVER_CASES if c["scale"] == 1],
                         ids=solver_id)
def test_plain_scoring_stalls_on_these_data(case):
    """The premise of the fixture: tau² ← tau² + Δ (no halving) does not settle in 100 steps."""
    y, v = scaled(case)
    X = np.ones((1, y.size, 1))
    y = y - y.mean()
    tau2 = np.array([hedges_start(y, v)])
    for _ in range(100):
        step = scoring_update(case["method"], X, y, v, tau2)[1]
        tau2 = np.maximum(0.0, tau2 + step)
    assert abs(step[0]) > 1e-8 * case["result"]["tau2"]


@pytest.mark.parametrize("case", [c for c in SOLVER_CASES if c["scale"] == 1],
                         ids=solver_id)
def test_scoring_with_step_halving_converges(case):
    y, v = scaled(case)
    X = np.ones((1, y.size, 1))
    y = y - y.mean()
    solution = scoring_iterations(case["method"], X, y, v, np.array([hedges_start(y, v)]))
    assert solution["converged"][0]
    assert solution["iterations"][0] <= 30
    assert solution["tau2"][0] == pytest.approx(case["result"]["tau2"], rel=RTOL, abs=0)


@pytest.mark.parametrize("case", SOLVER_CASES, ids=solver_id)
def test_bracketing_fallback_solves_the_estimating_equation(case):
    y, v = scaled(case)
    root = solve_score_equation(case["method"], y - y.mean(), v, np.ones((y.size, 1)))
    assert root == pytest.approx(case["result"]["tau2"], rel=RTOL, abs=0)


@pytest.mark.parametrize("case", [c for c in SOLVER_CASES if c["scale"] == 2],
                         ids=solver_id)
def test_fallback_takes_over_when_scoring_runs_out_of_iterations(case, monkeypatch):
    # With two scoring steps allowed none of these converges, so the bracketing solver must
    # finish from wherever scoring stopped.
    monkeypatch.setattr(heterogeneity, "FISHER_MAXITER", 2)
    y, v = scaled(case)
    assert pool(y, v, method=case["method"]).tau2 == pytest.approx(case["result"]["tau2"],
                                                                   rel=RTOL, abs=0)


def test_batched_fits_equal_single_fits_on_stalls():
    # One engine: a batch of the same model matrix in several row orders (y and v fixed, so
    # these are different data sets) equals fitting each alone.
    case = next(c for c in SOLVER_CASES if c["name"] == "reml_diverging" and c["scale"] == 1)
    y, v = scaled(case)
    rng = np.random.default_rng(3)
    x = rng.normal(size=y.size)
    orders = [rng.permutation(y.size) for _ in range(5)]
    X = np.stack([np.column_stack([np.ones(y.size), x[order]]) for order in orders])
    batched, batched_se = estimate_tau2_batch(X, y - y.mean(), v, "REML")
    for b in range(len(orders)):
        single, single_se = estimate_tau2_batch(X[b], y - y.mean(), v, "REML")
        assert batched[b] == single[0]
        assert batched_se[b] == single_se[0]


@pytest.mark.parametrize("case", LL0_CASES, ids=lambda c: c["name"])
def test_likelihood_at_zero_beats_the_local_maximum(case):
    y, v = np.asarray(case["yi"]), np.asarray(case["vi"])
    expected = case["result"]
    result = pool(y, v, method=case["method"])
    assert expected["tau2"] == 0
    assert result.tau2 == 0.0
    assert result.estimate == pytest.approx(expected["estimate"], rel=RTOL, abs=0)
    assert result.se == pytest.approx(expected["se"], rel=RTOL, abs=0)
    # Without the check, scoring stops at the local maximum metafor reports with
    # ll0check=FALSE; the check is what moves the estimate to 0.
    X = np.ones((1, y.size, 1))
    ymc = y - y.mean()
    solution = scoring_iterations(case["method"], X, ymc, v, np.array([hedges_start(ymc, v)]))
    assert solution["tau2"][0] == pytest.approx(expected["tau2_without_check"], rel=RTOL,
                                                abs=0)
    assert expected["loglik_at_zero"] > expected["loglik_without_check"]


def test_boundary_estimate_stays_at_zero():
    # Q below its expectation: the REML score is negative at 0, so the iteration ends there
    # at once (bracket [0, 0]), without the halving loop running down to underflow.
    y = np.array([0.30, 0.31, 0.29, 0.305, 0.295])
    v = np.array([0.04, 0.05, 0.03, 0.06, 0.05])
    X = np.ones((1, 5, 1))
    solution = scoring_iterations("REML", X, y - y.mean(), v, np.zeros(1))
    assert solution["converged"][0] and solution["tau2"][0] == 0.0
    assert solution["iterations"][0] == 1
