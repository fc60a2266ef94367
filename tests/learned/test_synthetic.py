"""Synthetic graphs: sizes as asked, one input and one output, deterministic, weights as drawn."""

from __future__ import annotations

from math import prod

import numpy as np
import pytest

from tflite_serenity import memory
from tflite_serenity.errors import SerenityError
from tflite_serenity.learned.synthetic import cell_dag, layered_dag, random_dag, randwire_dag
from tflite_serenity.edgetpu.costs import operator_macs


def test_random_dag_sizes_stay_in_range():
    rng = np.random.default_rng(0)
    sizes = [random_dag(rng, 20, 60).num_operators for _ in range(60)]
    assert min(sizes) >= 20 and max(sizes) <= 60


def test_layered_dag_has_the_requested_operator_count():
    rng = np.random.default_rng(1)
    for n in (2, 3, 10, 37, 60):
        assert layered_dag(rng, n).num_operators == n


def test_every_family_has_one_input_and_one_output():
    rng = np.random.default_rng(2)
    graphs = [layered_dag(rng, 30), randwire_dag(rng, 12, "ws"), randwire_dag(rng, 12, "er", stages=2),
              cell_dag(rng, 3, 3)]
    for g in graphs:
        assert len(g.inputs) == 1 and len(g.outputs) == 1, g.name
        memory.check_order(g, range(g.num_operators))  # the stored order is valid


def test_same_seed_gives_the_same_graph():
    a = random_dag(np.random.default_rng(7), 20, 60)
    b = random_dag(np.random.default_rng(7), 20, 60)
    assert a == b


def test_weighted_operator_counts_the_macs_its_filter_implies():
    g = layered_dag(np.random.default_rng(3), 40)
    convs = [op for op in g.operators if op.kind == "CONV_2D"]
    assert convs
    for op in convs:
        out = prod(g.tensors[op.outputs[0]].shape)
        cin = g.tensors[op.inputs[1]].shape[3]
        assert operator_macs(g, op) == out * cin


@pytest.mark.parametrize("make", [
    lambda rng: layered_dag(rng, 1),
    lambda rng: randwire_dag(rng, 1),
    lambda rng: randwire_dag(rng, 8, "ba"),
    lambda rng: cell_dag(rng, 0, 2),
    lambda rng: random_dag(rng, 30, 20),
])
def test_generators_reject_impossible_sizes(make):
    with pytest.raises(SerenityError):
        make(np.random.default_rng(0))
