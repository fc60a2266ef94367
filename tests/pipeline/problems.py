"""Random segmentation problems and exhaustive solvers for them (no model file
needed: these test the solvers, not the format)."""

from __future__ import annotations

import random
from itertools import combinations
from pathlib import Path

from tflite_serenity.edgetpu.problem import Flow, PipelineProblem, evaluate

DATA = Path(__file__).resolve().parent.parent / "data"


def random_problem(seed: int, max_ops: int = 12, min_ops: int = 2) -> PipelineProblem:
    """A random DAG of min_ops..max_ops operators with random compute, constants
    (some shared between operators), activation sizes, model inputs and
    outputs, and a cache small enough that some splits stream parameters."""
    rng = random.Random(seed)
    n = rng.randint(min_ops, max_ops)
    n_inputs = rng.randint(1, 2)
    # tensors: graph inputs first, then one output per operator
    producer = [-1] * n_inputs
    consumers: list[list[int]] = [[] for _ in range(n_inputs)]
    preds = []
    for v in range(n):
        available = list(range(len(producer)))
        pool = available[-5:] if rng.random() < 0.7 else available
        reads = sorted(set(rng.sample(pool, rng.randint(1, min(3, len(pool))))))
        for t in reads:
            consumers[t].append(v)
        preds.append(tuple(sorted({producer[t] for t in reads if producer[t] >= 0})))
        producer.append(v)
        consumers.append([])
    sinks = [t for t in range(n_inputs, len(producer)) if not consumers[t]]
    outputs = set(sinks) | {t for t in range(len(producer)) if rng.random() < 0.1}
    flows = tuple(
        Flow(t, rng.choice([0, 1, 4, 16, 64, 256]), producer[t], tuple(consumers[t]), t in outputs)
        for t in range(len(producer))
        if producer[t] < 0 or consumers[t] or t in outputs
    )
    n_params = rng.randint(0, n + 2)
    param_bytes = tuple(rng.choice([0, 10, 100, 1000, 3000]) for _ in range(n_params))
    op_params = tuple(
        tuple(sorted(rng.sample(range(n_params), rng.randint(0, min(2, n_params))))) for _ in range(n)
    )
    return PipelineProblem(
        preds=tuple(preds),
        compute_ps=tuple(rng.choice([1, 5, 20, 100, 400, 2000]) * 1000 for _ in range(n)),
        macs=tuple(rng.randint(0, 10**6) for _ in range(n)),
        op_params=op_params,
        param_bytes=param_bytes,
        flows=flows,
        cache_bytes=rng.choice([0, 500, 2000, 10**9]),
        stream_ps_per_byte=rng.choice([0, 50, 300]),
        link_ps_per_byte=rng.choice([0, 100, 2000]),
        segment_overhead_ps=rng.choice([0, 7000]),
    )


def all_splits(problem: PipelineProblem, k: int):
    """Every valid split into k non-empty stages (operators are numbered topologically)."""
    n = problem.num_operators
    stages = [0] * n

    def extend(v: int):
        if v == n:
            if len(set(stages)) == k:
                yield tuple(stages)
            return
        lowest = max((stages[u] for u in problem.preds[v]), default=0)
        for s in range(lowest, k):
            stages[v] = s
            yield from extend(v + 1)

    yield from extend(0)


def key(segments) -> tuple[int, int]:
    times = [s.time_ps for s in segments]
    return max(times), sum(times)


def brute_force(problem: PipelineProblem, k: int) -> tuple[int, int]:
    """The least (bottleneck, total) over every valid split."""
    return min(key(evaluate(problem, s, k)) for s in all_splits(problem, k))


def brute_force_contiguous(problem: PipelineProblem, k: int) -> tuple[int, int]:
    """The least (bottleneck, total) over every contiguous cut of the stored order."""
    n = problem.num_operators
    best = None
    for cuts in combinations(range(1, n), k - 1):
        bounds = (0, *cuts, n)
        stages = [s for s in range(k) for _ in range(bounds[s], bounds[s + 1])]
        candidate = key(evaluate(problem, stages, k))
        best = candidate if best is None else min(best, candidate)
    return best
