"""The arena size for the device the firmware runs on.

TFLite Micro's arena is a head (the planned tensors) and a tail (persistent
interpreter and kernel data), and, while preparing, temporary memory on top
of the tail. On a Cortex-M all three differ from the 64-bit host's:

* **head**: the planner is the same on any pointer width, but the kernels
  are CMSIS-NN's, which ask for other scratch buffers (:mod:`.scratch`:
  ``cmsis-nn-dsp`` on a Cortex-M4, ``cmsis-nn-mve`` on a Cortex-M55). We
  simulate TFLite Micro's planner with those requests (and the model's
  offline plan where it has one); on the device run of docs/device.md
  (68 runs per core) the simulation matched the device's head to the byte
  but for one model, where it erred high.
* **tail** and **preparing**: :mod:`.device_arena` replays
  ``AllocateTensors`` allocation by allocation with the sizes of the
  interpreter's and the kernels' structs on 32-bit Arm (CMSIS-NN's kernel
  sums included: :func:`.device_arena.kernel_sums_of`), and finds the
  smallest arena in which no step fails. Preparing decides the size of models whose head is
  small (a WHILE, an LSTM, a transformer of a few hundred bytes of
  activations): the planner's arrays then take more than the head.

The figure does not depend on the host's measurement, except for the head
of a model the planner simulation cannot take (then the host's head plus
every scratch request). ``cortex-m`` is the largest need of the Cortex-M4
(DSP) and Cortex-M55 (MVE) kernels, so one figure suits both; ``cortex-m4``
and ``cortex-m55`` give each. A margin goes on top (:func:`margin_for`): 16
bytes for an arena not declared ``alignas(16)``, or :data:`TAIL_MARGIN` of
the tail, for kernels the replay does not list to the byte, where that is
more. TFLite Micro built without
CMSIS-NN uses the reference kernels, whose scratch (an int32 copy of a
TRANSPOSE_CONV's output, for one) and kernel data the figure leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SerenityError
from .arena_size import ALIGNMENT, TflmArenaSize, aligned

#: ``cortex-m``: a 32-bit microcontroller (4-byte pointers) with CMSIS-NN,
#: Cortex-M4-class (DSP) or Cortex-M55-class (MVE); ``cortex-m4`` and
#: ``cortex-m55`` name one; ``host``: TFLite Micro on the 64-bit machine that
#: measured (the ``tflite-micro`` package, reference kernels). A header is
#: built into firmware, and TFLite Micro's firmware runs on 32-bit
#: microcontrollers; ``optimize`` charges a 32-bit device by default too.
POINTER_WIDTHS = {"cortex-m": 32, "cortex-m4": 32, "cortex-m55": 32, "host": 64}

#: The kernel libraries (:data:`.scratch.KERNEL_LIBRARIES`) each target may run.
TARGET_KERNELS = {
    "cortex-m": ("cmsis-nn-dsp", "cmsis-nn-mve"),
    "cortex-m4": ("cmsis-nn-dsp",),
    "cortex-m55": ("cmsis-nn-mve",),
    "host": ("reference",),
}
TARGETS = tuple(POINTER_WIDTHS)


def pointer_width(name: str) -> int:
    """The pointer width of the target ``report --target`` names; one error line for any other name."""
    if name not in POINTER_WIDTHS:
        raise SerenityError(f"unknown --target {name!r}: choose one of {', '.join(TARGETS)}")
    return POINTER_WIDTHS[name]
DEFAULT_TARGET = "cortex-m"

TAIL_MARGIN = 0.005
"""Fraction of the 32-bit tail kept as safety margin (where it is more than
16 bytes: :func:`margin_for`), for kernels whose persistent data
:mod:`.device_arena` does not list to the byte. On the device runs of
docs/device.md the replay was never below the device's need."""

FIXED_SAVED = 256
"""Bytes the interpreter's fixed objects (allocator, planner, graph) take
less on 32 bits than in the host's measured tail, beyond what the per-tensor
and per-operator fit saves (:func:`tail_32bit`: the report's 32-bit tail
with the reference kernels)."""


def tail_32bit(host_tail: int, counts) -> int:
    """The tail on a 32-bit device from the host's ``host_tail``: less what
    4-byte pointers save per tensor, operator and channel
    (:class:`~tflite_serenity.tflm.tail.PersistentCounts` ``counts``) and
    :data:`FIXED_SAVED`; never below 0."""
    from .tail import TFLM_32BIT, TFLM_64BIT

    return max(0, host_tail - (TFLM_64BIT.bytes(counts) - TFLM_32BIT.bytes(counts)) - FIXED_SAVED)


def margin_for(tail: int) -> int:
    """The margin added to a 32-bit need: 16 bytes, what an arena not
    declared ``alignas(16)`` can lose to alignment, or :data:`TAIL_MARGIN` of
    ``tail`` up to a multiple of 16 where that is more."""
    return max(ALIGNMENT, aligned(-(-tail * round(TAIL_MARGIN * 1000) // 1000)))


def replayed_arena(tree, graphs, host_head: int, library: str):
    """:class:`.device_arena.DeviceArena` for the model ``tree`` (subgraphs
    ``graphs``) on a 32-bit device running ``library``'s kernels: TFLite
    Micro's allocations replayed (:func:`.device_arena.device_arena`) with
    the head simulated; ``host_head`` (the host's head) plus every scratch
    request stands for the head where it cannot be simulated."""
    from .device_arena import device_arena, scratch_counts
    from .scratch import scratch_requests
    from .simulate import stored_head

    head = stored_head(tree, graphs, library)
    if head is None:  # cannot simulate: the host's head plus every request, which errs high
        head = host_head + sum(aligned(b) for g in graphs for op in range(g.num_operators)
                               for b in scratch_requests(g, op, library))
    counts, planned = scratch_counts(tree, graphs, library)
    return device_arena(tree, graphs, head, library, counts, planned)


def device_need(tree, graphs, host_head: int, library: str) -> tuple[int, int, int, int, str]:
    """What a 32-bit device running ``library``'s kernels needs for the model
    ``tree`` (subgraphs ``graphs``): ``(needed, head, tail, preparing,
    library)`` of :func:`replayed_arena`."""
    arena = replayed_arena(tree, graphs, host_head, library)
    return arena.arena_size, arena.head, arena.tail, arena.preparing, library


@dataclass(frozen=True)
class TargetArena:
    """The ``kTensorArenaSize`` for one target, and where it comes from.

    Attributes
    ----------
    target : str
        One of :data:`TARGETS`.
    arena_size : int
        Bytes for ``kTensorArenaSize``: ``needed`` plus ``margin``, rounded
        up to a multiple of 16.
    needed : int
        The smallest arena that works on the target: measured on the host;
        on a Cortex-M the larger of ``head + tail`` and ``preparing``, up to
        a multiple of 16.
    head : int
        Planned tensors and scratch buffers, bytes: the host's; on a
        Cortex-M simulated with the kernels' scratch buffers.
    tail : int
        Persistent data on the target, bytes (on a Cortex-M replayed).
    tail_saved : int
        Bytes the host's tail (measured or estimated) is larger than the
        target's (negative where the target keeps more; 0 for ``host``).
    margin : int
        Bytes added to ``needed``.
    measured : bool
        ``needed`` was measured on this target (only ``host`` can be).
    host : TflmArenaSize
        The host's figure it was derived from.
    kernels : str
        The kernel library whose need decided (:data:`TARGET_KERNELS`).
    preparing : int
        The most the arena holds at once before the head is planned with
        that library: the tail so far, the scratch requests and temporary
        data (0 for ``host``: inside the measured need).
    """

    target: str
    arena_size: int
    needed: int
    head: int
    tail: int
    tail_saved: int
    margin: int
    measured: bool
    host: TflmArenaSize
    kernels: str = "reference"
    preparing: int = 0

    @property
    def method(self) -> str:
        """One sentence on how ``needed`` was found."""
        if self.target == "host":
            return self.host.method
        return (f"TFLite Micro's allocations replayed for a 32-bit Cortex-M with {self.kernels} kernels, estimated: "
                "the head simulated with their scratch buffers, the tail and what preparing takes from the sizes "
                "of the interpreter's and the kernels' structs")


def target_arena(size: TflmArenaSize, model: bytes, target=DEFAULT_TARGET, *, tree=None) -> TargetArena:
    """The arena for ``target`` from the host's ``size`` of ``model``.

    Parameters
    ----------
    size : TflmArenaSize
        From :func:`tflite_serenity.tflm.tflm_arena_size` for ``model``.
    model : bytes
        The ``.tflite`` bytes: its tensors, operators and convolutions'
        channels decide what the tail saves.
    target : Target or str, default ``"cortex-m"``
        The device (:class:`tflite_serenity.options.Target`), or its name, one
        of :data:`TARGETS`.

    Returns
    -------
    TargetArena
    """
    from ..model import read_model
    from ..model_version import graphs_of

    target = target if isinstance(target, str) else target.name
    pointer_width(target)  # a known name
    if target == "host":
        return TargetArena(target, size.arena_size, size.needed, size.head, size.tail, 0, size.margin,
                           size.measured, size)
    tree = read_model(model) if tree is None else tree
    graphs = graphs_of(tree)
    needed, head, tail, preparing, library = max(
        (device_need(tree, graphs, size.head, library) for library in TARGET_KERNELS[target]),
        key=lambda need: need[0])  # ties: the first library
    margin = margin_for(tail)
    return TargetArena(target, aligned(needed + margin), needed, head, tail, size.tail - tail, margin, False, size,
                       library, preparing)
