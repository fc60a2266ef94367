"""Splits that cut one fixed operator order into ``k`` contiguous pieces.

:func:`contiguous_split` finds the best such cut exactly by dynamic
programming (the search space of the Edge TPU compiler's ``--num_segments``);
:func:`param_count_split` is that compiler's rule: cut where the running
parameter bytes reach ``1/k``, ``2/k``... of the total; :func:`learned_split`
cuts the order the learned policy (:mod:`tflite_serenity.learned`) gives.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from ..errors import InfeasibleError
from ..graph import check_topological
from .problem import PipelineProblem, Split, crossing_bytes, make_split

_INF = np.int64(1) << np.int64(60)


def contiguous_split(problem: PipelineProblem, k: int, order: Sequence[int] | None = None) -> Split:
    """The best split into ``k`` contiguous pieces of ``order`` (default: stored order).

    Minimizes the bottleneck segment time, then the total time; ties are
    broken deterministically (the last piece starts as early as possible,
    then the one before it...). Exact for this search space, in
    ``O(k n^2)`` time and ``O(n^2)`` memory; ``O(n)`` for ``k <= 2``, where
    only the first row and the last column of the segment times are needed.

    Raises
    ------
    InfeasibleError
        If ``k`` is not in ``1..n`` or ``order`` is not a valid order.
    """
    start = time.perf_counter()
    order = _check(problem, k, order)
    bottleneck, cuts = _best_cuts(SegmentTimes(problem, order), k)
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


def learned_split(problem: PipelineProblem, k: int) -> Split:
    """A split into ``k`` segments: the best contiguous cut of the learned pipeline policy's order.

    The cut is :func:`contiguous_split` (exact for that order), so the result
    is a valid split in the cost model; it proves nothing about other orders
    (status ``"rule"``). NumPy only.

    Raises
    ------
    InfeasibleError
        If ``k`` is not in ``1..n``.
    """
    from ..learned import learned_pipeline_order

    start = time.perf_counter()
    split = contiguous_split(problem, k, learned_pipeline_order(problem, k))
    return Split("learned", split.stages, split.segments, "rule", None, time.perf_counter() - start)


def cost_matrix(problem: PipelineProblem, order: Sequence[int]) -> np.ndarray:
    """``C[i, j]``: time of a segment running ``order[i:j]`` (``_INF`` where ``j <= i``)."""
    return SegmentTimes(problem, [int(v) for v in order]).matrix()


class SegmentTimes:
    """The times of the contiguous pieces of one order: a row, a column or all of them.

    Built in ``O(n + flows + parameter uses)`` with NumPy; a row or a column of
    :func:`cost_matrix` then costs ``O(n)`` and the whole matrix ``O(n^2)``.

    A constant is paid by a piece ``order[i:j]`` when its first user at or
    after position ``i`` comes before ``j``. Sorting each constant's users by
    position, user ``p`` (the one after ``prev``) is that first user exactly
    for ``prev < i <= p``: one rectangle of the ``(i, j)`` plane, ``prev < i
    <= p < j``, whose sum is a two-dimensional running sum.
    """

    def __init__(self, problem: PipelineProblem, order: Sequence[int]):
        self.problem = problem
        self.n = n = len(order)
        order_arr = np.asarray(order, dtype=np.int64)
        position = np.empty(n, dtype=np.int64)
        position[order_arr] = np.arange(n)
        self.compute = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(problem.arrays.compute_ps[order_arr], out=self.compute[1:])
        self.crossing = crossing_bytes(problem, position, len(position))
        self.prev, self.user, self.size = _param_uses(problem, position)

    def row(self, i: int) -> np.ndarray:
        """``C[i, :]``."""
        take = (self.prev < i) & (i <= self.user)
        params = self._running(self.user[take] + 1, self.size[take])
        cost = self._times(params, self.compute - self.compute[i], self.crossing + self.crossing[i])
        cost[: i + 1] = _INF
        return cost

    def column(self, j: int) -> np.ndarray:
        """``C[:, j]``."""
        take = self.user < j
        delta = np.zeros(self.n + 2, dtype=np.int64)
        np.add.at(delta, self.prev[take] + 1, self.size[take])
        np.add.at(delta, self.user[take] + 1, -self.size[take])
        params = np.cumsum(delta)[: self.n + 1]
        cost = self._times(params, self.compute[j] - self.compute, self.crossing + self.crossing[j])
        cost[j:] = _INF
        return cost

    def matrix(self) -> np.ndarray:
        """All of ``C``, ``(n + 1) x (n + 1)`` (in place where it can: this is the ``O(n^2)`` part)."""
        n, p = self.n, self.problem
        delta = np.zeros((n + 2, n + 2), dtype=np.int64)
        np.add.at(delta, (self.prev + 1, self.user + 1), self.size)
        np.add.at(delta, (self.user + 1, self.user + 1), -self.size)
        cost = np.cumsum(np.cumsum(delta[: n + 1, : n + 1], axis=0), axis=1)
        cost -= p.cache_bytes
        np.maximum(cost, 0, out=cost)
        cost *= p.stream_ps_per_byte
        cost += (p.segment_overhead_ps + self.compute + p.link_ps_per_byte * self.crossing)[None, :]
        cost += (p.link_ps_per_byte * self.crossing - self.compute)[:, None]
        cost[np.arange(n + 1)[:, None] >= np.arange(n + 1)[None, :]] = _INF
        return cost

    def _running(self, at: np.ndarray, size: np.ndarray) -> np.ndarray:
        delta = np.zeros(self.n + 2, dtype=np.int64)
        np.add.at(delta, at, size)
        return np.cumsum(delta)[: self.n + 1]

    def _times(self, params: np.ndarray, compute: np.ndarray, crossing: np.ndarray) -> np.ndarray:
        """Segment times from the parameter bytes, compute and bytes crossing of the pieces."""
        p = self.problem
        streamed = np.maximum(params - p.cache_bytes, 0)
        return p.segment_overhead_ps + compute + p.stream_ps_per_byte * streamed + p.link_ps_per_byte * crossing


def _param_uses(problem: PipelineProblem, position: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every use of a constant as ``(prev, user, bytes)``: the position of a user
    and of the same constant's user before it in the order (-1 for the first).
    Repeated uses at one position and constants of no bytes are left out."""
    a = problem.arrays
    user = position[np.repeat(np.arange(len(a.param_count)), a.param_count)]
    by = np.lexsort((user, a.param))
    const, user = a.param[by], user[by]
    prev = np.full(len(user), -1, dtype=np.int64)
    same = const[1:] == const[:-1]
    prev[1:][same] = user[:-1][same]
    size = a.param_bytes[const]
    keep = (prev < user) & (size != 0)
    return prev[keep], user[keep], size[keep]


def _best_cuts(times: SegmentTimes, k: int) -> tuple[int, list[int]]:
    """The least bottleneck and the positions ``0 = c_0 < ... < c_k = n`` of the best cut
    (see :func:`contiguous_split`).

    First the least bottleneck, then the least total among the cuts that
    meet it, the earliest position on ties (``argmin``). The first piece
    always starts at 0 and the last ends at ``n``, so the first layer needs
    only row 0 of the segment times and the last only column ``n``; the
    whole matrix is built only for ``k >= 3``.
    """
    n = times.n
    first, last = times.row(0), times.column(n)
    middle = times.matrix() if k >= 3 else None
    if k == 1:
        bottleneck = int(first[n])
    else:
        best = first
        for _ in range(k - 2):
            best = np.maximum(best[:, None], middle).min(axis=0)
        bottleneck = int(np.maximum(best, last).min())
    # Second pass: least total time among the cuts that meet the bottleneck.
    total = np.where(first <= bottleneck, first, _INF)
    choices = []
    if k >= 3:
        allowed = np.where(middle <= bottleneck, middle, _INF)
        for _ in range(k - 2):
            sums = np.minimum(total[:, None] + allowed, _INF)
            choices.append(sums.argmin(axis=0))
            total = sums.min(axis=0)
    cuts = [n, 0]
    if k >= 2:
        cuts[1] = int(np.minimum(total + np.where(last <= bottleneck, last, _INF), _INF).argmin())
        for choice in reversed(choices):
            cuts.append(int(choice[cuts[-1]]))
        cuts.append(0)
    cuts.reverse()
    return bottleneck, cuts


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
