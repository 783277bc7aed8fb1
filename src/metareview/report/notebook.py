"""The set-up every review notebook needs, in one call.

A notebook's first code cell after its `parameters` cell is::

    from metareview.report.notebook import start
    nb = start(globals())

`start` reads the parameter values from the notebook's namespace (the `parameters` cell, or
what papermill injected), checks them with the same rules as `params/<review>.yaml`, sets up
inline figures and table display, and returns a `Notebook` that knows the review's folders and
shows, saves and narrates: `nb.say(text)`, `nb.figure(fig, name)`, `nb.table(frame, name)`,
`nb.write(frame, name)` (a processed table) and `nb.read(name)`.

Everything a test should check lives in the package; this module only wires it to a notebook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from metareview import files
from metareview.report.display import display_frame, markdown_html, parameters_box
from metareview.report.words import Words, review_words
from metareview.review import params as review_params
from metareview.review.sheets import Review, load_review


def _in_ipython():
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is part of the stack
        return None
    return get_ipython()


def _display(obj) -> None:
    if _in_ipython() is None:
        print(obj if isinstance(obj, str) else repr(obj))
        return
    from IPython.display import display

    display(obj)


SCREEN_DPI = 96  # CSS pixels per inch
MAX_DISPLAY_WIDTH = 980  # pixels: wider figures are shown scaled down to the report's column


def display_width(png: Path) -> int:
    """Width in CSS pixels at which a saved figure is shown: its size in inches at 96 pixels
    per inch (its text then has the point size it was drawn with), at most
    MAX_DISPLAY_WIDTH."""
    from PIL import Image

    from metareview.report.figures.style import PNG_DPI

    with Image.open(png) as image:
        dpi = image.info.get("dpi", (PNG_DPI, PNG_DPI))[0] or PNG_DPI
        inches = image.size[0] / float(dpi)
    return min(MAX_DISPLAY_WIDTH, int(round(inches * SCREEN_DPI)))


@dataclass
class Notebook:
    """One review notebook's settings and folders, and how it shows and saves results."""

    review: str
    settings: dict[str, Any]
    raw: Path = field(init=False)
    processed: Path = field(init=False)
    figures: Path = field(init=False)
    tables: Path = field(init=False)
    reports: Path = field(init=False)

    def __post_init__(self) -> None:
        self.raw = files.raw_dir(self.review)
        self.processed = files.processed_dir(self.review)
        self.figures = files.figures_dir(self.review)
        self.tables = files.tables_dir(self.review)
        self.reports = files.reports_dir(self.review)
        self.processed.mkdir(parents=True, exist_ok=True)

    # --- the review's data -----------------------------------------------------------------

    @cached_property
    def data(self) -> Review:
        """The validated sheets of data/raw/<review>/ (read once per notebook)."""
        return load_review(self.raw)

    @cached_property
    def words(self) -> Words:
        """The review's words for its identifiers (`report.words.review_words`); the schema's
        words only, when there is no review folder (a notebook used outside a review)."""
        if not self.raw.is_dir():
            return Words()
        return review_words(self.data)

    @property
    def model(self) -> dict[str, Any]:
        """The model settings as keyword arguments of the table builders."""
        s = self.settings
        return {"method": s["tau2_method"], "test": s["test"], "min_k": s["min_k_pool"],
                "level": s["level"]}

    # --- showing and saving ------------------------------------------------------------------

    def say(self, text: str) -> None:
        """Show a sentence (Markdown) of the narrative.

        It reaches the report as HTML rendered here with raw HTML escaped
        (`display.markdown_html`), so that text from the sheets or review.yaml that slipped
        into a sentence unescaped still cannot add an element or a script to the page."""
        if _in_ipython() is None:
            print(text)
            return
        from IPython.display import HTML

        _display(HTML(markdown_html(text)))

    def figure(self, fig, name: str, alt: str | None = None) -> None:
        """Write a figure to reports/<review>/figures/<name>.png (and .svg for a figure the
        index links as a vector, `figure_names.has_vector`), and show the saved PNG (drawn
        once, not again for the screen) with its alternative text.

        `alt` (default: the text the figure function attached, `figures.style.alt_text`)
        says what the figure shows; it becomes the image's `alt` in the HTML report and is
        written into the PNG and SVG. A figure without one is refused: every image of a report
        needs a description (WCAG 2.2, 1.1.1)."""
        from metareview.report.figure_names import has_vector
        from metareview.report.figures.style import alt_text, save_figure, set_alt_text

        name = files.check_name(name, "figure name")
        if alt is not None:
            set_alt_text(fig, alt)
        description = alt_text(fig)
        if not description:
            raise ValueError(f"figure {name!r} has no alternative text: give nb.figure(..., "
                             "alt='what it shows') or set it with figures.style.set_alt_text")
        png, _ = save_figure(fig, self.figures / name, within=self.figures,
                             vector=has_vector(name))
        self._show_png(png, description)

    def _show_png(self, png: Path, description: str) -> None:
        if _in_ipython() is None:
            print(f"[figure {files.display_path(png)}: {description}]")
            return
        from IPython.display import Image

        _display(Image(data=png.read_bytes(), format="png", width=display_width(png),
                       alt=description))

    def table(self, frame: pd.DataFrame, name: str | None = None, *,
              caption: str | None = None, key: list[str] | None = None) -> None:
        """Show a table for readers (no index column, whole numbers as integers, no empty
        columns; a wide table in blocks that each start with the `key` columns) and, when
        named, write it as CSV to reports/<review>/tables/<name>.csv.

        The table shown is in the review's words (`words.Words.frame`: labels for outcomes,
        studies, comparisons and coded values, headers in words); the CSV keeps the
        identifiers, on which a reader filters and joins."""
        if name:
            self.save_table(frame, name)
        words = self.words
        shown_key = None if key is None else [words.header(column) for column in key]
        _display(display_frame(words.frame(frame), caption=words.word(caption), key=shown_key))

    def save_table(self, frame: pd.DataFrame, name: str) -> Path:
        """Write a table for readers to reports/<review>/tables/<name>.csv without showing it
        (the report shows it in parts)."""
        name = files.check_name(name, "table name")
        return files.write_csv(frame, self.tables / f"{name}.csv", within=self.tables,
                               spreadsheet=True)

    def image(self, name: str) -> bool:
        """Show a figure an earlier notebook saved (figures/<name>.png) with the alternative
        text saved in it; False if absent."""
        from metareview.report.alt_text import read_alt_text

        path = files.inside(self.figures / f"{files.check_name(name, 'figure name')}.png",
                            self.figures)
        if not path.is_file():
            return False
        description = read_alt_text(path) or f"Figure {name.replace('_', ' ')}"
        self._show_png(path, description)
        return True

    def show_parameters(self) -> None:
        """The collapsed box of this run's parameters."""
        if _in_ipython() is None:
            print(self.settings)
            return
        from IPython.display import HTML

        _display(HTML(parameters_box(self.settings)))

    def write(self, frame: pd.DataFrame, name: str) -> Path:
        """Write a processed table to data/processed/<review>/<name>.csv (atomically)."""
        name = files.check_name(name, "table name")
        return files.write_csv(frame, self.processed / f"{name}.csv", within=self.processed)

    def read(self, name: str, **options) -> pd.DataFrame:
        """Read a processed table an earlier notebook wrote."""
        path = files.inside(self.processed / f"{files.check_name(name, 'table name')}.csv",
                            self.processed)
        return pd.read_csv(path, keep_default_na=False,
                           na_values=[""], **options)


def start(namespace: dict[str, Any], show_parameters: bool = True) -> Notebook:
    """Check the notebook's parameters and set up display; return its `Notebook`.

    `namespace` is the notebook's `globals()`: the values of every parameter of
    `metareview.review.params.DEFAULTS` found there are checked (a typo or a value outside the
    rules raises `ParameterError`, naming the parameter). The checked values are shown in a
    collapsed box, so a reader sees what was run without the dictionary filling the page;
    `show_parameters=False` leaves the box to `Notebook.show_parameters` (the summary shows it
    in its methods section at the end).
    """
    review = namespace.get("review")
    given = {name: namespace[name] for name in review_params.DEFAULTS if name in namespace}
    settings = review_params.load_params(review, overrides=given)
    shell = _in_ipython()
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")
        from IPython.display import HTML

        if show_parameters:
            _display(HTML(parameters_box(settings)))
    pd.set_option("display.precision", 3)
    pd.set_option("display.max_colwidth", 120)
    pd.set_option("display.max_rows", 200)
    return Notebook(review=settings["review"], settings=settings)


__all__ = ["Notebook", "start"]
