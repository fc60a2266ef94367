"""The approximate rewrites over many random PNASNet-like cell networks.

Property: on every network of tests/data/cells (random genotypes, float32 and
full int8, made by scripts/models/make_cell_models.py), ``optimize`` with the
approximate rewrites raises nothing, writes only valid stored orders, and the
outputs stay within the error docs/rewriting.md states for them in LiteRT:

* float32: 1e-5 of the output's range (measured here: at most 1.4e-6);
* int8, end to end: the error grows with every channel-wise split downstream
  (docs/rewriting.md: up to 67 steps with 6 sites split on swiftnet_int8),
  so at most ``INT8_STEPS_PER_SITE`` quantization steps per split site
  (measured here: 3 to 7 steps with one site). Without a channel-wise split
  every rewrite is exact, so outputs are bit-identical.
"""

from __future__ import annotations

import pytest

from tflite_serenity import optimize
from tflite_serenity.model.validate import check_stored_orders
from tflite_serenity.verify import compare_models
from tests.models import DATA

CELLS = DATA / "cells"
FLOAT_TOLERANCE = 1e-5
INT8_STEPS_PER_SITE = 12
#: Seconds per model: enough for the concat search and a few strip candidates,
#: and keeps the 24 models under a minute.
TIME_LIMIT = 1.5


def cell_models() -> list[str]:
    return sorted(p.name for p in CELLS.glob("pnas_[0-9]*.tflite"))


def _optimized_and_compared(name: str, time_limit: float = 30.0):
    data = (CELLS / name).read_bytes()
    result = optimize(data, rewrite_approximate=True, rewrite_approximate_int8=True, time_limit=time_limit)
    check_stored_orders(result.model)
    return result, compare_models(data, result.model, runtime="litert", trials=3)


def test_there_are_many_cell_models():
    assert len(cell_models()) >= 20


@pytest.mark.parametrize("name", cell_models())
def test_approximate_rewrites_of_a_random_cell_network_stay_valid_and_close(name):
    result, comparison = _optimized_and_compared(name, TIME_LIMIT)
    (sub,) = result.subgraphs
    assert comparison.error is None, comparison.describe()
    splits = sum(not site.exact for site in sub.rewrites)
    if "_float" in name:
        assert comparison.max_rel_diff < FLOAT_TOLERANCE, comparison.describe()
    elif splits:
        assert comparison.max_abs_diff <= INT8_STEPS_PER_SITE * splits, comparison.describe()
    else:
        assert comparison.bit_identical, comparison.describe()


def test_second_strip_run_keeps_the_first_runs_strips_in_sequence():
    # issue 17 point 8: after a first run in strips, a part of the next run
    # stored in one piece moved a strip ahead of the one before it, and the
    # command stopped with "operator 20 would run before operator 78".
    result, comparison = _optimized_and_compared("pnas_strips_float.tflite")
    (sub,) = result.subgraphs
    assert sub.strips and sub.peak_after < sub.peak_scheduled
    assert comparison.error is None and comparison.max_rel_diff < FLOAT_TOLERANCE, comparison.describe()
