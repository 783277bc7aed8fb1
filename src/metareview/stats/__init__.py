"""The statistics engine: numbers that equal metafor's. numpy, SciPy and pandas only; no files."""
