"""The Python API as used in a notebook right after the converter."""

from __future__ import annotations

import numpy as np
import pytest

import tflite_serenity
from tests.models import DATA, load


def test_optimize_accepts_bytes_and_paths_alike():
    from_bytes = tflite_serenity.optimize(load("irregular_float.tflite"))
    from_path = tflite_serenity.optimize(DATA / "irregular_float.tflite")
    assert from_bytes.model == from_path.model
    (sub,) = from_path.subgraphs
    assert (sub.peak_before, sub.peak_after, sub.status) == (163840, 114688, "optimal")


def test_result_saves_the_model_whole(tmp_path):
    result = tflite_serenity.optimize(load("small_cnn_int8.tflite"))
    result.save(tmp_path / "out.tflite")
    assert (tmp_path / "out.tflite").read_bytes() == result.model
    assert [p.name for p in tmp_path.iterdir()] == ["out.tflite"]


def test_report_gives_the_figures_of_each_subgraph():
    report = tflite_serenity.report(DATA / "while_float.tflite", tflm=False)
    assert [s.index for s in report.subgraphs] == [0, 1, 2]
    assert all(s.peak_bytes >= s.lower_bound_bytes for s in report.subgraphs)


def test_bad_model_raises_our_error():
    with pytest.raises(tflite_serenity.ModelFormatError):
        tflite_serenity.optimize(b"not a model at all")


def test_convert_optimizes_converter_output_with_the_same_outputs():
    tf = pytest.importorskip("tensorflow")
    from tflite_serenity.verify import run_litert

    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((16, 16, 4), batch_size=1)
    branches = [tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs) for _ in range(3)]
    merged = tf.keras.layers.Concatenate()([tf.keras.layers.Conv2D(4, 1)(b) for b in branches])
    model = tf.keras.Model(inputs, tf.keras.layers.Conv2D(8, 1)(merged))
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    plain = converter.convert()
    result = tflite_serenity.convert(tf.lite.TFLiteConverter.from_keras_model(model))
    assert result.subgraphs[0].peak_after <= result.subgraphs[0].peak_before
    x = np.random.default_rng(0).standard_normal((1, 16, 16, 4), dtype=np.float32)
    (expected,), (actual,) = run_litert(plain, [x]), run_litert(result.model, [x])
    assert np.array_equal(expected, actual)


def test_convert_refuses_what_is_not_a_converter():
    with pytest.raises(tflite_serenity.SerenityError, match="converter"):
        tflite_serenity.convert(object())


def test_orders_count_in_place_outputs_only_where_the_arena_plan_makes_them_real():
    data = load("inplace_float.tflite")
    map_bytes = 16 * 16 * 16 * 4
    (planned,) = tflite_serenity.optimize(data).subgraphs
    assert planned.inplace and planned.peak_before == planned.peak_after == 3 * map_bytes
    assert planned.peak_shared == 2 * map_bytes + 64  # two maps, and the 16-float scale at the MUL
    (plain,) = tflite_serenity.optimize(data, arena_plan=False).subgraphs
    assert not plain.inplace and plain.peak_after == plain.peak_shared == 3 * map_bytes


def test_shared_outputs_can_be_turned_off_while_the_arena_is_still_planned():
    from tflite_serenity.tflm.offline import read_offline_plan
    from tflite_serenity.graph import build_graphs
    from tflite_serenity.model import read_model

    result = tflite_serenity.optimize(load("inplace_float.tflite"), shared_outputs=False)
    (sub,) = result.subgraphs
    assert not sub.inplace and sub.peak_after == 3 * 16 * 16 * 16 * 4
    model = read_model(result.model)
    plan = read_offline_plan(model)
    if plan is not None:
        add = next(op for op in build_graphs(model)[0].operators if op.kind == "ADD")
        assert plan.offsets[add.outputs[0]] != plan.offsets[add.inputs[0]]


def test_without_a_written_plan_no_peak_counts_shared_outputs():
    # irregular_float has an ADD that could write in place, but TFLite Micro's
    # own plan of the best order is already at the bound: no plan is written,
    # so the plain orders and figures are kept (overlaps would lower it: off here)
    result = tflite_serenity.optimize(load("irregular_float.tflite"), overlap=False)
    (sub,) = result.subgraphs
    assert not result.arena.written
    assert not sub.inplace and sub.inplace_outputs == 0 and sub.peak_after == 114688


def _packages():
    import pkgutil

    yield "tflite_serenity"
    for info in pkgutil.walk_packages(tflite_serenity.__path__, "tflite_serenity."):
        if info.ispkg:
            yield info.name


@pytest.mark.parametrize("package", sorted(_packages()))
def test_star_import_of_every_package_gives_every_name_of_its_all(package):
    namespace: dict = {}
    exec(f"from {package} import *", namespace)  # raises if __all__ names something the package lacks
    module = __import__(package, fromlist=["__all__"])
    assert set(getattr(module, "__all__", ())) <= set(namespace)
