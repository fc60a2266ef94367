"""Benchmark pipeline segmentation for several Edge TPUs on the model zoo.

For every int8 model of the zoo (``python -m scripts.models.make_zoo``) and
every ``k``, prints the bottleneck segment time of the Edge TPU compiler's
parameter-count split, of the best contiguous cut of the stored order (exact
DP) and of the exact split (CP-SAT), the exact split's speedup over the
parameter-count split, whether it is proven optimal (or its gap to the proven
bound), and the solve times. Checks that the exact
split is never worse than the other two, and with ``--verify`` that its
chained segments give bit-identical outputs in LiteRT.

Usage::

    python -m scripts.benchmarks.bench_pipeline [--zoo .zoo] [--k 2 3 4] [--time-limit 20]
                                                [--link usb3] [--cache-mib 8] [--only a,b] [--verify]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

from scripts.models import zoo
from tflite_serenity.graph import build_graph
from tflite_serenity.model.io import read_model
from tflite_serenity.edgetpu import (
    build_problem, check_chain, contiguous_split, edge_tpu, exact_split, param_count_split, segment_models,
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    zoo.add_argument(p)
    p.add_argument("--k", type=int, nargs="+", default=[2, 3, 4])
    p.add_argument("--time-limit", type=float, default=20.0)
    p.add_argument("--link", default="usb3")
    p.add_argument("--cache-mib", type=float, default=8.0)
    p.add_argument("--only", default=None, help="comma-separated model names (without _int8.tflite)")
    p.add_argument("--verify", action="store_true", help="also check the exact split's chained segments in LiteRT")
    args = p.parse_args(argv)

    files = [m.path for m in zoo.models(args.zoo, only=zoo.names(args.only), variants={"int8"})]
    if not files:
        print(f"no int8 models in {args.zoo}", file=sys.stderr)
        return 1
    device = edge_tpu(args.link, args.cache_mib)
    print(f"# {platform.processor() or platform.machine()}, {platform.python_implementation()} "
          f"{platform.python_version()}; Edge TPU: {args.link}, {args.cache_mib:g} MiB cache; "
          f"CP-SAT limit {args.time_limit:g} s")
    print("| model | ops | params MiB | k | param-count ms | contiguous ms | exact ms | speedup | exact proof "
          "| DP s | CP-SAT s |" + (" chain |" if args.verify else ""))
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|" + ("---|" if args.verify else ""))
    worse = 0
    for path in files:
        data = path.read_bytes()
        model = read_model(data)
        graph = build_graph(model, 0)
        problem = build_problem(graph, device)
        mib = sum(problem.param_bytes) / (1 << 20)
        for k in args.k:
            if k > graph.num_operators:
                continue
            base = param_count_split(problem, k)
            contiguous = contiguous_split(problem, k)
            start = time.perf_counter()
            exact = exact_split(problem, k, time_limit=args.time_limit)
            cpsat = time.perf_counter() - start
            if exact.bottleneck_ps > min(base.bottleneck_ps, contiguous.bottleneck_ps):
                worse += 1
            proof = "optimal" if exact.status == "optimal" else f"gap {exact.gap:.1%}"
            row = (f"| {path.name.removesuffix('.tflite')} | {graph.num_operators} | {mib:.1f} | {k} "
                   f"| {base.bottleneck_ps / 1e9:.3f} | {contiguous.bottleneck_ps / 1e9:.3f} "
                   f"| {exact.bottleneck_ps / 1e9:.3f} | {base.bottleneck_ps / exact.bottleneck_ps:.2f}x "
                   f"| {proof} | {contiguous.seconds:.2f} | {cpsat:.1f} |")
            if args.verify:
                check_chain(data, segment_models(model, graph, problem, exact), seeds=(0,))
                row += " bit-identical |"
            print(row, flush=True)
    if worse:
        print(f"ERROR: the exact split was worse than a baseline {worse} time(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
