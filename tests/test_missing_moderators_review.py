"""A new review whose subgroup and moderator columns have empty cells, built as a new user
builds one (`make new-review`, the sheets, `make checksums`, `make reports`).

Data: metadat's dat.bcg (13 BCG trials, risk ratio of tuberculosis from the arms' counts),
with the allocation left empty for trials 3 and 11 and the absolute latitude for trials 5 and
12, as sources that do not report them. Allocation is both a subgroup and a categorical
moderator, its levels listed in review.yaml as random, alternate, systematic; latitude is a
continuous moderator. metafor's fits on the studies that report each column are in
tests/fixtures/metafor/missing_moderators.json (make_missing_fixtures.R).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from support import empty_clone, make_in, rewrite_sheet

REPO = Path(__file__).resolve().parents[1]
REFERENCE = json.loads(
    (REPO / "tests" / "fixtures" / "metafor" / "missing_moderators.json").read_text())
NAME = "bcg-missing"
TEST = "knha"
REVIEW_YAML = """\
title: BCG vaccine against tuberculosis
question: Does BCG vaccination prevent tuberculosis compared with no vaccination?
years: [1940, 1990]
conditions: {tuberculosis: Tuberculosis}
intervention_classes: {bcg: BCG vaccine}
study_columns:
  - {name: alloc, kind: category, allowed: [random, alternate, systematic],
     description: how participants were allocated}
  - {name: ablat, kind: float, description: absolute latitude of the trial site}
subgroups: [alloc, design]
moderators:
  - {column: ablat, kind: continuous}
  - {column: alloc, kind: categorical}
favours: {treatment: BCG, control: no vaccine}
"""
SOURCE = {"source_url": "https://wviechtb.github.io/metadat/reference/dat.bcg.html",
          "source_location": "dataset dat.bcg", "source_level": "full_text"}


def study_id(trial: int) -> str:
    return f"bcg{trial}"


def _cell(value) -> str:
    return "" if value is None else f"{value}"


def _fill_in(folder: Path) -> None:
    (folder / "review.yaml").write_text(REVIEW_YAML, encoding="utf-8")
    data = REFERENCE["input"]
    studies, arms = [], []
    for i, trial in enumerate(data["trial"]):
        study = study_id(trial)
        studies.append({"study_id": study, "citation": f"{data['author'][i]} {data['year'][i]}",
                        "year": data["year"][i], "design": "parallel",
                        "randomised": "true" if data["alloc"][i] == "random" else "false",
                        "condition": "tuberculosis", "intervention_class": "bcg",
                        "intervention": "BCG vaccine", "comparator": "no vaccine",
                        "co_intervention": "none", "alloc": _cell(data["alloc"][i]),
                        "ablat": _cell(data["ablat"][i]), **SOURCE})
        for role, pos, neg in (("treatment", "tpos", "tneg"), ("control", "cpos", "cneg")):
            arms.append({"study_id": study, "comparison": "bcg_vs_none", "outcome": "tb",
                         "arm": role, "role": role, "events": data[pos][i],
                         "total": data[pos][i] + data[neg][i], "value_type": "count",
                         "reported_form": "events_total", **SOURCE})
    # the review's own columns go at the end of the scaffold's header
    header = (folder / "studies.csv").read_text(encoding="utf-8").splitlines()[0]
    (folder / "studies.csv").write_text(header + ",alloc,ablat\n", encoding="utf-8")
    rewrite_sheet(folder / "studies.csv", studies)
    rewrite_sheet(folder / "arms.csv", arms)
    rewrite_sheet(folder / "outcomes.csv", [
        {"outcome": "tb", "label": "Tuberculosis", "type": "binary", "measure": "RR",
         "scale": "cases", "direction": "lower_is_better"}])


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("missing_review")
    empty_clone(root)
    scaffold = make_in(root, "new-review", f"NAME={NAME}")
    assert scaffold.returncode == 0, scaffold.stdout + scaffold.stderr
    _fill_in(root / "data" / "raw" / NAME)
    (root / "params" / f"{NAME}.yaml").write_text(
        f"review: {NAME}\ntau2_method: REML\ntest: {TEST}\nn_perm: 200\n", encoding="utf-8")
    accepted = make_in(root, "checksums", f"REVIEW={NAME}")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    run = make_in(root, "reports")
    assert run.returncode == 0, run.stdout + run.stderr
    return root


def _processed(root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(root / "data" / "processed" / NAME / f"{name}.csv",
                       keep_default_na=False, na_values=[""])


@pytest.mark.slow
def test_studies_in_natural_order(root):
    expected = [study_id(t) for t in REFERENCE["input"]["trial"]]   # bcg1, bcg2, ..., bcg13
    assert expected[:3] == ["bcg1", "bcg2", "bcg3"] and expected[-1] == "bcg13"
    assert _processed(root, "effects")["study_id"].tolist() == expected
    characteristics = _processed(root, "study_characteristics")
    assert characteristics.iloc[:, 0].astype(str).str.startswith("bcg").all()
    assert characteristics.iloc[:, 0].tolist() == expected


@pytest.mark.slow
def test_subgroup_studies_not_reporting_are_shown_and_left_out(root):
    expected = REFERENCE["cases"][TEST]
    table = _processed(root, "subgroups")
    alloc = table[table["moderator"] == "alloc"]
    groups = alloc[alloc["row"] == "group"].set_index("level")
    assert list(groups.index) == ["random", "alternate", "systematic", "not reported"]
    for level, reference in expected["alloc_groups"].items():
        assert groups.loc[level, "k"] == reference["k"]
        for name in ("estimate", "ci_low", "ci_high", "tau2"):
            assert groups.loc[level, name] == pytest.approx(reference[name], rel=1e-6), name
    assert groups.loc["not reported", "k"] == 2
    between = alloc[alloc["row"] == "between"].set_index("tau2_mode")
    assert (between["k"] == 11).all()
    assert set(between["status"]) == {"tested; 2 studies that do not report alloc left out"}
    assert between.loc["common", "q_between"] == pytest.approx(expected["alloc"]["qm"], rel=1e-6)
    assert between.loc["common", "df2"] == expected["alloc"]["qm_df2"]
    page = (root / "reports" / NAME / "04_subgroups.html").read_text(encoding="utf-8")
    assert "2 studies that do not report alloc left out" in page
    assert (root / "reports" / NAME / "figures" / "subgroup_tb_alloc.png").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("moderator", ["ablat", "alloc"])
def test_meta_regression_on_complete_rows_equals_metafor(root, moderator):
    reference = REFERENCE["cases"][TEST][moderator]
    table = _processed(root, "meta_regression")
    rows = table[table["moderator"] == moderator].set_index("term")
    assert list(rows.index) == reference["terms"]
    assert (rows["k"] == reference["k"]).all() and reference["k"] == 11
    for position, term in enumerate(reference["terms"]):
        for name, ref in (("estimate", "coefs"), ("se", "se"), ("ci_low", "ci_low"),
                          ("ci_high", "ci_high"), ("pval", "pval")):
            assert rows.loc[term, name] == pytest.approx(reference[ref][position], rel=1e-6,
                                                         abs=1e-10), (term, name)
    for name in ("qm", "qm_pval", "tau2", "r2"):
        assert rows[name].iloc[0] == pytest.approx(reference[name], rel=1e-6, abs=1e-10), name
    assert set(rows["status"]) == {f"fitted; 2 studies that do not report {moderator} left out"}
    page = (root / "reports" / NAME / "04_subgroups.html").read_text(encoding="utf-8")
    assert f"fitted; 2 studies that do not report {moderator} left out" in page
    bubble = root / "reports" / NAME / "figures" / "bubble_tb_ablat.png"
    assert bubble.is_file()
