"""Check that a rewritten model computes what the original computed.

Runs models in the real interpreters, LiteRT (in process, reference kernels)
and TFLite Micro (in a child process, with its arena sizes), on deterministic
random inputs, and compares outputs byte for byte. Importing this package is
cheap: neither interpreter is imported until a model is run, and TensorFlow
never is.

Examples
--------
>>> import pathlib, tflite_micro
>>> from tflite_serenity.verify import compare_models
>>> path = pathlib.Path(tflite_micro.__file__).parent / "python/tflite_micro/sine_float.tflite"
>>> model = path.read_bytes()
>>> compare_models(model, model, runtime="litert").bit_identical
True
"""

from tflite_serenity.verify.compare import (
    Comparison,
    OutputDiff,
    assert_equivalent,
    compare_models,
    diff_outputs,
)
from tflite_serenity.model.signature import random_inputs
from tflite_serenity.verify.litert import run_litert, run_litert_trials
from tflite_serenity.tflm.interpreter import (
    DEFAULT_ARENA_SIZES,
    TflmArenaSearch,
    TflmRun,
    measure_tflm_arena,
    run_tflm,
    run_tflm_trials,
    smallest_tflm_arena,
    tflm_reason,
)

__all__ = [
    "Comparison",
    "DEFAULT_ARENA_SIZES",
    "OutputDiff",
    "TflmArenaSearch",
    "TflmRun",
    "assert_equivalent",
    "compare_models",
    "diff_outputs",
    "measure_tflm_arena",
    "random_inputs",
    "run_litert",
    "run_litert_trials",
    "run_tflm",
    "run_tflm_trials",
    "smallest_tflm_arena",
    "tflm_reason",
]
