"""Exact placement with OR-Tools CP-SAT.

Each block is a rectangle: its steps on one axis (fixed) and its bytes on
the other (the offset is the variable). One ``NoOverlap2D`` constraint keeps
conflicting blocks apart. Two questions are asked:

* :class:`FitModel`: is there a placement inside ``capacity`` bytes? Asked
  with ``capacity`` equal to the lower bound, this is usually much faster
  than minimizing, and a yes means the placement is optimal. It can search
  CP-SAT's own way or "bottom-left": branch on the block whose offset can be
  lowest (ties by a given block order) and try its lowest offset first,
  which is the skyline heuristic with backtracking and learning. Which block
  order works best varies, so the planner takes turns between several;
* :func:`minimize`: the smallest arena end, from a hint, between a lower
  limit and the incumbent.

Offsets are counted in units of the greatest common divisor of the aligned
sizes: some optimal placement puts every block at 0 or right on top of
another, so its offsets are sums of sizes, and the coarser grid loses
nothing while it shrinks the domains.

Determinism: one search worker, a fixed seed, and a limit on CP-SAT's
*deterministic* time (a count of work, not of seconds), so the same input
gives the same answer however loaded the machine is (with the same OR-Tools
build). The price is that the CPU time per unit of work varies with the
instance and the strategy, so the budget is only roughly one of seconds.
"""

from __future__ import annotations

import enum
import math
import sys
import types
from dataclasses import dataclass
from typing import Sequence


def _import_cp_model():
    """OR-Tools' ``cp_model``, imported without pandas.

    ``cp_model`` imports pandas (about 0.3 s, more than the rest of
    OR-Tools) for its ``*_series`` helpers alone, which this module never
    calls; it refers to nothing of pandas but ``Index`` and ``Series``. So
    while it imports, a placeholder stands in for pandas, and it is taken out
    right after: a later ``import pandas`` gets the real one, and cp_model's
    series helpers see placeholder types that nothing is an instance of.
    Where pandas is already imported, it is used as it is.
    """
    if "pandas" in sys.modules or "ortools.sat.python.cp_model" in sys.modules:
        from ortools.sat.python import cp_model as module

        return module
    placeholder = types.ModuleType("pandas", "a placeholder while OR-Tools' cp_model imports")
    placeholder.Index = type("Index", (), {})
    placeholder.Series = type("Series", (), {})
    sys.modules["pandas"] = placeholder
    try:
        from ortools.sat.python import cp_model as module
    finally:
        if sys.modules.get("pandas") is placeholder:
            del sys.modules["pandas"]
    return module


cp_model = _import_cp_model()

from tflite_serenity.arena.heuristics import Instance


class Status(enum.Enum):
    """What a solver call established."""

    FOUND = "found"            # a placement meeting the request
    OPTIMAL = "optimal"        # found, and proven minimal
    INFEASIBLE = "infeasible"  # proven: nothing meets the request
    UNKNOWN = "unknown"        # the work budget ran out first


@dataclass(frozen=True)
class SolveResult:
    """A solver call's status, placement (None unless found) and work spent."""

    status: Status
    offsets: tuple[int, ...] | None
    arena: int | None
    work: float


def grid_unit(inst: Instance, *placements: Sequence[int]) -> int:
    """Largest step that every aligned size (and every given offset) is a multiple of."""
    unit = 0
    for s in inst.sizes:
        unit = math.gcd(unit, s)
    for offsets in placements:
        for i, s in enumerate(inst.sizes):
            if s:
                unit = math.gcd(unit, offsets[i])
    return unit or 1


class _Model:
    """The rectangles model, with arena end ``<= capacity``."""

    def __init__(self, inst: Instance, capacity: int, unit: int) -> None:
        self.inst, self.unit = inst, unit
        self.model = cp_model.CpModel()
        top = capacity // unit
        self.arena = self.model.NewIntVar(0, top, "arena")
        self.offsets: dict[int, cp_model.IntVar] = {}
        time_boxes, byte_boxes = [], []
        for i, size in enumerate(inst.sizes):
            if not size:
                continue
            size //= unit
            block = inst.blocks[i]
            offset = self.model.NewIntVar(0, top - size, f"o{i}")
            self.offsets[i] = offset
            self.model.Add(offset + size <= self.arena)
            time_boxes.append(self.model.NewFixedSizeIntervalVar(
                block.start, block.end - block.start + 1, f"t{i}"))
            byte_boxes.append(self.model.NewFixedSizeIntervalVar(offset, size, f"b{i}"))
        self.model.AddNoOverlap2D(time_boxes, byte_boxes)

    def hint(self, offsets: Sequence[int], capacity: int) -> None:
        """Hint the offsets of the blocks that end within ``capacity``."""
        for i, var in self.offsets.items():
            if offsets[i] + self.inst.sizes[i] <= capacity:
                self.model.AddHint(var, offsets[i] // self.unit)

    def solve(self, work: float, seed: int,
              branching: int = cp_model.AUTOMATIC_SEARCH) -> tuple[int, cp_model.CpSolver, float]:
        solver = cp_model.CpSolver()
        params = solver.parameters
        params.num_workers = 1
        params.random_seed = seed
        params.max_deterministic_time = max(work, 0.0)
        params.search_branching = branching
        status = solver.Solve(self.model)
        return status, solver, solver.ResponseProto().deterministic_time

    def placement(self, solver: cp_model.CpSolver) -> tuple[tuple[int, ...], int]:
        offsets = [0] * len(self.inst.sizes)
        for i, var in self.offsets.items():
            offsets[i] = solver.Value(var) * self.unit
        arena = max((offsets[i] + self.inst.sizes[i] for i in self.offsets), default=0)
        return tuple(offsets), arena


class FitModel:
    """Asks "is there a placement within ``capacity``?", as often as needed.

    The model is built once; each :meth:`solve` call may use another search
    strategy and budget.

    Parameters
    ----------
    inst : Instance
    capacity : int
        Arena bytes available.
    """

    def __init__(self, inst: Instance, capacity: int) -> None:
        self.inst = inst
        self.capacity = capacity
        self.unit = grid_unit(inst)
        self._model = _Model(inst, capacity - capacity % self.unit, self.unit)

    def solve(self, work: float, order: Sequence[int] | None = None,
              seed: int = 0) -> SolveResult:
        """Search with a deterministic-time budget.

        Parameters
        ----------
        work : float
            CP-SAT deterministic time limit.
        order : sequence of int, optional
            Search bottom-left, breaking ties between equally low blocks by
            this order; without it, CP-SAT's default search.
        seed : int, default 0

        Returns
        -------
        SolveResult
            ``FOUND`` with offsets, ``INFEASIBLE``, or ``UNKNOWN``.
        """
        proto = self._model.model.Proto()
        proto.search_strategy.clear()
        if order is not None:
            self._model.model.AddDecisionStrategy(
                [self._model.offsets[i] for i in order if i in self._model.offsets],
                cp_model.CHOOSE_LOWEST_MIN, cp_model.SELECT_MIN_VALUE)
        branching = cp_model.FIXED_SEARCH if order is not None else cp_model.AUTOMATIC_SEARCH
        status, solver, spent = self._model.solve(work, seed, branching)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            offsets, arena = self._model.placement(solver)
            return SolveResult(Status.FOUND, offsets, arena, spent)
        if status == cp_model.INFEASIBLE:
            return SolveResult(Status.INFEASIBLE, None, None, spent)
        return SolveResult(Status.UNKNOWN, None, None, spent)


def fit_within(inst: Instance, capacity: int, work: float, *,
               order: Sequence[int] | None = None, seed: int = 0) -> SolveResult:
    """Look once for a placement whose arena end is at most ``capacity``.

    A one-shot :class:`FitModel`; below the lower bound it answers
    ``INFEASIBLE`` without solving.
    """
    if capacity < inst.bound:
        return SolveResult(Status.INFEASIBLE, None, None, 0.0)
    return FitModel(inst, capacity).solve(work, order, seed)


def minimize(inst: Instance, hint: Sequence[int], incumbent: int, floor: int,
             work: float, *, seed: int = 0) -> SolveResult:
    """Smallest arena end in ``[floor, incumbent]``, starting from ``hint``.

    Parameters
    ----------
    inst : Instance
    hint : sequence of int
        A valid placement with arena end ``incumbent``.
    incumbent : int
    floor : int
        Known lower limit on the optimum (at least ``inst.bound``).
    work : float
        CP-SAT deterministic time limit.
    seed : int, default 0

    Returns
    -------
    SolveResult
        ``OPTIMAL`` or ``FOUND`` with the best placement seen (which may be
        the hint itself), or ``UNKNOWN``.
    """
    unit = grid_unit(inst, hint)
    model = _Model(inst, incumbent, unit)
    model.model.Add(model.arena >= -(-floor // unit))
    model.hint(hint, incumbent)
    model.model.AddHint(model.arena, incumbent // unit)
    model.model.Minimize(model.arena)
    status, solver, spent = model.solve(work, seed)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        offsets, arena = model.placement(solver)
        kind = Status.OPTIMAL if status == cp_model.OPTIMAL else Status.FOUND
        return SolveResult(kind, offsets, arena, spent)
    return SolveResult(Status.UNKNOWN, None, None, spent)
