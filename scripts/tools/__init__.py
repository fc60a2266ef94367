"""Tools that keep the docs and the package's measured constants in step with the code."""
