"""A second review from a published dataset, as a new user adds one: `make new-review`, fill
in the sheets, `make checksums`, `make reports`, then the numbers against metafor.

The BCG vaccine trials (metadat's dat.bcg, 13 trials) need what the acne-scar review does not:
trials from 1948 and 1949, no timepoints, absolute latitude as a continuous moderator, and
their own "favours" labels. No package code is edited: everything is in the review's folder.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from metareview.report.pooled import MAIN
from support import empty_clone, make_in, rewrite_sheet

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "review_fixture"
MODELS = json.loads((REPO / "tests" / "fixtures" / "metafor" / "models.json").read_text())
NAME = "bcg-vaccine"
# dat.bcg: trial, year of publication, absolute latitude (metadat documentation)
TRIALS = [("Aronson1948", 1948, 44), ("FergusonSimes1949", 1949, 55),
          ("Rosenthal1960", 1960, 42), ("HartSutherland1977", 1977, 52),
          ("FrimodtMoller1973", 1973, 13), ("SteinAronson1953", 1953, 44),
          ("Vandiviere1973", 1973, 19), ("TPTMadras1980", 1980, 13),
          ("CoetzeeBerjak1968", 1968, 27), ("Rosenthal1961", 1961, 42),
          ("Comstock1974", 1974, 18), ("ComstockWebster1969", 1969, 33),
          ("Comstock1976", 1976, 33)]
REVIEW_YAML = """\
title: BCG vaccine against tuberculosis
question: Does BCG vaccination prevent tuberculosis, and does its effect depend on latitude?
years: [1940, 1990]
conditions: {tuberculosis: Tuberculosis}
intervention_classes: {bcg: BCG vaccine}
study_columns:
  - {name: latitude, kind: float, description: absolute latitude of the trial site (degrees)}
subgroups: [design]
moderators:
  - {column: latitude, kind: continuous}
favours: {treatment: BCG vaccine, control: no vaccine}
"""
SOURCE = {"source_url": "https://wviechtb.github.io/metadat/reference/dat.bcg.html",
          "source_location": "dataset dat.bcg", "source_level": "full_text"}


_make = make_in
_rewrite = rewrite_sheet


def _fill_in(folder: Path) -> None:
    (folder / "review.yaml").write_text(REVIEW_YAML, encoding="utf-8")
    arms = pd.read_csv(FIXTURE / "arms.csv")
    tb = arms[arms["outcome"] == "tb"]
    # the fixture review names the trials by author and year of the trial; take its counts
    fixture_ids = list(dict.fromkeys(tb["study_id"]))
    assert len(fixture_ids) == len(TRIALS)
    studies, arm_rows = [], []
    for (study_id, year, latitude), fixture_id in zip(TRIALS, fixture_ids):
        studies.append({"study_id": study_id, "citation": f"{study_id}, in Colditz 1994",
                        "year": year, "design": "parallel", "randomised": "true",
                        "condition": "tuberculosis", "intervention_class": "bcg",
                        "intervention": "BCG vaccine", "comparator": "no vaccine",
                        "co_intervention": "none", "latitude": latitude, **SOURCE})
        for _, row in tb[tb["study_id"] == fixture_id].iterrows():
            arm_rows.append({"study_id": study_id, "comparison": "bcg_vs_none",
                             "outcome": "tb", "arm": row["arm"], "role": row["role"],
                             "events": int(row["events"]), "total": int(row["total"]),
                             "value_type": "count", "reported_form": "events_total", **SOURCE})
    header = next(csv.reader((folder / "studies.csv").open(encoding="utf-8")))
    assert "latitude" not in header  # the scaffold wrote the schema's columns only
    (folder / "studies.csv").write_text(",".join(header + ["latitude"]) + "\n", encoding="utf-8")
    _rewrite(folder / "studies.csv", studies)
    _rewrite(folder / "arms.csv", arm_rows)
    _rewrite(folder / "outcomes.csv", [{"outcome": "tb", "label": "Tuberculosis",
                                        "type": "binary", "measure": "RR",
                                        "scale": "cases of tuberculosis",
                                        "direction": "lower_is_better"}])


@pytest.fixture(scope="module")
def bcg_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("second_review")
    empty_clone(root)
    scaffold = _make(root, "new-review", f"NAME={NAME}")
    assert scaffold.returncode == 0, scaffold.stdout + scaffold.stderr
    # the first run of the empty scaffold says what to fill in, without a traceback
    first = _make(root, "reports")
    assert first.returncode != 0
    assert "studies.csv has no study rows" in first.stdout + first.stderr
    assert "Traceback" not in first.stdout + first.stderr
    _fill_in(root / "data" / "raw" / NAME)
    (root / "params" / f"{NAME}.yaml").write_text(
        f"review: {NAME}\ntau2_method: REML\ntest: z\nn_perm: 1000\n", encoding="utf-8")
    accepted = _make(root, "checksums", f"REVIEW={NAME}")
    assert accepted.returncode == 0 and "accepted" in accepted.stdout, accepted.stderr
    run = _make(root, "reports")
    assert run.returncode == 0, run.stdout + run.stderr
    return root


def _fixture(section: str, **match) -> dict:
    for entry in MODELS[section]:
        if all(entry.get(k) == v for k, v in match.items()):
            return entry["result"]
    raise KeyError(match)


@pytest.mark.slow
def test_the_scaffold_writes_every_sheet_and_a_codebook(bcg_root):
    folder = bcg_root / "data" / "raw" / NAME
    for name in ("review.yaml", "studies.csv", "arms.csv", "outcomes.csv", "CODEBOOK.md",
                 "SHA256SUMS"):
        assert (folder / name).is_file(), name
    assert (bcg_root / "params" / f"{NAME}.yaml").is_file()


@pytest.mark.slow
def test_pooled_risk_ratio_equals_metafor(bcg_root):
    pooled = pd.read_csv(bcg_root / "data" / "processed" / NAME / "pooled.csv")
    row = pooled[(pooled["outcome"] == "tb") & (pooled["analysis"] == MAIN)].iloc[0]
    expected = _fixture("pool", dataset="bcg_rr", method="REML", test="z")
    assert row["k"] == 13
    assert row["estimate"] == pytest.approx(expected["estimate"], rel=1e-6)
    assert row["ci_low"] == pytest.approx(expected["ci_low"], rel=1e-6)
    assert row["ci_high"] == pytest.approx(expected["ci_high"], rel=1e-6)
    assert row["tau2"] == pytest.approx(expected["tau2"], rel=1e-6)


@pytest.mark.slow
def test_meta_regression_on_latitude_equals_metafor(bcg_root):
    table = pd.read_csv(bcg_root / "data" / "processed" / NAME / "meta_regression.csv")
    fitted = table[(table["moderator"] == "latitude") & (table["status"] == "fitted")]
    slope = fitted[fitted["term"] == "latitude"].iloc[0]
    expected = _fixture("meta_regression", dataset="bcg_rr", columns=["ablat"], method="REML",
                        test="z")
    assert slope["estimate"] == pytest.approx(expected["coefs"][1], rel=1e-6)
    assert slope["qm"] == pytest.approx(expected["qm"], rel=1e-6)
    assert slope["tau2"] == pytest.approx(expected["tau2"], rel=1e-6)
    figures = bcg_root / "reports" / NAME / "figures"
    assert (figures / "bubble_tb_latitude.png").is_file()


@pytest.mark.slow
def test_the_reviews_own_favours_labels_and_early_years(bcg_root, monkeypatch):
    from metareview.report import pooled, review_figures
    from metareview.review.derive import read_effects
    from metareview.review.sheets import load_review

    monkeypatch.setenv("METAREVIEW_ROOT", str(bcg_root))
    review = load_review(bcg_root / "data" / "raw" / NAME)
    effects = read_effects(bcg_root / "data" / "processed" / NAME / "effects.csv")
    assert effects["timepoint_weeks"].isna().all() and "latitude" in effects.columns
    assert review.studies["year"].min() == 1948
    fit = pooled.analyses(effects).plotted()[0]
    figure = review_figures.forest_for(fit, review)
    texts = [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]
    assert any("Favours BCG vaccine" in t for t in texts)
    assert any("Favours no vaccine" in t for t in texts)
    assert not any("cell therapy" in t for t in texts)
