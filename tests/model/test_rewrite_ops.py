"""The schema-level editor the rewriter builds with."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from tflite_serenity.errors import UnsupportedModelError
from tflite_serenity.graph import build_graph
from tflite_serenity.model import read_model, write_model
from tflite_serenity.model.edit import with_empty_subgraphs
from tflite_serenity.model.editor import SubgraphEditor, constant_array, operator_options
from tflite_serenity.model.schema import TensorType
from tests.models import load


def _tree():
    return read_model(load("rewrite_pool_float.tflite"))


def test_editing_leaves_the_input_model_untouched():
    tree = _tree()
    before = write_model(tree)
    ed = SubgraphEditor(tree, 0)
    ed.replace(0, [ed.copy_operator(0, tree.subgraphs[0].operators[0].inputs, tree.subgraphs[0].operators[0].outputs,
                                    options={"fusedActivationFunction": 0})])
    new, _ = ed.finish()
    assert write_model(tree) == before and write_model(new) != before


def test_constant_slice_cuts_data_along_the_axis():
    tree = _tree()
    conv = tree.subgraphs[0].operators[0]
    weights = constant_array(tree, 0, conv.inputs[1])
    ed = SubgraphEditor(tree, 0)
    part = ed.constant_slice(conv.inputs[1], 0, 1, 3, name="w/part")
    ed.replace(0, [ed.copy_operator(0, [conv.inputs[0], part, conv.inputs[2]], conv.outputs)])
    new, index_of = ed.finish()
    assert (constant_array(new, 0, index_of[part]) == weights[1:3]).all()


def test_new_operator_reuses_an_existing_operator_code():
    tree = _tree()
    ed = SubgraphEditor(tree, 0)
    add = ed.new_operator("ADD", [0, 0], [1])
    assert tree.operatorCodes[add.opcodeIndex].builtinCode == 0  # the model's own ADD code


def test_new_operator_of_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="cannot create MUL"):
        SubgraphEditor(_tree(), 0).new_operator("MUL", [0], [1])


def test_changing_an_option_the_operator_does_not_have_is_refused():
    tree = _tree()
    op = tree.subgraphs[0].operators[0]
    with pytest.raises(UnsupportedModelError, match="no field 'axis'"):
        SubgraphEditor(tree, 0).copy_operator(0, op.inputs, op.outputs, options={"axis": 1})


def test_replacing_an_operator_twice_is_refused():
    ed = SubgraphEditor(_tree(), 0)
    ed.replace(1, [])
    with pytest.raises(ValueError, match="already replaced"):
        ed.replace(1, [])


def test_graph_outputs_stay_when_their_producer_is_removed():
    tree = _tree()
    graph = build_graph(tree, 0)
    last = graph.num_operators - 1
    ed = SubgraphEditor(tree, 0)
    ed.replace(last, [])  # the final ADD, whose output is the graph output
    new, index_of = ed.finish()
    assert len(new.subgraphs[0].operators) == graph.num_operators - 1
    assert all(index_of[t] >= 0 for t in graph.operators[last].outputs)
    assert operator_options(new, 0, 0) == operator_options(tree, 0, 0)


def test_equal_constants_share_one_tensor():
    # TFLite Micro keeps bookkeeping per tensor: the strides of many cuts are one tensor
    ed = SubgraphEditor(_tree(), 0)
    a = ed.constant(np.ones(4, dtype=np.int32), name="a/strides")
    b = ed.constant(np.ones(4, dtype=np.int32), name="b/strides")
    c = ed.constant(np.array([1, 2, 1, 1], dtype=np.int32), name="c/strides")
    assert a == b != c


def test_a_new_subgraph_is_filled_with_tensors_of_another_and_appended_operators():
    tree = _tree()
    new, (index,) = with_empty_subgraphs(tree, ["copy"])
    source = new.subgraphs[0]
    conv = source.operators[0]
    ed = SubgraphEditor(new, index)
    x = ed.tensor_from(source.tensors[conv.inputs[0]], name="x", activation=True)
    weights = ed.tensor_from(source.tensors[conv.inputs[1]])  # a constant keeps its buffer
    bias = ed.tensor_from(source.tensors[conv.inputs[2]])
    y = ed.tensor_from(source.tensors[conv.outputs[0]], name="y", activation=True)
    op = copy.copy(conv)
    op.inputs, op.outputs = [x, weights, bias], [y]
    ed.append([op])
    ed.set_inputs_outputs([x], [y])
    done, _ = ed.finish()
    graph = build_graph(read_model(write_model(done)), index)
    assert len(tree.subgraphs) == 1 and len(done.subgraphs) == 2
    assert [o.kind for o in graph.operators] == ["CONV_2D"] and graph.inputs == (0,) and graph.outputs == (3,)
    assert done.subgraphs[index].tensors[weights].buffer == source.tensors[conv.inputs[1]].buffer
    assert done.subgraphs[index].tensors[x].buffer == 0


def test_a_plain_tensor_has_the_type_and_shape_asked_for():
    ed = SubgraphEditor(_tree(), 0)
    t = ed.tensor(TensorType.INT32, [4], name="begin")
    ed.replace(0, [ed.operators[0], ed.new_operator("ADD", [t, t], [t])])
    new, index_of = ed.finish()
    made = new.subgraphs[0].tensors[index_of[t]]
    assert made.type == TensorType.INT32 and list(made.shape) == [4] and made.buffer == 0
