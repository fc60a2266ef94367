"""The memory model: the only place that computes tensor sizes, lifetimes and peaks.

It is the model TFLite and TFLite Micro use (see ``docs/memory-model.md``):

* an *activation* tensor holds no constant data and is not a variable tensor;
  constants (weights) and variables (persistent state) are counted apart;
* its size is the product of ``shape`` times the byte width of its type;
* in a given operator order, a graph input lives from step 0, a tensor
  produced at step ``i`` lives from ``i`` to its last consumer, and a graph
  output lives to the last step; an operator's inputs and outputs are alive
  together at its step (a custom operator's scratch, which nothing writes,
  lives during its readers' steps);
* the peak is the largest sum of live activation bytes over all steps. No
  order can go below :func:`lower_bound`.

Every function takes ``inplace``. Off (the default), no operator reuses an
input's bytes: what TFLite Micro's own planner does. On, an element-wise
operator writes its output over an input that dies there whatever the order
(:func:`inplace_sources`), so the two tensors are one *buffer*: what our
offline arena plan makes TFLite Micro do. Buffers are named by their first
tensor (the *root*); without ``inplace`` every tensor is its own buffer.

Orders are sequences of operator indices (positions in the stored order).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
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
    width = DTYPE_BYTES.get(tensor.dtype, 0)
    return int(-(-math.prod(tensor.shape) * width // 1))


def is_activation(tensor: Tensor) -> bool:
    """Whether a tensor lives in the activation arena (no constant data, not a variable)."""
    return not tensor.has_data and not tensor.is_variable


def weights_bytes(graph: Graph) -> int:
    """Bytes of constant tensors (weights, biases, shapes...) of the graph."""
    return sum(tensor_bytes(t) for t in graph.tensors if t.has_data)


def variables_bytes(graph: Graph) -> int:
    """Bytes of variable tensors (persistent state) of the graph."""
    return sum(tensor_bytes(t) for t in graph.tensors if t.is_variable and not t.has_data)


#: Element-wise operators that may write their output over an input: each
#: output element is written after the only read of the same element of that
#: input (TFLite Micro's reference kernels loop over the elements, and so do
#: its broadcasting variants over the output's; run and checked on every
#: model of the test suite with the offline plan).
INPLACE_KINDS = frozenset({"ADD", "SUB", "MUL"})


def inplace_sources(graph: Graph, *, stored_order: bool = False) -> dict[int, int]:
    """Tensors an operator may write over one of its inputs, mapped to that input.

    The input must die at that operator in *every* order (it is its only
    reader, and no graph output), be written by an operator of the graph (not
    a graph input, which the caller may still hold), appear once among its
    inputs, and have the output's exact type and shape, so element ``i`` of
    the output lands on element ``i`` of the input. The first such input is
    taken. Because the rule holds for every order, schedulers can count the
    pair as one buffer before choosing an order.

    With ``stored_order`` (for an arena plan of the order as stored), the
    input need only be read last by that operator in the stored order.
    """
    outputs, inputs = set(graph.outputs), set(graph.inputs)
    tensors = graph.tensors
    sources: dict[int, int] = {}
    for op in graph.operators:
        if op.kind not in INPLACE_KINDS or len(op.outputs) != 1 or op.outputs[0] < 0:
            continue
        out = tensors[op.outputs[0]]
        if not is_activation(out) or out.dynamic or tensor_bytes(out) == 0:
            continue
        for t in op.inputs:
            if t < 0:
                continue
            src = tensors[t]
            if (is_activation(src) and not src.dynamic and src.shape == out.shape and src.dtype == out.dtype
                    and graph.producer[t] >= 0 and t not in outputs and t not in inputs
                    and op.inputs.count(t) == 1
                    and (graph.consumers[t][-1] == op.index if stored_order else graph.consumers[t] == (op.index,))):
                sources[out.index] = t
                break
    return sources


def buffer_roots(graph: Graph, inplace: bool = False) -> list[int]:
    """Per tensor, the root tensor of the buffer holding it (itself unless written in place)."""
    root = list(range(len(graph.tensors)))
    if inplace:
        sources = inplace_sources(graph)
        # a source is written before its target, so stored order resolves chains
        for op in graph.operators:
            for t in op.outputs:
                if t in sources:
                    root[t] = root[sources[t]]
    return root


@dataclass(frozen=True)
class Lifetime:
    """An activation buffer alive at steps ``start..end`` (inclusive) of an order.

    ``tensor`` is its root; ``members`` every tensor it holds (just the root
    unless tensors are written in place)."""

    tensor: int
    size: int
    start: int
    end: int
    members: tuple[int, ...] = ()


@dataclass(frozen=True)
class Profile:
    """Live activation bytes at each step of an order."""

    order: tuple[int, ...]
    live: tuple[int, ...]  # bytes alive at each step
    peak: int
    peak_step: int
    alive_at_peak: tuple[int, ...]  # buffer roots (tensor indices), largest first


def check_order(graph: Graph, order: Sequence[int]) -> None:
    """Raise InfeasibleError unless ``order`` runs every operator once, after all its predecessors."""
    check_topological(graph.preds, order, f"subgraph {graph.subgraph}")


@dataclass(frozen=True)
class _Buffer:
    root: int
    size: int
    producer: int  # -1: a graph input
    consumers: tuple[int, ...]  # ascending
    pinned: bool  # holds a graph output
    members: tuple[int, ...]


def _buffers(graph: Graph, inplace: bool) -> list[_Buffer]:
    """The activation buffers that are ever alive, ordered by root."""
    graph_inputs, graph_outputs = set(graph.inputs), set(graph.outputs)
    roots = buffer_roots(graph, inplace)
    members: dict[int, list[int]] = {}
    for t in graph.tensors:
        if not t.has_data and not t.is_variable:  # is_activation
            members.setdefault(roots[t.index], []).append(t.index)
    producer, consumers, tensors = graph.producer, graph.consumers, graph.tensors
    result = []
    for root in sorted(members):
        held = members[root]
        p = producer[root]
        # consumers are ascending and each listed once
        readers = consumers[root] if len(held) == 1 else tuple(sorted({c for t in held for c in consumers[t]}))
        if p < 0 and root not in graph_inputs:
            if not readers:
                continue  # declared but never alive
            # a custom operator's scratch (graph.scratch_tensors; the graph
            # admits no other unwritten reads): alive from its first reader to
            # its last, as if the first wrote it, as TFLite Micro plans it
            p, readers = readers[0], readers[1:]
        pinned = any(t in graph_outputs for t in held)
        result.append(_Buffer(root, tensor_bytes(tensors[root]), p, tuple(readers), pinned, tuple(held)))
    return result


def lifetimes(graph: Graph, order: Sequence[int] | None = None, *, inplace: bool = False) -> list[Lifetime]:
    """Lifetimes of the activation buffers under ``order`` (default: stored order).

    Tensors that are neither graph inputs nor written by an operator are left
    out (unused declarations), except a custom operator's scratch (read, never
    written: Vela's output), alive from its first reader to its last.
    """
    buffers = _buffers(graph, inplace)
    spans = _spans(graph, order, [b.producer for b in buffers], [b.consumers for b in buffers],
                   [b.pinned for b in buffers])
    return [Lifetime(b.root, b.size, start, end, b.members) for b, (start, end) in zip(buffers, spans)]


def _spans(graph: Graph, order: Sequence[int] | None, producers, consumers, pinned) -> list[tuple[int, int]]:
    """The first and last step of each buffer (given by its producer, consumers
    and whether it is pinned) under ``order``, checked first."""
    n = graph.num_operators
    order = range(n) if order is None else order
    check_order(graph, order)
    step_of = [0] * n
    for step, v in enumerate(order):
        step_of[v] = step
    last = max(n - 1, 0)
    spans = []
    for p, readers, held in zip(producers, consumers, pinned):
        start = step_of[p] if p >= 0 else 0
        if held:
            end = last
        else:
            end = start
            for c in readers:
                if step_of[c] > end:
                    end = step_of[c]
        spans.append((start, end))
    return spans


def profile(graph: Graph, order: Sequence[int] | None = None, *, inplace: bool = False,
            flow: "ActivationFlow | None" = None) -> Profile:
    """Live bytes per step, the peak, where it occurs and what is alive there.

    ``flow``, if the caller has it, is :func:`activation_flow` of ``graph``
    with the same ``inplace`` (it holds the buffers, so they are not derived
    again)."""
    n = graph.num_operators
    order = tuple(range(n)) if order is None else tuple(order)
    if flow is None:
        flow = activation_flow(graph, inplace=inplace)
    spans = _spans(graph, order, flow.producer, flow.consumers, flow.pinned)
    steps = max(n, 1)
    delta = [0] * (steps + 1)
    for size, (start, end) in zip(flow.size, spans):
        delta[start] += size
        delta[end + 1] -= size
    live, running = [], 0
    for step in range(steps):
        running += delta[step]
        live.append(running)
    peak = max(live)
    peak_step = live.index(peak)
    alive = sorted((-size, root) for root, size, (start, end) in zip(flow.tensor, flow.size, spans)
                   if start <= peak_step <= end)
    return Profile(order, tuple(live), peak, peak_step, tuple(root for _, root in alive))


def peak_bytes(graph: Graph, order: Sequence[int] | None = None, *, inplace: bool = False,
               flow: "ActivationFlow | None" = None) -> int:
    """The peak of live activation bytes under ``order`` (default: stored
    order); ``flow`` as for :func:`profile`."""
    return profile(graph, order, inplace=inplace, flow=flow).peak


def working_set(graph: Graph, op: int, *, inplace: bool = False) -> int:
    """Activation bytes an operator needs at once: its inputs and outputs, each buffer counted once."""
    operator = graph.operators[op]
    return _total(graph, operator.inputs + operator.outputs, buffer_roots(graph, inplace))


def _total(graph: Graph, indices, roots: Sequence[int]) -> int:
    """Bytes of the activation buffers holding ``indices`` (-1 entries skipped), each once."""
    held = {roots[t] for t in indices if t >= 0 and is_activation(graph.tensors[t])}
    return sum(tensor_bytes(graph.tensors[r]) for r in held)


def lower_bound(graph: Graph, *, inplace: bool = False) -> int:
    """A peak no order can beat.

    The largest working set of a single operator, and, since every order starts
    with all graph inputs alive and ends with all graph outputs alive, the bytes
    of the graph inputs and of the graph outputs.
    """
    roots = buffer_roots(graph, inplace)
    # per tensor: its buffer's root if it is an activation, else -1; bytes per root
    held_in = [roots[t.index] if is_activation(t) else -1 for t in graph.tensors]
    size = {r: tensor_bytes(graph.tensors[r]) for r in set(held_in) if r >= 0}

    def total(indices):
        return sum(size[r] for r in {held_in[t] for t in indices if t >= 0} if r >= 0)

    bounds = [total(op.inputs + op.outputs) for op in graph.operators]
    bounds.append(total(graph.inputs))
    bounds.append(total(t for t in graph.outputs if graph.producer[t] >= 0 or t in graph.inputs))
    bounds.append(_weight_bound(graph, roots, bounds, size))
    return max(bounds)


def _weight_bound(graph: Graph, roots: Sequence[int], working: Sequence[int], size: dict[int, int]) -> int:
    """A bound from operators no path from a graph input reaches (a DEQUANTIZE
    of a weight, a DENSIFY): at such an operator's step, its successor ``s``
    has not run, so on every path from a graph input to ``s`` one buffer is
    alive (the last whose writer ran, or the input itself), and it is none of
    the operator's own. The widest such path adds its narrowest buffer to the
    operator's working set ``working[v]``. ``size``: bytes per activation
    buffer root."""
    width: dict[int, int] = {}  # buffer root -> widest path from a graph input ending in it
    for t in graph.inputs:
        if is_activation(graph.tensors[t]):
            width[roots[t]] = size[roots[t]]

    reach = [0] * graph.num_operators  # per operator: the widest path into one of its inputs
    for op in graph.operators:  # stored order is topological; a buffer's root is written first
        # (its inputs' widths are all known here and never change later)
        w = reach[op.index] = max((width.get(roots[t], 0) for t in op.inputs if t >= 0), default=0)
        for t in op.outputs:
            if t >= 0 and roots[t] == t and is_activation(graph.tensors[t]):
                width[t] = min(w, size[t])
    best = 0
    for op in graph.operators:
        if any(width.get(roots[t], 0) for t in op.inputs + op.outputs if t >= 0):
            continue
        alive = max((reach[s] for s in graph.succs[op.index]), default=0)
        best = max(best, working[op.index] + alive)
    return best


@dataclass(frozen=True)
class ActivationFlow:
    """The memory model of a graph as flat data, for searches over orders.

    Activation buffer ``k`` (renumbered; ``tensor[k]`` is its root's index in
    the graph) holds ``size[k]`` bytes. It becomes alive when operator
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


def activation_flow(graph: Graph, *, inplace: bool = False) -> ActivationFlow:
    """The flat memory model of ``graph`` (see :class:`ActivationFlow`); with
    ``inplace``, entries are buffers and ``tensor[k]`` their roots."""
    entries = _buffers(graph, inplace)
    return ActivationFlow(
        graph.num_operators, graph.preds,
        tuple(b.root for b in entries), tuple(b.size for b in entries), tuple(b.producer for b in entries),
        tuple(b.consumers for b in entries), tuple(b.pinned for b in entries))


# -- TFLite Micro's bookkeeping ------------------------------------------------


@dataclass(frozen=True)
class PersistentCounts:
    """What TFLite Micro keeps bookkeeping for, counted in a graph."""

    tensors: int  # every tensor, constants included: each gets a TfLiteEvalTensor
    operators: dict[str, int]  # by kind: each gets a node and its kernel's own data
    channels: dict[str, int]  # output channels of convolutions, by kind (see PER_CHANNEL_KINDS)

    def __add__(self, other: "PersistentCounts") -> "PersistentCounts":
        return PersistentCounts(self.tensors + other.tensors, _summed(self.operators, other.operators),
                                _summed(self.channels, other.channels))


def _summed(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    total = dict(a)
    for key, n in b.items():
        total[key] = total.get(key, 0) + n
    return total


#: Operators whose kernels keep an int32 multiplier and shift per output
#: channel, whatever the type (TFLite Micro's convolutions allocate them for
#: float models too).
PER_CHANNEL_KINDS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"})


def persistent_counts(graph: Graph) -> PersistentCounts:
    """The tensors, operators and convolutions' output channels of ``graph``, by kind."""
    kinds: dict[str, int] = {}
    channels: dict[str, int] = {}
    for op in graph.operators:
        kinds[op.kind] = kinds.get(op.kind, 0) + 1
        out = graph.tensors[op.outputs[0]] if op.outputs and op.outputs[0] >= 0 else None
        if op.kind in PER_CHANNEL_KINDS and out is not None and out.shape:
            channels[op.kind] = channels.get(op.kind, 0) + out.shape[-1]
    return PersistentCounts(len(graph.tensors), kinds, channels)


@dataclass(frozen=True, eq=False)  # compared and hashed as an object: Options stays hashable
class PersistentCosts:
    """Bytes TFLite Micro keeps in its arena's tail for the whole run, beyond
    the activations: its ``arena_size`` must hold these too, so an extra
    operator that lowers the activation peak by less than it adds here makes
    the arena bigger. Measured on one build of TFLite Micro by
    ``scripts/tools/fit_persistent.py`` (see ``docs/memory-model.md``); the pointer
    width of the device matters, as much of it is structs of pointers.
    """

    name: str
    per_tensor: int  # TfLiteEvalTensor
    per_operator: int  # the node and its registration
    op_data: dict[str, int]  # each kind's kernel data (OpData, params), by kind
    other_op_data: int  # for kinds not measured
    per_channel: dict[str, int]  # by kind of convolution

    def parts(self, counts: PersistentCounts) -> dict[str, int]:
        """The tail bytes for ``counts`` by what holds them: ``tensors``,
        ``nodes``, ``kernel data`` and ``channels`` (convolutions' multipliers)."""
        return {
            "tensors": self.per_tensor * counts.tensors,
            "nodes": self.per_operator * sum(counts.operators.values()),
            "kernel data": sum(n * self.op_data.get(kind, self.other_op_data) for kind, n in counts.operators.items()),
            "channels": sum(n * self.per_channel.get(kind, 0) for kind, n in counts.channels.items()),
        }

    def bytes(self, counts: PersistentCounts) -> int:
        """The tail bytes for ``counts`` (up to a constant of the interpreter)."""
        return sum(self.parts(counts).values())


def model_persistent_counts(graphs: Sequence[Graph]) -> PersistentCounts:
    """The persistent counts of all subgraphs of a model: TFLite Micro keeps them all."""
    total = PersistentCounts(0, {}, {})
    for graph in graphs:
        total = total + persistent_counts(graph)
    return total


def persistent_bytes(graph: Graph, costs: PersistentCosts) -> int:
    """Estimated tail bytes TFLite Micro keeps for ``graph``'s tensors and
    operators (see :class:`PersistentCosts`); differences between two graphs
    are what a rewrite adds to the arena beside its activations."""
    return costs.bytes(persistent_counts(graph))


def _measured_costs() -> dict[int, PersistentCosts]:
    """The costs ``scripts/tools/fit_persistent.py --save-as BITS`` measured, by pointer width."""
    text = (Path(__file__).with_name("tflm_persistent.json")).read_text()
    fields = {f.name for f in dataclasses.fields(PersistentCosts)}
    return {int(bits): PersistentCosts(**{k: v for k, v in entry.items() if k in fields})
            for bits, entry in json.loads(text).items()}


_MEASURED = _measured_costs()
#: TFLite Micro built for x86-64 (the ``tflite-micro`` package), fitted to 87
#: models (the test models and the zoo, float and int8, and the int8 ones in
#: row strips): tensors and nodes exact, what strips add within 5%.
TFLM_64BIT = _MEASURED[64]
#: TFLite Micro built for 32-bit x86 (``-m32``: 4-byte pointers, as on a
#: Cortex-M), fitted the same way: what strips add within 6.4%. A tensor and
#: a node cost half; kernel data and per-channel arrays are mostly int32, so
#: in all strips cost about a quarter less than on 64 bits.
TFLM_32BIT = _MEASURED[32]
