"""The effect direction plot fits a page: wrapped outcome labels, panels when the outcomes do
not fit side by side, the review's labels, and before–after results of single groups drawn
apart from comparisons with a control (and the input table that prefers the comparisons)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text
from PIL import Image

from metareview.report import swim
from metareview.report.figures import effect_direction as ed
from metareview.report.figures.style import PNG_DPI
from metareview.report.figures import save_figure
from metareview.report.figures.layout import text_width
from metareview.report.figures.style import alt_text

# Outcome labels of the acne-scar review (26 outcomes with a direction), long and short.
LABELS = [
    "Collagen density", "Dermal thickness", "ECCA score", "Erythema", "Number of fine pores",
    "Goodman-Baron quantitative score", "Healing time",
    "Responders, investigator/evaluator-rated improvement", "Physician-rated improvement",
    "Responders, independent photographic reviewer", "Number of large pores",
    "Responders, patient-rated improvement", "Patient-reported outcome, instrument not named",
    "Physician satisfaction score", "Skin pore volume, percent reduction",
    "Procollagen type I gene expression", "Patient satisfaction score", "Scar area",
    "Scar area, percent improvement", "Scar volume", "Scar volume, percent improvement",
    "Skin elasticity", "Skin hydration", "Complete skin thickness", "Number of skin spots",
    "Transepidermal water loss",
]


@pytest.fixture(scope="module")
def wide() -> pd.DataFrame:
    """14 studies × 26 outcomes: outcome o has a result from study o mod 14, and each study
    one more result on an outcome drawn at random."""
    rng = np.random.default_rng(20)
    pairs = {(o % 14, o) for o in range(len(LABELS))}
    pairs |= {(s, int(rng.integers(len(LABELS)))) for s in range(14)}
    rows = [{"study": f"S{s:02d}", "outcome": f"o{o:02d}",
             "direction": int(rng.choice([1, 1, 0, -1])), "n": 20 + 15 * s,
             "rob": "some concerns"} for s, o in sorted(pairs)]
    return pd.DataFrame(rows)


def _flat(text: str) -> str:
    """A label or a wrapped header without its spaces and line breaks, to compare them."""
    return "".join(text.split())


def _outcome_ids():
    return [f"o{i:02d}" for i in range(len(LABELS))]


def _draw(table, **options):
    return ed.effect_direction_plot(
        table, outcomes=[o for o in _outcome_ids() if o in set(table["outcome"])],
        outcome_labels=dict(zip(_outcome_ids(), LABELS)), **options)


def test_a_wide_plot_is_split_into_panels_that_fit_the_page(wide, tmp_path):
    fig = _draw(wide)
    assert len(wide["outcome"].unique()) == 26
    assert fig.get_figwidth() <= ed.MAX_WIDTH + 1e-9
    assert len(fig.axes) >= 2  # 26 columns never fit in 9.4 inches
    # every outcome is a column of exactly one panel, in the given order, by its label
    headers = [t.get_text() for ax in fig.axes for t in ax.get_xticklabels()]
    wanted = [LABELS[int(o[1:])] for o in sorted(wide["outcome"].unique())]
    assert [_flat(h) for h in headers] == [_flat(w) for w in wanted]
    # the saved PNG is at most 9.4 inches wide (at 300 dpi it was 8,438 pixels, 28 inches)
    png, _ = save_figure(fig, tmp_path / "effect_direction")
    with Image.open(png) as image:
        assert image.size[0] <= ed.MAX_WIDTH * PNG_DPI


def test_headers_wrap_between_words_and_fit_their_columns():
    for label in LABELS:
        width, lines = ed.header_lines(label)
        assert ed.MIN_COLUMN <= width <= ed.MAX_COLUMN
        assert len(lines) <= ed.HEADER_MAX_LINES
        assert all(text_width(line, size=ed.HEADER_SIZE) <= width - ed.COLUMN_PAD
                   for line in lines), label
        # no word is cut inside: joined again, the lines give the label back (a long word is
        # cut only after its own "/" or "-")
        assert _flat("".join(lines)) == _flat(label)
        assert all(_flat(line) in _flat(label) for line in lines)
    # a word wider than any column is cut after its own "/", not inside "evaluator"
    width, lines = ed.header_lines("Responders, investigator/evaluator-rated improvement")
    assert width == ed.MAX_COLUMN
    assert "investigator/" in lines and any(line.startswith("evaluator") for line in lines)


def test_no_two_texts_of_a_panel_plot_overlap(wide):
    fig = _draw(wide)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # legends place their texts when drawn
    renderer = canvas.get_renderer()
    # Text artists only: a legend also wraps each of its texts in a TextArea box
    texts = [t for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    clashes = [(a, b) for (a, box_a), (b, box_b) in combinations(boxes, 2)
               if box_a.x0 < box_b.x1 - 0.5 and box_b.x0 < box_a.x1 - 0.5
               and box_a.y0 < box_b.y1 - 0.5 and box_b.y0 < box_a.y1 - 0.5]
    assert not clashes, clashes[:5]
    # every text lies inside the figure
    width, height = fig.get_figwidth() * fig.dpi, fig.get_figheight() * fig.dpi
    assert all(box.x0 >= -0.5 and box.x1 <= width + 0.5 and box.y0 >= -0.5
               and box.y1 <= height + 0.5 for _, box in boxes)


def test_each_panel_lists_the_studies_with_a_result_in_its_outcomes(wide):
    fig = _draw(wide, study_labels={f"S{s:02d}": f"Author{s} 20{10 + s}" for s in range(14)})
    names = {f"Author{s} 20{10 + s}": f"S{s:02d}" for s in range(14)}
    by_label = dict(zip(LABELS, _outcome_ids()))
    for ax in fig.axes:
        by_flat = {_flat(label): o for label, o in by_label.items()}
        outcomes = {by_flat[_flat(t.get_text())] for t in ax.get_xticklabels()}
        studies = [names[t.get_text()] for t in ax.get_yticklabels()]
        expected = sorted(set(wide.loc[wide["outcome"].isin(outcomes), "study"]),
                          key=lambda s: [k for k, v in names.items() if v == s][0])
        assert studies == expected


def test_before_after_results_have_their_own_markers_and_legend():
    table = pd.DataFrame({
        "study": ["Trial 2020", "Series 2018", "Series 2018", "Cohort 2019"],
        "outcome": ["sledai", "sledai", "c3", "c3"],
        "direction": [1, 1, -1, 0],
        "n": [40, 12, 12, np.nan],
        "kind": ["between groups", "before-after", "before–after", "before-after"],
    })
    fig = ed.effect_direction_plot(table, favours=("MSC therapy", "control"))
    markers = {line.get_gid(): line.get_marker() for ax in fig.axes for line in ax.lines}
    assert markers["direction-Trial 2020-sledai"] == "^"
    assert markers["direction-Series 2018-sledai"] is ed.ARROW_UP
    assert markers["direction-Series 2018-c3"] is ed.ARROW_DOWN
    assert markers["direction-Cohort 2019-c3"] == "D"
    sections = {legend.get_title().get_text(): [t.get_text() for t in legend.get_texts()]
                for legend in fig.legends}
    assert sections["Between groups"] == ["Favours MSC therapy", "Favours control",
                                          "No clear difference or unclear"]
    assert sections["Before–after, no control"] == ["Improved from baseline",
                                                    "Worse than baseline", "No clear change"]
    text = alt_text(fig)
    assert "Between groups: 1 favour MSC therapy, 0 favour control" in text
    assert ("Before–after results of single groups (no control): 1 improved from baseline, "
            "1 worse, 1 no clear change") in text


def test_only_between_group_results_keep_the_plain_legend_heading():
    table = pd.DataFrame({"study": ["A"], "outcome": ["x"], "direction": [1], "n": [10]})
    fig = ed.effect_direction_plot(table)
    titles = [legend.get_title().get_text() for legend in fig.legends]
    assert titles[0] == "Direction of effect" and "Before–after, no control" not in titles
    with pytest.raises(ValueError, match=r"row 0: kind is 'pre'"):
        ed.effect_direction_plot(table.assign(kind=["pre"]))


def test_direction_table_shows_a_comparison_rather_than_a_before_after_result():
    results = pd.DataFrame({
        "outcome": ["sledai", "sledai", "sledai", "c3"],
        "kind": [swim.BEFORE_AFTER, swim.BETWEEN_GROUPS, swim.BEFORE_AFTER, swim.BEFORE_AFTER],
        "study_id": ["Deng", "Deng", "Li", "Deng"],
        "direction": [1, -1, 1, 1],
        "n": [60, 18, 20, 60],
    })
    rob = pd.DataFrame({"study_id": ["Deng"], "domain": ["overall"],
                        "judgement": ["some_concerns"]})
    table = swim.direction_table(results, rob).set_index(["study", "outcome"])
    # Deng's comparison with its control (-1, n = 18) wins over its before-after change
    assert table.loc[("Deng", "sledai"), ["direction", "n", "kind"]].tolist() == [
        -1, 18, swim.BETWEEN_GROUPS]
    assert table.loc[("Li", "sledai"), "kind"] == swim.BEFORE_AFTER
    assert table.loc[("Deng", "c3"), "kind"] == swim.BEFORE_AFTER
    assert table.loc[("Deng", "c3"), "rob"] == "some_concerns"
