"""The offline plan of WHILE-loop row strips: which tensors share one offset, and where.

TFLite Micro's WHILE copies its inputs to its outputs, those to the
condition's and body's inputs and the body's outputs back, on every
iteration, skipping a copy between equal addresses
(``kernels/kernel_util.cc``). :func:`alias_groups` says which tensors of the
loops :mod:`.loop_strips` writes, across subgraphs, must share one offset
so that no map is copied and none held twice; :func:`place_groups` gives
each group an offset and :func:`with_alias_plan` writes the offline plan
(metadata ``OfflineMemoryAllocation``, one offset per tensor of all
subgraphs concatenated; every other tensor ``-1``, placed by TFLite
Micro's planner around the pins). LiteRT ignores the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..graph import Graph
from ..model.editor import operator_options
from ..model.types import TYPES
from ..model_version import graphs_of
from ..tflm.offline import with_offline_plan

#: Subgraphs :mod:`.loop_strips` writes are named ``serenity_strips_...``;
#: only the WHILEs running them are read by :func:`alias_groups`.
PREFIX = "serenity_strips"
#: Offsets of pinned groups are multiples of this (TFLite Micro's tensor alignment).
ALIGNMENT = 16


@dataclass(frozen=True)
class AliasGroup:
    """Tensors, as (subgraph, tensor) pairs in ascending order, that must share
    one arena offset; ``nbytes`` is the largest member's size in TFLite Micro."""

    tensors: tuple[tuple[int, int], ...]
    nbytes: int


@dataclass(frozen=True)
class Pin:
    """An alias group placed at ``offset`` bytes from the start of the arena head."""

    group: AliasGroup
    offset: int


def alias_groups(model, *, exit_in_place: bool = False) -> tuple[AliasGroup, ...]:
    """The tensors that must share one offset for the loops of
    :mod:`.loop_strips` in ``model`` to copy no map: per WHILE whose body is ours, each loop-carried
    tensor that enters from the arena (not a constant) with the WHILE's
    output, the condition's and body's inputs and the body's output at its
    place; a DYNAMIC_UPDATE_SLICE's output joins its operand's group when
    the operand dies there and the output goes on accumulating (is read by
    another DYNAMIC_UPDATE_SLICE or a WHILE): written in place.

    The last band's write, which makes the run's exit, is written in place
    too only with ``exit_in_place``. That saves one exit-sized map at that
    write (the unrolled strips' CONCATENATION holds two), but pins the exit
    for the rest of its life, where TFLite Micro would otherwise place it
    among the next operators' maps as it likes. It pays where the exit is
    large beside what follows (a stretch ending in a channel expansion) and
    costs where a large map comes next. Groups come in ascending order of
    their first tensor."""
    graphs = graphs_of(model)
    parent: dict[tuple[int, int], tuple[int, int]] = {}

    def find(a):
        root = a
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[a] != root:
            parent[a], a = root, parent[a]
        return root

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    looped = set()
    for g in graphs:
        for op in g.operators:
            if op.kind != "WHILE":
                continue
            options = operator_options(model, g.subgraph, op.index)
            cond, body = int(options["condSubgraphIndex"]), int(options["bodySubgraphIndex"])
            if not _text(model.subgraphs[body].name).startswith(PREFIX):
                continue
            for n, (a, b) in enumerate(zip(op.inputs, op.outputs)):
                if g.tensors[a].has_data:
                    continue  # a counter starting from a constant: a few bytes, copied
                members = [(g.subgraph, a), (g.subgraph, b), (cond, graphs[cond].inputs[n]),
                           (body, graphs[body].inputs[n]), (body, graphs[body].outputs[n])]
                looped.update(members)
                for m in members[1:]:
                    union(members[0], m)
    for g in graphs:
        for op in g.operators:
            operand = op.inputs[0] if op.kind == "DYNAMIC_UPDATE_SLICE" else -1
            if (operand >= 0 and not g.tensors[operand].has_data and g.consumers[operand] == (op.index,)
                    and operand not in g.outputs and operand not in g.inputs
                    and (exit_in_place or _accumulates(g, op.outputs[0]))):
                union((g.subgraph, operand), (g.subgraph, op.outputs[0]))
    components: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for member in sorted(parent):
        components.setdefault(find(member), []).append(member)
    groups = []
    for members in components.values():
        if len(members) > 1 and any(m in looped for m in members):
            size = max(_nbytes(graphs[s].tensors[t]) for s, t in members)
            groups.append(AliasGroup(tuple(members), size))
    return tuple(sorted(groups, key=lambda group: group.tensors))


def _accumulates(graph: Graph, tensor: int) -> bool:
    """Whether ``tensor`` is read by a DYNAMIC_UPDATE_SLICE or a WHILE (an accumulator, not the exit)."""
    return any(graph.operators[c].kind in ("DYNAMIC_UPDATE_SLICE", "WHILE") for c in graph.consumers[tensor])


def place_groups(model, groups: Sequence[AliasGroup]) -> tuple[Pin, ...]:
    """An offset per group: first fit, no two groups on common bytes while
    both are alive; the group alive latest is placed first (lowest), then
    larger groups first, ties by first tensor. TFLite Micro's planner puts
    the maps it places itself around the pins: a pin low in the arena that
    outlives the loop leaves them the space above it, as the head's bottom
    tensor would (measured lower than largest-first and than earliest-first
    on MobileNetV2 and the loop fixture; TFLite Micro's own planner would
    be the judge, once the memory model follows it into WHILE bodies).

    A group lives, in the subgraph of its lowest index (the loop's), from
    the first write of a member to the last read of one (the graph's inputs
    from the start, its outputs to the end); groups of different such
    subgraphs are taken as always alive together.
    """
    graphs = graphs_of(model)
    spans = [_span(graphs, group) for group in groups]
    order = sorted(range(len(groups)), key=lambda k: (-spans[k][2], -groups[k].nbytes, groups[k].tensors))
    placed: list[tuple[int, int, int]] = []  # (offset, bytes, group)
    offsets = [0] * len(groups)
    for k in order:
        size = -(-groups[k].nbytes // ALIGNMENT) * ALIGNMENT
        at = 0
        for offset, nbytes, other in sorted(placed):
            if _overlap(spans[k], spans[other]) and at < offset + nbytes and offset < at + size:
                at = offset + nbytes
        offsets[k] = at
        placed.append((at, size, k))
    return tuple(Pin(group, offset) for group, offset in zip(groups, offsets))


def with_alias_plan(model, groups: Sequence[AliasGroup] | None = None, *, exit_in_place: bool = False):
    """The model with an offline plan (``OfflineMemoryAllocation``) pinning
    each alias group to one offset (:func:`place_groups`) and every other
    tensor at ``-1`` (placed by TFLite Micro around the pins); the pins.

    ``groups`` defaults to :func:`alias_groups` of the model (with
    ``exit_in_place``). The plan is written by
    :func:`tflite_serenity.tflm.offline.with_offline_plan`, so it passes the
    same check as every plan we write (the pinned copies are
    :func:`tflite_serenity.memory.loop_aliases`). Any plan the model had is
    replaced.

    Raises
    ------
    PlanError
        If the pins are not safe for the model.
    """
    groups = alias_groups(model, exit_in_place=exit_in_place) if groups is None else tuple(groups)
    pins = place_groups(model, groups)
    counts = [len(sub.tensors or []) for sub in model.subgraphs]
    base = np.cumsum([0, *counts[:-1]])
    offsets = [-1] * sum(counts)
    for pin in pins:
        for s, t in pin.group.tensors:
            offsets[int(base[s]) + t] = pin.offset
    return with_offline_plan(model, offsets), pins


def _span(graphs: Sequence[Graph], group: AliasGroup) -> tuple[int, int, int]:
    """(subgraph, first, last) positions over which a group is alive."""
    s = min(sub for sub, _ in group.tensors)
    g = graphs[s]
    first, last = g.num_operators, -1
    for sub, t in group.tensors:
        if sub != s:
            continue
        born = -1 if t in g.inputs else g.producer[t]
        first = min(first, born)
        last = max(last, born, *g.consumers[t], *([g.num_operators] if t in g.outputs else []))
    return s, first, last


def _overlap(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    return a[0] != b[0] or (a[1] <= b[2] and b[1] <= a[2])


def _nbytes(tensor) -> int:
    width = TYPES[tensor.dtype].tflm_width or 0
    return int(np.prod(tensor.shape, dtype=np.int64)) * width


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")


__all__ = ["ALIGNMENT", "AliasGroup", "PREFIX", "Pin", "alias_groups", "place_groups", "with_alias_plan"]
