"""The look of every figure (fixed fonts, colours, stable SVG ids) and how figures are saved."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
import matplotlib.text
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
    # Labels come from the sheets: "US$5 vs US$10" is text, not math, and a stray "$" or "\\"
    # cannot stop a figure with a TeX parse error.
    "text.parse_math": False,
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
    plain_text(fig)
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASH_SALT, "svg.fonttype": "path"}):
        _atomic_save(fig, png, dict(format="png", dpi=PNG_DPI, metadata={"Software": None}))
        _atomic_save(
            fig, svg, dict(format="svg", metadata={"Date": None, "Creator": None})
        )
    close_figure(fig)
    return png, svg


def plain_text(fig: Figure) -> Figure:
    """Show every text of `fig` as written: no math text (a "$" in a label from the sheets
    is a dollar sign). `STYLE` sets this for texts made inside it; this covers the rest."""
    for text in fig.findobj(matplotlib.text.Text):
        text.set_parse_math(False)
        if text.get_wrap() and "$" in text.get_text():
            # matplotlib measures the lines of wrapped text as math whatever parse_math says
            text.set_wrap(False)
    return fig


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
