"""The overlap rule against a direct simulation of the reference loop nests.

The simulation walks each kernel's loops as TFLite Micro's reference
kernels do (reads of one output element, then its write) over one byte
space holding input and output, and reports whether any read finds a byte
an earlier write overwrote. It shares nothing with the rule's closed form,
so agreeing on random shapes checks the algebra; the real kernels are run
in test_overlap_tflm.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from tflite_serenity.arena.overlap import (
    Shifts, Window, broadcast_last_reads, fully_connected_last_reads, same_padding, shift_bounds,
    windowed_last_reads)


def _windowed(kind, in_shape, out_shape, k, stride, dil, pads, multiplier=1):
    """(output index, input indices read) in the reference kernels' order."""
    batch, height, width, depth = in_shape
    _, oh, ow, oc = out_shape
    index = lambda b, y, x, c: ((b * height + y) * width + x) * depth + c  # noqa: E731
    for b in range(batch):
        for oy in range(oh):
            for ox in range(ow):
                taps = [(oy * stride - pads[0] + fy * dil, ox * stride - pads[1] + fx * dil)
                        for fy in range(k) for fx in range(k)]
                taps = [(y, x) for y, x in taps if 0 <= y < height and 0 <= x < width]
                for o in range(oc):
                    if kind == "conv":
                        reads = [index(b, y, x, c) for y, x in taps for c in range(depth)]
                    else:  # depthwise (o = c*M + m) and pooling (M = 1)
                        reads = [index(b, y, x, o // multiplier) for y, x in taps]
                    yield ((b * oh + oy) * ow + ox) * oc + o, reads


def _safe(steps, shift, in_size, out_size):
    """Whether writing output element j at bytes shift + j*out_size, after
    its reads, never spoils a later read of an input element."""
    spoiled = np.zeros(in_size * 4096, dtype=bool)
    for j, reads in steps():
        for i in reads:
            if spoiled[i * in_size:(i + 1) * in_size].any():
                return False
        lo, hi = shift + j * out_size, shift + (j + 1) * out_size
        spoiled[max(lo, 0):max(hi, 0)] = True
    return True


def _out_size(n, k, stride, dil, padding):
    span = (k - 1) * dil + 1
    return -(-n // stride) if padding == "SAME" else (n - span) // stride + 1


def _random_windowed(rng):
    kind = ["conv", "depthwise", "pool"][rng.integers(3)]
    k, stride = int(rng.integers(1, 4)), int(rng.integers(1, 3))
    dil = int(rng.integers(1, 3)) if stride == 1 else 1
    padding = ["SAME", "VALID"][rng.integers(2)]
    span = (k - 1) * dil + 1
    batch, h, w, c = int(rng.integers(1, 3)), int(rng.integers(span, 7)), int(rng.integers(span, 7)), \
        int(rng.integers(1, 4))
    m = int(rng.integers(1, 3)) if kind == "depthwise" else 1
    oc = int(rng.integers(1, 5)) if kind == "conv" else c * m
    oh, ow = _out_size(h, k, stride, dil, padding), _out_size(w, k, stride, dil, padding)
    pads = ((same_padding(h, oh, k, stride, dil), same_padding(w, ow, k, stride, dil))
            if padding == "SAME" else (0, 0))
    return kind, (batch, h, w, c), (batch, oh, ow, oc), k, stride, dil, pads, m


@pytest.mark.parametrize("seed", range(4))
def test_rule_shift_is_safe_and_one_byte_more_is_not_in_the_simulated_loop_nests(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        kind, x, y, k, stride, dil, pads, m = _random_windowed(rng)
        size = int(rng.choice([1, 4]))
        last_channel = (np.full(x[3], y[3] - 1) if kind == "conv"
                        else np.arange(x[3]) * m + m - 1)
        rows, cols = Window(k, stride, dil, pads[0]), Window(k, stride, dil, pads[1])
        shifts = shift_bounds(windowed_last_reads(x, y, rows, cols, last_channel), size, size, int(np.prod(y)))
        steps = lambda: _windowed(kind, x, y, k, stride, dil, pads, m)  # noqa: E731
        assert _safe(steps, shifts.below, size, size)
        assert _safe(steps, shifts.below - 1 - int(rng.integers(size * 8)), size, size)
        assert _safe(steps, shifts.above, size, size)
        if shifts.below + 1 < shifts.above:
            assert not _safe(steps, shifts.below + 1, size, size)
            assert not _safe(steps, shifts.above - 1, size, size)


def test_rule_shift_is_exact_for_broadcasting_elementwise_in_the_simulation():
    rng = np.random.default_rng(7)
    for _ in range(60):
        out = tuple(int(d) for d in rng.integers(1, 5, size=4))
        x = tuple(d if rng.random() < 0.6 else 1 for d in out)
        xi = np.arange(int(np.prod(x))).reshape(x)
        reads = np.broadcast_to(xi, out).reshape(-1)
        steps = lambda: ((j, [int(r)]) for j, r in enumerate(reads))  # noqa: E731
        shifts = shift_bounds(broadcast_last_reads(x, out), 1, 1, reads.size)
        assert _safe(steps, shifts.below, 1, 1)
        if shifts.below + 1 < shifts.above:
            assert not _safe(steps, shifts.below + 1, 1, 1)


def test_one_by_one_convolution_may_start_one_pixel_less_one_channel_below_its_input():
    x = (1, 4, 4, 8)
    last = windowed_last_reads(x, x, Window(1), Window(1), np.full(8, 7))
    assert shift_bounds(last, 1, 1, 128).below == -7


def test_three_by_three_same_convolution_needs_one_row_and_one_pixel_below_its_input():
    x = (1, 8, 8, 4)
    last = windowed_last_reads(x, x, Window(3, pad=1), Window(3, pad=1), np.full(4, 3))
    assert shift_bounds(last, 1, 1, 256).below == -(9 * 4 + 3)


def test_elementwise_same_shape_writes_in_place():
    assert shift_bounds(broadcast_last_reads((1, 3, 3, 2), (1, 3, 3, 2)), 4, 4, 18) == Shifts(0, 72, 72, 72)


def test_fully_connected_overlaps_by_at_most_its_last_element():
    shifts = shift_bounds(fully_connected_last_reads(12, 12, 5), 1, 1, 5)
    assert shifts.saved() == 1


def test_stride_two_pool_output_fits_inside_its_input():
    x, y = (1, 8, 8, 4), (1, 4, 4, 4)
    shifts = shift_bounds(windowed_last_reads(x, y, Window(2, 2), Window(2, 2), np.arange(4)), 1, 1, 64)
    assert shifts.below >= 0 and shifts.footprint(shifts.best_shift()) == 256


def test_best_shift_rounds_down_to_the_alignment():
    shifts = Shifts(below=-39, above=256, input_bytes=256, output_bytes=256)
    assert shifts.best_shift(16) == -48 and shifts.saved(16) == 256 - 48
