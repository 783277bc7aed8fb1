"""The look of every figure (fixed fonts, colours, stable SVG ids), its alternative text, and how
figures are saved.

Every figure function of the package describes what its figure shows in a sentence or two
(`set_alt_text`): the reports give it as the image's `alt` text, so a reader who cannot see the
image (a screen reader, a broken image, a text-only copy) still learns what it shows (WCAG 2.2,
success criterion 1.1.1, https://www.w3.org/TR/WCAG22/#non-text-content). `save_figure` writes
the text into the PNG (its standard "Description" text chunk, PNG specification 11.3.4.2) and the
SVG (Dublin Core description), so the text travels with the file and a later notebook that
shows a saved figure (`metareview.report.alt_text.read_alt_text`) gives the same description.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
import matplotlib.text
from matplotlib.figure import Figure

from metareview.files import inside
from metareview.report.alt_text import PNG_ALT_KEY

# A report shows a figure at its size in inches at 96 CSS pixels per inch
# (`report.notebook.display_width`); twice that is sharp on high-density screens and in a Word
# document printed at its size, and takes less to draw than 300 dpi. The SVG of
# a figure a reader may want to scale (`report.figure_names.has_vector`) serves print at any size.
PNG_DPI = 192
# zlib level 3 rather than PIL's 6: the three reviews' 54 PNGs are 1% larger (7.9 MB for 7.8) and
# take a third less time to compress (1.5 s for 2.3 s).
PNG_COMPRESS_LEVEL = 3
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
# the Bayesian model's diamond (open) and prediction interval beside the frequentist ones
BAYES_COLOUR = "#5e3c99"

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


# --- alternative text -----------------------------------------------------------------------

ALT_TEXT_ATTRIBUTE = "_metareview_alt_text"


def set_alt_text(fig: Figure, text: str) -> Figure:
    """Attach the alternative text of `fig` (what it shows, in words); returns `fig`.

    Whitespace runs are collapsed to single spaces, so the text is one paragraph."""
    cleaned = " ".join(str(text).split())
    if not cleaned:
        raise ValueError("an alternative text must say what the figure shows; it is empty")
    setattr(fig, ALT_TEXT_ATTRIBUTE, cleaned)
    return fig


def alt_text(fig: Figure) -> str | None:
    """The alternative text attached by `set_alt_text`, or None."""
    return getattr(fig, ALT_TEXT_ATTRIBUTE, None)


# --- saving ---------------------------------------------------------------------------------


def save_figure(fig: Figure, path_stem: str | Path, within: str | Path | None = None,
                vector: bool = True) -> tuple[Path, Path | None]:
    """Write `fig` as `<path_stem>.png` (`PNG_DPI`) and, when `vector`, `<path_stem>.svg`,
    then release it.

    Both files are reproducible byte for byte: the SVG hash salt is fixed (stable element ids),
    the SVG carries no date and no creator version, and the PNG no software tag. The figure's
    alternative text (`set_alt_text`), when it has one, is written into both (PNG
    "Description", SVG description). Parent folders are created. `within`: the folder the
    figures belong in (a stem resolving outside it is refused before anything is written).
    Returns the PNG's path and the SVG's (None when not written; an SVG left from an earlier
    run under the same name is removed, so the folder never holds a vector of another drawing).
    """
    stem = Path(path_stem)
    # the suffixes are added to the name, never swapped for a part of it ("a.b" stays whole)
    png, svg = stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg")
    if within is not None:
        inside(png, within), inside(svg, within)
    stem.parent.mkdir(parents=True, exist_ok=True)
    description = alt_text(fig)
    png_metadata = {"Software": None}
    svg_metadata = {"Date": None, "Creator": None}
    if description:
        png_metadata[PNG_ALT_KEY] = description
        svg_metadata["Description"] = description
    plain_text(fig)
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASH_SALT, "svg.fonttype": "path"}):
        # Each file is cropped by its own renderer's measure of the text ("tight"): the SVG's
        # extents differ from the PNG's by up to 10 pt, so one box for both clips the SVG.
        _atomic_save(fig, png, dict(format="png", dpi=PNG_DPI, metadata=png_metadata,
                                    pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL}))
        if vector:
            _atomic_save(fig, svg, dict(format="svg", metadata=svg_metadata))
        else:
            svg.unlink(missing_ok=True)
    close_figure(fig)
    return png, svg if vector else None


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
