"""The RevMan-style forest plots: what is drawn and written, checked on the artists.

Data: the 13 BCG trials (metadat dat.bcg, binary per-arm counts) and the 9 trials of Normand
(1999) (dat.normand1999, means, SDs and sizes), both from the review fixture.
"""

from __future__ import annotations

import math
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.patches import Polygon
from PIL import Image

import metareview as mr
from metareview.report import figures
from metareview.report.figures.style import ROB_COLOURS

FIXTURE = Path(__file__).parent / "fixtures" / "review_fixture"


def _arms(outcome: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    arms = pd.read_csv(FIXTURE / "arms.csv")
    arms = arms[arms["outcome"] == outcome]
    treatment = arms[arms["role"] == "treatment"].set_index("study_id").sort_index()
    control = arms[arms["role"] == "control"].set_index("study_id").sort_index()
    return treatment, control


@pytest.fixture(scope="module")
def bcg() -> pd.DataFrame:
    t, c = _arms("tb")
    es = mr.effect_sizes("RR", ai=t["events"], bi=t["total"] - t["events"], ci=c["events"],
                         di=c["total"] - c["events"])
    return pd.DataFrame({
        "label": t.index, "yi": np.asarray(es["yi"], float), "vi": np.asarray(es["vi"], float),
        "events_treatment": t["events"].to_numpy(), "total_treatment": t["total"].to_numpy(),
        "events_control": c["events"].to_numpy(), "total_control": c["total"].to_numpy(),
    })


@pytest.fixture(scope="module")
def normand() -> pd.DataFrame:
    t, c = _arms("los")
    es = mr.effect_sizes("MD", m1i=t["mean"], sd1i=t["sd"], n1i=t["n"], m2i=c["mean"],
                         sd2i=c["sd"], n2i=c["n"])
    return pd.DataFrame({
        "label": t.index, "yi": np.asarray(es["yi"], float), "vi": np.asarray(es["vi"], float),
        "mean_treatment": t["mean"].to_numpy(), "sd_treatment": t["sd"].to_numpy(),
        "n_treatment": t["n"].to_numpy(), "mean_control": c["mean"].to_numpy(),
        "sd_control": c["sd"].to_numpy(), "n_control": c["n"].to_numpy(),
    })


def _by_gid(fig, prefix: str) -> list:
    return [a for a in fig.findobj() if (a.get_gid() or "").startswith(prefix)]


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def _cells(fig, column: str) -> list[str]:
    return [a.get_text() for a in _by_gid(fig, f"cell-{column}-")]


def _squares(fig) -> list:
    return [a for a in _by_gid(fig, "study-") if not a.get_gid().startswith("study-ci-")]


def assert_no_text_overlaps(fig) -> None:
    """No two texts of the figure cover each other (extents from the Agg renderer)."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer))
             for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(
                 a, "get_window_extent")) if t.get_text().strip() and t.get_visible()]
    clashes = [(a, b) for (a, box_a), (b, box_b) in combinations(boxes, 2)
               if box_a.x0 < box_b.x1 - 0.5 and box_b.x0 < box_a.x1 - 0.5
               and box_a.y0 < box_b.y1 - 0.5 and box_b.y0 < box_a.y1 - 0.5]
    assert not clashes, clashes[:5]


def test_forest_plot_draws_each_study_the_diamond_and_the_prediction_bar(bcg):
    result = mr.pool(bcg["yi"], bcg["vi"], method="REML")
    fig = figures.forest_plot(bcg, result, measure="RR")
    squares = _squares(fig)
    assert len(squares) == 13 and len(_by_gid(fig, "study-ci-")) == 13
    # squares at the studies' estimates, their area proportional to the weight
    xs = {a.get_gid(): a.get_xdata()[0] for a in squares}
    assert [xs[f"study-{i}"] for i in range(13)] == pytest.approx(bcg["yi"].tolist())
    side = np.array([{a.get_gid(): a.get_markersize() for a in squares}[f"study-{i}"]
                     for i in range(13)])
    np.testing.assert_allclose(side ** 2 / (side ** 2).max(), result.weights /
                               result.weights.max(), rtol=1e-12)
    # the diamond: left and right vertices at the CI, top and bottom at the estimate
    (diamond,) = [p for p in fig.findobj(Polygon) if p.get_gid() == "pooled-total"]
    vertices = diamond.get_xy()[:4]
    assert vertices[:, 0] == pytest.approx([result.ci_low, result.estimate, result.ci_high,
                                            result.estimate])
    (bar,) = _by_gid(fig, "prediction-")
    assert bar.get_xdata() == pytest.approx([result.pi_low, result.pi_high])
    (null,) = _by_gid(fig, "null-line")
    assert null.get_xdata()[0] == 0.0  # log RR = 0: no effect


def test_forest_plot_text_columns_as_revman_prints_them(bcg):
    result = mr.pool(bcg["yi"], bcg["vi"], method="REML")
    fig = figures.forest_plot(bcg, result, measure="RR")
    texts = _texts(fig)
    weights = _cells(fig, "weight")
    assert weights[-1] == "100.0%"
    assert sum(float(w.rstrip("%")) for w in weights[:-1]) == pytest.approx(100, abs=0.1)
    # totals of participants and events under the arms
    assert _cells(fig, "total_treatment")[-1] == f"{bcg['total_treatment'].sum():.0f}"
    assert _cells(fig, "total_control")[-1] == f"{bcg['total_control'].sum():.0f}"
    assert "Total events" in texts and f"{bcg['events_treatment'].sum():.0f}" in texts
    assert {"Experimental", "Control", "Events", "Total", "Weight", "Risk Ratio",
            "IV, Random, 95% CI", "Total (95% CI)", "Study or Subgroup"} <= set(texts)
    # ratios back-transformed: RR 0.49 [0.34, 0.70], and each study's RR
    assert "0.49 [0.34, 0.70]" in texts
    first = bcg.iloc[0]
    z = 1.959963984540054
    assert _cells(fig, "estimate")[0] == (
        f"{math.exp(first.yi):.2f} [{math.exp(first.yi - z * math.sqrt(first.vi)):.2f}, "
        f"{math.exp(first.yi + z * math.sqrt(first.vi)):.2f}]")
    # metafor on dat.bcg, REML: tau² 0.3132, Q 152.23 (df 12), I² 92.22%, z -3.97
    assert "Heterogeneity: Tau² = 0.31; Chi² = 152.23, df = 12 (P < 0.00001); I² = 92%" in texts
    assert "Test for overall effect: Z = 3.97 (P < 0.0001)" in texts
    assert {"Favours treatment", "Favours control"} <= set(texts)
    assert_no_text_overlaps(fig)


def test_forest_plot_continuous_arms_knha_and_a_source_interval(normand):
    result = mr.pool(normand["yi"], normand["vi"], method="REML", test="knha")
    source = [None] * len(normand)
    source[2] = (-70.0, -40.0)  # a study that printed its own (t-based) interval
    fig = figures.forest_plot(normand, result, measure="MD", single_interval=source,
                              favours=("Favours specialist care", "Favours routine care"))
    texts = _texts(fig)
    assert {"Mean", "SD", "Total", "Mean Difference"} <= set(texts)
    assert _cells(fig, "mean_treatment")[0] == "55" and _cells(fig, "sd_control")[0] == "64"
    assert _cells(fig, "n_treatment")[-1] == f"{normand['n_treatment'].sum():.0f}"
    ci = {a.get_gid(): a.get_xdata() for a in _by_gid(fig, "study-ci-")}
    assert list(ci["study-ci-2"]) == [-70.0, -40.0]
    assert _cells(fig, "estimate")[2].endswith("[-70.00, -40.00] †")
    assert any(t.startswith("† t-based interval of the study's source") for t in texts)
    statistic = abs(result.statistic)
    assert f"Test for overall effect: t = {statistic:.2f}, df = 8 (P = {result.pval:.2f})" \
        in texts
    assert "Model: Random effects (REML, Hartung-Knapp); study weights are inverse-variance." \
        in texts
    assert_no_text_overlaps(fig)


def test_columns_without_values_are_not_drawn(normand):
    rows = normand.assign(mean_treatment=np.nan, sd_treatment=np.nan, mean_control=np.nan,
                          sd_control=np.nan)
    fig = figures.forest_plot(rows, mr.pool(rows["yi"], rows["vi"]), measure="MD")
    texts = _texts(fig)
    assert "Mean" not in texts and "SD" not in texts and "Total" in texts
    bare = figures.forest_plot(normand[["label", "yi", "vi"]],
                               mr.pool(normand["yi"], normand["vi"]), measure="MD")
    assert "Experimental" not in _texts(bare)


def test_not_pooled_draws_only_the_studies(normand):
    fig = figures.forest_plot(normand.iloc[:3], None, measure="MD")
    assert len(_squares(fig)) == 3
    assert not [p for p in fig.findobj(Polygon) if (p.get_gid() or "").startswith("pooled")]
    texts = _texts(fig)
    assert "Not pooled" in texts and "Weight" not in texts
    assert not any(t.startswith("Heterogeneity") for t in texts)


def test_common_effect_model_has_no_tau2_and_no_prediction_interval(bcg):
    result = mr.pool(bcg["yi"], bcg["vi"], method="FE")
    fig = figures.forest_plot(bcg, result, measure="RR")
    assert not _by_gid(fig, "prediction-")
    assert "IV, Fixed, 95% CI" in _texts(fig)
    assert f"Heterogeneity: Chi² = {result.q:.2f}, df = 12 (P < 0.00001); " \
           f"I² = {result.i2:.0f}%" in _texts(fig)


def test_risk_of_bias_columns(bcg):
    levels = ["low", "some_concerns", "high", "no_information"]
    domains = ["D1", "D2", "D3", "D4", "D5", "overall"]
    rob = pd.DataFrame({d: [levels[(i + j) % 4] for i in range(13)]
                        for j, d in enumerate(domains)}, index=bcg["label"])
    fig = figures.forest_plot(bcg, mr.pool(bcg["yi"], bcg["vi"]), measure="RR", rob=rob)
    dots = _by_gid(fig, "rob-")
    assert len(dots) == 13 * 6
    colours = {d.get_gid(): to_rgba(d.get_markerfacecolor()) for d in dots}
    for i, domain in ((0, "D1"), (5, "D3"), (12, "overall")):
        assert colours[f"rob-{i}-{domain}"] == to_rgba(ROB_COLOURS[rob.iloc[i][domain]])
    texts = _texts(fig)
    assert {"Risk of Bias", "D1", "D5", "Overall"} <= set(texts)
    assert any(t.startswith("Risk of bias (RoB 2): + low, − some concerns, × high") for t in
               texts)
    # the long form of risk_of_bias.csv gives the same dots
    long = rob.reset_index().melt(id_vars="label", var_name="domain", value_name="judgement")
    long = long.rename(columns={"label": "study_id"}).assign(tool="RoB2")
    again = figures.forest_plot(bcg, mr.pool(bcg["yi"], bcg["vi"]), measure="RR", rob=long)
    assert len(_by_gid(again, "rob-")) == 13 * 6
    assert_no_text_overlaps(fig)


def test_old_positional_call_and_bad_weights(bcg):
    result = mr.pool(bcg["yi"], bcg["vi"])
    old = figures.forest_plot(bcg["label"], bcg["yi"], bcg["vi"], result, measure="RR")
    new = figures.forest_plot(bcg[["label", "yi", "vi"]], result, measure="RR")
    assert _cells(old, "estimate") == _cells(new, "estimate")
    with pytest.raises(ValueError, match="13 weights but there are 12 rows"):
        figures.forest_plot(bcg.iloc[:12], result, measure="RR")


def test_subgroup_forest_plot_subtotals_and_test_for_differences(bcg):
    groups = np.where(np.arange(13) < 5, "early", "late")
    rows = bcg.assign(era=groups)
    fits = {g: mr.pool(p["yi"], p["vi"]) for g, p in rows.groupby("era")}
    overall = mr.pool(rows["yi"], rows["vi"])
    fig = figures.subgroup_forest_plot(rows, "era", fits, overall, measure="RR")
    assert len(_squares(fig)) == 13
    diamonds = {p.get_gid(): p.get_xy()[:4, 0] for p in fig.findobj(Polygon)
                if (p.get_gid() or "").startswith("pooled")}
    assert set(diamonds) == {"pooled-early", "pooled-late", "pooled-total"}
    for group, fit in fits.items():
        assert diamonds[f"pooled-{group}"] == pytest.approx(
            [fit.ci_low, fit.estimate, fit.ci_high, fit.estimate])
    texts = _texts(fig)
    assert "early (k = 5)" in texts and "late (k = 8)" in texts
    assert texts.count("Subtotal (95% CI)") == 2
    for fit in fits.values():
        assert figures.revman_heterogeneity_text(fit) in texts
    # RevMan's test: Q between the subgroup estimates, I² = (Q − df)/Q
    separate = mr.subgroup(rows["yi"], rows["vi"], rows["era"], tau2="separate")
    q = separate.q_between
    expected = (f"Test for subgroup differences: Chi² = {q:.2f}, df = 1 "
                f"({figures.forest.revman_p(separate.pval)}), "
                f"I² = {max(0.0, (q - 1) / q) * 100:.1f}%")
    assert expected in texts
    # the same line from the subgroup result, and a text printed as given
    from_result = figures.subgroup_forest_plot(rows, "era", fits, overall, measure="RR",
                                               test_text=separate)
    assert expected in _texts(from_result)
    given = figures.subgroup_forest_plot(rows, "era", fits, overall, measure="RR",
                                         test_text="Q-between = 1")
    assert "Q-between = 1" in _texts(given)
    # weights are shares of the overall fit: subtotals and studies add up to 100%
    weights = [float(w.rstrip("%")) for w in _cells(fig, "weight")]
    assert weights[-1] == 100.0
    study_weights = np.array(weights[:5] + weights[6:14])
    assert study_weights.sum() == pytest.approx(100, abs=0.1)
    assert weights[5] == pytest.approx(overall.weights[:5].sum(), abs=0.05)
    assert_no_text_overlaps(fig)


def test_single_study_subgroups_enter_the_test_for_differences(bcg):
    rows = bcg.assign(group=["a"] * 11 + ["b", "c"])
    fits = {"a": mr.pool(rows["yi"][:11], rows["vi"][:11])}
    fig = figures.subgroup_forest_plot(rows, "group", fits, mr.pool(rows["yi"], rows["vi"]),
                                       measure="RR")
    separate = mr.subgroup(rows["yi"], rows["vi"], rows["group"], tau2="separate")
    q = separate.q_between
    assert (f"Test for subgroup differences: Chi² = {q:.2f}, df = 2 "
            f"({figures.forest.revman_p(separate.pval)}), "
            f"I² = {max(0.0, (q - 2) / q) * 100:.1f}%") in _texts(fig)
    assert len([p for p in fig.findobj(Polygon) if (p.get_gid() or "").startswith("pooled")]) \
        == 2  # subgroup a and the total: one-study subgroups get no diamond


def test_subgroup_difference_i2_matches_revman_formula():
    text = figures.subgroup_difference_text(10.0, 2, 0.0067)
    assert text == "Test for subgroup differences: Chi² = 10.00, df = 2 (P = 0.007), I² = 80.0%"
    assert figures.subgroup_difference_text(1.0, 2, 0.6).endswith("I² = 0.0%")


def test_revman_p_formats():
    p = figures.forest.revman_p
    assert [p(v) for v in (3e-6, 7e-5, 4.2e-4, 0.0031, 0.4449)] == [
        "P < 0.00001", "P < 0.0001", "P = 0.0004", "P = 0.003", "P = 0.44"]


def test_forest_png_smoke(tmp_path, bcg):
    result = mr.pool(bcg["yi"], bcg["vi"])
    png, svg = figures.save_figure(figures.forest_plot(bcg, result, measure="RR"),
                                   tmp_path / "forest")
    with Image.open(png) as image:
        assert image.info["dpi"] == pytest.approx((figures.PNG_DPI,) * 2, abs=0.1)
        # over 5 by 3 inches: a row per study and the columns of numbers beside them
        assert image.size[0] > 5 * figures.PNG_DPI and image.size[1] > 3 * figures.PNG_DPI
    again, _ = figures.save_figure(figures.forest_plot(bcg, result, measure="RR"),
                                   tmp_path / "again")
    assert png.read_bytes() == again.read_bytes()


def test_figures_use_no_pyplot_state():
    # Plain Figure objects: drawing every figure leaves pyplot unimported.
    code = (
        "import sys, numpy as np, pandas as pd, metareview as mr\n"
        "from metareview.report import figures\n"
        "from metareview.stats.diagnostics import baujat, cumulative\n"
        "y, v = np.array([-0.9, -1.6, -0.2, 0.0, -0.5]), np.array([0.3, 0.2, 0.05, 0.01, 0.06])\n"
        "rows = pd.DataFrame({'label': list('abcde'), 'yi': y, 'vi': v})\n"
        "figures.forest_plot(rows, mr.pool(y, v), measure='RR')\n"
        "figures.cumulative_forest_plot(cumulative(y, v), list('abcde'), 'RR')\n"
        "figures.baujat_plot(baujat(y, v), list('abcde'))\n"
        "x = np.array([10.0, 20, 30, 40, 55])\n"
        "figures.bubble_plot(y, v, x, mr.meta_regression(y, v, x), xlabel='x', measure='RR')\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- axis, arrows, labels and alternative text -----------------------------------------------

Z95 = 1.959963984540054


@pytest.fixture(scope="module")
def two_trials() -> pd.DataFrame:
    """Two trials of a percentage outcome as acne-scars pools them (scar volume, percent
    improvement): MD 13.48 [4.80, 22.16] and 33.24 [25.63, 40.85]. With the Hartung-Knapp test
    and one df their pooled interval is [-102.19, 148.89], about ten times the studies'."""
    yi = np.array([13.48, 33.24])
    se = np.array([(22.16 - 4.80), (40.85 - 25.63)]) / (2 * Z95)
    return pd.DataFrame({"label": ["Gel 2025", "Subcision 2022"], "yi": yi, "vi": se ** 2})


def test_axis_fits_the_studies_and_a_wider_pooled_interval_ends_in_arrows(two_trials):
    result = mr.pool(two_trials["yi"], two_trials["vi"], method="REML", test="knha")
    assert result.ci_low < -100 and result.ci_high > 140  # the interval that stretched the axis
    fig = figures.forest_plot(two_trials, result, measure="MD", direction="higher_is_better",
                              title="Scar volume")
    ax = fig.axes[0]
    # RevMan's scale: the smallest of 1, 2, 4, 5 × 10^j covering the studies (40.85 -> 50)
    assert ax.get_xlim() == (-50.0, 50.0)
    for line in _by_gid(fig, "study-ci-"):
        low, high = line.get_xdata()
        assert -50 < low < high < 50  # every study's interval is whole
    (diamond,) = [p for p in fig.findobj(Polygon) if p.get_gid() == "pooled-total"]
    xs = diamond.get_xy()[:, 0]
    assert xs.min() == pytest.approx(-50.0) and xs.max() == pytest.approx(50.0)
    assert result.estimate in list(xs)  # top and bottom vertices at the estimate
    arrows = {p.get_gid(): p.get_xy()[:, 0] for p in fig.findobj(Polygon)
              if (p.get_gid() or "").startswith("arrow-pooled-total")}
    assert set(arrows) == {"arrow-pooled-total-left", "arrow-pooled-total-right"}
    assert arrows["arrow-pooled-total-left"].min() < -50  # heads point out of the axis
    assert arrows["arrow-pooled-total-right"].max() > 50
    # the numbers of the whole interval are still printed
    assert f"{result.estimate:.2f} [{result.ci_low:.2f}, {result.ci_high:.2f}]" in _cells(
        fig, "estimate")
    assert_no_text_overlaps(fig)


def test_an_interval_inside_the_axis_is_drawn_whole(bcg):
    result = mr.pool(bcg["yi"], bcg["vi"], method="REML")
    fig = figures.forest_plot(bcg, result, measure="RR")
    assert not [p for p in fig.findobj(Polygon) if (p.get_gid() or "").startswith("arrow-")]
    low, high = fig.axes[0].get_xlim()
    # the axis covers every study's interval (log RR) and no more than the next scale step
    reach = np.max(np.abs(np.r_[bcg["yi"] - Z95 * np.sqrt(bcg["vi"]),
                                bcg["yi"] + Z95 * np.sqrt(bcg["vi"])]))
    assert reach == pytest.approx(np.log(13.6), abs=0.01)  # a study up to RR 13.6
    assert high == -low and high >= reach and np.exp(high) == pytest.approx(20.0)


def test_ratio_axes_are_titled_log_scale_and_keep_clear_of_the_favours_labels(bcg, normand):
    ratio = figures.forest_plot(bcg, mr.pool(bcg["yi"], bcg["vi"]), measure="RR")
    assert ratio.axes[0].get_xlabel() == "Risk Ratio (log scale)"
    assert [t.get_text() for t in ratio.axes[0].get_xticklabels()] == ["0.05", "0.2", "1",
                                                                        "5", "20"]
    assert_no_text_overlaps(ratio)
    difference = figures.forest_plot(normand, mr.pool(normand["yi"], normand["vi"]),
                                     measure="MD")
    assert difference.axes[0].get_xlabel() == ""
    assert figures.forest.axis_label("OR") == "Odds Ratio (log scale)"


@pytest.mark.parametrize("direction, left, right", [
    ("lower_is_better", "Favours treatment", "Favours control"),
    ("higher_is_better", "Favours control", "Favours treatment"),
])
def test_default_favours_sides_follow_the_outcome_direction(bcg, direction, left, right):
    result = mr.pool(bcg["yi"], bcg["vi"])
    for fig in (figures.forest_plot(bcg, result, measure="RR", direction=direction),
                figures.subgroup_forest_plot(bcg.assign(g="a"), "g", {"a": result}, result,
                                             measure="RR", direction=direction)):
        (shown_left,) = _by_gid(fig, "favours-left")
        (shown_right,) = _by_gid(fig, "favours-right")
        assert (shown_left.get_text(), shown_right.get_text()) == (left, right)


def test_subgroup_forest_plot_prints_the_reviews_labels(bcg):
    rows = bcg.assign(cls=np.where(np.arange(13) < 5, "svf", "fat_grafting"))
    fits = {g: mr.pool(p["yi"], p["vi"]) for g, p in rows.groupby("cls")}
    source = [None] * 13
    source[0] = (-1.5, 0.2)
    fig = figures.subgroup_forest_plot(
        rows, "cls", fits, mr.pool(rows["yi"], rows["vi"]), measure="RR",
        arm_labels=("Cell therapy", "Control"), single_interval=source,
        group_labels={"svf": "Stromal vascular fraction", "fat_grafting": "Fat grafting"})
    texts = _texts(fig)
    assert {"Fat grafting (k = 8)", "Stromal vascular fraction (k = 5)", "Cell therapy"} <= set(
        texts)
    assert not {"svf (k = 5)", "fat_grafting (k = 8)", "Experimental"} & set(texts)
    # headings in the order of their labels; the source's interval of a study as in forest_plot
    spans = [t for t in texts if t.endswith(")") and "(k = " in t]
    assert spans == ["Fat grafting (k = 8)", "Stromal vascular fraction (k = 5)"]
    ci = {a.get_gid(): list(a.get_xdata()) for a in _by_gid(fig, "study-ci-")}
    assert ci["study-ci-0"] == [-1.5, 0.2]
    assert any(t.startswith("† t-based interval") for t in texts)
    assert_no_text_overlaps(fig)


def test_alt_text_names_the_outcome_k_and_the_pooled_estimate_as_the_table_prints_it(
        bcg, two_trials):
    from metareview.report.figures.style import alt_text
    from metareview.report.text import format_interval

    result = mr.pool(bcg["yi"], bcg["vi"], method="REML")
    text = alt_text(figures.forest_plot(bcg, result, measure="RR", title="Tuberculosis (RR)"))
    table = format_interval(*np.exp([result.estimate, result.ci_low, result.ci_high]))
    assert text.startswith("Forest plot: Tuberculosis (RR). 13 studies; pooled RR ")
    assert f"RR {table} (95% CI), random effects (REML)" in text and table == "0.49 [0.34, 0.70]"
    assert "prediction interval" in text and "past the" not in text
    wide = mr.pool(two_trials["yi"], two_trials["vi"], method="REML", test="knha")
    text = alt_text(figures.forest_plot(two_trials, wide, measure="MD"))
    printed = format_interval(wide.estimate, wide.ci_low, wide.ci_high)
    assert f"2 studies; pooled MD {printed} (95% CI)" in text
    assert "runs past the left and right end of the axis" in text
    alone = alt_text(figures.forest_plot(two_trials.iloc[:1], None, measure="MD"))
    assert alone == "Forest plot. 1 study, not pooled: Gel 2025: MD 13.48 [4.80, 22.16]."


def test_the_bayesian_model_is_a_second_open_diamond_with_its_prediction_interval(bcg):
    from metareview.report.figures.style import BAYES_COLOUR, POOLED_COLOUR, alt_text

    result = mr.pool(bcg["yi"], bcg["vi"], method="REML", test="knha")
    bayes = mr.pool_bayes(bcg["yi"], bcg["vi"], "halfnormal(0.5)")
    fig = figures.forest_plot(bcg, result, measure="RR", bayes=bayes)
    diamonds = {p.get_gid(): p for p in fig.findobj(Polygon)
                if p.get_gid() in ("pooled-total", "pooled-bayes")}
    assert set(diamonds) == {"pooled-total", "pooled-bayes"}
    # at the posterior median and the shortest credible interval, open and purple
    vertices = diamonds["pooled-bayes"].get_xy()[:4]
    assert vertices[:, 0] == pytest.approx([bayes.mu_shortest_low, bayes.mu_median,
                                            bayes.mu_shortest_high, bayes.mu_median])
    assert to_rgba(diamonds["pooled-bayes"].get_facecolor()) == to_rgba("white")
    assert to_rgba(diamonds["pooled-bayes"].get_edgecolor()) == to_rgba(BAYES_COLOUR)
    assert to_rgba(diamonds["pooled-total"].get_facecolor()) == to_rgba(POOLED_COLOUR)
    (bar,) = _by_gid(fig, "prediction-bayes")
    assert bar.get_xdata() == pytest.approx([bayes.theta_shortest_low, bayes.theta_shortest_high])
    labels = _cells(fig, "label")
    assert "Bayesian (95% CrI)" in labels and "Bayesian prediction interval" in labels
    shown = (f"{math.exp(bayes.mu_median):.2f} [{math.exp(bayes.mu_shortest_low):.2f}, "
             f"{math.exp(bayes.mu_shortest_high):.2f}]")
    assert shown in _cells(fig, "estimate")
    assert any("prior of τ half-normal(scale=0.5)" in t for t in _texts(fig))
    assert "Bayesian random-effects model: RR" in alt_text(fig)
    assert_no_text_overlaps(fig)
    # a row of report.bayes's table draws the same diamond as the result itself
    row = {"estimate": bayes.mu_median, "ci_low": bayes.mu_shortest_low,
           "ci_high": bayes.mu_shortest_high, "pi_low": bayes.theta_shortest_low,
           "pi_high": bayes.theta_shortest_high, "tau_prior": bayes.tau_prior,
           "mu_prior": bayes.mu_prior}
    again = figures.forest_plot(bcg, result, measure="RR", bayes=row)
    (same,) = [p for p in again.findobj(Polygon) if p.get_gid() == "pooled-bayes"]
    np.testing.assert_array_equal(same.get_xy(), diamonds["pooled-bayes"].get_xy())
    # without it, no second diamond
    plain = figures.forest_plot(bcg, result, measure="RR")
    assert not [p for p in plain.findobj(Polygon) if p.get_gid() == "pooled-bayes"]
