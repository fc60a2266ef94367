"""schedule_graph's progress callback: called between searches, never changing the answer."""

from __future__ import annotations

from tflite_serenity.graph import build_graphs
from tflite_serenity.model import read_model
from tflite_serenity.schedule.search import schedule_graph
from tests.models import load


def graph(name: str):
    return build_graphs(read_model(load(name)))[0]


def test_progress_reports_heuristic_first_then_improving_peaks_ending_at_the_answer():
    g = graph("darts_tiny_float.tflite")
    seen = []
    result = schedule_graph(g, time_limit=30, progress=seen.append)
    assert seen[0].phase == "heuristic" and seen[0].piece == -1
    assert {info.phase for info in seen[1:]} <= {"beam", "exact"} and len(seen) > 1
    peaks = [info.best_peak for info in seen]
    assert peaks == sorted(peaks, reverse=True) and peaks[-1] == result.peak
    states = [info.states for info in seen]
    assert states == sorted(states) and states[-1] == result.states
    assert all(info.lower_bound == result.lower_bound and info.peak_before == result.peak_before for info in seen)


def test_progress_does_not_change_the_order():
    g = graph("randwire_tiny_float.tflite")
    assert schedule_graph(g, progress=lambda info: None).order == schedule_graph(g).order
