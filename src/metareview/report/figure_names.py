"""Which saved figures are the review's own and which are also written as SVG, by file name.

One rule for the three places that need it: the notebook helper that saves a figure
(`report.notebook.Notebook.figure`), the index that shows the main figures first and links their
SVG, and the check that every such figure has its SVG (`run.record`). It reads names only, so the
index and the check need no plotting library.
"""

from __future__ import annotations

# The figures the index shows first: the review's own, as a manuscript would carry them.
MAIN_FIGURES = ("forest", "proportions", "effect_direction", "prisma_flow",
                "rob_traffic_light", "rob_summary", "subgroup", "bubble")
# Added to a figure's name when it shows the analysis of all studies (a sensitivity analysis).
ALL_STUDIES_SUFFIX = "_all_studies"


def is_main_figure(name: str) -> bool:
    """Whether a figure (file name without extension) is one of `MAIN_FIGURES`, sensitivity
    variants included."""
    return name.startswith(MAIN_FIGURES)


def has_vector(name: str) -> bool:
    """Whether a figure is saved as SVG beside its PNG: a main figure of the main analysis.
    Sensitivity variants and diagnostics (funnel, cumulative, leave-one-out, Baujat) are PNG
    only: a reader scales the main figures for print, and each SVG costs a second drawing."""
    return is_main_figure(name) and not name.endswith(ALL_STUDIES_SUFFIX)
