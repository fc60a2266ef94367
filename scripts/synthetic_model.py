"""Large synthetic .tflite models, built directly with the flatbuffer schema.

The converter takes minutes for thousands of layers; these models exist to
test scale (thousands of operators), so they are written straight from the
schema's object API: float32 ADD operators over ``[1, width]`` tensors wired as
a random DAG. They run in LiteRT and TFLite Micro.
"""

from __future__ import annotations

import random

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

from tflite_serenity.model import write_model


def random_add_dag(num_operators: int, *, width: int = 16, seed: int = 0, window: int = 8) -> bytes:
    """A model of ``num_operators`` ADDs, each reading two earlier tensors (mostly
    recent ones, sometimes far back) and writing ``[1, width]`` float32."""
    rng = random.Random(seed)
    model = fb.ModelT()
    model.version = 3
    model.description = "tflite-serenity synthetic ADD DAG"
    code = fb.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = fb.BuiltinOperator.ADD
    code.version = 1
    model.operatorCodes = [code]
    model.buffers = [fb.BufferT()]
    sub = fb.SubGraphT()
    sub.name = "main"
    sub.tensors, sub.operators = [], []

    def tensor(name: str) -> int:
        t = fb.TensorT()
        t.shape = np.array([1, width], dtype=np.int32)
        t.type = fb.TensorType.FLOAT32
        t.buffer = 0
        t.name = name
        sub.tensors.append(t)
        return len(sub.tensors) - 1

    available = [tensor("input_0"), tensor("input_1")]
    sub.inputs = list(available)
    read = set()
    for i in range(num_operators):
        recent = available[-window:]
        a = rng.choice(recent)
        b = rng.choice(available if rng.random() < 0.1 else recent)
        op = fb.OperatorT()
        op.opcodeIndex = 0
        op.inputs = [a, b]
        out = tensor(f"add_{i}")
        op.outputs = [out]
        options = fb.AddOptionsT()
        op.builtinOptionsType = fb.BuiltinOptions.AddOptions
        op.builtinOptions = options
        sub.operators.append(op)
        read.update((a, b))
        available.append(out)
    sub.outputs = [t for t in available[2:] if t not in read] or [available[-1]]
    model.subgraphs = [sub]
    return write_model(model)
