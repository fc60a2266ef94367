"""Tests of tflite_serenity.tflm.interpreter (TFLite Micro in a child process)."""

import importlib.util

import numpy as np
import pytest

from tflite_serenity.errors import ModelFormatError, RuntimeUnavailableError
from tflite_serenity.tflm import interpreter as tflm
from tflite_serenity.verify import measure_tflm_arena, random_inputs, run_tflm
from tests.verify.verify_models import (
    data_model,
    with_tiny_softmax_input_scale,
    with_unknown_custom_op,
)

pytest.importorskip("tflite_micro")


def test_measure_tflm_arena_reports_positive_head_and_total_at_least_head(committed_model):
    run = measure_tflm_arena(committed_model)
    assert run.error is None
    assert run.head_bytes > 0 and run.total_bytes >= run.head_bytes


def test_measure_tflm_arena_total_is_head_plus_tail(committed_model):
    run = measure_tflm_arena(committed_model)
    assert run.total_bytes == run.head_bytes + run.tail_bytes


def test_measure_tflm_arena_does_not_invoke(sine_model):
    assert measure_tflm_arena(sine_model).outputs is None


def test_run_tflm_gives_outputs_and_the_same_sizes_as_measuring(committed_model):
    run = run_tflm(committed_model, random_inputs(committed_model))
    measured = measure_tflm_arena(committed_model)
    assert run.outputs and all(isinstance(y, np.ndarray) for y in run.outputs)
    assert (run.head_bytes, run.tail_bytes) == (measured.head_bytes, measured.tail_bytes)


def test_run_tflm_repeats_bit_for_bit(sine_model):
    inputs = random_inputs(sine_model, seed=3)
    first, second = run_tflm(sine_model, inputs), run_tflm(sine_model, inputs)
    assert [y.tobytes() for y in first.outputs] == [y.tobytes() for y in second.outputs]


def test_run_tflm_defaults_to_random_inputs_of_seed_zero(sine_model):
    implicit = run_tflm(sine_model)
    explicit = run_tflm(sine_model, random_inputs(sine_model, seed=0))
    assert implicit.outputs[0].tobytes() == explicit.outputs[0].tobytes()


def test_run_tflm_reports_a_too_small_arena_as_error(sine_model):
    run = run_tflm(sine_model, arena_size=1000)
    assert run.outputs is None
    assert "failed to allocate" in run.error.lower()
    assert run.arena_size == 1000


def test_run_tflm_reports_a_crashed_child_with_its_signal(sine_model):
    # So small an arena that TFLite Micro cannot even build its allocator:
    # the child dies from a signal, and the caller only gets an error.
    run = run_tflm(sine_model, arena_size=64)
    assert run.outputs is None and run.total_bytes is None
    assert "signal" in run.error


def test_run_tflm_reports_an_unknown_op_as_error(sine_model):
    run = run_tflm(with_unknown_custom_op(sine_model))
    assert run.outputs is None
    assert "op code CUSTOM" in run.error


def test_run_tflm_reports_a_timeout_as_error(sine_model):
    run = run_tflm(sine_model, timeout=0.01)
    assert "timed out" in run.error


def test_run_tflm_grows_the_default_arena_until_allocation_succeeds(sine_model, monkeypatch):
    monkeypatch.setattr(tflm, "DEFAULT_ARENA_SIZES", (1000, 64 * 1024))
    run = run_tflm(sine_model)
    assert run.error is None and run.arena_size == 64 * 1024


def test_run_tflm_rejects_bytes_that_are_not_tflite():
    with pytest.raises(ModelFormatError):
        run_tflm(b"garbage" * 10, [])


def test_run_tflm_rejects_a_wrong_number_of_inputs(sine_model):
    with pytest.raises(ValueError, match="1 inputs, 0 were given"):
        run_tflm(sine_model, [])


def test_run_tflm_without_tflite_micro_raises_runtime_unavailable(sine_model, monkeypatch):
    real = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "tflite_micro" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(RuntimeUnavailableError):
        run_tflm(sine_model)


def test_run_tflm_reports_an_abort_in_a_kernel_as_sigabrt():
    candidate = with_tiny_softmax_input_scale(data_model("small_cnn_int8.tflite"))
    if candidate is None:
        pytest.skip("small_cnn_int8.tflite has no SOFTMAX to make abort")
    run = run_tflm(candidate)
    assert run.outputs is None
    assert run.error.startswith("TFLite Micro aborted (signal 6")


def test_run_tflm_reports_a_child_that_exits_with_an_error_status(sine_model, tmp_path, monkeypatch):
    child = tmp_path / "failing_child.py"
    child.write_text("raise SystemExit(3)\n")
    monkeypatch.setattr(tflm, "_CHILD", child)
    assert run_tflm(sine_model).error == "TFLite Micro child exited with status 3"


def test_run_tflm_reports_a_child_that_leaves_no_result(sine_model, tmp_path, monkeypatch):
    child = tmp_path / "silent_child.py"
    child.write_text("")
    monkeypatch.setattr(tflm, "_CHILD", child)
    assert run_tflm(sine_model).error == "TFLite Micro child ended without a result"


def test_run_tflm_reports_an_unregistered_custom_op_as_error():
    run = run_tflm(data_model("custom_op_float.tflite"))
    assert run.outputs is None and "op code CUSTOM" in run.error
