"""Tables as a coauthor reads them: no index column, whole numbers as integers, numbers to a
sensible precision, no column that is empty throughout, and wide tables split into blocks that
fit the page instead of hiding behind a scrollbar."""

from __future__ import annotations

import html
import math
import re
from functools import lru_cache
from typing import Any, Sequence

import numpy as np
import pandas as pd

from metareview.report.text import format_number, format_p

# Columns read as p values (shown as "< 0.001" or three decimals).
P_COLUMNS = frozenset({"p", "pval", "p_value", "q_pval", "qm_pval", "q_between_pval",
                       "p_permutation", "p_combined"})
# More columns than this are split into blocks that repeat the key columns.
MAX_COLUMNS = 9


def _is_p_column(name: str) -> bool:
    return name in P_COLUMNS or name.endswith("_pval") or name.startswith("p ")


def _whole(series: pd.Series) -> bool:
    values = pd.to_numeric(series, errors="coerce").dropna()
    return len(values) > 0 and bool(np.all(np.isclose(values, np.round(values), rtol=0,
                                                      atol=1e-9)))


def format_cell(value: Any, *, p_value: bool = False, whole: bool = False) -> str:
    """One cell as text: empty for missing, integers without decimals, p values as p values."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if p_value:
            return format_p(float(value))
        if whole:
            return str(int(round(float(value))))
        return format_number(float(value))
    return str(value)


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` as text cells, without columns that are empty in every row."""
    out = {}
    for column in frame.columns:
        series = frame[column]
        if series.isna().all() or (series.astype(str).str.strip() == "").all():
            continue
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        whole = numeric and _whole(series)
        out[column] = [format_cell(v, p_value=_is_p_column(str(column)), whole=whole)
                       for v in series]
    return pd.DataFrame(out, index=range(len(frame)))


def column_blocks(columns: Sequence[str], key: Sequence[str], width: int) -> list[list[str]]:
    """Split `columns` into blocks of at most `width`, each starting with the key columns."""
    key = [c for c in key if c in columns]
    rest = [c for c in columns if c not in key]
    per_block = max(1, width - len(key))
    if len(columns) <= width:
        return [list(columns)]
    return [key + rest[i:i + per_block] for i in range(0, len(rest), per_block)]


def to_html(frame: pd.DataFrame, caption: str | None = None, key: Sequence[str] | None = None,
            max_columns: int = MAX_COLUMNS) -> str:
    """HTML of `readable(frame)`; wide tables become several blocks under one caption."""
    shown = readable(frame)
    if shown.empty and len(shown.columns) == 0:
        # Nothing to show: a captioned table says so in one line, an uncaptioned one (the
        # narrative above it has said why) shows nothing rather than an empty frame.
        return f"<p><em>{html.escape(caption)}: none.</em></p>" if caption else ""
    key = list(key) if key is not None else list(shown.columns[:1])
    parts = []
    if caption:
        parts.append(f'<p class="table-caption"><strong>{html.escape(caption)}</strong></p>')
    for block in column_blocks(list(shown.columns), key, max_columns):
        parts.append(shown[block].to_html(index=False, escape=True, border=0,
                                          classes="review-table", na_rep=""))
    return "\n".join(parts)


class DisplayTable:
    """A table that Jupyter shows as HTML (see `to_html`) and prints as plain text."""

    def __init__(self, frame: pd.DataFrame, caption: str | None = None,
                 key: Sequence[str] | None = None) -> None:
        self.frame, self.caption, self.key = frame, caption, key

    def _repr_html_(self) -> str:
        return to_html(self.frame, self.caption, self.key)

    def __repr__(self) -> str:
        return readable(self.frame).to_string(index=False)


def display_frame(frame: pd.DataFrame, caption: str | None = None,
                  key: Sequence[str] | None = None) -> DisplayTable:
    """What `Notebook.table` displays."""
    return DisplayTable(frame, caption, key)


def parameters_box(settings: dict[str, Any]) -> str:
    """The run's parameters in a collapsed box (HTML `<details>`)."""
    rows = "".join(
        f"<tr><td><code>{html.escape(str(name))}</code></td><td>{html.escape(str(value))}</td></tr>"
        for name, value in settings.items()
    )
    return ("<details class=\"parameters\"><summary>Parameters of this run</summary>"
            f"<table>{rows}</table></details>")


# --- narrative ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _markdown():
    """CommonMark with raw HTML escaped (mistune's `escape=True`): a `<script>` or an
    `onerror=` attribute in a sentence shows as text, never as an element. Links with a
    script, data or file address are replaced by mistune's harmless anchor. Headings get an id,
    as nbconvert gives them, so the report's table of contents lists them."""
    import mistune

    class Renderer(mistune.HTMLRenderer):
        def heading(self, text: str, level: int, **attrs: Any) -> str:
            plain = re.sub(r"<[^>]+>|&[^;\s]+;", "", text)
            slug = re.sub(r"[^A-Za-z0-9]+", "-", plain).strip("-") or f"section-{level}"
            return f'<h{level} id="{slug}">{text}</h{level}>\n'

    return mistune.create_markdown(renderer=Renderer(escape=True))


def markdown_html(text: str) -> str:
    """The HTML of one narrative text (Markdown written by the package, with any text from
    data escaped by `metareview.report.text.md`); raw HTML in it is shown as text."""
    return _markdown()(text)
