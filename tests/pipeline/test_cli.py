"""The pipeline command: writes chained segments, prints costs against the baseline."""

from __future__ import annotations

import json

import pytest

from tflite_serenity.cli import COMMANDS, main
from tests.pipeline.problems import DATA

MODEL = DATA / "irregular_int8.tflite"


@pytest.fixture
def model_path():
    if not MODEL.is_file():
        pytest.skip(f"{MODEL} is missing")
    return str(MODEL)


def test_pipeline_is_a_registered_command():
    assert "pipeline" in COMMANDS


def test_pipeline_writes_k_segments_and_prints_each(model_path, tmp_path, capsys):
    assert main(["pipeline", model_path, "--segments", "3", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"irregular_int8_segment_{i}_of_3.tflite" for i in range(3)]
    assert "exact (CP-SAT), optimal" in out
    assert "param-count split" in out and "inferences/s" in out
    assert sum(line.strip().startswith(("0 ", "1 ", "2 ")) for line in out.splitlines()) == 3


def test_pipeline_json_chains_tensor_names(model_path, tmp_path, capsys):
    argv = ["pipeline", model_path, "-k", "2", "--out-dir", str(tmp_path), "--json", "--solver", "contiguous",
            "--link", "pcie", "--cache-mib", "0.001"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    first, second = report["split"]["segments"]
    assert first["outputs"] == second["inputs"]
    assert report["device"]["link_bytes_per_s"] == 400e6 and report["split"]["method"] == "contiguous"
    assert not first["cached"] and first["streamed_bytes"] == first["param_bytes"] - 1048
    assert report["speedup_vs_param_count"] >= 1.0


def test_pipeline_verify_checks_the_chain_in_litert(model_path, tmp_path, capsys):
    pytest.importorskip("ai_edge_litert")
    assert main(["pipeline", model_path, "-k", "2", "--out-dir", str(tmp_path), "--verify"]) == 0
    assert "bit-identical outputs in LiteRT" in capsys.readouterr().out


def test_pipeline_with_more_segments_than_operators_fails_in_one_line(model_path, tmp_path, capsys):
    assert main(["pipeline", model_path, "-k", "99", "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "non-empty segments" in err
    assert not any(tmp_path.iterdir())


def test_pipeline_refuses_control_flow_in_one_line(tmp_path, capsys):
    path = DATA / "while_float.tflite"
    if not path.is_file():
        pytest.skip("while_float.tflite is missing")
    assert main(["pipeline", str(path), "-k", "2", "--out-dir", str(tmp_path)]) == 2
    assert "without control flow" in capsys.readouterr().err


def test_pipeline_warns_in_one_line_that_a_float_model_cannot_run_on_the_edge_tpu_and_still_splits(tmp_path, capsys):
    assert main(["pipeline", str(DATA / "irregular_float.tflite"), "-k", "2", "--out-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("tflite_serenity: warning: irregular_float.tflite: 12 of 12 operators compute in float")
    assert "int8" in line and len(list(tmp_path.iterdir())) == 2 and "wrote" in captured.out


def test_pipeline_gives_an_int8_model_no_warning(model_path, tmp_path, capsys):
    assert main(["pipeline", model_path, "-k", "2", "--out-dir", str(tmp_path), "--solver", "contiguous"]) == 0
    assert capsys.readouterr().err == ""


def test_pipeline_refuses_an_out_dir_whose_parent_does_not_exist_before_any_work(model_path, tmp_path, capsys):
    out_dir = tmp_path / "missing" / "segments"
    assert main(["pipeline", model_path, "-k", "2", "--out-dir", str(out_dir)]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith(f"tflite_serenity: error: {out_dir}: cannot create the output directory")
    assert captured.out == "" and not (tmp_path / "missing").exists()


def test_pipeline_makes_an_out_dir_whose_parent_exists(model_path, tmp_path):
    assert main(["pipeline", model_path, "-k", "2", "--out-dir", str(tmp_path / "segments"), "--solver", "contiguous"]) == 0
    assert len(list((tmp_path / "segments").iterdir())) == 2


def test_float_operators_leave_out_the_quantize_and_dequantize_at_an_int8_models_edges():
    from tflite_serenity.graph import Operator, Tensor, assemble_graph
    from tflite_serenity.edgetpu.device import float_operators

    tensors = [Tensor(0, "x", (1, 4), "FLOAT32", False, False), Tensor(1, "q", (1, 4), "INT8", False, False),
               Tensor(2, "r", (1, 4), "INT8", False, False), Tensor(3, "y", (1, 4), "FLOAT32", False, False)]
    ops = [Operator(0, "QUANTIZE", (0,), (1,)), Operator(1, "RELU", (1,), (2,)), Operator(2, "DEQUANTIZE", (2,), (3,))]
    graph = assemble_graph(0, "main", tensors, ops, (0,), (3,))
    assert float_operators(graph) == ()
    float_relu = [ops[0], Operator(1, "RELU", (1,), (3,))]
    assert float_operators(assemble_graph(0, "main", tensors, float_relu, (0,), (3,))) == (1,)
