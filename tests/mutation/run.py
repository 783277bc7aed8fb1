"""Mutation testing of the statistics engine: do the tests notice a deliberate bug?

Each mutation below is one plausible bug, written as a text substitution in one source file.
The runner copies `src/`, `tests/` and `pyproject.toml` into a temporary folder, checks that
the relevant tests pass there unmodified, then applies the mutations one at a time to that
copy (never to this working tree), runs the mutation's tests and reports

- killed: at least one test failed, so the tests catch this bug;
- survived: every test passed, so no test would notice it;
- error: the substitution no longer matches the source (the mutation is stale and must be
  rewritten) or pytest could not run.

Run from the repository root:

    .venv/bin/python tests/mutation/run.py            # all mutations
    .venv/bin/python tests/mutation/run.py --list     # names and descriptions only
    .venv/bin/python tests/mutation/run.py --only tau2-fallback-returns-zero egger-slope

The exit code is 0 when every mutation is killed, 1 otherwise. Source files are found by file
name anywhere under `src/metareview/`, so the list survives a move of modules into subpackages.
Tests run with the deterministic hypothesis profile (`--hypothesis-profile=ci`) and stop at the
first failure (`-x`), so a killed mutation costs only the time to its first failing test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MODEL_TESTS = ("tests/test_tau2_solver.py", "tests/test_pooling.py", "tests/test_moderators.py",
               "tests/test_model_edge_cases.py", "tests/test_model_properties.py")
SMALL_STUDY_TESTS = ("tests/test_small_study.py", "tests/test_synthesis.py",
                     "tests/test_plots.py")
BINARY_TESTS = ("tests/test_binary.py", "tests/test_synthesis.py")
SENSITIVITY_TESTS = ("tests/test_sensitivity.py", "tests/test_synthesis.py")
EFFECT_SIZE_TESTS = ("tests/test_effect_sizes.py", "tests/test_paired.py")
REVMAN_TESTS = ("tests/test_revman.py",)


@dataclass(frozen=True)
class Mutation:
    """One deliberate bug: replace `old` by `new` in the source file named `file`."""

    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    why: str


MUTATIONS = (
    # ---- tau² solver (heterogeneity.py: one engine for single and batched fits) -------------
    Mutation("tau2-fallback-returns-zero", "heterogeneity.py",
             "    return float(optimize.brentq(estimating_function, lower, upper,",
             "    return 0.0 * float(optimize.brentq(estimating_function, lower, upper,",
             MODEL_TESTS, "the bracketing solver used when scoring stalls gives tau² = 0"),
    Mutation("tau2-fallback-skipped", "heterogeneity.py",
             '    for b in np.flatnonzero(~solution["converged"]):\n',
             "    for b in []:\n",
             MODEL_TESTS, "an unconverged scoring iterate is returned as the estimate"),
    Mutation("tau2-no-step-halving", "heterogeneity.py",
             "        lam[index] *= np.where(slow_oscillation, 0.5, 1.0)\n",
             "        lam[index] *= 1.0\n",
             MODEL_TESTS, "plain Fisher scoring: no step-halving when the iterates oscillate"),
    Mutation("tau2-boundary-by-halving", "heterogeneity.py",
             "        tau2[index] = np.maximum(0.0, current + lam[index] * full)\n",
             "        step = lam[index] * full\n"
             "        while np.any(current + step < 0.0):\n"
             "            step = np.where(current + step < 0.0, step / 2.0, step)\n"
             "        tau2[index] = current + step\n",
             MODEL_TESTS, "steps towards 0 are halved (metafor's rule), never reaching 0"),
    Mutation("tau2-threshold-metafor-default", "heterogeneity.py",
             "FISHER_THRESHOLD = 2.0**-46\n",
             "FISHER_THRESHOLD = 1e-5\n",
             MODEL_TESTS, "scoring stops at metafor's loose default change of 1e-5"),
    Mutation("tau2-ll0-check-removed", "heterogeneity.py",
             "            tau2[positive[ll_zero - ll_hat > LL0_TOLERANCE]] = 0.0\n",
             "            pass\n",
             MODEL_TESTS, "no check of the (restricted) likelihood at tau² = 0 after scoring"),
    Mutation("tau2-trace-pp-one-column", "heterogeneity.py",
             "(w2 * w * leverage).sum(axis=1) + aw2 * aw2\n",
             "(w2 * w * leverage).sum(axis=1)\n",
             MODEL_TESTS, "tr PP without its last term in the one-column (pooling) path"),
    Mutation("tau2-trace-pp-matrix", "heterogeneity.py",
             "                           + (AW2 * AW2.transpose(0, 2, 1)).sum(axis=(1, 2)))\n",
             "                           + (AW2 * AW2).sum(axis=(1, 2)))\n",
             MODEL_TESTS, "tr((A XᵀW²X)²) taken as a sum of squares in the p > 1 path"),
    Mutation("tau2-se-trace-sign", "heterogeneity.py",
             "    return (np.sum(w**2 * d1 * d2, axis=1) - 2.0 * np.sum(w**3 * leverage * d1 * d2,",
             "    return (np.sum(w**2 * d1 * d2, axis=1) + 2.0 * np.sum(w**3 * leverage * d1 * d2,",
             MODEL_TESTS, "wrong sign in tr(P D P D), used by the SEs of HE and SJ"),
    # ---- meta-regression fields ------------------------------------------------------------
    Mutation("metareg-qm-df2", "moderators.py",
             "        qm_df2=fit.df,\n",
             "        qm_df2=fit.df + 1,\n",
             MODEL_TESTS, "second df of the F test of QM off by one"),
    Mutation("metareg-tau2-se", "moderators.py",
             "        tau2_se=fit.tau2_se,\n",
             "        tau2_se=2 * fit.tau2_se,\n",
             MODEL_TESTS, "SE of tau² doubled in meta-regression results"),
    Mutation("metareg-qe-df", "moderators.py",
             "        q_df=q_df,\n",
             "        q_df=k - 1,\n",
             MODEL_TESTS, "QE df of the intercept-only model (k − 1 instead of k − p)"),
    # ---- small-study tests -----------------------------------------------------------------
    Mutation("egger-slope", "small_study.py",
             "        slope=float(beta[1]),\n",
             "        slope=float(beta[0]),\n",
             SMALL_STUDY_TESTS, "Egger slope reports the intercept"),
    Mutation("egger-slope-se", "small_study.py",
             "        slope_se=float(se[1]),\n",
             "        slope_se=float(se[0]),\n",
             SMALL_STUDY_TESTS, "Egger slope SE reports the intercept's SE"),
    Mutation("egger-predictor-vi-ignored", "small_study.py",
             '    x = np.sqrt(v) if predictor == "sei" else v\n',
             "    x = np.sqrt(v)\n",
             SMALL_STUDY_TESTS, 'predictor="vi" silently regresses on the SE'),
    Mutation("rank-statistic-s-not-t", "small_study.py",
             "        return tau, min(2 * p, 1.0), True, float(concordant)\n",
             "        return tau, min(2 * p, 1.0), True, float(s)\n",
             SMALL_STUDY_TESTS, "exact rank test reports S = C − D instead of cor.test's T = C"),
    Mutation("rank-statistic-z-sign", "small_study.py",
             "    return tau, float(2 * stats.norm.sf(abs(z))), False, z\n",
             "    return tau, float(2 * stats.norm.sf(abs(z))), False, abs(z)\n",
             SMALL_STUDY_TESTS, "tie-corrected rank test reports |z|"),
    Mutation("trimfill-never-fills", "small_study.py",
             "        k0 = int(max(0, round(raw_k0)))\n",
             "        k0 = 0\n",
             SMALL_STUDY_TESTS, "trim-and-fill never adds a study"),
    # ---- binary methods: the level argument --------------------------------------------------
    Mutation("mh-level-ignored", "binary.py",
             '    return _result("MH", measure, estimate, se, level,',
             '    return _result("MH", measure, estimate, se, 0.95,',
             BINARY_TESTS, "Mantel-Haenszel CI is always 95%"),
    Mutation("peto-level-ignored", "binary.py",
             '    return _result("Peto", "OR", estimate, se, level,',
             '    return _result("Peto", "OR", estimate, se, 0.95,',
             BINARY_TESTS, "Peto CI is always 95%"),
    # ---- influence diagnostics -------------------------------------------------------------
    Mutation("influence-hat-cutoff-2-over-k", "sensitivity.py",
             "        | (hat > 3 / k)\n",
             "        | (hat > 2 / k)\n",
             SENSITIVITY_TESTS, "hat values flagged above 2p/k instead of metafor's 3p/k"),
    Mutation("influence-cook-df", "sensitivity.py",
             "        | (stats.chi2.cdf(cook_d, 1) > 0.5)\n",
             "        | (stats.chi2.cdf(cook_d, 2) > 0.5)\n",
             SENSITIVITY_TESTS, "Cook's distance against the chi² median with 2 df instead of p"),
    Mutation("influence-cook-cutoff", "sensitivity.py",
             "        | (stats.chi2.cdf(cook_d, 1) > 0.5)\n",
             "        | (cook_d > 4 / k)\n",
             SENSITIVITY_TESTS, "Cook's distance flagged above 4/k instead of the chi²₁ median"),
    Mutation("influence-dffits-cutoff", "sensitivity.py",
             "        (np.abs(dffits) > 3 * np.sqrt(1 / (k - 1)))\n",
             "        (np.abs(dffits) > 2 * np.sqrt(1 / (k - 1)))\n",
             SENSITIVITY_TESTS, "DFFITS flagged above 2√(p/(k − p)) instead of 3√(p/(k − p))"),
    Mutation("influence-dfbetas-cutoff", "sensitivity.py",
             "        | (np.abs(dfbetas) > 1)\n",
             "        | (np.abs(dfbetas) > 2 / np.sqrt(k))\n",
             SENSITIVITY_TESTS, "DFBETAS flagged above 2/√k instead of 1"),
    Mutation("leave-one-out-level-ignored", "sensitivity.py",
             "        fit = pool(y[keep], v[keep], method=method, test=test, level=level)\n",
             "        fit = pool(y[keep], v[keep], method=method, test=test)\n",
             SENSITIVITY_TESTS, "leave-one-out intervals are always 95%"),
    # ---- synthesis tables built on the engine ------------------------------------------------
    Mutation("synthesis-egger-p-complement", "pooled.py",
             '"statistic": egger.statistic, "pval": egger.pval,',
             '"statistic": egger.statistic, "pval": 1 - egger.pval,',
             SMALL_STUDY_TESTS, "the small-study table reports 1 − p for Egger's test"),
    Mutation("synthesis-k-filled-zero", "pooled.py",
             '"k_filled": tf.k0,',
             '"k_filled": 0,',
             SMALL_STUDY_TESTS, "the small-study table reports no filled studies"),
    # ---- effect sizes ------------------------------------------------------------------------
    Mutation("hedges-j-one-for-large-m", "escalc.py",
             "    return np.exp(gammaln(m / 2) - 0.5 * np.log(m / 2) - gammaln((m - 1) / 2))\n",
             "    exact = np.exp(gammaln(m / 2) - 0.5 * np.log(m / 2) - gammaln((m - 1) / 2))\n"
             "    return np.where(m > 1e5, 1.0, exact)\n",
             EFFECT_SIZE_TESTS, "Hedges' J set to 1 for large samples"),
    Mutation("revman-mh-sums-without-zero-cell-correction", "revman_methods.py",
             "    add = np.where(_zero_cell(a, b, c, d), ZERO_CELL_INCREMENT, 0.0)\n"
             "    a2, b2, c2, d2 = a + add, b + add, c + add, d + add\n    n1, n2 =",
             "    add = 0.0\n    a2, b2, c2, d2 = a + add, b + add, c + add, d + add\n    n1, n2 =",
             REVMAN_TESTS, "raw counts in the Mantel-Haenszel sums (metafor's rma.mh, not RevMan)"),
    Mutation("revman-q-around-iv-mean", "revman_methods.py",
             "    around = fixed[0] if centre is None else centre\n",
             "    around = iv_mean\n",
             REVMAN_TESTS, "Q of a Mantel-Haenszel analysis around the inverse-variance mean"),
    Mutation("revman-smd-variance-of-metafor", "revman_methods.py",
             "yi**2 / (2 * (total - 3.94))", "yi**2 / (2 * total)",
             REVMAN_TESTS, "metafor's SMD variance instead of RevMan's"),
    Mutation("revman-smd-correction-off", "revman_methods.py",
             "(1 - 3 / (4 * total - 9))", "(1 - 3 / (4 * total - 1))",
             REVMAN_TESTS, "a wrong small-sample correction of Hedges' g"),
    Mutation("revman-subgroup-test-ignores-within-q", "revman_methods.py",
             "        chi2 = overall.q - sum(s.q for s in used)\n",
             "        chi2 = overall.q\n",
             REVMAN_TESTS, "the fixed-effect subgroup test without subtracting Q within"),
    Mutation("revman-generic-ratio-not-logged", "revman_read.py",
             "        as_ratio = math.log(shown) if shown > 0 else None",
             "        as_ratio = shown if shown > 0 else None",
             REVMAN_TESTS, "a stored generic inverse-variance ratio pooled without its log"),
)


def _find_source(copy_root: Path, file_name: str) -> Path:
    matches = sorted((copy_root / "src" / "metareview").rglob(file_name))
    if len(matches) != 1:
        raise LookupError(f"{file_name}: found {len(matches)} files of that name under "
                          "src/metareview")
    return matches[0]


def _pytest_command(copy_root: Path, tests: tuple[str, ...]) -> list[str]:
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-rf", "--no-header", "-p",
               "no:cacheprovider", *tests]
    conftest = copy_root / "tests" / "conftest.py"
    if conftest.exists() and '"ci"' in conftest.read_text():
        command.append("--hypothesis-profile=ci")
    else:  # a tree without the deterministic profile: fix the seed instead
        command.append("--hypothesis-seed=0")
    return command


def _run_tests(copy_root: Path, tests: tuple[str, ...]) -> subprocess.CompletedProcess:
    # No example saved by one run may be replayed in the next: start without a database.
    shutil.rmtree(copy_root / ".hypothesis", ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(copy_root / "src"), PYTHONDONTWRITEBYTECODE="1",
               MPLBACKEND="Agg")
    return subprocess.run(_pytest_command(copy_root, tests), cwd=copy_root, env=env,
                          capture_output=True, text=True)


def _copy_tree(source_root: Path, target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")
    shutil.copytree(source_root / "src", target / "src", ignore=ignore)
    shutil.copytree(source_root / "tests", target / "tests", ignore=ignore)
    shutil.copy2(source_root / "pyproject.toml", target / "pyproject.toml")


def _check_import_location(copy_root: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(copy_root / "src"))
    where = subprocess.run([sys.executable, "-c", "import metareview; print(metareview.__file__)"],
                           cwd=copy_root, env=env, capture_output=True, text=True).stdout.strip()
    if not where.startswith(str(copy_root)):
        raise RuntimeError(f"the tests would import metareview from {where}, not from the copy")


def _last_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _summary(output: str) -> str:
    """pytest's last line, and for a failure the test that failed first."""
    failed = [line.split(" ", 1)[1].split(" - ", 1)[0] for line in output.splitlines()
              if line.startswith("FAILED ")]
    last = _last_line(output)
    return f"{last}; first failure: {failed[0]}" if failed else last


def run(mutations, source_root: Path, skip: tuple[str, ...] = ()) -> int:
    if skip:
        mutations = tuple(Mutation(m.name, m.file, m.old, m.new,
                                   tuple(t for t in m.tests if t not in skip), m.why)
                          for m in mutations)
    results = []
    with tempfile.TemporaryDirectory(prefix="metareview-mutation-") as folder:
        copy_root = Path(folder)
        _copy_tree(source_root, copy_root)
        _check_import_location(copy_root)
        baseline_tests = tuple(sorted({test for m in mutations for test in m.tests}))
        baseline = _run_tests(copy_root, baseline_tests)
        if baseline.returncode != 0:
            print("The unmodified tests fail; fix them before mutation testing:")
            print(baseline.stdout[-3000:])
            return 2
        print(f"baseline: {_last_line(baseline.stdout)}  ({len(baseline_tests)} test files)")
        width = max(len(m.name) for m in mutations)
        for mutation in mutations:
            start = time.perf_counter()
            try:
                path = _find_source(copy_root, mutation.file)
            except LookupError as problem:
                results.append((mutation, "error", str(problem)))
                print(f"{mutation.name:<{width}}  ERROR     {problem}")
                continue
            original = path.read_text()
            count = original.count(mutation.old)
            if count != 1:
                detail = f"the text to replace occurs {count} times in {mutation.file}"
                results.append((mutation, "error", detail))
                print(f"{mutation.name:<{width}}  ERROR     {detail}")
                continue
            path.write_text(original.replace(mutation.old, mutation.new))
            try:
                outcome = _run_tests(copy_root, mutation.tests)
            finally:
                path.write_text(original)
            seconds = time.perf_counter() - start
            if outcome.returncode == 1:
                status = "killed"
            elif outcome.returncode == 0:
                status = "survived"
            else:
                status = "error"
            detail = _summary(outcome.stdout)
            results.append((mutation, status, detail))
            print(f"{mutation.name:<{width}}  {status.upper():<8}  {seconds:5.1f} s  {detail}",
                  flush=True)
    killed = sum(status == "killed" for _, status, _ in results)
    survived = [m.name for m, status, _ in results if status == "survived"]
    errors = [m.name for m, status, _ in results if status == "error"]
    print(f"\n{killed} killed, {len(survived)} survived, {len(errors)} errors "
          f"of {len(results)} mutations")
    for name in survived:
        print(f"  survived: {name}")
    for name in errors:
        print(f"  error:    {name}")
    return 0 if killed == len(results) else 1


def _stop(signum, frame):  # noqa: ARG001 - signal handler signature
    raise SystemExit(f"stopped by signal {signum}")  # unwinds, so the copy is deleted


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these mutations")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="repository whose src/ and tests/ are mutated (default: this one)")
    parser.add_argument("--skip-tests", nargs="+", default=(), metavar="PATH",
                        help="test files left out of every run (e.g. property tests of a tree "
                             "without the deterministic hypothesis profile)")
    options = parser.parse_args()
    mutations = MUTATIONS
    if options.only:
        unknown = sorted(set(options.only) - {m.name for m in MUTATIONS})
        if unknown:
            parser.error(f"unknown mutation(s): {', '.join(unknown)}")
        mutations = tuple(m for m in MUTATIONS if m.name in options.only)
    if options.list:
        for m in mutations:
            print(f"{m.name}: {m.why} ({m.file}; tests: {' '.join(m.tests)})")
        return 0
    return run(mutations, options.root.resolve(), tuple(options.skip_tests))


if __name__ == "__main__":
    sys.exit(main())
