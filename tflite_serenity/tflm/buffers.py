"""The buffers TFLite Micro plans for a whole model, with its lifetimes.

TFLite Micro plans one arena for all subgraphs of a model
(``micro_allocation_info.cc``, ``AllocationInfoBuilder``). Read from the
tflite-micro sources (commit 90b983c2 of 2026-08-20; the scheme dates from
March 2023):

* **What is planned.** Every tensor of every subgraph whose buffer holds no
  data, that is not a variable, whose byte count is not zero, and whose
  kernel did not point it at memory of its own while preparing (VAR_HANDLE
  does, for its resource id: ``var_handle.cc``). Then one
  buffer per scratch request (:mod:`.scratch`). They are handed to the
  planner in that order: subgraph 0's tensors by index, subgraph 1's, ...,
  then scratch buffers in the order requested. The same order indexes the
  ``OfflineMemoryAllocation`` offsets (tensors only): entry
  ``sum(tensor counts of subgraphs before s) + i`` is tensor ``i`` of
  subgraph ``s``.
* **Time.** One counter, the *allocation scope*, runs over the whole model.
  Subgraph 0 is walked from scope 0: its inputs are created at the scope the
  walk starts at, and every operator opens a new scope. An IF, WHILE or
  CALL_ONCE operator walks the subgraphs it runs (then/else, cond/body,
  init) right there, each in a new scope, so their tensors live strictly
  inside the operator's scopes; its own inputs and outputs stay alive across
  them. A tensor lives from the scope of its producer (or of its subgraph's
  start, for subgraph inputs) to the last scope of its last consumer (to the
  end of its subgraph's walk, for subgraph outputs). A subgraph walked twice
  keeps its first creation and its last use. Tensors never reached (a
  subgraph no operator runs) have the lifetime ``[-1, -1]``.
* **Bytes.** Elements times the type's width, with TFLite Micro's widths:
  RESOURCE tensors take 4 bytes and INT4 tensors one byte per element (our
  memory model counts 0 and half a byte). Types TFLite Micro cannot size
  (STRING, VARIANT, ...) make the model unplannable.

The lifetimes in steps come from :func:`tflite_serenity.memory.lifetimes`;
this module only maps steps onto the allocation scopes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from tflite_serenity import memory
from tflite_serenity.model.types import TYPES
from tflite_serenity.arena.blocks import Block
from tflite_serenity.tflm.scratch import reserved_scratch
from tflite_serenity.errors import UnsupportedModelError
from tflite_serenity.graph import Graph, Tensor

NEVER = -1
"""Allocation scope of buffers TFLite Micro never reaches (``kUninitializedLifetime``)."""

#: Bytes per element as TFLite Micro counts them (``TfLiteTypeSizeOf``).
TFLM_TYPE_BYTES: dict[str, int] = {name: t.tflm_width for name, t in TYPES.items() if t.tflm_width is not None}

#: Control-flow operators whose subgraphs TFLite Micro plans inside their
#: scopes (``MarkSubgraphLifetimesIfNecessary``), in the order it walks them.
_CONTROL_FLOW = frozenset({"IF", "WHILE", "CALL_ONCE"})


def tflm_bytes(tensor: Tensor) -> int:
    """Bytes TFLite Micro allocates for ``tensor`` (before 16-byte alignment).

    Raises
    ------
    UnsupportedModelError
        If TFLite Micro cannot size the tensor's type, or its shape has a
        negative dimension.

    Examples
    --------
    >>> from tflite_serenity.graph import Tensor
    >>> tflm_bytes(Tensor(0, "handle", (), "RESOURCE", False, False))
    4
    """
    width = TFLM_TYPE_BYTES.get(tensor.dtype)
    if width is None:
        raise UnsupportedModelError(
            f"tensor {tensor.index} ('{tensor.name}'): TFLite Micro has no size for type {tensor.dtype}")
    count = 1
    for dim in tensor.shape:
        if dim < 0:
            raise UnsupportedModelError(
                f"tensor {tensor.index} ('{tensor.name}') has an unknown dimension in its shape")
        count *= dim
    return count * width


def is_arena_tensor(tensor: Tensor) -> bool:
    """Whether TFLite Micro plans the tensor in the arena (``needs_allocating``)."""
    return memory.is_activation(tensor) and tflm_bytes(tensor) > 0


#: Operators whose kernels point their outputs at memory of their own while
#: preparing, before TFLite Micro plans: it then leaves those outputs out.
_OWN_OUTPUTS = frozenset({"VAR_HANDLE"})


def kernel_owned(graph: Graph) -> set[int]:
    """Tensors a kernel gives memory of its own (VAR_HANDLE's resource id), so
    TFLite Micro does not plan them even though they hold no data."""
    return {t for op in graph.operators if op.kind in _OWN_OUTPUTS for t in op.outputs if t >= 0}


@dataclass(frozen=True)
class ArenaBuffer:
    """One buffer TFLite Micro plans: a tensor, or a kernel's scratch buffer.

    Attributes
    ----------
    subgraph : int
        The subgraph the tensor or the requesting operator belongs to.
    tensor : int
        Tensor index within its subgraph, or -1 for a scratch buffer.
    operator : int
        For a scratch buffer, the requesting operator (position in the
        stored order); -1 for a tensor.
    block : Block
        Bytes (unaligned) and lifetime in allocation scopes.
    """

    subgraph: int
    tensor: int
    operator: int
    block: Block

    @property
    def is_scratch(self) -> bool:
        return self.tensor < 0


@dataclass(frozen=True)
class ModelBuffers:
    """Everything TFLite Micro plans for a model, in the order it adds them.

    Attributes
    ----------
    buffers : tuple of ArenaBuffer
        Tensors by (subgraph, index), then scratch buffers in request order.
    tensor_counts : tuple of int
        Tensors per subgraph (planned or not): the offline plan has one
        entry per tensor of every subgraph, ``sum(tensor_counts)`` in all.
    """

    buffers: tuple[ArenaBuffer, ...]
    tensor_counts: tuple[int, ...]

    @property
    def blocks(self) -> list[Block]:
        return [b.block for b in self.buffers]

    @property
    def total_tensors(self) -> int:
        return sum(self.tensor_counts)

    def plan_index(self, buffer: ArenaBuffer) -> int:
        """Position of a tensor buffer in the offline plan's offset list."""
        return sum(self.tensor_counts[:buffer.subgraph]) + buffer.tensor


@dataclass
class _Visit:
    """One walk of a subgraph: its first scope, each step's scopes, its last scope."""

    base: int
    starts: list[int]
    ends: list[int]
    end: int = 0


def _walk(graphs: Sequence[Graph]) -> dict[int, list[_Visit]]:
    """Walk the model from subgraph 0 as TFLite Micro does; every subgraph's visits.

    Iterative, so deep nesting cannot overflow the stack. Operators run in
    each graph's stored order.
    """
    visits: dict[int, list[_Visit]] = {s: [] for s in range(len(graphs))}
    if not graphs:
        return visits
    scope = 0
    # Frames: [subgraph, visit, next step, subgraphs left to walk for this step or None]
    stack: list[list] = [[0, _Visit(0, [], []), 0, None]]
    while stack:
        frame = stack[-1]
        s, visit, step, calls = frame
        graph = graphs[s]
        if calls is None:
            if step == graph.num_operators:
                visit.end = scope
                visits[s].append(visit)
                stack.pop()
                continue
            scope += 1
            visit.starts.append(scope)
            op = graph.operators[step]
            if op.calls and op.kind not in _CONTROL_FLOW:
                raise UnsupportedModelError(
                    f"subgraph {s}: operator {step} ({op.kind}) runs other subgraphs, "
                    "which TFLite Micro does not plan")
            frame[3] = list(op.calls) if op.kind in _CONTROL_FLOW else []
            continue
        if calls:
            callee = calls.pop(0)
            if not 0 <= callee < len(graphs):
                raise UnsupportedModelError(f"subgraph {s}: operator {step} runs missing subgraph {callee}")
            if any(f[0] == callee for f in stack):
                raise UnsupportedModelError(
                    f"subgraph {callee} runs itself (recursion); TFLite Micro cannot plan it")
            scope += 1
            stack.append([callee, _Visit(scope, [], []), 0, None])
            continue
        visit.ends.append(scope)
        frame[2] = step + 1
        frame[3] = None
    return visits


def _tensor_span(graph: Graph, life: memory.Lifetime, visit: _Visit) -> tuple[int, int]:
    """A tensor's lifetime in steps mapped onto one visit's scopes."""
    t = life.tensor
    inputs, outputs = set(graph.inputs), set(graph.outputs)
    first = visit.base if t in inputs else visit.starts[life.start]
    if t in outputs:
        last = visit.end
    elif graph.consumers[t]:
        last = visit.ends[life.end]
    elif graph.producer[t] >= 0:
        last = visit.ends[life.start]
    else:
        last = visit.base  # an input nobody reads
    return first, last


def model_buffers(graphs: Sequence[Graph], *, scratch: bool = True,
                  kernels: tuple[str, ...] = ("reference",)) -> ModelBuffers:
    """The buffers TFLite Micro plans for a model whose subgraphs are ``graphs``.

    Parameters
    ----------
    graphs : sequence of Graph
        Every subgraph of the model, in order, each in the operator order it
        will be stored in.
    scratch : bool, default True
        Include the scratch buffers of :mod:`.scratch`.
    kernels : tuple of str, default ``("reference",)``
        The kernel libraries (:data:`.scratch.KERNEL_LIBRARIES`) the scratch
        buffers are for: one library gives its requests; several give, per
        operator, the requests of the one that takes the most room
        (:func:`.scratch.reserved_scratch`), room a plan keeps for any of them.

    Returns
    -------
    ModelBuffers
        Blocks whose steps are TFLite Micro's allocation scopes.

    Raises
    ------
    UnsupportedModelError
        If a subgraph runs itself, an operator other than IF, WHILE or
        CALL_ONCE runs subgraphs, or a tensor has a type or shape TFLite
        Micro cannot size.
    """
    visits = _walk(graphs)
    buffers: list[ArenaBuffer] = []
    for graph in graphs:
        s = graph.subgraph
        spans: dict[int, tuple[int, int]] = {}
        for life in memory.lifetimes(graph):
            for visit in visits[s]:
                first, last = _tensor_span(graph, life, visit)
                if life.tensor in spans:
                    first, last = min(first, spans[life.tensor][0]), max(last, spans[life.tensor][1])
                spans[life.tensor] = (first, last)
        outputs = set(graph.outputs)
        own = kernel_owned(graph)
        for tensor in graph.tensors:
            if not is_arena_tensor(tensor) or tensor.index in own:
                continue
            span = spans.get(tensor.index)
            if span is None:
                # Never alive in our model: never reached, or an output nobody writes.
                if tensor.index in outputs and visits[s]:
                    span = (visits[s][0].end, visits[s][-1].end)
                else:
                    span = (NEVER, NEVER)
            buffers.append(ArenaBuffer(s, tensor.index, -1, Block(tflm_bytes(tensor), *span)))
    if scratch:
        for graph in graphs:
            for op in range(graph.num_operators):
                requests = reserved_scratch(graph, op, kernels)
                if not requests:
                    continue
                runs = visits[graph.subgraph]
                span = ((runs[0].starts[op], runs[-1].ends[op]) if runs else (NEVER, NEVER))
                for size in requests:
                    buffers.append(ArenaBuffer(graph.subgraph, -1, op, Block(size, *span)))
    return ModelBuffers(tuple(buffers), tuple(len(g.tensors) for g in graphs))



#: Operators whose output may share its input's bytes in TFLite Micro:
#: RESHAPE skips its copy when the two pointers are equal (``reshape.cc``),
#: and that was run on every model here. SQUEEZE (a ``memcpy``) and
#: EXPAND_DIMS (an element loop) would copy each byte onto itself, but the
#: converter turns both into RESHAPE on static shapes, so no model here runs
#: them and they are left out.
ALIAS_KINDS = frozenset({"RESHAPE"})


def alias_pairs(graphs: Sequence[Graph], buffers: ModelBuffers, *, reshapes: bool = True,
                inplace: bool = True, loops: bool = False) -> list[tuple[int, int]]:
    """Pairs of tensor buffers (positions in ``buffers.buffers``, source
    first) that may share one offset, of equal byte counts. With
    ``reshapes``: a reshape-like operator's output and its input, when that
    input dies there (the operator is its last reader, it is no subgraph
    output). With ``inplace``: an element-wise operator's output and the
    input it may write over in the stored order
    (:func:`tflite_serenity.memory.inplace_sources`). With ``loops``: the
    copies of one WHILE-carried value across the outer graph, the condition
    and the body, and DYNAMIC_UPDATE_SLICE outputs over their dying operands
    (:func:`tflite_serenity.memory.loop_aliases`)."""
    position = {(b.subgraph, b.tensor): i for i, b in enumerate(buffers.buffers) if not b.is_scratch}
    pairs: list[tuple[int, int]] = []

    def join(source: tuple[int, int], target: tuple[int, int]) -> None:
        a, b = position.get(source), position.get(target)
        if a is not None and b is not None and buffers.buffers[a].block.size == buffers.buffers[b].block.size:
            pairs.append((a, b))

    if loops:
        for source, target in memory.loop_aliases(graphs):
            join(source, target)
    for graph in graphs:
        s = graph.subgraph
        outputs = set(graph.outputs)
        if inplace:
            for target, source in memory.inplace_sources(graph, stored_order=True).items():
                join((s, source), (s, target))
        if not reshapes:
            continue
        for op in graph.operators:
            if op.kind not in ALIAS_KINDS or not op.inputs or len(op.outputs) != 1:
                continue
            source, target = op.inputs[0], op.outputs[0]
            if source < 0 or source in outputs or source in op.inputs[1:]:
                continue
            if max(graph.consumers[source]) != op.index:
                continue  # read again later
            join((s, source), (s, target))
    return pairs


def alias_groups(graphs: Sequence[Graph], buffers: ModelBuffers, *, reshapes: bool = True,
                 inplace: bool = True, loops: bool = False) -> list[list[int]]:
    """Groups of tensor buffers (positions in ``buffers.buffers``) that may
    share one offset: the pairs of :func:`alias_pairs` (same options) joined
    transitively, so chains of such operators form one group. Groups are
    sorted, ascending."""
    return join_pairs(len(buffers.buffers),
                      alias_pairs(graphs, buffers, reshapes=reshapes, inplace=inplace, loops=loops))


def join_pairs(count: int, pairs: Sequence[tuple[int, int]]) -> list[list[int]]:
    """The groups (of two or more, sorted, ascending) that ``pairs`` join among ``count`` items."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        parent[root(b)] = root(a)
    groups: dict[int, list[int]] = {}
    for i in sorted({i for pair in pairs for i in pair}):
        groups.setdefault(root(i), []).append(i)
    return sorted(g for g in groups.values() if len(g) > 1)


def merge_aliases(blocks: Sequence[Block], groups: Sequence[Sequence[int]]) -> tuple[list[Block], list[int]]:
    """One block per alias group (the union of its lifetimes, its largest
    size) in place of its first member, the other blocks as they are.

    Returns the merged blocks and, per input block, the index of the merged
    block that holds it.
    """
    leader = {i: group[0] for group in groups for i in group}
    members_of = {group[0]: group for group in groups}
    merged: list[Block] = []
    index_of_leader: dict[int, int] = {}
    for i, block in enumerate(blocks):
        if leader.get(i, i) != i:
            continue
        if i in members_of:
            members = [blocks[j] for j in members_of[i]]
            block = Block(max(m.size for m in members), min(m.start for m in members), max(m.end for m in members))
        index_of_leader[i] = len(merged)
        merged.append(block)
    return merged, [index_of_leader[leader.get(i, i)] for i in range(len(blocks))]
