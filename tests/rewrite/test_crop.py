"""Crop before padding: STRIDED_SLICE(PAD(x)) becomes PAD(STRIDED_SLICE(x)), exactly."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tflite_serenity import memory, optimize
from tflite_serenity.graph import build_graphs
from tflite_serenity.model import read_model, write_model
from tflite_serenity.rewrite.crop import crop_before_pad, crop_first
from tflite_serenity.verify import compare_models
from tests.models import load


def test_cropping_first_then_padding_gives_the_same_array_on_random_cases():
    rng = random.Random(0)
    checked = 0
    for _ in range(2000):
        rank = rng.randint(1, 4)
        shape = [rng.randint(1, 5) for _ in range(rank)]
        padding = [(rng.randint(0, 2), rng.randint(0, 2)) for _ in range(rank)]
        x = np.arange(1, int(np.prod(shape)) + 1).reshape(shape)
        padded = np.pad(x, padding)
        begin = [rng.randint(0, n - 1) for n in padded.shape]
        end = [rng.randint(b + 1, n) for b, n in zip(begin, padded.shape)]
        crop = crop_first(shape, padding, begin, end)
        if crop is None:  # some axis keeps padding only: left as it is
            continue
        checked += 1
        first = np.pad(x[tuple(slice(b, e) for b, e in zip(crop.begin, crop.end))], crop.padding)
        assert np.array_equal(first, padded[tuple(slice(b, e) for b, e in zip(begin, end))])
    assert checked > 1000


@pytest.mark.parametrize("variant", ["float", "int8"])
def test_a_pad_read_only_by_a_crop_is_moved_after_it_and_its_map_shrinks(variant):
    model = read_model(load(f"pad_crop_{variant}.tflite"))
    moved, counts = crop_before_pad(model)
    assert counts == (1,)  # the PAD also read by a convolution stays
    before, after = build_graphs(model)[0], build_graphs(moved)[0]
    kinds = [op.kind for op in after.operators]
    assert kinds.count("PAD") == 2 and kinds.count("STRIDED_SLICE") == 2
    (slice_op,) = [op for op in after.operators
                   if op.kind == "STRIDED_SLICE" and after.operators[after.consumers[op.outputs[0]][0]].kind == "PAD"]
    assert after.tensors[slice_op.outputs[0]].shape == (1, 15, 15, 16)  # was a 17x17 padded map
    # the operators keep their positions, so the steps line up: none holds more, some less
    live_before, live_after = memory.profile(before).live, memory.profile(after).live
    assert all(a <= b for a, b in zip(live_after, live_before)) and live_after != live_before


@pytest.mark.parametrize("runtime", ["litert", "tflm"])
@pytest.mark.parametrize("variant", ["float", "int8"])
def test_moved_crops_give_bit_identical_outputs(variant, runtime):
    data = load(f"pad_crop_{variant}.tflite")
    moved, _ = crop_before_pad(read_model(data))
    comparison = compare_models(data, write_model(moved), runtime=runtime, trials=2)
    assert comparison.bit_identical, comparison.describe()


def test_the_main_command_moves_crops_and_says_so():
    (sub,) = optimize(load("pad_crop_float.tflite")).subgraphs
    assert sub.crops_moved == 1
    (plain,) = optimize(load("pad_crop_float.tflite"), rewrite=False).subgraphs
    assert plain.crops_moved == 0 and sub.peak_after < plain.peak_after
