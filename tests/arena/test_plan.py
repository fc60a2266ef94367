"""plan(): valid, never worse than TFLite Micro, optimal when it says so, repeatable."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tflite_serenity.arena import Block, check_placement, lower_bound
from tflite_serenity.arena.planner import plan
from tflite_serenity.tflm.planner import greedy_tflm
from tflite_serenity.errors import SerenityError
from tests.arena.cases import GAP, GAP_OPTIMUM, HOLE, HOLE_GREEDY_OFFSETS, random_intervals
from tests.arena.reference import block_lists, brute_force_arena


def test_plan_fills_the_hole_that_largest_first_leaves():
    greedy = greedy_tflm(HOLE)
    assert greedy.offsets == HOLE_GREEDY_OFFSETS
    assert (greedy.arena_bytes, greedy.lower_bound) == (144, 112)
    result = plan(HOLE)
    assert result.arena_bytes == 112 == result.lower_bound
    assert result.optimal


@settings(max_examples=150, deadline=None)
@given(block_lists(max_blocks=30))
def test_random_plans_are_valid_and_between_the_bound_and_greedy(blocks):
    result = plan(blocks, time_limit=0.2)
    check_placement(blocks, result.offsets)
    assert all(o % 16 == 0 for o in result.offsets)
    assert result.lower_bound == lower_bound(blocks)
    assert result.lower_bound <= result.arena_bytes <= greedy_tflm(blocks).arena_bytes
    assert result.optimal == (result.arena_bytes == result.lower_bound) or result.method == "cpsat"


@settings(max_examples=150, deadline=None)
@given(block_lists(max_blocks=6, max_step=5,
                   sizes=st.sampled_from([0, 16, 17, 32, 48, 64, 80, 100, 128])))
def test_tiny_plans_equal_the_brute_force_optimum(blocks):
    result = plan(blocks, time_limit=math.inf)
    assert result.arena_bytes == brute_force_arena(blocks)
    assert result.optimal


def test_plan_proves_an_optimum_above_the_lower_bound():
    assert brute_force_arena(GAP) == GAP_OPTIMUM
    result = plan(GAP, time_limit=math.inf)
    assert result.lower_bound == 80
    assert result.arena_bytes == GAP_OPTIMUM
    assert result.optimal


def test_plan_reaches_the_bound_with_cpsat_when_heuristics_miss_it():
    blocks = random_intervals(3, 60)
    result = plan(blocks)
    assert result.method == "cpsat"
    assert result.arena_bytes == result.lower_bound and result.optimal


def test_same_input_gives_the_same_offsets_every_time():
    blocks = random_intervals(3, 60)
    first = plan(blocks)
    for _ in range(9):
        assert plan(blocks) == first


def test_same_input_gives_the_same_offsets_when_the_budget_runs_out():
    # The exact stage stops on its work budget here, before proving anything.
    blocks = random_intervals(30, 300)
    first = plan(blocks, time_limit=0.2)
    assert not first.optimal
    for _ in range(2):
        assert plan(blocks, time_limit=0.2) == first


def test_zero_time_limit_keeps_the_best_heuristic():
    result = plan(random_intervals(3, 60), time_limit=0)
    assert result.method != "cpsat"
    assert not result.optimal


def test_plan_keeps_tflm_greedy_when_it_is_already_optimal():
    blocks = [Block(100, 0, 1), Block(50, 1, 2), Block(20, 2, 3)]
    result = plan(blocks)
    assert result.method == "greedy_tflm"
    assert result.offsets == greedy_tflm(blocks).offsets


def test_empty_and_zero_sized_inputs_need_no_arena():
    assert plan([]).arena_bytes == 0
    result = plan([Block(0, 0, 3), Block(0, 1, 1)])
    assert result.offsets == (0, 0) and result.arena_bytes == 0 and result.optimal


def test_plan_honours_another_alignment():
    blocks = [Block(5, 0, 1), Block(7, 1, 2), Block(3, 2, 2)]
    result = plan(blocks, alignment=4)
    check_placement(blocks, result.offsets, alignment=4)
    # aligned 8, 8, 4: the first two share step 1
    assert result.arena_bytes == 16 == result.lower_bound


@pytest.mark.parametrize("time_limit", [-1, math.nan, "2", None])
def test_plan_rejects_a_bad_time_limit(time_limit):
    with pytest.raises(SerenityError):
        plan([Block(16, 0, 0)], time_limit=time_limit)


def test_plan_rejects_something_that_is_not_a_block():
    with pytest.raises(SerenityError, match="tensor 1: expected a Block"):
        plan([Block(16, 0, 0), (16, 0, 0)])
