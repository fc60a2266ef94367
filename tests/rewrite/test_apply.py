"""What one rewrite does to the model: operators, tensors, constants, order."""

from __future__ import annotations

import numpy as np
import pytest

from tflite_serenity.errors import UnsupportedModelError
from tflite_serenity.graph import build_graph
from tflite_serenity.model import read_model, write_model
from tflite_serenity.model.editor import constant_array, operator_options, tensor_quantization
from tflite_serenity.rewrite.apply import push_concat
from tflite_serenity.rewrite.quantize import partial_quantization
from tests.rewrite.util import APPROXIMATE, site_feeding, tree_and_graph


def _kinds(graph):
    return [op.kind for op in graph.operators]


def test_kernelwise_rewrite_replaces_the_concat_by_one_operator_per_input_and_a_concat_after():
    tree, graph = tree_and_graph("rewrite_depthwise_float.tflite")
    site = site_feeding(tree, graph, "DEPTHWISE_CONV_2D")
    new = build_graph(push_concat(tree, graph, site).model, 0)  # raises if the stored order were invalid
    assert _kinds(graph).count("DEPTHWISE_CONV_2D") == 1 and _kinds(new).count("DEPTHWISE_CONV_2D") == 3
    (concat,) = [op for op in new.operators if op.kind == "CONCATENATION"]
    assert [new.operators[new.producer[t]].kind for t in concat.inputs] == ["DEPTHWISE_CONV_2D"] * 3
    assert [new.tensors[t].shape[-1] for t in concat.inputs] == [8, 8, 5]


def test_depthwise_parts_take_their_slice_of_weights_bias_and_per_channel_scales():
    tree, graph = tree_and_graph("rewrite_depthwise_int8.tflite")
    site = site_feeding(tree, graph, "DEPTHWISE_CONV_2D")
    dw = graph.operators[site.splits[0].op]
    weights, bias = constant_array(tree, 0, dw.inputs[1]), constant_array(tree, 0, dw.inputs[2])
    scales = tensor_quantization(tree, 0, dw.inputs[1]).scale
    new_tree = push_concat(tree, graph, site).model
    new = build_graph(new_tree, 0)
    parts = [op for op in new.operators if op.kind == "DEPTHWISE_CONV_2D"]
    start = 0
    for part, width in zip(parts, site.channels):
        stop = start + width
        assert np.array_equal(constant_array(new_tree, 0, part.inputs[1]), weights[..., start:stop])
        assert np.array_equal(constant_array(new_tree, 0, part.inputs[2]), bias[start:stop])
        q = tensor_quantization(new_tree, 0, part.inputs[1])
        assert q.scale == scales[start:stop] and q.dimension == 3
        assert tensor_quantization(new_tree, 0, part.outputs[0]) == tensor_quantization(tree, 0, dw.outputs[0])
        start = stop


def test_rewritten_model_drops_the_old_tensors_and_empties_their_weight_buffers():
    tree, graph = tree_and_graph("rewrite_depthwise_float.tflite")
    site = site_feeding(tree, graph, "DEPTHWISE_CONV_2D")
    dw = graph.operators[site.splits[0].op]
    old_weight_buffer = tree.subgraphs[0].tensors[dw.inputs[1]].buffer
    new_tree = read_model(write_model(push_concat(tree, graph, site).model))
    names = {t.name.decode() if isinstance(t.name, bytes) else t.name for t in new_tree.subgraphs[0].tensors}
    assert graph.tensors[site.output].name not in names
    assert graph.tensors[dw.inputs[1]].name not in names
    assert new_tree.buffers[old_weight_buffer].data is None


def test_merging_consumer_reads_the_concat_inputs_directly():
    tree, graph = tree_and_graph("rewrite_nested_float.tflite")
    site = site_feeding(tree, graph, "CONCATENATION")
    outer = graph.operators[next(s.op for s in site.splits if s.how == "merge")]
    new = build_graph(push_concat(tree, graph, site).model, 0)
    name = graph.tensors[outer.outputs[0]].name
    (merged,) = [op for op in new.operators if op.kind == "CONCATENATION" and new.tensors[op.outputs[0]].name == name]
    names = [new.tensors[t].name for t in merged.inputs]
    assert names == [graph.tensors[t].name for t in site.inputs + outer.inputs[1:]]


def test_channelwise_rewrite_puts_bias_in_the_first_part_and_activation_on_the_last_add():
    tree, graph = tree_and_graph("rewrite_conv_float.tflite")
    site = site_feeding(tree, graph, "CONV_2D", APPROXIMATE)
    conv = graph.operators[site.splits[0].op]
    new_tree = push_concat(tree, graph, site).model
    new = build_graph(new_tree, 0)
    inputs = {graph.tensors[t].name for t in site.inputs}
    parts = [op for op in new.operators if op.kind == "CONV_2D" and new.tensors[op.inputs[0]].name in inputs]
    adds = [op for op in new.operators if op.kind == "ADD"]
    assert len(parts) == 3 and len(adds) == 2
    biases = [constant_array(new_tree, 0, p.inputs[2]) for p in parts]
    assert np.array_equal(biases[0], constant_array(tree, 0, conv.inputs[2]))
    assert not biases[1].any() and not biases[2].any()
    assert all(operator_options(new_tree, 0, p.index)["fusedActivationFunction"] == 0 for p in parts)
    assert operator_options(new_tree, 0, adds[-1].index)["fusedActivationFunction"] == 1  # RELU
    assert new.tensors[adds[-1].outputs[0]].name == graph.tensors[conv.outputs[0]].name  # still read downstream
    assert "CONCATENATION" not in _kinds(new)[: adds[-1].index]


def test_int8_partial_sums_get_a_symmetric_range_of_the_output():
    tree, graph = tree_and_graph("rewrite_dense_int8.tflite")
    site = site_feeding(tree, graph, "FULLY_CONNECTED", APPROXIMATE)
    out = graph.operators[site.splits[0].op].outputs[0]
    q_out = tensor_quantization(tree, 0, out)
    new_tree = push_concat(tree, graph, site).model
    new = build_graph(new_tree, 0)
    first_add = next(op for op in new.operators if op.kind == "ADD")
    q = tensor_quantization(new_tree, 0, first_add.inputs[0])
    largest = max(abs((-128 - q_out.zero_point[0]) * q_out.scale[0]), abs((127 - q_out.zero_point[0]) * q_out.scale[0]))
    assert q.zero_point == (0,) and np.isclose(q.scale[0] * 127, largest, rtol=1e-6)


def test_partial_sums_of_a_float_output_cannot_be_requantized():
    tree, graph = tree_and_graph("rewrite_dense_float.tflite")
    site = site_feeding(tree, graph, "FULLY_CONNECTED", APPROXIMATE)
    with pytest.raises(UnsupportedModelError, match="cannot requantize FLOAT32"):
        partial_quantization(tree, graph, site.splits[0], site)
