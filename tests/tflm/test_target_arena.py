"""The arena size for a 32-bit Cortex-M from the host's figure."""

import dataclasses

import pytest

from tflite_serenity.tflm import tail
from tflite_serenity.errors import SerenityError
from tflite_serenity.graph import build_graphs
from tflite_serenity.tflm import TflmArenaSize, estimate_tflm_arena, target_arena
from tflite_serenity.tflm.target_arena import TAIL_MARGIN
from tflite_serenity.model import read_model
from tests.models import load

MODELS = ["small_cnn_int8.tflite", "irregular_float.tflite", "if_int8.tflite", "transformer_tiny_int8.tflite"]


def saved_by_4_byte_pointers(model: bytes) -> int:
    counts = tail.model_persistent_counts(build_graphs(read_model(model)))
    return tail.TFLM_64BIT.bytes(counts) - tail.TFLM_32BIT.bytes(counts)


@pytest.mark.parametrize("name", MODELS)
def test_cortex_m_figure_is_the_host_need_less_the_32_bit_saving_plus_the_margin(name):
    model = load(name)
    host = estimate_tflm_arena(model)
    t = target_arena(host, model, "cortex-m")
    saved = saved_by_4_byte_pointers(model)
    assert saved > 0 and t.tail_saved == saved and t.tail == host.tail - saved
    assert t.needed == host.needed - saved
    assert t.margin >= TAIL_MARGIN * t.tail + 16 and t.margin % 16 == 0
    assert t.arena_size >= t.needed + t.margin and t.arena_size % 16 == 0
    assert t.arena_size < host.arena_size + t.margin  # smaller pointers: below the host's need plus the margin


@pytest.mark.parametrize("name", MODELS)
def test_cortex_m_figure_is_never_below_the_head_and_its_32_bit_tail(name):
    model = load(name)
    t = target_arena(estimate_tflm_arena(model), model, "cortex-m")
    assert t.arena_size >= t.head + t.tail + t.margin


def test_cortex_m_figure_stays_above_the_head_when_the_host_figures_are_off():
    # a host figure whose tail is smaller than what 32 bits would save (not a real measurement)
    model = load("small_cnn_int8.tflite")
    host = dataclasses.replace(estimate_tflm_arena(model), needed=8200, tail=8, lower_bound=8200, head=8192)
    t = target_arena(host, model, "cortex-m")
    assert t.tail == 0 and t.needed == 8192 and t.arena_size >= 8192 + t.margin


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


def test_method_says_the_cortex_m_figure_is_estimated_from_the_host():
    model = load("small_cnn_int8.tflite")
    size = TflmArenaSize(arena_size=10896, needed=10880, lower_bound=10880, head=8192, tail=2688, margin=16,
                         measured=True, invoked=True, method="bisection", tflm_version="0.dev1")
    t = target_arena(size, model, "cortex-m")
    assert "host's need (measured)" in t.method and "estimated" in t.method
