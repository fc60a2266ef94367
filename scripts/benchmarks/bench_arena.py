"""Benchmark arena placement on realistic random tensor lifetimes.

Generates CNN-like operator graphs (ResNet, MobileNetV2, DenseNet, Inception,
U-Net and random-wiring styles, with occasional scratch buffers), derives
tensor lifetimes in the stored operator order the way TFLite Micro does (plus
random intervals with no graph behind them, from ``make_arena_cases``), and
prints, per instance: the lower bound, TFLite Micro's greedy arena, our
``plan`` arena, both as ratios to the bound, and the planning time (wall
clock and CPU; they differ when the machine is shared).

Usage::

    python -m scripts.benchmarks.bench_arena [--seed 0] [--per-family 3] [--time-limit 2]
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Callable

from scripts.models.make_arena_cases import intervals
from tflite_serenity.arena import Block
from tflite_serenity.arena.planner import plan
from tflite_serenity.tflm.planner import greedy_tflm


class GraphBuilder:
    """Records operators as (input tensors, output sizes, scratch size)."""

    def __init__(self, rng: random.Random, dtype_bytes: int, scratch_p: float) -> None:
        self.rng = rng
        self.width = dtype_bytes
        self.scratch_p = scratch_p
        self.sizes: list[int] = []
        self.producer: list[int] = []
        self.last_use: list[int] = []
        self.scratch: list[Block] = []
        self.steps = 0

    def tensor(self, h: int, w: int, c: int, producer: int) -> int:
        self.sizes.append(h * w * c * self.width)
        self.producer.append(producer)
        self.last_use.append(producer)
        return len(self.sizes) - 1

    def input(self, h: int, w: int, c: int) -> int:
        return self.tensor(h, w, c, 0)

    def op(self, inputs: list[int], shape: tuple[int, int, int]) -> int:
        step = self.steps
        self.steps += 1
        for t in inputs:
            self.last_use[t] = max(self.last_use[t], step)
        if self.rng.random() < self.scratch_p:
            self.scratch.append(Block(self.rng.randint(1, 8) * 1024 + self.rng.randint(0, 15),
                                      step, step))
        return self.tensor(*shape, step)

    def blocks(self, outputs: list[int]) -> list[Block]:
        last = max(self.steps - 1, 0)
        for t in outputs:
            self.last_use[t] = last
        out = [Block(s, p, max(p, u)) for s, p, u in zip(self.sizes, self.producer, self.last_use)]
        return out + self.scratch


def resnet(rng: random.Random, target: int) -> list[Block]:
    g = GraphBuilder(rng, rng.choice([1, 4]), 0.1)
    h, c = rng.choice([32, 64, 96]), rng.choice([8, 16, 32])
    x = g.op([g.input(h, h, 3)], (h, h, c))
    while g.steps < target:
        if rng.random() < 0.2 and h > 4:
            h, c = h // 2, c * 2
            short = g.op([x], (h, h, c))
        else:
            short = x
        y = g.op([x], (h, h, c))
        y = g.op([y], (h, h, c))
        x = g.op([short, y], (h, h, c))
    return g.blocks([g.op([x], (1, 1, 10))])


def mobilenet(rng: random.Random, target: int) -> list[Block]:
    g = GraphBuilder(rng, rng.choice([1, 4]), 0.2)
    h, c = rng.choice([48, 96, 112]), rng.choice([8, 16])
    x = g.op([g.input(h * 2, h * 2, 3)], (h, h, c))
    while g.steps < target:
        stride = rng.random() < 0.15 and h > 4
        cout = c * 2 if stride else c
        e = g.op([x], (h, h, c * 6))
        if stride:
            h = h // 2
        d = g.op([e], (h, h, c * 6))
        p = g.op([d], (h, h, cout))
        x = p if stride else g.op([x, p], (h, h, cout))
        c = cout
    return g.blocks([g.op([x], (1, 1, 10))])


def densenet(rng: random.Random, target: int) -> list[Block]:
    """Pre-activation dense blocks: BN and ReLU stay separate operators."""
    g = GraphBuilder(rng, rng.choice([1, 4]), 0.05)
    h, c, k = rng.choice([28, 56]), 64, rng.choice([12, 24, 32])
    x = g.op([g.input(h * 4, h * 4, 3)], (h * 2, h * 2, c))
    x = g.op([x], (h, h, c))
    while g.steps < target:
        for _ in range(rng.randint(6, 16)):
            b = g.op([x], (h, h, c))          # batch norm
            b = g.op([b], (h, h, c))          # relu
            b = g.op([b], (h, h, 4 * k))      # conv 1x1
            b = g.op([b], (h, h, 4 * k))      # batch norm + relu
            f = g.op([b], (h, h, k))          # conv 3x3
            c += k
            x = g.op([x, f], (h, h, c))       # concatenate
        if h > 4:
            x = g.op([x], (h, h, c))
            c //= 2
            x = g.op([x], (h, h, c))
            h //= 2
            x = g.op([x], (h, h, c))
    return g.blocks([g.op([x], (1, 1, 10))])


def inception(rng: random.Random, target: int) -> list[Block]:
    g = GraphBuilder(rng, rng.choice([1, 4]), 0.1)
    h, c = rng.choice([35, 71]), 64
    x = g.op([g.input(h * 2, h * 2, 3)], (h, h, c))
    while g.steps < target:
        outs = []
        for _ in range(rng.randint(2, 4)):
            y = x
            for _ in range(rng.randint(1, 3)):
                y = g.op([y], (h, h, rng.choice([16, 32, 48, 64])))
            outs.append(y)
        if rng.random() < 0.2 and h > 4:
            h //= 2
        x = g.op(outs, (h, h, rng.choice([64, 128, 192])))
    return g.blocks([g.op([x], (1, 1, 10))])


def unet(rng: random.Random, target: int) -> list[Block]:
    g = GraphBuilder(rng, rng.choice([1, 4]), 0.1)
    h, c = rng.choice([64, 128]), 8
    x = g.op([g.input(h, h, 3)], (h, h, c))
    while g.steps < target:
        skips = []
        for _ in range(rng.randint(2, 4)):
            for _ in range(rng.randint(1, 3)):
                x = g.op([x], (h, h, c))
            skips.append((x, h, c))
            h, c = max(h // 2, 1), c * 2
            x = g.op([x], (h, h, c))
        for s, sh, sc in reversed(skips):
            x = g.op([x], (sh, sh, sc))
            h, c = sh, sc
            x = g.op([x, s], (h, h, c * 2))
            x = g.op([x], (h, h, c))
    return g.blocks([g.op([x], (h, h, 1))])


def randwire(rng: random.Random, target: int) -> list[Block]:
    g = GraphBuilder(rng, rng.choice([1, 4]), 0.1)
    h, c = rng.choice([28, 56]), rng.choice([16, 32, 64])
    nodes = [g.op([g.input(h, h, 3)], (h, h, c))]
    while g.steps < target:
        window = nodes[-rng.randint(2, 12):]
        inputs = sorted(set(rng.sample(window, min(len(window), rng.randint(1, 3)))))
        if rng.random() < 0.05 and h > 4:
            h //= 2
            nodes = nodes[-1:]
            inputs = nodes[:]
        nodes.append(g.op(inputs, (h, h, c * rng.choice([1, 1, 2]))))
    return g.blocks([nodes[-1]])


FAMILIES: dict[str, Callable[[random.Random, int], list[Block]]] = {
    "resnet": resnet, "mobilenet": mobilenet, "densenet": densenet,
    "inception": inception, "unet": unet, "randwire": randwire,
    "intervals": intervals,
}


def instances(seed: int, per_family: int) -> list[tuple[str, list[Block]]]:
    """Deterministic list of (name, blocks), sizes spread over 50-2000 blocks."""
    rng = random.Random(seed)
    out = []
    targets = [40, 150, 500, 1500]
    for name, make in FAMILIES.items():
        for k in range(per_family):
            target = targets[k % len(targets)]
            blocks = make(random.Random(rng.getrandbits(32)), target)
            out.append((f"{name}-{k}", blocks))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-family", type=int, default=4)
    parser.add_argument("--time-limit", type=float, default=2.0)
    args = parser.parse_args()

    print(f"{'instance':<14}{'blocks':>7}{'bound':>11}{'tflm':>11}{'plan':>11}"
          f"{'tflm/lb':>9}{'plan/lb':>9}{'wall s':>8}{'cpu s':>7}  method")
    at_bound = within_2pct = total = 0
    worst = 1.0
    for name, blocks in instances(args.seed, args.per_family):
        greedy = greedy_tflm(blocks)
        t0, c0 = time.perf_counter(), time.process_time()
        result = plan(blocks, time_limit=args.time_limit)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        lb = result.lower_bound
        ratio = result.arena_bytes / lb
        total += 1
        at_bound += result.arena_bytes == lb
        within_2pct += ratio <= 1.02
        worst = max(worst, ratio)
        print(f"{name:<14}{len(blocks):>7}{lb:>11}{greedy.arena_bytes:>11}{result.arena_bytes:>11}"
              f"{greedy.arena_bytes / lb:>9.4f}{ratio:>9.4f}{elapsed:>8.2f}{cpu:>7.2f}  {result.method}")
    print(f"\nat the bound: {at_bound}/{total}; within 2%: {within_2pct}/{total}; "
          f"worst plan/bound {worst:.4f}")


if __name__ == "__main__":
    main()
