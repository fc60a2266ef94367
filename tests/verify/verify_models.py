"""Test models for the verify tests: committed fixtures from tests/data and
small edits of models made through the flatbuffer object API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parent.parent / "data"

# Committed models the comparison tests run on: a float and an int8 CNN, a
# float model with branches, and an int8 model with a WHILE loop (subgraphs).
COMPARED_MODELS = [
    "small_cnn_float.tflite",
    "small_cnn_int8.tflite",
    "tiny_branch_float.tflite",
    "while_int8.tflite",
]


def data_model(name: str) -> bytes:
    """The bytes of tests/data/NAME, or skip the test if it is not there."""
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"tests/data/{name} is missing; run python -m scripts.models.make_test_models")
    return path.read_bytes()


def edit_model(model: bytes, change: Callable[[object], None]) -> bytes:
    """Unpack a model to the object API, apply ``change(ModelT)``, repack it."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    unpacked = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(model, 0))
    change(unpacked)
    builder = flatbuffers.Builder(len(model) + 1024)
    builder.Finish(unpacked.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


_ITEMSIZE = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 7: 2, 9: 1, 10: 8}


def flip_weight_byte(model: bytes, buffer_index: int, element: int, itemsize: int) -> bytes:
    """Flip the most significant bit of one element of a constant buffer
    (a float changes sign, an int8 moves by 128): a one-byte edit."""

    def change(m) -> None:
        data = np.array(m.buffers[buffer_index].data, dtype=np.uint8)
        data[element * itemsize + itemsize - 1] ^= 0x80
        m.buffers[buffer_index].data = data

    return edit_model(model, change)


def perturb_weight(model: bytes, seeds: tuple[int, ...] = (0, 1)) -> bytes:
    """A one-byte edit of a constant buffer, in any subgraph, that visibly
    changes the outputs.

    A single flipped weight can be invisible (say, behind a ReLU that is off
    for these inputs), so candidates are tried, largest buffer first, until
    LiteRT, called directly as an independent oracle, gives different outputs
    on the inputs compare_models draws for ``seeds``.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    from tflite_serenity.verify import random_inputs

    def outputs(candidate: bytes) -> list[bytes]:
        it = Interpreter(
            model_content=candidate,
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
        it.allocate_tensors()
        result = []
        for seed in seeds:
            for detail, x in zip(it.get_input_details(), random_inputs(model, seed)):
                it.set_tensor(detail["index"], x)
            it.invoke()
            result += [it.get_tensor(d["index"]).tobytes() for d in it.get_output_details()]
        return result

    m = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(model, 0))
    constants = {}
    for subgraph in m.subgraphs:
        for t in subgraph.tensors:
            data = m.buffers[t.buffer].data if t.buffer else None
            if data is not None and t.type in _ITEMSIZE:
                constants[t.buffer] = (len(data), _ITEMSIZE[t.type], np.asarray(data, dtype=np.uint8))
    reference = outputs(model)
    for buffer_index, (_, width, data) in sorted(constants.items(), key=lambda kv: -kv[1][0]):
        nonzero = np.flatnonzero(data.reshape(-1, width).any(axis=1))
        # the middle non-zero element first, then spread over the buffer
        for element in np.roll(nonzero, -(len(nonzero) // 2))[:8]:
            candidate = flip_weight_byte(model, buffer_index, int(element), width)
            if outputs(candidate) != reference:
                return candidate
    raise AssertionError("no one-byte weight edit changes this model's outputs")


def with_input_signature(model: bytes, signature: list[int]) -> bytes:
    """Give input 0 of subgraph 0 this shape signature (-1 = unknown)."""

    def change(m) -> None:
        subgraph = m.subgraphs[0]
        subgraph.tensors[subgraph.inputs[0]].shapeSignature = np.array(signature, dtype=np.int32)

    return edit_model(model, change)


def with_input_type(model: bytes, tensor_type: int) -> bytes:
    """Declare input 0 of subgraph 0 with another TFLite tensor type code."""

    def change(m) -> None:
        subgraph = m.subgraphs[0]
        subgraph.tensors[subgraph.inputs[0]].type = tensor_type

    return edit_model(model, change)


def with_unknown_custom_op(model: bytes) -> bytes:
    """Turn the first operator into a custom op no runtime knows."""

    def change(m) -> None:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

        code = fb.OperatorCodeT()
        code.builtinCode = fb.BuiltinOperator.CUSTOM
        code.deprecatedBuiltinCode = fb.BuiltinOperator.CUSTOM
        code.customCode = "SerenityNoSuchOp"
        code.version = 1
        m.operatorCodes.append(code)
        first = m.subgraphs[0].operators[0]
        first.opcodeIndex = len(m.operatorCodes) - 1
        first.builtinOptionsType = 0
        first.builtinOptions = None

    return edit_model(model, change)


SOFTMAX = 25


def with_tiny_softmax_input_scale(model: bytes) -> bytes | None:
    """Give every SOFTMAX input a quantization scale of 2^-30, which makes
    TFLite Micro's int8 SOFTMAX abort() while preparing. None if the model has
    no SOFTMAX."""
    found = []

    def change(m) -> None:
        subgraph = m.subgraphs[0]
        for op in subgraph.operators:
            code = m.operatorCodes[op.opcodeIndex]
            if max(code.builtinCode, code.deprecatedBuiltinCode) == SOFTMAX:
                subgraph.tensors[op.inputs[0]].quantization.scale = np.array([2.0**-30], np.float32)
                found.append(op)

    edited = edit_model(model, change)
    return edited if found else None
