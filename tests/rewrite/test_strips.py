"""Row strips: a run of operators computed a band of rows at a time, exactly."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tflite_serenity import optimize
from tflite_serenity.graph import build_graph
from tflite_serenity.model import read_model, with_operator_orders, write_model
from tflite_serenity.options import Target
from tflite_serenity.rewrite.strips import splittable, strip_window, tile, transposed_window, window_rows
from tflite_serenity.rewrite.strip_search import macs
from tflite_serenity.schedule.search import schedule_graph
from tflite_serenity.verify import compare_models, measure_tflm_arena
from tests.models import load


def _average_rows(x: np.ndarray, kernel: int, stride: int, same: bool) -> np.ndarray:
    """A 1-D average pool as TFLite computes it: SAME pads, and averages count real elements only."""
    n = len(x)
    rows = -(-n // stride) if same else (n - kernel) // stride + 1
    pad = max((rows - 1) * stride + kernel - n, 0) // 2 if same else 0
    out = []
    for r in range(rows):
        window = [x[i] for i in range(r * stride - pad, r * stride - pad + kernel) if 0 <= i < n]
        out.append(sum(window) / len(window))
    return np.asarray(out)


def _random_pool(rng: random.Random):
    """A random 1-D average pool over a random map: its settings, the map, the
    pooled map and the padding above it."""
    kernel, stride, same = rng.randint(1, 7), rng.randint(1, 3), rng.random() < 0.7
    height = rng.randint(kernel, 40)
    x = np.asarray([rng.random() for _ in range(height)])
    whole = _average_rows(x, kernel, stride, same)
    pad_top = max((len(whole) - 1) * stride + kernel - height, 0) // 2 if same else 0
    return kernel, stride, same, x, whole, pad_top


def test_a_strip_window_gives_the_rows_of_the_whole_map_on_random_cases():
    rng = random.Random(0)
    checked = 0
    for _ in range(3000):
        kernel, stride, same, x, whole, pad_top = _random_pool(rng)
        a = rng.randrange(len(whole))
        b = rng.randint(a + 1, len(whole))
        w = strip_window(len(x), kernel, stride, pad_top, same, a, b)
        if w is None:
            continue
        checked += 1
        strip = _average_rows(x[w.start:w.stop], kernel, stride, same)
        assert np.array_equal(strip[w.first:w.first + b - a], whole[a:b])
    assert checked > 2500


def test_rows_a_strip_computes_as_it_is_are_right_where_said_on_random_cases():
    # untrimmed, a strip keeps the rows it gets wrong at its edges: never those called right
    rng = random.Random(1)
    checked = 0
    for _ in range(3000):
        kernel, stride, same, x, whole, pad_top = _random_pool(rng)
        start = rng.randrange(len(x))
        stop = rng.randint(start + 1, len(x))
        found = window_rows(len(x), len(whole), kernel, stride, pad_top, same, (start, stop), (start, stop))
        if found is None:
            continue
        (first, last), (good_from, good_to) = found
        strip = _average_rows(x[start:stop], kernel, stride, same)
        assert len(strip) == last - first
        checked += 1
        assert np.array_equal(strip[good_from - first:good_to - first], whole[good_from:good_to])
    assert checked > 1000


def _first_run(name: str):
    """The model, stored in its best order, and the longest stretch at the start
    of that order that can run in strips (up to a transposed convolution or a
    global mean)."""
    model = read_model(load(name))
    model = with_operator_orders(model, {0: schedule_graph(build_graph(model, 0)).order})
    usable = splittable(model, build_graph(model, 0))
    stop = usable.index(False) if False in usable else len(usable)
    return model, 0, stop


@pytest.mark.parametrize("trim", [True, False], ids=["trimmed", "untrimmed"])
@pytest.mark.parametrize("runtime", ["litert", "tflm"])
@pytest.mark.parametrize("name", ["swiftnet_tiny_int8.tflite", "darts_tiny_int8.tflite", "unet_tiny_int8.tflite",
                                  "pad_crop_int8.tflite"])
def test_int8_runs_in_strips_give_bit_identical_outputs(name, runtime, trim):
    # convolutions of every stride, SAME and VALID pools, pads and slices in the strips
    model, start, stop = _first_run(name)
    tiled = tile(model, 0, start, stop, 3, trim=trim)
    assert tiled is not None and len(tiled.strips) == 3
    comparison = compare_models(load(name), write_model(tiled.model), runtime=runtime, trials=2)
    assert comparison.bit_identical, comparison.describe()


def test_float_runs_in_strips_are_bit_identical_in_tflite_micro():
    model, start, stop = _first_run("swiftnet_tiny_float.tflite")
    tiled = tile(model, 0, start, stop, 3)
    comparison = compare_models(load("swiftnet_tiny_float.tflite"), write_model(tiled.model), runtime="tflm",
                                trials=2)
    assert comparison.bit_identical, comparison.describe()


def test_maps_of_one_row_stay_out_of_strips():
    # a squeeze-and-excite scale depends on every row of the map it pools
    model = read_model(load("inplace_int8.tflite"))
    graph = build_graph(model, 0)
    single = [op.index for op in graph.operators if graph.tensors[op.outputs[0]].shape[1:2] == (1,)]
    usable = splittable(model, graph)
    assert single and not any(usable[op] for op in single)


@pytest.mark.parametrize("variant", ["float", "int8"])
def test_a_constant_that_differs_per_row_keeps_its_operator_out_of_strips(variant):
    # ADD of a [16, 16, 8] constant: a strip would need its rows, not the whole of it
    model = read_model(load(f"per_pixel_{variant}.tflite"))
    graph = build_graph(model, 0)
    usable = {(op.kind, ok) for op, ok in zip(graph.operators, splittable(model, graph))}
    assert usable == {("CONV_2D", True), ("ADD", False)}


def test_each_strip_is_stored_after_the_one_before():
    model, start, stop = _first_run("swiftnet_tiny_int8.tflite")
    tiled = tile(model, 0, start, stop, 4)
    assert all(max(a) < min(b) for a, b in zip(tiled.strips, tiled.strips[1:]))


def test_the_main_command_runs_the_peak_in_strips_where_it_pays():
    (plain,) = optimize(load("irregular_int8.tflite"), strips=False).subgraphs
    (sub,) = optimize(load("irregular_int8.tflite")).subgraphs
    assert sub.strips and sub.peak_after < plain.peak_after
    # shared rows are computed twice: never fewer multiply-accumulates
    assert all(r.exact and r.macs_after >= r.macs_before for r in sub.strips)
    assert sub.strips[-1].macs_after > sub.strips[0].macs_before


def test_strips_must_save_more_than_the_bytes_tflite_micro_keeps_for_their_operators():
    # every extra operator and tensor costs TFLite Micro persistent bytes: on a
    # 64-bit host, the activation bytes this tiny model's strips save do not cover them
    (sub,) = optimize(load("swiftnet_tiny_int8.tflite"), target=Target(pointer_width=64)).subgraphs
    assert not sub.strips
    (peak_only,) = optimize(load("swiftnet_tiny_int8.tflite"), target=Target(pointer_width=64),
                            strips_peak_only=True).subgraphs
    assert peak_only.strips and peak_only.peak_after < sub.peak_after
    added = sum(r.persistent_added for r in peak_only.strips)
    assert peak_only.peak_after + added >= sub.peak_after


def test_on_a_32_bit_device_the_same_strips_pay():
    # a 32-bit build keeps half the bytes per tensor and per node (measured
    # there: the whole arena goes from 17,660 to 17,116 B)
    (host,) = optimize(load("swiftnet_tiny_int8.tflite"), target=Target(pointer_width=64)).subgraphs
    (device,) = optimize(load("swiftnet_tiny_int8.tflite")).subgraphs
    assert device.strips and not host.strips
    assert device.peak_after + sum(r.persistent_added for r in device.strips) < host.peak_after


def test_the_charge_for_strips_is_what_tflite_micro_keeps_for_them():
    plain = optimize(load("swiftnet_tiny_int8.tflite"), strips=False).model
    tiled = optimize(load("swiftnet_tiny_int8.tflite"), strips_peak_only=True, target=Target(pointer_width=64))
    charged = sum(r.persistent_added for r in tiled.subgraphs[0].strips)
    kept = measure_tflm_arena(tiled.model).tail_bytes - measure_tflm_arena(plain).tail_bytes
    assert charged == pytest.approx(kept, rel=0.1)


def test_strips_charged_for_their_operators_still_lower_the_whole_arena():
    (plain,) = optimize(load("irregular_int8.tflite"), strips=False).subgraphs
    (sub,) = optimize(load("irregular_int8.tflite")).subgraphs
    assert sub.peak_after + sum(r.persistent_added for r in sub.strips) < plain.peak_after


def test_the_strip_search_runs_a_decoder_through_its_transposed_convolutions():
    # U-Net's int8 transposed convolutions take int32 scratch buffers for
    # their whole output: in strips, each asks for its strip's rows only
    result = optimize(load("unet_tiny_int8.tflite"), strips_peak_only=True)
    (sub,) = result.subgraphs
    assert sub.strips and sub.peak_after < sub.peak_before
    kinds = [op.kind for op in build_graph(read_model(result.model), 0).operators]
    assert kinds.count("TRANSPOSE_CONV") > 2
    assert measure_tflm_arena(result.model).head_bytes < measure_tflm_arena(load("unet_tiny_int8.tflite")).head_bytes
    comparison = compare_models(load("unet_tiny_int8.tflite"), result.model, runtime="tflm", trials=2)
    assert comparison.bit_identical, comparison.describe()


def test_strips_stay_within_the_recompute_allowed():
    (sub,) = optimize(load("irregular_int8.tflite"), max_recompute=20.0, strips_peak_only=True).subgraphs
    assert sub.strips and sub.strips[-1].macs_after <= 1.2 * sub.strips[0].macs_before
    (none,) = optimize(load("irregular_int8.tflite"), max_recompute=0.0, strips_peak_only=True).subgraphs
    assert not none.strips


def test_float_convolutions_go_into_strips_only_when_approximation_is_allowed():
    # LiteRT's float kernels may sum a strip's terms in another order
    (exact,) = optimize(load("swiftnet_tiny_float.tflite"), strips_peak_only=True).subgraphs
    assert not exact.strips
    result = optimize(load("swiftnet_tiny_float.tflite"), rewrite_approximate=True, strips_peak_only=True)
    (approximate,) = result.subgraphs
    assert approximate.strips and not any(r.exact for r in approximate.strips)
    comparison = compare_models(load("swiftnet_tiny_float.tflite"), result.model, runtime="litert", trials=2)
    assert comparison.max_rel_diff < 1e-6, comparison.describe()


@pytest.mark.parametrize("name", ["irregular_int8.tflite", "swiftnet_tiny_int8.tflite"])
def test_strip_candidates_scored_in_several_processes_give_the_same_output(name):
    # the candidates are pure functions of the model: which process scores them changes nothing
    one = optimize(load(name), jobs=1)
    assert one.subgraphs[0].strips
    assert optimize(load(name), jobs=3).model == one.model


def _transposed_rows(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """A 1-D transposed convolution as TFLite computes it with no padding:
    input row i adds w[k] * x[i] to output row i * stride + k."""
    out = np.zeros(len(x) * stride)
    for i, v in enumerate(x):
        for k, weight in enumerate(w):
            out[i * stride + k] += weight * v
    return out


def test_a_transposed_strip_gives_the_rows_of_the_whole_map_on_random_cases():
    rng = random.Random(2)
    for _ in range(2000):
        stride = rng.randint(1, 4)
        x = np.asarray([rng.random() for _ in range(rng.randint(1, 20))])
        weights = np.asarray([rng.random() for _ in range(stride)])
        whole = _transposed_rows(x, weights, stride)
        a = rng.randrange(len(whole))
        b = rng.randint(a + 1, len(whole))
        w = transposed_window(stride, a, b)
        strip = _transposed_rows(x[w.start:w.stop], weights, stride)
        assert len(strip) == w.rows
        assert np.array_equal(strip[w.first:w.first + b - a], whole[a:b])


def test_a_transposed_convolution_whose_kernel_is_taller_than_its_stride_stays_out_of_strips():
    # a 3x3 stride-2 kernel sums an output row from two input rows: not split
    model = read_model(load("tconv_int8.tflite"))
    graph = build_graph(model, 0)
    usable = [(op.kind, graph.tensors[op.inputs[1]].shape[1], ok)
              for op, ok in zip(graph.operators, splittable(model, graph)) if op.kind == "TRANSPOSE_CONV"]
    assert usable == [("TRANSPOSE_CONV", 2, True), ("TRANSPOSE_CONV", 3, False)]


@pytest.mark.parametrize("strips", [2, 3, 4, 5, 7])
@pytest.mark.parametrize("trim", [True, False], ids=["trimmed", "untrimmed"])
@pytest.mark.parametrize("variant", ["int8", "int16", "float"])
def test_a_decoder_with_transposed_convolutions_in_strips_gives_bit_identical_outputs(variant, trim, strips):
    # U-Net's decoder (2x2 stride-2 TRANSPOSE_CONV -> skip CONCATENATION ->
    # CONV_2D, twice): strip counts that cut between the two rows one input
    # row writes, and strips that start on an odd row, would catch a wrong row mapping
    name = f"unet_tiny_{variant}.tflite"
    model = read_model(load(name))
    graph = build_graph(model, 0)
    start = min(op.index for op in graph.operators if op.kind == "TRANSPOSE_CONV")
    tiled = tile(model, 0, start, graph.num_operators, strips, trim=trim)
    assert tiled is not None and len(tiled.strips) == strips
    kinds = {o.kind for o in build_graph(tiled.model, 0).operators}
    assert "TRANSPOSE_CONV" in kinds
    for runtime in ("litert", "tflm"):
        comparison = compare_models(load(name), write_model(tiled.model), runtime=runtime, trials=2)
        assert comparison.bit_identical, (runtime, comparison.describe())


def test_multiply_accumulates_count_a_transposed_convolutions_taps():
    # tconv_int8: a 16x16x16 map through a [16, 2, 2, 16] filter, and an
    # 16x16x8 one through [20, 3, 3, 8], beside four CONV_2D
    graph = build_graph(read_model(load("tconv_int8.tflite")), 0)
    convolutions = macs(graph) - 16 * 16 * 16 * 16 * 2 * 2 - 16 * 16 * 8 * 20 * 3 * 3
    assert convolutions == (16 * 16 + 32 * 32) * 16 * 3 * 3 * 4 + 16 * 16 * 8 * 32 + 33 * 33 * 4 * 20
