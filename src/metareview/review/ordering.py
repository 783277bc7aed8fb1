"""The order in which studies and subgroup levels are listed.

- Study ids in natural order: runs of digits compare as numbers, so e1, e2, e10 (text order
  would give e1, e10, e2). The letters compare as text, case included, so ids that differ only
  in their letters keep the order they have as text.
- Subgroup levels in the order `review.yaml` gives them: the keys of `conditions` and
  `intervention_classes`, the `allowed` list of a category study column, and the schema's list
  of designs. Values a review does not declare follow in natural order, and the studies that
  do not report the column come last, as `NOT_REPORTED`.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Sequence

import pandas as pd

from metareview.review import schema

# The level shown for a study whose cell of a subgroup column is empty.
NOT_REPORTED = "not reported"
# Columns holding study ids, sorted naturally wherever a table is sorted by them.
ID_COLUMNS = ("study_id",)
_DIGITS = re.compile(r"(\d+)")


def natural_key(value: Any) -> tuple:
    """Sort key of `value` in natural order: ("e", 10, "") for "e10".

    re.split with a capturing group alternates text and digit runs, always starting with
    text, so two keys compare text with text and number with number; the value itself breaks
    the tie between "e01" and "e1".
    """
    text = str(value)
    parts = tuple(int(part) if index % 2 else part
                  for index, part in enumerate(_DIGITS.split(text)))
    return parts, text


def natural_sorted(values: Iterable) -> list:
    """`values` sorted in natural order (see `natural_key`)."""
    return sorted(values, key=natural_key)


def natural_rank(series: pd.Series) -> pd.Series:
    """Each value's position in the natural order of the distinct values (missing stays
    missing), for `pandas.DataFrame.sort_values(key=...)`."""
    present = series.dropna().unique()
    position = {value: rank for rank, value in enumerate(natural_sorted(present))}
    return series.map(position)


def _sort_key(series: pd.Series) -> pd.Series:
    return natural_rank(series) if series.name in ID_COLUMNS else series


def sort_studies(frame: pd.DataFrame, columns: Sequence[str], **options) -> pd.DataFrame:
    """`frame.sort_values(columns)` (stable) with study ids in natural order."""
    return frame.sort_values(list(columns), key=_sort_key, kind="stable", **options)


def is_missing(value: Any) -> bool:
    """An empty cell: None, NaN or blank text."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def level_text(value: Any) -> str:
    """A cell as the level it names: text as it is, a whole number without ".0" (pandas reads
    a column of whole numbers with an empty cell as floats)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def declared_levels(definitions, column: str) -> tuple[str, ...]:
    """The levels of `column` in the order review.yaml (or the schema) lists them; empty
    when neither lists them (free text)."""
    if column == "design":
        return tuple(schema.ANALYSED_DESIGNS)
    if definitions is None:
        return ()
    if column == "condition":
        return tuple(definitions.conditions)
    if column == "intervention_class":
        return tuple(definitions.intervention_classes)
    for extra in definitions.study_columns:
        if extra.name == column:
            return tuple(extra.allowed)
    return ()


def ordered_levels(values: Iterable, definitions=None, column: str = "") -> list[str]:
    """The distinct levels among `values` (empty cells left out) in review.yaml order, then
    the undeclared ones in natural order."""
    present = {level_text(v) for v in values if not is_missing(v)}
    declared = [level for level in declared_levels(definitions, column) if level in present]
    return declared + natural_sorted(present - set(declared))
