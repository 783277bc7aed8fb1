"""The table-with-a-graph layout shared by the forest plots (RevMan's look).

A figure is a table: text columns on the left (study, per-arm data, weight, estimate), the
graphical column, then optional columns on the right (risk of bias). Every row has the same
height; widths are measured from the text itself (with the fixed font of `style.STYLE`), so no
text overlaps another and the figure is exactly as wide as its content. The function here lays
out and writes all text; callers draw their marks (squares, diamonds, bars) into the returned
axes, where row i sits at y = -i.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import text_to_path
from matplotlib.transforms import Affine2D, blended_transform_factory, offset_copy

from metareview.report.figures.style import STUDY_COLOUR, STYLE
from metareview.report.frames import MAX_STUDY_ROWS  # noqa: F401 (the figures' limit)

FONT_SIZE = 8.0
ROW_HEIGHT = 0.19  # inches per table row
CELL_PAD = 0.14  # inches of space between two text columns
MARGIN = 0.12  # inches around the figure's content
GRAPH_GAP = 0.16  # inches between the text columns and the graph


@lru_cache(maxsize=4096)
def text_width(text: str, bold: bool = False, size: float = FONT_SIZE) -> float:
    """Width in inches of one line of `text` in the figures' font."""
    if not text:
        return 0.0
    prop = FontProperties(family=STYLE["font.family"], size=size,
                          weight="bold" if bold else "normal")
    width = max(text_to_path.get_text_width_height_descent(line, prop, ismath=False)[0]
                for line in text.split("\n"))
    return width / 72.0


@dataclass(frozen=True)
class Column:
    """A text column: `key` of its cells, `header` (second header line), `group` (first header
    line, shared by adjacent columns with the same group), alignment of its cells."""

    key: str
    header: str
    group: str = ""
    align: str = "right"


@dataclass
class Row:
    """One table row. `cells` maps column keys to text; `span` is a text that runs across the
    left block from its left edge (subgroup headings, heterogeneity lines); `kind` tells the
    caller what to draw in the graph."""

    kind: str
    cells: dict = field(default_factory=dict)
    span: str = ""
    bold: bool = False
    italic: bool = False
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Axis:
    """The graph's x axis: limits, ticks and their labels, the line of no effect, and the two
    "favours" labels (empty strings for none)."""

    limits: tuple[float, float]
    ticks: tuple[float, ...]
    tick_labels: tuple[str, ...]
    null: float | None
    favours: tuple[str, str] = ("", "")
    label: str = ""


@dataclass
class TableFigure:
    """What `table_figure` built: the figure, the graph axes, the position (left, right) in
    inches of every column, and a transform placing text at (inches, row y)."""

    fig: Figure
    ax: object
    columns: dict
    graph: tuple[float, float]
    text_transform: object

    def row_text(self, x_inches: float, y: float, text: str, **kwargs) -> object:
        kwargs.setdefault("fontsize", FONT_SIZE)
        kwargs.setdefault("va", "center")
        return self.ax.text(x_inches, y, text, transform=self.text_transform, clip_on=False,
                            **kwargs)


def wrap_text(text: str, width: float, bold: bool = False, size: float = FONT_SIZE) -> list[str]:
    """Break `text` into lines no wider than `width` inches (at plain spaces only)."""
    words = text.split(" ")
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if current and text_width(candidate, bold, size) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    lines.append(current)
    return lines


def _column_widths(columns: list[Column], rows: list[Row]) -> dict[str, float]:
    widths = {}
    for column in columns:
        cell_widths = [text_width(str(row.cells.get(column.key, "")), row.bold) for row in rows]
        widths[column.key] = max([text_width(column.header, True), *cell_widths]) + CELL_PAD
    # A group label wider than its columns widens the group's last column.
    for group in {c.group for c in columns if c.group}:
        members = [c.key for c in columns if c.group == group]
        missing = text_width(group, True) + CELL_PAD - sum(widths[k] for k in members)
        if missing > 0:
            widths[members[-1]] += missing
    return widths


def table_figure(rows: list[Row], left: list[Column], right: list[Column], *, axis: Axis,
                 graph_header: tuple[str, str] = ("", ""), graph_width: float = 2.6,
                 right_column_width: float | None = None, footer: list[str] | None = None,
                 title: str | None = None) -> TableFigure:
    """Lay out a table figure and write its text; return the figure and its graph axes.

    Columns follow each other left to right; the first left column is widened so that every
    `span` text fits in the left block. `right_column_width` fixes the width of the right
    columns (e.g. risk-of-bias dots); otherwise they are measured like the left ones. `footer`
    lines go under the axis and its "favours" labels, from the left edge.
    """
    footer = [line for line in (footer or []) if line is not None]
    widths = _column_widths(left, rows)
    if right:
        if right_column_width is None:
            widths.update(_column_widths(right, rows))
        else:
            widths.update({c.key: max(right_column_width, text_width(c.header, True) + 0.06)
                           for c in right})
    span_width = max([text_width(row.span, row.bold) for row in rows] + [0.0]) + CELL_PAD
    left_total = sum(widths[c.key] for c in left)
    if left and span_width > left_total:
        widths[left[0].key] += span_width - left_total

    positions = {}
    x = MARGIN
    for column in left:
        positions[column.key] = (x, x + widths[column.key])
        x += widths[column.key]
    graph_left = x + GRAPH_GAP
    graph_right = graph_left + graph_width
    x = graph_right + GRAPH_GAP
    for column in right:
        positions[column.key] = (x, x + widths[column.key])
        x += widths[column.key]
    content_right = x

    # The favours labels hang from the line of no effect and may run past the graph.
    lo, hi = axis.limits
    if axis.null is not None:
        null_x = graph_left + graph_width * (axis.null - lo) / (hi - lo)
        content_right = max(content_right, null_x + 0.06 + text_width(axis.favours[1]))
    # Footer lines wrap at the width of the table (never widen the figure), except that a
    # single word longer than the table stays whole.
    footer = [part for line in footer for part in wrap_text(line, content_right - MARGIN)]
    footer_width = max([text_width(line) for line in footer] + [0.0])
    fig_width = max(content_right, MARGIN + footer_width) + MARGIN

    n = len(rows)
    title_height = 0.3 if title else 0.0
    header_height = 2 * ROW_HEIGHT + 0.06
    axis_height = 0.26 + (0.2 if any(axis.favours) else 0.0) + (0.2 if axis.label else 0.0)
    footer_height = ROW_HEIGHT * len(footer) + (0.06 if footer else 0.0)
    fig_height = (2 * MARGIN + title_height + header_height + n * ROW_HEIGHT + axis_height
                  + footer_height)
    graph_bottom = MARGIN + footer_height + axis_height

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(fig_width, fig_height))
        ax = fig.add_axes([graph_left / fig_width, graph_bottom / fig_height,
                           graph_width / fig_width, n * ROW_HEIGHT / fig_height])
        ax.set_xlim(lo, hi)
        ax.set_ylim(-n + 0.5, 0.5)
        ax.set_yticks([])
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        ax.set_xticks(list(axis.ticks))
        ax.set_xticklabels(list(axis.tick_labels))
        ax.tick_params(axis="x", labelsize=FONT_SIZE, length=3, pad=2)
        if axis.null is not None:
            ax.axvline(axis.null, color="black", lw=0.6, zorder=0, gid="null-line")
        if axis.label:
            ax.set_xlabel(axis.label, fontsize=FONT_SIZE, labelpad=3)
        # Inches from the figure's lower-left corner, through transFigure (not dpi_scale_trans,
        # which a tight bounding box at saving does not shift along with the axes).
        inch = Affine2D().scale(1 / fig_width, 1 / fig_height) + fig.transFigure
        transform = blended_transform_factory(inch, ax.transData)
        table = TableFigure(fig=fig, ax=ax, columns=positions,
                            graph=(graph_left, graph_right), text_transform=transform)
        _write_headers(table, left + right, graph_header)
        _write_rows(table, rows, left + right)
        if axis.null is not None and any(axis.favours):
            # under the tick labels, and under the axis title when there is one
            favours_y = graph_bottom - 0.3 - (0.2 if axis.label else 0.0)
            below = blended_transform_factory(ax.transData, inch)
            for text, side, shift in ((axis.favours[0], "right", -0.06),
                                      (axis.favours[1], "left", 0.06)):
                ax.text(axis.null, favours_y, text, ha=side, va="center", fontsize=FONT_SIZE,
                        clip_on=False, gid=f"favours-{'left' if shift < 0 else 'right'}",
                        transform=offset_copy(below, fig, x=shift, units="inches"))
        for i, line in enumerate(footer):
            fig.text(MARGIN, MARGIN + footer_height - 0.06 - (i + 0.5) * ROW_HEIGHT, line,
                     transform=inch, ha="left", va="center", fontsize=FONT_SIZE,
                     gid=f"footer-{i}")
        if title:
            fig.text(MARGIN, fig_height - MARGIN - 0.12, title, transform=inch, ha="left",
                     va="center", fontsize=10, fontweight="bold")
    return table


def _cell_x(position: tuple[float, float], align: str) -> float:
    left, right = position
    if align == "left":
        return left
    if align == "center":
        return (left + right) / 2
    return right - CELL_PAD / 2


def _write_headers(table: TableFigure, columns: list[Column],
                   graph_header: tuple[str, str]) -> None:
    bold = {"fontweight": "bold"}
    for column in columns:
        x = _cell_x(table.columns[column.key], column.align)
        table.row_text(x, 1.0, column.header, ha=column.align, **bold)
    groups: dict[str, list[str]] = {}
    for column in columns:
        if column.group:
            groups.setdefault(column.group, []).append(column.key)
    for group, keys in groups.items():
        left = table.columns[keys[0]][0]
        right = table.columns[keys[-1]][1]
        table.row_text((left + right) / 2, 2.0, group, ha="center", **bold)
    graph_left, graph_right = table.graph
    middle = (graph_left + graph_right) / 2
    for y, text in zip((2.0, 1.0), graph_header):
        if text:
            table.row_text(middle, y, text, ha="center", **bold)


def _write_rows(table: TableFigure, rows: list[Row], columns: list[Column]) -> None:
    start = min((table.columns[c.key][0] for c in columns), default=MARGIN)
    for i, row in enumerate(rows):
        style = {"fontweight": "bold" if row.bold else "normal",
                 "fontstyle": "italic" if row.italic else "normal"}
        if row.span:
            table.row_text(start, -i, row.span, ha="left", gid=f"span-{i}", **style)
        for column in columns:
            text = row.cells.get(column.key, "")
            if text:
                x = _cell_x(table.columns[column.key], column.align)
                table.row_text(x, -i, str(text), ha=column.align, gid=f"cell-{column.key}-{i}",
                               **style)


# --- scales ---------------------------------------------------------------------------------

RATIO_SCALES = {
    2: (0.5, 0.7, 1, 1.5, 2),
    5: (0.2, 0.5, 1, 2, 5),
    10: (0.1, 0.2, 0.5, 1, 2, 5, 10),
    20: (0.05, 0.2, 1, 5, 20),
    50: (0.02, 0.1, 1, 10, 50),
    100: (0.01, 0.1, 1, 10, 100),
    1000: (0.001, 0.1, 1, 10, 1000),
}


def _tick_label(value: float) -> str:
    return f"{value:g}"


def symmetric_axis(values, *, ratio: bool, favours=("", ""), label: str = "") -> Axis:
    """An axis symmetric about no effect (0, or 1 for ratios on the log scale), as RevMan
    draws it: ±L with L the smallest of 1, 2, 4, 5 × 10^j covering every value (ratios: the
    smallest of 2, 5, 10, 20, 50, 100, 1000). Values past 1000-fold are left to be clipped."""
    finite = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    reach = float(np.max(np.abs(finite))) if finite.size else 1.0
    if ratio:
        bound = next((b for b in RATIO_SCALES if np.log(b) >= reach * (1 - 1e-9)), 1000)
        ticks = RATIO_SCALES[bound]
        return Axis(limits=(-np.log(bound), np.log(bound)),
                    ticks=tuple(float(np.log(t)) for t in ticks),
                    tick_labels=tuple(_tick_label(t) for t in ticks), null=0.0,
                    favours=tuple(favours), label=label)
    reach = max(reach, 1e-12)
    exponent = int(np.floor(np.log10(reach)))
    bound = next(m * 10.0 ** e for e in (exponent - 1, exponent, exponent + 1)
                 for m in (1, 2, 4, 5, 10) if m * 10.0 ** e >= reach * (1 - 1e-9))
    ticks = (-bound, -bound / 2, 0.0, bound / 2, bound)
    return Axis(limits=(-bound, bound), ticks=ticks,
                tick_labels=tuple(_tick_label(float(f"{t:.6g}")) for t in ticks), null=0.0,
                favours=tuple(favours), label=label)


def summarised(k: int) -> bool:
    """Whether a figure of `k` studies summarises them (more than `MAX_STUDY_ROWS`) instead of
    giving each a row: a row per study would make a figure metres long and unreadable."""
    return int(k) > MAX_STUDY_ROWS


def band_rows(est, low, high, height: int) -> list[Row]:
    """More studies than `MAX_STUDY_ROWS` as one band `height` rows tall: each study's interval
    a thin line, its estimate a dot, sorted by estimate from the top (a caterpillar plot),
    with the count in the study column. The rows after the first are empty space the band
    (`draw_band`) draws over."""
    est, low, high = (np.asarray(v, dtype=float) for v in (est, low, high))
    order = np.argsort(est, kind="stable")
    first = Row("band", {"label": f"{est.size:,} studies, sorted by estimate"},
                data={"est": est[order], "low": low[order], "high": high[order],
                      "height": height, "k": int(est.size)})
    return [first] + [Row("text", {}) for _ in range(height - 1)]


def draw_band(ax, data: dict, top: float, colour: str = STUDY_COLOUR) -> None:
    """The band of `band_rows` from row `top` down over its height: one line segment per
    study in a single collection (milliseconds for thousands of studies), clipped at the axis,
    and the estimates as dots; gids ``band-intervals``, ``band-estimates``."""
    from matplotlib.collections import LineCollection

    est, low, high = (np.asarray(data[key], dtype=float) for key in ("est", "low", "high"))
    ys = np.linspace(top + 0.3, top - data["height"] + 0.7, len(est))
    keep = np.isfinite(est) & np.isfinite(low) & np.isfinite(high)
    lines = LineCollection(np.stack([np.column_stack([low[keep], ys[keep]]),
                                     np.column_stack([high[keep], ys[keep]])], axis=1),
                           colors="#7f7f7f", linewidths=0.4, gid="band-intervals", zorder=2)
    ax.add_collection(lines)
    ax.scatter(est[keep], ys[keep], s=1.2, color=colour, linewidths=0, zorder=3,
               gid="band-estimates")


def clip_interval(ax, low: float, high: float, y: float, *, colour: str, lw: float,
                  gid: str) -> None:
    """A horizontal interval at row y; where it runs past the axis limits it stops at the edge
    with an arrow head, as RevMan marks intervals wider than the scale."""
    lo, hi = ax.get_xlim()
    ax.plot([max(low, lo), min(high, hi)], [y, y], color=colour, lw=lw, solid_capstyle="butt",
            gid=gid, clip_on=False)
    if low < lo:
        ax.plot([lo], [y], marker="<", color=colour, markersize=4, linestyle="none",
                clip_on=False, gid=f"arrow-{gid}")
    if high > hi:
        ax.plot([hi], [y], marker=">", color=colour, markersize=4, linestyle="none",
                clip_on=False, gid=f"arrow-{gid}")
