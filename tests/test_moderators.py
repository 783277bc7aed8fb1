"""Meta-regression, subgroups and the permutation test against metafor 3.8-1.

Reference values: tests/fixtures/metafor/models.json (made by make_model_fixtures.R).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metareview import meta_regression, permutation_test, subgroup
from metareview.stats.moderators import batched_qm, count_distinct_arrangements, design_matrix
from metareview.stats.pooling import fit_model
from metareview.stats.vocabulary import TAU2_METHODS as METHODS

FIXTURES = json.loads(
    (Path(__file__).parent / "fixtures" / "metafor" / "models.json").read_text()
)
DATASETS = FIXTURES["datasets"]
RTOL = 1e-6
# Absolute floor for quantities that are exactly zero in theory (R² clipped at 0, a tau² on
# the boundary), where rounding noise of 1e-17 cannot be compared relatively.
ATOL = 1e-10


def close(actual, expected, label):
    actual = np.atleast_1d(np.asarray(actual, dtype=float))
    expected = np.atleast_1d(np.asarray(
        [math.nan if e is None else e for e in np.atleast_1d(np.asarray(expected, dtype=object))],
        dtype=float))
    assert actual.shape == expected.shape, label
    for a, e in zip(actual, expected):
        if math.isnan(e):
            assert not math.isfinite(a), f"{label}: expected non-finite, got {a}"
        else:
            assert a == pytest.approx(e, rel=RTOL, abs=ATOL), label


def moderator_frame(case):
    data = DATASETS[case["dataset"]]
    return pd.DataFrame({column: data[column] for column in case["columns"]})


@pytest.mark.parametrize("case", FIXTURES["meta_regression"],
                         ids=lambda c: f"{c['dataset']}-{'+'.join(c['columns'])}-{c['method']}"
                                       f"-{c['test']}-level{c['level']:g}")
def test_meta_regression_matches_metafor(case):
    data = DATASETS[case["dataset"]]
    result = meta_regression(data["yi"], data["vi"], moderator_frame(case), method=case["method"],
                             test=case["test"], level=case["level"])
    expected = case["result"]
    assert list(result.terms) == expected["terms"]
    assert result.level == case["level"]
    # The fixture keeps metafor's names for the coefficients and QE (coefs, qe, ...).
    fixture_key = {"estimate": "coefs", "q": "qe", "q_df": "qe_df", "q_pval": "qe_pval"}
    for field in ("estimate", "se", "statistic", "pval", "ci_low", "ci_high", "qm", "qm_df",
                  "qm_df2", "qm_pval", "tau2", "tau2_se", "q", "q_df", "q_pval", "r2", "k",
                  "p"):
        close(getattr(result, field), expected[fixture_key.get(field, field)],
              f"{field} ({case['call']})")


def test_meta_regression_fixture_covers_every_method_test_and_a_level():
    covered = {(c["method"], c["test"], c["level"]) for c in FIXTURES["meta_regression"]
               if c["dataset"] == "bcg_rr"}
    for method in METHODS:
        for test in ("z", "knha"):
            assert (method, test, 0.95) in covered
            assert (method, test, 0.9) in covered


@pytest.mark.parametrize("case", FIXTURES["subgroup"],
                         ids=lambda c: f"{c['dataset']}-{c['column']}-{c['tau2_mode']}"
                                       f"-{c['method']}-{c['test']}")
def test_subgroup_matches_metafor(case):
    data = DATASETS[case["dataset"]]
    result = subgroup(data["yi"], data["vi"], data[case["column"]], method=case["method"],
                      tau2=case["tau2_mode"], test=case["test"])
    expected = case["result"]
    close(result.q_between, expected["q_between"], "q_between")
    close(result.df, expected["df"], "df")
    close(result.pval, expected["pval"], "pval")
    if case["tau2_mode"] == "common":
        close(result.tau2, expected["tau2"], "common tau2")
    else:
        for name, estimate, se, tau2 in zip(expected["groups"], expected["group_estimates"],
                                            expected["group_se"], expected["group_tau2"]):
            close(result.groups[name].estimate, estimate, f"estimate of {name}")
            close(result.groups[name].se, se, f"se of {name}")
            close(result.groups[name].tau2, tau2, f"tau2 of {name}")


@pytest.mark.parametrize("case", FIXTURES["permutation"],
                         ids=lambda c: f"{c['dataset']}-{'+'.join(c['columns'])}-{c['method']}"
                                       f"-{c['test']}")
def test_permutation_qm_and_exact_p_match_metafor(case):
    data = DATASETS[case["dataset"]]
    exact = case["result"]["pval"] is not None
    result = permutation_test(data["yi"], data["vi"], moderator_frame(case), n_perm=400,
                              method=case["method"], test=case["test"])
    close(result.qm, case["result"]["qm"], "observed QM")
    assert result.exact == exact
    if exact:
        # Exact enumeration is deterministic: metafor's permutest(exact=TRUE) p value.
        assert result.n_perm == case["result"]["n_perm"]
        close(result.pval, case["result"]["pval"], "exact permutation p")


def test_monte_carlo_p_agrees_with_exact_enumeration():
    data = DATASETS["bcg_first10"]
    mods = pd.DataFrame({"alloc": data["alloc"]})
    exact = permutation_test(data["yi"], data["vi"], mods, n_perm=1000)
    assert exact.exact and exact.n_perm == 360
    sampled = permutation_test(data["yi"], data["vi"], mods, n_perm=300, seed=7)
    assert not sampled.exact and sampled.n_perm == 300
    # Monte Carlo error: binomial SE of a proportion from 300 draws; allow 4 SE.
    se = math.sqrt(exact.pval * (1 - exact.pval) / 300)
    assert abs(sampled.pval - exact.pval) < 4 * se


def test_permutation_is_reproducible_and_seeded():
    data = DATASETS["bcg_rr"]
    mods = pd.DataFrame({"ablat": data["ablat"]})
    first = permutation_test(data["yi"], data["vi"], mods, n_perm=200, seed=3)
    second = permutation_test(data["yi"], data["vi"], mods, n_perm=200, seed=3)
    other = permutation_test(data["yi"], data["vi"], mods, n_perm=200, seed=4)
    assert np.array_equal(first.distribution, second.distribution)
    assert first.pval == second.pval
    assert not np.array_equal(first.distribution, other.distribution)
    assert first.distribution[0] == first.qm
    # p = (1 + #{random QM >= observed}) / n_perm, the observed arrangement counted once.
    count = np.sum(first.distribution[1:] >= first.qm - 1.5e-8)
    assert first.pval == pytest.approx((1 + count) / 200)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("test", ["z", "knha"])
def test_batched_qm_equals_one_fit_at_a_time(method, test):
    """The vectorised engine of the permutation test against the plain single-model fit."""
    data = DATASETS["bcg_rr"]
    y, v = np.asarray(data["yi"]), np.asarray(data["vi"])
    X, _, _ = design_matrix(pd.DataFrame({"ablat": data["ablat"], "alloc": data["alloc"]}), 13)
    rng = np.random.default_rng(11)
    orders = [rng.permutation(13) for _ in range(6)]
    batched = batched_qm(np.stack([X[o] for o in orders]), y, v, method, test, [1, 2, 3])
    single = [fit_model(y, v, X[o], method, test).wald_test([1, 2, 3])[0] for o in orders]
    np.testing.assert_allclose(batched, single, rtol=1e-8)


def test_exact_rule_counts_distinct_arrangements():
    X, _, _ = design_matrix(np.array(["a", "a", "b", "b", "c"], dtype=object), 5)
    assert count_distinct_arrangements(X) == 30  # 5! / (2! 2! 1!)
    y = [0.1, 0.5, -0.2, 0.3, 0.9]
    v = [0.05, 0.04, 0.06, 0.05, 0.07]
    groups = np.array(["a", "a", "b", "b", "c"], dtype=object)
    assert permutation_test(y, v, groups, n_perm=30, method="DL").exact
    assert not permutation_test(y, v, groups, n_perm=29, method="DL").exact
    forced = permutation_test(y, v, groups, n_perm=29, method="DL", exact=True)
    assert forced.exact and forced.n_perm == 30


def test_design_matrix_coding():
    frame = pd.DataFrame({"dose": [1.0, 2.0, 3.0, 4.0],
                          "arm": pd.Categorical(["b", "a", "b", "a"], categories=["b", "a"])})
    X, terms, _ = design_matrix(frame, 4)
    assert terms == ("intrcpt", "dose", "arma")
    np.testing.assert_array_equal(X[:, 2], [0, 1, 0, 1])
    X, terms, _ = design_matrix(np.array(["z", "y", "z"], dtype=object), 3)
    assert terms == ("intrcpt", "xz")  # sorted levels: "y" is the reference
    X, terms, _ = design_matrix(np.arange(6.0).reshape(3, 2), 3)
    assert terms == ("intrcpt", "x1", "x2")


def test_moderator_errors_name_the_study():
    with pytest.raises(ValueError, match="study 2: moderator 'x' is missing"):
        meta_regression([0.1, 0.2, 0.3, 0.4], [0.1] * 4, [1.0, 2.0, np.nan, 4.0])
    with pytest.raises(ValueError, match="moderators have 3 rows but there are 4 studies"):
        meta_regression([0.1, 0.2, 0.3, 0.4], [0.1] * 4, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="not of full rank"):
        meta_regression([0.1, 0.2, 0.3, 0.4], [0.1] * 4, [1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="more studies than coefficients"):
        meta_regression([0.1, 0.2], [0.1] * 2, [1.0, 2.0])
    with pytest.raises(ValueError, match="study 1: group label is missing"):
        subgroup([0.1, 0.2, 0.3], [0.1] * 3, ["a", None, "b"])


def test_meta_regression_tidy_frame_and_subgroup_frame():
    data = DATASETS["bcg_rr"]
    result = meta_regression(data["yi"], data["vi"], pd.DataFrame({"alloc": data["alloc"]}))
    frame = result.to_frame()
    assert list(frame["term"]) == ["intrcpt", "allocrandom", "allocsystematic"]
    assert frame["estimate"].tolist() == result.estimate.tolist()
    groups = subgroup(data["yi"], data["vi"], data["alloc"], tau2="separate")
    table = groups.to_frame()
    assert list(table["group"]) == ["alternate", "random", "systematic"]
    assert table["k"].sum() == 13
    assert set(groups.groups) == {"alternate", "random", "systematic"}
    # Each row is that subgroup's own REML fit: metafor's rma(yi, vi, data=dat[dat$alloc ==
    # "random", ], method="REML") gives -0.9709647042630887 (subgroup fixture, tight control).
    assert table.set_index("group").loc["random", "estimate"] == pytest.approx(
        -0.9709647042630887, rel=RTOL)
