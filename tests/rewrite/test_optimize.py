"""Rewriting inside optimize() and the main command."""

from __future__ import annotations

import json

from tflite_serenity import memory, optimize
from tflite_serenity.cli import main
from tflite_serenity.graph import build_graphs
from tflite_serenity.model import read_model
from tflite_serenity.verify import compare_models
from tests.models import DATA, load


def test_optimize_rewrites_exactly_by_default_and_reports_three_peaks():
    data = load("rewrite_depthwise_int8.tflite")
    (sub,) = optimize(data).subgraphs
    assert sub.peak_before >= sub.peak_scheduled > sub.peak_after
    assert [r.consumers for r in sub.rewrites] == [("DEPTHWISE_CONV_2D",)] and sub.rewrites[0].exact


def test_optimized_rewritten_model_is_bit_identical_in_both_runtimes():
    data = load("rewrite_nested_int8.tflite")
    result = optimize(data)
    assert result.subgraphs[0].rewrites
    for runtime in ("litert", "tflm"):
        comparison = compare_models(data, result.model, runtime=runtime, trials=2)
        assert comparison.bit_identical, comparison.describe()


def test_written_file_has_the_reported_peak():
    result = optimize(load("rewrite_mean_float.tflite"))
    (graph,) = build_graphs(read_model(result.model))
    assert memory.peak_bytes(graph) == result.subgraphs[0].peak_after


def test_no_rewrite_only_reorders():
    data = load("rewrite_depthwise_float.tflite")
    result = optimize(data, rewrite=False)
    (sub,) = result.subgraphs
    assert sub.rewrites == () and sub.peak_after == sub.peak_scheduled
    assert len(read_model(result.model).subgraphs[0].operators) == len(read_model(data).subgraphs[0].operators)


def test_approximate_rewrites_only_on_request():
    data = load("rewrite_dense_float.tflite")
    assert optimize(data).subgraphs[0].rewrites == ()
    (sub,) = optimize(data, rewrite_approximate=True).subgraphs
    assert sub.rewrites and not sub.rewrites[0].exact and sub.peak_after < sub.peak_scheduled
    assert optimize(load("rewrite_dense_int8.tflite"), rewrite_approximate=True).subgraphs[0].rewrites == ()


def test_summary_line_shows_peak_before_scheduled_and_rewritten(tmp_path, capsys):
    assert main([str(DATA / "rewrite_depthwise_float.tflite"), str(tmp_path / "o.tflite")]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert "43,008 B" in line and "scheduled -> 15,616 B" in line and "rewritten (1 site)" in line


def test_no_rewrite_flag_leaves_the_summary_as_reordering_only(tmp_path, capsys):
    assert main([str(DATA / "rewrite_depthwise_float.tflite"), str(tmp_path / "o.tflite"), "--no-rewrite"]) == 0
    assert "rewritten" not in capsys.readouterr().out


def test_json_lists_rewritten_sites(tmp_path, capsys):
    args = [str(DATA / "rewrite_conv_float.tflite"), str(tmp_path / "o.tflite"), "--json", "--rewrite-approximate"]
    assert main(args) == 0
    (sub,) = json.loads(capsys.readouterr().out)["subgraphs"]
    assert sub["peak_scheduled"] > sub["peak_after"]
    assert [r["exact"] for r in sub["rewrites"]] == [False, False]
    assert sub["rewrites"][-1]["consumers"] == ["RELU", "CONV_2D"]


def test_summary_line_shows_all_three_peaks_even_when_no_rewrite_pays(tmp_path, capsys):
    assert main([str(DATA / "rewrite_depthwise_flat_float.tflite"), str(tmp_path / "o.tflite")]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert "scheduled -> " in line and "rewritten (no site pays)" in line
