"""The operator graph of one subgraph: operators as nodes, tensors as edges.

This is our own plain data, built once from the schema's object tree; later
stages (memory model, scheduler, arena planner, rewriter) see only these
dataclasses. Operator indices are positions in the stored order, which is also
the tie-break everywhere, so results are deterministic.

Besides data edges (producer -> consumer), a graph has *ordering edges* that
keep operators with effects the tensors do not show (custom operators, control
flow, resource variables, random numbers, variable tensors) in their stored
relative order: reordering them could change results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .errors import ModelFormatError
from .model import called_subgraphs, opcode_name
from .model.schema import TENSOR_TYPE_NAMES

# Builtins whose effects are not visible in their tensors.
_ORDERED_BUILTINS = frozenset({
    "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE",
    "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_SIZE", "HASHTABLE_LOOKUP",
    "RANDOM_STANDARD_NORMAL", "RANDOM_UNIFORM", "MULTINOMIAL",
    "CALL", "CALL_ONCE", "IF", "WHILE",
})


@dataclass(frozen=True)
class Tensor:
    """One tensor of a subgraph, with the facts the memory model needs."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    has_data: bool  # a constant: its buffer holds data
    is_variable: bool
    dynamic: bool = False  # shape_signature has -1: sized with the static shape
    dynamic_dims: tuple[int, ...] = ()  # the axes whose shape_signature is -1


@dataclass(frozen=True)
class Operator:
    """One operator; ``index`` is its position in the stored order."""

    index: int
    kind: str  # "CONV_2D", or "CUSTOM:<code>"
    inputs: tuple[int, ...]  # tensor indices; -1 marks an omitted optional input
    outputs: tuple[int, ...]
    calls: tuple[int, ...] = ()  # subgraphs it runs


@dataclass(frozen=True)
class Graph:
    """The operator DAG of one subgraph."""

    subgraph: int
    name: str
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    producer: tuple[int, ...]  # per tensor: the operator writing it, or -1
    consumers: tuple[tuple[int, ...], ...]  # per tensor: operators reading it, ascending
    preds: tuple[tuple[int, ...], ...]  # per operator: data and ordering predecessors, ascending
    succs: tuple[tuple[int, ...], ...] = field(repr=False)

    @property
    def num_operators(self) -> int:
        return len(self.operators)


def build_graphs(model) -> list[Graph]:
    """One :class:`Graph` per subgraph of a ``ModelT``."""
    return [build_graph(model, s) for s in range(len(model.subgraphs))]


def build_graph(model, subgraph_index: int, *, read: "TensorsRead | None" = None) -> Graph:
    """Build the operator DAG of subgraph ``subgraph_index`` of a ``ModelT``.

    ``read``, when many versions of one model are built (the strip search
    builds one per candidate), remembers the schema tensors they share.

    Raises ModelFormatError when a tensor has two producers, an operator reads
    a tensor that nothing provides, or the data edges form a cycle.
    """
    sub = model.subgraphs[subgraph_index]
    buffers = model.buffers or []
    if read is None:
        tensors = tuple(_tensor(i, t, buffers) for i, t in enumerate(sub.tensors or []))
    else:
        tensors = tuple(read.tensor(i, t, buffers) for i, t in enumerate(sub.tensors or []))
    kinds: dict[int, str] = {}  # per operator code: its name
    operators = []
    for i, op in enumerate(sub.operators or []):
        kind = kinds.get(op.opcodeIndex)
        if kind is None:
            kind = kinds[op.opcodeIndex] = opcode_name(model, op)
        inputs, outputs, calls = _operator_tensors(op) if read is None else read.operator(op)
        operators.append(Operator(i, kind, inputs, outputs, calls))
    inputs = _ints(sub.inputs)
    outputs = _ints(sub.outputs)
    return assemble_graph(subgraph_index, _text(sub.name), tensors, operators, inputs, outputs)


def assemble_graph(
    subgraph_index: int,
    name: str,
    tensors: Sequence[Tensor],
    operators: Sequence[Operator],
    inputs: Sequence[int],
    outputs: Sequence[int],
) -> Graph:
    """Derive producers, consumers and dependencies, checking the graph is well formed.

    Raises ModelFormatError when a tensor has two producers, an operator reads
    a tensor that nothing provides or that is written only later in the stored
    order. A tensor that nothing writes and only custom operators read is their
    scratch, not an error.
    """
    tensors, operators = tuple(tensors), tuple(operators)
    inputs, outputs = tuple(inputs), tuple(outputs)
    where = f"subgraph {subgraph_index}"
    given = set(inputs)
    producer = [-1] * len(tensors)
    consumers: list[list[int]] = [[] for _ in tensors]
    for op in operators:
        index = op.index
        for t in op.outputs:
            if producer[t] != -1:
                raise ModelFormatError(f"{where}: tensor {t} is written by operators {producer[t]} and {index}")
            if t in given:
                raise ModelFormatError(f"{where}: operator {index} writes graph input tensor {t}")
            producer[t] = index
        for t in dict.fromkeys(op.inputs):
            if t >= 0:
                consumers[t].append(index)

    preds: list[set[int]] = [set() for _ in operators]
    for op in operators:
        index = op.index
        mine = preds[index]
        for t in op.inputs:
            if t < 0:
                continue
            p = producer[t]
            if p >= index:
                raise ModelFormatError(
                    f"{where}: operator {index} ({op.kind}) reads tensor {t} before operator {p} writes it; "
                    "the stored order is not valid, so no interpreter would compute this model correctly"
                )
            if p >= 0:
                mine.add(p)
            elif not (t in given or tensors[t].has_data or tensors[t].is_variable
                      or _is_scratch(consumers[t], operators)):
                raise ModelFormatError(
                    f"{where}: operator {index} ({op.kind}) reads tensor {t} ('{tensors[t].name}'), "
                    "which no operator writes and which is not a graph input, constant or variable"
                )
    _add_ordering_edges(operators, tensors, preds)

    sorted_preds = tuple(tuple(sorted(p)) for p in preds)
    succs: list[list[int]] = [[] for _ in operators]
    for v, ps in enumerate(sorted_preds):  # ascending v: each list of successors comes out sorted
        for u in ps:
            succs[u].append(v)
    return Graph(
        subgraph=subgraph_index,
        name=name,
        tensors=tensors,
        operators=operators,
        inputs=inputs,
        outputs=outputs,
        producer=tuple(producer),
        consumers=tuple(map(tuple, consumers)),
        preds=sorted_preds,
        succs=tuple(map(tuple, succs)),
    )


def _is_scratch(readers: Sequence[int], operators: Sequence[Operator]) -> bool:
    """Whether a tensor nothing writes, read only by custom operators, is their scratch.

    Arm Vela's output is one ``ethos-u`` custom operator reading tensors no
    operator writes (its scratch areas): the runtime allocates them, and the
    operator uses them while it runs. The memory model counts such a tensor
    alive from its first reader to its last (see ``memory.lifetimes``).
    """
    return bool(readers) and all(operators[r].kind.startswith("CUSTOM:") for r in readers)


def scratch_tensors(graph: Graph) -> tuple[int, ...]:
    """Tensors of ``graph`` that custom operators use as scratch: nothing writes
    them, they hold no data, are no graph input and no variable, and only
    custom operators read them (Arm Vela's ``ethos-u`` operator, for one)."""
    given = set(graph.inputs)
    return tuple(
        t.index for t in graph.tensors
        if graph.producer[t.index] < 0 and t.index not in given and not t.has_data and not t.is_variable
        and _is_scratch(graph.consumers[t.index], graph.operators))


def resized_at_run_time(graph: Graph) -> bool:
    """Whether a tensor of ``graph`` has a dynamic dimension other than the
    batch (axis 0): its size at run time is not the stored one, so neither
    our memory model nor a plan made from stored sizes holds for it."""
    return any(axis != 0 for t in graph.tensors for axis in t.dynamic_dims)


def is_ordered(op: Operator, tensors: Sequence[Tensor]) -> bool:
    """Whether ``op`` has effects beyond its output tensors, so must keep its place
    relative to other such operators."""
    if op.kind.startswith("CUSTOM:") or op.kind in _ORDERED_BUILTINS or op.calls or not op.outputs:
        return True
    return any(t >= 0 and tensors[t].is_variable for t in op.inputs + op.outputs)


def _add_ordering_edges(operators, tensors, preds: list[set[int]]) -> None:
    variables = any(t.is_variable for t in tensors)
    previous = -1
    for op in operators:
        kind = op.kind
        if (kind.startswith("CUSTOM:") or kind in _ORDERED_BUILTINS or op.calls or not op.outputs
                or variables and is_ordered(op, tensors)):
            if previous >= 0:
                preds[op.index].add(previous)
            previous = op.index


def check_topological(preds: Sequence[Sequence[int]], order: Sequence[int], where: str = "") -> None:
    """Raise InfeasibleError unless ``order`` lists each operator ``0..n-1`` once,
    every one after all its predecessors ``preds[v]``."""
    from .errors import InfeasibleError

    n = len(preds)
    prefix = f"{where}: " if where else ""
    if sorted(order) != list(range(n)):
        raise InfeasibleError(f"{prefix}the order must list each of the {n} operators once")
    position = [0] * n
    for step, v in enumerate(order):
        position[v] = step
    for v, ps in enumerate(preds):
        for u in ps:
            if position[u] > position[v]:
                raise InfeasibleError(f"{prefix}operator {v} would run before operator {u}, which it depends on")


def topological_order(graph: Graph, key: Sequence[int] | None = None) -> list[int]:
    """A topological order of the operators, ties broken by ``key`` (default: stored index).

    Iterative (deep chains do not recurse) and deterministic. Raises
    ModelFormatError if the operators form a cycle.
    """
    import heapq

    n = graph.num_operators
    rank = list(range(n)) if key is None else list(key)
    indegree = [len(p) for p in graph.preds]
    ready = [(rank[v], v) for v in range(n) if indegree[v] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, v = heapq.heappop(ready)
        order.append(v)
        for w in graph.succs[v]:
            indegree[w] -= 1
            if indegree[w] == 0:
                heapq.heappush(ready, (rank[w], w))
    if len(order) != n:
        stuck = sorted(v for v in range(n) if indegree[v] > 0)[:5]
        raise ModelFormatError(
            f"subgraph {graph.subgraph}: the operators form a cycle (operators {stuck} wait on each other)"
        )
    return order


def _tensor(index: int, t, buffers) -> Tensor:
    buffer = buffers[t.buffer] if t.buffer < len(buffers) else None
    data = None if buffer is None else buffer.data
    signature = _ints(t.shapeSignature)
    dynamic_dims = tuple(axis for axis, d in enumerate(signature) if d < 0) if signature else ()
    return Tensor(
        index=index,
        name=_text(t.name),
        shape=_ints(t.shape),
        dtype=TENSOR_TYPE_NAMES.get(int(t.type), f"TYPE_{t.type}"),
        has_data=data is not None and len(data) > 0,
        is_variable=bool(t.isVariable),
        dynamic=bool(dynamic_dims),
        dynamic_dims=dynamic_dims,
    )


class TensorsRead:
    """Schema tensors already read, for building graphs of many versions of one
    model: edits share the tensors they leave alone (``model.edit``), and a
    schema object in a model is never changed, so each is read once.

    Held by whoever builds the versions, for as long as it builds them; it
    keeps the schema objects it saw alive, so their identities stay theirs.
    """

    def __init__(self) -> None:
        self._seen: dict[int, tuple[object, object, dict[int, Tensor]]] = {}
        self._operators: dict[int, tuple[object, tuple]] = {}
        self._calls: dict[tuple[int, int], tuple[object, object, tuple[int, ...]]] = {}

    def tensor(self, index: int, t, buffers) -> Tensor:
        """The :class:`Tensor` of schema tensor ``t`` at ``index`` (``buffers``: the model's)."""
        buffer = buffers[t.buffer] if t.buffer < len(buffers) else None
        seen = self._seen.get(id(t))
        if seen is None or seen[0] is not t or seen[1] is not buffer:
            found = _tensor(index, t, buffers)
            self._seen[id(t)] = (t, buffer, {index: found})
            return found
        at = seen[2]
        found = at.get(index)
        if found is None:  # the same tensor, renumbered by an edit
            some = next(iter(at.values()))
            found = at[index] = Tensor(index, some.name, some.shape, some.dtype, some.has_data, some.is_variable,
                                       some.dynamic, some.dynamic_dims)
        return found

    def operator(self, op) -> tuple:
        """The tensors (inputs, outputs) and called subgraphs of schema operator ``op``."""
        seen = self._operators.get(id(op))
        if seen is None or seen[0] is not op:
            # an edit that renumbers an operator copies it but keeps its options
            options, options2 = op.builtinOptions, op.builtinOptions2
            calls = self._calls.get((id(options), id(options2)))
            if calls is None or calls[0] is not options or calls[1] is not options2:
                calls = self._calls[id(options), id(options2)] = (options, options2, tuple(called_subgraphs(op)))
            seen = self._operators[id(op)] = (op, (_ints(op.inputs), _ints(op.outputs), calls[2]))
        return seen[1]


def _operator_tensors(op) -> tuple:
    return _ints(op.inputs), _ints(op.outputs), tuple(called_subgraphs(op))


def _ints(values) -> tuple[int, ...]:
    """A schema vector (a numpy array, a list, or None) as a tuple of ints."""
    if values is None:
        return ()
    if isinstance(values, np.ndarray):
        return tuple(values.tolist())
    return tuple(map(int, values))


def _text(value) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
