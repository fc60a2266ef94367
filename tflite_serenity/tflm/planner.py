"""A faithful simulation of TFLite Micro's ``GreedyMemoryPlanner``.

What it reproduces, read from the tflite-micro sources (github.com/tensorflow/
tflite-micro, commit 90b983c2 of 2026-08-20; the planner itself last changed
in 2023):

``tensorflow/lite/micro/micro_allocator.cc`` (``CreatePlan``)
    Buffers are handed to the planner in allocation-info order (every
    subgraph's tensors by index, then scratch buffers); each size is first
    rounded up with ``AlignSizeUp(bytes, MicroArenaBufferAlignment())``, and
    ``MicroArenaBufferAlignment()`` is 16 (``micro_arena_constants.h``;
    ``AlignSizeUp`` is in ``memory_helpers.cc``). We take the blocks in the
    order given, so pass them in that order to reproduce tie-breaks.
``tensorflow/lite/micro/micro_allocation_info.cc``
    Tensors with zero bytes are never handed to the planner
    (``needs_allocating`` requires ``bytes != 0``); we give them offset 0 and
    leave them out of the arena. Lifetimes are allocation-scope counts
    (subgraph inputs at 0, operator ``i`` at ``i + 1``); only their relative
    order matters to the planner, so any consistent step numbering works.
    Offline offsets come from the ``OfflineMemoryAllocation`` metadata, with
    -1 meaning "plan online".
``tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc``
    ``CalculateOffsetsIfNeeded``: offline-planned buffers go first, in the
    order added, at their given offsets, unchecked. Online buffers follow,
    sorted by size, largest first. The sort list is filled from the tail in
    the order buffers were added, so it starts out in *reverse* order, and
    ``ReverseSortInPlace`` is a stable bubble sort: among equal sizes the
    buffer added *last* is placed first. Each buffer then walks the list of
    placed buffers in offset order, skipping those not alive at a common
    time step (``DoesEntryOverlapInTime``, inclusive bounds). It keeps a
    candidate offset (the largest end seen so far, starting at 0) and takes
    the first gap between the candidate and the next live entry's offset
    that is at least its size, else goes after the last live entry. The new
    entry is linked into the offset-ordered list after every entry with an
    offset less than or equal to its own. ``GetMaximumMemorySize`` is the
    largest ``offset + size`` over all buffers.

Walking the whole list and skipping entries that are not alive is the same
as walking only the placed blocks that conflict with the new one, ordered by
(offset, placement order); we do the latter, which costs the number of
conflicting pairs instead of the square of the block count.
"""

from __future__ import annotations

from typing import Sequence

from tflite_serenity.arena.blocks import (
    DEFAULT_ALIGNMENT, Block, Placement, aligned_sizes, arena_end,
    check_alignment, conflict_lists, lower_bound)
from tflite_serenity.errors import SerenityError

ONLINE = -1
"""Offline-plan entry meaning "let the planner choose" (``kOnlinePlannedBuffer``)."""


def tflm_order(sizes: Sequence[int], offline_offsets: Sequence[int] | None = None) -> list[int]:
    """The order in which ``GreedyMemoryPlanner`` places buffers.

    Parameters
    ----------
    sizes : sequence of int
        Aligned sizes in the order the buffers were added; zero-sized ones
        are left out, as TFLite Micro never adds them.
    offline_offsets : sequence of int, optional
        Per buffer, an offline offset or ``-1`` (online).

    Returns
    -------
    list of int
        Offline buffers in the order added, then online buffers by size,
        largest first, ties broken by the later-added buffer first.

    Examples
    --------
    >>> tflm_order([32, 16, 32, 0, 48])
    [4, 2, 0, 1]
    """
    planned = [i for i, size in enumerate(sizes) if size > 0]
    if offline_offsets is None:
        return sorted(planned, key=lambda i: (-sizes[i], -i))
    head = [i for i in planned if offline_offsets[i] != ONLINE]
    tail = sorted((i for i in planned if offline_offsets[i] == ONLINE),
                  key=lambda i: (-sizes[i], -i))
    return head + tail


def greedy_tflm(blocks: Sequence[Block], alignment: int = DEFAULT_ALIGNMENT, *,
                offline_offsets: Sequence[int] | None = None) -> Placement:
    """Place ``blocks`` exactly as TFLite Micro's greedy planner would.

    Parameters
    ----------
    blocks : sequence of Block
        In the order TFLite Micro would add them (tensor index order, then
        scratch buffers), since that order breaks ties between equal sizes.
    alignment : int, default 16
        Every size is rounded up to this before planning.
    offline_offsets : sequence of int, optional
        One entry per block: a fixed byte offset from an offline plan, or
        ``-1`` to plan the block online. Fixed offsets are used as given and
        not checked, as in TFLite Micro, so the result may overlap if they do.

    Returns
    -------
    Placement
        ``method="greedy_tflm"``; ``arena_bytes`` is what
        ``GetMaximumMemorySize`` reports, i.e. the arena head.

    Raises
    ------
    SerenityError
        If ``offline_offsets`` has the wrong length or a negative entry other
        than -1.

    Examples
    --------
    >>> blocks = [Block(32, 0, 1), Block(16, 1, 2), Block(32, 2, 3)]
    >>> greedy_tflm(blocks).offsets
    (0, 32, 0)
    """
    alignment = check_alignment(alignment)
    sizes = aligned_sizes(blocks, alignment)
    if offline_offsets is not None:
        offline_offsets = list(offline_offsets)
        if len(offline_offsets) != len(blocks):
            raise SerenityError(
                f"{len(offline_offsets)} offline offsets for {len(blocks)} tensors")
        for i, offset in enumerate(offline_offsets):
            if offset < 0 and offset != ONLINE:
                raise SerenityError(f"tensor {i}: offline offset {offset} is negative")
    neighbours = conflict_lists(blocks)
    offsets = [0] * len(blocks)
    # Placement sequence number of each placed block; None while unplaced.
    sequence: list[int | None] = [None] * len(blocks)
    for seq, i in enumerate(tflm_order(sizes, offline_offsets)):
        if offline_offsets is not None and offline_offsets[i] != ONLINE:
            offsets[i] = offline_offsets[i]
        else:
            live = sorted((offsets[j], sequence[j], j)
                          for j in neighbours[i] if sequence[j] is not None)
            candidate = 0
            for offset, _, j in live:
                if offset - candidate >= sizes[i]:
                    break
                candidate = max(candidate, offset + sizes[j])
            offsets[i] = candidate
        sequence[i] = seq
    arena = arena_end(sizes, offsets)
    bound = lower_bound(blocks, alignment)
    return Placement(offsets=tuple(offsets), arena_bytes=arena, lower_bound=bound,
                     optimal=arena == bound, method="greedy_tflm")
