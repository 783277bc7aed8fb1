"""A new review of arm means whose outcome is higher-is-better, built as a new user builds one
(`make new-review`, the sheets, `make checksums`, `make reports`): every place shows metafor's
sign, treatment minus control.

Data: the first ten rows of metadat's dat.curtis1998 (plant biomass under elevated against
ambient CO2; more biomass read as better), entered twice: as arm means (SMD derived by the
bundle) and as printed SMDs with their 95% intervals (positive = more biomass with elevated
CO2). metafor's values are in tests/fixtures/metafor/direction.json
(make_direction_fixtures.R).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from metareview.report.pooled import MAIN
from metareview.review.schema import SHEETS
from support import empty_clone, make_in, rewrite_sheet

REPO = Path(__file__).resolve().parents[1]
REFERENCE = json.loads((REPO / "tests" / "fixtures" / "metafor" / "direction.json").read_text())
NAME = "co2-biomass"
REVIEW_YAML = """\
title: Elevated CO2 and plant biomass
question: Does elevated CO2 increase plant biomass compared with ambient CO2?
years: [1980, 2000]
conditions: {woody_plants: Woody plants}
intervention_classes: {elevated_co2: Elevated CO2}
favours: {treatment: elevated CO2, control: ambient CO2}
"""
SOURCE = {"source_url": "https://wviechtb.github.io/metadat/reference/dat.curtis1998.html",
          "source_location": "dataset dat.curtis1998, rows 1-10", "source_level": "full_text"}


def _fill_in(folder: Path) -> None:
    (folder / "review.yaml").write_text(REVIEW_YAML, encoding="utf-8")
    data = REFERENCE["input"]
    smd = REFERENCE["cases"]["SMD"]
    z = stats.norm.isf(0.025)
    studies, arms, contrasts = [], [], []
    for i, row_id in enumerate(data["id"]):
        study = f"Curtis{row_id}"
        studies.append({"study_id": study, "citation": f"paper {data['paper'][i]}, row {row_id}"
                        " of dat.curtis1998", "year": 1995, "design": "parallel",
                        "randomised": "true", "condition": "woody_plants",
                        "intervention_class": "elevated_co2", "intervention": "elevated CO2",
                        "comparator": "ambient CO2", "co_intervention": "none", **SOURCE})
        for role, prefix in (("treatment", "1"), ("control", "2")):
            arms.append({"study_id": study, "comparison": "elevated_vs_ambient",
                         "outcome": "biomass", "arm": f"{role} CO2", "role": role,
                         "n": data[f"n{prefix}i"][i], "mean": data[f"m{prefix}i"][i],
                         "sd": data[f"sd{prefix}i"][i], "value_type": "final",
                         "reported_form": "mean_sd", **SOURCE})
        yi, se = smd["yi"][i], math.sqrt(smd["vi"][i])
        contrasts.append({"study_id": study, "comparison": "elevated_vs_ambient",
                          "outcome": "biomass_printed", "measure": "SMD",
                          "estimate": f"{yi:.10f}", "ci_low": f"{yi - z * se:.10f}",
                          "ci_high": f"{yi + z * se:.10f}", "ci_level": 0.95, "basis": "z",
                          "paired": "false",
                          "contrast_direction": "treatment_minus_control", "favours": "",
                          "value_type": "final", "reported_form": "estimate_ci", **SOURCE})
    rewrite_sheet(folder / "studies.csv", studies)
    rewrite_sheet(folder / "arms.csv", arms)
    # contrasts.csv is optional, so the scaffold leaves it out: its header is the schema's
    # (listed in the review's CODEBOOK.md)
    sheet = next(sh for sh in SHEETS if sh.filename == "contrasts.csv")
    (folder / "contrasts.csv").write_text(",".join(sheet.names) + "\n", encoding="utf-8")
    rewrite_sheet(folder / "contrasts.csv", contrasts)
    rewrite_sheet(folder / "outcomes.csv", [
        {"outcome": "biomass", "label": "Plant biomass", "type": "continuous",
         "measure": "SMD", "scale": "biomass", "direction": "higher_is_better"},
        {"outcome": "biomass_printed", "label": "Plant biomass, SMD as printed",
         "type": "continuous", "measure": "SMD", "scale": "biomass",
         "direction": "higher_is_better"}])


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("direction_review")
    empty_clone(root)
    scaffold = make_in(root, "new-review", f"NAME={NAME}")
    assert scaffold.returncode == 0, scaffold.stdout + scaffold.stderr
    _fill_in(root / "data" / "raw" / NAME)
    (root / "params" / f"{NAME}.yaml").write_text(
        f"review: {NAME}\ntau2_method: REML\ntest: z\nn_perm: 200\n", encoding="utf-8")
    accepted = make_in(root, "checksums", f"REVIEW={NAME}")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    run = make_in(root, "reports")
    assert run.returncode == 0, run.stdout + run.stderr
    return root


@pytest.mark.slow
@pytest.mark.parametrize("outcome", ["biomass", "biomass_printed"])
def test_pooled_smd_has_metafors_sign_and_value(root, outcome):
    expected = REFERENCE["cases"]["SMD"]
    assert expected["estimate"] > 0                  # more biomass with elevated CO2
    pooled = pd.read_csv(root / "data" / "processed" / NAME / "pooled.csv")
    row = pooled[(pooled["outcome"] == outcome) & (pooled["analysis"] == MAIN)].iloc[0]
    assert row["k"] == 10
    for name in ("estimate", "ci_low", "ci_high", "tau2"):
        assert row[name] == pytest.approx(expected[name], rel=1e-6, abs=1e-9), name


@pytest.mark.slow
def test_effects_are_treatment_minus_control(root):
    effects = pd.read_csv(root / "data" / "processed" / NAME / "effects.csv")
    arms = effects[effects["outcome"] == "biomass"].sort_values("study_id")
    expected = dict(zip([f"Curtis{i}" for i in REFERENCE["input"]["id"]],
                        REFERENCE["cases"]["SMD"]["yi"]))
    for study, yi in zip(arms["study_id"], arms["yi"]):
        assert yi == pytest.approx(expected[study], rel=1e-9)
    assert ((arms["mean_treatment"] > arms["mean_control"]) == (arms["yi"] > 0)).all()


@pytest.mark.slow
def test_every_page_shows_the_same_signed_result(root, monkeypatch):
    from metareview import files
    from metareview.run import consistency

    monkeypatch.setenv(files.ROOT_ENV, str(root))
    expected = REFERENCE["cases"]["SMD"]
    shown = (f"SMD {expected['estimate']:.2f} ({expected['ci_low']:.2f} to "
             f"{expected['ci_high']:.2f})")
    assert expected["ci_low"] > 0                    # no minus sign anywhere in this result
    for page in (root / "reports" / NAME / "06_summary.html",
                 root / "reports" / NAME / "summary.docx", root / "reports" / "index.html"):
        assert shown in consistency.page_text(page), page.name
    assert consistency.problems(NAME) == []
    sof = pd.read_csv(root / "data" / "processed" / NAME / "summary_of_findings.csv")
    row = sof[sof["outcome"] == "biomass"].iloc[0]
    assert row["Comments"].startswith("Elevated CO2 ")
    assert "increase plant biomass" in row["Comments"]   # "may increase" (low certainty)
    assert row["Outcome"] == "Plant biomass (higher is better)"


@pytest.mark.slow
def test_forest_plot_favours_labels_follow_the_direction(root, monkeypatch):
    from metareview.report import pooled, review_figures
    from metareview.review.derive import read_effects
    from metareview.review.sheets import load_review

    monkeypatch.setenv("METAREVIEW_ROOT", str(root))
    review = load_review(root / "data" / "raw" / NAME)
    effects = read_effects(root / "data" / "processed" / NAME / "effects.csv")
    fit = next(f for f in pooled.analyses(effects).plotted() if f.outcome == "biomass")
    figure = review_figures.forest_for(fit, review)
    labels = [(t.get_position()[0], t.get_text()) for t in figure.findobj(
        lambda a: hasattr(a, "get_text") and str(a.get_text()).startswith("Favours"))]
    left, right = sorted(labels)[0][1], sorted(labels)[-1][1]
    # higher is better: a positive difference (right of 0) favours the treatment
    assert left == "Favours ambient CO2" and right == "Favours elevated CO2"
