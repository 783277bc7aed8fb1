"""Text summaries of fitted models, laid out as metafor's ``print.rma.uni`` prints them.

`pool_summary` (a `PoolResult`) and `meta_regression_summary` (a `MetaRegressionResult`) give
the model line (k, tau² estimator), tau² with its SE, tau, I², H² (and R²), the test of
(residual) heterogeneity, the test of moderators, and the table of coefficients (estimate, se,
zval or tval with df, pval, ci.lb, ci.ub, significance stars). Numbers are rounded as metafor
rounds them with its default ``digits = 4``: four decimals, I², H² and R² two, p values below
1e-4 shown as "<.0001".
"""

from __future__ import annotations

import math
from typing import Any, Sequence

DIGITS = 4
# metafor's significance codes (R's symnum cut points).
STARS = ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, "."))
LEGEND = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"


def fixed(value: float, digits: int = DIGITS) -> str:
    """`value` with `digits` decimals ("NA" when not finite), as R's formatC(format = "f")."""
    return f"{value:.{digits}f}" if math.isfinite(value) else "NA"


def p_text(value: float, digits: int = DIGITS) -> str:
    """A p value as metafor's fmtp: "<.0001" below 10^-digits."""
    if not math.isfinite(value):
        return "NA"
    return "<." + "0" * (digits - 1) + "1" if value < 10.0**-digits else fixed(value, digits)


def p_clause(value: float) -> str:
    """ "p-val = 0.0012" or "p-val < .0001", as in metafor's test lines."""
    text = p_text(value)
    return f"p-val {text[0]} {text[1:]}" if text.startswith("<") else f"p-val = {text}"


def stars(value: float) -> str:
    for cut, mark in STARS:
        if math.isfinite(value) and value < cut:
            return mark
    return ""


def _labelled(lines: Sequence[tuple[str, str]]) -> list[str]:
    """Label/value lines with the values aligned one space after the longest label."""
    width = max(len(label) for label, _ in lines) + 1
    return [f"{label}:".ljust(width + 1) + value for label, value in lines]


def coefficient_table(rows: Sequence[str], columns: dict[str, list[str]]) -> list[str]:
    """Right-aligned columns under their names, the row names left-aligned (all "" for the
    single unnamed row of an intercept-only model)."""
    names = list(columns)
    widths = {name: max(len(name), *(len(value) for value in columns[name])) for name in names}
    row_width = max((len(row) for row in rows), default=0)
    head = " " * row_width + ("  " if row_width else "") + "  ".join(
        name.rjust(widths[name]) for name in names)
    lines = [head.rstrip()]
    for index, row in enumerate(rows):
        cells = "  ".join(columns[name][index].rjust(widths[name]) for name in names)
        lines.append((row.ljust(row_width) + ("  " if row_width else "") + cells).rstrip())
    return lines


def _coefficients(estimate, se, statistic, pval, ci_low, ci_high, test: str, df: float
                  ) -> dict[str, list[str]]:
    columns = {"estimate": [fixed(v) for v in estimate], "se": [fixed(v) for v in se],
               ("tval" if test == "knha" else "zval"): [fixed(v) for v in statistic]}
    if test == "knha":
        columns["df"] = [f"{df:g}"] * len(estimate)
    columns.update({"pval": [p_text(v) for v in pval], "ci.lb": [fixed(v) for v in ci_low],
                    "ci.ub": [fixed(v) for v in ci_high], "": [stars(v) for v in pval]})
    return columns


def _heterogeneity_lines(result: Any, residual: bool, r2: float | None) -> list[str]:
    which = "residual" if residual else "total"
    lines = []
    if result.method != "FE":
        tau2 = fixed(result.tau2)
        if math.isfinite(result.tau2_se):
            tau2 += f" (SE = {fixed(result.tau2_se)})"
        lines += [(f"tau^2 (estimated amount of {which} heterogeneity)", tau2),
                  ("tau (square root of estimated tau^2 value)", fixed(math.sqrt(result.tau2)))]
    if residual:
        lines += [("I^2 (residual heterogeneity / unaccounted variability)",
                   f"{fixed(result.i2, 2)}%"),
                  ("H^2 (unaccounted variability / sampling variability)", fixed(result.h2, 2))]
    else:
        lines += [("I^2 (total heterogeneity / total variability)", f"{fixed(result.i2, 2)}%"),
                  ("H^2 (total variability / sampling variability)", fixed(result.h2, 2))]
    if r2 is not None:
        lines.append(("R^2 (amount of heterogeneity accounted for)", f"{fixed(r2, 2)}%"))
    return _labelled(lines)


def pool_summary(result: Any) -> str:
    """The text of ``print(rma(yi, vi, method, test))`` for a `PoolResult`."""
    if result.method == "FE":
        head = f"Fixed-Effects Model (k = {result.k})"
    else:
        head = f"Random-Effects Model (k = {result.k}; tau^2 estimator: {result.method})"
    lines = ["", head, ""]
    if result.k > 1:
        lines += _heterogeneity_lines(result, residual=False, r2=None)
        lines += ["", "Test for Heterogeneity:",
                  f"Q(df = {result.q_df}) = {fixed(result.q)}, {p_clause(result.q_pval)}", ""]
    columns = _coefficients([result.estimate], [result.se], [result.statistic], [result.pval],
                            [result.ci_low], [result.ci_high], result.test, result.df)
    lines += ["Model Results:", ""] + coefficient_table([""], columns) + ["", "---", LEGEND]
    if result.note:
        lines += ["", f"Note: {result.note}"]
    return "\n".join(lines) + "\n"


def _coefficient_range(p: int) -> str:
    return "coefficient 2" if p == 2 else f"coefficients 2:{p}"


def meta_regression_summary(result: Any) -> str:
    """The text of ``print(rma(yi, vi, mods, method, test))`` for a `MetaRegressionResult`."""
    if result.method == "FE":
        head = f"Fixed-Effects with Moderators Model (k = {result.k})"
    else:
        head = f"Mixed-Effects Model (k = {result.k}; tau^2 estimator: {result.method})"
    lines = ["", head, ""]
    lines += _heterogeneity_lines(result, residual=True, r2=result.r2)
    lines += ["", "Test for Residual Heterogeneity:",
              f"QE(df = {result.q_df}) = {fixed(result.q)}, {p_clause(result.q_pval)}", "",
              f"Test of Moderators ({_coefficient_range(result.p)}):"]
    if result.test == "knha":
        lines.append(f"F(df1 = {result.qm_df}, df2 = {result.qm_df2:g}) = {fixed(result.qm)}, "
                     f"{p_clause(result.qm_pval)}")
    else:
        lines.append(f"QM(df = {result.qm_df}) = {fixed(result.qm)}, "
                     f"{p_clause(result.qm_pval)}")
    columns = _coefficients(result.estimate, result.se, result.statistic, result.pval,
                            result.ci_low, result.ci_high, result.test, result.k - result.p)
    lines += ["", "Model Results:", ""] + coefficient_table(list(result.terms), columns)
    lines += ["", "---", LEGEND]
    return "\n".join(lines) + "\n"
