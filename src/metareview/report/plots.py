"""Figures of the review: forest, subgroup forest, funnel, risk-of-bias traffic light, PRISMA flow.

Every function returns a `matplotlib.figure.Figure` built without pyplot's global state, so a
notebook can display it and `save_figure` can write it as PNG (300 dpi) and SVG that are
byte-identical from run to run: SVG element ids come from a fixed hash salt, text is drawn as
paths, and no date or software version is written into either file.

Effects are drawn on the scale they are analysed on. Ratio measures (log RR, log OR) are
back-transformed for the reader: the axis is logarithmic and labelled with ratios, as in
metafor's `forest(..., atransf = exp)`.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Polygon
from matplotlib.transforms import blended_transform_factory

from metareview.stats.conversions import critical_value
from metareview.stats.vocabulary import is_ratio

PNG_DPI = 300
SVG_HASH_SALT = "metareview"

# Fixed look for every figure (colour-blind safe palette, plain sans-serif font).
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.linewidth": 0.8,
    "xtick.labelsize": 8,
    "svg.fonttype": "path",
    "svg.hashsalt": SVG_HASH_SALT,
}
STUDY_COLOUR = "#1f4e79"
POOLED_COLOUR = "#000000"
PI_COLOUR = "#b2182b"
FILLED_COLOUR = "#d95f02"

ROB_COLOURS = {
    "low": "#1a9850",
    "some_concerns": "#fee08b",
    "moderate": "#fee08b",
    "high": "#d73027",
    "serious": "#d73027",
    "critical": "#7f0000",
    "no_information": "#bdbdbd",
}
ROB_SYMBOLS = {
    "low": "+",
    "some_concerns": "−",
    "moderate": "−",
    "high": "×",
    "serious": "×",
    "critical": "!",
    "no_information": "?",
}


# --- saving ---------------------------------------------------------------------------------


def save_figure(fig: Figure, path_stem: str | Path) -> tuple[Path, Path]:
    """Write `fig` as `<path_stem>.png` (300 dpi) and `<path_stem>.svg`, then release it.

    Both files are reproducible byte for byte: the SVG hash salt is fixed (stable element ids),
    the SVG carries no date and no creator version, and the PNG no software tag. Parent folders
    are created. Returns the two paths.
    """
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASH_SALT, "svg.fonttype": "path"}):
        _atomic_save(fig, png, dict(format="png", dpi=PNG_DPI, metadata={"Software": None}))
        _atomic_save(
            fig, svg, dict(format="svg", metadata={"Date": None, "Creator": None})
        )
    close_figure(fig)
    return png, svg


def _atomic_save(fig: Figure, path: Path, options: dict) -> None:
    # Write beside the target and rename, so an interrupted run never leaves half a figure.
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, bbox_inches="tight", facecolor="white", **options)
    tmp.replace(path)


def close_figure(fig: Figure) -> None:
    """Forget a figure made with pyplot so that its memory is freed.

    Figures of this module are plain `Figure` objects that pyplot never tracks; closing them
    is needed only for figures a caller made with pyplot.
    """
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)


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
        ticks = _ratio_ticks(lo - pad, hi + pad)
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


def _ratio_ticks(log_low: float, log_high: float) -> list[float]:
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


# --- funnel plot ----------------------------------------------------------------------------


def funnel_plot(yi: Sequence[float], vi: Sequence[float], estimate: float, *,
                filled_yi: Sequence[float] | None = None,
                filled_vi: Sequence[float] | None = None, measure: str = "MD",
                title: str | None = None, level: float = 0.95) -> Figure:
    """Funnel plot: effect against standard error (inverted axis), as metafor's `funnel`.

    The pseudo-confidence region is estimate ± z·SE for SE from 0 to the largest SE, drawn at
    the 90%, 95% and 99% levels (darker = narrower). Studies imputed by trim-and-fill
    (`filled_yi`, `filled_vi`) are drawn as open circles in another colour.
    """
    yi = np.asarray(yi, dtype=float)
    se = np.sqrt(np.asarray(vi, dtype=float))
    filled_yi = np.asarray([] if filled_yi is None else filled_yi, dtype=float)
    filled_se = np.sqrt(np.asarray([] if filled_vi is None else filled_vi, dtype=float))
    ratio = is_ratio(measure)
    max_se = float(np.max(np.concatenate([se, filled_se]))) * 1.05 if se.size else 1.0
    grid = np.linspace(0.0, max_se, 50)
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(7.5, 4.5))
        ax = fig.add_axes([0.1, 0.12, 0.62, 0.8])
        for lev, shade in ((0.99, "#f0f0f0"), (0.95, "#d9d9d9"), (0.90, "#bdbdbd")):
            z = critical_value(lev)
            ax.fill_betweenx(grid, estimate - z * grid, estimate + z * grid, color=shade,
                             lw=0, label=f"{lev * 100:g}% pseudo-CI")
        ax.axvline(estimate, color="black", lw=0.8, label="Pooled estimate")
        ax.scatter(yi, se, s=28, color=STUDY_COLOUR, edgecolor="white", lw=0.5, zorder=3,
                   label="Studies", gid="funnel-studies")
        if filled_yi.size:
            ax.scatter(filled_yi, filled_se, s=28, facecolor="white", edgecolor=FILLED_COLOUR,
                       lw=1.2, zorder=3, label="Filled (trim-and-fill)", gid="funnel-filled")
        ax.set_ylim(max_se, 0)
        ax.set_ylabel("Standard error")
        ax.set_xlabel(f"{measure} (log scale)" if ratio else str(measure))
        if ratio:
            low, high = ax.get_xlim()
            ticks = _ratio_ticks(low, high)
            ax.set_xticks(np.log(ticks))
            ax.set_xticklabels([f"{t:g}" for t in ticks])
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
        for side in ("right", "top"):
            ax.spines[side].set_visible(False)
        if title:
            ax.set_title(title, loc="left", fontweight="bold", fontsize=10)
    return fig


# --- risk of bias ---------------------------------------------------------------------------


def _domain_order(domain: str) -> tuple[int, str]:
    if domain == "overall":
        return (10_000, domain)
    digits = "".join(ch for ch in domain if ch.isdigit())
    return (int(digits) if digits else 5_000, domain)


def rob_traffic_light(rob: pd.DataFrame, title: str | None = None) -> Figure:
    """Traffic-light plot: studies (rows) × domains (columns), one coloured circle per judgement.

    `rob` has the columns of risk_of_bias.csv (study_id, tool, domain, judgement). One panel per
    tool (RoB 2, ROBINS-I), since their domains differ. Symbols repeat the colour's meaning
    (+ low, − some concerns / moderate, × high / serious, ! critical, ? no information) so the
    figure reads in grey scale too.
    """
    present = set(rob["tool"].astype(str)) if len(rob) else set()
    # RoB 2 (randomised trials) first, as reviews usually report them
    tools = [t for t in ("RoB2", "ROBINS-I") if t in present] + sorted(
        present - {"RoB2", "ROBINS-I"})
    with matplotlib.rc_context(STYLE):
        if not tools:
            fig = Figure(figsize=(5, 1.2))
            fig.text(0.5, 0.5, "No risk-of-bias judgements recorded", ha="center", va="center")
            return fig
        heights = [rob[rob["tool"] == t]["study_id"].nunique() + 1 for t in tools]
        fig = Figure(figsize=(7.5, 0.32 * sum(heights) + 1.2))
        axes = fig.subplots(len(tools), 1, squeeze=False,
                            gridspec_kw={"height_ratios": heights})[:, 0]
        for ax, tool in zip(axes, tools):
            part = rob[rob["tool"] == tool]
            studies = sorted(part["study_id"].astype(str).unique())
            domains = sorted(part["domain"].astype(str).unique(), key=_domain_order)
            for _, row in part.iterrows():
                x = domains.index(str(row["domain"]))
                y = studies.index(str(row["study_id"]))
                judgement = str(row["judgement"])
                ax.scatter([x], [y], s=190, color=ROB_COLOURS.get(judgement, "white"),
                           edgecolor="#404040", lw=0.6, gid=f"rob-{tool}-{y}-{x}")
                ax.text(x, y, ROB_SYMBOLS.get(judgement, "?"), ha="center", va="center",
                        fontsize=9, fontweight="bold", color="black")
            ax.set_xticks(range(len(domains)))
            ax.set_xticklabels([d.capitalize() if d == "overall" else d for d in domains])
            ax.xaxis.tick_top()
            ax.set_yticks(range(len(studies)))
            ax.set_yticklabels(studies)
            ax.set_xlim(-0.6, len(domains) - 0.4)
            ax.set_ylim(len(studies) - 0.5, -0.5)
            ax.set_title("RoB 2" if tool == "RoB2" else tool, loc="left", fontweight="bold",
                         fontsize=9, pad=18)
            ax.tick_params(length=0)
            for spine in ax.spines.values():
                spine.set_visible(False)
        present = [j for j in ROB_COLOURS if j in set(rob["judgement"].astype(str))]
        handles = [
            Line2D([], [], marker="o", linestyle="none", markersize=9,
                   markerfacecolor=ROB_COLOURS[j], markeredgecolor="#404040",
                   label=f"{ROB_SYMBOLS[j]}  {j.replace('_', ' ')}")
            for j in present
        ]
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4),
                   frameon=False, fontsize=8)
        height = fig.get_figheight()
        fig.subplots_adjust(left=0.25, right=0.97, top=1 - 0.75 / height,
                            bottom=0.8 / height + 0.02, hspace=0.35)
        if title:
            fig.suptitle(title, x=0.02, ha="left", fontweight="bold", fontsize=10)
    return fig


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
    return fig


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
