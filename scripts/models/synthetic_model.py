"""Large synthetic .tflite models, built directly with the flatbuffer schema.

The converter takes minutes for thousands of layers; these models exist to
test scale (thousands of operators), so they are written straight from the
schema's object API: float32 ADD operators over ``[1, width]`` tensors wired as
a random DAG. They run in LiteRT and TFLite Micro.

    python -m scripts.models.synthetic_model OUT.tflite --operators 5000
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

from tflite_serenity.model import write_model


def random_add_dag(num_operators: int, *, width: int = 16, seed: int = 0, window: int = 8, reach: int = 64) -> bytes:
    """A model of ``num_operators`` ADDs, each reading two earlier tensors (mostly
    among the last ``window``, sometimes up to ``reach`` back, like skip
    connections) and writing ``[1, width]`` float32.

    Like a real network it has one output: tensors nothing else reads are summed
    into it at the end, so no part of the graph is dead."""
    dangling = 0
    for _ in range(8):  # the summing ADDs count too: shrink the random part until the total fits
        model, dangling_now = _build(num_operators - dangling, width, seed, window, reach)
        if num_operators - dangling + dangling_now == num_operators or dangling_now == dangling:
            break
        dangling = dangling_now
    return model


def _build(random_ops: int, width: int, seed: int, window: int, reach: int) -> tuple[bytes, int]:
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

    def add(a: int, b: int, name: str) -> int:
        op = fb.OperatorT()
        op.opcodeIndex = 0
        op.inputs = [a, b]
        op.outputs = [tensor(name)]
        op.builtinOptionsType = fb.BuiltinOptions.AddOptions
        op.builtinOptions = fb.AddOptionsT()
        sub.operators.append(op)
        return op.outputs[0]

    available = [tensor("input_0"), tensor("input_1")]
    sub.inputs = list(available)
    read = set()
    unread = list(available)  # oldest first: each tensor is read before it leaves the window
    for i in range(random_ops):
        recent = available[-window:]
        a = unread[0] if unread and unread[0] not in recent else rng.choice(recent)
        b = rng.choice(available[-reach:] if rng.random() < 0.1 else recent)
        out = add(a, b, f"add_{i}")
        read.update((a, b))
        unread = [t for t in unread if t not in (a, b)] + [out]
        available.append(out)
    dangling = [t for t in available[2:-1] if t not in read]
    total = available[-1]
    for t in dangling:  # fold dead ends into the output, two at a time like the rest
        total = add(total, t, f"sum_{t}")
    sub.outputs = [total]
    model.subgraphs = [sub]
    return write_model(model), len(dangling)


def main(argv: list[str] | None = None) -> int:
    """Write one :func:`random_add_dag` model to a file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the .tflite file to write")
    parser.add_argument("--operators", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.out.write_bytes(random_add_dag(args.operators, seed=args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
