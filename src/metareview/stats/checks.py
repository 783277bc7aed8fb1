"""Input checks shared by the engine's functions: one message format for a bad study."""

from __future__ import annotations

import numpy as np


def reject_studies(condition, message: str) -> None:
    """Raise ValueError naming the first study (0-based index) where `condition` is true.

    The message reads "study index 2: sd1 must be > 0", so a user finds the study in their
    arrays at once.
    """
    bad = np.flatnonzero(np.atleast_1d(condition))
    if bad.size:
        raise ValueError(f"study index {bad[0]}: {message}")
