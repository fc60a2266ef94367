"""The public entry point: :func:`plan` an arena placement.

Stages, each only if the one before left the arena above the lower bound:

1. TFLite Micro's own greedy plan (:func:`.greedy_tflm`), the incumbent,
   so the result is never worse than what TFLite Micro would do by itself;
2. the fast heuristics of :mod:`.heuristics` (milliseconds);
3. CP-SAT (:mod:`.cpsat`): first "fit within the lower bound" (a yes is
   optimal), then, with the rest of the budget, "minimize from the best
   placement so far".

Same input, same output: every stage is deterministic and the CP-SAT budget
is counted in deterministic work, not in seconds.
"""

from __future__ import annotations

import math
from typing import Sequence

from tflite_serenity.arena.blocks import (
    DEFAULT_ALIGNMENT, Block, Placement, aligned_sizes, check_alignment,
    check_placement, conflict_lists)
from tflite_serenity.arena.cpsat import Status, fit_within, grid_unit, minimize
from tflite_serenity.arena.heuristics import Candidate, Instance, best_heuristic, make_instance
from tflite_serenity.arena.tflm import greedy_tflm
from tflite_serenity.errors import SerenityError

WORK_PER_SECOND = 0.15
"""CP-SAT deterministic-time units granted per second of ``time_limit``.

Measured on this project's benchmark (2 cores): a unit took 2 to 12 s of
wall time, most often about 7, so ``time_limit`` is roughly wall seconds.
"""

# Shares of the work budget for the first two CP-SAT calls; the last call
# (minimize) gets what they left.
_FIT_SHARE = 0.5
_HINTED_FIT_SHARE = 0.25


def _check_time_limit(time_limit: float) -> float:
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)):
        raise SerenityError(f"time_limit must be a number of seconds, got {time_limit!r}")
    if math.isnan(time_limit) or time_limit < 0:
        raise SerenityError(f"time_limit must be >= 0, got {time_limit!r}")
    return float(time_limit)


def _check_blocks(blocks: Sequence[Block]) -> tuple[Block, ...]:
    blocks = tuple(blocks)
    for i, block in enumerate(blocks):
        if not isinstance(block, Block):
            raise SerenityError(f"tensor {i}: expected a Block, got {type(block).__name__}")
    return blocks


def _exact(inst: Instance, best: Candidate, work: float) -> tuple[Candidate, bool]:
    """Run the CP-SAT stage; return the best candidate and whether it is optimal."""
    spent = 0.0
    floor = inst.bound
    fit = fit_within(inst, inst.bound, work * _FIT_SHARE)
    spent += fit.work
    if fit.status is Status.UNKNOWN:
        # A second look, steered by the heuristic placement: it often helps
        # on large instances where most blocks are already well placed.
        fit = fit_within(inst, inst.bound, work * _HINTED_FIT_SHARE, hint=best.offsets)
        spent += fit.work
    if fit.status is Status.FOUND:
        assert fit.offsets is not None and fit.arena is not None
        return Candidate(fit.offsets, fit.arena, "cpsat"), True
    if fit.status is Status.INFEASIBLE:
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
        Budget for the exact stage, roughly in seconds (it is counted in
        CP-SAT deterministic work, see :data:`WORK_PER_SECOND`). ``0`` runs
        the heuristics only; ``math.inf`` searches until optimal.

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
    blocks = _check_blocks(blocks)
    sizes = aligned_sizes(blocks, alignment)
    inst = make_instance(blocks, sizes, conflict_lists(blocks))
    tflm = greedy_tflm(blocks, alignment)
    best = best_heuristic(inst, Candidate(tflm.offsets, tflm.arena_bytes, tflm.method))
    optimal = best.arena <= inst.bound
    if not optimal and time_limit > 0:
        best, optimal = _exact(inst, best, time_limit * WORK_PER_SECOND)
    check_placement(blocks, best.offsets, alignment)
    return Placement(offsets=tuple(best.offsets), arena_bytes=best.arena,
                     lower_bound=inst.bound, optimal=optimal, method=best.method)
