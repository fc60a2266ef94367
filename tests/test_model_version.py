"""ModelVersion: one owner of graph building (tflite_serenity.model_version)."""

from __future__ import annotations

import sys
from collections import Counter

import pytest

from tflite_serenity import graph as graph_module
from tflite_serenity.graph import topological_order
from tflite_serenity import optimize
from tflite_serenity.model import read_model, with_operator_orders
from tflite_serenity.model_version import ModelVersion
from tests.models import load


@pytest.fixture
def builds(monkeypatch):
    """Every graph built, wherever it is called from, counted per (tree, subgraph)."""
    counted: Counter = Counter()
    trees: list = []  # kept alive, so no two trees share an id
    real = graph_module.build_graph

    def counting(model, subgraph_index, **kwargs):
        trees.append(model)
        counted[id(model), subgraph_index] += 1
        return real(model, subgraph_index, **kwargs)

    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("tflite_serenity") and \
                getattr(module, "build_graph", None) is real:
            monkeypatch.setattr(module, "build_graph", counting)
    return counted


def test_one_optimize_builds_each_model_version_once(builds):
    result = optimize(load("irregular_int8.tflite"))
    assert result.subgraphs[0].strips, "this model gains row strips, so the strip search ran"
    assert builds, "graphs were built"
    twice = {key: n for key, n in builds.items() if n > 1}
    assert not twice


def test_a_version_builds_its_graph_on_first_use_only(builds):
    version = ModelVersion(read_model(load("small_cnn_int8.tflite")))
    first = version.graph(0)
    assert version.graph(0) is first and ModelVersion(version.tree).graph(0) is first
    assert version.builds == 1 and sum(builds.values()) == 1


def test_an_edit_is_a_new_version_with_its_own_graph():
    version = ModelVersion(read_model(load("tiny_branch_float.tflite")))
    graph = version.graph(0)
    reordered = topological_order(graph, key=[-op for op in range(graph.num_operators)])
    assert reordered != list(range(graph.num_operators)), "the model has another valid order"
    edited = version.edited(with_operator_orders(version.tree, {0: reordered}))
    assert edited.tree is not version.tree and edited.builds == 0
    assert [op.kind for op in edited.graph(0).operators] == [graph.operators[op].kind for op in reordered]
    assert version.graph(0) is graph


def test_an_edit_that_leaves_a_subgraph_alone_hands_its_graph_over(builds):
    version = ModelVersion(read_model(load("if_int8.tflite")))
    kept = version.graph(1)
    edited = version.edited(with_operator_orders(version.tree, {0: range(version.graph(0).num_operators)}),
                            unchanged=[1])
    assert edited.graph(1) is kept and edited.builds == 0
