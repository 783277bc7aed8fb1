"""Figures of a review. Every function returns a `matplotlib.figure.Figure` built without
pyplot's global state, so a notebook can display it and `save_figure` writes it as PNG (300 dpi)
and SVG that are byte-identical from run to run.

Effects are drawn on the scale they are analysed on; ratio measures (log RR, log OR) get a
logarithmic axis labelled with ratios, as metafor's `forest(..., atransf = exp)`.
"""

from metareview.report.figures.effect_direction import effect_direction_plot
from metareview.report.figures.forest import (
    favours_labels,
    forest_plot,
    heterogeneity_text,
    model_label,
    subgroup_forest_plot,
)
from metareview.report.figures.funnel import funnel_plot
from metareview.report.figures.prisma import prisma_flow
from metareview.report.figures.risk_of_bias import rob_traffic_light
from metareview.report.figures.style import PNG_DPI, close_figure, save_figure

__all__ = [
    "PNG_DPI", "close_figure", "effect_direction_plot", "favours_labels", "forest_plot",
    "funnel_plot", "heterogeneity_text", "model_label", "prisma_flow", "rob_traffic_light",
    "save_figure", "subgroup_forest_plot",
]
