"""The compiled greedy decoder gives exactly the NumPy greedy order, and falls back without it."""

from __future__ import annotations

import dataclasses
import functools
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
from tflite_serenity.edgetpu import build_problem, edge_tpu

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


def _with_stats(monkeypatch, **options) -> dict:
    """Make greedy_order_compiled pass ``options`` to the decoder; returns the stats it fills in."""
    from tflite_serenity.learned import _decode

    stats = {"check": True}
    monkeypatch.setattr(infer, "compiled_decoder", lambda: functools.partial(_decode.greedy_order, stats=stats,
                                                                             **options))
    return stats


@needs_compiled
def test_learned_compiled_decoder_gives_the_numpy_greedy_order(monkeypatch):
    stats = _with_stats(monkeypatch)
    steps_to_numpy = choices = exact = 0
    for label, weights, inst in _instances():
        order, fallbacks = greedy_order_compiled(weights, inst)
        assert order == greedy_order_numpy(weights, inst), label
        # every fast sum of the steps the fast tier settled is within its bound of the exact tier's sum
        assert stats["bound_use"] < 1.0, label
        steps_to_numpy += fallbacks
        choices, exact = choices + stats["choices"], exact + stats["exact"]
    assert steps_to_numpy > 0  # exact ties occur here, so the NumPy fallback is exercised too
    # those pass through the exact tier first; most steps stay in the fast one
    assert steps_to_numpy <= exact < choices / 10


@needs_compiled
def test_learned_compiled_decoder_without_the_fast_tier_is_the_same(monkeypatch):
    stats = _with_stats(monkeypatch, fast=False)
    for label, weights, inst in list(_instances())[::5]:
        order, _ = greedy_order_compiled(weights, inst)
        assert order == greedy_order_numpy(weights, inst), label
        assert stats["exact"] == stats["choices"], label


@needs_compiled
def test_learned_fast_tier_steps_aside_when_pre_activations_may_leave_its_range():
    # keys ten times larger: the bound on the pre-activations exceeds FAST_RANGE at every step
    from tflite_serenity.learned import _decode

    inst = memory_instance(random_dag(np.random.default_rng(5), 30, 60))
    weights = load_policy("memory").weights
    tables = infer._GreedyTables(weights, inst)
    tables.enc = dataclasses.replace(tables.enc, keys=tables.enc.keys * 10.0)
    n, k, fixed = inst.num_operators, inst.k, [1.0 / inst.k, math.log1p(inst.params_load)]

    def fallback(step, last, ready, freed, follows, live, peak, work, param):
        context = infer._context(step, n, k, live, peak, work, param, fixed)
        return tables.choose(last, context, ready, freed, follows, live, peak)

    stats, exact_stats = {}, {}
    order = _decode.greedy_order(inst, lambda: tables, fallback, stats=stats)
    assert order == _decode.greedy_order(inst, lambda: tables, fallback, fast=False, stats=exact_stats)
    assert stats["exact"] == stats["choices"] == exact_stats["choices"] > 0


@needs_compiled
def test_learned_fast_tanh_is_within_its_stated_error():
    from tflite_serenity.learned import _decode

    top = np.float32(_decode.FAST_RANGE).view(np.uint32)  # the bits of +8.0; -8.0 has the sign bit too
    sign = 0x80000000
    worst = max(_decode.fast_tanh_error(0, int(top), 211), _decode.fast_tanh_error(sign, sign + int(top), 211))
    # every float32 of the stretches where the error peaks, and around 0 and the ends of the range
    for centre in (6.6603, 7.9, 0.5, 1e-3):
        at = int(np.float32(centre).view(np.uint32))
        worst = max(worst, _decode.fast_tanh_error(at - 200_000, min(at + 200_000, int(top))),
                    _decode.fast_tanh_error(sign + at - 200_000, sign + min(at + 200_000, int(top))))
    for x in np.random.default_rng(6).uniform(-8.0, 8.0, 2000).astype(np.float32):
        bits = int(x.view(np.uint32))
        worst = max(worst, _decode.fast_tanh_error(bits, bits))
    assert 1e-7 < worst <= _decode.FAST_TANH_ERROR  # (4.29e-7 over all float32 in [-8, 8])
    assert _decode.fast_tanh_error(int(top) + 1, 0x7F800000) == 0.0  # beyond the range: not its domain


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
