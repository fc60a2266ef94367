"""Everything the optimizer does not change passes through untouched."""

from __future__ import annotations

import pytest

from tflite_serenity import optimize
from tflite_serenity.graph import build_graphs, is_ordered
from tflite_serenity.model import read_model, to_plain
from tests.models import load

SPECIAL = ["custom_op_float.tflite", "while_float.tflite", "if_int8.tflite", "resource_variable_float.tflite",
           "stateful_lstm_float.tflite", "dynamic_float.tflite"]


def without_operators(tree) -> dict:
    plain = to_plain(tree)
    for sub in plain["subgraphs"]:
        sub["operators"] = sorted(map(repr, sub["operators"]))
    return plain


@pytest.mark.parametrize("name", SPECIAL)
def test_only_the_operator_order_changes(name):
    original = read_model(load(name))
    result = read_model(optimize(load(name), rewrite=False, arena_plan=False).model)
    assert without_operators(result) == without_operators(original)


@pytest.mark.parametrize("name", SPECIAL)
def test_signature_defs_and_metadata_survive(name):
    original = read_model(load(name))
    result = read_model(optimize(load(name)).model)
    assert to_plain(result.signatureDefs) == to_plain(original.signatureDefs)
    names = lambda tree: [m.name for m in tree.metadata or []]  # noqa: E731
    assert set(names(original)) <= set(names(result))


@pytest.mark.parametrize("name", SPECIAL)
def test_operators_with_effects_keep_their_relative_order(name):
    before = build_graphs(read_model(load(name)))
    after = build_graphs(read_model(optimize(load(name)).model))
    for g0, g1 in zip(before, after):
        def effects(g):
            return [(op.kind, op.outputs, op.inputs) for op in g.operators if is_ordered(op, g.tensors)]

        assert effects(g1) == effects(g0)


def test_dynamic_shapes_are_reported():
    from tflite_serenity import report

    (sub,) = report(load("dynamic_float.tflite"), tflm=False).subgraphs
    assert sub.dynamic_tensors > 0


@pytest.mark.parametrize("name", ["dynamic_float.tflite", "realworld_dynamic_batch.tflite"])
def test_a_dynamic_batch_alone_is_reported_as_the_batch_with_the_stored_size(name):
    from tflite_serenity.reporting import build_report, report_text

    report = build_report(load(name), tflm=False, arena=False)
    assert report.subgraphs[0].dynamic_batch == 1
    text = report_text(report, name=name)
    assert "only the batch dimension is dynamic" in text and "for batch 1" in text and "warning" not in text


def test_dynamic_dimensions_beyond_the_batch_get_a_warning():
    # Keras 3's LSTM: the WHILE body's TensorList items have shape_signature [-1, -1, -1]
    from tflite_serenity.reporting import build_report, report_text

    report = build_report(load("realworld_keras_lstm_float.tflite"), tflm=False, arena=False)
    body = next(s for s in report.subgraphs if s.dynamic_tensors)
    assert body.dynamic_batch is None
    assert "not only in the batch dimension" in report_text(report, name="lstm")


def test_input_file_is_never_modified(tmp_path):
    path = tmp_path / "in.tflite"
    path.write_bytes(load("darts_tiny_int8.tflite"))
    optimize(path).save(tmp_path / "out.tflite")
    assert path.read_bytes() == load("darts_tiny_int8.tflite")


def test_five_thousand_operators_are_read_scheduled_and_written(tmp_path):
    # made by the generator anyone can rerun (scripts/models/synthetic_model.py), too large to commit
    import subprocess
    import sys
    from pathlib import Path

    from tflite_serenity import memory

    path = tmp_path / "add_dag_5000.tflite"
    subprocess.run([sys.executable, "-m", "scripts.models.synthetic_model", str(path), "--operators", "5000"],
                   cwd=Path(__file__).resolve().parents[2], check=True, timeout=120)
    data = path.read_bytes()
    result = optimize(data, time_limit=2)
    (sub,) = result.subgraphs
    (graph,) = build_graphs(read_model(result.model))
    assert sub.operators == 5000 and memory.peak_bytes(graph) == sub.peak_after <= sub.peak_before
    assert memory.peak_bytes(graph, inplace=sub.inplace) == sub.peak_shared


def test_vela_model_passes_through_unchanged_and_says_why():
    # one ethos-u custom operator reading scratch tensors nothing writes, and Vela's own
    # offline plan, which lays the input and output inside that scratch on purpose
    data = load("realworld_vela.tflite")
    result = optimize(data)
    assert result.model == data
    (sub,) = result.subgraphs
    assert sub.peak_after == sub.peak_before and "Vela" in sub.note


def test_vela_model_reports_and_optimizes_on_the_command_line(tmp_path, capsys):
    from tflite_serenity.cli import main

    path = tmp_path / "vela.tflite"
    path.write_bytes(load("realworld_vela.tflite"))
    assert main(["report", str(path), "--no-tflm"]) == 0
    assert "scratch" in capsys.readouterr().out
    assert main([str(path), str(tmp_path / "out.tflite"), "--quiet"]) == 0
    assert (tmp_path / "out.tflite").read_bytes() == path.read_bytes()
