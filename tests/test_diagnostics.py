"""`cumulative` and `baujat` against metafor 3.8-1 (cumul, baujat) on metadat datasets.

Reference values: tests/fixtures/metafor/diagnostics.json, made by make_diagnostics_fixtures.R
in the same folder; every case stores the R calls that produced it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import metareview as mr
from metareview.stats.diagnostics import baujat, cumulative

FIXTURES = json.loads(
    (Path(__file__).parent / "fixtures" / "metafor" / "diagnostics.json").read_text()
)
DATASETS = FIXTURES["datasets"]

RTOL = 1e-6
# Quantities that are exactly zero (tau² on the boundary, I² truncated at 0) come out as 0 or as
# rounding noise of order 1e-17; an absolute floor far below any printed digit compares them.
ATOL = 1e-10
CUMULATIVE_FIELDS = ("estimate", "se", "statistic", "pval", "ci_low", "ci_high", "q", "q_pval",
                     "tau2", "i2", "h2")
# metafor reports Q = 0, Q p = 1, I² = 0, H² = 1 for a single study; `pool` calls them not
# estimable (nan). Those fields are compared from step 2 on.
NOT_ESTIMABLE_AT_K1 = ("q", "q_pval", "i2", "h2")


def _case_id(case: dict) -> str:
    return f"{case['dataset']}-{case['method']}-{case['test']}-{case.get('order') or 'input'}"


@pytest.mark.parametrize("case", FIXTURES["cumulative"], ids=_case_id)
def test_cumulative_matches_metafor(case):
    data = DATASETS[case["dataset"]]
    order = data[case["order"]] if case["order"] else None
    table = cumulative(data["yi"], data["vi"], order=order, method=case["method"],
                       test=case["test"])
    expected = case["result"]
    assert table["study"].tolist() == [i - 1 for i in expected["added"]], case["cumul_call"]
    assert table["k"].tolist() == list(range(1, len(data["yi"]) + 1))
    for field in CUMULATIVE_FIELDS:
        actual = table[field].to_numpy(float)
        wanted = np.array([math.nan if e is None else e for e in expected[field]], float)
        if field in NOT_ESTIMABLE_AT_K1:
            assert math.isnan(actual[0]), field
            actual, wanted = actual[1:], wanted[1:]
        np.testing.assert_allclose(actual, wanted, rtol=RTOL, atol=ATOL,
                                   err_msg=f"{field} ({case['call']}; {case['cumul_call']})")


@pytest.mark.parametrize("case", FIXTURES["baujat"], ids=_case_id)
def test_baujat_matches_metafor(case):
    data = DATASETS[case["dataset"]]
    coords = baujat(data["yi"], data["vi"], method=case["method"], test=case["test"])
    for field in ("x", "y"):
        np.testing.assert_allclose(coords[field].to_numpy(float), case["result"][field],
                                   rtol=RTOL, atol=ATOL,
                                   err_msg=f"{field} ({case['call']}; {case['baujat_call']})")


def test_fixture_records_versions_and_control():
    assert FIXTURES["metafor_version"] == "3.8.1"
    assert "threshold=1e-12" in FIXTURES["control"] and "tol=1e-12" in FIXTURES["control"]


def test_cumulative_last_step_is_the_full_model_and_order_is_a_sort_key():
    data = DATASETS["bcg_rr"]
    table = cumulative(data["yi"], data["vi"], order=data["year"], method="REML")
    full = mr.pool(data["yi"], data["vi"], method="REML")
    assert table["estimate"].iloc[-1] == pytest.approx(full.estimate, rel=1e-12)
    assert table["i2"].iloc[-1] == pytest.approx(full.i2, rel=1e-12)
    # the studies enter by year; the two of 1973 keep their order in the data
    years = np.asarray(data["year"])[table["study"].to_numpy()]
    assert np.all(np.diff(years) >= 0)
    ties = table["study"][years == 1973].tolist()
    assert ties == sorted(ties)


def test_cumulative_without_order_follows_the_input_and_rejects_a_bad_key():
    table = cumulative([0.1, 0.3, 0.2], [0.01, 0.02, 0.04], method="FE")
    assert table["study"].tolist() == [0, 1, 2]
    assert table["estimate"].iloc[0] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="one sort key"):
        cumulative([0.1, 0.3], [0.01, 0.02], order=[1])
    with pytest.raises(ValueError, match="study 1 has no sort key"):
        cumulative([0.1, 0.3], [0.01, 0.02], order=[2000, np.nan])


def test_baujat_fe_contributions_sum_to_cochrans_q_and_need_two_studies():
    data = DATASETS["bcg_rr"]
    coords = baujat(data["yi"], data["vi"], method="FE")
    assert coords["x"].sum() == pytest.approx(mr.pool(data["yi"], data["vi"], method="FE").q,
                                              rel=1e-12)
    # permuting the studies permutes the coordinates
    perm = np.random.default_rng(1).permutation(len(data["yi"]))
    permuted = baujat(np.asarray(data["yi"])[perm], np.asarray(data["vi"])[perm], method="FE")
    np.testing.assert_allclose(permuted["y"].to_numpy(), coords["y"].to_numpy()[perm],
                               rtol=1e-10)
    with pytest.raises(ValueError, match="at least 2 studies"):
        baujat([0.1], [0.01])
