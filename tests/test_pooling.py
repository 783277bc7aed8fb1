"""`pool` against metafor 3.8-1 (rma.uni, confint, predict, weights) on metadat datasets.

Reference values: tests/fixtures/metafor/models.json, made by make_model_fixtures.R in the same
folder (the R call of every case is stored beside its numbers).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from metareview import pool
from metareview.stats.vocabulary import TAU2_METHODS as METHODS

FIXTURES = json.loads(
    (Path(__file__).parent / "fixtures" / "metafor" / "models.json").read_text()
)
DATASETS = FIXTURES["datasets"]

RTOL = 1e-6
# Values that are zero in exact arithmetic (tau² on the boundary, a pooled estimate of 0, Q of
# identical estimates) come out as 0 or as ±1e-17 rounding noise; a relative tolerance cannot
# compare those, so an absolute floor far below any reported digit is added.
ATOL = 1e-10

POOL_FIELDS = ("estimate", "se", "ci_low", "ci_high", "pval", "statistic", "k", "tau2",
               "tau2_se", "tau2_ci", "i2", "h2", "i2_ci", "h2_ci", "q", "q_pval", "pi_low",
               "pi_high", "weights", "df", "knha_factor")


def assert_matches(actual, expected, label: str) -> None:
    """Compare numbers or sequences; JSON null (R's NA, NaN or ±Inf) must be non-finite here."""
    actual_values = np.atleast_1d(np.asarray(actual, dtype=float))
    expected_values = np.atleast_1d(np.asarray(
        [math.nan if e is None else e for e in np.atleast_1d(np.asarray(expected, dtype=object))],
        dtype=float))
    assert actual_values.shape == expected_values.shape, label
    for a, e in zip(actual_values, expected_values):
        if math.isnan(e):
            assert not math.isfinite(a), f"{label}: expected non-finite, got {a}"
        else:
            assert a == pytest.approx(e, rel=RTOL, abs=ATOL), label


def case_id(case: dict) -> str:
    return f"{case['dataset']}-{case['method']}-{case['test']}-level{case['level']:g}"


@pytest.mark.parametrize("case", FIXTURES["pool"], ids=case_id)
def test_pool_matches_metafor(case):
    data = DATASETS[case["dataset"]]
    result = pool(data["yi"], data["vi"], method=case["method"], test=case["test"],
                  level=case["level"])
    assert result.level == case["level"]
    for field in POOL_FIELDS:
        assert_matches(getattr(result, field), case["result"][field],
                       f"{field} ({case['call']})")


def test_fixture_covers_every_method_and_test():
    covered = {(c["dataset"], c["method"], c["test"]) for c in FIXTURES["pool"]}
    for dataset in ("bcg_rr", "normand_smd", "normand_md", "hackshaw_or", "raudenbush",
                    "curtis_rom", "pritz_plo"):
        for method in METHODS:
            for test in ("z", "knha"):
                assert (dataset, method, test) in covered
    levels = {(c["method"], c["test"]) for c in FIXTURES["pool"] if c["level"] != 0.95}
    assert levels == {(method, test) for method in METHODS for test in ("z", "knha")}


def test_fixture_records_versions_and_tight_control():
    assert FIXTURES["metafor_version"] == "3.8.1"
    assert "threshold=1e-12" in FIXTURES["control"] and "tol=1e-12" in FIXTURES["control"]
    assert all("threshold=1e-12" in case["call"] for case in FIXTURES["pool"])


def test_weights_are_percentages():
    data = DATASETS["bcg_rr"]
    for method in METHODS:
        weights = pool(data["yi"], data["vi"], method=method).weights
        assert weights.sum() == pytest.approx(100.0, rel=1e-12)
        assert np.all(weights > 0)


def test_fe_prediction_interval_equals_confidence_interval():
    data = DATASETS["normand_md"]
    for test in ("z", "knha"):
        result = pool(data["yi"], data["vi"], method="FE", test=test)
        assert (result.pi_low, result.pi_high) == (result.ci_low, result.ci_high)


def test_bcg_paule_mandel_tight_value_from_design_notes():
    # metafor's Paule-Mandel tau² on dat.bcg with tight convergence control: 0.3180685.
    data = DATASETS["bcg_rr"]
    assert pool(data["yi"], data["vi"], method="PM").tau2 == pytest.approx(0.3180685, abs=5e-8)


def test_result_is_immutable_and_exports():
    data = DATASETS["bcg_rr"]
    result = pool(data["yi"], data["vi"])
    with pytest.raises(Exception):
        result.estimate = 0.0
    with pytest.raises(ValueError):
        result.weights[0] = 1.0
    as_dict = result.to_dict()
    assert as_dict["estimate"] == result.estimate
    assert isinstance(as_dict["weights"], list) and len(as_dict["weights"]) == result.k
    frame = result.to_frame()
    assert frame.shape[0] == 1
    assert frame.loc[0, "tau2_ci_low"] == result.tau2_ci_low
    assert as_dict["tau2_ci_high"] == result.tau2_ci_high and "tau2_ci" not in as_dict
    assert "weights" not in frame.columns
    assert "PoolResult(" in repr(result) and "estimate=" in repr(result)


def test_invalid_method_and_test():
    with pytest.raises(ValueError, match="unknown tau² method"):
        pool([0.1, 0.2], [0.1, 0.1], method="XYZ")
    with pytest.raises(ValueError, match="unknown test"):
        pool([0.1, 0.2], [0.1, 0.1], test="t")
