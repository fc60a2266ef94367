"""What overlapped placement could buy: a live-bytes estimate.

For every operator with a rule in :mod:`.overlap` whose output may overlap
an input that dies at that operator, the step's input and output need
their joint footprint instead of their sum; every other step is unchanged.
The peak over steps of these live bytes is a lower-bound style estimate of
the head an overlap-aware planner could reach (a real placement may leave
holes, as TFLite Micro's greedy planner already does on some models). It
counts only one overlapped pair per operator and changes no operator order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection

from tflite_serenity.arena.blocks import DEFAULT_ALIGNMENT, aligned
from tflite_serenity.tflm.buffers import model_buffers
from tflite_serenity.arena.overlap import KINDS, InputOverlap, operator_overlaps
from tflite_serenity.graph import build_graphs


@dataclass(frozen=True)
class OverlapEstimate:
    """Live-bytes peaks without and with overlaps (subgraph 0, stored order).

    Attributes
    ----------
    live_peak : int
        Peak of aligned live bytes today (every tensor apart).
    overlapped_peak : int
        The same peak with each chosen pair at its joint footprint.
    chosen : tuple of InputOverlap
        One per operator that overlaps, with the input it overlaps.
    saved : dict
        Operator index -> bytes its step saves.
    """

    live_peak: int
    overlapped_peak: int
    chosen: tuple[InputOverlap, ...]
    saved: dict[int, int]


def pair_saving(overlap: InputOverlap, alignment: int = DEFAULT_ALIGNMENT) -> int:
    """Aligned bytes an overlapped pair saves at its step: the two aligned
    sizes minus the aligned footprint at the best aligned shift."""
    s = overlap.shifts
    joint = aligned(s.footprint(s.best_shift(alignment)), alignment)
    return max(0, aligned(s.input_bytes, alignment) + aligned(s.output_bytes, alignment) - joint)


def estimate(model, alignment: int = DEFAULT_ALIGNMENT, kinds: Collection[str] = KINDS) -> OverlapEstimate:
    """The live-bytes estimate for a single-subgraph ``ModelT``.

    ``kinds`` limits the operators that overlap (``("ADD", "SUB", "MUL")``
    gives what writing element-wise outputs in place already buys).

    Raises
    ------
    UnsupportedModelError
        From :func:`.model_buffers`, for tensors TFLite Micro cannot size.
    """
    graphs = build_graphs(model)
    graph = graphs[0]
    buffers = model_buffers(graphs)
    block_of = {b.tensor: b.block for b in buffers.buffers if b.subgraph == 0 and not b.is_scratch}
    steps = max((b.block.end for b in buffers.buffers), default=-1) + 1
    live = [0] * steps
    for b in buffers.buffers:
        for k in range(max(b.block.start, 0), b.block.end + 1):
            live[k] += aligned(b.block.size, alignment)
    today = max(live, default=0)
    chosen, saved = [], {}
    if len(graphs) == 1:
        for index in range(graph.num_operators):
            best = None
            if graph.operators[index].kind not in kinds:
                continue
            for ov in operator_overlaps(model, graph, index):
                out = block_of.get(graph.operators[index].outputs[0])
                x = block_of.get(ov.tensor)
                if out is None or x is None or x.end != out.start or ov.tensor in graph.outputs:
                    continue  # the input lives on after this operator
                gain = pair_saving(ov, alignment)
                if gain and (best is None or gain > best[0]):
                    best = (gain, ov, out.start)
            if best is not None:
                chosen.append(best[1])
                saved[index] = best[0]
                live[best[2]] -= best[0]
    return OverlapEstimate(today, max(live, default=0), tuple(chosen), saved)


__all__ = ["OverlapEstimate", "estimate", "pair_saving"]
