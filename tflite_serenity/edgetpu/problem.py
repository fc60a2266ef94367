"""The segmentation problem as plain integers, and the cost of a split.

A split assigns each operator a stage ``0..k-1`` so that no data or ordering
edge goes backwards (``stage[u] <= stage[v]`` for every edge ``u -> v``) and
no stage is empty. Stage ``s`` becomes segment ``s`` of the pipeline.

Costs are integers (times in picoseconds, sizes in bytes) so that every
solver and the brute-force tests agree exactly. A segment's time is::

    segment_overhead
    + sum of its operators' compute times        (MACs / throughput + per-operator overhead)
    + stream * max(0, parameter bytes - cache)   (parameters that do not fit, every inference)
    + link * (bytes entering + bytes leaving)    (activations over the host link)

*Boundary* ``b`` (``0..k``) is the set of activation tensors passed from
segment ``b-1`` to segment ``b``: boundary 0 holds the model's inputs and
boundary ``k`` its outputs. A tensor produced in stage ``p`` (``-1`` for a
model input) and last needed in stage ``L`` (``k`` for a model output; at
least 0 for a model input) is on boundaries ``p+1 .. L``: a tensor used several
stages later is forwarded through the stages in between, and each hop counts
as it leaves one segment and enters the next.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import InfeasibleError

#: Picoseconds per second: the time unit of the problem.
PS_PER_S = 10**12


@dataclass(frozen=True)
class Flow:
    """An activation tensor that may cross segment boundaries.

    Attributes
    ----------
    tensor : int
        Its index in the subgraph.
    size : int
        Its bytes.
    producer : int
        The operator writing it, or -1 for a model input.
    consumers : tuple of int
        The operators reading it, ascending.
    is_output : bool
        A model output: needed after the last stage.
    """

    tensor: int
    size: int
    producer: int
    consumers: tuple[int, ...]
    is_output: bool


@dataclass(frozen=True)
class PipelineProblem:
    """Everything the solvers need, as integers.

    Attributes
    ----------
    preds : tuple of tuple of int
        Per operator, the operators that must not run in a later stage.
    compute_ps : tuple of int
        Per operator, compute time including its fixed overhead.
    macs : tuple of int
        Per operator, multiply-accumulates (for reports).
    op_params : tuple of tuple of int
        Per operator, the constants it reads (indices into ``param_bytes``).
    param_bytes : tuple of int
        Per constant, its bytes; a constant read by operators of several
        stages is copied into each of those segments.
    flows : tuple of Flow
        The activation tensors that may cross boundaries.
    cache_bytes : int
        Parameter bytes a segment keeps on chip.
    stream_ps_per_byte, link_ps_per_byte : int
        Time per byte of streamed parameters and of activations.
    segment_overhead_ps : int
        Fixed time of every segment.
    """

    preds: tuple[tuple[int, ...], ...]
    compute_ps: tuple[int, ...]
    macs: tuple[int, ...]
    op_params: tuple[tuple[int, ...], ...]
    param_bytes: tuple[int, ...]
    flows: tuple[Flow, ...]
    cache_bytes: int
    stream_ps_per_byte: int
    link_ps_per_byte: int
    segment_overhead_ps: int = 0

    @property
    def num_operators(self) -> int:
        return len(self.preds)

    @functools.cached_property
    def arrays(self) -> ProblemArrays:
        """The same problem as flat NumPy arrays, built on first use and kept."""
        return ProblemArrays.of(self)


@dataclass(frozen=True)
class ProblemArrays:
    """A :class:`PipelineProblem` as flat int64 arrays, for the vectorized costs.

    Lists of lists are stored flat with their lengths (``pred_count``,
    ``param_count``, ``fanout``): entry ``i`` owns the next ``count[i]``
    values, so ``np.repeat(np.arange(n), count)`` names each value's owner.
    """

    pred_count: np.ndarray  # (n,)
    pred: np.ndarray  # the predecessors of every operator, flat
    compute_ps: np.ndarray  # (n,)
    param_count: np.ndarray  # (n,): constants each operator reads
    param: np.ndarray  # those constants, flat
    param_bytes: np.ndarray  # (constants,)
    flow_producer: np.ndarray  # (flows,), -1 for a model input
    flow_size: np.ndarray  # (flows,)
    flow_output: np.ndarray  # (flows,) bool
    fanout: np.ndarray  # (flows,): consumers of each flow
    consumer: np.ndarray  # those consumers, flat

    @classmethod
    def of(cls, problem: PipelineProblem) -> ProblemArrays:
        flows = problem.flows
        pred_count, pred = _flatten(problem.preds)
        param_count, param = _flatten(problem.op_params)
        fanout, consumer = _flatten([f.consumers for f in flows])
        return cls(
            pred_count=pred_count, pred=pred,
            compute_ps=np.asarray(problem.compute_ps, dtype=np.int64).reshape(len(problem.preds)),
            param_count=param_count, param=param,
            param_bytes=np.asarray(problem.param_bytes, dtype=np.int64).reshape(len(problem.param_bytes)),
            flow_producer=np.fromiter((f.producer for f in flows), dtype=np.int64, count=len(flows)),
            flow_size=np.fromiter((f.size for f in flows), dtype=np.int64, count=len(flows)),
            flow_output=np.fromiter((f.is_output for f in flows), dtype=bool, count=len(flows)),
            fanout=fanout, consumer=consumer,
        )


def _flatten(lists: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Lists of ints as (lengths, values one after another) int64 arrays."""
    count = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = np.fromiter((x for xs in lists for x in xs), dtype=np.int64, count=int(count.sum()))
    return count, flat


@dataclass(frozen=True)
class SegmentCost:
    """What one segment holds and how long it takes per inference."""

    operators: int
    macs: int
    compute_ps: int
    param_bytes: int
    streamed_bytes: int  # parameter bytes beyond the cache
    in_bytes: int
    out_bytes: int
    time_ps: int

    @property
    def cached(self) -> bool:
        """All its parameters fit in the on-chip cache."""
        return self.streamed_bytes == 0


@dataclass(frozen=True)
class Split:
    """A solver's answer: a stage per operator and what it costs.

    Attributes
    ----------
    method : str
        ``"exact"``, ``"contiguous"`` or ``"param-count"``.
    stages : tuple of int
        Per operator (stored order), its stage.
    segments : tuple of SegmentCost
        Per stage, its cost.
    status : str
        ``"optimal"`` (proven, in the method's search space), ``"feasible"``
        (a time limit ran out; see ``lower_bound_ps``) or ``"rule"`` (a
        heuristic that proves nothing).
    lower_bound_ps : int or None
        No split in the method's search space has a lower bottleneck.
    seconds : float
        Wall-clock solve time.
    """

    method: str
    stages: tuple[int, ...]
    segments: tuple[SegmentCost, ...]
    status: str
    lower_bound_ps: int | None
    seconds: float

    @property
    def k(self) -> int:
        return len(self.segments)

    @property
    def bottleneck_ps(self) -> int:
        """Time of the slowest segment: one inference leaves the pipeline this often."""
        return max(s.time_ps for s in self.segments)

    @property
    def total_ps(self) -> int:
        """Sum of the segment times: the latency of one inference through the pipeline."""
        return sum(s.time_ps for s in self.segments)

    @property
    def throughput(self) -> float:
        """Inferences per second in steady state."""
        return PS_PER_S / self.bottleneck_ps if self.bottleneck_ps else float("inf")

    @property
    def gap(self) -> float | None:
        """Relative distance to the proven bound (0 when optimal), or None."""
        if self.lower_bound_ps is None:
            return None
        return (self.bottleneck_ps - self.lower_bound_ps) / self.bottleneck_ps if self.bottleneck_ps else 0.0


def check_stages(problem: PipelineProblem, stages: Sequence[int], k: int) -> None:
    """Raise InfeasibleError unless ``stages`` is a valid split into ``k`` stages."""
    n = problem.num_operators
    if len(stages) != n:
        raise InfeasibleError(f"a split needs one stage per operator: {len(stages)} given for {n}")
    stage = np.asarray(stages, dtype=np.int64).reshape(n)
    if n and (stage.min() < 0 or stage.max() >= k):
        raise InfeasibleError(f"stages must lie in 0..{k - 1}")
    empty = np.flatnonzero(np.bincount(stage, minlength=k) == 0).tolist()
    if empty:
        raise InfeasibleError(f"stage(s) {empty} would hold no operator")
    a = problem.arrays
    src, dst = a.pred, np.repeat(np.arange(n), a.pred_count)
    backwards = np.flatnonzero(stage[src] > stage[dst])
    if len(backwards):  # the first in the order of preds, as a loop over them would find it
        u, v = int(src[backwards[0]]), int(dst[backwards[0]])
        raise InfeasibleError(
            f"operator {v} (stage {stages[v]}) depends on operator {u}, which is in the later stage {stages[u]}"
        )


def boundaries(problem: PipelineProblem, stages: Sequence[int], k: int) -> list[list[int]]:
    """Per boundary ``0..k``, the flows (indices into ``problem.flows``) on it."""
    on: list[list[int]] = [[] for _ in range(k + 1)]
    for f, flow in enumerate(problem.flows):
        first, last = flow_span(flow, stages, k)
        for b in range(first, last + 1):
            on[b].append(f)
    return on


def flow_span(flow: Flow, stages: Sequence[int], k: int) -> tuple[int, int]:
    """The boundaries ``first..last`` a flow is on (empty when ``first > last``)."""
    produced = -1 if flow.producer < 0 else stages[flow.producer]
    needed = max((stages[c] for c in flow.consumers), default=-1)
    if flow.is_output:
        needed = k
    if flow.producer < 0:
        needed = max(needed, 0)
    return produced + 1, needed


def evaluate(problem: PipelineProblem, stages: Sequence[int], k: int) -> tuple[SegmentCost, ...]:
    """The cost of every segment of a split (checked first).

    Vectorized over operators, constants and flows (integers throughout, so
    the figures are exact); the same as summing them one by one.

    Raises
    ------
    InfeasibleError
        If the split is not valid (see :func:`check_stages`).
    """
    check_stages(problem, stages, k)
    n = problem.num_operators
    stage = np.asarray(stages, dtype=np.int64).reshape(n)
    ops = np.bincount(stage, minlength=k)
    macs = _per_stage(stage, problem.macs, k)
    compute = _per_stage(stage, problem.compute_ps, k)
    params = _stage_params(problem, stage, k)
    crossing = crossing_bytes(problem, stage, k).tolist()
    segments = []
    for s in range(k):
        param = params[s]
        streamed = max(0, param - problem.cache_bytes)
        time = (problem.segment_overhead_ps + compute[s] + problem.stream_ps_per_byte * streamed
                + problem.link_ps_per_byte * (crossing[s] + crossing[s + 1]))
        segments.append(SegmentCost(int(ops[s]), macs[s], compute[s], param, streamed, crossing[s],
                                    crossing[s + 1], time))
    return tuple(segments)


def _per_stage(stage: np.ndarray, values: Sequence[int], k: int) -> list[int]:
    """Per stage, the sum of ``values`` over its operators (as Python ints)."""
    total = np.zeros(k, dtype=np.int64)
    np.add.at(total, stage, np.asarray(values, dtype=np.int64).reshape(len(stage)))
    return total.tolist()


def _stage_params(problem: PipelineProblem, stage: np.ndarray, k: int) -> list[int]:
    """Per stage, the bytes of the distinct constants its operators read."""
    a = problem.arrays
    width = max(len(a.param_bytes), 1)
    pairs = np.unique(np.repeat(stage, a.param_count) * width + a.param)
    total = np.zeros(k, dtype=np.int64)
    if len(pairs):
        np.add.at(total, pairs // width, a.param_bytes[pairs % width])
    return total.tolist()


def crossing_bytes(problem: PipelineProblem, place: np.ndarray, end: int) -> np.ndarray:
    """Per boundary ``0..end``, the bytes of the flows on it (see :func:`flow_span`).

    ``place[v]`` is operator ``v``'s stage (boundary ``b`` lies before stage
    ``b``), or its position in an order (boundary ``i`` is a cut before the
    ``i``-th operator): a flow crosses the boundaries after its producer's
    place up to its last reader's (graph inputs from 0, outputs to ``end``).
    """
    a = problem.arrays
    producer, size, output = a.flow_producer, a.flow_size, a.flow_output
    count = len(producer)
    needed = np.full(count, -1, dtype=np.int64)
    np.maximum.at(needed, np.repeat(np.arange(count), a.fanout), place[a.consumer])
    is_input = producer < 0
    first = np.where(is_input, 0, place[np.maximum(producer, 0)] + 1)
    last = np.where(output, end, np.where(is_input, np.maximum(needed, 0), needed))
    keep = first <= last
    delta = np.zeros(end + 2, dtype=np.int64)
    np.add.at(delta, first[keep], size[keep])
    np.add.at(delta, last[keep] + 1, -size[keep])
    return np.cumsum(delta)[: end + 1]


def make_split(problem: PipelineProblem, method: str, stages: Sequence[int], k: int, status: str,
               lower_bound_ps: int | None, seconds: float) -> Split:
    """A :class:`Split` with its costs evaluated."""
    stages = tuple(int(s) for s in stages)
    return Split(method, stages, evaluate(problem, stages, k), status, lower_bound_ps, seconds)
