"""Tests of the synthesis tables (metareview.synthesis).

Reference values come from metafor 3.8-1 on the metadat datasets of the test fixture, fitted with
tight convergence (control = list(threshold = 1e-12, tol = 1e-12, maxiter = 10000); confint with
control = list(tol = 1e-12, maxiter = 10000)), all compared at a relative 1e-6:

    dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
    rma(yi, vi, data = dat, method = "REML", test = "knha")            # pooled, knha
    rma(yi, vi, data = dat, method = "REML", test = "z")               # pooled, z
    confint(rma(yi, vi, data = dat, method = "REML", test = "knha"))   # tau² interval
    leave1out(rma(yi, vi, data = dat))                                 # first row
    regtest(rma(yi, vi, data = dat)); ranktest(...); trimfill(...)     # small-study tests
    rma(yi, vi, mods = ~ factor(alloc == "random"), data = dat, test = "knha")   # QM, F
    rma(yi, vi, mods = ~ ablat, data = dat)                            # meta-regression
    rma.mh(..., measure = "RR"), rma.mh(..., measure = "OR"), rma.peto(...)
        # on the first six randomised trials (1, 2, 3, 4, 7, 8)
    escalc("MD", ..., data = dat.normand1999); rma(yi, vi, test = "knha")
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metareview as mr
from metareview import files
from metareview.report import descriptive, pooled, safety, subgroups, text
from metareview.report.figures.forest import heterogeneity_text
from metareview.report.published import side_by_side
from metareview.review import derive
from metareview.stats import vocabulary

FIXTURE = Path(__file__).parent / "fixtures" / "review_fixture"


# --- effects built straight from the fixture's arm data (independent of review.derive) ----------


def _arms() -> pd.DataFrame:
    return pd.read_csv(FIXTURE / "arms.csv")


def _studies() -> pd.DataFrame:
    return pd.read_csv(FIXTURE / "studies.csv")


def _effects_for(outcome: str) -> pd.DataFrame:
    arms = _arms()
    arms = arms[arms["outcome"] == outcome]
    t = arms[arms["role"] == "treatment"].set_index("study_id").sort_index()
    c = arms[arms["role"] == "control"].set_index("study_id").sort_index()
    if outcome == "tb":
        es = mr.effect_sizes("RR", ai=t["events"], bi=t["total"] - t["events"],
                             ci=c["events"], di=c["total"] - c["events"])
        measure = "RR"
    else:
        es = mr.effect_sizes("MD", m1i=t["mean"], sd1i=t["sd"], n1i=t["n"], m2i=c["mean"],
                             sd2i=c["sd"], n2i=c["n"])
        measure = "MD"
    studies = _studies().set_index("study_id").loc[t.index]
    return pd.DataFrame({
        "study_id": t.index.to_list(), "comparison": t["comparison"].to_list(),
        "outcome": outcome, "timepoint_weeks": 0.0, "measure": measure,
        "yi": np.asarray(es["yi"], float), "vi": np.asarray(es["vi"], float),
        "design": studies["design"].to_list(),
        "randomised": studies["randomised"].astype(bool).to_list(),
        "intervention_class": studies["intervention_class"].to_list(),
        "co_intervention": studies["co_intervention"].to_list(),
        "converted": False, "paired": False, "main_analysis": True, "p_derived": False,
        "p_bound": False, "df": np.nan, "reported_outcome": outcome,
        "derivation": "from the dataset's arms", "n_treatment": t["n"].to_numpy(float)
        if "n" in t else np.nan, "n_control": c["n"].to_numpy(float) if "n" in c else np.nan,
    })


@pytest.fixture(scope="module")
def bcg() -> pd.DataFrame:
    return _effects_for("tb")


@pytest.fixture(scope="module")
def normand() -> pd.DataFrame:
    return _effects_for("los")


@pytest.fixture(scope="module")
def mixed(bcg, normand) -> pd.DataFrame:
    """bcg (k = 13), normand (k = 9), two studies of normand as 'pair' (k = 2) and one 'single'."""
    pair = normand.iloc[:2].assign(outcome="pair")
    single = normand.iloc[[4]].assign(outcome="single")
    return pd.concat([bcg, normand, pair, single], ignore_index=True)


# --- pooled_table ------------------------------------------------------------------------------


def test_pooled_table_matches_metafor_knha_and_z(bcg, normand):
    table = pooled.pooled_table(pd.concat([bcg, normand]), "REML", "knha", 2, 0.95)
    tb = table.set_index("outcome").loc["tb"]
    assert tb["k"] == 13 and tb["status"] == "pooled"
    assert tb["estimate"] == pytest.approx(-0.7145323422, rel=1e-6)
    assert tb["ci_low"] == pytest.approx(-1.108443714, rel=1e-6)
    assert tb["ci_high"] == pytest.approx(-0.3206209706, rel=1e-6)
    assert tb["tau2"] == pytest.approx(0.3132432581, rel=1e-6)
    assert tb["i2"] == pytest.approx(92.22138452, rel=1e-6)
    assert tb["pi_low"] == pytest.approx(-1.996016834, rel=1e-6)
    assert tb["pi_high"] == pytest.approx(0.5669521499, rel=1e-6)
    # Q-profile interval of tau²: both bounds are roots found to machine precision here, and
    # metafor's with tol = 1e-12 (its default tol, 1.2e-4, gives 0.1196953 and 1.1114863).
    assert tb["tau2_ci_low"] == pytest.approx(0.1197183611, rel=1e-6)
    assert tb["tau2_ci_high"] == pytest.approx(1.111479084, rel=1e-6)
    # back-transformed ratios for presentation, log scale kept in the stored numbers
    assert tb["estimate_exp"] == pytest.approx(math.exp(tb["estimate"]))
    assert tb["ci_low_exp"] == pytest.approx(math.exp(tb["ci_low"]))
    los = table.set_index("outcome").loc["los"]
    assert los["estimate"] == pytest.approx(-15.10602747, rel=1e-6)
    assert los["ci_low"] == pytest.approx(-36.31874908, rel=1e-6)
    assert los["pi_high"] == pytest.approx(48.85248752, rel=1e-6)
    assert math.isnan(los["estimate_exp"])
    z = pooled.pooled_table(bcg, "REML", "z").iloc[0]
    assert z["ci_low"] == pytest.approx(-1.066897639, rel=1e-6)
    assert z["q"] == pytest.approx(152.2330081, rel=1e-8)


def test_pooled_table_small_k(mixed):
    table = pooled.pooled_table(mixed, "REML", "knha", min_k=2).set_index("outcome")
    single = table.loc["single"]
    assert single["status"] == "not pooled (k=1)"
    row = mixed[mixed["outcome"] == "single"].iloc[0]
    se = math.sqrt(row["vi"])
    assert single["estimate"] == pytest.approx(row["yi"])
    assert single["ci_low"] == pytest.approx(row["yi"] - 1.959963985 * se)
    assert single["studies"] == row["study_id"]
    pair = table.loc["pair"]
    assert pair["status"] == "pooled" and "2 studies" in pair["warning"]
    assert table.loc["tb", "warning"] == ""
    strict = pooled.pooled_table(mixed, min_k=3).set_index("outcome")
    assert strict.loc["pair", "status"] == "not pooled (k=2)"
    assert math.isnan(strict.loc["pair", "estimate"])


def test_pooled_table_ignores_row_order(mixed):
    shuffled = mixed.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(pooled.pooled_table(mixed), pooled.pooled_table(shuffled))


def test_pooled_table_empty_effects():
    empty = pd.DataFrame(columns=["study_id", "comparison", "outcome", "measure", "yi", "vi"])
    assert pooled.pooled_table(empty).empty


# --- sensitivity --------------------------------------------------------------------------------


def test_sensitivity_keeps_only_scenarios_that_change_the_effects(bcg):
    effects = bcg.copy()
    effects.loc[effects.index[:3], "p_derived"] = True
    result = pooled.sensitivity_analyses(effects, rederive=lambda **_: effects, rs=(0.2, 0.8))
    scenarios = set(zip(result.table["analysis"], result.table["setting"]))
    assert ("exclusion", "without SEs derived from p values") in scenarios
    k = result.table.set_index("setting").loc["without SEs derived from p values", "k"]
    assert k == 10
    # re-deriving gives the same effects: said in a sentence, not shown as a grid
    assert any(line.startswith("within-person correlation, r = 0.2") for line in result.unchanged)
    assert any(line.startswith("unlabelled ±") for line in result.unchanged)
    assert any("without conservative" in line for line in result.unchanged)
    sentence = pooled.unchanged_sentence(result.unchanged)
    assert sentence.startswith("Not shown, as they change no effect of this review")
    assert "within-person correlation, r = 0.2, 0.8" in sentence and sentence.endswith(".")
    assert "the same effects" not in sentence  # one clause for all, not one per scenario
    assert pooled.unchanged_sentence([]) == ""
    assert ("randomised studies only" in set(result.table["setting"])) == (
        not bcg["randomised"].all())
    grid = result.table[result.table["analysis"] == "estimator x test"]
    assert len(grid) == len(pooled.ESTIMATORS) * len(vocabulary.TESTS) - 1
    fe = grid[(grid["method"] == "FE") & (grid["test"] == "z")].iloc[0]
    w = 1 / bcg["vi"]
    assert fe["estimate"] == pytest.approx(float((w * bcg["yi"]).sum() / w.sum()))
    assert fe["ci_high"] - fe["estimate"] == pytest.approx(1.959963985 / math.sqrt(w.sum()))


def test_sensitivity_drops_studies_at_high_risk_of_bias(bcg):
    rob = pd.DataFrame({"study_id": bcg["study_id"].iloc[:2], "domain": "overall",
                        "judgement": "high"})
    result = pooled.sensitivity_analyses(bcg, rederive=lambda **_: bcg, risk_of_bias=rob)
    row = result.table.set_index("setting").loc["without studies at high risk of bias"]
    assert row["k"] == 11


def test_leave_one_out_matches_metafor(bcg, mixed):
    table = pooled.leave_one_out_table(bcg, "REML", "z")
    assert len(table) == 13 and (table["k"] == 12).all()
    first = table[table["omitted"] == "Aronson1948"].iloc[0]
    assert first["estimate"] == pytest.approx(-0.7070837847, rel=1e-6)
    assert first["ci_low"] == pytest.approx(-1.079400532, rel=1e-6)
    assert first["tau2"] == pytest.approx(0.3361567018, rel=1e-6)
    # outcomes with fewer than three studies are skipped
    assert set(pooled.leave_one_out_table(mixed)["outcome"]) == {"los", "tb"}


# --- small-study effects ----------------------------------------------------------------------


def test_small_study_table_runs_only_from_ten_studies(mixed):
    table = pooled.small_study_table(mixed)
    los = table[table["outcome"] == "los"]
    assert len(los) == 1 and los["status"].iloc[0] == "not run"
    assert "k = 9 < 10" in los["reason"].iloc[0]
    tb = table[table["outcome"] == "tb"].set_index("test")
    assert set(tb.index) == {"Egger regression", "Begg rank correlation", "trim-and-fill"}
    # regtest(rma(yi, vi, data = dat)): z = -0.8033291931, p = 0.4217844889
    assert tb.loc["Egger regression", "statistic"] == pytest.approx(-0.8033291931, rel=1e-6)
    assert tb.loc["Egger regression", "pval"] == pytest.approx(0.4217844889, rel=1e-6)
    # ranktest(...): tau = 1/39 (40 concordant pairs of 78), p = 0.952361908
    assert tb.loc["Begg rank correlation", "statistic"] == pytest.approx(1 / 39, rel=1e-12)
    assert tb.loc["Begg rank correlation", "pval"] == pytest.approx(0.952361908, rel=1e-6)
    # trimfill(...): one study missing on the right; adjusted estimate and 95% CI
    fill = tb.loc["trim-and-fill"]
    assert fill["k_filled"] == 1
    assert fill["detail"] == "1 missing on the right side (L0)"
    assert fill["estimate_adjusted"] == pytest.approx(-0.6570828008, rel=1e-6)
    assert fill["ci_low_adjusted"] == pytest.approx(-1.006992166, rel=1e-6)
    assert fill["ci_high_adjusted"] == pytest.approx(-0.3071734353, rel=1e-6)
    assert fill["estimate_adjusted_exp"] == pytest.approx(math.exp(-0.6570828008), rel=1e-6)


# --- subgroups and meta-regression ----------------------------------------------------------------


def test_subgroup_table_common_tau2_matches_metafor(bcg):
    table = subgroups.subgroup_table(bcg, n_perm=200, seed=1)
    design = table[table["moderator"] == "design"]
    common = design[(design["row"] == "between") & (design["tau2_mode"] == "common")].iloc[0]
    assert common["q_between"] == pytest.approx(1.984493374, rel=1e-6)
    assert common["q_between_pval"] == pytest.approx(0.1865518575, rel=1e-6)
    assert 0 < common["p_permutation"] <= 1
    groups = design[design["row"] == "group"].set_index("level")
    assert groups.loc["parallel", "k"] == 7 and groups.loc["non_randomised", "k"] == 6
    # one level only: nothing to test, and the table says why
    one = table[table["moderator"] == "intervention_class"].iloc[0]
    assert one["status"].startswith("not tested: one level only")


def test_subgroup_table_separate_tau2_q_between(bcg):
    table = subgroups.subgroup_table(bcg, moderators=["design"], n_perm=100)
    groups = table[table["row"] == "group"]
    est, se = groups["estimate"].to_numpy(), groups["se"].to_numpy()
    w = 1 / se**2
    expected = float(np.sum(w * (est - np.sum(w * est) / w.sum()) ** 2))
    separate = table[(table["row"] == "between") & (table["tau2_mode"] == "separate")].iloc[0]
    assert separate["q_between"] == pytest.approx(expected, rel=1e-10)


def test_subgroup_table_too_few_studies(mixed):
    table = subgroups.subgroup_table(mixed[mixed["outcome"] == "pair"], n_perm=100)
    assert (table["status"].str.contains("too few studies")).all()


def test_meta_regression_table(bcg):
    ablat = pd.read_csv(FIXTURE / "studies.csv").set_index("study_id")["note"].str.extract(
        r"latitude (\d+)")[0].astype(float)
    effects = bcg.assign(timepoint_weeks=bcg["study_id"].map(ablat))
    table = subgroups.meta_regression_table(effects, test="z", n_perm=200).set_index("term")
    assert table.loc["intrcpt", "estimate"] == pytest.approx(0.25146821, rel=1e-6)
    assert table.loc["timepoint_weeks", "estimate"] == pytest.approx(-0.02910172501, rel=1e-6)
    assert table.loc["timepoint_weeks", "qm"] == pytest.approx(16.35823215, rel=1e-6)
    assert (table["status"] == "fitted").all()
    constant = subgroups.meta_regression_table(bcg)
    assert constant["status"].iloc[0] == "not fitted: timepoint_weeks takes one value only"
    few = subgroups.meta_regression_table(effects.iloc[:6])
    assert few["status"].iloc[0].startswith("not fitted: k = 6 < 10")


# --- safety ----------------------------------------------------------------------------------


def _adverse_events() -> pd.DataFrame:
    ae = pd.read_csv(FIXTURE / "adverse_events.csv")
    ae["events"] = ae["events"].astype("Int64")
    ae["total"] = ae["total"].astype("Int64")
    return ae


def test_safety_table_matches_metafor():
    table = safety.safety_table(_adverse_events())
    tb = table[table["event"] == "tuberculosis"].set_index(["method", "measure"])
    assert tb.loc[("Mantel-Haenszel", "RR"), "estimate"] == pytest.approx(-0.3442849638, rel=1e-8)
    assert tb.loc[("Mantel-Haenszel", "RR"), "ci_low"] == pytest.approx(-0.4496339937, rel=1e-8)
    assert tb.loc[("Mantel-Haenszel", "OR"), "estimate"] == pytest.approx(-0.3468670155, rel=1e-8)
    assert tb.loc[("Peto", "OR"), "estimate"] == pytest.approx(-0.3472700495, rel=1e-8)
    assert tb.loc[("Peto", "OR"), "ci_high"] == pytest.approx(-0.2416189687, rel=1e-8)
    assert (tb["k_studies"] == 6).all()
    narrative = table[table["event"] == "any adverse event"].iloc[0]
    assert narrative["method"] == "none" and "no comparative counts" in narrative["status"]


def test_safety_table_leaves_out_double_zero_studies():
    ae = _adverse_events()
    zero = pd.DataFrame({
        "study_id": ["Zero", "Zero"], "event": ["tuberculosis"] * 2, "arm": ["a", "b"],
        "role": ["treatment", "control"], "events": [0, 0], "total": [50, 50],
    }).astype({"events": "Int64", "total": "Int64"})
    with_zero = safety.safety_table(pd.concat([ae, zero], ignore_index=True))
    without = safety.safety_table(ae)
    peto_rows = (with_zero["event"] == "tuberculosis") & (with_zero["method"] == "Peto")
    row = with_zero[peto_rows].iloc[0]
    assert row["k_studies"] == 7 and row["k_double_zero"] == 1
    base = without[(without["event"] == "tuberculosis") & (without["method"] == "Peto")].iloc[0]
    assert row["estimate"] == pytest.approx(base["estimate"], rel=1e-12)
    assert "no events in either arm" in row["note"]


def test_safety_table_no_events_at_all_and_no_rows():
    zero = pd.DataFrame({
        "study_id": ["A", "A"], "event": ["infection"] * 2, "arm": ["a", "b"],
        "role": ["treatment", "control"], "events": [0, 0], "total": [10, 12],
        "narrative": [None, None],
    }).astype({"events": "Int64", "total": "Int64"})
    table = safety.safety_table(zero)
    assert len(table) == 1 and table["status"].iloc[0].startswith("no events in any arm")
    empty = pd.DataFrame(columns=["study_id", "event", "arm", "role", "events", "total",
                                  "narrative"])
    assert safety.safety_table(empty).empty
    assert safety.adverse_events_by_arm(empty).empty
    assert safety.narrative_safety_table(empty).empty


def test_adverse_events_by_arm_and_narrative():
    ae = _adverse_events()
    by_arm = safety.adverse_events_by_arm(ae).set_index(["event", "role"])
    counted = ae[ae["events"].notna()]
    treated = counted[counted["role"] == "treatment"]
    assert by_arm.loc[("tuberculosis", "treatment"), "events"] == treated["events"].sum()
    assert by_arm.loc[("tuberculosis", "treatment"), "studies"] == 6
    narrative = safety.narrative_safety_table(ae)
    assert list(narrative["study_id"]) == ["Edinburgh"]


# --- notebook 01 tables -----------------------------------------------------------------------


def test_the_effects_sentence_speaks_of_within_person_data_only_where_there_is_some():
    effects = pd.DataFrame({"study_id": ["a", "b", "b"], "outcome": ["x", "x", "y"],
                            "converted": [True, False, False], "paired": [False] * 3})
    none_left = pd.DataFrame(columns=["study_id"])
    parallel = descriptive.effects_sentence(effects, none_left)
    assert parallel.startswith("**3 effects** from 2 studies on 2 outcomes: 1 after a conversion;")
    assert "within-person" not in parallel and "split" not in parallel
    paired = descriptive.effects_sentence(effects.assign(paired=[False, True, True]), none_left)
    assert "1 after a conversion, 2 from within-person (paired) data;" in paired


def test_rob_table_and_conversions():
    rob = pd.read_csv(FIXTURE / "risk_of_bias.csv")
    wide = descriptive.rob_table(rob)
    assert len(wide) == rob["study_id"].nunique()
    assert list(wide.columns[-1:]) == ["overall"]
    assert descriptive.rob_table(rob.iloc[0:0]).empty


# --- published comparison -------------------------------------------------------------------


def _published_review(published: pd.DataFrame):
    from types import SimpleNamespace

    outcomes = pd.DataFrame({"outcome": ["tb", "los", "missing"], "measure": ["RR", "MD", "MD"],
                             "direction": "lower_is_better", "pooled_with": np.nan})
    return SimpleNamespace(published=published, outcomes=outcomes)


def test_published_side_by_side(tmp_path, bcg, normand):
    analyses = pooled.analyses(pd.concat([bcg, normand]), method="REML", test="z")
    files.write_csv(analyses.table, tmp_path / "pooled.csv")
    published = pd.DataFrame({
        "review_id": ["A", "A", "B"], "outcome": ["tb", "los", "missing"],
        "subgroup": [None, None, None], "measure": ["RR", "SMD", "MD"], "k": [13, 9, 3],
        "estimate": [0.4894, -0.5, 1.0], "ci_low": [0.3441, -0.9, 0.0],
        "ci_high": [0.6962, -0.1, 2.0], "i2_percent": [92.22, 50.0, None],
        "p_value_text": [None, "p < 0.001", None],
    })
    table = side_by_side(tmp_path, _published_review(published)).set_index("outcome")
    # metafor's worked example prints RR 0.4894 [0.3441, 0.6962]
    assert table.loc["tb", "bundle_estimate"] == pytest.approx(0.4894, abs=5e-5)
    assert table.loc["tb", "bundle_ci_low"] == pytest.approx(0.3441, abs=5e-5)
    assert table.loc["tb", "bundle_ci_high"] == pytest.approx(0.6962, abs=5e-5)
    assert table.loc["tb", "bundle_result"] == "pooled (main analysis)"
    assert "measures differ" in table.loc["los", "comment"]
    assert table.loc["missing", "bundle_result"] == "no result"
    assert "no included study reports this outcome" in table.loc["missing", "comment"]
    assert side_by_side(tmp_path, _published_review(published.iloc[0:0])).empty


def test_published_side_by_side_matches_subgroups(tmp_path, bcg):
    files.write_csv(pooled.analyses(bcg).table, tmp_path / "pooled.csv")
    subgroup_rows = subgroups.subgroup_table(bcg, moderators=["design"], n_perm=100)
    files.write_csv(subgroup_rows, tmp_path / "subgroups.csv")
    published = pd.DataFrame({"review_id": ["A"], "outcome": ["tb"], "subgroup": ["Parallel"],
                              "measure": ["RR"], "k": [7], "estimate": [0.4],
                              "ci_low": [0.2], "ci_high": [0.7]})
    row = side_by_side(tmp_path, _published_review(published)).iloc[0]
    group = subgroup_rows[(subgroup_rows["row"] == "group")
                          & (subgroup_rows["level"] == "parallel")].iloc[0]
    assert row["bundle_k"] == 7 and row["bundle_result"] == "subgroup"
    assert row["bundle_estimate"] == pytest.approx(math.exp(group["estimate"]))


# --- reading back and presenting ---------------------------------------------------------------


def test_read_effects_round_trip(tmp_path, bcg):
    effects = bcg.assign(study_id=["001"] + bcg["study_id"].iloc[1:].tolist())
    files.write_csv(effects, tmp_path / "effects.csv")
    back = derive.read_effects(tmp_path / "effects.csv")
    assert back["study_id"].iloc[0] == "001"
    assert back["randomised"].dtype == bool
    assert back["randomised"].tolist() == effects["randomised"].tolist()
    np.testing.assert_allclose(back["yi"], effects["yi"], rtol=1e-9)


def test_present_pooled_back_transforms_ratios(bcg):
    pooled_rows = pooled.pooled_table(bcg, "REML", "z")
    shown = text.present_pooled(pooled_rows).iloc[0]
    assert shown["estimate (95% CI)"] == "0.49 [0.34, 0.70]"
    assert shown["p"] == "< 0.001"


def test_paired_r_sensitivity_changes_split_face_variances():
    """Two fixture studies re-labelled split-face (test-only change): a larger r, a smaller vi."""
    import dataclasses

    from metareview.review.derive import derive_effects
    from metareview.review.sheets import load_review

    review = load_review(FIXTURE)
    paired_ids = ["Edinburgh", "Umea"]
    studies = review.studies.copy()
    studies.loc[studies["study_id"].isin(paired_ids), "design"] = "split_face"
    arms = review.arms.copy()
    for study in paired_ids:
        rows = arms["study_id"] == study
        arms.loc[rows, "n"] = arms.loc[rows & (arms["role"] == "treatment"), "n"].iloc[0]
    split = dataclasses.replace(review, studies=studies, arms=arms)
    low = derive_effects(split, paired_r=0.2).effects
    high = derive_effects(split, paired_r=0.8).effects
    paired = low["paired"].astype(bool)
    assert sorted(low.loc[paired & (low["outcome"] == "los"), "study_id"]) == paired_ids
    assert (high.loc[paired, "vi"].to_numpy() < low.loc[paired, "vi"].to_numpy()).all()
    base = derive_effects(split, paired_r=0.5).effects
    result = pooled.sensitivity_analyses(
        base, rederive=lambda **options: derive_effects(split, **{"paired_r": 0.5, **options})
        .effects, rs=(0.2, 0.8), method="REML", test="knha")
    los = result.table[(result.table["outcome"] == "los")
                       & (result.table["analysis"] == "paired_r")].set_index("setting")
    expected = pooled.pooled_table(high, "REML", "knha").set_index("outcome").loc["los"]
    assert los.loc["r = 0.8", "estimate"] == pytest.approx(expected["estimate"], rel=1e-12)
    assert los.loc["r = 0.2", "estimate"] != pytest.approx(los.loc["r = 0.8", "estimate"],
                                                           rel=1e-9)


def test_builders_accept_no_effects_at_all():
    """A review whose results are all narrative still gets every table (empty, with columns)."""
    from metareview.review.derive import EFFECT_COLUMNS

    empty = pd.DataFrame(columns=EFFECT_COLUMNS)
    assert list(pooled.pooled_table(empty).columns) == pooled.POOLED_COLUMNS
    assert pooled.leave_one_out_table(empty).empty
    assert pooled.small_study_table(empty).empty
    assert subgroups.subgroup_table(empty).empty
    assert subgroups.meta_regression_table(empty).empty
    assert pooled.pool_outcomes(empty).fits == []
    assert descriptive.conversions_table(empty).empty


def test_pooled_sentences(mixed):
    pooled_rows = pooled.pooled_table(mixed, "REML", "z")
    outcomes = pd.DataFrame({"outcome": ["tb"], "label": ["Tuberculosis"]})
    sentences = dict(zip(pooled_rows["outcome"], text.pooled_sentences(pooled_rows, outcomes)))
    assert sentences["tb"].startswith("**Tuberculosis**: 13 studies, pooled RR 0.49 [0.34, 0.70]")
    assert "which excludes no effect" in sentences["tb"]
    # z-based prediction interval: exp(-0.7145 ± 1.96 · sqrt(0.1798² + 0.3132))
    assert "prediction interval 0.15 to 1.55, which includes no effect" in sentences["tb"]
    assert sentences["single"].startswith("**single**: not pooled (k=1); the single study")
    assert "Caution: only 2 studies" in sentences["pair"]


def test_subgroup_and_safety_sentences(bcg):
    subgroup_rows = subgroups.subgroup_table(bcg, moderators=["design", "co_intervention"], n_perm=100)
    (sentence,) = text.subgroup_sentences(subgroup_rows)  # co_intervention has one level
    # designs in the schema's order (parallel before non_randomised), not alphabetical
    assert sentence.startswith("**tb** by design (RR): parallel ")
    assert "(k = 6)" in sentence and "(k = 7)" in sentence
    # Hartung-Knapp (the default): the common-tau² test is F with both df (13 studies, 2
    # groups: 1 and 11); the separate-tau² test is chi² (Q with its df)
    assert "common tau² F(1, 11) = " in sentence and ", p = 0.187" in sentence
    assert "permutation p" in sentence and "separate tau² Q = " in sentence
    z_rows = subgroups.subgroup_table(bcg, moderators=["design"], test="z", n_perm=10)
    common = z_rows[(z_rows["row"] == "between") & (z_rows["tau2_mode"] == "common")].iloc[0]
    assert common["statistic"] == "Q" and math.isnan(common["df2"])
    assert text.subgroup_test_text(common).startswith("Q = ")
    assert text.subgroup_test_text(common).endswith(", df = 1")
    safety_rows = safety.safety_table(_adverse_events())
    sentences = text.safety_sentences(safety_rows)
    assert sentences[0].startswith("**any adverse event**: no comparative counts")
    assert sentences[1].startswith("**tuberculosis**: 6 studies, 588/105194 events with "
                                   "treatment and 808/102549 with control; Mantel-Haenszel "
                                   "RR 0.71 [0.64, 0.79]")
    assert text.subgroup_sentences(subgroup_rows.iloc[0:0]) == []
    assert text.safety_sentences(safety_rows.iloc[0:0]) == []


def test_p_value_text():
    assert text.p_text(0.04234) == "p = 0.042"
    assert text.p_text(0.0002) == "p < 0.001"
    assert text.p_text(float("nan")) == "p not available"
    assert text.format_interval(-1.254, -1.8, -0.7) == "-1.25 [-1.80, -0.70]"


def test_natural_scale_of_result_rows():
    """Ratios are shown exponentiated (from the _exp column, else by exp); others as stored."""
    from metareview.report.text import natural, scale_name

    with_exp = {"measure": "RR", "estimate": math.log(0.5), "estimate_exp": 0.5}
    assert natural(with_exp, "estimate") == 0.5
    assert natural({"measure": "OR", "ci_low": math.log(2.0)}, "ci_low") == pytest.approx(2.0)
    assert natural(pd.Series({"measure": "MD", "estimate": -3.2}), "estimate") == -3.2
    assert math.isnan(natural({"measure": "SMD"}, "pi_low"))
    assert scale_name("RR") == "risk ratio" and scale_name("PLO") == "PLO"


def test_a_tau2_bound_at_the_search_limit_reads_not_estimable():
    # two studies far apart: Q-profile has no upper bound below max(100, 10 tau²)
    yi, vi = np.array([-2.0, 2.0]), np.array([0.01, 0.01])
    fit = mr.pool(yi, vi, method="REML")
    assert fit.tau2_ci_high == pytest.approx(max(100.0, 10 * fit.tau2))
    assert text.format_tau2_interval(fit.tau2, fit.tau2_ci_low, fit.tau2_ci_high).endswith(
        ", not estimable]")
    assert "not estimable" in heterogeneity_text(fit)
    near = mr.pool(np.array([0.1, 0.3, 0.2]), np.array([0.04, 0.05, 0.04]))
    assert "not estimable" not in text.format_tau2_interval(near.tau2, near.tau2_ci_low,
                                                            near.tau2_ci_high)


def test_present_pooled_names_a_missing_prediction_interval(bcg):
    # two studies: no prediction interval, and the column says so instead of repeating the
    # estimate
    two = pooled.pooled_table(bcg.sort_values("study_id").iloc[:2], "REML", "knha")
    shown = text.present_pooled(two).iloc[0]
    assert shown["prediction interval"] == "none (k < 3)"
    every = text.present_pooled(pooled.pooled_table(bcg, "REML", "z")).iloc[0]
    assert every["prediction interval"].startswith("[")
