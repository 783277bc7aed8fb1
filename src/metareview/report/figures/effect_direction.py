"""Effect direction plot (Thomson & Thomas 2013) for a synthesis without meta-analysis.

One row per study, one column per outcome. Each cell holds a triangle pointing up when the
study's effect on that outcome favours the treatment, down when it favours the control, and a
circle when there is no clear difference or the direction cannot be told. The triangle's size
gives the study's sample size in three classes, as in Thomson & Thomas (small n < 50, medium
50-300, large n > 300, by default), and the cell is shaded by the result's overall risk of bias.

The figure is a plain `matplotlib.figure.Figure`, made without pyplot's global state (so it is
rendered by the Agg backend when saved as PNG and never opens a window), laid out in fixed
inches from the number of studies and outcomes, with studies and outcomes in sorted order: the
same table gives the same picture, whatever the order of its rows.

References
----------
Thomson HJ, Thomas S. The effect direction plot: visual display of non-standardised effects
across multiple outcome domains. Res Synth Methods 2013;4(1):95-101. doi:10.1002/jrsm.1084

McKenzie JE, Brennan SE. Chapter 12: Synthesizing and presenting findings using other methods.
In: Cochrane Handbook for Systematic Reviews of Interventions, version 6 (visual display).

Campbell M, McKenzie JE, Sowden A, et al. Synthesis without meta-analysis (SWiM) in systematic
reviews: reporting guideline. BMJ 2020;368:l6890. doi:10.1136/bmj.l6890
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from metareview.report.figures.style import STYLE

REQUIRED_COLUMNS = ("study", "outcome", "direction", "n")


# direction -> (marker, legend text template); the text takes the favoured arm's label
DIRECTION_MARKERS = {
    1: ("^", "Favours {treatment}"),
    -1: ("v", "Favours {control}"),
    0: ("o", "No clear difference or unclear"),
}
MARKER_COLOUR = "#1a1a1a"
# Marker heights in points for the sample-size classes small, medium, large; a circle is drawn
# a little smaller so that it looks as big as a triangle of the same class.
MARKER_SIZES = (6.0, 9.0, 12.0)
CIRCLE_SCALE = 0.8

# Overall risk-of-bias judgement -> (cell shade, legend text). Light tints of the traffic-light
# colours of the risk-of-bias figure, light enough for the black markers to stay readable.
# RoB 2 levels first, then the ROBINS-I levels, in the order the legend lists them.
ROB_SHADES = {
    "low": ("#b7e1a1", "Low"),
    "some_concerns": ("#fdeca6", "Some concerns"),
    "moderate": ("#fdeca6", "Moderate"),
    "high": ("#f4a6a0", "High"),
    "serious": ("#f4a6a0", "Serious"),
    "critical": ("#d07070", "Critical"),
    "no_information": ("#d9d9d9", "No information"),
}
EMPTY_CELL = "#ffffff"
GRID_COLOUR = "#c8c8c8"

# Layout in inches.
CELL_WIDTH = 0.95
CELL_HEIGHT = 0.4
LEGEND_WIDTH = 2.3
LABEL_CHAR_WIDTH = 0.065
LEGEND_ROW_HEIGHT = 0.17
OUTCOME_WRAP = 14


def _rob_key(value) -> str | None:
    """'Some concerns', 'some-concerns', 'some_concerns' -> 'some_concerns'; empty -> None."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip().lower().replace("-", " ").replace("_", " ")
    if not text:
        return None
    return "_".join(text.split())


def _shown(value) -> str:
    """A cell's value for an error message: text quoted, numbers plain."""
    return repr(value) if isinstance(value, str) else str(value)


def _checked_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table's columns checked and normalised: study/outcome as text, direction as int."""
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(
            f"table lacks the column(s) {missing}; it needs {list(REQUIRED_COLUMNS)} "
            "and optionally 'rob'"
        )
    if len(table) == 0:
        raise ValueError("table has no rows: nothing to plot")
    for column in ("study", "outcome"):
        empty = table[column].isna() | (table[column].astype(str).str.strip() == "")
        if empty.any():
            raise ValueError(f"row {int(np.flatnonzero(empty)[0])}: {column} is empty")
    out = pd.DataFrame({
        "study": table["study"].astype(str).to_numpy(),
        "outcome": table["outcome"].astype(str).to_numpy(),
    })
    direction = pd.to_numeric(table["direction"], errors="coerce").to_numpy(dtype=float)
    for row, value in enumerate(direction):
        if np.isnan(value) or value not in DIRECTION_MARKERS:
            raise ValueError(
                f"row {row}: direction is {_shown(table['direction'].iloc[row])}; it must be +1 "
                "(favours treatment), -1 (favours control) or 0 (no clear difference)"
            )
    out["direction"] = direction.astype(int)
    n = pd.to_numeric(table["n"], errors="coerce").to_numpy(dtype=float)
    for row, value in enumerate(n):
        raw = table["n"].iloc[row]
        if np.isnan(value) and not pd.isna(raw):
            raise ValueError(f"row {row}: n is {_shown(raw)}, not a number")
        if not np.isnan(value) and not (np.isfinite(value) and value > 0):
            raise ValueError(f"row {row}: n is {value:g}; a sample size must be positive")
    out["n"] = n
    rob = [_rob_key(v) for v in table["rob"]] if "rob" in table.columns else [None] * len(out)
    for row, key in enumerate(rob):
        if key is not None and key not in ROB_SHADES:
            raise ValueError(
                f"row {row}: rob is {_shown(table['rob'].iloc[row])}; use one of "
                f"{[label for _, label in ROB_SHADES.values()]} or leave it empty"
            )
    out["rob"] = pd.Series(rob, dtype=object, index=out.index)
    duplicated = out.duplicated(["study", "outcome"], keep=False)
    if duplicated.any():
        pairs = sorted(set(zip(out.loc[duplicated, "study"], out.loc[duplicated, "outcome"])))
        raise ValueError(
            f"more than one row for (study, outcome) {pairs}: an effect direction plot has one "
            "direction per cell; choose the primary result of each study for each outcome"
        )
    return out


def _size_class(n: float, size_breaks: tuple[float, float]) -> int | None:
    """0 small, 1 medium, 2 large (Thomson & Thomas: < 50, 50-300, > 300); None if n unknown."""
    if np.isnan(n):
        return None
    low, high = size_breaks
    if n < low:
        return 0
    return 1 if n <= high else 2


def _size_labels(size_breaks: tuple[float, float]) -> list[str]:
    low, high = size_breaks
    return [f"n < {low:g}", f"n {low:g}–{high:g}", f"n > {high:g}"]


def effect_direction_plot(
    table: pd.DataFrame,
    *,
    outcomes: Sequence[str] | None = None,
    size_breaks: tuple[float, float] = (50, 300),
    favours: tuple[str, str] = ("treatment", "control"),
    title: str | None = None,
) -> Figure:
    """Effect direction plot: studies (rows) × outcomes (columns), one marker per result.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy, one row per study and outcome, with the columns ``study``, ``outcome``,
        ``direction`` (+1 favours the treatment, -1 favours the control, 0 no clear difference
        or unclear), ``n`` (sample size analysed for that result; may be empty) and, optionally,
        ``rob`` (overall risk of bias of the result: "low", "some concerns", "high",
        "no information", or the ROBINS-I levels "moderate", "serious", "critical"; may be
        empty).
    outcomes : sequence of str, optional
        Column order; by default the outcomes sorted by name. Must name every outcome in the
        table.
    size_breaks : (float, float)
        Sample sizes separating the small, medium and large markers: n < low is small,
        low <= n <= high medium, n > high large (default (50, 300), as Thomson & Thomas).
    favours : (str, str)
        Names of the treatment and the control for the legend ("Favours <name>").
    title : str, optional
        Title drawn above the plot.

    Returns
    -------
    matplotlib.figure.Figure
        Markers are `Line2D` artists with gid ``"direction-<study>-<outcome>"`` (marker "^"
        up, "v" down, "o" no clear difference); shaded cells are `Rectangle` patches with gid
        ``"rob-<study>-<outcome>"``.

    Raises
    ------
    ValueError
        If a column is missing; the table is empty; a direction is not -1, 0 or +1; n is not
        positive; rob is not a known level; a (study, outcome) pair appears twice; `outcomes`
        misses an outcome of the table or lists one twice; `size_breaks` is not increasing.

    Notes
    -----
    Up means "favours the treatment" whatever the scale of the outcome (for an outcome where
    lower is better, a decrease that favours the treatment points up). A marker with n not
    reported is drawn small and hollow. Rows are sorted by study name; a study without a result
    for an outcome leaves its cell empty.

    References
    ----------
    Thomson HJ, Thomas S. Res Synth Methods 2013;4(1):95-101. doi:10.1002/jrsm.1084
    """
    data = _checked_table(table)
    low, high = (float(b) for b in size_breaks)
    if not 0 < low < high:
        raise ValueError(f"size_breaks must be two increasing positive numbers, got {size_breaks}")
    studies = sorted(data["study"].unique())
    present = sorted(data["outcome"].unique())
    if outcomes is None:
        columns = present
    else:
        columns = [str(o) for o in outcomes]
        if len(set(columns)) != len(columns):
            raise ValueError(f"outcomes lists an outcome twice: {columns}")
        unlisted = sorted(set(present) - set(columns))
        if unlisted:
            raise ValueError(f"outcomes does not list {unlisted}, which the table holds")
    row_of = {study: i for i, study in enumerate(studies)}
    col_of = {outcome: j for j, outcome in enumerate(columns)}

    wrapped = [textwrap.fill(o, OUTCOME_WRAP) for o in columns]
    header_lines = max(label.count("\n") + 1 for label in wrapped)
    left = 0.3 + LABEL_CHAR_WIDTH * max(len(s) for s in studies)
    top = 0.25 + 0.17 * header_lines + (0.35 if title else 0.0)
    grid_w, grid_h = CELL_WIDTH * len(columns), CELL_HEIGHT * len(studies)
    any_unknown_n = bool(data["n"].isna().any())
    rob_levels = [key for key in ROB_SHADES if key in set(data["rob"])]
    legend_rows = 8 + any_unknown_n + (1 + len(rob_levels) if rob_levels else 0)
    width = left + grid_w + 0.3 + LEGEND_WIDTH
    height = top + max(grid_h, LEGEND_ROW_HEIGHT * legend_rows) + 0.3

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width, height))
        ax = fig.add_axes([left / width, (height - top - grid_h) / height,
                           grid_w / width, grid_h / height])
        for i in range(len(studies)):
            for j in range(len(columns)):
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=EMPTY_CELL,
                                       edgecolor=GRID_COLOUR, lw=0.6, zorder=0, clip_on=False))
        for row in data.sort_values(["study", "outcome"]).itertuples(index=False):
            i, j = row_of[row.study], col_of[row.outcome]
            if isinstance(row.rob, str):
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1,
                                       facecolor=ROB_SHADES[row.rob][0], edgecolor=GRID_COLOUR,
                                       lw=0.6, zorder=1, clip_on=False,
                                       gid=f"rob-{row.study}-{row.outcome}"))
            marker = DIRECTION_MARKERS[row.direction][0]
            size_class = _size_class(row.n, (low, high))
            size = MARKER_SIZES[0 if size_class is None else size_class]
            if marker == "o":
                size *= CIRCLE_SCALE
            ax.plot([j], [i], linestyle="none", marker=marker, markersize=size,
                    markerfacecolor="none" if size_class is None else MARKER_COLOUR,
                    markeredgecolor=MARKER_COLOUR, markeredgewidth=0.9, zorder=3,
                    gid=f"direction-{row.study}-{row.outcome}")
        ax.set_xlim(-0.5, len(columns) - 0.5)
        ax.set_ylim(len(studies) - 0.5, -0.5)
        ax.set_xticks(range(len(columns)))
        ax.set_xticklabels(wrapped, fontsize=8)
        ax.xaxis.tick_top()
        ax.set_yticks(range(len(studies)))
        ax.set_yticklabels(studies, fontsize=8)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        if title:
            fig.text(0.3 / width, 1 - 0.2 / height, title, ha="left", va="top",
                     fontweight="bold", fontsize=10)
        _legend(fig, favours, (low, high), any_unknown_n, rob_levels,
                anchor=((left + grid_w + 0.3) / width, 1 - top / height))
    return fig


def _legend(fig: Figure, favours: tuple[str, str], size_breaks: tuple[float, float],
            any_unknown_n: bool, rob_levels: list[str], anchor: tuple[float, float]) -> None:
    """One legend in three parts: direction, sample size, risk of bias (levels present)."""
    treatment, control = favours
    handles: list = []
    headers: list[int] = []

    def header(text: str) -> None:
        headers.append(len(handles))
        handles.append(Line2D([], [], linestyle="none", label=text))

    header("Direction of effect")
    for direction in (1, -1, 0):
        marker, text = DIRECTION_MARKERS[direction]
        size = MARKER_SIZES[1] * (CIRCLE_SCALE if marker == "o" else 1.0)
        handles.append(Line2D([], [], linestyle="none", marker=marker, markersize=size,
                              color=MARKER_COLOUR,
                              label=text.format(treatment=treatment, control=control)))
    header("Sample size")
    for size, text in zip(MARKER_SIZES, _size_labels(size_breaks)):
        handles.append(Line2D([], [], linestyle="none", marker="^", markersize=size,
                              color=MARKER_COLOUR, label=text))
    if any_unknown_n:
        handles.append(Line2D([], [], linestyle="none", marker="^", markersize=MARKER_SIZES[0],
                              markerfacecolor="none", markeredgecolor=MARKER_COLOUR,
                              label="n not reported"))
    if rob_levels:
        header("Risk of bias (overall)")
        for key in rob_levels:
            shade, text = ROB_SHADES[key]
            handles.append(Patch(facecolor=shade, edgecolor=GRID_COLOUR, label=text))
    legend = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=anchor,
                        frameon=False, fontsize=7.5, handlelength=1.6, borderaxespad=0.0)
    for index in headers:
        legend.get_texts()[index].set_fontweight("bold")
