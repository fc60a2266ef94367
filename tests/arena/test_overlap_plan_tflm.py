"""Overlapped plans (plan_arena(overlap=True), the command's --overlap) in TFLite Micro.

On the committed models where overlapping outputs with dying inputs makes
the head smaller, the plan runs bit-identical in TFLite Micro and TFLite
Micro measures the head we simulated, below what any placement without
overlaps can reach for that order.
"""

from __future__ import annotations

import pytest

from tflite_serenity.arena import Block
from tflite_serenity.arena.model_plan import plan_arena
from tflite_serenity.arena.overlap_plan import OverlapPair, check_overlapped
from tflite_serenity.errors import PlanError
from tflite_serenity.model import read_model, write_model
from tests.models import load

OVERLAPPED = ["small_cnn_int8.tflite", "small_cnn_float.tflite", "per_pixel_int8.tflite", "per_pixel_float.tflite"]


@pytest.mark.parametrize("name", OVERLAPPED)
def test_overlapped_plan_runs_bit_identical_at_the_simulated_head_below_the_bound(name):
    pytest.importorskip("tflite_micro")
    from tflite_serenity.verify import compare_models

    data = load(name)
    out, figures = plan_arena(read_model(data), inplace=True, overlap=True)
    assert figures.method == "overlap" and figures.written
    assert figures.tflm_with_plan < figures.lower_bound  # impossible without sharing bytes
    comparison = compare_models(data, write_model(out), runtime="tflm", trials=2)
    assert comparison.bit_identical, comparison.describe()
    assert comparison.candidate_tflm.head_bytes == figures.tflm_with_plan


def test_overlaps_are_off_by_default():
    _, figures = plan_arena(read_model(load("small_cnn_int8.tflite")), inplace=True)
    assert figures.method != "overlap" and figures.tflm_with_plan >= figures.lower_bound


def test_check_overlapped_refuses_an_output_starting_past_its_limit():
    blocks = [Block(64, 0, 1), Block(64, 1, 2)]
    pair = OverlapPair(input=0, output=1, limit=-16)
    check_overlapped(blocks, [16, 0], [pair])
    with pytest.raises(PlanError):
        check_overlapped(blocks, [0, 0], [pair])


def test_check_overlapped_refuses_shared_bytes_of_an_unpaired_live_block():
    with pytest.raises(PlanError):
        check_overlapped([Block(64, 0, 1), Block(64, 1, 2)], [0, 32], [])


def test_overlapped_plan_is_the_same_bytes_every_run():
    model = read_model(load("small_cnn_float.tflite"))
    first, _ = plan_arena(model, inplace=True, overlap=True)
    second, _ = plan_arena(model, inplace=True, overlap=True)
    assert write_model(first) == write_model(second)


def test_an_overlapped_output_one_alignment_step_past_its_limit_corrupts_most_models():
    """The end-to-end check that would catch a wrong offset: each output our
    plan overlaps with its input, moved 16 bytes higher than the limit and
    written without the check, gives wrong outputs in TFLite Micro on most
    of the pairs (the rest happen to read bytes the early write left equal)."""
    pytest.importorskip("tflite_micro")
    from tflite_serenity.arena.blocks import aligned
    from tflite_serenity.arena.overlap import overlap_pairs
    from tflite_serenity.model import with_metadata, without_metadata
    from tflite_serenity.model_version import graphs_of
    from tflite_serenity.tflm.buffers import model_buffers
    from tflite_serenity.tflm.offline import METADATA_NAME, encode_offline_plan, read_offline_plan
    from tflite_serenity.verify import compare_models

    outcomes = []
    for name in ["small_cnn_float.tflite", "per_pixel_int8.tflite", "per_pixel_float.tflite"]:
        data = load(name)
        out, _ = plan_arena(read_model(data), inplace=True, overlap=True)
        offsets = list(read_offline_plan(out).offsets)
        buffers = model_buffers(graphs_of(out))
        for p in overlap_pairs(out, buffers):
            a, b = buffers.buffers[p.input], buffers.buffers[p.output]
            i, o = buffers.plan_index(a), buffers.plan_index(b)
            if not (offsets[o] < offsets[i] + aligned(a.block.size) and offsets[i] < offsets[o] + aligned(b.block.size)):
                continue
            moved = list(offsets)
            moved[o] = offsets[i] + p.limit + 16
            bad = with_metadata(without_metadata(out, METADATA_NAME), METADATA_NAME, encode_offline_plan(moved))
            outcomes.append(compare_models(data, write_model(bad), runtime="tflm", trials=1).bit_identical)
    assert len(outcomes) >= 6 and outcomes.count(False) >= len(outcomes) * 2 // 3, outcomes
