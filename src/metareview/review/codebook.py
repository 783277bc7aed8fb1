"""Render the column reference of a review's CODEBOOK.md from the sheet schema.

The codebook is raw data (it is checksummed with the sheets), so it is written by hand or
by this helper, never by the pipeline. `python -m metareview.codebook data/raw/<review>`
prints the column part and the outcome table; the review's authors add the prose around it.
A test keeps every review's CODEBOOK.md in step with `schema.py` and `outcomes.csv`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from metareview.review.schema import SHEETS, Column


def _kind(column: Column) -> str:
    if column.kind == "category":
        return "one of " + ", ".join(f"`{v}`" for v in column.allowed)
    bounds = []
    if column.minimum is not None:
        bounds.append(f"{'>' if column.exclusive_minimum else '>='} {column.minimum:g}")
    if column.maximum is not None:
        bounds.append(f"<= {column.maximum:g}")
    return column.kind + (f" ({', '.join(bounds)})" if bounds else "")


def columns_markdown() -> str:
    """One table per sheet: column, type and range, required, meaning."""
    parts = []
    for sheet in SHEETS:
        key = ", ".join(sheet.key)
        optional = " (optional)" if sheet.optional else ""
        parts.append(f"### `{sheet.filename}`{optional}\n\n{sheet.description}; key: {key}.\n")
        parts.append("| column | type | required | meaning |\n|---|---|---|---|")
        for column in sheet.columns:
            required = "yes" if column.required else ""
            parts.append(
                f"| `{column.name}` | {_kind(column)} | {required} | {column.description} |"
            )
        parts.append("")
    return "\n".join(parts)


def outcomes_markdown(outcomes: pd.DataFrame) -> str:
    """The outcome table of a review: id, label, type, measure, scale, unit, direction, range."""
    lines = [
        "| outcome | label | type | pooled as | scale | unit | direction | range |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in outcomes.fillna("").to_dict("records"):
        span = f"{row['range_min']}–{row['range_max']}" if row["range_min"] != "" else ""
        lines.append(
            f"| `{row['outcome']}` | {row['label']} | {row['type']} | {row['measure']} | "
            f"{row['scale']} | {row['unit']} | {row['direction'].replace('_', ' ')} | {span} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m metareview.codebook data/raw/<review>", file=sys.stderr)
        return 2
    outcomes = pd.read_csv(Path(argv[0]) / "outcomes.csv", dtype=str, keep_default_na=False)
    print("## Outcomes\n")
    print(outcomes_markdown(outcomes))
    print("## Columns\n")
    print(columns_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
