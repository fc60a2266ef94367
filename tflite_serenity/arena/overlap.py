"""Overlapped placement: how far an operator's output may overlap its input.

A kernel that walks its output once, in increasing address order, and reads
each input element for the last time at some output element, lets the
output overwrite input bytes that no later output element reads. Placed
that way, a layer needs about max(input, output) bytes instead of
input + output. This module decides, from shapes and operator options
alone, how far the overlap may go; it places nothing.

The rule
--------
Let input element ``i`` (``s_in`` bytes each, row-major NHWC index) be read
for the last time while output element ``L(i)`` is computed (``-1`` if no
output reads it), and let the output (``s_out`` bytes each) start ``shift``
bytes after the input's start. Output element ``j`` is written after all
its own reads, so it may cover input element ``i`` only if ``L(i) <= j``.
The first output element covering ``i`` is ``floor((i*s_in - shift) / s_out)``,
hence every ``i`` read at all requires::

    shift <= i*s_in - L(i)*s_out    or    shift >= (i + 1)*s_in

(the second: the output starts past ``i`` and never covers it; an element
read only by output element 0 constrains nothing, as that element is
written after its reads). The
smallest right-hand side over ``i`` is :attr:`Shifts.below`: every shift at
or below it is safe (lowering the output only makes it cover input elements
earlier in the walk). Above it, safety returns only where the output
starts past every input element whose ``i*s_in - L(i)*s_out`` is smaller
than the shift: :attr:`Shifts.above` is the lowest such start, and for
these kernels it is the input's end or within an element of it, because
the last input pixel is read by the last output pixel. So the output
belongs *below* the input, by ``-below`` bytes when ``below < 0``.

The kernels and loop orders assumed
-----------------------------------
TFLite Micro's reference kernels, as its ``micro/kernels`` call them for
float32 and int8 (``tensorflow/lite/kernels/internal/reference``):

* ``CONV_2D`` (``reference_ops::Conv``, ``reference_integer_ops::ConvPerChannel``):
  batch, out_y, out_x, out_channel, then filter_y, filter_x, in_channel;
  every output channel of a pixel reads every input channel of its group
  in the window, so an input pixel is done only after the last output
  channel of the last output pixel whose window holds it.
* ``DEPTHWISE_CONV_2D`` (``DepthwiseConv``, ``DepthwiseConvPerChannel``):
  batch, out_y, out_x, in_channel, multiplier; input channel ``c`` is read
  by output channels ``c*M .. c*M + M - 1`` only.
* ``AVERAGE_POOL_2D``, ``MAX_POOL_2D``: batch, out_y, out_x, channel; one
  input channel per output channel.
* ``ADD``, ``SUB``, ``MUL`` (``Add``/``Sub``/``Mul`` element by element, or
  ``BroadcastAdd4DSlow``, ``BroadcastQuantSubSlow``, ``BroadcastMul4DSlow``
  and the like when shapes differ): output elements in order, input index
  by broadcasting, so a broadcast input element is read until the last
  output element that repeats it.
* ``PAD`` (``reference_ops::Pad``): output elements in order, each the
  padding value or the next input element, so input element ``i`` is read
  by the output element at its coordinates plus the leading padding.
* ``STRIDED_SLICE`` (``reference_ops::StridedSlice``; CMSIS-NN has no
  kernel of its own, so every library runs this one): output
  elements in order, each a copy of the input element at ``begin + stride
  * index`` per axis, so input element ``i`` is read by the output element
  whose coordinates it has, less ``begin``, over the stride, and by none if
  it is sliced away. A slice that drops the top rows may therefore sit
  exactly where its rows are in the input: a copy in place, no new bytes.
* ``SLICE`` (``reference_ops::Slice``, every library): the same with unit
  steps; the output is written in order through a sequential writer.
* ``FULLY_CONNECTED``: batch, output unit, then every input of the batch
  row; an input row is read by every unit, so the output may overlap at
  most its last element (listed so a caller learns it gains nothing).

Weights must be of the activations' type (float32 or int8): hybrid
kernels (float activations, int8 weights) and packed int4 weights run
other code and get no rule. Windows read only points inside the image
(padding is skipped, never read), with TFLite Micro's padding: ``SAME``
puts the smaller half of the total padding at the top and left. A kernel
library with another loop order needs its own rule: these shifts were
verified by running TFLite Micro's reference kernels.

CMSIS-NN
--------
Arm's CMSIS-NN kernels (TFLite Micro's ``cmsis_nn`` build, int8) were run
on emulated Cortex-M4 (DSP) and Cortex-M55 (MVE) cores with overlapped
plans, whole models and one-operator models at exactly the rule's shift
(docs/device.md). A 1x1 convolution there is a matrix product read
straight from the input (``arm_convolve_1x1_s8_fast``): the DSP path walks
the output channels two at a time over every pixel, so it reads the whole
input until its last channels; the MVE path takes four pixels at a time
and writes them channel by channel. The reference rule's overlaps corrupt
both, stride 1 or 2. Every other overlap the rule allowed there ran
bit-identical: kxk convolutions, dilated too (``arm_convolve_s8`` copies
the windows of two or four pixels to an im2col buffer before writing
them), depthwise convolutions (multiplier 1 and 2), pools, PAD, ADD, SUB,
MUL and FULLY_CONNECTED. For ``cmsis-nn-dsp`` and ``cmsis-nn-mve``
(:data:`.scratch.KERNEL_LIBRARIES`) the rule therefore leaves out int8
``CONV_2D`` with a filter of height or width 1 (1x1; 1xN and Nx1, which
CMSIS-NN sends to kernels of their own, were not run); float32 operators
run TFLite Micro's reference kernels in that build and keep the whole
rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from tflite_serenity.arena.blocks import DEFAULT_ALIGNMENT
from tflite_serenity.graph import Graph, build_graphs
from tflite_serenity.memory import is_activation, tensor_bytes
from tflite_serenity.errors import UnsupportedModelError
from tflite_serenity.model.editor import constant_array, operator_options
from tflite_serenity.slice_ops import read_slice, read_unit_slice

#: Operator kinds with a rule here; each was verified in TFLite Micro with
#: float32 and int8 tensors (tests/arena/test_overlap_tflm.py).
KINDS = ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD", "SUB", "MUL", "PAD",
         "FULLY_CONNECTED", "STRIDED_SLICE", "SLICE")

#: The kernel libraries whose overlaps were verified by running
#: (:data:`.scratch.KERNEL_LIBRARIES`): an overlap is allowed only where it
#: holds for every library the model may run with (``Target.kernels``).
VERIFIED_LIBRARIES = ("reference", "cmsis-nn-dsp", "cmsis-nn-mve")

_ITEMSIZE = {"FLOAT32": 4, "INT8": 1}
#: Kinds whose second input is the weights; the rule holds where they are of the activations' type.
_WEIGHTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
_NEVER = -1


@dataclass(frozen=True)
class Window:
    """A sliding window along one spatial axis, as TFLite Micro runs it.

    ``pad`` is the number of virtual (skipped) points before the first one.
    """

    size: int
    stride: int = 1
    dilation: int = 1
    pad: int = 0


def same_padding(in_size: int, out_size: int, window: int, stride: int, dilation: int = 1) -> int:
    """TFLite Micro's leading padding for ``SAME`` (the smaller half).

    Examples
    --------
    >>> same_padding(5, 5, 3, 1), same_padding(6, 3, 3, 2), same_padding(7, 4, 2, 2)
    (1, 0, 0)
    """
    span = (window - 1) * dilation + 1
    return max((out_size - 1) * stride + span - in_size, 0) // 2


def window_last_use(in_size: int, out_size: int, window: Window) -> np.ndarray:
    """Per input coordinate, the last output coordinate whose window holds it.

    ``-1`` for coordinates no window holds (rows a stride skips, or rows a
    ``VALID`` window never reaches).

    Examples
    --------
    >>> window_last_use(5, 5, Window(3, pad=1)).tolist()
    [1, 2, 3, 4, 4]
    >>> window_last_use(5, 2, Window(1, stride=2)).tolist()
    [0, -1, 1, -1, -1]
    """
    coords = np.arange(in_size, dtype=np.int64)
    last = np.full(in_size, _NEVER, dtype=np.int64)
    for tap in range(window.size):
        origin = coords + window.pad - tap * window.dilation
        out = origin // window.stride
        hit = (origin >= 0) & (origin % window.stride == 0) & (out < out_size)
        last = np.where(hit, np.maximum(last, out), last)
    return last


def windowed_last_reads(in_shape: Sequence[int], out_shape: Sequence[int], rows: Window, cols: Window,
                        last_channel: np.ndarray) -> np.ndarray:
    """Last reading output element of every element of an NHWC input.

    ``last_channel[c]`` is the last output channel (of an output pixel)
    that reads input channel ``c``: the output's last channel for a
    convolution, ``c*M + M - 1`` for a depthwise convolution, ``c`` for
    pooling. Returns a flat int64 array over the input, ``-1`` = never read.
    """
    batch, height, width, _ = (int(d) for d in in_shape)
    _, out_h, out_w, out_c = (int(d) for d in out_shape)
    ly = window_last_use(height, out_h, rows)
    lx = window_last_use(width, out_w, cols)
    b = np.arange(batch, dtype=np.int64)[:, None, None, None]
    pixel = (b * out_h + ly[None, :, None, None]) * out_w + lx[None, None, :, None]
    last = pixel * out_c + np.asarray(last_channel, dtype=np.int64)[None, None, None, :]
    never = (ly[None, :, None, None] < 0) | (lx[None, None, :, None] < 0)
    return np.where(never, _NEVER, last).reshape(-1)


def broadcast_last_reads(in_shape: Sequence[int], out_shape: Sequence[int]) -> np.ndarray:
    """Last reading output element of every input element of a broadcasting
    element-wise operator (``ADD``, ``SUB``, ``MUL``): the input's coordinates with
    each broadcast axis at its last output coordinate.

    Examples
    --------
    >>> broadcast_last_reads((1, 2), (3, 2)).tolist()
    [4, 5]
    """
    out_shape = tuple(int(d) for d in out_shape)
    shape = (1,) * (len(out_shape) - len(in_shape)) + tuple(int(d) for d in in_shape)
    coords = np.indices(shape, dtype=np.int64) if shape else np.zeros((0,), dtype=np.int64)
    pinned = [np.full(shape, o - 1, dtype=np.int64) if d == 1 and o > 1 else c
              for c, d, o in zip(coords, shape, out_shape)]
    if not pinned:
        return np.zeros(1, dtype=np.int64)
    return np.ravel_multi_index(pinned, out_shape).reshape(-1).astype(np.int64)


def pad_last_reads(in_shape: Sequence[int], out_shape: Sequence[int], before: Sequence[int]) -> np.ndarray:
    """The output element of ``PAD`` that copies each input element: its
    coordinates shifted by the leading padding ``before`` (one per axis).

    Examples
    --------
    >>> pad_last_reads((1, 2), (3, 4), (1, 1)).tolist()
    [5, 6]
    """
    coords = np.indices(tuple(int(d) for d in in_shape), dtype=np.int64)
    shifted = [c + int(p) for c, p in zip(coords, before)]
    return np.ravel_multi_index(shifted, tuple(int(d) for d in out_shape)).reshape(-1).astype(np.int64)


def slice_last_reads(in_shape: Sequence[int], axes: Sequence[tuple[int, int, int]]) -> np.ndarray:
    """The output element of a ``STRIDED_SLICE`` that copies each input
    element, -1 for those it leaves out; ``axes`` holds per axis the first
    index, the (positive) stride and the count kept.

    Examples
    --------
    >>> slice_last_reads((4, 2), [(1, 1, 2), (0, 1, 2)]).tolist()
    [-1, -1, 0, 1, 2, 3, -1, -1]
    """
    index = np.zeros(tuple(int(d) for d in in_shape), dtype=np.int64)
    kept = np.ones(index.shape, dtype=bool)
    scale = 1
    for axis in range(len(in_shape) - 1, -1, -1):
        first, stride, count = axes[axis]
        coord = np.arange(int(in_shape[axis]), dtype=np.int64) - first
        position = coord // stride
        inside = (coord >= 0) & (coord % stride == 0) & (position < count)
        view = [1] * len(in_shape)
        view[axis] = -1
        index += (position * scale).reshape(view)
        kept &= inside.reshape(view)
        scale *= count
    return np.where(kept, index, -1).reshape(-1)


def fully_connected_last_reads(in_count: int, depth: int, units: int) -> np.ndarray:
    """Last reading output element of a ``FULLY_CONNECTED`` input of
    ``in_count`` elements in rows of ``depth``: the row's last unit."""
    row = np.arange(in_count, dtype=np.int64) // depth
    return row * units + units - 1


@dataclass(frozen=True)
class Shifts:
    """Where an output may start relative to its input, in bytes.

    Attributes
    ----------
    below : int
        Every shift ``<= below`` is safe (output start minus input start).
    above : int
        The lowest safe shift greater than ``below``; at most the input's
        byte size, where the two no longer overlap.
    input_bytes, output_bytes : int
    """

    below: int
    above: int
    input_bytes: int
    output_bytes: int

    def footprint(self, shift: int) -> int:
        """Bytes input and output span together with the output at ``shift``."""
        return max(self.input_bytes, shift + self.output_bytes) - min(0, shift)

    def best_shift(self, alignment: int = 1) -> int:
        """The safe ``alignment``-multiple shift with the smallest footprint
        (ties: the lower shift). Rounding ``below`` down stays safe."""
        low = min(self.below, 0) // alignment * alignment
        candidates = [low]
        if self.above % alignment == 0:
            candidates.append(self.above)
        return min(candidates, key=lambda s: (self.footprint(s), s))

    def saved(self, alignment: int = 1) -> int:
        """Bytes saved over placing input and output apart."""
        return self.input_bytes + self.output_bytes - self.footprint(self.best_shift(alignment))


def shift_bounds(last_reads: np.ndarray, in_itemsize: int, out_itemsize: int, out_count: int) -> Shifts:
    """The safe shifts for an input whose element ``i`` is last read by
    output element ``last_reads[i]`` (``-1``: never), see the module text.

    Examples
    --------
    An element-wise operator may write in place, and no higher:

    >>> s = shift_bounds(np.arange(6), 1, 1, 6); (s.below, s.above)
    (0, 6)
    """
    last = np.asarray(last_reads, dtype=np.int64).reshape(-1)
    n = last.size
    in_bytes, out_bytes = n * in_itemsize, out_count * out_itemsize
    index = np.arange(n, dtype=np.int64)
    # Elements read only by output element 0 are read before any write.
    limit = np.where(last > 0, index * in_itemsize - last * out_itemsize, np.iinfo(np.int64).max)
    below = int(min(limit.min(initial=in_bytes), in_bytes))
    # Suffix minimum: the tightest limit among elements at or after each one.
    suffix = np.minimum.accumulate(limit[::-1])[::-1]
    starts = (index + 1) * in_itemsize  # a shift that starts past element k
    after = np.append(suffix[1:], np.iinfo(np.int64).max)
    ok = (after >= starts) & (starts > below)
    above = int(starts[ok][0]) if ok.any() else in_bytes
    return Shifts(below, min(above, in_bytes), in_bytes, out_bytes)


@dataclass(frozen=True)
class InputOverlap:
    """The shifts of one operator's output over one of its activation inputs."""

    operator: int
    tensor: int
    shifts: Shifts


def operator_overlaps(model, graph: Graph, index: int,
                      kernels: Sequence[str] = ("reference",)) -> tuple[InputOverlap, ...]:
    """The safe shifts of operator ``index``'s output over each activation input.

    Empty when the operator has no rule (another kind, another type, a
    dynamic or odd shape, a kernel library of ``kernels`` whose kernel for
    it was not verified with overlaps): callers then keep input and output
    apart.

    Parameters
    ----------
    model : ModelT
        The model (for the operator's options).
    graph : Graph
        Its subgraph ``graph.subgraph``.
    index : int
        The operator's position in the stored order.
    kernels : sequence of str, default ``("reference",)``
        The kernel libraries the model may run with (``Target.kernels``);
        the overlap must hold for each.
    """
    op = graph.operators[index]
    if op.kind not in KINDS or len(op.outputs) != 1 or op.outputs[0] < 0:
        return ()
    out = graph.tensors[op.outputs[0]]
    acts = [t for t in op.inputs if t >= 0 and is_activation(graph.tensors[t])]
    if out.dynamic or out.dtype not in _ITEMSIZE or not acts:
        return ()
    if any(graph.tensors[t].dtype != out.dtype or graph.tensors[t].dynamic for t in acts):
        return ()
    if op.kind in _WEIGHTED and (len(op.inputs) < 2 or op.inputs[1] < 0
                                 or graph.tensors[op.inputs[1]].dtype != out.dtype):
        return ()  # hybrid or packed weights: other kernels, not verified
    if not all(library_verified(library, graph, op) for library in kernels):
        return ()
    options = operator_options(model, graph.subgraph, index)
    result = []
    for t in dict.fromkeys(acts):
        last = _last_reads(model, graph, index, options, t)
        if last is None:
            continue
        size = _ITEMSIZE[out.dtype]
        shifts = shift_bounds(last, size, size, int(np.prod(out.shape, dtype=np.int64)))
        if shifts.input_bytes != tensor_bytes(graph.tensors[t]) or shifts.output_bytes != tensor_bytes(out):
            continue
        result.append(InputOverlap(index, t, shifts))
    return tuple(result)


def cmsis_nn_verified(kind: str, dtype: str, filter_size: tuple[int, int] | None = None) -> bool:
    """Whether CMSIS-NN runs an operator's overlaps as the rule assumes
    (see the module text): all but int8 ``CONV_2D`` with a filter of height
    or width 1 (1x1: a matrix product straight from the input, several
    pixels or every pixel per output channel; 1xN, Nx1: not run). float32
    runs the reference kernels.

    Examples
    --------
    >>> cmsis_nn_verified("CONV_2D", "INT8", (3, 3)), cmsis_nn_verified("CONV_2D", "INT8", (1, 1))
    (True, False)
    >>> cmsis_nn_verified("CONV_2D", "FLOAT32", (1, 1))
    True
    """
    if dtype != "INT8" or kind != "CONV_2D":
        return True
    return filter_size is not None and min(filter_size) > 1


def library_verified(library: str, graph: Graph, op) -> bool:
    """Whether ``library``'s kernel for ``op`` was verified with the rule's
    overlaps: the reference kernels for every kind; CMSIS-NN's
    (:func:`cmsis_nn_verified`); no other library."""
    if library == "reference":
        return True
    if library not in VERIFIED_LIBRARIES:
        return False
    filt = graph.tensors[op.inputs[1]].shape if op.kind == "CONV_2D" else ()
    return cmsis_nn_verified(op.kind, graph.tensors[op.outputs[0]].dtype,
                             tuple(filt[1:3]) if len(filt) == 4 else None)


@dataclass(frozen=True)
class OverlapPair:
    """Buffer ``output`` may share bytes with buffer ``input`` when
    ``offset(output) - offset(input) <= limit`` (positions in
    :attr:`.ModelBuffers.buffers`)."""

    input: int
    output: int
    limit: int


def overlap_pairs(model, buffers, alignment: int = DEFAULT_ALIGNMENT, kinds: Sequence[str] = KINDS,
                  graphs: Sequence[Graph] | None = None,
                  kernels: Sequence[str] = ("reference",)) -> list[OverlapPair]:
    """Every (dying input, output) buffer pair the rule lets overlap.

    Single-subgraph models only (empty otherwise): a pair needs the input to
    die at the operator that writes the output, which is what the buffers'
    steps say for one subgraph. The limit is the rule's shift
    (:attr:`Shifts.below`) clamped to at most 0 and rounded down to the
    alignment, the placements verified by running.

    Parameters
    ----------
    model : ModelT
    buffers : ModelBuffers
        TFLite Micro's buffers of the model (:func:`.model_buffers`).
    alignment : int, default 16
    kinds : sequence of str, default KINDS
        The operator kinds that may overlap.
    graphs : list of Graph, optional
        The model's graphs, if already built.
    kernels : sequence of str, default ``("reference",)``
        The kernel libraries the model may run with; a pair must hold for each.
    """
    if graphs is None:
        graphs = build_graphs(model)
    if len(graphs) != 1:
        return []
    graph = graphs[0]
    index = {b.tensor: i for i, b in enumerate(buffers.buffers) if b.subgraph == 0 and not b.is_scratch}
    pairs = []
    for op in range(graph.num_operators):
        if graph.operators[op].kind not in kinds:
            continue
        for ov in operator_overlaps(model, graph, op, kernels):
            a, b = index.get(ov.tensor), index.get(graph.operators[op].outputs[0])
            if a is None or b is None or ov.tensor in graph.outputs:
                continue
            if buffers.buffers[a].block.end != buffers.buffers[b].block.start:
                continue  # the input lives on after this operator
            limit = min(ov.shifts.below, 0) // alignment * alignment
            pairs.append(OverlapPair(a, b, limit))
    return pairs


def _last_reads(model, graph: Graph, index: int, options: dict, tensor: int) -> np.ndarray | None:
    op = graph.operators[index]
    x = graph.tensors[tensor].shape
    y = graph.tensors[op.outputs[0]].shape
    if op.kind == "PAD":
        if tensor != op.inputs[0] or len(op.inputs) < 2 or not graph.tensors[op.inputs[1]].has_data:
            return None
        try:
            pads = constant_array(model, graph.subgraph, op.inputs[1]).reshape(-1, 2)
        except (UnsupportedModelError, ValueError):
            return None
        if len(pads) != len(x) or any(int(a) + d + int(b) != o for (a, b), d, o in zip(pads, x, y)):
            return None
        return pad_last_reads(x, y, [int(a) for a, _ in pads])
    if op.kind in ("STRIDED_SLICE", "SLICE"):
        read = read_slice if op.kind == "STRIDED_SLICE" else read_unit_slice
        found = read(model, graph, index) if tensor == op.inputs[0] else None
        if found is None:
            return None
        return slice_last_reads(x, [(a.start, a.stride, a.count) for a in found.axes])
    if op.kind in ("ADD", "SUB", "MUL"):
        if len(x) > len(y) or any(d not in (1, o) for d, o in zip(x[::-1], y[::-1])):
            return None
        return broadcast_last_reads(x, y)
    if op.kind == "FULLY_CONNECTED":
        weights = graph.tensors[op.inputs[1]].shape if len(op.inputs) > 1 and op.inputs[1] >= 0 else ()
        count = int(np.prod(x, dtype=np.int64))
        if len(weights) != 2 or tensor != op.inputs[0] or count % weights[1]:
            return None
        if int(np.prod(y, dtype=np.int64)) != count // weights[1] * weights[0]:
            return None
        return fully_connected_last_reads(count, weights[1], weights[0])
    if tensor != op.inputs[0] or len(x) != 4 or len(y) != 4 or x[0] != y[0]:
        return None
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        filt = graph.tensors[op.inputs[1]].shape
        if len(filt) != 4:
            return None
        kh, kw = filt[1], filt[2]
    else:
        kh, kw = int(options.get("filterHeight", 1)), int(options.get("filterWidth", 1))
    sh, sw = int(options.get("strideH", 1) or 1), int(options.get("strideW", 1) or 1)
    dh = int(options.get("dilationHFactor", 1) or 1)
    dw = int(options.get("dilationWFactor", 1) or 1)
    same = options.get("padding", 0) == 0  # Padding.SAME
    rows = Window(kh, sh, dh, same_padding(x[1], y[1], kh, sh, dh) if same else 0)
    cols = Window(kw, sw, dw, same_padding(x[2], y[2], kw, sw, dw) if same else 0)
    channels = np.arange(x[3], dtype=np.int64)
    if op.kind == "CONV_2D":
        per_group = filt[3]
        if per_group <= 0 or x[3] % per_group or y[3] % (x[3] // per_group):
            return None
        group_out = y[3] // (x[3] // per_group)
        last_channel = (channels // per_group + 1) * group_out - 1
    elif op.kind == "DEPTHWISE_CONV_2D":
        if y[3] % x[3]:
            return None
        multiplier = y[3] // x[3]
        last_channel = channels * multiplier + multiplier - 1
    else:
        if y[3] != x[3]:
            return None
        last_channel = channels
    return windowed_last_reads(x, y, rows, cols, last_channel)


__all__ = [
    "KINDS", "VERIFIED_LIBRARIES", "InputOverlap", "OverlapPair", "Shifts", "Window", "broadcast_last_reads",
    "cmsis_nn_verified", "fully_connected_last_reads", "library_verified", "operator_overlaps", "overlap_pairs",
    "pad_last_reads", "same_padding", "shift_bounds", "window_last_use", "windowed_last_reads",
]
