"""The memory model on a model small enough to check by hand (docs/memory-model.md)."""

from __future__ import annotations

from tflite_serenity import memory
from tflite_serenity.graph import build_graphs
from tflite_serenity.model import read_model
from tests.models import load


def tiny_branch():
    return build_graphs(read_model(load("tiny_branch_float.tflite")))[0]


def test_live_bytes_per_step_match_the_hand_computation():
    # x 1,024 B; a 1,536 B; b 512 B; c = concat(a, b) 2,048 B; y 768 B
    assert memory.profile(tiny_branch()).live == (1024 + 1536, 1024 + 1536 + 512, 1536 + 512 + 2048, 2048 + 768)


def test_peak_is_at_the_concat_with_its_inputs_alive():
    prof = memory.profile(tiny_branch())
    assert (prof.peak, prof.peak_step) == (4096, 2)
    graph = tiny_branch()
    assert {graph.tensors[t].shape for t in prof.alive_at_peak} == {(1, 8, 8, 8), (1, 8, 8, 6), (1, 8, 8, 2)}


def test_lower_bound_is_the_largest_working_set():
    graph = tiny_branch()
    assert memory.working_set(graph, 2) == 4096
    assert memory.lower_bound(graph) == 4096


def test_weights_are_the_bytes_of_constant_buffers():
    model = read_model(load("tiny_branch_float.tflite"))
    sub = model.subgraphs[0]
    stored = sum(len(model.buffers[t.buffer].data) for t in sub.tensors if model.buffers[t.buffer].data is not None)
    graph = build_graphs(model)[0]
    assert memory.weights_bytes(graph) == stored == 1036
    assert all(not memory.is_activation(t) for t in graph.tensors if t.has_data)


def test_graph_output_lives_to_the_last_step():
    graph = tiny_branch()
    spans = {l.tensor: l for l in memory.lifetimes(graph)}
    (out,) = graph.outputs
    assert spans[out].end == graph.num_operators - 1
    (inp,) = graph.inputs
    assert (spans[inp].start, spans[inp].end) == (0, 1)
