"""What every command of the command line shares: its name, its one-line messages, its exit code.

A leaf module, so the router (``cli/__init__.py``) and each command's module
(``optimize.py``, ``report.py``, ``pipeline.py``) import it, not each other.
"""

from __future__ import annotations

import argparse
import sys

PROG = "python -m tflite_serenity"
#: Exit code of a usage error, or of a model or option the command cannot handle.
EXIT_USAGE = 2


def error_line(message: str) -> str:
    """``tflite_serenity: error: MESSAGE``: the one line every command prints for a user's error."""
    return f"tflite_serenity: error: {message}"


def warn(message: str) -> None:
    """Print ``tflite_serenity: warning: MESSAGE`` on stderr: something to know; the command goes on."""
    print(f"tflite_serenity: warning: {message}", file=sys.stderr)


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one :func:`error_line`, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, error_line(f"{message} (see {self.prog} --help)") + "\n")
