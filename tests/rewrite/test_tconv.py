"""TRANSPOSE_CONV split by output channels (tflite_serenity.rewrite.tconv).

tests/data/tconv_*.tflite (scripts/models/make_tconv_models.py): operator 1
is a 2x2 SAME stride-2 TRANSPOSE_CONV (16 channels) read only by a channel
concat, the last TRANSPOSE_CONV a 3x3 VALID stride-2 one (20 channels) read
by a convolution.
"""

from __future__ import annotations

import pytest

from tflite_serenity import optimize
from tflite_serenity.model import read_model, write_model
from tflite_serenity.model.editor import constant_array, tensor_quantization
from tflite_serenity.model_version import graphs_of
from tflite_serenity.options import Target
from tflite_serenity.rewrite.tconv import channel_parts, find_sites, split_transpose_conv
from tflite_serenity.tflm.simulate import stored_head
from tflite_serenity.verify import compare_models
from tests.models import load

HOST = Target(pointer_width=64)  # the reference kernels only


def _split(name: str, op: int, channels):
    data = load(name)
    model = read_model(data)
    made = split_transpose_conv(model, 0, op, channels)
    assert made is not None
    return data, read_model(write_model(made[0])), made[1]


def _last_tconv(name: str) -> int:
    (graph,) = graphs_of(read_model(load(name)))
    return max(op.index for op in graph.operators if op.kind == "TRANSPOSE_CONV")


def _bit_identical(original: bytes, model) -> None:
    candidate = write_model(model) if not isinstance(model, bytes) else model
    for runtime in ("litert", "tflm"):
        comparison = compare_models(original, candidate, runtime=runtime, trials=2)
        assert comparison.bit_identical, comparison.describe()


def test_pieces_go_straight_into_the_concat_that_reads_the_output():
    data, model, joined = _split("tconv_int8.tflite", 1, (8, 8))
    (graph,) = graphs_of(model)
    assert not joined
    kinds = [op.kind for op in graph.operators]
    assert kinds.count("TRANSPOSE_CONV") == 3 and kinds.count("CONCATENATION") == 1
    concat = next(op for op in graph.operators if op.kind == "CONCATENATION")
    assert [graph.tensors[t].shape[-1] for t in concat.inputs] == [16, 8, 8]
    _bit_identical(data, model)


def test_valid_padding_split_is_joined_by_a_new_concat_and_bit_identical():
    op = _last_tconv("tconv_int8.tflite")
    data, model, joined = _split("tconv_int8.tflite", op, (8, 12))
    (graph,) = graphs_of(model)
    assert joined
    assert [op.kind for op in graph.operators].count("CONCATENATION") == 2
    _bit_identical(data, model)


def test_16x8_split_into_uneven_pieces_is_bit_identical():
    op = _last_tconv("tconv_int16.tflite")
    data, model, _ = _split("tconv_int16.tflite", op, (5, 7, 8))
    _bit_identical(data, model)


def test_per_channel_scales_and_bias_are_cut_with_the_filter():
    original = read_model(load("tconv_int8.tflite"))
    (before,) = graphs_of(original)
    _, model, _ = _split("tconv_int8.tflite", 1, (8, 8))
    (graph,) = graphs_of(model)
    whole = tensor_quantization(original, 0, before.operators[1].inputs[1]).scale
    pieces = [op for op in graph.operators if op.kind == "TRANSPOSE_CONV"][:2]
    scales = [tensor_quantization(model, 0, op.inputs[1]).scale for op in pieces]
    assert scales[0] + scales[1] == whole
    assert [graph.tensors[op.inputs[3]].shape for op in pieces] == [(8,), (8,)]
    assert [graph.tensors[op.outputs[0]].shape for op in pieces] == [(1, 32, 32, 8)] * 2


def test_output_shape_constant_follows_each_piece():
    _, model, _ = _split("tconv_int8.tflite", _last_tconv("tconv_int8.tflite"), (8, 12))
    (graph,) = graphs_of(model)
    pieces = [op for op in graph.operators if op.kind == "TRANSPOSE_CONV"][-2:]
    assert [constant_array(model, 0, op.inputs[0]).tolist() for op in pieces] == [[1, 33, 33, 8], [1, 33, 33, 12]]


def test_float_transpose_convs_are_not_split():
    model = read_model(load("tconv_float.tflite"))
    assert find_sites(model, graphs_of(model)[0]) == []
    assert optimize(load("tconv_float.tflite"), target=HOST).subgraphs[0].splits == ()


def test_pieces_keep_litert_requantization_groups():
    assert channel_parts(20, 2, 8) == (8, 12)
    assert channel_parts(20, 3, 8) == (8, 8, 4)
    assert channel_parts(16, 3, 8) is None
    assert channel_parts(12, 3) == (4, 4, 4)


def test_split_pieces_of_an_unsupported_width_are_refused():
    model = read_model(load("tconv_int8.tflite"))
    assert split_transpose_conv(model, 0, 1, (8, 7)) is None  # not all 16 channels
    assert split_transpose_conv(model, 0, 0, (8, 8)) is None  # a CONV_2D


@pytest.mark.parametrize("name", ["tconv_int8.tflite", "tconv_int16.tflite"])
def test_optimize_splits_where_the_scratch_sets_the_arena_and_stays_bit_identical(name):
    data = load(name)
    result = optimize(data, target=HOST)
    (sub,) = result.subgraphs
    assert sub.splits and all(s.arena_after < s.arena_before for s in sub.splits)
    tree = read_model(result.model)
    before = read_model(data)
    assert stored_head(tree, graphs_of(tree)) < stored_head(before, graphs_of(before))
    _bit_identical(data, result.model)


@pytest.mark.parametrize("name", ["tconv_int8.tflite", "tconv_int16.tflite"])
def test_second_optimize_changes_nothing(name):
    for target in (HOST, Target()):
        first = optimize(load(name), target=target)
        again = optimize(first.model, target=target)
        assert again.unchanged and again.model == first.model


def test_split_not_made_where_a_cmsis_nn_arena_would_grow():
    # CMSIS-NN's int8 TRANSPOSE_CONV needs little scratch: the split only adds
    # operators there, so a Cortex-M target (reference and CMSIS-NN) keeps it whole
    (sub,) = optimize(load("tconv_int8.tflite"), target=Target()).subgraphs
    assert sub.splits == ()
    (sub,) = optimize(load("tconv_int8.tflite"), target=Target(), strips_peak_only=True).subgraphs
    assert sub.splits


def test_summary_names_the_split(tmp_path, capsys):
    from tflite_serenity.cli import main
    from tests.models import DATA

    assert main([str(DATA / "tconv_int8.tflite"), str(tmp_path / "o.tflite"), "--pointer-width", "64"]) == 0
    assert "split by output channels" in capsys.readouterr().out.splitlines()[0]



def test_pieces_that_would_overfill_the_concat_get_their_own():
    # TFLite Micro's CONCATENATION takes at most 10 inputs: the skip and 10 pieces do not fit
    assert not _split("tconv_int8.tflite", 1, (2,) * 8)[2]
    data, model, joined = _split("tconv_int8.tflite", 1, (1,) * 9 + (7,))
    assert joined
    (graph,) = graphs_of(model)
    assert [len(op.inputs) for op in graph.operators if op.kind == "CONCATENATION"] == [10, 2]
    comparison = compare_models(data, write_model(model), runtime="tflm", trials=2)  # pieces off LiteRT's groups
    assert comparison.bit_identical, comparison.describe()
