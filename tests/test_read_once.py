"""The report command reads its input once, and builds each of its graphs once."""

from __future__ import annotations

import pytest

from tflite_serenity.cli import main
from tflite_serenity.model import schema
from tests.models import DATA


@pytest.fixture
def parses(monkeypatch):
    """Counts full reads of a flatbuffer into an object tree (``read_model``)."""
    calls = []
    original = schema.fb.ModelT.InitFromObj

    def counted(root):
        calls.append(root)
        return original(root)

    monkeypatch.setattr(schema.fb.ModelT, "InitFromObj", staticmethod(counted))
    return calls


def test_report_with_the_arena_size_and_a_header_reads_the_model_once(parses, tmp_path, capsys):
    header = tmp_path / "model_arena.h"
    assert main(["report", str(DATA / "small_cnn_int8.tflite"), "--tflm", "--no-tflm",
                 "--emit-header", str(header)]) == 0
    assert len(parses) == 1 and header.exists()


def test_report_with_a_picture_reads_its_input_once(parses, tmp_path, capsys):
    page = tmp_path / "memory.html"
    assert main(["report", str(DATA / "irregular_int8.tflite"), "--no-tflm", "--html", str(page),
                 "--quiet"]) == 0
    # once the input; the picture's optimized model is another file, read once too
    assert len(parses) == 2 and page.exists()
