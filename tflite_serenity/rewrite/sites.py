"""Where a channel concatenation can be moved below its consumers.

A *site* is a CONCATENATION on the last (channel) axis together with the
consumers of its output that work on channel slices independently:

* **kernel-wise** (exact): depthwise convolution, pooling, unary element-wise
  operators, binary element-wise operators with a per-channel or scalar
  constant, reductions over other axes (MEAN...). Each becomes one operator
  per concat input, with its per-channel constants sliced, followed by a
  concat of the smaller results.
* **merge** (exact): another channel concat reading it takes its inputs directly.
* **channel-wise** (approximate): CONV_2D and FULLY_CONNECTED become partial
  operators over each input's channel slice of the filter, summed by ADD.
  Only float models unless quantized ones are asked for explicitly.

Everything here reads the plain :class:`~tflite_serenity.graph.Graph`; the few
schema facts (options, quantization, constants) come through
:mod:`tflite_serenity.model.editor`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..graph import Graph
from ..options import Options
from ..model.editor import (
    ACTIVATIONS,
    constant_array,
    is_sparse,
    operator_options,
    tensor_quantization,
)

How = Literal["kernel", "merge", "channel"]

#: Operators applied to each element on its own, with no per-channel constant,
#: whose kernels give the same bits for an element whatever the tensor's size.
#: Float kernels of transcendental functions (LOGISTIC, HARD_SWISH, ...) are
#: not in the list: LiteRT computes most elements with a vectorized
#: approximation and the last few with a scalar one, so splitting the tensor
#: moves elements between the two and changes their last bit.
UNARY = {
    "FLOAT32": frozenset({"RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU", "ABS", "NEG"}),
    "INT8": frozenset({"RELU", "RELU6", "RELU_N1_TO_1", "LEAKY_RELU", "LOGISTIC", "TANH", "HARD_SWISH",
                       "ELU", "GELU"}),
}
#: Element-wise operators of two tensors (one IEEE operation or one integer
#: requantization per element); split when the other tensor is a constant.
BINARY = frozenset({"ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM"})
POOLS = frozenset({"AVERAGE_POOL_2D", "MAX_POOL_2D"})
REDUCTIONS = frozenset({"MEAN", "REDUCE_MAX", "REDUCE_MIN"})
#: Activation types the rewriter handles.
DTYPES = frozenset({"FLOAT32", "INT8"})
#: LiteRT's optimized int8 depthwise convolution requantizes output channels in
#: blocks of this many with a vector routine and the rest one by one with a
#: scalar routine that rounds differently in rare cases; see _lanes_match.
REQUANTIZE_BLOCK = 8
QUANTIZED = frozenset({"INT8", "UINT8", "INT16"})


@dataclass(frozen=True)
class Split:
    """How one consumer of a concat is split over the concat's inputs.

    ``data`` are the input positions that read the concat output;
    ``sliced`` the (input position, axis) of constants cut per part;
    ``multiplier`` the output channels per input channel (a depthwise
    convolution's depth multiplier, else 1).
    """

    op: int
    kind: str
    how: How
    data: tuple[int, ...]
    sliced: tuple[tuple[int, int], ...] = ()
    multiplier: int = 1

    @property
    def exact(self) -> bool:
        return self.how != "channel"


@dataclass(frozen=True)
class Site:
    """A channel concat and the consumers that can be split over its inputs."""

    concat: int  # operator index
    output: int  # its output tensor
    inputs: tuple[int, ...]
    channels: tuple[int, ...]  # channels of each input
    splits: tuple[Split, ...]
    keeps_concat: bool  # something still needs the whole output

    @property
    def exact(self) -> bool:
        return all(s.exact for s in self.splits)


def find_sites(model, graph: Graph, options: Options = Options()) -> list[Site]:
    """Every concat of ``graph`` with at least one consumer that can be split, in stored order."""
    sites = []
    for op in graph.operators:
        if op.kind == "CONCATENATION":
            site = concat_site(model, graph, op.index, options)
            if site is not None:
                sites.append(site)
    return sites


def concat_site(model, graph: Graph, op_index: int, options: Options = Options()) -> Site | None:
    """The site of concat ``op_index``, or None when it cannot be moved at all."""
    op = graph.operators[op_index]
    if op.kind != "CONCATENATION" or len(op.outputs) != 1 or not op.inputs:
        return None
    s = graph.subgraph
    y = op.outputs[0]
    out = graph.tensors[y]
    rank = len(out.shape)
    opts = operator_options(model, s, op_index)
    if rank == 0 or int(opts.get("axis", 0)) % rank != rank - 1:
        return None
    if opts.get("fusedActivationFunction", 0) != 0 or out.dynamic or out.dtype not in DTYPES:
        return None
    if any(t < 0 or graph.tensors[t].dtype != out.dtype or len(graph.tensors[t].shape) != rank for t in op.inputs):
        return None
    if out.dtype in QUANTIZED:
        q = tensor_quantization(model, s, y)
        if q is None or q.per_channel or any(tensor_quantization(model, s, t) != q for t in op.inputs):
            return None  # requantizing inputs: moving the concat would change rounding
    channels = tuple(graph.tensors[t].shape[-1] for t in op.inputs)
    if sum(channels) != out.shape[-1]:
        return None
    splits, keeps = [], y in graph.outputs
    for consumer in graph.consumers[y]:
        split = classify(model, graph, consumer, y, options)
        if split is None:
            keeps = True
        else:
            splits.append(split)
    if not splits:
        return None
    return Site(op_index, y, tuple(op.inputs), channels, tuple(splits), keeps)


def classify(model, graph: Graph, op_index: int, y: int, options: Options = Options()) -> Split | None:
    """How consumer ``op_index`` of concat output ``y`` can be split, or None."""
    op = graph.operators[op_index]
    if len(op.outputs) != 1:
        return None
    data = tuple(i for i, t in enumerate(op.inputs) if t == y)
    z = graph.tensors[op.outputs[0]]
    t_y = graph.tensors[y]
    rank, channels = len(t_y.shape), t_y.shape[-1]
    kind, s = op.kind, graph.subgraph
    if z.dynamic:
        return None
    if kind == "CONCATENATION":
        opts = operator_options(model, s, op_index)
        if len(z.shape) == rank and int(opts.get("axis", 0)) % rank == rank - 1 and z.dtype == t_y.dtype:
            if t_y.dtype not in QUANTIZED or tensor_quantization(model, s, op.outputs[0]) == tensor_quantization(model, s, y):
                return Split(op_index, kind, "merge", data)
        return None
    if kind in UNARY[t_y.dtype]:
        if data == (0,) and len(op.inputs) == 1 and z.shape == t_y.shape:
            return Split(op_index, kind, "kernel", data)
        return None
    if kind in BINARY:
        return _binary(model, graph, op_index, y, data)
    if kind in POOLS:
        if data == (0,) and rank == 4 and z.shape[-1] == channels and len(op.inputs) == 1:
            return Split(op_index, kind, "kernel", data)
        return None
    if kind in REDUCTIONS:
        return _reduction(model, graph, op_index, y, data)
    if kind == "DEPTHWISE_CONV_2D":
        return _depthwise(model, graph, op_index, y, data)
    if kind in ("CONV_2D", "FULLY_CONNECTED"):
        allowed = options.rewrite_approximate_int8 if t_y.dtype in QUANTIZED else options.rewrite_approximate
        return _channelwise(model, graph, op_index, y, data) if allowed else None
    return None


def _constant(graph: Graph, model, t: int) -> bool:
    return t >= 0 and graph.tensors[t].has_data and not is_sparse(model, graph.subgraph, t)


def _weights_match(graph: Graph, weights: int, y: int) -> bool:
    """Float activations need float weights; quantized ones, int8 weights (no hybrid kernels,
    which quantize their input on the fly from its own range and so depend on all channels)."""
    act, w = graph.tensors[y].dtype, graph.tensors[weights].dtype
    return (act == "FLOAT32" and w == "FLOAT32") or (act in QUANTIZED and w == "INT8")


def _binary(model, graph, op_index, y, data) -> Split | None:
    op = graph.operators[op_index]
    t_y, z = graph.tensors[y], graph.tensors[op.outputs[0]]
    if len(op.inputs) != 2 or z.shape != t_y.shape or not data:
        return None
    if len(data) == 2:
        return Split(op_index, op.kind, "kernel", data)
    other = op.inputs[1 - data[0]]
    if not _constant(graph, model, other):
        return None
    shape = graph.tensors[other].shape
    if len(shape) > len(t_y.shape) or graph.tensors[other].dtype != graph.tensors[y].dtype:
        return None
    if not shape or shape[-1] == 1:
        return Split(op_index, op.kind, "kernel", data)  # broadcast along channels: shared
    if shape[-1] == t_y.shape[-1]:
        return Split(op_index, op.kind, "kernel", data, sliced=((1 - data[0], len(shape) - 1),))
    return None


def _reduction(model, graph, op_index, y, data) -> Split | None:
    op = graph.operators[op_index]
    t_y, z = graph.tensors[y], graph.tensors[op.outputs[0]]
    if data != (0,) or len(op.inputs) != 2 or not _constant(graph, model, op.inputs[1]):
        return None
    rank = len(t_y.shape)
    axes = {int(a) % rank for a in constant_array(model, graph.subgraph, op.inputs[1]).reshape(-1)}
    if rank - 1 in axes or not z.shape or z.shape[-1] != t_y.shape[-1]:
        return None
    return Split(op_index, op.kind, "kernel", data)


def _constant_parameters(model, graph: Graph, op, y: int) -> tuple[int, int] | None:
    """(weights, bias or -1) of a weighted operator reading ``y``, when both are
    constants and the weights match ``y``'s channels; else None."""
    weights = op.inputs[1]
    bias = op.inputs[2] if len(op.inputs) == 3 else -1
    if not _constant(graph, model, weights) or (bias >= 0 and not _constant(graph, model, bias)):
        return None
    if not _weights_match(graph, weights, y):
        return None
    return weights, bias


def _depthwise(model, graph, op_index, y, data) -> Split | None:
    op = graph.operators[op_index]
    t_y, z = graph.tensors[y], graph.tensors[op.outputs[0]]
    if data != (0,) or len(op.inputs) not in (2, 3) or len(t_y.shape) != 4:
        return None
    parameters = _constant_parameters(model, graph, op, y)
    if parameters is None:
        return None
    weights, bias = parameters
    w_shape, channels = graph.tensors[weights].shape, t_y.shape[-1]
    if len(w_shape) != 4 or w_shape[0] != 1 or w_shape[3] % channels or z.shape[-1] != w_shape[3]:
        return None
    q = tensor_quantization(model, graph.subgraph, weights)
    if q is not None and q.per_channel and q.dimension != 3:
        return None
    multiplier = w_shape[3] // channels
    if t_y.dtype != "FLOAT32" and not _lanes_match(_concat_channels(graph, y), multiplier):
        return None
    sliced = ((1, 3),) + (((2, 0),) if bias >= 0 else ())
    return Split(op_index, op.kind, "kernel", data, sliced=sliced, multiplier=multiplier)


def _concat_channels(graph: Graph, y: int) -> tuple[int, ...]:
    concat = graph.operators[graph.producer[y]]
    return tuple(graph.tensors[t].shape[-1] for t in concat.inputs)


def _lanes_match(channels, multiplier: int, block: int = REQUANTIZE_BLOCK) -> bool:
    """Whether every output channel is requantized by the same routine (vector
    or scalar) in the whole depthwise convolution and in its part.

    LiteRT's optimized int8 depthwise kernel requantizes the first
    ``block * (C // block)`` output channels of each pixel with a vector
    routine and the rest with a scalar one; the two round differently in rare
    cases (one step). Splitting keeps outputs bit-identical exactly when each
    channel lands on the same routine, e.g. when every part but the last has
    a multiple of ``block`` output channels.

    >>> _lanes_match((8, 8, 5), 1), _lanes_match((5, 3, 8), 1), _lanes_match((4, 4), 2)
    (True, False, True)
    """
    widths = [c * multiplier for c in channels]
    total_vector = block * (sum(widths) // block)
    offset = 0
    for width in widths:
        part_vector = block * (width // block)
        if any((offset + j < total_vector) != (j < part_vector) for j in range(width)):
            return False
        offset += width
    return True


def _channelwise(model, graph, op_index, y, data) -> Split | None:
    op = graph.operators[op_index]
    t_y = graph.tensors[y]
    if data != (0,) or len(op.inputs) not in (2, 3):
        return None
    parameters = _constant_parameters(model, graph, op, y)
    if parameters is None:
        return None
    weights, _ = parameters  # the bias stays whole: added once, after the last partial sum
    opts = operator_options(model, graph.subgraph, op_index)
    if ACTIVATIONS.get(int(opts.get("fusedActivationFunction", 0))) not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        return None
    w_shape, channels = graph.tensors[weights].shape, t_y.shape[-1]
    if op.kind == "CONV_2D":
        if len(t_y.shape) != 4 or len(w_shape) != 4 or w_shape[3] != channels:
            return None  # grouped convolution
        axis = 3
    else:
        if len(w_shape) != 2 or w_shape[1] != channels or opts.get("weightsFormat", 0) != 0:
            return None
        axis = 1
    q = tensor_quantization(model, graph.subgraph, weights)
    if q is not None and q.per_channel and q.dimension == axis:
        return None
    return Split(op_index, op.kind, "channel", data, sliced=((1, axis),))
