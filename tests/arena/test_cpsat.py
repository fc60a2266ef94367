"""The CP-SAT stage: honest statuses, placements on the grid, proofs."""

from __future__ import annotations

from tflite_serenity.arena import check_placement
from tflite_serenity.tflm.planner import greedy_tflm
from tflite_serenity.arena.blocks import aligned_sizes, conflict_lists
from tflite_serenity.arena.cpsat import FitModel, Status, _minimize_model, fit_within, grid_unit, minimize
from tflite_serenity.arena.heuristics import best_heuristic, make_instance, orders
from tests.arena.cases import GAP, GAP_OPTIMUM, random_intervals


def instance(blocks):
    return make_instance(blocks, aligned_sizes(blocks), conflict_lists(blocks))


def test_fit_within_proves_the_bound_unreachable():
    inst = instance(GAP)
    assert fit_within(inst, inst.bound, work=10.0).status is Status.INFEASIBLE


def test_fit_within_finds_a_valid_placement_at_the_optimum():
    inst = instance(GAP)
    result = fit_within(inst, GAP_OPTIMUM, work=10.0)
    assert result.status is Status.FOUND
    assert result.arena is not None and result.arena <= GAP_OPTIMUM
    check_placement(GAP, result.offsets)


def test_fit_within_below_the_bound_is_infeasible_without_solving():
    inst = instance(GAP)
    result = fit_within(inst, inst.bound - 16, work=10.0)
    assert result.status is Status.INFEASIBLE and result.work == 0.0


def test_minimize_proves_the_optimum_from_a_hint():
    inst = instance(GAP)
    greedy = greedy_tflm(GAP)
    result = minimize(inst, greedy.offsets, greedy.arena_bytes, inst.bound, work=10.0)
    assert result.status is Status.OPTIMAL
    assert result.arena == GAP_OPTIMUM
    check_placement(GAP, result.offsets)


def test_bottom_left_search_in_a_block_order_reaches_the_bound():
    blocks = random_intervals(3, 60)
    inst = instance(blocks)
    assert best_heuristic(inst).arena > inst.bound
    result = fit_within(inst, inst.bound, work=1.0, order=orders(inst)["duration"])
    assert result.status is Status.FOUND and result.arena == inst.bound
    check_placement(blocks, result.offsets)


def test_minimize_stopped_by_its_budget_is_repeatable():
    blocks = random_intervals(30, 300)
    inst = instance(blocks)
    start = best_heuristic(inst)
    first = minimize(inst, start.offsets, start.arena, inst.bound, work=0.05)
    assert first.status is Status.FOUND and first.arena < start.arena
    for _ in range(2):
        assert minimize(inst, start.offsets, start.arena, inst.bound, work=0.05) == first


def test_an_exhausted_budget_is_reported_as_unknown():
    inst = instance(random_intervals(8, 150))
    result = fit_within(inst, inst.bound, work=0.001)
    assert result.status is Status.UNKNOWN and result.offsets is None


def test_grid_unit_is_the_gcd_of_sizes_and_offsets():
    inst = instance(GAP)  # sizes 16..64: gcd 16
    assert grid_unit(inst) == 16
    big = instance([b.__class__(b.size * 4, b.start, b.end) for b in GAP])
    assert grid_unit(big) == 64
    assert grid_unit(big, [0, 32, 0, 0, 0, 0, 0, 0]) == 32


def _cp_model_of(inst, capacity: int, unit: int):
    """The rectangles model written through OR-Tools' ``cp_model`` API: what
    our proto must equal, field for field, so CP-SAT answers the same."""
    from ortools.sat.python import cp_model

    model, top = cp_model.CpModel(), capacity // unit
    arena, offsets, times, bytes_ = model.NewIntVar(0, top, "arena"), {}, [], []
    for i, size in enumerate(inst.sizes):
        if size:
            size //= unit
            offsets[i] = model.NewIntVar(0, top - size, f"o{i}")
            model.Add(offsets[i] + size <= arena)
            block = inst.blocks[i]
            times.append(model.NewFixedSizeIntervalVar(block.start, block.end - block.start + 1, f"t{i}"))
            bytes_.append(model.NewFixedSizeIntervalVar(offsets[i], size, f"b{i}"))
    model.AddNoOverlap2D(times, bytes_)
    return model, arena, offsets


def test_the_fit_model_is_the_one_cp_model_writes():
    from ortools.sat.python import cp_model

    inst = instance(random_intervals(3, 60))
    ours = FitModel(inst, inst.bound)
    order = orders(inst)["duration"]
    ours._model.bottom_left(order)
    theirs, _, offsets = _cp_model_of(inst, inst.bound - inst.bound % ours.unit, ours.unit)
    theirs.AddDecisionStrategy([offsets[i] for i in order if i in offsets],
                               cp_model.CHOOSE_LOWEST_MIN, cp_model.SELECT_MIN_VALUE)
    assert str(ours._model.proto) == str(theirs.Proto())


def test_the_minimize_model_is_the_one_cp_model_writes():
    blocks = random_intervals(8, 150)
    inst = instance(blocks)
    start = best_heuristic(inst)
    unit = grid_unit(inst, start.offsets)
    floor = inst.bound
    theirs, arena, offsets = _cp_model_of(inst, start.arena, unit)
    theirs.Add(arena >= -(-floor // unit))
    for i, var in offsets.items():
        if start.offsets[i] + inst.sizes[i] <= start.arena:
            theirs.AddHint(var, start.offsets[i] // unit)
    theirs.AddHint(arena, start.arena // unit)
    theirs.Minimize(arena)
    assert str(_minimize_model(inst, start.offsets, start.arena, floor, unit).proto) == str(theirs.Proto())
