"""Spatial partitioning: a stretch of the graph computed in row strips.

Reordering and concat rewrites cannot shrink one large feature map. Early in
a convolutional network, a few maps of full resolution are alive at once and
set the peak. Computed a band of rows at a time, each map only ever exists
one band at a time, plus the rows the next windows need from the band above
(patch-based inference, as in MCUNetV2, Lin et al. 2021, here for any
stretch of a DAG).

A *run* is a set of operators no path leaves and comes back to, stored in
one piece. Its *exits* (tensors it writes that later operators or the graph
outputs read) are joined whole; its *entries* (tensors it reads from
before) stay whole. For ``n`` strips, each exit is cut into ``n`` bands of
rows; working backwards, every tensor of the run gets, per strip, the rows
its readers need. Each operator then runs once per strip on its input rows,
and the exits are joined by a CONCATENATION on the row axis.

Exact: every output element is computed from the same input elements by the
same kernel. A windowed operator (CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D,
MAX_POOL_2D) keeps its padding mode, and the strip it reads is chosen so
that the padding the kernel adds at the strip's edges falls only where the
whole map had padding too (at its top and bottom rows); the rows a strip
computes beyond that are sliced off. So average pools still count only real
elements, and integer kernels, and TFLite Micro's float ones, give the same
bits (LiteRT's optimized float convolutions may sum in another order: see
:func:`bit_exact`). A TRANSPOSE_CONV whose kernel is as tall as its stride
writes each output row from one input row, with no padding: its strips
read disjoint input rows and each gets an output-shape constant of its own
height (:func:`transposed_window`); other transposed convolutions are not
split. Rows overlap
between strips (recomputed: more arithmetic for less memory), which is why
the rewrite is kept only where the scheduled peak is lower.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .. import memory
from ..graph import Graph
from ..model_version import ModelVersion
from ..model.editor import SubgraphEditor, operator_options
from .slices import Axis, read_paddings, read_slice

_WINDOWED = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"})
#: Operators that compute each element from the same element of their inputs.
_ELEMENTWISE = frozenset({
    "ABS", "ADD", "CAST", "DEQUANTIZE", "DIV", "ELU", "EXP", "GELU", "HARD_SWISH", "LEAKY_RELU", "LOG",
    "LOGISTIC", "MAXIMUM", "MINIMUM", "MUL", "NEG", "PRELU", "QUANTIZE", "RELU", "RELU6", "RELU_N1_TO_1",
    "RELU_0_TO_1", "RSQRT", "SQRT", "SQUARE", "SQUARED_DIFFERENCE", "SUB", "TANH",
})


@dataclass(frozen=True)
class Window:
    """How one strip of a windowed operator is computed: it reads input rows
    ``[start, stop)`` and writes ``rows`` rows, the wanted output rows from
    index ``first`` on."""

    start: int
    stop: int
    rows: int
    first: int


def strip_window(height: int, kernel: int, stride: int, pad_top: int, same: bool, a: int, b: int) -> Window | None:
    """The input rows a strip needs to compute output rows ``[a, b)`` of a
    windowed operator exactly (rows of the input map: ``height``; window
    span: ``kernel`` rows; the whole map's padding above: ``pad_top``).

    The strip runs the operator with the same padding mode: with SAME, the
    kernel pads the strip as if it were the whole map. That is exact only
    where the padding it adds falls outside the map too; the nearest strip
    for which it does is returned (None if none is near).
    """
    lo = max(a * stride - pad_top, 0)
    hi = min((b - 1) * stride - pad_top + kernel, height)
    reach = kernel + 2 * stride
    best = None
    for start in range(lo, max(lo - reach, 0) - 1, -1):
        for stop in range(hi, min(hi + reach, height) + 1):
            if best is not None and stop - start >= best.stop - best.start:
                break
            found = _window_of(height, kernel, stride, pad_top, same, start, stop, a, b)
            if found is not None:
                best = found
    return best


def _rows_and_padding(n: int, kernel: int, stride: int, same: bool) -> tuple[int, int]:
    """Rows a windowed operator writes from ``n`` input rows, and the padding
    it puts above them (SAME: as TFLite computes it; VALID: none)."""
    if same:
        rows = -(-n // stride)
        return rows, max((rows - 1) * stride + kernel - n, 0) // 2
    return ((n - kernel) // stride + 1 if n >= kernel else 0), 0


def _window_of(height, kernel, stride, pad_top, same, start, stop, a, b) -> Window | None:
    rows, pad = _rows_and_padding(stop - start, kernel, stride, same)
    # strip row i reads map rows start - pad + i * stride + [0, kernel); output row r reads r * stride - pad_top + ...
    offset = a * stride - pad_top - start + pad
    if offset % stride:
        return None
    first = offset // stride
    if first < 0 or first + (b - a) > rows:
        return None
    # where the window leaves the strip, the kernel pads: the whole map must have padding there too
    if start > 0 and a * stride - pad_top < start:
        return None
    if stop < height and (b - 1) * stride - pad_top + kernel > stop:
        return None
    return Window(start, stop, rows, first)


#: Float kernels whose sums LiteRT may add in another order on a strip (its
#: optimized kernels pick their blocking by the map's size): measured up to
#: 5e-7 apart. TFLite Micro's reference kernels, and every integer kernel, add
#: each output's terms in one fixed order.
_FLOAT_SUMS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D"})


def bit_exact(graph: Graph, op: int) -> bool:
    """Whether operator ``op`` run on a strip gives the same bits in LiteRT too
    (not a float convolution or average)."""
    o = graph.operators[op]
    return not (o.kind in _FLOAT_SUMS and graph.tensors[o.inputs[0]].dtype in ("FLOAT32", "FLOAT16"))


def splittable(model, graph: Graph) -> list[bool]:
    """Per operator: whether it can run in row strips (:func:`tile` may still
    find no exact strips for a given count)."""
    return [_plan(model, graph, i) is not None for i in range(graph.num_operators)]


@dataclass(frozen=True)
class _OpPlan:
    op: int
    kind: str
    window: tuple[int, int, int, bool] | None  # kernel, stride, pad_top, same (windowed operators)
    moves: tuple[int, int] | None = None  # PAD, STRIDED_SLICE: output row r is input row a + r * b
    axes: tuple[Axis, ...] = ()  # STRIDED_SLICE: what it keeps
    paddings: tuple[tuple[int, int], ...] = ()  # PAD
    transposed: int | None = None  # TRANSPOSE_CONV with kernel height = stride: the stride


def transposed_window(stride: int, a: int, b: int) -> Window:
    """The input rows a TRANSPOSE_CONV whose kernel is ``stride`` rows tall
    needs for output rows ``[a, b)``, and the rows its strip writes.

    Input row ``i`` writes output rows ``i * stride .. i * stride + stride - 1``
    and no others (its padding is 0, SAME or VALID, when the output is
    ``stride`` times taller): the strip reads rows ``a // stride`` up to
    ``ceil(b / stride)`` and writes ``stride`` rows for each, every one
    right; those outside ``[a, b)`` are cut off like a window's.
    """
    start, stop = a // stride, -(-b // stride)
    return Window(start, stop, (stop - start) * stride, a - start * stride)


@dataclass(frozen=True)
class Tiled:
    """A model with a run computed in strips, and the positions of each strip's operators."""

    model: object
    strips: tuple[tuple[int, ...], ...]


def tile(model, subgraph: int, start: int, stop: int, strips: int, *, trim: bool = True,
         graph: Graph | None = None) -> Tiled | None:
    """The model with operators ``[start, stop)`` of the stored order computed
    in ``strips`` row strips, or None when some operator there cannot be split
    by rows or the strips would not be exact.

    No path may leave the run and come back (a stretch of any valid order
    qualifies). The strips are stored one after the other where the run
    stood, each in the stored order, then the joins of its exits.

    ``trim=False`` leaves the rows a windowed operator gets wrong at a
    strip's edge (where its padding stands for rows the map has) in place
    whenever its readers need none of them, instead of cutting them off:
    fewer operators, larger tensors. ``graph`` is the graph of ``subgraph``
    (:class:`~tflite_serenity.model_version.ModelVersion`), if the caller has it.
    """
    graph = ModelVersion(model).graph(subgraph) if graph is None else graph
    ops = range(start, stop)
    plans = [_plan(model, graph, i) for i in ops]
    if any(p is None for p in plans) or strips < 2:
        return None
    inside = set(range(start, stop))
    produced = {t for i in ops for t in graph.operators[i].outputs}
    exits = [t for t in sorted(produced)
             if t in graph.outputs or any(c not in inside for c in graph.consumers[t])]
    tensors = graph.tensors
    spatial = {t for i in ops for t in (*graph.operators[i].inputs, *graph.operators[i].outputs)
               if t >= 0 and memory.is_activation(tensors[t]) and len(tensors[t].shape) == 4
               and tensors[t].shape[1] > 1}
    if any(e not in spatial for e in exits):
        return None
    height = {t: tensors[t].shape[1] for t in spatial}
    # rows of each tensor each strip needs, working backwards from the exits' bands
    need: list[dict[int, tuple[int, int]]] = []
    windows: list[dict[int, Window]] = []
    for j in range(strips):
        rows: dict[int, tuple[int, int]] = {}
        for e in exits:
            a, b = j * height[e] // strips, (j + 1) * height[e] // strips
            if a < b:
                rows[e] = (a, b)
        found: dict[int, Window] = {}
        for plan in reversed(plans):
            op = graph.operators[plan.op]
            out = op.outputs[0]
            if out not in rows:
                continue
            a, b = rows[out]
            if plan.transposed is not None:
                w = transposed_window(plan.transposed, a, b)
                found[plan.op] = w
                wanted = [(op.inputs[2], (w.start, w.stop))]
            elif plan.window is not None:
                kernel, stride, pad_top, same = plan.window
                w = strip_window(height[op.inputs[0]], kernel, stride, pad_top, same, a, b)
                if w is None:
                    return None
                found[plan.op] = w
                wanted = [(op.inputs[0], (w.start, w.stop))]
            elif plan.moves is not None:
                offset, step = plan.moves
                lo, hi = max(offset + a * step, 0), min(offset + (b - 1) * step + 1, height[op.inputs[0]])
                if lo >= hi:
                    return None  # the strip would read no row: only padding
                wanted = [(op.inputs[0], (lo, hi))]
            else:
                wanted = [(t, (a, b)) for t in op.inputs if t in spatial]
            for t, (lo, hi) in wanted:
                old = rows.get(t)
                rows[t] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
        need.append(rows)
        windows.append(found)
    if all(height[t] == need[j].get(t, (0, 0))[1] - need[j].get(t, (0, 0))[0]
           for j in range(strips) for t in spatial if graph.producer[t] in inside):
        return None  # every strip needs every map whole: nothing to gain
    return _emit(model, graph, plans, exits, spatial, need, windows, inside, trim)


def _plan(model, graph: Graph, index: int) -> _OpPlan | None:
    op = graph.operators[index]
    tensors = graph.tensors
    if len(op.outputs) != 1 or graph.operators[index].calls:
        return None
    out = tensors[op.outputs[0]]
    if len(out.shape) != 4 or out.dynamic or not memory.is_activation(out) or out.shape[1] < 2:
        return None  # one row (a squeeze-and-excite scale, say) depends on every row: not in strips
    acts = [t for t in op.inputs if t >= 0 and memory.is_activation(tensors[t])]
    constants = [t for t in op.inputs if t >= 0 and not memory.is_activation(tensors[t])]
    if op.kind in _WINDOWED:
        x = tensors[op.inputs[0]]
        if len(x.shape) != 4 or x.dynamic or acts != [op.inputs[0]]:
            return None
        options = operator_options(model, graph.subgraph, index)
        stride = int(options.get("strideH", 1) or 1)
        dilation = int(options.get("dilationHFactor", 1) or 1)
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            kernel = tensors[op.inputs[1]].shape[1]
        else:
            kernel = int(options.get("filterHeight", 1))
        span = (kernel - 1) * dilation + 1
        same = options.get("padding", 0) == 0  # Padding.SAME
        pad_top = max((out.shape[1] - 1) * stride + span - x.shape[1], 0) // 2 if same else 0
        return _OpPlan(index, op.kind, (span, stride, pad_top, same))
    if op.kind == "TRANSPOSE_CONV":
        return _transposed_plan(model, graph, index)
    if op.kind in _ELEMENTWISE:
        # maps of the output's shape (cut into rows), the rest broadcast along rows (a channel scale, say)
        if all(t in acts and tensors[t].shape == out.shape or _same_for_every_row(tensors[t].shape)
               for t in (*acts, *constants)):
            return _OpPlan(index, op.kind, None)
        return None
    if op.kind == "CONCATENATION":
        axis = operator_options(model, graph.subgraph, index).get("axis", 0)
        if axis in (3, -1) and not constants and all(len(tensors[t].shape) == 4 for t in acts):
            return _OpPlan(index, op.kind, None)
    if op.kind == "PAD":
        pads = read_paddings(model, graph, index)
        if pads is not None and len(pads) == 4:
            return _OpPlan(index, op.kind, None, (-pads[1][0], 1), paddings=tuple(pads))
    if op.kind == "STRIDED_SLICE":
        cut = read_slice(model, graph, index)
        if cut is not None and len(cut.axes) == 4:
            return _OpPlan(index, op.kind, None, (cut.axes[1].start, cut.axes[1].stride), axes=cut.axes)
    return None


def _transposed_plan(model, graph: Graph, index: int) -> _OpPlan | None:
    """A TRANSPOSE_CONV (inputs: output shape, filter ``[out_c, kh, kw, in_c]``,
    data, optional bias) whose kernel height equals its stride, its output
    that many times taller than its data: each output row then comes from
    one input row, with no padding. Other kernels (an output row summed
    from several input rows, padding that depends on the strip's height)
    are not split."""
    op = graph.operators[index]
    tensors = graph.tensors
    if len(op.inputs) < 3 or any(t >= 0 and memory.is_activation(tensors[t]) for t in (*op.inputs[:2], *op.inputs[3:])):
        return None
    x, out, w = tensors[op.inputs[2]], tensors[op.outputs[0]], tensors[op.inputs[1]]
    if len(x.shape) != 4 or x.dynamic or len(w.shape) != 4 or not tensors[op.inputs[0]].has_data:
        return None
    stride = int(operator_options(model, graph.subgraph, index).get("strideH", 1) or 1)
    if w.shape[1] != stride or out.shape[1] != stride * x.shape[1]:
        return None
    return _OpPlan(index, op.kind, None, transposed=stride)


def _same_for_every_row(shape: Sequence[int]) -> bool:
    """Whether an operand of this shape, broadcast against a 4-D map, has one
    value for every row: it has no row axis (2-D or less), or that axis is 1."""
    rank = len(shape)
    return rank <= 2 or shape[rank - 3] == 1


def _emit(model, graph: Graph, plans: Sequence[_OpPlan], exits, spatial, need, windows, inside, trim: bool):
    ed = SubgraphEditor(model, graph.subgraph)
    tensors = graph.tensors
    new_ops: list = []
    owner: list[int] = []  # per new operator: its strip, or -1 (the joins)

    def place(op, strip: int) -> None:
        new_ops.append(op)
        owner.append(strip)

    def cut(t: int, have: tuple[int, int], want: tuple[int, int], source: int, name: str, strip: int) -> int:
        """``source`` (rows ``have`` of tensor t) cut to rows ``want``."""
        if have == want:
            return source
        shape = list(tensors[t].shape)
        shape[1] = want[1] - want[0]
        piece = ed.activation_like(t, shape=shape, name=name)
        full = list(tensors[t].shape)
        full[1] = have[1] - have[0]
        begin = np.asarray([0, want[0] - have[0], 0, 0], dtype=np.int32)
        end = np.asarray([full[0], want[1] - have[0], full[2], full[3]], dtype=np.int32)
        place(ed.new_operator(
            "STRIDED_SLICE", [source, ed.constant(begin, name=f"{name}/begin"), ed.constant(end, name=f"{name}/end"),
                              ed.constant(np.ones(4, dtype=np.int32), name=f"{name}/strides")],
            [piece], version=2 if tensors[t].dtype == "INT8" else 1), strip)
        return piece

    parts: dict[int, list[int]] = {e: [] for e in exits}
    for j, rows in enumerate(need):
        # Per tensor of this strip: the map rows it holds, those of them that
        # are right (untrimmed, a SAME window at a strip's edge pads where the
        # map has rows), and its index.
        have: dict[int, tuple[int, int]] = {}
        valid: dict[int, tuple[int, int]] = {}
        made: dict[int, int] = {}

        def source(t: int) -> int:
            if t not in made:  # an entry: the whole map is there
                have[t] = valid[t] = (0, tensors[t].shape[1])
                made[t] = t
            return made[t]

        def rows_of(t: int, want: tuple[int, int]) -> int:
            held = source(t)
            return cut(t, have[t], want, held, f"{tensors[t].name}/serenity_strip{j}_{want[0]}_{want[1]}", j)

        for plan in plans:
            op = graph.operators[plan.op]
            out = op.outputs[0]
            if out not in rows:
                continue
            a, b = rows[out]
            name = f"{tensors[out].name}/serenity_strip{j}"
            direct = None
            if not trim and all(t in made for t in op.inputs if t in spatial):
                direct = _direct(plan, tensors, op, (a, b), have, valid)
            if direct is not None:  # on the input rows as they are: no cut
                held, right = direct
                shape = list(tensors[out].shape)
                shape[1] = held[1] - held[0]
                strip = ed.activation_like(out, shape=shape, name=name)
                inputs = [made[t] if t in spatial else t for t in op.inputs]
                place(ed.copy_operator(plan.op, _with_shape(ed, plan, inputs, shape, name), [strip]), j)
                have[out], valid[out], made[out] = held, right, strip
                continue
            w = windows[j].get(plan.op)
            shape = list(tensors[out].shape)
            shape[1] = w.rows if w is not None else b - a
            strip = ed.activation_like(out, shape=shape, name=name)
            if plan.moves is not None:
                place(_moved_rows(ed, graph, plan, a, b, rows_of, strip), j)
            else:
                inputs = [rows_of(t, (w.start, w.stop) if w is not None else (a, b)) if t in spatial else t
                          for t in op.inputs]  # constants, and maps broadcast along rows, as they are
                place(ed.copy_operator(plan.op, _with_shape(ed, plan, inputs, shape, name), [strip]), j)
            if w is not None:
                lo = a - w.first
                if trim or not (lo <= a and b <= lo + w.rows):
                    strip = cut(out, (lo, lo + w.rows), (a, b), strip, f"{name}_rows", j)
                    have[out] = valid[out] = (a, b)
                else:  # keep its wrong edge rows: readers take only right ones
                    have[out], valid[out] = (lo, lo + w.rows), (a, b)
            else:
                have[out] = valid[out] = (a, b)
            made[out] = strip
        for e in exits:
            band = (j * tensors[e].shape[1] // len(need), (j + 1) * tensors[e].shape[1] // len(need))
            if band[0] < band[1]:
                parts[e].append(cut(e, have[e], band, made[e], f"{tensors[e].name}/serenity_band{j}", j))
    for e in exits:
        place(ed.new_operator("CONCATENATION", parts[e], [e], options={"axis": 1},
                              version=2 if tensors[e].dtype == "INT8" else 1), -1)
    last = max(p.op for p in plans)
    for p in plans:
        if p.op != last:
            ed.replace(p.op, [])
    ed.replace(last, new_ops)
    first_position = sum(1 for i in range(last) if i not in inside)  # the run's operators before `last` are gone
    return Tiled(ed.finish()[0], tuple(tuple(first_position + k for k, s in enumerate(owner) if s == j)
                                       for j in range(len(need))))


def _with_shape(ed: SubgraphEditor, plan: _OpPlan, inputs: list[int], shape, name: str) -> list[int]:
    """``inputs`` of the operator of ``plan`` writing a strip of ``shape``: a
    TRANSPOSE_CONV's output-shape constant (input 0) says the strip's."""
    if plan.transposed is None:
        return inputs
    constant = ed.constant_like(inputs[0], np.asarray(shape, dtype=np.int32), name=f"{name}/output_shape")
    return [constant, *inputs[1:]]


def _moved_rows(ed: SubgraphEditor, graph: Graph, plan: _OpPlan, a: int, b: int, rows_of, strip: int):
    """The PAD or STRIDED_SLICE writing rows ``[a, b)`` of its output into ``strip``."""
    op = graph.operators[plan.op]
    x = op.inputs[0]
    offset, step = plan.moves
    lo, hi = max(offset + a * step, 0), min(offset + (b - 1) * step + 1, graph.tensors[x].shape[1])
    source = rows_of(x, (lo, hi))
    name = graph.tensors[op.outputs[0]].name
    if op.kind == "PAD":
        paddings = [list(p) for p in plan.paddings]
        paddings[1] = [lo - (offset + a), (offset + b) - hi]  # what of the strip's rows is padding
        constant = ed.constant_like(op.inputs[1], np.asarray(paddings), name=f"{name}/serenity_paddings_{a}_{b}")
        return ed.copy_operator(plan.op, [source, constant], [strip])
    axes = list(plan.axes)
    axes[1] = Axis(0, step, b - a)  # the source starts at the first row kept
    begin, end, strides = (np.asarray(v, dtype=np.int32) for v in
                           ([x.start for x in axes], [x.end for x in axes], [x.stride for x in axes]))
    return ed.copy_operator(plan.op, [source, ed.constant(begin, name=f"{name}/serenity_begin_{a}_{b}"),
                                      ed.constant(end, name=f"{name}/serenity_end_{a}_{b}"),
                                      ed.constant(strides, name=f"{name}/serenity_strides_{a}_{b}")], [strip],
                            options={"beginMask": 0, "endMask": 0})


def _direct(plan: _OpPlan, tensors, op, wanted: tuple[int, int], have, valid):
    """The rows an operator writes when run on its input strips as they are,
    and the right ones among them, if those hold ``wanted``; else None."""
    spatial_in = [t for t in op.inputs if t in have]
    if plan.moves is not None or not spatial_in:
        return None
    if plan.transposed is not None:  # every row it writes is right where its input row is
        (x,) = spatial_in
        s = plan.transposed
        held, right = (have[x][0] * s, have[x][1] * s), (valid[x][0] * s, valid[x][1] * s)
    elif plan.window is None:  # element-wise, concat: the rows of its inputs, right where all are
        held = have[spatial_in[0]]
        if any(have[t] != held for t in spatial_in):
            return None
        right = (max(valid[t][0] for t in spatial_in), min(valid[t][1] for t in spatial_in))
    else:
        kernel, stride, pad_top, same = plan.window
        (x,) = spatial_in
        found = window_rows(tensors[x].shape[1], tensors[op.outputs[0]].shape[1], kernel, stride, pad_top, same,
                            have[x], valid[x])
        if found is None:
            return None
        held, right = found
    return (held, right) if right[0] <= wanted[0] and wanted[1] <= right[1] else None


def window_rows(height: int, out_height: int, kernel: int, stride: int, pad_top: int, same: bool,
                held: tuple[int, int], right: tuple[int, int]):
    """A windowed operator run on a strip holding map rows ``held`` (of which
    ``right`` are right): the output map rows it writes, and the right ones
    (whose windows read right rows only, with padding only where the map has
    none); None if its rows fall between the map's."""
    start, stop = held
    rows, pad = _rows_and_padding(stop - start, kernel, stride, same)
    offset = start - pad + pad_top
    if rows <= 0 or offset % stride:
        return None
    first = offset // stride
    good = [r for r in range(max(first, 0), min(first + rows, out_height))
            if right[0] <= max(r * stride - pad_top, 0) and min(r * stride - pad_top + kernel, height) <= right[1]]
    if not good:
        return None
    return (first, first + rows), (good[0], good[-1] + 1)
