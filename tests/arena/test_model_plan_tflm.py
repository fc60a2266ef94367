"""Offline plans in the real TFLite Micro interpreter (child processes).

Every committed model TFLite Micro runs whose kernels are all modelled
(tflm.kernels.MODELLED, int16 paths included): the plan loads, outputs stay
bit-identical, and the head TFLite Micro measures is the one we predicted,
with our plan and without it. Models with unmodelled kernels are in
test_plan_rule.py.
"""

from __future__ import annotations

import pytest

from tflite_serenity import optimize
from tflite_serenity.arena.planner import plan
from tflite_serenity.tflm.buffers import alias_groups, merge_aliases, model_buffers
from tflite_serenity.tflm.kernels import unmodelled_kernels
from tflite_serenity.arena.model_plan import plan_arena, plan_offsets
from tflite_serenity.tflm.offline import check_offline_plan, encode_offline_plan, read_offline_plan, with_offline_plan
from tflite_serenity.tflm.planner import ONLINE, greedy_tflm
from tflite_serenity.graph import build_graphs
from tflite_serenity.model import read_model, with_metadata, write_model
from tests.models import load, manifest, runs_in

pytest.importorskip("tflite_micro")
from tflite_serenity.verify import compare_models, measure_tflm_arena  # noqa: E402

TFLM_MODELS = sorted(name for name in manifest() if runs_in(name, "tflm")
                     and not unmodelled_kernels(build_graphs(read_model(load(name)))))
MULTI_SUBGRAPH = ["if_float.tflite", "if_int8.tflite", "while_float.tflite", "while_int8.tflite",
                  "resource_variable_float.tflite"]


def forced_plan(model, scratch: bool = True, inplace: bool = False) -> bytes:
    """Our placement written as the plan whether or not it beats TFLite Micro's
    (with ``inplace``, element-wise outputs share their dying inputs' offsets)."""
    graphs = build_graphs(model)
    buffers = model_buffers(graphs, scratch=scratch)
    groups = alias_groups(graphs, buffers, reshapes=False) if inplace else []
    units, unit_of = merge_aliases(buffers.blocks, groups)
    placed = plan(units).offsets
    offsets, _ = plan_offsets(buffers, [placed[u] for u in unit_of])
    return write_model(with_offline_plan(model, offsets))


@pytest.mark.parametrize("name", TFLM_MODELS)
def test_plan_runs_bit_identical_and_tflite_micro_measures_the_predicted_head(name):
    data = load(name)
    out, figures = plan_arena(read_model(data))
    assert figures is not None and figures.measured is None  # decided on our figures alone
    assert figures.lower_bound <= figures.planned <= figures.tflm_with_plan
    if not figures.written:
        assert figures.tflm_with_plan >= figures.tflm_greedy
        assert measure_tflm_arena(data).head_bytes == figures.tflm_greedy
        return
    planned = write_model(out)
    assert read_offline_plan(read_model(planned)) is not None
    comparison = compare_models(data, planned, runtime="tflm", trials=1)
    assert comparison.bit_identical, comparison.describe()
    assert comparison.original_tflm.head_bytes == figures.tflm_greedy
    assert comparison.candidate_tflm.head_bytes == figures.tflm_with_plan == figures.planned
    assert figures.tflm_with_plan < figures.tflm_greedy


@pytest.mark.parametrize("name", TFLM_MODELS)
def test_in_place_plan_runs_bit_identical_at_the_predicted_head(name):
    # ADD, SUB and MUL written over a dying input: TFLite Micro's kernels
    # read each element before writing it, which these runs check
    data = load(name)
    out, figures = plan_arena(read_model(data), inplace=True)
    if not figures.written:
        assert figures.tflm_with_plan >= figures.tflm_greedy
        return
    comparison = compare_models(data, write_model(out), runtime="tflm", trials=1)
    assert comparison.bit_identical, comparison.describe()
    assert comparison.candidate_tflm.head_bytes == figures.tflm_with_plan == figures.planned


def test_in_place_outputs_take_their_sources_offsets_and_the_head_drops_by_a_map():
    model = read_model(load("inplace_float.tflite"))
    out, figures = plan_arena(model, inplace=True)
    offsets = read_offline_plan(out).offsets
    graph = build_graphs(out)[0]
    for op in graph.operators:
        if op.kind in ("ADD", "SUB", "MUL"):
            assert offsets[op.outputs[0]] == offsets[op.inputs[0]], op.kind
    map_bytes = 16 * 16 * 16 * 4
    assert figures.tflm_greedy == 3 * map_bytes
    assert measure_tflm_arena(write_model(out)).head_bytes == figures.tflm_with_plan < 2 * map_bytes + 256


def test_an_in_place_pair_sharing_exactly_passes_the_check_and_a_shifted_one_does_not():
    from tflite_serenity.errors import PlanError

    model = read_model(load("inplace_float.tflite"))
    out, _ = plan_arena(model, inplace=True)
    offsets = list(read_offline_plan(out).offsets)
    add = next(op for op in build_graphs(out)[0].operators if op.kind == "ADD")
    check_offline_plan(out, offsets)
    offsets[add.outputs[0]] = offsets[add.inputs[0]] + 16
    with pytest.raises(PlanError, match="overlaps"):
        check_offline_plan(out, offsets)


@pytest.mark.parametrize("name", MULTI_SUBGRAPH)
def test_multi_subgraph_plans_run_bit_identical_at_the_planned_head(name):
    # Written even where TFLite Micro's own plan is as small: every tensor of
    # every subgraph pinned, control-flow subgraphs inside their operators' scopes.
    data = load(name)
    model = read_model(data)
    planned = forced_plan(model)
    comparison = compare_models(data, planned, runtime="tflm", trials=2)
    assert comparison.bit_identical, comparison.describe()
    buffers = model_buffers(build_graphs(model))
    assert comparison.candidate_tflm.head_bytes == plan(buffers.blocks).arena_bytes


@pytest.mark.parametrize("name", ["if_float.tflite", "if_int8.tflite"])
def test_in_place_pairs_inside_control_flow_branches_run_bit_identical(name):
    # each IF branch subgraph has an ADD whose output may take its dying input's offset
    data = load(name)
    model = read_model(data)
    graphs = build_graphs(model)
    assert alias_groups(graphs, model_buffers(graphs), reshapes=False)
    comparison = compare_models(data, forced_plan(model, inplace=True), runtime="tflm", trials=2)
    assert comparison.bit_identical, comparison.describe()


def test_offsets_of_later_subgraphs_are_read_from_the_concatenated_list():
    # Pin one tensor of the WHILE body (subgraph 2) far out: if TFLite Micro
    # indexed offsets per subgraph, the head would not move.
    model = read_model(load("while_int8.tflite"))
    buffers = model_buffers(build_graphs(model))
    body = [b for b in buffers.buffers if b.subgraph == 2 and not b.is_scratch][-1]
    offsets = [ONLINE] * buffers.total_tensors
    offsets[buffers.plan_index(body)] = 1 << 20
    data = write_model(with_metadata(model, "OfflineMemoryAllocation", encode_offline_plan(offsets)))
    assert measure_tflm_arena(data).head_bytes == (1 << 20) + 32


def test_scratch_buffers_get_the_room_the_plan_leaves_for_them():
    # unet_tiny_int8's TRANSPOSE_CONVs ask for int32 scratch buffers that an
    # offline plan cannot pin. Packed without them, TFLite Micro puts them
    # above the plan; planned with them, they land in the room left.
    data = load("unet_tiny_int8.tflite")
    model = read_model(data)
    buffers = model_buffers(build_graphs(model))
    blind = measure_tflm_arena(forced_plan(model, scratch=False))
    aware = measure_tflm_arena(forced_plan(model, scratch=True))
    own = measure_tflm_arena(data)
    bound = plan(buffers.blocks).lower_bound
    assert aware.head_bytes == bound <= own.head_bytes < blind.head_bytes
    # The simulation predicted the blind plan's head too.
    bare = model_buffers(build_graphs(model), scratch=False)
    pinned = dict(zip(((b.subgraph, b.tensor) for b in bare.buffers), plan(bare.blocks).offsets))
    online = [ONLINE if b.is_scratch else pinned[(b.subgraph, b.tensor)] for b in buffers.buffers]
    assert greedy_tflm(buffers.blocks, offline_offsets=online).arena_bytes == blind.head_bytes


def test_main_command_plans_the_scheduled_order():
    data = load("darts_tiny_int8.tflite")
    result = optimize(data, time_limit=10)
    assert result.arena is not None and result.arena.written
    assert result.arena.planned == result.arena.lower_bound
    comparison = compare_models(data, result.model, runtime="tflm", trials=2)
    assert comparison.bit_identical, comparison.describe()
    assert comparison.candidate_tflm.head_bytes == result.arena.head < comparison.original_tflm.head_bytes


def test_no_arena_plan_leaves_no_stale_plan_behind():
    # A plan made for the stored order, then a reorder without planning again.
    model = read_model(load("irregular_int8.tflite"))
    with_plan = forced_plan(model)
    result = optimize(with_plan, time_limit=10, arena_plan=False, rewrite=False)
    assert result.arena is None
    out = read_model(result.model)
    stored = read_offline_plan(out)
    if stored is not None:
        check_offline_plan(out, stored.offsets)  # still safe for the new order
    assert measure_tflm_arena(result.model).error is None


@pytest.mark.parametrize("name", ["small_cnn_float.tflite", "transformer_tiny_int8.tflite"])
def test_reshapes_sharing_their_input_bytes_run_bit_identical(name):
    data = load(name)
    model = read_model(data)
    graphs = build_graphs(model)
    buffers = model_buffers(graphs)
    groups = alias_groups(graphs, buffers)
    units, unit_of = merge_aliases(buffers.blocks, groups)
    offsets, _ = plan_offsets(buffers, [plan(units).offsets[u] for u in unit_of])
    for group in groups:  # the plan really shares
        assert len({offsets[buffers.plan_index(buffers.buffers[i])] for i in group}) == 1
    planned = write_model(with_offline_plan(model, offsets))
    comparison = compare_models(data, planned, runtime="tflm", trials=2)
    assert comparison.bit_identical, comparison.describe()
    assert comparison.candidate_tflm.head_bytes == plan(units).arena_bytes
