"""The OfflineMemoryAllocation bytes, and the check that guards every plan we write."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from tflite_serenity.tflm.buffers import alias_groups, model_buffers
from tflite_serenity.arena.model_plan import plan_arena, plan_offsets
from tflite_serenity.tflm.offline import (
    METADATA_NAME, check_offline_plan, decode_offline_plan, encode_offline_plan, read_offline_plan,
    with_offline_plan)
from tflite_serenity.arena.planner import plan
from tflite_serenity.errors import ModelFormatError, PlanError
from tflite_serenity.graph import build_graphs
from tflite_serenity.model import read_model, write_model
from tests.models import load


def tree(name):
    return read_model(load(name))


def safe_plan(model):
    """Our placement of every planned tensor, as the offline plan's offset list."""
    buffers = model_buffers(build_graphs(model))
    placement = plan(buffers.blocks)
    return plan_offsets(buffers, placement.offsets)[0], buffers


def test_encoding_is_little_endian_int32_with_a_three_value_header():
    data = encode_offline_plan([0, -1, 4096])
    assert struct.unpack("<6i", data) == (1, 0, 3, 0, -1, 4096)


def test_decoding_gives_back_what_was_encoded():
    decoded = decode_offline_plan(encode_offline_plan([16, -1, 0, 32]))
    assert (decoded.version, decoded.subgraph, decoded.offsets) == (1, 0, (16, -1, 0, 32))


@pytest.mark.parametrize("data", [b"", b"\x01\x00\x00\x00" * 2, struct.pack("<4i", 1, 0, 2, 0), b"\x00" * 13])
def test_decoding_rejects_a_truncated_or_inconsistent_buffer(data):
    with pytest.raises(ModelFormatError):
        decode_offline_plan(data)


@pytest.mark.parametrize("offset", [-2, 1 << 31])
def test_encoding_rejects_offsets_tflite_micro_cannot_read(offset):
    with pytest.raises(PlanError):
        encode_offline_plan([0, offset])


def test_a_safe_plan_is_written_and_reads_back_from_the_file():
    model = tree("small_cnn_int8.tflite")
    offsets, _ = safe_plan(model)
    written = read_model(write_model(with_offline_plan(model, offsets)))
    assert read_offline_plan(written).offsets == tuple(offsets)
    assert len(offsets) == len(model.subgraphs[0].tensors)


def test_a_corrupted_plan_is_caught_before_writing():
    model = tree("darts_tiny_int8.tflite")
    offsets, buffers = safe_plan(model)
    # Give a tensor the offset of another tensor alive at the same scope.
    a, b = next((a, b) for a in buffers.buffers for b in buffers.buffers
                if a.tensor < b.tensor and not a.is_scratch and not b.is_scratch
                and a.block.start <= b.block.end and b.block.start <= a.block.end)
    corrupt = list(offsets)
    corrupt[buffers.plan_index(b)] = corrupt[buffers.plan_index(a)]
    with pytest.raises(PlanError, match=rf"subgraph 0 tensor {a.tensor} .* overlaps subgraph 0 tensor {b.tensor}"):
        with_offline_plan(model, corrupt)


def test_a_plan_with_the_wrong_tensor_count_is_caught():
    model = tree("while_int8.tflite")
    offsets, _ = safe_plan(model)
    # One entry per tensor of subgraph 0 only: TFLite Micro would refuse to allocate.
    with pytest.raises(PlanError, match="the model has 19 tensors in 3 subgraph"):
        check_offline_plan(model, offsets[:len(model.subgraphs[0].tensors)])


def test_an_offset_for_a_tensor_tflite_micro_does_not_plan_is_caught():
    model = tree("small_cnn_float.tflite")
    offsets, buffers = safe_plan(model)
    planned = {buffers.plan_index(b) for b in buffers.buffers if not b.is_scratch}
    constant = next(k for k in range(len(offsets)) if k not in planned)
    offsets[constant] = 0
    with pytest.raises(PlanError, match=f"subgraph 0 tensor {constant}: TFLite Micro does not plan"):
        with_offline_plan(model, offsets)


def test_a_misaligned_offset_is_caught():
    model = tree("small_cnn_float.tflite")
    offsets, buffers = safe_plan(model)
    first = next(b for b in buffers.buffers if not b.is_scratch)
    offsets[buffers.plan_index(first)] += 8
    with pytest.raises(PlanError, match="not a multiple of 16"):
        with_offline_plan(model, offsets)


def test_writing_a_plan_replaces_the_previous_one():
    model = tree("small_cnn_int8.tflite")
    offsets, _ = safe_plan(model)
    once = with_offline_plan(model, offsets)
    twice = with_offline_plan(once, offsets)
    names = [m.name for m in twice.metadata]
    assert sum(1 for n in names if (n.decode() if isinstance(n, bytes) else n) == METADATA_NAME) == 1
    assert len(twice.buffers) == len(once.buffers)  # the old plan's buffer is not left behind


def test_the_plan_buffer_is_four_byte_aligned_in_the_file():
    # TFLite Micro reads the buffer through a uint32 pointer.
    model = tree("small_cnn_int8.tflite")
    offsets, _ = safe_plan(model)
    data = write_model(with_offline_plan(model, offsets))
    payload = encode_offline_plan(offsets)
    position = data.find(payload)
    assert position > 0 and position % 4 == 0


def test_a_reshape_sharing_its_dying_input_passes_and_a_shifted_one_does_not():
    model = tree("transformer_tiny_int8.tflite")
    out, figures = plan_arena(model, alias_reshapes=True)
    offsets = list(read_offline_plan(out).offsets) if figures.written else safe_plan(model)[0]
    buffers = model_buffers(build_graphs(model))
    group = alias_groups(build_graphs(model), buffers, inplace=False)[0]
    first, second = (buffers.plan_index(buffers.buffers[i]) for i in group)
    offsets[second] = offsets[first]  # share
    check_offline_plan(model, offsets)
    offsets[second] = offsets[first] + 16  # overlap by all but 16 bytes: unsafe
    with pytest.raises(PlanError, match="overlaps"):
        check_offline_plan(model, offsets)


# Overlapped plans (--overlap): an output over the part of a dying input its kernel has read.

OVERLAPPED = ["small_cnn_float.tflite", "per_pixel_int8.tflite", "per_pixel_float.tflite"]


def overlapped_plan(name):
    """A model holding our overlapped plan, its offsets, its buffers, and the
    pairs sharing bytes as (input entry, output entry, limit, input's aligned size)."""
    from tflite_serenity.arena.blocks import aligned
    from tflite_serenity.arena.overlap import overlap_pairs

    model, figures = plan_arena(tree(name), inplace=True, overlap=True)
    assert figures.overlapping > 0
    offsets = list(read_offline_plan(model).offsets)
    buffers = model_buffers(build_graphs(model))
    shared = []
    for p in overlap_pairs(model, buffers):
        a, b = buffers.buffers[p.input], buffers.buffers[p.output]
        i, o = buffers.plan_index(a), buffers.plan_index(b)
        if offsets[o] < offsets[i] + aligned(a.block.size) and offsets[i] < offsets[o] + aligned(b.block.size):
            shared.append((i, o, p.limit, aligned(a.block.size)))
    return model, offsets, buffers, shared


@pytest.mark.parametrize("name", OVERLAPPED)
def test_an_overlapped_plan_within_the_rule_passes_the_check(name):
    model, offsets, _, shared = overlapped_plan(name)
    assert shared
    check_offline_plan(model, offsets)
    check_offline_plan(read_model(write_model(model)), offsets)  # and read back from the file


@pytest.mark.parametrize("seed", range(12))
def test_an_output_moved_past_its_overlap_limit_is_refused(seed):
    rng = np.random.default_rng(seed)
    model, offsets, _, shared = overlapped_plan(OVERLAPPED[seed % len(OVERLAPPED)])
    i, o, limit, input_size = shared[rng.integers(len(shared))]
    past = limit + 16 * int(rng.integers(1, 4))  # one to three alignment steps too high, still on the input
    if past >= input_size:
        pytest.skip("moved clear of its input")
    moved = list(offsets)
    moved[o] = offsets[i] + past
    with pytest.raises(PlanError, match="unsafe offline plan"):
        check_offline_plan(model, moved)


def test_a_tensor_moved_onto_a_live_tensor_it_is_not_paired_with_is_refused():
    from tflite_serenity.arena.overlap import overlap_pairs

    cases = 0
    for name in OVERLAPPED:
        model, offsets, buffers, _ = overlapped_plan(name)
        pairs = {(p.input, p.output) for p in overlap_pairs(model, buffers)}
        # a reshape's output may share its dying input's offset (alias_groups)
        pairs |= {(x, y) for g in alias_groups(build_graphs(model), buffers) for x in g for y in g}
        for x, a in enumerate(buffers.buffers):
            for y, b in enumerate(buffers.buffers):
                if (a.is_scratch or b.is_scratch or x == y or not a.block.size or not b.block.size
                        or (x, y) in pairs or (y, x) in pairs
                        or not (a.block.start <= b.block.end and b.block.start <= a.block.end)):
                    continue
                moved = list(offsets)
                moved[buffers.plan_index(b)] = offsets[buffers.plan_index(a)]
                with pytest.raises(PlanError, match="unsafe offline plan"):
                    check_offline_plan(model, moved)
                cases += 1
    assert cases > 0
