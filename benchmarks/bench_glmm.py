"""Speed of pool_glmm against metafor's rma.glmm(measure="PLO"), on the same data in the same run.

Run by hand from the repository root (needs R with metafor and lme4 for the comparison):

    .venv/bin/python benchmarks/bench_glmm.py [--repeats 50] [--r-repeats 20]

Data: dat.pritz1997 (k = 14, two n/n studies) and a simulated set of k = 50 proportions
(n from 10 to 200, logit mean −2.5, tau = 0.8; several 0/n studies), each with nAGQ = 7
(metafor's default) and nAGQ = 1 (Laplace). Both sides read the same CSV file.

Python: `pool_glmm` timed over `--repeats` calls (full result: fit, SE, heterogeneity tests,
I², prediction interval). R: rma.glmm timed with system.time() inside R over `--r-repeats`
calls (R start-up excluded), once with metafor's default control and once with the tight
control of the test fixtures (bobyqa, rhoend = 1e-12, tolPwrss = 1e-12). Estimates and tau²
of all three are printed, so that the timings can be read against the agreement.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from metareview import pool_glmm

PRITZ = pd.DataFrame({
    "xi": [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6],
    "ni": [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10],
})

R_SCRIPT = r"""
suppressPackageStartupMessages({library(metafor); library(lme4)})
args <- commandArgs(trailingOnly = TRUE)
dat <- read.csv(args[1])
nagq <- as.integer(args[2])
repeats <- as.integer(args[3])
tight <- list(glmerCtrl = list(optimizer = "bobyqa", tolPwrss = 1e-12,
                               optCtrl = list(rhoend = 1e-12, maxfun = 100000)))
fit_default <- function() rma.glmm(measure = "PLO", xi = xi, ni = ni, data = dat, nAGQ = nagq)
fit_tight <- function() rma.glmm(measure = "PLO", xi = xi, ni = ni, data = dat, nAGQ = nagq,
                                 control = tight)
res <- fit_default()
res_tight <- fit_tight()
t_default <- system.time(for (i in seq_len(repeats)) fit_default())[["elapsed"]] / repeats
t_tight <- system.time(for (i in seq_len(repeats)) fit_tight())[["elapsed"]] / repeats
cat(sprintf("seconds_default %.10g\n", t_default))
cat(sprintf("seconds_tight %.10g\n", t_tight))
cat(sprintf("estimate_default %.17g\n", c(res$beta)))
cat(sprintf("tau2_default %.17g\n", res$tau2))
cat(sprintf("estimate_tight %.17g\n", c(res_tight$beta)))
cat(sprintf("tau2_tight %.17g\n", res_tight$tau2))
cat(sprintf("r_version %s\n", gsub(" ", "_", R.version.string)))
cat(sprintf("metafor %s\n", packageVersion("metafor")))
cat(sprintf("lme4 %s\n", packageVersion("lme4")))
"""


def simulated(seed: int = 2027, k: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = rng.integers(10, 201, size=k)
    p = 1.0 / (1.0 + np.exp(-rng.normal(-2.5, 0.8, size=k)))
    return pd.DataFrame({"xi": rng.binomial(n, p), "ni": n})


def per_call_seconds(func, repeats: int) -> float:
    func()  # warm-up (imports, caches)
    start = time.perf_counter()
    for _ in range(repeats):
        func()
    return (time.perf_counter() - start) / repeats


def run_metafor(data: pd.DataFrame, nagq: int, repeats: int) -> tuple[dict, float]:
    with tempfile.TemporaryDirectory() as folder:
        data_path = Path(folder) / "data.csv"
        script_path = Path(folder) / "bench.R"
        data.to_csv(data_path, index=False)
        script_path.write_text(R_SCRIPT)
        start = time.perf_counter()
        output = subprocess.run(
            ["Rscript", str(script_path), str(data_path), str(nagq), str(repeats)],
            check=True, capture_output=True, text=True).stdout
        wall = time.perf_counter() - start
    values = dict(line.split(maxsplit=1) for line in output.strip().splitlines())
    return values, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="pool_glmm calls per case")
    parser.add_argument("--r-repeats", type=int, default=20, help="rma.glmm calls per case")
    options = parser.parse_args()

    datasets = {"dat.pritz1997 (k = 14)": PRITZ, "simulated (k = 50)": simulated()}
    versions_printed = False
    for label, data in datasets.items():
        zeros = int(np.sum((data["xi"] == 0) | (data["xi"] == data["ni"])))
        for nagq in (7, 1):
            ours = pool_glmm(data["xi"], data["ni"], nagq=nagq)
            seconds = per_call_seconds(lambda: pool_glmm(data["xi"], data["ni"], nagq=nagq),
                                       options.repeats)
            r, wall = run_metafor(data, nagq, options.r_repeats)
            if not versions_printed:
                print(f"{r['r_version'].replace('_', ' ')}, metafor {r['metafor']}, "
                      f"lme4 {r['lme4']}")
                versions_printed = True
            print(f"{label}, {zeros} studies with 0 or n events, nAGQ = {nagq}")
            print(f"  metareview pool_glmm      : {seconds * 1e3:8.2f} ms per fit "
                  f"({options.repeats} repeats)   estimate {ours.estimate:.10f}   "
                  f"tau² {ours.tau2:.10f}")
            print(f"  metafor rma.glmm default  : {float(r['seconds_default']) * 1e3:8.2f} ms "
                  f"per fit ({options.r_repeats} repeats)   estimate "
                  f"{float(r['estimate_default']):.10f}   tau² {float(r['tau2_default']):.10f}")
            print(f"  metafor rma.glmm tight    : {float(r['seconds_tight']) * 1e3:8.2f} ms "
                  f"per fit ({options.r_repeats} repeats)   estimate "
                  f"{float(r['estimate_tight']):.10f}   tau² {float(r['tau2_tight']):.10f}")
            print(f"  speed-up (R default time inside R / ours): "
                  f"{float(r['seconds_default']) / seconds:.1f}x; "
                  f"Rscript wall time incl. start-up: {wall:.1f} s")


if __name__ == "__main__":
    main()
