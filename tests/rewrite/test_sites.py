"""Which concats are sites, and how each consumer may be split."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from tflite_serenity.graph import build_graph
from tflite_serenity.model.schema import fb
from tflite_serenity.options import Options
from tflite_serenity.rewrite.sites import _lanes_match, classify, find_sites
from tests.rewrite.util import APPROXIMATE, site_feeding, tree_and_graph, with_kind


@pytest.mark.parametrize("name", ["irregular_float.tflite", "irregular_int8.tflite"])
def test_concat_feeding_depthwise_is_an_exact_kernelwise_site(name):
    tree, graph = tree_and_graph(name)
    site = site_feeding(tree, graph, "DEPTHWISE_CONV_2D")
    (split,) = site.splits
    assert split.how == "kernel" and split.exact and split.multiplier == 1
    assert split.sliced == ((1, 3), (2, 0))  # weights along channels, bias
    assert sum(site.channels) == graph.tensors[site.output].shape[-1]


def test_concat_feeding_conv_is_a_site_only_when_approximate_rewrites_are_allowed():
    tree, graph = tree_and_graph("irregular_float.tflite")
    assert not any(s.kind == "CONV_2D" for site in find_sites(tree, graph) for s in site.splits)
    site = site_feeding(tree, graph, "CONV_2D", Options(rewrite_approximate=True))
    assert [s.how for s in site.splits] == ["channel"] and not site.exact


def test_int8_conv_split_needs_its_own_flag():
    tree, graph = tree_and_graph("irregular_int8.tflite")
    float_only = Options(rewrite_approximate=True)
    assert not any(s.kind == "CONV_2D" for site in find_sites(tree, graph, float_only) for s in site.splits)
    assert site_feeding(tree, graph, "CONV_2D", APPROXIMATE).splits[0].how == "channel"


def test_int8_concat_whose_inputs_need_requantizing_is_not_a_site():
    tree, graph = tree_and_graph("irregular_int8.tflite")
    site = site_feeding(tree, graph, "DEPTHWISE_CONV_2D")
    edited = copy.copy(tree)
    edited.subgraphs = [copy.copy(tree.subgraphs[0])]
    tensors = list(tree.subgraphs[0].tensors)
    first = copy.deepcopy(tensors[site.inputs[0]])
    first.quantization.scale = np.asarray(first.quantization.scale) * 2
    tensors[site.inputs[0]] = first
    edited.subgraphs[0].tensors = tensors
    assert all(s.concat != site.concat for s in find_sites(edited, build_graph(edited, 0), APPROXIMATE))


def test_int8_depthwise_split_is_refused_when_channels_change_requantization_lanes():
    tree, graph = tree_and_graph("rewrite_depthwise_flat_int8.tflite")  # two parts of 6 channels
    assert find_sites(tree, graph) == []
    tree, graph = tree_and_graph("rewrite_depthwise_int8.tflite")  # 8 + 8 + 5
    assert site_feeding(tree, graph, "DEPTHWISE_CONV_2D").channels == (8, 8, 5)


@pytest.mark.parametrize("channels, multiplier, same", [
    ((8, 8, 5), 1, True), ((16, 3), 1, True), ((8, 5, 2), 1, True),
    ((5, 3, 8), 1, False), ((6, 6), 1, False), ((4, 4), 2, True), ((3, 16), 1, False),
])
def test_requantization_lanes_match_only_for_block_aligned_parts(channels, multiplier, same):
    assert _lanes_match(channels, multiplier) is same


def test_float_logistic_after_a_concat_is_not_split():
    tree, graph = tree_and_graph("rewrite_conv_float.tflite")
    relu = next(op for op in graph.operators if op.kind == "RELU")
    edited = with_kind(tree, relu.index, "LOGISTIC")
    edited_graph = build_graph(edited, 0)
    assert edited_graph.operators[relu.index].kind == "LOGISTIC"
    assert classify(edited, edited_graph, relu.index, relu.inputs[0], APPROXIMATE) is None
    assert classify(tree, graph, relu.index, relu.inputs[0]) is not None


def test_concat_that_is_a_graph_output_stays_when_its_consumer_is_split():
    tree, graph = tree_and_graph("rewrite_pool_float.tflite")
    site = site_feeding(tree, graph, "MAX_POOL_2D")
    assert not site.keeps_concat
    edited = copy.copy(tree)
    edited.subgraphs = [copy.copy(tree.subgraphs[0])]
    edited.subgraphs[0].outputs = list(tree.subgraphs[0].outputs) + [site.output]
    edited_graph = build_graph(edited, 0)
    assert site_feeding(edited, edited_graph, "MAX_POOL_2D").keeps_concat


def _with_tensor_change(tree, tensor: int, change):
    edited = copy.copy(tree)
    edited.subgraphs = [copy.copy(tree.subgraphs[0])]
    tensors = list(tree.subgraphs[0].tensors)
    tensors[tensor] = copy.deepcopy(tensors[tensor])
    change(tensors[tensor])
    edited.subgraphs[0].tensors = tensors
    return edited


def test_concat_with_a_fused_activation_is_not_a_site():
    tree, graph = tree_and_graph("rewrite_depthwise_float.tflite")
    site = site_feeding(tree, graph, "DEPTHWISE_CONV_2D")
    edited = copy.copy(tree)
    edited.subgraphs = [copy.copy(tree.subgraphs[0])]
    ops = list(tree.subgraphs[0].operators)
    ops[site.concat] = copy.copy(ops[site.concat])
    ops[site.concat].builtinOptions = copy.copy(ops[site.concat].builtinOptions)
    ops[site.concat].builtinOptions.fusedActivationFunction = 1
    edited.subgraphs[0].operators = ops
    assert find_sites(edited, build_graph(edited, 0)) == []


def test_hybrid_depthwise_with_int8_weights_on_float_activations_is_not_split():
    tree, graph = tree_and_graph("rewrite_depthwise_float.tflite")
    dw = graph.operators[site_feeding(tree, graph, "DEPTHWISE_CONV_2D").splits[0].op]
    edited = _with_tensor_change(tree, dw.inputs[1], lambda t: setattr(t, "type", fb.TensorType.INT8))
    assert find_sites(edited, build_graph(edited, 0)) == []


def test_sparse_weights_are_not_split():
    tree, graph = tree_and_graph("rewrite_depthwise_float.tflite")
    dw = graph.operators[site_feeding(tree, graph, "DEPTHWISE_CONV_2D").splits[0].op]
    edited = _with_tensor_change(tree, dw.inputs[1], lambda t: setattr(t, "sparsity", fb.SparsityParametersT()))
    assert find_sites(edited, build_graph(edited, 0)) == []
