"""Tensor placement in one arena: TFLite Micro's greedy planner and ours.

Given tensor sizes and lifetimes under a fixed operator order, choose byte
offsets so that tensors alive at a common step never share bytes, and the
arena (largest offset plus size) is as small as possible.

>>> from tflite_serenity.arena import Block, plan
>>> plan([Block(1000, 0, 1), Block(500, 1, 2), Block(1000, 2, 3)]).arena_bytes
1520
"""

from tflite_serenity.arena.blocks import (
    DEFAULT_ALIGNMENT, Block, Placement, aligned, check_placement, live_bytes, lower_bound)
from tflite_serenity.arena.planner import plan
from tflite_serenity.arena.tflm import ONLINE, greedy_tflm

__all__ = [
    "DEFAULT_ALIGNMENT", "ONLINE", "Block", "Placement", "aligned", "check_placement",
    "greedy_tflm", "live_bytes", "lower_bound", "plan",
]
