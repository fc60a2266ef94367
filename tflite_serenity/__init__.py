"""tflite-serenity: a memory-aware compiler for TensorFlow Lite models.

It reorders operators for the minimum peak of activation memory, plans the
arena at its lower bound, and writes models that compute the same outputs.
"""

from ._version import __version__
from .errors import (
    InfeasibleError,
    ModelFormatError,
    PlanError,
    SerenityError,
    UnsupportedModelError,
)

from .converter import convert
from .tflm import TflmArenaSize, tflm_arena_size
from .driver import OptimizeResult, SubgraphResult, optimize
from .reporting import Report, SubgraphReport, report

__all__ = [
    "__version__",
    "SerenityError",
    "ModelFormatError",
    "UnsupportedModelError",
    "InfeasibleError",
    "PlanError",
    "optimize",
    "OptimizeResult",
    "SubgraphResult",
    "report",
    "Report",
    "SubgraphReport",
    "convert",
    "tflm_arena_size",
    "TflmArenaSize",
]
