"""The batched training costs equal the package's own figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tflite_serenity import memory
from tflite_serenity.graph import build_graph, topological_order
from tflite_serenity.learned.costs import BottleneckCost, PeakCost
from tflite_serenity.learned.synthetic import random_dag
from tflite_serenity.model.io import read_model
from tflite_serenity.edgetpu import build_problem, contiguous_split, edge_tpu

DATA = Path(__file__).resolve().parent.parent / "data"


def random_orders(graph, count, seed):
    rng = np.random.default_rng(seed)
    return np.array([topological_order(graph, key=list(rng.permutation(graph.num_operators)))
                     for _ in range(count)])


def test_bottleneck_cost_equals_contiguous_split_on_synthetic_graphs():
    rng = np.random.default_rng(0)
    for seed in range(8):
        graph = random_dag(rng, 20, 40)
        problem = build_problem(graph, edge_tpu(cache_mib=0.1))  # small cache: streaming counts
        orders = random_orders(graph, 4, seed)
        for k in (1, 2, 4):
            expected = [contiguous_split(problem, k, o).bottleneck_ps for o in orders]
            assert list(BottleneckCost(problem)(orders, k)) == expected


def test_bottleneck_cost_charges_shared_constants_like_contiguous_split():
    graph = build_graph(read_model((DATA / "transformer_tiny_int8.tflite").read_bytes()), 0)
    problem = build_problem(graph, edge_tpu(cache_mib=0.001))
    cost = BottleneckCost(problem)
    assert cost.shared, "the fixture should read some constants from several operators"
    orders = random_orders(graph, 4, 1)
    for k in (2, 3):
        assert list(cost(orders, k)) == [contiguous_split(problem, k, o).bottleneck_ps for o in orders]


def test_peak_cost_equals_memory_peak_bytes():
    rng = np.random.default_rng(1)
    for seed in range(8):
        graph = random_dag(rng, 20, 50)
        orders = random_orders(graph, 4, seed)
        assert list(PeakCost(graph)(orders)) == [memory.peak_bytes(graph, o) for o in orders]
