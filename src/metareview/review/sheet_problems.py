"""What the validation of a review's sheets reports, and the parsed sheet it reads.

`Problem` and `SheetValidationError` are what `metareview.review.sheets.load_review` raises;
`Table` is one sheet after parsing, which both the reading (`review.sheets`) and the rules
(`review.sheet_rules`) work on; `Problems` collects what they find.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from metareview.files import shorten
from metareview.review.schema import Sheet

__all__ = ["Problem", "Problems", "SheetValidationError", "Table", "closest"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a review folder, located as a spreadsheet user would look for it."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str
    fix: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        if self.value is not None:
            where.append(f"value {shorten(self.value, 80)}")
        text = f"{', '.join(where)}: {self.rule}"
        return f"{text} Fix: {self.fix[:1].upper()}{self.fix[1:]}" if self.fix else text


class SheetValidationError(ValueError):
    """The review folder has problems; `.problems` lists every one of them."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the extraction sheets:"
        super().__init__("\n".join([head, *(str(p) for p in self.problems)]))

    def __reduce__(self):
        # rebuilt from the problems (not the message) when sent between processes
        return (SheetValidationError, (self.problems,))




@dataclass
class Table:
    """One sheet after parsing: raw cell text and parsed values (None = empty or invalid)."""

    sheet: Sheet
    file: str
    rows: list[int]
    text: dict[str, list[str | None]]
    values: dict[str, list[Any]]
    header: frozenset[str]

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, column: str, i: int) -> Any:
        return self.values[column][i]

    def raw(self, column: str, i: int) -> str | None:
        return self.text[column][i]


class Problems(list):
    """The problems found so far, in the order found."""

    def add(self, file, row, column, value, rule, fix=""):
        self.append(Problem(file, row, column, value, rule, fix))



def closest(name: str, options) -> str | None:
    """The option `name` most likely meant (same letters in another case, else a close
    spelling), or None."""
    lowered = {o.lower(): o for o in options}
    if name.lower() in lowered:
        return lowered[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None
