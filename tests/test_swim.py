"""Synthesis without meta-analysis: vote counting, combined p values, the effect direction plot.

Every expected number is worked out by hand in the test (arithmetic written beside it), from
closed forms that do not go through the code under test.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle
from PIL import Image
from scipy import stats

import metareview as mr
from metareview.report.figures.effect_direction import ROB_SHADES, effect_direction_plot
from metareview.stats.swim import combine_pvalues, vote_count

Z975 = 1.959963984540054  # Φ⁻¹(0.975)


def two_sided_p(z: float) -> float:
    """The two-sided p value of a study whose |Z| is z: 2·(1 − Φ(z))."""
    return 2 * stats.norm.sf(z)


# --- combine_pvalues: orientation --------------------------------------------------------------


def test_p_005_favouring_treatment_is_one_sided_0025_and_z_1_96():
    # favours treatment: p1 = 0.05 / 2 = 0.025, Z = Φ⁻¹(1 − 0.025) = 1.959964
    c = combine_pvalues([0.05], [1])
    assert c.study_p_one_sided[0] == pytest.approx(0.025, rel=1e-15)
    assert c.study_z[0] == pytest.approx(Z975, rel=1e-12)
    # one study: the combined Z is its own Z, the combined one-sided p its own p1
    assert c.z == pytest.approx(Z975, rel=1e-12)
    assert c.pval == pytest.approx(0.025, rel=1e-12)


def test_p_005_favouring_control_is_one_sided_0975_and_z_minus_1_96():
    # favours control: p1 = 1 − 0.05 / 2 = 0.975, Z = −1.959964
    c = combine_pvalues([0.05], [-1])
    assert c.study_p_one_sided[0] == pytest.approx(0.975, rel=1e-15)
    assert c.study_z[0] == pytest.approx(-Z975, rel=1e-12)
    assert c.z == pytest.approx(-Z975, rel=1e-12)
    assert c.pval == pytest.approx(0.975, rel=1e-12)


def test_equal_and_opposite_studies_cancel():
    # Z = +1.96 and −1.96 with equal weights: (1.96 − 1.96)/√2 = 0, p = 0.5
    c = combine_pvalues([0.05, 0.05], [1, -1])
    assert c.z == pytest.approx(0.0, abs=1e-12)
    assert c.pval == pytest.approx(0.5, abs=1e-12)


def test_very_small_p_against_the_treatment_keeps_its_digits():
    # 1 − 1e-20/2 is 1.0 in floating point; the study's Z must still be −Φ⁻¹(1 − 5e-21)
    c = combine_pvalues([1e-20], [-1])
    expected = -stats.norm.isf(5e-21)  # = −9.336...
    assert c.study_z[0] == pytest.approx(expected, rel=1e-12)
    assert math.isfinite(c.z) and c.z == pytest.approx(expected, rel=1e-12)


# --- combine_pvalues: Stouffer -----------------------------------------------------------------


def test_stouffer_three_studies_with_known_z_and_equal_n():
    # Z = 1, 2, 3 with equal weights: (1 + 2 + 3)/√3 = 6/√3 = 3.4641016
    p = [two_sided_p(z) for z in (1, 2, 3)]
    for n in (None, [25, 25, 25]):
        c = combine_pvalues(p, [1, 1, 1], n=n)
        assert c.z == pytest.approx(6 / math.sqrt(3), rel=1e-9)
        assert 6 / math.sqrt(3) == pytest.approx(3.4641016, abs=1e-7)
        assert c.pval == pytest.approx(stats.norm.sf(6 / math.sqrt(3)), rel=1e-9)
        assert c.statistic == c.z and math.isnan(c.chi2) and math.isnan(c.df)
        assert c.k == 3 and c.method == "stouffer"


def test_stouffer_weights_are_the_square_root_of_n():
    # n = 4, 9, 16 ⇒ w = 2, 3, 4; Z = (2·1 + 3·2 + 4·3)/√(4 + 9 + 16) = 20/√29 = 3.7139068
    p = [two_sided_p(z) for z in (1, 2, 3)]
    c = combine_pvalues(p, [1, 1, 1], n=[4, 9, 16])
    np.testing.assert_allclose(c.study_weights, [2, 3, 4], rtol=1e-15)
    assert c.z == pytest.approx(20 / math.sqrt(29), rel=1e-9)
    assert c.z == pytest.approx(3.7139068, abs=1e-7)


def test_stouffer_with_a_study_against_the_treatment():
    # Z = 1, 2, −3 with w = 2, 3, 4: (2 + 6 − 12)/√29 = −4/√29
    p = [two_sided_p(z) for z in (1, 2, 3)]
    c = combine_pvalues(p, [1, 1, -1], n=[4, 9, 16])
    assert c.z == pytest.approx(-4 / math.sqrt(29), rel=1e-9)
    assert c.pval == pytest.approx(stats.norm.sf(-4 / math.sqrt(29)), rel=1e-9)


def test_stouffer_is_invariant_to_study_order_and_antisymmetric_in_direction():
    p, d, n = [0.03, 0.4, 0.0007, 0.2], [1, -1, 1, 1], [12, 40, 33, 8]
    base = combine_pvalues(p, d, n=n)
    order = [2, 0, 3, 1]
    shuffled = combine_pvalues([p[i] for i in order], [d[i] for i in order],
                               n=[n[i] for i in order])
    assert shuffled.z == pytest.approx(base.z, rel=1e-12)
    flipped = combine_pvalues(p, [-x for x in d], n=n)
    assert flipped.z == pytest.approx(-base.z, rel=1e-12)
    assert flipped.pval == pytest.approx(1 - base.pval, rel=1e-12)


# --- combine_pvalues: Fisher -------------------------------------------------------------------


def test_fisher_two_studies_by_hand():
    # p = 0.04 and 0.10, both favouring treatment ⇒ p1 = 0.02 and 0.05
    # X² = −2(ln 0.02 + ln 0.05) = −2 ln 0.001 = 13.8155106 on 2k = 4 df
    # for 4 df the chi² survival function is e^(−x/2)(1 + x/2) = 0.001 · (1 + 6.9077553)
    c = combine_pvalues([0.04, 0.10], [1, 1], method="fisher")
    x2 = -2 * math.log(0.001)
    assert c.chi2 == pytest.approx(x2, rel=1e-12)
    assert c.chi2 == pytest.approx(13.8155106, abs=1e-7)
    assert c.df == 4
    assert c.pval == pytest.approx(0.001 * (1 + x2 / 2), rel=1e-10)
    assert c.pval == pytest.approx(0.0079077553, abs=1e-10)
    assert math.isnan(c.z) and c.statistic == c.chi2 and c.method == "fisher"
    np.testing.assert_array_equal(c.study_weights, [1, 1])


def test_fisher_study_against_the_treatment_enters_as_one_minus_half_p():
    # p = 0.04 favouring control ⇒ p1 = 0.98; with p1 = 0.05: X² = −2(ln 0.98 + ln 0.05)
    c = combine_pvalues([0.04, 0.10], [-1, 1], method="fisher")
    x2 = -2 * (math.log(0.98) + math.log(0.05))
    assert c.chi2 == pytest.approx(x2, rel=1e-12)
    assert c.pval == pytest.approx(math.exp(-x2 / 2) * (1 + x2 / 2), rel=1e-10)


# --- combine_pvalues: bounded and unoriented studies ------------------------------------------


def test_p_less_than_is_used_as_its_bound_and_flagged_conservative():
    # "p < 0.001" favouring treatment enters as p = 0.001: Z = Φ⁻¹(1 − 0.0005) = 3.2905267
    c = combine_pvalues([0.001, 0.2], [1, 1], operators=["<", "="])
    assert c.study_z[0] == pytest.approx(stats.norm.isf(0.0005), rel=1e-12)
    assert c.study_z[0] == pytest.approx(3.2905267, abs=1e-7)
    assert c.bounded.tolist() == [0] and c.zeroed.tolist() == []
    assert c.pval_bias == "conservative"
    assert "p < x" in c.note and "upper bound" in c.note
    # the true p is smaller, so the exact combined p would be smaller: the bound is conservative
    exact = combine_pvalues([0.0004, 0.2], [1, 1])
    assert exact.pval < c.pval
    assert exact.pval_bias == "none" and exact.bounded.tolist() == []


def test_p_less_than_for_a_study_against_the_treatment_is_anti_conservative():
    # understating evidence against the treatment can only make the combined p too small
    c = combine_pvalues([0.001, 0.2], [-1, 1], operators=["<", "="])
    assert c.bounded.tolist() == [0] and c.pval_bias == "anti-conservative"
    exact = combine_pvalues([0.0004, 0.2], [-1, 1])
    assert exact.pval > c.pval


def test_p_greater_than_and_no_direction_enter_as_z_zero():
    # "p > 0.05" ⇒ p taken as 1 ⇒ Z = 0; direction 0 ⇒ Z = 0 whatever p
    # Stouffer with Z = (1.959964, 0, 0), equal weights: 1.959964/√3
    c = combine_pvalues([0.05, 0.05, 0.3], [1, 1, 0], operators=["=", ">", "="])
    np.testing.assert_allclose(c.study_z, [Z975, 0, 0], rtol=1e-12, atol=0)
    np.testing.assert_allclose(c.study_p_one_sided, [0.025, 0.5, 0.5], rtol=1e-15)
    assert c.z == pytest.approx(Z975 / math.sqrt(3), rel=1e-12)
    assert c.zeroed.tolist() == [1, 2] and c.k == 3
    assert c.pval_bias == "unknown"  # the study without direction could point either way
    # with a favouring study only ("p > x" understates it), the p is conservative
    assert combine_pvalues([0.05, 0.05], [1, 1], operators=["=", ">"]).pval_bias == \
        "conservative"
    # a study without direction and p = 1 is exactly Z = 0: nothing approximated
    none = combine_pvalues([0.05, 1.0], [1, 0])
    assert none.zeroed.tolist() == [1] and none.pval_bias == "none"


def test_p_less_than_without_direction_is_zeroed_not_bounded():
    c = combine_pvalues([0.01, 0.04], [0, 1], operators=["<", "="])
    assert c.bounded.tolist() == [] and c.zeroed.tolist() == [0]
    assert c.study_z[0] == 0


# --- combine_pvalues: errors -------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    (dict(p=[0.0, 0.2], direction=[1, 1]), r"p at index 0 is 0; .* \(0, 1\]"),
    (dict(p=[0.2, 1.5], direction=[1, 1]), r"p at index 1 is 1.5"),
    (dict(p=[-0.1], direction=[1]), r"p at index 0 is -0.1"),
    (dict(p=[0.2, np.nan], direction=[1, 1]), r"p at index 1 is missing"),
    (dict(p=[0.2, 1.0], direction=[1, 1], operators=["=", ">"]), r"'p > 1'"),
    (dict(p=[0.2, 0.3], direction=[1, 2]), r"direction at index 1 is 2"),
    (dict(p=[0.2, 0.3], direction=[1, np.nan]), r"direction at index 1 is missing"),
    (dict(p=[0.2, 0.3], direction=[1, 1], n=[10, np.nan]),
     r"n at index 1 is missing: weighted Stouffer needs"),
    (dict(p=[0.2, 0.3], direction=[1, 1], n=[10, 0]), r"n at index 1 is 0"),
    (dict(p=[0.2, 0.3], direction=[1, 1], n=[10, 20], method="fisher"),
     r"Fisher's method is unweighted"),
    (dict(p=[0.2, 0.3, 0.4], direction=[1, 1]), r"p has 3 values but direction has 2"),
    (dict(p=[0.2, 0.3], direction=[1, 1], n=[10]), r"n has 1 values but direction has 2"),
    (dict(p=[0.2, 0.3], direction=[1, 1], operators=["<"]),
     r"operators has 1 values but direction has 2"),
    (dict(p=[0.2, 0.3], direction=[1, 1], operators=["<", "<="]),
     r"operator at index 1 is '<='"),
    (dict(p=[0.2], direction=[1], method="tippett"), r"method must be one of"),
    (dict(p=[], direction=[]), r"direction is empty"),
    (dict(p=[[0.2, 0.3]], direction=[1, 1]), r"p must be a 1-D sequence"),
])
def test_combine_pvalues_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        combine_pvalues(**kwargs)


# --- vote counting -----------------------------------------------------------------------------


def test_vote_count_7_of_9():
    # sign test, two-sided: 2·P(X ≥ 7 | 9, ½) = 2·(C(9,7) + C(9,8) + C(9,9))/2⁹
    #                                          = 2·(36 + 9 + 1)/512 = 2·46/512 = 0.1796875
    v = vote_count([1] * 7 + [-1] * 2)
    assert 2 * (math.comb(9, 7) + math.comb(9, 8) + math.comb(9, 9)) / 2 ** 9 == 0.1796875
    assert v.pval == pytest.approx(0.1796875, rel=1e-12)
    assert (v.k, v.n_favour, v.n_against, v.n_unclear) == (9, 7, 2, 0)
    assert v.proportion == pytest.approx(7 / 9, rel=1e-15)


def test_vote_count_wilson_interval_by_hand():
    # Wilson: (p̂ + z²/2m ± z·√(p̂(1 − p̂)/m + z²/4m²)) / (1 + z²/m), p̂ = 7/9, m = 9, z = 1.959964
    v = vote_count([1] * 7 + [-1] * 2)
    p, m, z = 7 / 9, 9, Z975
    centre = (p + z ** 2 / (2 * m)) / (1 + z ** 2 / m)
    half = z * math.sqrt(p * (1 - p) / m + z ** 2 / (4 * m ** 2)) / (1 + z ** 2 / m)
    assert v.ci_low == pytest.approx(centre - half, rel=1e-10)
    assert v.ci_high == pytest.approx(centre + half, rel=1e-10)
    assert (v.ci_low, v.ci_high) == pytest.approx((0.4525890, 0.9367749), abs=1e-7)
    assert v.ci_method == "wilson" and v.level == 0.95
    # a 90% interval uses z = Φ⁻¹(0.95) = 1.644854 and is narrower
    v90 = vote_count([1] * 7 + [-1] * 2, level=0.90)
    z = stats.norm.isf(0.05)
    half90 = z * math.sqrt(p * (1 - p) / m + z ** 2 / (4 * m ** 2)) / (1 + z ** 2 / m)
    assert v90.ci_high - v90.ci_low == pytest.approx(2 * half90, rel=1e-10)


def test_vote_count_unclear_studies_are_counted_apart():
    # two studies with direction 0 change neither the sign test nor the proportion
    v = vote_count([1, 0, 1, 1, -1, 1, 0, 1, 1, -1, 1])
    assert (v.k, v.n_favour, v.n_against, v.n_unclear) == (11, 7, 2, 2)
    assert v.pval == pytest.approx(0.1796875, rel=1e-12)
    assert v.proportion == pytest.approx(7 / 9, rel=1e-15)


def test_vote_count_accepts_a_pandas_series_of_floats():
    v = vote_count(pd.Series([1.0, -1.0, 1.0]))
    assert (v.n_favour, v.n_against) == (2, 1)
    # 2 of 3: every outcome is at least as extreme as 2 (P(1) = P(2)) ⇒ p = 1
    assert v.pval == pytest.approx(1.0)


@pytest.mark.parametrize("directions, level, message", [
    ([1, 2, -1], 0.95, r"direction at index 1 is 2"),
    ([1, np.nan], 0.95, r"direction at index 1 is missing"),
    ([0, 0, 0], 0.95, r"none of the 3 studies has a direction"),
    ([], 0.95, r"direction is empty"),
    ([1, -1], 1.5, r"level must be strictly between 0 and 1"),
    ([1, -1], 0.0, r"level must be strictly between 0 and 1"),
])
def test_vote_count_errors(directions, level, message):
    with pytest.raises(ValueError, match=message):
        vote_count(directions, level=level)


# --- result objects and the public API --------------------------------------------------------


def test_results_are_frozen_readable_and_serialisable():
    v = vote_count([1, 1, -1])
    c = combine_pvalues([0.01, 0.3], [1, -1], n=[20, 30], operators=["<", "="])
    for result in (v, c):
        with pytest.raises(dataclasses.FrozenInstanceError):
            result.pval = 0.5
        assert type(result).__name__ in repr(result) and "pval=" in repr(result)
        json.dumps(result.to_dict())  # plain Python values only
        assert result.to_frame().shape[0] == 1
    assert c.to_dict()["bounded"] == [0]
    with pytest.raises(ValueError):
        c.study_z[0] = 0.0  # arrays in a result are read-only


def test_public_names_are_the_swim_functions():
    assert mr.vote_count is vote_count
    assert mr.combine_pvalues is combine_pvalues


# --- effect direction plot ---------------------------------------------------------------------


@pytest.fixture
def table():
    return pd.DataFrame({
        "study": ["Lee 2021", "Adams 2019", "Lee 2021", "Khan 2020", "Adams 2019"],
        "outcome": ["scar", "scar", "pigment", "scar", "pigment"],
        "direction": [1, -1, 0, 1, 1],
        "n": [30, 120, 400, np.nan, 60],
        "rob": ["low", "some concerns", "high", None, "No information"],
    })


def _markers(fig) -> dict[str, object]:
    return {line.get_gid(): line for line in fig.axes[0].lines
            if (line.get_gid() or "").startswith("direction-")}


def test_effect_direction_plot_draws_one_marker_per_result_with_its_orientation(table):
    fig = effect_direction_plot(table)
    markers = _markers(fig)
    assert len(markers) == len(table)
    expected = {"Lee 2021-scar": "^", "Adams 2019-scar": "v", "Lee 2021-pigment": "o",
                "Khan 2020-scar": "^", "Adams 2019-pigment": "^"}
    assert {gid.removeprefix("direction-"): line.get_marker()
            for gid, line in markers.items()} == expected
    # each marker sits in its study's row and outcome's column (studies and outcomes sorted)
    ax = fig.axes[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    columns = [t.get_text() for t in ax.get_xticklabels()]
    assert rows == ["Adams 2019", "Khan 2020", "Lee 2021"] and columns == ["pigment", "scar"]
    centres = list(ax.get_xticks())
    for gid, line in markers.items():
        study, outcome = gid.removeprefix("direction-").rsplit("-", 1)
        assert (line.get_xdata()[0], line.get_ydata()[0]) == (centres[columns.index(outcome)],
                                                               rows.index(study))


def test_effect_direction_plot_marker_size_follows_sample_size(table):
    markers = _markers(effect_direction_plot(table))
    small = markers["direction-Lee 2021-scar"]        # n = 30  (< 50)
    medium = markers["direction-Adams 2019-scar"]     # n = 120 (50-300)
    large = markers["direction-Lee 2021-pigment"]     # n = 400 (> 300), a circle
    unknown = markers["direction-Khan 2020-scar"]     # n not reported: small and hollow
    assert small.get_markersize() < medium.get_markersize()
    assert large.get_markersize() > medium.get_markersize()
    assert unknown.get_markersize() == small.get_markersize()
    assert unknown.get_markerfacecolor() == "none" and small.get_markerfacecolor() != "none"


def test_effect_direction_plot_shades_cells_by_risk_of_bias(table):
    fig = effect_direction_plot(table)
    shaded = {p.get_gid(): p for p in fig.axes[0].patches
              if isinstance(p, Rectangle) and (p.get_gid() or "").startswith("rob-")}
    assert set(shaded) == {"rob-Lee 2021-scar", "rob-Adams 2019-scar", "rob-Lee 2021-pigment",
                           "rob-Adams 2019-pigment"}  # Khan 2020 has no judgement
    some_concerns = to_rgba(ROB_SHADES["some_concerns"][0])
    assert shaded["rob-Adams 2019-scar"].get_facecolor() == some_concerns
    sections = {legend.get_title().get_text(): [t.get_text() for t in legend.get_texts()]
                for legend in fig.legends}
    assert sections["Direction of effect"] == ["Favours treatment", "Favours control",
                                               "No clear difference or unclear"]
    assert sections["Risk of bias (overall)"] == ["Low", "Some concerns", "High",
                                                  "No information"]
    assert "n not reported" in sections["Sample size"]


def test_effect_direction_plot_is_deterministic_and_writes_png(table, tmp_path):
    def png(frame):
        buffer = io.BytesIO()
        effect_direction_plot(frame, favours=("SVF", "control"), title="Scar outcomes") \
            .savefig(buffer, format="png", dpi=100, metadata={"Software": None})
        return buffer.getvalue()

    assert png(table) == png(table.iloc[::-1].reset_index(drop=True))
    path = tmp_path / "effect_direction.png"
    fig = effect_direction_plot(table.drop(columns="rob"))
    fig.savefig(path, dpi=100)
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
    assert (width, height) == (round(fig.get_figwidth() * 100), round(fig.get_figheight() * 100))


@pytest.mark.parametrize("change, message", [
    (lambda t: t.drop(columns="n"), r"lacks the column\(s\) \['n'\]"),
    (lambda t: t.iloc[:0], r"no rows"),
    (lambda t: t.assign(direction=[1, 2, 0, 1, 1]), r"row 1: direction is 2"),
    (lambda t: t.assign(n=[30, -1, 400, 10, 60]), r"row 1: n is -1"),
    (lambda t: t.assign(rob=["low", "unclear", "high", None, "low"]), r"row 1: rob is 'unclear'"),
    (lambda t: pd.concat([t, t.iloc[:1]]), r"more than one row for \(study, outcome\)"),
    (lambda t: t.assign(study=["Lee 2021", None, "Lee 2021", "Khan 2020", "Adams 2019"]),
     r"row 1: study is empty"),
])
def test_effect_direction_plot_errors(table, change, message):
    with pytest.raises(ValueError, match=message):
        effect_direction_plot(change(table))


def test_effect_direction_plot_outcome_order_must_cover_the_table(table):
    fig = effect_direction_plot(table, outcomes=["scar", "pigment", "itch"])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["scar", "pigment", "itch"]
    with pytest.raises(ValueError, match=r"outcomes does not list \['pigment'\]"):
        effect_direction_plot(table, outcomes=["scar"])
    with pytest.raises(ValueError, match=r"lists an outcome twice"):
        effect_direction_plot(table, outcomes=["scar", "pigment", "scar"])


@pytest.mark.parametrize(("yi", "measure", "outcome_direction", "expected"), [
    (-0.4, "SMD", "lower_is_better", 1),   # treatment minus control, lower is better
    (-0.4, "MD", "higher_is_better", -1),  # the same sign is worse where higher is better
    (0.3, "MD", "higher_is_better", 1),
    (-0.7, "RR", "lower_is_better", 1),    # log RR < 0: fewer events on treatment
    (-0.7, "RR", "higher_is_better", -1),  # ... which is worse when events are good
    (0.5, "OR", "higher_is_better", 1),
    (0.1, "RD", "higher_is_better", 1),    # risk differences are not oriented either
    (0.1, "RD", "lower_is_better", -1),
    (0.0, "MD", "lower_is_better", 0),
])
def test_effect_direction_reads_each_measure_on_its_own_orientation(yi, measure,
                                                                     outcome_direction,
                                                                     expected):
    from metareview.report.swim import effect_direction

    assert effect_direction(yi, measure, outcome_direction) == expected
