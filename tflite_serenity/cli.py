"""The command line: ``python -m tflite_serenity IN OUT`` and ``... report MODEL``.

User errors (bad files, impossible options) print one line on stderr and exit
with code 2; nothing here prints a traceback for them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from .errors import SerenityError
from .fileio import read_bytes

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _report_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m tflite_serenity report",
                description="Show where a .tflite model's activation memory goes.")
    p.add_argument("model", help="the .tflite file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--no-tflm", action="store_true",
                   help="do not measure the arena with the TFLite Micro interpreter")
    return p


def _cmd_report(argv: Sequence[str]) -> int:
    from .report import build_report, report_json, report_text

    args = _report_parser().parse_args(argv)
    report = build_report(read_bytes(args.model), tflm=not args.no_tflm)
    if args.json:
        print(json.dumps(report_json(report), indent=2))
    else:
        sys.stdout.write(report_text(report, name=Path(args.model).name))
    return 0


def _cmd_pipeline(argv: Sequence[str]) -> int:
    from .pipeline.cli import run_pipeline

    return run_pipeline(argv)


COMMANDS = {"report": _cmd_report, "pipeline": _cmd_pipeline}

USAGE = """usage: python -m tflite_serenity IN.tflite OUT.tflite [options]            optimize a model
       python -m tflite_serenity report MODEL.tflite [--json]                  where the memory goes
       python -m tflite_serenity pipeline IN.tflite --segments K --out-dir D   split for K Edge TPUs

Run 'python -m tflite_serenity COMMAND --help' for a command's options.
"""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if argv else EXIT_USAGE
    command = COMMANDS.get(argv[0])
    try:
        if command is not None:
            return command(argv[1:])
        from .optimize_cli import run_optimize

        return run_optimize(argv)
    except SerenityError as err:
        print(f"tflite_serenity: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tflite_serenity: interrupted", file=sys.stderr)
        return 130


def console_main() -> None:
    """Entry point of the ``tflite-serenity`` console script."""
    sys.exit(main())
