"""The arena plan as the commands show it: the optimize summary and the report."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tflite_serenity.tflm.offline import read_offline_plan
from tflite_serenity.model import read_model
from tests.models import DATA


def run(*args):
    return subprocess.run([sys.executable, "-m", "tflite_serenity", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_optimize_writes_the_plan_and_names_the_arena(tmp_path):
    out = tmp_path / "out.tflite"
    # without strips or overlaps. The plan leaves room above the depthwise
    # convolution's tensors for CMSIS-NN's MVE scratch buffer (4,464 B), so it
    # stops at 7,168 B with the reference kernels, not at the 6,144 B bound.
    proc = run(DATA / "small_cnn_int8.tflite", out, "--no-strips", "--no-overlap")
    assert proc.returncode == 0, proc.stderr
    assert "arena: 7,168 B (7.0 KiB) with our plan (lower bound 6,144 B (6.0 KiB), +16.7%); " \
        "TFLite Micro's own plan 8,192 B" in proc.stdout
    assert read_offline_plan(read_model(out.read_bytes())) is not None


def test_no_arena_plan_writes_none(tmp_path):
    out = tmp_path / "out.tflite"
    proc = run(DATA / "small_cnn_int8.tflite", out, "--no-arena-plan", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["arena"] is None
    assert read_offline_plan(read_model(out.read_bytes())) is None


def test_report_shows_the_bound_our_plan_and_tflite_micros_own():
    pytest.importorskip("tflite_micro")
    proc = run("report", DATA / "small_cnn_int8.tflite", "--json")
    assert proc.returncode == 0, proc.stderr
    arena = json.loads(proc.stdout)["arena"]
    # the plan leaves room for CMSIS-NN's MVE depthwise scratch (as the main command's does)
    assert (arena["lower_bound_bytes"], arena["planned_bytes"], arena["tflm_greedy_bytes"]) == (6144, 7168, 8192)
    assert (arena["measured_greedy_bytes"], arena["measured_with_plan_bytes"]) == (8192, 7168)
    text = run("report", DATA / "small_cnn_int8.tflite").stdout
    assert "our plan                 7,168 B (7.0 KiB)  (1.17x the bound)\n" in text
    assert "TFLite Micro greedy      8,192 B (8.0 KiB)  (1.33x the bound), simulated, measured 8,192 B" in text
