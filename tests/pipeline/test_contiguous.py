"""Contiguous cuts of one order: the exact DP and the compiler's equal-parameter rule."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tflite_serenity.errors import InfeasibleError
from tflite_serenity.edgetpu.contiguous import (
    _INF, SegmentTimes, contiguous_split, cost_matrix, param_count_split,
)
from tflite_serenity.edgetpu.problem import Flow, PipelineProblem, evaluate
from tests.pipeline.problems import brute_force_contiguous, key, random_problem


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", range(10))
def test_contiguous_dp_matches_brute_force_over_cuts(seed, k):
    problem = random_problem(300 * k + seed, max_ops=12, min_ops=max(k, 2))
    split = contiguous_split(problem, k)
    assert key(split.segments) == brute_force_contiguous(problem, k)
    assert split.status == "optimal" and split.lower_bound_ps == split.bottleneck_ps


@pytest.mark.parametrize("seed", range(5))
def test_cost_matrix_entry_is_the_cost_of_that_segment(seed):
    problem = random_problem(seed, max_ops=10, min_ops=6)
    n = problem.num_operators
    cost = cost_matrix(problem, range(n))
    for i, j in [(0, 2), (2, 5), (3, n), (0, n)]:
        pieces = [p for p in [(0, i), (i, j), (j, n)] if p[0] < p[1]]
        stages = [s for s, (a, b) in enumerate(pieces) for _ in range(a, b)]
        middle = pieces.index((i, j))
        assert cost[i, j] == evaluate(problem, stages, len(pieces))[middle].time_ps
    assert cost[3, 3] == _INF and cost[4, 2] == _INF


def test_contiguous_follows_a_given_order():
    problem = _chain([5, 5, 5, 5], diamond=True)
    assert contiguous_split(problem, 2).stages == (0, 0, 1, 1)
    assert contiguous_split(problem, 2, order=[0, 2, 1, 3]).stages == (0, 1, 0, 1)


def test_contiguous_refuses_an_order_against_an_edge():
    with pytest.raises(InfeasibleError, match="depends on"):
        contiguous_split(_chain([1, 1, 1]), 2, order=[1, 0, 2])


def test_contiguous_refuses_more_stages_than_operators():
    with pytest.raises(InfeasibleError, match="non-empty segments"):
        contiguous_split(_chain([1, 1]), 3)


def test_param_count_cuts_at_equal_parameter_bytes():
    # parameters 100, 0, 100, 0, 100, 100: halves of 400 meet after operator 2
    problem = _chain([1] * 6, params=[100, 0, 100, 0, 100, 100])
    assert param_count_split(problem, 2).stages == (0, 0, 0, 1, 1, 1)


def test_param_count_leaves_no_stage_empty():
    problem = _chain([1] * 4, params=[1000, 0, 0, 0])
    split = param_count_split(problem, 4)
    assert split.stages == (0, 1, 2, 3) and split.status == "rule"


def test_param_count_ignores_compute_where_the_dp_does_not():
    # equal parameters but the last operator is slow: the rule splits in the middle
    problem = _chain([1, 1, 1, 10_000], params=[10, 10, 10, 10])
    assert param_count_split(problem, 2).stages == (0, 0, 1, 1)
    assert contiguous_split(problem, 2).stages == (0, 0, 0, 1)


def _chain(compute, params=None, diamond=False) -> PipelineProblem:
    """Operators in a chain (or 0 -> {1, 2} -> 3), one tiny tensor per edge."""
    n = len(compute)
    params = params or [0] * n
    if diamond:
        preds = ((), (0,), (0,), (1, 2))
        flows = (Flow(0, 1, -1, (0,), False), Flow(1, 1, 0, (1, 2), False), Flow(2, 1, 1, (3,), False),
                 Flow(3, 1, 2, (3,), False), Flow(4, 1, 3, (), True))
    else:
        preds = tuple(() if v == 0 else (v - 1,) for v in range(n))
        flows = tuple([Flow(0, 1, -1, (0,), False)]
                      + [Flow(v + 1, 1, v, (v + 1,) if v + 1 < n else (), v + 1 == n) for v in range(n)])
    return PipelineProblem(
        preds=preds, compute_ps=tuple(compute), macs=(0,) * n,
        op_params=tuple((v,) for v in range(n)), param_bytes=tuple(params), flows=flows,
        cache_bytes=10**9, stream_ps_per_byte=1, link_ps_per_byte=1,
    )


def test_contiguous_refuses_an_order_that_is_not_a_permutation():
    with pytest.raises(InfeasibleError, match="each of the 3 operators once"):
        contiguous_split(_chain([1, 1, 1]), 2, order=[0, 1, 1])


def _reference_cost_matrix(problem: PipelineProblem, order) -> np.ndarray:
    """The straightforward segment times (the loop the vectorized version replaced):
    a loop over flows for the bytes crossing each cut, one difference row per
    constant for the parameter bytes of each piece."""
    n = len(order)
    position = np.empty(n, dtype=np.int64)
    position[np.asarray(order, dtype=np.int64)] = np.arange(n)
    compute = np.zeros(n + 1, dtype=np.int64)
    compute[1:] = np.cumsum(np.asarray(problem.compute_ps, dtype=np.int64)[np.asarray(order, dtype=np.int64)])
    crossing = np.zeros(n + 2, dtype=np.int64)
    for flow in problem.flows:
        first = 0 if flow.producer < 0 else int(position[flow.producer]) + 1
        last = max((int(position[c]) for c in flow.consumers), default=-1)
        if flow.is_output:
            last = n
        if flow.producer < 0:
            last = max(last, 0)
        if first <= last:
            crossing[first] += flow.size
            crossing[last + 1] -= flow.size
    crossing = np.cumsum(crossing)[: n + 1]
    users: dict[int, list[int]] = {}
    for v, ws in enumerate(problem.op_params):
        for w in ws:
            users.setdefault(w, []).append(int(position[v]))
    params = np.zeros((n + 1, n + 2), dtype=np.int64)
    rows = np.arange(n + 1)
    for w, pos in users.items():
        pos_sorted = np.sort(np.asarray(pos, dtype=np.int64))
        nxt = np.searchsorted(pos_sorted, rows)
        has = nxt < len(pos_sorted)
        np.add.at(params, (rows[has], pos_sorted[nxt[has]] + 1), problem.param_bytes[w])
    params = np.cumsum(params, axis=1)[:, : n + 1]
    streamed = np.maximum(params - problem.cache_bytes, 0)
    cost = (problem.segment_overhead_ps + (compute[None, :] - compute[:, None])
            + problem.stream_ps_per_byte * streamed
            + problem.link_ps_per_byte * (crossing[:, None] + crossing[None, :]))
    return np.where(np.triu(np.ones((n + 1, n + 1), dtype=bool), k=1), cost, _INF)


def _reference_split(problem: PipelineProblem, k: int, order) -> tuple[int, list[int]]:
    """Bottleneck and cuts by the plain O(k n^2) DP over the whole matrix (same tie rules)."""
    cost = _reference_cost_matrix(problem, order)
    n = len(order)
    best = np.full(n + 1, _INF, dtype=np.int64)
    best[0] = 0
    for _ in range(k):
        best = np.maximum(best[:, None], cost).min(axis=0)
    bottleneck = int(best[n])
    allowed = np.where(cost <= bottleneck, cost, _INF)
    total = np.full(n + 1, _INF, dtype=np.int64)
    total[0] = 0
    choices = []
    for _ in range(k):
        sums = np.minimum(total[:, None] + allowed, _INF)
        choices.append(sums.argmin(axis=0))
        total = sums.min(axis=0)
    cuts = [n]
    for m in range(k - 1, -1, -1):
        cuts.append(int(choices[m][cuts[-1]]))
    return bottleneck, cuts[::-1]


def _random_order(problem: PipelineProblem, rng: random.Random) -> list[int]:
    n = problem.num_operators
    waiting = [len(ps) for ps in problem.preds]
    succs = [[v for v in range(n) if u in problem.preds[v]] for u in range(n)]
    ready, order = [v for v in range(n) if not waiting[v]], []
    while ready:
        v = ready.pop(rng.randrange(len(ready)))
        order.append(v)
        for w in succs[v]:
            waiting[w] -= 1
            if not waiting[w]:
                ready.append(w)
    return order


@pytest.mark.parametrize("seed", range(60))
def test_vectorized_segment_times_and_dp_equal_the_straightforward_ones(seed):
    # random orders, shared and repeated constants, model inputs and outputs, k up to n
    problem = random_problem(7000 + seed, max_ops=14, min_ops=1)
    order = _random_order(problem, random.Random(seed))
    reference = _reference_cost_matrix(problem, order)
    assert np.array_equal(cost_matrix(problem, order), reference)
    times = SegmentTimes(problem, order)
    n = len(order)
    for i in range(n + 1):
        assert np.array_equal(times.row(i), reference[i]) and np.array_equal(times.column(i), reference[:, i])
    for k in range(1, n + 1):
        bottleneck, cuts = _reference_split(problem, k, order)
        split = contiguous_split(problem, k, order)
        assert split.bottleneck_ps == bottleneck
        assert [split.stages[v] for v in order] == [s for s in range(k) for _ in range(cuts[s], cuts[s + 1])]
