"""Scheduling subproblems: the memory model in the flat form the searches use.

A graph splits at *forced cuts*: positions where every operator after the cut
depends (transitively) on every operator before it. Every valid order runs the
pieces one after another, and what is alive across a cut does not depend on the
order inside either piece, so each piece is scheduled on its own and the
best orders concatenate to a best order of the whole (divide and conquer).

A :class:`Subproblem` states, per operator, the bytes its step adds and which
tensors it may free, so a search can evaluate a partial order in constant time
per step. Its figures agree with :func:`tflite_serenity.memory.profile`, which
stays the authority on the peak of a finished order.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Sequence

from ..memory import ActivationFlow


@dataclass(frozen=True)
class Subproblem:
    """One piece of a graph to schedule. Local operator ``i`` is ``ops[i]``;
    local indices follow the stored order, which is topological."""

    ops: tuple[int, ...]
    preds: tuple[tuple[int, ...], ...]
    out_bytes: tuple[int, ...]  # bytes of the operator's outputs (added at its step)
    dead_out: tuple[int, ...]  # of those, bytes nothing reads: freed right after the step
    free_size: tuple[int, ...]  # tensors that die inside the piece...
    free_consumers: tuple[tuple[int, ...], ...]  # ...after all these local operators ran
    op_frees: tuple[tuple[int, ...], ...]  # per operator: the dying tensors it reads
    op_floor: tuple[int, ...]  # per operator: its working set (activation inputs and outputs)
    lazy: tuple[int, ...]  # per operator: its consumer if it may wait until just before it, else -1
    init_bytes: int  # alive when the piece starts
    init_dead: int  # of those, bytes alive during the first step only
    offset: int  # alive throughout the piece, untouched by it

    @property
    def size(self) -> int:
        return len(self.ops)

    def lower_bound(self) -> int:
        """No order of the piece peaks below this (offset included)."""
        floor = max(self.op_floor, default=0)
        first = min(self.out_bytes, default=0)
        return max(floor, self.init_bytes + first) + self.offset


def forced_cuts(num_operators: int, preds: Sequence[Sequence[int]]) -> list[int]:
    """Positions ``0 = c0 < c1 < ... < n`` of the stored order where the prefix is
    forced: every operator at or after ``c`` has every operator before ``c`` as
    an ancestor. Runs in O(n * n / wordsize) with integer bitsets."""
    n = num_operators
    lowest_missing = [0] * n  # lowest position that is not an ancestor of v
    ancestors = [0] * n
    for v in range(n):
        a = 0
        for u in preds[v]:
            a |= ancestors[u] | (1 << u)
        ancestors[v] = a
        lowest_missing[v] = (~a & (a + 1)).bit_length() - 1
    cuts = [n]
    suffix_min = n
    for i in range(n - 1, 0, -1):
        suffix_min = min(suffix_min, lowest_missing[i])
        if suffix_min >= i:
            cuts.append(i)
    cuts.append(0)
    cuts.reverse()
    return cuts if n else [0]


def split(flow: ActivationFlow, cuts: Sequence[int] | None = None) -> list[Subproblem]:
    """Split the graph's memory flow at its forced cuts into independent subproblems."""
    n = flow.num_operators
    if cuts is None:
        cuts = forced_cuts(n, flow.preds)
    bounds = list(zip(cuts[:-1], cuts[1:])) or [(0, 0)]
    pieces = [_Piece(a, b) for a, b in bounds]
    starts = [a for a, _ in bounds]

    def piece_of(op: int) -> int:
        return bisect.bisect_right(starts, op) - 1

    for k, size in enumerate(flow.size):
        p, consumers, pinned = flow.producer[k], flow.consumers[k], flow.pinned[k]
        first = piece_of(p) if p >= 0 else -1  # -1: a graph input, alive from the start
        if not consumers and not pinned:
            if p >= 0:
                pieces[first].dead_out[p - pieces[first].start] += size
            else:  # a graph input nothing reads: alive at step 0 only
                pieces[0].init_bytes += size
                pieces[0].init_dead += size
            continue
        last = len(pieces) if pinned else piece_of(max(consumers))
        for j in range(max(first, 0), min(last, len(pieces) - 1) + 1):
            piece = pieces[j]
            if j == first and j == last:
                piece.add_dying(size, consumers, p)
            elif j == last:  # arrives from an earlier piece, dies here
                piece.init_bytes += size
                piece.add_dying(size, consumers, -1)
            elif j != first:  # passes through untouched
                piece.offset += size
            # j == first < last: written here and alive to the piece's end
    out_bytes, floor = [0] * n, [0] * n  # per operator: bytes written; working set
    for k, size in enumerate(flow.size):
        if flow.producer[k] >= 0:
            out_bytes[flow.producer[k]] += size
            floor[flow.producer[k]] += size
        for c in flow.consumers[k]:
            floor[c] += size
    return [piece.freeze(flow, out_bytes, floor) for piece in pieces]


class _Piece:
    """Mutable accumulator behind one Subproblem."""

    def __init__(self, start: int, stop: int):
        self.start, self.stop = start, stop
        self.dead_out = [0] * (stop - start)
        self.free_size: list[int] = []
        self.free_producer: list[int] = []
        self.free_consumers: list[tuple[int, ...]] = []
        self.init_bytes = 0
        self.init_dead = 0
        self.offset = 0

    def add_dying(self, size: int, consumers: Sequence[int], producer: int) -> None:
        local = tuple(c - self.start for c in consumers if self.start <= c < self.stop)
        self.free_producer.append(producer - self.start if producer >= 0 else -1)
        self.free_size.append(size)
        self.free_consumers.append(local)

    def freeze(self, flow: ActivationFlow, all_out_bytes: list[int], all_floor: list[int]) -> Subproblem:
        a, b = self.start, self.stop
        if b - a == 1:  # most pieces: one operator, which waits for nothing inside and frees all that dies here
            return Subproblem(
                ops=(a,), preds=((),), out_bytes=(all_out_bytes[a],), dead_out=tuple(self.dead_out),
                free_size=tuple(self.free_size), free_consumers=tuple(self.free_consumers),
                op_frees=(tuple(k for k, consumers in enumerate(self.free_consumers) for _ in consumers),),
                op_floor=(all_floor[a],), lazy=(-1,), init_bytes=self.init_bytes, init_dead=self.init_dead,
                offset=self.offset)
        out_bytes, op_floor = all_out_bytes[a:b], all_floor[a:b]
        op_frees: list[list[int]] = [[] for _ in range(b - a)]
        for k, consumers in enumerate(self.free_consumers):
            for c in consumers:
                op_frees[c].append(k)
        preds = tuple(tuple(u - a for u in flow.preds[v] if u >= a) for v in range(a, b))
        return Subproblem(
            ops=tuple(range(a, b)),
            preds=preds,
            out_bytes=tuple(out_bytes),
            dead_out=tuple(self.dead_out),
            free_size=tuple(self.free_size),
            free_consumers=tuple(self.free_consumers),
            op_frees=tuple(tuple(f) for f in op_frees),
            op_floor=tuple(op_floor),
            lazy=_lazy_operators(preds, out_bytes, self.dead_out, op_floor, self.free_size, self.free_producer,
                                 self.free_consumers),
            init_bytes=self.init_bytes,
            init_dead=self.init_dead,
            offset=self.offset,
        )


def _lazy_operators(preds, out_bytes, dead_out, op_floor, free_size, free_producer,
                    free_consumers) -> tuple[int, ...]:
    """Operators that some optimal order runs immediately before their consumer.

    Operator ``v`` is lazy towards ``c`` when ``c`` is its only successor and
    the only reader of everything it writes that outlives its step, and the
    bytes ``v`` reads are at most what it keeps, and with what it frees at
    once (``dead_out``: e.g. a weight contracted into it, see
    :mod:`.dominance`) at most what ``c`` writes (e.g. a MUL by a constant
    feeding an ADD). Moving ``v`` later, to just before ``c``, then never raises
    a step: every step it passes loses ``v``'s output and keeps at most ``v``'s
    inputs alive longer, and ``v``'s own step ends up no higher than ``c``'s.
    Consumers are never lazy themselves, so the moves do not chain.
    """
    n = len(preds)
    succs: list[list[int]] = [[] for _ in range(n)]
    for v, ps in enumerate(preds):
        for u in ps:
            succs[u].append(v)
    # bytes each operator writes that only its single successor reads
    private = [0] * n
    for k, p in enumerate(free_producer):
        if p >= 0 and len(succs[p]) == 1 and tuple(free_consumers[k]) == (succs[p][0],):
            private[p] += free_size[k]
    lazy = [-1] * n
    for v in reversed(range(n)):
        if len(succs[v]) != 1:
            continue
        (c,) = succs[v]
        if lazy[c] >= 0:
            continue
        reads, kept = op_floor[v] - out_bytes[v], out_bytes[v] - dead_out[v]
        if reads <= kept and reads + dead_out[v] <= out_bytes[c] and private[v] == kept:
            lazy[v] = c
    return tuple(lazy)


def evaluate(sub: Subproblem, order: Sequence[int]) -> int:
    """Peak bytes (offset included) of running the piece's operators in ``order`` (local indices)."""
    mem = sub.init_bytes
    peak = mem
    remaining = [len(c) for c in sub.free_consumers]
    for step, v in enumerate(order):
        mem += sub.out_bytes[v]
        peak = max(peak, mem)
        mem -= sub.dead_out[v]
        if step == 0:
            mem -= sub.init_dead
        for k in sub.op_frees[v]:
            remaining[k] -= 1
            if remaining[k] == 0:
                mem -= sub.free_size[k]
    return peak + sub.offset
