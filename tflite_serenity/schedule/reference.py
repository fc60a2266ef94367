"""Pure-Python exact search over partial schedules: the specification of the Cython core.

Same interface and the same results as :mod:`tflite_serenity.schedule._dp`;
it backs the property tests and runs where the compiled core is missing.
"""

from __future__ import annotations

import time

from .problem import Subproblem
from .result import SearchResult


def search(
    sub: Subproblem, budget: int, *, floor: int = 0, max_states: int = 1 << 22, deadline: float | None = None
) -> SearchResult:
    """Exact dynamic programming over sets of scheduled operators.

    Partial schedules are grouped by the set of operators they ran (which fixes
    the live bytes); per set only the one with the lowest peak survives.
    Transitions whose step would exceed ``budget`` (bytes, offset excluded) are
    pruned. An operator that frees at least what it allocates, and whose step
    stays within the peak so far or ``floor`` (a peak every complete order is
    known to reach), is run at once: no other transition is needed, since
    running it now only lowers every later step. A lazy operator (see
    :func:`.problem._lazy_operators`) runs only in a block right before its
    consumer, with the consumer's other lazy inputs. If a level holds more than
    ``max_states`` sets, only the best are kept and the result is no longer
    proven.
    """
    n = sub.size
    pred_mask = [sum(1 << u for u in ps) for ps in sub.preds]
    cons_mask = [sum(1 << c for c in cs) for cs in sub.free_consumers]
    lazy_preds = [0] * n  # per consumer: its lazy predecessors
    for v, c in enumerate(sub.lazy):
        if c >= 0:
            lazy_preds[c] |= 1 << v
    if sub.init_bytes > budget:
        return SearchResult("infeasible", -1, (), 0)
    # (state, pending block's consumer or -1) -> (mem, peak, parent key, op)
    level = {(0, -1): (sub.init_bytes, sub.init_bytes, None, -1)}
    history = []
    explored = 0
    truncated = False
    for _ in range(n):
        if deadline is not None and time.monotonic() > deadline:
            return SearchResult("timeout", -1, (), explored)
        nxt: dict[tuple[int, int], tuple[int, int, tuple | None, int]] = {}
        for (state, pending), (mem, peak, _, _) in level.items():
            explored += 1
            ready = [v for v in range(n) if not state >> v & 1 and not pred_mask[v] & ~state]
            ready_mask = sum(1 << v for v in ready)
            if pending >= 0:  # inside a block: the consumer's lazy inputs, then the consumer
                allowed = [v for v in ready if sub.lazy[v] == pending or v == pending]
            else:  # a lazy operator starts its consumer's block once all of its inputs can run
                allowed = [v for v in ready if sub.lazy[v] < 0 or _block_ready(sub.lazy[v], state, ready_mask,
                                                                               pred_mask, lazy_preds)]
            moves, forced = [_move(sub, v, state, mem, cons_mask) for v in allowed], False
            if pending < 0:  # any ready operator that frees at no cost, lazy or not, is the only move
                for v in ready:
                    move = _move(sub, v, state, mem, cons_mask)
                    if move[2] <= mem and move[1] <= max(peak, floor):
                        moves, forced = [move], True
                        break
                else:  # likewise a whole block that frees at no cost
                    for v in allowed:
                        if sub.lazy[v] >= 0 and _free_block(sub, sub.lazy[v], state, mem, max(peak, floor),
                                                            cons_mask, lazy_preds):
                            moves = [_move(sub, v, state, mem, cons_mask)]
                            break
            for v, step, after in moves:
                new_peak = max(peak, step)
                if new_peak > budget:
                    continue
                if pending >= 0:
                    block = -1 if v == pending else pending
                else:
                    block = sub.lazy[v] if sub.lazy[v] >= 0 and not forced else -1
                key = (state | (1 << v), block)
                old = nxt.get(key)
                if old is None or new_peak < old[1]:
                    nxt[key] = (after, new_peak, (state, pending), v)
        if not nxt:  # after a truncation, "nothing within budget" proves nothing
            return SearchResult("truncated" if truncated else "infeasible", -1, (), explored)
        if len(nxt) > max_states:
            truncated = True
            kept = sorted(nxt.items(), key=lambda item: (item[1][1], item[1][0]))[:max_states]
            nxt = dict(kept)
        history.append(level)
        level = nxt
    history.append(level)
    (final, (_, peak, _, _)), = level.items()
    order = []
    key = final
    for depth in range(n, 0, -1):
        _, _, parent, op = history[depth][key]
        order.append(op)
        key = parent
    order.reverse()
    return SearchResult("truncated" if truncated else "optimal", peak, tuple(order), explored)


def _block_ready(consumer: int, state: int, ready_mask: int, pred_mask, lazy_preds) -> bool:
    """Whether ``consumer``'s block can start: its other inputs ran, its lazy ones can run."""
    others = pred_mask[consumer] & ~lazy_preds[consumer]
    return not others & ~state and not lazy_preds[consumer] & ~(state | ready_mask)


def _move(sub: Subproblem, v: int, state: int, mem: int, cons_mask) -> tuple[int, int, int]:
    """(operator, bytes during its step, bytes after it) for running ``v`` from ``state``."""
    after_set = state | (1 << v)
    step = mem + sub.out_bytes[v]
    freed = sub.dead_out[v] + (sub.init_dead if state == 0 else 0)
    for k in sub.op_frees[v]:
        if cons_mask[k] & ~after_set == 0:
            freed += sub.free_size[k]
    return v, step, step - freed


def _free_block(sub: Subproblem, consumer: int, state: int, mem: int, limit: int, cons_mask, lazy_preds) -> bool:
    """Whether running ``consumer``'s block now (its lazy inputs in index order, then
    it) ends with no more bytes alive than before and no step above ``limit``."""
    block = [v for v in range(sub.size) if lazy_preds[consumer] >> v & 1 and not state >> v & 1] + [consumer]
    live = mem
    for v in block:
        _, step, live = _move(sub, v, state, live, cons_mask)
        if step > limit:
            return False
        state |= 1 << v
    return live <= mem
