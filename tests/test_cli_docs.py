"""docs/cli.md is what scripts/tools/make_cli_docs.py makes of the parsers today."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_matches_the_parsers():
    # the generator itself, run as anyone runs it from the repository root
    proc = subprocess.run([sys.executable, "-m", "scripts.tools.make_cli_docs", "--check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_every_flag_of_every_command_is_documented():
    from tflite_serenity.cli.report import parser as _report_parser

    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for action in _report_parser()._actions:
        for flag in action.option_strings:
            assert f"`{flag}" in page, flag
