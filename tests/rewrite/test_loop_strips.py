"""Row strips in a WHILE loop: one copy of a strip's operators, exact, with an aliasing offline plan."""

from __future__ import annotations

import pytest

from tflite_serenity.errors import InfeasibleError, UnsupportedModelError
from tflite_serenity.model import read_model, write_model
from tflite_serenity.rewrite.loop_plan import with_alias_plan
from tflite_serenity.rewrite.loop_strips import loop_strips
from tflite_serenity.rewrite.strips import tile
from tflite_serenity.verify import compare_models, measure_tflm_arena
from tests.models import load

MODEL = "loop_chain_int8.tflite"
# stem and first block (32x32, the input read whole), then the two 16x16 blocks with the residual ADD
REGIONS = ((0, 3, 8), (3, 10, 8))


def _looped(data: bytes, regions=REGIONS):
    """The model with each region in a loop, the last region first (earlier positions stay)."""
    model = read_model(data)
    for start, stop, strips in sorted(regions, reverse=True):
        model = loop_strips(model, 0, start, stop, strips).model
    return model


def _unrolled(data: bytes, regions=REGIONS) -> bytes:
    model = read_model(data)
    for start, stop, strips in sorted(regions, reverse=True):
        model = tile(model, 0, start, stop, strips).model
    return write_model(model)


@pytest.fixture(scope="module")
def original() -> bytes:
    return load(MODEL)


@pytest.fixture(scope="module")
def planned(original) -> bytes:
    return write_model(with_alias_plan(_looped(original))[0])


@pytest.mark.parametrize("runtime", ["tflm", "litert"])
def test_loops_give_bit_identical_outputs_on_random_inputs(original, planned, runtime):
    comparison = compare_models(original, planned, runtime=runtime, trials=4)
    assert comparison.bit_identical, comparison.describe()


def test_the_body_holds_one_copy_of_the_strip_whatever_the_strip_count(original):
    model = read_model(original)
    bodies = set()
    for strips in (4, 8, 16):
        done = loop_strips(model, 0, 3, 10, strips)
        bodies.add(len(done.model.subgraphs[done.loop.body_subgraph].operators))
        assert done.loop.body_operators in bodies
        assert done.loop.iterations >= strips - 3  # at most the first and the last two (bottom padding) unrolled
    assert len(bodies) == 1


def test_the_tail_stays_while_unrolled_strips_grow_it(original):
    model = read_model(original)
    loops = [with_alias_plan(loop_strips(model, 0, 3, 10, n).model)[0] for n in (4, 8)]  # 2 and 6 turns
    loop_tails = [measure_tflm_arena(write_model(m)).tail_bytes for m in loops]
    unrolled_tails = [measure_tflm_arena(_unrolled(original, [(3, 10, n)])).tail_bytes for n in (4, 8)]
    assert abs(loop_tails[1] - loop_tails[0]) < 256
    assert unrolled_tails[1] - unrolled_tails[0] > 8 * 1024
    assert loop_tails[0] < unrolled_tails[0]


def test_pinned_loops_lower_the_head_and_the_whole_arena(original, planned):
    unpinned = measure_tflm_arena(write_model(_looped(original)))
    pinned, unrolled = measure_tflm_arena(planned), measure_tflm_arena(_unrolled(original))
    before = measure_tflm_arena(original)
    assert pinned.head_bytes < before.head_bytes and pinned.head_bytes < unpinned.head_bytes
    assert pinned.total_bytes < unrolled.total_bytes


def test_an_exit_written_in_place_keeps_the_head_below_the_unrolled_strips_join(original):
    # the stretch ends in the 48-channel expansion: the unrolled join holds its bands and the whole map
    looped = loop_strips(read_model(original), 0, 0, 4, 8).model
    in_place = measure_tflm_arena(write_model(with_alias_plan(looped, exit_in_place=True)[0]))
    unrolled = measure_tflm_arena(_unrolled(original, [(0, 4, 8)]))
    assert in_place.head_bytes < unrolled.head_bytes


def test_strips_of_unequal_heights_are_refused(original):
    with pytest.raises(InfeasibleError, match="same geometry"):
        loop_strips(read_model(original), 0, 0, 3, 5)  # 32 rows in bands of 6, 6, 7, 6, 7


def test_too_few_strips_for_a_loop_are_refused(original):
    with pytest.raises(InfeasibleError, match="same geometry"):
        loop_strips(read_model(original), 0, 0, 3, 3)


def test_a_run_with_two_exits_is_refused(original):
    # the block's input and its projection both reach the residual ADD after the run
    with pytest.raises(UnsupportedModelError, match="2 exits"):
        loop_strips(read_model(original), 0, 5, 9, 4)


def test_a_run_that_cannot_be_cut_in_rows_is_refused(original):
    with pytest.raises(InfeasibleError, match="exact row strips"):
        loop_strips(read_model(original), 0, 9, 11, 4)  # MEAN reads every row


def test_the_same_input_gives_the_same_bytes(original):
    first = write_model(with_alias_plan(_looped(original))[0])
    second = write_model(with_alias_plan(_looped(original))[0])
    assert first == second


def test_the_input_model_is_not_modified(original):
    model = read_model(original)
    loop_strips(model, 0, 3, 10, 8)
    assert write_model(model) == original
