"""The ``arena_size`` to give TFLite Micro's ``MicroInterpreter`` for a model.

TFLite Micro takes one buffer, the *tensor arena*, and fails in
``AllocateTensors()`` when it is too small. What it needs is the planned
tensors (the *head*), the interpreter's and kernels' persistent data (the
*tail*), and, while preparing, temporary memory between the two: the
allocation info and the planner's working arrays, about 100 bytes per tensor
on a 64-bit host. On models with a small head that temporary memory decides
the size, which is why the total TFLite Micro reports after allocating
(head + tail) is only a lower bound (transformer_tiny_int8: reports 10,336,
needs 15,088).

Two ways to the figure, and the result says which one it took:

* **measured** (``tflite-micro`` installed): the smallest arena with which the
  real interpreter allocates and invokes the model, found by bisection
  (:func:`tflite_serenity.verify.smallest_tflm_arena`);
* **estimated** (without it, or on request): the head from a simulation of
  TFLite Micro's planner on the model as stored (its offline plan if it has
  one), plus per-tensor and per-operator overhead. On the 54 models we
  measured (tests/data and the benchmark zoo) the estimate was 1.00x to 1.84x
  the measured need (median 1.1x), never below it; kernels with large
  persistent buffers that the figures below do not know can still exceed it.

Both describe TFLite Micro's reference kernels on a 64-bit host. For a
32-bit Cortex-M with CMSIS-NN's kernels (other scratch buffers, a smaller
tail) :mod:`.target_arena` replays TFLite Micro's allocations instead
(:mod:`.device_arena`); other kernel
libraries (ESP-NN, Xtensa) ask for other scratch buffers, so check
``MicroInterpreter::arena_used_bytes()`` on such a target once.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from dataclasses import dataclass

from .. import memory
from ..errors import SerenityError, UnsupportedModelError
from .tail import TFLM_64BIT

ALIGNMENT = 16
"""TFLite Micro aligns the arena's start and every planned buffer to 16 bytes."""

DEFAULT_MARGIN = 16
"""Bytes added to the need: TFLite Micro aligns the start of an arena not
declared ``alignas(16)`` up to 16 bytes and loses up to 15 bytes doing so."""

# Estimated overhead, in bytes on a 64-bit host, read from TFLite Micro's
# recording allocator on the measured models (see the module docstring). The
# tensor and node structs are the memory model's (tail.TFLM_64BIT); kernel
# data is taken high here, where tail.PersistentCosts fits it by kind.
_KERNEL_DATA = 160  # a kernel's own persistent data (OpData), typical
_IO_TENSOR = 96  # persistent TfLiteTensor (and quantization) per model input and output
_PER_CHANNEL = 8  # int32 multiplier and shift per output channel of convolutions
_FIXED = 1536  # allocator, planner and graph objects
_PLAN_INFO = 32  # AllocationInfo, per tensor and scratch buffer, while planning
_PLAN_BUFFER = 48  # the greedy planner's working arrays, per planned buffer
_PER_CHANNEL_KINDS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "CONV_3D"})


@dataclass(frozen=True)
class TflmArenaSize:
    """The arena to give TFLite Micro for a model, and how it was found.

    Attributes
    ----------
    arena_size : int
        Bytes to pass as ``arena_size`` (``kTensorArenaSize``): ``needed``
        plus ``margin``, rounded up to a multiple of 16.
    needed : int
        The smallest arena that works: measured to the byte, or estimated.
    lower_bound : int
        Head plus tail, as TFLite Micro reports them after allocating (or as
        estimated). No arena much below it works (TFLite Micro counts some
        alignment padding in it: the smallest working arena was up to 8
        bytes below it on our models); kernels' temporary memory while
        preparing can make the need much larger.
    head, tail : int
        Planned tensors and persistent data, bytes.
    margin : int
        Bytes added to ``needed``.
    measured : bool
        True when the real interpreter found ``needed``; False for an estimate.
    invoked : bool
        The model was invoked at ``needed``, not only allocated.
    method : str
        One sentence on how ``needed`` was found.
    tflm_version : str or None
        The ``tflite-micro`` package that measured, if any.
    tflm_error : str or None
        Why the size is estimated although measuring was asked for: TFLite
        Micro could not load the model, in its own words on one line (the
        operator that failed and why, :func:`tflite_serenity.verify.tflm_reason`).
        None when measured, or when not measured by request or for lack of
        ``tflite-micro``.
    """

    arena_size: int
    needed: int
    lower_bound: int
    head: int
    tail: int
    margin: int
    measured: bool
    invoked: bool
    method: str
    tflm_version: str | None = None
    tflm_error: str | None = None

    @property
    def how(self) -> str:
        """``"measured"`` or ``"estimated"``."""
        return "measured" if self.measured else "estimated"


def aligned(n: int, alignment: int = ALIGNMENT) -> int:
    """``n`` rounded up to a multiple of ``alignment``."""
    return -(-n // alignment) * alignment


def tflm_arena_size(
    model: "bytes | str | os.PathLike",
    *,
    measure: bool = True,
    margin: int = DEFAULT_MARGIN,
    timeout: float = 300,
    fallback: bool = False,
    tree=None,
) -> TflmArenaSize:
    """The ``arena_size`` to give TFLite Micro's ``MicroInterpreter`` for ``model``.

    Parameters
    ----------
    model
        ``.tflite`` bytes or a path.
    measure : bool, default True
        Measure with the real interpreter when ``tflite-micro`` is installed
        (about a second in a child process); otherwise, or with False,
        estimate from the model.
    margin : int, default 16
        Bytes added to the need before rounding up to 16 (see
        :data:`DEFAULT_MARGIN`).
    timeout : float, default 300
        Seconds allowed for measuring.
    fallback : bool, default False
        When TFLite Micro cannot allocate the model, return the estimate
        instead of raising, with TFLite Micro's reason in ``tflm_error``.

    Returns
    -------
    TflmArenaSize

    Raises
    ------
    UnsupportedModelError
        Without ``fallback``, if TFLite Micro cannot allocate the model (an
        operator it has no kernel for, a type it cannot size, a subgraph
        that calls itself).
    ModelFormatError
        If the bytes are not a readable TFLite model.

    Examples
    --------
    >>> from tflite_serenity import tflm_arena_size
    >>> size = tflm_arena_size("tests/data/transformer_tiny_int8.tflite")  # doctest: +SKIP
    >>> size.arena_size, size.needed, size.lower_bound, size.how  # doctest: +SKIP
    (15104, 15088, 10336, 'measured')
    """
    from ..fileio import read_bytes

    if margin < 0:
        raise SerenityError(f"the margin must be 0 or more bytes, not {margin}")
    data = bytes(model) if isinstance(model, (bytes, bytearray)) else read_bytes(model)
    if measure and importlib.util.find_spec("tflite_micro") is not None:
        return _measured(data, margin, timeout, fallback, tree)
    return estimate_tflm_arena(data, margin=margin, tree=tree)


def _measured(data: bytes, margin: int, timeout: float, fallback: bool, tree) -> TflmArenaSize:
    from .interpreter import smallest_tflm_arena, tflm_reason

    found = smallest_tflm_arena(data, timeout=timeout)
    if found.error is not None or found.smallest is None:
        reason = tflm_reason(found.error or "no arena size worked", data)
        if fallback:
            return dataclasses.replace(estimate_tflm_arena(data, margin=margin, tree=tree), tflm_error=reason)
        raise UnsupportedModelError(f"TFLite Micro cannot allocate the model: {reason}; "
                                    "its arena can only be estimated")
    if found.invoked:
        method = ("smallest arena_size with which TFLite Micro allocates and invokes the model, "
                  f"found by bisection in {found.probes} tries")
    else:
        why = f" (invoking failed at any size: {found.invoke_error})" if found.invoke_error else ""
        method = (f"smallest arena_size with which TFLite Micro allocates the model{why}, "
                  f"found by bisection in {found.probes} tries")
    head, tail = found.head_bytes or 0, found.tail_bytes or 0
    return TflmArenaSize(
        arena_size=aligned(found.smallest + margin),
        needed=found.smallest,
        lower_bound=found.total_bytes or head + tail,
        head=head,
        tail=tail,
        margin=margin,
        measured=True,
        invoked=found.invoked,
        method=method,
        tflm_version=_tflm_version(),
    )


def estimate_tflm_arena(model: bytes, *, margin: int = DEFAULT_MARGIN, tree=None) -> TflmArenaSize:
    """Estimate the arena without running TFLite Micro (see the module docstring).

    The head is exact for TFLite Micro's reference kernels (a simulation of
    its planner, :func:`tflite_serenity.arena.greedy_tflm`, on the buffers it
    plans, with the model's offline plan when it has one); the tail and the
    temporary memory while preparing come from fixed per-tensor and
    per-operator figures, set to err high.

    Raises
    ------
    UnsupportedModelError, ModelFormatError
        As for :func:`tflm_arena_size`.
    """
    from .buffers import model_buffers, tflm_bytes
    from .offline import check_offline_plan, read_offline_plan
    from .planner import ONLINE, greedy_tflm
    from ..model import read_model
    from ..model_version import graphs_of

    tree = read_model(model) if tree is None else tree
    graphs = graphs_of(tree)
    buffers = model_buffers(graphs)
    offline = None
    stored = read_offline_plan(tree)
    if stored is not None:
        check_offline_plan(tree, stored.offsets, buffers=buffers)
        offline = [ONLINE if b.is_scratch else stored.offsets[buffers.plan_index(b)] for b in buffers.buffers]
    head = greedy_tflm(buffers.blocks, offline_offsets=offline).arena_bytes

    tensors = sum(len(g.tensors) for g in graphs)
    operators = sum(g.num_operators for g in graphs)
    scratch = sum(1 for b in buffers.buffers if b.is_scratch)
    planned = sum(1 for b in buffers.buffers if b.block.size > 0)
    kernel = 0
    for g in graphs:
        for op in g.operators:
            out = g.tensors[op.outputs[0]] if op.outputs and op.outputs[0] >= 0 else None
            quantized = out is not None and out.dtype not in ("FLOAT32", "FLOAT16")
            if out is not None and out.shape and (
                    op.kind in _PER_CHANNEL_KINDS or (op.kind == "FULLY_CONNECTED" and quantized)):
                kernel += _PER_CHANNEL * out.shape[-1]
            if op.kind == "BATCH_MATMUL" and len(op.inputs) > 1 and op.inputs[1] >= 0:
                kernel += tflm_bytes(g.tensors[op.inputs[1]]) + 64  # its transposed copy
    io = len(graphs[0].inputs) + len(graphs[0].outputs) if graphs else 0
    costs = TFLM_64BIT
    tail = aligned(_FIXED + costs.per_tensor * tensors + (costs.per_operator + _KERNEL_DATA) * operators
                   + _IO_TENSOR * io + kernel)
    preparing = tail + 8 * len(graphs) + _PLAN_INFO * (tensors + scratch) + _PLAN_BUFFER * planned + 64
    needed = max(head + tail, preparing)
    return TflmArenaSize(
        arena_size=aligned(needed + margin),
        needed=needed,
        lower_bound=head + tail,
        head=head,
        tail=tail,
        margin=margin,
        measured=False,
        invoked=False,
        method=("estimated without running TFLite Micro: head from a simulation of its planner, "
                "tail and preparing overhead from per-tensor and per-operator figures"),
        tflm_version=None,
    )


def _tflm_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("tflite-micro")
    except Exception:  # not installed as a distribution
        return None


def size_text(size: TflmArenaSize) -> str:
    """A few lines for the report: the size to use, then where it comes from."""
    from ..units import format_bytes

    source = "TFLite Micro reports them" if size.measured else "estimated"
    how = f"{size.how}: TFLite Micro cannot load the model" if size.tflm_error else size.how
    why = [f"  why          {size.tflm_error}"] if size.tflm_error else []
    return "\n".join([
        f"TFLite Micro arena_size for MicroInterpreter: {format_bytes(size.arena_size)} ({how})",
        *why,
        f"  needed       {format_bytes(size.needed)}: {size.method}",
        f"  reported     {format_bytes(size.lower_bound)}: head {format_bytes(size.head)} + tail "
        f"{format_bytes(size.tail)} as {source}, a lower bound up to alignment; kernels also take "
        "temporary memory while preparing",
        f"  margin       {size.margin:,} B for an arena not declared alignas(16), then rounded up to 16 bytes",
    ]) + "\n"
