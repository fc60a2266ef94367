"""The fast heuristics: gap policies, skyline, and keeping the best."""

from __future__ import annotations

from tflite_serenity.arena import Block
from tflite_serenity.tflm.planner import greedy_tflm
from tflite_serenity.arena.blocks import aligned_sizes, arena_end, conflict_lists
from tflite_serenity.arena.heuristics import (
    Candidate, best_heuristic, fit_in_order, make_instance, orders, skyline)
from tests.arena.cases import HOLE


def instance(blocks):
    return make_instance(blocks, aligned_sizes(blocks), conflict_lists(blocks))


def test_best_fit_takes_the_smallest_gap_and_lowest_fit_the_lowest():
    # Fitting blocks 0-5 in index order stacks them: 0 [0,32), 1 [32,80),
    # 2 [80,96), 3 [96,112), 4 [112,144), 5 [144,160). Blocks 1 and 4 end at
    # step 0, so block 6 (step 2 only) sees two gaps: [32,80) (48 B) and
    # [112,144) (32 B).
    blocks = [Block(32, 0, 2), Block(48, 0, 0), Block(16, 0, 2), Block(16, 0, 2),
              Block(32, 0, 0), Block(16, 0, 2), Block(16, 2, 2)]
    inst = instance(blocks)
    order = list(range(7))
    assert fit_in_order(inst, order, "lowest")[6] == 32
    assert fit_in_order(inst, order, "best")[6] == 112


def test_skyline_fills_the_hole_that_largest_first_leaves():
    inst = instance(HOLE)
    rank = {i: r for r, i in enumerate(orders(inst)["duration"])}
    offsets = skyline(inst, [rank.get(i, 0) for i in range(len(HOLE))])
    assert arena_end(inst.sizes, offsets) == inst.bound == 112


def test_every_order_lists_each_sized_block_once():
    blocks = [Block(16, 0, 1), Block(0, 1, 1), Block(48, 1, 3), Block(32, 2, 2)]
    for order in orders(instance(blocks)).values():
        assert sorted(order) == [0, 2, 3]


def test_best_heuristic_keeps_the_incumbent_unless_beaten():
    blocks = [Block(16, 0, 1), Block(16, 1, 2)]
    inst = instance(blocks)
    greedy = greedy_tflm(blocks)
    incumbent = Candidate(greedy.offsets, greedy.arena_bytes, "greedy_tflm")
    assert best_heuristic(inst, incumbent) is incumbent


def test_best_heuristic_beats_largest_first_on_the_hole():
    inst = instance(HOLE)
    greedy = greedy_tflm(HOLE)
    best = best_heuristic(inst, Candidate(greedy.offsets, greedy.arena_bytes, "greedy_tflm"))
    assert best.arena == inst.bound
