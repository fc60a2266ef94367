"""What the optimize command promises a user, on real models: the same bytes on
any machine, one run reaching what repeated runs reach, never worse for either
runtime, figures on one basis, and every added operator type named."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tflite_serenity import memory, optimize
from tflite_serenity.cli import main
from tflite_serenity.graph import build_graphs
from tflite_serenity.model import read_model
from tests.models import DATA, load

#: Models whose output comes from reordering, concat moves, slices and row strips.
STRIP_MODELS = ["irregular_int8.tflite", "darts_tiny_int8.tflite", "randwire_tiny_int8.tflite",
                "swiftnet_tiny_int8.tflite", "pad_crop_int8.tflite"]

_BUSY = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


@pytest.fixture
def loaded_machine():
    """Two CPU-bound processes beside the test, each ending by itself within a minute."""
    hogs = [subprocess.Popen([sys.executable, "-c", _BUSY.format(seconds=60)]) for _ in range(2)]
    time.sleep(0.2)
    yield
    for hog in hogs:
        hog.kill()
        hog.wait()


@pytest.mark.parametrize("name", STRIP_MODELS)
def test_a_short_time_limit_on_a_loaded_machine_gives_the_same_bytes(name, loaded_machine):
    data = load(name)
    assert optimize(data, time_limit=5).model == optimize(data).model


@pytest.mark.parametrize("name", STRIP_MODELS)
def test_optimizing_the_output_again_changes_nothing(name):
    once = optimize(load(name)).model
    assert optimize(once).model == once


@pytest.mark.parametrize("name", STRIP_MODELS + ["inplace_float.tflite", "irregular_float.tflite"])
def test_the_output_is_never_worse_than_the_input_without_shared_outputs(name):
    # LiteRT ignores the offline plan, so orders chosen for outputs written in
    # place must not raise the peak where every tensor has bytes of its own
    data = load(name)
    result = optimize(data)
    before = [memory.peak_bytes(g) for g in build_graphs(read_model(data))]
    after = [memory.peak_bytes(g) for g in build_graphs(read_model(result.model))]
    assert all(a <= b for a, b in zip(after, before))
    assert [s.peak_after for s in result.subgraphs] == after and [s.peak_before for s in result.subgraphs] == before


def test_rerunning_on_an_optimized_file_reports_it_unchanged(tmp_path, capsys):
    first, second = tmp_path / "a.tflite", tmp_path / "b.tflite"
    assert main([str(DATA / "inplace_float.tflite"), str(first), "--quiet"]) == 0
    capsys.readouterr()
    assert main([str(first), str(second), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "x lower" not in out and "unchanged:" in out
    assert first.read_bytes() == second.read_bytes()


def test_the_summary_names_the_operator_types_the_output_adds(tmp_path, capsys):
    out = tmp_path / "out.tflite"
    assert main([str(DATA / "irregular_int8.tflite"), str(out), "--quiet"]) == 0
    added = {op.kind for g in build_graphs(read_model(out.read_bytes())) for op in g.operators} - {
        op.kind for g in build_graphs(read_model(load("irregular_int8.tflite"))) for op in g.operators}
    assert added, "this model gains row strips"
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("new operator types"))
    assert all(kind in line for kind in added) and "MicroMutableOpResolver" in line


def test_the_result_lists_the_operator_types_the_output_adds():
    result = optimize(load("irregular_int8.tflite"))
    assert result.added_operators == ("STRIDED_SLICE",)
    assert optimize(result.model).added_operators == ()


def test_a_search_cut_by_the_time_limit_says_so():
    (sub,) = optimize(load("irregular_int8.tflite"), time_limit=0).subgraphs
    assert not sub.optimal and "time limit in scheduling" in sub.note


def test_a_proven_result_carries_no_time_limit_note():
    for name in STRIP_MODELS:
        for sub in optimize(load(name), time_limit=0).subgraphs:
            assert not (sub.optimal and "time limit" in sub.note), (name, sub.note)


def test_a_model_nothing_improves_comes_back_marked_unchanged():
    once = optimize(load("irregular_int8.tflite"))
    again = optimize(once.model)
    assert not once.unchanged and again.unchanged and again.model == once.model
