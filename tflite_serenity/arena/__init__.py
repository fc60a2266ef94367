"""Tensor placement in one arena: our planner (TFLite Micro's own is simulated in :mod:`tflite_serenity.tflm.planner`).

Given tensor sizes and lifetimes under a fixed operator order, choose byte
offsets so that tensors alive at a common step never share bytes, and the
arena (largest offset plus size) is as small as possible. This package's
top level holds the plain data (:mod:`.blocks`); :mod:`.planner` places
blocks (starting from TFLite Micro's own plan, so never worse), and
:mod:`.model_plan` plans a whole model and writes the offline plan.

>>> from tflite_serenity.arena import Block
>>> from tflite_serenity.arena.planner import plan
>>> plan([Block(1000, 0, 1), Block(500, 1, 2), Block(1000, 2, 3)]).arena_bytes
1520
"""

from tflite_serenity.arena.blocks import (
    DEFAULT_ALIGNMENT, Block, Placement, aligned, check_placement, live_bytes, lower_bound)

__all__ = ["DEFAULT_ALIGNMENT", "Block", "Placement", "aligned", "check_placement", "live_bytes", "lower_bound"]
