"""Effect direction plot (Thomson & Thomas 2013) for a synthesis without meta-analysis.

One row per study, one column per outcome. Each cell holds a triangle pointing up when the
study's effect on that outcome favours the treatment, down when it favours the control, and a
circle when there is no clear difference or the direction cannot be told. The triangle's size
gives the study's sample size in three classes, as in Thomson & Thomas (small n < 50, medium
50-300, large n > 300, by default), and the cell is shaded by the result's overall risk of bias.

A result of a single group measured before and after the treatment (a single-arm study, or a
pre-post comparison) is not a comparison with a control: it is drawn with its own markers, an
arrow up (improved from baseline), an arrow down (worse than baseline) or a diamond (no clear
change), under its own legend heading "Before–after, no control".

The figure fits a page at full resolution: at most `max_width` inches wide (9.4 by default,
about 900 pixels on screen), the outcomes as columns headed by their labels wrapped at word
boundaries, and split into panels stacked one under the other when they do not fit side by
side; each panel lists the studies with a result in its outcomes. It is a plain
`matplotlib.figure.Figure`, made without pyplot's global state (so it is rendered by the Agg
backend when saved as PNG and never opens a window), laid out in fixed inches, with studies
sorted by label and outcomes in the given order: the same table gives the same picture,
whatever the order of its rows.

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

import math
import re
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.path import Path

from metareview.report.figures.layout import text_width
from metareview.report.figures.style import STYLE, set_alt_text
from metareview.report.text import plural

REQUIRED_COLUMNS = ("study", "outcome", "direction", "n")
BETWEEN_GROUPS = "between groups"
BEFORE_AFTER = "before-after"


def _arrow(up: bool) -> Path:
    """A filled arrow, shaft and head, as a marker path (matplotlib scales it to the marker
    size: its largest coordinate, 0.5, becomes half the marker's height)."""
    points = [(-0.17, -0.5), (0.17, -0.5), (0.17, 0.02), (0.45, 0.02), (0.0, 0.5),
              (-0.45, 0.02), (-0.17, 0.02), (-0.17, -0.5)]
    sign = 1 if up else -1
    vertices = [(x, sign * y) for x, y in points]
    codes = [Path.MOVETO] + [Path.LINETO] * (len(vertices) - 2) + [Path.CLOSEPOLY]
    return Path(vertices, codes)


ARROW_UP = _arrow(True)
ARROW_DOWN = _arrow(False)

# kind -> direction -> (marker, legend text); the between-groups text takes the arms' labels
DIRECTION_MARKERS = {
    1: ("^", "Favours {treatment}"),
    -1: ("v", "Favours {control}"),
    0: ("o", "No clear difference or unclear"),
}
BEFORE_AFTER_MARKERS = {
    1: (ARROW_UP, "Improved from baseline"),
    -1: (ARROW_DOWN, "Worse than baseline"),
    0: ("D", "No clear change"),
}
MARKERS = {BETWEEN_GROUPS: DIRECTION_MARKERS, BEFORE_AFTER: BEFORE_AFTER_MARKERS}
MARKER_COLOUR = "#1a1a1a"
# Marker heights in points for the sample-size classes small, medium, large; a circle or a
# diamond is drawn a little smaller so that it looks as big as a triangle of the same class.
MARKER_SIZES = (6.0, 9.0, 12.0)
ROUND_SCALE = {"o": 0.8, "D": 0.7}
ARROW_SCALE = 1.25  # an arrow is slimmer than a triangle: drawn taller to weigh the same

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

# Layout in inches (fonts in points).
MAX_WIDTH = 9.4  # ~900 px at 96 px per inch: a report page shows it at full size
MARGIN = 0.15
ROW_HEIGHT = 0.32
MIN_COLUMN = 0.7
MAX_COLUMN = 1.35
COLUMN_PAD = 0.1
HEADER_SIZE = 8.0
HEADER_LINE = 0.145
HEADER_MAX_LINES = 4
LABEL_SIZE = 8.5
PANEL_GAP = 0.3
TITLE_HEIGHT = 0.35
LEGEND_SIZE = 8.0
LEGEND_ROW = 0.185
LEGEND_HANDLE = 0.42  # handle and the gap to its text
LEGEND_GAP = 0.3


def _rob_key(value) -> str | None:
    """'Some concerns', 'some-concerns', 'some_concerns' -> 'some_concerns'; empty -> None."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip().lower().replace("-", " ").replace("_", " ")
    if not text:
        return None
    return "_".join(text.split())


def _kind_key(value) -> str | None:
    """'between groups' or 'before-after' (also 'before–after', 'Before after'); None if
    unknown; an empty value is a comparison between groups."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return BETWEEN_GROUPS
    text = " ".join(str(value).strip().lower().replace("–", " ").replace("-", " ").split())
    return {"": BETWEEN_GROUPS, "between groups": BETWEEN_GROUPS,
            "before after": BEFORE_AFTER}.get(text)


def _shown(value) -> str:
    """A cell's value for an error message: text quoted, numbers plain."""
    return repr(value) if isinstance(value, str) else str(value)


def _checked_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table's columns checked and normalised: study/outcome as text, direction as int,
    kind as BETWEEN_GROUPS or BEFORE_AFTER."""
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(
            f"table lacks the column(s) {missing}; it needs {list(REQUIRED_COLUMNS)} "
            "and optionally 'rob' and 'kind'"
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
    kinds = ([_kind_key(v) for v in table["kind"]] if "kind" in table.columns
             else [BETWEEN_GROUPS] * len(out))
    for row, key in enumerate(kinds):
        if key is None:
            raise ValueError(f"row {row}: kind is {_shown(table['kind'].iloc[row])}; use "
                             f"{BETWEEN_GROUPS!r} or {BEFORE_AFTER!r}")
    out["kind"] = kinds
    duplicated = out.duplicated(["study", "outcome"], keep=False)
    if duplicated.any():
        pairs = sorted(set(zip(out.loc[duplicated, "study"], out.loc[duplicated, "outcome"])))
        raise ValueError(
            f"more than one row for (study, outcome) {pairs}: an effect direction plot has one "
            "direction per cell; choose the primary result of each study for each outcome"
        )
    return out


def _scale(marker) -> float:
    """Size factor of a marker, so that markers of one size class look equally big."""
    return ROUND_SCALE.get(marker, 1.0) if isinstance(marker, str) else ARROW_SCALE


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


def _pieces(label: str, inner: float) -> list[tuple[str, str]]:
    """The label as (glue, piece) pairs to wrap: words joined by a space, and a word wider than
    `inner` cut after its "/" and "-" (joined without a space), then, only if a part is still
    too wide, into letters that fit with a hyphen added."""
    pieces = []
    for word in label.split():
        glue = " "
        if text_width(word, size=HEADER_SIZE) <= inner:
            pieces.append((glue, word))
            continue
        for part in re.findall(r"[^/-]+[/-]?|[/-]", word):
            if text_width(part, size=HEADER_SIZE) <= inner:
                pieces.append((glue, part))
            else:
                current = ""
                for char in part:
                    if current and text_width(current + char + "-", size=HEADER_SIZE) > inner:
                        pieces.append((glue, current + "-"))
                        glue, current = "", char
                    else:
                        current += char
                pieces.append((glue, current))
            glue = ""
    return pieces


def _wrap(pieces: list[tuple[str, str]], inner: float) -> list[str]:
    lines, current = [], ""
    for glue, piece in pieces:
        candidate = current + (glue if current else "") + piece
        if current and text_width(candidate, size=HEADER_SIZE) > inner:
            lines.append(current)
            current = piece
        else:
            current = candidate
    return lines + [current]


def header_lines(label: str) -> tuple[float, list[str]]:
    """(column width in inches, header lines) of an outcome label.

    The column is as wide as the label's longest word (at least MIN_COLUMN) and widened, up to
    MAX_COLUMN, until the label wraps into at most HEADER_MAX_LINES lines. The label is wrapped
    at spaces; a word wider than MAX_COLUMN is cut after a "/" or "-" it holds, and only
    failing that inside a word (with a hyphen)."""
    words = label.split()
    longest = max((text_width(w, size=HEADER_SIZE) for w in words), default=0.0)
    width = min(MAX_COLUMN, max(MIN_COLUMN, longest + COLUMN_PAD))
    while True:
        lines = _wrap(_pieces(label, width - COLUMN_PAD), width - COLUMN_PAD)
        if len(lines) <= HEADER_MAX_LINES or width >= MAX_COLUMN:
            return width, lines
        width = min(MAX_COLUMN, width + 0.05)


def _panels(widths: list[float], available: float) -> list[list[int]]:
    """Columns split into consecutive panels no wider than `available`, as few panels as
    possible and as even in their number of columns as the widths allow."""
    n = len(widths)
    for count in range(1, n + 1):
        size = math.ceil(n / count)
        groups = [list(range(i, min(i + size, n))) for i in range(0, n, size)]
        if all(sum(widths[j] for j in g) <= available for g in groups) or size == 1:
            return groups
    return [[j] for j in range(n)]


def effect_direction_plot(
    table: pd.DataFrame,
    *,
    outcomes: Sequence[str] | None = None,
    outcome_labels: dict | None = None,
    study_labels: dict | None = None,
    size_breaks: tuple[float, float] = (50, 300),
    favours: tuple[str, str] = ("treatment", "control"),
    title: str | None = None,
    max_width: float = MAX_WIDTH,
) -> Figure:
    """Effect direction plot: studies (rows) × outcomes (columns), one marker per result.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy, one row per study and outcome, with the columns ``study``, ``outcome``,
        ``direction`` (+1 favours the treatment, -1 favours the control, 0 no clear difference
        or unclear), ``n`` (sample size analysed for that result; may be empty) and,
        optionally, ``rob`` (overall risk of bias of the result: "low", "some concerns",
        "high", "no information", or the ROBINS-I levels "moderate", "serious", "critical";
        may be empty) and ``kind`` ("between groups", the default, or "before-after" for a
        change within a single group, where +1 means improved from baseline).
    outcomes : sequence of str, optional
        Column order; by default the outcomes sorted by name. Must name every outcome in the
        table.
    outcome_labels, study_labels : dict, optional
        Outcome (study) id → the label printed for it; an id not in it is printed as it is.
    size_breaks : (float, float)
        Sample sizes separating the small, medium and large markers: n < low is small,
        low <= n <= high medium, n > high large (default (50, 300), as Thomson & Thomas).
    favours : (str, str)
        Names of the treatment and the control for the legend ("Favours <name>").
    title : str, optional
        Title drawn above the plot.
    max_width : float
        Widest the figure may be, in inches; the outcomes are split into panels to fit.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per panel. Markers are `Line2D` artists with gid
        ``"direction-<study>-<outcome>"`` (between groups: "^" up, "v" down, "o" no clear
        difference; before-after: `ARROW_UP`, `ARROW_DOWN`, "D"); shaded cells are `Rectangle`
        patches with gid ``"rob-<study>-<outcome>"``. The alternative text counts the results
        of each kind by direction.

    Raises
    ------
    ValueError
        If a column is missing; the table is empty; a direction is not -1, 0 or +1; n is not
        positive; rob or kind is not a known level; a (study, outcome) pair appears twice;
        `outcomes` misses an outcome of the table or lists one twice; `size_breaks` is not
        increasing.

    Notes
    -----
    Up means "favours the treatment" (before-after: "improved") whatever the scale of the
    outcome (for an outcome where lower is better, a decrease that favours the treatment
    points up). A marker with n not reported is drawn small and hollow. Rows are sorted by
    study label; a study without a result for an outcome leaves its cell empty; a panel lists
    only the studies with a result in one of its outcomes (all studies when none has).

    References
    ----------
    Thomson HJ, Thomas S. Res Synth Methods 2013;4(1):95-101. doi:10.1002/jrsm.1084
    """
    data = _checked_table(table)
    low, high = (float(b) for b in size_breaks)
    if not 0 < low < high:
        raise ValueError(f"size_breaks must be two increasing positive numbers, got {size_breaks}")
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
    outcome_names = {str(k): str(v) for k, v in (outcome_labels or {}).items()}
    study_names = {str(k): str(v) for k, v in (study_labels or {}).items()}
    name_of = {s: study_names.get(s, s) for s in data["study"].unique()}
    studies = sorted(name_of, key=lambda s: (name_of[s], s))

    label_width = max(text_width(name_of[s], size=LABEL_SIZE) for s in studies) + 0.12
    headers = [header_lines(outcome_names.get(c, c)) for c in columns]
    widths = [w for w, _ in headers]
    available = max(max_width - 2 * MARGIN - label_width, max(widths))
    groups = _panels(widths, available)
    cells = {(r.study, r.outcome): r for r in data.itertuples(index=False)}
    panels = []
    for group in groups:
        outcomes_here = [columns[j] for j in group]
        rows = [s for s in studies if any((s, o) in cells for o in outcomes_here)] or studies
        lines = max(len(headers[j][1]) for j in group)
        panels.append((group, rows, lines))

    any_unknown_n = bool(data["n"].isna().any())
    kinds = [k for k in (BETWEEN_GROUPS, BEFORE_AFTER) if k in set(data["kind"])]
    rob_levels = [key for key in ROB_SHADES if key in set(data["rob"])]
    sections = _legend_sections(favours, (low, high), any_unknown_n, kinds, rob_levels)
    grid_width = max(label_width + sum(widths[j] for j in g) for g, _, _ in panels)
    section_widths = [LEGEND_HANDLE + max(text_width(t, bold=(i == 0), size=LEGEND_SIZE)
                                          for i, t in enumerate([h] + [x.get_label()
                                                                       for x in items]))
                      for h, items in sections]
    width = max(grid_width, min(max_width - 2 * MARGIN,
                                sum(section_widths) + LEGEND_GAP * (len(sections) - 1)))
    width = max(width, max(section_widths)) + 2 * MARGIN
    legend_rows = _legend_layout(section_widths, width - 2 * MARGIN)
    legend_height = sum(max(len(sections[i][1]) + 1 for i in row) * LEGEND_ROW + 0.15
                        for row in legend_rows)
    panel_heights = [0.1 + HEADER_LINE * lines + ROW_HEIGHT * len(rows)
                     for _, rows, lines in panels]
    height = (2 * MARGIN + (TITLE_HEIGHT if title else 0.0) + sum(panel_heights)
              + PANEL_GAP * len(panels) + legend_height)

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width, height))
        top = height - MARGIN - (TITLE_HEIGHT if title else 0.0)
        for (group, rows, lines), panel_height in zip(panels, panel_heights):
            grid_h = ROW_HEIGHT * len(rows)
            panel_w = sum(widths[j] for j in group)
            bottom = top - panel_height
            ax = fig.add_axes([(MARGIN + label_width) / width, bottom / height,
                               panel_w / width, grid_h / height])
            _draw_panel(ax, group, rows, columns, widths, headers, cells, name_of, (low, high))
            top = bottom - PANEL_GAP
        if title:
            fig.text(MARGIN / width, 1 - MARGIN / height, title, ha="left", va="top",
                     fontweight="bold", fontsize=10)
        y = top + PANEL_GAP - 0.15
        for row in legend_rows:
            x = MARGIN
            for i in row:
                header, items = sections[i]
                legend = fig.legend(handles=items, loc="upper left", title=header,
                                    bbox_to_anchor=(x / width, y / height), frameon=False,
                                    fontsize=LEGEND_SIZE, title_fontsize=LEGEND_SIZE,
                                    handlelength=1.6, borderaxespad=0.0, borderpad=0.0,
                                    alignment="left")
                legend.get_title().set_fontweight("bold")
                x += section_widths[i] + LEGEND_GAP
            y -= max(len(sections[i][1]) + 1 for i in row) * LEGEND_ROW + 0.15
    return set_alt_text(fig, _alt_text(data, favours, len(panels), title))


def _draw_panel(ax, group, rows, columns, widths, headers, cells, name_of, size_breaks):
    """One panel: its grid of cells (x in inches from the panel's left edge, one row per
    study), the risk-of-bias shades, the markers and the wrapped headers."""
    lefts = np.concatenate([[0.0], np.cumsum([widths[j] for j in group])])
    centres = []
    for position, j in enumerate(group):
        x0, w = lefts[position], widths[j]
        centres.append(x0 + w / 2)
        for i, study in enumerate(rows):
            ax.add_patch(Rectangle((x0, i - 0.5), w, 1, facecolor=EMPTY_CELL,
                                   edgecolor=GRID_COLOUR, lw=0.6, zorder=0, clip_on=False))
            row = cells.get((study, columns[j]))
            if row is None:
                continue
            if isinstance(row.rob, str):
                ax.add_patch(Rectangle((x0, i - 0.5), w, 1, facecolor=ROB_SHADES[row.rob][0],
                                       edgecolor=GRID_COLOUR, lw=0.6, zorder=1, clip_on=False,
                                       gid=f"rob-{row.study}-{row.outcome}"))
            marker = MARKERS[row.kind][row.direction][0]
            size_class = _size_class(row.n, size_breaks)
            size = MARKER_SIZES[0 if size_class is None else size_class]
            size *= _scale(marker)
            ax.plot([x0 + w / 2], [i], linestyle="none", marker=marker, markersize=size,
                    markerfacecolor="none" if size_class is None else MARKER_COLOUR,
                    markeredgecolor=MARKER_COLOUR, markeredgewidth=0.9, zorder=3,
                    gid=f"direction-{row.study}-{row.outcome}")
    ax.set_xlim(0, lefts[-1])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xticks(centres)
    ax.set_xticklabels(["\n".join(headers[j][1]) for j in group], fontsize=HEADER_SIZE)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([name_of[s] for s in rows], fontsize=LABEL_SIZE)
    ax.tick_params(length=0, pad=3)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _legend_sections(favours, size_breaks, any_unknown_n, kinds, rob_levels) -> list:
    """(heading, handles) of each part of the legend: directions (per kind of result present),
    sample size, risk of bias (levels present)."""
    treatment, control = favours
    sections = []
    for kind in kinds:
        handles = []
        for direction in (1, -1, 0):
            marker, text = MARKERS[kind][direction]
            # an arrow of the medium class is taller than a legend row: the small one stands in
            size = MARKER_SIZES[0 if not isinstance(marker, str) else 1] * _scale(marker)
            handles.append(Line2D([], [], linestyle="none", marker=marker, markersize=size,
                                  color=MARKER_COLOUR,
                                  label=text.format(treatment=treatment, control=control)))
        heading = ("Direction of effect" if kind == BETWEEN_GROUPS
                   else "Before–after, no control")
        if kind == BETWEEN_GROUPS and BEFORE_AFTER in kinds:
            heading = "Between groups"
        sections.append((heading, handles))
    sizes = [Line2D([], [], linestyle="none", marker="^", markersize=size, color=MARKER_COLOUR,
                    label=text) for size, text in zip(MARKER_SIZES, _size_labels(size_breaks))]
    if any_unknown_n:
        sizes.append(Line2D([], [], linestyle="none", marker="^", markersize=MARKER_SIZES[0],
                            markerfacecolor="none", markeredgecolor=MARKER_COLOUR,
                            label="n not reported"))
    sections.append(("Sample size", sizes))
    if rob_levels:
        sections.append(("Risk of bias (overall)",
                         [Patch(facecolor=ROB_SHADES[key][0], edgecolor=GRID_COLOUR,
                                label=ROB_SHADES[key][1]) for key in rob_levels]))
    return sections


def _legend_layout(section_widths: list[float], width: float) -> list[list[int]]:
    """Legend sections in rows left to right, a new row when the next one does not fit."""
    rows, current, used = [], [], 0.0
    for i, w in enumerate(section_widths):
        needed = w if not current else used + LEGEND_GAP + w
        if current and needed > width:
            rows.append(current)
            current, used = [i], w
        else:
            current.append(i)
            used = needed
    return rows + [current]


def _alt_text(data: pd.DataFrame, favours, panels: int, title: str | None) -> str:
    """What the plot shows in words: its size and the results of each kind by direction."""
    treatment, control = favours
    head = f"Effect direction plot: {title}." if title else "Effect direction plot."
    text = (f"{head} {plural(len(data), 'result')} of {plural(data['study'].nunique(), 'study')}"
            f" on {plural(data['outcome'].nunique(), 'outcome')}"
            + (f", in {panels} panels" if panels > 1 else "") + ".")
    counts = data.groupby(["kind", "direction"]).size()
    between = {d: int(counts.get((BETWEEN_GROUPS, d), 0)) for d in (1, -1, 0)}
    if sum(between.values()):
        text += (f" Between groups: {between[1]} favour {treatment}, {between[-1]} favour "
                 f"{control}, {between[0]} show no clear difference.")
    before = {d: int(counts.get((BEFORE_AFTER, d), 0)) for d in (1, -1, 0)}
    if sum(before.values()):
        text += (f" Before–after results of single groups (no control): {before[1]} improved "
                 f"from baseline, {before[-1]} worse, {before[0]} no clear change.")
    return text
