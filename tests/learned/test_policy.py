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
from tflite_serenity.learned import learned_order, load_policy
from tflite_serenity.learned.infer import _neighbour_sum, _padded, decode, greedy_order
from tflite_serenity.learned.problem import Csr
from tflite_serenity.learned.policy import OBJECTIVES, WEIGHTS_DIR
from tflite_serenity.learned.problem import (
    CANDIDATE_FEATURES, CONTEXT_FEATURES, NODE_FEATURES, memory_instance, only_order, pipeline_instance,
)
from tflite_serenity.learned.synthetic import random_dag
from tflite_serenity.model.io import read_model
from tflite_serenity.edgetpu import build_problem, contiguous_split, edge_tpu, evaluate, learned_split

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
        "from tflite_serenity.learned import learned_order\n"
        "from tflite_serenity.edgetpu import build_problem, edge_tpu, learned_split\n"
        f"g = build_graph(read_model(Path({str(DATA / 'darts_tiny_int8.tflite')!r}).read_bytes()), 0)\n"
        "learned_order(g); learned_split(build_problem(g, edge_tpu()), 3)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def _graphs_for_equivalence():
    rng = np.random.default_rng(4242)
    graphs = [(f"synthetic_{i}", random_dag(rng, 5, 90)) for i in range(24)]
    return graphs + [(name, graph_of(name)) for name in MODELS]


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_fast_greedy_order_is_the_step_by_step_decoding(objective):
    # greedy_order (what learned_order / learned_split use) against decode, which
    # steps through OrderState and the full log-softmax: the same order, every graph
    weights = load_policy(objective).weights
    for name, graph in _graphs_for_equivalence():
        for k in ((2, 3, 4) if objective == "pipeline" else (1,)):
            if objective == "pipeline":
                if k > graph.num_operators:
                    continue
                inst = pipeline_instance(build_problem(graph, edge_tpu()), k)
            else:
                inst = memory_instance(graph)
            assert greedy_order(weights, inst) == decode(weights, inst)[0], (name, k)


def test_learned_split_is_the_cut_of_the_step_by_step_order():
    policy = load_policy("pipeline")
    for name, graph in _graphs_for_equivalence():
        problem = build_problem(graph, edge_tpu())
        for k in (2, 3, 4):
            if k <= graph.num_operators:
                order, _ = decode(policy.weights, pipeline_instance(problem, k))
                assert learned_split(problem, k).stages == contiguous_split(problem, k, order).stages, (name, k)


def test_a_graph_with_one_order_gets_it_without_the_policy():
    preds = ((), (0,), (1,), (1, 2), (3,))
    assert only_order(preds) == (0, 1, 2, 3, 4)
    assert only_order(((), (0,), (0,), (1, 2))) is None
    chain = random_dag(np.random.default_rng(3), 20, 30)
    assert only_order(chain.preds) in (None, decode(load_policy("memory").weights, memory_instance(chain))[0])


def test_neighbour_sums_round_as_edge_by_edge_accumulation():
    rng = np.random.default_rng(0)
    h = rng.standard_normal((30, 8)) * 10.0 ** rng.integers(-8, 8, size=(30, 1))
    lists = [tuple(sorted(rng.choice(30, size=rng.integers(0, 7), replace=False).tolist())) for _ in range(30)]
    dst = np.array([v for v, x in enumerate(lists) for _ in x], dtype=np.int64)
    src = np.array([u for x in lists for u in x], dtype=np.int64)
    expected = np.zeros_like(h)
    np.add.at(expected, dst, h[src])
    csr = Csr(np.cumsum([0] + [len(x) for x in lists]), np.array([u for x in lists for u in x], dtype=np.int64))
    assert np.array_equal(_neighbour_sum(h, _padded(csr, 30)), expected)
