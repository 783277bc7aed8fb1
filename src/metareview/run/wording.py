"""What a coauthor reads is words: the pages sent to coauthors carry no internal identifier
and no rendering debris.

`problems(review)` reads the summary report (`06_summary.html`), the Word file
(`summary.docx`), takes the text a reader sees
(not scripts, styles, or `<code>` elements, which show file and parameter names as code), and
lists:

- identifiers in snake_case (``scar_volume_percent_improvement``, ``some_concerns``): the
  review's labels, the codebook's words or a `<code>` element should stand there;
- rendering debris: a literal ``\\n``, ``nan``/``NaN``, ``<NA>``, ``None``, Markdown asterisks
  (``**``) and "Table: no rows".

`make check` runs it for every review beside `consistency`.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

from metareview import files

__all__ = ["problems", "readable_text", "text_problems"]

# A word of lower-case letters and digits joined by underscores, not part of a path, a URL or
# a longer token; platform names such as x86_64 are not identifiers of the review.
SNAKE_CASE = re.compile(r"(?<![\w./:-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w/])")
NOT_IDENTIFIERS = {"x86_64"}
DEBRIS = re.compile(r"\\n|\bnan\b|\bNaN\b|<NA>|\bNone\b|\*\*|Table: no rows")
HIDDEN_TAGS = ("script", "style", "code", "pre")


class _Readable(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in HIDDEN_TAGS:
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag in HIDDEN_TAGS and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def readable_text(path: Path) -> str:
    """The text a reader sees in an HTML page or a Word file, without code elements; "" when
    the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return ""
    if path.suffix == ".docx":
        from docx import Document

        document = Document(str(path))
        parts = [p.text for p in document.paragraphs]
        parts += [cell.text for table in document.tables for row in table.rows
                  for cell in row.cells]
        return "\n".join(parts)
    parser = _Readable()
    parser.feed(path.read_text(encoding="utf-8"))
    return html.unescape("\n".join(parser.parts))


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


def problems(review: str) -> list[str]:
    """Identifiers and debris on the pages of `review` that go to coauthors."""
    reports = files.reports_dir(review)
    found: list[str] = []
    for name in ("06_summary.html", "summary.docx"):
        found += text_problems(readable_text(reports / name), f"{review}/{name}")
    return found
