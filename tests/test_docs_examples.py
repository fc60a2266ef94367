"""The console examples in README.md and docs/getting-started.md are real output of the code today."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECONDS = re.compile(r"\b\d+\.\d+ s\b")  # run times differ from run to run


def examples(page: Path) -> list[tuple[str, str]]:
    """(command, printed output) for every command in a console block that shows its output."""
    pairs = []
    for block in re.findall(r"```console\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S):
        command, output = None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command and output:
                    pairs.append((command, "\n".join(output).strip("\n")))
                command, output = line[2:], []
            else:
                output.append(line)
        if command and output:
            pairs.append((command, "\n".join(output).strip("\n")))
    return pairs


@pytest.mark.skipif(importlib.util.find_spec("tflite_micro") is None, reason="the examples measure TFLite Micro")
@pytest.mark.parametrize("page", ["README.md", "docs/getting-started.md"])
def test_console_examples_print_what_the_page_shows(page, tmp_path):
    (tmp_path / "tests").symlink_to(ROOT / "tests")  # the commands name tests/data/... from the repository root
    pairs = examples(ROOT / page)
    assert pairs, f"{page} shows no example output"
    for command, expected in pairs:
        assert command.startswith("python -m tflite_serenity "), command
        shell = f"{sys.executable} {command[len('python '):]}"
        proc = subprocess.run(shell, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert SECONDS.sub("N s", proc.stdout.strip("\n")) == SECONDS.sub("N s", expected), command
