"""Operators computed from constants alone run right before their first consumer:
the contracted problem keeps the memory model exact and the optimum unchanged."""

from __future__ import annotations

import pytest

from tflite_serenity import memory
from tflite_serenity.graph import Operator, Tensor, assemble_graph, build_graphs
from tflite_serenity.model import read_model
from tflite_serenity.schedule import reference
from tflite_serenity.schedule.dominance import defer_constant_operators
from tflite_serenity.schedule.problem import evaluate, split
from tflite_serenity.schedule.search import compiled_engine, schedule_graph
from tests.graphs import constant_fed_graph, exhaustive_min_peak
from tests.models import load

compiled = compiled_engine()


def _orders(preds):
    """Every topological order of a DAG given by its predecessor lists."""
    n = len(preds)
    order: list[int] = []
    stack = [0]
    while stack:  # iterative depth-first enumeration: stack[d] is the next candidate at depth d
        depth = len(stack) - 1
        if depth == n:
            yield tuple(order)
            stack.pop()
            order.pop()
            stack[-1] += 1
            continue
        v = stack[-1]
        while v < n and (v in order or any(u not in order for u in preds[v])):
            v += 1
        if v == n:
            stack.pop()
            if not stack:
                return
            order.pop()
            stack[-1] += 1
            continue
        stack[-1] = v
        order.append(v)
        stack.append(0)


def _graph(sizes, operators, inputs, outputs, constants=()):
    """A graph of INT8 tensors of the given sizes; ``constants`` hold data."""
    tensors = [Tensor(i, f"t{i}", (s,), "INT8", has_data=i in constants, is_variable=False)
               for i, s in enumerate(sizes)]
    ops = [Operator(i, kind, tuple(ins), tuple(outs)) for i, (kind, ins, outs) in enumerate(operators)]
    return assemble_graph(0, "g", tensors, ops, inputs, outputs)


@pytest.mark.parametrize("inplace", [False, True])
def test_units_reproduce_the_memory_model_peak_for_every_order(inplace):
    contracted = 0
    for seed in range(60):
        graph = constant_fed_graph(seed, max_ops=8)
        units = defer_constant_operators(memory.activation_flow(graph, inplace=inplace))
        contracted += graph.num_operators - len(units.units)
        (whole,) = split(units.flow, cuts=[0, len(units.units)])
        for order in _orders(units.flow.preds):
            expanded = units.expand(order)
            memory.check_order(graph, expanded)
            assert evaluate(whole, order) == memory.peak_bytes(graph, expanded, inplace=inplace), f"seed {seed}"
    assert contracted > 40  # the rule is exercised, not vacuous


@pytest.mark.parametrize("chunk", range(3))
def test_peak_with_constants_deferred_equals_exhaustive_search(chunk):
    for seed in range(chunk * 60, chunk * 60 + 60):
        graph = constant_fed_graph(seed)
        expected = exhaustive_min_peak(graph)
        for engine in (compiled, reference.search):
            result = schedule_graph(graph, engine=engine)
            assert (result.peak, result.optimal) == (expected, True), f"seed {seed}"


def test_in_place_peak_with_constants_deferred_equals_exhaustive_search():
    for seed in range(100):
        graph = constant_fed_graph(seed)
        expected = exhaustive_min_peak(graph, inplace=True)
        for engine in (compiled, reference.search):
            result = schedule_graph(graph, engine=engine, inplace=True)
            assert result.peak == expected == memory.peak_bytes(graph, result.order, inplace=True), f"seed {seed}"


def test_warm_start_that_runs_a_weight_early_never_changes_the_answer():
    for seed in range(40):
        graph = constant_fed_graph(seed)
        plain = schedule_graph(graph)
        warm = schedule_graph(graph, warm_start=[tuple(range(graph.num_operators)), plain.order])
        memory.check_order(graph, warm.order)
        assert (warm.peak, warm.optimal) == (plain.peak, plain.optimal), f"seed {seed}"


def test_weight_read_by_one_operator_joins_it():
    # x -> RELU -> ADD(., w), w = DEQUANTIZE(constant)
    graph = _graph([8, 4, 4, 8, 8], [("DEQUANTIZE", [1], [2]), ("RELU", [0], [3]), ("ADD", [3, 2], [4])],
                   inputs=[0], outputs=[4], constants={1})
    units = defer_constant_operators(memory.activation_flow(graph))
    assert units.units == ((1,), (0, 2))


def test_chain_of_constant_operators_joins_the_consumer():
    # DENSIFY -> DEQUANTIZE -> ADD: the chain runs right before the ADD
    graph = _graph([8, 2, 4, 4, 8, 8], [("DENSIFY", [1], [2]), ("DEQUANTIZE", [2], [3]), ("RELU", [0], [4]),
                                         ("ADD", [4, 3], [5])], inputs=[0], outputs=[5], constants={1})
    units = defer_constant_operators(memory.activation_flow(graph))
    assert units.units == ((2,), (0, 1, 3))


def test_chain_whose_intermediate_outgrows_the_consumer_step_stays_apart():
    # the dense intermediate (16) is larger than the ADD's output (2): right before
    # the ADD, the DEQUANTIZE step could be the highest; it may run anywhere
    graph = _graph([8, 2, 16, 4, 8, 2], [("DENSIFY", [1], [2]), ("DEQUANTIZE", [2], [3]), ("RELU", [0], [4]),
                                          ("ADD", [4, 3], [5])], inputs=[0], outputs=[5], constants={1})
    units = defer_constant_operators(memory.activation_flow(graph))
    assert units.units == ((0, 1), (2,), (3,))
    assert schedule_graph(graph).peak == exhaustive_min_peak(graph)


def test_weight_read_by_an_operator_and_its_descendant_joins_the_first():
    # a bias shared by two convolutions in a row: the first always runs first
    graph = _graph([8, 4, 4, 8, 8], [("DEQUANTIZE", [1], [2]), ("ADD", [0, 2], [3]), ("ADD", [3, 2], [4])],
                   inputs=[0], outputs=[4], constants={1})
    units = defer_constant_operators(memory.activation_flow(graph))
    assert units.units == ((0, 1), (2,))


def test_weight_read_by_parallel_operators_stays_free():
    # either reader may run first: no single place is right for the weight
    graph = _graph([8, 4, 4, 8, 8], [("DEQUANTIZE", [1], [2]), ("ADD", [0, 2], [3]), ("ADD", [0, 2], [4])],
                   inputs=[0], outputs=[3, 4], constants={1})
    units = defer_constant_operators(memory.activation_flow(graph))
    assert units.units == ((0,), (1,), (2,))


def test_weight_read_by_parallel_operators_waits_for_their_common_ancestor():
    # x -> RELU -> y; ADD(y, w) and SUB(y, w): w need not run before the RELU
    graph = _graph([8, 4, 4, 8, 8, 8], [("DEQUANTIZE", [1], [2]), ("RELU", [0], [3]), ("ADD", [3, 2], [4]),
                                         ("SUB", [3, 2], [5])], inputs=[0], outputs=[4, 5], constants={1})
    units = defer_constant_operators(memory.activation_flow(graph))
    assert units.units == ((1,), (0,), (2,), (3,))
    assert units.flow.preds == ((), (0,), (0, 1), (0, 1))
    assert units.restrict((0, 1, 2, 3)) == (0, 1, 2, 3)


def test_nothing_joins_when_a_graph_input_is_unread():
    # an unread input is alive at the first step only: which operator runs first matters
    graph = _graph([8, 4, 4, 8, 16], [("DEQUANTIZE", [1], [2]), ("ADD", [0, 2], [3])],
                   inputs=[0, 4], outputs=[3], constants={1})
    units = defer_constant_operators(memory.activation_flow(graph))
    assert units.units == ((0,), (1,))


def test_weight_with_an_unread_output_larger_than_the_consumer_step_stays_free():
    graph = _graph([8, 4, 4, 32, 8, 8], [("DEQUANTIZE", [1], [2, 3]), ("RELU", [0], [4]), ("ADD", [4, 2], [5])],
                   inputs=[0], outputs=[5], constants={1})
    units = defer_constant_operators(memory.activation_flow(graph))
    assert units.units == ((0,), (1,), (2,))


@pytest.mark.parametrize("engine", [compiled, reference.search], ids=["compiled", "python"])
def test_float16_weight_model_is_proven_optimal_in_a_few_states(engine):
    # 26 operators, 14 of them a DEQUANTIZE of a weight (converter, float16 weights)
    graph = build_graphs(read_model(load("irregular_weights_float16.tflite")))[0]
    result = schedule_graph(graph, engine=engine)
    assert result.optimal and result.states <= 50
    # without the rule: search every piece of the plain flow to the end
    plain = [(engine(p, 1 << 60), p.offset) for p in split(memory.activation_flow(graph))]
    assert all(r.status == "optimal" for r, _ in plain)
    assert result.peak == max(r.peak + offset for r, offset in plain)
    assert sum(r.states for r, _ in plain) > 10 * max(result.states, 1)
