"""What a reader sees: result tables, plots, text, GRADE and the notebook helper."""
