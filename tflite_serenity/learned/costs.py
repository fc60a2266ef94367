"""What an order costs, for many orders of one graph at once (the training reward).

* :class:`BottleneckCost`: the slowest segment of the best split of each
  order into ``k`` contiguous pieces, i.e. what
  :func:`~tflite_serenity.edgetpu.contiguous.contiguous_split` finds, in the
  cost model of :mod:`tflite_serenity.edgetpu.problem`, vectorized over a
  batch of orders. Constants read by several operators are charged to each
  piece that reads them, as the cost model does.
* :class:`PeakCost`: the peak of live activation bytes of each order, as
  :func:`tflite_serenity.memory.peak_bytes` computes it.

Both are integers, equal to the package's own figures (``tests/learned``
checks this); training uses them because they evaluate a batch in a few
NumPy operations.
"""

from __future__ import annotations

import numpy as np

from .. import memory
from ..graph import Graph

_INF = np.int64(1) << np.int64(60)


def _positions(orders: np.ndarray) -> np.ndarray:
    orders = np.asarray(orders, dtype=np.int64)
    pos = np.empty_like(orders)
    rows = np.arange(orders.shape[0])[:, None]
    pos[rows, orders] = np.arange(orders.shape[1])[None, :]
    return pos


def _flow_arrays(producers, consumers_lists):
    width = max([len(c) for c in consumers_lists] + [1])
    consumers = np.full((len(producers), width), -1, dtype=np.int64)
    for f, cs in enumerate(consumers_lists):
        consumers[f, :len(cs)] = cs
    return np.asarray(producers, dtype=np.int64), consumers


def _last_use(pos: np.ndarray, consumers: np.ndarray) -> np.ndarray:
    """Per order and flow, the latest position of a consumer (-1 when none)."""
    gathered = np.where(consumers[None] >= 0, pos[:, np.maximum(consumers, 0)], -1)
    return gathered.max(axis=2)


class BottleneckCost:
    """Bottleneck time (ps) of the best contiguous split of orders of one pipeline problem."""

    def __init__(self, problem):
        self.problem = problem
        self.n = problem.num_operators
        a = problem.arrays
        self.compute, self.size, self.output = a.compute_ps, a.flow_size, a.flow_output
        self.producer, self.consumers = _flow_arrays(a.flow_producer, [f.consumers for f in problem.flows])
        users: dict[int, list[int]] = {}
        for v, ws in enumerate(problem.op_params):
            for w in ws:
                users.setdefault(w, []).append(v)
        self.constants = [(problem.param_bytes[w], np.asarray(vs, dtype=np.int64)) for w, vs in users.items()]
        self.own = np.zeros(self.n, dtype=np.int64)  # constants with one user: a prefix sum suffices
        self.shared = []
        for size, vs in self.constants:
            if len(vs) == 1:
                self.own[vs[0]] += size
            else:
                self.shared.append((size, vs))

    def cost_matrices(self, orders: np.ndarray) -> np.ndarray:
        """``C[b, i, j]``: time of a segment running ``orders[b, i:j]`` (``_INF`` where ``j <= i``)."""
        p = self.problem
        orders = np.asarray(orders, dtype=np.int64)
        batch, n = orders.shape
        pos = _positions(orders)
        compute = np.zeros((batch, n + 1), dtype=np.int64)
        compute[:, 1:] = np.cumsum(self.compute[orders], axis=1)
        # bytes crossing the cut before position i
        first = np.where(self.producer[None] >= 0, pos[:, np.maximum(self.producer, 0)] + 1, 0)
        last = _last_use(pos, self.consumers)
        last = np.where(self.output[None], n, last)
        last = np.where(self.producer[None] < 0, np.maximum(last, 0), last)
        delta = np.zeros((batch, n + 2), dtype=np.int64)
        rows = np.repeat(np.arange(batch), len(self.size))
        keep = (first <= last).ravel()
        sizes = np.tile(self.size, batch)
        np.add.at(delta, (rows[keep], first.ravel()[keep]), sizes[keep])
        np.add.at(delta, (rows[keep], last.ravel()[keep] + 1), -sizes[keep])
        crossing = np.cumsum(delta, axis=1)[:, :n + 1]
        own = np.zeros((batch, n + 1), dtype=np.int64)
        own[:, 1:] = np.cumsum(self.own[orders], axis=1)
        params = own[:, None, :] - own[:, :, None]
        if self.shared:
            starts = np.arange(n + 1)
            for size, vs in self.shared:
                users = np.sort(pos[:, vs], axis=1)  # (batch, users)
                nxt = (users[:, None, :] < starts[None, :, None]).sum(axis=2)  # first user at or after i
                has = nxt < users.shape[1]
                at = np.take_along_axis(users, np.minimum(nxt, users.shape[1] - 1), axis=1)
                # a segment [i, j) pays for the constant when that user is before j
                params += size * (has[:, :, None] & (at[:, :, None] < starts[None, None, :]))
        streamed = np.maximum(params - p.cache_bytes, 0)
        cost = (p.segment_overhead_ps + (compute[:, None, :] - compute[:, :, None])
                + p.stream_ps_per_byte * streamed
                + p.link_ps_per_byte * (crossing[:, :, None] + crossing[:, None, :]))
        upper = np.triu(np.ones((n + 1, n + 1), dtype=bool), k=1)
        return np.where(upper[None], cost, _INF)

    def __call__(self, orders: np.ndarray, k: int) -> np.ndarray:
        """Per order, the bottleneck of its best split into ``k`` contiguous pieces."""
        cost = self.cost_matrices(orders)
        batch = cost.shape[0]
        best = np.full((batch, self.n + 1), _INF, dtype=np.int64)
        best[:, 0] = 0
        for _ in range(k):
            best = np.maximum(best[:, :, None], cost).min(axis=1)
        return best[:, self.n]


class PeakCost:
    """Peak of live activation bytes of orders of one graph."""

    def __init__(self, graph: Graph):
        flow = memory.activation_flow(graph)
        self.n = graph.num_operators
        self.size = np.asarray(flow.size, dtype=np.int64)
        self.producer, self.consumers = _flow_arrays(flow.producer, flow.consumers)
        self.pinned = np.asarray(flow.pinned, dtype=bool)

    def __call__(self, orders: np.ndarray) -> np.ndarray:
        orders = np.asarray(orders, dtype=np.int64)
        batch, n = orders.shape
        pos = _positions(orders)
        start = np.where(self.producer[None] >= 0, pos[:, np.maximum(self.producer, 0)], 0)
        end = np.maximum(_last_use(pos, self.consumers), start)
        end = np.where(self.pinned[None], max(n - 1, 0), end)
        delta = np.zeros((batch, n + 1), dtype=np.int64)
        rows = np.repeat(np.arange(batch), len(self.size))
        sizes = np.tile(self.size, batch)
        np.add.at(delta, (rows, start.ravel()), sizes)
        np.add.at(delta, (rows, end.ravel() + 1), -sizes)
        return np.cumsum(delta, axis=1)[:, :max(n, 1)].max(axis=1)
