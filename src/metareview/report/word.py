"""The summary of findings as a Word document for the manuscript (python-docx).

`write_word` writes a landscape document with the title, the review question, the
summary-of-findings table (the cells of `summary_of_findings`'s DataFrame, header row shaded and
repeated on every page, the GRADE certainty levels and any notes under it), the figures (the
PRISMA flow diagram and the main forest plots, each scaled to the page, numbered, with its
caption under it and as its alternative text) and the table of the characteristics of the
included studies. Columns share the page width: each gets room for its longest word, the rest
goes by the amount of text, the wordiest column (the footnotes) taking up to 30 % of the width.

Text is written as a reader sees it: Markdown emphasis (``**bold**``) becomes bold runs and
code marks (backticks) are dropped, so that no Markdown reaches the document.

The file is written atomically (`metareview.files.write_bytes`: a hidden temporary file, then
`os.replace`) and deterministically: the core properties (created, modified, last printed,
author, revision) are fixed, and the ZIP container is rewritten with fixed entry dates, so the
same tables give the same bytes on every run.
"""

from __future__ import annotations

import io
import math
import os
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Emu, Pt
from docx.table import _Cell
from PIL import Image

from metareview.files import write_bytes

__all__ = ["CERTAINTY_DEFINITIONS", "DOCUMENT_DATE", "WordFigure", "plain_runs", "plain_text",
           "write_word"]

# The date stamped in the document's properties and on the ZIP entries: a constant, so that
# the file does not change from run to run.
DOCUMENT_DATE = datetime(2000, 1, 1, tzinfo=UTC)
# The GRADE levels, in words, printed under the table (Balshem et al. 2011, GRADE 3).
CERTAINTY_DEFINITIONS = (
    "GRADE certainty of the evidence. High: the true effect is very likely close to the "
    "estimate. Moderate: the true effect is probably close to the estimate, but it may be "
    "substantially different. Low: the true effect may be substantially different from the "
    "estimate. Very low: the true effect is likely to be substantially different from the "
    "estimate."
)
HEADER_FILL = "D9D9D9"
TABLE_FONT = Pt(8)
WORDIEST_SHARE = 0.3
# Room kept under a figure on its page for the caption (landscape A4 with 1.5 cm margins).
CAPTION_ROOM = Cm(2.5)
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.S)


@dataclass(frozen=True)
class WordFigure:
    """A figure for the document: the PNG file and its caption (a sentence saying what the
    figure shows; also the picture's alternative text)."""

    path: Path
    caption: str


def write_word(path: str | os.PathLike, *, title: str, question: str, sof: pd.DataFrame,
               characteristics: pd.DataFrame, notes: Iterable[str] = (),
               figures: Sequence[WordFigure] = ()) -> Path:
    """Write the summary-of-findings document to `path` (.docx) and return the path.

    sof: the DataFrame of `summary_of_findings` (any DataFrame of text works: its columns are
    the header row, each row one table row, in order). characteristics: one row per included
    study (`metareview.report.descriptive.present_characteristics`). notes: paragraphs printed
    under the summary-of-findings table, after the GRADE definitions. figures: the figures to
    embed after the notes, numbered in their order (`metareview.report.word_figures`).
    """
    document = Document()
    section = _landscape(document)
    width = section.page_width - section.left_margin - section.right_margin
    _properties(document, title)

    document.add_heading(plain_text(title), level=0)
    paragraph = document.add_paragraph()
    paragraph.add_run("Question: ").bold = True
    plain_runs(paragraph, question)

    document.add_heading("Summary of findings", level=1)
    _table(document, sof, width)
    for text in (CERTAINTY_DEFINITIONS, *notes):
        note = document.add_paragraph()
        note.paragraph_format.space_before = Pt(4)
        note.paragraph_format.space_after = Pt(0)
        plain_runs(note, str(text), size=TABLE_FONT)

    if figures:
        document.add_heading("Figures", level=1)
        height = section.page_height - section.top_margin - section.bottom_margin
        for number, figure in enumerate(figures, start=1):
            _figure(document, figure, number, width, height - CAPTION_ROOM)

    document.add_heading("Characteristics of included studies", level=1)
    if len(characteristics):
        _table(document, characteristics, width)
    else:
        document.add_paragraph("No included studies.")

    buffer = io.BytesIO()
    document.save(buffer)
    return write_bytes(_stable_zip(buffer.getvalue()), path)


def _landscape(document):
    section = document.sections[0]
    width, height = section.page_width, section.page_height
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = max(width, height), min(width, height)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.5))
    return section


def _properties(document, title: str) -> None:
    core = document.core_properties
    # the document's properties hold at most 255 characters (the heading keeps the whole title)
    core.title = title if len(title) <= 255 else title[:254] + "…"
    core.author = "metareview"
    core.last_modified_by = "metareview"
    core.comments = ""
    core.revision = 1
    core.created = DOCUMENT_DATE
    core.modified = DOCUMENT_DATE
    core.last_printed = DOCUMENT_DATE


def _table(document, frame: pd.DataFrame, width: int):
    """A table of `frame`'s text: a bold, shaded header row repeated on each page, the page
    width shared among the columns by `_column_shares`."""
    table = document.add_table(rows=1, cols=len(frame.columns))
    table.style = "Table Grid"
    table.autofit = False
    header = table.rows[0]
    _repeat_header(header)
    for cell, name in zip(header.cells, frame.columns):
        plain_runs(cell.paragraphs[0], str(name), size=TABLE_FONT)
        _shade(cell, HEADER_FILL)
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for values in frame.itertuples(index=False):
        # the new row's own cells: `_Row.cells` lays out the whole table's grid again for
        # every row, which makes a table of thousands of rows take minutes
        row = table.add_row()
        for tc, value in zip(row._tr.tc_lst, values):
            plain_runs(_Cell(tc, table).paragraphs[0], cell_text(value), size=TABLE_FONT)
    shares = _column_shares(frame, width)
    for column, share in zip(table.columns, shares):
        column_width = Emu(int(width * share))
        column.width = column_width
        for cell in column.cells:
            cell.width = column_width
    return table


def _column_shares(frame: pd.DataFrame, width: int) -> list[float]:
    """Each column's share of the width. First every column gets room for its longest word
    (bold header or body text, up to 13 characters) plus the cell margins, so that words do
    not break; the rest is shared in proportion to the column's mean text length, so that long
    footnotes get the room they need and the rows stay short."""
    # 8 pt text: about 6.5 bold or 8.5 plain characters per centimetre (Cambria); the
    # default cell margins and borders take about 0.5 cm of every column.
    minimum, weights = [], []
    for name in frame.columns:
        body = [cell_text(value) for value in frame[name]]
        header_word = max((len(word) for word in str(name).split()), default=1)
        body_word = max((len(word) for text in body for word in text.split()), default=1)
        minimum.append(max(min(header_word, 13) / 6.5, min(body_word, 13) / 8.5) + 0.55)
        texts = [str(name), *body]
        weights.append(max(sum(map(len, texts)) / len(texts), 1.0))
    available = max(width / Cm(1), sum(minimum))
    spare = available - sum(minimum)
    total = sum(weights)
    shares = [(m + spare * w / total) / available for m, w in zip(minimum, weights)]
    # The wordiest column (the footnotes) gets up to WORDIEST_SHARE of the width from the
    # others' room beyond their longest word, since a narrow wordy column makes every row tall.
    wordiest = weights.index(max(weights))
    floors = [m / available for m in minimum]
    slack = sum(share - floor for i, (share, floor) in enumerate(zip(shares, floors))
                if i != wordiest)
    need = min(WORDIEST_SHARE - shares[wordiest], slack)
    if need > 0:
        shares = [share + need if i == wordiest else
                  share - need * (share - floor) / slack
                  for i, (share, floor) in enumerate(zip(shares, floors))]
    return shares


def _figure(document, figure: WordFigure, number: int, width: int, height: int) -> None:
    """The picture, as large as the page allows (never above its own size at its dpi), kept
    with its caption "Figure n. ..." under it; the caption is also its alternative text."""
    path = Path(figure.path)
    with Image.open(path) as image:
        pixels_wide, pixels_high = image.size
        dpi = image.info.get("dpi", (96, 96))[0] or 96
    natural = Emu(int(pixels_wide / dpi * 914400))
    fitted = min(natural, width, int(height * pixels_wide / pixels_high))
    paragraph = document.add_paragraph()
    paragraph.paragraph_format.keep_with_next = True
    picture = paragraph.add_run().add_picture(str(path), width=Emu(int(fitted)))
    caption = plain_text(figure.caption)
    picture._inline.docPr.set("descr", caption)
    picture._inline.docPr.set("title", f"Figure {number}")
    below = document.add_paragraph(style="Caption")
    below.add_run(f"Figure {number}. ").bold = True
    below.add_run(caption)


def plain_text(text: str) -> str:
    """`text` without Markdown marks: emphasis and code marks removed, the words kept."""
    return _BOLD.sub(r"\1", str(text)).replace("`", "")


def plain_runs(paragraph, text: str, size=None) -> None:
    """Add `text` to `paragraph` as runs: ``**bold**`` as a bold run, backticks dropped,
    line breaks kept (python-docx writes a newline as a line break)."""
    text = str(text).replace("`", "")
    position = 0
    for match in _BOLD.finditer(text):
        if match.start() > position:
            _run(paragraph, text[position:match.start()], size)
        _run(paragraph, match.group(1), size).bold = True
        position = match.end()
    if position < len(text) or not text:
        _run(paragraph, text[position:], size)


def _run(paragraph, text: str, size):
    run = paragraph.add_run(text)
    if size is not None:
        run.font.size = size
    return run


def cell_text(value) -> str:
    """A table value as text: "" for missing, whole floats without ".0", others as str."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else f"{value:g}"
    if value is pd.NA or value is pd.NaT:
        return ""
    return str(value)


def _shade(cell, fill: str) -> None:
    properties = cell._tc.get_or_add_tcPr()
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    properties.append(shading)


def _repeat_header(row) -> None:
    properties = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    properties.append(header)


def _stable_zip(data: bytes) -> bytes:
    """The same .docx with every ZIP entry dated DOCUMENT_DATE (python-docx stamps the time of
    saving), entries in their original order."""
    stamp = DOCUMENT_DATE.timetuple()[:6]
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, source.read(item.filename))
    return out.getvalue()
