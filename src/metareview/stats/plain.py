"""Plain Python values from numpy, pandas and result objects: the one conversion used by a
result's `to_dict()` and by the deterministic JSON writer (`metareview.files.dumps_json`).

numpy and pandas are not imported here: a value can only be a numpy or pandas object when that
library is already loaded, so the module looks them up in `sys.modules`. That keeps
`metareview.files`, and with it the pipeline runner, free of both at start-up.
"""

from __future__ import annotations

import sys
from typing import Any


def plain(value: Any) -> Any:
    """`value` with numpy and pandas objects (and nested results) made plain Python values.

    Parameters
    ----------
    value : Any
        A result (anything with `ResultMixin`), dict, list, tuple, numpy array or scalar,
        pandas Series, Index or DataFrame, or a plain value.

    Returns
    -------
    Any
        numpy booleans, integers and floats become `bool`, `int` and `float`; arrays, Series
        and Indexes become lists; a DataFrame becomes a dict of column lists; a result becomes
        its `to_dict()`. Dicts, lists and tuples are converted item by item and keep their type
        (a tuple stays a tuple); anything else (str, None, set, ...) is returned as it is.

    Examples
    --------
    >>> import numpy as np
    >>> plain({"k": np.int64(3), "ci": (np.float64(0.5), 1.0), "y": np.array([1.0, 2.0])})
    {'k': 3, 'ci': (0.5, 1.0), 'y': [1.0, 2.0]}
    """
    results = sys.modules.get("metareview.stats.results")
    if results is not None and isinstance(value, results.ResultMixin):
        return value.to_dict()
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(item) for item in value)
    pd = sys.modules.get("pandas")
    if pd is not None:
        if isinstance(value, (pd.Series, pd.Index)):
            return [plain(item) for item in value.tolist()]
        if isinstance(value, pd.DataFrame):
            return {column: plain(value[column]) for column in value.columns}
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.ndarray):
            return [plain(item) for item in value.tolist()]
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return float(value)
    return value
