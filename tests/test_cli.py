"""The command line as a user meets it: real files, exit codes, one-line errors."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.models import DATA, load


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tflite_serenity", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_report_json_has_the_documented_keys():
    proc = run("report", DATA / "tiny_branch_float.tflite", "--json", "--no-tflm")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    (sub,) = report["subgraphs"]
    assert {"index", "operators", "peak_bytes", "lower_bound_bytes"} <= set(sub)
    assert (sub["index"], sub["operators"], sub["peak_bytes"], sub["lower_bound_bytes"]) == (0, 4, 4096, 4096)


@pytest.mark.parametrize("name", ["small_cnn_int8.tflite", "while_float.tflite"])
def test_report_measures_the_tflite_micro_arena(name):
    proc = run("report", DATA / name, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["tflm"]["total_bytes"] >= report["tflm"]["head_bytes"] > 0
    assert report["tflm"]["head_bytes"] >= report["subgraphs"][0]["peak_bytes"]


def test_report_estimates_the_arena_of_a_32_bit_device():
    # measured with TFLite Micro built for 32 bits: tail 5,372 B (x86-64: 7,712 B)
    proc = run("report", DATA / "swiftnet_tiny_int8.tflite", "--json")
    assert proc.returncode == 0, proc.stderr
    tflm = json.loads(proc.stdout)["tflm"]
    assert tflm["tail_32bit_bytes"] == pytest.approx(5372, rel=0.1)
    # the emulated Cortex-M4 and M55 needed 17,672 and 17,704 B (docs/device.md)
    assert 17704 <= tflm["device_bytes"] <= 17704 * 1.1 and tflm["device_kernels"] == "cmsis-nn-mve"
    assert "on a 32-bit Cortex-M with CMSIS-NN (estimated, with margin)" in run(
        "report", DATA / "swiftnet_tiny_int8.tflite").stdout


def test_report_says_what_the_tail_holds():
    proc = run("report", DATA / "swiftnet_tiny_int8.tflite", "--json")
    tflm = json.loads(proc.stdout)["tflm"]
    parts = {name: (size, count) for name, size, count in tflm["tail_32bit_parts"]}
    assert parts["nodes"][1] == parts["kernel data"][1] == 25 and parts["tensors"] == (12 * 62, 62)
    assert sum(size for size, _ in parts.values()) <= tflm["tail_32bit_bytes"]  # the rest: the interpreter's own
    assert [size for _, size, _ in tflm["tail_32bit_parts"]] == sorted(
        (size for _, size, _ in tflm["tail_32bit_parts"]), reverse=True)


def test_report_text_names_the_peak_and_the_bound():
    proc = run("report", DATA / "irregular_float.tflite", "--no-tflm")
    assert proc.returncode == 0
    assert "peak, stored order" in proc.stdout and "lower bound" in proc.stdout


def test_optimize_writes_the_model_and_prints_one_line_per_subgraph(tmp_path):
    out = tmp_path / "out.tflite"
    proc = run(DATA / "while_float.tflite", out)
    assert proc.returncode == 0, proc.stderr
    lines = [l for l in proc.stdout.splitlines() if l.startswith("subgraph")]
    assert len(lines) == 3 and all("optimal" in l for l in lines)
    assert out.read_bytes()[4:8] == b"TFL3"


def test_optimize_json_reports_peaks_and_status(tmp_path):
    proc = run(DATA / "irregular_int8.tflite", tmp_path / "o.tflite", "--json", "--no-strips")
    payload = json.loads(proc.stdout)
    (sub,) = payload["subgraphs"]
    assert sub["status"] == "optimal" and sub["peak_after"] < sub["peak_before"]


def test_optimize_refuses_to_overwrite_its_input(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(load("irregular_float.tflite"))
    proc = run(model, model)
    assert proc.returncode == 2
    assert "--in-place" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert model.read_bytes() == load("irregular_float.tflite")


def test_in_place_overwrites_the_input(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(load("irregular_float.tflite"))
    assert run(model, model, "--in-place").returncode == 0
    assert model.read_bytes() != load("irregular_float.tflite")


@pytest.mark.parametrize("content, message", [
    (b"", "only 0 bytes"),
    (b"hello world, this is text", "file identifier"),
    (os.urandom(64)[:4] + b"TFL3" + b"\xff" * 40, "TFLite"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_2(tmp_path, content, message):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(content)
    for args in (("report", bad), (bad, tmp_path / "out.tflite")):
        proc = run(*args)
        assert proc.returncode == 2
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
        assert message in proc.stderr
    assert not (tmp_path / "out.tflite").exists()


def test_truncated_model_is_rejected_without_output(tmp_path):
    data = load("small_cnn_float.tflite")
    bad = tmp_path / "cut.tflite"
    bad.write_bytes(data[: len(data) // 2])
    proc = run(bad, tmp_path / "out.tflite")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert not (tmp_path / "out.tflite").exists()
    assert bad.read_bytes() == data[: len(data) // 2]


def test_missing_file_is_one_line_and_exit_2(tmp_path):
    proc = run("report", tmp_path / "nope.tflite")
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_help_shows_the_optimize_options_and_every_command():
    proc = run("--help")
    assert proc.returncode == 0
    assert "--time-limit" in proc.stdout and "--no-arena-plan" in proc.stdout  # the main command's options
    assert all(f"python -m tflite_serenity {c}" in proc.stdout for c in ("[optimize] IN OUT", "report", "pipeline"))


def test_version_prints_the_package_version():
    import tflite_serenity

    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout == f"tflite-serenity {tflite_serenity.__version__}\n"


def test_no_arguments_print_the_commands_on_stderr_and_exit_2():
    proc = run()
    assert proc.returncode == 2 and proc.stdout == ""
    assert "[optimize] IN OUT" in proc.stderr and "pipeline" in proc.stderr


def test_optimize_named_writes_what_the_bare_form_writes(tmp_path):
    bare = run(DATA / "irregular_int8.tflite", tmp_path / "bare.tflite", "--quiet")
    named = run("optimize", DATA / "irregular_int8.tflite", tmp_path / "named.tflite", "--quiet")
    assert bare.returncode == named.returncode == 0, bare.stderr + named.stderr
    assert (tmp_path / "named.tflite").read_bytes() == (tmp_path / "bare.tflite").read_bytes()


@pytest.mark.parametrize("args", [
    ("report",),  # a missing argument
    ("report", DATA / "tiny_branch_float.tflite", "--no-such-flag"),
    ("optimize", DATA / "tiny_branch_float.tflite"),
    (DATA / "tiny_branch_float.tflite", "out.tflite", "--pointer-width", "16"),
    ("pipeline", DATA / "tiny_branch_float.tflite", "--out-dir", "d"),
    ("report", "no_such_model.tflite"),  # our own error, not argparse's
])
def test_every_error_is_one_line_with_one_prefix(args, tmp_path):
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("tflite_serenity: error: ")


@pytest.mark.skipif(importlib.util.find_spec("tflite_micro") is None, reason="tflite-micro is not installed")
def test_report_tflm_prints_the_arena_size_and_writes_the_header(tmp_path):
    proc = run("report", DATA / "transformer_tiny_int8.tflite", "--tflm", "--emit-header", tmp_path / "arena.h",
               "--target", "host")
    assert proc.returncode == 0, proc.stderr
    assert "arena_size for MicroInterpreter: 15,104 B (14.8 KiB) (measured)" in proc.stdout
    assert "constexpr size_t kTensorArenaSize = 15104;" in (tmp_path / "arena.h").read_text()


@pytest.mark.skipif(importlib.util.find_spec("tflite_micro") is None, reason="tflite-micro is not installed")
@pytest.mark.parametrize("name, operator", [("custom_op_float.tflite", "BesselI1e"),
                                            ("weight_only_float16.tflite", "DEQUANTIZE (operator 0)"),
                                            ("weight_only_hybrid.tflite", "CONV_2D (operator 0)")])
def test_report_tflm_json_gives_the_estimate_and_why_tflite_micro_cannot_load_the_model(name, operator):
    proc = run("report", DATA / name, "--tflm", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    size = report["tflm_arena_size"]
    assert not size["measured"] and size["arena_size"] >= size["needed"] > 0
    assert operator in size["tflm_error"] and operator in report["tflm_error"]


@pytest.mark.skipif(importlib.util.find_spec("tflite_micro") is None, reason="tflite-micro is not installed")
def test_report_tflm_text_says_the_size_is_estimated_and_why():
    proc = run("report", DATA / "weight_only_hybrid.tflite", "--tflm")
    assert proc.returncode == 0, proc.stderr
    assert "(estimated: TFLite Micro cannot load the model)" in proc.stdout
    assert "  why          CONV_2D (operator 0) failed to prepare: Hybrid models are not supported" in proc.stdout


@pytest.mark.skipif(importlib.util.find_spec("tflite_micro") is None, reason="tflite-micro is not installed")
def test_emit_header_refuses_a_model_tflite_micro_cannot_load_in_one_line(tmp_path):
    proc = run("report", DATA / "weight_only_float16.tflite", "--emit-header", tmp_path / "arena.h")
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert "no header written" in line and "DEQUANTIZE (operator 0)" in line and "--no-tflm" in line
    assert "=False" not in line and "=True" not in line and "measure" not in line
    assert not (tmp_path / "arena.h").exists()


def test_emit_header_with_no_tflm_writes_the_estimate(tmp_path):
    proc = run("report", DATA / "custom_op_float.tflite", "--no-tflm", "--emit-header", tmp_path / "arena.h",
               "--target", "host")
    assert proc.returncode == 0, proc.stderr
    assert "constexpr size_t kTensorArenaSize = 3024;" in (tmp_path / "arena.h").read_text()


def test_report_html_writes_one_page_and_keeps_stderr_clean(tmp_path):
    proc = run("report", DATA / "darts_tiny_float.tflite", "--no-tflm", "--html", tmp_path / "m.html", "--json")
    assert proc.returncode == 0 and proc.stderr == ""  # no progress line when stderr is not a terminal
    assert json.loads(proc.stdout)["written"] == [str(tmp_path / "m.html")]
    assert "<svg" in (tmp_path / "m.html").read_text(encoding="utf-8")


def test_report_html_draws_the_model_the_main_command_writes(tmp_path):
    # irregular_int8: 40 KiB as given, 28 KiB reordered alone, 18 KiB as written (a run in row strips)
    proc = run("report", DATA / "irregular_int8.tflite", "--no-tflm", "--html", tmp_path / "m.html")
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert "peak 40.0 KiB → 18.0 KiB" in page
    assert "as written by python -m tflite_serenity IN OUT with default options" in page
    assert "1 run in row strips" in page and "28.0 KiB" not in page


def test_report_plot_without_matplotlib_fails_in_one_line_before_any_work(tmp_path, monkeypatch, capsys):
    import importlib.util as util

    from tflite_serenity.cli import main

    real = util.find_spec
    monkeypatch.setattr(util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert main(["report", str(DATA / "small_cnn_float.tflite"), "--plot", str(tmp_path / "m.png")]) == 2
    err = capsys.readouterr().err
    assert "matplotlib" in err and "--html" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.png").exists()


@pytest.mark.parametrize("seconds", ["-1", "nan"])
def test_report_pictures_refuse_a_time_limit_below_zero_or_not_a_number(tmp_path, seconds):
    proc = run("report", DATA / "small_cnn_float.tflite", "--no-tflm", "--html", tmp_path / "m.html",
               "--time-limit", seconds)
    assert proc.returncode == 2 and "--time-limit" in proc.stderr


def test_a_reader_that_goes_away_gets_no_traceback(tmp_path):
    # `python -m tflite_serenity in out | head -1`: stdout closes before the summary is written
    proc = subprocess.Popen([sys.executable, "-m", "tflite_serenity", str(DATA / "small_cnn_int8.tflite"),
                             str(tmp_path / "o.tflite")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and b"Traceback" not in err
    assert (tmp_path / "o.tflite").read_bytes()[4:8] == b"TFL3"
