"""Helpers shared by several test modules (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    """Save the figure `draw()` returns twice: a 300 dpi PNG of useful size, not blank, with
    the PNG and the SVG byte-identical between the two drawings."""
    png, svg = figures.save_figure(draw(), folder / name)
    with Image.open(png) as image:
        assert image.info["dpi"] == pytest.approx((300, 300), abs=0.1)
        assert min(image.size) > 600
        assert np.asarray(image).std() > 0  # not a blank image
    again, svg_again = figures.save_figure(draw(), folder / f"{name}_again")
    assert png.read_bytes() == again.read_bytes()
    assert svg.read_bytes() == svg_again.read_bytes()
