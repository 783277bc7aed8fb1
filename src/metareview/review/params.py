"""Papermill parameters of a review: defaults, params/<review>.yaml, command-line overrides.

Every name and type is checked: an unknown name, a wrong type or a value outside the allowed set
or range is a `ParameterError` naming the parameter, the value and what is allowed. Booleans are
never accepted as numbers; whole numbers are accepted where a real number is expected.

Intervals have one parameter from the engine to the notebooks, the confidence `level` (0.95).
A params file or a command line may still give `alpha` (0.05, one minus the level, as earlier
versions took it): `load_params` reads it as `level = 1 - alpha`, here and nowhere else, so
the notebooks and the table builders of `report/` see `level` only.
"""

from __future__ import annotations

import difflib
import math
import os
from pathlib import Path
from typing import Any

import yaml

from metareview.files import NAME_RULE, is_safe_name, shorten
from metareview.review import yaml_files
from metareview.stats.vocabulary import TAU2_METHODS, TESTS

__all__ = ["DEFAULTS", "ParameterError", "check_study_ids", "level_from_alpha", "load_params",
           "params_path", "read_as"]

DEFAULTS: dict[str, Any] = {
    "review": "",
    "tau2_method": "REML",
    "test": "knha",
    "paired_r": 0.5,
    "level": 0.95,
    "exclude_studies": [],
    "timepoint": "last",
    "min_k_pool": 2,
    "n_perm": 5000,
    "seed": 20260101,
    "sensitivity_r": [0.2, 0.5, 0.8],
    "analysis_method": "default",
    "bayes_tau_prior": "default",
    "bayes_mu_prior": "uniform",
}

# A name a params file or command line may use for a parameter it is read as: alpha -> level.
ALPHA = "alpha"

TIMEPOINTS = ("last", "first")
# "revman": notebook 03 also pools each outcome with the method and model of outcomes.csv
# (pooling_method, pooling_model), as RevMan 5 does (metareview.review.revman_pooling).
ANALYSIS_METHODS = ("default", "revman")


class ParameterError(ValueError):
    """A parameter is unknown, of the wrong type, or outside its allowed values."""


def _choice(options):
    def check(name, value):
        if not isinstance(value, str) or value not in options:
            _fail(name, value, "one of " + ", ".join(repr(o) for o in options))
        return value
    return check


def _real(low, high, *, what):
    """A real number strictly between low and high."""
    def check(name, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(name, value, f"a number, {what}")
        value = float(value)
        if not (math.isfinite(value) and low < value < high):
            _fail(name, value, what)
        return value
    return check


def _whole(minimum, *, what):
    def check(name, value):
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(name, value, f"a whole number, {what}")
        if value < minimum:
            _fail(name, value, what)
        return value
    return check


def _study_ids(name, value):
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        _fail(name, value, "a list of study_id strings, e.g. [Smith2020, Lee2021] (quote ids "
              "that look like numbers)")
    unsafe = [v for v in value if not is_safe_name(v)]
    if unsafe:
        _fail(name, unsafe[0], f"a study_id of studies.csv, and study ids use {NAME_RULE}")
    return list(value)


def _r_values(name, value):
    inner = _real(-1, 1, what="between -1 and 1 (exclusive)")
    if not isinstance(value, list) or not value:
        _fail(name, value, "a non-empty list of correlations between -1 and 1, e.g. "
              "[0.2, 0.5, 0.8]")
    return [inner(f"{name}[{i}]", v) for i, v in enumerate(value)]


def _tau_prior(name, value):
    from metareview.stats.bayes_priors import tau_prior

    if value == "default":
        return value
    if not isinstance(value, str):
        _fail(name, value, "'default' or a prior of tau as text, e.g. 'halfnormal(0.5)'")
    try:
        tau_prior(value)
    except ValueError as error:
        _fail(name, value, f"'default' or a prior of tau as text ({error})")
    return value


def _mu_prior(name, value):
    from metareview.stats.bayes_priors import mu_prior

    if not isinstance(value, str):
        _fail(name, value, "'uniform' or 'normal(mean, sd)'")
    try:
        mu_prior(value)
    except ValueError as error:
        _fail(name, value, f"'uniform' or 'normal(mean, sd)' ({error})")
    return value


def _review_name(name, value):
    if not is_safe_name(value):
        _fail(name, value, "the review's folder name under data/raw/, e.g. 'my-review' "
              f"({NAME_RULE})")
    return value


CHECKS = {
    "review": _review_name,
    "tau2_method": _choice(TAU2_METHODS),
    "test": _choice(TESTS),
    "paired_r": _real(-1, 1, what="between -1 and 1 (exclusive)"),
    "level": _real(0, 1, what="between 0 and 1 (exclusive), e.g. 0.95"),
    "exclude_studies": _study_ids,
    "timepoint": _choice(TIMEPOINTS),
    "min_k_pool": _whole(2, what=">= 2"),
    "n_perm": _whole(100, what=">= 100"),
    "seed": _whole(0, what=">= 0"),
    "sensitivity_r": _r_values,
    "analysis_method": _choice(ANALYSIS_METHODS),
    "bayes_tau_prior": _tau_prior,
    "bayes_mu_prior": _mu_prior,
}


def _fail(name, value, allowed):
    raise ParameterError(f"parameter {name!r} = {shorten(value)} is not valid: it must be "
                         f"{allowed}.")


def params_path(review: str) -> Path:
    """params/<review>.yaml under the repository root (see `metareview.files.repo_root`)."""
    from metareview import files

    return files.params_path(review)


def _read_yaml(path: Path) -> dict:
    try:
        content = yaml_files.read_file(path)
    except FileNotFoundError:
        raise ParameterError(f"parameter file {path} does not exist.") from None
    except UnicodeDecodeError:
        raise ParameterError(f"parameter file {path} is not UTF-8 text.") from None
    except yaml_files.YamlRefused as err:
        raise ParameterError(f"parameter file {path}: {err}.") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ParameterError(f"parameter file {path} is not valid YAML{where}: "
                             f"{getattr(err, 'problem', None) or err}") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ParameterError(f"parameter file {path} must hold 'name: value' lines, "
                             f"not a {type(content).__name__}.")
    return content


def _check_names(values: dict, origin: str) -> None:
    for name in values:
        if name not in DEFAULTS and name != ALPHA:
            close = difflib.get_close_matches(str(name), list(DEFAULTS), n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ParameterError(
                f"unknown parameter {shorten(name)} in {origin}.{hint} Known parameters: "
                f"{', '.join(DEFAULTS)}."
            )


def _from_command_line(name: str, value: Any) -> Any:
    """Command-line values arrive as text: read them as YAML scalars/lists ("0.3", "[A, B]")."""
    if isinstance(value, str) and not isinstance(DEFAULTS.get(name, 0.0), str):
        try:
            return yaml_files.load_text(value)
        except yaml_files.YamlRefused as err:
            raise ParameterError(f"parameter {name!r} on the command line: {err}.") from None
        except yaml.YAMLError:
            return value
    return value


# Up to this many study ids, an unknown one is answered with the whole list; beyond it, with the
# nearest ones and the count (a review of 200 studies would otherwise fill the screen).
LIST_ALL_IDS = 40
NEAREST_IDS = 5


def _edits(a: str, b: str) -> int:
    """Levenshtein distance between `a` and `b` (insertions, deletions and substitutions),
    by the usual dynamic programme row by row (Levenshtein 1966)."""
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (char != other)))
        previous = current
    return previous[-1]


def read_as(name: str) -> str:
    """The parameter a given name sets: "level" for "alpha", else the name itself."""
    return "level" if name == ALPHA else name


def level_from_alpha(values: dict, origin: str) -> dict:
    """`values` with `alpha` (if given) read as the confidence level, `level = 1 - alpha`.

    The one place where alpha becomes level. A source that gives both must give the same
    interval (alpha 0.05 with level 0.95); otherwise the two disagree and neither is chosen.
    """
    if ALPHA not in values:
        return values
    alpha = _real(0, 1, what="between 0 and 1 (exclusive); it is 1 - level, e.g. 0.05")(
        ALPHA, values[ALPHA])
    level = 1.0 - alpha
    if "level" in values:
        given = CHECKS["level"]("level", values["level"])
        if not math.isclose(given, level, rel_tol=1e-12, abs_tol=1e-12):
            raise ParameterError(
                f"parameters 'alpha' = {alpha:g} and 'level' = {given:g} in {origin} disagree: "
                f"give one of them (level = 1 - alpha).")
        level = given
    return {**{k: v for k, v in values.items() if k != ALPHA}, "level": level}


def check_study_ids(values: dict, study_ids, origin: str) -> dict:
    """Refuse ids of `exclude_studies` that are not study_ids of the review's studies.csv
    (a misspelt id would exclude nothing, silently); return `values`.

    The message lists every study id of the review in natural order (e2 before e10) when there
    are at most `LIST_ALL_IDS`, else the `NEAREST_IDS` nearest to the first unknown id and how
    many there are.
    """
    from metareview.review.ordering import natural_sorted  # pandas: only on this error path

    known = natural_sorted({str(sid) for sid in study_ids})
    unknown = [sid for sid in values.get("exclude_studies", []) if sid not in known]
    if unknown:
        by_distance = sorted(known, key=lambda sid: _edits(unknown[0], sid))
        # a guess only when it is a typing slip away: at most a quarter of the id's characters
        close = [sid for sid in by_distance[:1]
                 if _edits(unknown[0], sid) <= max(1, len(unknown[0]) // 4)]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        if not known:
            shown = "studies.csv has none"
        elif len(known) <= LIST_ALL_IDS:
            shown = f"the review's {len(known)} study ids are " + ", ".join(known)
        else:
            nearest = by_distance[:NEAREST_IDS]
            shown = (f"the review has {len(known)} study ids (column study_id of studies.csv); "
                     f"the nearest to {unknown[0]!r} are " + ", ".join(nearest))
        raise ParameterError(
            f"parameter 'exclude_studies' in {origin} (or on the command line) names "
            f"{shorten(', '.join(unknown))}, not a study_id of studies.csv.{hint} "
            f"{shown[0].upper()}{shown[1:]}.")
    return values


def load_params(review: str, path: str | os.PathLike | None = None,
                overrides: dict | None = None) -> dict:
    """DEFAULTS, updated by the YAML file then by `overrides`, every value checked.

    `path` defaults to params/<review>.yaml; when that default file does not exist the defaults
    are used. Text values in `overrides` (from a command line) are parsed as YAML.
    """
    values = {k: (list(v) if isinstance(v, list) else v) for k, v in DEFAULTS.items()}
    values["review"] = review
    file = Path(path) if path is not None else params_path(review)
    if path is not None or file.is_file():
        from_file = _read_yaml(file)
        _check_names(from_file, str(file))
        if "review" in from_file and from_file["review"] != review:
            raise ParameterError(
                f"parameter 'review' = {shorten(from_file['review'])} in {file} does not match the "
                f"review being run ({review!r})."
            )
        values.update(level_from_alpha(from_file, str(file)))
    if overrides:
        _check_names(overrides, "the command line")
        if overrides.get("review", review) != review:
            raise ParameterError(f"parameter 'review' cannot be overridden ({review!r} is run).")
        values.update(level_from_alpha({k: _from_command_line(k, v)
                                        for k, v in overrides.items()}, "the command line"))
    return {name: CHECKS[name](name, values[name]) for name in DEFAULTS}
