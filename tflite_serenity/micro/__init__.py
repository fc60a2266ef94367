"""For the firmware that runs the model in TensorFlow Lite for Microcontrollers:
the arena size to give ``MicroInterpreter`` and a C header that carries it."""

from .header import arena_header, write_arena_header
from .size import DEFAULT_MARGIN, TflmArenaSize, estimate_tflm_arena, size_text, tflm_arena_size

__all__ = [
    "DEFAULT_MARGIN", "TflmArenaSize", "arena_header", "estimate_tflm_arena", "size_text", "tflm_arena_size",
    "write_arena_header",
]
