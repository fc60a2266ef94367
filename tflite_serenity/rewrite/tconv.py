"""Split a TRANSPOSE_CONV by output channels where its scratch buffer sets the arena.

TFLite Micro's reference TRANSPOSE_CONV asks, for int8 (int16) data, for an
int32 (int64) accumulator per *output* element as scratch
(:mod:`tflite_serenity.tflm.scratch`): four to eight times the output
tensor, alive at its step beside everything else. On U-Net int8 that step is
the arena's head. A TRANSPOSE_CONV computes each output channel from its
own filter, bias and quantization alone, so ``k`` TRANSPOSE_CONVs over the
same input, each with a slice of the output channels (filter and bias cut
along ``out_c``, per-channel scales and zero points with them), write the
same values into ``k`` pieces of the output; each asks for ``1/k`` of the
scratch. The pieces are joined by a CONCATENATION on the channel axis; where
the output's only reader already is such a concatenation, the pieces go
straight into it (no operator, no copy added). Every output element is the
same integer sum, requantized with its channel's own multiplier: outputs are
bit-identical in TFLite Micro, and in LiteRT where every piece but the last
holds a multiple of the channels its int8 kernel requantizes together
(:func:`lanes`). Only int8 and 16x8 operators are split: float ones ask
TFLite Micro for no scratch, and LiteRT's float kernel is not bit-identical
in pieces (``_TYPES``).

The cost is operators: ``k - 1`` more TRANSPOSE_CONVs (and a
CONCATENATION where none was there), whose nodes, kernel data and tensors
TFLite Micro keeps in its arena's tail; the multiply-accumulates stay the
same. So ``k`` is chosen by the memory model: per kernel library of the
target (:attr:`~tflite_serenity.options.Target.kernels`), the arena is the
highest step of live activations plus that library's scratch buffers, plus
the tail (:func:`~tflite_serenity.tflm.tail.persistent_bytes`, unless
``strips_peak_only``). A split is kept only where no library's arena and no
step's live bytes (LiteRT's peak) get higher, and some arena gets lower; of
those, the lowest arenas, then the fewest pieces: the smallest ``k`` that
brings the step below the rest of the schedule's peak.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from .. import memory
from ..graph import Graph
from ..model.editor import SubgraphEditor, has_metadata, is_sparse, operator_options, tensor_quantization
from ..model_version import ModelVersion
from ..options import Options, Target
from ..schedule.search import GraphSchedule
from ..tflm.offline import METADATA_NAME
from ..tflm.scratch import scratch_requests
from ..tflm.tail import persistent_bytes
from .sites import REQUANTIZE_BLOCK

#: Pieces a TRANSPOSE_CONV may be split into at most.
MAX_PARTS = 8

#: Inputs a CONCATENATION may have in TFLite Micro (``kMaxInputNum``, concatenation.cc).
MAX_CONCAT_INPUTS = 10

#: (data, filter) types split. Float is not: TFLite Micro's float kernel asks
#: for no scratch, and LiteRT's sums each output element in an order that
#: depends on the pieces' widths (a 3x3 VALID one differed in the last bit
#: in every split tried, even into pieces of 4 and 8 of 12 channels).
_TYPES = frozenset({("INT8", "INT8"), ("INT16", "INT8")})


@dataclass(frozen=True)
class ChannelSplit:
    """One TRANSPOSE_CONV computed in pieces of its output channels."""

    output: str  # name of its output tensor
    channels: tuple[int, ...]  # output channels of each piece
    joined: bool  # a CONCATENATION was added (False: the pieces went into the existing one)
    arena_before: tuple[int, ...]  # per kernel library of the target: the subgraph's arena (head and tail)
    arena_after: tuple[int, ...]

    @property
    def parts(self) -> int:
        return len(self.channels)


@dataclass(frozen=True)
class _Site:
    op: int
    channels: int
    concat: int  # the channel concatenation that alone reads the output, or -1


def find_sites(model, graph: Graph) -> list[_Site]:
    """The TRANSPOSE_CONVs of ``graph`` this module can split, in stored order."""
    sites = []
    for op in graph.operators:
        if op.kind != "TRANSPOSE_CONV" or len(op.outputs) != 1 or not 3 <= len(op.inputs) <= 4:
            continue
        shape_t, filt, data = op.inputs[:3]
        bias = op.inputs[3] if len(op.inputs) > 3 else -1
        out = op.outputs[0]
        if min(shape_t, filt, data, out) < 0:
            continue
        tensors = graph.tensors
        constants = [t for t in (shape_t, filt, bias) if t >= 0]
        if not all(tensors[t].has_data and not is_sparse(model, graph.subgraph, t) for t in constants):
            continue
        if (tensors[data].dtype, tensors[filt].dtype) not in _TYPES or tensors[out].dtype != tensors[data].dtype:
            continue
        if tensors[out].dynamic or len(tensors[out].shape) != 4 or len(tensors[filt].shape) != 4:
            continue
        channels = tensors[out].shape[3]
        if channels < 2 or tensors[filt].shape[0] != channels or (bias >= 0 and tensors[bias].shape != (channels,)):
            continue
        if not _sliceable(model, graph.subgraph, filt, channels) or (
                bias >= 0 and not _sliceable(model, graph.subgraph, bias, channels)):
            continue
        q = tensor_quantization(model, graph.subgraph, out)
        if q is not None and q.per_channel:
            continue
        sites.append(_Site(op.index, channels, _channel_concat(model, graph, out)))
    return sites


def _sliceable(model, subgraph: int, tensor: int, channels: int) -> bool:
    """Per-tensor quantization (or none), or per-channel along axis 0 with one entry per channel."""
    q = tensor_quantization(model, subgraph, tensor)
    return q is None or not q.per_channel or (q.dimension == 0 and len(q.scale) == channels)


def _channel_concat(model, graph: Graph, tensor: int) -> int:
    """The CONCATENATION on the channel axis that is the only reader of ``tensor`` (once), or -1."""
    readers = graph.consumers[tensor]
    if len(readers) != 1 or tensor in graph.outputs:
        return -1
    op = graph.operators[readers[0]]
    if op.kind != "CONCATENATION" or op.inputs.count(tensor) != 1:
        return -1
    rank = len(graph.tensors[op.outputs[0]].shape)
    axis = int(operator_options(model, graph.subgraph, op.index).get("axis", 0))
    return op.index if rank == 4 and axis % rank == 3 else -1


def channel_parts(channels: int, parts: int, block: int = 1) -> tuple[int, ...] | None:
    """``channels`` in ``parts`` pieces as even as can be (the larger last),
    every piece but the last a multiple of ``block`` (the last takes the
    remainder); None when there are fewer than ``parts`` such pieces.

    >>> channel_parts(16, 3), channel_parts(20, 2, 8), channel_parts(16, 3, 8)
    ((5, 5, 6), (8, 12), None)
    """
    units = [block] * (channels // block) + ([channels % block] if channels % block else [])
    if not 1 <= parts <= len(units):
        return None
    widths, start = [], 0
    for i in range(parts):
        count = len(units) // parts + (1 if parts - 1 - i < len(units) % parts else 0)
        widths.append(sum(units[start:start + count]))
        start += count
    return tuple(widths)


def lanes(dtype: str) -> int:
    """The output channels LiteRT's TRANSPOSE_CONV kernel for data of
    ``dtype`` requantizes together: every piece but the last must hold a
    multiple of them, or some channels take the scalar routine, which rounds
    differently in rare cases (the same as the depthwise convolution's,
    :data:`~tflite_serenity.rewrite.sites.REQUANTIZE_BLOCK`). Measured: int8
    pieces of 1 and 15 of 16 channels differ by one step, of 8 and 8 not;
    16x8 runs a reference kernel, exact in any pieces."""
    return REQUANTIZE_BLOCK if dtype == "INT8" else 1


def split_transpose_conv(model, subgraph: int, op: int, channels: Sequence[int], *, graph: Graph | None = None):
    """The model with TRANSPOSE_CONV ``op`` of ``subgraph`` in pieces of
    ``channels`` output channels each, in order (see the module docstring):
    ``(model, joined)``, or None when the operator cannot be split so.
    Outputs stay bit-identical."""
    graph = ModelVersion(model).graph(subgraph) if graph is None else graph
    site = next((s for s in find_sites(model, graph) if s.op == op), None)
    parts = len(channels)
    if site is None or parts < 2 or min(channels) < 1 or sum(channels) != site.channels:
        return None
    concat = site.concat
    if concat >= 0 and len(graph.operators[concat].inputs) - 1 + parts > MAX_CONCAT_INPUTS:
        concat = -1
    if concat < 0 and parts > MAX_CONCAT_INPUTS:
        return None
    tconv = graph.operators[op]
    _, filt, data = tconv.inputs[:3]  # the old output shape goes with the operator
    bias = tconv.inputs[3] if len(tconv.inputs) > 3 else -1
    out = tconv.outputs[0]
    name = graph.tensors[out].name
    ed = SubgraphEditor(model, subgraph)
    pieces, outputs, start = [], [], 0
    for i, c in enumerate(channels):
        stop = start + c
        shape = ed.constant(np.asarray([*graph.tensors[out].shape[:3], c], dtype=np.int32),
                            name=f"{name}/serenity_channels{i}_shape")
        inputs = [shape, ed.constant_slice(filt, 0, start, stop, name=f"{name}/serenity_channels{i}_filter"), data]
        if len(tconv.inputs) > 3:
            inputs.append(bias if bias < 0 else ed.constant_slice(bias, 0, start, stop,
                                                                  name=f"{name}/serenity_channels{i}_bias"))
        piece = ed.activation_like(out, last_dim=c, name=f"{name}/serenity_channels{i}")
        pieces.append(ed.copy_operator(op, inputs, [piece]))
        outputs.append(piece)
        start = stop
    if concat >= 0:
        ed.replace(op, pieces)
        reader = graph.operators[concat]
        inputs = [p for t in reader.inputs for p in (outputs if t == out else [t])]
        ed.replace(concat, [ed.copy_operator(concat, inputs, reader.outputs)])
    else:
        version = {"INT8": 2, "INT16": 3}.get(graph.tensors[out].dtype, 1)
        join = ed.new_operator("CONCATENATION", outputs, [out], options={"axis": 3, "fusedActivationFunction": 0},
                               version=version)
        ed.replace(op, [*pieces, join])
    return ed.finish()[0], concat < 0


def split_for_scratch(model, schedule: GraphSchedule, *, options: Options = Options(),
                      target: Target = Target()) -> tuple[object, GraphSchedule, tuple[ChannelSplit, ...]]:
    """Split the TRANSPOSE_CONVs of ``schedule``'s subgraph where that lowers
    the arena (module docstring), one at a time while one does.

    Returns the model (the input itself when nothing pays), the schedule of
    the subgraph with each split operator's pieces (and join) at its step,
    and what was split.
    """
    s = schedule.subgraph
    if has_metadata(model, METADATA_NAME):
        return model, schedule, ()
    graph = ModelVersion(model).graph(s)
    if not any(op.kind == "TRANSPOSE_CONV" for op in graph.operators):
        return model, schedule, ()
    costs = None if options.strips_peak_only else target.costs
    current = _evaluate(graph, schedule, target.kernels, costs)
    done: list[ChannelSplit] = []
    while True:  # each kept split lowers some arena and raises none: this ends
        best = None
        for site in find_sites(model, graph):
            name = graph.tensors[graph.operators[site.op].outputs[0]].name
            block = lanes(graph.tensors[graph.operators[site.op].outputs[0]].dtype)
            for parts in range(2, MAX_PARTS + 1):
                widths = channel_parts(site.channels, parts, block)
                made = None if widths is None else split_transpose_conv(model, s, site.op, widths, graph=graph)
                if made is None:
                    break
                new_model, joined = made
                new_graph = ModelVersion(new_model).graph(s)
                added = new_graph.num_operators - graph.num_operators
                order = _expanded(schedule.order, site.op, added + 1)
                candidate = _evaluate(new_graph, replace(schedule, order=order), target.kernels, costs)
                if not candidate.pays(current) or (best is not None and candidate.key >= best[0].key):
                    continue
                best = (candidate, new_model, new_graph, order, ChannelSplit(
                    name, widths, joined, current.arenas, candidate.arenas))
        if best is None:
            break
        current, model, graph, order, record = best
        bound = memory.lower_bound(graph, inplace=schedule.inplace)
        schedule = replace(schedule, order=order, peak=current.peak, lower_bound=bound,
                           optimal=schedule.optimal and current.peak <= bound)
        done.append(record)
    return model, schedule, tuple(done)


@dataclass(frozen=True)
class _Cost:
    arenas: tuple[int, ...]  # per kernel library: the highest step with its scratch, plus the tail
    peak: int  # live activation bytes, no scratch (LiteRT)
    parts: int  # operators in all, to prefer fewer pieces

    @property
    def key(self) -> tuple:
        return (*self.arenas, self.peak, self.parts)

    def pays(self, other: "_Cost") -> bool:
        return (self.peak <= other.peak and all(a <= b for a, b in zip(self.arenas, other.arenas))
                and self.arenas != other.arenas)


def _evaluate(graph: Graph, schedule: GraphSchedule, kernels: tuple[str, ...], costs) -> _Cost:
    live = memory.profile(graph, schedule.order, inplace=schedule.inplace).live
    tail = persistent_bytes(graph, costs) if costs is not None else 0
    arenas = []
    for library in kernels:
        arenas.append(tail + max((v + sum(-(-r // 16) * 16 for r in scratch_requests(graph, op, library))
                                  for v, op in zip(live, schedule.order)), default=0))
    return _Cost(tuple(arenas), max(live, default=0), graph.num_operators)


def _expanded(order, op: int, width: int) -> tuple[int, ...]:
    """``order`` (positions in the stored order) once stored operator ``op``
    is ``width`` operators at its place: those in sequence at its step."""
    out = []
    for x in order:
        if x == op:
            out.extend(range(op, op + width))
        else:
            out.append(x if x < op else x + width - 1)
    return tuple(out)
