"""The memory picture drawn with matplotlib (the optional ``[plot]`` extra).

Uses matplotlib's object API with the Agg canvas, never ``pyplot``: drawing
here leaves a notebook's backend and current figure alone.
"""

from __future__ import annotations

import os

from ..errors import RuntimeUnavailableError
from .colors import OTHER
from .picture import MemoryPicture, Timeline
from .svg import kib, short, subtitle


def figure(pic: MemoryPicture):
    """A ``matplotlib.figure.Figure`` of the picture (2 x 2 panels and a legend)."""
    try:
        from matplotlib.collections import PatchCollection
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch, Rectangle
        from matplotlib.ticker import MaxNLocator
    except ImportError as err:
        raise RuntimeUnavailableError(
            "drawing a PNG needs matplotlib: pip install 'tflite-serenity[plot]' (or use --html)") from err

    c, o = pic.converter, pic.optimized
    fig = Figure(figsize=(14, 9.6), layout="constrained")
    axes = fig.subplots(2, 2)
    where = f"subgraph {pic.subgraph}" + (f' "{pic.subgraph_name}"' if pic.subgraph_name else "")
    fig.suptitle(f"{pic.model_name}, {where}: peak {kib(c.peak)} → {kib(o.peak)} ({pic.ratio:.2f}x lower)\n"
                 + "\n".join(subtitle(pic, width=170)), fontsize=12)
    live_top = max(c.peak, o.peak, c.lower_bound, o.lower_bound) * 1.12 / 1024
    arena_top = max(c.arena_bytes, o.arena_bytes, 1) * 1.05 / 1024

    for col, t in enumerate((c, o)):
        _live(axes[0][col], pic, t, live_top)
        _arena(axes[1][col], pic, t, arena_top, Rectangle, PatchCollection)
    for ax in axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))

    handles = [Patch(facecolor=n.color, edgecolor="#666",
                     label=f"{short(n.name)}  {'x'.join(map(str, n.shape)) or 'scalar'} {n.dtype}, {kib(n.bytes)}")
               for n in pic.named]
    handles.append(Patch(facecolor=OTHER, edgecolor="#666", label="other tensors"))
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=9, frameon=False,
               title="Largest tensors alive at a peak", title_fontsize=10)
    return fig


def _live(ax, pic: MemoryPicture, t: Timeline, top: float) -> None:
    steps = list(range(t.steps + 1))
    base = [0.0] * t.steps
    for _, color, row in pic.bands(t):
        if not any(row):
            continue
        upper = [b + v / 1024 for b, v in zip(base, row)]
        ax.fill_between(steps, base + base[-1:], upper + upper[-1:], step="post", color=color, linewidth=0)
        base = upper
    ax.axhline(t.lower_bound / 1024, color="#333", linestyle=":", linewidth=1)
    ax.text(t.steps, t.lower_bound / 1024, f"lower bound {kib(t.lower_bound)} ", ha="right", va="top",
            fontsize=9, color="#333")
    x, y = t.peak_step + 0.5, t.peak / 1024
    ax.vlines(x, 0, y, colors="#c00", linestyles="--", linewidth=1.5)
    ax.plot([x], [y], "o", color="#c00")
    ax.annotate(f"peak {kib(t.peak)} at step {t.peak_step} ({t.peak_operator})", (x, y),
                xytext=(8 if t.peak_step < t.steps / 2 else -8, 6), textcoords="offset points",
                ha="left" if t.peak_step < t.steps / 2 else "right", color="#c00", fontweight="bold", fontsize=10)
    ax.set(xlim=(0, max(t.steps, 1)), ylim=(0, top), xlabel="step (operator, in execution order)",
           ylabel="live activation memory (KiB)", title=f"Live activations, {t.label}: peak {kib(t.peak)}")
    ax.title.set(fontweight="bold", fontsize=11)
    ax.grid(axis="y", color="#e6e6e6")
    ax.set_axisbelow(True)


def _arena(ax, pic: MemoryPicture, t: Timeline, top: float, Rectangle, PatchCollection) -> None:
    rects, faces, edges = [], [], []
    for life, offset in zip(t.lifetimes, t.offsets):
        if life.size == 0:
            continue
        rects.append(Rectangle((life.start, offset / 1024), life.end + 1 - life.start, life.size / 1024))
        color = pic.color(life.tensor, t)
        faces.append(color)
        edges.append("#8a8a8a" if color == OTHER else "white")
    ax.add_collection(PatchCollection(rects, facecolors=faces, edgecolors=edges, linewidths=0.5))
    ax.axhline(t.arena_bytes / 1024, color="#c00", linestyle="--", linewidth=1)
    ax.set(xlim=(0, max(t.steps, 1)), ylim=(0, top), xlabel="step (operator, in execution order)",
           ylabel="offset in the arena (KiB)", title=f"Arena, {t.label}: {kib(t.arena_bytes)} ({t.planner})")
    ax.title.set(fontweight="bold", fontsize=11)
    ax.grid(axis="y", color="#e6e6e6")
    ax.set_axisbelow(True)


def write_png(pic: MemoryPicture, path: str | os.PathLike, *, dpi: int = 110) -> None:
    """Draw the picture into a PNG file at ``path`` (whole or not at all)."""
    import io

    from ..fileio import write_atomic

    fig = figure(pic)  # raises our error first if matplotlib is missing
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    write_atomic(path, buffer.getvalue())
