"""Every review's CODEBOOK.md documents every column of the schema and every outcome it uses."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from metareview.review.schema import SHEETS

RAW = Path(__file__).resolve().parents[1] / "data" / "raw"
REVIEWS = sorted(p for p in RAW.iterdir() if (p / "outcomes.csv").exists())


def test_there_is_a_review():
    assert REVIEWS, "no review folder with an outcomes.csv under data/raw"


@pytest.mark.parametrize("folder", REVIEWS, ids=lambda p: p.name)
def test_codebook_names_every_column_and_outcome(folder):
    codebook = (folder / "CODEBOOK.md").read_text(encoding="utf-8")

    def header(sheet):
        path = folder / sheet.filename
        return path.read_text(encoding="utf-8-sig").split("\n", 1)[0] if path.is_file() else ""

    # a column added later (may_be_absent) is documented where the review's sheet has it
    missing = [
        f"{sheet.filename}:{column.name}"
        for sheet in SHEETS
        if f"`{sheet.filename}`" in codebook or not sheet.optional
        for column in sheet.columns
        if f"`{column.name}`" not in codebook
        and not (column.may_be_absent and column.name not in header(sheet).split(","))
    ]
    outcomes = pd.read_csv(folder / "outcomes.csv", dtype=str)["outcome"]
    missing += [f"outcome {o}" for o in outcomes if f"`{o}`" not in codebook]
    assert not missing, f"{folder.name}/CODEBOOK.md lacks: {', '.join(missing)}"
