"""greedy_tflm reproduces TFLite Micro's GreedyMemoryPlanner."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tflite_serenity.arena import Block
from tflite_serenity.tflm.planner import ONLINE, greedy_tflm
from tests.arena.reference import block_lists, tflm_reference


def test_matches_a_case_worked_by_hand():
    a, b, c, d = Block(64, 1, 3), Block(40, 2, 4), Block(48, 4, 5), Block(100, 0, 1)
    # Aligned sizes: a 64, b 48, c 48, d 112. Placement order is by size,
    # largest first; b and c tie and c was added later, so: d, a, c, b.
    #   d (steps 0-1): list empty                                -> 0
    #   a (steps 1-3): walks d [0,112), alive: gap 0 < 64        -> 112
    #   c (steps 4-5): d and a are not alive with it              -> 0
    #   b (steps 2-4): list in offset order is d, c (equal offsets keep
    #       insertion order), a. d is not alive: skipped. c [0,48) is
    #       alive: gap 0 < 48, candidate 48. a [112,176) is alive:
    #       gap 112 - 48 = 64 >= 48                              -> 48
    result = greedy_tflm([a, b, c, d])
    assert result.offsets == (112, 48, 0, 0)
    assert result.arena_bytes == 176  # d and a at step 1: also the lower bound
    assert result.lower_bound == 176 and result.optimal


def test_equal_sizes_place_the_later_added_buffer_first():
    # A chain of three equal tensors added middle, last, first.
    blocks = [Block(64, 1, 2), Block(64, 2, 3), Block(64, 0, 1)]
    # order: index 2, 1, 0 -> 2 at 0; 1 at 0 (not alive with 2); 0 above both
    assert greedy_tflm(blocks).offsets == (64, 0, 0)


def test_zero_byte_tensors_are_not_planned():
    blocks = [Block(0, 0, 3), Block(32, 0, 3)]
    result = greedy_tflm(blocks)
    assert result.offsets == (0, 0)
    assert result.arena_bytes == 32


def test_offline_offsets_are_kept_and_online_buffers_fill_around_them():
    blocks = [Block(32, 0, 2), Block(16, 1, 1), Block(64, 0, 0)]
    # 0 is pinned at 48; 2 (largest online) walks: entry 0 at 48 alive, gap 48 < 64 -> 80
    # 1 walks: entry 0 [48,80) alive, gap 48 >= 16 -> 0
    result = greedy_tflm(blocks, offline_offsets=[48, ONLINE, ONLINE])
    assert result.offsets == (48, 0, 80)
    assert result.arena_bytes == 144


def test_without_alignment_matches_the_planner_alone():
    # With alignment 1 the sizes reach the planner unchanged.
    blocks = [Block(10, 0, 1), Block(25, 1, 2), Block(20, 0, 0)]
    # order: 25 (b), 20 (c), 10 (a): b -> 0; c not alive with b -> 0;
    # a walks c [0,20) then b [0,25): candidate 25 -> 25
    assert greedy_tflm(blocks, alignment=1).offsets == (25, 0, 0)


@settings(max_examples=300, deadline=None)
@given(block_lists(max_blocks=24), st.data())
def test_matches_a_line_by_line_model_of_the_planner(blocks, data):
    offline = None
    if data.draw(st.booleans()):
        offline = data.draw(st.lists(st.sampled_from([ONLINE, ONLINE, 0, 16, 48, 160]),
                                     min_size=len(blocks), max_size=len(blocks)))
    offsets, head = tflm_reference(blocks, 16, offline)
    result = greedy_tflm(blocks, offline_offsets=offline)
    assert list(result.offsets) == offsets
    assert result.arena_bytes == head
