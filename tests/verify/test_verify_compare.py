"""Tests of tflite_serenity.verify.compare."""

import math
import re

import numpy as np
import pytest

from tflite_serenity.errors import VerificationError
from tflite_serenity.verify import assert_equivalent, compare_models, diff_outputs
from tests.verify.verify_models import perturb_weight, with_input_signature, with_unknown_custom_op

RUNTIMES = ["litert", "tflm"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_same_model_twice_is_bit_identical(committed_model, runtime):
    result = compare_models(committed_model, committed_model, runtime=runtime)
    assert result.error is None
    assert result.bit_identical and result.max_abs_diff == 0.0


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_perturbed_weight_is_detected(committed_model, runtime):
    result = compare_models(committed_model, perturb_weight(committed_model), runtime=runtime)
    assert result.error is None
    assert not result.bit_identical and result.max_abs_diff > 0


def test_tflm_comparison_carries_both_arena_measurements(sine_model):
    result = compare_models(sine_model, sine_model, runtime="tflm")
    assert result.original_tflm.head_bytes == result.candidate_tflm.head_bytes > 0


def test_comparison_has_one_entry_per_trial_and_output(sine_model):
    result = compare_models(sine_model, sine_model, runtime="litert", trials=3)
    assert [(d.trial, d.index) for d in result.outputs] == [(0, 0), (1, 0), (2, 0)]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_candidate_failing_to_run_is_reported_not_raised(sine_model, runtime):
    result = compare_models(sine_model, with_unknown_custom_op(sine_model), runtime=runtime)
    assert not result.bit_identical and result.max_abs_diff == math.inf
    assert result.original_error is None
    assert re.search("SerenityNoSuchOp|op code CUSTOM", result.candidate_error)


def test_candidate_with_other_input_shape_is_reported(sine_model):
    result = compare_models(sine_model, with_input_signature(sine_model, [1, 2]), runtime="litert")
    assert "input 0 is float32[1, 1] in the original" in result.candidate_error


def test_unreadable_candidate_is_reported(sine_model):
    result = compare_models(sine_model, b"not a model", runtime="litert")
    assert "cannot read the candidate" in result.candidate_error


def test_compare_models_rejects_an_unknown_runtime(sine_model):
    with pytest.raises(ValueError, match="runtime"):
        compare_models(sine_model, sine_model, runtime="xnnpack")


def test_compare_models_rejects_zero_trials(sine_model):
    with pytest.raises(ValueError, match="trials"):
        compare_models(sine_model, sine_model, runtime="litert", trials=0)


def test_assert_equivalent_returns_the_comparison_when_identical(sine_model):
    assert assert_equivalent(sine_model, sine_model, runtime="litert").bit_identical


def test_assert_equivalent_raises_for_a_perturbed_weight(sine_model):
    with pytest.raises(VerificationError, match="not bit-identical.*output 0"):
        assert_equivalent(sine_model, perturb_weight(sine_model), runtime="litert")


def test_assert_equivalent_accepts_a_difference_within_tolerance(sine_model):
    candidate = perturb_weight(sine_model)
    diff = compare_models(sine_model, candidate, runtime="litert").max_abs_diff
    assert not assert_equivalent(sine_model, candidate, runtime="litert", tolerance=diff).bit_identical


def test_assert_equivalent_raises_beyond_tolerance(sine_model):
    candidate = perturb_weight(sine_model)
    diff = compare_models(sine_model, candidate, runtime="litert").max_abs_diff
    with pytest.raises(VerificationError, match="beyond tolerance"):
        assert_equivalent(sine_model, candidate, runtime="litert", tolerance=diff / 2)


def test_assert_equivalent_raises_when_a_model_cannot_run(sine_model):
    with pytest.raises(VerificationError, match="cannot verify in litert: candidate"):
        assert_equivalent(
            sine_model, with_unknown_custom_op(sine_model), runtime="litert", tolerance=1e9
        )


def test_diff_outputs_counts_differing_elements():
    d = diff_outputs(np.array([1, 2, 3], np.int8), np.array([1, 5, 3], np.int8))
    assert (d.bit_identical, d.n_different, d.max_abs_diff) == (False, 1, 3.0)


def test_diff_outputs_relative_difference_uses_the_original_range():
    d = diff_outputs(np.array([0.0, 10.0], np.float32), np.array([0.0, 11.0], np.float32))
    assert d.max_rel_diff == pytest.approx(0.1)


def test_diff_outputs_negative_zero_is_not_bit_identical_but_numerically_equal():
    d = diff_outputs(np.array([0.0], np.float32), np.array([-0.0], np.float32))
    assert not d.bit_identical and d.max_abs_diff == 0.0


def test_diff_outputs_nan_with_same_bytes_is_bit_identical():
    nan = np.array([np.nan, 1.0], np.float32)
    assert diff_outputs(nan, nan.copy()).bit_identical


def test_diff_outputs_nan_against_a_number_is_infinitely_different():
    d = diff_outputs(np.array([np.nan], np.float32), np.array([1.0], np.float32))
    assert d.max_abs_diff == math.inf


def test_diff_outputs_other_dtype_is_not_comparable():
    d = diff_outputs(np.zeros(3, np.int8), np.zeros(3, np.uint8))
    assert not d.comparable and not d.bit_identical and d.max_abs_diff == math.inf


def test_diff_outputs_other_shape_is_not_comparable():
    d = diff_outputs(np.zeros((1, 3), np.int8), np.zeros((3, 1), np.int8))
    assert not d.comparable and "int8[1, 3]" in d.describe()


def test_diff_outputs_missing_output_is_named():
    assert "missing from the candidate" in diff_outputs(np.zeros(2), None).describe()
