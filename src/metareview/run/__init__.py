"""Running reviews: the pipeline, the committed record and the index page."""
