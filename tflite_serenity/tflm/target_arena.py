"""The arena size for the device the firmware runs on, from the host's figure.

TFLite Micro's arena is a head (the planned tensors) and a tail (persistent
interpreter and kernel data). The head does not depend on the pointer width:
a 32-bit build of TFLite Micro plans the same head as the 64-bit ``tflite-micro``
package, byte for byte (docs/benchmarks.md). The tail is mostly structs of
pointers and shrinks on a 32-bit device; :data:`tflite_serenity.TFLM_32BIT`
and :data:`~tflite_serenity.TFLM_64BIT` model it per tensor, per
operator and per output channel, fitted on 32-bit and 64-bit builds.

For ``cortex-m`` the need is the host's (measured or estimated) less what
4-byte pointers save in the tail by that model. The rest of the host figure
stays at its 64-bit size (the interpreter's fixed objects, the planner's
temporary arrays while preparing), which errs high. A safety margin goes on
top: :data:`TAIL_MARGIN` of the 32-bit tail, for the error of the fitted
costs, plus 16 bytes for an arena not declared ``alignas(16)``.

Both describe TFLite Micro's reference kernels. Optimized kernels (CMSIS-NN)
request scratch buffers of their own, which no figure here knows.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SerenityError
from .arena_size import ALIGNMENT, TflmArenaSize, aligned

#: ``cortex-m``: a 32-bit microcontroller (4-byte pointers); ``host``: TFLite
#: Micro on the 64-bit machine that measured (the ``tflite-micro`` package).
#: A header is built into firmware, and TFLite Micro's firmware runs on 32-bit
#: microcontrollers; ``optimize`` charges a 32-bit device by default too.
POINTER_WIDTHS = {"cortex-m": 32, "host": 64}
TARGETS = tuple(POINTER_WIDTHS)


def pointer_width(name: str) -> int:
    """The pointer width of the target ``report --target`` names; one error line for any other name."""
    if name not in POINTER_WIDTHS:
        raise SerenityError(f"unknown --target {name!r}: choose one of {', '.join(TARGETS)}")
    return POINTER_WIDTHS[name]
DEFAULT_TARGET = "cortex-m"

TAIL_MARGIN = 0.10
"""Fraction of the estimated 32-bit tail added as safety margin. The fitted
costs predict what row strips add to the tail within 6.4% on a 32-bit build
(docs/memory-model.md); tensors and nodes are exact there."""


@dataclass(frozen=True)
class TargetArena:
    """The ``kTensorArenaSize`` for one target, and where it comes from.

    Attributes
    ----------
    target : str
        One of :data:`TARGETS`.
    arena_size : int
        Bytes for ``kTensorArenaSize``: ``needed`` plus ``margin``, rounded
        up to a multiple of 16; never below ``head``.
    needed : int
        The smallest arena that works on the target: the host's measured (or
        estimated) need, less the tail bytes 4-byte pointers save.
    head : int
        Planned tensors, bytes: the host's figure (the same on any pointer width).
    tail : int
        Persistent data on the target, bytes (on ``cortex-m`` estimated).
    tail_saved : int
        Bytes the host's tail is larger than the target's (0 for ``host``).
    margin : int
        Bytes added to ``needed``.
    measured : bool
        ``needed`` was measured on this target (only ``host`` can be).
    host : TflmArenaSize
        The host's figure it was derived from.
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

    @property
    def method(self) -> str:
        """One sentence on how ``needed`` was found."""
        if self.target == "host":
            return self.host.method
        return (f"the 64-bit host's need ({self.host.how}) less {self.tail_saved:,} bytes of tail that 4-byte "
                "pointers save (fitted per tensor, operator and channel), estimated")


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
    from .tail import TFLM_32BIT, TFLM_64BIT, model_persistent_counts

    target = target if isinstance(target, str) else target.name
    pointer_width(target)  # a known name
    if target == "host":
        return TargetArena(target, size.arena_size, size.needed, size.head, size.tail, 0, size.margin,
                           size.measured, size)
    counts = model_persistent_counts(graphs_of(read_model(model) if tree is None else tree))
    saved = TFLM_64BIT.bytes(counts) - TFLM_32BIT.bytes(counts)
    tail = max(0, size.tail - saved)
    needed = max(size.needed - saved, size.head + tail)
    margin = aligned(-(-tail * round(TAIL_MARGIN * 100) // 100)) + ALIGNMENT
    return TargetArena(target, max(aligned(needed + margin), aligned(size.head)), needed, size.head, tail,
                       size.tail - tail, margin, False, size)
