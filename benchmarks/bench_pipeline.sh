#!/usr/bin/env bash
# Wall time of the pipeline, run by hand from the repository root with the environment ready
# (`make setup` done):
#
#   bash benchmarks/bench_pipeline.sh            # every review
#   REVIEWS="acne-scars" bash benchmarks/bench_pipeline.sh
#
# 1. `make reproduce`: delete outputs, run every notebook of every review through the runner
#    (one process per review, reviews in parallel), check.
# 2. The same notebooks with the command lines, one by one: `papermill` then
#    `jupyter nbconvert --to html --no-input` per notebook and review.
# 3. A no-op `make reports`, and how many files it rewrote (should be 0).
#
# Deletes data/processed/* and reports/* (like `make reproduce`); writes the command-line
# baseline's notebooks and HTML to a temporary folder.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv
reviews="${REVIEWS:-$($VENV/bin/python -m metareview.pipeline reviews)}"
notebooks="$($VENV/bin/python -m metareview.pipeline notebooks)"
kernel="$($VENV/bin/python -c 'from metareview import pipeline; print(pipeline.project_kernel())')"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

seconds() { python3 -c 'import sys, time; print(f"{time.time() - float(sys.argv[1]):.1f}")' "$1"; }
# CPU seconds (user + system) used by finished child processes of this script so far: on a
# shared machine, wall time depends on the neighbours, CPU time much less.
cpu_now() {  # cpu_now VAR: VAR = CPU seconds of finished children (`times`, second line)
  times > "$scratch/times"
  printf -v "$1" '%s' "$(tail -1 "$scratch/times" | python3 -c 'import re, sys
pairs = re.findall(r"(\d+)m([\d.]+)s", sys.stdin.read())
print(round(sum(float(a) * 60 + float(b) for a, b in pairs), 1))')"
}

echo "reviews: $(echo $reviews) | notebooks: $(echo $notebooks | wc -w) | kernel: $kernel"

# 1. the runner, through make
cpu_now cpu0
start=$(date +%s.%N)
if [ -n "${REVIEWS:-}" ]; then
  # only the chosen reviews: clean them and run them the way `make reproduce` does
  for r in $reviews; do rm -rf "data/processed/$r" "reports/$r"; done
  make --no-print-directory -j2 $(for r in $reviews; do for n in $notebooks; do
    echo "reports/$r/$n.html"; done; done) reports/index.html >/dev/null
  for r in $reviews; do $VENV/bin/python -m metareview.record check --review "$r" >/dev/null; done
else
  make --no-print-directory reproduce >/dev/null
fi
runner=$(seconds "$start")
cpu_now cpu1
echo "make reproduce (runner):                    ${runner} s wall, $(python3 -c "print(round($cpu1 - $cpu0, 1))") s CPU"

# 2. command lines, one notebook at a time
for r in $reviews; do rm -rf "data/processed/$r"; done
start=$(date +%s.%N)
for r in $reviews; do
  mkdir -p "$scratch/$r"
  for n in $notebooks; do
    $VENV/bin/papermill "notebooks/$n.ipynb" "$scratch/$r/$n.ipynb" -f "params/$r.yaml" \
      -k "$kernel" --cwd . --no-progress-bar >/dev/null 2>&1
    $VENV/bin/jupyter nbconvert --to html --no-input "$scratch/$r/$n.ipynb" \
      --output-dir "$scratch/$r" >/dev/null 2>&1
  done
done
cli=$(seconds "$start")
cpu_now cpu2
echo "papermill + jupyter nbconvert, one by one:  ${cli} s wall, $(python3 -c "print(round($cpu2 - $cpu1, 1))") s CPU"
python3 -c "import sys; print(f'speed-up: {float(sys.argv[1]) / float(sys.argv[2]):.1f}x')" \
  "$cli" "$runner"

# 3. nothing changed: make must do nothing, quickly
marker="$scratch/marker"
touch "$marker"
start=$(date +%s.%N)
make --no-print-directory reports >/dev/null
noop=$(seconds "$start")
rewritten=$(find data/processed reports results -newer "$marker" -type f | wc -l)
echo "no-op make reports:                         ${noop} s, files rewritten: ${rewritten}"
