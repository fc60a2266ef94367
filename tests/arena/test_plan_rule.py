"""When the arena plan is written: on our figures where every kernel is
modelled, on TFLite Micro's measurement otherwise (child processes)."""

from __future__ import annotations

import pytest

from tflite_serenity.tflm.kernels import MODELLED, unmodelled_kernels
from tflite_serenity.arena.model_plan import PlanReason, plan_arena
from tflite_serenity.cli.optimize import arena_line as summary
from tflite_serenity.tflm.offline import read_offline_plan
from tflite_serenity.graph import Operator, Tensor, assemble_graph, build_graphs
from tflite_serenity.model import read_model, write_model
from tests.arena.test_model_plan_tflm import forced_plan
from tests.models import load, manifest, runs_in

pytest.importorskip("tflite_micro")
from tflite_serenity.verify import compare_models, measure_tflm_arena  # noqa: E402

SIGNAL_KERNELS = ("CUSTOM:SignalEnergy", "CUSTOM:SignalRfft", "CUSTOM:SignalWindow")


def tree(name):
    return read_model(load(name))


def unmodelled(name):
    return unmodelled_kernels(build_graphs(tree(name)))


def test_every_committed_model_tflite_micro_runs_is_modelled_but_the_signal_front_ends():
    # the table covers what the models here run, int16 paths included
    outside = {name: unmodelled(name) for name in manifest() if runs_in(name, "tflm")}
    assert {name: kernels for name, kernels in outside.items() if kernels} == {
        "signal_grow_int16.tflite": SIGNAL_KERNELS,
        "signal_shrink_int16.tflite": SIGNAL_KERNELS[:2],
    }
    assert {"INT16"} <= MODELLED["CONV_2D"] and "INT16" not in MODELLED["UNIDIRECTIONAL_SEQUENCE_LSTM"]


def test_a_kind_on_a_type_not_measured_is_not_modelled():
    tensors = [Tensor(i, name, (1, 4, 8), "INT16", False, False) for i, name in enumerate("xy")]
    graph = assemble_graph(0, "main", tensors, [Operator(0, "UNIDIRECTIONAL_SEQUENCE_LSTM", (0,), (1,))],
                           (0,), (1,))
    assert unmodelled_kernels([graph]) == ("UNIDIRECTIONAL_SEQUENCE_LSTM (INT16)",)


def test_a_plan_is_never_written_where_it_would_make_tflite_micros_measured_arena_larger():
    # SignalRfft's 512-byte scratch buffer is not modelled: our tight plan
    # leaves no gap for it, and TFLite Micro puts it on top
    data = load("signal_grow_int16.tflite")
    own = measure_tflm_arena(data)
    ours = measure_tflm_arena(forced_plan(read_model(data)))
    assert (own.head_bytes, ours.head_bytes) == (2656, 2768)
    out, figures = plan_arena(read_model(data))
    assert figures.tflm_with_plan == 2256 < figures.tflm_greedy == 2656  # our simulation would write it
    assert not figures.written and read_offline_plan(out) is None
    assert figures.reason is PlanReason.MEASURED_NOT_SMALLER
    assert (figures.measured.own_head, figures.measured.plan_head) == (2656, 2768)
    assert figures.head == 2656


def test_the_reason_is_given_when_not_written():
    _, figures = plan_arena(tree("signal_grow_int16.tflite"))
    assert figures.unmodelled == SIGNAL_KERNELS
    line = summary(figures)
    assert "not written" in line and "CUSTOM:SignalRfft" in line and "2,768 B" in line, line


def test_a_model_with_an_unmodelled_kernel_gets_its_plan_only_after_measurement():
    data = load("signal_shrink_int16.tflite")
    out, figures = plan_arena(read_model(data), measure=False)
    assert not figures.written and figures.reason is PlanReason.NOT_MEASURED and figures.measured is None
    assert "it was not measured" in summary(figures)
    out, figures = plan_arena(read_model(data))
    assert figures.written and figures.reason is PlanReason.MEASURED_SMALLER
    planned = write_model(out)
    comparison = compare_models(data, planned, runtime="tflm", trials=1)
    assert comparison.bit_identical, comparison.describe()
    assert comparison.original_tflm.head_bytes == figures.measured.own_head == 4688
    assert comparison.candidate_tflm.head_bytes == figures.measured.plan_head == 4160
    assert figures.measured.plan_total < figures.measured.own_total
    assert "written after measuring" in summary(figures)


def test_a_model_tflite_micro_cannot_load_keeps_no_plan_and_says_why():
    model = tree("signal_shrink_int16.tflite")
    for code in model.operatorCodes:
        if code.customCode in (b"SignalRfft", "SignalRfft"):
            code.customCode = "SignalRfftUnknown"  # no kernel registered under this name
    out, figures = plan_arena(model)
    assert not figures.written and read_offline_plan(out) is None
    assert figures.reason is PlanReason.NOT_MEASURABLE and figures.measured is None
    assert "registration" in figures.measure_error
    assert summary(figures).endswith("CUSTOM:SignalRfftUnknown are not modelled and TFLite Micro cannot "
                                     "measure the model")


def test_a_fully_modelled_model_is_decided_without_measuring():
    _, figures = plan_arena(tree("small_cnn_int16.tflite"))
    assert figures.written and figures.reason is PlanReason.MODELLED_SMALLER
    assert figures.unmodelled == () and figures.measured is None
