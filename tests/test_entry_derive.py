"""How derive_effects reads what a source prints: the basis of an interval or p value as the
row states it (never from whether the arm sizes are filled), estimates with their variance,
and within-person designs of every kind analysed paired."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from scipy import stats

from metareview.review.derive import derive_effects
from metareview.review.schema import WITHIN_PERSON_KINDS
from metareview.stats import paired
from test_derive import OUTCOME_ROWS, _arm, _contrast, _only, _review, _study

REPO = Path(__file__).resolve().parents[1]
DIRECTION = json.loads((REPO / "tests" / "fixtures" / "metafor" / "direction.json").read_text())
Z = stats.norm.isf(0.025)


def _printed_smds(basis: str, with_sizes: bool) -> list[dict]:
    """dat.curtis1998's SMDs printed with 95% z intervals (metafor's yi ± 1.96 √vi)."""
    smd, data = DIRECTION["cases"]["SMD"], DIRECTION["input"]
    rows = []
    for i, (yi, vi) in enumerate(zip(smd["yi"], smd["vi"])):
        se = math.sqrt(vi)
        rows.append(_contrast(f"S{i}", outcome="ecca", measure="SMD", estimate=f"{yi:.12f}",
                              ci_low=f"{yi - Z * se:.12f}", ci_high=f"{yi + Z * se:.12f}",
                              ci_level=0.95, basis=basis,
                              n_treatment=data["n1i"][i] if with_sizes else "",
                              n_control=data["n2i"][i] if with_sizes else ""))
    return rows


def _variances(tmp_path, rows) -> list[float]:
    studies = [_study(r["study_id"], n_randomised="") for r in rows]
    effects = derive_effects(_review(tmp_path, studies, contrasts=rows)).effects
    return list(effects.sort_values("study_id", key=lambda s: s.str[1:].astype(int))["vi"])


@pytest.mark.parametrize("with_sizes", [False, True])
def test_a_z_interval_stays_z_when_arm_sizes_are_added(tmp_path, with_sizes):
    """The issue's case: filling the arm sizes of SMDs printed with z intervals used to read
    the intervals as t on n1 + n2 - 2 df; with basis z the variances stay metafor's."""
    vi = _variances(tmp_path, _printed_smds("z", with_sizes))
    assert vi == pytest.approx(DIRECTION["cases"]["SMD"]["vi"], rel=1e-9)


def test_a_t_basis_reads_the_same_interval_with_the_t_quantile(tmp_path):
    data = DIRECTION["input"]
    vi_t = _variances(tmp_path, _printed_smds("t", True))
    for i, (ours, metafor) in enumerate(zip(vi_t, DIRECTION["cases"]["SMD"]["vi"])):
        df = data["n1i"][i] + data["n2i"][i] - 2
        assert ours == pytest.approx(metafor * (Z / stats.t.isf(0.025, df)) ** 2, rel=1e-9)
    # the smallest trials (3 + 3 animals, df = 4) lose the most: 1 - (1.96/2.776)^2 = 50.2%
    assert min(v / m for v, m in zip(vi_t, DIRECTION["cases"]["SMD"]["vi"])) == pytest.approx(
        (Z / stats.t.isf(0.025, 4)) ** 2, rel=1e-9)


def test_a_printed_df_is_used_as_printed(tmp_path):
    row = _contrast("C", estimate=2.0, ci_low=0.5, ci_high=3.5, basis="t", df=12)
    effect = _only(derive_effects(_review(tmp_path, [_study("C")], contrasts=[row])).effects,
                   study_id="C")
    assert effect["se"] == pytest.approx(3.0 / (2 * stats.t.isf(0.025, 12)), rel=1e-12)
    assert effect["df"] == 12 and "t, df = 12" in effect["derivation"]


def test_a_z_test_p_value_gives_a_z_based_se(tmp_path):
    row = _contrast("C", form="estimate_p", estimate=-1.5, p_value=0.02, p_operator="=",
                    basis="z")
    effect = _only(derive_effects(_review(tmp_path, [_study("C")], contrasts=[row])).effects,
                   study_id="C")
    assert effect["se"] == pytest.approx(1.5 / stats.norm.isf(0.01), rel=1e-12)
    assert math.isnan(effect["df"]) and "(z)" in effect["derivation"]


def test_arm_means_with_a_z_test_p_value(tmp_path):
    arms = [_arm("A", "treatment", 40.0, form="mean_only", outcome="healing_time_days"),
            _arm("A", "control", 46.0, form="mean_only", outcome="healing_time_days")]
    contrast = _contrast("A", form="p_value", measure="none", p_value=0.03, p_operator="=",
                         basis="z")
    effect = _only(derive_effects(_review(tmp_path, [_study("A")], arms, [contrast])).effects,
                   study_id="A")
    assert effect["yi"] == pytest.approx(-6.0)
    assert effect["se"] == pytest.approx(6.0 / stats.norm.isf(0.015), rel=1e-12)
    # without a basis the test of two means stays a t test on n1 + n2 - 2 df, as before
    contrast["basis"] = ""
    again = _only(derive_effects(_review(tmp_path, [_study("A")], arms, [contrast])).effects,
                  study_id="A")
    assert again["se"] == pytest.approx(6.0 / stats.t.isf(0.015, 38), rel=1e-12)


def test_a_printed_variance_is_the_squared_se(tmp_path):
    rows = [_contrast("V", form="estimate_variance", estimate=-2.5, variance=1.44, basis=""),
            _contrast("S", form="estimate_se", estimate=-2.5, se=1.2, basis="")]
    effects = derive_effects(_review(tmp_path, [_study("V"), _study("S")],
                                     contrasts=rows)).effects
    v, s = _only(effects, study_id="V"), _only(effects, study_id="S")
    assert v["vi"] == pytest.approx(1.44, rel=1e-12) == s["vi"]
    assert "square root of the reported variance" in v["derivation"]


@pytest.mark.parametrize("kind", WITHIN_PERSON_KINDS)
def test_every_within_person_kind_is_analysed_paired(tmp_path, kind):
    arms = [_arm("W", "treatment", 40.0, 10.0, n=16), _arm("W", "control", 45.0, 12.0, n=16)]
    study = _study("W", design="within_person", within_person_kind=kind)
    effect = _only(derive_effects(_review(tmp_path, [study], arms), paired_r=0.6).effects,
                   study_id="W")
    expected = paired.paired_smd(40.0, 10.0, 45.0, 12.0, 16, 0.6)
    assert effect["yi"] == pytest.approx(float(expected["yi"][0]), rel=1e-12)
    assert effect["vi"] == pytest.approx(float(expected["vi"][0]), rel=1e-12)
    assert effect["paired"] and effect["paired_r"] == 0.6
    assert effect["design"] == "within_person"
    if kind != "split_face":
        assert f"({kind.replace('_', ' ')})" in effect["derivation"]


def test_split_face_as_design_reads_as_before(tmp_path):
    arms = [_arm("F", "treatment", 40.0, 10.0, n=16), _arm("F", "control", 45.0, 12.0, n=16)]
    effect = _only(derive_effects(_review(tmp_path, [_study("F", design="split_face")],
                                          arms)).effects, study_id="F")
    assert effect["derivation"] == "paired SMD from per-side mean and SD of 16 patients, r = 0.5"


def test_a_crossover_binary_outcome_uses_the_marginal_paired_method(tmp_path):
    arms = [_arm("X", "treatment", outcome="satisfied", n=None, form="events_total", events=12,
                 total=20, value_type="count"),
            _arm("X", "control", outcome="satisfied", n=None, form="events_total", events=7,
                 total=20, value_type="count")]
    effect = _only(derive_effects(_review(tmp_path, [_study("X", design="crossover")],
                                          arms)).effects, study_id="X")
    expected = paired.paired_binary(12 / 20, 7 / 20, 20, 0.5, "RR")
    assert effect["vi"] == pytest.approx(float(expected["vi"][0]), rel=1e-12)
    assert "periods of 20 patients" in effect["derivation"]


def test_a_neutral_outcome_keeps_the_sources_sign(tmp_path):
    outcomes = OUTCOME_ROWS + [{"outcome": "weight", "label": "Weight", "type": "continuous",
                                "measure": "MD", "scale": "kg", "direction": "neutral"}]
    arms = [_arm("N", "treatment", 71.0, 8.0, outcome="weight"),
            _arm("N", "control", 69.0, 8.0, outcome="weight")]
    effect = _only(derive_effects(_review(tmp_path, [_study("N")], arms,
                                          outcomes=outcomes)).effects, study_id="N")
    assert effect["yi"] == pytest.approx(2.0)
