"""Scheduling progress on a terminal, for the command line.

:class:`TerminalProgress` is a ``progress`` callback for
:func:`tflite_serenity.schedule.search.schedule_graph`. It writes one status
line to stderr, rewritten in place, and only when that is useful: stderr is a
terminal, the work has run for more than a second, and the last update is
at least a fifth of a second old (a new stage, rewriting, shows at once). :meth:`TerminalProgress.close` erases the
line, so what the command prints after it (and anything piped or logged)
stays clean. The scheduler calls back between searches, so during one long
exact search the line stands still.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _kib(n: int) -> str:
    return f"{n / 1024:,.1f} KiB"


class TerminalProgress:
    """A rate-limited status line on stderr; use as a context manager.

    Parameters
    ----------
    stream : text stream, optional
        Where to write (default ``sys.stderr``).
    enabled : bool, optional
        Force on or off; by default on when ``stream`` is a terminal.
    delay : float, default 1.0
        Seconds after creation before anything is shown.
    interval : float, default 0.2
        Least seconds between two updates.
    clock : callable, optional
        Returns seconds (``time.monotonic``); for tests.
    """

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None, delay: float = 1.0,
                 interval: float = 0.2, clock=time.monotonic):
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.delay, self.interval, self.clock = delay, interval, clock
        self.started = clock()
        self.last = float("-inf")
        self.width = 0  # characters on the line now

    def __call__(self, info) -> None:
        """Take a :class:`~tflite_serenity.schedule.search.ProgressInfo`; show it if due."""
        if not self.enabled:
            return
        now = self.clock()
        stage = info.phase == "rewrite"
        # a new stage is shown at once: its line then stands while the stage runs
        if now - self.started < self.delay or (now - self.last < self.interval and not stage):
            return
        self.last = now
        figures = (f"best peak {_kib(info.best_peak)} (from {_kib(info.peak_before)}, bound "
                   f"{_kib(info.lower_bound)}), {now - self.started:.1f} s")
        if stage:
            line = f"rewriting subgraph {info.subgraph} (concat sites, row strips): from {figures}"
        else:
            piece = f"piece {info.piece + 1}/{info.pieces} {info.phase}" if info.piece >= 0 else "heuristics"
            line = f"scheduling subgraph {info.subgraph}: {piece}, {info.states:,} states, {figures}"
        self._write(line)

    def _write(self, line: str) -> None:
        pad = max(0, self.width - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self.width = len(line)

    def close(self) -> None:
        """Erase the status line, if one is shown."""
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0

    def __enter__(self) -> "TerminalProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_for(quiet: bool) -> TerminalProgress:
    """The CLI's progress display: silent with ``--quiet``, else on when stderr is a terminal."""
    return TerminalProgress(enabled=False if quiet else None)
