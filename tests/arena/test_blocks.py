"""Blocks, alignment, the lower bound, and the placement checker."""

from __future__ import annotations

import pytest

from tflite_serenity.arena import Block, aligned, check_placement, live_bytes, lower_bound
from tflite_serenity.errors import PlanError, SerenityError


def test_aligned_rounds_up_to_the_alignment():
    assert [aligned(s) for s in (0, 1, 15, 16, 17, 32)] == [0, 16, 16, 16, 32, 32]
    assert aligned(5, alignment=4) == 8


@pytest.mark.parametrize("alignment", [0, -16, 2.5, True])
def test_aligned_rejects_a_bad_alignment(alignment):
    with pytest.raises(SerenityError):
        aligned(10, alignment)


@pytest.mark.parametrize("fields", [(-1, 0, 0), (16, 3, 2), (16.0, 0, 1), (16, None, 1), (True, 0, 0)])
def test_block_rejects_invalid_fields(fields):
    with pytest.raises(SerenityError):
        Block(*fields)


def test_lower_bound_is_the_peak_of_aligned_live_bytes():
    blocks = [Block(10, 0, 1), Block(20, 1, 2), Block(30, 3, 3)]
    # aligned: 16, 32, 32; step 1 holds the first two
    assert live_bytes(blocks) == {0: 16, 1: 48, 3: 32}
    assert lower_bound(blocks) == 48
    assert lower_bound([]) == 0


def test_blocks_alive_at_adjacent_steps_only_do_not_add_up():
    assert lower_bound([Block(64, 0, 1), Block(64, 2, 3)]) == 64


def test_check_placement_accepts_a_valid_placement():
    check_placement([Block(16, 0, 1), Block(16, 1, 2), Block(16, 2, 3)], [0, 16, 0])


def test_check_placement_names_the_two_overlapping_tensors():
    blocks = [Block(16, 0, 0), Block(40, 0, 1), Block(16, 1, 2)]
    with pytest.raises(PlanError, match=r"tensor 1 .* overlaps tensor 2"):
        check_placement(blocks, [0, 16, 48])


def test_check_placement_rejects_a_misaligned_offset():
    with pytest.raises(PlanError, match="tensor 1: offset 8 is not a multiple of 16"):
        check_placement([Block(16, 0, 0), Block(16, 5, 5)], [0, 8])


def test_check_placement_rejects_a_negative_offset():
    with pytest.raises(PlanError, match="negative"):
        check_placement([Block(16, 0, 0)], [-16])


def test_check_placement_rejects_a_wrong_number_of_offsets():
    with pytest.raises(PlanError, match="2 offsets for 1 tensors"):
        check_placement([Block(16, 0, 0)], [0, 0])


def test_check_placement_rejects_a_non_integer_offset():
    with pytest.raises(PlanError, match="not an integer"):
        check_placement([Block(16, 0, 0)], [0.0])


def test_zero_sized_blocks_conflict_with_nothing():
    check_placement([Block(0, 0, 5), Block(64, 0, 5)], [0, 0])


def test_padding_counts_as_occupied():
    # 17 bytes take 32 once aligned, so a neighbour at 16 overlaps
    with pytest.raises(PlanError):
        check_placement([Block(17, 0, 0), Block(16, 0, 0)], [0, 16])
