"""The figures behind the pictures: the model as given and as the main command
writes it, in the memory model's figures, drawn two ways."""

import pytest

from tflite_serenity import SerenityError, memory, optimize
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


def test_peaks_are_the_memory_model_of_the_model_as_given_and_as_written(darts_picture):
    data = load("darts_tiny_float.tflite")
    result = optimize(data, time_limit=30)
    written = build_graphs(read_model(result.model))[0]
    assert darts_picture.converter.peak == memory.peak_bytes(build_graphs(read_model(data))[0]) == 77952
    assert darts_picture.optimized.peak == memory.peak_bytes(written, inplace=True) == result.subgraphs[0].peak_after
    assert darts_picture.optimal and darts_picture.ratio > 1.1


def test_the_after_peak_is_what_the_main_command_writes_not_the_reordering_alone():
    data = load("irregular_int8.tflite")
    result = optimize(data)  # the main command's defaults: strips and the arena plan included
    picture = memory_picture(data)
    (sub,) = result.subgraphs
    assert sub.strips and sub.peak_after < sub.peak_scheduled  # 18,432 < 28,672 B (reordering alone)
    assert picture.converter.peak == sub.peak_before == 40960
    assert picture.optimized.peak == sub.peak_after == 18432
    assert picture.optimized.arena_bytes == result.arena.head  # TFLite Micro's head with the written plan
    assert picture.optimized.steps == len(build_graphs(read_model(result.model))[0].operators)


def test_the_picture_says_what_the_written_side_shows():
    picture = memory_picture(load("irregular_int8.tflite"))
    assert picture.drawn.startswith("as written by python -m tflite_serenity IN OUT with default options: ")
    assert "1 run in row strips" in picture.changes and "offline arena plan written" in picture.changes
    assert (picture.converter.label, picture.optimized.label) == ("as given", "as written")


def test_a_given_result_is_drawn_without_optimizing_again():
    data = load("irregular_int8.tflite")
    result = optimize(data, strips=False)
    picture = memory_picture(data, result=result, written_by="python -m tflite_serenity IN OUT --no-strips")
    assert picture.optimized.peak == result.subgraphs[0].peak_after == 28672
    assert picture.drawn.startswith("as written by python -m tflite_serenity IN OUT --no-strips: ")
    assert not any("strips" in change for change in picture.changes)


def test_arena_layouts_share_bytes_only_where_an_output_is_written_in_place(darts_picture):
    for timeline in (darts_picture.converter, darts_picture.optimized):
        blocks = [Block(l.size, l.start, l.end) for l in timeline.lifetimes]
        # an in-place output begins at the step its input ends: apart from that step, no two tensors share bytes
        check_placement([Block(b.size, 2 * b.start + 1, max(2 * b.start + 1, 2 * b.end)) for b in blocks],
                        timeline.offsets)
        assert timeline.arena_bytes >= timeline.peak


def test_named_tensors_are_the_largest_alive_at_a_peak(darts_picture):
    sizes = [n.bytes for n in darts_picture.named]
    assert 0 < len(sizes) <= 8 and sizes == sorted(sizes, reverse=True)
    assert len({n.color for n in darts_picture.named}) == len(sizes)


def test_a_missing_subgraph_is_an_error():
    with pytest.raises(SerenityError, match="no subgraph 3"):
        memory_picture(load("while_float.tflite"), subgraph=3)


def test_outputs_in_place_are_drawn_as_the_main_command_writes_them():
    picture = memory_picture(load("inplace_float.tflite"), time_limit=10)
    assert "3 outputs in place" in picture.changes
    assert picture.optimized.peak == 32832 and picture.converter.peak == 49152
    plain = memory_picture(load("inplace_float.tflite"), time_limit=10, shared_outputs=False)
    assert plain.optimized.peak == 49152 and not any("in place" in change for change in plain.changes)
    assert "--no-shared-outputs" in plain.written_by


def test_a_model_tflite_micro_cannot_plan_is_laid_out_one_subgraph_alone():
    from tflite_serenity.model.schema import fb
    from tflite_serenity.plot.picture import timeline

    tree = read_model(load("tiny_branch_float.tflite"))
    first = tree.subgraphs[0].operators[0].outputs[0]
    tree.subgraphs[0].tensors[first].type = fb.TensorType.STRING  # TFLite Micro cannot size it
    drawn = timeline(tree, build_graphs(tree), 0, "as given")
    assert drawn.planner == "TFLite Micro's own plan, this subgraph alone"
    check_placement([Block(l.size, l.start, l.end) for l in drawn.lifetimes], drawn.offsets)
