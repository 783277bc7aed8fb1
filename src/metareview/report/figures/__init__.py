"""Figures of a review. Every function returns a `matplotlib.figure.Figure` built without
pyplot's global state, so a notebook can display it and `save_figure` writes it as PNG (`PNG_DPI`)
and, for the main figures (`report.figure_names`), SVG, byte-identical from run to run.

Effects are drawn on the scale they are analysed on; ratio measures (log RR, log OR) get a
logarithmic axis labelled with ratios, as metafor's `forest(..., atransf = exp)`.

- forest plots as RevMan draws them (`forest_plot`, `subgroup_forest_plot`), with the
  cumulative (`cumulative_forest_plot`) and single-arm proportion (`proportion_forest_plot`)
  versions sharing their table layout (`layout.py`);
- diagnostics: `funnel_plot`, `baujat_plot`, `bubble_plot` (meta-regression, metafor's
  regplot);
- risk of bias: `rob_traffic_light`, `rob_summary_bar`; `prisma_flow`;
  `effect_direction_plot`.
"""

from metareview.report.figures.effect_direction import effect_direction_plot
from metareview.report.figures.bubble import bubble_plot, regression_band
from metareview.report.figures.cumulative import cumulative_forest_plot
from metareview.report.figures.forest import (
    favours_labels,
    forest_plot,
    heterogeneity_text,
    model_label,
    overall_effect_text,
    revman_heterogeneity_text,
    subgroup_difference_text,
    subgroup_forest_plot,
)
from metareview.report.figures.funnel import funnel_plot
from metareview.report.figures.influence import baujat_plot
from metareview.report.figures.prisma import prisma_flow
from metareview.report.figures.proportions import proportion_forest_plot
from metareview.report.figures.layout import MAX_STUDY_ROWS
from metareview.report.figures.risk_of_bias import (
    rob_summary_bar,
    rob_traffic_light,
    traffic_light_fits,
)
from metareview.report.figures.style import PNG_DPI, close_figure, save_figure

__all__ = [
    "MAX_STUDY_ROWS", "PNG_DPI", "baujat_plot", "bubble_plot", "close_figure", "cumulative_forest_plot",
    "effect_direction_plot", "favours_labels", "forest_plot", "funnel_plot",
    "heterogeneity_text", "model_label", "overall_effect_text", "prisma_flow",
    "proportion_forest_plot", "regression_band", "revman_heterogeneity_text", "rob_summary_bar",
    "rob_traffic_light", "save_figure", "subgroup_difference_text", "subgroup_forest_plot",
    "traffic_light_fits",
]
