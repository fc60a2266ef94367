"""Slow, obviously-correct oracles and Hypothesis strategies for the arena tests.

Nothing here shares code with ``tflite_serenity.arena`` beyond the ``Block``
type, so the tests compare two independent implementations.
"""

from __future__ import annotations

from typing import Sequence

from hypothesis import strategies as st

from tflite_serenity.arena import Block

ONLINE = -1


def _aligned(size: int, alignment: int) -> int:
    return (size + alignment - 1) // alignment * alignment


def _conflict(a: Block, b: Block) -> bool:
    return a.size > 0 and b.size > 0 and a.start <= b.end and b.start <= a.end


def brute_force_arena(blocks: Sequence[Block], alignment: int = 16) -> int:
    """The minimum arena end, by trying every placement order.

    Exhaustive because any placement can be compacted without growing: take
    the blocks by increasing offset and drop each to the lowest offset where
    it fits among those already dropped. Each block only moves down, and the
    blocks before it keep fitting under it, so the compacted placement is a
    "lowest fit in some order". The minimum over all orders is the optimum.
    Orders are explored depth first, pruning a branch once its arena reaches
    the best complete one.
    """
    sizes = [_aligned(b.size, alignment) for b in blocks]
    ids = [i for i, s in enumerate(sizes) if s]
    best = sum(sizes[i] for i in ids)
    offsets: dict[int, int] = {}

    def lowest_fit(i: int) -> int:
        spans = sorted((offsets[j], offsets[j] + sizes[j]) for j in offsets
                       if _conflict(blocks[i], blocks[j]))
        at = 0
        for lo, hi in spans:
            if lo - at >= sizes[i]:
                break
            at = max(at, hi)
        return at

    def explore(height: int) -> None:
        nonlocal best
        if len(offsets) == len(ids):
            best = min(best, height)
            return
        for i in ids:
            if i in offsets:
                continue
            at = lowest_fit(i)
            top = max(height, at + sizes[i])
            if top >= best:
                continue
            offsets[i] = at
            explore(top)
            del offsets[i]

    explore(0)
    return best


def tflm_reference(blocks: Sequence[Block], alignment: int = 16,
                   offline: Sequence[int] | None = None) -> tuple[list[int], int]:
    """A line-by-line model of TFLite Micro's GreedyMemoryPlanner (offsets, head).

    Keeps the planner's own data layout: a size/id array filled from the
    tail, a stable bubble sort, and a singly linked list of placed buffers in
    offset order that every new buffer walks from the head.
    """
    planned = [i for i, b in enumerate(blocks) if b.size > 0]  # needs_allocating
    count = len(planned)
    size = [_aligned(blocks[i].size, alignment) for i in planned]
    first = [blocks[i].start for i in planned]
    last = [blocks[i].end for i in planned]
    fixed = [ONLINE if offline is None else offline[i] for i in planned]
    result = [0] * len(blocks)
    if count == 0:
        return result, 0

    sorted_sizes, sorted_ids, offset_of = [0] * count, [0] * count, [0] * count
    head, tail = 0, count
    for k in range(count):
        if fixed[k] == ONLINE:
            tail -= 1
            sorted_sizes[tail], sorted_ids[tail] = size[k], k
            offset_of[k] = -1
        else:
            sorted_sizes[head], sorted_ids[head] = size[k], k
            offset_of[k] = fixed[k]
            head += 1
    swapped = True
    while swapped:  # stable bubble sort, descending, of the online part only
        swapped = False
        for k in range(head + 1, count):
            if sorted_sizes[k - 1] < sorted_sizes[k]:
                sorted_sizes[k - 1], sorted_sizes[k] = sorted_sizes[k], sorted_sizes[k - 1]
                sorted_ids[k - 1], sorted_ids[k] = sorted_ids[k], sorted_ids[k - 1]
                swapped = True

    # Linked list entries: [offset, buffer id, next entry index or -1].
    entries = [[0, 0, -1] for _ in range(count)]
    first_entry = 0
    first_id = sorted_ids[0]
    if fixed[first_id] == ONLINE:
        offset_of[first_id] = 0
    entries[0] = [offset_of[first_id], first_id, -1]
    used = 1

    def alive_together(entry: list, lo: int, hi: int) -> bool:
        other = entry[1]
        return not (first[other] > hi or lo > last[other])

    for k in range(1, count):
        bid = sorted_ids[k]
        if fixed[bid] != ONLINE:
            candidate = fixed[bid]
        else:
            candidate = 0
            prior = None
            while True:
                # next entry alive at a common step, after `prior`
                index = first_entry if prior is None else entries[prior][2]
                nxt = None
                while index != -1:
                    if alive_together(entries[index], first[bid], last[bid]):
                        nxt = index
                        break
                    index = entries[index][2]
                if prior is not None:
                    end = entries[prior][0] + size[entries[prior][1]]
                    candidate = max(candidate, end)
                if nxt is None:
                    break
                if entries[nxt][0] - candidate >= size[bid]:
                    break
                prior = nxt
        offset_of[bid] = candidate
        entries[used] = [candidate, bid, -1]
        if entries[first_entry][0] > candidate:
            entries[used][2] = first_entry
            first_entry = used
        else:
            current = first_entry
            while True:
                following = entries[current][2]
                if following == -1 or entries[following][0] > candidate:
                    entries[used][2] = following
                    entries[current][2] = used
                    break
                current = following
        used += 1

    head_bytes = max(offset_of[k] + size[k] for k in range(count))
    for k, i in enumerate(planned):
        result[i] = offset_of[k]
    return result, head_bytes


def block_lists(max_blocks: int, max_step: int = 8, sizes=None) -> st.SearchStrategy:
    """Lists of blocks with small steps, sizes around alignment boundaries."""
    size = sizes if sizes is not None else st.one_of(
        st.sampled_from([0, 1, 15, 16, 17, 32, 48, 64, 100]), st.integers(0, 400))

    @st.composite
    def one(draw):
        start = draw(st.integers(0, max_step))
        end = draw(st.integers(start, min(max_step, start + 4)))
        return Block(draw(size), start, end)

    return st.lists(one(), min_size=0, max_size=max_blocks)
