"""Write the seeded random lifetime sets of the arena tests into tests/data/arena_intervals.json.

Random lifetimes of similar sizes, no graph behind them: where the placement
heuristics most often miss the lower bound, so the exact stage has work to do.
The arena benchmark draws one of its families from the same generator
(``intervals``); the tests read the committed sets, so a change to the
benchmark cannot move their instances.

    python -m scripts.models.make_arena_cases           # rewrite the file
    python -m scripts.models.make_arena_cases --check   # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import json
import random
import sys

from scripts import ROOT, write_generated
from tflite_serenity.arena import Block

OUT = ROOT / "tests" / "data" / "arena_intervals.json"
#: (seed, count) of every committed set; the tests name them the same way.
CASES = ((3, 60), (8, 150), (30, 300))


def intervals(rng: random.Random, count: int) -> list[Block]:
    """``count`` random lifetimes of similar sizes over about ``count / 3`` steps."""
    steps = max(count // 3, 4)
    blocks = []
    for _ in range(count):
        start = rng.randrange(steps)
        length = min(int(rng.expovariate(1 / 4)), steps - 1 - start)
        blocks.append(Block(rng.randint(1, 64) * 512 + rng.randint(0, 15), start, start + length))
    return blocks


def render() -> str:
    """The file: one line per set, ``"SEED_COUNT": [[size, start, end], ...]``."""
    lines = []
    for seed, count in CASES:
        blocks = [[b.size, b.start, b.end] for b in intervals(random.Random(seed), count)]
        lines.append(f' "{seed}_{count}": {json.dumps(blocks, separators=(",", ":"))}')
    return "{\n" + ",\n".join(lines) + "\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file differs, write nothing")
    return write_generated(OUT, render(), parser.parse_args(argv).check, "python -m scripts.models.make_arena_cases")


if __name__ == "__main__":
    sys.exit(main())
