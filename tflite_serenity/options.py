"""What one optimization is asked to do (:class:`Options`) and for which device (:class:`Target`).

Both are frozen and made once, by the command line or by the caller of
:func:`tflite_serenity.optimize`, then handed unchanged to every stage. Each
setting has one name everywhere: an option's field is its command-line flag
without the dashes (``--strips-peak-only`` is ``strips_peak_only``; a
``--no-X`` flag sets ``X`` to False).

>>> Options(strips_peak_only=True).strips_peak_only
True
>>> Target(pointer_width=64).costs is Target(pointer_width=64).costs
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .errors import SerenityError
from .tflm.tail import TFLM_32BIT, TFLM_64BIT, PersistentCosts
from .tflm.target_arena import TARGET_KERNELS, pointer_width

ENGINES = ("auto", "compiled", "python")
WARM_STARTS = ("none", "learned")


@dataclass(frozen=True)
class Options:
    """The settings of one optimization (``python -m tflite_serenity --help`` explains each flag)."""

    time_limit: float = 30.0  # seconds for the searches of orders only; everything else counts work
    rewrite: bool = True  # exact rewrites: concats below their consumers, slices first, row strips
    rewrite_approximate: bool = False  # also rewrites that change float rounding
    rewrite_approximate_int8: bool = False  # also concat splits that change int8 rounding
    strips: bool = True  # with rewrite: runs of operators in row strips where that pays
    loops: bool = True  # with strips: int8 runs' middle strips in WHILE loops where the whole arena drops
    max_recompute: float = 100.0  # percent more multiply-accumulates row strips may add
    strips_peak_only: bool = False  # choose strips and splits by the activation peak alone
    arena_plan: bool = True  # write TFLite Micro's offline memory plan where it beats its own
    shared_outputs: bool = True  # under the plan, ADD/SUB/MUL may write over an input that dies there
    overlap: bool = True  # under the plan, outputs may overlap the part of a dying input already read (verified kernels: --help)
    warm_start: Literal["none", "learned"] = "none"  # seed the exact search with the learned policy's order
    engine: Literal["auto", "compiled", "python"] = "auto"  # the search implementation (tests and benchmarks)
    jobs: int = 0  # processes that score row-strip candidates; 0: one per core, at most 4 (same output either way)

    def __post_init__(self) -> None:
        if not self.time_limit >= 0:  # also refuses nan
            raise SerenityError("--time-limit must be 0 or more seconds")
        if not self.max_recompute >= 0:
            raise SerenityError("--max-recompute must be 0 or more percent")
        if self.warm_start not in WARM_STARTS:
            raise SerenityError(f"--warm-start must be one of {', '.join(WARM_STARTS)}")
        if not isinstance(self.jobs, int) or self.jobs < 0:
            raise SerenityError("--jobs must be 0 (one per core) or more processes")
        if self.engine not in ENGINES:
            raise SerenityError(f"--engine must be one of {', '.join(ENGINES)}")


@dataclass(frozen=True)
class Target:
    """The device TFLite Micro runs on, as far as our figures depend on it.

    ``pointer_width`` sets what TFLite Micro keeps per operator and tensor in
    its arena's tail (``costs``, measured per width: docs/memory-model.md),
    which is what row strips and concat splits are charged for the operators
    they add. ``alignment`` is the rounding of every planned buffer
    (``MicroArenaBufferAlignment()``, 16 bytes on every build). ``core``
    names one Cortex-M (``cortex-m4``: CMSIS-NN's DSP kernels,
    ``cortex-m55``: its MVE kernels); empty, any of them: the arena plan then
    leaves room for the scratch buffers of each (``kernels``)."""

    pointer_width: Literal[32, 64] = 32
    alignment: int = 16
    core: str = ""
    costs: PersistentCosts = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.pointer_width not in (32, 64):
            raise SerenityError(f"--pointer-width must be 32 or 64, not {self.pointer_width!r}")
        if self.core not in ("", "cortex-m4", "cortex-m55"):
            raise SerenityError(f"unknown --core {self.core!r}: choose cortex-m4 or cortex-m55")
        if self.core and self.pointer_width != 32:
            raise SerenityError("--core names a Cortex-M: it needs --pointer-width 32")
        object.__setattr__(self, "costs", TFLM_32BIT if self.pointer_width == 32 else TFLM_64BIT)

    @classmethod
    def named(cls, name: str) -> "Target":
        """The target ``report --target`` names: ``cortex-m`` (32-bit, any
        CMSIS-NN kernels), ``cortex-m4``, ``cortex-m55`` or ``host`` (this 64-bit machine).

        >>> Target.named("host").pointer_width
        64
        """
        width = pointer_width(name)
        return cls(pointer_width=width, core=name if name in ("cortex-m4", "cortex-m55") else "")

    @property
    def name(self) -> str:
        """``host`` for 8-byte pointers; ``cortex-m``, or the core, for 4-byte ones."""
        return "host" if self.pointer_width == 64 else (self.core or "cortex-m")

    @property
    def kernels(self) -> tuple[str, ...]:
        """The kernel libraries whose scratch buffers the arena plan leaves
        room for and must not lose on: the reference kernels (the host's),
        and on a Cortex-M the CMSIS-NN kernels it may run."""
        extra = TARGET_KERNELS[self.name]
        return ("reference",) + tuple(k for k in extra if k != "reference")
