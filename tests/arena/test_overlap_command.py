"""Overlapped placement end to end: plan -> file -> second run.

Overlaps are on by default (``--no-overlap`` turns them off). On committed
models (and the zoo's DenseNet121 int8, where the zoo is made) whose arena
overlapped placement lowers, ``optimize`` writes a plan that our own reader accepts, that runs bit-identical in TFLite
Micro at exactly the head the summary reports, and that a second run (with
the option or without) hands back byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tflite_serenity import optimize
from tflite_serenity.cli.optimize import parser, run as run_optimize
from tflite_serenity.model import read_model
from tflite_serenity.options import Options, Target
from tflite_serenity.tflm.arena_size import estimate_tflm_arena
from tflite_serenity.tflm.offline import check_offline_plan, read_offline_plan
from tests.models import DATA, load

#: Committed models whose arena overlaps lower (float32 and int8; chains and irregular graphs;
#: convolutions, pools, element-wise).
OVERLAPPED = ["small_cnn_float.tflite", "per_pixel_int8.tflite", "per_pixel_float.tflite",
              "rewrite_pool_int8.tflite", "rewrite_pool_float.tflite", "randwire_tiny_int8.tflite",
              "randwire_tiny_float.tflite", "irregular_float.tflite"]

#: The model zoo (python -m scripts.models.make_zoo), where it is made.
ZOO = Path(__file__).resolve().parents[2] / ".zoo"

_RESULTS: dict[str, object] = {}


def overlapped(name: str):
    """``optimize(overlap=True)`` of a committed model, once per test session."""
    if name not in _RESULTS:
        _RESULTS[name] = optimize(load(name), overlap=True, time_limit=5)
    return _RESULTS[name]


def test_overlap_is_on_by_default():
    assert Options().overlap
    assert optimize(load("small_cnn_float.tflite"), time_limit=5).model == overlapped("small_cnn_float.tflite").model


def test_no_overlap_places_every_output_apart():
    result = optimize(load("small_cnn_float.tflite"), overlap=False, time_limit=5)
    assert result.arena.overlapping == 0 and result.arena.method != "overlap"


def test_the_no_overlap_flag_turns_overlaps_off(tmp_path):
    out = tmp_path / "out.tflite"
    assert run_optimize([str(DATA / "small_cnn_float.tflite"), str(out), "--no-overlap", "--quiet"]) == 0
    assert out.read_bytes() == optimize(load("small_cnn_float.tflite"), overlap=False, time_limit=5).model


def test_the_overlap_flag_of_earlier_versions_is_still_accepted(tmp_path):
    out = tmp_path / "out.tflite"
    assert run_optimize([str(DATA / "small_cnn_float.tflite"), str(out), "--overlap", "--quiet"]) == 0
    assert out.read_bytes() == overlapped("small_cnn_float.tflite").model


@pytest.mark.parametrize("name", OVERLAPPED)
def test_overlapped_output_runs_bit_identical_in_tflite_micro_at_the_reported_head(name):
    pytest.importorskip("tflite_micro")
    from tflite_serenity.verify import compare_models

    result = overlapped(name)
    assert result.arena.overlapping > 0 and result.arena.written
    comparison = compare_models(load(name), result.model, runtime="tflm", trials=2)
    assert comparison.bit_identical, comparison.describe()
    assert comparison.candidate_tflm.head_bytes == result.arena.head


@pytest.mark.parametrize("name", OVERLAPPED)
def test_our_reader_accepts_the_overlapped_plan_and_estimates_its_head(name):
    result = overlapped(name)
    tree = read_model(result.model)
    check_offline_plan(tree, read_offline_plan(tree).offsets)
    assert estimate_tflm_arena(result.model).head == result.arena.head


@pytest.mark.parametrize("name", OVERLAPPED)
def test_a_second_run_with_overlap_changes_nothing(name):
    first = overlapped(name)
    again = optimize(first.model, overlap=True, time_limit=5)
    assert again.unchanged and again.model == first.model


def test_a_second_run_without_overlap_keeps_the_overlapped_plan():
    first = overlapped("small_cnn_float.tflite")
    again = optimize(first.model, overlap=False, time_limit=5)
    assert again.unchanged and again.model == first.model


def test_the_overlapped_head_decides_over_the_plain_one():
    plain = optimize(load("small_cnn_float.tflite"), overlap=False, time_limit=5)
    result = overlapped("small_cnn_float.tflite")
    assert result.arena.head < plain.arena.head
    assert result.arena.head < result.arena.lower_bound  # below what any plan without overlaps reaches


def test_overlapped_plan_is_the_same_bytes_every_run():
    assert optimize(load("rewrite_pool_int8.tflite"), overlap=True, time_limit=5).model == \
        overlapped("rewrite_pool_int8.tflite").model


def test_the_summary_counts_the_overlaps_and_names_the_verified_kernels(tmp_path, capsys):
    assert run_optimize([str(DATA / "small_cnn_float.tflite"), str(tmp_path / "out.tflite"), "--quiet"]) == 0
    out = capsys.readouterr().out
    arena = overlapped("small_cnn_float.tflite").arena
    assert arena.overlapping > 1
    assert f"arena: {arena.head:,} B" in out
    assert f"{arena.overlapping} outputs overlap a dying input" in out
    assert "reference kernels and CMSIS-NN, int8 1x1 convolutions left out" in out


def test_the_summary_says_reference_kernels_only_for_a_64_bit_host(tmp_path, capsys):
    assert run_optimize([str(DATA / "small_cnn_float.tflite"), str(tmp_path / "out.tflite"),
                         "--pointer-width", "64", "--quiet"]) == 0
    assert "(verified with TFLite Micro's reference kernels only; --no-overlap turns it off)" in \
        capsys.readouterr().out


def test_help_says_which_kernels_overlap_was_verified_with():
    text = " ".join(parser().format_help().split())
    assert "--no-overlap" in text
    assert "verified by running with TFLite Micro's reference kernels and with CMSIS" in text
    assert "(whose int8 1x1 convolutions are left out with --pointer-width 32" in text
    assert "Other optimized kernel libraries were not verified" in text


def arena_cost(result) -> int:
    """What the command minimizes for TFLite Micro: the head plus what it keeps per operator and tensor."""
    from tflite_serenity.model_version import graphs_of
    from tflite_serenity.options import Target
    from tflite_serenity.tflm.tail import persistent_bytes

    tail = sum(persistent_bytes(g, Target().costs) for g in graphs_of(read_model(result.model)))
    return result.arena.head + tail


@pytest.mark.parametrize("name", OVERLAPPED + ["small_cnn_int8.tflite", "irregular_int8.tflite"])
def test_overlap_never_costs_more_than_without(name):
    plain = optimize(load(name), overlap=False, time_limit=5)
    if plain.arena is None:
        pytest.skip("no arena plan without overlaps")
    assert arena_cost(optimize(load(name), overlap=True, time_limit=5)) <= arena_cost(plain)


@pytest.mark.parametrize("name, width", [("densenet121_int8", 32), ("person_detection_int8", 64)])
def test_zoo_model_overlaps_bit_identical_at_the_reported_head_below_the_plain_one(name, width):
    """DenseNet121: a single round; person detection: the rounds after an
    overlapped one must still run (an overlapped plan once stopped them, and
    --overlap gave 34,640 B against 30,336 B without). Its overlaps are 1x1
    convolutions or need them, so only the reference kernels' rule (a 64-bit
    host) finds any; a Cortex-M target leaves them out for CMSIS-NN."""
    path = ZOO / f"{name}.tflite"
    if not path.is_file():
        pytest.skip("the zoo is not made (python -m scripts.models.make_zoo)")
    pytest.importorskip("tflite_micro")
    from tflite_serenity.verify import compare_models

    data = path.read_bytes()
    target = Target(pointer_width=width)
    result = optimize(data, target=target, overlap=True)
    plain = optimize(data, target=target, overlap=False)
    assert result.arena.overlapping > 0 and result.arena.head < plain.arena.head
    comparison = compare_models(data, result.model, runtime="tflm", trials=1)
    assert comparison.bit_identical, comparison.describe()
    assert comparison.candidate_tflm.head_bytes == result.arena.head
    assert optimize(result.model, target=target, overlap=True).model == result.model


def test_without_shared_outputs_no_elementwise_output_overlaps():
    from tflite_serenity.arena.blocks import aligned
    from tflite_serenity.arena.overlap import overlap_pairs
    from tflite_serenity.model_version import graphs_of
    from tflite_serenity.tflm.buffers import model_buffers

    def overlapping_kinds(model_bytes):
        tree = read_model(model_bytes)
        graphs = graphs_of(tree)
        buffers = model_buffers(graphs)
        offsets = read_offline_plan(tree).offsets
        producer = {t: op.kind for op in graphs[0].operators for t in op.outputs}
        kinds = []
        for p in overlap_pairs(tree, buffers, graphs=graphs):
            a, b = buffers.buffers[p.input], buffers.buffers[p.output]
            x, y = offsets[buffers.plan_index(a)], offsets[buffers.plan_index(b)]
            if y < x + aligned(a.block.size) and x < y + aligned(b.block.size):
                kinds.append(producer[b.tensor])
        return kinds

    assert "ADD" in overlapping_kinds(overlapped("per_pixel_float.tflite").model)
    alone = optimize(load("per_pixel_float.tflite"), overlap=True, shared_outputs=False, time_limit=5)
    if read_offline_plan(read_model(alone.model)) is not None:
        assert not {"ADD", "SUB", "MUL"} & set(overlapping_kinds(alone.model))
    assert alone.arena is None or alone.arena.head > overlapped("per_pixel_float.tflite").arena.head
