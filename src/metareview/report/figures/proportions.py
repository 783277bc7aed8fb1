"""Forest plot of single-arm proportions, grouped (e.g. by disease), on the 0-100% scale."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from scipy import stats

from metareview.report import text
from metareview.report.figures.layout import (
    MAX_STUDY_ROWS,
    Axis,
    Column,
    Row,
    band_rows,
    clip_interval,
    draw_band,
    summarised,
    table_figure,
)
from metareview.report.figures.style import PI_COLOUR, POOLED_COLOUR, STUDY_COLOUR, set_alt_text

DIAMOND_HALF_HEIGHT = 0.36
SQUARE_SIZE = 5.0


BAND_ROWS = 10  # rows of height of each group's band when there are many studies


def clopper_pearson(events: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson 1934) interval of a binomial proportion, on the 0-1 scale."""
    interval = stats.binomtest(int(events), int(total)).proportion_ci(confidence_level=level,
                                                                      method="exact")
    return float(interval.low), float(interval.high)


def _field(summary, name: str, default=math.nan):
    """A field of a group's summary: a mapping or a result object such as `pool_glmm`'s."""
    if isinstance(summary, dict):
        value = summary.get(name, default)
    else:
        value = getattr(summary, name, default)
    return default if value is None else value


def _percent(value: float) -> str:
    return f"{100 * value:.1f}" if value is not None and np.isfinite(value) else "NA"


def _interval(est: float, low: float, high: float) -> str:
    return f"{_percent(est)} [{_percent(low)}, {_percent(high)}]"


def proportion_forest_plot(rows: pd.DataFrame, groups: dict, *, title: str | None = None,
                           group_column: str = "group", level: float = 0.95,
                           group_labels: dict | None = None,
                           group_order=None) -> Figure:
    """Forest plot of single-arm proportions, grouped under headings, on a 0-100% axis.

    Parameters
    ----------
    rows : pandas.DataFrame
        One row per study: ``label``, ``events``, ``total`` and `group_column`.
    groups : dict
        Group → dict(pred, pred_ci_low, pred_ci_high, pi_low, pi_high, k, n): the group's
        pooled proportion with its confidence and prediction intervals on the 0-1 scale, k
        studies and n participants (a `metareview.pool_glmm` result also serves; n then is the
        sum of the group's totals). A group missing here (or with k < 2) is drawn without a
        pooled row.
    group_column : str
        Column of `rows` holding the group.
    level : float
        Level of the studies' exact intervals.
    group_labels : dict, optional
        Group value → its heading (e.g. "atopic_dermatitis" → "Atopic dermatitis"); a value
        not in it is shown as it is.
    group_order : sequence, optional
        The groups in the order they are drawn (review.yaml's order of the levels); groups not
        in it follow in the order of their headings.

    Notes
    -----
    Each study: events/total and the proportion with its exact Clopper-Pearson interval
    (``scipy.stats.binomtest(...).proportion_ci(method="exact")``), drawn as a square with its
    interval. Each group: a diamond at the pooled proportion spanning its confidence interval,
    and the prediction interval as a red bar beneath. Groups in `group_order`, else in the
    order of their headings; studies within a group in the order of `rows`. Gids:
    ``study-<i>``, ``study-ci-<i>``, ``pooled-<group>``, ``prediction-<group>``. The alternative text names each group's pooled proportion.
    """
    frame = pd.DataFrame(rows).reset_index(drop=True)
    missing = [c for c in ("label", "events", "total", group_column) if c not in frame.columns]
    if missing:
        raise ValueError(f"proportion forest plot rows need the columns {missing}")
    pct = f"{level * 100:g}% CI"
    table_rows: list[Row] = []
    names = frame[group_column].astype(str)
    lookup = {str(key): value for key, value in groups.items()}
    headings = {str(k): str(v) for k, v in (group_labels or {}).items()}
    described = []
    order = [str(g) for g in (group_order or ()) if str(g) in set(names)]
    order += sorted(set(names) - set(order), key=lambda g: (headings.get(g, g), g))
    banded = summarised(len(frame))  # a band per group, not a row per study
    for group in order:
        members = np.flatnonzero(names.to_numpy() == group)
        heading = headings.get(group, group)
        table_rows.append(Row("header", span=heading, bold=True))
        studies = []
        for i in members:
            events, total = int(frame["events"].iloc[i]), int(frame["total"].iloc[i])
            low, high = clopper_pearson(events, total, level)
            est = events / total
            studies.append(Row("study", {"label": str(frame["label"].iloc[i]),
                                         "events": str(events), "total": str(total),
                                         "estimate": _interval(est, low, high)},
                               data={"est": est, "low": low, "high": high, "index": int(i)}))
        if banded:  # on the axis's percent scale, as `_draw` draws the rows
            studies = band_rows(*(100 * np.array([r.data[key] for r in studies])
                                  for key in ("est", "low", "high")),
                                height=min(BAND_ROWS, len(studies)))
        table_rows += studies
        summary = lookup.get(group)
        if summary is not None and int(_field(summary, "k", 0)) >= 2:
            n = _field(summary, "n", frame["total"].iloc[members].sum())
            est, low, high, pi_low, pi_high = (float(_field(summary, key)) for key in (
                "pred", "pred_ci_low", "pred_ci_high", "pi_low", "pi_high"))
            table_rows.append(Row("pooled", {
                "label": f"Pooled (k = {int(_field(summary, 'k'))}, n = {int(n)})",
                "estimate": _interval(est, low, high)}, bold=True,
                data={"est": est, "low": low, "high": high, "group": group}))
            described.append(f"{heading}: pooled {_percent(est)}% [{_percent(low)}, "
                             f"{_percent(high)}] ({text.plural(int(_field(summary, 'k')), 'study')}"
                             f", {text.plural(int(n), 'participant')})")
            if np.isfinite(pi_low) and np.isfinite(pi_high):
                table_rows.append(Row("prediction", {
                    "label": "Prediction interval",
                    "estimate": f"[{_percent(pi_low)}, {_percent(pi_high)}]"}, italic=True,
                    data={"low": pi_low, "high": pi_high, "group": group}))
        else:
            events = int(frame["events"].iloc[members].sum())
            total = int(frame["total"].iloc[members].sum())
            described.append(f"{heading}: {text.plural(len(members), 'study')}, not pooled "
                             f"({events} of {text.plural(total, 'participant')})")
        table_rows.append(Row("text", {}))
    if table_rows and table_rows[-1].kind == "text":
        table_rows.pop()
    left = [Column("label", "Study or Subgroup", align="left"), Column("events", "Events"),
            Column("total", "Total"), Column("estimate", pct, group="Proportion (%)",
                                             align="center")]
    ticks = (0.0, 25.0, 50.0, 75.0, 100.0)
    axis = Axis(limits=(0.0, 100.0), ticks=ticks, tick_labels=tuple(f"{t:g}%" for t in ticks),
                null=None, label="Proportion")
    footer = [f"Studies: proportion with its exact (Clopper-Pearson) {pct}; groups: pooled "
              "proportion with its CI (diamond) and prediction interval (red bar)."]
    if banded:
        footer.append(f"More than {MAX_STUDY_ROWS} studies: each group's are drawn as one band, "
                      "each study's interval a line and its proportion a dot, sorted; the "
                      "numbers of each study are in the table of proportions.")
    table = table_figure(table_rows, left, [], axis=axis,
                         graph_header=("Proportion (%)", pct), footer=footer, title=title)
    ax = table.ax
    for i, row in enumerate(table_rows):
        y = -i
        d = row.data
        if row.kind == "band":
            draw_band(ax, d, y)
        elif row.kind == "study":
            clip_interval(ax, 100 * d["low"], 100 * d["high"], y, colour="black", lw=0.9,
                          gid=f"study-ci-{d['index']}")
            ax.plot([100 * d["est"]], [y], marker="s", markersize=SQUARE_SIZE,
                    color=STUDY_COLOUR, linestyle="none", gid=f"study-{d['index']}", zorder=3)
        elif row.kind == "pooled":
            h = DIAMOND_HALF_HEIGHT
            est, low, high = 100 * d["est"], 100 * d["low"], 100 * d["high"]
            ax.add_patch(Polygon([(low, y), (est, y + h), (high, y), (est, y - h)],
                                 closed=True, facecolor=POOLED_COLOUR, edgecolor=POOLED_COLOUR,
                                 lw=0.5, zorder=3, gid=f"pooled-{d['group']}"))
        elif row.kind == "prediction":
            clip_interval(ax, 100 * d["low"], 100 * d["high"], y, colour=PI_COLOUR, lw=1.6,
                          gid=f"prediction-{d['group']}")
            ax.plot([100 * d["low"], 100 * d["high"]], [y, y], marker="|", markersize=6,
                    color=PI_COLOUR, linestyle="none")
    head = f"Forest plot of proportions: {title}." if title else "Forest plot of proportions."
    return set_alt_text(table.fig, f"{head} {text.plural(len(frame), 'study')} in "
                        f"{text.plural(len(described), 'group')}, {pct} in brackets. "
                        + "; ".join(described) + ".")
