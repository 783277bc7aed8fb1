"""The package's vocabulary: the names every layer uses for measures, estimators, tests and
p-value operators, and the names of the engine's result fields (an interval is two fields,
`<name>_low` and `<name>_high`). Nothing else in the package defines these lists.

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


# How a result stores an interval: as two fields, never as one (low, high) pair. The limits of
# the interval `<name>` are the fields `<name>_low` and `<name>_high`: `ci_low`/`ci_high` of the
# estimate, `pi_low`/`pi_high` of a new study's effect, `tau2_ci_low`/`tau2_ci_high` of tau²,
# `mu_shortest_low`/`mu_shortest_high` of a credible interval of mu; per-study intervals are
# two arrays named the same way (`shrinkage_central_low`). So a table of results has the same
# columns as the results have fields. Where the public interface names a pair (`r.tau2_ci` of
# `pool`, and `i2_ci`, `h2_ci` beside it), it is a read-only property that returns the two
# fields as a tuple; no field holds a tuple of numbers (tests/test_result_fields.py checks it).
INTERVAL_ENDS = ("_low", "_high")

# The names of result fields shared by more than one result class, each with its one meaning.
# A result class uses these names for these quantities and for nothing else; names used by one
# class only are documented in that class (tests/test_result_fields.py checks both). Scales: an
# estimate and its interval are on the analysis scale (log for ratios, logit for PLO) unless the
# name says otherwise (exp_*, pred*).
RESULT_FIELDS = {
    "estimate": "the point estimate on the analysis scale (one per term in a meta-regression)",
    "se": "the standard error of `estimate` (per term or per study where they are arrays)",
    "statistic": "the test statistic of the class's test: estimate/se (z or t) for an estimate; "
                 "the class names any other",
    "pval": "the p value of the class's test (two-sided unless the class says one-sided)",
    "ci_low": "lower limit of the confidence interval of `estimate` at `level`",
    "ci_high": "upper limit of the confidence interval of `estimate` at `level`",
    "df": "degrees of freedom of the reference distribution of the class's test (nan for z)",
    "level": "the confidence level of every interval of the result, e.g. 0.95",
    "k": "the number of studies (or estimates) the result is based on",
    "p": "the number of model coefficients, intercept included",
    "q": "Cochran's Q (or the model's Wald-type Q) of (residual) heterogeneity",
    "q_df": "degrees of freedom of the chi² reference distribution of `q`",
    "q_pval": "p value of `q` against chi²(`q_df`)",
    "q_between": "the test of differences between subgroups (chi², or F under knha)",
    "qm": "the omnibus Wald test of the moderators (chi², or F under knha)",
    "qm_df": "the (first) degrees of freedom of `qm`",
    "i2": "I², the share of the total variability due to heterogeneity, in percent",
    "h2": "H², the total variability relative to the sampling variability (≥ 1)",
    "tau2": "tau², the between-study variance of the true effects",
    "tau2_se": "the standard error of `tau2`",
    "vcov": "Var(estimate): the variance-covariance matrix of the coefficients",
    "tau": "tau = sqrt(tau²), the between-study standard deviation",
    "pi_low": "lower limit of the prediction interval of a new study's true effect",
    "pi_high": "upper limit of the prediction interval of a new study's true effect",
    "exp_estimate": "exp(estimate): the ratio of a ratio measure (nan otherwise)",
    "exp_ci_low": "exp(ci_low) for a ratio measure (nan otherwise)",
    "exp_ci_high": "exp(ci_high) for a ratio measure (nan otherwise)",
    "weights": "each study's weight in the pooled estimate, in percent (sums to 100)",
    "yi": "the studies' effect sizes on the analysis scale",
    "vi": "sampling variance(s) of the effect size(s)",
    "measure": "the effect-size measure (an escalc code of MEASURES or RATIO_MEASURES)",
    "method": "the name of the estimation method (tau² estimator, MH, Peto, ...)",
    "model": "the name of the fitted model (fixed or random; rma or lm)",
    "test": "the test and intervals of coefficients: 'z' or 'knha' (TESTS)",
    "exact": "True when the p value comes from the exact permutation distribution",
    "p_is_bound": "True when a reported 'p < x' was used as p = x (the SE is conservative)",
    "note": "special cases of the fit in words ('' when none)",
}
