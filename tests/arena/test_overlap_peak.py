"""The live-bytes estimate of what overlapped placement could buy."""

from __future__ import annotations

from tflite_serenity.arena.overlap_peak import estimate
from tflite_serenity.graph import build_graphs
from tflite_serenity.model import read_model
from tests.models import load


def test_overlaps_lower_the_live_peak_of_a_small_cnn_and_only_lower_it():
    model = read_model(load("small_cnn_int8.tflite"))
    est = estimate(model)
    assert est.overlapped_peak < est.live_peak
    assert all(saving > 0 for saving in est.saved.values())
    assert {o.operator for o in est.chosen} == set(est.saved)


def test_elementwise_only_estimate_overlaps_only_elementwise_operators():
    model = read_model(load("inplace_int8.tflite"))
    graph = build_graphs(model)[0]
    est = estimate(model, kinds=("ADD", "SUB", "MUL"))
    assert est.overlapped_peak < est.live_peak
    assert {graph.operators[o.operator].kind for o in est.chosen} <= {"ADD", "SUB", "MUL"}


def test_an_input_still_read_later_is_never_overlapped():
    model = read_model(load("inplace_int8.tflite"))
    graph = build_graphs(model)[0]
    for overlap in estimate(model).chosen:
        assert max(graph.consumers[overlap.tensor]) == overlap.operator
        assert overlap.tensor not in graph.outputs
