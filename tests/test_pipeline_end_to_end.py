"""The five notebooks run end to end through the pipeline runner on the fixture review.

The fixture (tests/fixtures/review_fixture, metadat's dat.normand1999 and dat.bcg laid out as
extraction sheets) is copied with the notebooks into a temporary repository root, and
`python -m metareview.run.pipeline run` executes it there (METAREVIEW_ROOT points at it). The test
then checks the reports, the figures, the processed tables and the numeric record, including a
pooled estimate against metafor 3.8-1:

    dat <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
    rma(yi, vi, data = dat, method = "REML", test = "knha")
    # estimate -0.7145323422, 95% CI [-1.108443714, -0.3206209706]
"""

from __future__ import annotations

import json
import math
import re
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from metareview.report.figure_names import has_vector
from metareview.report.pooled import MAIN
from metareview.run import pipeline

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "review_fixture"
REVIEW = "fixture"
NOTEBOOKS = ("01_data_cleaning", "02_effect_sizes", "03_pooled_models", "04_subgroups",
             "05_safety", "06_summary")


def _run(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "METAREVIEW_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", *args], cwd=root, env=env, text=True,
                          capture_output=True, timeout=900)


def _fresh_run(root: Path) -> Path:
    shutil.copytree(REPO / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(FIXTURE, root / "data" / "raw" / REVIEW)
    (root / "params").mkdir()
    (root / "params" / f"{REVIEW}.yaml").write_text(f"review: {REVIEW}\nn_perm: 1000\n")
    done = _run(root, "metareview.run.pipeline", "run", "--review", REVIEW)
    assert done.returncode == 0, done.stdout + done.stderr
    return root


@pytest.fixture(scope="module")
def run_root(tmp_path_factory) -> Path:
    return _fresh_run(tmp_path_factory.mktemp("bundle"))


def _tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.slow
def test_two_runs_give_byte_identical_processed_data_and_record(run_root, tmp_path):
    """Same inputs, same outputs: no timestamps, unordered iteration or unseeded randomness."""
    second = _fresh_run(tmp_path / "again")
    for root in (run_root, second):
        done = _run(root, "metareview.run.record", "write", "--review", REVIEW)
        assert done.returncode == 0, done.stdout + done.stderr
    first_tree = _tree_bytes(run_root / "data" / "processed")
    second_tree = _tree_bytes(second / "data" / "processed")
    assert first_tree.keys() == second_tree.keys()
    differing = [name for name in first_tree if first_tree[name] != second_tree[name]]
    assert not differing, f"processed files differ between two runs: {differing}"
    record = f"results/{REVIEW}.json"
    assert (run_root / record).read_bytes() == (second / record).read_bytes()


@pytest.mark.slow
def test_every_notebook_reports(run_root):
    reports = run_root / "reports" / REVIEW
    for stem in NOTEBOOKS:
        html = (reports / f"{stem}.html").read_text(encoding="utf-8")
        assert pipeline.remote_references(html) == [], stem
        assert "Traceback" not in html, stem
        assert (reports / f"{stem}.ipynb").is_file()
    assert not list(reports.glob("*.FAILED.ipynb"))


@pytest.mark.slow
def test_figures_written_as_png_and_the_main_ones_as_svg(run_root):
    figures = run_root / "reports" / REVIEW / "figures"
    stems = {p.stem for p in figures.glob("*.png")}
    vectors = {p.stem for p in figures.glob("*.svg")}
    assert vectors == {stem for stem in stems if has_vector(stem)}
    # the main figures have their SVG; a diagnostic (the funnel plot) and the analysis of all
    # studies are PNG only
    assert {"forest_tb", "prisma_flow", "rob_traffic_light", "subgroup_tb_design"} <= vectors
    assert "funnel_tb" not in vectors and not any(v.endswith("_all_studies") for v in vectors)
    # one forest plot per outcome (k = 9, 2, 1 and 13), a funnel plot only where k >= 10
    assert {"forest_los", "forest_los_contrast", "forest_los_p", "forest_tb"} <= stems
    assert "funnel_tb" in stems and "funnel_los" not in stems
    assert {"prisma_flow", "rob_traffic_light", "subgroup_tb_design"} <= stems


@pytest.mark.slow
def test_processed_tables(run_root):
    processed = run_root / "data" / "processed" / REVIEW
    expected = ["validation_log.txt", "audit.csv", "extraction_checks.csv", "not_pooled.csv",
                "prisma.csv", "study_characteristics.csv", "effects.csv", "proportions.csv",
                "pooled.csv", "sensitivity.csv", "leave_one_out.csv", "small_study.csv",
                "swim.csv", "swim_results.csv", "subgroups.csv", "meta_regression.csv",
                "safety.csv", "published_comparison.csv"]
    expected += [f"clean_{s}.csv" for s in ("studies", "arms", "contrasts", "adverse_events",
                                             "risk_of_bias", "outcomes", "search_log",
                                             "screening", "published", "proportions",
                                             "ordinal_counts", "extraction_checks", "grade")]
    for name in expected:
        assert (processed / name).is_file(), name
    pooled = pd.read_csv(processed / "pooled.csv").set_index("outcome")
    assert pooled.loc["tb", "estimate"] == pytest.approx(-0.7145323422, rel=1e-6)
    assert pooled.loc["tb", "ci_low"] == pytest.approx(-1.108443714, rel=1e-6)
    assert pooled.loc["los_p", "status"] == "not pooled (k=1)"
    assert pooled.loc["los_contrast", "status"] == "pooled"
    assert isinstance(pooled.loc["los_contrast", "warning"], str)
    effects = pd.read_csv(processed / "effects.csv")
    assert len(effects) == 9 + 2 + 1 + 13
    assert effects.loc[effects["outcome"] == "los_contrast", "converted"].all()
    comparison = pd.read_csv(processed / "published_comparison.csv")
    assert comparison["bundle_k"].tolist() == [13]


@pytest.mark.slow
def test_results_record_and_check(run_root):
    written = _run(run_root, "metareview.run.record", "write", "--review", REVIEW)
    assert written.returncode == 0, written.stdout + written.stderr
    record = json.loads((run_root / "results" / f"{REVIEW}.json").read_text())
    assert {"pooled", "sensitivity", "subgroups", "safety"} <= set(record["tables"])
    pooled_tb = [v for k, v in record["tables"]["pooled"].items() if "outcome=tb" in k]
    assert len(pooled_tb) == 1 and pooled_tb[0]["k"] == 13
    assert "figures/forest_tb.png" in record["figures"]
    checked = _run(run_root, "metareview.run.record", "check", "--review", REVIEW)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_notebooks_are_stored_as_jupyterlab_writes_them():
    """Reading and writing a notebook with nbformat (what JupyterLab does on save) changes no
    byte, so an edit of one cell in JupyterLab is a diff of that cell only."""
    import nbformat

    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        again = nbformat.writes(nbformat.reads(text, as_version=4))
        assert again.rstrip("\n") == text.rstrip("\n") and text.endswith("\n"), path.name


def test_notebooks_are_committed_clean():
    """Each notebook: no outputs, one `parameters` cell of literals naming every parameter."""
    import ast

    import nbformat

    from metareview.review import params

    for stem in NOTEBOOKS:
        nb = nbformat.read(REPO / "notebooks" / f"{stem}.ipynb", as_version=4)
        assert nb.metadata["kernelspec"]["name"] == "metareview", stem
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), stem
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, stem
        names = {}
        for statement in ast.parse(tagged[0].source).body:
            assert isinstance(statement, ast.Assign), (stem, ast.unparse(statement))
            names[statement.targets[0].id] = ast.literal_eval(statement.value)
        assert names == {**params.DEFAULTS, "review": "acne-scars"}, stem


# --- what a coauthor receives ------------------------------------------------------------------


def _report_tables(html: str) -> list[list[list[str]]]:
    """Every table the notebooks showed (class review-table): rows of cell texts."""
    from html.parser import HTMLParser

    class Tables(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tables, self.cell, self.depth = [], None, 0

        def handle_starttag(self, tag, attrs):
            if tag == "table" and "review-table" in (dict(attrs).get("class") or ""):
                self.tables.append([])
            elif tag == "tr" and self.tables:
                self.tables[-1].append([])
            elif tag in ("td", "th") and self.tables:
                self.cell = ""

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self.cell is not None and self.tables:
                self.tables[-1][-1].append(self.cell.strip())
                self.cell = None

    parser = Tables()
    parser.feed(html)
    return parser.tables


@pytest.mark.slow
def test_no_report_table_is_more_than_half_empty(run_root):
    for html in sorted((run_root / "reports" / REVIEW).glob("*.html")):
        for table in _report_tables(html.read_text(encoding="utf-8")):
            cells = [c for row in table[1:] for c in row]
            if not cells:
                continue
            empty = sum(1 for c in cells if c in ("", "nan", "NaN", "<NA>", "None"))
            assert empty <= len(cells) / 2, f"{html.name}: {empty} of {len(cells)} empty {table[0]}"
            counts = [i for i, name in enumerate(table[0])
                      if name in ("k", "studies", "n", "events", "total", "participants",
                                  "people", "results", "disagreements")]
            floats = [row[i] for row in table[1:] for i in counts if i < len(row)
                      and row[i].endswith(".0")]
            assert not floats, f"{html.name}: counts printed as floats in {table[0]}: {floats}"


@pytest.mark.slow
def test_word_summary_equals_the_html_summary_of_findings(run_root):
    from docx import Document

    document = Document(str(run_root / "reports" / REVIEW / "summary.docx"))
    word = [[cell.text for cell in row.cells] for row in document.tables[0].rows]
    sof = pd.read_csv(run_root / "reports" / REVIEW / "tables" / "summary_of_findings.csv",
                      keep_default_na=False)
    assert word[0] == list(sof.columns)
    assert [row for row in word[1:]] == sof.astype(str).values.tolist()
    html = (run_root / "reports" / REVIEW / "06_summary.html").read_text(encoding="utf-8")
    shown = next(t for t in _report_tables(html) if t and t[0][:1] == ["Outcome"])
    assert [row[0] for row in shown[1:]] == [row[0] for row in word[1:]]


@pytest.mark.slow
def test_word_summary_holds_the_figures_with_captions_and_no_identifiers(run_root):
    from docx import Document

    document = Document(str(run_root / "reports" / REVIEW / "summary.docx"))
    captions = [p.text for p in document.paragraphs if p.style.name == "Caption"]
    # the flow diagram first, then a forest plot of each pooled outcome of the summary
    assert len(document.inline_shapes) == len(captions) >= 2
    assert captions[0].startswith("Figure 1. Flow of records")
    assert all(c.startswith(f"Figure {i}. ") for i, c in enumerate(captions, start=1))
    assert any("Forest plot of" in c for c in captions)
    for shape in document.inline_shapes:
        assert shape._inline.docPr.get("descr")
    text = "\n".join([p.text for p in document.paragraphs]
                     + [c.text for t in document.tables for r in t.rows for c in r.cells])
    assert "**" not in text and "`" not in text
    assert re.findall(r"\b[A-Za-z0-9]+_[A-Za-z0-9_]+\b", text) == []


@pytest.mark.slow
def test_share_ships_reports_without_notebooks_unless_asked(run_root):
    import zipfile

    shared = _run(run_root, "metareview.run.record", "share")
    assert shared.returncode == 0, shared.stderr
    names = zipfile.ZipFile(run_root / "dist" / "reports.zip").namelist()
    assert "reports/index.html" in names and f"reports/{REVIEW}/06_summary.html" in names
    assert f"reports/{REVIEW}/summary.docx" in names
    assert any(n.endswith(".png") for n in names) and any(n.endswith(".csv") for n in names)
    assert not any(n.endswith(".ipynb") for n in names)
    index = zipfile.ZipFile(run_root / "dist" / "reports.zip").read("reports/index.html")
    assert b".ipynb" not in index
    with_notebooks = _run(run_root, "metareview.run.record", "share", "--with-notebooks")
    assert with_notebooks.returncode == 0
    names = zipfile.ZipFile(run_root / "dist" / "reports.zip").namelist()
    assert f"reports/{REVIEW}/03_pooled_models.ipynb" in names


@pytest.mark.slow
@pytest.mark.browser
def test_summary_and_index_render_in_headless_chromium(run_root, tmp_path):
    import numpy as np
    from matplotlib.image import imread

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium when it can)")
    record = _run(run_root, "metareview.run.record", "index")
    assert record.returncode == 0, record.stderr
    pages = [run_root / "reports" / REVIEW / "06_summary.html", run_root / "reports" / "index.html"]
    for page in pages:
        flags = [browser, "--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", f"--user-data-dir={tmp_path / ('profile-' + page.stem)}",
                 "--enable-logging=stderr", "--v=0", "--window-size=1280,5000",
                 "--hide-scrollbars"]
        shot = tmp_path / f"{page.stem}.png"
        result = subprocess.run([*flags, f"--screenshot={shot}", page.as_uri()],
                                capture_output=True, text=True, timeout=180)
        assert shot.is_file(), result.stderr[-2000:]
        console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
        assert not [line for line in console if "error" in line.lower()], console
        assert "ERR_NAME_NOT_RESOLVED" not in result.stderr
        pixels = (imread(shot)[..., :3] * 255).round().astype(int)
        # a forest plot is on the page: its study squares are drawn in #1f4e79
        squares = (np.abs(pixels - np.array([0x1F, 0x4E, 0x79])).sum(axis=-1) < 30).sum()
        assert squares > 200, f"{page.name}: no forest plot visible"
    dom = subprocess.run([*flags, "--dump-dom", pages[0].as_uri()], capture_output=True,
                         text=True, timeout=180).stdout
    assert "Summary of findings" in dom and "Certainty" in dom and "review-table" in dom
    # the summary-of-findings rows are visible: the table's striped rows are #f6f6f6
    summary = (imread(tmp_path / "06_summary.png")[..., :3] * 255).round().astype(int)
    assert ((summary == np.array([0xF6, 0xF6, 0xF6])).all(axis=-1)).sum() > 2000


@pytest.mark.slow
def test_the_registry_in_docs_lists_exactly_the_processed_tables(run_root):
    text = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    registry = text.split("## The processed tables (registry)", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z_<>]+\.(?:csv|txt))`", registry, flags=re.M))
    written = {p.name for p in (run_root / "data" / "processed" / REVIEW).iterdir()}
    written = {n if not n.startswith("clean_") else "clean_<sheet>.csv" for n in written}
    # written only under analysis_method: revman (tests/test_revman_pipeline.py checks it)
    assert written == listed - {"pooled_revman.csv"}



@pytest.mark.slow
def test_the_bayesian_model_of_every_pooled_outcome_in_the_reports(run_root, monkeypatch):
    """bayes.csv: each pooled outcome under the review's prior and two alternatives, equal to
    pool_bayes on its effects; the alternatives in sensitivity.csv; the second diamond in the
    forest plot's description; the summary of findings leading with the Bayesian estimate for
    k = 2 (los_contrast) and giving it as a comment for k = 13 (tb)."""
    import metareview as mr
    from metareview.report.alt_text import read_alt_text

    processed = run_root / "data" / "processed" / REVIEW
    bayes = pd.read_csv(processed / "bayes.csv")
    assert bayes.groupby("outcome")["prior_role"].apply(list).to_dict() == {
        o: ["main", "sensitivity", "sensitivity"] for o in ("los", "los_contrast", "tb")}
    tb = bayes[(bayes["outcome"] == "tb") & (bayes["prior_role"] == "main")].iloc[0]
    assert tb["tau_prior"] == "half-normal(scale=0.5)"
    effects = pd.read_csv(processed / "effects.csv")
    part = effects[effects["outcome"] == "tb"].sort_values(["study_id", "comparison"])
    again = mr.pool_bayes(part["yi"], part["vi"], "halfnormal(0.5)")
    # (the CSV keeps 10 significant digits)
    assert tb["estimate"] == pytest.approx(again.mu_median, rel=1e-9)
    assert (tb["ci_low"], tb["ci_high"]) == pytest.approx(
        (again.mu_shortest_low, again.mu_shortest_high), rel=1e-9)
    sensitivity = pd.read_csv(processed / "sensitivity.csv")
    assert (sensitivity["analysis"] == "Bayesian, prior of tau").sum() == len(bayes)
    alt = read_alt_text(run_root / "reports" / REVIEW / "figures" / "forest_tb.png")
    assert "Bayesian random-effects model: RR" in alt
    sof = pd.read_csv(processed / "summary_of_findings.csv")
    sof = sof[sof["kind"] == "pooled"].set_index("outcome")
    assert sof.loc["los_contrast", "basis"] == "bayesian"
    assert sof.loc["los_contrast", "Effect (95% CI)"].startswith("MD ")
    assert "Bayesian 95% CrI" in sof.loc["los_contrast", "Effect (95% CI)"]
    assert sof.loc["tb", "basis"] == "frequentist"
    assert "Bayesian random-effects model (prior of tau half-normal(scale=0.5)" in \
        sof.loc["tb", "Comments"]
    # make check holds the row that leads with the Bayesian estimate to bayes.csv
    from metareview import files
    from metareview.run import consistency

    monkeypatch.setenv(files.ROOT_ENV, str(run_root))
    assert _run(run_root, "metareview.run.record", "index").returncode == 0
    assert consistency.problems(REVIEW) == []
    original = (processed / "bayes.csv").read_text()
    try:
        changed = bayes.copy()
        changed.loc[(changed["outcome"] == "los_contrast")
                    & (changed["prior_role"] == "main"), "ci_low"] -= 1.0
        changed.to_csv(processed / "bayes.csv", index=False)
        found = consistency.problems(REVIEW)
        assert any("los_contrast" in p and "bayes.csv has" in p for p in found), found
    finally:
        (processed / "bayes.csv").write_text(original)

def test_every_page_shows_the_result_table_numbers(run_root, monkeypatch):
    from metareview import files
    from metareview.run import consistency

    monkeypatch.setenv(files.ROOT_ENV, str(run_root))
    record = _run(run_root, "metareview.run.record", "index")
    assert record.returncode == 0, record.stdout + record.stderr
    assert consistency.problems(REVIEW) == []
    pooled = pd.read_csv(run_root / "data" / "processed" / REVIEW / "pooled.csv")
    tb = pooled[(pooled["outcome"] == "tb") & (pooled["status"] == "pooled")].iloc[0]
    shown = f"RR {math.exp(tb['estimate']):.2f} ({math.exp(tb['ci_low']):.2f} to " \
            f"{math.exp(tb['ci_high']):.2f})"
    summary = run_root / "reports" / REVIEW / "06_summary.html"
    assert shown in consistency.page_text(summary)
    # a page that shows another number is caught, naming the page and the number
    original = summary.read_text(encoding="utf-8")
    try:
        summary.write_text(original.replace(f"{math.exp(tb['ci_low']):.2f} to",
                                            "0.01 to"), encoding="utf-8")
        found = consistency.problems(REVIEW)
        assert any(p.startswith("06_summary.html:") and "tb" in p for p in found), found
    finally:
        summary.write_text(original, encoding="utf-8")



def test_pages_for_coauthors_are_in_words(run_root, monkeypatch):
    """No snake_case identifier and no rendering debris in the summary report, the Word file
    and the index of the fixture review; a planted identifier is caught, and one inside a
    code element (a file name) is not."""
    from metareview import files
    from metareview.run import wording

    monkeypatch.setenv(files.ROOT_ENV, str(run_root))
    record = _run(run_root, "metareview.run.record", "index")
    assert record.returncode == 0, record.stdout + record.stderr
    assert wording.problems(REVIEW) == []
    index = run_root / "reports" / "index.html"
    assert wording.text_problems(wording.readable_text(index), "index") == []
    assert "<code>" in index.read_text(encoding="utf-8")  # file names are shown as code
    summary = run_root / "reports" / REVIEW / "06_summary.html"
    original = summary.read_text(encoding="utf-8")
    try:
        summary.write_text(original.replace("</body>", "<p>tb_outcome nan <code>pooled_results"
                                            ".csv</code></p></body>"), encoding="utf-8")
        found = wording.problems(REVIEW)
        assert any("'tb_outcome'" in p for p in found), found
        assert any("'nan'" in p for p in found), found
        assert not any("pooled_results" in p for p in found), found
    finally:
        summary.write_text(original, encoding="utf-8")

@pytest.mark.slow
def test_every_image_of_every_report_says_what_it_shows(run_root):
    """Every <img> of every report and of the index has an alt text of its own (never
    nbconvert's default), and a forest plot's names its outcome, k and the pooled estimate
    with its interval as the pooled table prints them."""
    from html.parser import HTMLParser

    from metareview.report import text

    class Images(HTMLParser):
        def __init__(self):
            super().__init__()
            self.alts: list[str | None] = []

        def handle_starttag(self, tag, attrs):
            if tag == "img":
                self.alts.append(dict(attrs).get("alt"))

    record = _run(run_root, "metareview.run.record", "index")
    assert record.returncode == 0, record.stdout + record.stderr
    pages = sorted((run_root / "reports").rglob("*.html"))
    alts: dict[str, list] = {}
    for page in pages:
        parser = Images()
        parser.feed(page.read_text(encoding="utf-8"))
        alts[page.name] = parser.alts
        assert "No description has been provided" not in page.read_text(encoding="utf-8")
        for alt in parser.alts:
            assert alt and len(alt) > 20 and "_" not in alt, (page.name, alt)
    assert len(alts["03_pooled_models.html"]) >= 5 and len(alts["index.html"]) >= 3
    pooled = pd.read_csv(run_root / "data" / "processed" / REVIEW / "pooled.csv")
    outcomes = pd.read_csv(run_root / "data" / "raw" / REVIEW / "outcomes.csv")
    table = text.present_pooled(pooled, outcomes)
    tb = table[(table["outcome"] == "Tuberculosis cases") & (table["analysis"] == MAIN)].iloc[0]
    forest = [a for a in alts["03_pooled_models.html"]
              if a.startswith("Forest plot: Tuberculosis cases (RR; lower is better).")]
    assert len(forest) == 1
    assert f"{tb['studies']} studies; pooled RR {tb['estimate (95% CI)']} (95% CI)" in forest[0]
    # the summary shows the saved figure with the same words
    assert forest[0] in alts["06_summary.html"]


# Set on <body> after layout: the page's scroll width, the window's width, and how many tables
# reach past the window's right edge.
_WIDTH_PROBE = ("<script>window.addEventListener('load', () => { const root = "
                "document.documentElement; const wide = [...document.querySelectorAll('table, img')]"
                ".filter(e => e.getBoundingClientRect().right > root.clientWidth + 1).length; "
                "document.body.setAttribute('data-width', root.scrollWidth + ' ' + "
                "root.clientWidth + ' ' + wide); });</script>")


@pytest.mark.slow
@pytest.mark.browser
def test_every_page_fits_a_1280_pixel_window(run_root, tmp_path):
    """In headless Chromium at 1,280 pixels, no report of the fixture review and not the
    index is wider than the window, and no table or image reaches past its edge."""
    import tempfile

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed")
    record = _run(run_root, "metareview.run.record", "index")
    assert record.returncode == 0, record.stdout + record.stderr
    pages = sorted((run_root / "reports" / REVIEW).glob("*.html")) + [
        run_root / "reports" / "index.html"]
    assert len(pages) == 7
    for page in pages:
        probe = page.with_name(f"probe-{page.name}")
        probe.write_text(page.read_text(encoding="utf-8").replace("</body>",
                                                                  _WIDTH_PROBE + "</body>"),
                         encoding="utf-8")
        profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
        try:
            done = subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", f"--user-data-dir={profile}",
                 "--window-size=1280,800", "--virtual-time-budget=3000", "--dump-dom",
                 probe.as_uri()], capture_output=True, text=True, timeout=180)
        finally:
            probe.unlink()
        found = re.search(r'data-width="(\d+) (\d+) (\d+)"', done.stdout)
        assert found, (page.name, done.stderr[-1000:])
        scroll, window, wide = map(int, found.groups())
        assert scroll <= window and wide == 0, (page.name, scroll, window, wide)

# --- what the notebooks need from the earlier ones ----------------------------------------------


@pytest.mark.slow
def test_each_notebook_writes_its_sign_of_a_run(run_root):
    """upstream.SIGN_OF_RUN names, per notebook, a table it always writes."""
    from metareview.run import upstream

    outputs = run_root / "reports" / REVIEW / ".outputs"
    for stem in NOTEBOOKS:
        sign = upstream.SIGN_OF_RUN.get(stem[:2])
        if sign is not None:
            listed = (outputs / f"{stem}.txt").read_text().splitlines()
            assert f"data/processed/{REVIEW}/{sign}" in listed, stem


@pytest.mark.slow
def test_a_notebook_whose_inputs_are_missing_stops_at_its_first_cell_in_one_line(run_root,
                                                                                  tmp_path):
    root = tmp_path / "cleaned"
    shutil.copytree(run_root, root, symlinks=True)
    shutil.rmtree(root / "data" / "processed")  # what `make clean` leaves
    shutil.rmtree(root / "reports")
    done = _run(root, "metareview.run.pipeline", "run", "--review", REVIEW, "--notebooks", "04")
    assert done.returncode == 1
    # before: a FileNotFoundError from deep in the stack, naming nothing to run
    assert ("UpstreamError: 04_subgroups of fixture needs what 01_data_cleaning writes "
            "(data/processed/fixture/clean_studies.csv is missing): run 01_data_cleaning first, "
            "or `make reports`") in done.stderr
    failed = json.loads((root / "reports" / REVIEW / "04_subgroups.FAILED.ipynb").read_text())
    errors = [o for c in failed["cells"] for o in c.get("outputs", [])
              if o["output_type"] == "error"]
    assert len(errors) == 1 and len(errors[0]["traceback"]) == 1  # one line, no traceback
    first_code = next(i for i, c in enumerate(failed["cells"]) if c["cell_type"] == "code"
                      and "upstream.check" in "".join(c["source"]))
    assert any(o["output_type"] == "error" for o in failed["cells"][first_code]["outputs"])


@pytest.mark.slow
def test_a_partly_run_review_is_one_line_of_check(run_root, tmp_path):
    root = tmp_path / "partly"
    shutil.copytree(run_root, root, symlinks=True)
    assert _run(root, "metareview.run.record", "write", "--review", REVIEW).returncode == 0
    shutil.rmtree(root / "reports" / REVIEW)
    shutil.rmtree(root / "data" / "processed" / REVIEW)
    done = _run(root, "metareview.run.pipeline", "run", "--review", REVIEW, "--notebooks", "01",
                "02")
    assert done.returncode == 0, done.stderr
    check = _run(root, "metareview.run.record", "check", "--review", REVIEW)
    assert check.returncode == 1
    # before: one line per missing report, notebook and figure, and one "result removed" line
    # per row of every table of 03 to 06 (595 lines for cm-resurfacing)
    assert check.stderr.strip().splitlines() == [
        f"{REVIEW}: not run to the end (ran 01_data_cleaning, 02_effect_sizes; not run: "
        "03_pooled_models, 04_subgroups, 05_safety, 06_summary): run `make reports`, which "
        f"runs the rest [{check.stderr.split('[')[1].split(' ')[0]} problem(s), listed with "
        "--verbose (make check VERBOSE=1)]"]
    verbose = _run(root, "metareview.run.record", "check", "--review", REVIEW, "--verbose")
    assert "result removed: pooled: " in verbose.stderr
    assert "report missing: reports/fixture/03_pooled_models.html" in verbose.stderr


@pytest.mark.slow
def test_a_run_with_overrides_says_so_in_one_line_of_check(run_root, tmp_path):
    root = tmp_path / "overridden"
    shutil.copytree(run_root, root, symlinks=True)
    assert _run(root, "metareview.run.record", "write", "--review", REVIEW).returncode == 0
    done = _run(root, "metareview.run.pipeline", "run", "--review", REVIEW, "--from", "03",
                "-p", "tau2_method=DL")
    assert done.returncode == 0, done.stderr
    check = _run(root, "metareview.run.record", "check", "--review", REVIEW)
    assert check.returncode == 1
    lines = check.stderr.strip().splitlines()
    # before: hundreds of "result changed/removed/added" lines and no word of the override
    assert len(lines) == 1 and lines[0].startswith(
        "fixture: run with overrides: tau2_method=DL in 03_pooled_models, 04_subgroups, "
        "05_safety, 06_summary (not params/fixture.yaml")
    assert "listed with --verbose" in lines[0]
    verbose = _run(root, "metareview.run.record", "check", "--review", REVIEW, "--verbose")
    assert lines[0].startswith(verbose.stderr.splitlines()[0] + " [")
    # the method is part of a pooled row's key: REML rows removed, DL rows added
    assert "result removed: pooled: " in verbose.stderr
    assert "result added: pooled: " in verbose.stderr and "method=DL" in verbose.stderr
    assert "not in words" not in verbose.stderr  # the banner shows the override as code
    assert "Run with parameter overrides: <code>tau2_method=DL</code>." in (
        root / "reports" / REVIEW / "03_pooled_models.html").read_text()
    assert (root / "data" / "processed" / REVIEW / "OVERRIDDEN.txt").is_file()
