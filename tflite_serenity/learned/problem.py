"""What the policy sees: a graph as feature arrays, and the state of a partial order.

Two objectives share one formulation. The policy builds a topological order
one operator at a time; the *flows* are the activation tensors (size,
producer, consumers, whether they stay to the end), and the state tracks the
bytes alive between steps (for ``"memory"``: the arena; for ``"pipeline"``:
the bytes a cut at this position would send over the link), the highest step
so far, and the share of work and parameters already placed (for
``"pipeline"``: where the order stands relative to the ``k`` balanced cut
points).

* :func:`pipeline_instance` prepares a
  :class:`~tflite_serenity.edgetpu.problem.PipelineProblem` for ``k``
  segments; its byte scale is the link time of a byte, in and out, over the
  ideal segment time, so a feature of 1 means "crossing here costs a whole
  segment".
* :func:`memory_instance` prepares a graph's activation flow
  (:func:`~tflite_serenity.memory.activation_flow`); its byte scale is one
  over the graph's lower bound on the peak.

:class:`OrderState` is immutable; :meth:`OrderState.update` returns the state
after one more operator. The batched PyTorch twin in :mod:`.network` computes
the same features; ``tests/learned`` checks both agree.
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

from .. import memory
from ..errors import InfeasibleError
from ..graph import check_topological
from ..graph import Graph

#: Static per-operator features (see :func:`_node_features`).
NODE_FEATURES = 12
#: Per-step features of the whole state (see :meth:`OrderState.context`).
CONTEXT_FEATURES = 11
#: Per-step features of each ready operator (see :meth:`OrderState.candidates`).
CANDIDATE_FEATURES = 4


class Csr(NamedTuple):
    """Lists of ints as arrays: list ``i`` is ``flat[start[i]:start[i + 1]]`` (int64)."""

    start: np.ndarray
    flat: np.ndarray


@dataclass(frozen=True)
class Instance:
    """One graph prepared for the policy (all sizes already multiplied by ``byte_scale``).

    Attributes
    ----------
    objective : str
        ``"pipeline"`` or ``"memory"``.
    k : int
        Segments (1 for memory).
    preds, succs : tuple of tuple of int
        Per operator, ascending.
    node_features : ndarray, shape (n, NODE_FEATURES)
    flow_size : ndarray, shape (F,)
        Scaled bytes of each flow.
    flow_pinned : ndarray of bool, shape (F,)
        Alive to the end (a graph output).
    flow_consumers : tuple of tuple of int
    flow_producer : tuple of int
        ``-1``: a graph input, alive from the start.
    op_inputs : tuple of tuple of int
        Per operator, the flows it reads.
    op_reads : tuple of tuple of int
        Of those, the ones that are not pinned (it may free them).
    op_add : ndarray, shape (n,)
        Scaled bytes of the flows an operator writes.
    op_dead : ndarray, shape (n,)
        Of those, the bytes nothing reads (freed right after the step).
    init_live, init_dead : float
        Scaled bytes alive before the first step; of those, bytes nothing
        reads (freed after the first step).
    op_work, op_param : ndarray, shape (n,)
        Each operator's share of the compute and of the parameter bytes
        (all zeros when there are none).
    params_load : float
        Parameter bytes over ``k`` times the cache: above 1, some segment must stream.
    byte_scale : float
        What one byte counts in the features.
    pred_csr, succ_csr, input_csr, read_csr : Csr
        ``preds``, ``succs``, ``op_inputs`` and ``op_reads`` as arrays (for
        the encoder and the compiled decoder).
    """

    objective: str
    k: int
    preds: tuple[tuple[int, ...], ...]
    succs: tuple[tuple[int, ...], ...]
    node_features: np.ndarray
    flow_size: np.ndarray
    flow_pinned: np.ndarray
    flow_consumers: tuple[tuple[int, ...], ...]
    flow_producer: tuple[int, ...]
    op_inputs: tuple[tuple[int, ...], ...]
    op_reads: tuple[tuple[int, ...], ...]
    op_add: np.ndarray
    op_dead: np.ndarray
    init_live: float
    init_dead: float
    op_work: np.ndarray
    op_param: np.ndarray
    params_load: float
    byte_scale: float
    pred_csr: Csr
    succ_csr: Csr
    input_csr: Csr
    read_csr: Csr

    @property
    def num_operators(self) -> int:
        return len(self.preds)


def pipeline_instance(problem, k: int) -> Instance:
    """The policy's view of a pipeline problem split into ``k`` segments.

    Raises
    ------
    InfeasibleError
        If ``k`` is not in ``1..n``.
    """
    n = problem.num_operators
    if not 1 <= k <= n:
        raise InfeasibleError(f"cannot split {n} operators into {k} non-empty segments")
    a = problem.arrays
    compute = a.compute_ps.astype(np.float64)
    segment = problem.segment_overhead_ps + compute.sum() / k
    scale = 2.0 * problem.link_ps_per_byte / max(segment, 1.0)
    # each constant counted at its first user (integers below 2**53: exact as floats)
    const, first = np.unique(a.param, return_index=True)
    user = np.repeat(np.arange(n), a.param_count)[first]
    own = _sums(user, a.param_bytes[const].astype(np.float64), n)
    flows = _Flows(a.flow_size, a.flow_producer, a.fanout, a.consumer, a.flow_output)
    cache = max(problem.cache_bytes, 1)
    return _instance("pipeline", k, problem.preds, flows, compute, own, cache, scale)


def memory_instance(graph: Graph) -> Instance:
    """The policy's view of a graph for the lowest peak of activation memory."""
    flow = memory.activation_flow(graph)
    n = graph.num_operators
    scale = 1.0 / max(memory.lower_bound(graph), 1)
    fanout = np.fromiter(map(len, flow.consumers), dtype=np.int64, count=len(flow.consumers))
    flows = _Flows(np.asarray(flow.size, dtype=np.int64), np.asarray(flow.producer, dtype=np.int64), fanout,
                   np.fromiter((c for cs in flow.consumers for c in cs), dtype=np.int64, count=int(fanout.sum())),
                   np.asarray(flow.pinned, dtype=bool))
    # every operator counts as one unit of work; no parameters (their features are 0)
    return _instance("memory", 1, graph.preds, flows, np.ones(n), np.zeros(n), 1, scale)


class _Flows(NamedTuple):
    """Flows as arrays: bytes, producer (-1: a graph input), consumers (``fanout``
    per flow, flat, ascending within a flow) and whether each stays to the end."""

    size: np.ndarray
    producer: np.ndarray
    fanout: np.ndarray
    consumer: np.ndarray
    pinned: np.ndarray


def _instance(objective, k, preds, flows: _Flows, work, params, cache, scale) -> Instance:
    n = len(preds)
    preds = tuple(tuple(sorted(p)) for p in preds)
    pred_count = np.fromiter(map(len, preds), dtype=np.int64, count=n)
    pred_flat = np.fromiter((u for ps in preds for u in ps), dtype=np.int64, count=int(pred_count.sum()))
    pred_csr = Csr(_starts(pred_count), pred_flat)
    # successors: each edge u -> v grouped by u, ascending v (the edges come by v)
    succs, succ_csr = _group(pred_flat, np.repeat(np.arange(n), pred_count), n)
    size = flows.size.astype(np.float64) * scale
    producer, pinned = flows.producer, flows.pinned
    reader_of = np.repeat(np.arange(len(size)), flows.fanout)  # the flow of each consumer entry
    # bincount (_sums) adds its weights in array order, one by one from zero:
    # the same IEEE sums as accumulating flow by flow
    made = producer >= 0
    unread = (flows.fanout == 0) & ~pinned
    op_add = _sums(producer[made], size[made], n)
    op_dead = _sums(producer[made & unread], size[made & unread], n)
    op_in = _sums(flows.consumer, size[reader_of], n)
    init_live = init_dead = 0.0
    for f in np.flatnonzero(~made).tolist():
        init_live += float(size[f])
        if unread[f]:
            init_dead += float(size[f])
    work = np.asarray(work, dtype=np.float64)
    params = np.asarray(params, dtype=np.float64)
    op_work = work / work.sum() if work.sum() > 0 else np.zeros(n)
    op_param = params / params.sum() if params.sum() > 0 else np.zeros(n)
    features = _node_features(preds, succs, op_add, op_in, work, params, cache)
    freeable = ~pinned[reader_of]
    op_inputs, input_csr = _group(flows.consumer, reader_of, n)
    op_reads, read_csr = _group(flows.consumer[freeable], reader_of[freeable], n)
    return Instance(
        objective=objective, k=int(k), preds=preds, succs=succs, node_features=features,
        flow_size=size, flow_pinned=pinned.copy(), flow_producer=tuple(producer.tolist()),
        flow_consumers=_group(reader_of, flows.consumer, len(size))[0],
        op_inputs=op_inputs, op_reads=op_reads, op_add=op_add, op_dead=op_dead,
        init_live=float(init_live), init_dead=float(init_dead), op_work=op_work, op_param=op_param,
        params_load=float(params.sum() / (k * cache)), byte_scale=float(scale),
        pred_csr=pred_csr, succ_csr=succ_csr, input_csr=input_csr, read_csr=read_csr,
    )


def _sums(index: np.ndarray, weights: np.ndarray, count: int) -> np.ndarray:
    """Per ``0..count-1``, the sum of the weights at its indices (float64 even when empty)."""
    return np.bincount(index, weights=weights, minlength=count).astype(np.float64, copy=False)


def _group(owner: np.ndarray, value: np.ndarray, count: int) -> tuple[tuple[tuple[int, ...], ...], Csr]:
    """Per owner ``0..count-1``, its values in their order in the arrays: as tuples and as arrays."""
    by = np.argsort(owner, kind="stable")
    flat = value[by]
    start = _starts(np.bincount(owner, minlength=count))
    values, ends = flat.tolist(), start[1:].tolist()
    out, begin = [], 0
    for end in ends:
        out.append(tuple(values[begin:end]))
        begin = end
    return tuple(out), Csr(start, flat.astype(np.int64, copy=False))


def _starts(count: np.ndarray) -> np.ndarray:
    """Offsets ``0, c0, c0 + c1, ...`` (``len(count) + 1`` of them) of lists of these lengths."""
    start = np.zeros(len(count) + 1, dtype=np.int64)
    np.cumsum(count, out=start[1:])
    return start


def _node_features(preds, succs, out_bytes, in_bytes, work, params, cache) -> np.ndarray:
    """Per operator: scaled output and input bytes, work relative to the mean operator,
    parameters over the cache, in- and out-degree, depth and height over the longest
    path, ancestors and descendants over ``n``, and the shares of work and of
    parameters its ancestors hold (``work`` and ``params``: integer amounts)."""
    n = len(preds)
    totals = np.array([work.sum(), params.sum()])
    depth, height, ancestor_count, descendant_count, held = _structure(preds, succs, np.stack([work, params], 1))
    held = held / np.where(totals > 0, totals, 1.0)
    x = np.zeros((n, NODE_FEATURES))
    x[:, 0] = np.log1p(out_bytes)
    x[:, 1] = np.log1p(in_bytes)
    x[:, 2] = np.log1p(work / totals[0] * n) if totals[0] > 0 else 0.0
    x[:, 3] = np.log1p(params / cache)
    x[:, 4] = np.log1p([len(p) for p in preds])
    x[:, 5] = np.log1p([len(s) for s in succs])
    x[:, 6] = depth / max(depth.max(initial=0), 1)
    x[:, 7] = height / max(height.max(initial=0), 1)
    x[:, 8] = ancestor_count / n
    x[:, 9] = descendant_count / n
    x[:, 10:12] = held
    return x


def _structure(preds, succs, weights: np.ndarray, engine: str = "auto"):
    """Depth and height (longest paths from a source and to a sink), the number of
    ancestors and of descendants, and per column of ``weights`` (``n x m``) its sum
    over the ancestors of each operator.

    The weights must be integers whose sums stay below 2**53 (picoseconds,
    bytes, ones), so that every sum is exact in any order: then the compiled
    loops (``_view.pyx``, used when built) and these NumPy ones give the same
    arrays. ``preds[v]`` come before ``v`` in the numbering (the stored order
    is topological).
    """
    exact = bool(np.all(weights == np.round(weights))) and float(np.abs(weights).sum()) < 2.0**53
    if not exact:
        raise ValueError("structure weights must be integers with sums below 2**53")
    if engine == "compiled" or (engine == "auto" and _compiled_structure() is not None):
        return _compiled_structure()(preds, succs, weights)
    n = len(preds)
    # longest paths in plain lists (indexing NumPy arrays one element at a
    # time is several times slower)
    depth = [0] * n
    for v in range(n):
        if preds[v]:
            depth[v] = 1 + max([depth[u] for u in preds[v]])
    height = [0] * n
    for v in range(n - 1, -1, -1):
        if succs[v]:
            height[v] = 1 + max([height[w] for w in succs[v]])
    ancestors = _unpack(_reach_masks(preds, range(n)), n)
    # u's descendants are the v that have u as an ancestor: a column of the same matrix
    return (np.array(depth, dtype=np.int64), np.array(height, dtype=np.int64), ancestors.sum(axis=1),
            ancestors.sum(axis=0), ancestors @ np.asarray(weights, dtype=np.float64))


@functools.lru_cache(maxsize=1)
def _compiled_structure():
    """The compiled :func:`_structure` (``_view.structure``), or None when it is not built
    (or on a big-endian machine: it reads its bit sets as little-endian bytes)."""
    try:
        from . import _view
    except ImportError:
        return None
    return _view.structure if sys.byteorder == "little" else None


def _reach_masks(edges, order) -> list[int]:
    """Per operator ``v``, a bit mask of the operators that reach it along ``edges``
    (``edges[v]`` lists the neighbours ``v`` is reached from), visiting ``order``
    so that those come first."""
    masks = [0] * len(edges)
    for v in order:
        m = 0
        for u in edges[v]:
            m |= masks[u] | (1 << u)
        masks[v] = m
    return masks


def _unpack(masks: list[int], n: int) -> np.ndarray:
    """Bit masks as a float matrix: ``R[v, u] = 1`` when bit ``u`` of ``masks[v]`` is set."""
    nbytes = (n + 7) // 8
    packed = np.frombuffer(b"".join(m.to_bytes(nbytes, "little") for m in masks), dtype=np.uint8)
    return np.unpackbits(packed.reshape(n, nbytes), axis=1, bitorder="little")[:, :n].astype(np.float64)


class OrderState(NamedTuple):
    """A partial order and what it leaves alive. Build with :meth:`start`."""

    step: int
    last: int  # operator run last, -1 before the first
    ready: tuple[int, ...]  # operators that may run next, ascending
    waiting: np.ndarray  # per operator: predecessors not yet run
    remaining: np.ndarray  # per flow: consumers not yet run
    live: float  # scaled bytes alive between steps
    peak: float  # highest step so far (live before it plus its outputs)
    work: float  # share of the work run
    param: float  # share of the parameters placed

    @staticmethod
    def start(inst: Instance) -> "OrderState":
        return OrderState(
            step=0, last=-1, ready=tuple(v for v, p in enumerate(inst.preds) if not p),
            waiting=np.array([len(p) for p in inst.preds], dtype=np.int64),
            remaining=np.array([len(c) for c in inst.flow_consumers], dtype=np.int64),
            live=inst.init_live, peak=0.0, work=0.0, param=0.0,
        )

    def freed(self, inst: Instance, v: int) -> float:
        """Scaled bytes that die once ``v`` has run (``v`` must be ready)."""
        total = inst.op_dead[v] + (inst.init_dead if self.step == 0 else 0.0)
        for f in inst.op_reads[v]:
            if self.remaining[f] == 1:
                total += inst.flow_size[f]
        return float(total)

    def candidates(self, inst: Instance, ready: Sequence[int]) -> np.ndarray:
        """Features of each of ``ready``: its outputs, what it frees, whether it
        follows the last operator directly, and how far it would raise the peak."""
        add = inst.op_add[np.asarray(ready, dtype=np.int64)]
        out = np.empty((len(ready), CANDIDATE_FEATURES))
        out[:, 0] = np.log1p(add)
        out[:, 1] = np.log1p([self.freed(inst, v) for v in ready])
        out[:, 2] = [1.0 if self.last in inst.preds[v] else 0.0 for v in ready]
        out[:, 3] = np.log1p(np.maximum(self.live + add - self.peak, 0.0))
        return out

    def context(self, inst: Instance) -> np.ndarray:
        """Features of the state: progress, bytes alive and peak, where the work and
        the parameters placed stand relative to the ``k`` balanced cuts, ``1/k``,
        and the parameter load."""
        k, n = inst.k, inst.num_operators
        turn_w, turn_p = 2 * math.pi * k * self.work, 2 * math.pi * k * self.param
        return np.array([
            self.step / n, math.log1p(self.live), math.log1p(self.peak),
            self.work, math.sin(turn_w), math.cos(turn_w),
            self.param, math.sin(turn_p), math.cos(turn_p),
            1.0 / k, math.log1p(inst.params_load),
        ])

    def update(self, inst: Instance, v: int) -> "OrderState":
        """The state after running ready operator ``v``.

        Raises
        ------
        InfeasibleError
            If ``v`` is not ready.
        """
        if v not in self.ready:
            raise InfeasibleError(f"operator {v} is not ready: it waits on predecessors or has run")
        freed = self.freed(inst, v)
        waiting = self.waiting.copy()
        ready = [u for u in self.ready if u != v]
        for w in inst.succs[v]:
            waiting[w] -= 1
            if waiting[w] == 0:
                ready.append(w)
        remaining = self.remaining.copy()
        for f in inst.op_inputs[v]:
            remaining[f] -= 1
        step_bytes = self.live + inst.op_add[v]
        return OrderState(
            step=self.step + 1, last=int(v), ready=tuple(sorted(ready)), waiting=waiting, remaining=remaining,
            live=step_bytes - freed, peak=max(self.peak, step_bytes),
            work=self.work + float(inst.op_work[v]), param=self.param + float(inst.op_param[v]),
        )


def only_order(preds: Sequence[Sequence[int]]) -> tuple[int, ...] | None:
    """The order of the operators when the graph allows just one (every step has one
    ready operator, so any policy places exactly these), else None. ``O(n + edges)``:
    checked before building the policy's view, which such a graph does not need."""
    n = len(preds)
    waiting = [len(ps) for ps in preds]
    succs: list[list[int]] = [[] for _ in range(n)]
    for v, ps in enumerate(preds):
        for u in ps:
            succs[u].append(v)
    ready = [v for v in range(n) if not waiting[v]]
    order = []
    while len(ready) == 1:
        v = ready.pop()
        order.append(v)
        for u in succs[v]:
            waiting[u] -= 1
            if waiting[u] == 0:
                ready.append(u)
    return tuple(order) if len(order) == n else None


def check_instance_order(inst: Instance, order: Sequence[int]) -> None:
    """Raise InfeasibleError unless ``order`` is a topological order of the instance."""
    check_topological(inst.preds, order)
