"""Pooled single-group proportions as tables (metareview.report.proportions): each row is the
engine's own fit of that group's studies, and the tests of subgroup differences are the logit
Q-between of `mr.subgroup`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import metareview as mr
from metareview.report.proportions import pool_by_subgroups, pool_proportions

# Two outcomes; "response" has two sources (A: 3 studies, B: 3 studies), "death" one study.
ROWS = pd.DataFrame({
    "study_id": ["S1", "S2", "S3", "S4", "S5", "S6", "S1"],
    "outcome": ["response"] * 6 + ["death"],
    "events": [8, 12, 5, 20, 3, 9, 1],
    "total": [17, 20, 14, 30, 15, 21, 17],
    "source": ["A", "A", "A", "B", "B", "B", "A"],
    "route": ["iv", "sc", "iv", "iv", "sc", "sc", "iv"],
})


def test_each_group_row_is_the_glmm_of_its_studies():
    pooled = pool_proportions(ROWS, group_by="source", sensitivity=False)
    row = pooled.table.set_index(["outcome", "group"]).loc[("response", "B")]
    part = ROWS[(ROWS["outcome"] == "response") & (ROWS["source"] == "B")]
    fit = mr.pool_glmm(part["events"].to_numpy(float), part["total"].to_numpy(float))
    assert row["k"] == 3 and row["events"] == 32 and row["participants"] == 66
    assert row["proportion"] == pytest.approx(fit.pred, rel=1e-12)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((fit.pred_ci_low, fit.pred_ci_high))
    assert row["status"].startswith("pooled")
    single = pooled.table.set_index(["outcome", "group"]).loc[("death", "A")]
    assert single["proportion"] == pytest.approx(1 / 17)
    assert single["status"].startswith("single study")


def test_subgroup_difference_is_the_logit_q_between():
    pooled = pool_proportions(ROWS, group_by="source", sensitivity=False)
    test = pooled.between.set_index("outcome").loc["response"]
    response = ROWS[ROWS["outcome"] == "response"]
    es = mr.effect_sizes("PLO", xi=response["events"].to_numpy(float),
                         ni=response["total"].to_numpy(float))
    expected = mr.subgroup(es["yi"], es["vi"], response["source"].to_numpy(), method="REML",
                           tau2="separate")
    assert test["q_between"] == pytest.approx(expected.q_between, rel=1e-12)
    assert test["pval"] == pytest.approx(expected.pval, rel=1e-12)
    assert "death" not in set(pooled.between["outcome"])  # one group: nothing to compare


def test_pool_by_subgroups_stacks_one_analysis_per_column():
    table, tests = pool_by_subgroups(ROWS, ["source", "route"])
    assert set(table["subgroup"]) == {"source", "route"}
    for column in ("source", "route"):
        alone = pool_proportions(ROWS, group_by=column, sensitivity=False)
        part = table[table["subgroup"] == column].drop(columns="subgroup")
        pd.testing.assert_frame_equal(part.reset_index(drop=True), alone.table)
        np.testing.assert_allclose(tests.loc[tests["subgroup"] == column, "q_between"],
                                   alone.between["q_between"])
    assert not table["model"].str.startswith("inverse variance").any()  # GLMM only
    empty_table, empty_tests = pool_by_subgroups(ROWS, [])
    assert empty_table.empty and empty_tests.empty


def test_a_pooled_status_with_a_note_is_still_pooled():
    from metareview.report.proportions import is_pooled
    from metareview.stats.glmm import BOUNDARY_NOTE

    assert is_pooled("pooled") and is_pooled(f"pooled ({BOUNDARY_NOTE})")
    assert not is_pooled("single study: 2/8 with its exact (Clopper-Pearson) interval")
    assert not is_pooled("no events in any study: 0/7")
