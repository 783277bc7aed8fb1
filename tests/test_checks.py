"""The engine's one per-study input check (`stats.checks`), used by every function that takes
values per study."""

from __future__ import annotations

import math

import numpy as np
import pytest

import metareview as mr
from metareview.stats.checks import check_study_data, study_arrays


def test_arrays_come_back_flat_float_and_in_order():
    a, b = study_arrays({"xi": [1, 2], "ni": (10, 20)}, "one count and one total")
    assert a.dtype == b.dtype == float and a.tolist() == [1.0, 2.0] and b.tolist() == [10, 20]
    (one,) = study_arrays({"ni": 7}, "one size")
    assert one.tolist() == [7.0]


@pytest.mark.parametrize(("named", "options", "message"), [
    ({"yi": [1, 2, 3], "vi": [1, 1]}, {}, "yi has 3 values but vi has 2: study 2 has no vi"),
    ({"yi": [1], "vi": [1, 1]}, {}, "yi has 1 values but vi has 2: study 1 has no yi"),
    ({"yi": [], "vi": []}, {}, "no studies: yi and vi are empty"),
    ({"yi": ["a"], "vi": [1]}, {}, "yi must be numbers"),
    ({"yi": [[1, 2], [3, 4]], "vi": [1, 1]}, {}, "yi must be one-dimensional"),
    ({"m": [1, 2], "s": [1, math.nan]}, {"finite": True},
     "study 1: s is missing or not finite"),
    ({"m": [1, 2, 3], "r": [0.5, 0.5]}, {"broadcast": True},
     "m has 3 values but r has 2: study 2 has no r"),
])
def test_each_problem_is_named(named, options, message):
    with pytest.raises(ValueError, match=message):
        study_arrays(named, "one of each", **options)


def test_one_value_stands_for_all_studies_only_when_asked():
    m, r = study_arrays({"m": [1, 2, 3], "r": 0.5}, "one of each", broadcast=True)
    assert r.tolist() == [0.5] * 3 and r.flags.writeable
    with pytest.raises(ValueError, match="m has 3 values but r has 1"):
        study_arrays({"m": [1, 2, 3], "r": 0.5}, "one of each")


def test_nan_passes_unless_finite_is_asked():
    (values,) = study_arrays({"x": [1, math.nan]}, "one value")
    assert np.isnan(values[1])


def test_every_model_and_effect_size_uses_the_same_check():
    # the same wrong input gives the same sentence whichever function receives it
    with pytest.raises(ValueError, match="yi has 2 values but vi has 1: study 1 has no vi"):
        mr.pool([0.1, 0.2], [0.01])
    with pytest.raises(ValueError, match="yi has 2 values but vi has 1: study 1 has no vi"):
        check_study_data([0.1, 0.2], [0.01])
    with pytest.raises(ValueError, match="xi has 2 values but ni has 1: study 1 has no ni"):
        mr.pool_glmm([1, 2], [10])
    with pytest.raises(ValueError, match="xi has 2 values but ni has 1: study 1 has no ni"):
        mr.effect_sizes("PLO", xi=[1, 2], ni=[10])


def test_one_message_format_for_a_bad_study():
    # the same "study <0-based index>: ..." from a rule on the values, from a missing value and
    # from the model's own check
    for call, message in [
        (lambda: mr.effect_sizes("MD", m1i=[1, 2], sd1i=[1, -1], n1i=[5, 5], m2i=[0, 0],
                                 sd2i=[1, 1], n2i=[5, 5]), "study 1: sd1i must be > 0"),
        (lambda: study_arrays({"m": [1, math.nan]}, "one", finite=True), "study 1: m is missing"),
        (lambda: mr.pool([0.1, 0.2], [0.1, 0.0]), "study 1: vi is 0.0"),
        (lambda: mr.pool_glmm([1, 12], [10, 10]), r"study 1: events \(xi\) = 12"),
    ]:
        with pytest.raises(ValueError, match=f"^{message}"):
            call()
