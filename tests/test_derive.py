"""From sheets to effects: every reported form gives the effect its formula says, or a reason."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from metareview.stats import conversions, paired
from metareview.review.derive import derive_effects
from metareview.stats.escalc import effect_sizes
from metareview.review.schema import ARMS, CONTRASTS, OUTCOMES, STUDIES
from metareview.review.sheets import load_review

SOURCE = {"source_url": "https://example.org/s", "source_location": "Table 2", "source_level": "full_text"}


def _study(study_id, design="parallel", **extra):
    row = {
        "study_id": study_id, "citation": f"{study_id} et al.", "year": 2020, "design": design,
        "randomised": "true", "condition": "acne_scars", "intervention_class": "svf",
        "intervention": "SVF", "comparator": "saline", "co_intervention": "none",
        "n_randomised": 60, **SOURCE,
    }
    if design == "single_arm":
        row["randomised"] = "false"
    row.update(extra)
    return row


def _arm(study_id, role, mean=None, sd=None, n=20, outcome="ecca", week=12, comparison="c1",
         form="mean_sd", **extra):
    row = {
        "study_id": study_id, "comparison": comparison, "outcome": outcome,
        "timepoint_weeks": week, "arm": extra.pop("arm", role), "role": role, "n": n,
        "mean": mean, "sd": sd, "value_type": "final", "reported_form": form, **SOURCE,
    }
    row.update(extra)
    return row


def _contrast(study_id, form="estimate_ci", outcome="healing_time_days", week=12, **extra):
    row = {
        "study_id": study_id, "comparison": "c1", "outcome": outcome, "timepoint_weeks": week,
        "measure": "MD", "paired": "false", "n_treatment": 15, "n_control": 15,
        "contrast_direction": "treatment_minus_control", "value_type": "final",
        "reported_form": form, "basis": "t", **SOURCE,
    }
    row.update(extra)
    return row


OUTCOME_ROWS = [
    {"outcome": "ecca", "label": "ECCA", "type": "continuous", "measure": "SMD", "scale": "ECCA",
     "direction": "lower_is_better"},
    {"outcome": "improvement_score", "label": "Improvement", "type": "continuous",
     "measure": "SMD", "scale": "score", "direction": "higher_is_better"},
    {"outcome": "healing_time_days", "label": "Healing", "type": "continuous", "measure": "MD",
     "scale": "days", "direction": "lower_is_better"},
    {"outcome": "satisfied", "label": "Satisfied", "type": "binary", "measure": "RR",
     "scale": "patients", "direction": "higher_is_better"},
]


def _write(folder, sheet, rows):
    frame = pd.DataFrame(rows, columns=list(sheet.names))
    frame.to_csv(folder / sheet.filename, index=False)


REVIEW_YAML = "title: derive tests\nintervention_classes: [svf, fat_grafting]\n"


def _review(tmp_path, studies, arms=(), contrasts=(), outcomes=OUTCOME_ROWS):
    (tmp_path / "review.yaml").write_text(REVIEW_YAML, encoding="utf-8")
    (tmp_path / "CODEBOOK.md").write_text("# codebook\n", encoding="utf-8")
    _write(tmp_path, STUDIES, studies)
    _write(tmp_path, ARMS, list(arms))
    _write(tmp_path, CONTRASTS, list(contrasts))
    _write(tmp_path, OUTCOMES, outcomes)
    return load_review(tmp_path)


def _only(frame, **match):
    mask = np.ones(len(frame), dtype=bool)
    for column, value in match.items():
        mask &= frame[column].to_numpy() == value
    assert mask.sum() == 1, frame
    return frame[mask].iloc[0]


def test_parallel_mean_sd_gives_hedges_g(tmp_path):
    review = _review(tmp_path, [_study("A")], [
        _arm("A", "treatment", 40.0, 10.0, n=20), _arm("A", "control", 50.0, 12.0, n=22)])
    effect = _only(derive_effects(review).effects, study_id="A")
    expected = effect_sizes("SMD", m1i=[40.0], sd1i=[10.0], n1i=[20], m2i=[50.0], sd2i=[12.0], n2i=[22])
    assert effect["yi"] == pytest.approx(expected["yi"][0], rel=1e-12)
    assert effect["vi"] == pytest.approx(expected["vi"][0], rel=1e-12)
    assert effect["yi"] < 0  # lower ECCA with treatment favours treatment
    assert not effect["converted"] and not effect["paired"]


def test_higher_is_better_outcome_keeps_the_sources_sign(tmp_path):
    review = _review(tmp_path, [_study("A")], [
        _arm("A", "treatment", 3.0, 1.0, outcome="improvement_score"),
        _arm("A", "control", 2.0, 1.0, outcome="improvement_score")])
    effect = _only(derive_effects(review).effects, study_id="A")
    assert effect["yi"] > 0  # more improvement with treatment: treatment minus control > 0
    assert "sign" not in effect["derivation"]


@pytest.mark.parametrize("r", [0.2, 0.5, 0.8])
def test_split_face_uses_paired_formula_with_r(tmp_path, r):
    review = _review(tmp_path, [_study("S", design="split_face")], [
        _arm("S", "treatment", 40.0, 10.0, n=12), _arm("S", "control", 50.0, 12.0, n=12)])
    effect = _only(derive_effects(review, paired_r=r).effects, study_id="S")
    expected = paired.paired_smd(40.0, 10.0, 50.0, 12.0, 12, r)
    assert effect["yi"] == pytest.approx(expected["yi"][0], rel=1e-12)
    assert effect["vi"] == pytest.approx(expected["vi"][0], rel=1e-12)
    assert effect["paired"] and effect["paired_r"] == r


def test_mean_se_is_converted_exactly_to_sd(tmp_path):
    review = _review(tmp_path, [_study("A")], [
        _arm("A", "treatment", 40.0, n=16, form="mean_se", se=2.5),
        _arm("A", "control", 50.0, 12.0, n=25)])
    effect = _only(derive_effects(review).effects, study_id="A")
    expected = effect_sizes("SMD", m1i=[40.0], sd1i=[10.0], n1i=[16], m2i=[50.0], sd2i=[12.0], n2i=[25])
    assert effect["yi"] == pytest.approx(expected["yi"][0], rel=1e-12)
    assert "SE x sqrt(n)" in effect["derivation"] and not effect["converted"]


def test_median_iqr_is_flagged_as_converted(tmp_path):
    review = _review(tmp_path, [_study("A")], [
        _arm("A", "treatment", n=30, form="median_iqr", median=30.0, q1=20.0, q3=45.0),
        _arm("A", "control", 50.0, 12.0, n=30)])
    effect = _only(derive_effects(review).effects, study_id="A")
    mean, sd = conversions.mean_sd_from_median_iqr(20.0, 30.0, 45.0, 30)
    expected = effect_sizes("SMD", m1i=[mean], sd1i=[sd], n1i=[30], m2i=[50.0], sd2i=[12.0], n2i=[30])
    assert effect["yi"] == pytest.approx(expected["yi"][0], rel=1e-12)
    assert effect["converted"] and "median and IQR" in effect["derivation"]


def test_md_with_ci_uses_t_quantile_and_direction(tmp_path):
    review = _review(tmp_path, [_study("C")], contrasts=[
        _contrast("C", estimate=2.0, ci_low=0.5, ci_high=3.5, contrast_direction="control_minus_treatment")])
    effect = _only(derive_effects(review).effects, study_id="C")
    se = 3.0 / (2 * stats.t.ppf(0.975, 28))
    assert effect["yi"] == pytest.approx(-2.0)
    assert effect["se"] == pytest.approx(se, rel=1e-12)
    assert effect["converted"] and "reversed" in effect["derivation"]


def test_p_below_threshold_is_read_as_equal_and_flagged(tmp_path):
    review = _review(tmp_path, [_study("C")], contrasts=[
        _contrast("C", form="estimate_p", estimate=-1.5, p_value=0.01, p_operator="<")])
    effect = _only(derive_effects(review).effects, study_id="C")
    assert effect["se"] == pytest.approx(1.5 / stats.t.ppf(1 - 0.005, 28), rel=1e-12)
    assert "conservative" in effect["derivation"]


def test_unpoolable_forms_are_listed_with_reasons(tmp_path):
    studies = [_study("P"), _study("M"), _study("U"), _study("X"), _study("Q", design="single_arm")]
    arms = [
        _arm("P", "treatment", 30.0, n=10, form="mean_only", value_type="percent_change"),
        _arm("P", "control", 20.0, n=10, form="mean_only", value_type="percent_change"),
        _arm("X", "treatment", 40.0, 10.0), _arm("X", "control", 50.0, 12.0),
        _arm("Q", "treatment", 40.0, 10.0, comparison="single"),
    ]
    contrasts = [
        _contrast("M", outcome="ecca", estimate=-5.0, ci_low=-9.0, ci_high=-1.0),
        _contrast("U", estimate=-5.0, ci_low=-9.0, ci_high=-1.0, contrast_direction="unclear"),
    ]
    review = _review(tmp_path, studies, arms, contrasts)
    derived = derive_effects(review, exclude_studies=["X"])
    # an MD with its CI where the outcome is pooled as SMD is standardised (SD from the SE)
    assert list(derived.effects["study_id"]) == ["M"]
    assert "SD = SE/√(1/n1 + 1/n2)" in derived.effects.loc[0, "derivation"]
    reasons = dict(zip(derived.not_pooled["study_id"], derived.not_pooled["reason"]))
    assert "means without SD and without a between-arm p value" in reasons["P"]
    assert "which arm was subtracted" in reasons["U"]
    assert "exclude_studies" in reasons["X"]
    assert "single-arm" in reasons["Q"]


@pytest.mark.parametrize("choice, week", [("last", 24), ("first", 4)])
def test_timepoint_choice(tmp_path, choice, week):
    arms = []
    for w, mean in ((4, 45.0), (12, 42.0), (24, 38.0)):
        arms += [_arm("A", "treatment", mean, 10.0, week=w), _arm("A", "control", 50.0, 10.0, week=w)]
    # the latest timepoint of a second study gives no dispersion: its week-12 result is used
    arms += [_arm("B", "treatment", 30.0, n=20, week=24, form="mean_only", value_type="percent_change"),
             _arm("B", "control", 20.0, n=20, week=24, form="mean_only", value_type="percent_change"),
             _arm("B", "treatment", 40.0, 9.0, week=12), _arm("B", "control", 48.0, 9.0, week=12)]
    review = _review(tmp_path, [_study("A"), _study("B")], arms)
    effects = derive_effects(review, timepoint=choice).effects
    assert _only(effects, study_id="A")["timepoint_weeks"] == week
    assert _only(effects, study_id="B")["timepoint_weeks"] == 12


def test_shared_control_arm_is_split(tmp_path):
    arms = [
        _arm("A", "treatment", 40.0, 10.0, n=20, comparison="svf_vs_ctrl", arm="SVF"),
        _arm("A", "control", 50.0, 10.0, n=20, comparison="svf_vs_ctrl", arm="laser"),
        _arm("A", "treatment", 42.0, 10.0, n=20, comparison="fat_vs_ctrl", arm="fat"),
        _arm("A", "control", 50.0, 10.0, n=20, comparison="fat_vs_ctrl", arm="laser"),
    ]
    effects = derive_effects(_review(tmp_path, [_study("A")], arms)).effects
    assert list(effects["n_control"]) == [10.0, 10.0]
    assert effects["derivation"].str.contains("shared by 2 comparisons").all()


def test_binary_counts_give_log_rr_with_zero_cell_correction(tmp_path):
    arms = [
        _arm("A", "treatment", outcome="satisfied", n=None, form="events_total", events=10, total=10, value_type="count"),
        _arm("A", "control", outcome="satisfied", n=None, form="events_total", events=6, total=10, value_type="count"),
    ]
    effect = _only(derive_effects(_review(tmp_path, [_study("A")], arms)).effects, study_id="A")
    assert effect["yi"] == pytest.approx(math.log((10.5 / 11) / (6.5 / 11)), rel=1e-12)
    assert "0.5 added" in effect["derivation"]


def test_permuting_rows_changes_nothing(tmp_path):
    arms = []
    for study, mean in (("A", 40.0), ("B", 44.0), ("C", 47.0)):
        arms += [_arm(study, "treatment", mean, 10.0), _arm(study, "control", 50.0, 11.0)]
    studies = [_study(s) for s in "ABC"]
    first = derive_effects(_review(tmp_path, studies, arms)).effects
    second = derive_effects(_review(tmp_path, studies[::-1], arms[::-1])).effects
    pd.testing.assert_frame_equal(first, second)
