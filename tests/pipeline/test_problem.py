"""The cost of a split: transfers per hop, constants per segment, streaming, validity."""

from __future__ import annotations

import numpy as np
import pytest

from tflite_serenity.errors import InfeasibleError
from tflite_serenity.learned.synthetic import random_dag
from tflite_serenity.edgetpu import build_problem, edge_tpu
from tflite_serenity.edgetpu.problem import PS_PER_S, Flow, PipelineProblem, boundaries, evaluate, make_split


def _three_ops(cache_bytes: int = 10**9) -> PipelineProblem:
    """x(8 B) -> a -> t1(4 B) -> b -> t2(2 B) -> c -> y(1 B); c also reads t1.
    Constant 0 (100 B) is read by a and c, constant 1 (30 B) by b."""
    return PipelineProblem(
        preds=((), (0,), (0, 1)),
        compute_ps=(10, 10, 10),
        macs=(1, 2, 3),
        op_params=((0,), (1,), (0,)),
        param_bytes=(100, 30),
        flows=(Flow(0, 8, -1, (0,), False), Flow(1, 4, 0, (1, 2), False), Flow(2, 2, 1, (2,), False),
               Flow(3, 1, 2, (), True)),
        cache_bytes=cache_bytes,
        stream_ps_per_byte=2,
        link_ps_per_byte=1,
        segment_overhead_ps=1000,
    )


def test_a_tensor_used_two_stages_later_crosses_every_boundary_between():
    segments = evaluate(_three_ops(), (0, 1, 2), 3)
    assert [(s.in_bytes, s.out_bytes) for s in segments] == [(8, 4), (4, 6), (6, 1)]


def test_boundaries_list_the_forwarded_tensor_on_each_hop():
    assert boundaries(_three_ops(), (0, 1, 2), 3) == [[0], [1], [1, 2], [3]]


def test_segment_time_adds_overhead_compute_streaming_and_transfers():
    segments = evaluate(_three_ops(cache_bytes=50), (0, 1, 2), 3)
    # stage 0: overhead 1000 + compute 10 + 2 ps x (100 - 50) streamed + 1 ps x (8 + 4) moved
    assert [s.time_ps for s in segments] == [1000 + 10 + 100 + 12, 1000 + 10 + 0 + 10, 1000 + 10 + 100 + 7]


def test_a_constant_read_in_two_stages_counts_in_both():
    segments = evaluate(_three_ops(), (0, 1, 2), 3)
    assert [s.param_bytes for s in segments] == [100, 30, 100]
    assert evaluate(_three_ops(), (0, 0, 1), 2)[0].param_bytes == 130


def test_parameters_within_the_cache_are_not_streamed():
    segments = evaluate(_three_ops(cache_bytes=100), (0, 0, 1), 2)
    assert (segments[0].cached, segments[0].streamed_bytes) == (False, 30)
    assert segments[1].cached


def test_a_model_input_and_output_stay_on_the_outer_boundaries():
    segments = evaluate(_three_ops(), (0, 0, 0), 1)
    assert (segments[0].in_bytes, segments[0].out_bytes) == (8, 1)


def test_an_edge_going_backwards_is_refused():
    with pytest.raises(InfeasibleError, match="depends on operator 0"):
        evaluate(_three_ops(), (1, 0, 1), 2)


def test_an_empty_stage_is_refused():
    with pytest.raises(InfeasibleError, match="hold no operator"):
        evaluate(_three_ops(), (0, 0, 2), 3)


def test_a_stage_out_of_range_is_refused():
    with pytest.raises(InfeasibleError, match="0..1"):
        evaluate(_three_ops(), (0, 1, 2), 2)


def test_a_split_needs_a_stage_per_operator():
    with pytest.raises(InfeasibleError, match="one stage per operator"):
        evaluate(_three_ops(), (0, 1), 2)


def test_split_reports_bottleneck_throughput_and_gap():
    split = make_split(_three_ops(), "exact", (0, 1, 2), 3, "feasible", 1000, 0.0)
    assert split.bottleneck_ps == 1022 and split.total_ps == 1022 + 1020 + 1017
    assert split.throughput == pytest.approx(PS_PER_S / 1022)
    assert split.gap == pytest.approx(22 / 1022)


def test_problem_arrays_hold_the_same_problem_and_are_built_once():
    problem = build_problem(random_dag(np.random.default_rng(8), 30, 40), edge_tpu())
    a = problem.arrays
    assert problem.arrays is a
    assert a.pred.tolist() == [u for ps in problem.preds for u in ps]
    assert a.pred_count.tolist() == [len(ps) for ps in problem.preds]
    assert a.param.tolist() == [w for ws in problem.op_params for w in ws]
    assert a.consumer.tolist() == [c for f in problem.flows for c in f.consumers]
    assert a.flow_size.tolist() == [f.size for f in problem.flows]
    assert a.flow_producer.tolist() == [f.producer for f in problem.flows]
    assert a.flow_output.tolist() == [f.is_output for f in problem.flows]
