"""Text from a review folder shows as text wherever it is shown (issue 24): no element, attribute
or script from review.yaml or the sheets in a report, `**x**` in a label is not bold, and a
`$` in a figure is a dollar sign, not math text.

The end-to-end test appends a payload to every free-text cell of every sheet of the fixture
review and to every text of its review.yaml, runs the six notebooks, and reads the DOM that
headless Chromium builds from each report: nothing the payload would create may be in it, and
the payload must be there as text (so the test sees the fields it attacks).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.text
import numpy as np
import pandas as pd
import pytest
import yaml

import metareview as mr
from metareview.report import display, figures, notebook, summary, text
from metareview.report.prisma import prisma_counts
from metareview.review import checksums, schema
from metareview.review.definitions import parse_definitions

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "review_fixture"
PAYLOAD = (" <img src=x id=pwnimg onerror=\"document.body.setAttribute('data-pwned','img')\">"
           " **pwnbold** [pwnlink](javascript:alert(1)) ![pwnpic](x.png)"
           " <script>document.body.setAttribute('data-pwned','script')</script>"
           " US$5 vs US$10 \\frac{")
TEX = "US$5 \\frac{ vs US$10"  # matplotlib's math text cannot parse this


# --- Markdown ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["**x**", "_x_", "<img src=x onerror=alert(1)>",
                                   "[a](javascript:alert(1))", "![i](x.png)", "- item", "1. x",
                                   "# heading", "> quote", "`code`", "a & b &lt;", "~~s~~",
                                   "x\\y", "a\n\n# b", "US$5 vs US$10", "non_randomised"])
def test_md_renders_exactly_as_the_text(value):
    html = display.markdown_html(f"Before {text.md(value)} after")
    inner = html.strip().removeprefix("<p>").removesuffix("</p>")
    shown = " ".join(value.split())
    assert inner == "Before " + (shown.replace("&", "&amp;").replace("<", "&lt;")
                                 .replace(">", "&gt;").replace('"', "&quot;")) + " after"


def test_md_leaves_ordinary_ids_alone():
    assert text.md("non_randomised") == "non_randomised"
    assert text.md("Length of stay (days)") == "Length of stay (days)"


def test_markdown_html_escapes_raw_html_and_harmful_links():
    html = display.markdown_html("**ok** <img src=x onerror=alert(1)> <script>x</script> "
                                 "[a](javascript:alert(1))\n\n<div onclick=1>b</div>")
    assert "<strong>ok</strong>" in html
    assert "<img" not in html and "<script" not in html and "<div" not in html
    assert "javascript:" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_headings_get_an_id_for_the_table_of_contents():
    html = display.markdown_html("## A <b> title & more")
    assert html.startswith('<h2 id="A-b-title-more">A &lt;b&gt; title &amp; more</h2>')


def test_say_shows_html_rendered_with_raw_html_escaped(monkeypatch):
    shown = []
    monkeypatch.setattr(notebook, "_in_ipython", lambda: object())
    monkeypatch.setattr(notebook, "_display", shown.append)
    nb = notebook.Notebook.__new__(notebook.Notebook)
    nb.say("**Title** <img src=x onerror=alert(1)>")
    (html,) = [obj.data for obj in shown]
    assert "<strong>Title</strong>" in html and "<img" not in html


# --- sentences with labels from data -------------------------------------------------------------


def _definitions(**extra):
    data = {"title": "T" + PAYLOAD, "question": "Q" + PAYLOAD,
            "intervention_classes": {"other": "Other"}, "population": "P **bold**",
            "favours": {"treatment": "<b>x</b>", "control": "c"}, **extra}
    return parse_definitions(data)


def _assert_text_only(markdown: str) -> str:
    html = display.markdown_html(markdown)
    for made in ("<strong>pwnbold", "<img", "<script", ">pwnlink</a>", "<b>x</b>",
                 "<strong>bold"):
        assert made not in html, (made, html)
    return html


def test_summary_opening_and_header_show_review_yaml_as_text():
    definitions = _definitions()
    key = pd.DataFrame({"Statement": ["S" + PAYLOAD]})
    found = summary.Summary(headline=["H" + PAYLOAD], sof=pd.DataFrame(), footnotes=["a F **f**"],
                            numbers=pd.DataFrame(), key=key, certainties={},
                            other_outcomes=pd.DataFrame(), not_pooled=pd.DataFrame())
    html = _assert_text_only(summary.opening(definitions, found))
    assert "**pwnbold**" in html and "&lt;img src=x" in html
    assert "<h2" in html and "<strong>Question.</strong>" in html  # the project's own Markdown
    html = _assert_text_only(summary.sof_header(definitions))
    assert "P **bold**" in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<strong>Population:</strong>" in html
    assert summary.sof_header_plain(definitions).startswith("Population: P **bold**; ")
    assert "a F **f**" in _assert_text_only(summary.footnote_text(found))


def test_result_sentences_show_labels_as_text():
    yi, vi = np.array([0.1, 0.3, -0.2]), np.array([0.04, 0.05, 0.06])
    from metareview.report import pooled

    effects = pd.DataFrame({"study_id": ["A", "B", "C"], "comparison": "c", "outcome": "o",
                            "measure": "MD", "yi": yi, "vi": vi})
    table = pooled.pooled_table(effects, "REML", "z")
    outcomes = pd.DataFrame({"outcome": ["o"], "label": ["**pwnbold** <img src=x>"]})
    for sentence in text.pooled_sentences(table, outcomes):
        html = _assert_text_only(sentence)
        assert "**pwnbold** &lt;img src=x&gt;" in html
    subgroups = pd.DataFrame({
        "outcome": ["o"] * 3, "moderator": ["m"] * 3, "row": ["group", "group", "between"],
        "status": ["pooled", "pooled", "tested"], "tau2_mode": ["", "", "common"],
        "level": ["**pwnbold**", "<img src=x>", ""], "measure": ["MD"] * 3,
        "estimate": [0.1, 0.2, np.nan], "ci_low": [0.0, 0.1, np.nan],
        "ci_high": [0.2, 0.3, np.nan], "k": [2, 2, 4], "q_between": [np.nan, np.nan, 0.45],
        "df": [np.nan, np.nan, 1], "q_between_pval": [np.nan, np.nan, 0.5],
        "p_permutation": [np.nan] * 3})
    (sentence,) = text.subgroup_sentences(subgroups)
    assert "**pwnbold**" in _assert_text_only(sentence)


# --- figures -------------------------------------------------------------------------------------


def _all_texts(fig):
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


def test_dollar_signs_in_figures_are_text(tmp_path):
    rows = pd.DataFrame({"label": [TEX, "b", "c"], "yi": [0.1, 0.3, -0.2],
                         "vi": [0.04, 0.05, 0.06]})
    result = mr.pool(rows["yi"], rows["vi"])
    drawn = {
        "forest": figures.forest_plot(rows, result, measure="MD", title=TEX, favours=(TEX, "c")),
        "funnel": figures.funnel_plot([0.1, 0.2, 0.3], [0.1, 0.1, 0.2], 0.2, title=TEX),
        "rob": figures.rob_traffic_light(pd.DataFrame({
            "study_id": ["A"] * 6, "tool": ["RoB2"] * 6,
            "domain": ["D1", "D2", "D3", "D4", "D5", "overall"], "judgement": ["low"] * 6}),
            title=TEX),
        "prisma": figures.prisma_flow(prisma_counts(
            pd.DataFrame({"source": [TEX], "records_seen": [5], "records_kept": [2]}),
            pd.DataFrame({"record_id": ["R1", "R2"], "stage": "full_text",
                          "decision": ["excluded", "included"], "reason": [TEX, None],
                          "study_id": [None, "S1"]})), title=TEX),
    }
    for name, fig in drawn.items():
        assert any(TEX in t for t in _all_texts(fig)), name
        png, svg = figures.save_figure(fig, tmp_path / name)  # no ParseException
        assert png.stat().st_size > 0 and svg.stat().st_size > 0


def test_word_document_takes_a_long_title(tmp_path):
    from metareview.report.word import write_word

    path = write_word(tmp_path / "s.docx", title="T" * 400, question="q",
                      sof=pd.DataFrame({"Outcome": ["o"]}),
                      characteristics=pd.DataFrame({"study": ["A"]}), notes=[])
    assert path.stat().st_size > 0


# --- every field of the fixture review, in a real browser ---------------------------------------

# Cells that are keys matched across sheets or checked against a vocabulary, not free text.
KEY_COLUMNS = {"study_id", "outcome", "search_id", "record_id", "review_id", "date", "domain",
               "judgement", "condition", "intervention_class", "measure"}
VOID = {"img", "br", "meta", "link", "input", "hr", "source", "col", "wbr", "area", "base",
        "embed", "track", "param"}


def inject(folder: Path) -> list[str]:
    """Append PAYLOAD to every free-text cell of every sheet and every text of review.yaml;
    return the fields attacked ("sheet.column")."""
    attacked = []
    for sheet in schema.SHEETS:
        path = folder / sheet.filename
        if not path.is_file():
            continue
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
        free = [i for i, name in enumerate(rows[0]) if name in sheet.names
                and sheet.column(name).kind == "str" and not sheet.column(name).identifier
                and name not in KEY_COLUMNS]
        for row in rows[1:]:
            for i in free:
                if i < len(row) and row[i]:
                    row[i] += PAYLOAD
                    attacked.append(f"{sheet.filename}.{rows[0][i]}")
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        path.write_text(out.getvalue(), encoding="utf-8")
    data = yaml.safe_load((folder / "review.yaml").read_text(encoding="utf-8"))
    data["title"] += PAYLOAD
    data["question"] += PAYLOAD
    data["conditions"] = {k: v + PAYLOAD for k, v in data["conditions"].items()}
    data["intervention_classes"] = {k: v + PAYLOAD for k, v in data["intervention_classes"].items()}
    data["favours"] = {"treatment": "vaccine" + PAYLOAD, "control": "control" + PAYLOAD}
    for key in ("population", "setting", "intervention", "comparison"):
        data[key] = key + PAYLOAD
    data["main_analysis"] = {"label": "Main" + PAYLOAD, "exclude_studies": ["Aronson1948"]}
    data["indirectness"] = {"Rosenthal1960": "indirect" + PAYLOAD}
    data["comparisons"] = {"specialised_vs_routine": {"label": "Specialised" + PAYLOAD}}
    (folder / "review.yaml").write_text(yaml.safe_dump(data, allow_unicode=True),
                                        encoding="utf-8")
    checksums.write(folder)
    return sorted(set(attacked)) + ["review.yaml"]


class MadeByPayload(HTMLParser):
    """Elements and attributes of a DOM that the payload would have created."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open: list[list] = []
        self.made: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            value = value or ""
            if (name == "data-pwned" or (name == "id" and value == "pwnimg")
                    or (name.startswith("on") and "pwned" in value)
                    or (name in ("href", "src") and value.strip().lower().startswith("javascript:"))
                    or (tag == "img" and name == "src" and value in ("x", "x.png"))
                    or (name == "alt" and value == "pwnpic")):
                self.made.append(f"<{tag} {name}={value[:40]!r}>")
        if tag not in VOID:
            self.open.append([tag, []])

    def handle_endtag(self, tag):
        while self.open:
            name, parts = self.open.pop()
            inner = "".join(parts).strip()
            if name in ("strong", "b", "em", "i") and inner == "pwnbold":
                self.made.append(f"<{name}>pwnbold")
            if name == "a" and inner == "pwnlink":
                self.made.append("<a>pwnlink")
            if name == "script" and "data-pwned" in inner:
                self.made.append("<script> of the payload")
            if self.open:
                self.open[-1][1].append("" if name in ("script", "style") else inner)
            if name == tag:
                break

    def handle_data(self, data):
        self.text.append(data)
        if self.open:
            self.open[-1][1].append(data)


def rendered_dom(browser: str, page: Path) -> str:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        done = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--no-first-run",
             f"--user-data-dir={profile}", "--virtual-time-budget=3000", "--dump-dom",
             page.as_uri()], capture_output=True, text=True, timeout=180)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert done.stdout.strip(), done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
@pytest.mark.browser
def test_payload_in_every_field_creates_nothing_in_the_rendered_reports(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium when it can)")
    root = tmp_path / "repo"
    shutil.copytree(REPO / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    folder = root / "data" / "raw" / "fixture"
    shutil.copytree(FIXTURE, folder)
    (root / "params").mkdir()
    (root / "params" / "fixture.yaml").write_text("review: fixture\nn_perm: 200\n")
    attacked = inject(folder)
    assert len(attacked) > 35
    env = {**os.environ, "METAREVIEW_ROOT": str(root)}
    for args in (("metareview.run.pipeline", "run", "--review", "fixture"),
                 ("metareview.run.record", "index")):
        done = subprocess.run([sys.executable, "-m", *args], cwd=root, env=env, text=True,
                              capture_output=True, timeout=900)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    pages = sorted((root / "reports" / "fixture").glob("*.html")) + [root / "reports" /
                                                                      "index.html"]
    assert len(pages) == 7
    shown = 0
    for page in pages:
        dom = MadeByPayload()
        dom.feed(rendered_dom(browser, page))
        dom.close()
        assert dom.made == [], f"{page.name}: {dom.made[:5]}"
        page_text = "".join(dom.text)
        shown += page_text.count("**pwnbold**")
        if page.name in ("03_pooled_models.html", "06_summary.html", "index.html"):
            # the title, the question and the outcome labels are there, as text
            assert "<img src=x id=pwnimg onerror=" in page_text, page.name
            assert "**pwnbold** [pwnlink](javascript:alert(1))" in page_text, page.name
    assert shown > 50
