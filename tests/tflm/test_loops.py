"""Models whose WHILE-carried maps have all their copies pinned to one offset.

tests/data/loops/loop_strips_int8.tflite (scripts/models/make_loop_plan_models.py)
runs the middle row strips of a MobileNetV2-like prefix in a WHILE loop; its
offline plan pins each loop-carried map with the WHILE's input and output,
the condition's and body's inputs, the body's output and the in-place
DYNAMIC_UPDATE_SLICE outputs to one offset, and leaves every other tensor to
TFLite Micro.
"""

from __future__ import annotations

import pytest

from tflite_serenity import memory, optimize
from tflite_serenity.errors import PlanError
from tflite_serenity.graph import build_graphs
from tflite_serenity.model import read_model
from tflite_serenity.tflm.arena_size import estimate_tflm_arena
from tflite_serenity.tflm.buffers import alias_groups, model_buffers
from tflite_serenity.tflm.offline import check_offline_plan, read_offline_plan
from tflite_serenity.tflm.planner import ONLINE
from tflite_serenity.tflm.simulate import stored_head
from tests.models import load

LOOP = "loops/loop_strips_int8.tflite"


def loop_model():
    model = read_model(load(LOOP))
    graphs = build_graphs(model)
    return model, graphs, model_buffers(graphs), list(read_offline_plan(model).offsets)


def pinned_groups(graphs, buffers, offsets):
    """The loop alias groups, each with the offset its pinned members share."""
    found = []
    for group in alias_groups(graphs, buffers, loops=True):
        at = {offsets[buffers.plan_index(buffers.buffers[i])] for i in group} - {ONLINE}
        if len(at) == 1:
            found.append((group, at.pop()))
    return found


def test_the_pins_are_the_copies_of_each_carried_map():
    model, graphs, buffers, offsets = loop_model()
    while_op = next(op for op in graphs[0].operators if op.kind == "WHILE")
    cond, body = (graphs[s] for s in while_op.calls)
    groups = pinned_groups(graphs, buffers, offsets)
    assert len(groups) == 2  # the entry map and the accumulator
    for i in (0, 1):
        copies = {(0, while_op.inputs[i]), (0, while_op.outputs[i]), (cond.subgraph, cond.inputs[i]),
                  (body.subgraph, body.inputs[i]), (body.subgraph, body.outputs[i])}
        members = [g for g, _ in groups if copies <= {(buffers.buffers[k].subgraph, buffers.buffers[k].tensor)
                                                      for k in g}]
        assert len(members) == 1
    # the entry map is handed back unchanged; the accumulator is written in place
    assert body.outputs[0] == body.inputs[0] and body.outputs[1] != body.inputs[1]


def test_the_stored_plan_passes_the_check():
    model, _, _, offsets = loop_model()
    check_offline_plan(model, offsets)


def test_a_second_run_hands_the_loop_model_back_unchanged():
    data = load(LOOP)
    assert optimize(data).model == data


def test_a_tensor_pinned_onto_a_carried_map_it_does_not_copy_is_refused():
    model, graphs, buffers, offsets = loop_model()
    groups = pinned_groups(graphs, buffers, offsets)
    members = {i for g, _ in groups for i in g}
    body = next(op for op in graphs[0].operators if op.kind == "WHILE").calls[1]
    # a map the body computes (alive while the carried maps are)
    window = next(i for i, b in enumerate(buffers.buffers)
                  if b.subgraph == body and not b.is_scratch and i not in members and b.block.size > 1024)
    for _, offset in groups:
        moved = list(offsets)
        moved[buffers.plan_index(buffers.buffers[window])] = offset
        with pytest.raises(PlanError, match="unsafe offline plan"):
            check_offline_plan(model, moved)


def test_two_carried_maps_pinned_together_are_refused():
    model, graphs, buffers, offsets = loop_model()
    (entry, at_entry), (acc, at_acc) = sorted(pinned_groups(graphs, buffers, offsets), key=lambda g: g[1])
    moved = list(offsets)
    for i in acc:
        k = buffers.plan_index(buffers.buffers[i])
        if moved[k] == at_acc:
            moved[k] = at_entry
    with pytest.raises(PlanError, match="unsafe offline plan"):
        check_offline_plan(model, moved)


def tiny_loop(read_after: bool, in_place: bool, acc_given: bool = False):
    """Graphs of one WHILE carrying (entry, acc): the body hands the entry back
    and writes acc from a CONV of the entry, in place (DYNAMIC_UPDATE_SLICE)
    or from acc itself (a CONV reading it); ``read_after``: an ADD reads the
    WHILE's acc input after the loop; ``acc_given``: acc is a graph input
    (else a CONV of the entry)."""
    from tflite_serenity.graph import Operator, Tensor, assemble_graph

    def tensors(*names):
        return [Tensor(i, n, (1, 8, 8, 4), "INT8", False, False) for i, n in enumerate(names)]

    ops = [] if acc_given else [Operator(0, "CONV_2D", (0,), (1,))]
    ops.append(Operator(len(ops), "WHILE", (0, 1), (2, 3), calls=(1, 2)))
    if read_after:
        ops.append(Operator(len(ops), "ADD", (1, 3), (4,)))
    outer = assemble_graph(0, "main", tensors("x", "acc", "x_out", "acc_out", "y"), ops,
                           (0, 1) if acc_given else (0,), (4,) if read_after else (3,))
    flag = Tensor(2, "go", (), "BOOL", False, False)
    cond = assemble_graph(1, "cond", tensors("x_c", "acc_c") + [flag], [Operator(0, "LESS", (0, 1), (2,))],
                          (0, 1), (2,))
    if in_place:
        body_ops = [Operator(0, "CONV_2D", (0,), (2,)), Operator(1, "DYNAMIC_UPDATE_SLICE", (1, 2), (3,))]
    else:
        body_ops = [Operator(0, "CONV_2D", (0, 1), (3,))]
    body = assemble_graph(2, "body", tensors("x_b", "acc_b", "band", "acc_b2"), body_ops, (0, 1), (0, 3))
    return [outer, cond, body]


def test_a_while_input_read_after_the_loop_is_no_copy_of_a_changing_output():
    kept = set(memory.loop_aliases(tiny_loop(read_after=False, in_place=True)))
    read = set(memory.loop_aliases(tiny_loop(read_after=True, in_place=True)))
    assert ((0, 1), (0, 3)) in kept and ((0, 1), (0, 3)) not in read
    # the entry map is handed back unchanged: its input and output stay copies
    assert ((0, 0), (0, 2)) in kept and ((0, 0), (0, 2)) in read


def test_a_graph_input_is_no_copy_of_a_loop_output_that_changes():
    # the caller may still hold the model's input: the loop must not write over it
    given = set(memory.loop_aliases(tiny_loop(read_after=False, in_place=True, acc_given=True)))
    assert ((0, 1), (0, 3)) not in given and ((0, 0), (0, 2)) in given


def test_a_body_output_computed_while_its_input_is_read_is_no_copy():
    in_place = set(memory.loop_aliases(tiny_loop(read_after=False, in_place=True)))
    computed = set(memory.loop_aliases(tiny_loop(read_after=False, in_place=False)))
    assert ((0, 3), (2, 3)) in in_place and ((2, 1), (2, 3)) in in_place
    assert ((0, 3), (2, 3)) not in computed
    # the copies the WHILE makes stay pairs either way
    assert {((0, 3), (1, 1)), ((0, 3), (2, 1))} <= computed


def test_the_simulated_head_of_the_stored_plan():
    model, graphs, _, _ = loop_model()
    assert stored_head(model, graphs) == estimate_tflm_arena(load(LOOP)).head


def test_the_simulated_head_is_tflite_micros_measured_one():
    pytest.importorskip("tflite_micro")
    from tflite_serenity.verify import measure_tflm_arena

    data = load(LOOP)
    model = read_model(data)
    measured = measure_tflm_arena(data)
    assert measured.error is None
    assert stored_head(model, build_graphs(model)) == estimate_tflm_arena(data).head == measured.head_bytes


# The live-bytes peak with the loop: what lives across the WHILE plus its body's peak.

def test_the_peak_with_a_loop_is_what_lives_across_it_plus_the_body_peak():
    graphs = tiny_loop(read_after=False, in_place=True)  # every map 256 B
    # across the WHILE: x, acc and their outputs; the body at its DYNAMIC_UPDATE_SLICE: all four of its maps
    assert memory.nested_peak(graphs) == memory.NestedPeak(peak=4 * 256 + 4 * 256, step=1, inner=4 * 256)


def test_copies_pinned_together_count_once_in_the_peak_with_a_loop():
    graphs = tiny_loop(read_after=False, in_place=True)
    # x and acc once each across the loop; in the body only the band it computes
    assert memory.nested_peak(graphs, memory.loop_aliases(graphs)) == memory.NestedPeak(3 * 256, 1, 256)


def test_the_peak_with_the_loop_model_pins_is_within_tflite_micros_head():
    pytest.importorskip("tflite_micro")
    from tflite_serenity.tflm.offline import pinned_copies
    from tflite_serenity.verify import measure_tflm_arena

    model, graphs, _, _ = loop_model()
    head = measure_tflm_arena(load(LOOP)).head_bytes
    separate = memory.nested_peak(graphs).peak
    shared = memory.nested_peak(graphs, pinned_copies(model, graphs)).peak
    # a placement of live bytes needs at least their peak; TFLite Micro's plan is within 1% of it
    assert shared <= head <= shared * 1.01 < separate


def test_the_report_gives_the_peak_with_the_loop_and_the_head_of_the_stored_plan():
    pytest.importorskip("tflite_micro")
    from tflite_serenity.reporting.build import build_report
    from tflite_serenity.reporting.render import report_text

    report = build_report(load(LOOP))
    model, graphs, _, _ = loop_model()
    assert report.nested.peak_step == next(op.index for op in graphs[0].operators if op.kind == "WHILE")
    assert report.nested.peak_bytes < report.nested.separate_bytes
    assert report.arena.stored_plan_bytes == report.arena.measured_stored_plan_bytes == report.tflm.head_bytes
    assert "the model's own plan" in report_text(report)


def test_the_summary_gives_the_peak_with_the_loop_before_and_after():
    model, graphs, _, _ = loop_model()
    from tflite_serenity.tflm.offline import pinned_copies

    peak = memory.nested_peak(graphs, pinned_copies(model, graphs)).peak
    assert optimize(load(LOOP)).nested_peaks == (peak, peak)
    assert optimize(load("small_cnn_int8.tflite")).nested_peaks is None
