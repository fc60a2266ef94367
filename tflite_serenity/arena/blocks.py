"""Blocks, placements, and the checks every arena planner shares.

A *block* is one tensor the arena must hold: ``size`` bytes, live from operator
step ``start`` to operator step ``end`` (both inclusive). Two blocks
*conflict* when their step intervals intersect and both have a size above
zero; conflicting blocks must not share a byte. A *placement* gives every
block a byte offset in the arena.

Sizes are padded up to the arena alignment (TFLite Micro pads every planned
buffer to 16 bytes) and offsets must be multiples of it, so all planners
work on aligned sizes and the arena end is ``max(offset + aligned(size))``.
The lower bound is the peak, over steps, of the aligned bytes alive at that
step: no placement can do better.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Mapping, Sequence

from tflite_serenity.errors import PlanError, SerenityError

DEFAULT_ALIGNMENT = 16
"""TFLite Micro's ``MicroArenaBufferAlignment()``."""


def _require_int(value: object, what: str) -> int:
    """Return ``value`` as an ``int``, or raise if it is not an integer."""
    if isinstance(value, bool):
        raise SerenityError(f"{what} must be an integer, got {value!r}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError as err:
        raise SerenityError(f"{what} must be an integer, got {value!r}") from err


@dataclass(frozen=True)
class Block:
    """One tensor to place in the arena.

    Parameters
    ----------
    size : int
        Bytes the tensor needs (0 allowed: such a block conflicts with nothing).
    start, end : int
        First and last operator step at which the tensor is alive, inclusive.

    Raises
    ------
    SerenityError
        If a field is not an integer, ``size`` is negative or ``start > end``.

    Examples
    --------
    >>> Block(size=100, start=0, end=2).duration
    3
    """

    size: int
    start: int
    end: int

    def __post_init__(self) -> None:
        size = _require_int(self.size, "Block.size")
        start = _require_int(self.start, "Block.start")
        end = _require_int(self.end, "Block.end")
        if size < 0:
            raise SerenityError(f"Block.size must be >= 0, got {size}")
        if start > end:
            raise SerenityError(f"Block.start {start} is after Block.end {end}")
        # Normalize numpy integers and the like to plain ints.
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @property
    def duration(self) -> int:
        """Number of steps the block is alive."""
        return self.end - self.start + 1


@dataclass(frozen=True)
class Placement:
    """Byte offsets for a list of blocks, and how good they are.

    Attributes
    ----------
    offsets : tuple of int
        Offset of each block, in the order of the input blocks.
    arena_bytes : int
        Arena end: the largest ``offset + aligned(size)``; 0 if nothing is placed.
    lower_bound : int
        Peak aligned live bytes; ``arena_bytes`` can never be below it.
    optimal : bool
        True when ``arena_bytes`` is proven minimal (it equals the lower
        bound, or an exact solver proved it).
    method : str
        Name of the algorithm that produced the offsets.
    """

    offsets: tuple[int, ...]
    arena_bytes: int
    lower_bound: int
    optimal: bool
    method: str


def check_alignment(alignment: int) -> int:
    """Return ``alignment`` if it is a positive integer, else raise.

    Raises
    ------
    SerenityError
        If ``alignment`` is not a positive integer.
    """
    alignment = _require_int(alignment, "alignment")
    if alignment < 1:
        raise SerenityError(f"alignment must be >= 1, got {alignment}")
    return alignment


def aligned(size: int, alignment: int = DEFAULT_ALIGNMENT) -> int:
    """Round ``size`` up to a multiple of ``alignment`` (TFLM's ``AlignSizeUp``).

    Examples
    --------
    >>> aligned(1), aligned(16), aligned(17), aligned(0)
    (16, 16, 32, 0)
    """
    alignment = check_alignment(alignment)
    return -(-size // alignment) * alignment


def aligned_sizes(blocks: Sequence[Block], alignment: int = DEFAULT_ALIGNMENT) -> list[int]:
    """Aligned size of every block, in order."""
    alignment = check_alignment(alignment)
    return [-(-b.size // alignment) * alignment for b in blocks]


def live_bytes(blocks: Sequence[Block], alignment: int = DEFAULT_ALIGNMENT) -> dict[int, int]:
    """Aligned bytes alive at each step where some block starts.

    The live total can only rise where a block starts, so these steps hold
    every local maximum of the live-bytes curve.

    Examples
    --------
    >>> live_bytes([Block(16, 0, 1), Block(32, 1, 2), Block(16, 2, 2)])
    {0: 16, 1: 48, 2: 48}
    """
    sizes = aligned_sizes(blocks, alignment)
    events: list[tuple[int, int]] = []
    for block, size in zip(blocks, sizes):
        if size:
            events.append((block.start, size))
            events.append((block.end + 1, -size))
    # At equal steps, ends (negative deltas) apply before starts.
    events.sort(key=lambda e: (e[0], e[1]))
    totals: dict[int, int] = {}
    live = 0
    for step, delta in events:
        live += delta
        if delta > 0:
            totals[step] = live
    return totals


def lower_bound(blocks: Sequence[Block], alignment: int = DEFAULT_ALIGNMENT) -> int:
    """Peak over steps of the aligned bytes alive at that step.

    Examples
    --------
    >>> lower_bound([Block(10, 0, 1), Block(20, 1, 2), Block(30, 3, 3)])
    48
    """
    return max(live_bytes(blocks, alignment).values(), default=0)


def arena_end(sizes: Sequence[int], offsets: Sequence[int]) -> int:
    """Largest ``offset + size`` over the blocks with a size above zero."""
    return max((o + s for o, s in zip(offsets, sizes) if s), default=0)


def conflict_lists(blocks: Sequence[Block]) -> list[list[int]]:
    """For each block, the indices of the blocks it conflicts with, ascending.

    Runs a sweep over start steps, so the cost is proportional to the number
    of conflicting pairs, not to the square of the block count.
    """
    neighbours: list[list[int]] = [[] for _ in blocks]
    order = sorted((i for i, b in enumerate(blocks) if b.size > 0),
                   key=lambda i: (blocks[i].start, i))
    active: list[int] = []
    current_start = None
    for i in order:
        start = blocks[i].start
        if start != current_start:
            active = [j for j in active if blocks[j].end >= start]
            current_start = start
        for j in active:
            neighbours[i].append(j)
            neighbours[j].append(i)
        active.append(i)
    for row in neighbours:
        row.sort()
    return neighbours


def _describe(index: int, block: Block, offset: int, size: int) -> str:
    return (f"tensor {index} (bytes [{offset}, {offset + size}), "
            f"steps {block.start}..{block.end})")


def _allowed(overlaps: Mapping[tuple[int, int], int] | None, i: int, j: int, offsets: Sequence[int]) -> bool:
    """Whether ``overlaps`` lets blocks ``i`` and ``j`` share bytes at ``offsets``."""
    if not overlaps:
        return False
    for a, b in ((i, j), (j, i)):
        limit = overlaps.get((a, b))
        if limit is not None and offsets[b] - offsets[a] <= limit:
            return True
    return False


def check_placement(blocks: Sequence[Block], offsets: Sequence[int],
                    alignment: int = DEFAULT_ALIGNMENT,
                    overlaps: Mapping[tuple[int, int], int] | None = None) -> None:
    """Raise unless ``offsets`` is a valid placement of ``blocks``.

    Valid means: one integer offset per block, each >= 0 and a multiple of
    ``alignment``, and no two conflicting blocks share a byte of their
    aligned extents (with aligned offsets, aligned extents overlap exactly
    when the raw extents do), except the pairs ``overlaps`` allows:
    ``overlaps[(i, j)] = limit`` lets block ``j`` (an operator's output)
    share bytes with block ``i`` (an input dying there) when
    ``offsets[j] - offsets[i] <= limit`` (:mod:`tflite_serenity.arena.overlap`).

    Raises
    ------
    PlanError
        Naming the first offending tensor, or the two overlapping tensors.

    Examples
    --------
    >>> check_placement([Block(16, 0, 1), Block(16, 1, 2)], [0, 16])
    >>> check_placement([Block(16, 0, 1), Block(16, 1, 2)], [0, 0])
    Traceback (most recent call last):
    ...
    tflite_serenity.errors.PlanError: tensor 0 (bytes [0, 16), steps 0..1) overlaps tensor 1 (bytes [0, 16), steps 1..2)
    """
    alignment = check_alignment(alignment)
    if len(offsets) != len(blocks):
        raise PlanError(f"{len(offsets)} offsets for {len(blocks)} tensors")
    checked: list[int] = []
    for i, offset in enumerate(offsets):
        if isinstance(offset, bool):
            raise PlanError(f"tensor {i}: offset {offset!r} is not an integer")
        try:
            offset = operator.index(offset)
        except TypeError as err:
            raise PlanError(f"tensor {i}: offset {offset!r} is not an integer") from err
        checked.append(offset)
        if offset < 0:
            raise PlanError(f"tensor {i}: offset {offset} is negative")
        if offset % alignment:
            raise PlanError(f"tensor {i}: offset {offset} is not a multiple of {alignment}")
    sizes = aligned_sizes(blocks, alignment)
    neighbours = conflict_lists(blocks)
    for i, row in enumerate(neighbours):
        lo, hi = checked[i], checked[i] + sizes[i]
        for j in row:
            if j > i and checked[j] < hi and lo < checked[j] + sizes[j] and not _allowed(overlaps, i, j, checked):
                raise PlanError(
                    f"{_describe(i, blocks[i], lo, sizes[i])} overlaps "
                    f"{_describe(j, blocks[j], checked[j], sizes[j])}")
