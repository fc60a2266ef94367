"""The shipped policies: valid, deterministic orders and splits from NumPy alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tflite_serenity import memory
from tflite_serenity.errors import SerenityError
from tflite_serenity.graph import build_graph
from tflite_serenity.learned import learned_order, learned_split, load_policy
from tflite_serenity.learned.infer import decode
from tflite_serenity.learned.policy import OBJECTIVES, WEIGHTS_DIR
from tflite_serenity.learned.problem import (
    CANDIDATE_FEATURES, CONTEXT_FEATURES, NODE_FEATURES, memory_instance, pipeline_instance,
)
from tflite_serenity.learned.synthetic import random_dag
from tflite_serenity.model.io import read_model
from tflite_serenity.pipeline import build_problem, edge_tpu, evaluate

DATA = Path(__file__).resolve().parent.parent / "data"
MODELS = ["darts_tiny_int8", "randwire_tiny_float", "swiftnet_tiny_int8", "unet_tiny_float", "transformer_tiny_int8"]


def graph_of(name):
    return build_graph(read_model((DATA / f"{name}.tflite").read_bytes()), 0)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_shipped_weights_match_their_config(objective):
    config = json.loads((WEIGHTS_DIR / f"{objective}.json").read_text())
    assert config["objective"] == objective
    assert config["features"] == {"node": NODE_FEATURES, "context": CONTEXT_FEATURES, "candidate": CANDIDATE_FEATURES}
    weights = load_policy(objective).weights
    assert weights["enc_in.weight"].shape == (config["hidden"], NODE_FEATURES)
    assert sum(1 for name in weights.arrays if name.endswith("self_.weight")) == config["layers"]


@pytest.mark.parametrize("name", MODELS)
def test_learned_order_is_a_valid_order_of_a_real_model(name):
    graph = graph_of(name)
    memory.check_order(graph, learned_order(graph))  # raises if invalid


def test_learned_order_is_the_same_every_time():
    graph = graph_of("darts_tiny_float")
    assert len({learned_order(graph) for _ in range(5)}) == 1


@pytest.mark.parametrize("k", [2, 3, 4])
def test_learned_split_is_a_valid_split_that_claims_no_proof(k):
    graph = graph_of("randwire_tiny_int8")
    problem = build_problem(graph, edge_tpu())
    split = learned_split(problem, k)
    assert split.method == "learned" and split.status == "rule" and split.lower_bound_ps is None
    assert evaluate(problem, split.stages, k) == split.segments  # valid, and costed by the model


def test_load_policy_rejects_an_unknown_objective():
    with pytest.raises(SerenityError):
        load_policy("latency")


def test_load_policy_reports_a_missing_folder(tmp_path):
    with pytest.raises(SerenityError, match="cannot load"):
        load_policy("memory", str(tmp_path))


def test_load_policy_rejects_weights_saved_for_another_objective(tmp_path):
    for suffix in (".npz", ".json"):
        (tmp_path / f"memory{suffix}").write_bytes((WEIGHTS_DIR / f"pipeline{suffix}").read_bytes())
    with pytest.raises(SerenityError, match="not 'memory'"):
        load_policy("memory", str(tmp_path))


def test_policy_refuses_an_instance_of_the_other_objective():
    graph = random_dag(np.random.default_rng(0), 20, 30)
    with pytest.raises(SerenityError):
        load_policy("pipeline").order(memory_instance(graph))


def test_forced_decoding_rejects_an_operator_that_is_not_ready():
    graph = random_dag(np.random.default_rng(1), 20, 30)
    inst = pipeline_instance(build_problem(graph, edge_tpu()), 2)
    bad = tuple(reversed(range(graph.num_operators)))
    with pytest.raises(ValueError, match="not ready"):
        decode(load_policy("pipeline").weights, inst, forced=bad)


def test_inference_runs_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"  # any import of torch now fails
        "from pathlib import Path\n"
        "from tflite_serenity.graph import build_graph\n"
        "from tflite_serenity.model.io import read_model\n"
        "from tflite_serenity.learned import learned_order, learned_split\n"
        "from tflite_serenity.pipeline import build_problem, edge_tpu\n"
        f"g = build_graph(read_model(Path({str(DATA / 'darts_tiny_int8.tflite')!r}).read_bytes()), 0)\n"
        "learned_order(g); learned_split(build_problem(g, edge_tpu()), 3)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
