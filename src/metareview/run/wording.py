"""What a coauthor reads is words: the pages sent to coauthors carry no internal identifier
and no rendering debris.

`problems(review)` reads every report of the review (`01_data_cleaning.html` to
`06_summary.html`) and the Word file (`summary.docx`), takes the text a reader sees
(not scripts, styles, or `<code>` elements, which show file and parameter names as code), and
lists:

- identifiers in snake_case (``scar_volume_percent_improvement``, ``some_concerns``): the
  review's labels, the codebook's words or a `<code>` element should stand there;
- tables with more than half of their cells empty;
- rendering debris: a literal ``\\n``, ``nan``/``NaN``, ``<NA>``, ``None``, Markdown asterisks
  (``**``) and "Table: no rows".

`make check` runs it for every review beside `consistency`.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from metareview import files
from metareview.report.words import SNAKE_CASE
from metareview.run.consistency import visible_text

__all__ = ["half_empty_tables", "problems", "readable_text", "text_problems"]

# Platform names such as x86_64 are not identifiers of the review.
NOT_IDENTIFIERS = {"x86_64"}
# "None" is debris as a whole cell or value; inside a sentence quoted from a source it is a word.
DEBRIS = re.compile(r"\\n|\bnan\b|\bNaN\b|<NA>|(?m:^[ \t]*None[ \t]*$)|\*\*|Table: no rows")
HIDDEN_TAGS = ("script", "style", "code", "pre")


def readable_text(path: Path) -> str:
    """The text a reader sees in an HTML page or a Word file, without code elements; "" when
    the file does not exist."""
    return visible_text(path, hidden=HIDDEN_TAGS)


def text_problems(text: str, where: str) -> list[str]:
    """The identifiers and debris in `text`, each named once with its count and `where`."""
    found = []
    identifiers = sorted(set(SNAKE_CASE.findall(text)) - NOT_IDENTIFIERS)
    for word in identifiers:
        found.append(f"{where}: identifier {word!r} in the text "
                     f"({len(re.findall(re.escape(word), text))} times)")
    for debris in sorted(set(DEBRIS.findall(text))):
        found.append(f"{where}: {debris!r} in the text")
    return found


class _TableCells(HTMLParser):
    """Counts the body cells (`<td>`) of each table of a page and how many are empty."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[list] = []  # per open table: [cells, empty, first words]
        self.done: list[tuple[int, int, str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "table":
            self.open.append([0, 0, ""])
        elif tag == "td" and self.open:
            self.cell = []

    def handle_endtag(self, tag) -> None:
        if tag == "td" and self.open and self.cell is not None:
            table = self.open[-1]
            table[0] += 1
            table[1] += not "".join(self.cell).strip()
            self.cell = None
        elif tag == "table" and self.open:
            self.done.append(tuple(self.open.pop()))

    def handle_data(self, data) -> None:
        if self.cell is not None:
            self.cell.append(data)
        if self.open and not self.open[-1][2] and data.strip():
            self.open[-1][2] = " ".join(data.split())[:40]


def half_empty_tables(page: str, where: str) -> list[str]:
    """Each table of an HTML page with more than half of its cells empty, named by its first
    words: a table a reader has to scan for the few cells that say something."""
    parser = _TableCells()
    parser.feed(page)
    return [f"{where}: table starting {first!r} has {empty} of {cells} cells empty"
            for cells, empty, first in parser.done if cells and empty * 2 > cells]


def problems(review: str) -> list[str]:
    """Identifiers and debris on the pages of `review` that go to coauthors."""
    reports = files.reports_dir(review)
    found: list[str] = []
    pages = sorted(p.name for p in reports.glob("[0-9][0-9]_*.html")) + ["summary.docx"]
    for name in pages:
        found += text_problems(readable_text(reports / name), f"{review}/{name}")
        if name.endswith(".html") and (reports / name).is_file():
            found += half_empty_tables((reports / name).read_text(encoding="utf-8"),
                                       f"{review}/{name}")
    return found
