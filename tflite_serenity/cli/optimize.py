"""``python -m tflite_serenity [optimize] IN.tflite OUT.tflite``: optimize a model file."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Sequence

from .._version import __version__
from ..arena.model_plan import PlanReason
from ..driver import optimize
from ..errors import SerenityError
from ..options import Options, Target
from ..units import format_bytes
from .parser import PROG, Parser

if TYPE_CHECKING:
    from ..arena.model_plan import ArenaFigures


#: The commands, as the main command's --help (and a bare ``python -m tflite_serenity``) lists them.
COMMANDS_HELP = f"""commands:
  {PROG} [optimize] IN OUT [options]
      reorder, rewrite and plan a model for the least activation memory
      (the default command)
  {PROG} report MODEL [options]
      where a model's activation memory goes; --tflm: the arena size for TFLite Micro
  {PROG} pipeline MODEL --segments K --out-dir DIR [options]
      split a model into K chained segments for a pipeline of Edge TPUs

Run '{PROG} COMMAND --help' for a command's options.
"""


def parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, usage="%(prog)s [optimize] IN OUT [options]",
               description="Reorder a .tflite model's operators for the lowest peak activation memory.\n"
                           "The output computes exactly what the input computes.",
               epilog=COMMANDS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="IN", help="the .tflite model to optimize (never modified)")
    p.add_argument("output", metavar="OUT", help="where to write the optimized model")
    p.add_argument("--version", action="version", version=f"tflite-serenity {__version__}",
                   help="print the version and exit")
    p.add_argument("--warm-start", choices=("none", "learned"), default="none",
                   help="seed the exact search with the learned policy's order (faster on some graphs, "
                        "same answer; default: none)")
    p.add_argument("--time-limit", type=float, default=30.0, metavar="SECONDS",
                   help="time for the searches of the operator order; past it, the best order found is used "
                        "and the summary says 'best found: time limit in scheduling' (default: 30). Rewriting "
                        "and row strips count work, not seconds: the output does not depend on the machine")
    p.add_argument("--in-place", action="store_true", help="allow OUT to be the same file as IN")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--no-rewrite", action="store_true",
                   help="only reorder: do not move channel concats below their consumers "
                        "(by default, exact rewrites are kept where they lower the peak)")
    p.add_argument("--rewrite-approximate", action="store_true",
                   help="also split convolutions over concat inputs, and compute float convolutions in row "
                        "strips, in float subgraphs; not bit-exact in LiteRT (summation order), measured max "
                        "error below 1e-6 of the output range")
    p.add_argument("--rewrite-approximate-int8", action="store_true",
                   help="also split convolutions over concat inputs in int8 subgraphs; changes rounding: "
                        "measured 1-3 quantization steps next to a split, up to 69 at the output of a "
                        "network with several (docs/rewriting.md); check the outputs")
    p.add_argument("--no-strips", action="store_true",
                   help="do not compute runs of operators in row strips (by default, integer runs around the "
                        "peak are computed a band of rows at a time where that lowers it: exact, but rows the "
                        "strips share are computed twice; the summary shows the extra multiply-accumulates)")
    p.add_argument("--no-loops", action="store_true",
                   help="do not run row strips in WHILE loops (by default, where it lowers TFLite Micro's "
                        "whole arena, an int8 model's runs are computed in many row strips, the middle ones "
                        "as one WHILE body whose carried maps the written plan pins: exact; adds WHILE, "
                        "SLICE, DYNAMIC_UPDATE_SLICE, PAD and LESS operators)")
    p.add_argument("--max-recompute", type=float, default=100.0, metavar="PERCENT",
                   help="the most multiply-accumulates row strips may add, in percent of the model's "
                        "(default: 100, at most twice as many)")
    p.add_argument("--strips-peak-only", action="store_true",
                   help="choose row strips and concat splits by the activation peak alone (by default the "
                        "operators they add are charged the bytes TFLite Micro keeps for them, so the whole "
                        "arena shrinks)")
    p.add_argument("--pointer-width", type=int, choices=(32, 64), default=32, metavar="{32,64}",
                   help="bits of a pointer on the device TFLite Micro runs on: 32 for microcontrollers (the "
                        "default), 64 for a 64-bit host. Sets the bytes TFLite Micro keeps per operator and "
                        "tensor, which row strips and concat splits are charged")
    p.add_argument("--core", choices=("cortex-m4", "cortex-m55"), default="",
                   help="the one Cortex-M the output is for: the arena plan then needs to suit only its "
                        "CMSIS-NN kernels (cortex-m4: DSP, cortex-m55: MVE) besides the reference kernels. By "
                        "default it suits both, leaving room for the larger scratch buffers of either (with "
                        "--pointer-width 32)")
    p.add_argument("--no-arena-plan", action="store_true",
                   help="do not write TFLite Micro's offline memory plan (by default, every tensor is placed "
                        "in the arena and the plan is written where it beats TFLite Micro's own)")
    p.add_argument("--no-shared-outputs", action="store_true",
                   help="with the arena plan, never let an ADD, SUB or MUL write its output over an input "
                        "that dies there (by default the plan does, where it lowers the arena: TFLite Micro's "
                        "reference kernels and CMSIS-NN's on Cortex-M4 and M55 read each element before "
                        "writing it, checked by running, docs/device.md; other kernel libraries were not "
                        "checked)")
    p.add_argument("--no-overlap", action="store_true",
                   help="with the arena plan, never let an output overlap an input. By default a convolution, "
                        "depthwise convolution, pooling, PAD, STRIDED_SLICE, SLICE, FULLY_CONNECTED (and with shared "
                        "outputs ADD, SUB, MUL) may write its output over the part of an input that dies there "
                        "which it has finished reading, where that lowers the arena. That is safe only for "
                        "kernels that walk their output in order: verified by running with TFLite Micro's "
                        "reference kernels and with CMSIS-NN on Cortex-M4 and Cortex-M55 (whose int8 1x1 "
                        "convolutions are left out with --pointer-width 32: they corrupt there). Other "
                        "optimized kernel libraries were not verified and may read in another order and "
                        "silently give wrong outputs: pass this flag for them (docs/arena.md, docs/device.md)")
    p.add_argument("--overlap", action="store_true", dest="overlap_flag", help=argparse.SUPPRESS)  # now the default; accepted so that scripts passing it still run
    p.add_argument("--jobs", type=int, default=0, metavar="N",
                   help="processes that score row-strip candidates (default 0: one per core, at most 4); "
                        "the output is the same whatever the number")
    p.add_argument("--quiet", action="store_true", help="show no progress while scheduling")
    p.add_argument("--engine", choices=("auto", "compiled", "python"), default="auto", help=argparse.SUPPRESS)
    return p


def run(argv: Sequence[str]) -> int:
    """Run the command; user errors raise :class:`~tflite_serenity.errors.SerenityError`."""
    args = parser().parse_args(argv)
    options = Options(time_limit=args.time_limit, rewrite=not args.no_rewrite,
                      rewrite_approximate=args.rewrite_approximate,
                      rewrite_approximate_int8=args.rewrite_approximate_int8, strips=not args.no_strips, loops=not args.no_loops,
                      max_recompute=args.max_recompute, strips_peak_only=args.strips_peak_only,
                      arena_plan=not args.no_arena_plan, shared_outputs=not args.no_shared_outputs, overlap=not args.no_overlap,
                      warm_start=args.warm_start, engine=args.engine, jobs=args.jobs)
    target = Target(pointer_width=args.pointer_width, core=args.core)
    if _same_file(args.input, args.output) and not args.in_place:
        raise SerenityError(f"refusing to overwrite the input {args.input}; pass --in-place to allow it")
    from ..progress import progress_for

    with progress_for(args.quiet) as progress:  # on stderr, only on a terminal
        result = optimize(args.input, options, target, progress=progress)
    result.save(args.output)
    if args.json:
        payload = {"output": args.output, "seconds": result.seconds,
                   "subgraphs": [{**asdict(s), "status": s.status, "ratio": s.ratio} for s in result.subgraphs],
                   "arena": asdict(result.arena) if result.arena else None,
                   "unchanged": result.unchanged, "added_operators": list(result.added_operators),
                   "nested_peaks": list(result.nested_peaks) if result.nested_peaks else None}
        print(json.dumps(payload, indent=2))
        return 0
    for s in result.subgraphs:
        sys.stdout.write(_summary_line(s, not args.no_rewrite, args.pointer_width) + "\n")
    if result.nested_peaks is not None:
        before, after = result.nested_peaks
        sys.stdout.write(f"with the subgraphs it runs: peak {format_bytes(before)} -> {format_bytes(after)} "
                         "(subgraph 0, each WHILE, IF or CALL_ONCE as what lives across it plus its subgraphs' "
                         "largest peak; copies pinned to one offset counted once)\n")
    if result.unchanged:
        sys.stdout.write("unchanged: no order or rewrite found lowers the peak or TFLite Micro's arena; "
                         "the output is a copy of the input\n")
    elif not args.no_arena_plan:
        sys.stdout.write(arena_line(result.arena, target.kernels) + "\n")
    sys.stdout.write("figures: peak = live activation bytes, each tensor in bytes of its own (LiteRT, and TFLite "
                     "Micro without a plan); arena = TFLite Micro's planned tensors (its head)\n")
    if result.added_operators:
        sys.stdout.write(f"new operator types: {', '.join(result.added_operators)} (a firmware's "
                         "MicroMutableOpResolver must register them too)\n")
    sys.stdout.write(f"wrote {args.output} (optimized in {result.seconds:.2f} s)\n")
    return 0


def _summary_line(s, rewriting: bool, pointer_width: int) -> str:
    """``subgraph 0: 571 ops, peak A -> B scheduled -> C rewritten (1 site) (1.12x lower), optimal, search 0.10 s``.

    The seconds are those of the subgraph's searches for an order (what
    ``--time-limit`` bounds); the whole command's follow once, on the last line.

    Peaks are live activation bytes with every tensor in bytes of its own:
    what LiteRT and TFLite Micro's own planner reach, before and after alike.
    Where the written arena plan lets outputs share their input's bytes, what
    TFLite Micro then needs follows as a figure of its own."""
    peaks = f"peak {format_bytes(s.peak_before)} -> "
    if rewriting:
        kind = "" if all(r.exact for r in s.rewrites) else ", approximate"
        n = len(s.rewrites)
        sites = f"{n} site{'s' if n > 1 else ''}{kind}" if n else "no site pays"
        if s.slices.total:
            sites += f", {s.slices.describe()}"
        if s.strips:
            n = len(s.strips)
            extra = s.strips[-1].macs_after / s.strips[0].macs_before - 1 if s.strips[0].macs_before else 0.0
            approximate = "" if all(r.exact for r in s.strips) else ", approximate"
            kept = sum(r.persistent_added for r in s.strips)
            sites += (f", {n} run{'s' if n > 1 else ''} in row strips "
                      f"({'/'.join(str(r.strips) for r in s.strips)} strips, {extra:+.0%} multiply-accumulates, "
                      f"about {kept:+,} B of TFLite Micro bookkeeping on a {pointer_width}-bit device{approximate})")
        if s.loops:
            n = len(s.loops)
            before, after = s.loop_macs
            extra = after / before - 1 if before else 0.0
            sites += (f", row strips in {n} WHILE loop{'s' if n > 1 else ''} "
                      f"({'/'.join(str(k) for k in s.loops)} strips, {extra:+.0%} multiply-accumulates)")
        if s.splits:
            n = len(s.splits)
            sites += (f", {n} TRANSPOSE_CONV{'s' if n > 1 else ''} split by output channels "
                      f"({'/'.join(str(r.parts) for r in s.splits)} pieces, less scratch)")
        peaks += (f"{format_bytes(s.peak_scheduled)} scheduled -> {format_bytes(s.peak_after)} "
                  f"rewritten ({sites})")
    else:
        peaks += format_bytes(s.peak_after)
    change = f"{s.ratio:.2f}x lower" if s.peak_after < s.peak_before else "already lowest" if s.optimal else "unchanged"
    status = s.status if s.optimal or not s.note else f"{s.status}: {s.note}"
    ops = f"{s.operators} ops" + (f" ({s.operators_after} written)" if s.operators_after != s.operators else "")
    line = f"subgraph {s.index}: {ops}, {peaks} ({change}), {status}, search {s.seconds:.2f} s"
    if s.note and s.optimal:
        line += f" [{s.note}]"
    if s.inplace_outputs and s.peak_shared < s.peak_after:
        n = s.inplace_outputs
        line += (f"; {format_bytes(s.peak_shared)} in TFLite Micro with our arena plan, where {n} "
                 f"output{'s' if n > 1 else ''} share{'' if n > 1 else 's'} a dying input's bytes")
    return line


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def arena_line(figures: "ArenaFigures | None", kernels: Sequence[str] = ("reference",)) -> str:
    """One line for the command's summary: the arena TFLite Micro will use
    (``kernels``: the libraries the plan is for, :attr:`.Target.kernels`)."""
    if figures is None:
        return "arena: not planned (a subgraph or type TFLite Micro cannot plan, or over 2 GiB)"

    def against_bound(head: int) -> str:
        if head == figures.lower_bound:
            return "at the lower bound"
        return f"lower bound {format_bytes(figures.lower_bound)}, +{head / figures.lower_bound - 1:.1%}"

    reason, measured = figures.reason, figures.measured
    if reason is PlanReason.LOOP_PINS:
        line = (f"arena: {format_bytes(figures.tflm_with_plan)} with our plan, which pins each WHILE loop's "
                f"carried maps to one offset ({figures.tensors} tensors) and leaves every other tensor to "
                f"TFLite Micro; peak with the loops {format_bytes(figures.lower_bound)}; TFLite Micro's own "
                f"plan {format_bytes(figures.tflm_greedy)}; plan written")
    elif reason is PlanReason.MODELLED_SMALLER and figures.overlapping:
        n = figures.overlapping
        verified = ("verified with TFLite Micro's reference kernels and CMSIS-NN, int8 1x1 convolutions left out"
                    if any(k.startswith("cmsis-nn") for k in kernels)
                    else "verified with TFLite Micro's reference kernels only")
        line = (f"arena: {format_bytes(figures.tflm_with_plan)} with our plan, where {n} output"
                f"{'s' if n > 1 else ''} overlap{'' if n > 1 else 's'} a dying input ({verified}; --no-overlap turns it off); "
                f"without overlaps at least "
                f"{format_bytes(figures.lower_bound)}; TFLite Micro's own plan {format_bytes(figures.tflm_greedy)}; "
                "plan written")
    elif reason is PlanReason.MODELLED_SMALLER:
        line = (f"arena: {format_bytes(figures.tflm_with_plan)} with our plan ({against_bound(figures.tflm_with_plan)}); "
                f"TFLite Micro's own plan {format_bytes(figures.tflm_greedy)}; plan written")
    elif reason is PlanReason.NOT_SMALLER:
        line = (f"arena: {format_bytes(figures.tflm_greedy)} with TFLite Micro's own plan "
                f"({against_bound(figures.tflm_greedy)}); ours is no smaller, not written")
        if figures.unmodelled:
            line += f" (simulated; {_unmodelled_phrase(figures.unmodelled)} not modelled)"
    elif reason is PlanReason.LOSES_WITH_LIBRARY:
        line = (f"arena: {format_bytes(figures.tflm_greedy)} with TFLite Micro's own plan "
                f"({against_bound(figures.tflm_greedy)}); ours, {format_bytes(figures.tflm_with_plan)} with the "
                "reference kernels, would need more with CMSIS-NN's scratch buffers, not written "
                "(--core names one Cortex-M to plan for its kernels alone)")
    elif reason is PlanReason.MEASURED_SMALLER:
        line = (f"arena: {format_bytes(measured.plan_head)} with our plan, measured in TFLite Micro; its own plan "
                f"{format_bytes(measured.own_head)}; plan written ({_unmodelled_phrase(figures.unmodelled)} "
                "not modelled: written after measuring)")
    elif reason is PlanReason.MEASURED_NOT_SMALLER:
        line = (f"arena: {format_bytes(measured.own_head)} with TFLite Micro's own plan, measured; ours measured "
                f"{format_bytes(measured.plan_head)}, not written ({_unmodelled_phrase(figures.unmodelled)} "
                "not modelled)")
    else:
        why = ("TFLite Micro cannot measure the model" if reason is PlanReason.NOT_MEASURABLE
               else "it was not measured" + (f" ({figures.measure_error})" if figures.measure_error else ""))
        line = (f"arena: {format_bytes(figures.tflm_greedy)} with TFLite Micro's own plan (simulated); not written: "
                f"{_unmodelled_phrase(figures.unmodelled)} not modelled and {why}")
    return line + (f" [{figures.note}]" if figures.note else "")


def _unmodelled_phrase(kernels: Sequence[str], most: int = 3) -> str:
    """``"CUSTOM:SignalRfft's buffers are"``, or ``"the buffers of A, B and 2
    more kernels are"``: the subject of the summary's reason."""
    if len(kernels) == 1:
        return f"{kernels[0]}'s buffers are"
    named = list(kernels[:most])
    rest = len(kernels) - len(named)
    names = ", ".join(named[:-1]) + " and " + named[-1] if not rest else ", ".join(named) + f" and {rest} more kernels"
    return f"the buffers of {names} are"
