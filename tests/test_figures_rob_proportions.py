"""Risk-of-bias summary bars and the grouped forest plot of single-arm proportions."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.patches import Polygon, Rectangle
from matplotlib.text import Text
from scipy import stats

import metareview as mr
from metareview.report import figures
from metareview.report.figures.style import ROB_COLOURS
from metareview.review.schema import ROB_JUDGEMENTS

from support import check_saved_figure

FIXTURE = Path(__file__).parent / "fixtures" / "review_fixture"

# dat.pritz1997 (metadat): remission after treatment, events / total, split into two
# illustrative groups.
PRITZ_EVENTS = [14, 41, 21, 5, 19, 10, 31, 14, 3, 9, 27, 9]
PRITZ_TOTALS = [20, 50, 31, 8, 34, 15, 40, 23, 5, 14, 45, 20]


def _by_gid(fig, prefix: str) -> list:
    return [a for a in fig.findobj() if (a.get_gid() or "").startswith(prefix)]


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text)]


def _rob() -> pd.DataFrame:
    levels = ["low", "some_concerns", "high", "no_information"]
    rows = []
    for i in range(8):
        for j, domain in enumerate(["D1", "D2", "D3", "D4", "D5", "overall"]):
            rows.append({"study_id": f"S{i}", "tool": "RoB2", "domain": domain,
                         "judgement": levels[(i * j) % 4]})
    for i in range(3):
        for j, domain in enumerate([f"D{d}" for d in range(1, 8)] + ["overall"]):
            rows.append({"study_id": f"N{i}", "tool": "ROBINS-I", "domain": domain,
                         "judgement": ["low", "moderate", "serious", "critical"][(i + j) % 4]})
    return pd.DataFrame(rows)


def test_rob_summary_bars_sum_to_100_percent_per_domain():
    rob = _rob()
    fig = figures.rob_summary_bar(rob)
    bars = [p for p in fig.findobj(Rectangle) if (p.get_gid() or "").startswith("robbar-")]
    totals = defaultdict(float)
    for bar in bars:
        tool, domain, level = bar.get_gid().removeprefix("robbar-").rsplit("-", 2)
        totals[(tool, domain)] += bar.get_width()
        share = (rob[(rob.tool == tool) & (rob.domain == domain)].judgement == level).mean()
        assert bar.get_width() == pytest.approx(100 * share)
        assert to_rgba(bar.get_facecolor()) == to_rgba(ROB_COLOURS[level])
    assert len(totals) == 6 + 8  # RoB 2: D1-D5 and overall; ROBINS-I: D1-D7 and overall
    assert all(total == pytest.approx(100.0) for total in totals.values())
    # stacked in the tool's order of levels: low first
    d1 = sorted((b for b in bars if b.get_gid().startswith("robbar-RoB2-D3-")),
                key=lambda b: b.get_x())
    order = [b.get_gid().rsplit("-", 1)[1] for b in d1]
    assert order == [lv for lv in ("low", "some_concerns", "high", "no_information")
                     if lv in order]
    texts = _texts(fig)
    assert any(t.startswith("RoB 2 (8 studies; each bar") for t in texts)
    assert any(t.startswith("ROBINS-I (3 studies; each bar") for t in texts)
    assert "D1: Bias arising from the randomisation process (n = 8)" in texts
    assert {"Low", "Some concerns", "High", "Moderate", "Serious", "Critical"} <= set(texts)


def test_rob_summary_bars_are_out_of_the_studies_rated_in_each_domain():
    # 29 studies with an overall ROBINS-I judgement, 3 of them rated in D3 (all serious):
    # D3's bar is 100% of its 3 studies, and says n = 3
    rows = [{"study_id": f"S{i}", "tool": "ROBINS-I", "domain": "overall",
             "judgement": "serious" if i % 2 else "moderate"} for i in range(29)]
    rows += [{"study_id": f"S{i}", "tool": "ROBINS-I", "domain": "D3", "judgement": "serious"}
             for i in range(3)]
    fig = figures.rob_summary_bar(pd.DataFrame(rows))
    texts = _texts(fig)
    assert any(t.startswith("D3: ") and t.endswith("(n = 3)") for t in texts)
    assert "Overall (n = 29)" in texts or any(t.endswith("(n = 29)") for t in texts)


def test_each_judgement_of_a_tool_has_its_own_colour():
    for tool in ("RoB2", "ROBINS-I"):
        levels = ROB_JUDGEMENTS[tool]
        assert len({ROB_COLOURS[j] for j in levels}) == len(levels), tool
    assert ROB_COLOURS["some_concerns"] != ROB_COLOURS["moderate"]


def test_rob_summary_from_the_review_fixture_and_empty():
    rob = pd.read_csv(FIXTURE / "risk_of_bias.csv")
    fig = figures.rob_summary_bar(rob)
    bars = _by_gid(fig, "robbar-")
    assert bars and all(0 < b.get_width() <= 100 for b in bars)
    empty = figures.rob_summary_bar(rob.iloc[0:0])
    assert "No risk-of-bias judgements recorded" in _texts(empty)


@pytest.fixture(scope="module")
def pritz():
    rows = pd.DataFrame({"label": [f"Study {i + 1:02d}" for i in range(12)],
                         "events": PRITZ_EVENTS, "total": PRITZ_TOTALS,
                         "disease": ["glioma"] * 5 + ["meningioma"] * 7})
    groups = {}
    for disease, part in rows.groupby("disease"):
        fit = mr.pool_glmm(part["events"], part["total"])
        groups[disease] = dict(pred=fit.pred, pred_ci_low=fit.pred_ci_low,
                               pred_ci_high=fit.pred_ci_high, pi_low=fit.pi_low,
                               pi_high=fit.pi_high, k=fit.k, n=int(part["total"].sum()))
    return rows, groups


def test_proportion_forest_plot(pritz):
    rows, groups = pritz
    fig = figures.proportion_forest_plot(rows, groups, group_column="disease",
                                         title="Remission")
    squares = [a for a in _by_gid(fig, "study-") if not a.get_gid().startswith("study-ci")]
    assert len(squares) == 12
    intervals = {a.get_gid(): list(a.get_xdata()) for a in _by_gid(fig, "study-ci-")}
    for i, (x, n) in enumerate(zip(PRITZ_EVENTS, PRITZ_TOTALS)):
        exact = stats.binomtest(x, n).proportion_ci(method="exact")
        assert intervals[f"study-ci-{i}"] == pytest.approx([100 * exact.low, 100 * exact.high])
        text = f"{100 * x / n:.1f} [{100 * exact.low:.1f}, {100 * exact.high:.1f}]"
        assert text in _texts(fig)
    diamonds = {p.get_gid(): p.get_xy()[:4, 0] for p in fig.findobj(Polygon)
                if (p.get_gid() or "").startswith("pooled-")}
    bars = {a.get_gid(): list(a.get_xdata()) for a in _by_gid(fig, "prediction-")}
    for disease, g in groups.items():
        assert diamonds[f"pooled-{disease}"] == pytest.approx(
            [100 * g["pred_ci_low"], 100 * g["pred"], 100 * g["pred_ci_high"], 100 * g["pred"]])
        assert bars[f"prediction-{disease}"] == pytest.approx([100 * g["pi_low"],
                                                               100 * g["pi_high"]])
        assert f"Pooled (k = {g['k']}, n = {g['n']})" in _texts(fig)
    assert {"glioma", "meningioma", "Events", "Total", "Proportion (%)"} <= set(_texts(fig))
    ax = fig.axes[0]
    assert ax.get_xlim() == (0.0, 100.0)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0%", "25%", "50%", "75%", "100%"]
    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.findobj(Text)
             if t.get_text().strip() and t.get_visible()]
    assert not [1 for p, q in combinations(boxes, 2) if p.x0 < q.x1 - 0.5 and
                q.x0 < p.x1 - 0.5 and p.y0 < q.y1 - 0.5 and q.y0 < p.y1 - 0.5]


def test_proportion_forest_plot_takes_glmm_results_and_needs_columns(pritz):
    rows, _ = pritz
    fits = {d: mr.pool_glmm(p["events"], p["total"]) for d, p in rows.groupby("disease")}
    fig = figures.proportion_forest_plot(rows, fits, group_column="disease")
    assert f"Pooled (k = 5, n = {sum(PRITZ_TOTALS[:5])})" in _texts(fig)
    with pytest.raises(ValueError, match="'events'"):
        figures.proportion_forest_plot(rows.drop(columns="events"), fits,
                                       group_column="disease")


@pytest.mark.parametrize("name", ["rob_summary", "proportions"])
def test_png_smoke(tmp_path, name, pritz):
    rows, groups = pritz
    draw = {"rob_summary": lambda: figures.rob_summary_bar(_rob()),
            "proportions": lambda: figures.proportion_forest_plot(rows, groups,
                                                                  group_column="disease")}[name]
    check_saved_figure(draw, tmp_path, name)
