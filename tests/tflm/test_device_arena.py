"""TFLite Micro's allocations replayed for a 32-bit Cortex-M (tflm/device_arena.py)."""

import pytest

from tflite_serenity.model import read_model
from tflite_serenity.model_version import graphs_of
from tflite_serenity.tflm import device_arena as replay
from tflite_serenity.tflm.device_arena import scratch_counts
from tflite_serenity.tflm.scratch import scratch_requests
from tflite_serenity.tflm.target_arena import replayed_arena
from tests.models import load


def _replayed(name: str, library: str = "cmsis-nn-dsp"):
    tree = read_model(load(name))
    return replayed_arena(tree, graphs_of(tree), 0, library)


def test_the_tail_holds_an_eval_tensor_per_tensor_and_a_node_per_operator():
    # small_cnn_int8: 17 tensors, 8 operators, 42 output channels of convolutions
    parts = {name: (size, n) for name, size, n in _replayed("small_cnn_int8.tflite").parts}
    assert parts["tensors"] == (12 * 17, 17) and parts["nodes"] == (32 * 8, 8)
    assert parts["channels"][1] == 8 + 8 + 16 + 10  # the dense layer is quantized per channel


def test_kernel_buffers_are_aligned_to_16_bytes():
    # each per-channel array is an AllocatePersistentBuffer of its own
    parts = {name: size for name, size, _ in _replayed("small_cnn_int8.tflite").parts}
    assert parts["channels"] % 16 == 0 and parts["channels"] == 2 * (32 + 32 + 64 + 48)


def test_preparing_decides_a_model_with_a_small_head():
    # while_int8: 160 B of activations; the planner's arrays take more than the head
    arena = _replayed("while_int8.tflite")
    assert arena.head + arena.tail < arena.preparing == arena.arena_size


def test_the_head_decides_a_model_with_a_large_head():
    arena = _replayed("small_cnn_int8.tflite")
    assert arena.arena_size == -(-(arena.head + arena.tail) // 16) * 16 > arena.preparing


def test_a_dense_layer_quantized_per_channel_requests_no_scratch_on_cmsis_nn():
    # transformer_tiny_int8's FULLY_CONNECTED layers run as 1x1 convolutions with their own multipliers
    tree = read_model(load("transformer_tiny_int8.tflite"))
    graphs = graphs_of(tree)
    counts, _ = scratch_counts(tree, graphs, "cmsis-nn-dsp")
    dense = [op.index for op in graphs[0].operators if op.kind == "FULLY_CONNECTED"]
    assert dense and all(scratch_requests(graphs[0], i, "cmsis-nn-dsp") for i in dense[:1])
    assert all(counts[i] == 0 for i in dense)


@pytest.mark.parametrize("library, first", [("cmsis-nn-dsp", 2 * 3 * 3 * 4 * 2), ("cmsis-nn-mve", 4 * 8 * 2 * 5)])
def test_cmsis_nn_int16_convolution_asks_an_im2col_buffer(library, first):
    # inplace_int16's first CONV_2D: 3x3 filter over 4 channels, int64 bias
    graph = graphs_of(read_model(load("inplace_int16.tflite")))[0]
    assert scratch_requests(graph, 0, library) == [first] and scratch_requests(graph, 0, "reference") == []


def test_unknown_kinds_are_charged_more_than_any_listed_kind_but_the_lstm():
    listed = [size for kind, size in replay.OP_DATA.items() if kind != "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    assert replay.UNKNOWN_OP_DATA > max(listed)
    assert replay.UNKNOWN_BUILTIN_DATA[0] > max(size for size, _ in replay.BUILTIN_DATA.values())
