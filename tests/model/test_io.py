"""Reading and writing .tflite files keeps everything and changes nothing."""

from __future__ import annotations

import pytest

from tflite_serenity.model import read_model, to_plain, write_model
from tests.models import load, model_names, runs_in


@pytest.mark.parametrize("name", model_names())
def test_round_trip_keeps_every_field(name):
    original = read_model(load(name))
    again = read_model(write_model(original))
    assert to_plain(again) == to_plain(original)


@pytest.mark.parametrize("name", model_names())
def test_round_trip_is_byte_stable(name):
    once = write_model(read_model(load(name)))
    assert write_model(read_model(once)) == once


@pytest.mark.parametrize("runtime", ["litert", "tflm"])
@pytest.mark.parametrize("name", model_names())
def test_round_trip_runs_bit_identical(name, runtime):
    if not runs_in(name, runtime):
        pytest.skip(f"does not run in {runtime}")
    from tflite_serenity.verify import compare_models

    data = load(name)
    result = compare_models(data, write_model(read_model(data)), runtime=runtime)
    assert result.bit_identical, result


def test_large_models_keep_constant_data_after_the_flatbuffer():
    # the threshold is 2 GiB in practice; 0 forces the same layout on a small model
    data = load("small_cnn_float.tflite")
    written = write_model(read_model(data), external_over=0)
    tree = read_model(written)
    assert to_plain(tree) == to_plain(read_model(data))


def test_externally_stored_buffers_run_bit_identical_in_litert():
    from tflite_serenity.verify import compare_models

    data = load("small_cnn_int8.tflite")
    written = write_model(read_model(data), external_over=0)
    from tflite_serenity.model.schema import fb

    raw = fb.Model.GetRootAsModel(written, 0)
    assert any(raw.Buffers(i).Offset() > 1 for i in range(raw.BuffersLength()))
    assert compare_models(data, written, runtime="litert").bit_identical
