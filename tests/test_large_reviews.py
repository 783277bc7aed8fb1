"""Reviews of many studies: figures of bounded size, the numbers of every study in a table,
the expensive refits limited, and the speed-ups exact (the same numbers as before).

Data: random-effects draws (seeded) of 61 to 400 studies, the 13 BCG trials of the review
fixture, and the committed reviews' sheets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metareview as mr
from metareview.report import figures, pooled
from metareview.report.figures import forest
from metareview.report.figures.style import alt_text
from metareview.review.derive import changes_effects
from metareview.review.effect import records
from metareview.review.sheets import load_review
from metareview.stats.diagnostics import cumulative
from metareview.stats.heterogeneity import typical_within_variance

REPO = Path(__file__).resolve().parents[1]
LIMIT = figures.MAX_STUDY_ROWS


def _studies(k: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.02, 0.4, k)
    yi = rng.normal(0.3, 0.4, k) + rng.normal(0, np.sqrt(vi))
    return pd.DataFrame({"label": [f"Study {i + 1}" for i in range(k)], "yi": yi, "vi": vi,
                         "n_treatment": 40 + np.arange(k) % 7, "n_control": 41})


def _gids(fig) -> set[str]:
    return {a.get_gid() for a in fig.findobj() if a.get_gid()}


# --- forest plots ----------------------------------------------------------------------------


def test_forest_plot_draws_a_row_per_study_up_to_the_limit_then_one_band():
    rows = _studies(LIMIT)
    fig = figures.forest_plot(rows, mr.pool(rows["yi"], rows["vi"]), measure="MD")
    assert {f"study-{i}" for i in range(LIMIT)} <= _gids(fig)
    assert "band-intervals" not in _gids(fig)

    rows = _studies(LIMIT + 1)
    fig = figures.forest_plot(rows, mr.pool(rows["yi"], rows["vi"]), measure="MD")
    gids = _gids(fig)
    assert "band-intervals" in gids and "pooled-total" in gids
    assert not any(g.startswith("study-") for g in gids)
    band = next(a for a in fig.findobj() if a.get_gid() == "band-intervals")
    assert len(band.get_segments()) == LIMIT + 1
    assert f"{LIMIT + 1} studies" in alt_text(fig)
    texts = " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
    assert f"More than {LIMIT} studies" in texts and "table beside the figure" in texts


def test_a_forest_plot_of_thousands_of_studies_keeps_the_size_of_sixty():
    """Figure height no longer grows with k: 61 and 2,000 studies give the same height."""
    heights = []
    for k in (LIMIT + 1, 2000):
        rows = _studies(k)
        fig = figures.forest_plot(rows, mr.pool(rows["yi"], rows["vi"]), measure="MD")
        heights.append(fig.get_figheight())
    assert heights[0] == pytest.approx(heights[1])
    assert heights[1] < 10  # inches; a row per study would be 2,000 × 0.19 = 380 inches


def test_subgroup_forest_plot_of_many_studies_has_a_band_per_subgroup():
    rows = _studies(300).assign(group=lambda f: np.where(np.arange(len(f)) % 3, "b", "a"))
    fits = {g: mr.pool(p["yi"], p["vi"]) for g, p in rows.groupby("group")}
    fig = figures.subgroup_forest_plot(rows, "group", fits, mr.pool(rows["yi"], rows["vi"]),
                                       measure="MD")
    bands = [a for a in fig.findobj() if a.get_gid() == "band-intervals"]
    assert sorted(len(b.get_segments()) for b in bands) == [100, 200]
    assert {"pooled-a", "pooled-b", "pooled-total"} <= _gids(fig)
    assert fig.get_figheight() < 12


def test_band_segments_are_each_study_interval_sorted_by_estimate():
    rows = _studies(LIMIT + 5)
    fig = figures.forest_plot(rows, mr.pool(rows["yi"], rows["vi"]), measure="MD")
    band = next(a for a in fig.findobj() if a.get_gid() == "band-intervals")
    segments = np.asarray(band.get_segments())  # (k, 2 points, x/y)
    z = 1.959963984540054
    order = np.argsort(rows["yi"].to_numpy(), kind="stable")
    expected_low = (rows["yi"] - z * np.sqrt(rows["vi"])).to_numpy()[order]
    np.testing.assert_allclose(segments[:, 0, 0], expected_low, rtol=1e-9)
    assert np.all(np.diff(segments[:, 0, 1]) < 0)  # drawn from the top down


# --- cumulative meta-analysis ----------------------------------------------------------------


def test_cumulative_steps_are_the_same_fits_as_the_full_table():
    rows = _studies(30)
    years = 1990 + np.arange(30) % 11
    full = cumulative(rows["yi"], rows["vi"], order=years, method="REML", test="knha")
    some = cumulative(rows["yi"], rows["vi"], order=years, method="REML", test="knha",
                      steps=[1, 7, 30])
    assert some.index.tolist() == [1, 7, 30]
    pd.testing.assert_frame_equal(some, full.loc[[1, 7, 30]], check_index_type=False)


@pytest.mark.parametrize("steps", [[0, 3], [3, 2], [1, 31], []])
def test_cumulative_refuses_steps_outside_one_to_k(steps):
    rows = _studies(30)
    with pytest.raises(ValueError, match="steps must be increasing whole numbers from 1 to 30"):
        cumulative(rows["yi"], rows["vi"], steps=steps)


def test_cumulative_plot_of_chosen_steps_says_how_many_it_shows():
    rows = _studies(200)
    steps = np.unique(np.linspace(1, 200, LIMIT).round().astype(int))
    table = cumulative(rows["yi"], rows["vi"], steps=steps)
    fig = figures.cumulative_forest_plot(table, rows["label"], "MD")
    texts = " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
    assert f"{len(steps)} of the 200 steps are shown" in texts
    assert "200 studies added in 60 steps" in alt_text(fig)
    assert fig.get_figheight() < 16


# --- leave-one-out ---------------------------------------------------------------------------


def _effects(k: int) -> pd.DataFrame:
    rows = _studies(k)
    return pd.DataFrame({"outcome": "score", "measure": "MD",
                         "study_id": [f"S{i + 1}" for i in range(k)], "comparison": "a_vs_b",
                         "yi": rows["yi"], "vi": rows["vi"]})


def test_leave_one_out_of_few_studies_is_metafors_leave1out_for_every_study():
    effects = _effects(12)
    table = pooled.leave_one_out_table(effects, "REML", "knha", 0.95)
    reference = mr.leave_one_out(effects["yi"], effects["vi"], method="REML", test="knha")
    assert len(table) == 12
    for key in ("estimate", "ci_low", "ci_high", "pval", "tau2", "i2", "q"):
        np.testing.assert_allclose(table[key], reference[key], rtol=1e-12)
    assert pooled.leave_one_out_scope(effects) == ""


def test_most_influential_ranks_by_the_shift_with_tau2_fixed():
    effects = _effects(80)
    yi, vi = effects["yi"].to_numpy(), effects["vi"].to_numpy()
    tau2 = mr.pool(yi, vi).tau2
    w = 1 / (vi + tau2)
    full = np.sum(w * yi) / np.sum(w)
    shifts = [abs(np.sum(np.delete(w * yi, i)) / np.sum(np.delete(w, i)) - full)
              for i in range(80)]
    chosen = pooled.most_influential(yi, vi, "REML", 10)
    assert set(chosen) == set(np.argsort(shifts)[::-1][:10])
    assert list(chosen) == sorted(chosen)


def test_leave_one_out_of_many_studies_refits_the_most_influential_exactly():
    effects = _effects(LIMIT + 40)
    table = pooled.leave_one_out_table(effects, "REML", "knha", 0.95)
    assert len(table) == LIMIT
    chosen = pooled.most_influential(effects["yi"].to_numpy(), effects["vi"].to_numpy(),
                                     "REML", LIMIT)
    assert table["omitted"].tolist() == [f"S{i + 1}" for i in chosen]
    reference = mr.leave_one_out(effects["yi"], effects["vi"], method="REML", test="knha")
    np.testing.assert_allclose(table["estimate"], reference["estimate"].to_numpy()[chosen],
                               rtol=1e-12)
    np.testing.assert_allclose(table["tau2"], reference["tau2"].to_numpy()[chosen], rtol=1e-12)
    scope = pooled.leave_one_out_scope(effects)
    assert f"{LIMIT + 40} studies of score" in scope and f"the {LIMIT} studies" in scope


# --- risk of bias ----------------------------------------------------------------------------


def test_traffic_light_fits_up_to_the_limit_per_tool():
    def rob(n):
        return pd.DataFrame({"study_id": [f"S{i}" for i in range(n)], "tool": "RoB2",
                             "domain": "overall", "judgement": "low"})
    assert figures.traffic_light_fits(rob(LIMIT))
    assert not figures.traffic_light_fits(rob(LIMIT + 1))
    assert figures.traffic_light_fits(rob(0).iloc[:0])


# --- exact speed-ups -------------------------------------------------------------------------


def test_typical_within_variance_is_the_trace_of_the_residual_projector():
    rng = np.random.default_rng(3)
    vi = rng.uniform(0.01, 0.5, 40)
    X = np.column_stack([np.ones(40), rng.normal(size=40), rng.integers(0, 2, 40)])
    w = 1 / vi
    WX = X * w[:, None]
    projector = np.diag(w) - WX @ np.linalg.inv(X.T @ WX) @ WX.T
    assert typical_within_variance(vi, X) == pytest.approx((40 - 3) / np.trace(projector),
                                                           rel=1e-12)
    one = np.ones((40, 1))
    higgins = 39 * w.sum() / (w.sum() ** 2 - (w ** 2).sum())  # Higgins & Thompson 2002
    assert typical_within_variance(vi, one) == pytest.approx(higgins, rel=1e-12)


@pytest.mark.parametrize("review", ["acne-scars", "msc-imids", "cm-resurfacing"])
def test_records_are_to_dict_records_value_for_value(review):
    data = load_review(REPO / "data" / "raw" / review)
    for frame in (data.arms, data.contrasts, data.studies):
        fast, slow = records(frame), frame.to_dict("records")
        assert len(fast) == len(slow)
        for a, b in zip(fast, slow):
            assert a.keys() == b.keys()
            for key in a:
                same = (a[key] is b[key] or a[key] == b[key]
                        or (isinstance(b[key], float) and np.isnan(b[key])
                            and isinstance(a[key], float) and np.isnan(a[key])))
                assert same and type(a[key]) is type(b[key]), (review, key, a[key], b[key])


def test_changes_effects_knows_which_reviews_a_parameter_can_change():
    acne = load_review(REPO / "data" / "raw" / "acne-scars")   # split-face trials
    assert changes_effects(acne, "paired_r")
    parallel = acne.studies.assign(design="parallel")
    only_parallel = type(acne)(**{**acne.__dict__, "studies": parallel})
    assert not changes_effects(only_parallel, "paired_r")
    unlabelled = (acne.arms["reported_form"] == "mean_unlabelled").any()
    assert changes_effects(acne, "dispersion") == bool(unlabelled)
    assert changes_effects(acne, "timepoint")


def test_forest_table_lists_every_study_with_weights_adding_to_100():
    from metareview.report import review_figures
    from metareview.report.pooled import OutcomeFit

    assert OutcomeFit  # the fit the review's forest plots draw
    effects = _effects(LIMIT + 1).assign(year=2000, main_analysis=True)
    analyses = pooled.analyses(effects, method="REML", test="knha")
    named = next(iter(analyses.plotted()))
    assert review_figures.summarised(named)
    review = load_review(REPO / "data" / "raw" / "acne-scars")
    table = review_figures.forest_table(named, review)
    assert len(table) == LIMIT + 1 and table["study_id"].tolist() == effects["study_id"].tolist()
    assert table["weight_pct"].sum() == pytest.approx(100)
    np.testing.assert_allclose(table["ci_high"] - table["estimate"],
                               1.959963984540054 * np.sqrt(effects["vi"]), rtol=1e-9)


def test_limit_is_one_constant_for_figures_and_tables():
    assert forest.MAX_STUDY_ROWS == figures.MAX_STUDY_ROWS == pooled.MAX_LEAVE_ONE_OUT == 60


def test_cumulative_plot_names_the_study_added_at_each_step():
    """Studies out of year order: each row names the study of its year (the labels go in
    input order, the plot finds each step's study itself)."""
    from metareview.report import review_figures

    effects = _effects(5).assign(year=[2004, 2001, 2003, 2000, 2002], main_analysis=True)
    named = next(iter(pooled.analyses(effects, method="REML", test="knha").plotted()))
    review = load_review(REPO / "data" / "raw" / "acne-scars")
    fig = review_figures.cumulative_for(named, review, method="REML", test="knha")
    cells = {t.get_gid(): t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))
             if t.get_gid()}
    added = [cells[f"cell-label-{i}"].removeprefix("+ ") for i in range(5)]
    years = [cells[f"cell-year-{i}"] for i in range(5)]
    assert added == ["S4", "S2", "S5", "S3", "S1"]
    assert years == ["2000", "2001", "2002", "2003", "2004"]


def test_proportion_forest_plot_of_many_studies_has_a_band_per_group():
    rng = np.random.default_rng(5)
    total = rng.integers(10, 80, 150)
    rows = pd.DataFrame({"label": [f"Series {i}" for i in range(150)],
                         "events": rng.binomial(total, 0.3), "total": total,
                         "group": np.where(np.arange(150) < 50, "a", "b")})
    fig = figures.proportion_forest_plot(rows, {})
    bands = [a for a in fig.findobj() if a.get_gid() == "band-intervals"]
    assert sorted(len(b.get_segments()) for b in bands) == [50, 100]
    assert fig.get_figheight() < 8
    x = np.sort(np.asarray(bands[0].get_segments())[:, 0, 0])
    assert 0 <= x.min() and x.max() <= 100  # drawn on the percent axis
    few = figures.proportion_forest_plot(rows.iloc[:LIMIT], {})
    assert not [a for a in few.findobj() if a.get_gid() == "band-intervals"]


def test_a_scenario_that_rederives_the_same_effects_changes_nothing():
    """The main analysis read back from effects.csv (10 significant digits) and the same
    effects derived again differ at 1e-11: not a scenario of its own."""
    effects = _effects(6).assign(main_analysis=True, p_derived=False, p_bound=False,
                                 randomised=True, year=2000)
    rounded = effects.assign(yi=[float(f"{v:.10g}") for v in effects["yi"]],
                             vi=[float(f"{v:.10g}") for v in effects["vi"]])
    assert not rounded["yi"].equals(effects["yi"])
    shifted = effects.assign(yi=effects["yi"] + np.r_[0.01, np.zeros(5)])
    for again, changed in ((effects, False), (shifted, True)):
        result = pooled.sensitivity_analyses(rounded, rederive=lambda **_: again, rs=(0.5,),
                                             estimators=())
        settings = set(result.table["setting"]) if len(result.table) else set()
        assert ("r = 0.5" in settings) == changed
        assert any("r = 0.5" in s for s in result.unchanged) != changed


def test_leave_one_out_of_chosen_studies_are_the_rows_of_every_study():
    effects = _effects(10)
    full = mr.leave_one_out(effects["yi"], effects["vi"], method="REML")
    some = mr.leave_one_out(effects["yi"], effects["vi"], method="REML", omitted=[2, 7])
    assert some.index.tolist() == [2, 7]
    pd.testing.assert_frame_equal(some, full.loc[[2, 7]], check_index_type=False)
    with pytest.raises(ValueError, match="outside 0 to 9"):
        mr.leave_one_out(effects["yi"], effects["vi"], omitted=[10])
