"""The memory model: the only place that computes tensor sizes, lifetimes and peaks.

It is the model TFLite and TFLite Micro use (see ``docs/memory-model.md``):

* an *activation* tensor holds no constant data and is not a variable tensor;
  constants (weights) and variables (persistent state) are counted apart;
* its size is the product of ``shape`` times the byte width of its type;
* in a given operator order, a graph input lives from step 0, a tensor
  produced at step ``i`` lives from ``i`` to its last consumer, and a graph
  output lives to the last step; an operator's inputs and outputs are alive
  together at its step (no in-place reuse);
* the peak is the largest sum of live activation bytes over all steps. No
  order can go below :func:`lower_bound`.

Orders are sequences of operator indices (positions in the stored order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .graph import Graph, Tensor, check_topological

#: Bytes per element; types whose size depends on their contents count 0.
DTYPE_BYTES: dict[str, float] = {
    "FLOAT32": 4, "FLOAT16": 2, "BFLOAT16": 2, "FLOAT64": 8,
    "INT8": 1, "UINT8": 1, "INT16": 2, "UINT16": 2, "INT32": 4, "UINT32": 4,
    "INT64": 8, "UINT64": 8, "BOOL": 1, "COMPLEX64": 8, "COMPLEX128": 16,
    "INT4": 0.5, "UINT4": 0.5, "INT2": 0.25,
    "FLOAT8_E4M3FN": 1, "FLOAT8_E5M2": 1,
    "STRING": 0, "RESOURCE": 0, "VARIANT": 0,
}


def tensor_bytes(tensor: Tensor) -> int:
    """Bytes of a tensor's data: elements times the type's width (packed types round up)."""
    elements = 1
    for dim in tensor.shape:
        elements *= dim
    width = DTYPE_BYTES.get(tensor.dtype, 0)
    return int(-(-elements * width // 1))


def is_activation(tensor: Tensor) -> bool:
    """Whether a tensor lives in the activation arena (no constant data, not a variable)."""
    return not tensor.has_data and not tensor.is_variable


def weights_bytes(graph: Graph) -> int:
    """Bytes of constant tensors (weights, biases, shapes...) of the graph."""
    return sum(tensor_bytes(t) for t in graph.tensors if t.has_data)


def variables_bytes(graph: Graph) -> int:
    """Bytes of variable tensors (persistent state) of the graph."""
    return sum(tensor_bytes(t) for t in graph.tensors if t.is_variable and not t.has_data)


@dataclass(frozen=True)
class Lifetime:
    """An activation tensor alive at steps ``start..end`` (inclusive) of an order."""

    tensor: int
    size: int
    start: int
    end: int


@dataclass(frozen=True)
class Profile:
    """Live activation bytes at each step of an order."""

    order: tuple[int, ...]
    live: tuple[int, ...]  # bytes alive at each step
    peak: int
    peak_step: int
    alive_at_peak: tuple[int, ...]  # tensor indices, largest first


def check_order(graph: Graph, order: Sequence[int]) -> None:
    """Raise InfeasibleError unless ``order`` runs every operator once, after all its predecessors."""
    check_topological(graph.preds, order, f"subgraph {graph.subgraph}")


def lifetimes(graph: Graph, order: Sequence[int] | None = None) -> list[Lifetime]:
    """Lifetimes of the activation tensors under ``order`` (default: stored order).

    Tensors that are neither graph inputs nor written by an operator (unused
    declarations) are never alive and are left out.
    """
    n = graph.num_operators
    order = list(range(n)) if order is None else list(order)
    check_order(graph, order)
    step_of = [0] * n
    for step, v in enumerate(order):
        step_of[v] = step
    last = max(n - 1, 0)
    graph_inputs, graph_outputs = set(graph.inputs), set(graph.outputs)
    result = []
    for t in graph.tensors:
        if not is_activation(t):
            continue
        p = graph.producer[t.index]
        if p >= 0:
            start = step_of[p]
        elif t.index in graph_inputs:
            start = 0
        else:
            continue
        end = max([start] + [step_of[c] for c in graph.consumers[t.index]])
        if t.index in graph_outputs:
            end = last
        result.append(Lifetime(t.index, tensor_bytes(t), start, end))
    return result


def profile(graph: Graph, order: Sequence[int] | None = None) -> Profile:
    """Live bytes per step, the peak, where it occurs and what is alive there."""
    n = graph.num_operators
    order = tuple(range(n)) if order is None else tuple(order)
    spans = lifetimes(graph, order)
    steps = max(n, 1)
    delta = [0] * (steps + 1)
    for life in spans:
        delta[life.start] += life.size
        delta[life.end + 1] -= life.size
    live, running = [], 0
    for step in range(steps):
        running += delta[step]
        live.append(running)
    peak = max(live)
    peak_step = live.index(peak)
    alive = sorted((l for l in spans if l.start <= peak_step <= l.end), key=lambda l: (-l.size, l.tensor))
    return Profile(order, tuple(live), peak, peak_step, tuple(l.tensor for l in alive))


def peak_bytes(graph: Graph, order: Sequence[int] | None = None) -> int:
    """The peak of live activation bytes under ``order`` (default: stored order)."""
    return profile(graph, order).peak


def working_set(graph: Graph, op: int) -> int:
    """Activation bytes an operator needs at once: its inputs and outputs, each counted once."""
    operator = graph.operators[op]
    touched = {t for t in operator.inputs + operator.outputs if t >= 0}
    return sum(tensor_bytes(graph.tensors[t]) for t in touched if is_activation(graph.tensors[t]))


def lower_bound(graph: Graph) -> int:
    """A peak no order can beat.

    The largest working set of a single operator, and, since every order starts
    with all graph inputs alive and ends with all graph outputs alive, the bytes
    of the graph inputs and of the graph outputs.
    """
    def total(indices):
        return sum(tensor_bytes(graph.tensors[t]) for t in set(indices) if is_activation(graph.tensors[t]))

    bounds = [working_set(graph, v) for v in range(graph.num_operators)]
    bounds.append(total(graph.inputs))
    bounds.append(total(t for t in graph.outputs if graph.producer[t] >= 0 or t in graph.inputs))
    return max(bounds)


@dataclass(frozen=True)
class ActivationFlow:
    """The memory model of a graph as flat data, for searches over orders.

    Activation tensor ``k`` (renumbered; ``tensor[k]`` is its index in the
    graph) holds ``size[k]`` bytes. It becomes alive when operator
    ``producer[k]`` runs (``-1``: a graph input, alive from the start) and dies
    after its last consumer has run, unless ``pinned[k]`` (a graph output),
    in which case it stays alive to the end. An operator's step holds the
    live bytes before it plus its outputs. :func:`profile` computes the same
    figures for a given order; the searches must agree with it.
    """

    num_operators: int
    preds: tuple[tuple[int, ...], ...]
    tensor: tuple[int, ...]
    size: tuple[int, ...]
    producer: tuple[int, ...]
    consumers: tuple[tuple[int, ...], ...]
    pinned: tuple[bool, ...]


def activation_flow(graph: Graph) -> ActivationFlow:
    """The flat memory model of ``graph`` (see :class:`ActivationFlow`)."""
    graph_inputs, graph_outputs = set(graph.inputs), set(graph.outputs)
    tensor, size, producer, consumers, pinned = [], [], [], [], []
    for t in graph.tensors:
        if not is_activation(t):
            continue
        p = graph.producer[t.index]
        if p < 0 and t.index not in graph_inputs:
            continue  # declared but never alive
        tensor.append(t.index)
        size.append(tensor_bytes(t))
        producer.append(p)
        consumers.append(graph.consumers[t.index])
        pinned.append(t.index in graph_outputs)
    return ActivationFlow(graph.num_operators, graph.preds, tuple(tensor), tuple(size), tuple(producer),
                          tuple(consumers), tuple(pinned))
