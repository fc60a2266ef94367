"""model.extract: a standalone model from some operators of a subgraph."""

from __future__ import annotations

import pytest

from tflite_serenity.errors import InfeasibleError, UnsupportedModelError
from tflite_serenity.graph import build_graph
from tflite_serenity.model.extract import extract_operators
from tflite_serenity.model.io import read_model, write_model
from tflite_serenity.model.ops import opcode_name
from tflite_serenity.model.plain import to_plain
from tests.pipeline.problems import DATA


def _model(name: str):
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"tests/data/{name} is missing")
    return read_model(path.read_bytes())


def test_extract_keeps_only_the_operator_codes_it_uses():
    model = _model("small_cnn_int8.tflite")
    graph = build_graph(model, 0)
    first = graph.operators[0]
    piece = extract_operators(model, 0, [0], graph.inputs, first.outputs)
    assert [opcode_name(piece, op) for op in piece.subgraphs[0].operators] == [first.kind]
    assert len(piece.operatorCodes) == 1


def test_extract_renumbers_tensors_and_keeps_their_names():
    model = _model("irregular_float.tflite")
    graph = build_graph(model, 0)
    ops = [1, 2]
    inputs = sorted({t for v in ops for t in graph.operators[v].inputs
                     if t >= 0 and not graph.tensors[t].has_data and graph.producer[t] not in ops})
    outputs = list(graph.operators[2].outputs)
    piece = build_graph(read_model(write_model(extract_operators(model, 0, ops, inputs, outputs))), 0)
    touched = {t for v in ops for t in graph.operators[v].inputs + graph.operators[v].outputs if t >= 0}
    assert [t.name for t in piece.tensors] == [graph.tensors[t].name for t in sorted(touched)]
    assert [piece.tensors[t].name for t in piece.inputs] == [graph.tensors[t].name for t in inputs]


def test_extract_points_activations_at_the_empty_buffer_zero():
    model = _model("small_cnn_float.tflite")
    graph = build_graph(model, 0)
    piece = extract_operators(model, 0, range(graph.num_operators), graph.inputs, graph.outputs)
    assert piece.buffers[0].data is None
    for tensor in piece.subgraphs[0].tensors:
        data = piece.buffers[tensor.buffer].data
        assert (tensor.buffer == 0) == (data is None or len(data) == 0)


def test_extract_leaves_the_source_model_untouched():
    model = _model("irregular_int8.tflite")
    before = to_plain(model)
    graph = build_graph(model, 0)
    ops = range(3, graph.num_operators)
    inputs = sorted({t for v in ops for t in graph.operators[v].inputs
                     if t >= 0 and not graph.tensors[t].has_data and graph.producer[t] < 3})
    write_model(extract_operators(model, 0, ops, inputs, graph.outputs))
    assert to_plain(model) == before


def test_extract_refuses_an_operator_whose_input_nothing_provides():
    model = _model("small_cnn_float.tflite")
    graph = build_graph(model, 0)
    with pytest.raises(InfeasibleError, match="operator 1 reads tensor"):
        extract_operators(model, 0, [1], [], graph.operators[1].outputs)


def test_extract_refuses_an_output_it_cannot_compute():
    model = _model("small_cnn_float.tflite")
    graph = build_graph(model, 0)
    with pytest.raises(InfeasibleError, match="output tensor"):
        extract_operators(model, 0, [0], graph.inputs, graph.outputs)


def test_extract_refuses_control_flow():
    model = _model("if_float.tflite")
    graph = build_graph(model, 0)
    calling = next(op.index for op in graph.operators if op.calls)
    with pytest.raises(UnsupportedModelError, match="control flow"):
        extract_operators(model, 0, range(calling + 1), graph.inputs, graph.operators[calling].outputs)
