"""Generators of the committed test models (tests/data) and of the benchmark zoo (.zoo), and their helpers."""
