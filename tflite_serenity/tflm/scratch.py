"""Scratch buffers: arena memory TFLite Micro kernels ask for that is no tensor.

While preparing, some kernels call ``RequestScratchBufferInArena``; TFLite
Micro plans those buffers with the tensors, alive for their operator's step
(including any subgraphs the operator runs), after all tensors of all
subgraphs in the order requested. An offline plan cannot pin them: they are
always placed online, around the pinned tensors. We model them so the plan
can leave room where TFLite Micro will look for it.

The table covers the reference kernels of TFLite Micro (the ones its Python
interpreter runs; read from ``tensorflow/lite/micro/kernels/``, commit
90b983c2, 2026-08-20). Optimized kernel libraries (CMSIS-NN, Xtensa) ask for
other scratch buffers; a kernel missing here only makes our prediction of
TFLite Micro's head less exact, never a plan unsafe, since TFLite Micro places
every scratch buffer around the pinned tensors itself.

``ADD_N`` stores one data pointer per input: 8 bytes each on a 64-bit host,
4 on a 32-bit microcontroller. We count 8 (the host we measure on).
"""

from __future__ import annotations

from typing import Callable

from tflite_serenity.graph import Graph, Operator

POINTER_BYTES = 8
"""Bytes of a data pointer on the host that runs TFLite Micro (x86-64)."""

_INT = 4  # sizeof(int) and sizeof(int32_t)


def _elements(graph: Graph, tensor: int) -> int:
    count = 1
    for dim in graph.tensors[tensor].shape:
        count *= dim
    return count


def _rank(graph: Graph, tensor: int) -> int:
    return len(graph.tensors[tensor].shape)


def _dtype(graph: Graph, tensor: int) -> str:
    return graph.tensors[tensor].dtype


def _mean_or_sum(graph: Graph, op: Operator) -> list[int]:
    # reduce_common.cc, PrepareMeanOrSumHelper: an int32 accumulator per
    # output element for quantized inputs, then the input-iterator and the
    # resolved-axis index arrays.
    data, axis, out = op.inputs[0], op.inputs[1], op.outputs[0]
    requests = []
    if _dtype(graph, data) in ("INT8", "INT16"):
        requests.append(_INT * _elements(graph, out))
    requests.append(_INT * _rank(graph, data))
    requests.append(_INT * _elements(graph, axis))
    return requests


def _min_max_all(graph: Graph, op: Operator) -> list[int]:
    # reduce_common.cc, PrepareMinMaxHelper and PrepareAllHelper.
    data, axis = op.inputs[0], op.inputs[1]
    return [_INT * _rank(graph, data), _INT * _elements(graph, axis)]


def _transpose_conv(graph: Graph, op: Operator) -> list[int]:
    # transpose_conv.cc, TransposeConvPrepare: an int32 (int8 input) or int64
    # (int16 input) accumulator per output element; 16x8 models with a
    # 16-bit bias also get the bias widened to int64 (CalculateOpData, later).
    data, out = op.inputs[2], op.outputs[0]
    kind = _dtype(graph, data)
    if kind == "INT8":
        return [_INT * _elements(graph, out)]
    if kind == "INT16":
        requests = [8 * _elements(graph, out)]
        if len(op.inputs) > 3 and op.inputs[3] >= 0 and _dtype(graph, op.inputs[3]) == "INT16":
            requests.append(8 * _elements(graph, op.inputs[3]))
        return requests
    return []


def _add_n(graph: Graph, op: Operator) -> list[int]:
    # add_n.cc: one pointer per input, for float32 and int8 outputs.
    if _dtype(graph, op.outputs[0]) in ("FLOAT32", "INT8"):
        return [POINTER_BYTES * len(op.inputs)]
    return []


def _mirror_pad(graph: Graph, op: Operator) -> list[int]:
    # mirror_pad.cc: two int arrays of the input's rank.
    rank = _rank(graph, op.inputs[0])
    return [_INT * rank, _INT * rank]


def _lstm(graph: Graph, op: Operator) -> list[int]:
    # unidirectional_sequence_lstm.cc: four buffers of batch x state
    # elements (the hidden state tensor, input 18) of the cell state's type
    # (input 19): float32 or int16.
    if len(op.inputs) < 20 or op.inputs[18] < 0 or op.inputs[19] < 0:
        return []
    width = {"FLOAT32": 4, "INT16": 2}.get(_dtype(graph, op.inputs[19]))
    if width is None:
        return []
    return [width * _elements(graph, op.inputs[18])] * 4


def _svdf(graph: Graph, op: Operator) -> list[int]:
    # svdf_common.cc: batch x filters (the feature weights' rows), and, for
    # int8, batch x units of int32.
    if len(op.inputs) < 2 or op.inputs[1] < 0:
        return []
    batch = graph.tensors[op.inputs[0]].shape[0] if graph.tensors[op.inputs[0]].shape else 1
    filters = graph.tensors[op.inputs[1]].shape[0] if graph.tensors[op.inputs[1]].shape else 1
    requests = [_INT * batch * filters]
    if _dtype(graph, op.inputs[0]) == "INT8":
        units = graph.tensors[op.outputs[0]].shape[-1] if graph.tensors[op.outputs[0]].shape else 1
        requests.append(_INT * batch * units)
    return requests


def _int4_filter(graph: Graph, op: Operator) -> list[int]:
    # conv_common.cc, depthwise_conv_common.cc, fully_connected.cc: an int4
    # filter is unpacked into one byte per element.
    if len(op.inputs) > 1 and op.inputs[1] >= 0 and _dtype(graph, op.inputs[1]) == "INT4":
        return [_elements(graph, op.inputs[1])]
    return []


_KERNELS: dict[str, Callable[[Graph, Operator], list[int]]] = {
    "MEAN": _mean_or_sum,
    "SUM": _mean_or_sum,
    "REDUCE_MAX": _min_max_all,
    "REDUCE_MIN": _min_max_all,
    "REDUCE_ALL": _min_max_all,
    "TRANSPOSE_CONV": _transpose_conv,
    "ADD_N": _add_n,
    "MIRROR_PAD": _mirror_pad,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": _lstm,
    "SVDF": _svdf,
    "CONV_2D": _int4_filter,
    "DEPTHWISE_CONV_2D": _int4_filter,
    "FULLY_CONNECTED": _int4_filter,
}

#: Operators whose TFLite Micro reference kernel may ask for scratch buffers.
SCRATCH_KERNELS = frozenset(_KERNELS)


def scratch_requests(graph: Graph, op: int) -> list[int]:
    """Bytes of each scratch buffer operator ``op`` of ``graph`` asks TFLite
    Micro for, in the order its kernel asks (empty for most operators).

    For instance, an int8 MEAN of a 1x4x4x8 input over axes (1, 2) asks for
    an int32 accumulator per output element (32 B), then the input-iterator
    array (4 ints, 16 B) and the resolved-axis array (2 ints, 8 B).
    """
    make = _KERNELS.get(graph.operators[op].kind)
    if make is None:
        return []
    try:
        return [int(b) for b in make(graph, graph.operators[op])]
    except IndexError:  # a malformed operator; TFLite Micro will refuse it anyway
        return []
