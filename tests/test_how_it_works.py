"""docs/how-it-works.md draws the one path; every module and function it names exists."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tflite_serenity"
TEXT = (ROOT / "docs" / "how-it-works.md").read_text(encoding="utf-8")
DRAWING = TEXT.split("```")[1]


def test_every_file_the_page_names_is_in_the_package():
    named = {n.removeprefix("tflite_serenity/")
             for n in re.findall(r"\b((?:[a-z_]+/)*[a-z_]+\.(?:py|pyx))\b", TEXT)}
    # a bare name in the table's parentheses is beside the module before it (schedule/)
    missing = sorted(n for n in named if not (PACKAGE / n).exists() and not (PACKAGE / "schedule" / n).exists())
    assert named and missing == []


def test_every_function_the_drawing_names_is_where_it_says():
    # "model/io.read_model" -> tflite_serenity.model.io.read_model
    named = set(re.findall(r"\b((?:[a-z_]+/)*[a-z_]+)\.([a-z_]+)\b(?!\.py)", DRAWING))
    missing = []
    for module, function in named:
        if function in ("py", "pyx", "tflite"):
            continue
        mod = importlib.import_module("tflite_serenity." + module.replace("/", "."))
        if not hasattr(mod, function):
            missing.append(f"{module}.{function}")
    assert len(named) > 8 and missing == []
