"""Funnel plot with trim-and-fill studies."""

from __future__ import annotations

from typing import Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from metareview.report.figures.forest import ratio_ticks
from metareview.report.figures.style import FILLED_COLOUR, STUDY_COLOUR, STYLE, set_alt_text
from metareview.report.text import format_number, plural
from metareview.stats.conversions import critical_value
from metareview.stats.vocabulary import is_ratio

# --- funnel plot ----------------------------------------------------------------------------


def funnel_plot(yi: Sequence[float], vi: Sequence[float], estimate: float, *,
                filled_yi: Sequence[float] | None = None,
                filled_vi: Sequence[float] | None = None, measure: str = "MD",
                title: str | None = None, level: float = 0.95) -> Figure:
    """Funnel plot: effect against standard error (inverted axis), as metafor's `funnel`.

    The pseudo-confidence region is estimate ± z·SE for SE from 0 to the largest SE, drawn at
    the 90%, 95% and 99% levels (darker = narrower). Studies imputed by trim-and-fill
    (`filled_yi`, `filled_vi`) are drawn as open circles in another colour. The alternative
    text gives k, the pooled estimate and how many studies trim-and-fill adds.
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
            ticks = ratio_ticks(low, high)
            ax.set_xticks(np.log(ticks))
            ax.set_xticklabels([f"{t:g}" for t in ticks])
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
        for side in ("right", "top"):
            ax.spines[side].set_visible(False)
        if title:
            ax.set_title(title, loc="left", fontweight="bold", fontsize=10)
    shown = float(np.exp(estimate)) if ratio else float(estimate)
    head = f"Funnel plot: {title}." if title else "Funnel plot."
    return set_alt_text(fig, (
        f"{head} {plural(yi.size, 'study')}: each study's {measure} against its standard error, "
        f"around the pooled {measure} of {format_number(shown)}; trim-and-fill adds "
        f"{plural(filled_yi.size, 'study')}, drawn open."))
