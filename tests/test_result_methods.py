"""What a fitted model can say about itself, against metafor: print.rma.uni, predict.rma,
vcov and confint (fixtures: tests/fixtures/metafor/models.json, "predict" and "print")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metareview.stats.moderators import meta_regression
from metareview.stats.pooling import pool

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "metafor" / "models.json")
                      .read_text(encoding="utf-8"))
BCG = FIXTURES["datasets"]["bcg_rr"]
RTOL = 1e-6
# A number as print.rma.uni writes one: 0.3132, -3.9744, 92.22%, <.0001.
NUMBER = re.compile(r"<\.\d+|-?\d+\.\d+")


def _moderators(columns):
    return pd.DataFrame({column: BCG[column] for column in columns})


@pytest.mark.parametrize("case", FIXTURES["predict"],
                         ids=lambda c: f"{'+'.join(c['columns'])}-{c['method']}-{c['test']}"
                                       f"-level{c['level']:g}")
def test_predict_matches_metafor(case):
    fit = meta_regression(BCG["yi"], BCG["vi"], _moderators(case["columns"]),
                          method=case["method"], test=case["test"], level=case["level"])
    got = fit.predict(np.array(case["newmods"], dtype=float))
    assert list(got.columns) == ["pred", "se", "ci_low", "ci_high", "pi_low", "pi_high"]
    for column, expected in case["result"].items():
        np.testing.assert_allclose(got[column], expected, rtol=RTOL, atol=1e-10,
                                   err_msg=f"{column}: {case['call']}; {case['predict_call']}")


def test_predict_at_another_level_is_that_of_a_refit():
    x = _moderators(["ablat"])
    at = np.array([10.0, 40.0])
    ninety = meta_regression(BCG["yi"], BCG["vi"], x, test="knha", level=0.9).predict(at)
    asked = meta_regression(BCG["yi"], BCG["vi"], x, test="knha").predict(at, level=0.9)
    pd.testing.assert_frame_equal(asked, ninety, rtol=1e-12)


def test_predict_refuses_rows_of_the_wrong_width():
    fit = meta_regression(BCG["yi"], BCG["vi"], _moderators(["ablat", "alloc"]))
    with pytest.raises(ValueError, match="3 value"):
        fit.predict([10.0, 1.0])
    assert len(fit.predict([10.0, 1.0, 0.0])) == 1


@pytest.mark.parametrize("case", [c for c in FIXTURES["meta_regression"]
                                  if c["dataset"] == "bcg_rr"],
                         ids=lambda c: f"{'+'.join(c['columns'])}-{c['method']}-{c['test']}"
                                       f"-level{c['level']:g}")
def test_vcov_i2_and_h2_match_metafor(case):
    fit = meta_regression(BCG["yi"], BCG["vi"], _moderators(case["columns"]),
                          method=case["method"], test=case["test"], level=case["level"])
    p = fit.p
    expected = np.array(case["result"]["vcov"]).reshape(p, p)
    np.testing.assert_allclose(fit.vcov.to_numpy(), expected, rtol=RTOL, atol=1e-12)
    assert list(fit.vcov.index) == list(fit.terms) == list(fit.vcov.columns)
    np.testing.assert_allclose([fit.i2, fit.h2], [case["result"]["i2"], case["result"]["h2"]],
                               rtol=RTOL)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), fit.se, rtol=1e-12)


@pytest.mark.parametrize("test", ["z", "knha"])
def test_conf_int_at_a_level_is_that_of_a_refit(test):
    refit = pool(BCG["yi"], BCG["vi"], test=test, level=0.8)
    assert pool(BCG["yi"], BCG["vi"], test=test).conf_int(0.8) == pytest.approx(
        (refit.ci_low, refit.ci_high), rel=1e-12)
    fit = pool(BCG["yi"], BCG["vi"], test=test)
    assert fit.conf_int() == (fit.ci_low, fit.ci_high)
    x = _moderators(["ablat"])
    refit_mr = meta_regression(BCG["yi"], BCG["vi"], x, test=test, level=0.8)
    table = meta_regression(BCG["yi"], BCG["vi"], x, test=test).conf_int(0.8)
    np.testing.assert_allclose(table["ci_low"], refit_mr.ci_low, rtol=1e-12)
    np.testing.assert_allclose(table["ci_high"], refit_mr.ci_high, rtol=1e-12)


def _fit_of(case):
    if case["mods"] is None:
        return pool(BCG["yi"], BCG["vi"], method=case["method"], test=case["test"])
    columns = [term.strip() for term in case["mods"].lstrip("~").split("+")]
    return meta_regression(BCG["yi"], BCG["vi"], _moderators(columns), method=case["method"],
                           test=case["test"])


def _lines(text):
    # metafor prints the significance legend with typographic quotes; the rest is compared.
    return [line.rstrip() for line in text.splitlines() if not line.startswith("Signif.")]


@pytest.mark.parametrize("case", FIXTURES["print"],
                         ids=lambda c: f"{c['mods'] or 'pool'}-{c['method']}-{c['test']}")
def test_summary_prints_what_print_rma_uni_prints(case):
    ours = _fit_of(case).summary()
    theirs = case["printed"]
    # every number metafor prints, in the same order
    assert len(NUMBER.findall(theirs)) >= 10
    assert NUMBER.findall(ours) == NUMBER.findall(theirs), case["call"]
    # and every line, apart from the spacing of the coefficient table
    squeeze = [re.sub(r"\s+", " ", line).strip() for line in _lines(theirs)]
    mine = [re.sub(r"\s+", " ", line).strip() for line in _lines(ours)]
    assert [line for line in mine if line] == [line for line in squeeze if line], case["call"]


def test_str_is_the_summary_and_repr_lists_the_fields():
    fit = pool(BCG["yi"], BCG["vi"])
    assert str(fit) == fit.summary()
    assert repr(fit).startswith("PoolResult(")
    assert fit.tau == pytest.approx(np.sqrt(fit.tau2), rel=1e-15)
