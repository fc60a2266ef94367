"""Fast placement heuristics: greedy fits under several block orders.

Two families, both deterministic and linear in the number of conflicting
pairs (times a log):

* :func:`fit_in_order` takes the blocks one by one in a given order and puts
  each into a gap among the already placed blocks it conflicts with, either
  the lowest gap that fits (``"lowest"``, TFLite Micro's rule) or the
  smallest one (``"best"``, TFLite's arena rule).
* :func:`skyline` sweeps bottom-up: it always places next the block whose
  lowest possible offset (the top of the blocks already placed under any of
  its steps) is smallest, so the arena fills like a skyline. The CP-SAT
  stage (:mod:`.cpsat`) searches the same way, but can backtrack and put a
  block higher than its lowest offset.

:func:`orders` names the block orders we try; :func:`best_heuristic` runs
them all, keeps the lowest arena and stops as soon as one reaches the
lower bound.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Callable, Sequence

from tflite_serenity.arena.blocks import Block, arena_end


@dataclass(frozen=True)
class Instance:
    """A placement problem reduced to plain integers.

    Attributes
    ----------
    blocks : tuple of Block
        The input blocks.
    sizes : tuple of int
        Aligned sizes (0 for blocks that need no bytes).
    neighbours : tuple of tuple of int
        Per block, the blocks it conflicts with, ascending.
    bound : int
        The lower bound (peak aligned live bytes).
    peak_total : tuple of int
        Per block, the largest live total over the steps it is alive.
    """

    blocks: tuple[Block, ...]
    sizes: tuple[int, ...]
    neighbours: tuple[tuple[int, ...], ...]
    bound: int
    peak_total: tuple[int, ...]


def make_instance(blocks: Sequence[Block], sizes: Sequence[int],
                  neighbours: Sequence[Sequence[int]]) -> Instance:
    """Bundle the blocks with the derived data every planner needs."""
    points = sorted({b.start for b, s in zip(blocks, sizes) if s})
    index = {p: k for k, p in enumerate(points)}
    delta = [0] * (len(points) + 1)
    for b, s in zip(blocks, sizes):
        if s:
            delta[index[b.start]] += s
            # The block stops counting at the first start point after its end.
            delta[_first_after(points, b.end)] -= s
    live, running = [], 0
    for k in range(len(points)):
        running += delta[k]
        live.append(running)
    peak_total = []
    for b, s in zip(blocks, sizes):
        if s:
            peak_total.append(max(live[index[b.start]:_first_after(points, b.end)]))
        else:
            peak_total.append(0)
    return Instance(blocks=tuple(blocks), sizes=tuple(sizes),
                    neighbours=tuple(tuple(row) for row in neighbours),
                    bound=max(live, default=0), peak_total=tuple(peak_total))


def _first_after(points: Sequence[int], step: int) -> int:
    """Index of the first point greater than ``step`` (bisect_right)."""
    lo, hi = 0, len(points)
    while lo < hi:
        mid = (lo + hi) // 2
        if points[mid] <= step:
            lo = mid + 1
        else:
            hi = mid
    return lo


def fit_in_order(inst: Instance, order: Sequence[int], policy: str = "lowest") -> list[int]:
    """Place blocks one by one in ``order``, each into a gap that fits.

    Parameters
    ----------
    inst : Instance
    order : sequence of int
        Every block index with a size above zero, once.
    policy : {"lowest", "best"}
        ``"lowest"`` takes the lowest gap that fits; ``"best"`` the smallest
        gap that fits (lowest among equals), and the space above all
        conflicting blocks only when no gap fits.

    Returns
    -------
    list of int
        Offsets, 0 for zero-sized blocks.
    """
    sizes, neighbours = inst.sizes, inst.neighbours
    offsets = [-1] * len(sizes)
    best = policy == "best"
    for i in order:
        size = sizes[i]
        live = sorted([(offsets[j], offsets[j] + sizes[j])
                       for j in neighbours[i] if offsets[j] >= 0])
        candidate = 0
        chosen, chosen_gap = -1, 0
        for lo, hi in live:
            gap = lo - candidate
            if gap >= size:
                if not best:
                    chosen = candidate
                    break
                if chosen < 0 or gap < chosen_gap:
                    chosen, chosen_gap = candidate, gap
            if hi > candidate:
                candidate = hi
        offsets[i] = candidate if chosen < 0 else chosen
    return [max(o, 0) for o in offsets]


def skyline(inst: Instance, rank: Sequence[int]) -> list[int]:
    """Bottom-up placement: always place the block that can sit lowest.

    A block's lowest offset is the highest top among the placed blocks it
    conflicts with. Ties go to the smaller ``rank``.

    Parameters
    ----------
    inst : Instance
    rank : sequence of int
        Tie-break priority per block (a permutation; smaller goes first).

    Returns
    -------
    list of int
        Offsets, 0 for zero-sized blocks.
    """
    sizes, neighbours = inst.sizes, inst.neighbours
    floor = [0] * len(sizes)
    offsets = [-1] * len(sizes)
    heap = [(0, rank[i], i) for i in range(len(sizes)) if sizes[i]]
    heapq.heapify(heap)
    while heap:
        low, _, i = heapq.heappop(heap)
        if offsets[i] >= 0 or low != floor[i]:
            continue  # placed already, or a stale entry
        offsets[i] = low
        top = low + sizes[i]
        for j in neighbours[i]:
            if offsets[j] < 0 and floor[j] < top:
                floor[j] = top
                heapq.heappush(heap, (top, rank[j], j))
    return [max(o, 0) for o in offsets]


def orders(inst: Instance) -> dict[str, list[int]]:
    """Named orders of the blocks with a size above zero, best-known first.

    Every key ends with the block index, so orders are total and repeatable.
    """
    blocks, sizes, peak = inst.blocks, inst.sizes, inst.peak_total
    ids = [i for i, s in enumerate(sizes) if s]
    dur = [b.end - b.start + 1 for b in blocks]
    weight = [sizes[i] + sum(sizes[j] for j in inst.neighbours[i]) for i in range(len(sizes))]
    keys: dict[str, Callable[[int], tuple]] = {
        "peak": lambda i: (-peak[i], -sizes[i], -dur[i], blocks[i].start, i),
        "size": lambda i: (-sizes[i], -dur[i], blocks[i].start, i),
        "duration": lambda i: (-dur[i], -sizes[i], blocks[i].start, i),
        "area": lambda i: (-sizes[i] * dur[i], -sizes[i], blocks[i].start, i),
        "conflict": lambda i: (-weight[i], -sizes[i], blocks[i].start, i),
        "start": lambda i: (blocks[i].start, -dur[i], -sizes[i], i),
    }
    return {name: sorted(ids, key=key) for name, key in keys.items()}


@dataclass(frozen=True)
class Candidate:
    """One heuristic's offsets and arena end."""

    offsets: tuple[int, ...]
    arena: int
    method: str


def heuristic_runs(inst: Instance) -> list[tuple[str, Callable[[], list[int]]]]:
    """Every heuristic we try, named, in the order we try them.

    Skyline placements come first: on CNN-like lifetimes they reach the
    lower bound far more often than gap fitting does.
    """
    named = orders(inst)
    runs: list[tuple[str, Callable[[], list[int]]]] = []
    for name, order in named.items():
        rank = [0] * len(inst.sizes)
        for r, i in enumerate(order):
            rank[i] = r
        runs.append((f"skyline/{name}", lambda rank=rank: skyline(inst, rank)))
    for policy in ("lowest", "best"):
        for name, order in named.items():
            runs.append((f"{policy}-fit/{name}",
                         lambda order=order, policy=policy: fit_in_order(inst, order, policy)))
    return runs


def best_heuristic(inst: Instance, incumbent: Candidate | None = None, deadline: float | None = None) -> Candidate:
    """Run every heuristic and return the lowest arena (first one on ties).

    Stops as soon as one reaches ``inst.bound``, or after the run that passes
    ``deadline`` (``time.monotonic()`` seconds; large instances take seconds a
    run). An ``incumbent`` (e.g. the TFLite Micro plan) is returned unless
    something beats it.
    """
    import time

    best = incumbent
    for i, (method, run) in enumerate(heuristic_runs(inst)):
        if best is not None and best.arena <= inst.bound:
            break
        if i and deadline is not None and time.monotonic() > deadline:
            break
        offsets = run()
        arena = arena_end(inst.sizes, offsets)
        if best is None or arena < best.arena:
            best = Candidate(tuple(offsets), arena, method)
    if best is None:  # no blocks at all
        best = Candidate(tuple(0 for _ in inst.sizes), 0, "empty")
    return best
