"""The offline plan of WHILE-loop row strips: alias groups across subgraphs, pinned, all else online."""

from __future__ import annotations

import pytest

from tflite_serenity.model import read_model
from tflite_serenity.model.ops import opcode_name
from tflite_serenity.rewrite.loop_plan import alias_groups, place_groups, with_alias_plan
from tflite_serenity.rewrite.loop_strips import loop_strips
from tflite_serenity.tflm.offline import read_offline_plan
from tests.models import load


@pytest.fixture(scope="module")
def looped():
    """The loop fixture with its stem (0:3) and its 16x16 blocks (3:10) in loops of 8 strips."""
    model = read_model(load("loop_chain_int8.tflite"))
    for start, stop in ((3, 10), (0, 3)):
        model = loop_strips(model, 0, start, stop, 8).model
    return model


def test_the_plan_pins_the_alias_groups_and_leaves_every_other_tensor_online(looped):
    model, pins = with_alias_plan(looped)
    offsets = read_offline_plan(model).offsets
    counts = [len(sub.tensors) for sub in model.subgraphs]
    base = [sum(counts[:s]) for s in range(len(counts))]
    pinned = {base[s] + t: pin.offset for pin in pins for s, t in pin.group.tensors}
    assert len(offsets) == sum(counts)
    assert all(offsets[k] == pinned.get(k, -1) for k in range(len(offsets)))
    # per loop: the entry map and the accumulator, each across the outer graph, condition and body
    assert {s for pin in pins for s, _ in pin.group.tensors} == set(range(len(model.subgraphs)))


def test_alias_groups_join_each_loop_carried_map_across_subgraphs():
    model = loop_strips(read_model(load("loop_chain_int8.tflite")), 0, 3, 10, 8).model
    groups = alias_groups(model)
    kinds = {opcode_name(model, op) for op in model.subgraphs[0].operators}
    assert "WHILE" in kinds and "CONCATENATION" not in kinds
    assert len(groups) == 2  # the entry map, the accumulator
    assert all({s for s, _ in g.tensors} == {0, 1, 2} for g in groups)


def test_groups_alive_together_get_disjoint_bytes(looped):
    pins = place_groups(looped, alias_groups(looped))
    image = next(p for p in pins if (0, int(looped.subgraphs[0].inputs[0])) in p.group.tensors)
    first_acc = next(p for p in pins if p.group.nbytes == 32 * 32 * 8)  # also the second loop's entry
    second_acc = next(p for p in pins if p.group.nbytes == 16 * 16 * 12)
    assert len(pins) == 3
    for a, b in ((image, first_acc), (first_acc, second_acc)):  # alive together: during the first, the second loop
        assert a.offset + a.group.nbytes <= b.offset or b.offset + b.group.nbytes <= a.offset


def test_the_exit_joins_its_accumulator_only_when_asked(looped):
    plain = {t for g in alias_groups(looped) for t in g.tensors}
    in_place = {t for g in alias_groups(looped, exit_in_place=True) for t in g.tensors}
    assert plain < in_place and len(in_place - plain) == 1

