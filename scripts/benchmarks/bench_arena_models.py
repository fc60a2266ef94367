"""Benchmark the arena plan on the model zoo, measured in TFLite Micro.

For every model of the zoo (``scripts/models/make_zoo.py``, float and int8): run the
main command (``optimize``: schedule, rewrite, arena plan), then measure in
the real TFLite Micro interpreter (child processes) the arena head of the
output with our offline plan and of the same output without it (TFLite
Micro's own greedy plan of the same schedule), and compare the output's
results with the input model's, bit for bit, in TFLite Micro.

Columns: lower bound of the arena for the schedule (aligned live bytes,
scratch buffers included), our plan, TFLite Micro's greedy plan (simulated
and measured), the measured head with our plan, plan / bound, whether the
plan was written (it is only where it beats TFLite Micro's own), outputs
bit-identical, and the placement time.

Examples
--------
python -m scripts.models.make_zoo && python -m scripts.benchmarks.bench_arena_models
python -m scripts.benchmarks.bench_arena_models --only unet,darts --markdown
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from scripts.models import zoo
from tflite_serenity import optimize
from tflite_serenity.tflm.offline import METADATA_NAME
from tflite_serenity.model import read_model, without_metadata, write_model
from tflite_serenity.verify import compare_models, measure_tflm_arena

COLUMNS = [
    ("model", "model"), ("ops", "ops"), ("bound", "lower bound (B)"), ("plan", "our plan (B)"),
    ("greedy_sim", "TFLM greedy, simulated (B)"), ("greedy", "TFLM greedy, measured (B)"),
    ("head", "TFLM head with our plan, measured (B)"), ("ratio", "plan / bound"),
    ("greedy_ratio", "greedy / bound"), ("written", "plan written"), ("bit_identical", "bit-identical (TFLM)"),
    ("plan_s", "plan s"),
]


def bench_model(path: Path, time_limit: float, rewrite: bool) -> dict | None:
    """The row of one model; None when the command hands the input back unchanged (no plan to measure)."""
    data = path.read_bytes()
    result = optimize(data, time_limit=time_limit, rewrite=rewrite, arena_plan=True)
    arena = result.arena
    if arena is None:
        return None
    bare = write_model(without_metadata(read_model(result.model), METADATA_NAME))
    greedy = measure_tflm_arena(bare)
    comparison = compare_models(data, result.model, runtime="tflm", trials=2)
    head = comparison.candidate_tflm.head_bytes if comparison.candidate_tflm else None
    return {
        "model": path.stem,
        "ops": sum(s.operators for s in result.subgraphs),
        "bound": arena.lower_bound,
        "plan": arena.planned,
        "greedy_sim": arena.tflm_greedy,
        "greedy": greedy.head_bytes,
        "head": head,
        "ratio": arena.planned / arena.lower_bound if arena.lower_bound else 1.0,
        "greedy_ratio": (greedy.head_bytes or 0) / arena.lower_bound if arena.lower_bound else 1.0,
        "written": arena.written,
        "bit_identical": comparison.bit_identical,
        "plan_s": arena.seconds,
        "predicted_head": arena.head,
        "error": comparison.error or greedy.error,
    }


def _cell(key: str, value) -> str:
    if value is None:
        return "-"
    if key in ("ratio", "greedy_ratio"):
        return f"{value:.4f}"
    if key == "plan_s":
        return f"{value:.2f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    zoo.add_argument(parser)
    parser.add_argument("--only", default="", help="comma-separated name prefixes")
    parser.add_argument("--time-limit", type=float, default=30.0, help="scheduler seconds per model")
    parser.add_argument("--no-rewrite", action="store_true", help="schedule only, no graph rewriting")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args()

    prefixes = [p for p in args.only.split(",") if p]
    files = [m.path for m in zoo.models(args.zoo, runs_in="tflm")
             if not prefixes or any(m.path.name.startswith(p) for p in prefixes)]
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"scheduler time limit {args.time_limit:g} s, rewrite {'off' if args.no_rewrite else 'on'}")
    if args.markdown:
        print("| " + " | ".join(title for _, title in COLUMNS) + " |")
        print("|---|" + "---:|" * (len(COLUMNS) - 1))
    else:
        print("  ".join(f"{key:>12}" for key, _ in COLUMNS))
    rows = []
    start = time.monotonic()
    for path in files:
        row = bench_model(path, args.time_limit, not args.no_rewrite)
        if row is None:
            print(f"  {path.stem}: unchanged by the command, no plan", flush=True)
            continue
        rows.append(row)
        cells = [_cell(key, row[key]) for key, _ in COLUMNS]
        print("| " + " | ".join(cells) + " |" if args.markdown else "  ".join(f"{c:>12}" for c in cells),
              flush=True)
        if row["error"]:
            print(f"  error: {row['error']}", flush=True)
    n = len(rows)
    at_bound = sum(r["plan"] == r["bound"] for r in rows)
    within = sum(r["ratio"] <= 1.02 for r in rows)
    not_worse = sum(r["head"] is not None and r["greedy"] is not None and r["head"] <= r["greedy"] for r in rows)
    exact = sum(r["head"] == r["predicted_head"] for r in rows)
    identical = sum(bool(r["bit_identical"]) for r in rows)
    print(f"\nplan at the lower bound: {at_bound}/{n}; within 2%: {within}/{n}; "
          f"measured head <= TFLite Micro's own: {not_worse}/{n}; measured head == predicted: {exact}/{n}; "
          f"bit-identical in TFLite Micro: {identical}/{n}; {time.monotonic() - start:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
