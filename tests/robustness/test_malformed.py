"""Malformed and hostile models: a clear error of our own, never a crash."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tflite_serenity import optimize
from tflite_serenity.errors import ModelFormatError, SerenityError, UnsupportedModelError
from tflite_serenity.model import read_model, write_model
from tflite_serenity.reporting import build_report
from tests.models import load

SEEDS = ["irregular_int8.tflite", "while_float.tflite", "small_cnn_float.tflite"]


def edited(name: str, change) -> bytes:
    model = read_model(load(name))
    change(model)
    return write_model(model)


def _set(obj, attr, value):
    setattr(obj, attr, value)


MALFORMED = {
    "empty file": lambda: b"",
    "random bytes": lambda: bytes(range(256)) * 4,
    "wrong file identifier": lambda: load("tiny_branch_float.tflite")[:4] + b"XXXX" + load("tiny_branch_float.tflite")[8:],
    "truncated to the header": lambda: load("tiny_branch_float.tflite")[:16],
    "truncated in the middle": lambda: load("small_cnn_float.tflite")[:5000],
    "operator reads a tensor that does not exist":
        lambda: edited("tiny_branch_float.tflite", lambda m: _set(m.subgraphs[0].operators[0], "inputs", [999])),
    "operator writes a tensor that does not exist":
        lambda: edited("tiny_branch_float.tflite", lambda m: _set(m.subgraphs[0].operators[0], "outputs", [-5])),
    "tensor uses a buffer that does not exist":
        lambda: edited("tiny_branch_float.tflite", lambda m: _set(m.subgraphs[0].tensors[1], "buffer", 10_000)),
    "negative shape": lambda: edited("tiny_branch_float.tflite", lambda m: _set(m.subgraphs[0].tensors[0], "shape", [1, -8, 8, 4])),
    "impossible shape":
        lambda: edited("tiny_branch_float.tflite", lambda m: _set(m.subgraphs[0].tensors[0], "shape", [1 << 30, 1 << 30, 8, 4])),
    "opcode index out of range":
        lambda: edited("tiny_branch_float.tflite", lambda m: _set(m.subgraphs[0].operators[1], "opcodeIndex", 77)),
    "graph output index out of range": lambda: edited("tiny_branch_float.tflite", lambda m: _set(m.subgraphs[0], "outputs", [123])),
    "cycle: an operator reads its own output":
        lambda: edited("tiny_branch_float.tflite",
                       lambda m: _set(m.subgraphs[0].operators[3], "inputs", list(m.subgraphs[0].operators[3].outputs))),
    "operator reads a tensor nobody writes":
        lambda: edited("tiny_branch_float.tflite", lambda m: _set(m.subgraphs[0], "inputs", [])),
    "two operators write one tensor":
        lambda: edited("tiny_branch_float.tflite",
                       lambda m: _set(m.subgraphs[0].operators[1], "outputs", list(m.subgraphs[0].operators[0].outputs))),
    "control flow calls a subgraph that does not exist":
        lambda: edited("while_float.tflite", lambda m: _set(m.subgraphs[0].operators[-1].builtinOptions, "bodySubgraphIndex", 9)),
    "no subgraphs": lambda: edited("tiny_branch_float.tflite", lambda m: _set(m, "subgraphs", [])),
    "metadata buffer out of range": lambda: edited("tiny_branch_float.tflite", lambda m: _set(m.metadata[0], "buffer", 999)),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_model_raises_a_format_error(case):
    data = MALFORMED[case]()
    with pytest.raises(ModelFormatError):
        optimize(data)


def test_unsupported_schema_version_says_so():
    data = edited("tiny_branch_float.tflite", lambda m: _set(m, "version", 4))
    with pytest.raises(UnsupportedModelError, match="version 4"):
        read_model(data)


def test_buffer_past_the_end_of_the_file_is_a_format_error():
    def point_past_end(m):
        buffer = m.buffers[m.subgraphs[0].tensors[1].buffer]
        buffer.data, buffer.offset, buffer.size = None, 1 << 20, 64

    with pytest.raises(ModelFormatError, match="past the end"):
        read_model(edited("tiny_branch_float.tflite", point_past_end))


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[8 + position % (len(out) - 8)] = value
    return bytes(out[:cut] if cut else out)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=6),
    cut=st.one_of(st.none(), st.integers(8, 50_000)),
)
@example(seed="while_float.tflite", edits=[(241396, 0)], cut=None)  # a subgraph left without operators
def test_mutated_models_give_our_errors_or_valid_output(seed, edits, cut):
    data = _mutate(load(seed), edits, cut)
    try:
        result = optimize(data, time_limit=2)
    except SerenityError:
        return
    read_model(result.model)  # whatever we write reads back
    build_report(data, tflm=False)
