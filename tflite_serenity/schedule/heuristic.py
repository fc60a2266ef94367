"""Fast list schedules: the upper bound that the exact search starts from.

Each rule repeatedly runs one ready operator, chosen greedily, and the best
of the rules (and of the stored order) wins. Ties go to the lower operator
index, so results are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .problem import Subproblem, evaluate


@dataclass(frozen=True)
class Candidate:
    order: tuple[int, ...]  # local operator indices
    peak: int  # offset included
    rule: str


def greedy_schedule(sub: Subproblem, key: Callable[[int, int, int], tuple]) -> tuple[int, ...]:
    """List schedule choosing, among ready operators, the one minimizing
    ``key(v, step_bytes, bytes_after)``."""
    n = sub.size
    waiting = [len(p) for p in sub.preds]
    succs: list[list[int]] = [[] for _ in range(n)]
    for v, ps in enumerate(sub.preds):
        for u in ps:
            succs[u].append(v)
    remaining = [len(c) for c in sub.free_consumers]
    ready = [v for v in range(n) if waiting[v] == 0]
    mem = sub.init_bytes
    order = []
    while ready:
        best, best_key = -1, None
        for v in ready:
            step = mem + sub.out_bytes[v]
            freed = sub.dead_out[v] + (sub.init_dead if not order else 0)
            for k in sub.op_frees[v]:
                if remaining[k] == 1:
                    freed += sub.free_size[k]
            k_v = key(v, step, step - freed)
            if best_key is None or k_v < best_key:
                best, best_key = v, k_v
        v = best
        ready.remove(v)
        order.append(v)
        mem += sub.out_bytes[v] - sub.dead_out[v] - (sub.init_dead if len(order) == 1 else 0)
        for k in sub.op_frees[v]:
            remaining[k] -= 1
            if remaining[k] == 0:
                mem -= sub.free_size[k]
        for w in succs[v]:
            waiting[w] -= 1
            if waiting[w] == 0:
                ready.append(w)
    return tuple(order)


RULES: dict[str, Callable[[int, int, int], tuple]] = {
    "least-after": lambda v, step, after: (after, step, v),
    "least-step": lambda v, step, after: (step, after, v),
}


def best_heuristic(sub: Subproblem) -> Candidate:
    """The best of the stored order and the greedy rules for ``sub``."""
    best = Candidate(tuple(range(sub.size)), evaluate(sub, range(sub.size)), "stored")
    if sub.size <= 1:
        return best  # the only order
    for name, key in RULES.items():
        order = greedy_schedule(sub, key)
        peak = evaluate(sub, order)
        if peak < best.peak:
            best = Candidate(order, peak, name)
    return best
