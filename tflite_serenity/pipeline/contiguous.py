"""Splits that cut one fixed operator order into ``k`` contiguous pieces.

:func:`contiguous_split` finds the best such cut exactly by dynamic
programming (the search space of the Edge TPU compiler's ``--num_segments``);
:func:`param_count_split` is that compiler's rule: cut where the running
parameter bytes reach ``1/k``, ``2/k``... of the total.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from ..errors import InfeasibleError
from ..graph import check_topological
from .problem import PipelineProblem, Split, make_split

_INF = np.int64(1) << np.int64(60)


def contiguous_split(problem: PipelineProblem, k: int, order: Sequence[int] | None = None) -> Split:
    """The best split into ``k`` contiguous pieces of ``order`` (default: stored order).

    Minimizes the bottleneck segment time, then the total time; ties are
    broken deterministically (the last piece starts as early as possible,
    then the one before it...). Exact for this search space, in
    ``O(k n^2)`` time and ``O(n^2)`` memory.

    Raises
    ------
    InfeasibleError
        If ``k`` is not in ``1..n`` or ``order`` is not a valid order.
    """
    start = time.perf_counter()
    order = _check(problem, k, order)
    cost = cost_matrix(problem, order)
    n = len(order)
    best = np.full(n + 1, _INF, dtype=np.int64)
    best[0] = 0
    for _ in range(k):
        best = np.maximum(best[:, None], cost).min(axis=0)
    bottleneck = int(best[n])
    # Second pass: least total time among the splits that meet the bottleneck.
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
    cuts.reverse()
    stages = _stages_from_cuts(order, cuts)
    return make_split(problem, "contiguous", stages, k, "optimal", bottleneck, time.perf_counter() - start)


def param_count_split(problem: PipelineProblem, k: int, order: Sequence[int] | None = None) -> Split:
    """The Edge TPU compiler's rule: contiguous pieces of about equal parameter bytes.

    Cut ``s`` is placed where the running parameter bytes of ``order`` (each
    constant counted at its first use) come nearest to ``s/k`` of the total,
    the earliest such position on ties, leaving every piece at least one
    operator.

    Raises
    ------
    InfeasibleError
        If ``k`` is not in ``1..n`` or ``order`` is not a valid order.
    """
    start = time.perf_counter()
    order = _check(problem, k, order)
    n = len(order)
    running = [0]
    seen: set[int] = set()
    for v in order:
        fresh = [w for w in problem.op_params[v] if w not in seen]
        seen.update(fresh)
        running.append(running[-1] + sum(problem.param_bytes[w] for w in fresh))
    total = running[-1]
    cuts = [0]
    for s in range(1, k):
        lo, hi = cuts[-1] + 1, n - (k - s)
        cuts.append(min(range(lo, hi + 1), key=lambda i: (abs(k * running[i] - s * total), i)))
    cuts.append(n)
    stages = _stages_from_cuts(order, cuts)
    return make_split(problem, "param-count", stages, k, "rule", None, time.perf_counter() - start)


def cost_matrix(problem: PipelineProblem, order: Sequence[int]) -> np.ndarray:
    """``C[i, j]``: time of a segment running ``order[i:j]`` (``_INF`` where ``j <= i``)."""
    n = len(order)
    position = np.empty(n, dtype=np.int64)
    position[np.asarray(order, dtype=np.int64)] = np.arange(n)

    compute = np.zeros(n + 1, dtype=np.int64)
    compute[1:] = np.cumsum(np.asarray(problem.compute_ps, dtype=np.int64)[np.asarray(order, dtype=np.int64)])

    # Bytes crossing a cut before position i: flows produced before i and needed at or after i.
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

    # Parameter bytes of order[i:j]: constant w counts when its first user at
    # or after position i comes before j. Difference rows, then a running sum.
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
    cost = (problem.segment_overhead_ps
            + (compute[None, :] - compute[:, None])
            + problem.stream_ps_per_byte * streamed
            + problem.link_ps_per_byte * (crossing[:, None] + crossing[None, :]))
    upper = np.triu(np.ones((n + 1, n + 1), dtype=bool), k=1)
    return np.where(upper, cost, _INF)


def _check(problem: PipelineProblem, k: int, order: Sequence[int] | None) -> list[int]:
    n = problem.num_operators
    if not 1 <= k <= n:
        raise InfeasibleError(f"cannot split {n} operators into {k} non-empty segments")
    order = list(range(n)) if order is None else [int(v) for v in order]
    check_topological(problem.preds, order)
    return order


def _stages_from_cuts(order: Sequence[int], cuts: Sequence[int]) -> list[int]:
    stages = [0] * len(order)
    for s in range(len(cuts) - 1):
        for i in range(cuts[s], cuts[s + 1]):
            stages[order[i]] = s
    return stages
