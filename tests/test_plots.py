"""Tests of the figures (metareview.report.figures): content, files, resolution and determinism."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import Polygon
from PIL import Image

import metareview as mr
from metareview.report import figures

FIXTURE = Path(__file__).parent / "fixtures" / "review_fixture"


@pytest.fixture(scope="module")
def bcg():
    """log RR, variance and label of the 13 BCG trials (metadat dat.bcg), from the fixture."""
    arms = pd.read_csv(FIXTURE / "arms.csv")
    arms = arms[arms["outcome"] == "tb"]
    t = arms[arms["role"] == "treatment"].set_index("study_id").sort_index()
    c = arms[arms["role"] == "control"].set_index("study_id").sort_index()
    es = mr.effect_sizes("RR", ai=t["events"], bi=t["total"] - t["events"], ci=c["events"],
                         di=c["total"] - c["events"])
    return pd.DataFrame({"study_id": t.index, "yi": np.asarray(es["yi"], float),
                         "vi": np.asarray(es["vi"], float)})


def _gids(fig, prefix):
    return [a.get_gid() for a in fig.findobj() if (a.get_gid() or "").startswith(prefix)]


def _texts(fig):
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def test_forest_plot_rows_and_pooled_parts(bcg):
    result = mr.pool(bcg["yi"], bcg["vi"], method="REML", test="knha")
    rows = bcg.rename(columns={"study_id": "label"})
    fig = figures.forest_plot(rows, result, measure="RR",
                              favours=figures.favours_labels("RR"))
    assert len(_gids(fig, "study-ci-")) == 13
    assert len([g for g in _gids(fig, "study-") if not g.startswith("study-ci-")]) == 13
    assert len(_gids(fig, "pooled-")) == 1
    assert len(_gids(fig, "prediction-")) == 1
    texts = _texts(fig)
    assert "IV, Random, 95% CI" in texts and "Weight" in texts
    assert any(t.startswith("Favours treatment") for t in texts)
    assert any(t.startswith("Heterogeneity: Tau² = 0.31;") and "I² = 92%" in t for t in texts)
    # estimates printed as ratios: the pooled row shows exp(estimate) [exp(ci)]
    pooled_text = f"{math.exp(result.estimate):.2f} [{math.exp(result.ci_low):.2f}, " \
                  f"{math.exp(result.ci_high):.2f}]"
    assert pooled_text in texts
    # the diamond spans the pooled CI on the log axis
    diamond = [p for p in fig.findobj(Polygon) if (p.get_gid() or "").startswith("pooled")][0]
    xs = diamond.get_xy()[:, 0]
    assert xs.min() == pytest.approx(result.ci_low) and xs.max() == pytest.approx(result.ci_high)
    # square area grows with weight
    markers = {a.get_gid(): a.get_markersize() for a in fig.findobj()
               if (a.get_gid() or "").startswith("study-")
               and not a.get_gid().startswith("study-ci")}
    sizes = np.array([markers[f"study-{i}"] for i in range(13)])
    order = np.argsort(result.weights)
    assert np.all(np.diff(sizes[order]) >= -1e-12)


def test_forest_plot_without_model_and_common_effect(bcg):
    one = figures.forest_plot(["only"], [0.3], [0.04], None, measure="MD")
    assert len(_gids(one, "pooled-")) == 0 and len(_gids(one, "study-ci-")) == 1
    fe = mr.pool(bcg["yi"], bcg["vi"], method="FE")
    fig = figures.forest_plot(bcg["study_id"], bcg["yi"], bcg["vi"], fe, measure="RR")
    assert len(_gids(fig, "prediction-")) == 0  # a common-effect model has no prediction interval


def test_favours_labels_follow_direction():
    assert figures.favours_labels("SMD") == ("Favours treatment", "Favours control")
    assert figures.favours_labels("RR", "lower_is_better")[0] == "Favours treatment"
    assert figures.favours_labels("RR", "higher_is_better") == ("Favours control",
                                                                "Favours treatment")
    assert figures.favours_labels("MD", "higher_is_better", "cells", "placebo") == (
        "Favours placebo", "Favours cells")


def test_subgroup_forest_plot_counts(bcg):
    groups = np.where(np.arange(13) < 6, "a", "b")
    effects = bcg.assign(group=groups)
    group_results = {g: mr.pool(p["yi"], p["vi"]) for g, p in effects.groupby("group")}
    overall = mr.pool(bcg["yi"], bcg["vi"])
    fig = figures.subgroup_forest_plot(effects, "group", group_results, overall, measure="RR",
                                     test_text="Q-between = 1")
    assert len(_gids(fig, "study-ci-")) == 13
    assert len(_gids(fig, "pooled-")) == 3  # two subgroups and the overall estimate
    texts = _texts(fig)
    assert "a (k = 6)" in texts and "b (k = 7)" in texts and "Q-between = 1" in texts


def test_funnel_plot_with_filled_studies(bcg):
    tf = mr.trim_and_fill(bcg["yi"], bcg["vi"])
    fig = figures.funnel_plot(bcg["yi"], bcg["vi"], -0.71, filled_yi=tf.filled["yi"],
                            filled_vi=tf.filled["vi"], measure="RR")
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    assert low > high == 0  # standard error axis runs downwards from 0
    studies = [a for a in fig.findobj() if a.get_gid() == "funnel-studies"][0]
    assert len(studies.get_offsets()) == 13
    # metafor: trimfill(rma(yi, vi, data = dat.bcg log RR, method = "REML")) fills one study
    # on the right (models.json, "trimfill"); the plot must show exactly that one.
    assert tf.k0 == 1
    filled = [a for a in fig.findobj() if a.get_gid() == "funnel-filled"]
    assert len(filled) == 1
    assert len(filled[0].get_offsets()) == 1
    np.testing.assert_allclose(filled[0].get_offsets()[0], [tf.filled["yi"].iloc[0],
                                                            np.sqrt(tf.filled["vi"].iloc[0])])


def test_funnel_for_a_pooled_outcome_draws_its_trim_and_fill_studies(bcg):
    """The report's funnel (review_figures.funnel_for) shows the outcome's studies and the one
    study metafor's trimfill adds for the BCG trials (REML)."""
    from types import SimpleNamespace

    from metareview.report.review_figures import funnel_for

    effects = pd.DataFrame({"yi": bcg["yi"], "vi": bcg["vi"]})
    fit = SimpleNamespace(effects=effects, result=mr.pool(bcg["yi"], bcg["vi"]), measure="RR",
                          outcome="tb")
    fig = funnel_for(SimpleNamespace(fit=fit), method="REML")
    studies = [a for a in fig.findobj() if a.get_gid() == "funnel-studies"][0]
    assert len(studies.get_offsets()) == 13
    filled = [a for a in fig.findobj() if a.get_gid() == "funnel-filled"]
    assert len(filled) == 1 and len(filled[0].get_offsets()) == 1
    assert fig.axes[0].get_title(loc="left") == "tb: funnel plot"


def test_rob_traffic_light_one_circle_per_judgement():
    rob = pd.read_csv(FIXTURE / "risk_of_bias.csv")
    fig = figures.rob_traffic_light(rob)
    assert len(_gids(fig, "rob-")) == len(rob)
    assert len([a for a in fig.axes if a.get_title(loc="left")]) == rob["tool"].nunique()
    empty = figures.rob_traffic_light(rob.iloc[0:0])
    assert "No risk-of-bias judgements recorded" in _texts(empty)


def test_save_figure_png_at_its_dpi_and_deterministic_svg(tmp_path, bcg):
    def draw():
        result = mr.pool(bcg["yi"], bcg["vi"])
        return figures.forest_plot(bcg["study_id"], bcg["yi"], bcg["vi"], result, measure="RR")

    png, svg = figures.save_figure(draw(), tmp_path / "first" / "forest")
    png2, svg2 = figures.save_figure(draw(), tmp_path / "second" / "forest")
    assert png.name == "forest.png" and svg.name == "forest.svg"
    with Image.open(png) as image:
        assert image.info["dpi"] == pytest.approx((figures.PNG_DPI,) * 2, abs=0.1)
        assert "Software" not in image.info
    first, second = svg.read_bytes(), svg2.read_bytes()
    assert first == second
    assert png.read_bytes() == png2.read_bytes()
    assert b"<dc:date>" not in first and b"Matplotlib v" not in first
    assert not list(tmp_path.rglob(".*.tmp"))  # no temporary files left behind


def test_forest_plot_warns_with_two_studies(bcg):
    two = bcg.iloc[:2]
    fig = figures.forest_plot(two["study_id"], two["yi"], two["vi"],
                            mr.pool(two["yi"], two["vi"]), measure="RR")
    assert any(t.startswith("Caution: two studies only") for t in _texts(fig))
