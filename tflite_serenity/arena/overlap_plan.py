"""Overlapped placement: an operator's output may overlap an input dying there.

Lowest-fit placement of TFLite Micro's buffers (:func:`.model_buffers`)
where an operator's output may share bytes with an input that dies at that
operator, as long as the output starts at most the rule's shift after the
input (:func:`.overlap_pairs`, the rule of :mod:`.overlap` rounded down to
the alignment). Any lower start is safe too, so "may overlap" is one
inequality per pair; every other pair of buffers alive at a common step
stays apart. The placement is written with :func:`.with_offline_plan`,
whose :func:`.check_offline_plan` accepts exactly these pairs, so the
written plan is read back and checked like any other. One subgraph, the
stored order, a few fixed placement orders (:func:`plan_overlapped`); the
scheduler and the memory model's lower bound do not count overlaps.

The rule holds for TFLite Micro's reference kernels (verified by running,
tests/arena/test_overlap_tflm.py); other kernel libraries (CMSIS-NN) were
not verified, which is why :class:`~tflite_serenity.options.Options` has it
off unless asked (``--overlap``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from tflite_serenity.arena.blocks import DEFAULT_ALIGNMENT, Block, aligned, check_placement
from tflite_serenity.tflm.buffers import ModelBuffers
from tflite_serenity.tflm.offline import with_offline_plan
from tflite_serenity.arena.overlap import KINDS, OverlapPair, overlap_pairs
from tflite_serenity.tflm.planner import ONLINE, greedy_tflm


#: Bottom-up re-placements of each order's placement, at most.
COMPACTIONS = 8


@dataclass(frozen=True)
class OverlappedPlan:
    """A placement with overlaps.

    Attributes
    ----------
    offsets : tuple of int
        Per buffer of ``buffers`` (scratch buffers included, as placed here).
    pairs : tuple of OverlapPair
        The pairs the placement may overlap.
    overlapping : int
        How many of them do share bytes in the placement.
    planned : int
        End of the highest buffer of the placement.
    tflm_head : int
        TFLite Micro's head simulated with the tensors pinned and the
        scratch buffers placed by its own planner around them.
    """

    offsets: tuple[int, ...]
    pairs: tuple[OverlapPair, ...]
    overlapping: int
    planned: int
    tflm_head: int


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
    check_placement(blocks, offsets, alignment, overlaps={(p.input, p.output): p.limit for p in pairs})


def sharing(blocks: Sequence[Block], offsets: Sequence[int], pairs: Sequence[OverlapPair],
            alignment: int = DEFAULT_ALIGNMENT) -> int:
    """How many of ``pairs`` share bytes at ``offsets``."""
    count = 0
    for p in pairs:
        a, b = aligned(blocks[p.input].size, alignment), aligned(blocks[p.output].size, alignment)
        if a and b and offsets[p.output] < offsets[p.input] + a and offsets[p.input] < offsets[p.output] + b:
            count += 1
    return count


def plan_overlapped(model, graphs, buffers: ModelBuffers, alignment: int = DEFAULT_ALIGNMENT,
                    kinds: Sequence[str] = KINDS,
                    start: Sequence[int] | None = None,
                    kernels: Sequence[str] = ("reference",)) -> tuple[object, OverlappedPlan] | None:
    """The model with an offline plan that overlaps outputs with dying inputs.

    Tries several placement orders (by first step, by size then first step,
    by last step, by last and by first step latest first, and bottom-up
    along ``start``), each followed by up to :data:`COMPACTIONS` bottom-up
    re-placements along its own result, and keeps the smallest
    simulated TFLite Micro head. Lowest fit along a valid placement's
    offsets never places a block higher than that placement did (each
    block's old offset stays free of the blocks placed before it), so with
    ``start`` the result is at most that placement's end, and lower where
    overlaps let blocks drop.

    Parameters
    ----------
    model : ModelT
        A model without an offline plan, in the order it will run (not modified).
    graphs : list of Graph
        Its graphs.
    buffers : ModelBuffers
        TFLite Micro's buffers of ``graphs``.
    alignment : int, default 16
    kinds : sequence of str
        The operator kinds whose outputs may overlap.
    start : sequence of int, optional
        Offsets per buffer of a placement without overlaps (the arena
        pass's own), to improve on.
    kernels : sequence of str, default ``("reference",)``
        The kernel libraries the model may run with: only overlaps verified
        with each (:func:`.library_verified`).

    Returns
    -------
    None when no pair may overlap (several subgraphs, no operator with a
    rule, every input living on), else the planned model and the plan.
    """
    pairs = overlap_pairs(model, buffers, alignment, kinds, graphs=graphs, kernels=kernels)
    if not pairs:
        return None
    blocks = buffers.blocks
    n = len(blocks)
    orders = [
        sorted(range(n), key=lambda i: (blocks[i].start, -blocks[i].size, i)),
        sorted(range(n), key=lambda i: (-blocks[i].size, blocks[i].start, i)),
        sorted(range(n), key=lambda i: (blocks[i].end, -blocks[i].size, i)),
        # Latest first: an input placed after its output can sit just above
        # it, overlapping (the lowest fit puts an input placed first at the
        # bottom, where its output cannot start below it).
        sorted(range(n), key=lambda i: (-blocks[i].end, -blocks[i].size, i)),
        sorted(range(n), key=lambda i: (-blocks[i].start, -blocks[i].size, i)),
    ]
    if start is not None:
        orders.append(sorted(range(n), key=lambda i: (start[i], i)))
    best = None
    for order in orders:
        offsets = place(blocks, pairs, order, alignment)
        for _ in range(COMPACTIONS + 1):
            check_overlapped(blocks, offsets, pairs, alignment)
            head = _tflm_head(buffers, offsets, alignment)
            if best is None or head < best[1]:  # ties: the earlier placement
                best = (offsets, head)
            # Again, bottom-up along this placement: blocks drop into room
            # the others left (an output level with its input may rise, so
            # every pass is judged on its own).
            again = place(blocks, pairs, sorted(range(n), key=lambda i: (offsets[i], i)), alignment)
            if again == offsets:
                break
            offsets = again
    offsets, head = best
    planned = max((o + aligned(b.size, alignment) for o, b in zip(offsets, blocks)), default=0)
    plan_list = [ONLINE] * buffers.total_tensors
    for buffer, offset in zip(buffers.buffers, offsets):
        if not buffer.is_scratch and buffer.block.size:
            plan_list[buffers.plan_index(buffer)] = int(offset)
    out = with_offline_plan(model, plan_list, buffers=buffers)
    return out, OverlappedPlan(tuple(offsets), tuple(pairs), sharing(blocks, offsets, pairs, alignment), planned,
                               head)


def _tflm_head(buffers: ModelBuffers, offsets: Sequence[int], alignment: int) -> int:
    """TFLite Micro's head with the tensors pinned and scratch buffers online."""
    pinned = [ONLINE if b.is_scratch else o for b, o in zip(buffers.buffers, offsets)]
    if all(o != ONLINE for o in pinned):
        return max((o + aligned(b.block.size, alignment) for o, b in zip(offsets, buffers.buffers)), default=0)
    return greedy_tflm(buffers.blocks, alignment, offline_offsets=pinned).arena_bytes


__all__ = ["OverlapPair", "OverlappedPlan", "check_overlapped", "overlap_pairs", "place", "plan_overlapped",
           "sharing"]
