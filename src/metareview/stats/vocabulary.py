"""The package's vocabulary: the names every layer uses for measures, estimators, tests and
p-value operators. Nothing else in the package defines these lists.

Measures follow metafor's `escalc` codes. A *ratio* measure is analysed on the log scale and
shown exponentiated (as metafor's `transf = exp`); a *proportion* measure is analysed on its
transformed scale (logit, Freeman-Tukey) and shown as a proportion.
"""

from __future__ import annotations

# Effect-size measures of `effect_sizes` and of pooled outcomes.
CONTINUOUS_MEASURES = ("SMD", "MD")
BINARY_MEASURES = ("RR", "OR", "RD")
PROPORTION_MEASURES = ("PLO", "PFT", "PR")
MEASURES = CONTINUOUS_MEASURES + BINARY_MEASURES + PROPORTION_MEASURES

# Measures estimated on the log scale and presented exponentiated: the ratios above plus those
# of the rare-event and survival methods (Peto's odds ratio, hazard ratios from a source).
RATIO_MEASURES = ("RR", "OR", "PETO_OR", "HR")

# tau² estimators (metafor's `method`), with "FE" the fixed-effect (equal-effects) model.
TAU2_METHODS = ("FE", "DL", "REML", "ML", "PM", "HE", "SJ", "HS", "EB")
# Synonyms metafor accepts for the fixed-effect model.
FIXED_EFFECT_SYNONYMS = ("EE", "CE")

# Tests and intervals of model coefficients: Wald z, or Hartung-Knapp-Sidik-Jonkman t.
TESTS = ("z", "knha")

# Operators a source prints with a p value ("p = 0.03", "p < 0.001", "p > 0.05").
P_OPERATORS = ("=", "<", ">")


def is_ratio(measure: str) -> bool:
    """True when `measure` is analysed on the log scale and shown exponentiated."""
    return str(measure).upper() in RATIO_MEASURES


def is_proportion(measure: str) -> bool:
    """True when `measure` is a single-group proportion on a transformed scale."""
    return str(measure).upper() in PROPORTION_MEASURES


def check_method(method: str) -> str:
    """Upper-case `method`; "EE"/"CE" become "FE"; raise ValueError for an unknown estimator."""
    name = str(method).upper()
    if name in FIXED_EFFECT_SYNONYMS:
        name = "FE"
    if name not in TAU2_METHODS:
        raise ValueError(f"unknown tau² method {method!r}; use one of {', '.join(TAU2_METHODS)}")
    return name


def check_test(test: str) -> str:
    """Lower-case `test` and make sure it is "z" or "knha"."""
    name = str(test).lower()
    if name not in TESTS:
        raise ValueError(f"unknown test {test!r}; use 'z' or 'knha'")
    return name
