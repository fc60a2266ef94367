"""Hand-made and seeded lifetime sets shared by the arena tests."""

from __future__ import annotations

import json
from pathlib import Path

from tflite_serenity.arena import Block

# Largest-first leaves a hole (bound 112 B; TFLite Micro's greedy 144 B):
#   A 80 B at step 0, L 32 B at steps 0-2, B 48 B at steps 2-3, C 64 B at step 3.
# Largest first puts A at 0, C at 0 (not alive with A), then B on C at 64.
# The small, long-lived L comes last: it must clear A's top (80) and B's top
# (112), so it lands at 112 and the arena ends at 144. Placing L first at 0,
# A on it at 32, C at 0 and B at 64 fits in 112.
HOLE = (Block(80, 0, 0), Block(48, 2, 3), Block(64, 3, 3), Block(32, 0, 2))
HOLE_GREEDY_OFFSETS = (0, 64, 0, 112)

# The optimum (96 B) is above the lower bound (80 B): steps 1, 2, 4 and 5 are
# filled exactly to 80 B, and the arrangements they force on the long-lived
# 16 B tensors cannot all hold at once.
GAP = (Block(16, 0, 3), Block(64, 1, 1), Block(16, 2, 5), Block(16, 2, 4),
       Block(32, 2, 2), Block(16, 3, 5), Block(32, 4, 4), Block(48, 5, 5))
GAP_OPTIMUM = 96


def random_intervals(seed: int, count: int) -> list[Block]:
    """``count`` random lifetimes of similar sizes drawn from ``seed``, where the
    heuristics often miss the bound: the committed sets of
    ``tests/data/arena_intervals.json`` (``python -m scripts.models.make_arena_cases``)."""
    sets = json.loads((Path(__file__).resolve().parents[1] / "data" / "arena_intervals.json").read_text())
    return [Block(*block) for block in sets[f"{seed}_{count}"]]
