"""Helpers shared by several test modules (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from metareview.report import figures


@dataclass(frozen=True)
class StubFit:
    """A pooled result with only the fields the summary-of-findings code reads, set by hand
    (analysis scale), so that a test controls every number the table shows."""

    estimate: float
    ci_low: float
    ci_high: float
    pi_low: float = math.nan
    pi_high: float = math.nan
    k: int = 3
    i2: float = 0.0
    weights: tuple = (40.0, 35.0, 25.0)


def check_saved_figure(draw, folder, name: str) -> None:
    """Save the figure `draw()` returns twice: a PNG at `figures.PNG_DPI` of useful size, not
    blank, with the PNG and the SVG byte-identical between the two drawings."""
    png, svg = figures.save_figure(draw(), folder / name)
    with Image.open(png) as image:
        assert image.info["dpi"] == pytest.approx((figures.PNG_DPI,) * 2, abs=0.1)
        assert min(image.size) > 400
        assert np.asarray(image).std() > 0  # not a blank image
    again, svg_again = figures.save_figure(draw(), folder / f"{name}_again")
    assert png.read_bytes() == again.read_bytes()
    assert svg.read_bytes() == svg_again.read_bytes()


REPO = Path(__file__).resolve().parents[1]


def empty_clone(root: Path) -> Path:
    """A copy of the repository at `root` without reviews: the Makefile, the lock, the
    package metadata and the notebooks; its environment marked as set up (`.ready`)."""
    for name in ("Makefile", "requirements.lock", "pyproject.toml"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    (root / "data" / "raw").mkdir(parents=True)
    (root / "params").mkdir()
    (root / ".ready").touch()
    return root


def make_in(root: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the repository's Makefile in a copy of it at `root` (METAREVIEW_ROOT=root), with
    the repository's environment, as a new user's clone would."""
    venv = REPO / ".venv"
    variables = [f"PY={venv / 'bin' / 'python'}", f"SETUP_STAMP={root / '.ready'}",
                 f"VENV={venv}"]
    env = {**os.environ, "METAREVIEW_ROOT": str(root)}
    return subprocess.run(["make", "--no-print-directory", *args, *variables], cwd=root,
                          env=env, capture_output=True, text=True, timeout=1800)


def rewrite_sheet(path: Path, rows: list[dict]) -> None:
    """Replace a sheet's rows, keeping its header (cells a row lacks stay empty)."""
    header = next(csv.reader(path.open(encoding="utf-8")))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows([{k: row.get(k, "") for k in header} for row in rows])
    path.write_text(out.getvalue(), encoding="utf-8")
