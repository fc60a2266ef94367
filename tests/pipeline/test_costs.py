"""The cost model's inputs: MACs from shapes, the device, what a split cannot cut."""

from __future__ import annotations

import pytest

from tflite_serenity.errors import SerenityError, UnsupportedModelError
from tflite_serenity.graph import Operator, Tensor, assemble_graph, build_graph
from tflite_serenity.model.io import read_model
from tflite_serenity.edgetpu.costs import build_problem, operator_macs
from tflite_serenity.edgetpu.device import MIB, EdgeTpu, edge_tpu
from tflite_serenity.edgetpu.problem import PS_PER_S
from tests.pipeline.problems import DATA


def _one_op(kind, shapes, constant=(1,)):
    """A graph with one operator reading tensors 0..n-2 and writing the last one."""
    tensors = [Tensor(i, f"t{i}", tuple(s), "INT8", i in constant, False) for i, s in enumerate(shapes)]
    inputs = tuple(range(len(shapes) - 1))
    op = Operator(0, kind, inputs, (len(shapes) - 1,))
    graph_inputs = [i for i in inputs if i not in constant]
    return assemble_graph(0, "g", tensors, [op], graph_inputs, [len(shapes) - 1])


@pytest.mark.parametrize("kind, shapes, constant, macs", [
    ("CONV_2D", [(1, 8, 8, 4), (6, 3, 3, 4), (1, 8, 8, 6)], (1,), 8 * 8 * 6 * 3 * 3 * 4),
    ("CONV_2D", [(1, 8, 8, 4), (6, 3, 3, 2), (1, 4, 4, 6)], (1,), 4 * 4 * 6 * 3 * 3 * 2),  # grouped, strided
    ("DEPTHWISE_CONV_2D", [(1, 8, 8, 4), (1, 3, 3, 4), (1, 8, 8, 4)], (1,), 8 * 8 * 4 * 9),
    ("FULLY_CONNECTED", [(2, 16), (10, 16), (2, 10)], (1,), 2 * 10 * 16),
    ("BATCH_MATMUL", [(3, 5, 7), (3, 7, 4), (3, 5, 4)], (), 3 * 5 * 4 * 7),
    ("TRANSPOSE_CONV", [(4,), (6, 3, 3, 4), (1, 4, 4, 4), (1, 8, 8, 6)], (0, 1), 4 * 4 * 4 * 9 * 6),
    ("CONV_3D", [(1, 4, 8, 8, 2), (3, 3, 3, 2, 5), (1, 4, 8, 8, 5)], (1,), 4 * 8 * 8 * 5 * 27 * 2),
    ("ADD", [(1, 8, 8, 4), (1, 8, 8, 4), (1, 8, 8, 4)], (), 256),
    ("MAX_POOL_2D", [(1, 8, 8, 4), (1, 4, 4, 4)], (), 256),
])
def test_operator_macs_from_shapes(kind, shapes, constant, macs):
    graph = _one_op(kind, shapes, constant)
    assert operator_macs(graph, graph.operators[0]) == macs


def test_operator_macs_falls_back_to_elements_on_unexpected_shapes():
    graph = _one_op("CONV_2D", [(1, 8, 8, 4), (6,), (1, 8, 8, 6)])
    assert operator_macs(graph, graph.operators[0]) == 8 * 8 * 6


def test_compute_time_is_macs_at_sustained_throughput_plus_overhead():
    graph = _one_op("CONV_2D", [(1, 8, 8, 4), (6, 3, 3, 4), (1, 8, 8, 6)])
    device = EdgeTpu(peak_ops_per_s=2e9, utilization=0.5, op_overhead_s=1e-6)
    problem = build_problem(graph, device)
    assert problem.compute_ps == (round(13824 / 0.5e9 * PS_PER_S) + 10**6,)
    assert problem.param_bytes == (6 * 3 * 3 * 4,)


def test_link_presets_set_both_bandwidths():
    device = edge_tpu("pcie", cache_mib=4)
    assert (device.link_bytes_per_s, device.host_bytes_per_s, device.cache_bytes) == (400e6, 400e6, 4 * MIB)


def test_unknown_link_is_refused():
    with pytest.raises(SerenityError, match="unknown link"):
        edge_tpu("thunderbolt")


def test_negative_cache_is_refused():
    with pytest.raises(SerenityError, match="cannot be negative"):
        edge_tpu("usb3", cache_mib=-1)


def test_nonpositive_utilization_is_refused():
    with pytest.raises(SerenityError, match="utilization must be positive"):
        EdgeTpu(utilization=0)


def test_negative_overhead_is_refused():
    with pytest.raises(SerenityError, match="op_overhead_s cannot be negative"):
        EdgeTpu(op_overhead_s=-1e-6)


def _model_graph(name):
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"tests/data/{name} is missing")
    return build_graph(read_model(path.read_bytes()), 0)


def test_control_flow_is_refused():
    with pytest.raises(UnsupportedModelError, match="runs other subgraphs"):
        build_problem(_model_graph("if_float.tflite"), EdgeTpu())


def test_variable_tensors_are_refused():
    with pytest.raises(UnsupportedModelError, match="variable"):
        build_problem(_model_graph("stateful_lstm_float.tflite"), EdgeTpu())


def test_resource_operators_are_refused():
    tensors = [Tensor(0, "h", (), "RESOURCE", False, False), Tensor(1, "v", (4,), "FLOAT32", False, False)]
    ops = [Operator(0, "VAR_HANDLE", (), (0,)), Operator(1, "READ_VARIABLE", (0,), (1,))]
    graph = assemble_graph(0, "g", tensors, ops, [], [1])
    with pytest.raises(UnsupportedModelError, match="VAR_HANDLE"):
        build_problem(graph, EdgeTpu())


def test_every_constant_and_crossing_tensor_of_a_model_is_counted():
    graph = _model_graph("small_cnn_int8.tflite")
    problem = build_problem(graph, EdgeTpu())
    constants = {t for op in graph.operators for t in op.inputs if t >= 0 and graph.tensors[t].has_data}
    assert len(problem.param_bytes) == len(constants)
    assert {f.tensor for f in problem.flows} == set(graph.inputs) | {t for op in graph.operators for t in op.outputs}
