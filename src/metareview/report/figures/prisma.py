"""The PRISMA 2020 flow diagram of records."""

from __future__ import annotations

import math

import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from metareview.report.figures.style import STYLE, set_alt_text

# --- PRISMA flow ----------------------------------------------------------------------------


def prisma_flow(counts: pd.DataFrame, title: str | None = None) -> Figure:
    """PRISMA-style flow diagram from a table of steps (`metareview.synthesis.prisma_counts`).

    `counts` has columns step, count, detail and side ("main" for the central column of boxes,
    "excluded" for the boxes on the right that leave the flow at the step above them).
    """
    main = counts[counts["side"] == "main"].reset_index(drop=True)
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(8, 1.25 * len(main) + 1.0))
        ax = fig.add_axes([0, 0, 1, 1])
        ax.set_xlim(0, 10)
        ax.set_ylim(-1.25 * len(main), 1.0)
        ax.axis("off")
        for i, row in main.iterrows():
            y = -1.25 * i
            _box(ax, 0.4, y, 4.6, _box_text(row), gid=f"prisma-main-{i}")
            if i + 1 < len(main):
                ax.annotate("", xy=(2.7, y - 0.78), xytext=(2.7, y - 0.42),
                            arrowprops=dict(arrowstyle="-|>", color="black", lw=0.8))
            side = counts[(counts["side"] == "excluded") & (counts["after"] == row["step"])]
            for j, (_, excl) in enumerate(side.iterrows()):
                ys = y - 0.62 - 0.0 * j
                _box(ax, 5.6, ys, 4.0, _box_text(excl), gid=f"prisma-excluded-{i}-{j}")
                ax.annotate("", xy=(5.6, ys), xytext=(2.7, ys),
                            arrowprops=dict(arrowstyle="-|>", color="black", lw=0.8))
        if title:
            ax.text(0.4, 0.75, title, fontweight="bold", fontsize=10, va="center")
    return set_alt_text(fig, prisma_alt_text(counts, title))


def prisma_alt_text(counts: pd.DataFrame, title: str | None = None) -> str:
    """The flow in words: every box's step and count in the order of the table, e.g.
    "Records identified by the searches: 2664; Not kept on a title glance: 2408; ..."."""
    head = f"Flow diagram: {title}." if title else "Flow diagram of records."
    steps = [f"{row['step']}: {int(row['count'])}" for _, row in counts.iterrows()
             if not pd.isna(row.get("count"))]
    return f"{head} " + "; ".join(steps) + "." if steps else f"{head} No records."


PRISMA_DETAIL_LINES = 4
PRISMA_DETAIL_WIDTH = 48


def _box_text(row) -> str:
    """Step, count and, when short enough to fit a box, the detail (e.g. exclusion reasons).

    Long lists of reasons stay in the PRISMA table printed beside the figure; the box then
    says so, because a diagram that overflows its boxes helps no one.
    """
    detail = row.get("detail", "")
    detail = "" if detail is None or (isinstance(detail, float) and math.isnan(detail)) else detail
    text = f"{row['step']}\n(n = {int(row['count'])})"
    lines = [line for line in str(detail).split("\n") if line]
    if not lines:
        return text
    if len(lines) > PRISMA_DETAIL_LINES or max(map(len, lines)) > PRISMA_DETAIL_WIDTH:
        return f"{text}\n{len(lines)} reasons: see the table"
    return text + "\n" + "\n".join(lines)


def _box(ax, x: float, y: float, width: float, text: str, gid: str) -> None:
    height = 0.55 + 0.14 * text.count("\n")
    ax.add_patch(FancyBboxPatch((x, y - height / 2), width, height,
                                boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor="#f7f7f7", edgecolor="#404040", lw=0.8, gid=gid))
    ax.text(x + width / 2, y, text, ha="center", va="center", fontsize=8, wrap=True)
