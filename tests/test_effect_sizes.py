"""Effect sizes against metafor's escalc (fixtures made by make_effect_fixtures.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from metareview.stats.escalc import (
    back_transform,
    effect_sizes,
    freeman_tukey,
    harmonic_mean,
    hedges_correction,
    inverse_freeman_tukey,
)

FIXTURES = json.loads((Path(__file__).parent / "fixtures/metafor/effects.json").read_text())
CASES = FIXTURES["cases"]
RTOL = 1e-6

ESCALC_CASES = [
    name
    for name in CASES
    if name.startswith("escalc_")
    and name.split("_")[1] in ("SMD", "MD", "RR", "OR", "RD", "PR", "PLO", "PFT")
    and "paired" not in name
]


def test_fixture_records_versions():
    assert FIXTURES["metafor_version"] == "3.8.1"
    assert all("call" in case for case in CASES.values())


@pytest.mark.parametrize("name", ESCALC_CASES)
def test_matches_escalc(name):
    case = CASES[name]
    measure = name.split("_")[1]
    result = effect_sizes(measure, **case["input"])
    assert list(result.columns) == ["yi", "vi"]
    # Some yi are exactly 0 (e.g. a proportion of 1/2 on the logit scale): atol covers those.
    assert_allclose(result["yi"], case["output"]["yi"], rtol=RTOL, atol=1e-12)
    assert_allclose(result["vi"], case["output"]["vi"], rtol=RTOL)


def test_group_sizes_instead_of_non_events():
    case = CASES["escalc_OR_yusuf1985"]["input"]
    n1 = np.add(case["ai"], case["bi"])
    n2 = np.add(case["ci"], case["di"])
    by_cells = effect_sizes("OR", **case)
    by_sizes = effect_sizes("OR", ai=case["ai"], n1i=n1, ci=case["ci"], n2i=n2)
    assert_allclose(by_sizes.to_numpy(), by_cells.to_numpy(), rtol=1e-14)


def test_zero_cell_correction_applies_to_all_four_cells_only_where_needed():
    # Study 0 has a zero cell, study 1 does not: study 1 must be the plain log OR.
    result = effect_sizes("OR", ai=[0, 4], bi=[10, 6], ci=[3, 2], di=[7, 8])
    assert_allclose(result["yi"][0], np.log(0.5 * 7.5 / (10.5 * 3.5)), rtol=1e-14)
    assert_allclose(result["vi"][0], 1 / 0.5 + 1 / 10.5 + 1 / 3.5 + 1 / 7.5, rtol=1e-14)
    assert_allclose(result["yi"][1], np.log(4 * 8 / (6 * 2)), rtol=1e-14)


def test_double_zero_study_is_kept():
    result = effect_sizes("RR", ai=[0, 3], bi=[10, 7], ci=[0, 5], di=[12, 5])
    assert len(result) == 2
    assert_allclose(result["yi"][0], np.log(0.5 / 11) - np.log(0.5 / 13), rtol=1e-14)


def test_hedges_correction_known_values():
    # J(m) = Γ(m/2) / (√(m/2) Γ((m − 1)/2)) (Hedges 1981).
    # m = 10: Γ(5) = 24 and Γ(9/2) = (7/2)(5/2)(3/2)(1/2)√π = 105√π/16, so
    # J(10) = 24 · 16 / (√5 · 105 √π) = 384 / (105 √(5π)) = 0.92274560805...
    assert_allclose(hedges_correction(10), 384 / (105 * np.sqrt(5 * np.pi)), rtol=1e-13)

    # Large m: with x = (m − 1)/2, Γ(x + 1/2)/Γ(x) = √x (1 − 1/(8x) + 1/(128x²) + 5/(1024x³)
    # − 21/(32768x⁴) + ...) (the asymptotic series of the gamma ratio), so
    # J(m) = √((m − 1)/m) (1 − 1/(8x) + ...); the terms left out are below 1e-17 here.
    def series(m):
        x = (m - 1) / 2
        return np.sqrt((m - 1) / m) * (1 - 1 / (8 * x) + 1 / (128 * x**2) + 5 / (1024 * x**3)
                                       - 21 / (32768 * x**4))

    assert_allclose(hedges_correction(1000), series(1000), rtol=1e-12)
    # J(10⁶) = 0.99999924999978...: 1 − J = 7.5e-7, so J ≡ 1 fails. The log-gamma values are
    # about 6e6 here and their difference keeps about 1e-9 of absolute rounding error.
    assert_allclose(hedges_correction(1e6), series(1e6), rtol=0, atol=1e-9)
    assert_allclose(series(1e6), 0.9999992499997813, rtol=1e-15)


def test_input_order_kept():
    case = CASES["escalc_SMD_normand1999"]
    order = np.arange(len(case["output"]["yi"]))[::-1]
    reversed_input = {key: np.asarray(value)[order] for key, value in case["input"].items()}
    result = effect_sizes("SMD", **reversed_input)
    assert_allclose(result["yi"], np.asarray(case["output"]["yi"])[order], rtol=RTOL)


def test_pft_backtransform_harmonic_mean_matches_metafor():
    case = CASES["pft_backtransform_pritz1997"]
    out = case["output"]
    pooled = [out["estimate"], out["ci_low"], out["ci_high"]]
    back = back_transform(pooled, "PFT", ni=case["input"]["ni"])
    assert_allclose(
        back, [out["estimate_back"], out["ci_low_back"], out["ci_high_back"]], rtol=RTOL
    )


def test_inverse_freeman_tukey_per_study_matches_metafor():
    case = CASES["pft_study_backtransform_pritz1997"]
    values = inverse_freeman_tukey(case["output"]["yi"], np.asarray(case["input"]["ni"], float))
    assert_allclose(values, case["output"]["pr"], rtol=RTOL)


def test_freeman_tukey_round_trip_and_bounds():
    p = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    assert_allclose(inverse_freeman_tukey(freeman_tukey(p, 40), 40), p, atol=1e-12)
    assert inverse_freeman_tukey(10.0, 40) == 1.0
    assert inverse_freeman_tukey(-1.0, 40) == 0.0


def test_back_transform_log_and_logit():
    assert_allclose(back_transform([0.0, np.log(2)], "OR"), [1.0, 2.0])
    assert_allclose(back_transform([0.0], "PLO"), [0.5])
    assert_allclose(back_transform([0.3], "MD"), [0.3])
    assert harmonic_mean([2, 4, 4]) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="ni"):
        back_transform([1.0], "PFT")


@pytest.mark.parametrize(
    ("measure", "data", "message"),
    [
        (
            "OR",
            dict(ai=[1, -1], bi=[5, 5], ci=[2, 2], di=[5, 5]),
            "study 1: count ai is negative",
        ),
        (
            "RR",
            dict(ai=[1, 9], n1i=[5, 8], ci=[2, 2], n2i=[5, 5]),
            "study 1: events ai exceed",
        ),
        ("PLO", dict(xi=[3, 12], ni=[10, 10]), "study 1: events xi exceed"),
        ("PR", dict(xi=[3, 2], ni=[10, 0]), "study 1: ni must be > 0"),
        (
            "SMD",
            dict(m1i=[1, 2], sd1i=[1, 1], n1i=[10, 1], m2i=[0, 0], sd2i=[1, 1], n2i=[10, 10]),
            "study 1: n1i must be >= 2",
        ),
        (
            "SMD",
            dict(m1i=[1, 2], sd1i=[1, 0], n1i=[10, 8], m2i=[0, 0], sd2i=[1, 1], n2i=[10, 10]),
            "study 1: sd1i must be > 0",
        ),
        (
            "MD",
            dict(m1i=[1, 2], sd1i=[1, 1], n1i=[10, 8], m2i=[0, 0], sd2i=[1, -2], n2i=[10, 10]),
            "study 1: sd2i must be > 0",
        ),
        (
            "MD",
            dict(m1i=[1, np.nan], sd1i=[1, 1], n1i=[10, 8], m2i=[0, 0], sd2i=[1, 1], n2i=[10, 10]),
            "study 1: m1i is missing or not finite",
        ),
        (
            "MD",
            dict(m1i=[1, 2], sd1i=[1, 1], n1i=[10, 8], m2i=[0], sd2i=[1, 1], n2i=[10, 10]),
            "m1i has 2 values but m2i has 1: study 1 has no m2i",
        ),
        ("MD", dict(m1i=[1], sd1i=[1], n1i=[10], m2i=[0], sd2i=[1]), "missing argument"),
        ("XX", dict(), "unknown measure"),
        ("OR", dict(xi=[1], ni=[2]), "does not take"),
    ],
)
def test_bad_input_raises(measure, data, message):
    with pytest.raises(ValueError, match=message):
        effect_sizes(measure, **data)


# ---- properties (hypothesis) ---------------------------------------------------------------

finite = st.floats(-100, 100, allow_nan=False)
positive = st.floats(0.1, 50, allow_nan=False)
size = st.integers(2, 500)


@settings(max_examples=50, deadline=None)
@given(finite, positive, size, finite, positive, size, finite, st.floats(0.1, 10))
def test_smd_ignores_location_and_scale(m1, sd1, n1, m2, sd2, n2, shift, scale):
    base = effect_sizes("SMD", m1i=[m1], sd1i=[sd1], n1i=[n1], m2i=[m2], sd2i=[sd2], n2i=[n2])
    moved = effect_sizes(
        "SMD",
        m1i=[scale * m1 + shift],
        sd1i=[scale * sd1],
        n1i=[n1],
        m2i=[scale * m2 + shift],
        sd2i=[scale * sd2],
        n2i=[n2],
    )
    assert_allclose(moved.to_numpy(), base.to_numpy(), rtol=1e-7, atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(finite, positive, size, finite, positive, size, st.floats(0.1, 10))
def test_md_scales_with_the_outcome(m1, sd1, n1, m2, sd2, n2, scale):
    base = effect_sizes("MD", m1i=[m1], sd1i=[sd1], n1i=[n1], m2i=[m2], sd2i=[sd2], n2i=[n2])
    scaled = effect_sizes(
        "MD",
        m1i=[scale * m1],
        sd1i=[scale * sd1],
        n1i=[n1],
        m2i=[scale * m2],
        sd2i=[scale * sd2],
        n2i=[n2],
    )
    assert_allclose(scaled["yi"], scale * base["yi"], rtol=1e-9, atol=1e-9)
    assert_allclose(scaled["vi"], scale**2 * base["vi"], rtol=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 60)] * 4), min_size=1, max_size=6))
def test_swapping_groups_negates_log_ratios(tables):
    ai, bi, ci, di = (np.array(column, dtype=float) for column in zip(*tables, strict=False))
    # A group with no participants is not a 2×2 table (effect_sizes rejects it).
    assume(not (np.any(ai + bi == 0) or np.any(ci + di == 0)))
    for measure in ("OR", "RR", "RD"):
        forward = effect_sizes(measure, ai=ai, bi=bi, ci=ci, di=di)
        backward = effect_sizes(measure, ai=ci, bi=di, ci=ai, di=bi)
        assert_allclose(backward["yi"], -forward["yi"], rtol=1e-12, atol=1e-12)
        assert_allclose(backward["vi"], forward["vi"], rtol=1e-12)
