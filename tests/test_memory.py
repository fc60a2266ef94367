"""The memory model on a model small enough to check by hand (docs/memory-model.md)."""

from __future__ import annotations

from tflite_serenity import memory
from tflite_serenity.graph import Operator, Tensor, assemble_graph, build_graphs
from tflite_serenity.model import read_model
from tests.graphs import constant_fed_graph, exhaustive_min_peak
from tests.models import load


def tiny_branch():
    return build_graphs(read_model(load("tiny_branch_float.tflite")))[0]


def test_live_bytes_per_step_match_the_hand_computation():
    # x 1,024 B; a 1,536 B; b 512 B; c = concat(a, b) 2,048 B; y 768 B
    assert memory.profile(tiny_branch()).live == (1024 + 1536, 1024 + 1536 + 512, 1536 + 512 + 2048, 2048 + 768)


def test_peak_is_at_the_concat_with_its_inputs_alive():
    prof = memory.profile(tiny_branch())
    assert (prof.peak, prof.peak_step) == (4096, 2)
    graph = tiny_branch()
    assert {graph.tensors[t].shape for t in prof.alive_at_peak} == {(1, 8, 8, 8), (1, 8, 8, 6), (1, 8, 8, 2)}


def test_lower_bound_is_the_largest_working_set():
    graph = tiny_branch()
    assert memory.working_set(graph, 2) == 4096
    assert memory.lower_bound(graph) == 4096


def test_weights_are_the_bytes_of_constant_buffers():
    model = read_model(load("tiny_branch_float.tflite"))
    sub = model.subgraphs[0]
    stored = sum(len(model.buffers[t.buffer].data) for t in sub.tensors if model.buffers[t.buffer].data is not None)
    graph = build_graphs(model)[0]
    assert memory.weights_bytes(graph) == stored == 1036
    assert all(not memory.is_activation(t) for t in graph.tensors if t.has_data)


def test_graph_output_lives_to_the_last_step():
    graph = tiny_branch()
    spans = {l.tensor: l for l in memory.lifetimes(graph)}
    (out,) = graph.outputs
    assert spans[out].end == graph.num_operators - 1
    (inp,) = graph.inputs
    assert (spans[inp].start, spans[inp].end) == (0, 1)


def inplace_blocks():
    # conv a -> conv b -> ADD(b, a) -> conv c -> SUB(c, residual) -> MUL(difference, scale) -> conv
    return build_graphs(read_model(load("inplace_float.tflite")))[0]


def test_an_elementwise_operator_may_write_over_an_input_that_only_it_reads():
    graph = inplace_blocks()
    sources = {graph.operators[graph.producer[t]].kind: s for t, s in memory.inplace_sources(graph).items()}
    by_kind = {op.kind: op for op in graph.operators}
    # ADD(b, a): b (read by the ADD alone), not a (read by conv b too)
    assert sources["ADD"] == by_kind["ADD"].inputs[0]
    # SUB(c, residual): c; the residual is also read by MEAN
    assert sources["SUB"] == by_kind["SUB"].inputs[0]
    # MUL(difference, scale): the [1,16,16,16] map, never the broadcast [1,1,1,16] scale
    assert sources["MUL"] == by_kind["MUL"].inputs[0]


def test_in_place_buffers_hold_two_maps_where_three_were_alive():
    graph = inplace_blocks()
    map_bytes = 16 * 16 * 16 * 4
    assert memory.peak_bytes(graph) == 3 * map_bytes
    assert memory.lower_bound(graph, inplace=True) == 2 * map_bytes
    live = memory.profile(graph, inplace=True).live
    add_step = next(op.index for op in graph.operators if op.kind == "ADD")
    assert live[add_step] == 2 * map_bytes  # b (now the residual) and a


def test_a_chain_of_in_place_operators_is_one_buffer_alive_until_its_last_reader():
    graph = inplace_blocks()
    by_kind = {op.kind: op for op in graph.operators}
    sub, mul = by_kind["SUB"], by_kind["MUL"]
    (life,) = [l for l in memory.lifetimes(graph, inplace=True) if mul.outputs[0] in l.members]
    assert life.members == (sub.inputs[0], sub.outputs[0], mul.outputs[0])
    assert life.tensor == sub.inputs[0]
    assert life.end == max(graph.consumers[mul.outputs[0]])


def test_graph_inputs_and_outputs_are_never_written_over():
    from tflite_serenity.graph import Operator, Tensor, assemble_graph

    tensors = [Tensor(i, f"t{i}", (4,), "INT8", has_data=False, is_variable=False) for i in range(4)]
    operators = [Operator(0, "ADD", (0, 0), (1,)),  # input 0 twice
                 Operator(1, "ADD", (0, 1), (2,)),  # graph input 0; tensor 1, which is a graph output
                 Operator(2, "ADD", (2, 2), (3,))]  # one tensor read twice
    graph = assemble_graph(0, "g", tensors, operators, [0], [1, 3])
    assert memory.inplace_sources(graph) == {}


def test_without_in_place_every_tensor_is_its_own_buffer():
    graph = inplace_blocks()
    assert memory.buffer_roots(graph) == list(range(len(graph.tensors)))
    assert all(l.members in ((), (l.tensor,)) for l in memory.lifetimes(graph))


def test_for_a_stored_order_the_last_reader_may_write_over_an_input():
    from tflite_serenity.graph import Operator, Tensor, assemble_graph

    tensors = [Tensor(i, f"t{i}", (4,), "INT8", has_data=False, is_variable=False) for i in range(5)]
    operators = [Operator(0, "RELU", (0,), (1,)),
                 Operator(1, "RELU", (1,), (2,)),  # reads 1 first
                 Operator(2, "ADD", (1, 2), (3,)),  # reads 1 last: may write over it as stored
                 Operator(3, "RELU", (3,), (4,))]
    graph = assemble_graph(0, "g", tensors, operators, [0], [4])
    assert memory.inplace_sources(graph) == {3: 2}  # 2 is read by the ADD alone
    assert memory.inplace_sources(graph, stored_order=True) == {3: 1}  # the first input read last here


def test_lower_bound_adds_what_must_be_alive_while_a_weight_is_dequantized():
    # x(8) -> RELU -> y(2); DENSIFY(constant) -> d(16) -> DEQUANTIZE -> w(32); ADD(y, w) -> z(4).
    # While the DEQUANTIZE runs (48 B), the ADD has not: x or y (at least 2 B) is alive.
    sizes = [8, 2, 2, 16, 32, 4]
    tensors = [Tensor(i, f"t{i}", (s,), "INT8", has_data=i == 2, is_variable=False) for i, s in enumerate(sizes)]
    ops = [Operator(0, "RELU", (0,), (1,)), Operator(1, "DENSIFY", (2,), (3,)), Operator(2, "DEQUANTIZE", (3,), (4,)),
           Operator(3, "ADD", (1, 4), (5,))]
    graph = assemble_graph(0, "g", tensors, ops, [0], [5])
    assert memory.lower_bound(graph) == 48 + 2 == exhaustive_min_peak(graph)


def test_lower_bound_never_exceeds_the_best_order_with_weights():
    for seed in range(120):
        graph = constant_fed_graph(seed)
        for inplace in (False, True):
            assert memory.lower_bound(graph, inplace=inplace) <= exhaustive_min_peak(graph, inplace=inplace), seed
