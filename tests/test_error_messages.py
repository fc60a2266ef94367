"""Error messages speak to someone at a command line, not to a Python caller."""

import ast
import re
from pathlib import Path

import tflite_serenity

PACKAGE = Path(tflite_serenity.__file__).parent
PYTHON_ARGUMENT = re.compile(r"\b[a-z_]+=(?:True|False|None)\b")  # measure=False, tflm=True, ...


def _raised_texts():
    """(file:line, text) of every string literal inside a ``raise`` of the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                for part in ast.walk(node.exc):
                    if isinstance(part, ast.Constant) and isinstance(part.value, str):
                        yield f"{path.relative_to(PACKAGE)}:{node.lineno}", part.value


def test_no_error_message_names_a_python_keyword_argument():
    found = [(where, text) for where, text in _raised_texts() if PYTHON_ARGUMENT.search(text)]
    assert found == []


def test_the_scan_sees_the_messages_it_checks():
    texts = [text for _, text in _raised_texts()]
    assert any("its arena can only be estimated" in t for t in texts)
    assert PYTHON_ARGUMENT.search("without running it (--no-tflm, measure=False)")


def test_only_the_command_line_helper_writes_the_error_prefix():
    # every command's error line comes from cli.parser.error_line: one prefix, one place
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "error:" in node.value:
                found.append(str(path.relative_to(PACKAGE)))
    assert set(found) == {"cli/parser.py"}
