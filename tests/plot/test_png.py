"""The PNG drawn with matplotlib (the optional [plot] extra)."""

import struct
import sys

import pytest

from tflite_serenity import SerenityError
from tflite_serenity.plot import write_png


def test_png_is_a_picture_a_person_can_read(darts_picture, tmp_path):
    pytest.importorskip("matplotlib")
    write_png(darts_picture, tmp_path / "memory.png")
    data = (tmp_path / "memory.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 1200 and height >= 800
    assert len(data) > 60_000  # four panels of bands and rectangles, not a blank canvas


def test_without_matplotlib_the_png_fails_with_our_error(darts_picture, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(SerenityError, match="matplotlib"):
        write_png(darts_picture, tmp_path / "memory.png")
    assert not (tmp_path / "memory.png").exists()
