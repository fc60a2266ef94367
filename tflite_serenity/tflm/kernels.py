"""The kernels whose arena needs the plan models exactly.

TFLite Micro's head holds the tensors it plans and the scratch buffers its
kernels ask for while preparing. Our plan, and our simulation of TFLite
Micro's own planner, know the tensors of every kernel; they know a kernel's
scratch buffers only where :mod:`.scratch` models them. A kernel that asks
for a buffer we do not model makes every figure of ours short: TFLite Micro
places that buffer around our pinned tensors, and a plan packed tight then
has no gap for it, so the head grows past the one TFLite Micro would have
chosen itself (an int16 audio front end: SignalRfft asks for
``fft_length`` int16 values, and a plan written on our figures made the
real head larger).

:data:`MODELLED` lists, per operator kind, the tensor types on which that
kind is modelled exactly: its TFLite Micro reference kernel asks for no
scratch buffer there, or exactly those of :mod:`.scratch` (read from
``tensorflow/lite/micro/kernels/``, commit 90b983c2), and on real models
running that path TFLite Micro's measured head equals our simulation to the
byte, with and without our plan (docs/arena.md lists the models). An
operator outside it (a custom operator, a type not measured) leaves the
plan to be decided by measuring it in TFLite Micro
(:func:`tflite_serenity.arena.model_plan.plan_arena`).
"""

from __future__ import annotations

from typing import Sequence

from tflite_serenity.graph import Graph, Operator

_F, _I8, _I16, _I32 = "FLOAT32", "INT8", "INT16", "INT32"
_NUMERIC = frozenset({_F, _I8, _I16})
_FLOAT_INT8 = frozenset({_F, _I8})

#: Operator kind -> the types of its planned tensors (inputs and outputs that
#: hold no data) with which the kind is modelled exactly. An operator is
#: modelled when all its planned tensors' types are listed for its kind.
MODELLED: dict[str, frozenset[str]] = {
    "ADD": _NUMERIC | {_I32},
    "ADD_N": frozenset({_F}),
    "ASSIGN_VARIABLE": frozenset({_F, "RESOURCE"}),
    "AVERAGE_POOL_2D": _NUMERIC,
    "BATCH_MATMUL": _FLOAT_INT8,
    "CALL_ONCE": frozenset(),
    "CONCATENATION": _NUMERIC,
    "CONV_2D": _NUMERIC,
    "DEPTHWISE_CONV_2D": _NUMERIC,
    "DEQUANTIZE": _FLOAT_INT8,
    "DYNAMIC_UPDATE_SLICE": _FLOAT_INT8 | {_I32},
    "FULLY_CONNECTED": _NUMERIC,
    "GATHER": _NUMERIC | {_I32},
    "GREATER": _FLOAT_INT8 | {"BOOL"},
    "IF": frozenset({_F, "BOOL"}),
    "LEAKY_RELU": _FLOAT_INT8,
    "LESS": frozenset({_I32, "BOOL"}),
    "LOGISTIC": _NUMERIC,
    "MAX_POOL_2D": _NUMERIC,
    "MEAN": _NUMERIC,
    "MIRROR_PAD": _FLOAT_INT8,
    "MUL": _NUMERIC,
    "NEG": frozenset({_F}),
    "PAD": _NUMERIC,
    "QUANTIZE": _NUMERIC,
    "READ_VARIABLE": frozenset({_F, "RESOURCE"}),
    "REDUCE_MAX": _FLOAT_INT8,
    "REDUCE_MIN": _FLOAT_INT8,
    "RELU": _NUMERIC,
    "RESHAPE": _NUMERIC,
    "RSQRT": _FLOAT_INT8,
    "SLICE": _NUMERIC | {_I32},
    "SOFTMAX": _NUMERIC,
    "SQUARED_DIFFERENCE": _FLOAT_INT8,
    "STRIDED_SLICE": _NUMERIC,
    "SUB": _NUMERIC,
    "SUM": _FLOAT_INT8,
    "TANH": _FLOAT_INT8,
    "TRANSPOSE": _FLOAT_INT8,
    "TRANSPOSE_CONV": _NUMERIC,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": frozenset({_F}),
    "VAR_HANDLE": frozenset({"RESOURCE"}),
    "WHILE": frozenset({_F, _I8, _I32}),
}


def planned_types(graph: Graph, op: Operator) -> frozenset[str]:
    """Types of the operator's tensors TFLite Micro plans (inputs and outputs
    holding no data), plus INT4 for a 4-bit constant (filters the kernel
    unpacks into a scratch buffer)."""
    types = set()
    for t in list(op.inputs) + list(op.outputs):
        if t < 0:
            continue
        tensor = graph.tensors[t]
        if not tensor.has_data:
            types.add(tensor.dtype)
        elif tensor.dtype == "INT4":
            types.add("INT4")
    return frozenset(types)


def is_modelled(graph: Graph, op: Operator) -> bool:
    """Whether :data:`MODELLED` covers the operator on its types."""
    kinds = MODELLED.get(op.kind)
    return kinds is not None and planned_types(graph, op) <= kinds


def unmodelled_kernels(graphs: Sequence[Graph]) -> tuple[str, ...]:
    """The kernels of a model that :data:`MODELLED` does not cover, each once,
    sorted: the kind for a kind not listed at all (``"CUSTOM:SignalRfft"``),
    the kind and its unlisted types otherwise (``"SVDF (INT8)"``).

    Examples
    --------
    >>> from tflite_serenity.graph import Operator, Tensor, assemble_graph
    >>> x, y, z = (Tensor(i, n, (4,), "INT16", False, False) for i, n in enumerate("xyz"))
    >>> graph = assemble_graph(0, "main", [x, y, z], [Operator(0, "CUSTOM:SignalWindow", (0,), (1,)),
    ...                        Operator(1, "SVDF", (1,), (2,))], (0,), (2,))
    >>> unmodelled_kernels([graph])
    ('CUSTOM:SignalWindow', 'SVDF')
    """
    found = set()
    for graph in graphs:
        for op in graph.operators:
            if is_modelled(graph, op):
                continue
            listed = MODELLED.get(op.kind)
            if listed is None:
                found.add(op.kind)
            else:
                found.add(f"{op.kind} ({', '.join(sorted(planned_types(graph, op) - listed))})")
    return tuple(sorted(found))
