"""``python -m tflite_serenity pipeline IN.tflite --segments K --out-dir DIR``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from ..fileio import read_bytes
from ..model.io import read_model
from ..edgetpu.device import LINKS, MIB, edge_tpu, float_operators
from ..edgetpu.exact import DEFAULT_TIME_LIMIT
from ..edgetpu.plan import SOLVERS, PipelinePlan, plan_pipeline
from ..edgetpu.problem import PS_PER_S, Split
from ..edgetpu.segments import boundary_tensors, check_chain, check_out_dir, segment_models, write_segments
from .parser import PROG, Parser, warn


def parser() -> argparse.ArgumentParser:
    p = Parser(prog=f"{PROG} pipeline",
                description="Split a model into K chained segments for a pipeline of K Edge TPUs, "
                            "minimizing the slowest segment's estimated time.")
    p.add_argument("model", help="the .tflite file")
    p.add_argument("--segments", "-k", type=int, required=True, metavar="K", help="number of segments (Edge TPUs)")
    p.add_argument("--out-dir", required=True, metavar="DIR", help="where to write STEM_segment_I_of_K.tflite")
    p.add_argument("--solver", choices=SOLVERS, default="exact",
                   help="exact: any split whose edges go forward (CP-SAT); contiguous: best cut of the "
                        "stored order; param-count: the Edge TPU compiler's equal-parameter rule; learned: "
                        "best cut of the shipped policy's order (milliseconds, NumPy only, no proof) "
                        "(default: exact)")
    p.add_argument("--cache-mib", type=float, default=8.0, metavar="MIB",
                   help="on-chip parameter cache per Edge TPU (default: 8)")
    p.add_argument("--link", choices=sorted(LINKS), default="usb3", help="host link (default: usb3)")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT, metavar="S",
                   help=f"seconds for the exact solver (default: {DEFAULT_TIME_LIMIT:g})")
    p.add_argument("--workers", type=int, default=None, help="CP-SAT search workers (default: CPU count, at most 8)")
    p.add_argument("--verify", action="store_true",
                   help="run the chained segments and the whole model in LiteRT and check the outputs are bit-identical")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    return p


def run(argv: Sequence[str]) -> int:
    """Run the command; user errors raise :class:`~tflite_serenity.errors.SerenityError`."""
    args = parser().parse_args(argv)
    check_out_dir(args.out_dir)  # before any work
    data = read_bytes(args.model)
    model = read_model(data)
    device = edge_tpu(args.link, args.cache_mib)
    _warn_if_float(model, Path(args.model).name)
    plan = plan_pipeline(model, args.segments, device=device, solver=args.solver,
                         time_limit=args.time_limit, workers=args.workers)
    segments = segment_models(model, plan.graph, plan.problem, plan.split)
    if args.verify:
        check_chain(data, segments)
    paths = write_segments(args.out_dir, Path(args.model).stem, segments)
    if args.json:
        print(json.dumps(plan_json(plan, args.link, paths, verified=args.verify), indent=2))
    else:
        sys.stdout.write(plan_text(plan, Path(args.model).name, args.link, paths, verified=args.verify))
    return 0


def _warn_if_float(model, name: str) -> None:
    """One line on stderr when the model computes in float, which the Edge TPU cannot; the command goes on."""
    from ..graph import build_graph

    graph = build_graph(model, 0)
    floats = float_operators(graph)
    if floats:
        warn(f"{name}: {len(floats)} of {graph.num_operators} operators compute in float, but the Edge TPU "
             f"runs only int8 models (full-integer quantization); splitting the model as given")


def split_json(split: Split) -> dict:
    """A split's figures as JSON-ready data (times in seconds)."""
    return {
        "method": split.method,
        "status": split.status,
        "gap": split.gap,
        "solve_seconds": round(split.seconds, 3),
        "bottleneck_s": split.bottleneck_ps / PS_PER_S,
        "total_s": split.total_ps / PS_PER_S,
        "throughput_per_s": split.throughput,
        "segments": [
            {"operators": s.operators, "param_bytes": s.param_bytes, "cached": s.cached,
             "streamed_bytes": s.streamed_bytes, "macs": s.macs, "in_bytes": s.in_bytes,
             "out_bytes": s.out_bytes, "time_s": s.time_ps / PS_PER_S}
            for s in split.segments
        ],
    }


def plan_json(plan: PipelinePlan, link: str, paths: Sequence[Path], verified: bool = False) -> dict:
    bounds = boundary_tensors(plan.graph, plan.problem, plan.split)
    names = [[plan.graph.tensors[t].name for t in b] for b in bounds]
    result = {
        "segments": plan.split.k,
        "device": {"link": link, "link_bytes_per_s": plan.device.link_bytes_per_s,
                   "cache_bytes": plan.device.cache_bytes, "macs_per_s": plan.device.macs_per_s,
                   "op_overhead_s": plan.device.op_overhead_s,
                   "segment_overhead_s": plan.device.segment_overhead_s},
        "split": split_json(plan.split),
        "param_count_split": split_json(plan.baseline),
        "speedup_vs_param_count": plan.speedup,
        "verified_litert": verified,
        "files": [str(p) for p in paths],
    }
    for i, segment in enumerate(result["split"]["segments"]):
        segment["inputs"], segment["outputs"] = names[i], names[i + 1]
    return result


def plan_text(plan: PipelinePlan, name: str, link: str, paths: Sequence[Path], verified: bool = False) -> str:
    split, base = plan.split, plan.baseline
    how = {"exact": "exact (CP-SAT)", "contiguous": "contiguous cuts of the stored order (DP)",
           "param-count": "equal parameter bytes (edgetpu_compiler rule)",
           "learned": "learned order (RESPECT policy), best contiguous cut"}[split.method]
    if split.status == "optimal":
        proof = "optimal"
    elif split.status == "feasible":
        proof = f"best found, within {split.gap:.1%} of optimal"
    else:
        proof = "heuristic"
    lines = [
        f"{name}: {plan.graph.num_operators} operators -> {split.k} segments, {how}, {proof}, {split.seconds:.2f} s",
        f"Edge TPU model: {plan.device.macs_per_s / 1e9:,.0f} GMAC/s, {plan.device.cache_bytes / MIB:g} MiB cache, "
        f"{link} {plan.device.link_bytes_per_s / 1e6:g} MB/s",
        "",
        f"{'segment':>7} {'ops':>5} {'parameters':>14} {'':15} {'MACs':>9} {'in':>10} {'out':>10} {'time':>10}",
    ]
    for i, s in enumerate(split.segments):
        where = "cached" if s.cached else f"{_bytes(s.streamed_bytes)} streamed"
        lines.append(f"{i:>7} {s.operators:>5} {s.param_bytes:>12,} B {where:<15} {_si(s.macs):>9} "
                     f"{_bytes(s.in_bytes):>10} {_bytes(s.out_bytes):>10} {_ms(s.time_ps):>10}")
    lines += [
        "",
        f"pipeline: slowest segment {_ms(split.bottleneck_ps)} -> {split.throughput:,.1f} inferences/s "
        f"(latency {_ms(split.total_ps)})",
        f"param-count split: slowest segment {_ms(base.bottleneck_ps)} -> {base.throughput:,.1f} inferences/s; "
        f"this split is {plan.speedup:.2f}x its throughput",
    ]
    if verified:
        lines.append("verified: the chained segments give bit-identical outputs in LiteRT")
    lines += [f"wrote {p}" for p in paths]
    return "\n".join(lines) + "\n"


def _ms(ps: int) -> str:
    return f"{ps / 1e9:.3f} ms"


def _si(count: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f}{unit}"
    return str(count)


def _bytes(count: int) -> str:
    if count >= MIB:
        return f"{count / MIB:.1f} MiB"
    if count >= 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count} B"
