"""smallest_tflm_arena: the arena TFLite Micro really needs, found by bisection."""

import pytest

from tflite_serenity.verify import run_tflm, smallest_tflm_arena
from tests.models import load

pytest.importorskip("tflite_micro")


def test_the_smallest_arena_runs_the_model_and_one_byte_less_does_not():
    model = load("transformer_tiny_int8.tflite")
    found = smallest_tflm_arena(model)
    assert found.error is None and found.invoked
    assert found.smallest > found.total_bytes  # prepare-time temporaries exceed the small head
    assert run_tflm(model, arena_size=found.smallest).outputs is not None
    assert run_tflm(model, arena_size=found.smallest - 1).error is not None


def test_a_kernel_crashing_on_a_small_arena_costs_a_probe_not_the_search():
    # TFLite Micro's LSTM kernel dereferences a failed temporary allocation
    # (a segfault) on some arenas just too small for it.
    found = smallest_tflm_arena(load("stateful_lstm_float.tflite"))
    assert found.error is None and found.invoked
    assert found.smallest >= found.total_bytes


def test_a_model_tflite_micro_cannot_load_gives_an_error_not_a_size():
    found = smallest_tflm_arena(load("custom_op_float.tflite"))
    assert found.smallest is None
    assert "registration" in found.error
