"""Overlaps for CMSIS-NN (``Target.kernels`` on a Cortex-M): what ran on the
device, and the rule that follows from it.

The runs below were made on emulated Cortex-M4 and Cortex-M55 cores with
TFLite Micro's CMSIS-NN build (versions and method in docs/device.md), each
at the smallest arena that runs it, against the unplanned or input model on
the same core with the same input bytes: the ``--overlap`` output of whole
models (:data:`DEVICE_RUNS`), and the int8 one-operator models of
``tests/arena/test_overlap_tflm.py`` plus a few more, their output pinned at
exactly the reference rule's shift (:data:`ONE_OPERATOR_RUNS`). Only the
results are kept here; the build is not part of this project.
"""

from __future__ import annotations

import pytest

from tflite_serenity import optimize
from tflite_serenity.arena.overlap import cmsis_nn_verified, library_verified, overlap_pairs
from tflite_serenity.model import read_model
from tflite_serenity.model_version import graphs_of
from tflite_serenity.options import Target
from tflite_serenity.tflm.buffers import model_buffers
from tests.models import load

#: (model, which overlaps, overlapping operators as (kind, filter height, width),
#:  bit-identical on the Cortex-M4, on the Cortex-M55).
#: "reference": the whole rule (a 64-bit target); "cmsis-nn": the rule for a
#: Cortex-M. "isolated 1x1" / "without 1x1": the reference plan re-placed with only
#: / without the CONV_2D 1x1 pairs. Filters are (h, w); pools give their window.
DEVICE_RUNS = [
    ("per_pixel_int8", "reference", {("CONV_2D", 3, 3), ("ADD", 0, 0)}, True, True),
    ("rewrite_pool_int8", "reference", {("AVERAGE_POOL_2D", 2, 2), ("MAX_POOL_2D", 2, 2), ("ADD", 0, 0)}, True, True),
    ("randwire_tiny_int8", "reference", {("CONV_2D", 1, 1), ("CONV_2D", 3, 3), ("DEPTHWISE_CONV_2D", 3, 3),
                                         ("ADD", 0, 0), ("MUL", 0, 0)}, False, False),
    ("randwire_tiny_int8", "cmsis-nn", {("CONV_2D", 3, 3), ("DEPTHWISE_CONV_2D", 3, 3), ("ADD", 0, 0),
                                        ("MUL", 0, 0)}, True, True),
    ("person_detection_int8", "reference", {("CONV_2D", 1, 1), ("DEPTHWISE_CONV_2D", 3, 3)}, False, False),
    ("person_detection_int8", "isolated 1x1", {("CONV_2D", 1, 1)}, False, False),
    ("person_detection_int8", "without 1x1", {("DEPTHWISE_CONV_2D", 3, 3)}, True, True),
    ("mobilenetv2_224_int8", "reference", {("CONV_2D", 1, 1), ("CONV_2D", 3, 3), ("DEPTHWISE_CONV_2D", 3, 3),
                                           ("ADD", 0, 0)}, False, False),
    ("mobilenetv2_224_int8", "isolated 1x1", {("CONV_2D", 1, 1)}, False, False),
    ("mobilenetv2_224_int8", "cmsis-nn", {("CONV_2D", 3, 3), ("DEPTHWISE_CONV_2D", 3, 3), ("ADD", 0, 0)}, True, True),
    ("densenet121_int8", "reference", {("CONV_2D", 1, 1), ("CONV_2D", 3, 3), ("CONV_2D", 7, 7),
                                       ("AVERAGE_POOL_2D", 2, 2), ("MAX_POOL_2D", 3, 3), ("ADD", 0, 0), ("MUL", 0, 0),
                                       ("PAD", 0, 0)}, False, False),
    ("densenet121_int8", "isolated 1x1", {("CONV_2D", 1, 1)}, False, False),
    ("densenet121_int8", "without 1x1", {("CONV_2D", 7, 7), ("MAX_POOL_2D", 3, 3), ("ADD", 0, 0), ("MUL", 0, 0),
                                         ("PAD", 0, 0)}, True, True),
    ("densenet121_int8", "cmsis-nn", {("ADD", 0, 0), ("MUL", 0, 0), ("PAD", 0, 0)}, True, True),
]


#: (case label as ``overlap_cases.Case.label``, the rule's shift in bytes,
#:  bit-identical on the Cortex-M4, on the Cortex-M55).
ONE_OPERATOR_RUNS = [
    ("conv-int8-1x7x6x3-k3s1d1-SAME-c4", -65, True, True),
    ("conv-int8-1x6x5x4-k1s1d1-SAME-c4", -3, False, False),
    ("conv-int8-1x8x7x3-k3s2d1-VALID-c5", -4, True, True),
    ("conv-int8-2x7x6x3-k3s1d2-SAME-c4", -128, True, True),
    ("depthwise-int8-1x7x6x3-k3s1d1-SAME-c1", -21, True, True),
    ("depthwise-int8-1x8x7x4-k3s1d2-VALID-c1", 0, True, True),
    ("avgpool-int8-1x7x6x3-k2s2d1-SAME-c1", 0, True, True),
    ("maxpool-int8-1x7x6x3-k3s2d1-VALID-c1", 0, True, True),
    ("add-int8-1x5x6x3-k1s1d1-SAME-c1-o1x5x6x3", 0, True, True),
    ("mul-int8-1x5x6x3-k1s1d1-SAME-c1-o1x5x1x3", 0, True, True),
    ("sub-int8-1x5x6x3-k1s1d1-SAME-c1-o1x5x6x3", 0, True, True),
    ("pad-int8-1x6x5x3-k1s1d1-SAME-c1", -54, True, True),
    ("pad-int8-2x5x5x2-k2s0d3-SAME-c0", -118, True, True),
    ("fc-int8-2x12-k1s1d1-SAME-c5", -4, True, True),
    ("depthwise-int8-2x4x3x3-k2s2d1-SAME-c2", -3, True, True),
    ("depthwise-int8-1x5x8x3-k1s1d1-VALID-c1", 0, True, True),
    ("depthwise-int8-1x4x5x2-k1s2d1-VALID-c2", -2, True, True),
    ("sub-int8-1x7x3x1-k1s1d1-SAME-c1-o1x7x3x1", 0, True, True),
    ("mul-int8-2x5x4x2-k1s1d1-SAME-c1-o1x1x4x2", 0, True, True),
    ("depthwise-int8-1x2x5x2-k1s1d1-VALID-c1", 0, True, True),
    ("sub-int8-2x7x6x2-k1s1d1-SAME-c1-o2x1x6x2", 0, True, True),
    ("sub-int8-2x4x7x4-k1s1d1-SAME-c1-o1x4x1x4", 0, True, True),
    ("depthwise-int8-2x8x3x1-k1s2d1-SAME-c2", -1, True, True),
    ("mul-int8-1x1x8x2-k1s1d1-SAME-c1-o1x1x8x1", 0, True, True),
    ("conv-int8-2x2x3x1-k2s2d1-SAME-c3", -3, True, True),
    ("conv-int8-2x8x8x3-k3s1d2-SAME-c4", -184, True, True),
    ("sub-int8-2x5x6x2-k1s1d1-SAME-c1-o1x5x6x2", 0, True, True),
    ("conv-int8-2x4x2x2-k2s1d1-VALID-c3", -2, True, True),
    ("depthwise-int8-2x2x5x4-k1s1d2-VALID-c2", -80, True, True),
    ("mul-int8-1x6x5x3-k1s1d1-SAME-c1-o1x6x5x1", 0, True, True),
    ("conv-int8-1x8x2x3-k1s1d1-SAME-c4", -18, False, False),
    ("conv-int8-2x6x8x4-k2s2d1-SAME-c2", -1, True, True),
    ("depthwise-int8-2x4x8x2-k2s2d1-VALID-c2", -2, True, True),
    ("avgpool-int8-1x4x4x2-k3s1d1-VALID-c1", 0, True, True),
    ("sub-int8-2x6x6x3-k1s1d1-SAME-c1-o1x1x1x1", 0, True, True),
    ("conv-int8-1x6x5x8-k1s1d1-SAME-c8", -7, False, False),
    ("conv-int8-1x8x8x4-k1s2d1-VALID-c8", -7, False, False),
    ("conv-int8-1x7x6x4-k5s1d1-SAME-c4", -59, True, True),
    ("conv-int8-1x9x9x8-k3s1d1-SAME-c16", -735, True, True),
    ("depthwise-int8-1x9x8x8-k5s1d1-SAME-c1", -144, True, True),
    ("depthwise-int8-1x7x6x4-k3s1d1-SAME-c2", -196, True, True),
    ("depthwise-int8-1x9x8x16-k3s1d1-SAME-c1", -144, True, True),
    ("depthwise-int8-1x9x8x16-k3s2d1-SAME-c1", 0, True, True),
    ("avgpool-int8-1x8x8x16-k3s1d1-SAME-c1", -144, True, True),
    ("maxpool-int8-1x8x8x16-k3s1d1-SAME-c1", -144, True, True),
    ("avgpool-int8-1x8x8x16-k2s2d1-VALID-c1", 0, True, True),
    # STRIDED_SLICE (a positive shift: the output starts inside its input; the slice's rows in place)
    ("slice-int8-1x9x4x2-k1s0d2-SAME-c0", 8, True, True),
    ("slice-int8-1x10x4x3-k2s1d3-SAME-c0", 24, True, True),
    # SLICE, run with a harness that registers it (docs/device.md); one element
    # more than the rule's shift corrupted the output of each on both cores
    ("unitslice-int8-1x9x4x2-k1s0d1-SAME-c0", 8, True, True),
    ("unitslice-int8-1x10x4x3-k2s1d1-SAME-c1", 27, True, True),
    ("unitslice-int8-1x12x6x8-k3s2d1-SAME-c1", 152, True, True),
]

_KINDS = {"conv": "CONV_2D", "depthwise": "DEPTHWISE_CONV_2D", "avgpool": "AVERAGE_POOL_2D",
          "maxpool": "MAX_POOL_2D", "add": "ADD", "sub": "SUB", "mul": "MUL", "fc": "FULLY_CONNECTED", "pad": "PAD",
          "slice": "STRIDED_SLICE", "unitslice": "SLICE"}


def _allowed(kind: str, h: int, w: int) -> bool:
    return cmsis_nn_verified(kind, "INT8", (h, w) if kind == "CONV_2D" else None)


@pytest.mark.parametrize("run", DEVICE_RUNS, ids=lambda r: f"{r[0]}-{r[1]}")
def test_cmsis_nn_rule_allows_a_device_run_exactly_where_it_was_bit_identical(run):
    _, _, kinds, m4, m55 = run
    assert m4 == m55  # the two cores agreed on every run
    assert all(_allowed(*k) for k in kinds) == m4


@pytest.mark.parametrize("run", ONE_OPERATOR_RUNS, ids=lambda r: r[0])
def test_cmsis_nn_rule_allows_a_one_operator_run_exactly_where_it_was_bit_identical(run):
    label, _, m4, m55 = run
    kind, size = _KINDS[label.split("-")[0]], int(label.split("-k")[1].split("s")[0])
    assert m4 == m55
    assert _allowed(kind, size, size) == m4


def test_every_kind_with_a_rule_ran_on_the_device_with_int8():
    from tflite_serenity.arena.overlap import KINDS

    ran = {_KINDS[r[0].split("-")[0]] for r in ONE_OPERATOR_RUNS}
    assert ran == set(KINDS)
    # the rule's shift overlaps in every run that kept it (it was not a run without overlap):
    # the output starts at or below its input's start, or a slice's inside it
    assert all(shift <= 0 or label.startswith(("slice", "unitslice")) for label, shift, _, _ in ONE_OPERATOR_RUNS)


def _pair_kinds(name: str, kernels: tuple[str, ...]) -> list[tuple[str, tuple[int, ...]]]:
    tree = read_model(load(name))
    graphs = graphs_of(tree)
    buffers = model_buffers(graphs)
    producer = {t: op for op in graphs[0].operators for t in op.outputs}
    kinds = []
    for p in overlap_pairs(tree, buffers, graphs=graphs, kernels=kernels):
        op = producer[buffers.buffers[p.output].tensor]
        filt = graphs[0].tensors[op.inputs[1]].shape if op.kind == "CONV_2D" else ()
        kinds.append((op.kind, tuple(filt[1:3])))
    return kinds


def test_cmsis_nn_leaves_out_exactly_the_int8_one_by_one_convolutions():
    reference = _pair_kinds("randwire_tiny_int8.tflite", Target(pointer_width=64).kernels)
    cmsis = _pair_kinds("randwire_tiny_int8.tflite", Target().kernels)
    left_out = list(reference)
    for k in cmsis:
        left_out.remove(k)
    assert left_out and set(left_out) == {("CONV_2D", (1, 1))}
    assert ("CONV_2D", (3, 3)) in cmsis


def test_cmsis_nn_keeps_every_float_overlap():
    # float32 operators run TFLite Micro's reference kernels in the CMSIS-NN build
    reference = _pair_kinds("randwire_tiny_float.tflite", ("reference",))
    assert ("CONV_2D", (1, 1)) in reference
    assert _pair_kinds("randwire_tiny_float.tflite", Target().kernels) == reference


@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m55"])
def test_each_cortex_m_core_leaves_out_the_one_by_one_convolutions(core):
    assert _pair_kinds("randwire_tiny_int8.tflite", Target(core=core).kernels) == \
        _pair_kinds("randwire_tiny_int8.tflite", Target().kernels)


def test_a_library_that_was_not_run_gets_no_overlap():
    from tflite_serenity.model_version import graphs_of as graphs

    graph = graphs(read_model(load("per_pixel_int8.tflite")))[0]
    op = next(o for o in graph.operators if o.kind == "ADD")
    assert library_verified("reference", graph, op) and library_verified("cmsis-nn-mve", graph, op)
    assert not library_verified("esp-nn", graph, op)


def test_overlap_for_cmsis_nn_runs_bit_identical_in_tflite_micro_with_fewer_overlaps():
    pytest.importorskip("tflite_micro")
    from tflite_serenity.verify import compare_models

    data = load("randwire_tiny_int8.tflite")
    cmsis = optimize(data, overlap=True, time_limit=5)
    reference = optimize(data, overlap=True, time_limit=5, target=Target(pointer_width=64))
    assert 0 < cmsis.arena.overlapping < reference.arena.overlapping
    comparison = compare_models(data, cmsis.model, runtime="tflm", trials=2)
    assert comparison.bit_identical, comparison.describe()
