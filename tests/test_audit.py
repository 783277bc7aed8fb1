"""The consistency audit on sheets with planted inconsistencies, and on consistent ones."""

from __future__ import annotations

import pandas as pd

from metareview.review.audit import audit, summary

from test_derive import OUTCOME_ROWS, _arm, _contrast, _review, _study

INTEGER_OUTCOMES = [dict(r, integer_scale="true") if r["outcome"] == "ecca" else r
                    for r in OUTCOME_ROWS]


def _warnings(findings: pd.DataFrame, check: str) -> pd.DataFrame:
    return findings[(findings["check"] == check) & (findings["status"] == "warning")]


def test_a_printed_p_that_the_means_cannot_give_is_flagged(tmp_path):
    # 40.5 ± 10.2 vs 55.1 ± 12.0 (SD), 19 per arm: t = 14.6 / (11.14·√(2/19)) = 4.04, p ≈ 0.0003.
    # Printed p = 0.40 (a planted slip for 0.0004): flagged. A second study prints p < 0.001: ok.
    review = _review(tmp_path, [_study("A"), _study("B")], [
        _arm("A", "treatment", 40.5, 10.2, n=19), _arm("A", "control", 55.1, 12.0, n=19),
        _arm("B", "treatment", 40.5, 10.2, n=19), _arm("B", "control", 55.1, 12.0, n=19)], [
        _contrast("A", form="p_value", outcome="ecca", measure="none", p_value=0.40,
                  p_operator="=", n_treatment=19, n_control=19),
        _contrast("B", form="p_value", outcome="ecca", measure="none", p_value=0.001,
                  p_operator="<", n_treatment=19, n_control=19)])
    findings = audit(review)
    flagged = _warnings(findings, "p recomputed")
    assert list(flagged["study_id"]) == ["A"] and flagged.iloc[0]["row"] == 2
    assert "printed p = 0.4" in flagged.iloc[0]["detail"]
    ok = findings[(findings["study_id"] == "B") & (findings["check"] == "p recomputed")]
    assert ok.iloc[0]["status"] == "ok"
    assert findings.iloc[0]["status"] == "warning"  # warnings first
    assert "1 warn: A (p recomputed" in summary(findings)


def test_grim_flags_an_impossible_mean_of_whole_number_scores(tmp_path):
    # ECCA (whole-number scores): 40.55 cannot be the mean of 19 scores (770/19 = 40.53,
    # 771/19 = 40.58); 40.58 can.
    review = _review(tmp_path, [_study("A")], [
        _arm("A", "treatment", "40.55", 10.2, n=19), _arm("A", "control", "40.58", 12.0, n=19)],
        outcomes=INTEGER_OUTCOMES)
    grim = audit(review)
    grim = grim[grim["check"] == "GRIM"].set_index("row")
    assert grim.loc[2, "status"] == "warning" and grim.loc[3, "status"] == "ok"


def test_percentages_that_no_count_of_n_can_give(tmp_path):
    # 59% of 99 is 58/99 = 58.6%; 61.5% of 99 is impossible (60/99 = 60.6, 61/99 = 61.6)
    review = _review(tmp_path, [_study("M", design="split_face", n_randomised=99)], [
        _arm("M", "treatment", n=99, outcome="satisfied", form="percent_only", percent="59",
             total=99, value_type="count"),
        _arm("M", "control", n=99, outcome="satisfied", form="percent_only", percent="61.5",
             total=99, value_type="count")])
    checks = audit(review)
    checks = checks[checks["check"] == "percentage of n"].set_index("row")
    assert checks.loc[2, "status"] == "ok" and checks.loc[3, "status"] == "warning"
    assert "61.5% of 99" in checks.loc[3, "detail"]


def test_a_consistent_review_gives_no_warning(tmp_path):
    review = _review(tmp_path, [_study("A")], [
        _arm("A", "treatment", n=20, outcome="satisfied", form="events_total", events=12,
             total=20, value_type="count"),
        _arm("A", "control", n=20, outcome="satisfied", form="events_total", events=8,
             total=20, value_type="count")])
    findings = audit(review)
    assert set(findings["status"]) == {"ok"} and "fits with the others" in summary(findings)
