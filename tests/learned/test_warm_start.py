"""Warm-starting the exact memory scheduler with the learned order changes its work, never its answer."""

from __future__ import annotations

import numpy as np

from tflite_serenity.learned import learned_order
from tflite_serenity.learned.synthetic import random_dag
from tflite_serenity.schedule.search import schedule_graph


def test_warm_start_with_the_learned_order_finds_the_same_optimum():
    rng = np.random.default_rng(5)
    for _ in range(12):
        graph = random_dag(rng, 20, 45)
        cold = schedule_graph(graph)
        warm = schedule_graph(graph, warm_start=[learned_order(graph)])
        assert warm.optimal and cold.optimal
        assert warm.peak == cold.peak
