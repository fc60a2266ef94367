"""Rewrites are chosen with the schedule: kept only where the scheduled peak drops."""

from __future__ import annotations

from tflite_serenity import memory
from tflite_serenity.graph import build_graph
from tflite_serenity.model import with_metadata
from tflite_serenity.rewrite import rewrite_model
from tflite_serenity.rewrite.search import rewrite_subgraph
from tflite_serenity.options import Options
from tflite_serenity.schedule.search import schedule_graph
from tests.rewrite.util import tree_and_graph


def test_rewrite_that_does_not_lower_the_peak_is_not_kept():
    tree, _ = tree_and_graph("rewrite_depthwise_flat_float.tflite")
    new, report = rewrite_subgraph(tree, 0)
    assert new is tree and report.sites == () and report.candidates >= 1
    assert report.peak == report.peak_scheduled


def test_strided_depthwise_rewrite_lowers_the_scheduled_peak_and_reports_its_gain():
    tree, graph = tree_and_graph("rewrite_depthwise_float.tflite")
    new, report = rewrite_subgraph(tree, 0)
    (site,) = report.sites
    assert site.exact and site.consumers == ("DEPTHWISE_CONV_2D",) and site.channels == (8, 8, 5)
    assert site.peak_before == schedule_graph(graph).peak > site.peak_after == report.peak
    assert site.gain == site.peak_before - site.peak_after > 0


def test_reported_peak_is_the_memory_model_of_the_rewritten_graph_in_the_reported_order():
    tree, _ = tree_and_graph("rewrite_elementwise_int8.tflite")
    new, report = rewrite_subgraph(tree, 0)
    assert report.sites
    assert memory.peak_bytes(build_graph(new, 0), report.schedule.order) == report.peak


def test_chain_of_per_channel_operators_is_crossed_when_only_its_end_pays():
    tree, _ = tree_and_graph("rewrite_elementwise_float.tflite")
    _, report = rewrite_subgraph(tree, 0)
    (site,) = report.sites
    assert site.consumers == ("MUL", "ADD", "LEAKY_RELU", "DEPTHWISE_CONV_2D") and site.depth == 4


def test_approximate_rewrite_is_used_only_when_asked():
    tree, _ = tree_and_graph("rewrite_dense_float.tflite")
    _, exact_only = rewrite_subgraph(tree, 0)
    _, approximate = rewrite_subgraph(tree, 0, options=Options(rewrite_approximate=True))
    assert exact_only.sites == ()
    (site,) = approximate.sites
    assert not site.exact and approximate.peak < approximate.peak_scheduled


def test_sites_at_the_peak_are_rewritten_until_the_peak_drops():
    # two concats feed pools; the second only pays once the first is rewritten
    tree, _ = tree_and_graph("rewrite_pool_float.tflite")
    _, report = rewrite_subgraph(tree, 0, options=Options(rewrite_approximate=True, strips=False))
    assert (report.peak_scheduled, report.peak) == (28672, 12544)
    assert all(s.peak_after < s.peak_before for s in report.sites)
    assert report.peak == min(s.peak_after for s in report.sites)


def test_model_with_an_offline_memory_plan_is_not_rewritten():
    tree, _ = tree_and_graph("rewrite_depthwise_float.tflite")
    planned = with_metadata(tree, "OfflineMemoryAllocation", b"\0" * 12)
    new, report = rewrite_subgraph(planned, 0)
    assert new is planned and report.sites == () and "offline memory plan" in report.note


def test_no_site_is_tried_without_time():
    tree, _ = tree_and_graph("rewrite_depthwise_float.tflite")
    new, report = rewrite_subgraph(tree, 0, time_limit=0)
    assert new is tree and report.candidates == 0 and "time limit" in report.note


def test_rewrite_model_reports_only_subgraphs_it_changed():
    tree, graph = tree_and_graph("rewrite_mean_int8.tflite")
    new, kept = rewrite_model(tree, [schedule_graph(graph)])
    assert list(kept) == [0] and kept[0].sites[0].consumers == ("MEAN",)
    tree, graph = tree_and_graph("small_cnn_int8.tflite")
    assert rewrite_model(tree, [schedule_graph(graph)], options=Options(strips=False)) == (tree, {})
