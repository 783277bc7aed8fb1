"""Mantel-Haenszel and Peto methods against metafor's rma.mh and rma.peto."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from metareview.stats.binary import mantel_haenszel, peto

CASES = json.loads((Path(__file__).parent / "fixtures/metafor/effects.json").read_text())["cases"]
LEVEL_CASES = json.loads(
    (Path(__file__).parent / "fixtures/metafor/models.json").read_text())["binary_level"]
RTOL = 1e-6
# fixture name -> result field
# metafor's names in the fixtures → the package's vocabulary.
RENAMED = {"k_yi": "k_q", "zval": "statistic"}

MH_CASES = [name for name in CASES if name.startswith("rma_mh_") and "uncorrected" not in name]
PETO_CASES = [name for name in CASES if name.startswith("rma_peto_")]


def _compare(result, expected):
    got = result.to_dict()
    checked = 0
    for key, value in expected.items():
        if value is None:  # not reported by metafor for this measure
            assert math.isnan(got[RENAMED.get(key, key)]), key
            continue
        assert_allclose(got[RENAMED.get(key, key)], value, rtol=RTOL, err_msg=key)
        checked += 1
    return checked


@pytest.mark.parametrize("name", MH_CASES)
def test_mantel_haenszel_matches_rma_mh(name):
    case = CASES[name]
    measure = name.split("_")[2]
    result = mantel_haenszel(**case["input"], measure=measure)
    assert _compare(result, case["output"]) >= 12
    if measure != "RD":
        assert_allclose(
            [result.exp_estimate, result.exp_ci_low, result.exp_ci_high],
            np.exp([result.estimate, result.ci_low, result.ci_high]),
            rtol=1e-14,
        )
    else:
        assert math.isnan(result.exp_estimate)


@pytest.mark.parametrize("name", PETO_CASES)
def test_peto_matches_rma_peto(name):
    case = CASES[name]
    result = peto(**case["input"])
    assert _compare(result, case["output"]) >= 12


@pytest.mark.parametrize("case", LEVEL_CASES, ids=lambda c: f"{c['method']}-{c['measure']}")
def test_ninety_percent_level_matches_metafor(case):
    # rma.mh(..., level=90) and rma.peto(..., level=90) on dat.bcg (models.json).
    if case["method"] == "MH":
        result = mantel_haenszel(**case["tables"], measure=case["measure"], level=case["level"])
    else:
        result = peto(**case["tables"], level=case["level"])
    assert result.level == case["level"]
    for key, value in case["result"].items():
        assert_allclose(getattr(result, RENAMED.get(key, key)), value, rtol=RTOL, err_msg=key)


def test_cmh_without_continuity_correction():
    case = CASES["rma_mh_OR_bcg_uncorrected"]
    result = mantel_haenszel(**case["input"], measure="OR", correct=False)
    assert _compare(result, case["output"]) >= 12
    assert result.cmh > mantel_haenszel(**case["input"]).cmh


def test_yusuf_double_zero_tables_counted_but_left_out_of_q():
    output = CASES["rma_mh_OR_yusuf1985"]["output"]
    assert output["k"] == 26 and output["k_yi"] == 20
    result = mantel_haenszel(**CASES["rma_mh_OR_yusuf1985"]["input"])
    assert (result.k, result.k_q, result.q_df) == (26, 20, 19)


@pytest.mark.parametrize("measure", ["OR", "RR"])
def test_adding_a_double_zero_table_changes_only_k(measure):
    data = {key: np.asarray(value, float) for key, value in CASES["rma_mh_OR_bcg"]["input"].items()}
    base = mantel_haenszel(**data, measure=measure)
    extended = mantel_haenszel(
        ai=np.append(data["ai"], 0),
        bi=np.append(data["bi"], 50),
        ci=np.append(data["ci"], 0),
        di=np.append(data["di"], 45),
        measure=measure,
    )
    assert extended.k == base.k + 1
    assert extended.k_q == base.k_q
    assert_allclose(
        [extended.estimate, extended.se, extended.q], [base.estimate, base.se, base.q], rtol=1e-12
    )


def test_permuting_tables_changes_nothing():
    data = {
        key: np.asarray(value, float)
        for key, value in CASES["rma_mh_RD_yusuf1985"]["input"].items()
    }
    order = np.random.default_rng(7).permutation(data["ai"].size)
    for measure in ("OR", "RR", "RD"):
        a = mantel_haenszel(**data, measure=measure)
        b = mantel_haenszel(**{key: value[order] for key, value in data.items()}, measure=measure)
        assert_allclose([b.estimate, b.se, b.q], [a.estimate, a.se, a.q], rtol=1e-12)


def test_group_sizes_accepted():
    data = CASES["rma_peto_yusuf1985"]["input"]
    n1 = np.add(data["ai"], data["bi"])
    n2 = np.add(data["ci"], data["di"])
    result = peto(data["ai"], ci=data["ci"], n1i=n1, n2i=n2)
    assert_allclose(result.estimate, CASES["rma_peto_yusuf1985"]["output"]["estimate"], rtol=RTOL)


def test_undefined_risk_ratio_is_reported_not_raised():
    result = mantel_haenszel(ai=[0, 0], bi=[10, 12], ci=[2, 3], di=[8, 9], measure="RR")
    assert math.isnan(result.estimate)
    assert "undefined" in result.note


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: mantel_haenszel([1, 2], [5, -1], [2, 2], [5, 5]),
            "study 1: count bi is negative",
        ),
        (lambda: mantel_haenszel([1, 2], [5, 5], [2, 2], [5, 5], measure="AS"), "unknown measure"),
        (
            lambda: peto([1, 9], ci=[2, 2], n1i=[5, 8], n2i=[5, 5]),
            "study 1: events ai exceed",
        ),
        (lambda: peto([0, 0], [5, 5], [0, 0], [5, 5]), "Peto's method cannot be used"),
    ],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()
