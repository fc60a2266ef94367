"""``python -m tflite_serenity report MODEL``: where a model's activation memory goes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from ..errors import SerenityError
from ..fileio import read_bytes
from ..model import read_model
from .parser import PROG, Parser


def parser() -> argparse.ArgumentParser:
    p = Parser(prog=f"{PROG} report",
                description="Show where a .tflite model's activation memory goes.")
    p.add_argument("model", help="the .tflite file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--no-tflm", action="store_true",
                   help="do not run the TFLite Micro interpreter (with --tflm, the arena size is then estimated)")
    p.add_argument("--tflm", action="store_true",
                   help="print the arena_size to give TFLite Micro's MicroInterpreter: the smallest arena with "
                        "which the real interpreter allocates and invokes the model, plus a 16-byte margin (if "
                        "TFLite Micro cannot load the model: an estimate, and TFLite Micro's reason); then, for "
                        "--target cortex-m (the default), the 32-bit estimate")
    from .firmware import add_firmware_arguments

    add_firmware_arguments(p)  # --emit-header, --target, --emit-model-array, --allow-missing-ops
    p.add_argument("--plot", metavar="PNG",
                   help="draw live activation memory per step and TFLite Micro's arena layout into a PNG: the "
                        "model as given against the model as 'python -m tflite_serenity IN OUT' writes it with "
                        "default options (reordered, rewritten, in row strips, with its arena plan); needs "
                        "matplotlib: pip install 'tflite-serenity[plot]'")
    p.add_argument("--html", metavar="PATH",
                   help="the same picture as one self-contained HTML page (inline SVG, no matplotlib needed)")
    p.add_argument("--subgraph", type=int, default=0, metavar="N", help="the subgraph the pictures show (default: 0)")
    p.add_argument("--time-limit", type=float, default=30.0, metavar="SECONDS",
                   help="time for optimizing the model the pictures show as written, as the main command's "
                        "(default: 30)")
    p.add_argument("--quiet", action="store_true", help="show no progress while scheduling")
    return p


def run(argv: Sequence[str]) -> int:
    """Run the command; user errors raise :class:`~tflite_serenity.errors.SerenityError`."""
    from ..reporting import build_report, report_json, report_text

    args = parser().parse_args(argv)
    if args.plot:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:  # fail before any work
            raise SerenityError("--plot needs matplotlib: pip install 'tflite-serenity[plot]' (or use --html)")
    if not args.time_limit >= 0:  # also refuses nan
        raise SerenityError("--time-limit must be 0 or more seconds")
    from .firmware import check_firmware_arguments

    check_firmware_arguments(args)
    data, name = read_bytes(args.model), Path(args.model).name
    tree = read_model(data)  # read once: every figure below is of this tree (its graphs are built once too)
    size, target, written = None, None, []
    if args.tflm or args.emit_header:
        from ..tflm import tflm_arena_size
        from .firmware import firmware_operators, target_of, write_firmware_files

        operators = firmware_operators(args, data, tree)  # an operator no firmware can register stops here
        size = tflm_arena_size(data, measure=not args.no_tflm, fallback=True, tree=tree)
        target = target_of(args, size, data, tree)
        if args.emit_header and size.tflm_error:
            # A header is built into firmware: an unmeasured figure goes in only when asked for.
            raise SerenityError(f"no header written: TFLite Micro cannot load the model ({size.tflm_error}); "
                                f"add --no-tflm to write the estimate ({target.arena_size:,} bytes) instead")
        if args.emit_header:
            written += write_firmware_files(args, size, target, operators, data, name, tree)
    report = build_report(data, tflm=not args.no_tflm, tree=tree)
    if args.plot or args.html:
        written += _pictures(args, data, name, tree)
    if args.json:
        payload = report_json(report)
        if size is not None:
            from dataclasses import asdict

            payload["tflm_arena_size"] = asdict(size)
            payload["target_arena_size"] = {k: v for k, v in asdict(target).items() if k != "host"}
        if written:
            payload["written"] = written
        print(json.dumps(payload, indent=2))
    else:
        sys.stdout.write(report_text(report, name=name))
        if size is not None:
            from ..tflm import size_text
            from .firmware import target_text

            sys.stdout.write("\n" + size_text(size) + target_text(target))
        sys.stdout.writelines(f"wrote {path}\n" for path in written)
    return 0


def _pictures(args, data: bytes, name: str, tree) -> list[str]:
    """Draw the memory picture into the files --plot and --html ask for."""
    from ..plot import memory_picture, write_html, write_png
    from ..progress import progress_for

    with progress_for(args.quiet) as progress:
        picture = memory_picture(data, subgraph=args.subgraph, time_limit=args.time_limit, name=name,
                                 progress=progress, tree=tree)
    written = []
    if args.plot:
        write_png(picture, args.plot)
        written.append(args.plot)
    if args.html:
        write_html(picture, args.html)
        written.append(args.html)
    return written
