"""The compiled greedy decoder gives exactly the NumPy greedy order, and falls back without it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tflite_serenity.errors import SerenityError, UnsupportedModelError
from tflite_serenity.graph import build_graph
from tflite_serenity.learned import infer, load_policy
from tflite_serenity.learned.infer import greedy_order, greedy_order_compiled, greedy_order_numpy
from tflite_serenity.learned.problem import memory_instance, pipeline_instance
from tflite_serenity.learned.synthetic import random_dag
from tflite_serenity.model.io import read_model
from tflite_serenity.pipeline import build_problem, edge_tpu

DATA = Path(__file__).resolve().parent.parent / "data"
# the branching models: the others have (nearly) one order and few steps with a choice
MODELS = ["darts_tiny_int8", "darts_tiny_float", "randwire_tiny_int8", "swiftnet_tiny_int8",
          "unet_tiny_float", "transformer_tiny_int8", "irregular_float", "tiny_branch_float"]

needs_compiled = pytest.mark.skipif(infer.compiled_decoder() is None, reason="the _decode extension is not built")


def _graphs():
    rng = np.random.default_rng(9090)
    graphs = [(f"synthetic_{i}", random_dag(rng, 5, 120)) for i in range(40)]
    return graphs + [(name, build_graph(read_model((DATA / f"{name}.tflite").read_bytes()), 0)) for name in MODELS]


def _instances():
    """Per graph, the memory instance and the pipeline instances for k = 1..5."""
    memory_policy, pipeline_policy = load_policy("memory").weights, load_policy("pipeline").weights
    for name, graph in _graphs():
        yield f"{name} memory", memory_policy, memory_instance(graph)
        try:
            problem = build_problem(graph, edge_tpu())
        except UnsupportedModelError:
            continue
        for k in range(1, min(5, graph.num_operators) + 1):
            yield f"{name} k={k}", pipeline_policy, pipeline_instance(problem, k)


@needs_compiled
def test_learned_compiled_decoder_gives_the_numpy_greedy_order():
    steps_to_numpy = 0
    for label, weights, inst in _instances():
        order, fallbacks = greedy_order_compiled(weights, inst)
        assert order == greedy_order_numpy(weights, inst), label
        steps_to_numpy += fallbacks
    assert steps_to_numpy > 0  # exact ties occur here, so the NumPy fallback is exercised too


@needs_compiled
def test_learned_compiled_decoder_with_every_step_in_numpy_is_the_same():
    # margin inf: each step with a choice goes through the fallback's plumbing
    for label, weights, inst in list(_instances())[::7]:
        order, _ = greedy_order_compiled(weights, inst, margin=math.inf)
        assert order == greedy_order_numpy(weights, inst), label


def test_learned_greedy_order_falls_back_to_numpy_without_the_extension(monkeypatch):
    graph = random_dag(np.random.default_rng(3), 20, 40)
    inst = memory_instance(graph)
    weights = load_policy("memory").weights
    expected = greedy_order_numpy(weights, inst)
    monkeypatch.setattr(infer, "compiled_decoder", lambda: None)
    assert greedy_order(weights, inst) == expected
    with pytest.raises(SerenityError, match="not built"):
        greedy_order(weights, inst, engine="compiled")


def test_learned_greedy_order_rejects_an_unknown_engine():
    inst = memory_instance(random_dag(np.random.default_rng(4), 10, 20))
    with pytest.raises(ValueError):
        greedy_order(load_policy("memory").weights, inst, engine="gpu")
