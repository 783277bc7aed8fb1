"""One result, shown everywhere: every page that repeats a pooled result shows the pooled
table's numbers.

`problems(review)` reads the result table (`data/processed/<review>/pooled.csv`), the numbers
behind the summary of findings (`summary_of_findings.csv`), the key results
(`key_results.csv`) and the pages a reader opens (report 03, the summary report
`06_summary.html`, `summary.docx`, `reports/index.html`), and lists every place where a
number differs:

- each summary-of-findings row of a pooled model or a single study has the estimate and
  interval of its pooled-table row (analysis, outcome), on the natural scale, to 1e-9, or,
  where it leads with the Bayesian estimate (`basis` "bayesian", few studies), those of its
  row of `bayes.csv` under the review's prior; each row of a single-group rate, those of its
  row of `pooled_proportions.csv` (GLMM);
- the effect text of each such row ("MD 23.35 percentage points (−102.19 to 148.89)") appears
  in the summary report and in the Word file;
- each key result is a summary-of-findings row and its effect text appears on the index;
- each pooled result's estimate and interval, at two decimals, appear in report 03, and so
  do those of its Bayesian model under every prior (`bayes.csv`).

Texts are compared after the minus sign (U+2212) is read as a hyphen, so that only numbers are
compared, not typography. `make check` runs it for every review.
"""

from __future__ import annotations

import html
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from metareview import files
from metareview.report.bayes import MAIN_PRIOR
from metareview.report.findings import BAYESIAN_SUFFIX, MINUS, effect_text
from metareview.stats.vocabulary import is_ratio

__all__ = ["problems", "page_text", "visible_text"]

# Summary-of-findings rows whose numbers are a pooled-table row, and those whose numbers are a
# row of the single-group rates.
RESULT_KINDS = ("pooled", "single study")
RATE_KINDS = ("proportion", "single-group study")


class _Text(HTMLParser):
    """The visible text of an HTML page, without the elements named in `hidden`."""

    def __init__(self, hidden: tuple[str, ...]) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = hidden
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.hidden:
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in self.hidden and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(path: Path, hidden: tuple[str, ...] = ("script", "style")) -> str:
    """The text a reader sees in an HTML page (without the `hidden` elements) or a Word file
    (paragraphs, then table cells), one part per line; "" when the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return ""
    if path.suffix == ".docx":
        from docx import Document

        document = Document(str(path))
        parts = [p.text for p in document.paragraphs]
        parts += [cell.text for table in document.tables for row in table.rows
                  for cell in row.cells]
        return "\n".join(parts)
    parser = _Text(hidden)
    parser.feed(path.read_text(encoding="utf-8"))
    return html.unescape("\n".join(parser.parts))


def page_text(path: Path) -> str:
    """The text a reader sees on an HTML page or in a Word file, whitespace collapsed and the
    minus sign read as a hyphen; "" when the file does not exist."""
    return _normal(visible_text(path))


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", str(text).replace(MINUS, "-"))


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame()
    return pd.read_csv(path, keep_default_na=False, na_values=[""],
                       dtype={"outcome": str, "analysis": str})


def _natural(row, name: str) -> float:
    """A pooled-table value on the natural scale (ratios: exp of the log-scale value)."""
    value = float(row[name])
    return math.exp(value) if is_ratio(str(row.get("measure", ""))) else value


def _units(review: str) -> dict[str, str]:
    outcomes = _read(files.raw_dir(review) / "outcomes.csv")
    if outcomes.empty or "unit" not in outcomes:
        return {}
    return {o: ("" if pd.isna(u) else str(u)) for o, u in zip(outcomes["outcome"],
                                                             outcomes["unit"])}


def _two_decimals(value: float) -> str:
    text = f"{value:.2f}"
    return text.lstrip("-") if float(text) == 0 else text


def _rate_problems(sof: pd.DataFrame, rates: pd.DataFrame, summary_page: str,
                   word: str) -> list[str]:
    """Single-group rates of the summary of findings against pooled_proportions.csv."""
    found = []
    if rates.empty:
        return found
    glmm = rates[rates["model"].astype(str).str.startswith("GLMM")]
    by_key = {(str(r["outcome"]), str(r["group"])): r for r in glmm.to_dict("records")}
    for r in sof.to_dict("records"):
        if r.get("kind") not in RATE_KINDS:
            continue
        outcome, _, group = str(r["outcome"]).partition(": ")
        source = by_key.get((outcome, group))
        where = f"summary of findings, {r['outcome']}"
        if source is None:
            found.append(f"{where}: no GLMM row of pooled_proportions.csv")
            continue
        for name, column in (("estimate", "proportion"), ("ci_low", "ci_low"),
                             ("ci_high", "ci_high")):
            if not math.isclose(float(r[name]), float(source[column]), rel_tol=1e-9,
                                abs_tol=1e-12):
                found.append(f"{where}: {name} {float(r[name])!r}, pooled_proportions.csv has "
                             f"{float(source[column])!r}")
        text = _normal(effect_text("PLO", float(r["estimate"]), float(r["ci_low"]),
                                   float(r["ci_high"])))
        for page, name in ((summary_page, "06_summary.html"), (word, "summary.docx")):
            if page and text not in page:
                found.append(f"{name}: {where} should read {text!r}")
    return found


def problems(review: str) -> list[str]:
    """Every place where a page of `review` shows a pooled result other than the result
    table's; an empty list when they all agree (see the module docstring)."""
    processed = files.processed_dir(review)
    reports = files.reports_dir(review)
    pooled = _read(processed / "pooled.csv")
    sof = _read(processed / "summary_of_findings.csv")
    if pooled.empty or sof.empty:
        return []
    found: list[str] = []
    units = _units(review)
    rows = {(str(r["analysis"]), str(r["outcome"])): r for r in pooled.to_dict("records")}
    bayes = _read(processed / "bayes.csv")
    bayes_rows = ({(str(r["analysis"]), str(r["outcome"])): r for r in bayes.to_dict("records")
                   if r["prior_role"] == MAIN_PRIOR} if not bayes.empty else {})
    summary_page = page_text(reports / "06_summary.html")
    word = page_text(reports / "summary.docx")
    effect_texts = {}
    for r in sof.to_dict("records"):
        if r.get("kind") not in RESULT_KINDS:
            continue
        key = (str(r["analysis"]), str(r["outcome"]))
        bayesian = str(r.get("basis", "")) == "bayesian"
        table = "bayes.csv" if bayesian else "pooled.csv"
        source = (bayes_rows if bayesian else rows).get(key)
        where = f"summary of findings, {r['outcome']} ({r['analysis']})"
        if source is None:
            found.append(f"{where}: no row of {table} for this analysis and outcome")
            continue
        for name in ("estimate", "ci_low", "ci_high"):
            shown, expected = float(r[name]), _natural(source, name)
            if not math.isclose(shown, expected, rel_tol=1e-9, abs_tol=1e-12):
                found.append(f"{where}: {name} {shown!r}, {table} has {expected!r}")
        text = _normal(effect_text(r["measure"], float(r["estimate"]), float(r["ci_low"]),
                                   float(r["ci_high"]), units.get(str(r["outcome"]), ""))
                       + (BAYESIAN_SUFFIX if bayesian else ""))
        effect_texts[key] = text
        for page, name in ((summary_page, "06_summary.html"), (word, "summary.docx")):
            if page and text not in page:
                found.append(f"{name}: {where} should read {text!r}")
    found += _rate_problems(sof, _read(processed / "pooled_proportions.csv"), summary_page,
                            word)
    index = page_text(files.reports_dir() / "index.html")
    key_results = _read(processed / "key_results.csv")
    for r in key_results.to_dict("records"):
        text = _normal(r["Effect (95% CI)"])
        key = (str(r["analysis"]), str(r["outcome"]))
        if key in effect_texts and effect_texts[key] != text:
            found.append(f"key_results.csv: {r['outcome']} reads {text!r}, the summary of "
                         f"findings {effect_texts[key]!r}")
        if index and text not in index:
            found.append(f"index.html: key result {r['outcome']} should read {text!r}")
    report_03 = page_text(reports / "03_pooled_models.html")
    for r in pooled[pooled["status"] == "pooled"].to_dict("records"):
        numbers = [_two_decimals(_natural(r, n)) for n in ("estimate", "ci_low", "ci_high")]
        if report_03 and not all(n in report_03 for n in numbers):
            found.append(f"03_pooled_models.html: {r['outcome']} ({r['analysis']}) should show "
                         f"{numbers[0]} [{numbers[1]}, {numbers[2]}]")
    for r in bayes.to_dict("records") if not bayes.empty else []:
        numbers = [_two_decimals(_natural(r, n)) for n in ("estimate", "ci_low", "ci_high")]
        if report_03 and not all(n in report_03 for n in numbers):
            found.append(f"03_pooled_models.html: the Bayesian model of {r['outcome']} "
                         f"({r['analysis']}, {r['tau_prior']}) should show "
                         f"{numbers[0]} [{numbers[1]}, {numbers[2]}]")
    return found
