"""The alternative text a saved figure carries: where it is kept in a PNG and how it is read.

`figures.style.save_figure` writes a figure's description into the PNG's "Description" text
chunk (a keyword the PNG specification predefines, 11.3.4.2); this module reads it back without
importing the plotting stack, so the index page and a later notebook can describe a saved
figure in the words its figure function chose.
"""

from __future__ import annotations

from pathlib import Path

PNG_ALT_KEY = "Description"


def read_alt_text(png: str | Path) -> str | None:
    """The alternative text written into a PNG, or None (no such file, none written, or a file
    that is not a readable PNG: a page still shows, with a plainer description)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(png)
    if not path.is_file():
        return None
    try:
        with Image.open(path) as image:
            # text chunks before the image data are in `info` without decoding the pixels
            text = image.info.get(PNG_ALT_KEY)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return None
    return str(text) if text else None
