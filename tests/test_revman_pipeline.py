"""A RevMan file through the whole bundle, as a user coming from RevMan runs it:
`make import-revman`, then `make reports`, in a fresh copy of the repository's layout.

Two files: R meta's Fleiss1993.rm5 (RevMan's stored totals must be reproduced in report 03)
and the constructed cases (subgroups, a study that is not estimable, Peto, generic inverse
variance), which must run through every notebook.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from support import empty_clone, make_in

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "revman"


_make = make_in


@pytest.fixture(scope="module")
def revman_root(tmp_path_factory) -> Path:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    root = tmp_path_factory.mktemp("from_revman")
    empty_clone(root)
    for fixture, name in (("Fleiss1993.rm5", "fleiss1993"), ("constructed.rm5", "constructed")):
        imported = _make(root, "import-revman", f"FILE={FIXTURES / fixture}", f"NAME={name}")
        assert imported.returncode == 0, imported.stdout + imported.stderr
    run = _make(root, "reports")
    assert run.returncode == 0, run.stdout + run.stderr
    return root


@pytest.mark.slow
def test_every_report_of_an_imported_review_is_written(revman_root):
    for name in ("fleiss1993", "constructed"):
        reports = revman_root / "reports" / name
        for notebook in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
            assert (reports / f"{notebook.stem}.html").is_file(), (name, notebook.stem)
        assert not list(reports.glob("*.FAILED.ipynb"))
    assert (revman_root / "reports" / "index.html").is_file()


@pytest.mark.slow
def test_report_03_reproduces_revmans_stored_totals(revman_root):
    stored = pd.read_csv(revman_root / "reports" / "fleiss1993" / "tables"
                         / "revman_stored_totals.csv", dtype=str)
    assert len(stored) == 11 and (stored["agrees"] == "yes").all()
    pooled = pd.read_csv(revman_root / "data" / "processed" / "fleiss1993" / "pooled_revman.csv")
    aspirin = pooled[pooled["outcome"] == "analysis_1_1"].iloc[0]
    assert aspirin["method"] == "MH" and aspirin["model"] == "fixed"
    assert aspirin["estimate"] == pytest.approx(0.8968655609130709, rel=1e-9)  # CSV: 10 digits
    assert aspirin["chi2"] == pytest.approx(9.946055983220074, rel=1e-9)
    html = (revman_root / "reports" / "fleiss1993" / "03_pooled_models.html").read_text()
    assert "RevMan's methods" in html and "reproduced to the digits the file stores" in html
    figures = revman_root / "reports" / "fleiss1993" / "figures"
    assert (figures / "forest_revman_analysis_1_1.svg").is_file()
    assert "M-H, Fixed, 95% CI" in (figures / "forest_revman_analysis_1_1.svg").read_text()


@pytest.mark.slow
def test_subgroups_and_a_study_that_is_not_estimable_run_through(revman_root):
    pooled = pd.read_csv(revman_root / "data" / "processed" / "constructed" / "pooled_revman.csv")
    deaths = pooled[pooled["outcome"] == "analysis_1_1"]
    assert list(deaths["subgroup"]) == [0, 1, 2]
    assert deaths["q_int"].notna().sum() == 1   # on the outcome's row
    svg = (revman_root / "reports" / "constructed" / "figures"
           / "forest_revman_analysis_1_1.svg").read_text()
    assert "Not estimable" in svg and "M-H, Random, 95% CI" in svg
    # the general analysis of the same review runs beside RevMan's (pooled.csv)
    general = pd.read_csv(revman_root / "data" / "processed" / "constructed" / "pooled.csv")
    assert {"analysis_1_1", "analysis_2_1", "analysis_3_1"} <= set(general["outcome"])


@pytest.mark.slow
def test_the_registry_in_docs_lists_what_a_revman_review_writes(revman_root):
    text = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    registry = text.split("## The processed tables (registry)", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z_<>]+\.(?:csv|txt))`", registry, flags=re.M))
    written = {p.name for p in (revman_root / "data" / "processed" / "fleiss1993").iterdir()}
    written = {n if not n.startswith("clean_") else "clean_<sheet>.csv" for n in written}
    assert written == listed
