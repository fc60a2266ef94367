"""A prototype placement that overlaps outputs with their dying inputs.

Lowest-fit placement of TFLite Micro's buffers (:func:`.model_buffers`)
where an operator's output may share bytes with an input that dies at that
operator, as long as the output starts at most the rule's shift after the
input (:mod:`.overlap`, rounded down to the alignment). Any lower start is
safe too, so "may overlap" is one inequality per pair; every other pair of
buffers alive at a common step stays apart. The result is checked by
:func:`check_overlapped` and written as an offline plan without
:func:`.check_offline_plan`, which rightly refuses any shared byte of live
tensors. A prototype: one subgraph, the stored order, three fixed
placement orders; the memory model and the scheduler do not know about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from tflite_serenity.arena.blocks import DEFAULT_ALIGNMENT, Block, aligned
from tflite_serenity.tflm.buffers import ModelBuffers, model_buffers
from tflite_serenity.tflm.offline import METADATA_NAME, encode_offline_plan
from tflite_serenity.arena.overlap import KINDS, operator_overlaps
from tflite_serenity.tflm.planner import ONLINE, greedy_tflm
from tflite_serenity.errors import PlanError, UnsupportedModelError
from tflite_serenity.graph import build_graphs
from tflite_serenity.model import with_metadata, without_metadata


@dataclass(frozen=True)
class OverlapPair:
    """Buffer ``output`` may share bytes with buffer ``input`` when
    ``offset(output) - offset(input) <= limit``."""

    input: int
    output: int
    limit: int


@dataclass(frozen=True)
class OverlappedPlan:
    """A placement with overlaps.

    Attributes
    ----------
    offsets : tuple of int
        Per buffer of ``buffers`` (scratch buffers included, as placed here).
    pairs : tuple of OverlapPair
        The pairs the placement may overlap.
    planned : int
        End of the highest buffer of the placement.
    tflm_head : int
        TFLite Micro's head simulated with the tensors pinned and the
        scratch buffers placed by its own planner around them.
    """

    offsets: tuple[int, ...]
    pairs: tuple[OverlapPair, ...]
    planned: int
    tflm_head: int


def overlap_pairs(model, buffers: ModelBuffers, alignment: int = DEFAULT_ALIGNMENT,
                  kinds: Sequence[str] = KINDS) -> list[OverlapPair]:
    """Every (dying input, output) pair of subgraph 0 the rule lets overlap."""
    graphs = build_graphs(model)
    graph = graphs[0]
    index = {b.tensor: i for i, b in enumerate(buffers.buffers) if b.subgraph == 0 and not b.is_scratch}
    pairs = []
    for op in range(graph.num_operators):
        if graph.operators[op].kind not in kinds:
            continue
        for ov in operator_overlaps(model, graph, op):
            a, b = index.get(ov.tensor), index.get(graph.operators[op].outputs[0])
            if a is None or b is None or ov.tensor in graph.outputs:
                continue
            if buffers.buffers[a].block.end != buffers.buffers[b].block.start:
                continue  # the input lives on after this operator
            limit = min(ov.shifts.below, 0) // alignment * alignment
            pairs.append(OverlapPair(a, b, limit))
    return pairs


def _allowed(offset: int, size: int, other: int, other_size: int, bound: tuple[str, int] | None) -> bool:
    if offset + size <= other or other + other_size <= offset:
        return True
    if bound is None:
        return False
    side, limit = bound
    # side "out": we are the output, ``other`` the input; "in": the reverse.
    return offset - other <= limit if side == "out" else other - offset <= limit


def place(blocks: Sequence[Block], pairs: Sequence[OverlapPair], order: Sequence[int],
          alignment: int = DEFAULT_ALIGNMENT) -> list[int]:
    """Lowest-fit offsets, placing blocks in ``order``; pairs may overlap."""
    sizes = [aligned(b.size, alignment) for b in blocks]
    bound: dict[tuple[int, int], tuple[str, int]] = {}
    for p in pairs:
        bound[(p.output, p.input)] = ("out", p.limit)
        bound[(p.input, p.output)] = ("in", p.limit)
    offsets = [-1] * len(blocks)
    placed: list[int] = []
    for x in order:
        if sizes[x] == 0:
            offsets[x] = 0
            continue
        near = [y for y in placed if blocks[y].start <= blocks[x].end and blocks[x].start <= blocks[y].end
                and sizes[y]]
        candidates = {0}
        for y in near:
            candidates.add(offsets[y] + sizes[y])
            b = bound.get((x, y))
            if b is not None and b[0] == "in":
                candidates.add(-(-(offsets[y] - b[1]) // alignment) * alignment)
        for offset in sorted(candidates):
            if offset >= 0 and all(_allowed(offset, sizes[x], offsets[y], sizes[y], bound.get((x, y)))
                                   for y in near):
                offsets[x] = offset
                break
        placed.append(x)
    return offsets


def check_overlapped(blocks: Sequence[Block], offsets: Sequence[int], pairs: Sequence[OverlapPair],
                     alignment: int = DEFAULT_ALIGNMENT) -> None:
    """Raise PlanError unless every two blocks alive at a common step are
    apart or an allowed pair within its limit."""
    sizes = [aligned(b.size, alignment) for b in blocks]
    bound = {(p.output, p.input): ("out", p.limit) for p in pairs}
    bound.update({(p.input, p.output): ("in", p.limit) for p in pairs})
    by_start = sorted(range(len(blocks)), key=lambda i: (blocks[i].start, i))
    for n, i in enumerate(by_start):
        if offsets[i] < 0 or offsets[i] % alignment:
            raise PlanError(f"buffer {i}: offset {offsets[i]} is negative or unaligned")
        for j in by_start[n + 1:]:
            if blocks[j].start > blocks[i].end:
                break
            if sizes[i] and sizes[j] and not _allowed(offsets[i], sizes[i], offsets[j], sizes[j], bound.get((i, j))):
                raise PlanError(f"buffers {i} and {j} share bytes while both alive")


def plan_overlapped(model, alignment: int = DEFAULT_ALIGNMENT,
                    kinds: Sequence[str] = KINDS) -> tuple[object, OverlappedPlan] | None:
    """The model with an offline plan that overlaps outputs with dying inputs.

    Tries three placement orders (by first step, by size then first step,
    by last step) and keeps the smallest simulated TFLite Micro head.
    Returns None for models of several subgraphs or types TFLite Micro
    cannot size. The model is not modified.
    """
    graphs = build_graphs(model)
    if len(graphs) != 1:
        return None
    try:
        buffers = model_buffers(graphs)
    except UnsupportedModelError:
        return None
    blocks = buffers.blocks
    pairs = overlap_pairs(model, buffers, alignment, kinds)
    n = len(blocks)
    orders = [
        sorted(range(n), key=lambda i: (blocks[i].start, -blocks[i].size, i)),
        sorted(range(n), key=lambda i: (-blocks[i].size, blocks[i].start, i)),
        sorted(range(n), key=lambda i: (blocks[i].end, -blocks[i].size, i)),
    ]
    best = None
    for order in orders:
        offsets = place(blocks, pairs, order, alignment)
        check_overlapped(blocks, offsets, pairs, alignment)
        head = _tflm_head(buffers, offsets, alignment)
        if best is None or head < best[1]:
            best = (offsets, head)
    offsets, head = best
    planned = max((o + aligned(b.size, alignment) for o, b in zip(offsets, blocks)), default=0)
    plan_list = [ONLINE] * buffers.total_tensors
    for buffer, offset in zip(buffers.buffers, offsets):
        if not buffer.is_scratch and buffer.block.size:
            plan_list[buffers.plan_index(buffer)] = int(offset)
    out = with_metadata(without_metadata(model, METADATA_NAME), METADATA_NAME, encode_offline_plan(plan_list))
    return out, OverlappedPlan(tuple(offsets), tuple(pairs), planned, head)


def _tflm_head(buffers: ModelBuffers, offsets: Sequence[int], alignment: int) -> int:
    """TFLite Micro's head with the tensors pinned and scratch buffers online."""
    pinned = [ONLINE if b.is_scratch else o for b, o in zip(buffers.buffers, offsets)]
    if all(o != ONLINE for o in pinned):
        return max((o + aligned(b.block.size, alignment) for o, b in zip(offsets, buffers.buffers)), default=0)
    return greedy_tflm(buffers.blocks, offline_offsets=pinned).arena_bytes


__all__ = ["OverlapPair", "OverlappedPlan", "check_overlapped", "overlap_pairs", "place", "plan_overlapped"]
