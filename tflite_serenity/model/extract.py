"""Make a standalone model from some operators of one subgraph.

The new model has a single subgraph holding the chosen operators, every tensor
they touch (renumbered, names and quantization kept), only the constant
buffers those tensors use and only the operator codes those operators use.
Unchanged parts (tensor and operator fields, buffer data, operator options)
are shared with the input model, not copied, and the input is left untouched.
"""

from __future__ import annotations

import copy
from typing import Sequence

import numpy as np

from ..errors import InfeasibleError, UnsupportedModelError
from .ops import called_subgraphs
from .schema import fb

#: Metadata entries that stay true for a model cut out of another.
#: (Entries such as ``OfflineMemoryAllocation`` describe the whole subgraph's
#: tensors and would be wrong.)
KEPT_METADATA = ("min_runtime_version",)


def extract_operators(
    model: "fb.ModelT",
    subgraph: int,
    operators: Sequence[int],
    inputs: Sequence[int],
    outputs: Sequence[int],
    *,
    name: str | None = None,
) -> "fb.ModelT":
    """A new one-subgraph model that runs ``operators`` of ``subgraph``.

    Parameters
    ----------
    model : ModelT
        The source model (not modified).
    subgraph : int
        Index of the subgraph the operators belong to.
    operators : sequence of int
        Positions of the operators in the subgraph's stored order, in the
        order the new model runs them.
    inputs, outputs : sequence of int
        Tensor indices (of the source subgraph) that become the new model's
        inputs and outputs, in this order. A tensor may be both (it is passed
        through unchanged).
    name : str, optional
        Name of the new subgraph (default: the source subgraph's).

    Returns
    -------
    ModelT
        The new model. Tensors keep their relative order (ascending source
        index) and their names; buffer 0 is the empty buffer that every
        tensor without constant data points at; signature definitions are
        dropped, and metadata except :data:`KEPT_METADATA`.

    Raises
    ------
    UnsupportedModelError
        If an operator calls other subgraphs (control flow).
    InfeasibleError
        If an operator reads a tensor that is neither a constant, a new
        input, nor written by an earlier chosen operator, or an output is
        none of these: the new model could not compute it.
    """
    source = model.subgraphs[subgraph]
    tensors = source.tensors or []
    buffers = model.buffers or []
    ops = [source.operators[i] for i in operators]

    def is_constant(t: int) -> bool:
        data = buffers[tensors[t].buffer].data if tensors[t].buffer < len(buffers) else None
        return data is not None and len(data) > 0

    available = {int(t) for t in inputs}
    for position, op in zip(operators, ops):
        if called_subgraphs(op):
            raise UnsupportedModelError(
                f"subgraph {subgraph}: operator {position} calls other subgraphs (control flow); "
                "it cannot be moved into a model of its own"
            )
        for t in _indices(op.inputs):
            if t >= 0 and t not in available and not is_constant(t) and not tensors[t].isVariable:
                raise InfeasibleError(
                    f"subgraph {subgraph}: operator {position} reads tensor {t} ('{_text(tensors[t].name)}'), "
                    "which is not an input of the extracted model and no earlier operator of it writes"
                )
        available.update(_indices(op.outputs))
    for t in outputs:
        if t not in available and not is_constant(t):
            raise InfeasibleError(
                f"subgraph {subgraph}: output tensor {t} ('{_text(tensors[t].name)}') is neither an input "
                "of the extracted model nor written by one of its operators"
            )

    used = set(int(t) for t in inputs) | set(int(t) for t in outputs)
    for op in ops:
        for field in (op.inputs, op.outputs, op.intermediates):
            used.update(t for t in _indices(field) if t >= 0)
    tensor_map = {t: i for i, t in enumerate(sorted(used))}

    new_buffers = [fb.BufferT()]
    buffer_map: dict[int, int] = {}
    new_tensors = []
    for t in sorted(used):
        tensor = copy.copy(tensors[t])
        if is_constant(t):
            old = tensors[t].buffer
            if old not in buffer_map:
                buffer_map[old] = len(new_buffers)
                new_buffers.append(buffers[old])
            tensor.buffer = buffer_map[old]
        else:
            tensor.buffer = 0
        new_tensors.append(tensor)

    code_map: dict[int, int] = {}
    new_ops = []
    for op in ops:
        code_map.setdefault(op.opcodeIndex, len(code_map))
        new_op = copy.copy(op)
        new_op.opcodeIndex = code_map[op.opcodeIndex]
        new_op.inputs = _remap(op.inputs, tensor_map)
        new_op.outputs = _remap(op.outputs, tensor_map)
        if op.intermediates is not None:
            new_op.intermediates = _remap(op.intermediates, tensor_map)
        new_op.debugMetadataIndex = -1
        new_ops.append(new_op)
    codes = [None] * len(code_map)
    for old, new in code_map.items():
        codes[new] = model.operatorCodes[old]

    sub = fb.SubGraphT()
    sub.tensors = new_tensors
    sub.inputs = _remap(inputs, tensor_map)
    sub.outputs = _remap(outputs, tensor_map)
    sub.operators = new_ops
    sub.name = source.name if name is None else name

    new = fb.ModelT()
    new.version = model.version
    new.description = model.description
    new.operatorCodes = codes
    new.subgraphs = [sub]
    new.buffers = new_buffers
    new.metadata = []
    for entry in model.metadata or []:
        if _text(entry.name) in KEPT_METADATA:
            kept = fb.MetadataT()
            kept.name = entry.name
            kept.buffer = len(new.buffers)
            new.buffers.append(buffers[entry.buffer])
            new.metadata.append(kept)
    new.signatureDefs = []
    return new


def _indices(values) -> list[int]:
    return [] if values is None else [int(v) for v in values]


def _remap(values, mapping: dict[int, int]) -> np.ndarray:
    return np.asarray([mapping[v] if v >= 0 else -1 for v in _indices(values)], dtype=np.int32)


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")
