"""TFLite Micro's offline memory plan: the bytes, and checking them.

The plan is the model metadata entry named ``OfflineMemoryAllocation``; its
buffer holds little-endian int32 values::

    [version, subgraph, n, offset_0, ..., offset_{n-1}]

TFLite Micro reads only ``n`` and the offsets (``micro_allocation_info.cc``,
``GetOfflinePlannedOffsets``). ``n`` must equal the number of tensors of all
subgraphs together, or allocation fails; offset ``k`` belongs to the ``k``-th
tensor when the subgraphs' tensor lists are concatenated in order. An offset
is a byte position from the start of the arena head; ``-1`` lets TFLite
Micro place the tensor itself, around the pinned ones. Offsets of tensors it
does not plan (constants, zero-byte tensors) are ignored, and a variable
tensor with an offset is moved from persistent memory into the head. We
write version 1 and subgraph 0, as TFLite Micro's own tests do.

TFLite Micro checks nothing else: two live tensors given overlapping bytes
silently corrupt each other. :func:`check_offline_plan` is the check it does
not make, and :func:`with_offline_plan` never writes a plan that fails it.
It accepts tensors sharing one offset where they hold one value (a reshape
and its dying input, an element-wise output over its dying input, the copies
of a WHILE-carried value, :func:`tflite_serenity.memory.loop_aliases`), and
an output over an input dying at its operator, within the rule of
:mod:`tflite_serenity.arena.overlap` (``--overlap``), so that a plan we
wrote with overlaps, or a loop written with its copies pinned together, is
read back as safe.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Sequence

from tflite_serenity.arena.blocks import DEFAULT_ALIGNMENT, check_placement
from tflite_serenity.tflm.buffers import ModelBuffers, alias_pairs, join_pairs, merge_aliases, model_buffers
from tflite_serenity.tflm.planner import ONLINE
from tflite_serenity.errors import ModelFormatError, PlanError
from tflite_serenity.model_version import graphs_of
from tflite_serenity.model import metadata, with_metadata, without_metadata

METADATA_NAME = "OfflineMemoryAllocation"
"""Name of the model metadata entry TFLite Micro reads the plan from."""

VERSION = 1
_HEADER = 3
_INT32 = (-(1 << 31), (1 << 31) - 1)


@dataclass(frozen=True)
class OfflinePlan:
    """A decoded ``OfflineMemoryAllocation`` buffer."""

    version: int
    subgraph: int
    offsets: tuple[int, ...]


def encode_offline_plan(offsets: Sequence[int], *, version: int = VERSION, subgraph: int = 0) -> bytes:
    """The metadata buffer for ``offsets`` (one per tensor of all subgraphs).

    Raises
    ------
    PlanError
        If an offset is not an int32 or is negative other than -1.

    Examples
    --------
    >>> encode_offline_plan([0, -1, 64]).hex(" ", 4)
    '01000000 00000000 03000000 00000000 ffffffff 40000000'
    """
    values = [version, subgraph, len(offsets)]
    for k, offset in enumerate(offsets):
        offset = int(offset)
        if offset != ONLINE and offset < 0:
            raise PlanError(f"offline plan entry {k}: offset {offset} is negative")
        if not _INT32[0] <= offset <= _INT32[1]:
            raise PlanError(f"offline plan entry {k}: offset {offset} does not fit in 32 bits")
        values.append(offset)
    return struct.pack(f"<{len(values)}i", *values)


def decode_offline_plan(data: bytes) -> OfflinePlan:
    """Read an ``OfflineMemoryAllocation`` buffer.

    Raises
    ------
    ModelFormatError
        If the buffer is shorter than its header, not whole int32 values, or
        holds a different number of offsets than its header says.

    Examples
    --------
    >>> decode_offline_plan(encode_offline_plan([0, -1, 64])).offsets
    (0, -1, 64)
    """
    if len(data) % 4 or len(data) < 4 * _HEADER:
        raise ModelFormatError(
            f"{METADATA_NAME}: {len(data)} bytes is not a header of 3 int32 values plus whole offsets")
    values = struct.unpack(f"<{len(data) // 4}i", data)
    version, subgraph, n = values[:_HEADER]
    if n != len(values) - _HEADER:
        raise ModelFormatError(f"{METADATA_NAME}: header says {n} offsets, the buffer holds {len(values) - _HEADER}")
    return OfflinePlan(version, subgraph, tuple(values[_HEADER:]))


def read_offline_plan(model) -> OfflinePlan | None:
    """The offline plan stored in a ``ModelT``, or None."""
    data = metadata(model, METADATA_NAME)
    return None if data is None else decode_offline_plan(data)


def check_offline_plan(model, offsets: Sequence[int], *, buffers: ModelBuffers | None = None,
                       alignment: int = DEFAULT_ALIGNMENT) -> ModelBuffers:
    """Raise unless ``offsets`` is a safe offline plan for ``model`` as stored.

    Safe means: one entry per tensor of all subgraphs; ``-1`` for every
    tensor TFLite Micro does not plan (constants, variables, zero bytes), so
    an index shifted by a subgraph cannot slip through; pinned offsets
    aligned; and no two pinned tensors alive at a common allocation scope
    sharing a byte, except tensors holding one value at exactly one offset
    (:func:`.alias_pairs`: a reshape-like operator's output and its dying
    input, an element-wise output and the input it writes over, the copies
    of a WHILE-carried value in the outer graph, the condition and the body,
    a DYNAMIC_UPDATE_SLICE output and its dying operand), and an operator's
    output overlapping an input dying there no further than the rule of
    :mod:`tflite_serenity.arena.overlap` allows (:func:`.overlap_pairs`:
    TFLite Micro's reference kernels). Tensors left at ``-1``
    and scratch buffers are placed by TFLite Micro around the pinned ones,
    so they cannot collide with them.

    Parameters
    ----------
    model : ModelT
        The model in the operator order it will be written with.
    offsets : sequence of int
        The plan, indexed like the concatenated tensor lists.
    buffers : ModelBuffers, optional
        ``model_buffers`` of the model, if already computed.
    alignment : int, default 16

    Returns
    -------
    ModelBuffers
        The buffers the plan was checked against.

    Raises
    ------
    PlanError
        Naming the first offending tensor (by subgraph and index).
    """
    graphs = graphs_of(model)
    if buffers is None:
        buffers = model_buffers(graphs)
    if len(offsets) != buffers.total_tensors:
        raise PlanError(
            f"the plan has {len(offsets)} offsets; the model has {buffers.total_tensors} tensors "
            f"in {len(buffers.tensor_counts)} subgraph(s), and TFLite Micro refuses any other count")
    planned = {buffers.plan_index(b): i for i, b in enumerate(buffers.buffers) if not b.is_scratch}
    offset_of: dict[int, int] = {}
    for k, offset in enumerate(offsets):
        if offset == ONLINE:
            continue
        if k not in planned:
            s, t = _locate(buffers.tensor_counts, k)
            raise PlanError(
                f"subgraph {s} tensor {t}: TFLite Micro does not plan this tensor (a constant, a variable "
                f"or zero bytes), so its offset must be -1, not {offset}")
        offset_of[planned[k]] = int(offset)
    # A reshape's output may share its dying input's bytes, and the copies of
    # a loop-carried value one another's (buffers.alias_pairs): tensors that
    # such pairs join at one offset are checked as one block over all their
    # lifetimes; a tensor pinned elsewhere, or left to TFLite Micro, apart.
    same = [(a, b) for a, b in alias_pairs(graphs, buffers, loops=True)
            if a in offset_of and b in offset_of and offset_of[a] == offset_of[b]]
    groups = join_pairs(len(buffers.buffers), same)
    blocks, unit_of = merge_aliases([b.block for b in buffers.buffers], groups)
    pinned: dict[int, tuple[int, int]] = {}  # merged block -> (first buffer, offset)
    for i, offset in offset_of.items():
        pinned.setdefault(unit_of[i], (i, offset))
    units = sorted(pinned)
    unit_blocks, unit_offsets = [blocks[u] for u in units], [pinned[u][1] for u in units]
    try:
        check_placement(unit_blocks, unit_offsets, alignment)
        return buffers
    except PlanError as err:
        failure = err
    # Only where the plain check fails: an output may overlap an input dying
    # at its operator, by the rule of arena.overlap (finding the pairs costs
    # a pass over the operators' shapes).
    allowed = _overlaps(model, graphs, buffers, unit_of, units, alignment)
    if allowed:
        try:
            check_placement(unit_blocks, unit_offsets, alignment, overlaps=allowed)
            return buffers
        except PlanError as err:
            failure = err
    named = [buffers.buffers[pinned[u][0]] for u in units]
    raise PlanError(f"unsafe offline plan: {_name_tensors(str(failure), named)}") from failure


def pinned_copies(model, graphs, *, buffers: ModelBuffers | None = None
                  ) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The pairs of tensors, each ``(subgraph, tensor)``, that the model's
    offline plan pins to one offset and that hold one value
    (:func:`.alias_pairs`, loops included): what shares bytes in TFLite Micro
    under that plan, for :func:`tflite_serenity.memory.nested_peak`. Empty
    without a plan or with one of the wrong length."""
    stored = read_offline_plan(model)
    if buffers is None:
        buffers = model_buffers(graphs, scratch=False)
    if stored is None or len(stored.offsets) != buffers.total_tensors:
        return []
    offset = {i: stored.offsets[buffers.plan_index(b)] for i, b in enumerate(buffers.buffers) if not b.is_scratch}
    found = []
    for a, b in alias_pairs(graphs, buffers, loops=True):
        if offset.get(a, ONLINE) != ONLINE and offset.get(a) == offset.get(b):
            x, y = buffers.buffers[a], buffers.buffers[b]
            found.append(((x.subgraph, x.tensor), (y.subgraph, y.tensor)))
    return found


def _overlaps(model, graphs, buffers: ModelBuffers, unit_of: Sequence[int], units: Sequence[int],
              alignment: int) -> dict[tuple[int, int], int]:
    """The overlaps :func:`.overlap_pairs` allows, as (input, output) -> limit
    between positions in ``units`` (merged blocks of the pinned buffers)."""
    from tflite_serenity.arena.overlap import overlap_pairs

    position = {u: k for k, u in enumerate(units)}
    allowed = {}
    for p in overlap_pairs(model, buffers, alignment, graphs=graphs):
        a, b = position.get(unit_of[p.input]), position.get(unit_of[p.output])
        if a is not None and b is not None and a != b:
            allowed[(a, b)] = p.limit
    return allowed


def with_offline_plan(model, offsets: Sequence[int], *, buffers: ModelBuffers | None = None):
    """A model holding ``offsets`` as its offline plan (replacing any plan).

    The plan is checked with :func:`check_offline_plan` first; the input
    model is left untouched.

    Raises
    ------
    PlanError
        If the plan is not safe for the model.
    """
    check_offline_plan(model, offsets, buffers=buffers)
    return with_metadata(without_metadata(model, METADATA_NAME), METADATA_NAME, encode_offline_plan(offsets))


def _locate(counts: Sequence[int], k: int) -> tuple[int, int]:
    for s, count in enumerate(counts):
        if k < count:
            return s, k
        k -= count
    return len(counts), k


def _name_tensors(message: str, pinned) -> str:
    """Replace check_placement's positions ("tensor 3") with subgraph and tensor index."""
    import re

    def name(match: re.Match) -> str:
        buffer = pinned[int(match.group(1))]
        return f"subgraph {buffer.subgraph} tensor {buffer.tensor}"

    return re.sub(r"tensor (\d+)", name, message)


__all__ = [
    "METADATA_NAME", "OfflinePlan", "check_offline_plan", "decode_offline_plan",
    "encode_offline_plan", "pinned_copies", "read_offline_plan", "with_offline_plan",
]
