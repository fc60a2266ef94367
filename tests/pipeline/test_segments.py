"""Segment models: chained in LiteRT they give the whole model's outputs bit for bit."""

from __future__ import annotations

from functools import lru_cache

import pytest

pytest.importorskip("ai_edge_litert")

from tflite_serenity.errors import InfeasibleError, SerenityError, VerificationError
from tflite_serenity.graph import build_graph, topological_order
from tflite_serenity.model.io import read_model
from tflite_serenity.edgetpu.contiguous import contiguous_split
from tflite_serenity.edgetpu.plan import plan_pipeline
from tflite_serenity.edgetpu.problem import boundaries, make_split
from tflite_serenity.edgetpu.segments import check_chain, segment_models, segment_paths, write_segments
from tflite_serenity.verify import random_inputs, run_litert
from tests.pipeline.problems import DATA

MODELS = [
    "small_cnn_float.tflite", "small_cnn_int8.tflite", "irregular_float.tflite", "irregular_int8.tflite",
    "darts_tiny_float.tflite", "darts_tiny_int8.tflite", "randwire_tiny_float.tflite", "randwire_tiny_int8.tflite", "transformer_tiny_int8.tflite", "unet_tiny_float.tflite",
]


def _data(name: str) -> bytes:
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"tests/data/{name} is missing")
    return path.read_bytes()


@lru_cache(maxsize=None)
def _planned(name: str, k: int):
    data = _data(name)
    model = read_model(data)
    plan = plan_pipeline(model, k, time_limit=2.0)
    return data, model, plan, segment_models(model, plan.graph, plan.problem, plan.split)


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("name", MODELS)
def test_chained_segments_are_bit_identical_to_the_whole_model(name, k):
    data, _, _, segments = _planned(name, k)
    check_chain(data, segments, seeds=(0, 1))


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("name", ["irregular_int8.tflite", "darts_tiny_int8.tflite"])
def test_each_segments_outputs_are_the_next_segments_inputs(name, k):
    data, _, _, segments = _planned(name, k)
    graphs = [build_graph(read_model(s), 0) for s in segments]
    whole = build_graph(read_model(data), 0)
    names = lambda g, ts: [g.tensors[t].name for t in ts]  # noqa: E731
    assert names(graphs[0], graphs[0].inputs) == names(whole, whole.inputs)
    for a, b in zip(graphs, graphs[1:]):
        assert names(a, a.outputs) == names(b, b.inputs)
    assert names(graphs[-1], graphs[-1].outputs) == names(whole, whole.outputs)


@pytest.mark.parametrize("name", ["darts_tiny_int8.tflite", "irregular_float.tflite"])
def test_weights_are_copied_only_into_segments_that_read_them(name):
    _, _, plan, segments = _planned(name, 3)
    graph = plan.graph
    for s, data in enumerate(segments):
        piece = build_graph(read_model(data), 0)
        expected = {graph.tensors[t].name for v, stage in enumerate(plan.split.stages) if stage == s
                    for t in graph.operators[v].inputs if t >= 0 and graph.tensors[t].has_data}
        assert {t.name for t in piece.tensors if t.has_data} == expected


def test_a_tensor_skipping_a_segment_is_passed_through_it():
    data = _data("irregular_float.tflite")
    model = read_model(data)
    plan = plan_pipeline(model, 3, solver="contiguous")
    n = plan.graph.num_operators
    for i in range(1, n - 1):
        for j in range(i + 1, n):
            stages = [0] * i + [1] * (j - i) + [2] * (n - j)
            on = boundaries(plan.problem, stages, 3)
            skipping = set(on[1]) & set(on[2])
            if skipping:
                split = make_split(plan.problem, "contiguous", stages, 3, "rule", None, 0.0)
                segments = segment_models(model, plan.graph, plan.problem, split)
                middle = build_graph(read_model(segments[1]), 0)
                name = plan.graph.tensors[plan.problem.flows[min(skipping)].tensor].name
                assert name in {middle.tensors[t].name for t in middle.inputs}
                assert name in {middle.tensors[t].name for t in middle.outputs}
                check_chain(data, segments, seeds=(0,))
                return
    pytest.fail("no 3-way cut of irregular_float forwards a tensor through the middle segment")


def test_a_split_that_is_not_contiguous_in_the_stored_order_still_chains():
    data = _data("irregular_int8.tflite")
    model = read_model(data)
    plan = plan_pipeline(model, 2, solver="contiguous")
    graph = plan.graph
    # a valid order other than the stored one: ties broken latest operator first
    other = topological_order(graph, key=[-v for v in range(graph.num_operators)])
    assert other != list(range(graph.num_operators))
    split = contiguous_split(plan.problem, 2, order=other)
    segments = segment_models(model, graph, plan.problem, split)
    check_chain(data, segments, seeds=(0,))


def test_one_segment_reproduces_the_whole_model():
    data = _data("small_cnn_int8.tflite")
    model = read_model(data)
    plan = plan_pipeline(model, 1)
    (segment,) = segment_models(model, plan.graph, plan.problem, plan.split)
    inputs = random_inputs(data)
    assert [a.tobytes() for a in run_litert(segment, inputs)] == [a.tobytes() for a in run_litert(data, inputs)]


def test_segment_files_are_named_stem_segment_i_of_k(tmp_path):
    paths = write_segments(tmp_path / "out", "net", [b"a", b"b", b"c"])
    assert [p.name for p in paths] == [f"net_segment_{i}_of_3.tflite" for i in range(3)]
    assert [p.read_bytes() for p in paths] == [b"a", b"b", b"c"]
    assert paths == segment_paths(tmp_path / "out", "net", 3)


def test_check_chain_reports_segments_that_do_not_reproduce_the_model():
    data, _, _, segments = _planned("small_cnn_int8.tflite", 3)
    with pytest.raises(VerificationError, match="differs from the whole model"):
        check_chain(data, segments[:-1], seeds=(0,))


def test_writing_into_a_path_that_is_a_file_fails_with_a_user_error(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_bytes(b"")
    with pytest.raises(SerenityError, match="cannot create the output directory"):
        write_segments(blocker, "net", [b"a"])


def test_plan_refuses_an_unknown_solver():
    model = read_model(_data("small_cnn_int8.tflite"))
    with pytest.raises(InfeasibleError, match="unknown solver"):
        plan_pipeline(model, 2, solver="greedy")


@pytest.mark.parametrize("k", [2, 3])
def test_learned_solver_gives_chains_bit_identical_to_the_whole_model(k):
    data = _data("darts_tiny_int8.tflite")
    model = read_model(data)
    plan = plan_pipeline(model, k, solver="learned")
    assert plan.split.k == k and plan.split.bottleneck_ps >= plan_pipeline(model, k).split.bottleneck_ps
    check_chain(data, segment_models(model, plan.graph, plan.problem, plan.split), seeds=(0,))
