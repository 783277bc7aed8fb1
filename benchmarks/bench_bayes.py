"""Speed of pool_bayes against R's bayesmeta 3.4, on the same data in the same run.

Run by hand from the repository root (needs R with bayesmeta 3.4 for the comparison):

    .venv/bin/python benchmarks/bench_bayes.py [--repeats 50] [--r-repeats 3] [--tight]

Data: CrinsEtAl2014 (bayesmeta's example, k = 6 log odds ratios) and a simulated set of
k = 50 log odds ratios (variances 0.02 to 0.5, mu = 0.3, tau = 0.3), each with a
half-normal(0.5) prior of tau and the uniform prior of mu. Both sides read the same CSV file.

Python: the fastest of `--repeats` calls of `pool_bayes` (the full result: every summary of
tau, mu and theta, shortest intervals, shrinkage of every study, grids), and their median.
R: `bayesmeta(y, sigma, tau.prior=...)` timed with system.time() inside R (R start-up
excluded) over `--r-repeats` fits at its default accuracy (delta = 0.01, epsilon = 1e-4) and,
with `--tight`, once at delta = 1e-5, epsilon = 1e-7 (the accuracy of the test fixtures) for
the data sets of at most `TIGHT_MAX_K` studies (at k = 50 the default fit alone takes about
40 s). The posterior medians of tau and mu are printed beside the timings, so that the times
can be read against the agreement.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from metareview import effect_sizes, pool_bayes

PRIOR = "halfnormal(0.5)"
TIGHT_MAX_K = 10
R_PRIOR = "function(t) dhalfnormal(t, scale=0.5)"

R_SCRIPT = r"""
suppressPackageStartupMessages(library(bayesmeta))
args <- commandArgs(trailingOnly = TRUE)
dat <- read.csv(args[1])
repeats <- as.integer(args[2])
tight <- args[3] == "tight"
prior <- eval(parse(text = args[4]))
fit <- function(...) bayesmeta(y = dat$yi, sigma = sqrt(dat$vi), tau.prior = prior, ...)
res <- fit()
seconds <- system.time(for (i in seq_len(repeats)) fit())[["elapsed"]] / repeats
cat(sprintf("seconds_default %.10g\n", seconds))
cat(sprintf("tau_default %.17g\n", res$summary["median", "tau"]))
cat(sprintf("mu_default %.17g\n", res$summary["median", "mu"]))
cat(sprintf("support_default %d\n", nrow(res$support)))
if (tight) {
  seconds <- system.time(res <- fit(delta = 1e-5, epsilon = 1e-7))[["elapsed"]]
  cat(sprintf("seconds_tight %.10g\n", seconds))
  cat(sprintf("tau_tight %.17g\n", res$summary["median", "tau"]))
  cat(sprintf("mu_tight %.17g\n", res$summary["median", "mu"]))
  cat(sprintf("support_tight %d\n", nrow(res$support)))
}
cat(sprintf("r_version %s\n", gsub(" ", "_", R.version.string)))
cat(sprintf("bayesmeta %s\n", packageVersion("bayesmeta")))
"""


def crins() -> pd.DataFrame:
    """CrinsEtAl2014: acute rejection, IL-2RA against control (bayesmeta's data set)."""
    events_t = np.array([14, 16, 3, 9, 4, 0])
    total_t = np.array([61, 28, 18, 54, 36, 50])
    events_c = np.array([15, 19, 8, 29, 11, 3])
    total_c = np.array([20, 28, 12, 54, 36, 34])
    es = effect_sizes("OR", ai=events_t, bi=total_t - events_t, ci=events_c,
                      di=total_c - events_c)
    return es[["yi", "vi"]]


def simulated(seed: int = 2027, k: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.02, 0.5, size=k)
    yi = rng.normal(0.3, 0.3, size=k) + rng.normal(0.0, np.sqrt(vi))
    return pd.DataFrame({"yi": yi, "vi": vi})


def python_seconds(data: pd.DataFrame, repeats: int) -> tuple[float, float]:
    yi, vi = data["yi"].to_numpy(), data["vi"].to_numpy()
    pool_bayes(yi, vi, PRIOR)  # warm-up (imports, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        pool_bayes(yi, vi, PRIOR)
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def run_bayesmeta(data: pd.DataFrame, repeats: int, tight: bool) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        data_path = Path(folder) / "data.csv"
        script_path = Path(folder) / "bench.R"
        data.to_csv(data_path, index=False)
        script_path.write_text(R_SCRIPT)
        output = subprocess.run(
            ["Rscript", str(script_path), str(data_path), str(repeats),
             "tight" if tight else "default", R_PRIOR],
            check=True, capture_output=True, text=True).stdout
    return dict(line.split(maxsplit=1) for line in output.strip().splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="pool_bayes calls per case")
    parser.add_argument("--r-repeats", type=int, default=3, help="bayesmeta fits per case")
    parser.add_argument("--tight", action="store_true",
                        help="also time one bayesmeta fit at delta=1e-5, epsilon=1e-7")
    options = parser.parse_args()

    rows = []
    versions = ""
    for label, data in (("CrinsEtAl2014 (k = 6)", crins()), ("simulated (k = 50)", simulated())):
        best, median = python_seconds(data, options.repeats)
        ours = pool_bayes(data["yi"], data["vi"], PRIOR)
        tight = options.tight and len(data) <= TIGHT_MAX_K
        r = run_bayesmeta(data, options.r_repeats, tight)
        versions = f"{r['r_version'].replace('_', ' ')}, bayesmeta {r['bayesmeta']}"
        row = {
            "data": label, "pool_bayes ms (best)": best * 1e3,
            "pool_bayes ms (median)": median * 1e3,
            "bayesmeta s (default)": float(r["seconds_default"]),
            "speed-up (default / best)": float(r["seconds_default"]) / best,
            "tau median ours": ours.tau_median, "tau median bayesmeta": float(r["tau_default"]),
            "mu median ours": ours.mu_median, "mu median bayesmeta": float(r["mu_default"]),
        }
        if tight:
            row.update({
                "bayesmeta s (tight)": float(r["seconds_tight"]),
                "speed-up (tight / best)": float(r["seconds_tight"]) / best,
                "mu median bayesmeta tight": float(r["mu_tight"]),
            })
        elif options.tight:
            row.update({"bayesmeta s (tight)": float("nan"),
                        "speed-up (tight / best)": float("nan"),
                        "mu median bayesmeta tight": float("nan")})
        rows.append(row)
    print(versions)
    accuracy = "fits at its default accuracy"
    if options.tight:
        accuracy += f", 1 at delta=1e-5, epsilon=1e-7 (k <= {TIGHT_MAX_K})"
    print(f"pool_bayes: {options.repeats} calls per case; bayesmeta: {options.r_repeats} "
          + accuracy)
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.float_format", "{:.6g}".format):
        print(pd.DataFrame(rows).set_index("data").T.to_string())


if __name__ == "__main__":
    main()
