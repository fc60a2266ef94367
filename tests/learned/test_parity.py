"""NumPy inference equals the PyTorch forward pass of the same weights (needs torch)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tflite_serenity.learned.infer import decode, encode, step_log_probs  # noqa: E402
from tflite_serenity.learned.network import PolicyNet, collate  # noqa: E402
from tflite_serenity.learned.policy import load_policy  # noqa: E402
from tflite_serenity.learned.problem import OrderState, memory_instance, pipeline_instance  # noqa: E402
from tflite_serenity.learned.synthetic import random_dag  # noqa: E402
from tflite_serenity.edgetpu import build_problem, edge_tpu  # noqa: E402


def torch_twin(policy):
    cfg = policy.config
    net = PolicyNet(cfg["hidden"], cfg["layers"], cfg["clip"])
    net.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in policy.weights.arrays.items()})
    return net.eval()


def instances(objective):
    rng = np.random.default_rng(11)
    graphs = [random_dag(rng, 20, 60) for _ in range(4)]
    if objective == "memory":
        return [memory_instance(g) for g in graphs]
    return [pipeline_instance(build_problem(g, edge_tpu()), k) for g, k in zip(graphs, (2, 3, 4, 2))]


@pytest.mark.parametrize("objective", ["pipeline", "memory"])
def test_numpy_greedy_decoding_equals_torch_forward(objective):
    # every choice torch's greedy decoding makes is NumPy's greedy choice too, up to
    # ties: symmetric operators score alike, and float32 (torch, the encoder here)
    # may break an exact tie either way
    policy = load_policy(objective)
    insts = instances(objective)
    with torch.no_grad():
        orders, loglik = torch_twin(policy)(collate(insts), mode="greedy")
    for j, inst in enumerate(insts):
        enc = encode(policy.weights, inst)
        state = OrderState.start(inst)
        torch_order = tuple(int(v) for v in orders[j, :inst.num_operators])
        for v in torch_order:
            if len(state.ready) > 1:
                logp = step_log_probs(policy.weights, inst, enc, state)
                assert logp[state.ready.index(v)] >= logp.max() - 1e-5
            state = state.update(inst, v)
        _, total = decode(policy.weights, inst, forced=torch_order)
        assert total == pytest.approx(float(loglik[j]), abs=1e-3)


@pytest.mark.parametrize("objective", ["pipeline", "memory"])
def test_numpy_log_likelihood_of_a_sampled_order_equals_torch(objective):
    policy = load_policy(objective)
    insts = instances(objective)
    with torch.no_grad():
        orders, loglik = torch_twin(policy)(collate(insts), mode="sample",
                                            generator=torch.Generator().manual_seed(0))
    for j, inst in enumerate(insts):
        forced = tuple(int(v) for v in orders[j, :inst.num_operators])
        _, total = decode(policy.weights, inst, forced=forced)
        assert total == pytest.approx(float(loglik[j]), abs=1e-3)
