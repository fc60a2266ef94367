"""The SVG and the self-contained HTML page, written without matplotlib."""

import dataclasses
import re
import xml.etree.ElementTree as ET

from tflite_serenity.plot import picture_html, picture_svg, write_html

SVG = "{http://www.w3.org/2000/svg}"


def test_html_page_is_self_contained_and_draws_every_tensor(darts_picture, tmp_path):
    write_html(darts_picture, tmp_path / "memory.html")
    page = (tmp_path / "memory.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 1
    assert not re.search(r"<script|<link|<img|\bsrc=|\bhref=|@import|url\(", page)  # nothing fetched
    assert len(page) > 50_000
    (svg,) = re.findall(r"<svg.*</svg>", page, flags=re.S)
    root = ET.fromstring(svg)
    rects = root.findall(f"{SVG}rect")
    polygons = root.findall(f"{SVG}polygon")
    lifetimes = len(darts_picture.converter.lifetimes) + len(darts_picture.optimized.lifetimes)
    assert len(rects) >= lifetimes  # one rectangle per tensor per arena panel, plus frames and legend
    assert len(polygons) >= 2 * len(darts_picture.named)  # stacked bands, both orders
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for words in ("peak 76.1 KiB at step 58", "peak 68.0 KiB at step 33", "live activation memory (KiB)",
                  "offset in the arena (KiB)", "step (operator, in execution order)", "lower bound 64.0 KiB",
                  "other tensors"):
        assert words in texts, words
    assert all(n.name[-20:] in texts for n in darts_picture.named)  # the legend names the top tensors


def test_tensor_names_are_escaped(darts_picture):
    first = dataclasses.replace(darts_picture.named[0], name="a<b>&c'd")
    picture = dataclasses.replace(darts_picture, named=(first,) + darts_picture.named[1:])
    ET.fromstring(picture_svg(picture))  # still well-formed XML
    assert "a&lt;b&gt;&amp;c" in picture_html(picture)


def test_jupyter_shows_the_picture_as_svg(darts_picture):
    assert darts_picture._repr_svg_().startswith("<svg")
