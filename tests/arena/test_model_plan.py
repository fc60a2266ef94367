"""plan_arena without a runtime: what it writes, keeps, replaces and reports."""

from __future__ import annotations

import pytest

from tflite_serenity.arena.model_plan import drop_stale_plan, plan_arena
from tflite_serenity.cli.optimize import arena_line as summary
from tflite_serenity.tflm.offline import METADATA_NAME, encode_offline_plan, read_offline_plan
from tflite_serenity.graph import build_graphs
from tflite_serenity.model import read_model, with_metadata, write_model
from tflite_serenity.schedule.search import schedule_graph
from tests.models import load


def tree(name):
    return read_model(load(name))


def test_the_plan_is_written_where_it_beats_tflite_micro_and_reaches_the_bound():
    out, figures = plan_arena(tree("small_cnn_float.tflite"))
    assert figures.written and figures.optimal
    assert figures.lower_bound == figures.planned == figures.tflm_with_plan == 24576 < figures.tflm_greedy == 32768
    assert read_offline_plan(out) is not None


def test_no_plan_is_written_where_tflite_micro_does_as_well():
    model = tree("tiny_branch_float.tflite")
    out, figures = plan_arena(model)
    assert not figures.written and figures.tflm_greedy == figures.lower_bound == 4096
    assert out is model  # nothing to change


def test_the_given_orders_are_stored_with_the_plan():
    model = tree("irregular_int8.tflite")
    graph = build_graphs(model)[0]
    order = schedule_graph(graph, time_limit=5).order
    assert order != tuple(range(graph.num_operators))
    out, _ = plan_arena(model, {0: order})
    assert [op.opcodeIndex for op in out.subgraphs[0].operators] == \
        [model.subgraphs[0].operators[i].opcodeIndex for i in order]


def test_a_previous_plan_is_replaced_or_removed():
    model = tree("tiny_branch_float.tflite")
    stale = with_metadata(model, METADATA_NAME, encode_offline_plan([0] * 11))
    out, figures = plan_arena(stale)
    assert read_offline_plan(out) is None and "removed the model's offline plan" in figures.note
    model = tree("small_cnn_float.tflite")
    stale = with_metadata(model, METADATA_NAME, encode_offline_plan([-1] * len(model.subgraphs[0].tensors)))
    out, figures = plan_arena(stale)
    assert figures.written and "replaced" in figures.note
    assert read_offline_plan(out).offsets[model.subgraphs[0].inputs[0]] >= 0  # the input is pinned now


def test_a_stale_plan_is_dropped_and_a_valid_one_kept():
    model = tree("while_int8.tflite")
    wrong_count = with_metadata(model, METADATA_NAME, encode_offline_plan([-1] * 6))
    kept, note = drop_stale_plan(wrong_count)
    assert read_offline_plan(kept) is None and "19 tensors" in note
    planned, _ = plan_arena(tree("small_cnn_float.tflite"))
    assert drop_stale_plan(planned) == (planned, "")


def test_the_same_model_gives_the_same_bytes():
    first = write_model(plan_arena(tree("darts_tiny_int8.tflite"))[0])
    assert all(write_model(plan_arena(tree("darts_tiny_int8.tflite"))[0]) == first for _ in range(2))


def test_summary_names_the_arena_and_the_bound():
    _, written = plan_arena(tree("small_cnn_float.tflite"))
    assert summary(written).startswith("arena: 24,576 B (24.0 KiB) with our plan (at the lower bound)")
    _, kept = plan_arena(tree("tiny_branch_float.tflite"))
    assert "TFLite Micro's own plan" in summary(kept) and "not written" in summary(kept)
    assert summary(None).startswith("arena: not planned")


def test_a_model_past_32_bit_offsets_is_left_unplanned():
    model = tree("tiny_branch_float.tflite")
    model.subgraphs[0].tensors[9].shape = [1, 1 << 15, 1 << 15, 8]  # 32 GiB
    out, figures = plan_arena(model)
    assert figures is None and out is model


def test_a_type_tflite_micro_cannot_size_leaves_the_model_unplanned():
    model = tree("tiny_branch_float.tflite")
    model.subgraphs[0].tensors[9].type = 5  # STRING
    assert plan_arena(model)[1] is None


def test_a_custom_operator_is_named_where_the_plan_is_no_smaller_and_nothing_is_measured():
    from tflite_serenity.arena.model_plan import PlanReason

    _, figures = plan_arena(tree("custom_op_float.tflite"))
    assert figures.reason is PlanReason.NOT_SMALLER and figures.measured is None
    assert figures.unmodelled == ("CUSTOM:BesselI1e",)
    assert summary(figures).endswith("not written (simulated; CUSTOM:BesselI1e's buffers are not modelled)")


def test_a_plan_smaller_with_the_reference_kernels_but_not_with_cmsis_nn_says_so():
    # NASNetMobile int8 (the benchmark zoo): on the default target our plan's
    # reference head is the bound, but no plan found keeps CMSIS-NN's heads
    # within TFLite Micro's own; for the Cortex-M4's kernels alone it is written
    from pathlib import Path

    from tflite_serenity import optimize
    from tflite_serenity.arena.model_plan import PlanReason
    from tflite_serenity.options import Target

    path = Path(__file__).resolve().parents[2] / ".zoo" / "nasnetmobile_int8.tflite"
    if not path.exists():
        pytest.skip("the benchmark zoo is not here (python -m scripts.models.make_zoo)")
    result = optimize(path)
    assert result.arena.reason is PlanReason.LOSES_WITH_LIBRARY and not result.arena.written
    assert result.arena.tflm_with_plan < result.arena.tflm_greedy
    assert summary(result.arena).endswith("not written (--core names one Cortex-M to plan for its kernels alone)")
    assert optimize(path, target=Target.named("cortex-m4")).arena.written
