"""One conversion to plain values (`stats.plain.plain`) behind `to_dict()` and the JSON writer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import metareview as mr
from metareview import files
from metareview.stats.plain import plain

YI = np.array([-0.89, -1.59, -1.35, -1.44, -0.22, -0.79])
VI = np.array([0.33, 0.19, 0.42, 0.07, 0.23, 0.01])


def test_numpy_and_pandas_values_become_python_values_and_tuples_stay_tuples():
    value = plain({np.str_("k"): np.int64(3), "ok": np.bool_(True), "ci": (np.float32(0.5), 1),
                   "rows": pd.Series([1.5, 2.5]), "frame": pd.DataFrame({"a": [np.int64(1)]})})
    assert value == {"k": 3, "ok": True, "ci": (0.5, 1), "rows": [1.5, 2.5], "frame": {"a": [1]}}
    assert [type(x) for x in (value["k"], value["ok"], value["ci"][0])] == [int, bool, float]
    assert isinstance(value["ci"], tuple)


def test_a_result_is_its_to_dict_and_writes_as_its_to_dict():
    fit = mr.pool(YI, VI)
    assert plain(fit) == fit.to_dict()
    assert plain([fit]) == [fit.to_dict()]
    assert files.dumps_json({"fit": fit}) == files.dumps_json({"fit": fit.to_dict()})
    # an interval is written as its two fields
    written = json.loads(files.dumps_json(fit))
    assert (written["tau2_ci_low"], written["tau2_ci_high"]) == pytest.approx(fit.tau2_ci)
