"""Reviews entered as their sources print them, each against metafor 3.8-1.

Three review folders are written as a reviewer fills them in (review.yaml, studies, the
sheets, outcomes; no `condition` or `co_intervention`, sources at `source_level: dataset`),
validated by `load_review`, turned into effects by `derive_effects` and pooled by `pool`:

- printed estimates with their SE or their variance (`estimate_se`, `estimate_variance`):
  SMDs of dat.bangertdrowns2004 and risk ratios of dat.bcg;
- crossover trials (`design: within_person`, `within_person_kind: crossover`, one entered with
  the earlier design value `crossover`), per-treatment means and SDs analysed paired, and one
  trial's printed paired MD with its t interval (`basis: t`);
- a three-arm trial against one shared control (dat.hasselblad1998, Cottraux 1983), the
  control's events and total split between its two comparisons (Cochrane Handbook 23.3.4).

metafor's numbers are in tests/fixtures/metafor/entry.json (make_entry_fixtures.R).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metareview.report.pooled import MAIN
from metareview.review.derive import derive_effects
from metareview.review.schema import ARMS, CONTRASTS, OUTCOMES, STUDIES
from metareview.review.sheets import load_review
from metareview.stats.pooling import pool

REPO = Path(__file__).resolve().parents[1]
REFERENCE = json.loads((REPO / "tests" / "fixtures" / "metafor" / "entry.json").read_text())
RTOL = 1e-9


def _source(dataset: str) -> dict:
    return {"source_url": f"https://wviechtb.github.io/metadat/reference/{dataset}.html",
            "source_location": f"dataset {dataset}", "source_level": "dataset"}


def _study(study_id: str, source: dict, design: str = "parallel", **extra) -> dict:
    # no condition, no co_intervention: both optional
    return {"study_id": study_id, "citation": f"{study_id}, a row of the dataset",
            "design": design, "randomised": "true", "intervention_class": "active",
            "intervention": "active", "comparator": "control", **source, **extra}


def _write_review(folder: Path, studies, outcomes, arms=(), contrasts=()) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "review.yaml").write_text(
        "title: entry test\nintervention_classes: {active: Active treatment}\n",
        encoding="utf-8")
    (folder / "CODEBOOK.md").write_text("# codebook\n", encoding="utf-8")
    for sheet, rows in ((STUDIES, studies), (ARMS, arms), (CONTRASTS, contrasts),
                        (OUTCOMES, outcomes)):
        pd.DataFrame(list(rows), columns=list(sheet.names)).to_csv(folder / sheet.filename,
                                                                   index=False)


def _outcome(outcome: str, kind: str, measure: str, direction="higher_is_better") -> dict:
    return {"outcome": outcome, "label": outcome, "type": kind, "measure": measure,
            "scale": outcome, "direction": direction}


def _pooled_matches(effects: pd.DataFrame, expected: dict) -> None:
    fit = pool(effects["yi"], effects["vi"], method="REML", test="z")
    assert fit.k == expected["k"]
    for name in ("estimate", "se", "ci_low", "ci_high"):
        assert getattr(fit, name) == pytest.approx(expected[name], rel=1e-7), name
    assert fit.tau2 == pytest.approx(expected["tau2"], rel=1e-6, abs=1e-10)


# --- estimates with their SE or variance -------------------------------------------------


def _fill_se_review(folder: Path) -> None:
    smd, rr = REFERENCE["estimate_se"]["smd"], REFERENCE["estimate_se"]["rr"]
    bd, bcg = _source("dat.bangertdrowns2004"), _source("dat.bcg")
    studies, contrasts = [], []
    for i, study in enumerate(smd["study"]):
        studies.append(_study(study, bd))
        row = {"study_id": study, "comparison": "writing_vs_usual", "outcome": "achievement",
               "measure": "SMD", "estimate": smd["estimate"][i], "paired": "false",
               "n_treatment": "", "n_control": "", "reported_form": smd["form"][i],
               "contrast_direction": "treatment_minus_control", **bd}
        if smd["form"][i] == "estimate_se":
            row["se"] = smd["se"][i]
        else:
            row["variance"] = smd["variance"][i]
        contrasts.append(row)
    for i, study in enumerate(rr["study"]):
        studies.append(_study(study, bcg))
        contrasts.append({"study_id": study, "comparison": "bcg_vs_none", "outcome": "tb",
                          "measure": "RR", "estimate": rr["estimate"][i], "se": rr["se"][i],
                          "paired": "false", "reported_form": "estimate_se",
                          "contrast_direction": "treatment_minus_control", **bcg})
    _write_review(folder, studies, [_outcome("achievement", "continuous", "SMD"),
                                    _outcome("tb", "binary", "RR", "lower_is_better")],
                  contrasts=contrasts)


@pytest.fixture(scope="module")
def se_review(tmp_path_factory):
    folder = tmp_path_factory.mktemp("entry") / "estimate-se"
    _fill_se_review(folder)
    return derive_effects(load_review(folder))


def test_printed_smds_with_se_or_variance_are_metafors(se_review):
    expected = REFERENCE["estimate_se"]["smd"]
    effects = se_review.effects[se_review.effects["outcome"] == "achievement"]
    effects = effects.set_index("study_id").loc[expected["study"]]
    np.testing.assert_allclose(effects["yi"], expected["yi"], rtol=RTOL)
    np.testing.assert_allclose(effects["vi"], expected["vi"], rtol=RTOL)
    forms = dict(zip(expected["study"], expected["form"]))
    for study, how in effects["derivation"].items():
        said = ("SE as reported" if forms[study] == "estimate_se"
                else "square root of the reported variance")
        assert said in how, (study, how)
    _pooled_matches(effects, expected["fit"])


def test_printed_risk_ratios_with_the_se_of_their_log_are_metafors(se_review):
    expected = REFERENCE["estimate_se"]["rr"]
    effects = se_review.effects[se_review.effects["outcome"] == "tb"]
    effects = effects.set_index("study_id").loc[expected["study"]]
    np.testing.assert_allclose(effects["yi"], expected["yi"], rtol=RTOL)
    np.testing.assert_allclose(effects["vi"], expected["vi"], rtol=RTOL)
    _pooled_matches(effects, expected["fit"])
    assert se_review.not_pooled.empty


# --- crossover trials ----------------------------------------------------------------------


def _fill_crossover_review(folder: Path) -> None:
    data = REFERENCE["crossover"]
    source = {"source_url": "https://example.org/constructed-crossover-trials",
              "source_location": "tests/fixtures/metafor/make_entry_fixtures.R",
              "source_level": "dataset"}
    studies, arms, contrasts = [], [], []
    for i, n in enumerate(data["n"]):
        study = f"Cross{i + 1}"
        # the last one is entered with the earlier design value, which names its kind itself
        design = {"design": "crossover"} if i == len(data["n"]) - 1 else {
            "design": "within_person", "within_person_kind": "crossover"}
        studies.append(_study(study, source, **design))
        for outcome in ("score", "score_smd"):
            for role, prefix in (("treatment", "1"), ("control", "2")):
                arms.append({"study_id": study, "comparison": "active_vs_placebo",
                             "outcome": outcome, "arm": f"{role} period", "role": role,
                             "n": n, "mean": data[f"m{prefix}"][i], "sd": data[f"sd{prefix}"][i],
                             "value_type": "final", "reported_form": "mean_sd", **source})
    printed = data["printed"]
    studies.append(_study("Cross7", source, design="within_person",
                          within_person_kind="crossover"))
    contrasts.append({"study_id": "Cross7", "comparison": "active_vs_placebo",
                      "outcome": "score", "measure": "MD", "estimate": printed["estimate"],
                      "ci_low": printed["ci_low"], "ci_high": printed["ci_high"],
                      "ci_level": 0.95, "paired": "true", "n_treatment": printed["n"],
                      "n_control": printed["n"], "basis": "t",
                      "contrast_direction": "treatment_minus_control",
                      "reported_form": "estimate_ci", **source})
    _write_review(folder, studies, [_outcome("score", "continuous", "MD", "lower_is_better"),
                                    _outcome("score_smd", "continuous", "SMD",
                                             "lower_is_better")],
                  arms=arms, contrasts=contrasts)


@pytest.fixture(scope="module")
def crossover_review(tmp_path_factory):
    folder = tmp_path_factory.mktemp("entry") / "crossover"
    _fill_crossover_review(folder)
    return derive_effects(load_review(folder), paired_r=REFERENCE["crossover"]["r"])


@pytest.mark.parametrize("outcome, case", [("score", "md"), ("score_smd", "smd")])
def test_crossover_trials_are_analysed_paired_as_metafor(crossover_review, outcome, case):
    expected = REFERENCE["crossover"][case]
    effects = crossover_review.effects[crossover_review.effects["outcome"] == outcome]
    effects = effects.sort_values("study_id")
    assert effects["paired"].all()
    np.testing.assert_allclose(effects["yi"], expected["yi"], rtol=RTOL)
    np.testing.assert_allclose(effects["vi"], expected["vi"], rtol=RTOL)
    _pooled_matches(effects, expected["fit"])


def test_crossover_derivations_say_so(crossover_review):
    effects = crossover_review.effects.set_index(["study_id", "outcome"])
    assert effects.loc[("Cross1", "score"), "derivation"].startswith(
        "paired MD (crossover) from per-period mean and SD of 12 patients, r = 0.5")
    assert "t, df = 13" in effects.loc[("Cross7", "score"), "derivation"]
    assert effects.loc[("Cross7", "score"), "df"] == 13


# --- a three-arm trial against one shared control ------------------------------------------


def _fill_three_arm_review(folder: Path) -> None:
    data = REFERENCE["three_arm"]
    source = _source("dat.hasselblad1998")
    studies, arms = {}, []
    for i, number in enumerate(data["study"]):
        study = f"Study{number}"
        studies.setdefault(study, _study(study, source, year=data["year"][i]))
        comparison = data["trt"][i].replace("_counseling", "_vs_none")
        for role, arm, events, total in (
                ("treatment", data["trt"][i], data["ai"][i], data["n1i"][i]),
                ("control", "no_contact", data["control_events"][i], data["control_total"][i])):
            arms.append({"study_id": study, "comparison": comparison, "outcome": "quit",
                         "arm": arm, "role": role, "events": events, "total": total,
                         "value_type": "count", "reported_form": "events_total", **source})
    _write_review(folder, list(studies.values()), [_outcome("quit", "binary", "OR")],
                  arms=arms)


@pytest.fixture(scope="module")
def three_arm_review(tmp_path_factory):
    folder = tmp_path_factory.mktemp("entry") / "three-arm"
    _fill_three_arm_review(folder)
    return derive_effects(load_review(folder))


def test_the_shared_control_is_split_and_the_result_is_metafors(three_arm_review):
    data = REFERENCE["three_arm"]
    effects = three_arm_review.effects
    expected = pd.DataFrame({"study_id": [f"Study{s}" for s in data["study"]],
                             "comparison": [t.replace("_counseling", "_vs_none")
                                            for t in data["trt"]],
                             "yi": data["yi"], "vi": data["vi"], "share": data["share"]})
    merged = expected.merge(effects, on=["study_id", "comparison"], suffixes=("", "_ours"))
    assert len(merged) == len(expected) == 17
    np.testing.assert_allclose(merged["yi_ours"], merged["yi"], rtol=RTOL)
    np.testing.assert_allclose(merged["vi_ours"], merged["vi"], rtol=RTOL)
    _pooled_matches(effects, data["fit"])
    cottraux = effects[effects["study_id"] == "Study2"]
    assert len(cottraux) == 2
    # 9 events of 140 without contact, halved for each of the two counselling arms
    assert list(cottraux["events_control"]) == [4.5, 4.5]
    assert list(cottraux["total_control"]) == [70.0, 70.0]
    assert cottraux["derivation"].str.contains("shared by 2 comparisons").all()
    single = effects[effects["study_id"] == "Study1"].iloc[0]
    assert single["total_control"] == 731 and "shared" not in single["derivation"]


def test_without_the_split_the_control_would_count_twice(three_arm_review):
    """The same trial with its control entered whole in both comparisons: the variances
    metafor gives for that double counting are smaller, which the split avoids."""
    from metareview.stats.escalc import effect_sizes

    data = REFERENCE["three_arm"]
    i = data["study"].index(2)
    whole = effect_sizes("OR", ai=[data["ai"][i]], n1i=[data["n1i"][i]],
                         ci=[data["control_events"][i]], n2i=[data["control_total"][i]])
    ours = three_arm_review.effects
    split = ours[(ours["study_id"] == "Study2")
                 & (ours["comparison"] == "ind_vs_none")].iloc[0]
    assert split["vi"] > float(whole["vi"].iloc[0]) * 1.2
    assert math.isclose(split["vi"], data["vi"][i], rel_tol=RTOL)


# --- all of it in one new review, through the notebooks ------------------------------------


@pytest.mark.slow
def test_a_review_of_all_these_entries_runs_to_its_reports(tmp_path):
    """The three folders above as one new review (`make new-review`, `make codebook`,
    `make checksums`, `make reports`), with one more outcome that has no better direction:
    every notebook runs, and the pooled estimates are metafor's."""
    from support import empty_clone, make_in

    parts = {}
    for name, fill in (("se", _fill_se_review), ("crossover", _fill_crossover_review),
                       ("three", _fill_three_arm_review)):
        fill(tmp_path / name)
        for sheet in ("studies", "arms", "contrasts", "outcomes"):
            parts.setdefault(sheet, []).append(
                pd.read_csv(tmp_path / name / f"{sheet}.csv", dtype=str))
    sheets = {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}
    weight = sheets["arms"][sheets["arms"]["outcome"] == "score"].assign(outcome="weight")
    sheets["arms"] = pd.concat([sheets["arms"], weight], ignore_index=True)
    sheets["outcomes"] = pd.concat(
        [sheets["outcomes"], pd.DataFrame([_outcome("weight", "continuous", "MD", "neutral")])],
        ignore_index=True)
    root = tmp_path / "repo"
    root.mkdir()
    empty_clone(root)
    name = "entry-forms"
    assert make_in(root, "new-review", f"NAME={name}").returncode == 0
    folder = root / "data" / "raw" / name
    (folder / "review.yaml").write_text(
        "title: Entry forms\nquestion: Are printed results read as printed?\n"
        "years: [1940, 2030]\nintervention_classes: {active: Active treatment}\n"
        "favours: {treatment: active treatment, control: control}\n", encoding="utf-8")
    for sheet, frame in sheets.items():
        frame.to_csv(folder / f"{sheet}.csv", index=False)
    (root / "params" / f"{name}.yaml").write_text(
        f"review: {name}\ntau2_method: REML\ntest: z\nn_perm: 200\n", encoding="utf-8")
    for step in (("codebook", f"REVIEW={name}"), ("checksums", f"REVIEW={name}"),
                 ("reports",)):
        done = make_in(root, *step)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    pooled = pd.read_csv(root / "data" / "processed" / name / "pooled.csv")
    main = pooled[pooled["analysis"] == MAIN].set_index("outcome")
    for outcome, expected in (("achievement", REFERENCE["estimate_se"]["smd"]["fit"]),
                              ("tb", REFERENCE["estimate_se"]["rr"]["fit"]),
                              ("score", REFERENCE["crossover"]["md"]["fit"]),
                              ("score_smd", REFERENCE["crossover"]["smd"]["fit"]),
                              ("quit", REFERENCE["three_arm"]["fit"])):
        assert main.loc[outcome, "k"] == expected["k"], outcome
        for column in ("estimate", "ci_low", "ci_high"):
            assert main.loc[outcome, column] == pytest.approx(expected[column], rel=1e-6), \
                (outcome, column)
    report = (root / "reports" / name / "03_pooled_models.html").read_text(encoding="utf-8")
    assert "no better direction" in report
