"""Crop before padding: ``STRIDED_SLICE(PAD(x))`` becomes ``PAD(STRIDED_SLICE(x))``.

NASNet's factorized reductions shift a feature map by one pixel with
``ZeroPadding2D(((0, 1), (0, 1)))`` then ``Cropping2D(((1, 0), (1, 0)))``: the
converter writes a PAD whose padded map (one row and column larger than its
input) is read only by a STRIDED_SLICE. Cropping the input first and padding
the (smaller) crop gives the same tensor element for element: both are data
movement, and the padding value is the same (zero, or the zero point of the
same quantization). The intermediate tensor is smaller and every other
tensor is unchanged, so no step of any order needs more memory; on
NASNetMobile the PAD's working set was the graph's lower bound.

Only unit-stride slices without ellipsis, new-axis or shrink masks are moved,
whose begin and end are constants, after a PAD (not PADV2) with constant
paddings whose output nothing else reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .. import memory
from ..graph import Graph, build_graph
from ..model import opcode_name
from ..model.rewrite_ops import SubgraphEditor, constant_array, operator_options


@dataclass(frozen=True)
class Crop:
    """A crop ``[begin, end)`` per axis of a tensor, then ``(before, after)`` padding per axis."""

    begin: tuple[int, ...]
    end: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]


def crop_first(shape: Sequence[int], padding: Sequence[Sequence[int]], begin: Sequence[int],
               end: Sequence[int]) -> Crop | None:
    """The crop of ``x`` and the padding after it that give ``pad(x, padding)[begin:end]``
    (unit strides, ``begin``/``end`` already resolved to ``0..padded size``), or
    None when the slice keeps nothing of ``x`` on some axis."""
    b_out, e_out, pads = [], [], []
    for size, (before, after), b, e in zip(shape, padding, begin, end):
        start, stop = max(b - before, 0), min(e - before, size)
        if start >= stop:
            return None  # only padding survives on this axis
        pads.append((max(before - b, 0), max(e - before - size, 0)))
        b_out.append(start)
        e_out.append(stop)
    return Crop(tuple(b_out), tuple(e_out), tuple(pads))


@dataclass(frozen=True)
class _Site:
    pad: int
    crop_op: int
    source: int  # the PAD's input
    crop: Crop


def crop_before_pad(model) -> tuple[object, tuple[int, ...]]:
    """Move every eligible crop before the PAD it reads (see the module docstring).

    Returns the new model (the input itself when nothing moved) and, per
    subgraph, how many crops moved.
    """
    moved = []
    for s in range(len(model.subgraphs)):
        count = 0
        # most subgraphs have no PAD: skip building their graph
        has_pad = any(opcode_name(model, op) == "PAD" for op in model.subgraphs[s].operators or [])
        while has_pad and (site := _next_site(model, build_graph(model, s))) is not None:
            model = _move(model, s, site)
            count += 1
        moved.append(count)
    return model, tuple(moved)


def _next_site(model, graph: Graph) -> _Site | None:
    for op in graph.operators:
        if op.kind == "PAD":
            site = _site(model, graph, op.index)
            if site is not None:
                return site
    return None


def _site(model, graph: Graph, pad: int) -> _Site | None:
    s, tensors = graph.subgraph, graph.tensors
    op = graph.operators[pad]
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        return None
    x, paddings = op.inputs
    padded = op.outputs[0]
    readers = graph.consumers[padded]
    if len(readers) != 1 or padded in graph.outputs or x < 0 or not tensors[paddings].has_data:
        return None
    crop_op = graph.operators[readers[0]]
    if crop_op.kind != "STRIDED_SLICE" or len(crop_op.inputs) != 4 or crop_op.inputs[0] != padded:
        return None
    if any(tensors[t].dynamic for t in (x, padded, crop_op.outputs[0])) or not memory.is_activation(tensors[x]):
        return None
    constants = crop_op.inputs[1:]
    if not all(t >= 0 and tensors[t].has_data for t in constants):
        return None
    options = operator_options(model, s, crop_op.index)
    if options.get("ellipsisMask", 0) or options.get("newAxisMask", 0) or options.get("shrinkAxisMask", 0):
        return None
    if options.get("offset", False):
        return None
    shape = tensors[x].shape
    rank = len(shape)
    pads = constant_array(model, s, paddings).reshape(-1, 2).tolist()
    begin, end, strides = (constant_array(model, s, t).reshape(-1).tolist() for t in constants)
    if len(pads) != rank or len(begin) != rank or len(end) != rank or any(v != 1 for v in strides):
        return None
    if any(a < 0 or b < 0 for a, b in pads):
        return None
    padded_shape = [n + a + b for n, (a, b) in zip(shape, pads)]
    first = [_resolve(begin[i], padded_shape[i], options.get("beginMask", 0) >> i & 1, 0) for i in range(rank)]
    last = [_resolve(end[i], padded_shape[i], options.get("endMask", 0) >> i & 1, padded_shape[i])
            for i in range(rank)]
    if [e - b for b, e in zip(first, last)] != list(tensors[crop_op.outputs[0]].shape):
        return None
    crop = crop_first(shape, pads, first, last)
    if crop is None:
        return None
    return _Site(pad, crop_op.index, x, crop)


def _resolve(index: int, size: int, masked: int, default: int) -> int:
    """A begin or end as TFLite resolves it for a unit stride: the mask's
    default, negatives from the end, clamped to ``0..size``."""
    if masked:
        return default
    if index < 0:
        index += size
    return min(max(index, 0), size)


def _move(model, subgraph: int, site: _Site):
    graph = build_graph(model, subgraph)
    pad, crop_op = graph.operators[site.pad], graph.operators[site.crop_op]
    ed = SubgraphEditor(model, subgraph)
    name = graph.tensors[crop_op.outputs[0]].name
    shape = [e - b for b, e in zip(site.crop.begin, site.crop.end)]
    cropped = ed.activation_like(site.source, shape=shape, name=f"{name}/serenity_crop_first")
    _, begin_t, end_t, strides_t = crop_op.inputs
    begin = ed.constant_like(begin_t, np.asarray(site.crop.begin), name=f"{name}/serenity_begin")
    end = ed.constant_like(end_t, np.asarray(site.crop.end), name=f"{name}/serenity_end")
    paddings = ed.constant_like(pad.inputs[1], np.asarray(site.crop.padding), name=f"{name}/serenity_paddings")
    # the crop takes the PAD's place and the PAD the crop's: inputs stay ahead of readers
    ed.replace(site.pad, [ed.copy_operator(site.crop_op, [site.source, begin, end, strides_t], [cropped],
                                           options={"beginMask": 0, "endMask": 0})])
    ed.replace(site.crop_op, [ed.copy_operator(site.pad, [cropped, paddings], crop_op.outputs)])
    new_model, _ = ed.finish()
    return new_model
