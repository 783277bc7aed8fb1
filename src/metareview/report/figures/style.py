"""The look of every figure (fixed fonts, colours, stable SVG ids) and how figures are saved."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from metareview.files import inside

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

# One colour per judgement within each tool, graded from green to dark red (robvis's order):
# RoB 2 low / some concerns / high; ROBINS-I low / moderate / serious / critical. "Some
# concerns" and "moderate" differ so that a page with both tools never merges them.
ROB_COLOURS = {
    "low": "#1a9850",
    "some_concerns": "#fee08b",
    "moderate": "#fdae61",
    "high": "#d73027",
    "serious": "#d73027",
    "critical": "#7f0000",
    "no_information": "#bdbdbd",
    "unclear": "#fee08b",  # RoB 1 (RevMan 5)
}
ROB_SYMBOLS = {
    "low": "+",
    "some_concerns": "−",
    "moderate": "−",
    "high": "×",
    "serious": "×",
    "critical": "!",
    "no_information": "?",
    "unclear": "?",
}


# --- saving ---------------------------------------------------------------------------------


def save_figure(fig: Figure, path_stem: str | Path, within: str | Path | None = None
                ) -> tuple[Path, Path]:
    """Write `fig` as `<path_stem>.png` (300 dpi) and `<path_stem>.svg`, then release it.

    Both files are reproducible byte for byte: the SVG hash salt is fixed (stable element ids),
    the SVG carries no date and no creator version, and the PNG no software tag. Parent folders
    are created. `within`: the folder the figures belong in (a stem resolving outside it is
    refused before anything is written). Returns the two paths.
    """
    stem = Path(path_stem)
    # the suffixes are added to the name, never swapped for a part of it ("a.b" stays whole)
    png, svg = stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg")
    if within is not None:
        inside(png, within), inside(svg, within)
    stem.parent.mkdir(parents=True, exist_ok=True)
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
