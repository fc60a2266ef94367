"""The figures behind the pictures: they are the memory model's, drawn two ways."""

import pytest

from tflite_serenity import SerenityError, memory
from tflite_serenity.arena import Block, check_placement
from tflite_serenity.graph import build_graphs
from tflite_serenity.model import read_model
from tflite_serenity.plot import memory_picture
from tests.models import load


def test_bands_add_up_to_the_live_bytes_at_every_step(darts_picture):
    for timeline in (darts_picture.converter, darts_picture.optimized):
        bands = darts_picture.bands(timeline)
        totals = [sum(row[s] for _, _, row in bands) for s in range(timeline.steps)]
        assert totals == list(timeline.live)


def test_peaks_are_the_memory_model_of_each_order(darts_picture):
    graph = build_graphs(read_model(load("darts_tiny_float.tflite")))[0]
    assert darts_picture.converter.peak == memory.peak_bytes(graph) == 77952
    assert darts_picture.optimized.peak == memory.peak_bytes(graph, darts_picture.optimized.order) == 69632
    assert darts_picture.optimal and darts_picture.ratio > 1.1


def test_arena_layouts_never_overlap_live_tensors(darts_picture):
    for timeline in (darts_picture.converter, darts_picture.optimized):
        blocks = [Block(l.size, l.start, l.end) for l in timeline.lifetimes]
        check_placement(blocks, timeline.offsets)
        assert timeline.arena_bytes >= timeline.peak


def test_named_tensors_are_the_largest_alive_at_a_peak(darts_picture):
    sizes = [n.bytes for n in darts_picture.named]
    assert 0 < len(sizes) <= 8 and sizes == sorted(sizes, reverse=True)
    assert len({n.color for n in darts_picture.named}) == len(sizes)


def test_a_missing_subgraph_is_an_error():
    with pytest.raises(SerenityError, match="no subgraph 3"):
        memory_picture(load("while_float.tflite"), subgraph=3)


def test_our_order_is_drawn_with_outputs_in_place_as_the_main_command_writes_it():
    picture = memory_picture(load("inplace_float.tflite"), time_limit=10)
    graph = build_graphs(read_model(load("inplace_float.tflite")))[0]
    assert "in place" in picture.optimized.label
    assert picture.optimized.peak == memory.peak_bytes(graph, picture.optimized.order, inplace=True) == 32832
    assert picture.converter.peak == 49152
    plain = memory_picture(load("inplace_float.tflite"), time_limit=10, shared_outputs=False)
    assert plain.optimized.peak == 49152 and "in place" not in plain.optimized.label
