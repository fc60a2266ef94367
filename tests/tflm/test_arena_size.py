"""tflm_arena_size: the arena_size to give MicroInterpreter, measured or estimated."""

import dataclasses
import importlib.util

import pytest

import tflite_serenity
from tflite_serenity.tflm import arena_size as size_module
from tflite_serenity.tflm.arena_size import estimate_tflm_arena, tflm_arena_size
from tests.models import DATA, load

needs_tflm = pytest.mark.skipif(importlib.util.find_spec("tflite_micro") is None,
                                reason="tflite-micro is not installed")


@needs_tflm
def test_measured_size_is_the_need_plus_the_margin_rounded_to_16():
    size = tflite_serenity.tflm_arena_size(DATA / "transformer_tiny_int8.tflite")
    assert size.measured and size.invoked
    assert (size.needed, size.lower_bound) == (15088, 10336)
    assert size.arena_size == 15104 and size.arena_size % 16 == 0


@needs_tflm
@pytest.mark.parametrize("name", ["while_float.tflite", "darts_tiny_int8.tflite", "irregular_int8.tflite"])
def test_estimate_is_not_below_the_measured_need(name):
    model = load(name)
    measured, estimated = tflm_arena_size(model), estimate_tflm_arena(model)
    assert not estimated.measured
    assert estimated.head == measured.head  # the planner simulation is exact
    assert measured.needed <= estimated.needed <= 2 * measured.needed


def test_without_tflite_micro_the_size_is_estimated_and_says_so(monkeypatch):
    monkeypatch.setattr(size_module.importlib.util, "find_spec", lambda name, *a: None)
    size = tflm_arena_size(load("small_cnn_int8.tflite"))
    assert (size.measured, size.how, size.tflm_version) == (False, "estimated", None)
    assert size.arena_size >= size.needed >= size.lower_bound == size.head + size.tail


def test_a_negative_margin_is_refused():
    with pytest.raises(tflite_serenity.SerenityError, match="margin"):
        tflm_arena_size(load("small_cnn_int8.tflite"), margin=-1, measure=False)


@needs_tflm
def test_a_model_tflite_micro_cannot_allocate_raises_unsupported():
    with pytest.raises(tflite_serenity.UnsupportedModelError, match="cannot allocate") as raised:
        tflm_arena_size(load("custom_op_float.tflite"))
    assert "=" not in str(raised.value) and "measure" not in str(raised.value)  # no Python parameter named


@needs_tflm
@pytest.mark.parametrize("name, reason", [
    ("custom_op_float.tflite", "op code CUSTOM (custom operator in the model: BesselI1e)"),
    ("weight_only_float16.tflite", "DEQUANTIZE (operator 0) failed to prepare: input->type == kTfLiteInt8"),
    ("weight_only_hybrid.tflite", "CONV_2D (operator 0) failed to prepare: Hybrid models are not supported"),
])
def test_with_fallback_a_model_tflite_micro_cannot_load_gets_the_estimate_and_the_reason(name, reason):
    size = tflm_arena_size(load(name), fallback=True)
    assert size == dataclasses.replace(estimate_tflm_arena(load(name)), tflm_error=size.tflm_error)
    assert reason in size.tflm_error and "\n" not in size.tflm_error
    assert ".cc" not in size.tflm_error  # TFLite Micro's source locations are left out
