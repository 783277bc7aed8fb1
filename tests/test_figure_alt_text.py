"""Every figure says what it shows: each figure function attaches an alternative text, it is
written into the PNG and SVG, a notebook shows it as the image's `alt`, and the HTML report
carries it instead of nbconvert's "No description has been provided for this image"."""

from __future__ import annotations

import base64
from html.parser import HTMLParser

import nbformat
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

import metareview as mr
from metareview import files
from metareview.report import figures
from metareview.report.alt_text import read_alt_text
from metareview.report.figures.style import alt_text, set_alt_text
from metareview.report.notebook import Notebook
from metareview.report.prisma import prisma_counts
from metareview.stats.diagnostics import baujat, cumulative

NBCONVERT_DEFAULT = "No description has been provided for this image"
Y = np.array([-0.9, -1.6, -0.2, 0.0, -0.5])
V = np.array([0.3, 0.2, 0.05, 0.01, 0.06])
ROWS = pd.DataFrame({"label": ["Ames 2001", "Bell 2003", "Cruz 2005", "Diaz 2007",
                               "Earl 2009"], "yi": Y, "vi": V})
ROB = pd.DataFrame({"study_id": ["Ames 2001", "Ames 2001", "Bell 2003", "Bell 2003"],
                    "tool": "RoB2", "domain": ["D1", "overall", "D1", "overall"],
                    "judgement": ["low", "low", "high", "high"]})


def _every_figure() -> dict[str, Figure]:
    fit = mr.pool(Y, V)
    x = np.array([10.0, 20, 30, 40, 55])
    proportions = pd.DataFrame({"label": ["Ames 2001", "Bell 2003"], "events": [3, 7],
                                "total": [10, 12], "group": ["psoriasis", "psoriasis"]})
    log = pd.DataFrame({"source": ["PubMed"], "records_seen": [120], "records_kept": [3]})
    screening = pd.DataFrame({
        "record_id": ["R1", "R2", "R3"], "stage": ["full_text"] * 3,
        "decision": ["excluded", "included", "included"],
        "reason": ["not acne scars", None, None], "study_id": [None, "S1", "S2"]})
    counts = prisma_counts(log, screening)
    direction = pd.DataFrame({"study": ["Ames 2001", "Bell 2003"], "outcome": ["itch", "itch"],
                              "direction": [1, 0], "n": [30, 40]})
    return {
        "forest": figures.forest_plot(ROWS, fit, measure="RR", title="Itch (RR)"),
        "subgroup": figures.subgroup_forest_plot(ROWS.assign(g=list("aabbb")), "g", {
            "b": mr.pool(Y[2:], V[2:])}, fit, measure="RR"),
        "cumulative": figures.cumulative_forest_plot(cumulative(Y, V), list(ROWS["label"]),
                                                     "RR"),
        "proportions": figures.proportion_forest_plot(proportions, {}, title="Response"),
        "funnel": figures.funnel_plot(Y, V, fit.estimate, measure="RR"),
        "baujat": figures.baujat_plot(baujat(Y, V), list(ROWS["label"])),
        "bubble": figures.bubble_plot(Y, V, x, mr.meta_regression(Y, V, x), xlabel="dose",
                                      measure="RR"),
        "traffic light": figures.rob_traffic_light(ROB, title="Risk of bias"),
        "rob summary": figures.rob_summary_bar(ROB, title="Risk of bias summary"),
        "no rob": figures.rob_traffic_light(ROB.iloc[:0]),
        "prisma": figures.prisma_flow(counts, title="Flow of records"),
        "effect direction": figures.effect_direction_plot(direction),
    }


def test_every_figure_function_describes_its_figure():
    described = {name: alt_text(fig) for name, fig in _every_figure().items()}
    for name, text in described.items():
        assert text and len(text) > 30, name
        assert "nan" not in text and "None" not in text and "_" not in text, (name, text)
    assert described["forest"].startswith("Forest plot: Itch (RR). 5 studies; pooled RR ")
    assert "Ames 2001" in described["baujat"] or "Bell 2003" in described["baujat"]
    assert "RoB 2, 2 studies; overall: 1 low, 1 high" in described["traffic light"]
    assert described["prisma"] == (
        "PRISMA 2020 flow diagram: Flow of records. Databases and registers: Records identified "
        "(n = 120); Records removed before screening (n = 0); Records screened (n = 120); "
        "Records excluded (n = 117); Reports sought for retrieval (n = 3); Reports not "
        "retrieved (n = 0); Reports assessed for eligibility (n = 3); Reports excluded (n = 1). "
        "Studies included in the review (n = 2), reports of included studies (n = 2).")
    assert "2 results of 2 studies on 1 outcome" in described["effect direction"]
    assert "psoriasis: 2 studies, not pooled (10 of 22 participants)" in described[
        "proportions"]


def test_saved_png_and_svg_carry_the_text(tmp_path):
    fig = figures.forest_plot(ROWS, mr.pool(Y, V), measure="RR", title="Itch (RR)")
    png, svg = figures.save_figure(fig, tmp_path / "forest")
    assert read_alt_text(png) == alt_text(fig)
    assert f"<dc:description>{alt_text(fig)}</dc:description>" in svg.read_text()
    again, _ = figures.save_figure(figures.forest_plot(ROWS, mr.pool(Y, V), measure="RR",
                                                       title="Itch (RR)"), tmp_path / "again")
    assert png.read_bytes() == again.read_bytes()  # still byte for byte the same
    plain = Figure(figsize=(2, 1))
    bare, _ = figures.save_figure(plain, tmp_path / "plain")
    assert read_alt_text(bare) is None and read_alt_text(tmp_path / "absent.png") is None
    broken = tmp_path / "broken.png"
    broken.write_bytes(png.read_bytes()[:40])  # cut inside its header: no text, no error
    assert read_alt_text(broken) is None
    with pytest.raises(ValueError, match="empty"):
        set_alt_text(Figure(), "  \n ")


@pytest.fixture()
def notebook(tmp_path, monkeypatch):
    monkeypatch.setenv(files.ROOT_ENV, str(tmp_path))
    return Notebook(review="rev", settings={})


def test_a_notebook_refuses_a_figure_without_a_description(notebook):
    with pytest.raises(ValueError, match="no alternative text"):
        notebook.figure(Figure(figsize=(2, 1)), "plain")
    notebook.figure(Figure(figsize=(2, 1)), "described", alt="A blank test figure.")
    assert read_alt_text(notebook.figures / "described.png") == "A blank test figure."


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))


def images_of(page: str) -> list[dict]:
    """The attributes of every <img> of an HTML page."""
    parser = _Images()
    parser.feed(page)
    return parser.images


def test_the_html_report_gives_each_image_its_description(notebook, monkeypatch):
    """Notebook.figure and Notebook.image as a kernel shows them, exported by the runner's
    template: every <img> has the figure's own text as its alt, none nbconvert's default."""
    from IPython.core.formatters import DisplayFormatter

    from metareview.report import notebook as notebook_module
    from metareview.run import pipeline

    shown = []
    monkeypatch.setattr(notebook_module, "_in_ipython", lambda: object())
    monkeypatch.setattr(notebook_module, "_display", shown.append)
    fig = figures.forest_plot(ROWS, mr.pool(Y, V), measure="RR", title='Itch "score" <RR>')
    expected = alt_text(fig)
    notebook.figure(fig, "forest_itch")
    assert notebook.image("forest_itch") and not notebook.image("absent")
    formatter = DisplayFormatter()
    cell = nbformat.v4.new_code_cell("")
    for obj in shown:
        data, metadata = formatter.format(obj)
        cell.outputs.append(nbformat.v4.new_output("display_data", data=data,
                                                   metadata=metadata))
    document = nbformat.v4.new_notebook()
    document.cells.append(cell)
    page = pipeline.export_html(document, "test")
    images = images_of(page)
    assert len(images) == 2
    for image in images:
        assert image["alt"] == expected
        assert image["src"].startswith("data:image/png;base64,")
        assert int(image["width"]) <= 980
    assert NBCONVERT_DEFAULT not in page
    # the saved PNG itself, shown at its size in inches at 96 pixels per inch (at most 980)
    png = notebook.figures / "forest_itch.png"
    decoded = base64.b64decode(images[0]["src"].split(",", 1)[1])
    assert decoded == png.read_bytes()
    with Image.open(png) as saved:
        inches = saved.size[0] / saved.info["dpi"][0]
    assert int(images[0]["width"]) == notebook_module.display_width(png) == min(
        980, round(inches * 96))
