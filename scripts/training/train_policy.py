"""Train the learned scheduler's policy with REINFORCE and a greedy-rollout baseline.

For ``--objective pipeline`` the cost of an order is the bottleneck of its
best contiguous split into ``k`` segments (``k`` drawn from 2..4 per graph)
over that of the stored order (so costs are near 1 and comparable across
graphs); for ``--objective memory`` it is the order's peak
of live activation bytes over the graph's lower bound. Graphs are drawn from
:func:`tflite_serenity.learned.synthetic.random_dag` (20-60 operators); for
the pipeline each graph also gets an Edge TPU with a random link and cache.

The baseline (Kool et al., ICLR 2019): during the first epoch an exponential
moving average of the cost; afterwards the greedy decoding of a frozen copy
of the policy, replaced by the current policy at the end of an epoch when
that is better on the validation graphs by a one-sided paired t-test
(p < 0.05). The weights kept are those of the last baseline (the best policy
proven so far). Writes ``{objective}.npz`` (float32 weights), ``{objective}.json``
(network shape and the training configuration and results) and
``{objective}_curve.csv`` (one row per epoch) into ``--out``.

Runs on one CPU thread; seeds are fixed, so a run of a given number of batches
(``--max-batches``) repeats exactly on the same machine and library versions;
a time-budgeted run stops wherever the budget ends. Needs
``pip install -e ".[train]"``.

Examples
--------
nice -n 10 python -m scripts.training.train_policy --objective pipeline --minutes 45
nice -n 10 python -m scripts.training.train_policy --objective memory --minutes 45
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from scripts import ROOT
from tflite_serenity import memory
from tflite_serenity.learned.costs import BottleneckCost, PeakCost
from tflite_serenity.learned.network import PolicyNet, collate
from tflite_serenity.learned.problem import (
    CANDIDATE_FEATURES, CONTEXT_FEATURES, NODE_FEATURES, memory_instance, pipeline_instance,
)
from tflite_serenity.learned.synthetic import random_dag
from tflite_serenity.edgetpu import build_problem
from tflite_serenity.edgetpu.device import LINKS, MIB, EdgeTpu
from tflite_serenity.schedule.baselines import greedy_order

CURVE_FIELDS = ["epoch", "minutes", "batches", "lr", "train_cost", "baseline_cost", "val_cost", "val_baseline_cost",
                "val_vs_stored", "val_vs_greedy", "baseline_updated", "p_value", "grad_norm"]


def random_device(rng: np.random.Generator) -> EdgeTpu:
    """An Edge TPU with a random link (usb3 70%, pcie 20%, usb2 10%), cache (8 MiB
    half the time, else log-uniform in 0.5..8 MiB) and fixed time per operator
    (log-uniform in 10..160 us: a synthetic operator also stands for a few real
    ones, so segments of a 40-operator graph weigh like those of a 300-operator
    network against the bytes crossing between them)."""
    link = ("usb3", "pcie", "usb2")[int(rng.choice(3, p=[0.7, 0.2, 0.1]))]
    cache = 8.0 if rng.random() < 0.5 else float(np.exp(rng.uniform(np.log(0.5), np.log(8.0))))
    op_overhead = float(np.exp(rng.uniform(np.log(10e-6), np.log(160e-6))))
    return EdgeTpu(cache_bytes=int(cache * MIB), link_bytes_per_s=LINKS[link], host_bytes_per_s=LINKS[link],
                   op_overhead_s=op_overhead)


class Episode:
    """One graph with everything training needs for it, built once."""

    def __init__(self, graph, objective: str, rng: np.random.Generator):
        self.graph = graph
        self.objective = objective
        if objective == "pipeline":
            self.problem = build_problem(graph, random_device(rng))
            self.cost = BottleneckCost(self.problem)
        else:
            self.cost = PeakCost(graph)
            self.bound = max(memory.lower_bound(graph), 1)
            self.instance_ = memory_instance(graph)
        self._instances: dict[int, object] = {}
        self._references: dict[int, float] = {}

    def instance(self, k: int):
        if self.objective == "memory":
            return self.instance_
        if k not in self._instances:
            self._instances[k] = pipeline_instance(self.problem, k)
        return self._instances[k]

    def reference(self, k: int) -> float:
        """What costs are divided by: the lower bound on the peak (memory), the
        bottleneck of the best contiguous split of the stored order (pipeline)."""
        if self.objective == "memory":
            return float(self.bound)
        if k not in self._references:
            stored = np.arange(self.graph.num_operators)[None, :]
            self._references[k] = float(self.cost(stored, k)[0])
        return self._references[k]

    def costs(self, orders: np.ndarray, k: int) -> np.ndarray:
        """Normalized cost of each order (rows of ``orders``)."""
        raw = self.cost(orders, k) if self.objective == "pipeline" else self.cost(orders)
        return raw.astype(np.float64) / self.reference(k)


def make_episodes(objective: str, count: int, seed: int) -> list[Episode]:
    rng = np.random.default_rng(seed)
    return [Episode(random_dag(rng, 20, 60), objective, rng) for _ in range(count)]


def decode_costs(net: PolicyNet, episodes, ks, mode: str, generator=None):
    """Decode a batch; returns (costs as a NumPy array, log-likelihood tensor)."""
    batch = collate([e.instance(k) for e, k in zip(episodes, ks)])
    orders, loglik = net(batch, mode=mode, generator=generator)
    orders = orders.numpy()
    costs = np.array([e.costs(orders[j:j + 1, :e.graph.num_operators], k)[0]
                      for j, (e, k) in enumerate(zip(episodes, ks))])
    return costs, loglik


def evaluate(net: PolicyNet, episodes, ks, batch_size: int) -> np.ndarray:
    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(episodes), batch_size):
            costs, _ = decode_costs(net, episodes[i:i + batch_size], ks[i:i + batch_size], "greedy")
            out.append(costs)
    net.train()
    return np.concatenate(out)


def one_sided_p(better: np.ndarray, worse: np.ndarray) -> float:
    """p-value that mean(better) < mean(worse) by chance (paired t-test, normal approximation)."""
    diff = better - worse
    sd = diff.std(ddof=1)
    if sd == 0:
        return 0.0 if diff.mean() < 0 else 1.0
    t = diff.mean() / (sd / math.sqrt(len(diff)))
    return 0.5 * math.erfc(-t / math.sqrt(2))


def heuristic_costs(episodes, ks) -> tuple[np.ndarray, np.ndarray]:
    """Per validation graph, the normalized cost of the stored order and of the greedy memory order."""
    stored, greedy = [], []
    for e, k in zip(episodes, ks):
        n = e.graph.num_operators
        orders = np.array([np.arange(n), greedy_order(e.graph)])
        a, b = e.costs(orders, k)
        stored.append(a)
        greedy.append(b)
    return np.array(stored), np.array(greedy)


def git_commit() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objective", choices=("pipeline", "memory"), required=True)
    parser.add_argument("--minutes", type=float, default=45.0, help="wall-clock budget for training (default 45)")
    parser.add_argument("--max-batches", type=int, default=None,
                        help="stop after this many batches (with a large --minutes: a run that repeats exactly)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--epoch-batches", type=int, default=40, help="batches per epoch (default 40)")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--lr-decay", type=float, default=0.98, help="per epoch (default 0.98)")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--clip", type=float, default=10.0, help="logit clipping C in C*tanh (default 10)")
    parser.add_argument("--pool", type=int, default=10000, help="training graphs generated up front")
    parser.add_argument("--val", type=int, default=256, help="validation graphs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "tflite_serenity" / "learned" / "weights")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    start = time.monotonic()

    pool = make_episodes(args.objective, args.pool, seed=1000 + args.seed)
    val = make_episodes(args.objective, args.val, seed=2000 + args.seed)
    draw_k = (lambda r: int(r.integers(2, 5))) if args.objective == "pipeline" else (lambda r: 1)
    val_ks = [draw_k(rng) for _ in val]
    val_stored, val_greedy = heuristic_costs(val, val_ks)
    print(f"{len(pool)} training and {len(val)} validation graphs in {time.monotonic() - start:.0f} s; "
          f"validation cost: stored order {val_stored.mean():.4f}, greedy memory order {val_greedy.mean():.4f}",
          flush=True)

    net = PolicyNet(args.hidden, args.layers, args.clip)
    baseline_net = copy.deepcopy(net)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=args.lr_decay)
    val_baseline = evaluate(baseline_net, val, val_ks, args.batch)
    ema = None
    args.out.mkdir(parents=True, exist_ok=True)
    curve_path = args.out / f"{args.objective}_curve.csv"
    rows = []
    deadline = start + args.minutes * 60
    epoch = batches = 0
    def more() -> bool:
        return time.monotonic() < deadline and (args.max_batches is None or batches < args.max_batches)

    while more():
        train_costs, base_costs, norms = [], [], []
        for _ in range(args.epoch_batches):
            if not more():
                break
            picks = rng.integers(len(pool), size=args.batch)
            episodes = [pool[i] for i in picks]
            ks = [draw_k(rng) for _ in episodes]
            costs, loglik = decode_costs(net, episodes, ks, "sample", generator)
            if epoch == 0:
                ema = costs.mean() if ema is None else 0.8 * ema + 0.2 * costs.mean()
                base = np.full_like(costs, ema)
            else:
                with torch.no_grad():
                    base, _ = decode_costs(baseline_net, episodes, ks, "greedy")
            advantage = torch.from_numpy((costs - base).astype(np.float32))
            loss = (advantage * loglik).mean()
            optimizer.zero_grad()
            loss.backward()
            norms.append(float(torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)))
            optimizer.step()
            train_costs.append(costs.mean())
            base_costs.append(base.mean())
            batches += 1
        val_cost = evaluate(net, val, val_ks, args.batch)
        p = one_sided_p(val_cost, val_baseline)
        updated = epoch == 0 or (val_cost.mean() < val_baseline.mean() and p < 0.05)
        if updated:
            baseline_net = copy.deepcopy(net)
            val_baseline = val_cost
        row = {
            "epoch": epoch, "minutes": round((time.monotonic() - start) / 60, 2), "batches": batches,
            "lr": scheduler.get_last_lr()[0], "train_cost": round(float(np.mean(train_costs)), 5),
            "baseline_cost": round(float(np.mean(base_costs)), 5), "val_cost": round(float(val_cost.mean()), 5),
            "val_baseline_cost": round(float(val_baseline.mean()), 5),
            "val_vs_stored": round(float(np.mean(val_baseline / val_stored)), 5),
            "val_vs_greedy": round(float(np.mean(val_baseline / val_greedy)), 5),
            "baseline_updated": int(updated), "p_value": round(p, 4), "grad_norm": round(float(np.mean(norms)), 4),
        }
        rows.append(row)
        print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
        with curve_path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CURVE_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        save(baseline_net, args, rows, start)
        scheduler.step()
        epoch += 1
    print(f"done: {epoch} epochs, {batches} batches, {(time.monotonic() - start) / 60:.1f} min; "
          f"kept policy: validation cost {val_baseline.mean():.4f}, "
          f"vs stored order {np.mean(val_baseline / val_stored):.4f}, vs greedy {np.mean(val_baseline / val_greedy):.4f}")
    return 0


def save(net: PolicyNet, args, rows: list[dict], start: float) -> None:
    """Write the weights and the JSON config beside them."""
    np.savez_compressed(args.out / f"{args.objective}.npz", **net.arrays())
    last_kept = [r for r in rows if r["baseline_updated"]][-1]
    config = {
        "objective": args.objective,
        "hidden": args.hidden, "layers": args.layers, "clip": args.clip,
        "features": {"node": NODE_FEATURES, "context": CONTEXT_FEATURES, "candidate": CANDIDATE_FEATURES},
        "training": {
            "algorithm": "REINFORCE, greedy-rollout baseline (exponential average in epoch 0), Adam",
            "graphs": "tflite_serenity.learned.synthetic.random_dag(rng, 20, 60)",
            "k": "2..4 uniform" if args.objective == "pipeline" else None,
            "batch": args.batch, "epoch_batches": args.epoch_batches, "lr": args.lr, "lr_decay": args.lr_decay,
            "pool": args.pool, "val": args.val, "seed": args.seed, "minutes_budget": args.minutes,
            "max_batches": getattr(args, "max_batches", None),
            "epochs": len(rows), "batches": rows[-1]["batches"],
            "minutes": round((time.monotonic() - start) / 60, 1),
            "kept_epoch": last_kept["epoch"], "val_cost": last_kept["val_cost"],
            "val_vs_stored": last_kept["val_vs_stored"], "val_vs_greedy": last_kept["val_vs_greedy"],
            "torch": torch.__version__, "python": platform.python_version(), "commit": git_commit(),
        },
    }
    (args.out / f"{args.objective}.json").write_text(json.dumps(config, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
