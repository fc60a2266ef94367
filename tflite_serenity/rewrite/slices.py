"""Exact rewrites of data movement: slices go first, and fold together.

NASNet's factorized reductions shift a feature map by one pixel and take
every second pixel of it::

    x -> PAD (0, 1) -> STRIDED_SLICE (crop 1, 0) -> AVERAGE_POOL_2D (1x1, stride 2)

The padded map and the crop are each about as large as ``x`` and alive with
it: on NASNetMobile the crop's working set was the lower bound of every
order. Four rules, applied until none does, turn the chain into one slice of
``x`` a quarter of its size, then a small PAD:

* **slice before pad**: ``STRIDED_SLICE(PAD(x))`` is ``PAD'(STRIDED_SLICE'(x))``
  (any positive strides): the slice keeps the same elements of ``x`` and the
  same padding value (zero, or the zero point of the same quantization);
* **a pool of one element is a slice**: a 1x1 AVERAGE_POOL_2D or
  MAX_POOL_2D of stride ``s`` with no fused activation and the same
  quantization in and out copies every ``s``-th element (the average or
  maximum of one value is that value, in float and integer kernels alike),
  so it becomes a STRIDED_SLICE; only done where its input comes from a PAD
  or STRIDED_SLICE that it alone reads, where the other rules can go on;
* **a slice of a slice** is one slice;
* **a PAD of no padding**, or a slice that keeps everything, is a copy:
  its readers read its input instead.

Each rule gives the same tensors element for element, and none needs more
memory in any order: every tensor it removes or shrinks was alive at least
as long as what replaces it (docs/rewriting.md, "Slices first").

Only PAD (not PADV2) with constant, non-negative paddings is moved, and only
STRIDED_SLICEs with constant begin, end and positive strides, without
ellipsis, new-axis or shrink masks or ``offset``, whose input is read by
nothing else and is no graph output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..graph import Graph
from ..model_version import ModelVersion
from ..model import opcode_name
from ..model.editor import SubgraphEditor, constant_array, operator_options, tensor_quantization
from ..slice_ops import Axis, plain_activations, read_slice


@dataclass(frozen=True)
class SliceFirst:
    """The slice of ``x`` and the padding after it that give ``slice(pad(x))``."""

    axes: tuple[Axis, ...]
    padding: tuple[tuple[int, int], ...]


def slice_first(shape: Sequence[int], padding: Sequence[Sequence[int]], axes: Sequence[Axis]) -> SliceFirst | None:
    """The slice of ``x`` (of ``shape``) and the padding after it that give
    ``pad(x, padding)`` sliced by ``axes`` (positive strides, resolved to the
    padded map), or None when the slice keeps only padding on some axis."""
    out_axes, pads = [], []
    for size, (before, _), axis in zip(shape, padding, axes):
        # elements j of the slice at padded index start + stride * j; x holds [before, before + size)
        first = max(0, -(-(before - axis.start) // axis.stride))
        stop = min(axis.count, -(-(before + size - axis.start) // axis.stride))
        if first >= stop:
            return None
        out_axes.append(Axis(axis.start + axis.stride * first - before, axis.stride, stop - first))
        pads.append((first, axis.count - stop))
    return SliceFirst(tuple(out_axes), tuple(pads))


def compose(inner: Sequence[Axis], outer: Sequence[Axis]) -> tuple[Axis, ...]:
    """The one slice that keeps what ``outer`` keeps of what ``inner`` keeps."""
    return tuple(Axis(a.start + a.stride * b.start, a.stride * b.stride, b.count) for a, b in zip(inner, outer))


@dataclass(frozen=True)
class SliceCounts:
    """How many times each rule was applied in one subgraph."""

    moved: int = 0  # slices moved before a PAD
    pools: int = 0  # 1x1 pools turned into slices
    fused: int = 0  # slices of slices made one
    dropped: int = 0  # PADs of no padding and slices of everything removed

    @property
    def total(self) -> int:
        return self.moved + self.pools + self.fused + self.dropped

    def describe(self) -> str:
        """E.g. ``"4 slices moved before a pad, 2 fused"``; empty when nothing changed."""
        parts = [f"{n} {what}" for n, what in (
            (self.moved, "slices moved before a pad" if self.moved > 1 else "slice moved before a pad"),
            (self.pools, "1x1 pools made slices" if self.pools > 1 else "1x1 pool made a slice"),
            (self.fused, "slices fused" if self.fused > 1 else "slice fused"),
            (self.dropped, "copies dropped" if self.dropped > 1 else "copy dropped")) if n]
        return ", ".join(parts)


_KINDS = frozenset({"PAD", "STRIDED_SLICE", "AVERAGE_POOL_2D", "MAX_POOL_2D"})
_POOL_TYPES = frozenset({"FLOAT32", "INT8"})


def simplify_slices(model) -> tuple[object, tuple[SliceCounts, ...]]:
    """Apply the module's rules to every subgraph until none applies.

    Returns the new model (the input itself when nothing changed) and the
    counts per subgraph.
    """
    counts = []
    for s in range(len(model.subgraphs)):
        done = {"moved": 0, "pools": 0, "fused": 0, "dropped": 0}
        # most subgraphs have none of these operators: skip building their graph
        if any(opcode_name(model, op) in _KINDS for op in model.subgraphs[s].operators or []):
            while (found := _next_rewrite(model, ModelVersion(model).graph(s))) is not None:
                rule, rewrite = found
                model = rewrite(model, s)
                done[rule] += 1
        counts.append(SliceCounts(**done))
    return model, tuple(counts)


# -- finding sites ------------------------------------------------------------


def _next_rewrite(model, graph: Graph):
    for op in graph.operators:
        for rule, find in _RULES:
            rewrite = find(model, graph, op.index)
            if rewrite is not None:
                return rule, rewrite
    return None


def _sole_reader(graph: Graph, tensor: int) -> int | None:
    """The one operator reading ``tensor`` (once), or None; graph outputs have none."""
    readers = graph.consumers[tensor]
    if len(readers) != 1 or tensor in graph.outputs or graph.operators[readers[0]].inputs.count(tensor) != 1:
        return None
    return readers[0]


def read_paddings(model, graph: Graph, index: int) -> list[tuple[int, int]] | None:
    """Operator ``index``'s paddings if it is a PAD with constant, non-negative paddings, or None."""
    op = graph.operators[index]
    if op.kind != "PAD" or len(op.inputs) != 2 or len(op.outputs) != 1:
        return None
    x, paddings = op.inputs
    if not plain_activations(graph, (x, op.outputs[0])) or paddings < 0 or not graph.tensors[paddings].has_data:
        return None
    pads = constant_array(model, graph.subgraph, paddings).reshape(-1, 2).tolist()
    if len(pads) != len(graph.tensors[x].shape) or any(a < 0 or b < 0 for a, b in pads):
        return None
    return [(int(a), int(b)) for a, b in pads]


def _slice_after_pad(model, graph: Graph, index: int):
    pads = read_paddings(model, graph, index)
    if pads is None:
        return None
    pad = graph.operators[index]
    reader = _sole_reader(graph, pad.outputs[0])
    cut = read_slice(model, graph, reader) if reader is not None else None
    if cut is None or cut.source != pad.outputs[0]:
        return None
    moved = slice_first(graph.tensors[pad.inputs[0]].shape, pads, cut.axes)
    if moved is None:
        return None

    def rewrite(model, s):
        ed = SubgraphEditor(model, s)
        name = graph.tensors[cut.output].name
        sliced = ed.activation_like(pad.inputs[0], shape=[a.count for a in moved.axes],
                                    name=f"{name}/serenity_slice_first")
        # the slice takes the PAD's place and the PAD the slice's: inputs stay ahead of readers
        ed.replace(index, [_slice_operator(ed, cut.op, pad.inputs[0], sliced, moved.axes, name)])
        paddings = ed.constant_like(pad.inputs[1], np.asarray(moved.padding), name=f"{name}/serenity_paddings")
        ed.replace(cut.op, [ed.copy_operator(index, [sliced, paddings], [cut.output])])
        return ed.finish()[0]

    return rewrite


def _pool_of_one(model, graph: Graph, index: int):
    op = graph.operators[index]
    if op.kind not in ("AVERAGE_POOL_2D", "MAX_POOL_2D") or len(op.inputs) != 1 or len(op.outputs) != 1:
        return None
    x, out = op.inputs[0], op.outputs[0]
    if not plain_activations(graph, (x, out)) or graph.producer[x] < 0 or _sole_reader(graph, x) != index:
        return None
    if graph.operators[graph.producer[x]].kind not in ("PAD", "STRIDED_SLICE"):
        return None  # nothing for the other rules to go on with: leave the pool as it is
    options = operator_options(model, graph.subgraph, index)
    if (options.get("filterHeight"), options.get("filterWidth")) != (1, 1) or options.get("fusedActivationFunction"):
        return None
    (xt, ot) = graph.tensors[x], graph.tensors[out]
    if xt.dtype != ot.dtype or xt.dtype not in _POOL_TYPES or len(xt.shape) != 4:
        return None
    if tensor_quantization(model, graph.subgraph, x) != tensor_quantization(model, graph.subgraph, out):
        return None
    strides = (1, options.get("strideH", 1), options.get("strideW", 1), 1)
    if min(strides) <= 0:
        return None
    # a 1x1 window needs no padding, SAME or VALID: ceil(size / stride) outputs either way
    axes = tuple(Axis(0, s, -(-n // s)) for n, s in zip(xt.shape, strides))
    if tuple(a.count for a in axes) != ot.shape:
        return None

    if xt.dtype == "FLOAT32" and strides == (1, 1, 1, 1):
        return None  # what a float pool of one element leaves: it changes -0.0 and NaN, so it stays

    def rewrite(model, s):
        ed = SubgraphEditor(model, s)
        name = graph.tensors[out].name
        if xt.dtype == "INT8":  # the integer kernels copy the value: the pool is the slice
            ed.replace(index, [_slice_operator(ed, None, x, out, axes, name, version=2)])
        else:  # float kernels add the value to +0.0 (average) or take its max with -FLT_MAX: keep that step
            sliced = ed.activation_like(out, name=f"{name}/serenity_subsample")
            ed.replace(index, [_slice_operator(ed, None, x, sliced, axes, name),
                               ed.copy_operator(index, [sliced], [out], options={"strideH": 1, "strideW": 1})])
        return ed.finish()[0]

    return rewrite


def _slice_of_slice(model, graph: Graph, index: int):
    inner = read_slice(model, graph, index)
    if inner is None:
        return None
    reader = _sole_reader(graph, inner.output)
    outer = read_slice(model, graph, reader) if reader is not None else None
    if outer is None:
        return None
    axes = compose(inner.axes, outer.axes)

    def rewrite(model, s):
        ed = SubgraphEditor(model, s)
        # at the inner slice's place: the (smaller) result lives no longer than the inner one did
        ed.replace(index, [_slice_operator(ed, index, inner.source, outer.output, axes,
                                           graph.tensors[outer.output].name)])
        ed.replace(outer.op, [])
        return ed.finish()[0]

    return rewrite


def _copy(model, graph: Graph, index: int):
    op = graph.operators[index]
    pads = read_paddings(model, graph, index)
    if pads is not None:
        keeps_all = not any(a or b for a, b in pads)
    else:
        cut = read_slice(model, graph, index)
        keeps_all = cut is not None and all(
            (a.start, a.stride, a.count) == (0, 1, n) for a, n in zip(cut.axes, graph.tensors[cut.source].shape))
    if not keeps_all:
        return None
    x, out = op.inputs[0], op.outputs[0]
    if out in graph.outputs or graph.tensors[x].dtype != graph.tensors[out].dtype:
        return None
    if tensor_quantization(model, graph.subgraph, x) != tensor_quantization(model, graph.subgraph, out):
        return None

    def rewrite(model, s):
        ed = SubgraphEditor(model, s)
        ed.replace(index, [])
        for reader in graph.consumers[out]:
            inputs = [x if t == out else t for t in graph.operators[reader].inputs]
            ed.replace(reader, [ed.copy_operator(reader, inputs, graph.operators[reader].outputs)])
        return ed.finish()[0]

    return rewrite


_RULES = (("moved", _slice_after_pad), ("pools", _pool_of_one), ("fused", _slice_of_slice), ("dropped", _copy))


def _slice_operator(ed: SubgraphEditor, like: int | None, x: int, out: int, axes: Sequence[Axis], name: str,
                    *, version: int = 1):
    """A STRIDED_SLICE of ``x`` keeping ``axes`` into ``out``: a copy of slice
    ``like`` with new constants, or a new operator."""
    begin = ed.constant(np.asarray([a.start for a in axes], dtype=np.int32), name=f"{name}/serenity_begin")
    end = ed.constant(np.asarray([a.end for a in axes], dtype=np.int32), name=f"{name}/serenity_end")
    strides = ed.constant(np.asarray([a.stride for a in axes], dtype=np.int32), name=f"{name}/serenity_strides")
    inputs = [x, begin, end, strides]
    if like is None:
        return ed.new_operator("STRIDED_SLICE", inputs, [out], version=version)
    return ed.copy_operator(like, inputs, [out], options={"beginMask": 0, "endMask": 0})
