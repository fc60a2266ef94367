"""The public entry point: :func:`plan` an arena placement.

Stages, each only if the one before left the arena above the lower bound:

1. TFLite Micro's own greedy plan (:func:`.greedy_tflm`), the incumbent,
   so the result is never worse than what TFLite Micro would do by itself;
2. the fast heuristics of :mod:`.heuristics` (milliseconds);
3. CP-SAT (:mod:`.cpsat`): first "fit within the lower bound" (a yes is
   optimal), asked in turns of growing length with different search orders
   (no single order wins everywhere), then, with the rest of the budget,
   "minimize from the best placement so far".

Same input, same output: every stage is deterministic and the CP-SAT budget
is counted in deterministic work, not in seconds, so machine load cannot
change a plan.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Sequence

from tflite_serenity.arena.blocks import (
    DEFAULT_ALIGNMENT, Block, Placement, aligned_sizes, check_alignment,
    check_placement, conflict_lists)
from tflite_serenity.arena.heuristics import (
    Candidate, Instance, best_heuristic, make_instance, orders)
from tflite_serenity.tflm.planner import greedy_tflm
from tflite_serenity.errors import SerenityError

if TYPE_CHECKING:  # OR-Tools is imported only when CP-SAT runs
    from tflite_serenity.arena.cpsat import SolveResult


def work_budget(time_limit: float, n_blocks: int) -> float:
    """CP-SAT deterministic time granted for ``time_limit`` seconds.

    One unit of deterministic time cost about 8 CPU seconds on 150 blocks,
    12 on 500 and 20 to 35 on 1,500 here (the searches the planner runs,
    measured with ``time.process_time``), so the budget shrinks as the
    instance grows. It depends on the input only, which keeps plans
    repeatable, and makes ``time_limit`` roughly CPU seconds.
    """
    return time_limit / (8.0 + n_blocks / 60.0)


# Block orders for the bottom-left CP-SAT searches, tried in turn (names
# from heuristics.orders); None is CP-SAT's own search.
_SEARCH_ORDERS: tuple[str | None, ...] = (
    "duration", "peak", "area", "conflict", "size", "start", None)
# The turns start at this fraction of the budget each and double every round
# (or at a fixed amount of work when the budget is unbounded).
_FIRST_TURN = 1 / 10
_FIRST_TURN_UNBOUNDED = 0.005
# Fraction of the budget for the fit questions; minimize gets the rest.
_FIT_SHARE = 0.75


#: The heuristics stop starting new runs after this many times ``time_limit``.
HEURISTIC_TIME_FACTOR = 5.0


def _check_time_limit(time_limit: float) -> float:
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)):
        raise SerenityError(f"the arena placement's time limit must be a number of seconds, not {time_limit!r}")
    if math.isnan(time_limit) or time_limit < 0:
        raise SerenityError(f"the arena placement's time limit must be 0 or more seconds, not {time_limit!r}")
    return float(time_limit)


def _check_blocks(blocks: Sequence[Block]) -> tuple[Block, ...]:
    blocks = tuple(blocks)
    for i, block in enumerate(blocks):
        if not isinstance(block, Block):
            raise SerenityError(f"tensor {i}: expected a Block, got {type(block).__name__}")
    return blocks


def _fit_at_bound(inst: Instance, work: float) -> tuple["SolveResult | None", float]:
    """Take turns between the search orders, doubling the turns, until the
    bound is decided or ``work`` is spent. Returns the deciding result (None
    if undecided) and the work spent."""
    from tflite_serenity.arena.cpsat import FitModel, Status

    model = FitModel(inst, inst.bound)
    named = orders(inst)
    spent = 0.0
    turn = work * _FIRST_TURN if math.isfinite(work) else _FIRST_TURN_UNBOUNDED
    while spent < work:
        for name in _SEARCH_ORDERS:
            share = min(turn, work - spent)
            if share <= 0:
                break
            result = model.solve(share, None if name is None else named[name])
            spent += result.work
            if result.status is not Status.UNKNOWN:
                return result, spent
        turn *= 2
    return None, spent


def _exact(inst: Instance, best: Candidate, work: float) -> tuple[Candidate, bool]:
    """Run the CP-SAT stage; return the best candidate and whether it is optimal."""
    # OR-Tools takes about a second to import: only when the heuristics fall short
    from tflite_serenity.arena.cpsat import Status, grid_unit, minimize

    floor = inst.bound
    fit, spent = _fit_at_bound(inst, work * _FIT_SHARE)
    if fit is not None and fit.offsets is not None and fit.arena is not None:
        return Candidate(fit.offsets, fit.arena, "cpsat"), True
    if fit is not None and fit.status is Status.INFEASIBLE:
        # Some optimal placement lies on the grid, so the next grid step up.
        floor = inst.bound + grid_unit(inst)
        if best.arena <= floor:
            return best, True
    left = work - spent
    if left <= 0:
        return best, False
    result = minimize(inst, best.offsets, best.arena, floor, left)
    if result.offsets is not None and result.arena is not None and result.arena < best.arena:
        best = Candidate(result.offsets, result.arena, "cpsat")
    return best, result.status is Status.OPTIMAL


def plan(blocks: Sequence[Block], *, alignment: int = DEFAULT_ALIGNMENT,
         time_limit: float = 2.0) -> Placement:
    """Place tensors in one arena, as low as we can within a time budget.

    Parameters
    ----------
    blocks : sequence of Block
        Tensor sizes and lifetimes (inclusive operator steps).
    alignment : int, default 16
        Sizes are rounded up to, and offsets are multiples of, this.
    time_limit : float, default 2.0
        Budget for the exact stage, roughly in CPU seconds (it is counted in
        CP-SAT deterministic work, see :func:`work_budget`). ``0`` runs the
        heuristics only; ``math.inf`` searches until optimal.

    Returns
    -------
    Placement
        Valid (checked with :func:`.check_placement`), never above
        :func:`.greedy_tflm`; ``optimal`` when it equals the lower bound or
        CP-SAT proved it minimal.

    Raises
    ------
    SerenityError
        If an argument is invalid.

    Examples
    --------
    >>> blocks = [Block(32, 0, 1), Block(16, 1, 2), Block(32, 2, 3)]
    >>> p = plan(blocks)
    >>> p.arena_bytes, p.lower_bound, p.optimal
    (48, 48, True)
    """
    alignment = check_alignment(alignment)
    time_limit = _check_time_limit(time_limit)
    asked = (tuple(blocks), alignment, time_limit)
    known = _PLANNED.get(asked)
    if known is not None:
        return known
    # The heuristics are cut by wall clock only far past the budget (pathological
    # instances with millions of overlapping pairs), so results do not depend on
    # the machine in practice; CP-SAT counts deterministic work instead.
    deadline = time.monotonic() + HEURISTIC_TIME_FACTOR * time_limit if time_limit > 0 else None
    blocks = _check_blocks(blocks)
    sizes = aligned_sizes(blocks, alignment)
    inst = make_instance(blocks, sizes, conflict_lists(blocks))
    tflm = greedy_tflm(blocks, alignment)
    best = best_heuristic(inst, Candidate(tflm.offsets, tflm.arena_bytes, tflm.method), deadline)
    optimal = best.arena <= inst.bound
    if not optimal and time_limit > 0:
        best, optimal = _exact(inst, best, work_budget(time_limit, len(blocks)))
    check_placement(blocks, best.offsets, alignment)
    placement = Placement(offsets=tuple(best.offsets), arena_bytes=best.arena,
                          lower_bound=inst.bound, optimal=optimal, method=best.method)
    if deadline is None or time.monotonic() < deadline:  # the clock cut nothing: the plan depends on the input alone
        if len(_PLANNED) >= _PLANS_KEPT:
            del _PLANNED[next(iter(_PLANNED))]
        _PLANNED[asked] = placement
    return placement


#: The last plans made, by their input: :func:`plan` is deterministic, and
#: one optimize plans the same blocks again when a round confirms the one
#: before it (the second round of ``optimize`` finds the same orders).
_PLANNED: dict[tuple, Placement] = {}
_PLANS_KEPT = 8
