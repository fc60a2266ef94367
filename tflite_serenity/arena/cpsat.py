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

The model is written straight into CP-SAT's ``CpModelProto`` through
OR-Tools' compiled helper, not through ``cp_model.CpModel``: that module
imports pandas (a quarter of a second, more than most placements take).
The proto is field for field the one ``CpModel`` writes for the same calls
(``tests/arena/test_cpsat.py`` compares them), so the answers are the same.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Sequence

from ortools.sat.python import cp_model_helper as cmh

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


#: CP-SAT's answers (``CpSolverStatus``) and search settings, by name.
_STATUS = cmh.CpSolverStatus
_FIXED_SEARCH = cmh.SatParameters.SearchBranching.FIXED_SEARCH
_AUTOMATIC_SEARCH = cmh.SatParameters.SearchBranching.AUTOMATIC_SEARCH
_NO_LOWER = -(2 ** 63)  # an unbounded side of a linear constraint's domain
_NO_UPPER = 2 ** 63 - 1


class _Model:
    """The rectangles model, with arena end ``<= capacity``: variable 0 is
    the arena end, then one offset per block of nonzero size."""

    def __init__(self, inst: Instance, capacity: int, unit: int) -> None:
        self.inst, self.unit = inst, unit
        self.proto = proto = cmh.CpModelProto()
        top = capacity // unit
        self.arena = self._variable("arena", top)
        self.offsets: dict[int, int] = {}  # block -> its offset's variable
        time_boxes, byte_boxes = [], []
        for i, size in enumerate(inst.sizes):
            if not size:
                continue
            size //= unit
            block = inst.blocks[i]
            offset = self.offsets[i] = self._variable(f"o{i}", top - size)
            self.linear((self.arena, offset), (-1, 1), _NO_LOWER, -size)  # offset + size <= arena
            time_boxes.append(self._interval(f"t{i}", None, block.start, block.end - block.start + 1))
            byte_boxes.append(self._interval(f"b{i}", offset, 0, size))
        packing = proto.constraints.add().no_overlap_2d
        packing.x_intervals.extend(time_boxes)
        packing.y_intervals.extend(byte_boxes)

    def _variable(self, name: str, top: int) -> int:
        var = self.proto.variables.add()
        var.name = name
        var.domain.extend((0, top))
        return len(self.proto.variables) - 1

    def linear(self, variables, coefficients, low: int, high: int) -> None:
        linear = self.proto.constraints.add().linear
        linear.vars.extend(variables)
        linear.coeffs.extend(coefficients)
        linear.domain.extend((low, high))

    def _interval(self, name: str, var: int | None, start: int, size: int) -> int:
        """An interval of fixed ``size`` from ``var + start`` (``var`` None: from ``start``)."""
        constraint = self.proto.constraints.add()
        constraint.name = name
        interval = constraint.interval
        for expr, offset in ((interval.start, start), (interval.end, start + size)):
            if var is not None:
                expr.vars.append(var)
                expr.coeffs.append(1)
            expr.offset = offset
        interval.size.offset = size
        return len(self.proto.constraints) - 1

    def hint(self, offsets: Sequence[int], capacity: int) -> None:
        """Hint the offsets of the blocks that end within ``capacity``."""
        for i, var in self.offsets.items():
            if offsets[i] + self.inst.sizes[i] <= capacity:
                self.add_hint(var, offsets[i] // self.unit)

    def add_hint(self, var: int, value: int) -> None:
        self.proto.solution_hint.vars.append(var)
        self.proto.solution_hint.values.append(value)

    def bottom_left(self, order: Sequence[int]) -> None:
        """Search the blocks' offsets in ``order``: lowest first, lowest value first."""
        strategy = self.proto.search_strategy.add()
        for i in order:
            if i in self.offsets:
                expr = strategy.exprs.add()
                expr.vars.append(self.offsets[i])
                expr.coeffs.append(1)
        strategy.variable_selection_strategy = cmh.DecisionStrategyProto.VariableSelectionStrategy.CHOOSE_LOWEST_MIN
        strategy.domain_reduction_strategy = cmh.DecisionStrategyProto.DomainReductionStrategy.SELECT_MIN_VALUE

    def solve(self, work: float, seed: int, branching=_AUTOMATIC_SEARCH):
        """CP-SAT's status, its response, and the work it spent."""
        params = cmh.SatParameters()
        params.num_workers = 1
        params.random_seed = seed
        params.max_deterministic_time = max(work, 0.0)
        params.search_branching = branching
        wrapper = cmh.SolveWrapper()
        wrapper.set_parameters(params)
        response = wrapper.solve(self.proto)
        return response.status, response, response.deterministic_time

    def placement(self, response) -> tuple[tuple[int, ...], int]:
        offsets = [0] * len(self.inst.sizes)
        solution = response.solution
        for i, var in self.offsets.items():
            offsets[i] = solution[var] * self.unit
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
        self._model.proto.search_strategy.clear()
        if order is not None:
            self._model.bottom_left(order)
        branching = _FIXED_SEARCH if order is not None else _AUTOMATIC_SEARCH
        status, response, spent = self._model.solve(work, seed, branching)
        if status in (_STATUS.OPTIMAL, _STATUS.FEASIBLE):
            offsets, arena = self._model.placement(response)
            return SolveResult(Status.FOUND, offsets, arena, spent)
        if status == _STATUS.INFEASIBLE:
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


def _minimize_model(inst: Instance, hint: Sequence[int], incumbent: int, floor: int, unit: int) -> _Model:
    """The model :func:`minimize` solves: arena end in ``[floor, incumbent]``, hinted, minimized."""
    model = _Model(inst, incumbent, unit)
    model.linear((model.arena,), (1,), -(-floor // unit), _NO_UPPER)  # arena >= floor
    model.hint(hint, incumbent)
    model.add_hint(model.arena, incumbent // unit)
    objective = model.proto.objective
    objective.vars.append(model.arena)
    objective.coeffs.append(1)
    objective.scaling_factor = 1
    return model


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
    model = _minimize_model(inst, hint, incumbent, floor, grid_unit(inst, hint))
    status, response, spent = model.solve(work, seed)
    if status in (_STATUS.OPTIMAL, _STATUS.FEASIBLE):
        offsets, arena = model.placement(response)
        kind = Status.OPTIMAL if status == _STATUS.OPTIMAL else Status.FOUND
        return SolveResult(kind, offsets, arena, spent)
    return SolveResult(Status.UNKNOWN, None, None, spent)
