"""Baujat plot: each study's contribution to heterogeneity against its influence on the
pooled estimate."""

from __future__ import annotations

from typing import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from metareview.report.figures.layout import text_width, wrap_text
from metareview.report.figures.style import STUDY_COLOUR, STYLE, set_alt_text
from metareview.report.text import plural

FIG_WIDTH = 6.5
PLOT_HEIGHT = 4.0  # inches of the axes
AXES_LEFT, AXES_RIGHT = 0.75, 0.25  # inches of margin beside the axes
AXES_BOTTOM, AXES_TOP = 0.55, 0.35
LABEL_SIZE = 7.5
LABEL_HEIGHT = 0.15  # inches
POINT_RADIUS = 0.05  # inches
KEY_LINE = 0.17  # inches per line of the key under the plot
# Candidate places of a label around its point: rings of growing distance (inches), and on
# each ring directions in degrees, the ones to the right first.
RADII = tuple(0.07 + 0.15 * i for i in range(17))
ANGLES = (0, 30, -30, 60, -60, 90, -90, 120, -120, 150, -150, 180)


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _leader(point, box) -> np.ndarray:
    """Points along the leader line from a point to the nearest point of a label's box."""
    end = (min(max(point[0], box[0]), box[2]), min(max(point[1], box[1]), box[3]))
    t = np.linspace(0.15, 1.0, 24)[:, None]
    return np.asarray(point) + t * (np.asarray(end) - np.asarray(point))


def _hits(samples: np.ndarray, box) -> bool:
    return bool(np.any((samples[:, 0] > box[0]) & (samples[:, 0] < box[2])
                       & (samples[:, 1] > box[1]) & (samples[:, 1] < box[3])))


def _placements(px, py, texts, width_in, height_in) -> list | None:
    """Where each text goes: (left, centre y, with a leader line) in inches, or None when some
    text finds no place free of other texts, points and leader lines.

    Greedy and deterministic: points in decreasing order of x + y (normalised) take the nearest
    free place on rings of candidate positions around them.
    """
    points = [(a - POINT_RADIUS, b - POINT_RADIUS, a + POINT_RADIUS, b + POINT_RADIUS)
              for a, b in zip(px, py)]
    boxes: list[tuple] = []
    leaders: list[np.ndarray] = []
    placed: list = [None] * len(texts)
    score = px / width_in + py / height_in
    for i in sorted(range(len(texts)), key=lambda j: (-score[j], j)):
        w = text_width(texts[i], size=LABEL_SIZE)
        for radius in RADII:
            for angle in ANGLES:
                dx, dy = np.cos(np.radians(angle)), np.sin(np.radians(angle))
                cx, cy = px[i] + radius * dx, py[i] + radius * dy
                # right of the point the text starts there, left of it the text ends there,
                # straight above or below it starts just left of the point
                left = cx if dx > 0.01 else (cx - w if dx < -0.01 else cx - 0.05)
                box = (left, cy - LABEL_HEIGHT / 2, left + w, cy + LABEL_HEIGHT / 2)
                if box[0] < 0 or box[2] > width_in or box[1] < 0 or box[3] > height_in:
                    continue
                if any(_overlaps(box, other) for other in points + boxes):
                    continue
                far = radius > RADII[0]
                line = _leader((px[i], py[i]), box)
                if far and (any(_hits(line, other) for other in boxes)
                            or any(_hits(other, box) for other in leaders)):
                    continue
                placed[i] = (left, cy, far)
                boxes.append(box)
                if far:
                    leaders.append(line)
                break
            if placed[i] is not None:
                break
        if placed[i] is None:
            return None
    return placed


def baujat_plot(coords: pd.DataFrame, labels: Sequence[str], *, method: str = "FE",
                title: str | None = None) -> Figure:
    """Baujat plot (Baujat et al. 2002, Stat Med 21:2641-2652), as metafor's ``baujat``.

    Parameters
    ----------
    coords : pandas.DataFrame
        The result of `metareview.stats.diagnostics.baujat`: columns ``x`` (contribution to
        Cochran's Q, or the squared Pearson residual under a random-effects model) and ``y``
        (squared standardised change of the pooled estimate when the study is left out), one
        row per study in input order.
    labels : sequence of str
        Study labels in the same order.
    method : str
        The model's tau² method, for the axis label (as metafor: "FE" → contribution to the
        overall heterogeneity, otherwise squared Pearson residual).

    Notes
    -----
    Studies in the upper right both add much heterogeneity and move the result: those are the
    ones to look at first. Dotted lines mark the mean of each coordinate. Each point is labelled
    with the study's name where the names fit without overlapping (a thin line joins a name set
    away from its point); when they do not, every point is numbered 1..k in input order (as
    metafor's default ``symbol = "ids"``) and a key under the plot gives the names. Gids:
    ``baujat-points``, ``baujat-label-<i>``, ``baujat-key``.
    """
    x = coords["x"].to_numpy(float)
    y = coords["y"].to_numpy(float)
    labels = [str(label) for label in labels]
    if len(labels) != len(x):
        raise ValueError(f"{len(labels)} labels for {len(x)} studies")
    x_span = float(np.ptp(x)) or 1.0
    y_span = float(np.ptp(y)) or 1.0
    x_limits = (min(0.0, x.min()) - 0.04 * x_span, x.max() + 0.3 * x_span)
    y_limits = (min(0.0, y.min()) - 0.06 * y_span, y.max() + 0.12 * y_span)
    width_in = FIG_WIDTH - AXES_LEFT - AXES_RIGHT
    px = (x - x_limits[0]) / (x_limits[1] - x_limits[0]) * width_in
    py = (y - y_limits[0]) / (y_limits[1] - y_limits[0]) * PLOT_HEIGHT
    texts = labels
    placed = _placements(px, py, texts, width_in, PLOT_HEIGHT)
    key_lines: list[str] = []
    if placed is None:
        texts = [str(i + 1) for i in range(len(labels))]
        placed = _placements(px, py, texts, width_in, PLOT_HEIGHT)
        # "1 Name; 2 Name; ..." broken only between entries (non-breaking spaces inside)
        entries = [f"{i + 1}\u00a0{label.replace(' ', chr(0xa0))};" for i, label in
                   enumerate(labels)]
        key_lines = [line.replace("\u00a0", " ").rstrip(";")
                     for line in wrap_text(" ".join(entries), FIG_WIDTH - 0.3, size=LABEL_SIZE)]
    key_height = KEY_LINE * len(key_lines) + (0.1 if key_lines else 0.0)
    height = AXES_BOTTOM + PLOT_HEIGHT + AXES_TOP + key_height
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(FIG_WIDTH, height))
        ax = fig.add_axes([AXES_LEFT / FIG_WIDTH, (AXES_BOTTOM + key_height) / height,
                           width_in / FIG_WIDTH, PLOT_HEIGHT / height])
        ax.scatter(x, y, s=26, color=STUDY_COLOUR, edgecolor="white", lw=0.5, zorder=3,
                   gid="baujat-points")
        ax.set_xlim(*x_limits)
        ax.set_ylim(*y_limits)
        ax.axvline(float(np.mean(x)), color="#999999", lw=0.7, ls=":", zorder=1)
        ax.axhline(float(np.mean(y)), color="#999999", lw=0.7, ls=":", zorder=1)
        for i, text in enumerate(texts):
            # with no free place at all (very many studies) the text sits right of its point
            left, cy, far = placed[i] if placed is not None else (px[i] + RADII[0], py[i], False)
            arrow = {"arrowstyle": "-", "color": "#808080", "lw": 0.5, "shrinkA": 1,
                     "shrinkB": 3} if far else None
            at = (x_limits[0] + left / width_in * (x_limits[1] - x_limits[0]),
                  y_limits[0] + cy / PLOT_HEIGHT * (y_limits[1] - y_limits[0]))
            ax.annotate(text, (x[i], y[i]), xytext=at, textcoords="data", ha="left",
                        va="center", fontsize=LABEL_SIZE, arrowprops=arrow,
                        gid=f"baujat-label-{i}")
        if key_lines:
            fig.text(0.15 / FIG_WIDTH, (key_height - 0.05) / height, "\n".join(key_lines),
                     ha="left", va="top", fontsize=LABEL_SIZE, linespacing=1.5,
                     gid="baujat-key")
        fe = str(method).upper() in ("FE", "EE", "CE")
        ax.set_xlabel("Contribution to overall heterogeneity" if fe
                      else "Squared Pearson residual")
        ax.set_ylabel("Influence on overall result")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if title:
            ax.set_title(title, loc="left", fontweight="bold", fontsize=10)
    head = f"Baujat plot: {title}." if title else "Baujat plot."
    return set_alt_text(fig, (
        f"{head} {plural(len(labels), 'study')}: each study's contribution to the "
        f"heterogeneity (x) against its influence on the pooled estimate (y). Largest "
        f"contribution: {labels[int(np.argmax(x))]} ({x.max():.2f}); largest influence: "
        f"{labels[int(np.argmax(y))]} ({y.max():.2f})."))
