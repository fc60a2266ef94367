"""Slices first: pads, crops and 1x1 pools become one small slice, exactly."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tflite_serenity import memory, optimize
from tflite_serenity.graph import build_graphs
from tflite_serenity.model import read_model, write_model
from tflite_serenity.rewrite.slices import Axis, compose, simplify_slices, slice_first
from tflite_serenity.schedule.search import schedule_graph
from tflite_serenity.verify import compare_models
from tests.models import load


def _random_slice(rng: random.Random, size: int) -> Axis:
    start, stride = rng.randrange(size), rng.randint(1, 3)
    return Axis(start, stride, rng.randint(1, (size - 1 - start) // stride + 1))


def _take(array: np.ndarray, axes) -> np.ndarray:
    return array[tuple(slice(a.start, a.end, a.stride) for a in axes)]


def test_slicing_first_then_padding_gives_the_same_array_on_random_cases():
    rng = random.Random(0)
    checked = 0
    for _ in range(3000):
        rank = rng.randint(1, 4)
        shape = [rng.randint(1, 6) for _ in range(rank)]
        padding = [(rng.randint(0, 2), rng.randint(0, 2)) for _ in range(rank)]
        x = np.arange(1, int(np.prod(shape)) + 1).reshape(shape)
        padded = np.pad(x, padding)
        axes = [_random_slice(rng, n) for n in padded.shape]
        moved = slice_first(shape, padding, axes)
        if moved is None:  # some axis keeps padding only: left as it is
            continue
        checked += 1
        assert np.array_equal(np.pad(_take(x, moved.axes), moved.padding), _take(padded, axes))
    assert checked > 1000


def test_a_slice_of_a_slice_is_one_slice_on_random_cases():
    rng = random.Random(1)
    for _ in range(2000):
        shape = [rng.randint(1, 9) for _ in range(rng.randint(1, 4))]
        x = np.arange(int(np.prod(shape))).reshape(shape)
        inner = [_random_slice(rng, n) for n in shape]
        outer = [_random_slice(rng, a.count) for a in inner]
        assert np.array_equal(_take(x, compose(inner, outer)), _take(_take(x, inner), outer))


@pytest.mark.parametrize("variant", ["float", "int8"])
def test_nasnets_shift_then_subsample_becomes_one_slice_of_the_map(variant):
    # pad (0, 1) -> crop (1, 0) -> 1x1 average pool of stride 2: every second
    # pixel from the second on, with no padding left in it
    model = read_model(load(f"pad_crop_{variant}.tflite"))
    simplified, (counts,) = simplify_slices(model)
    assert (counts.moved, counts.pools, counts.fused, counts.dropped) == (2, 1, 1, 1)
    graph = build_graphs(simplified)[0]
    conv = graph.operators[0]
    (shift,) = [graph.operators[i] for i in graph.consumers[conv.outputs[0]]
                if graph.operators[i].kind == "STRIDED_SLICE"]
    assert graph.tensors[shift.outputs[0]].shape == (1, 8, 8, 16)  # was 17x17, then 16x16, then the pool


def test_a_float_pool_of_one_element_keeps_a_unit_stride_step_and_an_int8_one_goes():
    # float pools add the value to +0.0 or take its max with -FLT_MAX: -0.0 and NaN would change
    kinds = {v: [op.kind for op in build_graphs(simplify_slices(read_model(load(f"pad_crop_{v}.tflite")))[0])[0]
                 .operators] for v in ("float", "int8")}
    assert kinds["float"].count("AVERAGE_POOL_2D") == 3 and kinds["int8"].count("AVERAGE_POOL_2D") == 2


def test_pools_and_pads_other_operators_also_read_stay():
    # the 1x1 pool of the conv output (read three times) and the PAD read by a convolution
    graph = build_graphs(simplify_slices(read_model(load("pad_crop_int8.tflite")))[0])[0]
    kinds = [op.kind for op in graph.operators]
    assert kinds.count("PAD") == 1 and kinds.count("AVERAGE_POOL_2D") == 2


@pytest.mark.parametrize("variant", ["float", "int8"])
def test_simplified_slices_lower_the_optimum_and_never_raise_the_stored_orders_peak(variant):
    model = read_model(load(f"pad_crop_{variant}.tflite"))
    before, after = build_graphs(model)[0], build_graphs(simplify_slices(model)[0])[0]
    assert memory.peak_bytes(after) <= memory.peak_bytes(before)
    assert schedule_graph(after).peak < schedule_graph(before).peak


@pytest.mark.parametrize("runtime", ["litert", "tflm"])
@pytest.mark.parametrize("variant", ["float", "int8"])
def test_simplified_slices_give_bit_identical_outputs(variant, runtime):
    data = load(f"pad_crop_{variant}.tflite")
    simplified, _ = simplify_slices(read_model(data))
    comparison = compare_models(data, write_model(simplified), runtime=runtime, trials=2)
    assert comparison.bit_identical, comparison.describe()


def test_the_main_command_simplifies_slices_and_says_so():
    (sub,) = optimize(load("pad_crop_float.tflite")).subgraphs
    assert sub.slices.total == 5
    assert sub.slices.describe() == ("2 slices moved before a pad, 1 1x1 pool made a slice, 1 slice fused, "
                                     "1 copy dropped")
    (plain,) = optimize(load("pad_crop_float.tflite"), rewrite=False).subgraphs
    assert plain.slices.total == 0 and sub.peak_after < plain.peak_after
