"""The arena size for a 32-bit Cortex-M: TFLite Micro's allocations replayed."""

import dataclasses

import pytest

from tflite_serenity.errors import SerenityError
from tflite_serenity.tflm import TflmArenaSize, estimate_tflm_arena, target_arena
from tflite_serenity.tflm.target_arena import TAIL_MARGIN
from tests.models import load

MODELS = ["small_cnn_int8.tflite", "irregular_float.tflite", "if_int8.tflite", "transformer_tiny_int8.tflite"]


@pytest.mark.parametrize("name", MODELS)
def test_cortex_m_arena_is_the_replayed_need_plus_the_margin(name):
    model = load(name)
    host = estimate_tflm_arena(model)
    t = target_arena(host, model, "cortex-m4")
    assert t.tail > 0 and t.tail_saved == host.tail - t.tail and t.needed % 16 == 0
    assert t.margin == max(16, -(-TAIL_MARGIN * t.tail // 16) * 16)
    assert t.arena_size == t.needed + t.margin


@pytest.mark.parametrize("name", MODELS)
def test_cortex_m_need_is_head_and_tail_or_preparing_whichever_is_more(name):
    model = load(name)
    t = target_arena(estimate_tflm_arena(model), model, "cortex-m")
    assert t.needed == -(-max(t.head + t.tail, t.preparing) // 16) * 16 and t.preparing > t.tail
    assert t.arena_size >= t.head + t.tail + t.margin


@pytest.mark.parametrize("name", MODELS)
def test_cortex_m_is_the_larger_need_of_the_m4_and_the_m55(name):
    model = load(name)
    host = estimate_tflm_arena(model)
    both, m4, m55 = (target_arena(host, model, t) for t in ("cortex-m", "cortex-m4", "cortex-m55"))
    assert both.needed == max(m4.needed, m55.needed)
    assert both.arena_size >= max(m4.arena_size, m55.arena_size) - 16  # margins differ by the kernel sums' tail


def test_the_m55_head_counts_the_mve_depthwise_scratch():
    # small_cnn_int8's 3x3 depthwise convolution: CMSIS-NN's MVE kernel asks
    # 4 * 124 * 3 * 3 = 4,464 B; its DSP kernel nothing; the device measured 8,560 and 8,192 B
    model = load("small_cnn_int8.tflite")
    host = estimate_tflm_arena(model)
    assert (target_arena(host, model, "cortex-m55").head, target_arena(host, model, "cortex-m4").head) == (8560, 8192)
    assert target_arena(host, model, "cortex-m").kernels == "cmsis-nn-mve"


def test_the_m55_tail_counts_the_kernel_sums_of_a_dense_layer():
    # small_cnn_int8's last FULLY_CONNECTED has 10 outputs: 40 B of int32 kernel sums, 48 aligned
    model = load("small_cnn_int8.tflite")
    host = estimate_tflm_arena(model)
    assert target_arena(host, model, "cortex-m55").tail - target_arena(host, model, "cortex-m4").tail == 48


def test_cortex_m_figure_does_not_depend_on_the_host_figures():
    # a host figure with almost no tail (not a real measurement): the replay does not read it
    model = load("small_cnn_int8.tflite")
    host = estimate_tflm_arena(model)
    off = dataclasses.replace(host, needed=8200, tail=8, lower_bound=8200, head=8192)
    assert target_arena(off, model, "cortex-m4").arena_size == target_arena(host, model, "cortex-m4").arena_size


def test_host_target_is_the_host_figure_unchanged():
    model = load("small_cnn_int8.tflite")
    host = estimate_tflm_arena(model)
    t = target_arena(host, model, "host")
    assert (t.arena_size, t.needed, t.head, t.tail, t.margin, t.tail_saved) == (
        host.arena_size, host.needed, host.head, host.tail, host.margin, 0)


def test_an_unknown_target_is_refused():
    model = load("small_cnn_int8.tflite")
    with pytest.raises(SerenityError, match="unknown --target 'esp32'"):
        target_arena(estimate_tflm_arena(model), model, "esp32")


def test_method_says_the_cortex_m_figure_is_replayed_and_estimated():
    model = load("small_cnn_int8.tflite")
    size = TflmArenaSize(arena_size=10896, needed=10880, lower_bound=10880, head=8192, tail=2688, margin=16,
                         measured=True, invoked=True, method="bisection", tflm_version="0.dev1")
    t = target_arena(size, model, "cortex-m")
    assert "replayed" in t.method and "cmsis-nn-mve" in t.method and "estimated" in t.method
