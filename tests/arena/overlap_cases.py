"""One-operator models for the overlap rule, made by the TFLite converter, and
a batch runner that runs many of them in one TFLite Micro child process.

A case names an operator, a type and its shapes; :func:`make_case` converts
it with ``tf.lite.TFLiteConverter`` (float32, or full int8 with int8 input
and output). :func:`overlapped` writes an offline plan that pins the
operator's input and output ``shift`` bytes apart (output start minus input
start), bypassing :func:`check_offline_plan`, which rightly refuses any
overlap of live tensors.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from dataclasses import dataclass

import numpy as np

from tflite_serenity.tflm.offline import METADATA_NAME, encode_offline_plan
from tflite_serenity.arena.overlap import operator_overlaps
from tflite_serenity.graph import build_graphs
from tflite_serenity.model import read_model, with_metadata, without_metadata, write_model

ONLINE = -1


@dataclass(frozen=True)
class Case:
    """A one-operator model: ``kind`` in conv, depthwise, avgpool, maxpool,
    add, sub, mul, fc, pad, slice (STRIDED_SLICE), unitslice (SLICE); ``shape`` the main input; ``other`` the second
    input of add/sub/mul (broadcast allowed)."""

    kind: str
    int8: bool
    shape: tuple[int, ...]
    kernel: int = 1
    stride: int = 1
    padding: str = "SAME"
    dilation: int = 1
    channels: int = 1  # conv filters, depthwise multiplier, fc units
    other: tuple[int, ...] = ()

    def label(self) -> str:
        dtype = "int8" if self.int8 else "float"
        return (f"{self.kind}-{dtype}-{'x'.join(map(str, self.shape))}-k{self.kernel}s{self.stride}"
                f"d{self.dilation}-{self.padding}-c{self.channels}" + (f"-o{'x'.join(map(str, self.other))}"
                                                                     if self.other else ""))


def _function(case: Case, rng: np.random.Generator):
    import tensorflow as tf

    c = case.shape[-1]
    strides = [1, case.stride, case.stride, 1]
    dil = [case.dilation, case.dilation]
    if case.kind == "conv":
        w = tf.constant(rng.standard_normal((case.kernel, case.kernel, c, case.channels)).astype(np.float32))
        b = tf.constant(rng.standard_normal(case.channels).astype(np.float32))
        return lambda x: tf.nn.conv2d(x, w, strides, case.padding, dilations=dil) + b
    if case.kind == "depthwise":
        w = tf.constant(rng.standard_normal((case.kernel, case.kernel, c, case.channels)).astype(np.float32))
        b = tf.constant(rng.standard_normal(c * case.channels).astype(np.float32))
        return lambda x: tf.nn.depthwise_conv2d(x, w, strides, case.padding, dilations=dil) + b
    if case.kind == "avgpool":
        return lambda x: tf.nn.avg_pool2d(x, case.kernel, case.stride, case.padding)
    if case.kind == "maxpool":
        return lambda x: tf.nn.max_pool2d(x, case.kernel, case.stride, case.padding)
    if case.kind == "fc":
        w = tf.constant(rng.standard_normal((c, case.channels)).astype(np.float32))
        b = tf.constant(rng.standard_normal(case.channels).astype(np.float32))
        return lambda x: tf.matmul(x, w) + b
    if case.kind == "add":
        return lambda x, y: x + y
    if case.kind == "mul":
        return lambda x, y: x * y
    if case.kind == "pad":  # kernel = rows above, stride = rows below, channels = columns left
        pads = [[0, 0], [case.kernel, case.stride], [case.channels, case.dilation], [0, 0]]
        return lambda x: tf.pad(x, pads)
    # kernel = rows cut above, stride = below, channels = columns left, dilation = the row step
    # (at least 2: the converter makes a SLICE of a slice with unit steps)
    if case.kind == "slice":
        h, w = case.shape[1], case.shape[2]
        return lambda x: tf.strided_slice(x, [0, case.kernel, case.channels, 0], [case.shape[0], h - case.stride, w, c],
                                          [1, case.dilation, 1, 1])
    # kernel = rows cut above, stride = below, channels = columns left (SLICE: unit steps)
    if case.kind == "unitslice":
        h, w = case.shape[1], case.shape[2]
        return lambda x: tf.slice(x, [0, case.kernel, case.channels, 0],
                                  [case.shape[0], h - case.kernel - case.stride, w - case.channels, c])
    if case.kind == "sub":
        return lambda x, y: x - y
    raise ValueError(case.kind)


def make_case(case: Case, seed: int = 0) -> bytes:
    """The converted model of a case."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    specs = [tf.TensorSpec(case.shape)] + ([tf.TensorSpec(case.other)] if case.other else [])
    fn = tf.function(_function(case, rng)).get_concrete_function(*specs)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn])
    if case.int8:
        shapes = [case.shape] + ([case.other] if case.other else [])
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (
            [rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(8))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def inputs_for(model: bytes, seed: int = 1) -> list[np.ndarray]:
    """Random inputs over the whole range of each input's type."""
    from tflite_serenity.model.signature import random_inputs

    return random_inputs(model, seed=seed)


def overlapped(model: bytes, tensor: int, shift: int) -> bytes:
    """The model with an offline plan putting operator 0's output ``shift``
    bytes after the start of its input ``tensor``; every other tensor online."""
    m = read_model(model)
    graph = build_graphs(m)[0]
    op = graph.operators[0]
    if len(graph.operators) != 1:
        raise ValueError(f"expected one operator, got {[o.kind for o in graph.operators]}")
    offsets = [ONLINE] * len(graph.tensors)
    offsets[tensor] = max(0, -shift)
    offsets[op.outputs[0]] = max(0, shift)
    m = with_metadata(without_metadata(m, METADATA_NAME), METADATA_NAME, encode_offline_plan(offsets))
    return write_model(m)


def only_overlaps(model: bytes):
    """The rule's overlaps of the model's single operator."""
    m = read_model(model)
    graph = build_graphs(m)[0]
    if len(graph.operators) != 1:
        raise ValueError(f"expected one operator, got {[o.kind for o in graph.operators]}")
    return operator_overlaps(m, graph, 0)


def output_shape(model: bytes) -> tuple[int, ...]:
    """The shape of the model's single operator's output."""
    graph = build_graphs(read_model(model))[0]
    return graph.tensors[graph.operators[0].outputs[0]].shape


_CHILD = r"""
import pickle, sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
jobs = pickle.load(open(sys.argv[1], "rb"))
results = []
for model, inputs in jobs:
    try:
        it = runtime.Interpreter.from_bytes(model, arena_size=1 << 20)
        for i, x in enumerate(inputs):
            it.set_input(x, i)
        it.invoke()
        results.append(np.array(it.get_output(0), copy=True))
    except Exception as err:
        results.append(f"{type(err).__name__}: {err}")
pickle.dump(results, open(sys.argv[2], "wb"))
"""


def run_batch(jobs: list[tuple[bytes, list[np.ndarray]]], timeout: float = 120) -> list:
    """Output 0 of each (model, inputs) in TFLite Micro, all in one child
    process; an error string where a run failed."""
    with tempfile.TemporaryDirectory() as work:
        request, answer = os.path.join(work, "jobs.pkl"), os.path.join(work, "out.pkl")
        with open(request, "wb") as f:
            pickle.dump(jobs, f)
        proc = subprocess.run([sys.executable, "-c", _CHILD, request, answer], capture_output=True,
                              timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"TFLite Micro child failed ({proc.returncode}): {proc.stderr[-2000:]!r}")
        with open(answer, "rb") as f:
            return pickle.load(f)
