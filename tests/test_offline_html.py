"""Reports open offline: nothing fetched from the network, every index link resolves, and text
from the sheets shows as text (a study called `<script>alert(1)</script>` runs nothing)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from metareview import files
from metareview.run import pipeline, record

REPO = Path(__file__).resolve().parents[1]
FIXTURE_REVIEW = REPO / "tests" / "fixtures" / "review_fixture"
EVIL = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
# a 1x1 PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000030101005d3c8e4d0000000049454e44ae426082"
)


@pytest.fixture()
def tree(tmp_path, monkeypatch):
    """A finished run laid out by hand, with a hostile name in the results."""
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    (root / "notebooks" / "01_only.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    shutil.copytree(FIXTURE_REVIEW, root / "data" / "raw" / "rev")
    (root / "params").mkdir()
    (root / "params" / "rev.yaml").write_text("review: rev\n")
    processed = root / "data" / "processed" / "rev"
    processed.mkdir(parents=True)
    (processed / "pooled.csv").write_text(
        "analysis,outcome,measure,k,status,estimate,ci_low,ci_high,pval\n"
        f"a & b,\"{EVIL}\",MD,3,pooled,-0.5,-0.9,-0.1,0.02\n"
    )
    (processed / "key_results.csv").write_text(
        "rank,Outcome,Effect (95% CI),Participants (studies),Certainty,Statement,analysis,"
        "outcome,measure,k,participants,estimate,ci_low,ci_high\n"
        f"1,\"{EVIL}\",MD −0.50 (−0.90 to −0.10),a & b,Low,\"{EVIL} may reduce it.\",main,o,"
        "MD,3,30,-0.5,-0.9,-0.1\n")
    reports = root / "reports" / "rev"
    (reports / "figures").mkdir(parents=True)
    (reports / "tables").mkdir()
    (reports / "01_only.html").write_text("<html><body>r</body></html>")
    (reports / "01_only.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    (reports / "figures" / "forest plot.png").write_bytes(PNG)  # a space must be URL-quoted
    (reports / "figures" / "forest plot.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (reports / "tables" / "studies.csv").write_text("study_id\nS1\n")
    monkeypatch.setenv(files.ROOT_ENV, str(root))
    return root


def test_index_escapes_text_from_data(tree):
    page = record.write_index(["rev"]).read_text()
    assert EVIL not in page
    assert ESCAPED in page
    assert "a &amp; b" in page


def test_index_links_resolve_and_nothing_is_remote(tree):
    index = record.write_index(["rev"])
    page = index.read_text()
    assert record.broken_links(index) == []
    assert pipeline.remote_references(page) == []
    for target in ("rev/01_only.html", "rev/01_only.ipynb", "rev/figures/forest%20plot.png",
                   "rev/figures/forest%20plot.svg", "rev/tables/studies.csv"):
        assert f"'{target}'" in page, target


def test_index_shows_provenance(tree):
    page = record.write_index(["rev"]).read_text()
    assert "Provenance" in page and "Run date" in page and "Commit" in page
    assert "numpy" in page and "papermill" in page
    assert "match SHA256SUMS" in page
    digest = (tree / "data" / "raw" / "rev" / "SHA256SUMS").read_text().split()[0]
    assert digest in page


def test_broken_link_is_detected(tree):
    index = record.write_index(["rev"])
    (tree / "reports" / "rev" / "01_only.ipynb").unlink()
    assert record.broken_links(index) == ["rev/01_only.ipynb"]


def test_report_shows_hostile_text_from_a_table_as_text():
    import pandas as pd

    table = pd.DataFrame({"study": [EVIL], "n": [12]})
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("table")
    cell.outputs = [nbformat.v4.new_output(
        "execute_result", {"text/html": table.to_html(), "text/plain": str(table)},
        execution_count=1,
    )]
    nb.cells = [cell]
    page = pipeline.export_html(nb, "01_test")
    assert ESCAPED in page
    assert EVIL not in page


def test_report_template_loads_nothing_from_the_network():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Effect $g = J d$, see <https://doi.org/10.1/x>.")]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    page = pipeline.export_html(nb, "01_test")
    assert pipeline.remote_references(page) == []
    for cdn in ("cdnjs", "unpkg", "jsdelivr", "mathjax", "require.js"):
        assert cdn not in page.lower(), cdn
    assert "https://doi.org/10.1/x" in page  # ordinary links stay


def test_remote_image_in_a_report_is_refused():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("![logo](https://example.org/logo.png)")]
    with pytest.raises(RuntimeError, match="network"):
        pipeline.export_html(nb, "01_test")


@pytest.mark.parametrize(
    "snippet",
    [
        '<script src="https://x.org/a.js"></script>',
        "<script src=//x.org/a.js></script>",
        '<link rel="stylesheet" href="http://x.org/a.css">',
        "<style>@import url(https://fonts.example/css);</style>",
        "<style>@font-face { src: url('https://x.org/f.woff2') }</style>",
        '<img src="https://x.org/i.png">',
    ],
)
def test_remote_reference_detector(snippet):
    assert pipeline.remote_references(snippet)


def test_remote_reference_detector_ignores_links_and_data():
    page = ('<a href="https://doi.org/10.1/x">paper</a><img src="data:image/png;base64,AA==">'
            "<style>.x { background: url(data:image/svg+xml;base64,AA==) }</style>")
    assert pipeline.remote_references(page) == []


# --- in a real browser -------------------------------------------------------------------------


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
def test_index_and_report_render_in_headless_chromium(tree, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium when it can)")
    record.write_index(["rev"])
    report = tree / "reports" / "rev" / "01_only.html"
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("plot")
    cell.outputs = [nbformat.v4.new_output("display_data", {"image/png": _red_png()})]
    nb.cells = [nbformat.v4.new_markdown_cell("# Report"), cell]
    report.write_text(pipeline.export_html(nb, "01_only"))

    for page in (tree / "reports" / "index.html", report):
        shot = tmp_path / f"{page.stem}.png"
        result = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--no-first-run",
             f"--user-data-dir={tmp_path / ('profile-' + page.stem)}",
             "--enable-logging=stderr", "--v=0", "--window-size=1000,800",
             f"--screenshot={shot}", page.as_uri()],
            capture_output=True, text=True, timeout=120,
        )
        assert shot.is_file() and shot.stat().st_size > 0, result.stderr[-2000:]
        console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
        assert not [line for line in console if "error" in line.lower()], console
        assert "ERR_NAME_NOT_RESOLVED" not in result.stderr
        assert "ERR_INTERNET_DISCONNECTED" not in result.stderr
        assert _colours(shot) > 1, f"{page.name} rendered blank"
    # the figure in the report is visible: the screenshot has the figure's red
    assert _has_red(tmp_path / "01_only.png")


def _red_png() -> str:
    """A 60x40 red PNG, base64, made with matplotlib (no extra dependency)."""
    import base64
    import io

    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(0.6, 0.4), dpi=100)
    fig.patch.set_facecolor("#ff0000")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", facecolor="#ff0000")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _pixels(path: Path):
    import matplotlib.image

    return matplotlib.image.imread(path)


def _colours(path: Path) -> int:
    import numpy as np

    pixels = _pixels(path)[..., :3].reshape(-1, 3)
    return len(np.unique((pixels * 255).astype(int), axis=0))


def _has_red(path: Path) -> bool:
    pixels = _pixels(path)[..., :3]
    red = (pixels[..., 0] > 0.9) & (pixels[..., 1] < 0.1) & (pixels[..., 2] < 0.1)
    return int(red.sum()) > 100
