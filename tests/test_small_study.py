"""Egger's test, the rank test and trim-and-fill against metafor's regtest, ranktest, trimfill."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from metareview.stats.pooling import pool
from metareview.stats.small_study import egger_test, kendall_exact_cdf, rank_test, trim_and_fill

CASES = json.loads((Path(__file__).parent / "fixtures/metafor/effects.json").read_text())["cases"]
MODELS = json.loads((Path(__file__).parent / "fixtures/metafor/models.json").read_text())
RTOL = 1e-6

EGGER = {
    "regtest_rma_hackshaw1998": dict(),
    "regtest_lm_hackshaw1998": dict(model="lm"),
    "regtest_rma_FE_hackshaw1998": dict(method="FE"),
    "regtest_rma_bcg_logrr": dict(),
    "regtest_rma_knha_hackshaw1998": dict(test="knha"),
}
TRIMFILL = {
    "trimfill_L0_REML_hackshaw1998": dict(method="REML"),
    "trimfill_L0_FE_hackshaw1998": dict(method="FE"),
    "trimfill_R0_REML_hackshaw1998": dict(method="REML", estimator="R0"),
    "trimfill_L0_REML_hackshaw1998_flipped": dict(method="REML"),
}


@pytest.mark.parametrize("name", sorted(EGGER))
def test_egger_matches_regtest(name):
    case = CASES[name]
    result = egger_test(**case["input"], **EGGER[name]).to_dict()
    for key, expected in case["output"].items():
        if expected is None:  # metafor's df is NA for a z test
            assert math.isnan(result[key])
            continue
        assert_allclose(result[key], expected, rtol=RTOL, err_msg=key)


def egger_id(case):
    extra = "-".join(f"{key}={value}" for key, value in case["args"].items())
    return f"{case['dataset']}-{case['model']}-{case['predictor']}{'-' + extra if extra else ''}"


@pytest.mark.parametrize("case", MODELS["egger"], ids=egger_id)
def test_egger_slope_predictor_and_level_match_regtest(case):
    data = MODELS["datasets"][case["dataset"]]
    result = egger_test(data["yi"], data["vi"], model=case["model"],
                        predictor=case["predictor"], **case["args"])
    assert result.predictor == case["predictor"]
    for key, expected in case["result"].items():
        if expected is None:  # metafor's df is NA for a z test
            assert math.isnan(getattr(result, key)), key
            continue
        assert_allclose(getattr(result, key), expected, rtol=RTOL, err_msg=f"{key}: {case['call']}")


def test_egger_fixture_covers_both_predictors_and_models():
    covered = {(case["model"], case["predictor"]) for case in MODELS["egger"]}
    assert covered == {("rma", "sei"), ("rma", "vi"), ("lm", "sei"), ("lm", "vi")}
    assert any(case["args"].get("level") == 0.9 for case in MODELS["egger"])


def test_egger_lm_uses_t_with_k_minus_2_df():
    case = CASES["regtest_lm_hackshaw1998"]
    result = egger_test(**case["input"], model="lm")
    assert result.df == len(case["input"]["yi"]) - 2
    assert_allclose(result.pval, 2 * stats.t.sf(abs(result.statistic), result.df), rtol=1e-12)


@pytest.mark.parametrize(
    "name", ["ranktest_hackshaw1998", "ranktest_normand1999_smd", "ranktest_tied_variances"]
)
def test_rank_test_matches_ranktest(name):
    case = CASES[name]
    result = rank_test(**case["input"])
    assert_allclose(
        [result.kendall_tau, result.pval], [case["output"]["tau"], case["output"]["pval"]],
        rtol=RTOL
    )
    assert result.exact == (name != "ranktest_tied_variances")


@pytest.mark.parametrize("case", MODELS["rank"], ids=lambda case: case["name"])
def test_rank_test_statistic_matches_cor_test(case):
    # metafor's ranktest reports tau and p; the statistic is that of the same R call,
    # cor.test(deviates, vi, method="kendall", exact=TRUE): T, the number of concordant pairs,
    # when exact (no ties), else the tie-corrected z.
    result = rank_test(case["yi"], case["vi"])
    expected = case["result"]
    assert result.exact == (expected["statistic_name"] == "T")
    assert_allclose([result.kendall_tau, result.pval, result.statistic],
                    [expected["tau"], expected["pval"], expected["statistic"]], rtol=RTOL)


@pytest.mark.parametrize("n", [3, 4, 6])
def test_kendall_exact_distribution_by_enumeration(n):
    # Count concordant pairs over all n! orderings and compare the cumulative distribution.
    counts = []
    for permutation in itertools.permutations(range(n)):
        concordant = sum(permutation[i] < permutation[j] for i in range(n) for j in range(i + 1, n))
        counts.append(concordant)
    counts = np.array(counts)
    for q in range(n * (n - 1) // 2 + 1):
        assert_allclose(kendall_exact_cdf(q, n), np.mean(counts <= q), rtol=1e-12)


def test_kendall_exact_p_agrees_with_scipy_exact():
    case = CASES["ranktest_normand1999_smd"]["input"]
    y, v = np.asarray(case["yi"]), np.asarray(case["vi"])
    w = 1 / v
    standardised = (y - np.sum(w * y) / w.sum()) / np.sqrt(v - 1 / w.sum())
    reference = stats.kendalltau(standardised, v, method="exact")
    result = rank_test(y, v)
    assert_allclose([result.kendall_tau, result.pval], [reference.statistic, reference.pvalue],
                    rtol=1e-9)


@pytest.mark.parametrize("name", sorted(TRIMFILL))
def test_trim_and_fill_matches_trimfill(name):
    case = CASES[name]
    out = case["output"]
    result = trim_and_fill(**case["input"], **TRIMFILL[name])
    assert result.k0 == out["k0"]
    assert result.side == out["side"]
    assert_allclose(result.se_k0, out["se_k0"], rtol=RTOL)
    observed = len(case["input"]["yi"])
    assert_allclose(
        np.concatenate([case["input"]["yi"], result.filled["yi"]]), out["yi"], rtol=RTOL
    )
    assert_allclose(
        np.concatenate([case["input"]["vi"], result.filled["vi"]]), out["vi"], rtol=RTOL
    )
    assert out["fill"] == [False] * observed + [True] * result.k0
    pooled = result.pooled
    assert pooled.k == out["k"]
    for key in ("estimate", "se", "pval", "ci_low", "ci_high", "q", "q_pval", "i2", "h2", "tau2"):
        assert_allclose(getattr(pooled, key), out[key], rtol=RTOL, err_msg=key)
    assert_allclose(pooled.statistic, out["zval"], rtol=RTOL)


@pytest.mark.parametrize("case", MODELS["trimfill"], ids=lambda case: case["method"])
def test_trim_and_fill_on_bcg_matches_trimfill(case):
    data = MODELS["datasets"][case["dataset"]]
    expected = case["result"]
    result = trim_and_fill(data["yi"], data["vi"], method=case["method"])
    assert (result.k0, result.side) == (expected["k0"], expected["side"])
    assert_allclose(np.sort(result.filled["yi"]), np.sort(expected["filled_yi"]), rtol=RTOL)
    assert_allclose(np.sort(result.filled["vi"]), np.sort(expected["filled_vi"]), rtol=RTOL)
    assert_allclose([result.pooled.estimate, result.pooled.ci_low, result.pooled.ci_high],
                    [expected["estimate"], expected["ci_low"], expected["ci_high"]], rtol=RTOL)


def test_no_missing_studies_returns_the_plain_pooled_model():
    # Negative deviations outrank the positive ones on the left side, so L0 <= 0 and k0 = 0.
    v = np.array([0.01, 0.01, 0.04, 0.04, 0.09, 0.09, 0.16, 0.16])
    y = 0.3 + np.array([0.05, -0.1, 0.2, -0.3, 0.1, -0.2, 0.4, -0.6])
    result = trim_and_fill(y, v, side="left")
    assert result.k0 == 0
    assert result.filled.empty
    assert_allclose(result.pooled.estimate, pool(y, v).estimate, rtol=1e-12)


def test_explicit_side_is_used():
    case = CASES["trimfill_L0_REML_hackshaw1998"]["input"]
    assert trim_and_fill(**case, side="right").side == "right"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: egger_test([0.1, 0.2], [0.01, 0.02]), "at least 3 studies"),
        (lambda: egger_test([0.1, 0.2, 0.3], [0.01, 0.02, 0.03], model="glm"), "model must be"),
        (lambda: egger_test([0.1, 0.2, 0.3], [0.02, 0.02, 0.02]), "same variance"),
        (lambda: rank_test([0.1, 0.2], [0.01, 0.02]), "at least 3 studies"),
        (lambda: trim_and_fill([0.1, 0.2, 0.3], [0.02, 0.02, 0.02]), "pass side="),
        (
            lambda: trim_and_fill([0.1, 0.2, 0.3], [0.01, 0.02, 0.03], estimator="Q0"),
            "estimator must be",
        ),
        (lambda: trim_and_fill([0.1, 0.2, 0.3], [0.01, 0.0, 0.03]), "study 1"),
    ],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()
