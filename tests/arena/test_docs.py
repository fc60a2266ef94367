"""The examples in the arena docstrings run and print what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["tflite_serenity.arena", "tflite_serenity.arena.blocks", "tflite_serenity.tflm.planner",
           "tflite_serenity.arena.heuristics", "tflite_serenity.arena.cpsat",
           "tflite_serenity.arena.planner", "tflite_serenity.tflm.buffers", "tflite_serenity.tflm.offline",
           "tflite_serenity.tflm.kernels"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
