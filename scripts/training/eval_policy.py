"""Evaluate the shipped learned policies against the exact solvers and the heuristics.

Parts (``--parts``, default all):

* ``pipeline``: every int8 zoo model (``scripts/models/zoo.py``; the Edge TPU runs
  int8 models only; ``--pipeline-variants int8,float`` adds the float ones)
  split into k = 2..4 Edge TPU segments (default device): the learned split (policy order + exact
  contiguous DP), the exact CP-SAT split (``--exact-time-limit``), the best
  contiguous cut of the stored order, of the greedy memory order, and the
  compiler's param-count rule; bottlenecks, gap to exact, solve seconds.
* ``pipeline-synthetic``: the same on held-out synthetic graphs (seeds never
  used in training), 20-60 operators and, for generalization, 100-200.
* ``memory``: every zoo model: peak of the learned order against the optimum
  (``schedule_graph``), the stored order and the greedy list schedule.
* ``memory-synthetic``: the same on held-out synthetic graphs.
* ``warm``: the exact memory scheduler (``schedule_graph``) without and with
  the learned order as a starting upper bound (``warm_start=``): same answer
  (checked), seconds and partial schedules expanded.

NumPy's BLAS is kept to one thread (a multi-threaded BLAS on a busy 2-core
machine makes small products 100x slower). In the zoo table a time is the
median of three runs (the exact split's only when its first run took under a
second), each learned run on a freshly built problem. Results go to
``--json`` and a Markdown summary to stdout.

Examples
--------
python -m scripts.training.eval_policy --json .benchmarks/learned.json
python -m scripts.training.eval_policy --parts pipeline --only darts,nasnetmobile
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from scripts import ROOT  # noqa: E402
from scripts.models import zoo  # noqa: E402
from tflite_serenity import memory  # noqa: E402
from tflite_serenity.graph import build_graph  # noqa: E402
from tflite_serenity.learned import learned_order, load_policy  # noqa: E402
from tflite_serenity.learned.infer import compiled_decoder  # noqa: E402
from tflite_serenity.learned.synthetic import random_dag  # noqa: E402
from tflite_serenity.model.io import read_model  # noqa: E402
from tflite_serenity.edgetpu import (  # noqa: E402
    EdgeTpu, build_problem, contiguous_split, exact_split, learned_split, param_count_split,
)
from tflite_serenity.schedule.baselines import greedy_order  # noqa: E402
from tflite_serenity.schedule.search import schedule_graph  # noqa: E402

PARTS = ("pipeline", "pipeline-synthetic", "memory", "memory-synthetic", "warm")
KS = (2, 3, 4)
#: Seeds of held-out synthetic graphs; training used 1000+seed and 2000+seed.
HELD_OUT_SEED = 5000


def zoo_graphs(folder: Path, only: set[str] | None, variants: set[str]) -> list[tuple[str, object]]:
    return [(m.stem, build_graph(read_model(m.path.read_bytes()), 0))
            for m in zoo.models(folder, only=only, variants=variants)]


def synthetic_graphs(count: int, low: int, high: int, seed: int) -> list[tuple[str, object]]:
    rng = np.random.default_rng(seed)
    return [(f"synthetic_{low}_{high}_{i}", random_dag(rng, low, high)) for i in range(count)]


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


#: Runs of a solve timed for the zoo table, of which the median is reported (the learned
#: split always; the exact one when its first run took under ``REPEAT_BELOW`` seconds).
RUNS = 3
REPEAT_BELOW = 1.0


def median_seconds(first: float, again, runs: int = RUNS) -> float:
    """The median of ``first`` and ``runs - 1`` more timings by ``again()``."""
    return statistics.median([first] + [again() for _ in range(runs - 1)])


def add_gaps(row: dict, keys, reference: str) -> None:
    """``row[key + "_gap"]``: how far each method's figure is above the reference's."""
    for key in keys:
        row[f"{key}_gap"] = row[key] / row[reference] - 1


def pipeline_rows(graphs, exact_limit: float, device: EdgeTpu, progress: bool) -> list[dict]:
    """One row per model and ``k``. Times are medians of ``RUNS`` (see there), each learned run
    on a freshly built problem so that what the policy builds per problem is counted every
    time; one split of a small graph first loads the policy and the compiled modules."""
    learned_split(build_problem(random_dag(np.random.default_rng(0), 30, 40), device), 2)
    rows = []
    for name, graph in graphs:
        problem = build_problem(graph, device)
        greedy = greedy_order(graph)
        for k in KS:
            if k > graph.num_operators:
                continue
            learned, t_learned = timed(learned_split, problem, k)
            t_learned = median_seconds(
                t_learned, lambda: timed(learned_split, build_problem(graph, device), k)[1])
            exact, t_exact = timed(exact_split, problem, k, time_limit=exact_limit)
            if t_exact < REPEAT_BELOW:
                t_exact = median_seconds(t_exact, lambda: timed(exact_split, problem, k, time_limit=exact_limit)[1])
            row = {
                "model": name, "ops": graph.num_operators, "k": k,
                "exact": exact.bottleneck_ps, "exact_status": exact.status, "exact_s": t_exact,
                "learned": learned.bottleneck_ps, "learned_s": t_learned,
                "stored": contiguous_split(problem, k).bottleneck_ps,
                "greedy": contiguous_split(problem, k, greedy).bottleneck_ps,
                "param_count": param_count_split(problem, k).bottleneck_ps,
            }
            add_gaps(row, ("learned", "stored", "greedy", "param_count"), "exact")
            row["speedup"] = t_exact / t_learned
            rows.append(row)
            if progress:
                print(f"  {name:<24} k={k} learned {row['learned_gap']:+7.2%} ({t_learned * 1e3:6.1f} ms)  "
                      f"stored {row['stored_gap']:+7.2%}  greedy {row['greedy_gap']:+7.2%}  "
                      f"exact {exact.status} {t_exact:6.2f} s  x{row['speedup']:.0f}", flush=True)
    return rows


def memory_rows(graphs, limit: float, progress: bool) -> list[dict]:
    rows = []
    for name, graph in graphs:
        order, t_learned = timed(learned_order, graph)
        best, t_exact = timed(schedule_graph, graph, time_limit=limit)
        row = {
            "model": name, "ops": graph.num_operators,
            "optimal": best.peak, "optimal_status": best.status, "optimal_s": t_exact,
            "learned": memory.peak_bytes(graph, order), "learned_s": t_learned,
            "stored": memory.peak_bytes(graph), "greedy": memory.peak_bytes(graph, greedy_order(graph)),
        }
        add_gaps(row, ("learned", "stored", "greedy"), "optimal")
        rows.append(row)
        if progress:
            print(f"  {name:<24} learned {row['learned_gap']:+7.2%} ({t_learned * 1e3:6.1f} ms)  "
                  f"greedy {row['greedy_gap']:+7.2%}  stored {row['stored_gap']:+7.2%}  "
                  f"optimal {best.status} {t_exact:.2f} s", flush=True)
    return rows


def warm_rows(graphs, limit: float, progress: bool) -> list[dict]:
    rows = []
    for name, graph in graphs:
        order, t_order = timed(learned_order, graph)
        cold = schedule_graph(graph, time_limit=limit)
        warm = schedule_graph(graph, time_limit=limit, warm_start=[order])
        row = {
            "model": name, "ops": graph.num_operators, "peak": cold.peak, "warm_peak": warm.peak,
            "same_answer": cold.peak == warm.peak and cold.optimal == warm.optimal,
            "cold_optimal": cold.optimal, "warm_optimal": warm.optimal,
            "cold_s": cold.seconds, "warm_s": warm.seconds, "order_s": t_order,
            "cold_states": cold.states, "warm_states": warm.states,
            "learned_peak": memory.peak_bytes(graph, order),
        }
        rows.append(row)
        if progress:
            print(f"  {name:<24} states {cold.states:>9,} -> {warm.states:>9,}  "
                  f"{cold.seconds:7.3f} s -> {warm.seconds:7.3f} s (+{t_order:.3f} s order)  "
                  f"same answer: {row['same_answer']}", flush=True)
    return rows


def pct(x: float) -> str:
    return f"{x:+.1%}" if abs(x) >= 5e-4 else "0.0%"


def pipeline_markdown(rows: list[dict]) -> str:
    lines = ["| model | ops | k | exact (ms) | status | learned gap | stored-order gap | greedy-order gap | "
             "param-count gap | exact s | learned s | speedup |",
             "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['ops']} | {r['k']} | {r['exact'] / 1e9:.3f} | {r['exact_status']} | "
                     f"{pct(r['learned_gap'])} | {pct(r['stored_gap'])} | {pct(r['greedy_gap'])} | "
                     f"{pct(r['param_count_gap'])} | {r['exact_s']:.2f} | {r['learned_s']:.3f} | "
                     f"{r['speedup']:.0f}x |")
    return "\n".join(lines)


def pipeline_summary(rows: list[dict], big: int = 300) -> str:
    lines = ["| k | cases | learned mean gap | learned max gap | stored-order mean gap | greedy-order mean gap | "
             "param-count mean gap |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for k in KS:
        rk = [r for r in rows if r["k"] == k]
        if not rk:
            continue
        mean = {key: statistics.mean(r[f"{key}_gap"] for r in rk) for key in ("learned", "stored", "greedy", "param_count")}
        lines.append(f"| {k} | {len(rk)} | {pct(mean['learned'])} | {pct(max(r['learned_gap'] for r in rk))} | "
                     f"{pct(mean['stored'])} | {pct(mean['greedy'])} | {pct(mean['param_count'])} |")
    large = [r for r in rows if r["ops"] > big]
    if large:
        total_exact = sum(r["exact_s"] for r in large)
        total_learned = sum(r["learned_s"] for r in large)
        speedups = [r["speedup"] for r in large]
        lines.append("")
        lines.append(f"Models of over {big} operators ({len(large)} cases): exact {total_exact:.1f} s in all, "
                     f"learned {total_learned:.2f} s in all ({total_exact / total_learned:.0f}x); per case "
                     f"speedup median {statistics.median(speedups):.0f}x, geometric mean "
                     f"{statistics.geometric_mean(speedups):.0f}x, min {min(speedups):.1f}x, "
                     f"max {max(speedups):.0f}x; {sum(s >= 20 for s in speedups)} of {len(large)} at least 20x.")
    return "\n".join(lines)


def memory_markdown(rows: list[dict]) -> str:
    lines = ["| model | ops | optimal (B) | status | learned gap | greedy gap | stored gap | optimal s | learned s |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['ops']} | {r['optimal']:,} | {r['optimal_status']} | {pct(r['learned_gap'])} | "
                     f"{pct(r['greedy_gap'])} | {pct(r['stored_gap'])} | {r['optimal_s']:.2f} | {r['learned_s']:.3f} |")
    return "\n".join(lines)


def gap_summary(rows: list[dict], keys) -> str:
    parts = []
    for key in keys:
        gaps = [r[f"{key}_gap"] for r in rows]
        exact = sum(g <= 1e-12 for g in gaps)
        parts.append(f"{key}: mean {pct(statistics.mean(gaps))}, max {pct(max(gaps))}, "
                     f"equal to the optimum on {exact}/{len(gaps)}")
    return "; ".join(parts)


def warm_markdown(rows: list[dict]) -> str:
    lines = ["| graph | ops | peak cold (B) | peak warm (B) | learned order (B) | states cold | states warm | "
             "DP s cold | DP s warm | learned order s | same answer |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['ops']} | {r['peak']:,} | {r['warm_peak']:,} | {r['learned_peak']:,} | "
                     f"{r['cold_states']:,} | {r['warm_states']:,} | "
                     f"{r['cold_s']:.3f} | {r['warm_s']:.3f} | {r['order_s']:.3f} | "
                     f"{'yes' if r['same_answer'] else 'NO'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    zoo.add_argument(parser)
    parser.add_argument("--only", metavar="NAME[,NAME]", help="only these zoo models")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {', '.join(PARTS)}")
    parser.add_argument("--exact-time-limit", type=float, default=60.0, help="CP-SAT seconds per split (default 60)")
    parser.add_argument("--dp-time-limit", type=float, default=60.0, help="memory DP seconds per graph (default 60)")
    parser.add_argument("--synthetic", type=int, default=100, help="held-out graphs of 20-60 operators (default 100)")
    parser.add_argument("--synthetic-large", type=int, default=10, help="held-out graphs of 100-200 operators (default 10)")
    parser.add_argument("--pipeline-variants", default="int8", help="zoo variants for the pipeline part (default int8)")
    parser.add_argument("--json", type=Path, help="write all rows here")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    unknown = parts - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}")
    only = zoo.names(args.only)
    progress = not args.quiet
    for objective in ("pipeline", "memory"):
        load_policy(objective)  # load once, outside the timings
    compiled_decoder()  # likewise the import of the compiled decoder

    results: dict[str, object] = {}
    zoo_memory = zoo_graphs(args.zoo, only, {"int8", "float"}) if parts & {"memory", "warm"} else []
    zoo_pipeline = zoo_graphs(args.zoo, only, set(args.pipeline_variants.split(","))) if "pipeline" in parts else []
    small = synthetic_graphs(args.synthetic, 20, 60, HELD_OUT_SEED)
    large = synthetic_graphs(args.synthetic_large, 100, 200, HELD_OUT_SEED + 1)
    device = EdgeTpu()
    if "pipeline" in parts:
        print("pipeline, zoo models", flush=True)
        results["pipeline"] = pipeline_rows(zoo_pipeline, args.exact_time_limit, device, progress)
    if "pipeline-synthetic" in parts:
        print("pipeline, held-out synthetic graphs", flush=True)
        results["pipeline_synthetic"] = pipeline_rows(small, min(args.exact_time_limit, 20.0), device, False)
        results["pipeline_synthetic_large"] = pipeline_rows(large, min(args.exact_time_limit, 30.0), device, False)
    if "memory" in parts:
        print("memory, zoo models", flush=True)
        results["memory"] = memory_rows(zoo_memory, args.dp_time_limit, progress)
    if "memory-synthetic" in parts:
        print("memory, held-out synthetic graphs", flush=True)
        results["memory_synthetic"] = memory_rows(small, args.dp_time_limit, False)
        results["memory_synthetic_large"] = memory_rows(large, args.dp_time_limit, False)
    if "warm" in parts:
        print("warm start, zoo models and large synthetic graphs", flush=True)
        results["warm"] = warm_rows(zoo_memory + large, args.dp_time_limit, progress)

    print()
    if "pipeline" in results:
        print("### Pipeline, zoo models\n")
        print(pipeline_markdown(results["pipeline"]))
        print()
        print(pipeline_summary(results["pipeline"]))
        print()
    for key, title in (("pipeline_synthetic", "20-60"), ("pipeline_synthetic_large", "100-200")):
        if key in results:
            print(f"### Pipeline, held-out synthetic graphs of {title} operators\n")
            print(pipeline_summary(results[key], big=10**9))
            rows = results[key]
            print(f"\nsolve seconds: exact mean {statistics.mean(r['exact_s'] for r in rows):.3f}, "
                  f"learned mean {statistics.mean(r['learned_s'] for r in rows):.4f}\n")
    if "memory" in results:
        print("### Memory, zoo models\n")
        print(memory_markdown(results["memory"]))
        print("\n" + gap_summary(results["memory"], ("learned", "greedy", "stored")) + "\n")
    for key, title in (("memory_synthetic", "20-60"), ("memory_synthetic_large", "100-200")):
        if key in results:
            print(f"### Memory, held-out synthetic graphs of {title} operators\n")
            print(gap_summary(results[key], ("learned", "greedy", "stored")) + "\n")
    if "warm" in results:
        rows = results["warm"]
        print("### Warm start of the exact memory scheduler\n")
        print(warm_markdown(rows))
        worked = [r for r in rows if r["cold_states"] > 0]
        print(f"\nsame answer on {sum(r['same_answer'] for r in rows)}/{len(rows)} graphs; "
              f"states {sum(r['cold_states'] for r in rows):,} -> {sum(r['warm_states'] for r in rows):,} in all; "
              f"DP seconds {sum(r['cold_s'] for r in rows):.2f} -> {sum(r['warm_s'] for r in rows):.2f} in all "
              f"(+{sum(r['order_s'] for r in rows):.2f} s computing learned orders); "
              f"{len(worked)} graphs needed any search\n")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    print(f"commit {commit}, {platform.machine()}, python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
