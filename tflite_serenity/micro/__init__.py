"""For the firmware that runs the model in TensorFlow Lite for Microcontrollers:
the arena size to give ``MicroInterpreter`` (for the 64-bit host that measured,
or a 32-bit Cortex-M), the operators to register, and a C++ header that
carries them."""

from .header import arena_header, model_array_source, write_arena_header
from .ops import Registration, model_operator_kinds, registrations
from .size import DEFAULT_MARGIN, TflmArenaSize, estimate_tflm_arena, size_text, tflm_arena_size
from .target import DEFAULT_TARGET, TARGETS, TargetArena, target_arena

__all__ = [
    "DEFAULT_MARGIN", "DEFAULT_TARGET", "Registration", "TARGETS", "TargetArena", "TflmArenaSize", "arena_header",
    "estimate_tflm_arena", "model_array_source", "model_operator_kinds", "registrations", "size_text",
    "target_arena", "tflm_arena_size", "write_arena_header",
]
