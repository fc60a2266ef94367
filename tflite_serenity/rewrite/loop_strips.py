"""Row strips in a WHILE loop: one copy of a strip's operators, whatever the strip count.

:func:`.strips.tile` computes a run in ``n`` row strips, each strip an
unrolled copy of the run's operators. In TFLite Micro every copy of a
CONV_2D or DEPTHWISE_CONV_2D keeps its own per-channel data in the arena's
tail, and its CONCATENATION takes at most 10 inputs, so many strips do not
pay there. :func:`loop_strips` keeps the first and last strips unrolled
(they touch the map's top and bottom padding, so their geometry differs)
and runs the middle strips, which share one geometry, as *one* copy of the
strip's operators in the body of a WHILE:

* the body reads its window of rows from the loop-invariant entry map with a
  SLICE at a loop-carried int32 ``begin`` (a second window of the same strip,
  a residual ADD's say, at a fixed offset from it);
* runs the strip's operators as :func:`.strips.tile` made them;
* writes its band into a loop-carried accumulator with DYNAMIC_UPDATE_SLICE
  at a loop-carried start; int32 ADDs advance both indices and a counter,
  and LESS on the counter is the condition.

Outside the loop, the first strip's band PADded to the whole map starts the
accumulator (its other rows are overwritten later), every other unrolled
band is written into it with DYNAMIC_UPDATE_SLICE, and the last write
produces the run's exit tensor, read by the rest of the model unchanged.

The loop-carried maps (the entry and the accumulator) must keep one
address through the WHILE, or TFLite Micro copies them every iteration and
holds them twice: :mod:`.loop_plan` says which tensors alias
(:func:`.loop_plan.alias_groups`) and writes the offline plan that pins
them (:func:`.loop_plan.with_alias_plan`).

Exact: every output element is computed by the same kernel from the same
input elements as in :func:`.strips.tile`, so integer models give the same
bits in LiteRT and TFLite Micro (LiteRT ignores the plan). The loop changes
the graph (two new subgraphs, a WHILE); :mod:`.loop_search` decides where
the command uses it, by the whole arena the memory model gives for the
pinned copies (:func:`tflite_serenity.memory.loop_aliases`).

Examples
--------
>>> from tflite_serenity.model import read_model, write_model
>>> from tflite_serenity.rewrite.loop_plan import with_alias_plan
>>> done = loop_strips(read_model(data), 0, 0, 3, 8)        # doctest: +SKIP
>>> planned, pins = with_alias_plan(done.model)                # doctest: +SKIP
>>> write_model(planned)                                       # doctest: +SKIP
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import InfeasibleError, UnsupportedModelError
from ..graph import Graph
from ..model.edit import with_empty_subgraphs
from ..model.editor import SubgraphEditor, constant_array, operator_options
from ..model.schema import TensorType
from ..model_version import ModelVersion
from .loop_plan import PREFIX, AliasGroup, alias_groups
from .strips import tile

# operator versions of the operators added (the ones covering int8 data where they read it)
_SLICE_VERSION, _PAD_VERSION, _UPDATE_VERSION = 2, 2, 2


@dataclass(frozen=True)
class Loop:
    """Where a run's strips went: operators ``[start, stop)`` of ``subgraph``
    (in the input model) in ``strips`` strips, of which strips
    ``[first, stop_strip)`` run as ``iterations`` turns of the body subgraph,
    which holds ``body_operators`` operators (the strip's own, a SLICE per
    window, the DYNAMIC_UPDATE_SLICE and three index ADDs)."""

    subgraph: int
    start: int
    stop: int
    strips: int
    first: int
    stop_strip: int
    cond_subgraph: int
    body_subgraph: int
    body_operators: int

    @property
    def iterations(self) -> int:
        return self.stop_strip - self.first


@dataclass(frozen=True)
class LoopStrips:
    """The result of :func:`loop_strips`: the model, where its loop is, and the
    alias groups (:func:`.loop_plan.alias_groups`) of every loop of this
    module in it."""

    model: object
    loop: Loop
    aliases: tuple[AliasGroup, ...]


@dataclass(frozen=True)
class _Run:
    """What the loop needs to know of a tiled run (positions in the tiled subgraph)."""

    strips: tuple[tuple[int, ...], ...]
    join: int  # the CONCATENATION joining the bands
    parts: tuple[int, ...]  # the band of each strip
    exit: int
    entry: int


@dataclass(frozen=True)
class _Window:
    """The loop's reads of the entry map: per read of the first looped strip,
    its operator position and window shape; the begins of the first turn's
    reads, and the step of every begin per turn."""

    reads: tuple[int, ...]
    shapes: tuple[tuple[int, ...], ...]
    begins: tuple[tuple[int, ...], ...]
    step: tuple[int, ...]


def loop_strips(model, subgraph: int, start: int, stop: int, strips: int) -> LoopStrips:
    """The model with operators ``[start, stop)`` of ``subgraph`` computed in
    ``strips`` row strips, the middle ones as one WHILE loop.

    Preserves the outputs bit for bit (each element computed as by
    :func:`.strips.tile`) and every tensor outside the run; the run's exit
    tensor stays (its name, its readers) and is written by the last band's
    DYNAMIC_UPDATE_SLICE. The input model is not modified.

    Parameters
    ----------
    model : ModelT
    subgraph, start, stop : int
        The run: a stretch of the stored order with one entry map and one exit.
    strips : int
        Row strips, at least 4 (first and last unrolled, two or more looped).

    Returns
    -------
    LoopStrips

    Raises
    ------
    InfeasibleError
        When the run cannot be cut in exact strips, or fewer than two middle
        strips share one geometry (bands of unequal heights, say).
    UnsupportedModelError
        When the run has more than one exit or entry map, or a looped strip
        reads the entry other than through a row cut.
    """
    tiled = tile(model, subgraph, start, stop, strips)
    if tiled is None:
        raise InfeasibleError(
            f"subgraph {subgraph}: operators {start}..{stop - 1} cannot run in {strips} exact row strips")
    tree = tiled.model
    graph = ModelVersion(tree).graph(subgraph)
    run = _run_of(graph, tiled.strips, start, stop)
    first, stop_strip = _looped_strips(tree, graph, run, start, stop)
    window = _window(tree, graph, run, first, stop_strip)
    name = f"{PREFIX}_s{subgraph}_{start}_{stop}"
    tree, (cond, body) = with_empty_subgraphs(tree, [f"{name}/cond", f"{name}/body"])
    tree, body_operators = _body(tree, graph, run, window, first, body, name)
    tree = _condition(tree, body, cond, stop_strip - first, name)
    tree = _outer(tree, graph, run, window, first, stop_strip, cond, body, name)
    loop = Loop(subgraph, start, stop, strips, first, stop_strip, cond, body, body_operators)
    return LoopStrips(tree, loop, alias_groups(tree))


# ---------------------------------------------------------------- the run


def _run_of(graph: Graph, strips: Sequence[Sequence[int]], start: int, stop: int) -> _Run:
    """The join, bands, exit and entry of a tiled run."""
    made = {t for ops in strips for p in ops for t in graph.operators[p].outputs}
    join = strips[-1][-1] + 1
    joins = 0
    while join + joins < graph.num_operators:
        op = graph.operators[join + joins]
        if op.kind != "CONCATENATION" or any(t not in made for t in op.inputs):
            break
        joins += 1
    if joins != 1:
        raise UnsupportedModelError(
            f"subgraph {graph.subgraph}: operators {start}..{stop - 1} have {joins} exits; a loop writes one")
    concat = graph.operators[join]
    if len(concat.inputs) != len(strips):
        raise InfeasibleError(f"subgraph {graph.subgraph}: the exit has fewer rows than the {len(strips)} strips")
    entries = sorted({t for ops in strips for p in ops for t in graph.operators[p].inputs
                      if t >= 0 and t not in made and not graph.tensors[t].has_data})
    if len(entries) != 1:
        raise UnsupportedModelError(
            f"subgraph {graph.subgraph}: operators {start}..{stop - 1} read {len(entries)} maps from before; "
            f"a loop reads one")
    return _Run(tuple(tuple(s) for s in strips), join, tuple(concat.inputs), concat.outputs[0], entries[0])


def _looped_strips(tree, graph: Graph, run: _Run, start: int, stop: int) -> tuple[int, int]:
    """The longest stretch of middle strips (not the first or last) with one
    geometry, the earliest of equal ones."""
    signatures = [_signature(tree, graph, ops, run.entry) for ops in run.strips]
    best = (1, 1)
    j = 1
    while j < len(run.strips) - 1:
        k = j + 1
        while k < len(run.strips) - 1 and signatures[k] == signatures[j]:
            k += 1
        if k - j > best[1] - best[0]:
            best = (j, k)
        j = k
    if best[1] - best[0] < 2:
        raise InfeasibleError(
            f"subgraph {graph.subgraph}: no two middle strips of operators {start}..{stop - 1} in "
            f"{len(run.strips)} strips have the same geometry")
    return best


def _signature(tree, graph: Graph, positions: Sequence[int], entry: int) -> tuple:
    """What two strips must share to run as one loop body: per operator its
    kind, options and tensor shapes, the data of its int32 constants and
    which buffer its other constants use; a cut of the entry map is compared
    by shape only (its rows move from strip to strip)."""
    s = graph.subgraph
    found = []
    for p in positions:
        op = graph.operators[p]
        reads_entry = entry in op.inputs
        parts: list = [op.kind, tuple(sorted(operator_options(tree, s, p).items()))]
        for t in (*op.inputs, *op.outputs):
            tensor = graph.tensors[t] if t >= 0 else None
            if tensor is None:
                parts.append(None)
            elif not tensor.has_data or reads_entry:
                parts.append(tensor.shape)
            elif tensor.dtype == "INT32":
                parts.append(constant_array(tree, s, t).tobytes())
            else:
                parts.append(("buffer", tree.subgraphs[s].tensors[t].buffer))
        found.append(tuple(parts))
    return tuple(found)


def _window(tree, graph: Graph, run: _Run, first: int, stop_strip: int) -> _Window:
    """How the looped strips read the entry: the same row cuts, advancing by one step."""
    s = graph.subgraph
    per_strip = []
    for j in range(first, stop_strip):
        reads = [p for p in run.strips[j] if run.entry in graph.operators[p].inputs]
        for p in reads:
            op = graph.operators[p]
            if op.kind != "STRIDED_SLICE" or op.inputs[0] != run.entry or op.inputs.count(run.entry) != 1:
                raise UnsupportedModelError(
                    f"subgraph {s}: strip {j} reads the entry map through a {op.kind}, not a row cut")
            strides = constant_array(tree, s, op.inputs[3])
            if np.any(strides != 1):
                raise UnsupportedModelError(f"subgraph {s}: strip {j} cuts the entry map with strides {strides}")
        per_strip.append([tuple(int(v) for v in constant_array(tree, s, graph.operators[p].inputs[1]))
                          for p in reads])
    steps = {tuple(b - a for a, b in zip(x, y)) for j in range(len(per_strip) - 1)
             for x, y in zip(per_strip[j], per_strip[j + 1])}
    if len(steps) != 1:
        raise InfeasibleError(f"subgraph {s}: the looped strips' windows do not advance by one step ({sorted(steps)})")
    reads = tuple(p for p in run.strips[first] if run.entry in graph.operators[p].inputs)
    shapes = tuple(graph.tensors[graph.operators[p].outputs[0]].shape for p in reads)
    return _Window(reads, shapes, tuple(per_strip[0]), steps.pop())


def _band(height: int, strips: int, j: int) -> tuple[int, int]:
    """Rows of the exit strip ``j`` writes (as :func:`.strips.tile` cuts them)."""
    return j * height // strips, (j + 1) * height // strips


# ---------------------------------------------------------------- the loop


def _body(tree, graph: Graph, run: _Run, window: _Window, first: int, body: int, name: str):
    """Fill subgraph ``body`` with one copy of strip ``first``; the model and
    the body's operator count."""
    s = graph.subgraph
    source = tree.subgraphs[s]
    ed = SubgraphEditor(tree, body)
    x = ed.tensor_from(source.tensors[run.entry], name=f"{name}/entry", activation=True)
    acc = ed.tensor_from(source.tensors[run.exit], name=f"{name}/acc", activation=True)
    begin_in = ed.tensor(TensorType.INT32, [4], name=f"{name}/begin_in")
    begin_out = ed.tensor(TensorType.INT32, [4], name=f"{name}/begin_out")
    turn = ed.tensor(TensorType.INT32, [], name=f"{name}/turn")
    remap = {run.entry: x}
    ops = []
    for p in run.strips[first]:
        op = graph.operators[p]
        if p in window.reads:
            k = window.reads.index(p)
            cut = ed.tensor_from(source.tensors[op.outputs[0]], name=f"{name}/window{k}", activation=True)
            begin = begin_in
            if k:
                begin = ed.tensor(TensorType.INT32, [4], name=f"{name}/begin_in{k}")
                offset = np.subtract(window.begins[k], window.begins[0]).astype(np.int32)
                ops.append(ed.new_operator("ADD", [begin_in, ed.constant(offset, name=f"{name}/offset{k}")],
                                           [begin]))
            size = ed.constant(np.asarray(window.shapes[k], dtype=np.int32), name=f"{name}/size{k}")
            ops.append(ed.new_operator("SLICE", [x, begin, size], [cut], version=_SLICE_VERSION))
            remap[op.outputs[0]] = cut
            continue
        for t in op.inputs:
            if t >= 0 and t not in remap:  # a constant (the run has one entry): its data stays once in the file
                remap[t] = ed.tensor_from(source.tensors[t])
        for t in op.outputs:
            remap[t] = ed.tensor_from(source.tensors[t], name=f"{_text(source.tensors[t].name)}/loop",
                                      activation=True)
        new = copy.copy(source.operators[p])
        new.inputs = [remap[t] if t >= 0 else -1 for t in op.inputs]
        new.outputs = [remap[t] for t in op.outputs]
        new.intermediates = None
        new.mutatingVariableInputs = None
        ops.append(new)
    acc_next = ed.tensor_from(source.tensors[run.exit], name=f"{name}/acc_next", activation=True)
    ops.append(ed.new_operator("DYNAMIC_UPDATE_SLICE", [acc, remap[run.parts[first]], begin_out], [acc_next],
                               version=_UPDATE_VERSION))
    height = graph.tensors[run.exit].shape[1]
    rows = _band(height, len(run.strips), first)
    steps = (("begin_in", begin_in, window.step), ("begin_out", begin_out, (0, rows[1] - rows[0], 0, 0)),
             ("turn", turn, 1))
    carried = [x, acc_next]
    for label, value, step in steps:
        shape = [4] if label != "turn" else []
        nxt = ed.tensor(TensorType.INT32, shape, name=f"{name}/{label}_next")
        ops.append(ed.new_operator("ADD", [value, ed.constant(np.asarray(step, dtype=np.int32),
                                                              name=f"{name}/{label}_step")], [nxt]))
        carried.append(nxt)
    ed.append(ops)
    ed.set_inputs_outputs([x, acc, begin_in, begin_out, turn], carried)
    return ed.finish()[0], len(ops)


def _condition(tree, body: int, cond: int, iterations: int, name: str):
    """Fill subgraph ``cond``: the body's inputs, and whether the counter is below ``iterations``."""
    source = tree.subgraphs[body]
    ed = SubgraphEditor(tree, cond)
    inputs = [ed.tensor_from(source.tensors[t], name=f"{_text(source.tensors[t].name)}/cond", activation=True)
              for t in source.inputs]
    go = ed.tensor(TensorType.BOOL, [], name=f"{name}/go")
    limit = ed.constant(np.asarray(iterations, dtype=np.int32), name=f"{name}/iterations")
    ed.append([ed.new_operator("LESS", [inputs[-1], limit], [go])])
    ed.set_inputs_outputs(inputs, [go])
    return ed.finish()[0]


def _outer(tree, graph: Graph, run: _Run, window: _Window, first: int, stop_strip: int, cond: int, body: int,
           name: str):
    """The run's subgraph with the looped strips replaced by the WHILE and
    the bands written into the accumulator."""
    ed = SubgraphEditor(tree, graph.subgraph)
    height = graph.tensors[run.exit].shape[1]
    strips = len(run.strips)
    exit_name = graph.tensors[run.exit].name

    def write(j: int, acc: int | None) -> tuple[int, "object"]:
        a, b = _band(height, strips, j)
        out = run.exit if j == strips - 1 else ed.activation_like(run.exit, name=f"{exit_name}/{PREFIX}_acc{j}")
        if acc is None:  # the first band, PADded to the whole map: the other rows are overwritten later
            pads = np.asarray([[0, 0], [a, height - b], [0, 0], [0, 0]], dtype=np.int32)
            return out, ed.new_operator("PAD", [run.parts[j], ed.constant(pads, name=f"{name}/pads{j}")], [out],
                                        version=_PAD_VERSION)
        begin = ed.constant(np.asarray([0, a, 0, 0], dtype=np.int32), name=f"{name}/band{j}")
        return out, ed.new_operator("DYNAMIC_UPDATE_SLICE", [acc, run.parts[j], begin], [out],
                                    version=_UPDATE_VERSION)

    acc = None
    for j in range(first):
        last = run.strips[j][-1]
        acc, op = write(j, acc)
        placed = [ed.operators[last], op]
        if j == first - 1:
            placed.append(_while(ed, graph, run, window, first, acc, cond, body, name))
            acc = placed[-1].outputs[1]
        ed.replace(last, placed)
    for j in range(first, stop_strip):
        for p in run.strips[j]:
            ed.replace(p, [])
    for j in range(stop_strip, strips):
        last = run.strips[j][-1]
        acc, op = write(j, acc)
        ed.replace(last, [ed.operators[last], op])
    ed.replace(run.join, [])
    return ed.finish()[0]


def _while(ed: SubgraphEditor, graph: Graph, run: _Run, window: _Window, first: int, acc: int, cond: int,
           body: int, name: str):
    """The WHILE running strips ``first`` on, carrying (entry, accumulator, read begin, write begin, turn)."""
    height = graph.tensors[run.exit].shape[1]
    a, _ = _band(height, len(run.strips), first)
    starts = [ed.constant(np.asarray(window.begins[0], dtype=np.int32), name=f"{name}/begin_in0"),
              ed.constant(np.asarray([0, a, 0, 0], dtype=np.int32), name=f"{name}/begin_out0"),
              ed.constant(np.asarray(0, dtype=np.int32), name=f"{name}/turn0")]
    outputs = [ed.activation_like(run.entry, name=f"{name}/entry_out"),
               ed.activation_like(run.exit, name=f"{name}/acc_out"),
               ed.tensor(TensorType.INT32, [4], name=f"{name}/begin_in_out"),
               ed.tensor(TensorType.INT32, [4], name=f"{name}/begin_out_out"),
               ed.tensor(TensorType.INT32, [], name=f"{name}/turn_out")]
    return ed.new_operator("WHILE", [run.entry, acc, *starts], outputs,
                           options={"condSubgraphIndex": cond, "bodySubgraphIndex": body})


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")


__all__ = ["Loop", "LoopStrips", "loop_strips"]
