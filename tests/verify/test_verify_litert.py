"""Tests of tflite_serenity.verify.litert."""

import sys

import numpy as np
import pytest

from tflite_serenity.errors import RuntimeUnavailableError, VerificationError
from tflite_serenity.verify import random_inputs, run_litert
from tests.verify.verify_models import data_model, with_input_signature, with_unknown_custom_op

pytest.importorskip("ai_edge_litert.interpreter")


def test_run_litert_gives_one_array_per_output(committed_model):
    from ai_edge_litert.interpreter import Interpreter

    expected = Interpreter(model_content=committed_model).get_output_details()
    outputs = run_litert(committed_model, random_inputs(committed_model))
    assert [(y.dtype, y.shape) for y in outputs] == [
        (np.dtype(d["dtype"]), tuple(d["shape"])) for d in expected
    ]


def test_run_litert_repeats_bit_for_bit(committed_model):
    inputs = random_inputs(committed_model)
    first, second = run_litert(committed_model, inputs), run_litert(committed_model, inputs)
    assert [y.tobytes() for y in first] == [y.tobytes() for y in second]


def test_run_litert_resizes_a_dynamic_input(sine_model):
    model = with_input_signature(sine_model, [-1, 1])
    (y,) = run_litert(model, [np.zeros((3, 1), np.float32)])
    assert y.shape == (3, 1)


def test_run_litert_reports_an_unloadable_model_as_verification_error():
    with pytest.raises(VerificationError, match="LiteRT cannot load"):
        run_litert(b"\0" * 64, [])


def test_run_litert_reports_an_unknown_op_with_the_interpreter_message(sine_model):
    with pytest.raises(VerificationError, match="SerenityNoSuchOp"):
        run_litert(with_unknown_custom_op(sine_model), random_inputs(sine_model))


def test_run_litert_reports_a_wrong_input_dtype_as_verification_error(sine_model):
    with pytest.raises(VerificationError, match="LiteRT failed to run"):
        run_litert(sine_model, [np.zeros((1, 1), np.int32)])


def test_run_litert_rejects_a_wrong_number_of_inputs(sine_model):
    with pytest.raises(ValueError, match="1 inputs, 2 were given"):
        run_litert(sine_model, [np.zeros((1, 1), np.float32)] * 2)


def test_run_litert_without_litert_raises_runtime_unavailable(sine_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(RuntimeUnavailableError):
        run_litert(sine_model, random_inputs(sine_model))


def test_run_litert_runs_a_model_with_a_dynamic_batch():
    model = data_model("dynamic_float.tflite")
    outputs = run_litert(model, random_inputs(model))
    assert outputs and outputs[0].shape[0] == 1


def test_run_litert_reports_an_unregistered_custom_op_by_name():
    with pytest.raises(VerificationError, match="unresolved custom op: BesselI1e"):
        run_litert(data_model("custom_op_float.tflite"), [np.zeros((1, 8), np.float32)])
