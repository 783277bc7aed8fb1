"""Derivations of issue-style hand-worked examples: each number is worked out in the test.

Routes: arm means with a between-arm p value, mean percent change per arm, SMD from a
split-face MD with its SE, counts from printed percentages, a split-face binary outcome,
unlabelled dispersion decided by the printed p value, and a direction taken from the means.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from metareview.review.derive import derive_effects
from metareview.stats import consistency, conversions, paired
from metareview.stats.escalc import hedges_correction

from test_derive import OUTCOME_ROWS, _arm, _contrast, _only, _review, _study

PERCENT_OUTCOMES = OUTCOME_ROWS + [
    {"outcome": "volume_pct_improvement", "label": "Volume, % improvement", "type": "continuous",
     "measure": "MD", "scale": "3D imaging", "unit": "percent", "direction": "higher_is_better"},
    {"outcome": "volume_pct_change", "label": "Volume, % change", "type": "continuous",
     "measure": "MD", "scale": "3D imaging", "unit": "percent", "direction": "lower_is_better",
     "pooled_with": "volume_pct_improvement"},
    {"outcome": "ecca_pct_reduction", "label": "ECCA % reduction", "type": "continuous",
     "measure": "MD", "scale": "ECCA", "unit": "percent", "direction": "higher_is_better",
     "pooled_with": "ecca"},
    {"outcome": "responders", "label": "Responders", "type": "binary", "measure": "OR",
     "scale": "evaluator", "direction": "higher_is_better"},
]


def test_split_face_means_with_p_below_a_bound(tmp_path):
    # Percent reduction 32.5 (treated sides) vs 19.9 (control sides), 25 patients, p < 0.01:
    # MD = 12.6 points; t = t_{24}(1 - 0.01/2) = 2.79694; SE = 12.6 / 2.79694 = 4.50492.
    # Treatment minus control as printed: yi = +12.6 (higher is better, so it favours treatment).
    review = _review(tmp_path, [_study("K", design="split_face")], [
        _arm("K", "treatment", 32.5, n=25, outcome="volume_pct_improvement", form="mean_only",
             value_type="percent_change"),
        _arm("K", "control", 19.9, n=25, outcome="volume_pct_improvement", form="mean_only",
             value_type="percent_change")],
        [_contrast("K", form="p_value", outcome="volume_pct_improvement", measure="none",
                   p_value=0.01, p_operator="<", paired="true", n_treatment=25, n_control=25,
                   contrast_direction="unclear", value_type="percent_change")],
        outcomes=PERCENT_OUTCOMES)
    effect = _only(derive_effects(review).effects, study_id="K")
    t = stats.t.ppf(0.995, 24)
    assert t == pytest.approx(2.79694, abs=5e-6)
    assert effect["yi"] == pytest.approx(12.6)
    assert effect["se"] == pytest.approx(12.6 / t, rel=1e-12)
    assert effect["se"] == pytest.approx(4.50492, abs=5e-6)
    assert effect["p_derived"] and effect["p_bound"] and effect["df"] == 24
    assert "conservative" in effect["derivation"] and effect["paired"]


def test_parallel_means_with_exact_p(tmp_path):
    # Healing 10 vs 14 days, 20 per arm, p = 0.04: df = 38, t = t_{38}(0.98) = 2.12667,
    # SE = 4 / 2.12667 = 1.88087; lower is better so yi = -4.
    review = _review(tmp_path, [_study("H")], [
        _arm("H", "treatment", 10.0, n=20, outcome="healing_time_days", form="mean_only"),
        _arm("H", "control", 14.0, n=20, outcome="healing_time_days", form="mean_only")],
        [_contrast("H", form="p_value", measure="none", p_value=0.04, p_operator="=",
                   n_treatment=20, n_control=20, contrast_direction="unclear")])
    effect = _only(derive_effects(review).effects, study_id="H")
    assert effect["yi"] == pytest.approx(-4.0)
    assert effect["se"] == pytest.approx(4 / stats.t.ppf(0.98, 38), rel=1e-12)
    assert effect["se"] == pytest.approx(1.88087, abs=5e-6)
    assert not effect["p_bound"]


def test_percent_change_outcomes_of_opposite_sign_pool_together(tmp_path):
    # Study S: % change -33.17 vs -19.69 (lower is better) with MD -13.48 (-22.16 to -4.79);
    # study T: % improvement 46.55 vs 13.31 (higher is better), p < 0.001, 10 patients.
    # Both land in volume_pct_improvement (higher is better), treatment minus control on its
    # scale: S's change of -13.48 is an improvement of +13.48 (the one sign reversal, named in
    # the derivation); T gives 46.55 - 13.31 = +33.24, as printed.
    review = _review(tmp_path, [_study("S", design="split_face"),
                                _study("T", design="split_face")], [
        _arm("T", "treatment", 46.55, n=10, outcome="volume_pct_improvement", form="mean_only",
             value_type="percent_change"),
        _arm("T", "control", 13.31, n=10, outcome="volume_pct_improvement", form="mean_only",
             value_type="percent_change")], [
        _contrast("S", outcome="volume_pct_change", estimate=-13.48, ci_low=-22.16,
                  ci_high=-4.79, paired="true", n_treatment=10, n_control=10,
                  value_type="percent_change"),
        _contrast("T", form="p_value", outcome="volume_pct_improvement", measure="none",
                  p_value=0.001, p_operator="<", paired="true", n_treatment=10, n_control=10,
                  contrast_direction="unclear", value_type="percent_change")],
        outcomes=PERCENT_OUTCOMES)
    effects = derive_effects(review).effects.set_index("study_id")
    assert set(effects["outcome"]) == {"volume_pct_improvement"}
    assert effects.loc["S", "yi"] == pytest.approx(13.48)
    assert "sign reversed" in effects.loc["S", "derivation"]
    assert effects.loc["S", "reported_outcome"] == "volume_pct_change"
    # SE from the CI with t on 9 df: (−4.79 − (−22.16)) / (2 × 2.26216) = 3.83921
    assert effects.loc["S", "se"] == pytest.approx(17.37 / (2 * stats.t.ppf(0.975, 9)))
    assert effects.loc["T", "yi"] == pytest.approx(33.24)
    assert "sign" not in effects.loc["T", "derivation"]


def test_smd_from_a_split_face_md_with_its_ci(tmp_path):
    # ECCA MD -17.00 (95% CI -24.56 to -9.44), 10 patients, outcome pooled as SMD:
    # SE = 15.12 / (2 t_9(0.975)) = 15.12 / 4.52431 = 3.34194; SD_diff = SE·√10 = 10.5682;
    # d_z = -17 / 10.5682 = -1.60861; with r = 0.5, s_av = SD_diff / √(2·0.5) = 10.5682,
    # g = J(9)·(-17 / 10.5682), J(9) = 0.91387; vi = 2(1 - 0.5)/10 + g²/20.
    review = _review(tmp_path, [_study("E", design="split_face")], contrasts=[
        _contrast("E", outcome="ecca", estimate=-17.00, ci_low=-24.56, ci_high=-9.44,
                  paired="true", n_treatment=10, n_control=10, value_type="change")])
    effect = _only(derive_effects(review, paired_r=0.5).effects, study_id="E")
    se = 15.12 / (2 * stats.t.ppf(0.975, 9))
    assert se == pytest.approx(3.34194, abs=5e-6)
    sd_av = se * math.sqrt(10) / math.sqrt(2 * 0.5)
    g = hedges_correction(9) * -17 / sd_av
    assert hedges_correction(9) == pytest.approx(0.91387, abs=5e-6)
    assert effect["yi"] == pytest.approx(g, rel=1e-12)
    assert effect["vi"] == pytest.approx(2 * 0.5 / 10 + g**2 / 20, rel=1e-12)
    assert "d_z → d_av" in effect["derivation"]
    direct = paired.smd_from_paired_md(-17.0, se, 10, 0.5)
    assert direct.loc[0, "d_z"] == pytest.approx(-17 / (se * math.sqrt(10)))


def test_smd_joins_a_percent_outcome_to_its_construct(tmp_path):
    # ECCA % reduction 32.5 vs 19.9 (p < 0.01, 25 patients) pooled with ECCA points as SMD:
    # MD 12.6, SE 4.50492, SD_diff = 4.50492·5 = 22.5246, r = 0.5 → s_av = 22.5246,
    # g = J(24)·12.6/22.5246 = 0.96837·0.55939 = 0.54169, flipped (higher is better) → -0.54169.
    review = _review(tmp_path, [_study("K", design="split_face")], [
        _arm("K", "treatment", 32.5, n=25, outcome="ecca_pct_reduction", form="mean_only",
             value_type="percent_change"),
        _arm("K", "control", 19.9, n=25, outcome="ecca_pct_reduction", form="mean_only",
             value_type="percent_change")],
        [_contrast("K", form="p_value", outcome="ecca_pct_reduction", measure="none",
                   p_value=0.01, p_operator="<", paired="true", n_treatment=25,
                   n_control=25, contrast_direction="unclear", value_type="percent_change")],
        outcomes=PERCENT_OUTCOMES)
    effect = _only(derive_effects(review).effects, study_id="K")
    assert effect["outcome"] == "ecca" and effect["measure"] == "SMD"
    sd_av = 12.6 / stats.t.ppf(0.995, 24) * 5
    assert effect["yi"] == pytest.approx(-hedges_correction(24) * 12.6 / sd_av, rel=1e-12)
    assert effect["yi"] == pytest.approx(-0.54169, abs=5e-5)


def test_counts_from_percentages_and_a_split_face_binary_outcome(tmp_path):
    # 59% and 42% of 99 sides: 58.41 → 58 and 41.58 → 42 events. Paired log OR
    # (Becker-Balagtas): p1 = 58/99, p2 = 42/99; yi = logit p1 − logit p2 = ln(58/41) − ln(42/57)
    # = 0.34687 + 0.30538 = 0.65225; with r = 0.5, vi = (1/(p1 q1) + 1/(p2 q2) − 2·0.5/√(p1 q1 p2 q2)) / 99.
    assert list(conversions.counts_from_percent([59, 42, 43, 18], 99)) == [58, 42, 43, 18]
    review = _review(tmp_path, [_study("M", design="split_face", n_randomised=99)], [
        _arm("M", "treatment", n=99, outcome="responders", form="percent_only", percent=59,
             total=99, value_type="count"),
        _arm("M", "control", n=99, outcome="responders", form="percent_only", percent=42,
             total=99, value_type="count")], outcomes=PERCENT_OUTCOMES)
    effect = _only(derive_effects(review, paired_r=0.5).effects, study_id="M")
    p1, p2 = 58 / 99, 42 / 99
    v1, v2 = p1 * (1 - p1), p2 * (1 - p2)
    assert effect["yi"] == pytest.approx(math.log(58 / 41) - math.log(42 / 57), rel=1e-12)
    assert effect["yi"] == pytest.approx(0.65225, abs=5e-6)
    assert effect["vi"] == pytest.approx((1 / v1 + 1 / v2 - 1 / math.sqrt(v1 * v2)) / 99)
    assert effect["from_percent"] and effect["converted"] and effect["paired"]
    assert (effect["events_treatment"], effect["events_control"]) == (58, 42)
    # r = 0 gives the unpaired log OR of two groups of 99: 1/58 + 1/41 + 1/42 + 1/57
    unpaired = paired.paired_binary(p1, p2, 99, 0.0, "OR")
    assert unpaired.loc[0, "vi"] == pytest.approx(1 / 58 + 1 / 41 + 1 / 42 + 1 / 57)


def test_unlabelled_dispersion_read_by_the_printed_p(tmp_path):
    # 46.55 ± 13.92 vs 13.31 ± 9.27, 10 patients, p < 0.001, paired with r = 0.5.
    # As SD: SD_diff = √(13.92² + 9.27² − 2·0.5·13.92·9.27) = 12.2765, t = 33.24/(12.2765/√10)
    # = 8.562, p ≈ 1.3e-5 < 0.001: fits. As SE the SDs are ×√10 and t = 2.708, p = 0.024: no.
    check = consistency.read_unlabelled_dispersion(46.55, 13.92, 10, 13.31, 9.27, 10, 0.001,
                                                   "<", paired=True, r=0.5)
    sd_diff = math.sqrt(13.92**2 + 9.27**2 - 2 * 0.5 * 13.92 * 9.27)
    t = 33.24 / (sd_diff / math.sqrt(10))
    assert check.reading == "SD" and check.decided
    assert check.p_if_sd == pytest.approx(2 * stats.t.sf(t, 9), rel=1e-9)
    assert check.p_if_se == pytest.approx(2 * stats.t.sf(t / math.sqrt(10), 9), rel=1e-9)
    # A case the SE reading fits: 10 ± 1 vs 12 ± 1, 25 per arm, printed p = 0.16. As SD,
    # t = 2/(1·√(2/25)) = 7.07 (p tiny); as SE the SDs are 5 and t = 1.414, p = 0.164.
    other = consistency.read_unlabelled_dispersion(10, 1, 25, 12, 1, 25, 0.16, "=")
    assert other.reading == "SE" and other.decided
    assert other.p_if_se == pytest.approx(2 * stats.t.sf(2 / math.sqrt(2), 48), rel=1e-9)
    # no printed p: the Cochrane convention (SD), flagged as undecided
    review = _review(tmp_path, [_study("U", design="split_face")], [
        _arm("U", "treatment", 7.10, n=10, outcome="improvement_score", form="mean_unlabelled",
             dispersion_unlabelled=0.99),
        _arm("U", "control", 5.30, n=10, outcome="improvement_score", form="mean_unlabelled",
             dispersion_unlabelled=1.25)])
    effect = _only(derive_effects(review).effects, study_id="U")
    assert effect["dispersion_reading"] == "SD" and not effect["dispersion_decided"]
    expected = paired.paired_smd(7.10, 0.99, 5.30, 1.25, 10, 0.5)
    assert effect["yi"] == pytest.approx(expected.loc[0, "yi"])
    # the sensitivity analysis takes the other reading: SDs 0.99·√10 and 1.25·√10
    flipped = _only(derive_effects(review, dispersion="other").effects, study_id="U")
    expected = paired.paired_smd(7.10, 0.99 * math.sqrt(10), 5.30, 1.25 * math.sqrt(10), 10, 0.5)
    assert flipped["dispersion_reading"] == "SE"
    assert flipped["yi"] == pytest.approx(expected.loc[0, "yi"])


def test_direction_of_an_unclear_contrast_comes_from_the_means(tmp_path):
    # MD printed as 4.0 with CI, direction unclear; the means are 10 (treatment) vs 14
    # (control), so the estimate is control minus treatment and becomes -4.0.
    review = _review(tmp_path, [_study("D")], [
        _arm("D", "treatment", 10.0, n=15, outcome="healing_time_days", form="mean_only"),
        _arm("D", "control", 14.0, n=15, outcome="healing_time_days", form="mean_only")],
        [_contrast("D", estimate=4.0, ci_low=1.0, ci_high=7.0, contrast_direction="unclear")])
    effect = _only(derive_effects(review).effects, study_id="D")
    assert effect["yi"] == pytest.approx(-4.0)
    assert "direction taken from the arm means" in effect["derivation"]


def test_grim_and_percentages():
    # ECCA means of 10 whole-number scores must be multiples of 0.1: -60.25 is not; 7.10 is.
    assert consistency.grim(-60.25, 10, 2) is False
    assert consistency.grim(7.10, 10, 2) is True
    assert consistency.grim(7.1, 1000, 1) is None  # n too large for the test to say anything
    # 86.1% of 36 = 31/36 = 86.11%; 86.2% is no k/36 (31/36 = 86.11, 32/36 = 88.89)
    assert consistency.percent_possible(86.1, 36, 1)
    assert not consistency.percent_possible(86.2, 36, 1)
    assert consistency.p_agrees(0.0061, 0.006) and not consistency.p_agrees(0.02, 0.006)
    assert consistency.p_agrees(0.0004, 0.001, "<") and not consistency.p_agrees(0.002, 0.001,
                                                                                   "<")
    assert np.isclose(consistency.two_sample_p(10, 1, 25, 12, 1, 25),
                      stats.ttest_ind_from_stats(10, 1, 25, 12, 1, 25).pvalue)
