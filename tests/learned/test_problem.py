"""The policy's state tracks what the memory model and the pipeline cost model say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tflite_serenity import memory
from tflite_serenity.errors import InfeasibleError
from tflite_serenity.graph import build_graph, topological_order
from tflite_serenity.learned.problem import (
    CANDIDATE_FEATURES, CONTEXT_FEATURES, NODE_FEATURES, OrderState, _compiled_structure, _structure,
    check_instance_order, memory_instance, pipeline_instance,
)
from tflite_serenity.learned.synthetic import random_dag
from tflite_serenity.model.io import read_model
from tflite_serenity.edgetpu import build_problem, edge_tpu
from tflite_serenity.edgetpu.contiguous import cost_matrix


def run(inst, order):
    state = OrderState.start(inst)
    states = [state]
    for v in order:
        state = state.update(inst, v)
        states.append(state)
    return states


def test_state_peak_equals_memory_model_peak():
    rng = np.random.default_rng(0)
    for seed in range(10):
        graph = random_dag(rng, 20, 50)
        inst = memory_instance(graph)
        order = topological_order(graph, key=list(np.random.default_rng(seed).permutation(graph.num_operators)))
        final = run(inst, order)[-1]
        assert final.peak / inst.byte_scale == pytest.approx(memory.peak_bytes(graph, order), rel=1e-9)


def test_pipeline_live_bytes_are_the_bytes_a_cut_would_cross():
    graph = random_dag(np.random.default_rng(1), 30, 40)
    problem = build_problem(graph, edge_tpu())
    inst = pipeline_instance(problem, 3)
    order = topological_order(graph)
    cost = cost_matrix(problem, order)  # C[i, j] holds link * (crossing[i] + crossing[j])
    states = run(inst, order)
    n = len(order)
    for i in range(1, n):
        # a one-operator segment [i, i+1) minus its compute and overhead leaves the link part
        link = cost[i, i + 1] - problem.segment_overhead_ps - problem.compute_ps[order[i]]
        crossing_i = states[i].live / inst.byte_scale
        crossing_next = states[i + 1].live / inst.byte_scale
        assert link == pytest.approx(problem.link_ps_per_byte * (crossing_i + crossing_next), rel=1e-9)


def test_features_have_the_declared_widths():
    graph = random_dag(np.random.default_rng(2), 20, 30)
    inst = memory_instance(graph)
    state = OrderState.start(inst)
    assert inst.node_features.shape == (graph.num_operators, NODE_FEATURES)
    assert state.context(inst).shape == (CONTEXT_FEATURES,)
    assert state.candidates(inst, state.ready).shape == (len(state.ready), CANDIDATE_FEATURES)


def test_update_rejects_an_operator_that_is_not_ready():
    graph = random_dag(np.random.default_rng(3), 20, 30)
    inst = memory_instance(graph)
    blocked = next(v for v in range(graph.num_operators) if graph.preds[v])
    with pytest.raises(InfeasibleError):
        OrderState.start(inst).update(inst, blocked)


def test_pipeline_instance_rejects_more_segments_than_operators():
    graph = random_dag(np.random.default_rng(4), 20, 30)
    with pytest.raises(InfeasibleError):
        pipeline_instance(build_problem(graph, edge_tpu()), graph.num_operators + 1)


def test_check_instance_order_rejects_a_consumer_before_its_producer():
    graph = random_dag(np.random.default_rng(5), 20, 30)
    inst = memory_instance(graph)
    order = list(range(graph.num_operators))
    v = next(v for v in order if graph.preds[v])
    order.remove(v)
    order.insert(0, v)
    with pytest.raises(InfeasibleError):
        check_instance_order(inst, order)


def test_instance_flow_tables_are_those_of_a_flow_by_flow_loop():
    # the vectorized view against the plain definition, on a real model's problem:
    # same per-operator byte sums (bit for bit) and the same flow lists
    data = Path(__file__).resolve().parent.parent / "data" / "randwire_tiny_int8.tflite"
    problem = build_problem(build_graph(read_model(data.read_bytes()), 0), edge_tpu())
    inst = pipeline_instance(problem, 2)
    n = problem.num_operators
    add, into = [0.0] * n, [0.0] * n
    inputs, reads = [[] for _ in range(n)], [[] for _ in range(n)]
    for f, flow in enumerate(problem.flows):
        size = flow.size * inst.byte_scale
        if flow.producer >= 0:
            add[flow.producer] += size
        for c in flow.consumers:
            into[c] += size
            inputs[c].append(f)
            if not flow.is_output:
                reads[c].append(f)
    assert inst.op_add.tolist() == add
    assert inst.node_features[:, 1].tolist() == np.log1p(into).tolist()
    assert inst.op_inputs == tuple(map(tuple, inputs))
    assert inst.op_reads == tuple(map(tuple, reads))
    assert inst.flow_consumers == tuple(flow.consumers for flow in problem.flows)


@pytest.mark.skipif(_compiled_structure() is None, reason="the _view extension is not built")
def test_compiled_structure_features_equal_the_numpy_ones():
    rng = np.random.default_rng(3)
    for _ in range(40):
        graph = random_dag(rng, 2, 150)
        inst = memory_instance(graph)
        weights = rng.integers(0, 10**9, size=(graph.num_operators, 2)).astype(np.float64)
        compiled = _structure(inst.preds, inst.succs, weights, "compiled")
        numpy_ = _structure(inst.preds, inst.succs, weights, "python")
        for a, b in zip(compiled, numpy_):
            assert a.dtype == b.dtype and np.array_equal(a, b)


def test_instance_csr_arrays_hold_the_same_lists_as_its_tuples():
    rng = np.random.default_rng(5)
    for _ in range(20):
        inst = memory_instance(random_dag(rng, 2, 80))
        for lists, csr in ((inst.preds, inst.pred_csr), (inst.succs, inst.succ_csr),
                           (inst.op_inputs, inst.input_csr), (inst.op_reads, inst.read_csr)):
            assert csr.flat.dtype == np.int64 and csr.start.dtype == np.int64
            assert tuple(tuple(csr.flat[a:b].tolist()) for a, b in zip(csr.start[:-1], csr.start[1:])) == lists
