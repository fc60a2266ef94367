"""The buffers TFLite Micro plans for a model, on its allocation-scope timeline."""

from __future__ import annotations

from tflite_serenity.arena import lower_bound
from tflite_serenity.tflm.buffers import NEVER, alias_groups, merge_aliases, model_buffers
from tflite_serenity.arena.model_plan import plan_arena
from tflite_serenity.tflm.scratch import scratch_requests
from tflite_serenity.graph import Operator, Tensor, assemble_graph, build_graphs
from tflite_serenity.model import read_model
from tests.models import load


def buffers_of(name: str, model=None):
    model = model if model is not None else read_model(load(name))
    graphs = build_graphs(model)
    return graphs, model_buffers(graphs)


def spans(buffers, subgraph: int) -> dict[int, tuple[int, int, int]]:
    return {b.tensor: (b.block.size, b.block.start, b.block.end)
            for b in buffers.buffers if b.subgraph == subgraph and not b.is_scratch}


def test_one_subgraph_lifetimes_are_steps_shifted_by_the_input_scope():
    # docs/memory-model.md's worked example: x -> a, b -> c -> y. TFLite Micro
    # creates the input at scope 0 and runs operator i at scope i + 1.
    _, buffers = buffers_of("tiny_branch_float.tflite")
    assert spans(buffers, 0) == {
        0: (1024, 0, 2),   # x, read by the two convolutions (steps 0 and 1)
        7: (1536, 1, 3),   # a
        8: (512, 2, 3),    # b
        9: (2048, 3, 4),   # c
        10: (768, 4, 4),   # y, a graph output: to the end
    }
    assert buffers.tensor_counts == (11,)


def test_while_subgraphs_live_inside_the_while_operator_and_apart_from_each_other():
    graphs, buffers = buffers_of("while_float.tflite")
    (while_op,) = graphs[0].operators
    cond, body = while_op.calls
    outer = spans(buffers, 0)
    first, last = min(s for _, s, _ in outer.values() if s > 0), max(e for _, _, e in outer.values())
    inner = {s: spans(buffers, s) for s in (cond, body)}
    for tensors in inner.values():
        assert all(first < start <= end <= last for _, start, end in tensors.values())
    cond_end = max(e for _, _, e in inner[cond].values())
    body_start = min(s for _, s, _ in inner[body].values())
    assert cond_end < body_start  # TFLite Micro walks cond, then body: never alive together
    # The WHILE operator's own inputs and outputs stay alive across both.
    own = [t for t in while_op.inputs + while_op.outputs if t in outer]  # constants are not planned
    assert own
    for t in own:
        assert outer[t][1] <= first and outer[t][2] == last


def test_if_branches_are_walked_then_first():
    graphs, buffers = buffers_of("if_float.tflite")
    if_op = next(op for op in graphs[0].operators if op.kind == "IF")
    then_, else_ = if_op.calls
    then_start = min(s for _, s, _ in spans(buffers, then_).values())
    else_start = min(s for _, s, _ in spans(buffers, else_).values())
    assert then_start < else_start


def test_offsets_index_the_concatenated_tensor_lists():
    _, buffers = buffers_of("while_int8.tflite")
    counts = buffers.tensor_counts
    for b in buffers.buffers:
        if not b.is_scratch:
            assert buffers.plan_index(b) == sum(counts[:b.subgraph]) + b.tensor


def test_var_handle_outputs_and_variables_are_not_planned():
    graphs, buffers = buffers_of("resource_variable_float.tflite")
    handles = {(g.subgraph, t) for g in graphs for op in g.operators if op.kind == "VAR_HANDLE" for t in op.outputs}
    planned = {(b.subgraph, b.tensor) for b in buffers.buffers}
    assert handles and not handles & planned


def test_int8_transpose_conv_asks_for_an_int32_accumulator_per_output_element():
    graphs, buffers = buffers_of("unet_tiny_int8.tflite")
    graph = graphs[0]
    scratch = [b for b in buffers.buffers if b.is_scratch]
    convs = [op for op in graph.operators if op.kind == "TRANSPOSE_CONV"]
    assert len(scratch) == len(convs) == 2
    for b, op in zip(scratch, convs):
        shape = graph.tensors[op.outputs[0]].shape
        assert b.operator == op.index and b.block.size == 4 * shape[0] * shape[1] * shape[2] * shape[3]
        assert b.block.start == b.block.end == op.index + 1  # alive at its operator's scope only


def test_int8_mean_asks_for_an_accumulator_and_two_index_arrays():
    graphs, _ = buffers_of("transformer_tiny_int8.tflite")
    graph = graphs[0]
    mean = next(op for op in graph.operators if op.kind == "MEAN")
    data, axis, out = mean.inputs[0], mean.inputs[1], mean.outputs[0]
    elements = 1
    for d in graph.tensors[out].shape:
        elements *= d
    axes = 1
    for d in graph.tensors[axis].shape:
        axes *= d
    assert scratch_requests(graph, mean.index) == [4 * elements, 4 * len(graph.tensors[data].shape), 4 * axes]


def test_a_subgraph_nothing_runs_is_never_alive():
    model = read_model(load("if_float.tflite"))
    options = next(op for op in model.subgraphs[0].operators if op.builtinOptions is not None
                   and hasattr(op.builtinOptions, "elseSubgraphIndex")).builtinOptions
    orphan = options.elseSubgraphIndex
    options.elseSubgraphIndex = options.thenSubgraphIndex  # both branches run the same subgraph
    _, buffers = buffers_of("", model)
    assert all((s, e) == (NEVER, NEVER) for _, s, e in spans(buffers, orphan).values())


def test_a_subgraph_that_runs_itself_is_left_unplanned():
    model = read_model(load("while_float.tflite"))
    model.subgraphs[0].operators[0].builtinOptions.bodySubgraphIndex = 0
    out, figures = plan_arena(model)
    assert figures is None and out is model


def test_a_reshape_whose_input_dies_there_may_share_its_bytes():
    graphs, buffers = buffers_of("transformer_tiny_int8.tflite")
    graph = graphs[0]
    groups = alias_groups(graphs, buffers, inplace=False)
    reshapes = [op for op in graph.operators if op.kind == "RESHAPE"]
    assert len(groups) == len(reshapes) == 4
    for group, op in zip(groups, reshapes):
        assert sorted(buffers.buffers[i].tensor for i in group) == sorted([op.inputs[0], op.outputs[0]])


def test_sharing_lowers_the_bound_where_the_reshape_is_the_peak():
    # x (256 B) -> RESHAPE -> y (256 B) -> FULLY_CONNECTED -> z (16 B): x and y
    # are alive together only at the reshape.
    tensors = [Tensor(0, "x", (1, 64), "FLOAT32", False, False), Tensor(1, "shape", (1,), "INT32", True, False),
               Tensor(2, "y", (64,), "FLOAT32", False, False), Tensor(3, "w", (4, 64), "FLOAT32", True, False),
               Tensor(4, "z", (1, 4), "FLOAT32", False, False)]
    operators = [Operator(0, "RESHAPE", (0, 1), (2,)), Operator(1, "FULLY_CONNECTED", (2, 3, -1), (4,))]
    graph = assemble_graph(0, "g", tensors, operators, (0,), (4,))
    buffers = model_buffers([graph])
    groups = alias_groups([graph], buffers)
    assert groups == [[0, 1]]
    merged, unit_of = merge_aliases(buffers.blocks, groups)
    assert unit_of == [0, 0, 1]
    assert lower_bound(buffers.blocks) == 512 and lower_bound(merged) == 256 + 16


def test_a_reshape_input_read_again_later_is_not_shared():
    tensors = [Tensor(0, "x", (1, 64), "FLOAT32", False, False), Tensor(1, "shape", (1,), "INT32", True, False),
               Tensor(2, "y", (64,), "FLOAT32", False, False), Tensor(3, "z", (1, 64), "FLOAT32", False, False)]
    operators = [Operator(0, "RESHAPE", (0, 1), (2,)), Operator(1, "ADD", (0, 0), (3,))]
    graph = assemble_graph(0, "g", tensors, operators, (0,), (2, 3))
    assert alias_groups([graph], model_buffers([graph])) == []


def test_scratch_requests_differ_by_kernel_library():
    # small_cnn_int8: its first CONV_2D (3x3 over 3 channels: im2col), a 3x3
    # DEPTHWISE_CONV_2D and an AVERAGE_POOL_2D over 16 channels
    graph = build_graphs(read_model(load("small_cnn_int8.tflite")))[0]
    kinds = {}
    for op in graph.operators:
        kinds.setdefault(op.kind, op.index)  # the first of each kind
    by_library = {library: [scratch_requests(graph, kinds[k], library)
                            for k in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D")]
                  for library in ("reference", "cmsis-nn-dsp", "cmsis-nn-mve")}
    assert by_library == {
        "reference": [[], [], []],
        "cmsis-nn-dsp": [[112], [], [64]],  # 2 * 2 * (3*3*3 -> 28); the 3x3 depthwise asks nothing; 4 B per channel
        "cmsis-nn-mve": [[128], [4464], []],  # 4 * 16 * ceil(27 / 16); 4 * 124 * 3 * 3
    }


def test_the_plan_leaves_room_for_the_largest_request_of_any_library():
    graph = build_graphs(read_model(load("small_cnn_int8.tflite")))
    room = model_buffers(graph, kernels=("reference", "cmsis-nn-dsp", "cmsis-nn-mve"))
    assert sorted(b.block.size for b in room.buffers if b.is_scratch) == [64, 128, 4464]


def test_an_unknown_kernel_library_is_a_programming_error():
    import pytest

    graph = build_graphs(read_model(load("small_cnn_int8.tflite")))[0]
    with pytest.raises(ValueError, match="unknown kernel library"):
        scratch_requests(graph, 0, "esp-nn")
