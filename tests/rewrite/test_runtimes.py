"""Rewritten models in the real interpreters: exact rewrites are bit-identical,
approximate ones stay within the tolerance docs/rewriting.md states.

Each rewrite is forced here (applied whether or not it lowers the peak), so
every pattern is checked even where the search would not keep it.
"""

from __future__ import annotations

import pytest

from tflite_serenity.options import Options
from tflite_serenity.verify import compare_models
from tests.models import load
from tests.rewrite.util import APPROXIMATE, pushed_bytes

RUNTIMES = ("litert", "tflm")

EXACT = [
    ("irregular_float.tflite", "DEPTHWISE_CONV_2D"),
    ("irregular_int8.tflite", "DEPTHWISE_CONV_2D"),
    ("rewrite_depthwise_float.tflite", "DEPTHWISE_CONV_2D"),
    ("rewrite_depthwise_int8.tflite", "DEPTHWISE_CONV_2D"),
    ("rewrite_pool_float.tflite", "MAX_POOL_2D"),
    ("rewrite_pool_int8.tflite", "AVERAGE_POOL_2D"),
    ("rewrite_elementwise_float.tflite", "MUL"),
    ("rewrite_elementwise_int8.tflite", "MUL"),
    ("rewrite_mean_float.tflite", "MEAN"),
    ("rewrite_mean_int8.tflite", "MEAN"),
    ("rewrite_nested_float.tflite", "CONCATENATION"),
    ("rewrite_nested_int8.tflite", "RELU"),
    ("darts_tiny_float.tflite", "RELU"),
    ("darts_tiny_int8.tflite", "MUL"),
]

#: Largest error of a float channel-wise rewrite, relative to the output's range.
FLOAT_TOLERANCE = 1e-5
#: Largest error of an int8 channel-wise rewrite next to the output, in quantization steps.
INT8_TOLERANCE = 4

APPROXIMATE_FLOAT = [
    ("irregular_float.tflite", "CONV_2D"),
    ("rewrite_conv_float.tflite", "CONV_2D"),
    ("rewrite_dense_float.tflite", "FULLY_CONNECTED"),
    ("unet_tiny_float.tflite", "CONV_2D"),
]
APPROXIMATE_INT8 = [
    ("irregular_int8.tflite", "CONV_2D"),
    ("rewrite_conv_int8.tflite", "CONV_2D"),
    ("rewrite_dense_int8.tflite", "FULLY_CONNECTED"),
]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name, kind", EXACT)
def test_exact_rewrite_is_bit_identical(name, kind, runtime):
    result = compare_models(load(name), pushed_bytes(name, kind), runtime=runtime, trials=3)
    assert result.bit_identical, result.describe()


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name, kind", APPROXIMATE_FLOAT)
def test_float_channelwise_rewrite_is_within_tolerance(name, kind, runtime):
    result = compare_models(load(name), pushed_bytes(name, kind, Options(rewrite_approximate=True)), runtime=runtime,
                            trials=3)
    assert result.error is None and result.max_rel_diff < FLOAT_TOLERANCE, result.describe()


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name, kind", APPROXIMATE_INT8)
def test_int8_channelwise_rewrite_is_within_a_few_quantization_steps(name, kind, runtime):
    result = compare_models(load(name), pushed_bytes(name, kind, APPROXIMATE), runtime=runtime, trials=3)
    assert result.error is None and result.max_abs_diff <= INT8_TOLERANCE, result.describe()
