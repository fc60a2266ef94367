"""Building the operator graph: which unwritten reads are errors and which are scratch."""

from __future__ import annotations

import pytest

from tflite_serenity import memory
from tflite_serenity.errors import ModelFormatError
from tflite_serenity.graph import Operator, Tensor, assemble_graph, build_graphs, scratch_tensors
from tflite_serenity.model import read_model
from tests.models import load


def _tensor(index: int, size: int) -> Tensor:
    return Tensor(index, f"t{index}", (size,), "INT8", has_data=False, is_variable=False)


def _graph(reader: str, scratch_readers: int = 1):
    """x -> A -> a -> READER(a, s) -> y (-> a second READER(y, s) -> z), where nothing writes s."""
    tensors = [_tensor(i, size) for i, size in enumerate((10, 20, 300, 40, 50))]  # x a s y z
    ops = [Operator(0, "ADD", (0,), (1,)), Operator(1, reader, (1, 2), (3,))]
    if scratch_readers == 2:
        ops.append(Operator(2, reader, (3, 2), (4,)))
    return assemble_graph(0, "g", tensors, ops, (0,), (ops[-1].outputs[0],))


def test_an_unwritten_tensor_read_by_a_builtin_is_rejected():
    with pytest.raises(ModelFormatError, match="reads tensor 2 .* which no operator writes"):
        _graph("CONV_2D")


def test_an_unwritten_tensor_read_only_by_custom_operators_is_their_scratch():
    graph = _graph("CUSTOM:ethos-u")
    assert scratch_tensors(graph) == (2,)


def test_an_unwritten_tensor_read_by_a_custom_and_a_builtin_operator_is_rejected():
    tensors = [_tensor(i, 8) for i in range(4)]
    ops = [Operator(0, "CUSTOM:x", (0, 2), (1,)), Operator(1, "ADD", (1, 2), (3,))]
    with pytest.raises(ModelFormatError, match="which no operator writes"):
        assemble_graph(0, "g", tensors, ops, (0,), (3,))


def test_scratch_is_alive_during_its_readers_steps_only():
    one = {l.tensor: (l.start, l.end) for l in memory.lifetimes(_graph("CUSTOM:ethos-u"))}
    assert one[2] == (1, 1)
    two = {l.tensor: (l.start, l.end) for l in memory.lifetimes(_graph("CUSTOM:ethos-u", scratch_readers=2))}
    assert two[2] == (1, 2)
    assert memory.profile(_graph("CUSTOM:ethos-u")).live == (10 + 20, 20 + 300 + 40)


def test_vela_scratch_counts_in_the_peak_and_the_lower_bound():
    # one ethos-u operator reading its command stream, weights, scratch (twice) and the input
    (graph,) = build_graphs(read_model(load("realworld_vela.tflite")))
    (scratch,) = scratch_tensors(graph)
    assert graph.tensors[scratch].name == "scratch"
    size = memory.tensor_bytes(graph.tensors[scratch])
    io = sum(memory.tensor_bytes(graph.tensors[t]) for t in graph.inputs + graph.outputs)
    assert memory.peak_bytes(graph) == memory.lower_bound(graph) == size + io


def test_the_scheduler_counts_scratch_as_the_memory_model_does():
    from tflite_serenity.schedule.search import pick_engine, schedule_graph

    # x -> a (100 B) and b (5 B); CUSTOM(a, scratch 300 B) -> c; ADD(b, c) -> y
    tensors = [_tensor(i, size) for i, size in enumerate((10, 100, 5, 300, 20, 7))]
    ops = [Operator(0, "ADD", (0,), (1,)), Operator(1, "ADD", (0,), (2,)),
           Operator(2, "CUSTOM:npu", (1, 3), (4,)), Operator(3, "ADD", (2, 4), (5,))]
    graph = assemble_graph(0, "g", tensors, ops, (0,), (5,))
    for engine in ("python", "compiled"):
        found = schedule_graph(graph, time_limit=5, engine=pick_engine(engine))
        assert found.peak == memory.peak_bytes(graph, found.order) == 100 + 5 + 300 + 20


def test_graphs_built_with_tensors_read_equal_those_built_without():
    # a version in row strips keeps most schema tensors, many at other indices
    from tflite_serenity.graph import TensorsRead, build_graph
    from tflite_serenity.model import with_operator_orders
    from tflite_serenity.rewrite.strips import splittable, tile
    from tflite_serenity.schedule.search import schedule_graph

    model = read_model(load("swiftnet_tiny_int8.tflite"))
    model = with_operator_orders(model, {0: schedule_graph(build_graph(model, 0)).order})
    usable = splittable(model, build_graph(model, 0))
    tiled = tile(model, 0, 0, usable.index(False) if False in usable else len(usable), 2)
    assert tiled is not None
    read = TensorsRead()
    for version in (model, tiled.model, model, tiled.model):
        assert build_graph(version, 0, read=read) == build_graph(version, 0)
