"""Paired (split-face) effect sizes against metafor's escalc "MC" and "SMCR"."""

from __future__ import annotations

import json
from math import gamma, sqrt
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.stats import t as t_dist

from metareview.stats.escalc import effect_sizes
from metareview.stats.paired import paired_from_reported, paired_md, paired_smd

CASES = json.loads((Path(__file__).parent / "fixtures/metafor/effects.json").read_text())["cases"]
RTOL = 1e-6
T_975_11 = 2.200985160091639  # qt(0.975, 11) in R 4.2.2


def _paired_args(case):
    data = case["input"]
    return dict(
        m1=data["m1i"],
        sd1=data["sd1i"],
        m2=data["m2i"],
        sd2=data["sd2i"],
        n=data["ni"],
        r=data["ri"],
    )


def test_paired_md_matches_escalc_mc():
    case = CASES["escalc_MC_paired"]
    result = paired_md(**_paired_args(case))
    assert_allclose(result["yi"], case["output"]["yi"], rtol=RTOL)
    assert_allclose(result["vi"], case["output"]["vi"], rtol=RTOL)


def test_paired_smd_matches_escalc_smcr_with_average_sd():
    case = CASES["escalc_SMCR_paired_sdav"]
    result = paired_smd(**_paired_args(case))
    assert_allclose(result["yi"], case["output"]["yi"], rtol=RTOL)
    assert_allclose(result["vi"], case["output"]["vi"], rtol=RTOL)


def test_paired_smd_differs_from_change_score_smd():
    # Standardising by the SD of the differences (escalc "SMCC") is a different quantity.
    case = CASES["escalc_SMCC_paired"]
    result = paired_smd(**_paired_args(case))
    assert not np.allclose(result["yi"], case["output"]["yi"], rtol=1e-3)


def test_r_zero_gives_independent_group_variance():
    # With r = 0 the paired MD variance equals the parallel-group variance with n per arm.
    paired = paired_md(m1=5.0, sd1=2.0, m2=4.0, sd2=3.0, n=10, r=0.0)
    parallel = effect_sizes("MD", m1i=[5.0], sd1i=[2.0], n1i=[10], m2i=[4.0], sd2i=[3.0], n2i=[10])
    assert_allclose(paired["vi"], parallel["vi"], rtol=1e-14)


def test_paired_smd_equal_sds_use_that_sd():
    result = paired_smd(m1=6.0, sd1=2.0, m2=5.0, sd2=2.0, n=11, r=0.5)
    assert_allclose(result["sd_av"], 2.0)
    # J(10) = Γ(5)/(√5 Γ(4.5)), computed with math.gamma rather than the package's log-gamma.
    j = gamma(5) / (sqrt(5) * gamma(4.5))
    g = j * 0.5
    assert_allclose(result["yi"], g, rtol=1e-12)
    assert_allclose(result["vi"], 2 * 0.5 / 11 + g**2 / 22, rtol=1e-12)


def test_higher_correlation_lowers_the_variance():
    low = paired_md(m1=5.0, sd1=2.0, m2=4.0, sd2=2.0, n=15, r=0.2)["vi"][0]
    high = paired_md(m1=5.0, sd1=2.0, m2=4.0, sd2=2.0, n=15, r=0.8)["vi"][0]
    assert high < low


def test_from_reported_ci_uses_t_with_n_minus_1():
    result = paired_from_reported(-1.2, n=12, ci=(-2.0, -0.4))
    assert result.source == "ci"
    assert_allclose(result.se, 1.6 / (2 * T_975_11), rtol=RTOL)
    assert_allclose(result.vi, result.se**2, rtol=1e-14)


def test_from_reported_t_and_p_agree():
    by_t = paired_from_reported(-1.2, n=12, t=-3.0)
    assert_allclose(by_t.se, 0.4, rtol=1e-14)
    p = 2 * t_dist.sf(3.0, 11)
    by_p = paired_from_reported(-1.2, n=12, p=p)
    assert_allclose(by_p.se, 0.4, rtol=1e-9)
    assert not by_p.p_is_bound
    assert paired_from_reported(-1.2, n=12, p=0.01, p_operator="<").p_is_bound


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: paired_md(m1=[1, 2], sd1=[1, 0], m2=[0, 0], sd2=[1, 1], n=[5, 5], r=0.5),
            "study 1: sd1",
        ),
        (lambda: paired_md(m1=1, sd1=1, m2=0, sd2=1, n=5, r=1.5), "r must lie"),
        (lambda: paired_md(m1=1, sd1=1, m2=0, sd2=1, n=5, r=1.0), "not positive"),
        (
            lambda: paired_smd(m1=[1, 2], sd1=1, m2=0, sd2=1, n=[5, 2], r=0.5),
            "study 1: n must be >= 3",
        ),
        (lambda: paired_md(m1=[1, 2, 3], sd1=[1, 1], m2=0, sd2=1, n=5, r=0.5),
         "m1 has 3 values but sd1 has 2: study 2 has no sd1"),
        (lambda: paired_from_reported(1.0, n=10), "give one of"),
        (lambda: paired_from_reported(3.0, n=10, ci=(0.0, 2.0)), "outside its CI"),
    ],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()
