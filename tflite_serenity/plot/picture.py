"""The figures behind the pictures of ``report --plot`` and ``--html``, as plain data.

Both renderers (:mod:`.svg`, without dependencies, and :mod:`.png`, with
matplotlib) draw the same :class:`MemoryPicture`: for the converter's order
and for ours (:func:`tflite_serenity.schedule.search.schedule_graph`), the
live activation bytes per step stacked by tensor, and the arena layout
(offset against step) from TFLite Micro's planner for the converter's order
and from our planner for ours. Lifetimes and peaks come from
:mod:`tflite_serenity.memory`; nothing here computes them again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from .. import memory
from ..graph import Graph

#: Colours of the tensors named in the legend, then of all other tensors.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#86bcb6")
OTHER = "#c7c7c7"
TOP_TENSORS = 8

#: Budget of the arena placement drawn for our order, roughly CPU seconds.
ARENA_TIME_LIMIT = 1.0


@dataclass(frozen=True)
class Named:
    """A tensor drawn in its own colour and named in the legend."""

    tensor: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    bytes: int
    color: str


@dataclass(frozen=True)
class Timeline:
    """One operator order: live bytes per step, each tensor's lifetime, and where it sits in the arena."""

    label: str  # "converter order" or "optimized order"
    order: tuple[int, ...]
    live: tuple[int, ...]
    peak: int
    peak_step: int
    peak_operator: str
    lifetimes: tuple[memory.Lifetime, ...]
    offsets: tuple[int, ...]  # per lifetime, bytes from the arena's start
    arena_bytes: int
    planner: str  # who placed the tensors

    @property
    def steps(self) -> int:
        return len(self.live)


@dataclass(frozen=True)
class MemoryPicture:
    """Everything one picture shows, for one subgraph."""

    model_name: str
    subgraph: int
    subgraph_name: str
    lower_bound: int
    converter: Timeline
    optimized: Timeline
    optimal: bool  # the optimized order is proven to have the lowest peak
    named: tuple[Named, ...]

    @property
    def ratio(self) -> float:
        return self.converter.peak / self.optimized.peak if self.optimized.peak else 1.0

    def color(self, tensor: int) -> str:
        for n in self.named:
            if n.tensor == tensor:
                return n.color
        return OTHER

    def bands(self, timeline: Timeline) -> list[tuple[str, str, list[int]]]:
        """Stacked bands, bottom first: each named tensor's bytes per step, then
        all other tensors together. Each is ``(label, colour, bytes per step)``;
        the bands of a step add up to its live bytes."""
        named = {n.tensor: k for k, n in enumerate(self.named)}
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


def timeline(graph: Graph, order, label: str, *, ours: bool, inplace: bool = False) -> Timeline:
    """The live bytes and an arena layout of ``graph`` run in ``order``.

    With ``ours``, tensors are placed by our planner (:func:`tflite_serenity.arena.plan`);
    otherwise by a simulation of TFLite Micro's greedy planner. With
    ``inplace``, element-wise outputs share a dying input's bytes (the
    memory model's buffers), as under our arena plan.
    """
    from ..arena import Block, greedy_tflm, plan

    prof = memory.profile(graph, order, inplace=inplace)
    lifetimes = tuple(memory.lifetimes(graph, prof.order, inplace=inplace))
    blocks = [Block(l.size, l.start, l.end) for l in lifetimes]
    if ours:
        placement = plan(blocks, time_limit=ARENA_TIME_LIMIT)
        planner = "our planner"
    else:
        placement = greedy_tflm(blocks)
        planner = "TFLite Micro's planner"
    operator = graph.operators[prof.order[prof.peak_step]].kind if graph.operators else ""
    return Timeline(label, prof.order, prof.live, prof.peak, prof.peak_step, operator, lifetimes,
                    placement.offsets, placement.arena_bytes, planner)


def memory_picture(
    model: "bytes | str | os.PathLike",
    *,
    subgraph: int = 0,
    time_limit: float = 30.0,
    name: str | None = None,
    progress: Callable | None = None,
    top: int = TOP_TENSORS,
    shared_outputs: bool = True,
) -> MemoryPicture:
    """Compute what the memory picture of one subgraph shows.

    Parameters
    ----------
    model
        ``.tflite`` bytes or a path.
    subgraph : int, default 0
        Which subgraph (0 is the one the interpreter enters).
    time_limit : float, default 30
        Seconds for finding our order (:func:`schedule_graph`).
    name : str, optional
        The title's model name (default: the file name, or "model").
    progress : callable, optional
        Passed to :func:`schedule_graph`.
    top : int, default 8
        Tensors given their own colour: the largest alive at either peak.
    shared_outputs : bool, default True
        Show our order as the main command writes it: ADD, SUB and MUL
        outputs written over a dying input (``memory.inplace_sources``).

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
    from ..graph import build_graphs
    from ..model import read_model
    from ..schedule.search import schedule_graph, schedule_in_place

    if isinstance(model, (bytes, bytearray)):
        data, default_name = bytes(model), "model"
    else:
        data, default_name = read_bytes(model), os.path.basename(os.fspath(model))
    graphs = build_graphs(read_model(data))
    if not 0 <= subgraph < len(graphs):
        raise SerenityError(f"the model has {len(graphs)} subgraph(s); there is no subgraph {subgraph}")
    graph = graphs[subgraph]
    schedule = schedule_graph(graph, time_limit=time_limit, progress=progress)
    label = "optimized order"
    if shared_outputs and memory.inplace_sources(graph):
        schedule = schedule_in_place(graph, schedule, time_limit=time_limit, progress=progress)
        label = "optimized order, outputs in place"
    converter = timeline(graph, None, "converter order", ours=False)
    optimized = timeline(graph, schedule.order, label, ours=True, inplace=schedule.inplace)
    sizes = {l.tensor: l.size for l in converter.lifetimes}
    at_peaks = {l.tensor for t in (converter, optimized) for l in t.lifetimes if l.start <= t.peak_step <= l.end}
    chosen = sorted(at_peaks, key=lambda t: (-sizes[t], t))[:max(0, min(top, len(PALETTE)))]
    named = tuple(Named(t, graph.tensors[t].name or f"tensor {t}", graph.tensors[t].shape, graph.tensors[t].dtype,
                        sizes[t], PALETTE[k]) for k, t in enumerate(chosen))
    return MemoryPicture(name or default_name, subgraph, graph.name, schedule.lower_bound, converter, optimized,
                         schedule.optimal, named)
