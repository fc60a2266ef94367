"""Everything we know about TensorFlow Lite for Microcontrollers, in one place.

* :mod:`.buffers`: which tensors it plans in its arena, with which lifetimes;
* :mod:`.planner`: its greedy memory planner, simulated to the byte;
* :mod:`.scratch` and :mod:`.kernels`: the scratch buffers its kernels ask
  for, and the kernels whose needs are modelled exactly;
* :mod:`.offline`: its ``OfflineMemoryAllocation`` metadata (the offline plan);
* :mod:`.simulate`: the head it gives a model as stored;
* :mod:`.tail`: what it keeps per tensor, operator and channel (the tail),
  fitted per pointer width, as the optimizer charges it;
* :mod:`.device_arena`: its allocations replayed, struct by struct, on a
  32-bit Cortex-M with CMSIS-NN (tail, preparing, the smallest arena);
* :mod:`.interpreter`: running the real interpreter (a child process);
* :mod:`.arena_size` and :mod:`.target_arena`: the ``arena_size`` to give
  ``MicroInterpreter`` (on the host, or a 32-bit Cortex-M);
* :mod:`.ops` and :mod:`.header`: the operators a firmware registers, and
  the C header that carries both (with the model array).

The memory model of every stage (:mod:`tflite_serenity.memory`) is the
runtime-independent part; what is TFLite Micro's own lives here.
"""

from .arena_size import DEFAULT_MARGIN, TflmArenaSize, estimate_tflm_arena, size_text, tflm_arena_size
from .header import arena_header, model_array_source, write_arena_header
from .ops import Registration, model_operator_kinds, registrations
from .target_arena import DEFAULT_TARGET, TARGETS, TargetArena, target_arena

__all__ = [
    "DEFAULT_MARGIN", "DEFAULT_TARGET", "Registration", "TARGETS", "TargetArena", "TflmArenaSize", "arena_header",
    "estimate_tflm_arena", "model_array_source", "model_operator_kinds", "registrations", "size_text",
    "target_arena", "tflm_arena_size", "write_arena_header",
]
