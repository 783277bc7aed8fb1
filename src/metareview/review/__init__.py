"""A review folder: sheets, their schema and validation, checksums, definitions, parameters,
codebook, the derivation of analysable effects and the consistency audit."""
