"""The child's bisection for the smallest arena, on a fake interpreter with known needs."""

from __future__ import annotations

import os
import signal

import pytest

from tflite_serenity.tflm import _child as child


class FakeRuntime:
    """An interpreter that allocates from ``alloc`` bytes and invokes from ``run`` bytes."""

    def __init__(self, alloc: int, run: int | None = None):
        outer = self
        self.alloc, self.run = alloc, run if run is not None else alloc

        class Interpreter:
            def __init__(self, size):
                self.size = size

            @staticmethod
            def from_bytes(model, arena_size):
                if arena_size < outer.alloc:
                    raise RuntimeError("Failed to allocate")
                return Interpreter(arena_size)

            def set_input(self, x, i):
                pass

            def invoke(self):
                if self.size < outer.run:
                    raise RuntimeError("kernel failed")

        self.Interpreter = Interpreter


@pytest.mark.parametrize("need, total", [
    (15088, 10336),  # prepare-time temporaries: far above the reported total
    (168920, 168928),  # a few bytes below the total
    (5000, 9000),  # well below the total: searched down to the floor
    (4096, 4096),  # exactly the total
])
def test_bisection_finds_the_smallest_arena_that_allocates(need, total):
    found = child._search(FakeRuntime(need), b"", None, 16 << 20, total, tail=2000)
    assert found["smallest"] == need and not found["invoked"]


def test_invoking_may_need_more_than_allocating():
    found = child._search(FakeRuntime(alloc=3000, run=3500), b"", [0], 16 << 20, 3000, tail=1000)
    assert found["smallest"] == 3500 and found["invoked"]


def test_a_probe_that_crashes_counts_as_too_small():
    class Crashing(FakeRuntime):
        def __init__(self):
            super().__init__(alloc=2000)
            base = self.Interpreter.from_bytes

            def from_bytes(model, arena_size):
                if arena_size < 2000:  # dies of a signal, like TFLite Micro's LSTM kernel on a too small arena
                    os.kill(os.getpid(), signal.SIGKILL)
                return base(model, arena_size)

            self.Interpreter.from_bytes = staticmethod(from_bytes)

    assert child._search(Crashing(), b"", None, 16 << 20, 1800, tail=1200)["smallest"] == 2000
