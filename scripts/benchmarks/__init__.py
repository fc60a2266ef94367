"""Benchmarks: what each stage and the whole command do on the zoo and generated inputs (docs/benchmarks.md)."""
