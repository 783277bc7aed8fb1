"""Cumulative forest plot: the pooled estimate as studies are added one at a time."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from metareview.report.figures.forest import (
    MEASURE_NAMES,
    _interval_text,
    axis_label,
    estimate_text,
    favours_labels,
    revman_p,
)
from metareview.report.figures.layout import (
    Column,
    Row,
    clip_interval,
    symmetric_axis,
    table_figure,
)
from metareview.report.figures.style import POOLED_COLOUR, STUDY_COLOUR, set_alt_text
from metareview.stats.vocabulary import is_ratio

MARKER_SIZE = 6.0  # points: every step has the same square, as metafor's forest.cumul.rma


def _p_cell(p: float) -> str:
    # "P = 0.12" -> "0.12", "P < 0.0001" -> "< 0.0001"
    return revman_p(p)[2:].removeprefix("= ")


def cumulative_forest_plot(table: pd.DataFrame, labels: Sequence[str], measure: str,
                           favours: tuple[str, str] | None = None, *,
                           direction: str = "lower_is_better",
                           years: Sequence | None = None, level: float = 0.95,
                           order_label: str = "year", title: str | None = None) -> Figure:
    """Forest plot of a cumulative meta-analysis (metafor's ``forest(cumul(res))``).

    Parameters
    ----------
    table : pandas.DataFrame
        The result of `metareview.stats.diagnostics.cumulative`: one row per step, with the
        column ``study`` (input position of the study added), ``k``, ``estimate``,
        ``ci_low``, ``ci_high``, ``pval``, ``i2``.
    labels : sequence of str
        Study labels in input order (the order of the yi given to `cumulative`); without a
        ``study`` column in `table`, the labels of the steps in order.
    measure : str
        Ratios are printed back-transformed and drawn on a log axis.
    favours : (str, str) or None
        Labels under the axis, as for `forest_plot` (None: `favours_labels(measure,
        direction)`).
    direction : str
        The outcome's better direction, for the default "favours" sides.
    years : sequence, optional
        Year of each study, input order like `labels`: printed in a column.
    level : float
        Level of the intervals in `table` (for the header).
    order_label : str
        What the studies are ordered by, for the note under the plot.

    Notes
    -----
    Row j shows the model fitted to the studies of rows 1 to j: a square at the estimate with
    its confidence interval, k, the estimate [CI], I² and the p value. The first row is one
    study alone; the last row, in bold, is the meta-analysis of all studies. The axis covers
    every estimate and the intervals of the first and the last row; an interval of a step in
    between that is wider (two or three studies, a Hartung-Knapp t with 1 or 2 df) ends in an
    arrow at the edge. A ratio axis is titled "<measure> (log scale)".
    Squares carry the gids ``cumulative-<step>``, intervals ``cumulative-ci-<step>``.
    """
    table = table.reset_index(drop=True)
    labels = [str(label) for label in labels]
    if "study" in table.columns:
        positions = table["study"].astype(int).tolist()
        if max(positions, default=-1) >= len(labels):
            raise ValueError(f"the table adds study {max(positions)} but only {len(labels)} "
                             "labels were given (one per study, in input order)")
    else:
        if len(labels) != len(table):
            raise ValueError(f"{len(labels)} labels for {len(table)} steps")
        positions = list(range(len(table)))
    ratio = is_ratio(measure)
    if favours is None:
        favours = favours_labels(measure, direction)
    rows = []
    for step, position in enumerate(positions):
        record = table.iloc[step]
        est, low, high = (float(record[key]) for key in ("estimate", "ci_low", "ci_high"))
        i2 = float(record.get("i2", np.nan))
        cells = {
            "label": ("" if step == 0 else "+ ") + labels[position],
            "k": f"{int(record.get('k', step + 1))}",
            "estimate": _interval_text(est, low, high, ratio),
            "i2": f"{i2:.0f}%" if np.isfinite(i2) else "–",
            "p": _p_cell(float(record.get("pval", np.nan))),
        }
        if years is not None:
            cells["year"] = str(list(years)[position])
        rows.append(Row("step", cells, bold=step == len(positions) - 1,
                        data={"est": est, "low": low, "high": high, "step": step + 1}))
    name = MEASURE_NAMES.get(str(measure).upper(), str(measure))
    pct = f"{level * 100:g}% CI"
    left = [Column("label", "Study added", align="left")]
    if years is not None:
        left.append(Column("year", "Year"))
    left += [Column("k", "k"), Column("estimate", pct, group=name, align="center"),
             Column("i2", "I²"), Column("p", "P")]
    values = [row.data["est"] for row in rows]
    values += [rows[i].data[key] for i in {0, len(rows) - 1} for key in ("low", "high")]
    axis = symmetric_axis(values, ratio=ratio, favours=favours, label=axis_label(measure))
    total = int(table["k"].iloc[-1]) if "k" in table.columns else len(rows)
    if total == len(rows):
        footer = [f"Studies added one at a time in order of {order_label}; each row pools the "
                  "studies of the rows above it and its own.",
                  f"First row: one study alone (I² not estimable); last row: all {len(rows)} "
                  "studies."]
    else:  # a subset of the steps (`diagnostics.cumulative(steps=...)`)
        footer = [f"Studies added in order of {order_label}; {len(rows)} of the {total:,} steps "
                  "are shown, evenly spaced: each row pools the first k studies (k in its "
                  "column), the study named being the k-th.",
                  f"Last row: all {total:,} studies."]
    figure = table_figure(rows, left, [], axis=axis, graph_header=("Cumulative", f"{name}, {pct}"),
                          footer=footer, title=title)
    ax = figure.ax
    for i, row in enumerate(rows):
        last = i == len(rows) - 1
        colour = POOLED_COLOUR if last else STUDY_COLOUR
        clip_interval(ax, row.data["low"], row.data["high"], -i, colour=colour,
                      lw=1.3 if last else 0.9, gid=f"cumulative-ci-{row.data['step']}")
        ax.plot([row.data["est"]], [-i], marker="s", markersize=MARKER_SIZE, color=colour,
                linestyle="none", gid=f"cumulative-{row.data['step']}", zorder=3)
    last = rows[-1].data
    head = f"Cumulative forest plot: {title}." if title else "Cumulative forest plot."
    first = rows[0].cells["label"]
    overall = estimate_text(measure, last["est"], last["low"], last["high"])
    return set_alt_text(figure.fig, (
        f"{head} {total:,} studies added " + ("one at a time" if total == len(rows) else
                                               f"in {len(rows)} steps")
        + f" in order of {order_label}, from {first}; with all studies {overall} ({pct})."))
