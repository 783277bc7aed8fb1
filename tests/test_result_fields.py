"""One vocabulary for the fields of the engine's results, as tests/test_layers.py is for imports.

Every result class of `metareview.stats` (a dataclass that mixes in `ResultMixin`) is checked:

- no field has a retired name (metafor's zval, QE, coefs, ...: the package says statistic, q,
  estimate);
- a name used by two or more classes is one of `vocabulary.RESULT_FIELDS`, and means what that
  says: each class is fitted on dat.bcg-sized data and the shared fields are checked against
  their definition (statistic = estimate/se, q_pval = chi²(q_df) tail of q, tau = sqrt(tau²),
  weights sum to 100, ...), so a class that gave a shared name another meaning fails here.
- an interval is two fields, `<name>_low` and `<name>_high` (`vocabulary.INTERVAL_ENDS`), never
  a tuple field; each has both ends, low ≤ high, and a pair property of the same name (the
  public `PoolResult.tau2_ci`) returns exactly (low, high).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import pkgutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import metareview.stats as engine
from metareview.stats import (
    binary,
    consistency,
    conversions,
    glmm,
    moderators,
    paired,
    pooling,
    revman_methods,
    small_study,
    swim,
)
from metareview.stats.results import ResultMixin
from metareview.stats.vocabulary import INTERVAL_ENDS, RESULT_FIELDS

FIXTURES = Path(__file__).parent / "fixtures" / "metafor"
BCG = json.loads((FIXTURES / "models.json").read_text())["datasets"]["bcg_rr"]

# Names that must not come back: what metafor prints and the package calls otherwise.
RETIRED = {
    "zval": "statistic", "qe": "q", "qe_df": "q_df", "qe_pval": "q_pval", "coefs": "estimate",
    "weight": "weights", "ci_lb": "ci_low", "ci_ub": "ci_high",
}
RETIRED_PREFIXES = ("qe_", "ci_lb", "ci_ub")


def result_classes() -> dict[str, type]:
    found = {}
    for module in pkgutil.iter_modules(engine.__path__):
        namespace = vars(importlib.import_module(f"metareview.stats.{module.name}"))
        for name, value in namespace.items():
            if (isinstance(value, type) and dataclasses.is_dataclass(value)
                    and issubclass(value, ResultMixin) and value.__module__.endswith(module.name)):
                found[name] = value
    return found


CLASSES = result_classes()


def field_names(cls: type) -> list[str]:
    return [field.name for field in dataclasses.fields(cls)]


def test_result_classes_are_found():
    # A change in how results are declared must not empty the checks below.
    assert {"PoolResult", "MetaRegressionResult", "BinaryPoolResult", "GlmmResult",
            "RankTestResult", "RevManResult"} <= set(CLASSES)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_no_retired_field_names(name):
    for field in field_names(CLASSES[name]):
        assert field not in RETIRED, f"{name}.{field}: call it {RETIRED[field]!r}"
        assert not field.startswith(RETIRED_PREFIXES), f"{name}.{field}"


def test_a_name_shared_by_two_classes_is_in_the_vocabulary():
    users: dict[str, list[str]] = {}
    for name, cls in CLASSES.items():
        for field in field_names(cls):
            users.setdefault(field, []).append(name)
    unregistered = {field: names for field, names in users.items()
                    if len(names) > 1 and field not in RESULT_FIELDS}
    assert not unregistered, ("give these one meaning in vocabulary.RESULT_FIELDS, or "
                              f"different names: {unregistered}")
    unused = set(RESULT_FIELDS) - set(users)
    assert not unused, f"vocabulary entries no result uses: {unused}"


# --- each class fitted once, and the meaning of every shared field checked ---------------------

YI, VI = np.array(BCG["yi"]), np.array(BCG["vi"])
ABLAT = np.array(BCG["ablat"], dtype=float)
# dat.bcg (metadat): TB cases and non-cases among vaccinated (t) and control (c) participants.
TPOS = np.array([4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27], dtype=float)
TNEG = np.array([119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886],
                dtype=float)
CPOS = np.array([11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29], dtype=float)
CNEG = np.array([128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825],
                dtype=float)


def test_the_counts_are_those_of_the_fixture():
    log_rr = np.log(TPOS / (TPOS + TNEG)) - np.log(CPOS / (CPOS + CNEG))
    np.testing.assert_allclose(log_rr, YI, rtol=1e-12)


def _examples() -> dict[str, list]:
    made = {
        "PoolResult": [pooling.pool(YI, VI), pooling.pool(YI, VI, "DL", "knha", level=0.9),
                       pooling.pool(YI, VI, "FE")],
        "ModelFit": [pooling.fit_model(YI, VI, np.column_stack([np.ones(13), ABLAT]))],
        "MetaRegressionResult": [moderators.meta_regression(YI, VI, ABLAT),
                                 moderators.meta_regression(YI, VI, ABLAT, test="knha")],
        "SubgroupResult": [moderators.subgroup(YI, VI, BCG["alloc"]),
                           moderators.subgroup(YI, VI, BCG["alloc"], tau2="separate")],
        "PermutationResult": [moderators.permutation_test(YI, VI, ABLAT, n_perm=200)],
        "BinaryPoolResult": [binary.mantel_haenszel(TPOS, TNEG, CPOS, CNEG, measure="RR"),
                             binary.peto(TPOS, TNEG, CPOS, CNEG)],
        "GlmmResult": [glmm.pool_glmm(TPOS, TPOS + TNEG)],
        "EggerResult": [small_study.egger_test(YI, VI)],
        "RankTestResult": [small_study.rank_test(YI, VI)],
        "TrimFillResult": [small_study.trim_and_fill(YI, VI)],
        "VoteCountResult": [swim.vote_count([1, 1, 1, -1, 0, 1])],
        "CombinedPResult": [swim.combine_pvalues([0.01, 0.2, 0.04], [1, 1, -1], n=[40, 60, 80])],
        "SEFromP": [conversions.se_from_p(0.5, 0.03, df=20)],
        "MDFromMeans": [conversions.md_from_means_and_p(12.0, 10.0, 0.04, df=38)],
        "PairedDifference": [paired.paired_from_reported(1.5, 20, p=0.02)],
        "DispersionReading": [consistency.read_unlabelled_dispersion(10, 2, 20, 12, 2, 20, 0.003)],
    }
    a, b, c, d = TPOS, TNEG, CPOS, CNEG
    fixed = revman_methods.pool_dichotomous(a, a + b, c, c + d, "RR", "MH", "fixed")
    random = revman_methods.pool_dichotomous(a, a + b, c, c + d, "OR", "IV", "random")
    parts = [revman_methods.pool_dichotomous(a[s], (a + b)[s], c[s], (c + d)[s], "RR", "MH",
                                             "fixed") for s in (slice(0, 6), slice(6, 13))]
    made["RevManResult"] = [fixed, random] + parts
    made["SubgroupTest"] = [revman_methods.subgroup_test(parts, fixed)]
    from metareview.stats.bayes import pool_bayes
    made["BayesResult"] = [pool_bayes(YI[:5], VI[:5])]
    return made


EXAMPLES = _examples()


def test_every_result_class_has_an_example():
    assert set(EXAMPLES) == set(CLASSES)
    for name, results in EXAMPLES.items():
        assert all(type(r) is CLASSES[name] for r in results), name


def _values(result, name):
    value = getattr(result, name)
    return np.atleast_1d(np.asarray(value, dtype=float)) if not isinstance(value, str) else value


def _close(a, b) -> bool:
    return bool(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))


def _finite(values):
    return values[np.isfinite(values)]


# Each shared name: what must hold of it in any result that has it (with the other fields it is
# defined through, when the result has them).
def check_statistic(r):
    if not (hasattr(r, "estimate") and hasattr(r, "se")):
        return
    ratio = np.asarray(r.estimate, float) / np.asarray(r.se, float)
    # RevMan prints |Z|; every other class the signed statistic.
    statistic = np.asarray(r.statistic, float)
    assert _close(np.abs(statistic), np.abs(ratio))
    if not isinstance(r, revman_methods.RevManResult):
        assert _close(statistic, ratio)


def check_pval(r):
    values = _finite(_values(r, "pval"))
    assert ((values >= 0) & (values <= 1)).all()


def check_interval(r):
    low, high = _values(r, "ci_low"), _values(r, "ci_high")
    centre = _values(r, "estimate") if hasattr(r, "estimate") else _values(r, "proportion")
    assert (low <= centre).all() and (centre <= high).all()


def check_q(r):
    if hasattr(r, "q_pval") and hasattr(r, "q_df") and r.q_df >= 1:
        assert _close(r.q_pval, stats.chi2.sf(r.q, r.q_df))
    assert r.q >= 0 or math.isnan(r.q)


def check_i2(r):
    assert 0 <= r.i2 <= 100 or math.isnan(r.i2)
    if hasattr(r, "h2") and math.isfinite(r.h2) and r.i2 < 100:
        assert _close(r.i2, 100 * (1 - 1 / r.h2))  # I² = (H² − 1)/H², in percent


def check_h2(r):
    assert r.h2 >= 1 or math.isnan(r.h2)


def check_tau2(r):
    assert r.tau2 >= 0 or math.isnan(r.tau2)


def check_tau(r):
    assert _close(r.tau, math.sqrt(r.tau2))


def check_pi(r):
    # A prediction interval holds the confidence interval of the same estimate.
    if hasattr(r, "pred"):
        low, high = r.pred_ci_low, r.pred_ci_high
    else:
        low, high = r.ci_low, r.ci_high
    assert r.pi_low <= low + 1e-12 and high <= r.pi_high + 1e-12


def check_exp(r):
    if r.measure.upper() in ("RR", "OR", "PETO_OR", "HR"):
        assert _close([r.exp_estimate, r.exp_ci_low, r.exp_ci_high],
                      np.exp([r.estimate, r.ci_low, r.ci_high]))


def check_weights(r):
    assert _close(np.sum(r.weights), 100.0)


def check_level(r):
    assert 0 < r.level < 1


def check_k(r):
    assert int(r.k) == r.k and r.k >= 0


def check_test(r):
    assert r.test in ("z", "knha")


def check_df(r):
    df = _finite(_values(r, "df")) if r.df is not None else np.array([])
    assert (df > 0).all()


def check_se(r):
    assert (_finite(_values(r, "se")) > 0).all()


MEANING = {
    "statistic": check_statistic, "pval": check_pval, "ci_low": check_interval,
    "q": check_q, "i2": check_i2, "h2": check_h2, "tau2": check_tau2, "tau": check_tau,
    "pi_low": check_pi, "exp_estimate": check_exp, "weights": check_weights,
    "level": check_level, "k": check_k, "test": check_test, "df": check_df, "se": check_se,
}


def test_every_checked_name_is_in_the_vocabulary():
    assert set(MEANING) <= set(RESULT_FIELDS)


CASES = [(name, index, field) for name, results in EXAMPLES.items()
         for index, result in enumerate(results) for field in MEANING
         if hasattr(result, field)]


@pytest.mark.parametrize("name,index,field", CASES, ids=lambda value: str(value))
def test_a_shared_field_means_what_the_vocabulary_says(name, index, field):
    MEANING[field](EXAMPLES[name][index])


def test_the_meanings_are_checked_on_each_class_that_shares_them():
    # The names checked above cover every class that uses them (not only PoolResult).
    seen = {(name, field) for name, _, field in CASES}
    assert ("GlmmResult", "tau") in seen and ("MetaRegressionResult", "q") in seen
    assert ("RevManResult", "weights") in seen and ("BinaryPoolResult", "statistic") in seen


# --- intervals: two fields, never a pair -------------------------------------------------------

LOW, HIGH = INTERVAL_ENDS


def intervals(cls: type) -> list[str]:
    """The intervals of a class: each `<name>` with a field `<name>_low` or `<name>_high`."""
    names = field_names(cls)
    return sorted({field[:-len(end)] for field in names for end in INTERVAL_ENDS
                   if field.endswith(end)})


def _holds_numbers_in_a_tuple(value) -> bool:
    return isinstance(value, tuple) and not all(isinstance(item, str) for item in value)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_no_field_is_a_pair(name):
    # A tuple field is a tuple of names at most (MetaRegressionResult.terms); an interval is two
    # fields, so that tables of results and results have the same names.
    for field in dataclasses.fields(CLASSES[name]):
        annotation = str(field.type).replace(" ", "").lower()
        assert "tuple" not in annotation or annotation == "tuple[str,...]", (
            f"{name}.{field.name}: {field.type}; store an interval as "
            f"{field.name}{LOW} and {field.name}{HIGH}")
    for result in EXAMPLES[name]:
        for field in field_names(CLASSES[name]):
            assert not _holds_numbers_in_a_tuple(getattr(result, field)), f"{name}.{field}"


def test_the_pair_check_fails_on_a_pair():
    assert _holds_numbers_in_a_tuple((0.1, 0.2)) and _holds_numbers_in_a_tuple((0.1, "x"))
    assert not _holds_numbers_in_a_tuple(("intrcpt", "x"))
    assert not _holds_numbers_in_a_tuple(0.1)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_every_interval_has_both_ends_in_order(name):
    fields = set(field_names(CLASSES[name]))
    for interval in intervals(CLASSES[name]):
        low, high = interval + LOW, interval + HIGH
        assert low in fields and high in fields, f"{name}.{interval}: one end only"
        for result in EXAMPLES[name]:
            lows, highs = _values(result, low), _values(result, high)
            both = np.isfinite(lows) & np.isfinite(highs)
            assert (lows[both] <= highs[both]).all(), f"{name}.{interval}"


PAIRS = [(name, interval) for name, cls in CLASSES.items() for interval in intervals(cls)
         if isinstance(getattr(cls, interval, None), property)]


def test_the_public_pairs_are_properties():
    # r.tau2_ci is a (low, high) pair in the package's public interface.
    assert {("PoolResult", "tau2_ci"), ("PoolResult", "i2_ci"),
            ("PoolResult", "h2_ci")} <= set(PAIRS)


@pytest.mark.parametrize("name,interval", PAIRS, ids=lambda value: str(value))
def test_a_pair_property_is_its_two_fields(name, interval):
    for result in EXAMPLES[name]:
        pair = getattr(result, interval)
        low, high = getattr(result, interval + LOW), getattr(result, interval + HIGH)
        assert type(pair) is tuple and len(pair) == 2
        assert all(type(end) is float for end in pair)
        assert _close(pair, (low, high))
        assert (pair[0] is low or pair[0] == low) and (pair[1] is high or pair[1] == high)


def test_a_pool_result_table_has_the_fields_of_its_intervals():
    fit = pooling.pool(YI, VI)
    frame = fit.to_frame()
    assert {"tau2_ci_low", "tau2_ci_high", "i2_ci_low", "i2_ci_high"} <= set(frame.columns)
    assert (frame.loc[0, "tau2_ci_low"], frame.loc[0, "tau2_ci_high"]) == fit.tau2_ci
    assert "tau2_ci" not in fit.to_dict() and "tau2_ci" not in frame.columns
