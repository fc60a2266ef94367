"""The memory picture as SVG, and a self-contained HTML page around it.

Written by hand so it needs nothing beyond the standard library: no
matplotlib, no scripts, no external fonts or files. Every band and rectangle
carries a ``<title>``, so hovering in a browser names the tensor.
"""

from __future__ import annotations

import html
import math
import os
from typing import TYPE_CHECKING

from .colors import OTHER

if TYPE_CHECKING:
    from .picture import MemoryPicture, Timeline

WIDTH = 1200
LEFT, GAP, RIGHT = 84, 92, 24
PANEL_W = (WIDTH - LEFT - GAP - RIGHT) // 2
TOP, PANEL_H, ROW_GAP = 112, 250, 96
LEGEND_Y = TOP + 2 * PANEL_H + ROW_GAP + 84
FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"


def kib(n: float) -> str:
    """Bytes for labels, in KiB as the axes are: ``160.0 KiB`` (``37 B`` below 1 KiB)."""
    return f"{n:,.0f} B" if n < 1024 else f"{n / 1024:,.1f} KiB"


def nice_step(span: float, count: int = 5) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about ``count`` ticks."""
    if span <= 0:
        return 1.0
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


def short(name: str, limit: int = 46) -> str:
    """Converter names are long paths; their end says the most."""
    return name if len(name) <= limit else "…" + name[-(limit - 1):]


class _Panel:
    """Maps steps and bytes to pixels inside one panel."""

    def __init__(self, x0: int, y0: int, steps: int, ymax: float):
        self.x0, self.y0, self.steps, self.ymax = x0, y0, max(steps, 1), max(ymax, 1.0)

    def x(self, step: float) -> float:
        return self.x0 + PANEL_W * step / self.steps

    def y(self, value: float) -> float:
        return self.y0 + PANEL_H - PANEL_H * value / self.ymax


def _axes(out: list[str], p: _Panel, title: str, ylabel: str) -> None:
    e = html.escape
    out.append(f"<text x='{p.x0}' y='{p.y0 - 12}' font-size='14' font-weight='bold'>{e(title)}</text>")
    step = nice_step(p.ymax / 1024)
    k = 0
    while k * step * 1024 <= p.ymax * 1.0001:
        value = k * step * 1024
        y = p.y(value)
        out.append(f"<line x1='{p.x0}' y1='{y:.1f}' x2='{p.x0 + PANEL_W}' y2='{y:.1f}' stroke='#e6e6e6'/>")
        label = f"{k * step:.6g}"
        out.append(f"<text x='{p.x0 - 6}' y='{y + 4:.1f}' font-size='11' text-anchor='end'>{label}</text>")
        k += 1
    xstep = max(1, int(nice_step(p.steps, 8)))
    for s in range(0, p.steps + 1, xstep):
        x = p.x(s)
        out.append(f"<line x1='{x:.1f}' y1='{p.y0 + PANEL_H}' x2='{x:.1f}' y2='{p.y0 + PANEL_H + 4}' stroke='#444'/>")
        out.append(f"<text x='{x:.1f}' y='{p.y0 + PANEL_H + 17}' font-size='11' text-anchor='middle'>{s}</text>")
    out.append(f"<rect x='{p.x0}' y='{p.y0}' width='{PANEL_W}' height='{PANEL_H}' fill='none' stroke='#444'/>")
    cy = p.y0 + PANEL_H / 2
    out.append(f"<text x='{p.x0 - 52}' y='{cy:.1f}' font-size='12' text-anchor='middle' "
               f"transform='rotate(-90 {p.x0 - 52} {cy:.1f})'>{e(ylabel)}</text>")
    out.append(f"<text x='{p.x0 + PANEL_W / 2:.1f}' y='{p.y0 + PANEL_H + 36}' font-size='12' "
               f"text-anchor='middle'>step (operator, in execution order)</text>")


def _live_panel(out: list[str], pic: MemoryPicture, t: Timeline, p: _Panel) -> None:
    e = html.escape
    _axes(out, p, f"Live activations, {t.label}: peak {kib(t.peak)}", "live activation memory (KiB)")
    base = [0] * t.steps
    for label, color, row in pic.bands(t):
        if not any(row):
            continue
        top = [b + v for b, v in zip(base, row)]
        points = []
        for s in range(t.steps):
            points.append(f"{p.x(s):.1f},{p.y(top[s]):.1f} {p.x(s + 1):.1f},{p.y(top[s]):.1f}")
        for s in reversed(range(t.steps)):
            points.append(f"{p.x(s + 1):.1f},{p.y(base[s]):.1f} {p.x(s):.1f},{p.y(base[s]):.1f}")
        out.append(f"<polygon points='{' '.join(points)}' fill='{color}' stroke='{color}' stroke-width='0.5'>"
                   f"<title>{e(label)}: up to {kib(max(row))}</title></polygon>")
        base = top
    # the lower bound no order of this subgraph can beat
    yb = p.y(t.lower_bound)
    out.append(f"<line x1='{p.x0}' y1='{yb:.1f}' x2='{p.x0 + PANEL_W}' y2='{yb:.1f}' stroke='#333' "
               f"stroke-dasharray='2,3'/>")
    out.append(f"<text x='{p.x0 + PANEL_W - 4}' y='{yb + 13:.1f}' font-size='11' text-anchor='end' fill='#333'>"
               f"lower bound {kib(t.lower_bound)}</text>")
    # the peak
    xp, yp = p.x(t.peak_step + 0.5), p.y(t.peak)
    out.append(f"<line x1='{xp:.1f}' y1='{p.y0 + PANEL_H}' x2='{xp:.1f}' y2='{yp:.1f}' stroke='#c00' "
               f"stroke-dasharray='5,3' stroke-width='1.5'/>")
    out.append(f"<circle cx='{xp:.1f}' cy='{yp:.1f}' r='4' fill='#c00'/>")
    anchor, dx = ("start", 8) if t.peak_step < t.steps / 2 else ("end", -8)
    out.append(f"<text x='{xp + dx:.1f}' y='{max(p.y0 + 14, yp - 8):.1f}' font-size='12' font-weight='bold' "
               f"fill='#c00' text-anchor='{anchor}'>peak {kib(t.peak)} at step {t.peak_step} "
               f"({e(t.peak_operator)})</text>")


def _arena_panel(out: list[str], pic: MemoryPicture, t: Timeline, p: _Panel) -> None:
    e = html.escape
    _axes(out, p, f"Arena, {t.label}: {kib(t.arena_bytes)} ({t.planner})", "offset in the arena (KiB)")
    for life, offset in zip(t.lifetimes, t.offsets):
        if life.size == 0:
            continue
        x, w = p.x(life.start), p.x(life.end + 1) - p.x(life.start)
        y, h = p.y(offset + life.size), p.y(offset) - p.y(offset + life.size)
        color = pic.color(life.tensor, t)
        stroke = "#8a8a8a" if color == OTHER else "#ffffff"
        name = pic.name(life.tensor, t)
        out.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{w:.1f}' height='{max(h, 0.5):.1f}' fill='{color}' "
                   f"stroke='{stroke}' stroke-width='0.6'><title>{e(name)}: {life.size:,} B at offset "
                   f"{offset:,}, steps {life.start}-{life.end}</title></rect>")
    y = p.y(t.arena_bytes)
    out.append(f"<line x1='{p.x0}' y1='{y:.1f}' x2='{p.x0 + PANEL_W}' y2='{y:.1f}' stroke='#c00' "
               f"stroke-dasharray='5,3'/>")


def subtitle(pic: MemoryPicture, width: int = 150) -> list[str]:
    """The lines under the title: what each side shows, the status, the arenas."""
    c, o = pic.converter, pic.optimized
    status = "optimal (proven lowest peak)" if pic.optimal else "best found within the time limit"
    text = (f"Left: the model as given, {c.steps} operator(s). Right: {pic.drawn}; {o.steps} operator(s). "
            f"Written order {status}; no order of the written subgraph can go below {kib(pic.lower_bound)}. "
            f"Arena head (TFLite Micro, simulated): {kib(c.arena_bytes)} → {kib(o.arena_bytes)}.")
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [line] if line else lines


def picture_svg(pic: MemoryPicture) -> str:
    """The picture as one ``<svg>`` element (scales to its container's width)."""
    e = html.escape
    notes = subtitle(pic)
    shift = 18 * max(0, len(notes) - 2)  # room for a third line and more
    legend_rows = (len(pic.named) + 2) // 2
    height = LEGEND_Y + shift + 22 * legend_rows + 16
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {WIDTH} {height}' width='{WIDTH}' "
           f"height='{height}' {FONT} role='img'>",
           f"<rect width='{WIDTH}' height='{height}' fill='white'/>"]
    c, o = pic.converter, pic.optimized
    where = f"subgraph {pic.subgraph}" + (f' "{pic.subgraph_name}"' if pic.subgraph_name else "")
    out.append(f"<text x='{LEFT - 60}' y='34' font-size='20' font-weight='bold'>{e(pic.model_name)}, {e(where)}: "
               f"peak {kib(c.peak)} → {kib(o.peak)} ({pic.ratio:.2f}x lower)</text>")
    for k, note in enumerate(notes):
        out.append(f"<text x='{LEFT - 60}' y='{58 + 18 * k}' font-size='13' fill='#444'>{e(note)}</text>")
    ymax_live = max(c.peak, o.peak, c.lower_bound, o.lower_bound) * 1.12
    ymax_arena = max(c.arena_bytes, o.arena_bytes, 1) * 1.05
    for col, t in enumerate((c, o)):
        x0 = LEFT + col * (PANEL_W + GAP)
        _live_panel(out, pic, t, _Panel(x0, TOP + shift, t.steps, ymax_live))
        _arena_panel(out, pic, t, _Panel(x0, TOP + shift + PANEL_H + ROW_GAP, t.steps, ymax_arena))
    out.append(f"<text x='{LEFT - 60}' y='{LEGEND_Y + shift - 22}' font-size='13' font-weight='bold'>Largest "
               f"tensors alive at a peak</text>")
    entries = [(n.color, f"{short(n.name)}  {'x'.join(map(str, n.shape)) or 'scalar'} {n.dtype}, {kib(n.bytes)}")
               for n in pic.named] + [(OTHER, "other tensors")]
    for k, (color, text) in enumerate(entries):
        x = LEFT - 60 + (k % 2) * (WIDTH // 2)
        y = LEGEND_Y + shift + 22 * (k // 2)
        out.append(f"<rect x='{x}' y='{y - 11}' width='14' height='14' fill='{color}' stroke='#666' "
                   f"stroke-width='0.5'/>")
        out.append(f"<text x='{x + 20}' y='{y + 1}' font-size='12'>{e(text)}</text>")
    out.append("</svg>")
    return "\n".join(out)


def picture_html(pic: MemoryPicture) -> str:
    """A single self-contained HTML page: the figures as a table and the SVG picture."""
    e = html.escape
    c, o = pic.converter, pic.optimized
    rows = [
        ("peak of live activations", kib(c.peak), kib(o.peak)),
        ("at step (operator)", f"{c.peak_step} ({c.peak_operator})", f"{o.peak_step} ({o.peak_operator})"),
        ("operators", f"{c.steps}", f"{o.steps}"),
        ("arena head", f"{kib(c.arena_bytes)} ({c.planner})", f"{kib(o.arena_bytes)} ({o.planner})"),
    ]
    table = "\n".join(f"<tr><th>{e(a)}</th><td>{e(b)}</td><td>{e(d)}</td></tr>" for a, b, d in rows)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{e(pic.model_name)}: activation memory</title>
<style>
body {{ font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 24px; color: #222; max-width: 1240px; }}
table {{ border-collapse: collapse; margin: 12px 0 20px; }}
th, td {{ text-align: left; padding: 4px 14px 4px 0; border-bottom: 1px solid #ddd; }}
thead th {{ border-bottom: 2px solid #888; }}
svg {{ max-width: 100%; height: auto; }}
p.note {{ color: #555; font-size: 13px; }}
</style>
</head>
<body>
<h1>{e(pic.model_name)}: where the activation memory goes</h1>
<table>
<thead><tr><th></th><th>as given</th><th>as written</th></tr></thead>
<tbody>
{table}
</tbody>
</table>
<p>Right: the model {e(pic.drawn)}.
Written order: {'optimal, proven' if pic.optimal else 'best found within the time limit'};
{pic.ratio:.2f}x lower peak; no order of the written subgraph can go below {e(kib(pic.lower_bound))}.</p>
{picture_svg(pic)}
<p class="note">Top: bytes of activation tensors alive at each step, stacked by tensor; the largest tensors
alive at a peak have their own colour. Bottom: where each tensor sits in TFLite Micro's arena while it is
alive (its planner simulated, with the model's offline plan where it has one; scratch buffers not drawn).
Written by tflite-serenity; hover over a band or rectangle to name its tensor.</p>
</body>
</html>
"""


def write_html(pic: MemoryPicture, path: str | os.PathLike) -> None:
    """Write :func:`picture_html` to ``path`` (whole or not at all)."""
    from ..fileio import write_atomic

    write_atomic(path, picture_html(pic).encode("utf-8"))


def write_svg(pic: MemoryPicture, path: str | os.PathLike) -> None:
    """Write :func:`picture_svg` to ``path`` as a standalone SVG file."""
    from ..fileio import write_atomic

    write_atomic(path, ("<?xml version='1.0' encoding='utf-8'?>\n" + picture_svg(pic)).encode("utf-8"))
