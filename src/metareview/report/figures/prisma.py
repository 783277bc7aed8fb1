"""The PRISMA 2020 flow diagram (Page et al. 2021, figure 1; doi:10.1136/bmj.n71).

Laid out as the PRISMA 2020 template and its app draw it: a column for identification via
databases and registers (main boxes on the left, the records and reports that leave the flow
on the right), a column for other methods beside it when any record came that way, the phases
(identification, screening, included) as bands on the left, and one box for the studies and
reports included. Every count comes from `metareview.report.prisma.prisma_counts`; the boxes
that list reasons or sources show each with its own count.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from metareview.report.figures.style import STYLE, set_alt_text
from metareview.report.prisma import DATABASES, INCLUDED, OTHER, box_count, box_items

__all__ = ["prisma_flow"]

FONT_SIZE = 8.5
LINE_SPACING = 1.25
LINE = FONT_SIZE * LINE_SPACING / 72  # inches per line of text
# Measured: 20.5 (plain) and 17.8 (bold) characters per inch of DejaVu Sans at 7.5 pt on
# English text, so 7.5 / FONT_SIZE of that at FONT_SIZE; 10 % less, so that lines with many
# wide letters stay inside the box.
BODY_CHARS_PER_INCH = 0.9 * 20.5 * 7.5 / FONT_SIZE
HEADING_CHARS_PER_INCH = 0.9 * 17.8 * 7.5 / FONT_SIZE
PAD = 0.09
GAP = 0.3  # vertical space between rows of boxes (room for the arrows)
BAND_LABEL_HEIGHT = 0.7  # "Included" (9.5 pt bold) written upright needs this much
BAND_WIDTH = 0.32
MAIN_WIDTH, SIDE_WIDTH, SIDE_GAP = 3.3, 3.8, 0.4
OTHER_GAP = 0.45
HEADER_HEIGHT = 0.42
EDGE = "#404040"
BOX_FILL = "#ffffff"
BAND_FILL = "#cfe0ef"
_COLUMN_NAMES = {DATABASES: "Databases and registers", OTHER: "Other methods"}
HEADER_FILL = {DATABASES: "#f6df9a", OTHER: "#d9d9d9"}


@dataclass
class _Box:
    """A box: a heading line, body lines, and where it sits (set by the layout)."""

    key: str
    heading: str
    body: list[str]
    width: float
    x: float = 0.0
    top: float = 0.0
    min_height: float = 0.0

    @property
    def lines(self) -> list[str]:
        return self._wrap()

    def _wrap(self) -> list[str]:
        lines = textwrap.wrap(self.heading, self._chars(HEADING_CHARS_PER_INCH))
        chars = self._chars(BODY_CHARS_PER_INCH)
        for line in self.body:
            indent = "   " if line.startswith("• ") else ""
            lines += textwrap.wrap(line, chars, subsequent_indent=indent) or [""]
        return lines

    def _chars(self, per_inch: float) -> int:
        return max(int((self.width - 2 * PAD) * per_inch), 12)

    @property
    def heading_lines(self) -> int:
        return len(textwrap.wrap(self.heading, self._chars(HEADING_CHARS_PER_INCH)))

    @property
    def height(self) -> float:
        return max(2 * PAD + LINE * len(self.lines), self.min_height)

    @property
    def middle(self) -> float:
        return self.top + self.height / 2

    @property
    def bottom(self) -> float:
        return self.top + self.height


def prisma_flow(counts: pd.DataFrame, title: str | None = None) -> Figure:
    """The PRISMA 2020 flow diagram of `counts` (`metareview.report.prisma.prisma_counts`).

    Boxes carry SVG ids ``prisma-<route>-<box>`` (e.g. ``prisma-databases_registers-sought``),
    so that tests and readers of the SVG find each count.
    """
    has_other = (counts["route"] == OTHER).any()
    columns = [DATABASES] + ([OTHER] if has_other else [])
    x_main = {DATABASES: BAND_WIDTH + 0.25}
    x_main[OTHER] = x_main[DATABASES] + MAIN_WIDTH + SIDE_GAP + SIDE_WIDTH + OTHER_GAP
    rows = _rows(counts, columns, x_main)

    top = (0.45 if title else 0.1) + HEADER_HEIGHT + GAP
    row_tops = []
    for row in rows:
        row_tops.append(top)
        for box in row.values():
            box.top = top
        top += max(box.height for box in row.values()) + GAP
    right = max(box.x + box.width for row in rows for box in row.values()) + 0.1
    bottom_note = _other_methods_note(has_other)
    height = top - GAP + (0.35 if bottom_note else 0.1)

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(right, height))
        ax = fig.add_axes([0, 0, 1, 1])
        ax.set_xlim(0, right)
        ax.set_ylim(height, 0)
        ax.axis("off")
        if title:
            ax.text(0.05, 0.22, title, fontweight="bold", fontsize=10, va="center")
        header_top = (0.45 if title else 0.1)
        for route in columns:
            _header(ax, route, x_main[route], header_top)
        _bands(ax, rows, row_tops, header_top)
        for row in rows:
            for key, box in row.items():
                _draw(ax, box, gid=f"prisma-{key}")
        _arrows(ax, rows, columns)
        if bottom_note:
            ax.text(x_main[DATABASES], height - 0.2, bottom_note, fontsize=FONT_SIZE,
                    style="italic", va="center", color="#404040")
    return set_alt_text(fig, _alt_text(rows, columns, title))


def _alt_text(rows: list[dict], columns: list[str], title: str | None) -> str:
    """The flow in words, column by column: each box's heading (its step and count) in the
    order the diagram draws them, then the studies included."""
    head = f"PRISMA 2020 flow diagram: {title}." if title else "PRISMA 2020 flow diagram."
    parts = [head]
    for route in columns:
        steps = [box.heading.removesuffix(", by reason:") for row in rows for key, box in row.items()
                 if key.startswith(f"{route}-")]
        parts.append(f"{_COLUMN_NAMES[route]}: " + "; ".join(steps) + ".")
    included = [box for row in rows for key, box in row.items() if key.startswith(INCLUDED)]
    parts += [f"{box.heading}, {box.body[0][0].lower()}{box.body[0][1:]}." for box in included]
    return " ".join(parts)


# --- content ----------------------------------------------------------------------------------


def _rows(counts: pd.DataFrame, columns: list[str], x_main: dict) -> list[dict]:
    """The boxes row by row: identification, screened, sought, assessed, included."""
    rows: list[dict] = [{}, {}, {}, {}, {}]
    for route in columns:
        x, x_side = x_main[route], x_main[route] + MAIN_WIDTH + SIDE_GAP
        n = lambda box: box_count(counts, route, box)  # noqa: E731
        rows[0][f"{route}-identified"] = _Box(
            f"{route}-identified", f"Records identified (n = {n('identified'):,})",
            _identified_body(counts, route), MAIN_WIDTH, x)
        removed = n("removed")
        if route == DATABASES or removed:
            rows[0][f"{route}-removed"] = _Box(
                f"{route}-removed", f"Records removed before screening (n = {removed:,})",
                _removed_body(counts, route), SIDE_WIDTH, x_side)
        if route == DATABASES:
            rows[1][f"{route}-screened"] = _Box(
                f"{route}-screened", f"Records screened (n = {n('screened'):,})", [],
                MAIN_WIDTH, x)
            rows[1][f"{route}-screening_excluded"] = _Box(
                f"{route}-screening_excluded",
                f"Records excluded (n = {n('screening_excluded'):,})",
                _item_lines(box_items(counts, route, "screening_excluded")), SIDE_WIDTH,
                x_side)
        rows[2][f"{route}-sought"] = _Box(
            f"{route}-sought", f"Reports sought for retrieval (n = {n('sought'):,})", [],
            MAIN_WIDTH, x)
        rows[2][f"{route}-not_retrieved"] = _Box(
            f"{route}-not_retrieved", f"Reports not retrieved (n = {n('not_retrieved'):,})",
            ["passed screening, but no page with the methods and results could be reached"]
            if n("not_retrieved") else ["every report sought was reached"], SIDE_WIDTH, x_side)
        rows[3][f"{route}-assessed"] = _Box(
            f"{route}-assessed", f"Reports assessed for eligibility (n = {n('assessed'):,})",
            _item_lines(box_items(counts, route, "assessed")), MAIN_WIDTH, x)
        rows[3][f"{route}-reports_excluded"] = _excluded_box(counts, route, SIDE_WIDTH, x_side)
    studies = counts[(counts["route"] == INCLUDED) & (counts["box"] == "studies")].iloc[0]
    body = [f"Reports of included studies (n = {box_count(counts, INCLUDED, 'reports'):,})"]
    if studies["note"]:
        body.append(studies["note"])
    rows[4][f"{INCLUDED}-studies"] = _Box(
        f"{INCLUDED}-studies", f"Studies included in the review (n = {studies['count']:,})",
        body, MAIN_WIDTH, x_main[DATABASES], min_height=BAND_LABEL_HEIGHT)
    return [row for row in rows if row]


def _identified_body(counts: pd.DataFrame, route: str) -> list[str]:
    items = box_items(counts, route, "identified")
    if items.empty:
        return ["no search is logged"]
    head = "From the searches of:" if route == DATABASES else "From:"
    return [head, *_item_lines(items)]


def _removed_body(counts: pd.DataFrame, route: str) -> list[str]:
    items = box_items(counts, route, "removed")
    if items.empty:
        return ["none"]
    return ["Duplicate records:", *_item_lines(items)]


def _excluded_box(counts: pd.DataFrame, route: str, width: float, x: float) -> _Box:
    key = f"{route}-reports_excluded"
    excluded = box_count(counts, route, "reports_excluded")
    if excluded:
        return _Box(key, f"Reports excluded (n = {excluded:,}), by reason:",
                    _item_lines(box_items(counts, route, "reports_excluded")), width, x)
    assessed = box_count(counts, route, "assessed")
    screening = box_count(counts, route, "screening_excluded") or 0
    if not assessed:
        return _Box(key, "Reports excluded: none", ["no report was assessed"], width, x)
    text = (f"none of the {assessed:,} reports assessed was excluded"
            if assessed > 1 else "the one report assessed was not excluded")
    if screening:
        text += "; every exclusion was made at screening"
    return _Box(key, "Reports excluded: none", [text], width, x)


def _item_lines(items: pd.DataFrame) -> list[str]:
    lines = []
    for item in items.itertuples(index=False):
        note = f" ({item.note})" if item.note else ""
        lines.append(f"• {item.item}: {item.count:,}{note}")
    return lines


def _other_methods_note(has_other: bool) -> str:
    if has_other:
        return ""
    return ("No record was identified by other methods (citation searching, websites, "
            "organisations): the screening sheet names none.")


# --- drawing ----------------------------------------------------------------------------------


def _draw(ax, box: _Box, gid: str) -> None:
    ax.add_patch(Rectangle((box.x, box.top), box.width, box.height, facecolor=BOX_FILL,
                           edgecolor=EDGE, lw=0.8, gid=gid))
    lines = box.lines
    split = box.heading_lines
    ax.text(box.x + PAD, box.top + PAD, "\n".join(lines[:split]), fontsize=FONT_SIZE,
            fontweight="bold", va="top", ha="left", linespacing=LINE_SPACING)
    if lines[split:]:
        ax.text(box.x + PAD, box.top + PAD + LINE * split, "\n".join(lines[split:]),
                fontsize=FONT_SIZE, va="top", ha="left", linespacing=LINE_SPACING)


def _header(ax, route: str, x: float, top: float) -> None:
    width = MAIN_WIDTH + SIDE_GAP + SIDE_WIDTH
    label = f"Identification of studies via {_COLUMN_NAMES[route].lower()}"
    ax.add_patch(Rectangle((x, top), width, HEADER_HEIGHT, facecolor=HEADER_FILL[route],
                           edgecolor=EDGE, lw=0.8, gid=f"prisma-header-{route}"))
    ax.text(x + width / 2, top + HEADER_HEIGHT / 2, label, fontsize=9.5, fontweight="bold",
            ha="center", va="center")


def _bands(ax, rows: list[dict], row_tops: list[float], header_top: float) -> None:
    """The phases: identification (the first row), screening (up to the assessed reports),
    included (the last row)."""
    bottoms = [max(box.bottom for box in row.values()) for row in rows]
    spans = [("Identification", header_top, bottoms[0]),
             ("Screening", row_tops[1], bottoms[-2]),
             ("Included", row_tops[-1], bottoms[-1])]
    for label, top, bottom in spans:
        ax.add_patch(Rectangle((0.08, top), BAND_WIDTH, bottom - top, facecolor=BAND_FILL,
                               edgecolor=EDGE, lw=0.6, gid=f"prisma-phase-{label.lower()}"))
        ax.text(0.08 + BAND_WIDTH / 2, (top + bottom) / 2, label, rotation=90, ha="center",
                va="center", fontsize=9.5, fontweight="bold")


def _arrows(ax, rows: list[dict], columns: list[str]) -> None:
    boxes = {key: box for row in rows for key, box in row.items()}
    for route in columns:
        chain = [f"{route}-{b}" for b in ("identified", "screened", "sought", "assessed")
                 if f"{route}-{b}" in boxes]
        for upper, lower in zip(chain, chain[1:]):
            _down(ax, boxes[upper], boxes[lower])
        for main, side in (("identified", "removed"), ("screened", "screening_excluded"),
                           ("sought", "not_retrieved"), ("assessed", "reports_excluded")):
            if f"{route}-{main}" in boxes and f"{route}-{side}" in boxes:
                _across(ax, boxes[f"{route}-{main}"], boxes[f"{route}-{side}"])
    included = boxes[f"{INCLUDED}-studies"]
    _down(ax, boxes[f"{DATABASES}-assessed"], included)
    if OTHER in columns:
        # From the other column's assessed reports down and across to the included box.
        source = boxes[f"{OTHER}-assessed"]
        x = source.x + source.width / 2
        ax.plot([x, x], [source.bottom, included.middle], color="black", lw=0.8)
        _arrow(ax, (x, included.middle), (included.x + included.width, included.middle))


def _down(ax, upper: _Box, lower: _Box) -> None:
    x = upper.x + upper.width / 2
    _arrow(ax, (x, upper.bottom), (x, lower.top))


def _across(ax, main: _Box, side: _Box) -> None:
    # At the height of the side box's middle, kept within the main box.
    y = min(max(side.middle, main.top + 0.1), main.bottom - 0.1)
    _arrow(ax, (main.x + main.width, y), (side.x, y))


def _arrow(ax, start: tuple[float, float], end: tuple[float, float]) -> None:
    ax.annotate("", xy=end, xytext=start,
                arrowprops=dict(arrowstyle="-|>", color="black", lw=0.8, shrinkA=0,
                                shrinkB=0))
