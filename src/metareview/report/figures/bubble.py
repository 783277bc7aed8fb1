"""Bubble plot of a meta-regression on one continuous moderator (metafor's regplot)."""

from __future__ import annotations

from typing import Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from metareview.report.figures.forest import MEASURE_NAMES, ratio_ticks
from metareview.report.figures.style import (
    PI_COLOUR,
    POOLED_COLOUR,
    STUDY_COLOUR,
    STYLE,
    set_alt_text,
)
from metareview.stats.checks import check_study_data
from metareview.stats.moderators import INTERCEPT
from metareview.stats.vocabulary import is_ratio

LARGEST_BUBBLE = 420.0  # points², area of the heaviest study
SMALLEST_BUBBLE = 10.0


def _slope_term(fit) -> str:
    terms = [t for t in fit.estimate.index if t != INTERCEPT]
    if INTERCEPT not in fit.estimate.index or len(terms) != 1:
        raise ValueError("the bubble plot needs a meta-regression on one continuous moderator "
                         f"(terms intrcpt and one slope), got {list(fit.estimate.index)}")
    return terms[0]


def _check_fit_belongs(y: np.ndarray, v: np.ndarray, x: np.ndarray, fit) -> None:
    """Refuse a fit of other data: its coefficients must solve the weighted normal equations
    Xᵀ W (y − X β̂) = 0 of these studies, W = diag(1/(v_i + τ̂²)) (a check, not a refit)."""
    if x.shape != y.shape:
        raise ValueError(f"x has {x.size} values but there are {y.size} studies")
    X = np.column_stack([np.ones_like(x), x])
    tau2 = float(fit.tau2) if np.isfinite(fit.tau2) else 0.0
    w = 1.0 / (v + tau2)
    beta = fit.estimate.to_numpy(float)
    score = X.T @ (w * (y - X @ beta))
    scale = np.abs(X.T) @ (w * np.abs(y)) + np.finfo(float).tiny
    if int(fit.k) != y.size or not np.all(np.abs(score) <= 1e-6 * scale):
        raise ValueError("the meta-regression fit does not belong to these yi, vi and x")


def regression_band(yi: Sequence[float], vi: Sequence[float], x: Sequence[float], fit,
                    at: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The meta-regression line and its confidence band at moderator values `at`.

    Returns (pred, ci_low, ci_high) from ``fit.predict(at)`` (metafor's
    ``predict(res, newmods = at)``, which ``regplot`` draws), after checking that `fit`
    belongs to these yi, vi and x.
    """
    y, v = check_study_data(yi, vi)
    x = np.asarray(x, dtype=float)
    _slope_term(fit)
    _check_fit_belongs(y, v, x, fit)
    band = fit.predict(np.asarray(at, dtype=float))
    return (band["pred"].to_numpy(), band["ci_low"].to_numpy(), band["ci_high"].to_numpy())


def bubble_plot(yi: Sequence[float], vi: Sequence[float], x: Sequence[float], fit, *,
                xlabel: str, measure: str, title: str | None = None,
                labels: Sequence[str] | None = None) -> Figure:
    """Bubble plot of a meta-regression on one continuous moderator (metafor's ``regplot``).

    Parameters
    ----------
    yi, vi : sequence of float
        The studies' effects (analysis scale: log for ratios) and sampling variances.
    x : sequence of float
        The moderator.
    fit : MetaRegressionResult
        `metareview.meta_regression(yi, vi, x)`; the line and band are its ``predict``.
    xlabel : str
        Name of the moderator, with its unit.
    measure : str
        Effect measure, for the y axis (ratios drawn on the log scale, labelled as ratios).
    labels : sequence of str, optional
        Study labels, written beside the bubbles.

    Notes
    -----
    Each study is a circle of area proportional to its weight w_i = 1/(v_i + τ̂²) in the
    mixed-effects model. The line is the fitted β̂₀ + β̂₁x with its confidence band
    ŷ(x) ± c·√(x₀ᵀ V x₀), x₀ = (1, x), V the covariance of (β̂₀, β̂₁) and c the z (or, under
    the Knapp-Hartung test, t with k − 2 df) critical value, as metafor's ``regplot``. A
    dotted line marks no effect. Gids: ``bubble-points``, ``bubble-line``, ``bubble-band``.
    """
    y, v = check_study_data(yi, vi)
    x = np.asarray(x, dtype=float)
    span = float(np.ptp(x)) or 1.0
    grid = np.linspace(x.min() - 0.04 * span, x.max() + 0.04 * span, 200)
    line, band_low, band_high = regression_band(y, v, x, fit, grid)
    tau2 = float(fit.tau2) if np.isfinite(fit.tau2) else 0.0
    weights = 1.0 / (v + tau2)
    sizes = np.maximum(LARGEST_BUBBLE * weights / weights.max(), SMALLEST_BUBBLE)
    level = float(getattr(fit, "level", 0.95))
    slope = float(fit.estimate[_slope_term(fit)])
    se = float(fit.se[_slope_term(fit)])
    ratio = is_ratio(measure)
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(6.5, 4.8))
        ax = fig.add_axes([0.12, 0.11, 0.84, 0.76])
        ax.fill_between(grid, band_low, band_high, color="#d9d9d9", lw=0, zorder=1,
                        gid="bubble-band", label=f"{level * 100:g}% confidence band")
        ax.plot(grid, line, color=POOLED_COLOUR, lw=1.2, zorder=2, gid="bubble-line",
                label="Meta-regression line")
        ax.scatter(x, y, s=sizes, color=STUDY_COLOUR, alpha=0.55, edgecolor=STUDY_COLOUR,
                   lw=0.8, zorder=3, gid="bubble-points", label="Studies (area ∝ weight)")
        ax.axhline(0.0, color=PI_COLOUR, lw=0.7, ls=":", zorder=1)
        if labels is not None:
            for xi, yi_, label in zip(x, y, labels):
                ax.annotate(str(label), (xi, yi_), xytext=(6, 0), textcoords="offset points",
                            fontsize=7, va="center")
        name = MEASURE_NAMES.get(str(measure).upper(), str(measure))
        ax.set_xlabel(xlabel)
        ax.set_xlim(grid[0], grid[-1])
        if ratio:
            low, high = ax.get_ylim()
            ticks = ratio_ticks(low, high)
            ax.set_yticks(np.log(ticks))
            ax.set_yticklabels([f"{t:g}" for t in ticks])
            ax.set_ylabel(f"{name} (log scale)")
        else:
            ax.set_ylabel(name)
        ax.legend(loc="best", fontsize=7.5, frameon=False)
        note = (f"Slope {slope:.3f} (SE {se:.3f}){' on the log scale' if ratio else ''}; "
                f"residual τ² = {tau2:.3f}; k = {y.size}")
        ax.text(1.0, 1.01, note, transform=ax.transAxes, ha="right", va="bottom", fontsize=7.5)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if title:
            fig.suptitle(title, x=0.02, ha="left", fontweight="bold", fontsize=10)
    head = f"Bubble plot: {title}." if title else "Bubble plot."
    return set_alt_text(fig, (
        f"{head} {y.size} studies' {name}{' (log scale)' if ratio else ''} against {xlabel}, "
        f"bubbles sized by weight, with the meta-regression line and its "
        f"{level * 100:g}% confidence band: {note}."))
