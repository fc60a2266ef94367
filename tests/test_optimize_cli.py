"""The optimize command's progress display: wired to the scheduler, erased before the summary."""

from __future__ import annotations

import io

import tflite_serenity.progress as progress_module
from tflite_serenity.cli.optimize import run as run_optimize
from tflite_serenity.progress import TerminalProgress
from tests.models import DATA


def test_progress_is_shown_while_scheduling_and_erased_after(tmp_path, monkeypatch, capsys):
    screen = io.StringIO()
    made = []

    def terminal(quiet):
        made.append(TerminalProgress(screen, enabled=not quiet, delay=0, interval=0))
        return made[-1]

    monkeypatch.setattr(progress_module, "progress_for", terminal)
    assert run_optimize([str(DATA / "darts_tiny_float.tflite"), str(tmp_path / "out.tflite")]) == 0
    shown = screen.getvalue()
    assert "scheduling subgraph 0" in shown and "best peak" in shown
    assert shown.endswith("\r") and made[0].width == 0  # the line is erased
    assert "scheduling" not in capsys.readouterr().out  # the summary on stdout stays clean


def test_quiet_shows_nothing(tmp_path, monkeypatch):
    screen = io.StringIO()
    monkeypatch.setattr(progress_module, "progress_for",
                        lambda quiet: TerminalProgress(screen, enabled=not quiet, delay=0, interval=0))
    assert run_optimize([str(DATA / "darts_tiny_float.tflite"), str(tmp_path / "out.tflite"), "--quiet"]) == 0
    assert screen.getvalue() == ""


def test_learned_warm_start_gives_the_same_answer(tmp_path):
    from tflite_serenity import optimize
    from tests.models import load

    data = load("randwire_tiny_float.tflite")
    plain, warm = optimize(data), optimize(data, warm_start="learned")
    assert [(s.peak_after, s.optimal) for s in warm.subgraphs] == [(s.peak_after, s.optimal) for s in plain.subgraphs]


def test_the_summary_counts_the_outputs_written_in_place(tmp_path):
    import subprocess
    import sys

    from tests.models import DATA

    out = tmp_path / "out.tflite"
    proc = subprocess.run([sys.executable, "-m", "tflite_serenity", str(DATA / "inplace_float.tflite"), str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "where 3 outputs share a dying input's bytes" in proc.stdout
    plain = subprocess.run([sys.executable, "-m", "tflite_serenity", str(DATA / "inplace_float.tflite"), str(out),
                            "--no-shared-outputs"], capture_output=True, text=True, timeout=120)
    assert plain.returncode == 0 and "in place" not in plain.stdout and "1.00x" not in plain.stdout


def test_pointer_width_is_32_or_64(tmp_path, capsys):
    import pytest

    from tflite_serenity.errors import SerenityError
    from tflite_serenity.options import Target

    out = tmp_path / "out.tflite"
    assert run_optimize([str(DATA / "swiftnet_tiny_int8.tflite"), str(out), "--pointer-width", "64", "--quiet"]) == 0
    with pytest.raises(SystemExit) as exit_:
        run_optimize([str(DATA / "swiftnet_tiny_int8.tflite"), str(out), "--pointer-width", "16"])
    assert exit_.value.code == 2 and "--pointer-width" in capsys.readouterr().err
    with pytest.raises(SerenityError, match="--pointer-width must be 32 or 64"):
        Target(pointer_width=16)


def test_the_summary_gives_search_seconds_per_subgraph_and_the_whole_time_once(tmp_path, capsys):
    assert run_optimize([str(DATA / "while_float.tflite"), str(tmp_path / "out.tflite"), "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    subgraphs = [line for line in lines if line.startswith("subgraph")]
    assert len(subgraphs) == 3 and all(", search " in line and line.endswith(" s") for line in subgraphs)
    assert lines[-1].startswith(f"wrote {tmp_path / 'out.tflite'} (optimized in ") and lines[-1].endswith(" s)")
    assert sum(" s)" in line for line in lines) == 1
