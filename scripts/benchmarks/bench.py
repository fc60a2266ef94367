"""Benchmark every stage on the model zoo against the baselines, in one run.

For every model of the zoo (``scripts/models/make_zoo.py``; float and int8):
operators and weights; the peak of live activation bytes in the converter's
order, in a reverse post-order, in a greedy memory-aware list schedule, and in
our order (with whether it is proven optimal and the scheduler's seconds, file
I/O excluded); the lower bound; our order when ADD/SUB/MUL write over a
dying input (what our arena plan makes TFLite Micro do); the peak after
graph rewriting; the arena:
TFLite Micro's own greedy placement of our order (simulated) and our plan.
With ``--verify``, the final model of the whole command (reorder, rewrite,
arena plan) is run in LiteRT and TFLite Micro against the original
(bit-identical outputs), and TFLite Micro's measured arena head is recorded
for the original and the final model.

Examples
--------
python -m scripts.models.make_zoo && python -m scripts.benchmarks.bench --verify --png docs/benchmarks.png
python -m scripts.benchmarks.bench --quick
python -m scripts.benchmarks.bench --only nasnetmobile,darts --csv /tmp/bench.csv
python -m scripts.benchmarks.bench --save /tmp/zoo   # also write the models, to measure on another build (compare_arenas.py)
"""

from __future__ import annotations

import argparse
import csv
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from scripts import ROOT
from scripts.models import zoo
from tflite_serenity import memory, optimize
from tflite_serenity.graph import build_graphs
from tflite_serenity.model import read_model
from tflite_serenity.schedule.baselines import greedy_order, reverse_postorder
from tflite_serenity.schedule.search import schedule_graph, schedule_in_place

COLUMNS = [
    ("model", "model"), ("ops", "ops"), ("converter", "converter order (B)"), ("rpo", "reverse post-order (B)"),
    ("greedy", "greedy (B)"), ("ours", "ours (B)"), ("ratio", "converter / ours"), ("bound", "lower bound (B)"),
    ("status", "status"), ("seconds", "scheduler s"), ("inplace", "ours, in place (B)"),
    ("inplace_ratio", "converter / in place"), ("inplace_status", "status, in place"),
    ("inplace_seconds", "in-place pass s"),
]
#: The whole command (schedule + rewrite + arena plan) per model.
FULL_COLUMNS = [
    ("model", "model"), ("weights", "weights (B)"), ("converter", "converter order (B)"), ("ours", "scheduled (B)"), ("inplace", "in place (B)"),
    ("rewritten", "rewritten (B)"), ("rewrite_ratio", "converter / rewritten"), ("sites", "sites"),
    ("arena_bound", "arena bound (B)"), ("tflm_greedy", "TFLM greedy, our order (B)"), ("planned", "our plan (B)"),
    ("plan_ratio", "plan / bound"), ("total_seconds", "command s"),
]
VERIFY_COLUMNS = [("tflm_before", "TFLM head, input (B)"), ("tflm_after", "TFLM head, output (B)"),
                  ("tflm_total_before", "TFLM whole arena, input (B)"),
                  ("tflm_total_after", "TFLM whole arena, output (B)"),
                  ("bit_identical", "bit-identical (LiteRT, TFLM)")]


def bench_model(path: Path, time_limit: float, verify: bool, save: Path | None = None) -> dict:
    data = path.read_bytes()
    model = read_model(data)
    graph = build_graphs(model)[0]
    result = schedule_graph(graph, time_limit=time_limit)
    row = {
        "model": path.stem,
        "ops": graph.num_operators,
        "converter": memory.peak_bytes(graph),
        "rpo": memory.peak_bytes(graph, reverse_postorder(graph)),
        "greedy": memory.peak_bytes(graph, greedy_order(graph)),
        "ours": result.peak,
        "ratio": round(result.peak_before / result.peak, 3),
        "bound": result.lower_bound,
        "status": result.status,
        "seconds": round(result.seconds, 3),
    }
    inplace = schedule_in_place(graph, result, time_limit=time_limit)
    row.update(inplace=inplace.peak, inplace_ratio=round(result.peak_before / inplace.peak, 3),
               inplace_status=inplace.status, inplace_seconds=round(inplace.seconds, 3))
    full = optimize(data, time_limit=time_limit)
    if save:
        (save / path.name).write_bytes(data)
        (save / f"{path.stem}_serenity.tflite").write_bytes(full.model)
    main = full.subgraphs[0]
    arena = full.arena
    row.update(
        weights=memory.weights_bytes(graph),
        rewritten=main.peak_after,
        rewrite_ratio=round(main.peak_before / main.peak_after, 3),
        sites=len(main.rewrites),
        arena_bound=arena.lower_bound if arena else "",
        tflm_greedy=arena.tflm_greedy if arena else "",
        planned=min(arena.tflm_with_plan, arena.tflm_greedy) if arena else "",
        plan_ratio=round(min(arena.tflm_with_plan, arena.tflm_greedy) / arena.lower_bound, 4) if arena else "",
        total_seconds=round(full.seconds, 2),
    )
    if verify:
        from tflite_serenity.verify import compare_models, measure_tflm_arena

        out = full.model
        same = [compare_models(data, out, runtime=rt).bit_identical for rt in ("litert", "tflm")]
        row["bit_identical"] = "yes" if all(same) else f"NO {same}"
        before, after = measure_tflm_arena(data), measure_tflm_arena(out)
        row["tflm_before"], row["tflm_after"] = before.head_bytes, after.head_bytes
        # the whole arena: the head plus TFLite Micro's persistent tail (what arena_size must hold)
        row["tflm_total_before"], row["tflm_total_after"] = before.total_bytes, after.total_bytes
    return row


def chart(rows: list[dict], path: Path) -> None:
    """Grouped bars: each method's peak relative to the converter's order, per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [("converter", "converter order"), ("rpo", "reverse post-order"), ("greedy", "greedy list schedule"),
               ("ours", "ours: optimal order"), ("inplace", "ours: + in place"), ("rewritten", "ours: + rewriting"),
               ("tflm_before", "TFLite Micro head, input model (measured)"),
               ("tflm_after", "TFLite Micro head, our model (measured)")]
    methods = [(k, label) for k, label in methods if all(isinstance(r.get(k), int) for r in rows)]
    fig, ax = plt.subplots(figsize=(min(16, max(8, 0.6 * len(rows))), 5.5))
    width = 0.8 / len(methods)
    for i, (key, label) in enumerate(methods):
        xs = [j + (i - (len(methods) - 1) / 2) * width for j in range(len(rows))]
        ax.bar(xs, [r[key] / r["converter"] for r in rows], width, label=label)
    ax.set_xticks(range(len(rows)), [r["model"] for r in rows], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("peak activation memory / converter order")
    ax.set_title("Peak activation memory per model and method (lower is better)")
    ax.axhline(1.0, color="black", linewidth=0.6)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def markdown(rows: list[dict], columns) -> str:
    lines = ["| " + " | ".join(title for _, title in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row.get(key, "")
            cells.append(f"{value:,}" if isinstance(value, int) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    zoo.add_argument(parser)
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(zoo.QUICK)}")
    parser.add_argument("--only", metavar="NAME[,NAME]", help="only these zoo models")
    parser.add_argument("--verify", action="store_true", help="run outputs and TFLite Micro arenas")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--csv", type=Path, help="also write the rows as CSV")
    parser.add_argument("--png", type=Path, help="also draw the peaks as a bar chart (needs matplotlib)")
    parser.add_argument("--save", type=Path, help="write each input and output model here (to measure elsewhere: "
                                                  "on a device, or a 32-bit build of TFLite Micro)")
    args = parser.parse_args(argv)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    only = zoo.names(args.only) or (set(zoo.QUICK) if args.quick else None)
    rows = []
    for model in zoo.models(args.zoo, only=only):
        row = bench_model(model.path, args.time_limit, args.verify, args.save)
        rows.append(row)
        print(f"{row['model']:<22} {row['ops']:>4} ops  {row['converter']:>10,} -> {row['ours']:>10,} B "
              f"({row['ratio']:.2f}x) -> rewritten {row['rewritten']:>10,} B; bound {row['bound']:>10,}; "
              f"{row['status']}, {row['seconds']:.3f} s; command {row['total_seconds']:.1f} s", flush=True)
    print()
    print(markdown(rows, COLUMNS))
    print()
    print(markdown(rows, FULL_COLUMNS + (VERIFY_COLUMNS if args.verify else [])))
    columns = COLUMNS + FULL_COLUMNS[1:] + (VERIFY_COLUMNS if args.verify else [])
    seconds = [r["seconds"] for r in rows]
    if rows:
        ratios = [r["ratio"] for r in rows]
        geo = statistics.geometric_mean(ratios)
        geo_in = statistics.geometric_mean([r["inplace_ratio"] for r in rows])
        geo_rw = statistics.geometric_mean([r["rewrite_ratio"] for r in rows])
        print(f"\n{len(rows)} models; proven optimal: {sum(r['status'] == 'optimal' for r in rows)}, "
              f"in place {sum(r['inplace_status'] == 'optimal' for r in rows)}; "
              f"scheduler seconds: median {statistics.median(seconds):.3f}, max {max(seconds):.3f}; "
              f"geometric mean converter/ours {geo:.3f}x, converter/in place {geo_in:.3f}x, "
              f"converter/rewritten {geo_rw:.3f}x")
        if args.verify:
            heads = statistics.geometric_mean([r["tflm_before"] / r["tflm_after"] for r in rows])
            whole = statistics.geometric_mean([r["tflm_total_before"] / r["tflm_total_after"] for r in rows])
            print(f"TFLite Micro head measured, input model / our model: geometric mean {heads:.3f}x; "
                  f"whole arena (head and persistent tail) {whole:.3f}x")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    print(f"commit {commit}, {platform.processor() or platform.machine()}, python {platform.python_version()}")
    if args.png and rows:
        chart(rows, args.png)
    if args.csv:
        with args.csv.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=[k for k, _ in columns])
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
