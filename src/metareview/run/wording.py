"""What a coauthor reads is words: the pages sent to coauthors carry no internal identifier
and no rendering debris.

`problems(review)` reads every report of the review (`01_data_cleaning.html` to
`06_summary.html`) and the Word file (`summary.docx`), takes the text a reader sees
(not scripts, styles, or `<code>` elements, which show file and parameter names as code), and
lists:

- identifiers in snake_case (``scar_volume_percent_improvement``, ``some_concerns``): the
  review's labels, the codebook's words or a `<code>` element should stand there;
- rendering debris: a literal ``\\n``, ``nan``/``NaN``, ``<NA>``, ``None``, Markdown asterisks
  (``**``) and "Table: no rows".

`make check` runs it for every review beside `consistency`.
"""

from __future__ import annotations

import re
from pathlib import Path

from metareview import files
from metareview.run.consistency import visible_text

__all__ = ["problems", "readable_text", "text_problems"]

# A word of lower-case letters and digits joined by underscores, not part of a path, a URL or
# a longer token; platform names such as x86_64 are not identifiers of the review.
SNAKE_CASE = re.compile(r"(?<![\w./:-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w/])")
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


def problems(review: str) -> list[str]:
    """Identifiers and debris on the pages of `review` that go to coauthors."""
    reports = files.reports_dir(review)
    found: list[str] = []
    pages = sorted(p.name for p in reports.glob("[0-9][0-9]_*.html")) + ["summary.docx"]
    for name in pages:
        found += text_problems(readable_text(reports / name), f"{review}/{name}")
    return found
