"""Hypothesis profiles for the property tests.

- "ci": derandomize=True, so every run draws the same examples (derived from each test's
  name) and a test cannot pass on one run and fail on the next; no example database, so nothing
  found by an earlier run is replayed. `make test` and `.ci/run` select it with
  `--hypothesis-profile=ci`; it is also the profile when none is chosen.
- "random": fresh random examples on every run, no database. Run with
  `--hypothesis-profile=random` (and `--hypothesis-seed=N` to repeat a run) to look for new
  counterexamples; the README's section on tests shows the command.

Both print the reproduction blob of a failing example, so a failure found with "random" can be
replayed exactly (`@reproduce_failure`).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("random", derandomize=False, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
