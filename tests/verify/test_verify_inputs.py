"""Tests of tflite_serenity.model.signature.random_inputs."""

import numpy as np
import pytest

from tflite_serenity.errors import ModelFormatError, UnsupportedModelError
from tflite_serenity.verify import random_inputs
from tests.verify.verify_models import data_model, with_input_signature, with_input_type

STRING = 5
INT16 = 7
INT32 = 2
BOOL = 6


def test_random_inputs_same_seed_gives_same_bytes(committed_model):
    first = random_inputs(committed_model, seed=7)
    second = random_inputs(committed_model, seed=7)
    assert [x.tobytes() for x in first] == [x.tobytes() for x in second]


def test_random_inputs_other_seed_gives_other_values(committed_model):
    first = random_inputs(committed_model, seed=0)
    second = random_inputs(committed_model, seed=1)
    assert first[0].tobytes() != second[0].tobytes()


def test_random_inputs_match_interpreter_input_details(committed_model):
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    details = interpreter_module.Interpreter(model_content=committed_model).get_input_details()
    arrays = random_inputs(committed_model)
    expected = [(np.dtype(d["dtype"]), tuple(d["shape"])) for d in details]
    assert [(x.dtype, x.shape) for x in arrays] == expected


def test_random_inputs_float_is_standard_normal_float32(sine_model):
    (x,) = random_inputs(sine_model)
    assert x.dtype == np.float32 and x.shape == (1, 1)


def test_random_inputs_int8_model_gets_int8_over_full_range():
    (x,) = random_inputs(data_model("small_cnn_int8.tflite"))
    assert x.dtype == np.int8
    assert x.min() < -64 and x.max() > 63


def test_random_inputs_replace_unknown_dimensions_with_one(sine_model):
    (x,) = random_inputs(with_input_signature(sine_model, [-1, 1]))
    assert x.shape == (1, 1)


def test_random_inputs_int16_spans_more_than_int8(sine_model):
    (x,) = random_inputs(with_input_signature(with_input_type(sine_model, INT16), [1, 256]))
    assert x.dtype == np.int16 and (x.min() < -128 or x.max() > 127)


def test_random_inputs_int32_are_small_non_negative(sine_model):
    (x,) = random_inputs(with_input_signature(with_input_type(sine_model, INT32), [1, 256]))
    assert x.dtype == np.int32 and 0 <= x.min() and x.max() < 8


def test_random_inputs_bool_has_both_values(sine_model):
    (x,) = random_inputs(with_input_signature(with_input_type(sine_model, BOOL), [1, 64]))
    assert x.dtype == np.bool_ and x.any() and not x.all()


def test_random_inputs_reject_bytes_that_are_not_tflite():
    with pytest.raises(ModelFormatError):
        random_inputs(b"this is not a flatbuffer")


def test_random_inputs_reject_string_inputs(sine_model):
    with pytest.raises(UnsupportedModelError, match="type code 5"):
        random_inputs(with_input_type(sine_model, STRING))
