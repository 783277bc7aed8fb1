"""Speed of the model engine against metafor, on the same data in the same run.

Run by hand from the repository root (needs R with metafor for the comparison):

    .venv/bin/python benchmarks/bench_models.py [--perm 2000] [--fits 2000] [--repeats 15]
    .venv/bin/python benchmarks/bench_models.py --no-r      # the package only

To compare two versions of the engine, run the same script with PYTHONPATH pointing at the
other version's src/ folder (the script prints which one it imported).

1. One REML fit at k = 20: `fit_model` (estimate, SE, tau²) and the full `pool` result (adds
   Q, I², H², the Q-profile interval and the prediction interval), timed over many repeats;
   metafor's rma(method="REML") timed the same way inside R.
2. Permutation test of a three-level categorical moderator (REML, k = 18, 6 studies per level)
   with 2000 permutations, timed `--repeats` times (minimum and median reported: the minimum
   is the least disturbed by other work on the machine): `permutation_test` against metafor's
   permutest(rma(yi, vi, mods=~factor(g), method="REML"), iter=2000) at metafor's default
   control (the QM of a tightly converged fit is printed as well). R is timed with
   system.time() inside R (R start-up excluded); wall time of the whole Rscript call is shown
   too. Both QM values and p values are printed; the p values are Monte Carlo estimates and
   should differ by no more than a few binomial standard errors.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import metareview
from metareview import permutation_test, pool
from metareview.stats.pooling import fit_model

R_SCRIPT = r"""
suppressPackageStartupMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
fit_data <- read.csv(args[1])
perm_data <- read.csv(args[2])
n_fits <- as.integer(args[3])
n_perm <- as.integer(args[4])
fit_time <- system.time(for (i in seq_len(n_fits)) rma(yi, vi, data = fit_data, method = "REML"))
res <- rma(yi, vi, mods = ~ factor(g), data = perm_data, method = "REML")
set.seed(1)
perm_time <- system.time(perm <- permutest(res, iter = n_perm, progbar = FALSE))
cat(sprintf("fit_seconds_per_fit %.10g\n", fit_time[["elapsed"]] / n_fits))
cat(sprintf("perm_seconds %.10g\n", perm_time[["elapsed"]]))
tight <- rma(yi, vi, mods = ~ factor(g), data = perm_data, method = "REML",
             control = list(threshold = 1e-12, tol = 1e-12, maxiter = 10000))
cat(sprintf("qm %.17g\n", res$QM))
cat(sprintf("qm_tight %.17g\n", tight$QM))
cat(sprintf("perm_p %.17g\n", perm$QMp))
"""


def make_data(seed: int = 2027) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    k = 20
    vi = rng.uniform(0.02, 0.2, k)
    yi = rng.normal(0.3, math.sqrt(0.05), k) + rng.normal(0, np.sqrt(vi))
    fit_data = pd.DataFrame({"yi": yi, "vi": vi})
    groups = np.repeat(["a", "b", "c"], 6)
    vi_g = rng.uniform(0.02, 0.2, 18)
    effect = {"a": 0.0, "b": 0.15, "c": 0.3}
    yi_g = (np.array([effect[g] for g in groups]) + rng.normal(0, math.sqrt(0.04), 18)
            + rng.normal(0, np.sqrt(vi_g)))
    perm_data = pd.DataFrame({"yi": yi_g, "vi": vi_g, "g": groups})
    return fit_data, perm_data


def per_call_seconds(func, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        func()
    return (time.perf_counter() - start) / repeats


def run_metafor(fit_data, perm_data, n_fits: int, n_perm: int) -> tuple[dict, float]:
    with tempfile.TemporaryDirectory() as folder:
        fit_path = Path(folder) / "fit.csv"
        perm_path = Path(folder) / "perm.csv"
        script_path = Path(folder) / "bench.R"
        fit_data.to_csv(fit_path, index=False, float_format="%.17g")
        perm_data.to_csv(perm_path, index=False, float_format="%.17g")
        script_path.write_text(R_SCRIPT)
        start = time.perf_counter()
        output = subprocess.run(
            ["Rscript", str(script_path), str(fit_path), str(perm_path), str(n_fits),
             str(n_perm)], check=True, capture_output=True, text=True).stdout
        wall = time.perf_counter() - start
    values = dict(line.split() for line in output.strip().splitlines())
    return {key: float(value) for key, value in values.items()}, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--perm", type=int, default=2000, help="permutations (default 2000)")
    parser.add_argument("--fits", type=int, default=2000, help="repeats of the k = 20 fit")
    parser.add_argument("--r-fits", type=int, default=500, help="repeats of rma() in R")
    parser.add_argument("--repeats", type=int, default=15,
                        help="timed runs of the permutation test (default 15)")
    parser.add_argument("--no-r", action="store_true", help="skip the metafor comparison")
    options = parser.parse_args()
    print(f"metareview imported from {Path(metareview.__file__).parent}")

    fit_data, perm_data = make_data()
    y, v = fit_data["yi"].to_numpy(), fit_data["vi"].to_numpy()
    X = np.ones((len(y), 1))
    fit_seconds = per_call_seconds(lambda: fit_model(y, v, X, "REML"), options.fits)
    pool_seconds = per_call_seconds(lambda: pool(y, v, "REML"), max(1, options.fits // 4))

    moderators = perm_data[["g"]]
    perm_times = []
    for _ in range(options.repeats):
        start = time.perf_counter()
        ours = permutation_test(perm_data["yi"], perm_data["vi"], moderators,
                                n_perm=options.perm, seed=1, method="REML", exact=False)
        perm_times.append(time.perf_counter() - start)
    perm_seconds = min(perm_times)

    print("One REML fit, k = 20")
    print(f"  metareview fit_model : {fit_seconds * 1e6:10.1f} µs per fit ({options.fits} repeats)")
    print(f"  metareview pool      : {pool_seconds * 1e6:10.1f} µs per fit (with Q-profile CI)")
    if not options.no_r:
        r_values, r_wall = run_metafor(fit_data, perm_data, options.r_fits, options.perm)
        print(f"  metafor rma          : {r_values['fit_seconds_per_fit'] * 1e6:10.1f} µs per fit "
              f"({options.r_fits} repeats)")
    print(f"Permutation test, 3-level moderator, REML, k = 18, {options.perm} permutations")
    print(f"  metareview           : {perm_seconds:8.3f} s minimum, "
          f"{statistics.median(perm_times):.3f} s median of {options.repeats} runs   "
          f"QM = {ours.qm:.10f}   p = {ours.pval:.4f}")
    if options.no_r:
        return
    p_se = math.sqrt(ours.pval * (1 - ours.pval) / options.perm)
    print(f"  metafor permutest    : {r_values['perm_seconds']:8.3f} s   "
          f"QM = {r_values['qm']:.10f}   p = {r_values['perm_p']:.4f}")
    print(f"  metafor QM with tight control (threshold=tol=1e-12): {r_values['qm_tight']:.10f} "
          "(the default control stops at a tau² change of 1e-5)")
    print(f"  speed-up (R time inside R / ours): {r_values['perm_seconds'] / perm_seconds:.1f}x")
    print(f"  Rscript wall time incl. start-up and the fit loop: {r_wall:.2f} s")
    print(f"  |p difference| = {abs(ours.pval - r_values['perm_p']):.4f}; "
          f"Monte Carlo SE of one p ≈ {p_se:.4f} (difference SE ≈ {p_se * math.sqrt(2):.4f})")


if __name__ == "__main__":
    main()
