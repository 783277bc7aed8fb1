"""Subgroup and moderator columns with empty cells, categorical moderators, and the order in
which levels and studies are listed (no notebook is run; see test_missing_moderators_review.py
for the same data through the whole pipeline).

Data: metadat's dat.bcg with the allocation unknown in trials 3 and 11 and the latitude in
trials 5 and 12; metafor's fits on the studies that report each column are in
tests/fixtures/metafor/missing_moderators.json (make_missing_fixtures.R).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import metareview as mr
from metareview.report import figures, subgroups, text
from metareview.report.proportions import pool_by_subgroups
from metareview.report.figures.style import alt_text
from metareview.review import ordering
from metareview.review.definitions import Moderator, parse_definitions
from test_missing_moderators_review import REVIEW_YAML

REPO = Path(__file__).resolve().parents[1]
REFERENCE = json.loads(
    (REPO / "tests" / "fixtures" / "metafor" / "missing_moderators.json").read_text())
DEFINITIONS = parse_definitions(yaml.safe_load(REVIEW_YAML))
REL = 1e-6


@pytest.fixture(scope="module")
def effects() -> pd.DataFrame:
    """The trials as notebook 02 would write them, in the order of dat.bcg."""
    data = REFERENCE["input"]
    return pd.DataFrame({
        "study_id": [f"bcg{t}" for t in data["trial"]], "comparison": "bcg_vs_none",
        "outcome": "tb", "measure": "RR", "yi": data["yi"], "vi": data["vi"],
        "df": np.nan, "design": "parallel",
        "alloc": [np.nan if a is None else a for a in data["alloc"]],
        "ablat": [np.nan if a is None else a for a in data["ablat"]]})


def _close(actual, expected) -> None:
    if expected is None:
        assert actual is None or math.isnan(actual)
    else:
        assert actual == pytest.approx(expected, rel=REL, abs=1e-10)


# --- order -----------------------------------------------------------------------------------


def test_study_ids_in_natural_order():
    ids = ["e10", "e2", "e1", "Smith2020b", "Smith2020", "e01"]
    assert ordering.natural_sorted(ids) == ["Smith2020", "Smith2020b", "e01", "e1", "e2", "e10"]
    assert sorted(["e1", "e10", "e2"]) == ["e1", "e10", "e2"]  # what text order would give
    frame = pd.DataFrame({"outcome": ["b", "a", "a", "a"], "study_id": ["e2", "e10", "e9", None]})
    ordered = ordering.sort_studies(frame, ["outcome", "study_id"])
    assert ordered["study_id"].tolist()[:2] == ["e9", "e10"]
    assert pd.isna(ordered["study_id"].iloc[2])  # a missing id last
    assert ordered["outcome"].tolist() == ["a", "a", "a", "b"]


def test_levels_in_review_yaml_order_then_natural_then_not_reported():
    assert ordering.declared_levels(DEFINITIONS, "alloc") == ("random", "alternate",
                                                              "systematic")
    values = ["systematic", np.nan, "random", " ", "alternate", "random"]
    assert ordering.ordered_levels(values, DEFINITIONS, "alloc") == [
        "random", "alternate", "systematic"]
    # designs in the schema's order; undeclared text after the declared levels, naturally
    assert ordering.ordered_levels(["single_arm", "parallel"], None, "design") == [
        "parallel", "single_arm"]
    assert ordering.ordered_levels(["dose 10", "dose 2", None], None, "dose") == [
        "dose 2", "dose 10"]
    # a column of whole numbers read with an empty cell is float: 2.0 is the level "2"
    assert ordering.ordered_levels([2.0, np.nan, 10.0]) == ["2", "10"]


# --- subgroups --------------------------------------------------------------------------------


@pytest.mark.parametrize("test", ["z", "knha"])
def test_subgroup_with_empty_cells_leaves_them_out_of_the_tests(effects, test):
    expected = REFERENCE["cases"][test]
    analysis = subgroups.subgroup_analyses(effects, moderators=["alloc"], test=test,
                                           n_perm=100, definitions=DEFINITIONS)
    table = analysis.table
    groups = table[table["row"] == "group"]
    assert groups["level"].tolist() == ["random", "alternate", "systematic", "not reported"]
    for level, reference in expected["alloc_groups"].items():
        row = groups.set_index("level").loc[level]
        assert row["k"] == reference["k"]
        for name in ("estimate", "se", "ci_low", "ci_high", "pval", "tau2"):
            _close(row[name], reference[name])
    unreported = groups.set_index("level").loc["not reported"]
    assert unreported["k"] == 2 and unreported["status"] == "not reported: left out of the tests"
    between = table[table["row"] == "between"].set_index("tau2_mode")
    assert (between["k"] == 11).all()
    assert set(between["status"]) == {"tested; 2 studies that do not report alloc left out"}
    common = between.loc["common"]
    # the common-tau² test is the QM of metafor's rma(mods = ~ factor(alloc)) on 11 trials
    _close(common["q_between"], expected["alloc"]["qm"])
    _close(common["q_between_pval"], expected["alloc"]["qm_pval"])
    _close(common["tau2"], expected["alloc"]["tau2"])
    assert common["df"] == 2
    if test == "knha":
        assert common["df2"] == expected["alloc"]["qm_df2"] == 8
    (fit,) = analysis.fits
    assert fit.levels == ("random", "alternate", "systematic") and fit.n_not_reported == 2
    assert fit.effects["alloc"].tolist().count("not reported") == 2
    assert fit.overall.k == 13  # the overall diamond pools every trial


def test_subgroup_with_empty_cells_is_told_in_the_readers_table_and_sentence(effects):
    table = subgroups.subgroup_table(effects, moderators=["alloc"], n_perm=100,
                                     definitions=DEFINITIONS)
    shown = text.present_subgroups(table)
    assert shown["subgroup"].tolist()[:4] == ["random", "alternate", "systematic",
                                              "not reported"]
    notes = dict(zip(shown["subgroup"], shown["note"]))
    assert notes["not reported"] == "not reported: left out of the tests"
    assert notes["Q-between (common tau²)"] == "2 studies that do not report alloc left out"
    (sentence,) = text.subgroup_sentences(table)
    assert "not reported " in sentence and "(k = 2)" in sentence
    assert sentence.endswith("(2 studies that do not report alloc left out).")


def test_subgroup_without_enough_reported_levels_says_so(effects):
    only_random = effects.assign(alloc=effects["alloc"].where(effects["alloc"] == "random"))
    table = subgroups.subgroup_table(only_random, moderators=["alloc"], n_perm=10,
                                     definitions=DEFINITIONS)
    (row,) = table.to_dict("records")
    assert row["k"] == 6
    assert row["status"] == ("not tested: one level only (random); 7 studies that do not "
                             "report alloc left out")
    nothing = subgroups.subgroup_table(effects.assign(alloc=np.nan), moderators=["alloc"])
    assert nothing["status"].tolist() == [
        "not tested: k = 0: too few studies to compare subgroups; 13 studies that do not "
        "report alloc left out"]
    unknown = subgroups.subgroup_table(effects, moderators=["country"])
    assert unknown["status"].tolist() == ["not tested: country is not a study column"]


def test_no_empty_cell_keeps_the_plain_statuses(effects):
    complete = effects.assign(alloc=effects["alloc"].fillna("random"))
    table = subgroups.subgroup_table(complete, moderators=["alloc"], n_perm=10,
                                     definitions=DEFINITIONS)
    assert "not reported" not in set(table["level"])
    assert set(table.loc[table["row"] == "between", "status"]) == {"tested"}
    assert subgroups.is_tested(table["status"]).sum() == 2


def test_the_reference_level_does_not_change_the_test(effects):
    """QM and Q-between do not depend on which level is the reference: review.yaml order and
    alphabetical order give the same test."""
    yaml_order = subgroups.subgroup_table(effects, moderators=["alloc"], n_perm=50,
                                          definitions=DEFINITIONS)
    alphabetical = subgroups.subgroup_table(effects, moderators=["alloc"], n_perm=50)
    assert alphabetical.loc[alphabetical["row"] == "group", "level"].tolist() == [
        "alternate", "random", "systematic", "not reported"]
    yaml_order, alphabetical = (frame[frame["row"] == "between"].reset_index(drop=True)
                                for frame in (yaml_order, alphabetical))
    for name in ("q_between", "q_between_pval", "tau2", "p_permutation"):
        assert yaml_order[name].to_numpy() == pytest.approx(alphabetical[name].to_numpy(),
                                                            rel=1e-9, nan_ok=True)


# --- meta-regression --------------------------------------------------------------------------


def _terms(table: pd.DataFrame, moderator: str) -> pd.DataFrame:
    return table[table["moderator"] == moderator].set_index("term")


@pytest.mark.parametrize("test", ["z", "knha"])
def test_meta_regression_on_the_studies_that_have_the_moderator(effects, test):
    expected = REFERENCE["cases"][test]
    moderators = (Moderator("ablat", "continuous"), Moderator("alloc", "categorical"))
    result = subgroups.meta_regressions(effects, moderators, test=test, n_perm=100,
                                        definitions=DEFINITIONS)
    for moderator in ("ablat", "alloc"):
        reference = expected[moderator]
        rows = _terms(result.table, moderator)
        # metafor drops the rows with NA moderators: trials 5 and 12 (ablat), 3 and 11 (alloc)
        assert reference["k"] == 11 and (rows["k"] == 11).all()
        assert list(rows.index) == reference["terms"]
        for position, term in enumerate(reference["terms"]):
            for name, ref in (("estimate", "coefs"), ("se", "se"), ("ci_low", "ci_low"),
                              ("ci_high", "ci_high"), ("pval", "pval")):
                _close(rows.loc[term, name], reference[ref][position])
        first = rows.iloc[0]
        for name in ("qm", "qm_pval", "tau2", "r2"):
            _close(first[name], reference[name])
        assert first["qm_df"] == reference["qm_df"]
        assert set(rows["status"]) == {
            f"fitted; 2 studies that do not report {moderator} left out"}
    assert reference["terms"] == ["intrcpt", "allocalternate", "allocsystematic"]
    assert [f.moderator for f in result.fits] == ["ablat"]          # bubble plots
    assert [f.moderator for f in result.factor_fits] == ["alloc"]
    (bubble,) = result.fits
    assert len(bubble.effects) == 11 and bubble.n_left_out == 2
    assert set(result.fits[0].effects["study_id"]).isdisjoint({"bcg5", "bcg12"})
    assert set(result.factor_fits[0].effects["study_id"]).isdisjoint({"bcg3", "bcg11"})


def test_meta_regression_says_why_when_too_few_have_the_moderator(effects):
    sparse = effects.assign(ablat=effects["ablat"].where(effects.index < 9))  # 8 have it
    table = subgroups.meta_regression_table(sparse, "ablat", n_perm=10)
    assert table["k"].tolist() == [8]
    assert table["status"].tolist() == [
        "not fitted: k = 8 < 10 (about ten studies per moderator); 5 studies that do not "
        "report ablat left out"]
    complete = subgroups.meta_regression_table(effects.assign(ablat=effects["ablat"].fillna(30)),
                                               "ablat", n_perm=10)
    assert set(complete["status"]) == {"fitted"} and (complete["k"] == 13).all()
    assert subgroups.is_fitted(complete["status"]).all()


def test_categorical_moderator_reference_is_the_first_level_of_review_yaml(effects):
    yaml_order = subgroups.meta_regression_table(effects, "alloc", kind="categorical",
                                                 n_perm=10, definitions=DEFINITIONS)
    assert yaml_order["term"].tolist() == ["intrcpt", "allocalternate", "allocsystematic"]
    # without review.yaml's order: R's factor() order (alphabetical), reference "alternate"
    alphabetical = subgroups.meta_regression_table(effects, "alloc", kind="categorical",
                                                   n_perm=10)
    assert alphabetical["term"].tolist() == ["intrcpt", "allocrandom", "allocsystematic"]
    assert alphabetical["qm"].iloc[0] == pytest.approx(yaml_order["qm"].iloc[0], rel=1e-9)


# --- the subgroup forest plot -----------------------------------------------------------------


def test_subgroup_forest_plot_draws_not_reported_last_and_outside_the_test(effects):
    analysis = subgroups.subgroup_analyses(effects, moderators=["alloc"], test="z",
                                           n_perm=10, definitions=DEFINITIONS)
    (fit,) = analysis.fits
    rows = fit.effects.assign(label=fit.effects["study_id"])
    fig = figures.subgroup_forest_plot(rows, "alloc", fit.groups, fit.overall, measure="RR",
                                       group_order=[*fit.levels, "not reported"],
                                       untested=["not reported"])
    texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    assert [t for t in texts if "(k = " in t] == [
        "random (k = 6)", "alternate (k = 2)", "systematic (k = 3)", "not reported (k = 2)"]
    (line,) = [t for t in texts if t.startswith("Test for subgroup differences")]
    assert line.endswith(", without the 2 studies under not reported")
    # RevMan's Q-between of the three reported subgroups' estimates, df = 2
    assert "df = 2" in line
    assert math.isclose(fit.separate.q_between,
                        _q_between([fit.groups[g] for g in fit.levels]), rel_tol=1e-9)
    assert "not reported: 2 studies" in alt_text(fig)
    studies = [t for t in texts if t.startswith("bcg")]
    assert studies == ["bcg1", "bcg2", "bcg4", "bcg7", "bcg8", "bcg9", "bcg5", "bcg6",
                       "bcg10", "bcg12", "bcg13", "bcg3", "bcg11"]


def _q_between(fits) -> float:
    estimates = np.array([f.estimate for f in fits])
    weights = 1 / np.array([f.se for f in fits]) ** 2
    mean = np.sum(weights * estimates) / np.sum(weights)
    return float(np.sum(weights * (estimates - mean) ** 2))


# --- single-group proportions by subgroup -----------------------------------------------------


def test_proportions_by_a_subgroup_with_empty_cells():
    rows = pd.DataFrame({
        "study_id": ["p10", "p2", "p1", "p3", "p4", "p11"], "outcome": "response",
        "events": [8, 12, 5, 20, 3, 9], "total": [17, 20, 14, 30, 15, 21],
        "alloc": ["systematic", "random", "systematic", np.nan, "random", ""]})
    table, tests = pool_by_subgroups(rows, ["alloc"], definitions=DEFINITIONS)
    # review.yaml's order (random before systematic), the empty cells last as "not reported"
    assert table["group"].tolist() == ["random", "systematic", "not reported"]
    shown = table.set_index("group")
    assert shown.loc["not reported", "studies"] == "p3; p11"
    assert shown.loc["systematic", "studies"] == "p1; p10"       # natural order of ids
    (test,) = tests.to_dict("records")
    assert test["groups"] == "random, systematic" and test["k"] == 4
    assert test["method"].endswith("; 2 studies that do not report alloc left out")
    reported = rows.iloc[[0, 1, 2, 4]]
    es = mr.effect_sizes("PLO", xi=reported["events"].to_numpy(float),
                         ni=reported["total"].to_numpy(float))
    expected = mr.subgroup(es["yi"], es["vi"], reported["alloc"].to_numpy(), tau2="separate")
    assert test["q_between"] == pytest.approx(expected.q_between, rel=1e-12)
