"""Cumulative forest plot, Baujat plot and bubble plot: checked on their artists.

Data: dat.bcg (log risk ratios, years, absolute latitude) as stored in
tests/fixtures/metafor/diagnostics.json, which also holds metafor's predict() values for the
meta-regression band.
"""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Annotation, Text

import metareview as mr
from metareview.report import figures
from metareview.stats.diagnostics import baujat, cumulative

from support import check_saved_figure

FIXTURES = json.loads(
    (Path(__file__).parent / "fixtures" / "metafor" / "diagnostics.json").read_text())
BCG = FIXTURES["datasets"]["bcg_rr"]
LABELS = ["Aronson", "Ferguson & Simes", "Rosenthal 1960", "Hart & Sutherland",
          "Frimodt-Moller", "Stein & Aronson", "Vandiviere", "TPT Madras", "Coetzee & Berjak",
          "Rosenthal 1961", "Comstock 1974", "Comstock & Webster", "Comstock 1976"]


def _by_gid(fig, prefix: str) -> list:
    return [a for a in fig.findobj() if (a.get_gid() or "").startswith(prefix)]


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def _text_extent(text, renderer):
    # The text alone: an annotation's own extent includes its leader line.
    if isinstance(text, Annotation):
        text.update_positions(renderer)
    return Text.get_window_extent(text, renderer)


def _overlapping_texts(fig) -> list:
    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = [(t.get_text(), _text_extent(t, renderer)) for t in fig.findobj(Text)
             if t.get_text().strip() and t.get_visible()]
    return [(a, b) for (a, p), (b, q) in combinations(boxes, 2)
            if p.x0 < q.x1 - 0.5 and q.x0 < p.x1 - 0.5 and p.y0 < q.y1 - 0.5
            and q.y0 < p.y1 - 0.5]


def test_cumulative_forest_plot_one_row_per_step_in_order_of_year():
    table = cumulative(BCG["yi"], BCG["vi"], order=BCG["year"])
    fig = figures.cumulative_forest_plot(table, LABELS, "RR", years=BCG["year"])
    squares = _by_gid(fig, "cumulative-")
    squares = [a for a in squares if not a.get_gid().startswith("cumulative-ci")]
    assert len(squares) == 13
    xs = {a.get_gid(): a.get_xdata()[0] for a in squares}
    assert [xs[f"cumulative-{step}"] for step in range(1, 14)] == pytest.approx(
        table["estimate"].tolist())
    intervals = {a.get_gid(): list(a.get_xdata()) for a in _by_gid(fig, "cumulative-ci-")
                 if not a.get_gid().startswith("arrow")}
    assert intervals["cumulative-ci-13"] == pytest.approx(
        [table["ci_low"].iloc[-1], table["ci_high"].iloc[-1]])
    labels = [a.get_text() for a in _by_gid(fig, "cell-label-")]
    years = [int(a.get_text()) for a in _by_gid(fig, "cell-year-")]
    assert labels[0] == "Aronson" and labels[1] == "+ Ferguson & Simes"
    assert years == sorted(years)
    # the last row is the meta-analysis of all studies
    full = mr.pool(BCG["yi"], BCG["vi"])
    last = _by_gid(fig, "cell-estimate-")[-1].get_text()
    assert last == f"{np.exp(full.estimate):.2f} [{np.exp(full.ci_low):.2f}, " \
                   f"{np.exp(full.ci_high):.2f}]"
    assert _by_gid(fig, "cell-i2-")[0].get_text() == "–"  # one study: I² not estimable
    assert _by_gid(fig, "cell-i2-")[-1].get_text() == f"{full.i2:.0f}%"
    assert not _overlapping_texts(fig)


def test_cumulative_forest_plot_needs_a_label_per_study():
    table = cumulative(BCG["yi"], BCG["vi"], order=BCG["year"])
    with pytest.raises(ValueError, match="12 labels for 13 steps"):
        figures.cumulative_forest_plot(table.drop(columns="study"), LABELS[:12], "RR")


def test_baujat_plot_points_at_the_coordinates_and_every_study_labelled():
    coords = baujat(BCG["yi"], BCG["vi"])
    fig = figures.baujat_plot(coords, LABELS)
    (points,) = _by_gid(fig, "baujat-points")
    np.testing.assert_allclose(points.get_offsets(), coords[["x", "y"]].to_numpy())
    labels = _by_gid(fig, "baujat-label-")
    assert len(labels) == 13
    # each label points at its own study
    for label in labels:
        i = int(label.get_gid().rsplit("-", 1)[1])
        assert label.xy == pytest.approx((coords["x"].iloc[i], coords["y"].iloc[i]))
    texts = _texts(fig)
    assert "Contribution to overall heterogeneity" in texts
    assert "Influence on overall result" in texts
    # crowded names give way to numbers with a key underneath
    if _by_gid(fig, "baujat-key"):
        assert {a.get_text() for a in labels} == {str(i) for i in range(1, 14)}
        key = _by_gid(fig, "baujat-key")[0].get_text()
        assert "8 TPT Madras" in key and "13 Comstock 1976" in key
    assert not _overlapping_texts(fig)


def test_baujat_plot_keeps_names_when_they_fit():
    coords = baujat([0.1, 0.9, 0.4, -0.5], [0.02, 0.05, 0.03, 0.04])
    fig = figures.baujat_plot(coords, ["A", "B", "C", "D"], method="REML")
    assert sorted(a.get_text() for a in _by_gid(fig, "baujat-label-")) == ["A", "B", "C", "D"]
    assert not _by_gid(fig, "baujat-key")
    assert "Squared Pearson residual" in _texts(fig)


@pytest.mark.parametrize("case", FIXTURES["regression_band"],
                         ids=lambda c: f"{c['moderator']}-{c['method']}-{c['test']}")
def test_regression_band_matches_metafor_predict(case):
    data = FIXTURES["datasets"][case["dataset"]]
    x = np.asarray(data[case["moderator"]], float)
    fit = mr.meta_regression(data["yi"], data["vi"], x, method=case["method"], test=case["test"])
    pred, low, high = figures.regression_band(data["yi"], data["vi"], x, fit, case["at"])
    for name, value in (("pred", pred), ("ci_low", low), ("ci_high", high)):
        np.testing.assert_allclose(value, case["result"][name], rtol=1e-6, atol=1e-10,
                                   err_msg=f"{name}: {case['call']}; {case['predict_call']}")


def test_bubble_plot_points_line_and_band():
    x = np.asarray(BCG["ablat"], float)
    fit = mr.meta_regression(BCG["yi"], BCG["vi"], x, test="knha")
    fig = figures.bubble_plot(BCG["yi"], BCG["vi"], x, fit, xlabel="Absolute latitude",
                              measure="RR")
    (points,) = _by_gid(fig, "bubble-points")
    np.testing.assert_allclose(points.get_offsets(), np.column_stack([x, BCG["yi"]]))
    weights = 1 / (np.asarray(BCG["vi"]) + fit.tau2)
    sizes = points.get_sizes()
    big = sizes > sizes.min()  # the smallest bubbles are held at a minimum size
    np.testing.assert_allclose(sizes[big] / sizes.max(), weights[big] / weights.max(),
                               rtol=1e-12)
    (line,) = _by_gid(fig, "bubble-line")
    grid, fitted = line.get_xdata(), line.get_ydata()
    np.testing.assert_allclose(fitted, fit.estimate["intrcpt"] + fit.estimate["x"] * grid,
                               rtol=1e-12)
    (band,) = _by_gid(fig, "bubble-band")
    vertices = band.get_paths()[0].vertices
    _, low, high = figures.regression_band(BCG["yi"], BCG["vi"], x, fit, grid)
    lower = vertices[1:len(grid) + 1]
    np.testing.assert_allclose(lower[:, 1], low, rtol=1e-12)
    assert np.all(high >= fitted) and np.all(low <= fitted)
    # a fit of other data is refused
    other = mr.meta_regression(BCG["yi"], BCG["vi"], x[::-1])
    with pytest.raises(ValueError, match="does not belong"):
        figures.bubble_plot(BCG["yi"], BCG["vi"], x, other, xlabel="x", measure="RR")


@pytest.mark.parametrize("name", ["cumulative", "baujat", "bubble"])
def test_png_smoke(tmp_path, name):
    x = np.asarray(BCG["ablat"], float)
    draw = {
        "cumulative": lambda: figures.cumulative_forest_plot(
            cumulative(BCG["yi"], BCG["vi"], order=BCG["year"]), LABELS, "RR"),
        "baujat": lambda: figures.baujat_plot(baujat(BCG["yi"], BCG["vi"]), LABELS),
        "bubble": lambda: figures.bubble_plot(
            BCG["yi"], BCG["vi"], x, mr.meta_regression(BCG["yi"], BCG["vi"], x),
            xlabel="Absolute latitude", measure="RR"),
    }[name]
    check_saved_figure(draw, tmp_path, name)
