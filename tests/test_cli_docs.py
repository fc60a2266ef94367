"""docs/cli.md is what scripts/make_cli_docs.py makes of the parsers today."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_script():
    spec = importlib.util.spec_from_file_location("make_cli_docs", ROOT / "scripts" / "make_cli_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_matches_the_parsers():
    expected = load_script().render()
    actual = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/cli.md is stale: run python scripts/make_cli_docs.py"


def test_every_flag_of_every_command_is_documented():
    from tflite_serenity.cli.report import parser as _report_parser

    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for action in _report_parser()._actions:
        for flag in action.option_strings:
            assert f"`{flag}" in page, flag
