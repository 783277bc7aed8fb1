"""Synthesis without meta-analysis per outcome (metareview.report.swim): before–after results
apart from comparisons, a single p value never called combined, no p = 1 for a result without
a p value, and every vote count with its denominator."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from metareview.report import swim
from metareview.report.swim import BEFORE_AFTER, BETWEEN_GROUPS, result_kind


def results(rows):
    frame = pd.DataFrame(rows)
    defaults = {"comparison": "c", "reported_outcome": frame["outcome"], "p_operator": "=",
                "n": np.nan, "source": "contrast as printed", "main_analysis": True}
    for column, value in defaults.items():
        if column not in frame:
            frame[column] = value
    return frame[swim.RESULT_COLUMNS]


NO_UNORIENTED = pd.DataFrame(columns=["outcome", "study_id", "comparison", "reason"])
NO_EFFECTS = pd.DataFrame(columns=["outcome"])


def test_kind_of_a_result():
    assert result_kind("single_arm", "msc") == BEFORE_AFTER
    assert result_kind("parallel", "pre_post") == BEFORE_AFTER
    assert result_kind("split_face", "cells_vs_saline") == BETWEEN_GROUPS


def test_before_after_results_never_count_as_favouring_the_treatment_over_control():
    frame = results([
        {"outcome": "sledai", "kind": BEFORE_AFTER, "study_id": s, "direction": 1, "p": 0.01}
        for s in ("A", "B", "C")] + [
        {"outcome": "sledai", "kind": BETWEEN_GROUPS, "study_id": "D", "direction": -1,
         "p": 0.2}])
    table = swim.synthesise(frame, NO_EFFECTS, NO_UNORIENTED)
    assert list(table["kind"]) == [BEFORE_AFTER, BETWEEN_GROUPS]
    between, before = table.iloc[1], table.iloc[0]
    assert (between["n_favour"], between["n_against"], between["k_studies"]) == (0, 1, 1)
    assert before["n_favour"] == 3 and before["synthesis"] == "synthesis without meta-analysis"
    text = swim.sentence(before, "SLEDAI")
    assert "before–after results of single groups, no control" in text
    assert "improved from baseline" in text and "favour the treatment" not in text
    assert "favour the treatment over the control" in swim.sentence(between, "SLEDAI")


def test_one_p_value_is_a_single_study_not_a_combination():
    frame = results([{"outcome": "o", "kind": BETWEEN_GROUPS, "study_id": "A", "direction": 1,
                      "p": 0.04, "n": 20}])
    row = swim.synthesise(frame, NO_EFFECTS, NO_UNORIENTED).iloc[0]
    assert math.isnan(row["stouffer_p"]) and math.isnan(row["fisher_p"])
    assert math.isclose(row["single_p"], 0.02)               # one-sided, towards the treatment
    text = swim.sentence(row)
    assert "a single study's one-sided p = 0.02" in text and "combined" not in text
    assert "sign test" not in text                           # no test of one vote


def test_a_result_without_a_p_value_is_not_entered_as_p_one():
    # healing time: one study with p = 0.01 favouring treatment, one of no difference without p
    frame = results([
        {"outcome": "healing", "kind": BETWEEN_GROUPS, "study_id": "A", "direction": 1,
         "p": 0.01},
        {"outcome": "healing", "kind": BETWEEN_GROUPS, "study_id": "B", "direction": 0,
         "p": np.nan},
        {"outcome": "healing", "kind": BETWEEN_GROUPS, "study_id": "C", "direction": 1,
         "p": 0.03}])
    row = swim.synthesise(frame, NO_EFFECTS, NO_UNORIENTED).iloc[0]
    assert (row["k_p"], row["k_without_p"], row["n_unclear"]) == (2, 1, 1)
    z = (stats.norm.isf(0.005) + stats.norm.isf(0.015)) / math.sqrt(2)   # only A and C
    assert math.isclose(row["stouffer_z"], z, rel_tol=1e-9)
    text = swim.sentence(row, "Healing time")
    assert text.startswith("Healing time (comparisons between groups): 2 of 2 results with a "
                           "direction favour the treatment over the control; 1 more showed no "
                           "difference")
    assert "2 results with a p value" in text and "1 result without a p value" in text


def test_no_direction_at_all_says_nothing_can_be_synthesised():
    frame = results([{"outcome": "o", "kind": BETWEEN_GROUPS, "study_id": "A", "direction": 0,
                      "p": np.nan}])
    row = swim.synthesise(frame, NO_EFFECTS, NO_UNORIENTED).iloc[0]
    assert math.isnan(row["sign_test_p"]) and row["k_p"] == 0
    assert swim.sentence(row) == ("o (comparisons between groups): 1 result, none with a "
                                  "direction (1 of no difference); nothing can be synthesised.")
