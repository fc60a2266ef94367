"""Choose runs to compute as WHILE-loop row strips: around the peak, only where the arena drops.

:func:`.loop_strips.loop_strips` runs the middle row strips of a run as one
WHILE body, and :func:`.loop_plan.with_alias_plan` pins its loop-carried
maps. Whether that pays is decided by the caller's cost of the planned
model (the driver's: TFLite Micro's whole arena, head simulated for every
kernel library of the target plus the tail), not by an estimate here.

The search is greedy and counts its work in evaluations, not seconds, so
the same model gives the same bytes on any machine. Each step takes the
stored order's step with the most live bytes outside the loops already
made (:func:`tflite_serenity.memory.nested_peak`), and tries every run
around it whose two ends one map alone crosses (a run the loop can read
and write whole), at most :data:`MAX_LENGTH` operators long, in
``height / rows`` strips for each ``rows`` of :data:`ROWS` (from
:data:`MIN_STRIPS` to :data:`MAX_STRIPS` strips). It keeps the run whose
own steps then hold the fewest live bytes, and goes on from there (the
peak has moved) for at most ``max_loops`` loops. One loop rarely lowers
the arena alone, so the caller's cost then picks how many of those loops
to keep. Recomputed rows count against ``allowed_macs`` (:func:`loop_macs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .. import memory
from ..errors import InfeasibleError, UnsupportedModelError
from ..graph import Graph
from ..model.editor import operator_options
from ..model_version import graphs_of
from .loop_plan import PREFIX, with_alias_plan
from .loop_strips import Loop, loop_strips
from ..tflm.tail import TFLM_32BIT, PersistentCosts, persistent_bytes
from .strip_search import macs

#: Rows per strip tried for each run.
ROWS = (1, 2, 4)
#: Fewest strips a loop is made of (first and last unrolled, two or more looped).
MIN_STRIPS = 4
#: Most strips a loop is made of (the rewrite first unrolls them all: its time grows with them).
MAX_STRIPS = 64
#: Longest run tried, in operators of the stored order.
MAX_LENGTH = 8
#: Loops made at most.
MAX_LOOPS = 4
#: Candidates evaluated at most, over the whole search.
MAX_EVALUATIONS = 240

#: Operators the loops add to the subgraph that holds them: never part of a later run.
_LOOP_KINDS = frozenset({"WHILE", "DYNAMIC_UPDATE_SLICE"})


@dataclass(frozen=True)
class LoopSearch:
    """What :func:`search_loops` kept: the model with its alias plan (``model``)
    and without (``bare``), the loops in the order they were made (positions
    in the model each was made from), its cost, the evaluations spent, and
    the multiply-accumulates before and after (:func:`loop_macs`)."""

    model: object
    bare: object
    loops: tuple[Loop, ...]
    cost: object
    evaluations: int
    macs_before: int = 0
    macs_after: int = 0


def has_our_loops(model) -> bool:
    """Whether a WHILE of ``model`` runs a body :mod:`.loop_strips` wrote."""
    for g in graphs_of(model):
        for op in g.operators:
            if op.kind == "WHILE":
                body = int(operator_options(model, g.subgraph, op.index)["bodySubgraphIndex"])
                if _text(model.subgraphs[body].name).startswith(PREFIX):
                    return True
    return False


def loop_macs(model, iterations: dict[int, int]) -> int:
    """Multiply-accumulates of subgraph 0 (:func:`.strip_search.macs`), each
    loop body's counted once per turn (``iterations``: body subgraph -> turns)."""
    graphs = graphs_of(model)
    return macs(graphs[0]) + sum(n * macs(graphs[body]) for body, n in iterations.items())


def search_loops(model, cost: Callable[[object], object], better: Callable[[object, object], bool], *,
                 allowed_macs: int, costs: PersistentCosts = TFLM_32BIT, max_loops: int = MAX_LOOPS,
                 max_evaluations: int = MAX_EVALUATIONS) -> LoopSearch | None:
    """Runs of subgraph 0 of ``model`` (which holds no offline plan) computed
    as WHILE-loop row strips, where that lowers ``cost``.

    Preserves the outputs bit for bit (:func:`.loop_strips.loop_strips`).
    One loop rarely lowers the arena alone: the peak moves to the next
    tall stretch. So the loops are chosen by the peak first: each step
    takes the step with the most live bytes outside the loops made so far
    (:func:`tflite_serenity.memory.nested_peak`, loop-carried copies counted
    once) and, among the runs around it, the one whose steps then hold the
    fewest live bytes (ties: fewer multiply-accumulates, then the earliest
    run, then fewer rows per strip); it stops where the peak is a loop's or
    no run lowers it. ``cost`` (of a model with its alias plan) then picks
    how many of those loops to keep: the least, where ``better(a, b)`` says
    it beats the input's. Returns None where none does.
    """
    current = model
    names = {t.name for t in graphs_of(model)[0].tensors}
    made: list[tuple[object, Loop, dict[int, int]]] = []  # per loop: the model with it and those before
    iterations: dict[int, int] = {}
    evaluations = 0
    while len(made) < max_loops and evaluations < max_evaluations:
        graphs = graphs_of(current)
        steps = memory.nested_peak(graphs, memory.loop_aliases(graphs)).steps
        graph = graphs[0]
        mine = [_made(graph, p, names) for p in range(graph.num_operators)]
        free = [p for p in range(graph.num_operators) if not mine[p]]
        if not free:
            break
        peak = max(free, key=lambda p: (steps[p], -p))
        if max(steps) > steps[peak]:
            break  # the peak is a loop's: a run elsewhere cannot lower it
        floor = max((steps[p] for p in range(graph.num_operators) if mine[p]), default=0)
        best = None
        unsupported = set()  # runs the loop cannot take whatever the strip count (their entries or exits)
        for start, stop, strips in _candidates(graph, mine, peak, steps[peak]):
            if evaluations >= max_evaluations:
                break
            if (start, stop) in unsupported:
                continue
            evaluations += 1
            try:
                done = loop_strips(current, 0, start, stop, strips)
            except UnsupportedModelError:
                unsupported.add((start, stop))
                continue
            except InfeasibleError:
                continue
            turns = {**iterations, done.loop.body_subgraph: done.loop.iterations}
            work = loop_macs(done.model, turns)
            if work > allowed_macs:
                continue
            after = graphs_of(done.model)
            within = memory.nested_peak(after, memory.loop_aliases(after)).steps
            grown = after[0].num_operators - graph.num_operators
            local = max(within[start:stop + grown])
            kept = sum(persistent_bytes(g, costs) for g in after)
            key = (max(local, floor), max(within), kept, work, local)
            if best is None or key < best[0]:
                best = (key, done, turns)
        if best is None or best[0][-1] >= steps[peak]:
            break
        current, iterations = best[1].model, best[2]
        made.append((current, best[1].loop, iterations))
    chosen, chosen_cost = None, cost(model)
    for k, (bare, _, _) in enumerate(made):
        tree, _ = with_alias_plan(bare)
        found = cost(tree)
        if better(found, chosen_cost):
            chosen, chosen_cost = (k, tree), found
    if chosen is None:
        return None
    k, tree = chosen
    return LoopSearch(tree, made[k][0], tuple(loop for _, loop, _ in made[:k + 1]), chosen_cost, evaluations,
                      macs(graphs_of(model)[0]), loop_macs(made[k][0], made[k][2]))


def _candidates(graph: Graph, mine: list[bool], peak: int, live: int):
    """(start, stop, strips) to try around step ``peak`` of subgraph 0, where
    ``live`` bytes are alive: runs between cuts one map alone crosses, none
    of whose operators a loop made (``mine``), whose entry and exit maps
    together hold fewer bytes (the loop holds both throughout), each in
    ``height / rows`` strips."""
    cuts = _single_cuts(graph)
    for start in (c for c in cuts if peak - MAX_LENGTH < c <= peak):
        for stop in (c for c in cuts if peak < c <= start + MAX_LENGTH):
            if any(mine[start:stop]) or cuts[start] + cuts[stop] >= live:
                continue
            height = _exit_height(graph, stop)
            seen = set()
            for rows in reversed(ROWS):  # the fewest strips first: the quickest to find a run unsupported
                strips = height // rows
                if MIN_STRIPS <= strips <= MAX_STRIPS and strips not in seen:
                    seen.add(strips)
                    yield start, stop, strips


def _made(graph: Graph, p: int, names: set[str]) -> bool:
    """Whether operator ``p`` was added by a loop (or by strips before it): not part of a later run."""
    op = graph.operators[p]
    return op.kind in _LOOP_KINDS or any(graph.tensors[t].name not in names for t in op.outputs)


def _single_cuts(graph: Graph) -> dict[int, int]:
    """Positions ``c`` of the stored order where exactly one activation map is
    made before ``c`` and read at or after it (or is an output), with that
    map's bytes."""
    n = graph.num_operators
    count, size = [0] * (n + 2), [0] * (n + 2)
    for t, tensor in enumerate(graph.tensors):
        if not memory.is_activation(tensor):
            continue
        born = graph.producer[t]
        if born < 0 and t not in graph.inputs:
            continue  # nothing writes it
        last = n if t in graph.outputs else max(graph.consumers[t], default=born)
        if last > born:  # it crosses every cut c with born < c <= last
            count[born + 1] += 1
            count[last + 1] -= 1
            size[born + 1] += memory.tensor_bytes(tensor)
            size[last + 1] -= memory.tensor_bytes(tensor)
    cuts, crossing, held = {}, 0, 0
    for c in range(n + 1):
        crossing, held = crossing + count[c], held + size[c]
        if crossing == 1:
            cuts[c] = held
    return cuts


def _exit_height(graph: Graph, stop: int) -> int:
    """Rows of the map leaving a run that ends before ``stop`` (0 if not a 4-d map)."""
    shape = graph.tensors[graph.operators[stop - 1].outputs[0]].shape
    return shape[1] if len(shape) == 4 else 0


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")


__all__ = ["LoopSearch", "has_our_loops", "loop_macs", "search_loops"]
