"""The terminal progress line: only on a terminal, after a second, rate-limited, erased at the end."""

import io

from tflite_serenity.progress import TerminalProgress, progress_for
from tflite_serenity.schedule.search import ProgressInfo


def info(states: int = 10, best: int = 4096) -> ProgressInfo:
    return ProgressInfo(subgraph=0, phase="exact", piece=0, pieces=2, states=states, best_peak=best,
                        lower_bound=2048, peak_before=8192, seconds=0.0)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_nothing_is_written_when_the_stream_is_not_a_terminal():
    stream = io.StringIO()
    progress = TerminalProgress(stream, delay=0)
    progress(info())
    progress.close()
    assert stream.getvalue() == ""


def test_shows_after_the_delay_at_most_every_interval_and_erases_itself():
    stream, clock = io.StringIO(), Clock()
    progress = TerminalProgress(stream, enabled=True, delay=1.0, interval=0.2, clock=clock)
    progress(info(states=1))
    assert stream.getvalue() == ""  # the first second stays quiet
    clock.now = 1.0
    progress(info(states=1234, best=3072))
    clock.now = 1.1
    progress(info(states=5678))  # too soon: skipped
    shown = stream.getvalue()
    assert shown.count("\r") == 1 and "1,234 states" in shown and "best peak 3.0 KiB" in shown
    assert "5,678" not in shown
    progress.close()
    assert stream.getvalue().endswith("\r" + " " * len(shown.strip("\r")) + "\r")


def test_quiet_turns_the_display_off():
    assert progress_for(quiet=True).enabled is False


def test_rewriting_shows_at_once_as_a_stage_of_its_own():
    stream, clock = io.StringIO(), Clock()
    progress = TerminalProgress(stream, enabled=True, delay=1.0, interval=0.2, clock=clock)
    clock.now = 1.0
    progress(info())
    clock.now = 1.05  # within the interval, but a new stage
    progress(ProgressInfo(subgraph=0, phase="rewrite", piece=-1, pieces=0, states=10, best_peak=4096,
                          lower_bound=2048, peak_before=8192, seconds=1.0))
    assert "rewriting subgraph 0" in stream.getvalue().rsplit("\r", 1)[-1]


def test_optimize_reports_the_rewriting_stage_to_its_progress_callback():
    from tests.models import DATA
    from tflite_serenity import optimize

    phases = []
    optimize(DATA / "irregular_int8.tflite", progress=lambda i: phases.append(i.phase))
    assert "rewrite" in phases and phases.index("rewrite") > 0
