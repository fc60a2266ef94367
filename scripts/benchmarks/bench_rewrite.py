"""Benchmark graph rewriting on the irregular networks of the zoo.

For each model (float32 and int8) it prints the peak of live activation bytes
in the converter's order (TFLite Micro's own plan: no tensor shares bytes),
after scheduling alone, after scheduling with element-wise operators written
in place (what our arena plan makes TFLite Micro do), after exact rewriting
on top (concats moved below their consumers, and pads, crops and 1x1 pools
made one small slice), with runs around the peak computed in row strips too
(the default of the main command: integer runs only), and with the
approximate rewrites too (``--rewrite-approximate``: channel-wise splits and
float runs in strips; resp. ``--rewrite-approximate-int8``), each with its
ratio to the converter order.
With ``--verify`` every in-place or rewritten model is written with its arena
plan and run in LiteRT (and with ``--tflm`` in TFLite Micro, which then also
reports the head it measures) against the original: exact rewrites must be
bit-identical, approximate ones show their largest error relative to the
output range (int8: in quantization steps).

The geometric means at the end are over the issue's irregular networks
(RandWire WS and ER, DARTS, SwiftNet, NASNetMobile), over the models that
have a concat reaching a CONV_2D or FULLY_CONNECTED through per-channel
operators (the sites SERENITY's channel-wise partitioning is for), and over
all.

Usage::

    python -m scripts.models.make_zoo                      # once, builds .zoo/
    python -m scripts.benchmarks.bench_rewrite --verify --tflm # about 6 minutes on 2 cores
    python -m scripts.benchmarks.bench_rewrite --models darts,unet --time-limit 60
    python -m scripts.benchmarks.bench_rewrite --save /tmp/rw  # also write the models (compare_arenas.py)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from scripts.models import zoo
from tflite_serenity import memory
from tflite_serenity.arena.model_plan import plan_arena
from tflite_serenity.graph import Graph, build_graph
from tflite_serenity.model import read_model, with_operator_orders, write_model
from tflite_serenity.rewrite.search import rewrite_subgraph
from tflite_serenity.options import Options
from tflite_serenity.rewrite.sites import classify
from tflite_serenity.rewrite.slices import simplify_slices
from tflite_serenity.schedule.search import schedule_graph, schedule_in_place

IRREGULAR = ("randwire_ws", "randwire_er", "darts", "swiftnet", "nasnetmobile", "densenet121", "inceptionv3", "unet")
#: The irregular networks the rewriting issue names (SERENITY's benchmark kinds).
ISSUE_SET = ("randwire_ws", "randwire_er", "darts", "swiftnet", "nasnetmobile")


@dataclass
class Mode:
    """One rewriting mode of one model: its peak and what it cost."""

    peak: int
    sites: int
    seconds: float
    optimal: bool
    operators: int
    check: str = ""  # verification verdict
    rewrites: list = field(default_factory=list)  # one dict per rewritten site
    strips: list = field(default_factory=list)  # one dict per run computed in row strips
    tflm_head: int = 0  # measured by TFLite Micro with our arena plan (0: not run)
    tflm_total: int = 0  # the whole arena TFLite Micro measured: head plus its persistent tail


@dataclass
class Row:
    name: str
    variant: str
    operators: int
    converter: int
    scheduled: int
    scheduled_optimal: bool
    concat_to_conv: bool
    tflm_converter: int = 0  # TFLite Micro's measured head for the input model (0: not run)
    tflm_converter_total: int = 0  # and its whole arena
    slices: int = 0  # slice rewrites (rewrite.slices, part of the exact rewrites)
    modes: dict[str, Mode] = field(default_factory=dict)


def concat_reaches_conv(tree, graph: Graph) -> bool:
    """Whether some channel concat reaches a CONV_2D/FULLY_CONNECTED through per-channel operators."""
    lenient = Options(rewrite_approximate=True, rewrite_approximate_int8=True)
    for op in graph.operators:
        if op.kind != "CONCATENATION":
            continue
        frontier, seen = list(op.outputs), set()
        while frontier:
            t = frontier.pop()
            for c in graph.consumers[t]:
                if c in seen:
                    continue
                seen.add(c)
                split = classify(tree, graph, c, t, lenient)
                if split is None:
                    continue
                if split.how == "channel":
                    return True
                frontier.extend(graph.operators[c].outputs)
    return False


def verify(original: bytes, candidate: bytes, runtimes: tuple[str, ...], exact: bool,
           int8: bool) -> tuple[str, int, int]:
    """The verdict per runtime, and TFLite Micro's measured head and whole arena of the candidate (0: not run)."""
    from tflite_serenity.verify import compare_models

    verdicts, head, total = [], 0, 0
    for runtime in runtimes:
        c = compare_models(original, candidate, runtime=runtime, trials=2)
        if runtime == "tflm" and c.candidate_tflm is not None:
            head, total = c.candidate_tflm.head_bytes, c.candidate_tflm.total_bytes
        if c.error:
            verdicts.append(f"{runtime}: {c.error}")
        elif c.bit_identical:
            verdicts.append(f"{runtime}: bit-identical")
        elif exact:
            verdicts.append(f"{runtime}: NOT bit-identical")
        elif int8:
            verdicts.append(f"{runtime}: max {c.max_abs_diff:.0f} steps")
        else:
            verdicts.append(f"{runtime}: max rel {c.max_rel_diff:.1e}")
    return "; ".join(verdicts), head, total


def bench_file(path: Path, name: str, variant: str, time_limit: float, runtimes: tuple[str, ...],
               save: Path | None = None) -> Row:
    data = path.read_bytes()
    if save:
        (save / f"{name}_{variant}.tflite").write_bytes(data)
    tree = read_model(data)
    graph = build_graph(tree, 0)
    plain = schedule_graph(graph, time_limit=time_limit)
    row = Row(name, variant, graph.num_operators, memory.peak_bytes(graph), plain.peak, plain.optimal,
              concat_reaches_conv(tree, graph))
    if "tflm" in runtimes:
        from tflite_serenity.verify import measure_tflm_arena

        measured = measure_tflm_arena(data)
        row.tflm_converter, row.tflm_converter_total = measured.head_bytes, measured.total_bytes
    int8 = variant == "int8"
    start = time.monotonic()
    schedule = schedule_in_place(graph, plain, time_limit=time_limit)
    row.modes["inplace"] = _checked(Mode(schedule.peak, 0, time.monotonic() - start, schedule.optimal,
                                         graph.num_operators), data, tree, schedule.order, runtimes, True, int8,
                                 save and save / f"{name}_{variant}_inplace.tflite")
    # the exact rewrites start with the slice rewrites (rewrite.slices), as the main command does
    simplified, (counts,) = simplify_slices(tree) if len(tree.subgraphs) == 1 else (tree, (None,))
    row.slices = counts.total if counts is not None else 0
    base = schedule
    if row.slices:
        moved = build_graph(simplified, 0)
        base = schedule_in_place(moved, schedule_graph(moved, time_limit=time_limit), time_limit=time_limit)
    modes = {"exact": Options(strips=False), "strips": Options(), "peak only": Options(strips_peak_only=True),
             "approximate": Options(rewrite_approximate=not int8, rewrite_approximate_int8=int8)}
    for label, options in modes.items():
        start = time.monotonic()
        new, report = rewrite_subgraph(simplified, 0, options=options, baseline=base, time_limit=time_limit)
        mode = Mode(report.peak, len(report.sites), time.monotonic() - start, report.schedule.optimal,
                    len(new.subgraphs[0].operators), rewrites=[asdict(site) for site in report.sites],
                    strips=[asdict(run) for run in report.strips])
        if report.changed or row.slices:
            mode = _checked(mode, data, new, report.schedule.order, runtimes, report.exact, int8,
                            save and save / f"{name}_{variant}_{label.replace(' ', '_')}.tflite")
        else:
            inplace = row.modes["inplace"]
            mode.check, mode.tflm_head, mode.tflm_total = inplace.check, inplace.tflm_head, inplace.tflm_total
        row.modes[label] = mode
        print(f"  {name} {variant} {label}: {row.converter} -> {plain.peak} -> {schedule.peak} -> {report.peak} "
              f"({len(report.sites)} sites, {row.slices} slice rewrites, {_strips(mode)}, {mode.seconds:.1f} s) "
              f"{mode.check}", file=sys.stderr, flush=True)
    return row


def _checked(mode: Mode, original: bytes, tree, order, runtimes, exact: bool, int8: bool,
             save: Path | None = None) -> Mode:
    """``mode`` with its verdict: the model in ``order`` with our in-place arena plan, run against the
    original (and written to ``save``)."""
    if runtimes or save:
        planned, _ = plan_arena(with_operator_orders(tree, {0: order}), inplace=True)
        out = write_model(planned)
        if save:
            save.write_bytes(out)
        if runtimes:
            mode.check, mode.tflm_head, mode.tflm_total = verify(original, out, runtimes, exact, int8)
    return mode


def _kib(n: int) -> str:
    return f"{n / 1024:,.1f}"


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}x"


def _strips(mode: Mode) -> str:
    """E.g. ``8 strips, +48% MACs``; ``-`` when no run is in strips."""
    if not mode.strips:
        return "-"
    extra = mode.strips[-1]["macs_after"] / mode.strips[0]["macs_before"] - 1
    return f"{'/'.join(str(r['strips']) for r in mode.strips)} strips, {extra:+.0%} MACs"


def table(rows: list[Row]) -> str:
    head = ("| model | ops | converter order (KiB) | scheduling | + in place | + exact rewriting | + row strips "
            "| strips, peak only | + approximate | ratio vs converter order: scheduling / in place / exact / strips "
            "/ peak only / approximate | row strips (default / peak only / approximate) "
            "| TFLM head, input / default / peak only / approximate (KiB) "
            "| TFLM whole arena, input / default / peak only (KiB) | check (default; approximate) |")
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        i, e, s, p, a = (r.modes[k] for k in ("inplace", "exact", "strips", "peak only", "approximate"))
        heads = (" / ".join(_kib(x) for x in (r.tflm_converter, s.tflm_head, p.tflm_head, a.tflm_head))
                 if r.tflm_converter and s.tflm_head and p.tflm_head and a.tflm_head else "-")
        totals = (" / ".join(_kib(x) for x in (r.tflm_converter_total, s.tflm_total, p.tflm_total))
                  if r.tflm_converter_total and s.tflm_total and p.tflm_total else "-")
        lines.append(
            f"| {r.name} {r.variant}{'' if r.concat_to_conv else ' (no concat->conv)'} | {r.operators} "
            f"| {_kib(r.converter)} | {_kib(r.scheduled)} | {_kib(i.peak)} | {_kib(e.peak)} | {_kib(s.peak)} "
            f"| {_kib(p.peak)} | {_kib(a.peak)} "
            f"| {' / '.join(_ratio(r.converter, x) for x in (r.scheduled, i.peak, e.peak, s.peak, p.peak, a.peak))} "
            f"| {_strips(s)} / {_strips(p)} / {_strips(a)} | {heads} | {totals} "
            f"| {s.check or '-'}; {a.check or '-'} |"
        )
    return "\n".join(lines)


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def summary(rows: list[Row]) -> str:
    subsets = {
        "the issue's irregular set": lambda r: r.name in ISSUE_SET,
        "with concat->conv sites": lambda r: r.concat_to_conv,
        "all": lambda r: True,
    }
    keys = ("inplace", "exact", "strips", "peak only", "approximate")
    out = []
    for subset, member in subsets.items():
        for variant in ("float", "int8"):
            chosen = [r for r in rows if r.variant == variant and member(r)]
            if not chosen:
                continue
            g = [geomean([r.converter / r.scheduled for r in chosen])]
            g += [geomean([r.converter / r.modes[k].peak for r in chosen]) for k in keys]
            line = (f"geometric mean reduction vs converter order, {variant} models, {subset} ({len(chosen)}): "
                    f"scheduling {g[0]:.2f}x, in place {g[1]:.2f}x, exact rewriting {g[2]:.2f}x, "
                    f"+row strips {g[3]:.2f}x (peak only {g[4]:.2f}x), +approximate {g[5]:.2f}x")
            if all(r.tflm_converter and all(r.modes[k].tflm_head for k in keys[2:]) for r in chosen):
                m = [geomean([r.tflm_converter / r.modes[k].tflm_head for r in chosen]) for k in keys[2:]]
                t = [geomean([r.tflm_converter_total / r.modes[k].tflm_total for r in chosen]) for k in keys[2:4]]
                line += (f"; TFLite Micro measured, input / output: head {m[0]:.2f}x default, {m[1]:.2f}x peak only, "
                         f"{m[2]:.2f}x approximate; whole arena {t[0]:.2f}x default, {t[1]:.2f}x peak only")
            out.append(line)
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    zoo.add_argument(p)
    p.add_argument("--models", default=",".join(IRREGULAR), help="comma-separated zoo names")
    p.add_argument("--variants", default="float,int8")
    p.add_argument("--time-limit", type=float, default=300.0, help="seconds per schedule and per rewriting run")
    p.add_argument("--verify", action="store_true", help="run rewritten models in LiteRT against the original")
    p.add_argument("--tflm", action="store_true", help="with --verify, also in TFLite Micro")
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument("--save", type=Path, help="write every input and output model here (to measure elsewhere: "
                                             "on a device, or a 32-bit build of TFLite Micro)")
    args = p.parse_args(argv)
    files = {(m.name, m.variant): m.path for m in zoo.models(args.zoo)}
    runtimes = (("litert", "tflm") if args.tflm else ("litert",)) if args.verify else ()
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.models.split(","):
        for variant in args.variants.split(","):
            path = files.get((name, variant))
            if path is None:
                print(f"  {name} {variant}: not in {args.zoo} (run {zoo.BUILD})", file=sys.stderr)
                continue
            rows.append(bench_file(path, name, variant, args.time_limit, runtimes, args.save))
    print(table(rows))
    print()
    print(summary(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
