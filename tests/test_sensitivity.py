"""Leave-one-out and influence diagnostics against metafor's leave1out and influence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from numpy.testing import assert_allclose

from metareview.stats.sensitivity import influence, leave_one_out

CASES = json.loads((Path(__file__).parent / "fixtures/metafor/effects.json").read_text())["cases"]
MODELS = json.loads((Path(__file__).parent / "fixtures/metafor/models.json").read_text())
RTOL = 1e-6

L1O = {
    "leave1out_REML_raudenbush1985": dict(method="REML"),
    "leave1out_DL_raudenbush1985": dict(method="DL"),
    "leave1out_FE_raudenbush1985": dict(method="FE"),
    "leave1out_REML_knha_raudenbush1985": dict(method="REML", test="knha"),
}
# The fixtures keep metafor's column names; metafor's zval is the package's statistic.
COLUMN = {"zval": "statistic"}
INFLUENCE = {
    "influence_REML_raudenbush1985": dict(method="REML"),
    "influence_DL_raudenbush1985": dict(method="DL"),
}


@pytest.mark.parametrize("name", sorted(L1O))
def test_leave_one_out_matches_metafor(name):
    case = CASES[name]
    result = leave_one_out(**case["input"], **L1O[name])
    assert len(result) == len(case["input"]["yi"])
    assert result.index.name == "omitted"
    for column, expected in case["output"].items():
        # tau2 and I2 are exactly 0 for some subsets; atol covers those rows only.
        assert_allclose(result[COLUMN.get(column, column)], expected, rtol=RTOL, atol=1e-12,
                        err_msg=column)


def test_fe_leave_one_out_has_zero_tau2():
    case = CASES["leave1out_FE_raudenbush1985"]
    result = leave_one_out(**case["input"], method="FE")
    assert (result["tau2"] == 0).all()


@pytest.mark.parametrize("case", MODELS["leave1out_level"], ids=lambda c: c["test"])
def test_leave_one_out_at_ninety_percent_matches_metafor(case):
    data = MODELS["datasets"][case["dataset"]]
    result = leave_one_out(data["yi"], data["vi"], method=case["method"], test=case["test"],
                           level=case["level"])
    for column, expected in case["result"].items():
        assert_allclose(result[COLUMN.get(column, column)], expected, rtol=RTOL, atol=1e-12,
                        err_msg=column)


@pytest.mark.parametrize("name", sorted(INFLUENCE))
def test_influence_matches_metafor(name):
    case = CASES[name]
    result = influence(**case["input"], **INFLUENCE[name])
    expected = dict(case["output"])
    flags = expected.pop("influential")
    assert list(result["influential"]) == flags
    for column, values in expected.items():
        assert_allclose(result[column], values, rtol=RTOL, err_msg=column)


@pytest.mark.parametrize("case", MODELS["influence"], ids=lambda c: c["name"])
def test_influence_flags_near_each_cut_off_match_metafor(case):
    # Constructed data with one study close to a cut-off (models.json, "influence"): the flags
    # show whether each of metafor's thresholds is the one applied.
    result = influence(case["yi"], case["vi"], method=case["method"])
    expected = dict(case["result"])
    assert list(result["influential"]) == expected.pop("influential")
    for column, values in expected.items():
        # One tau2_del is 0 up to rounding (metafor 1e-13, here 1e-17): atol covers that row.
        assert_allclose(result[column], values, rtol=RTOL, atol=1e-12, err_msg=column)


def test_influence_weights_sum_to_100_and_hat_to_1():
    case = CASES["influence_REML_raudenbush1985"]["input"]
    result = influence(**case)
    assert_allclose(result["weight"].sum(), 100.0, rtol=1e-12)
    assert_allclose(result["hat"].sum(), 1.0, rtol=1e-12)


def test_two_studies_work():
    result = leave_one_out([0.1, 0.5], [0.02, 0.03])
    assert_allclose(result["estimate"], [0.5, 0.1])
    diagnostics = influence([0.1, 0.5], [0.02, 0.03])
    assert_allclose(diagnostics["qe_del"], [0.0, 0.0])


@pytest.mark.parametrize("function", [leave_one_out, influence])
def test_bad_input_raises(function):
    with pytest.raises(ValueError, match="at least 2 studies"):
        function([0.1], [0.02])
    with pytest.raises(ValueError, match="study 1"):
        function([0.1, 0.2], [0.02, -0.01])
