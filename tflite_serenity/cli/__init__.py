"""The command line: ``python -m tflite_serenity [optimize] IN OUT``, ``... report MODEL``, ``... pipeline MODEL``.

One module a command (:mod:`.optimize`, :mod:`.report`, :mod:`.pipeline`),
each with ``parser()`` and ``run(argv)``; :mod:`.parser` holds what they share.
Text for people is made here and in :mod:`tflite_serenity.reporting`, nowhere
else. User errors (bad files, impossible options) print one line on stderr
and exit with code 2; nothing here prints a traceback for them.
"""

from __future__ import annotations

import sys
from typing import Sequence

from ..errors import SerenityError
from .parser import EXIT_USAGE, PROG, error_line

#: Each command's module, run with the arguments after its name.
COMMANDS = ("optimize", "report", "pipeline")


def _run(command: str, argv: Sequence[str]) -> int:
    # imported when run: `report` does not pay for the optimizer's imports, and so on
    if command == "report":
        from .report import run
    elif command == "pipeline":
        from .pipeline import run
    else:
        from .optimize import run
    return run(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command: the first argument names it, or else it is ``optimize`` (``IN OUT``).

    ``--help`` and ``--version`` alone belong to ``optimize``, whose help also
    lists the other commands."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        from .optimize import COMMANDS_HELP

        sys.stderr.write(f"usage: {PROG} [optimize] IN OUT [options]\n\n{COMMANDS_HELP}")
        return EXIT_USAGE
    try:
        if argv[0] in COMMANDS:
            return _run(argv[0], argv[1:])
        return _run("optimize", argv)
    except SerenityError as err:
        print(error_line(str(err)), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tflite_serenity: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of stdout went away (`| head -1`): the work is done, say nothing more
        _silence_stdout()
        return 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not fail again."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def console_main() -> None:
    """Entry point of the ``tflite-serenity`` console script."""
    sys.exit(main())
