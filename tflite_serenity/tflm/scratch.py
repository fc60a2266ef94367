"""Scratch buffers: arena memory TFLite Micro kernels ask for that is no tensor.

While preparing, some kernels call ``RequestScratchBufferInArena``; TFLite
Micro plans those buffers with the tensors, alive for their operator's step
(including any subgraphs the operator runs), after all tensors of all
subgraphs in the order requested. An offline plan cannot pin them: they are
always placed online, around the pinned tensors. We model them so the plan
can leave room where TFLite Micro will look for it.

Three kernel libraries (:data:`KERNEL_LIBRARIES`), each read from the
sources TFLite Micro 90b983c2 (2026-08-20) builds:

* ``reference``: TFLite Micro's reference kernels (``kernels/*.cc``; the
  ones its Python interpreter runs on the host);
* ``cmsis-nn-dsp`` and ``cmsis-nn-mve``: TFLite Micro's CMSIS-NN kernels
  (``kernels/cmsis_nn/*.cc``) with CMSIS-NN 4ab83cc3's
  ``arm_*_get_buffer_size*`` for a Cortex-M with the DSP extension
  (Cortex-M4, M7, M33) or with Helium/MVE (Cortex-M55, M85), built with GCC
  and ``KERNELS_OPTIMIZED_FOR_SPEED`` (TFLite Micro's default). Operators
  CMSIS-NN has no kernel for run the reference kernel there. Int8
  activations are modelled for CMSIS-NN, and for int16 ones its CONV_2D and
  AVERAGE_POOL_2D; other types keep the reference kernel's requests.

A kernel missing here only makes our prediction of TFLite Micro's head less
exact, never a plan unsafe, since TFLite Micro places every scratch buffer
around the pinned tensors itself. The arena plan reserves room for the
largest request of the libraries its target may use
(:func:`reserved_scratch`), so that the buffers TFLite Micro places there
land inside the plan, not on top of it.

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


_REFERENCE: dict[str, Callable[[Graph, Operator], list[int]]] = {
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
SCRATCH_KERNELS = frozenset(_REFERENCE)


# CMSIS-NN (kernels/cmsis_nn/*.cc at TFLite Micro 90b983c2, CMSIS-NN 4ab83cc3).
# Shapes are NHWC; a filter of CONV_2D is [out_c, kh, kw, in_c], of
# DEPTHWISE_CONV_2D [1, kh, kw, out_c], of TRANSPOSE_CONV [out_c, kh, kw, in_c].

_CH_IN_BLOCK_MVE = 124  # arm_nnsupportfunctions.h
_REVERSE_TCOL_EFFICIENT_THRESHOLD = 16


def _int8(graph: Graph, tensor: int) -> bool:
    return tensor >= 0 and _dtype(graph, tensor) == "INT8"


def _im2col(kernel_elements: int, mve: bool) -> int:
    # arm_convolve_s8_get_buffer_size (DSP) and ..._mve.
    if mve:
        return 4 * (-(-kernel_elements // 16)) * 16
    return 2 * 2 * (-(-kernel_elements // 4)) * 4


def _cmsis_conv(graph: Graph, op: Operator, mve: bool) -> list[int]:
    # conv.cc -> arm_convolve_wrapper_s8_get_buffer_size. A 1x1 filter needs
    # nothing with GCC (the 1x1 fast path's buffer is for Arm Compiler only);
    # 1xN (input height 1) on MVE has its own size, taken here with the
    # general one as the larger of the two (we do not read the padding).
    data, filt, out = op.inputs[0], op.inputs[1], op.outputs[0]
    _, kh, kw, cin = graph.tensors[filt].shape
    if kh == 1 and kw == 1:
        return []
    size = _im2col(kh * kw * cin, mve)
    if mve and graph.tensors[data].shape[1] == 1 and kh == 1:
        width = graph.tensors[data].shape[2]
        size = max(size, (kw + width) * cin)  # arm_convolve_1_x_n_s8_get_buffer_size_mve, padding at most the row
    return [size]


def _cmsis_depthwise(graph: Graph, op: Operator, mve: bool) -> list[int]:
    # depthwise_conv.cc -> arm_depthwise_conv_wrapper_s8_get_buffer_size. The
    # fast path needs one output channel per input channel and no dilation
    # (dilation is not read here: counted as 1, which only errs high).
    data, filt, out = op.inputs[0], op.inputs[1], op.outputs[0]
    _, kh, kw, _ = graph.tensors[filt].shape
    cin, cout = graph.tensors[data].shape[3], graph.tensors[out].shape[3]
    batch = graph.tensors[data].shape[0]
    if mve and cin == 1 and cout > 1:
        # run as a convolution: its im2col buffer plus the filter, transposed
        conv = 0 if kh == kw == 1 else _im2col(kh * kw, True)
        return [conv + cout * kh * kw]
    if cin != cout or batch != 1:
        return []
    if mve:
        return [4 * _CH_IN_BLOCK_MVE * kw * kh]
    if kh == 3 and kw == 3:  # arm_depthwise_conv_3x3_s8: padding is at most 1 for a 3x3 filter
        return []
    return [cin * kw * kh * 2]


def _cmsis_fully_connected(graph: Graph, op: Operator, mve: bool) -> list[int]:
    # fully_connected.cc: where it can run as a 1x1 convolution (output of
    # rank 3 or more, input depth a multiple of 4), a per-tensor quantized
    # filter gets int32 multiplier and shift per output channel (counted
    # whatever the quantization: only errs high); otherwise MVE needs an int32
    # per output channel, in the tail when the filter is a constant (kernel
    # sums, KERNELS_OPTIMIZED_FOR_SPEED), a scratch buffer otherwise.
    data, filt, out = op.inputs[0], op.inputs[1], op.outputs[0]
    if _dtype(graph, filt) == "INT4":
        return _int4_filter(graph, op)
    depth = graph.tensors[filt].shape[-1]
    out_depth = graph.tensors[out].shape[-1]
    if _rank(graph, out) > 2 and depth % 4 == 0:
        return [out_depth * 2 * _INT]
    if mve and not graph.tensors[filt].has_data:
        return [out_depth * _INT]
    return []


def _cmsis_average_pool(graph: Graph, op: Operator, mve: bool) -> list[int]:
    # pooling.cc -> arm_avgpool_s8_get_buffer_size: an int32 per channel on DSP.
    return [] if mve else [_INT * graph.tensors[op.inputs[0]].shape[3]]


def _stride(size_in: int, size_out: int, kernel: int) -> int:
    # TRANSPOSE_CONV's stride from its shapes: SAME gives in * s, VALID (in - 1) * s + k.
    if size_in > 0 and size_out % size_in == 0:
        return max(1, size_out // size_in)
    if size_in > 1 and (size_out - kernel) % (size_in - 1) == 0:
        return max(1, (size_out - kernel) // (size_in - 1))
    return max(1, -(-size_out // size_in))


def _cmsis_transpose_conv(graph: Graph, op: Operator, mve: bool) -> list[int]:
    # transpose_conv.cc -> arm_transpose_conv_s8_get_buffer_size, then
    # arm_transpose_conv_s8_get_reverse_conv_buffer_size (asked for even when 0).
    filt, data, out = op.inputs[1], op.inputs[2], op.outputs[0]
    cout, kh, kw, cin = graph.tensors[filt].shape
    _, in_h, in_w, _ = graph.tensors[data].shape
    _, out_h, out_w, _ = graph.tensors[out].shape
    sh, sw = _stride(in_h, out_h, kh), _stride(in_w, out_w, kw)
    if sw <= 2 and sh <= 2 and cin > _REVERSE_TCOL_EFFICIENT_THRESHOLD:
        return [_im2col(kh * kw * cin, mve), cin * kw * kh * cout]
    return [((in_w - 1) * sw + max(kw, sh)) * cout * max(kh, sh) * _INT, 0]


def _cmsis_batch_matmul(graph: Graph, op: Operator, mve: bool) -> list[int]:
    # batch_matmul.cc -> arm_fully_connected_s8_get_buffer_size(output shape).
    return [_INT * graph.tensors[op.outputs[0]].shape[-1]] if mve else []


def _cmsis_lstm(graph: Graph, op: Operator, mve: bool) -> list[int]:
    # unidirectional_sequence_lstm.cc: three buffers (not four) for int8 or
    # int16 activations with an int16 cell state.
    requests = _lstm(graph, op)
    return requests[:3] if requests and _dtype(graph, op.inputs[19]) == "INT16" else requests


def _cmsis_conv_int16(graph: Graph, op: Operator, mve: bool) -> list[int] | None:
    # conv.cc -> arm_convolve_wrapper_s16_get_buffer_size, for an int64 bias
    # or none (an int32 bias runs the reference kernel: None). No 1x1 path.
    if len(op.inputs) > 2 and op.inputs[2] >= 0 and _dtype(graph, op.inputs[2]) != "INT64":
        return None
    _, kh, kw, cin = graph.tensors[op.inputs[1]].shape
    if mve:  # arm_convolve_s16_get_buffer_size_mve: four im2col rows of whole 8-lane int16 vectors
        return [4 * (-(-kh * kw * cin // 8)) * 8 * 2]
    return [2 * kh * kw * cin * 2]


def _cmsis_average_pool_int16(graph: Graph, op: Operator, mve: bool) -> list[int] | None:
    # pooling.cc -> arm_avgpool_s16_get_buffer_size: an int32 per channel on DSP.
    return [] if mve else [_INT * graph.tensors[op.inputs[0]].shape[3]]


#: CMSIS-NN's kernels for int16 activations that ask for other buffers than
#: the reference kernels; None from one: the reference kernel runs.
_CMSIS_NN_INT16: dict[str, Callable[[Graph, Operator, bool], "list[int] | None"]] = {
    "CONV_2D": _cmsis_conv_int16,
    "AVERAGE_POOL_2D": _cmsis_average_pool_int16,
}

_CMSIS_NN: dict[str, Callable[[Graph, Operator, bool], list[int]]] = {
    "CONV_2D": _cmsis_conv,
    "DEPTHWISE_CONV_2D": _cmsis_depthwise,
    "FULLY_CONNECTED": _cmsis_fully_connected,
    "AVERAGE_POOL_2D": _cmsis_average_pool,
    "TRANSPOSE_CONV": _cmsis_transpose_conv,
    "BATCH_MATMUL": _cmsis_batch_matmul,
}

#: The kernel libraries whose scratch requests are modelled.
KERNEL_LIBRARIES = ("reference", "cmsis-nn-dsp", "cmsis-nn-mve")


def scratch_requests(graph: Graph, op: int, library: str = "reference") -> list[int]:
    """Bytes of each scratch buffer operator ``op`` of ``graph`` asks TFLite
    Micro for, in the order its kernel asks (empty for most operators), with
    the kernels of ``library`` (one of :data:`KERNEL_LIBRARIES`).

    For instance, an int8 MEAN of a 1x4x4x8 input over axes (1, 2) asks for
    an int32 accumulator per output element (32 B), then the input-iterator
    array (4 ints, 16 B) and the resolved-axis array (2 ints, 8 B); an int8
    3x3 depthwise convolution asks for nothing with the reference kernels and
    4 * 124 * 3 * 3 = 4,464 B with CMSIS-NN on MVE.
    """
    if library not in KERNEL_LIBRARIES:
        raise ValueError(f"unknown kernel library {library!r}")
    operator = graph.operators[op]
    try:
        if library != "reference":
            mve = library == "cmsis-nn-mve"
            if operator.kind == "UNIDIRECTIONAL_SEQUENCE_LSTM":
                return [int(b) for b in _cmsis_lstm(graph, operator, mve)]
            data = operator.inputs[2] if operator.kind == "TRANSPOSE_CONV" else operator.inputs[0]
            if operator.kind in _CMSIS_NN and _int8(graph, data):
                return [int(b) for b in _CMSIS_NN[operator.kind](graph, operator, mve)]
            if operator.kind in _CMSIS_NN_INT16 and data >= 0 and _dtype(graph, data) == "INT16":
                requests = _CMSIS_NN_INT16[operator.kind](graph, operator, mve)
                if requests is not None:
                    return [int(b) for b in requests]
        make = _REFERENCE.get(operator.kind)
        return [] if make is None else [int(b) for b in make(graph, operator)]
    except (IndexError, ValueError):  # a malformed operator (shapes of another rank); TFLite Micro refuses it
        return []


def reserved_scratch(graph: Graph, op: int, libraries: tuple[str, ...] = ("reference",)) -> list[int]:
    """The scratch bytes an arena plan reserves for operator ``op`` so that
    it suits each of ``libraries``: the request list of the library whose
    requests take the most room (aligned to 16 bytes), as that library asks
    them. Ties go to the earlier library."""
    best: list[int] = []
    room = -1
    for library in libraries:
        requests = scratch_requests(graph, op, library)
        total = sum(-(-r // 16) * 16 for r in requests)
        if total > room:
            best, room = requests, total
    return best
