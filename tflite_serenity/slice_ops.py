"""What a STRIDED_SLICE (or a SLICE) of a model keeps, read from its constants and options.

Shared by the rewrites that move and fuse slices (:mod:`.rewrite.slices`),
row strips (:mod:`.rewrite.strips`) and the overlap rule
(:mod:`.arena.overlap`), which must all read a slice the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from . import memory
from .graph import Graph
from .model.editor import constant_array, operator_options


@dataclass(frozen=True)
class Axis:
    """The elements a slice keeps on one axis: ``start, start + stride, ...``, ``count`` of them."""

    start: int
    stride: int
    count: int

    @property
    def end(self) -> int:
        """An exclusive end that keeps exactly ``count`` elements."""
        return self.start + self.stride * (self.count - 1) + 1


@dataclass(frozen=True)
class Slice:
    """A STRIDED_SLICE the rules understand: its input, output and kept elements."""

    op: int
    source: int
    output: int
    axes: tuple[Axis, ...] = field(repr=False)


def plain_activations(graph: Graph, tensors: Sequence[int]) -> bool:
    """Whether every one of ``tensors`` is an activation of a fixed shape."""
    return all(t >= 0 and not graph.tensors[t].dynamic and memory.is_activation(graph.tensors[t]) for t in tensors)


def read_slice(model, graph: Graph, index: int) -> Slice | None:
    """Operator ``index`` as a :class:`Slice`, if it is a STRIDED_SLICE the rules understand."""
    found = _operands(graph, index, "STRIDED_SLICE", 4)
    if found is None:
        return None
    x, out, constants = found
    options = operator_options(model, graph.subgraph, index)
    if any(options.get(k, 0) for k in ("ellipsisMask", "newAxisMask", "shrinkAxisMask", "offset")):
        return None
    shape, out_shape = graph.tensors[x].shape, graph.tensors[out].shape
    begin, end, strides = (constant_array(model, graph.subgraph, t).reshape(-1).tolist() for t in constants)
    rank = len(shape)
    if not (len(begin) == len(end) == len(strides) == len(out_shape) == rank) or any(s <= 0 for s in strides):
        return None
    axes = []
    for i in range(rank):
        first = _resolve(begin[i], shape[i], options.get("beginMask", 0) >> i & 1, 0)
        last = _resolve(end[i], shape[i], options.get("endMask", 0) >> i & 1, shape[i])
        count = max(0, -(-(last - first) // strides[i]))
        if count != out_shape[i] or count == 0:
            return None
        axes.append(Axis(first, strides[i], count))
    return Slice(index, x, out, tuple(axes))


def read_unit_slice(model, graph: Graph, index: int) -> Slice | None:
    """Operator ``index`` as a :class:`Slice` of unit steps, if it is a SLICE
    with constant ``begin`` and ``size`` (``-1``: to the end, as TFLite reads it)."""
    found = _operands(graph, index, "SLICE", 3)
    if found is None:
        return None
    x, out, constants = found
    shape, out_shape = graph.tensors[x].shape, graph.tensors[out].shape
    begin, size = (constant_array(model, graph.subgraph, t).reshape(-1).tolist() for t in constants)
    rank = len(shape)
    if not (len(begin) == len(size) == len(out_shape) == rank):
        return None
    axes = []
    for i in range(rank):
        count = shape[i] - begin[i] if size[i] == -1 else size[i]
        if not 0 <= begin[i] < shape[i] or count != out_shape[i] or count <= 0 or begin[i] + count > shape[i]:
            return None
        axes.append(Axis(int(begin[i]), 1, int(count)))
    return Slice(index, x, out, tuple(axes))


def _operands(graph: Graph, index: int, kind: str, inputs: int) -> tuple[int, int, list[int]] | None:
    """Input, output and constant operands of operator ``index`` if it is a
    ``kind`` with ``inputs`` inputs, plain activations in and out and every
    other input a constant; else None."""
    op = graph.operators[index]
    if op.kind != kind or len(op.inputs) != inputs or len(op.outputs) != 1:
        return None
    x, *constants = op.inputs
    out = op.outputs[0]
    if not plain_activations(graph, (x, out)) or not all(t >= 0 and graph.tensors[t].has_data for t in constants):
        return None
    return x, out, constants


def _resolve(index: int, size: int, masked: int, default: int) -> int:
    """A begin or end as TFLite resolves it for a positive stride: the mask's
    default, negatives from the end, clamped to ``0..size``."""
    if masked:
        return default
    if index < 0:
        index += size
    return min(max(index, 0), size)
