"""The figures behind the pictures of ``report --plot`` and ``--html``, as plain data.

Both renderers (:mod:`.svg`, without dependencies, and :mod:`.png`, with
matplotlib) draw the same :class:`MemoryPicture`: the model as given beside
the model as the main command writes it (:func:`tflite_serenity.optimize`
with its default options: reordered, rewritten, in row strips where that
pays, with its arena plan). For each, the live activation bytes per step of
the stored order, stacked by tensor, and the arena layout (offset against
step) TFLite Micro uses for it: its own planner, or the offline plan the
model holds, simulated. Lifetimes and peaks come from
:mod:`tflite_serenity.memory`; nothing here computes them again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .. import memory
from ..graph import Graph
from .colors import OTHER, PALETTE

if TYPE_CHECKING:
    from ..driver import OptimizeResult

TOP_TENSORS = 8


@dataclass(frozen=True)
class Named:
    """A tensor drawn in its own colour and named in the legend."""

    tensor: int  # index in the model as given, -1 if only the written model has it
    name: str
    shape: tuple[int, ...]
    dtype: str
    bytes: int
    color: str
    written: int = -1  # index in the written model, -1 if it has no tensor of that name

    def index(self, timeline: "Timeline") -> int:
        """The tensor's index in ``timeline``'s model."""
        return self.written if timeline.written else self.tensor


@dataclass(frozen=True)
class Timeline:
    """One model's stored order: live bytes per step, each tensor's lifetime, and where it sits in the arena."""

    label: str  # "as given" or "as written"
    order: tuple[int, ...]
    live: tuple[int, ...]
    peak: int
    peak_step: int
    peak_operator: str
    lifetimes: tuple[memory.Lifetime, ...]
    offsets: tuple[int, ...]  # per lifetime, bytes from the arena's start
    arena_bytes: int
    planner: str  # who placed the tensors: "TFLite Micro's own plan", "the model's offline plan", ...
    lower_bound: int = 0  # no order of this timeline's subgraph has a lower peak
    written: bool = False  # the model as the main command writes it

    @property
    def steps(self) -> int:
        return len(self.live)


@dataclass(frozen=True)
class MemoryPicture:
    """Everything one picture shows, for one subgraph: the model as given
    (``converter``) and as the main command writes it (``optimized``)."""

    model_name: str
    subgraph: int
    subgraph_name: str
    lower_bound: int  # of the written subgraph: no order of it has a lower peak
    converter: Timeline
    optimized: Timeline
    optimal: bool  # the written order is proven to have the lowest peak of its subgraph
    named: tuple[Named, ...]
    written_by: str = ""  # the command that writes the model drawn as written
    changes: tuple[str, ...] = ()  # what that command changed, e.g. "1 run in row strips"

    @property
    def ratio(self) -> float:
        return self.converter.peak / self.optimized.peak if self.optimized.peak else 1.0

    @property
    def drawn(self) -> str:
        """One sentence on what the written side shows."""
        what = f"as written by {self.written_by}" if self.written_by else "as written"
        return what + (": " + ", ".join(self.changes) if self.changes else "")

    def color(self, tensor: int, timeline: Timeline | None = None) -> str:
        """The colour of ``tensor`` of ``timeline``'s model (default: the model as given)."""
        written = timeline is not None and timeline.written
        for n in self.named:
            if (n.written if written else n.tensor) == tensor:
                return n.color
        return OTHER

    def name(self, tensor: int, timeline: Timeline | None = None) -> str:
        """The legend name of ``tensor`` of ``timeline``'s model, or ``tensor N``."""
        written = timeline is not None and timeline.written
        for n in self.named:
            if (n.written if written else n.tensor) == tensor:
                return n.name
        return f"tensor {tensor}"

    def bands(self, timeline: Timeline) -> list[tuple[str, str, list[int]]]:
        """Stacked bands, bottom first: each named tensor's bytes per step, then
        all other tensors together. Each is ``(label, colour, bytes per step)``;
        the bands of a step add up to its live bytes."""
        named = {n.index(timeline): k for k, n in enumerate(self.named) if n.index(timeline) >= 0}
        rows = [[0] * timeline.steps for _ in range(len(self.named) + 1)]
        for life in timeline.lifetimes:
            row = rows[named.get(life.tensor, len(self.named))]
            for step in range(life.start, life.end + 1):
                row[step] += life.size
        labels = [(n.name, n.color) for n in self.named] + [("other tensors", OTHER)]
        return [(label, color, row) for (label, color), row in zip(labels, rows)]

    def _repr_svg_(self) -> str:  # shown inline by Jupyter, without matplotlib
        from .svg import picture_svg

        return picture_svg(self)


def timeline(tree, graphs: list[Graph], subgraph: int, label: str, *, inplace: bool = False,
             lower_bound: int | None = None, written: bool = False) -> Timeline:
    """Subgraph ``subgraph`` of a model in its stored order, laid out as TFLite Micro lays it out.

    The offsets are those of a simulation of TFLite Micro's planner over the
    whole model (:func:`tflite_serenity.arena.greedy_tflm` on
    :func:`~tflite_serenity.tflm.buffers.model_buffers`), with the model's
    offline plan when it holds one, so ``arena_bytes`` is the arena head
    TFLite Micro uses (scratch buffers included, not drawn). A model TFLite
    Micro cannot plan is laid out one subgraph alone.
    """
    graph = graphs[subgraph]
    prof = memory.profile(graph, None, inplace=inplace)
    lifetimes = tuple(memory.lifetimes(graph, None, inplace=inplace))
    offsets, arena_bytes, planner = _tflm_layout(tree, graphs, subgraph, lifetimes)
    operator = graph.operators[prof.peak_step].kind if graph.operators else ""
    bound = memory.lower_bound(graph, inplace=inplace) if lower_bound is None else lower_bound
    return Timeline(label, prof.order, prof.live, prof.peak, prof.peak_step, operator, lifetimes, offsets,
                    arena_bytes, planner, bound, written)


def _tflm_layout(tree, graphs: list[Graph], subgraph: int, lifetimes) -> tuple[tuple[int, ...], int, str]:
    """Offsets of ``lifetimes`` as TFLite Micro places them, its head, and who placed them."""
    from ..arena import Block
    from ..tflm.planner import greedy_tflm
    from ..tflm.buffers import model_buffers
    from ..tflm.offline import read_offline_plan
    from ..tflm.planner import ONLINE
    from ..errors import SerenityError

    try:
        buffers = model_buffers(graphs)
        stored = read_offline_plan(tree)
    except SerenityError:
        buffers = None
    if buffers is not None:
        offline = None
        if stored is not None and len(stored.offsets) == buffers.total_tensors:
            offline = [ONLINE if b.is_scratch else stored.offsets[buffers.plan_index(b)] for b in buffers.buffers]
        placement = greedy_tflm(buffers.blocks, offline_offsets=offline)
        where = {b.tensor: o for b, o in zip(buffers.buffers, placement.offsets)
                 if b.subgraph == subgraph and not b.is_scratch}
        offsets = [where.get(l.tensor, 0 if l.size == 0 else None) for l in lifetimes]
        if None not in offsets:
            planner = "the model's offline plan" if offline else "TFLite Micro's own plan"
            return tuple(offsets), placement.arena_bytes, planner
    placement = greedy_tflm([Block(l.size, l.start, l.end) for l in lifetimes])
    return placement.offsets, placement.arena_bytes, "TFLite Micro's own plan, this subgraph alone"


def memory_picture(
    model: "bytes | str | os.PathLike",
    *,
    subgraph: int = 0,
    time_limit: float = 30.0,
    name: str | None = None,
    progress: Callable | None = None,
    top: int = TOP_TENSORS,
    shared_outputs: bool = True,
    result: "OptimizeResult | None" = None,
    written_by: str | None = None,
    tree=None,
) -> MemoryPicture:
    """Compute what the memory picture of one subgraph shows: the model as
    given beside the model as the main command writes it.

    Parameters
    ----------
    model
        ``.tflite`` bytes or a path.
    subgraph : int, default 0
        Which subgraph (0 is the one the interpreter enters).
    time_limit : float, default 30
        Seconds for :func:`tflite_serenity.optimize`, as the main command's
        ``--time-limit``.
    name : str, optional
        The title's model name (default: the file name, or "model").
    progress : callable, optional
        Passed to :func:`tflite_serenity.optimize`.
    top : int, default 8
        Tensors given their own colour: the largest alive at either peak.
    shared_outputs : bool, default True
        Passed to :func:`tflite_serenity.optimize` (False: as
        ``--no-shared-outputs``).
    result : OptimizeResult, optional
        What :func:`tflite_serenity.optimize` already returned for ``model``:
        drawn as is, without optimizing again (then ``time_limit``,
        ``progress`` and ``shared_outputs`` are not used).
    written_by : str, optional
        How the picture names what wrote the model (default: the main
        command with default options, or "the main command" with ``result``).
    tree : ModelT, optional
        The model already read from these bytes (``read_model``), so that
        it is read once.

    Returns
    -------
    MemoryPicture
        Draw it with :func:`write_png` or :func:`write_html`; in Jupyter it
        shows itself (as SVG).

    Raises
    ------
    SerenityError
        If the model cannot be read or has no such subgraph.
    """
    from ..errors import SerenityError
    from ..fileio import read_bytes
    from ..model import read_model
    from ..model_version import graphs_of

    if isinstance(model, (bytes, bytearray)):
        data, default_name = bytes(model), "model"
    else:
        data, default_name = read_bytes(model), os.path.basename(os.fspath(model))
    tree = read_model(data) if tree is None else tree
    graphs = graphs_of(tree)
    if not 0 <= subgraph < len(graphs):
        raise SerenityError(f"the model has {len(graphs)} subgraph(s); there is no subgraph {subgraph}")
    if result is None:
        from ..driver import optimize

        result = optimize(data, time_limit=time_limit, shared_outputs=shared_outputs, progress=progress, tree=tree)
        if written_by is None:
            written_by = "python -m tflite_serenity IN OUT" + ("" if shared_outputs else " --no-shared-outputs")
            written_by += " with default options"
    written_tree = tree if result.unchanged else read_model(result.model)
    written_graphs = graphs_of(written_tree)
    sub = result.subgraphs[subgraph]
    converter = timeline(tree, graphs, subgraph, "as given")
    optimized = timeline(written_tree, written_graphs, subgraph, "as written", inplace=sub.inplace,
                                lower_bound=sub.lower_bound, written=True)
    named = _named(graphs[subgraph], written_graphs[subgraph], converter, optimized, top)
    reordered = _steps(graphs[subgraph]) != _steps(written_graphs[subgraph])
    return MemoryPicture(name or default_name, subgraph, graphs[subgraph].name, sub.lower_bound, converter,
                         optimized, sub.optimal, named, written_by or "the main command",
                         _changes(sub, result.arena, reordered))


def _steps(graph: Graph) -> list[tuple[str, tuple[str, ...]]]:
    """Each operator in stored order, by its kind and the names of its outputs."""
    return [(op.kind, tuple(graph.tensors[t].name for t in op.outputs if t >= 0)) for op in graph.operators]


def _named(graph: Graph, written: Graph, converter: Timeline, optimized: Timeline, top: int) -> tuple[Named, ...]:
    """The largest tensors alive at either peak, matched between the two models by name."""

    def unique_names(g: Graph) -> dict[str, int]:
        seen: dict[str, int] = {}
        for t in g.tensors:
            seen[t.name] = -1 if t.name in seen else t.index
        return {n: i for n, i in seen.items() if i >= 0 and n}

    to_written, to_given = unique_names(written), unique_names(graph)
    pairs = {}
    for t in (l.tensor for l in converter.lifetimes if l.start <= converter.peak_step <= l.end):
        pairs[(t, to_written.get(graph.tensors[t].name, -1))] = graph.tensors[t]
    for t in (l.tensor for l in optimized.lifetimes if l.start <= optimized.peak_step <= l.end):
        given = to_given.get(written.tensors[t].name, -1)
        pairs.setdefault((given, t), written.tensors[t])
    chosen = sorted(pairs, key=lambda p: (-memory.tensor_bytes(pairs[p]), p[0] if p[0] >= 0 else len(graph.tensors),
                                          p[1]))[:max(0, min(top, len(PALETTE)))]
    return tuple(Named(g, pairs[(g, w)].name or f"tensor {pairs[(g, w)].index}", pairs[(g, w)].shape,
                       pairs[(g, w)].dtype, memory.tensor_bytes(pairs[(g, w)]), PALETTE[k], w)
                 for k, (g, w) in enumerate(chosen))


def _changes(sub, arena, reordered: bool) -> tuple[str, ...]:
    """What the main command changed in one subgraph, in words for the picture."""

    def count(n: int, one: str, many: str) -> str:
        return f"{n} {one if n == 1 else many}"

    status = "optimal" if sub.optimal else "best found"
    changes = [f"operators reordered ({status})" if reordered else f"order kept ({status})"]
    if sub.rewrites:
        changes.append(count(len(sub.rewrites), "concat site rewritten", "concat sites rewritten"))
    if sub.slices.total:
        changes.append(sub.slices.describe())
    if sub.strips:
        changes.append(count(len(sub.strips), "run in row strips", "runs in row strips"))
    if sub.inplace_outputs:
        changes.append(count(sub.inplace_outputs, "output in place", "outputs in place"))
    if arena is None:
        changes.append("no arena plan (TFLite Micro cannot plan the model)")
    elif arena.written:
        changes.append("offline arena plan written")
    else:
        changes.append("no offline arena plan (TFLite Micro's own is as small)")
    return tuple(changes)
