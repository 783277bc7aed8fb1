"""Immutable result objects shared by every analysis in the package.

A result is a frozen dataclass that mixes in `ResultMixin`, which gives it

- a readable `repr` (numbers rounded for the eye, long arrays abbreviated),
- `to_dict()`: plain Python values (floats, lists, nested dicts), ready for JSON,
- `to_frame()`: a one-row pandas DataFrame of the scalar fields; results that hold one value
  per term or per study override it to return a tidy table instead.

Arrays stored in a result are made read-only, so that a result cannot change after it is made.
A field holds one value or one array: an interval is two fields, `<name>_low` and `<name>_high`
(`vocabulary.INTERVAL_ENDS`), and a (low, high) pair is at most a property derived from them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd

from metareview.stats.plain import plain

_REPR_ARRAY_ITEMS = 6


def _short(value: Any) -> str:
    """A compact text form of one field for `repr`."""
    if isinstance(value, ResultMixin):
        return f"{type(value).__name__}(...)"
    if isinstance(value, (float, np.floating)):
        return "nan" if math.isnan(value) else f"{float(value):.6g}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_short(item) for item in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key!r}: {_short(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (np.ndarray, pd.Series, list)):
        items = list(np.asarray(value, dtype=object).ravel())
        shown = ", ".join(_short(item) for item in items[:_REPR_ARRAY_ITEMS])
        more = f", ... ({len(items)} values)" if len(items) > _REPR_ARRAY_ITEMS else ""
        return f"[{shown}{more}]"
    if isinstance(value, pd.DataFrame):
        return f"<DataFrame {value.shape[0]}x{value.shape[1]}>"
    return repr(value)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str, np.generic))


class ResultMixin:
    """to_dict / to_frame / repr for a frozen dataclass (see the module docstring)."""

    def __post_init__(self) -> None:
        # Freeze array contents too: a frozen dataclass only stops re-assignment of fields.
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain Python values (numpy arrays become lists)."""
        return {
            field.name: plain(getattr(self, field.name)) for field in dataclasses.fields(self)
        }

    def scalar_items(self) -> dict[str, Any]:
        """The scalar fields by name (an interval is two of them, `<name>_low`, `<name>_high`)."""
        return {field.name: plain(getattr(self, field.name)) for field in dataclasses.fields(self)
                if _is_scalar(getattr(self, field.name))}

    def to_frame(self) -> pd.DataFrame:
        """A one-row DataFrame of the scalar fields (arrays and nested results left out)."""
        return pd.DataFrame([self.scalar_items()])

    def __repr__(self) -> str:
        parts = [
            f"    {field.name}={_short(getattr(self, field.name))}"
            for field in dataclasses.fields(self)
            if field.repr
        ]
        return f"{type(self).__name__}(\n" + ",\n".join(parts) + "\n)"


def result_class(cls: type) -> type:
    """Decorator: turn a class into a frozen result dataclass with `ResultMixin` behaviour.

    Equality is by identity (`eq=False`) because fields may hold numpy arrays, whose `==` is
    element-wise. The mixin's `__repr__` is kept (`repr=False` for the dataclass).
    """
    return dataclasses.dataclass(frozen=True, eq=False, repr=False)(cls)
