"""Forest plots: studies, the pooled diamond, the prediction interval, subgroups."""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from matplotlib.transforms import blended_transform_factory

from metareview.report.figures.style import PI_COLOUR, POOLED_COLOUR, STUDY_COLOUR, STYLE
from metareview.stats.conversions import critical_value
from metareview.stats.vocabulary import is_ratio

# --- helpers --------------------------------------------------------------------------------


def favours_labels(measure: str, direction: str = "lower_is_better",
                   treatment: str = "cell therapy", control: str = "control") -> tuple[str, str]:
    """The (left, right) "favours" labels of an axis.

    Continuous effects are oriented so that negative favours the treatment (metareview.derive),
    so the left side favours it. Ratio measures keep treatment versus control: a ratio below 1
    means fewer events with treatment, which favours it when fewer events are better.
    """
    left, right = f"Favours {treatment}", f"Favours {control}"
    if is_ratio(measure) and direction == "higher_is_better":
        return right, left
    return left, right


def _fmt(value: float, digits: int = 2) -> str:
    if value is None or not np.isfinite(value):
        return "NA"
    text = f"{value:.{digits}f}"
    return "0." + "0" * digits if text == "-0." + "0" * digits else text


def _fmt_p(p: float) -> str:
    if p is None or not np.isfinite(p):
        return "NA"
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def _interval_text(est: float, low: float, high: float, ratio: bool, digits: int = 2) -> str:
    if ratio:
        est, low, high = np.exp(est), np.exp(low), np.exp(high)
    return f"{_fmt(est, digits)} [{_fmt(low, digits)}, {_fmt(high, digits)}]"


def _get(result, name: str, default=math.nan):
    """Read a field from a pool result object or from a dict / pandas row of its fields."""
    if result is None:
        return default
    if isinstance(result, (dict, pd.Series)):
        value = result.get(name, default)
    else:
        value = getattr(result, name, default)
    return default if value is None else value


def _tau2_ci(result) -> tuple[float, float]:
    pair = _get(result, "tau2_ci", None)
    if pair is not None and not isinstance(pair, float):
        return float(pair[0]), float(pair[1])
    return float(_get(result, "tau2_ci_low")), float(_get(result, "tau2_ci_high"))


def heterogeneity_text(result) -> str:
    """One line: tau² [CI], I², Q (df), p, as printed under a pooled estimate."""
    k = int(_get(result, "k", 0))
    if k < 2:
        return "Heterogeneity: not estimable with one study"
    q_df = _get(result, "q_df", k - 1)
    low, high = _tau2_ci(result)
    tau2 = _get(result, "tau2")
    tau_text = f"τ² = {_fmt(tau2, 3)}"
    if np.isfinite(low) and np.isfinite(high):
        tau_text += f" [{_fmt(low, 3)}, {_fmt(high, 3)}]"
    return (
        f"Heterogeneity: {tau_text}; I² = {_fmt(_get(result, 'i2'), 1)}%; "
        f"Q = {_fmt(_get(result, 'q'), 2)} (df = {int(q_df)}), p {_fmt_p(_get(result, 'q_pval'))}"
    )


def model_label(result) -> str:
    """E.g. "Random effects (REML, Hartung-Knapp)"."""
    method = str(_get(result, "method", "REML"))
    test = str(_get(result, "test", "z"))
    kind = "Common effect" if method == "FE" else "Random effects"
    inside = "inverse variance" if method == "FE" else method
    if test == "knha":
        inside += ", Hartung-Knapp"
    return f"{kind} ({inside})"


def _study_ci(yi: np.ndarray, vi: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    # Per-study intervals are Wald intervals, as in metafor's forest plots.
    z = critical_value(level)
    se = np.sqrt(vi)
    return yi - z * se, yi + z * se


def _marker_sizes(weights: np.ndarray) -> np.ndarray:
    # Marker side proportional to the square root of the weight: area ~ weight.
    w = np.asarray(weights, dtype=float)
    if w.size == 0 or not np.all(np.isfinite(w)) or w.max() <= 0:
        return np.full(w.shape, 6.0)
    return 3.0 + 9.0 * np.sqrt(w / w.max())


# --- forest plot ----------------------------------------------------------------------------


def _draw_rows(ax, rows: list[dict], ratio: bool, level: float) -> None:
    """Draw study, pooled and prediction rows (dicts with `kind` and numbers) at y = -i."""
    text_left = blended_transform_factory(ax.transAxes, ax.transData)
    for i, row in enumerate(rows):
        y = -i
        kind = row["kind"]
        label = row.get("label", "")
        weight_text = row.get("weight_text", "")
        if kind == "header":
            ax.text(-0.03, y, label, transform=text_left, ha="right", va="center",
                    fontweight="bold")
            continue
        if kind == "text":
            ax.text(-0.03, y, label, transform=text_left, ha="right", va="center",
                    fontsize=8, style="italic")
            continue
        if kind == "study":
            ax.plot([row["low"], row["high"]], [y, y], color=STUDY_COLOUR, lw=1.0,
                    solid_capstyle="butt", gid=f"study-ci-{i}")
            ax.plot([row["est"]], [y], marker="s", color=STUDY_COLOUR, linestyle="none",
                    markersize=row["size"], gid=f"study-{i}")
            estimate_text = _interval_text(row["est"], row["low"], row["high"], ratio)
        elif kind == "pooled":
            est, low, high = row["est"], row["low"], row["high"]
            diamond = Polygon([(low, y), (est, y + 0.35), (high, y), (est, y - 0.35)],
                              closed=True, facecolor=POOLED_COLOUR, edgecolor=POOLED_COLOUR,
                              gid=f"pooled-{i}")
            ax.add_patch(diamond)
            estimate_text = _interval_text(est, low, high, ratio)
        elif kind == "prediction":
            low, high = row["low"], row["high"]
            ax.plot([low, high], [y, y], color=PI_COLOUR, lw=1.6, gid=f"prediction-{i}")
            ax.plot([low, high], [y, y], color=PI_COLOUR, marker="|", markersize=7,
                    linestyle="none")
            estimate_text = (
                f"[{_fmt(np.exp(low) if ratio else low)}, {_fmt(np.exp(high) if ratio else high)}]"
            )
        else:
            raise ValueError(f"unknown forest row kind {kind!r}")
        weight = {"fontweight": "bold"} if kind == "pooled" else {}
        ax.text(-0.03, y, label, transform=text_left, ha="right", va="center", **weight)
        ax.text(1.03, y, estimate_text, transform=text_left, ha="left", va="center", **weight)
        ax.text(1.72, y, weight_text, transform=text_left, ha="right", va="center", **weight)


def _finish_forest_axes(ax, rows: list[dict], ratio: bool, favours: tuple[str, str],
                        xlabel: str, level: float, null: float) -> None:
    values = [r[key] for r in rows for key in ("low", "high", "est")
              if np.isfinite(r.get(key, np.nan))]
    lo, hi = (min(values), max(values)) if values else (-1.0, 1.0)
    lo, hi = min(lo, null), max(hi, null)
    pad = 0.05 * (hi - lo if hi > lo else 1.0)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(-len(rows) + 0.4, 1.2)
    ax.axvline(null, color="black", lw=0.8, zorder=0)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    if ratio:
        ticks = ratio_ticks(lo - pad, hi + pad)
        ax.set_xticks(np.log(ticks))
        ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.set_xlabel(xlabel)
    text_left = blended_transform_factory(ax.transAxes, ax.transData)
    pct = f"{level * 100:g}% CI"
    ax.text(-0.03, 1, "Study", transform=text_left, ha="right", va="center", fontweight="bold")
    ax.text(1.03, 1, f"Estimate [{pct}]", transform=text_left, ha="left", va="center",
            fontweight="bold")
    ax.text(1.72, 1, "Weight %", transform=text_left, ha="right", va="center",
            fontweight="bold")
    # "Favours" labels under the axis, either side of the line of no effect.
    ax.annotate(f"← {favours[0]}", xy=(null, 0), xycoords=("data", "axes fraction"),
                xytext=(-6, -36), textcoords="offset points", ha="right", va="top", fontsize=8)
    ax.annotate(f"{favours[1]} →", xy=(null, 0), xycoords=("data", "axes fraction"),
                xytext=(6, -36), textcoords="offset points", ha="left", va="top", fontsize=8)


def ratio_ticks(log_low: float, log_high: float) -> list[float]:
    candidates = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]
    ticks = [t for t in candidates if log_low <= math.log(t) <= log_high]
    if len(ticks) >= 2:
        return ticks
    return [round(math.exp(log_low), 2), 1, round(math.exp(log_high), 2)]


def _pooled_rows(result, label: str | None = None, show_prediction: bool = True) -> list[dict]:
    rows = [{
        "kind": "pooled",
        "label": label or model_label(result),
        "est": float(_get(result, "estimate")),
        "low": float(_get(result, "ci_low")),
        "high": float(_get(result, "ci_high")),
        "weight_text": "100.0",
    }]
    pi_low, pi_high = float(_get(result, "pi_low")), float(_get(result, "pi_high"))
    if show_prediction and np.isfinite(pi_low) and np.isfinite(pi_high) and \
            str(_get(result, "method", "")) != "FE":
        rows.append({"kind": "prediction", "label": "Prediction interval", "low": pi_low,
                     "high": pi_high})
    rows.append({"kind": "text", "label": heterogeneity_text(result)})
    return rows


def _study_rows(labels, yi, vi, weights, level) -> list[dict]:
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    low, high = _study_ci(yi, vi, level)
    if weights is None:
        weights = np.full(yi.shape, np.nan)
    weights = np.asarray(weights, dtype=float)
    sizes = _marker_sizes(weights)
    return [
        {"kind": "study", "label": str(lab), "est": e, "low": lo, "high": hi, "size": s,
         "weight_text": _fmt(w, 1) if np.isfinite(w) else ""}
        for lab, e, lo, hi, s, w in zip(labels, yi, low, high, sizes, weights)
    ]


def _forest_figure(rows: list[dict], measure: str, favours, xlabel, title, level) -> Figure:
    ratio = is_ratio(measure)
    null = 0.0
    if xlabel is None:
        xlabel = f"{measure} (log scale)" if ratio else str(measure)
    if favours is None:
        favours = favours_labels(measure)
    with matplotlib.rc_context(STYLE):
        height = 1.6 + 0.28 * (len(rows) + 1)
        fig = Figure(figsize=(10, height))
        ax = fig.add_axes([0.30, 1.05 / height, 0.38, 1 - 1.45 / height])
        _draw_rows(ax, rows, ratio, level)
        _finish_forest_axes(ax, rows, ratio, favours, xlabel, level, null)
        if title:
            fig.suptitle(title, x=0.02, ha="left", fontweight="bold", fontsize=10)
    return fig


def forest_plot(labels: Sequence[str], yi: Sequence[float], vi: Sequence[float], result=None,
                *, measure: str = "MD", favours: tuple[str, str] | None = None,
                xlabel: str | None = None, title: str | None = None, level: float = 0.95,
                show_prediction: bool = True) -> Figure:
    """Forest plot of one meta-analysis (layout after metafor's `forest.rma`).

    One row per study: label, square marker (area proportional to its weight in `result`),
    Wald confidence interval yi ± z·sqrt(vi), and the text columns "estimate [CI]" and
    "weight %". Below: the pooled diamond (its width is the pooled CI), the prediction interval
    as a red bar, and a line with tau² [CI], I², Q (df) and its p value. A vertical line marks
    no effect (0, or 1 for ratios) and "favours" labels sit either side of it under the axis.

    `result` is a pool result (`metareview.pool`) or a mapping of its fields; without it only
    the studies are drawn. Ratio measures are given on the log scale and shown as ratios.
    """
    weights = None if result is None else np.asarray(_get(result, "weights", None), dtype=float)
    rows = _study_rows(labels, yi, vi, weights, level)
    if result is not None:
        rows.append({"kind": "text", "label": ""})
        rows += _pooled_rows(result, show_prediction=show_prediction)
        if int(_get(result, "k", 0)) == 2:
            rows.append({"kind": "text", "label": "Caution: two studies only; tau² and the "
                                                  "intervals rest on very little information"})
    return _forest_figure(rows, measure, favours, xlabel, title, level)


def subgroup_forest_plot(effects: pd.DataFrame, group_column: str, group_results: dict,
                         overall=None, *, measure: str = "MD", label_column: str = "study_id",
                         favours: tuple[str, str] | None = None, xlabel: str | None = None,
                         title: str | None = None, level: float = 0.95,
                         test_text: str | None = None) -> Figure:
    """Forest plot with studies grouped under a header per subgroup and a diamond per group.

    `effects` holds `yi`, `vi`, the label column and the grouping column; `group_results`
    maps each group to its pool result (groups without one, e.g. k = 1, get no diamond).
    Weights shown are within-group weights. `overall` adds the overall diamond; `test_text`
    (e.g. the Q-between test) is printed at the bottom.
    """
    rows: list[dict] = []
    for group in sorted(effects[group_column].astype(str).unique()):
        part = effects[effects[group_column].astype(str) == group]
        result = group_results.get(group)
        rows.append({"kind": "header", "label": f"{group} (k = {len(part)})"})
        weights = None if result is None else np.asarray(_get(result, "weights", None), float)
        rows += _study_rows(part[label_column].tolist(), part["yi"], part["vi"], weights, level)
        if result is not None and int(_get(result, "k", 0)) >= 2:
            rows += _pooled_rows(result, label=f"Subgroup {group}", show_prediction=False)
        rows.append({"kind": "text", "label": ""})
    if overall is not None:
        rows += _pooled_rows(overall, label=f"Overall: {model_label(overall)}",
                             show_prediction=False)
    if test_text:
        rows.append({"kind": "text", "label": test_text})
    return _forest_figure(rows, measure, favours, xlabel, title, level)
