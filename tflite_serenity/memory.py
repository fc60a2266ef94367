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

Across subgraphs: :func:`loop_aliases` names the tensors that are copies of
one WHILE-carried value (which an offline plan may pin to one offset), and
:func:`nested_peak` gives subgraph 0's peak with the subgraphs its
operators run, those copies counted once where they share bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from .graph import Graph, Operator, Tensor, check_topological
from .model.types import TYPES

#: Bytes per element; types whose size depends on their contents count 0.
DTYPE_BYTES: dict[str, float] = {name: info.width for name, info in TYPES.items()}


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


#: TFLite Micro's DYNAMIC_UPDATE_SLICE copies its operand (input 0) to its
#: output only where the two differ (``dynamic_update_slice.cc``), then writes
#: the update: its output may sit over an operand that dies there. Only the
#: pinned copies of a loop (:func:`loop_aliases`) use this.
UPDATE_KINDS = frozenset({"DYNAMIC_UPDATE_SLICE"})


def _updates_in_place(graph: Graph, bodies: frozenset[int]) -> dict[int, int]:
    """Per DYNAMIC_UPDATE_SLICE output that may sit over its operand, that
    operand: of the output's type and shape, read last (in the stored order)
    and once by the operator, no graph output, and written by an operator of
    the graph or an input of a WHILE body in ``bodies`` (the body's own copy
    of a carried value, which the loop overwrites with the body's output)."""
    tensors, outputs, inputs = graph.tensors, set(graph.outputs), set(graph.inputs)
    found: dict[int, int] = {}
    for op in graph.operators:
        if op.kind not in UPDATE_KINDS or not op.inputs or len(op.outputs) != 1:
            continue
        src, out = op.inputs[0], op.outputs[0]
        if src < 0 or out < 0:
            continue
        a, b = tensors[src], tensors[out]
        if not (is_activation(a) and is_activation(b) and not a.dynamic and not b.dynamic
                and a.shape == b.shape and a.dtype == b.dtype):
            continue
        if src in outputs or op.inputs.count(src) != 1 or graph.consumers[src][-1] != op.index:
            continue
        if graph.producer[src] < 0 and not (src in inputs and graph.subgraph in bodies):
            continue
        found[out] = src
    return found


def loop_aliases(graphs: Sequence[Graph]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Pairs of tensors, each ``(subgraph, tensor)``, that may share bytes
    because they are copies of one loop-carried value, in TFLite Micro.

    TFLite Micro's WHILE copies its inputs to the condition's inputs and to
    its outputs, its outputs to the body's inputs, the body's outputs back to
    its outputs and on to the condition's inputs, skipping every copy whose
    source and destination are one address (``kernels/while.cc``,
    ``kernel_util.cc``). For carried value ``i`` of a WHILE whose condition
    and body no other operator runs, these may share bytes:

    * WHILE output ``i`` with condition input ``i`` and body input ``i``
      (the condition only reads its inputs);
    * body output ``i`` with them, where it is body input ``i`` itself, or
      written from it in place (a chain of :data:`UPDATE_KINDS`), or written
      after body input ``i``'s last reader;
    * WHILE input ``i`` with them, where the WHILE reads it last (and it is
      no graph input or output: the caller may hold those), or where the body hands value ``i`` back unchanged
      (body output ``i`` is body input ``i``) and no operator that may write
      in place reads the input or the output;
    * a DYNAMIC_UPDATE_SLICE output with its dying operand, in any subgraph
      (the operand may be a WHILE body's input).

    Each tensor must hold no data, match the WHILE output's type and shape
    and appear once among its operator's or subgraph's inputs. Sharing the
    pairs transitively is safe: whenever one member is written, every other
    member holds the same value or is no longer read.
    """
    callers: dict[int, int] = {}
    for g in graphs:
        for op in g.operators:
            for c in op.calls:
                callers[c] = callers.get(c, 0) + 1

    def loop(op: Operator, s: int) -> tuple[int, int] | None:
        if op.kind != "WHILE" or len(op.calls) != 2:
            return None
        c, b = op.calls
        if c == b or s in (c, b) or not (0 <= c < len(graphs) and 0 <= b < len(graphs)):
            return None
        return (c, b) if callers.get(c) == 1 and callers.get(b) == 1 else None

    bodies = frozenset(found[1] for g in graphs for op in g.operators
                       if (found := loop(op, g.subgraph)) is not None)
    writers = INPLACE_KINDS | UPDATE_KINDS | {"RESHAPE"}
    pairs: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for g in graphs:
        s = g.subgraph
        pairs.extend(((s, src), (s, out)) for out, src in sorted(_updates_in_place(g, bodies).items()))
        for op in g.operators:
            called = loop(op, s)
            if called is None:
                continue
            c, b = called
            cond, body = graphs[c], graphs[b]
            n = len(op.outputs)
            if not len(op.inputs) == n == len(cond.inputs) == len(body.inputs) == len(body.outputs):
                continue
            chain = {src: out for out, src in _updates_in_place(body, bodies).items()}
            for i in range(n):
                out = op.outputs[i]
                if not _copy_of(g, out, op.outputs, g, out):
                    continue
                ci, bi, bo = cond.inputs[i], body.inputs[i], body.outputs[i]
                if _copy_of(cond, ci, cond.inputs, g, out):
                    pairs.append(((s, out), (c, ci)))
                if not _copy_of(body, bi, body.inputs, g, out):
                    continue
                pairs.append(((s, out), (b, bi)))
                unchanged = bo == bi
                if not unchanged and _copy_of(body, bo, body.outputs, g, out) and bo not in body.inputs:
                    t = bi
                    while t in chain and t != bo:
                        t = chain[t]
                    late = body.producer[bo] >= 0 and all(r < body.producer[bo] for r in body.consumers[bi])
                    if t == bo or late:
                        pairs.append(((s, out), (b, bo)))
                inp = op.inputs[i]
                if not _copy_of(g, inp, op.inputs, g, out):
                    continue
                # an input the caller may still hold (a graph input) is overwritten only if it never changes
                dies = g.consumers[inp][-1] == op.index and inp not in g.outputs and inp not in g.inputs
                kept = unchanged and not any(g.operators[r].kind in writers
                                             for t in (inp, out) for r in g.consumers[t])
                if dies or kept:
                    pairs.append(((s, inp), (s, out)))
    return pairs


def _copy_of(graph: Graph, t: int, among: Sequence[int], like_graph: Graph, like: int) -> bool:
    """Whether tensor ``t`` of ``graph`` may hold a copy of tensor ``like`` of
    ``like_graph``: an activation of its type and static shape, listed once
    in ``among``."""
    if t < 0 or like < 0 or among.count(t) != 1:
        return False
    x, y = graph.tensors[t], like_graph.tensors[like]
    return (is_activation(x) and is_activation(y) and not x.dynamic and not y.dynamic
            and x.shape == y.shape and x.dtype == y.dtype)


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


@dataclass(frozen=True)
class NestedPeak:
    """The live-bytes peak of a model whose subgraphs call others (WHILE, IF,
    CALL_ONCE), in stored orders: see :func:`nested_peak`."""

    peak: int
    step: int  # the step of subgraph 0 where it occurs
    inner: int  # of the peak, the bytes of the called subgraphs' own tensors (0 if none run there)
    steps: tuple[int, ...] = field(default=(), repr=False, compare=False)  # the same figure at every step


def nested_peak(graphs: Sequence[Graph], shared: Sequence[tuple[tuple[int, int], tuple[int, int]]] = ()
                ) -> NestedPeak:
    """The peak of live activation bytes of subgraph 0 in stored order, with
    each operator that runs other subgraphs counted as what lives across it
    plus the largest peak of a subgraph it runs (computed the same way, in
    turn), as TFLite Micro lays them out: a called subgraph's tensors live
    only while its operator runs, one called subgraph at a time.

    ``shared`` pairs tensors, each ``(subgraph, tensor)``, that hold one set
    of bytes (the copies of a loop-carried value an offline plan pins to one
    offset: :func:`loop_aliases`); each set is counted once, at every step
    one of its tensors is alive, and a called subgraph's tensors sharing the
    bytes of its operator's own inputs and outputs are counted there only.
    Without ``shared`` every tensor counts in bytes of its own.

    Subgraphs are walked with an explicit stack; one that calls itself
    (which TFLite Micro refuses) is counted without its own calls.
    """
    parent: dict[tuple[int, int], tuple[int, int]] = {}

    def root(a: tuple[int, int]) -> tuple[int, int]:
        while parent.get(a, a) != a:
            parent[a] = parent.get(parent[a], parent[a])
            a = parent[a]
        return a

    for a, b in shared:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    def calls(key: tuple[int, frozenset]) -> list[tuple[int, int, tuple[int, frozenset]]]:
        """Per operator of the key's subgraph that runs others: (step, callee, callee's key)."""
        s = key[0]
        return [(op.index, c, (c, _across(graphs, s, op, c, root)))
                for op in graphs[s].operators for c in op.calls if 0 <= c < len(graphs)]

    def profile_of(key: tuple[int, frozenset], inner: dict) -> tuple[list[int], list[int]]:
        """Live bytes per step of the key's subgraph (byte sets in its
        ``outside`` left out), and per step the bytes its called subgraphs add."""
        s, outside = key
        graph = graphs[s]
        spans: dict[tuple[int, int], list[tuple[int, int]]] = {}
        size: dict[tuple[int, int], int] = {}
        for life in lifetimes(graph):
            held = root((s, life.tensor))
            if held not in outside:
                spans.setdefault(held, []).append((life.start, life.end))
                size[held] = max(size.get(held, 0), life.size)
        steps = max(graph.num_operators, 1)
        delta = [0] * (steps + 1)
        for held, found in spans.items():
            found.sort()
            merged = [list(found[0])]
            for a, b in found[1:]:
                if a > merged[-1][1] + 1:
                    merged.append([a, b])
                else:
                    merged[-1][1] = max(merged[-1][1], b)
            for a, b in merged:
                delta[a] += size[held]
                delta[b + 1] -= size[held]
        live, running = [], 0
        for step in range(steps):
            running += delta[step]
            live.append(running)
        extra = [0] * steps
        for step, _, callee in calls(key):
            extra[step] = max(extra[step], inner.get(callee, 0))  # 0: a subgraph that runs itself
        return live, extra

    start = (0, frozenset())
    inner: dict[tuple[int, frozenset], int] = {}
    profiles: dict[tuple[int, frozenset], tuple[list[int], list[int]]] = {}
    stack: list[tuple[tuple[int, frozenset], bool]] = [(start, False)] if graphs else []
    path: set[tuple[int, frozenset]] = set()
    while stack:
        key, expanded = stack.pop()
        if not expanded:
            if key in inner or key in path:
                continue
            path.add(key)
            stack.append((key, True))
            stack.extend((callee, False) for _, _, callee in reversed(calls(key))
                         if callee not in inner and callee not in path)
            continue
        path.discard(key)
        live, extra = profiles[key] = profile_of(key, inner)
        inner[key] = max(a + b for a, b in zip(live, extra))
    if not graphs:
        return NestedPeak(0, 0, 0)
    live, extra = profiles[start]
    totals = [a + b for a, b in zip(live, extra)]
    peak = max(totals)
    step = totals.index(peak)
    return NestedPeak(peak, step, extra[step], tuple(totals))


def _across(graphs: Sequence[Graph], s: int, op: Operator, callee: int, root) -> frozenset:
    """The byte sets of subgraph ``callee`` that are its caller's operator's
    own inputs or outputs (counted in the caller's step), as roots."""
    if not 0 <= callee < len(graphs):
        return frozenset()
    own = {root((s, t)) for t in op.inputs + op.outputs if t >= 0}
    return frozenset(r for t in range(len(graphs[callee].tensors)) if (r := root((callee, t))) in own)
