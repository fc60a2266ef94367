"""Where a model's memory goes: the figures behind ``python -m tflite_serenity report``."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from .. import memory
from ..graph import Graph
from ..model_version import graphs_of
from ..model import read_model


@dataclass(frozen=True)
class TensorSummary:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    bytes: int


@dataclass(frozen=True)
class SubgraphReport:
    """Memory figures of one subgraph in its stored operator order."""

    index: int
    name: str
    operators: int
    activation_tensors: int
    weights_bytes: int
    variables_bytes: int
    peak_bytes: int
    lower_bound_bytes: int
    peak_step: int
    peak_operator: str
    alive_at_peak: tuple[TensorSummary, ...]
    dynamic_tensors: int  # shape_signature has -1: sized with the static shape
    # ADD/SUB/MUL written over an input that dies there (our arena plan; memory.inplace_sources)
    inplace_operators: int = 0
    inplace_lower_bound_bytes: int = 0
    # when the batch (axis 0) is the only dynamic axis of every dynamic tensor:
    # its stored size, which the figures are for; else None
    dynamic_batch: int | None = None


@dataclass(frozen=True)
class TflmArena:
    """The arena the real TFLite Micro interpreter allocated for the model
    (the ``tflite-micro`` package: a 64-bit build), and the tail a 32-bit
    device would keep instead, estimated (the head is the same there)."""

    total_bytes: int
    head_bytes: int
    tail_bytes: int
    tail_32bit_bytes: int | None = None  # the tail of the device_bytes figure
    # what the 32-bit tail holds, estimated: (part, bytes, how many), largest first
    tail_32bit_parts: tuple[tuple[str, int, int], ...] = ()
    # a 32-bit Cortex-M with CMSIS-NN (tflm.target_arena.device_need), estimated: the arena
    # to give it (its need plus the margin: the cortex-m kTensorArenaSize), the head with
    # its kernels' scratch buffers, and which kernels decide
    device_bytes: int | None = None
    device_head_bytes: int | None = None
    device_kernels: str = ""


@dataclass(frozen=True)
class ArenaReport:
    """TFLite Micro's arena head for the stored order, all subgraphs together
    (docs/arena.md): what no placement can beat, what ours reaches, and what
    TFLite Micro's own greedy planner gives, simulated and measured."""

    lower_bound_bytes: int
    planned_bytes: int  # our placement, scratch buffers included
    optimal: bool  # planned_bytes is proven minimal
    tflm_greedy_bytes: int  # TFLite Micro's own plan, simulated (greedy_tflm)
    tflm_with_plan_bytes: int  # TFLite Micro's head with our plan, simulated
    has_offline_plan: bool  # the model already holds an OfflineMemoryAllocation entry
    measured_greedy_bytes: int | None = None  # head measured without any offline plan
    measured_with_plan_bytes: int | None = None  # head measured with our plan
    stored_plan_bytes: int | None = None  # TFLite Micro's head with the model's own plan, simulated
    measured_stored_plan_bytes: int | None = None  # the same, measured


@dataclass(frozen=True)
class NestedReport:
    """The live-bytes peak of a model whose operators run other subgraphs
    (WHILE, IF, CALL_ONCE), subgraph 0 in stored order with each such
    operator counted as what lives across it plus the largest peak of a
    subgraph it runs (:func:`tflite_serenity.memory.nested_peak`)."""

    peak_bytes: int  # copies the model's offline plan pins to one offset counted once
    peak_step: int  # in subgraph 0
    peak_operator: str
    inner_bytes: int  # of the peak, the bytes inside the subgraphs run there
    separate_bytes: int  # the same with every tensor in bytes of its own
    pinned_pairs: int  # pairs of tensors the plan pins together that hold one value


@dataclass(frozen=True)
class Report:
    model_bytes: int
    description: str
    subgraphs: tuple[SubgraphReport, ...]
    tflm: TflmArena | None = None
    tflm_error: str | None = None
    arena: ArenaReport | None = None
    nested: NestedReport | None = None  # only for a model whose operators run other subgraphs


def subgraph_report(graph: Graph, order=None) -> SubgraphReport:
    """Figures for one subgraph under ``order`` (default: stored order)."""
    prof = memory.profile(graph, order)
    alive = tuple(
        TensorSummary(t, graph.tensors[t].name, graph.tensors[t].shape, graph.tensors[t].dtype,
                      memory.tensor_bytes(graph.tensors[t]))
        for t in prof.alive_at_peak
    )
    activations = [t for t in graph.tensors if memory.is_activation(t)]
    peak_operator = graph.operators[prof.order[prof.peak_step]].kind if graph.operators else ""
    return SubgraphReport(
        index=graph.subgraph,
        name=graph.name,
        operators=graph.num_operators,
        activation_tensors=len(activations),
        weights_bytes=memory.weights_bytes(graph),
        variables_bytes=memory.variables_bytes(graph),
        peak_bytes=prof.peak,
        lower_bound_bytes=memory.lower_bound(graph),
        peak_step=prof.peak_step,
        peak_operator=peak_operator,
        alive_at_peak=alive,
        dynamic_tensors=sum(1 for t in activations if t.dynamic),
        inplace_operators=len(memory.inplace_sources(graph)),
        inplace_lower_bound_bytes=memory.lower_bound(graph, inplace=True),
        dynamic_batch=_dynamic_batch([t for t in activations if t.dynamic]),
    )


def _dynamic_batch(tensors) -> int | None:
    """The stored batch size when axis 0 is the only dynamic axis of every
    tensor of ``tensors`` and they agree on it; None otherwise (or if none)."""
    if not tensors or any(t.dynamic_dims != (0,) for t in tensors):
        return None
    sizes = {t.shape[0] for t in tensors}
    return sizes.pop() if len(sizes) == 1 else None


def build_report(data: bytes, *, tflm: bool = True, arena: bool = True, tree=None) -> Report:
    """Read a model and compute its report; with ``tflm``, also measure the real
    TFLite Micro arena when the ``tflite-micro`` package is installed; with
    ``arena``, also plan the arena for the stored order (and, with ``tflm``,
    measure TFLite Micro's head without and with our plan). ``tree``: the
    model already read from ``data`` (``read_model``), so it is read once."""
    model = read_model(data) if tree is None else tree
    graphs = graphs_of(model)
    subgraphs = tuple(subgraph_report(g) for g in graphs)
    measured, error = None, None
    if tflm:
        measured, error = _measure_tflm(data)
    if measured is not None:
        measured = _with_32bit_tail(graphs, measured, model)
    description = model.description.decode("utf-8", "replace") if isinstance(model.description, bytes) else (model.description or "")
    plan = _arena_report(model, data, measured if error is None else None, tflm) if arena else None
    return Report(len(data), description, subgraphs, measured, error, plan, _nested_report(model, graphs))


def _nested_report(model, graphs: list[Graph]) -> NestedReport | None:
    """The peak with the subgraphs operators run, if any operator runs one."""
    from ..errors import SerenityError
    from ..tflm.offline import pinned_copies

    if not any(op.calls for g in graphs for op in g.operators):
        return None
    try:
        pairs = pinned_copies(model, graphs)
    except SerenityError:  # a model TFLite Micro cannot plan: no pins read
        pairs = []
    found = memory.nested_peak(graphs, pairs)
    separate = memory.nested_peak(graphs).peak if pairs else found.peak
    kind = graphs[0].operators[found.step].kind if graphs[0].operators else ""
    return NestedReport(found.peak, found.step, kind, found.inner, separate, len(pairs))


def _arena_report(model, data: bytes, measured: TflmArena | None, tflm: bool) -> ArenaReport | None:
    from ..arena.model_plan import plan_arena
    from ..tflm.offline import METADATA_NAME
    from ..model import metadata, without_metadata, write_model

    from ..options import Target

    # as the main command plans by default: the same figures
    planned, figures = plan_arena(model, inplace=True, kernels=Target().kernels)
    if figures is None:
        return None
    has_plan = metadata(model, METADATA_NAME) is not None
    greedy = with_plan = stored = measured_stored = None
    if has_plan:
        from ..tflm.simulate import stored_head

        stored = stored_head(model, graphs_of(model))
    if tflm and measured is not None:
        # The model as given was measured above; without its own plan, if it
        # has one, that is TFLite Micro's greedy plan.
        greedy = measured.head_bytes
        if has_plan:
            measured_stored = measured.head_bytes
            greedy = _head(write_model(without_metadata(model, METADATA_NAME)))
        with_plan = _head(write_model(planned)) if figures.written else greedy
    return ArenaReport(figures.lower_bound, figures.planned, figures.optimal, figures.tflm_greedy,
                       figures.tflm_with_plan, has_plan, greedy, with_plan, stored, measured_stored)


def _with_32bit_tail(graphs: list[Graph], measured: TflmArena, model) -> TflmArena:
    """``measured`` with what a Cortex-M with CMSIS-NN needs (the ``cortex-m``
    figure of ``tflm.target_arena``, with its margin): TFLite Micro's
    allocations replayed on 32 bits, the tail they keep and what holds it."""
    from ..tflm.arena_size import aligned
    from ..tflm.target_arena import TARGET_KERNELS, margin_for, replayed_arena

    arena = max((replayed_arena(model, graphs, measured.head_bytes, library)
                 for library in TARGET_KERNELS["cortex-m"]), key=lambda found: found.arena_size)
    parts = sorted((part for part in arena.parts if part[1]), key=lambda part: -part[1])
    return dataclasses.replace(measured, tail_32bit_bytes=arena.tail, tail_32bit_parts=tuple(parts),
                               device_bytes=aligned(arena.arena_size + margin_for(arena.tail)),
                               device_head_bytes=arena.head, device_kernels=arena.library)


def _head(data: bytes) -> int | None:
    arena, _ = _measure_tflm(data)
    return None if arena is None else arena.head_bytes


def report(model: "bytes | str | os.PathLike", *, tflm: bool = True) -> Report:
    """Where a model's activation memory goes: the figures of the ``report`` command.

    ``model`` is ``.tflite`` bytes or a path. With ``tflm`` (and ``tflite-micro``
    installed), the real TFLite Micro arena is measured in a child process.
    """
    from ..fileio import read_bytes

    data = model if isinstance(model, (bytes, bytearray)) else read_bytes(model)
    return build_report(bytes(data), tflm=tflm)


def _measure_tflm(data: bytes) -> tuple[TflmArena | None, str | None]:
    try:
        from ..tflm.interpreter import measure_tflm_arena, tflm_reason
    except ImportError:  # verification extras not available
        return None, "tflite-micro is not installed"
    from ..errors import SerenityError

    try:
        run = measure_tflm_arena(data)
    except SerenityError as err:
        return None, str(err)
    if run.error:
        return None, tflm_reason(run.error, data)
    return TflmArena(run.total_bytes, run.head_bytes, run.tail_bytes), None
