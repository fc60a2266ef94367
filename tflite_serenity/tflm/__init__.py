"""Everything we know about TensorFlow Lite for Microcontrollers, in one place.

* :mod:`.buffers`: which tensors it plans in its arena, with which lifetimes;
* :mod:`.planner`: its greedy memory planner, simulated to the byte;
* :mod:`.scratch` and :mod:`.kernels`: the scratch buffers its kernels ask
  for, and the kernels whose needs are modelled exactly;
* :mod:`.offline`: its ``OfflineMemoryAllocation`` metadata (the offline plan);
* :mod:`.simulate`: the head it gives a model as stored;
* :mod:`.tail`: what it keeps per tensor, operator and channel (the tail);
* :mod:`.interpreter`: running the real interpreter (a child process);
* :mod:`.arena_size` and :mod:`.header`: the ``arena_size`` to give
  ``MicroInterpreter``, and the C header that carries it.

The memory model of every stage (:mod:`tflite_serenity.memory`) is the
runtime-independent part; what is TFLite Micro's own lives here.
"""

from .header import arena_header, write_arena_header
from .arena_size import DEFAULT_MARGIN, TflmArenaSize, estimate_tflm_arena, size_text, tflm_arena_size

__all__ = [
    "DEFAULT_MARGIN", "TflmArenaSize", "arena_header", "estimate_tflm_arena", "size_text", "tflm_arena_size",
    "write_arena_header",
]
