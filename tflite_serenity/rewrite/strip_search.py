"""Choose where to compute in row strips: around the peak, only where it pays.

A strip rewrite (:mod:`.strips`) can only lower the peak if it covers the
steps where the schedule reaches it. So candidates are stretches of the
current schedule around those steps, whose ends few bytes cross, and within
the best of them the part that touches the tallest maps. Each is tried in 2
strips, the best in 3 to 8. Every candidate is scheduled with its strips
one after another; the best is kept if its peak is lower (ties: fewer
multiply-accumulates), and the search starts again from there (the peak has
moved) until nothing pays or time runs out.

Strips recompute the rows they share: a kept rewrite reports the
multiply-accumulates of the subgraph before and after. And every operator
and tensor costs an interpreter some bytes it keeps for the whole run
(TFLite Micro's persistent "tail": node data, per-channel quantization
multipliers, tensor structs). A run pays only if the activation bytes it
saves exceed what its extra operators add there
(:func:`~tflite_serenity.tflm.tail.persistent_bytes`).
"""

from __future__ import annotations

import dataclasses
import math
import operator
import time
from dataclasses import dataclass

from .. import memory
from ..tflm.scratch import scratch_requests
from ..errors import ModelFormatError
from ..graph import Graph
from ..tflm.tail import PersistentCosts, persistent_bytes
from ..model import with_operator_orders
from ..model_version import ModelVersion
from ..options import Options, Target
from ..schedule.search import Engine, GraphSchedule, PieceMemo, schedule_graph
from ..forked import available_jobs, in_processes
from .strips import bit_exact, splittable, tile

#: Candidate starts, and stops, of a run: those the fewest bytes cross.
ENDS = 8
#: Runs tried with more than two strips (those two strips took lowest).
MAX_RUNS = 3
#: Strip counts tried per run.
STRIPS = (2, 3, 4, 6, 8)

#: What a note says when the time limit, a safety net, cut the strip search short.
TIME_LIMIT_IN_STRIPS = "time limit in strips"


@dataclass(frozen=True)
class StripRewrite:
    """One run of operators computed in row strips."""

    operators: int  # of the run, before the rewrite
    strips: int
    exits: tuple[str, ...]  # tensors joined from their strips
    peak_before: int  # scheduled peak of the subgraph
    peak_after: int
    macs_before: int  # multiply-accumulates of the subgraph's windowed operators
    macs_after: int
    exact: bool = True  # bit-identical in LiteRT too (no float convolution or average in strips)
    persistent_added: int = 0  # estimated interpreter bytes the extra operators keep (persistent_bytes)

    @property
    def gain(self) -> int:
        return self.peak_before - self.peak_after


def tile_subgraph(model, subgraph: int, schedule: GraphSchedule, *, deadline: float, max_states: int,
                  engine: Engine | None = None, options: Options = Options(), target: Target = Target(),
                  memo: PieceMemo | None = None) -> tuple[object, GraphSchedule, tuple[StripRewrite, ...], bool]:
    """Compute runs of ``subgraph`` in row strips while that lowers its scheduled peak.

    ``schedule`` is the current schedule of the subgraph (its ``inplace``
    setting is kept); ``max_states`` the states per level one candidate's
    exact search may keep (work, not seconds: the same model gets the same
    strips on any machine); ``deadline`` is a safety net only. Float
    convolutions and averages go into strips only with
    ``options.rewrite_approximate`` (LiteRT may add their terms in another
    order). All strips together add at most ``options.max_recompute``
    percent of the subgraph's multiply-accumulates (:func:`macs`). Unless
    ``options.strips_peak_only``, a candidate's peak is charged the bytes
    TFLite Micro keeps for its extra operators and tensors on ``target``
    (:class:`~tflite_serenity.tflm.tail.PersistentCosts`); they are reported
    either way. Returns the model, its schedule, what was
    rewritten (the input model and schedule when nothing pays), and whether
    the deadline cut the search short. ``memo`` holds schedule pieces solved
    before (:class:`~tflite_serenity.schedule.search.PieceMemo`), if the
    caller shares one between searches over versions of the model.
    """
    records: list[StripRewrite] = []
    made: set[str] = set()  # exits joined by earlier rewrites: never split twice
    groups: tuple = ()  # per kept run, per strip: the positions of its operators
    version = ModelVersion(model)  # candidates are edits of it: they share most tensors, each read once
    memo = PieceMemo() if memo is None else memo  # and most pieces of their schedules: each is solved once
    scheduled: dict = {}  # per candidate graph's structure (_structure): its lower bound, schedule and peak
    graph = version.graph(subgraph)
    approximate, persistent = options.rewrite_approximate, target.costs
    allowed = int(macs(graph) * (1 + options.max_recompute / 100))
    while not (cut := time.monotonic() >= deadline):
        best = _best_candidate(model, graph, schedule, made, deadline, max_states, engine, approximate, allowed,
                               groups, None if options.strips_peak_only else persistent, version, memo, scheduled,
                               options.jobs)
        if best is None:
            cut = time.monotonic() >= deadline  # it may have stopped early for that
            break
        records.append(StripRewrite(best.operators, best.strips, best.exits, schedule.peak, best.schedule.peak,
                                    macs(graph), best.macs, best.exact,
                                    persistent_bytes(best.graph, persistent) - persistent_bytes(graph, persistent)))
        made.update(best.exits)
        groups = best.groups
        model, graph, schedule = best.model, best.graph, best.schedule
        version = version.edited(model)
    return model, schedule, tuple(records), cut


@dataclass(frozen=True)
class _Candidate:
    model: object
    graph: Graph
    schedule: GraphSchedule
    groups: tuple  # per run in strips (earlier ones too), per strip: the positions of its operators
    strips: int
    operators: int
    exits: tuple[str, ...]
    macs: int
    exact: bool
    cost: int  # scheduled peak plus the persistent bytes the strips add
    peak: int  # the schedule's peak
    attempt: tuple  # how it was made: run order, start, stop, strips, trim

    @property
    def key(self) -> tuple[int, int]:
        return self.cost, self.macs  # the fewest bytes in all; of those, the least recomputation


def _summary(candidate: "_Candidate | None") -> "_Candidate | None":
    """What a process that scored ``candidate`` sends back: its figures and schedule, without model and graph."""
    if candidate is None or candidate is _SKIPPED:
        return candidate
    return dataclasses.replace(candidate, model=None, graph=None)


#: A candidate the deadline (a safety net) left unscored.
_SKIPPED = "skipped"


def _best_candidate(model, graph: Graph, schedule: GraphSchedule, made: set[str], deadline: float, max_states: int,
                    engine, approximate: bool, allowed_macs: int, groups,
                    persistent: PersistentCosts | None, version: ModelVersion, memo: PieceMemo,
                    scheduled: dict, jobs: int = 0) -> _Candidate | None:
    order = schedule.order
    n = len(order)
    if not n:
        return None
    live = memory.profile(graph, order, inplace=schedule.inplace).live
    peak = max(live, default=0)
    held = [step for step, v in enumerate(live) if v == peak]
    usable = [ok and (approximate or bit_exact(graph, op))
              and not any(_from_strips(graph.tensors[t].name, made) for t in graph.operators[op].outputs)
              for op, ok in enumerate(splittable(model, graph))]
    if not held or not all(usable[order[step]] for step in held):
        return None
    # a run is a stretch [p, q) of the order (so no path leaves it and comes
    # back) of operators that can run in strips, around every step at the peak
    left, right = held[0], held[-1] + 1
    while left > 0 and usable[order[left - 1]]:
        left -= 1
    while right < n and usable[order[right]]:
        right += 1
    crossing = _crossing_bytes(graph, order)
    # What stays whole: the entries (alive across p) while every strip runs, and
    # at the end the exits (alive across q), each with its bands. An end further
    # from the peak is worth trying only if fewer bytes cross it than every
    # nearer one.
    starts = _records(crossing, range(held[0], left - 1, -1))
    stops = [q for q in _records(crossing, range(held[-1] + 1, right + 1)) if 2 * crossing[q] < peak]
    runs = [(order, p, q) for p in starts for q in stops]
    if not runs:
        return None
    models = {}  # per order a run is tried in: the model stored so, its graph, and each operator's position
    evaluated: dict[tuple, _Candidate | None] = {}  # per run and strips tried: the candidate (runs recur)
    jobs = available_jobs(jobs)
    base = persistent_bytes(graph, persistent) if persistent else 0

    def evaluate(key: tuple, start: int, stop: int, strips: int, trim: bool,
                 above: int | None = None, reported: "_Candidate | None" = None) -> _Candidate | None:
        """The candidate, or None if it cannot be made or (with ``above``)
        costs more than ``above`` whatever its order. ``reported``: its figures
        from another process (:func:`_summary`), whose schedule is taken as it is."""
        run_order = list(key)
        if key not in models:  # the model with the run in one piece, and where each operator went
            stored = with_operator_orders(model, {graph.subgraph: run_order})
            models[key] = (stored, version.edited(stored).graph(graph.subgraph),
                           {op: k for k, op in enumerate(run_order)})
        stored, sgraph, inverse = models[key]
        tiled = tile(stored, graph.subgraph, start, stop, strips, trim=trim, graph=sgraph)
        if tiled is None:
            return None
        try:
            tgraph = version.edited(tiled.model).graph(graph.subgraph)
        except ModelFormatError:  # a run the rewrite got wrong: never written, and tests look for these
            return None
        # Strips run one after the other: interleaving them only keeps more
        # rows alive, and without it the search splits per strip and stays fast.
        added = tgraph.num_operators - graph.num_operators
        moved = tuple(tuple(tuple(_shifted(inverse[op], start, stop, added) for op in strip) for strip in group)
                      for group in groups)
        sequenced = _in_sequence(tgraph, [*moved, tiled.strips])
        extra = persistent_bytes(tgraph, persistent) - base if persistent else 0
        # Other runs, strip counts or trims can give the same graph (names
        # aside): its bound and schedule are those found the first time.
        structure = _structure(sequenced, schedule.inplace) if reported is None else None
        known = scheduled.get(structure) if reported is None else [None, reported.schedule, reported.cost - extra]
        if known is None:
            known = scheduled[structure] = [memory.lower_bound(sequenced, inplace=schedule.inplace), None, 0]
        bound = known[0]
        if above is not None and bound + extra > above:
            return None  # no order of it can win: its schedule is not needed
        if known[1] is None:
            flow = memory.activation_flow(sequenced, inplace=schedule.inplace)
            found = schedule_graph(sequenced, time_limit=max(0.0, deadline - time.monotonic()), max_states=max_states,
                                   engine=engine, inplace=schedule.inplace,
                                   warm_start=[tuple(range(tgraph.num_operators))], flow=flow, memo=memo, bound=bound)
            found = dataclasses.replace(found, optimal=False,
                                        note=found.note or "proven only with each run's strips in sequence")
            if time.monotonic() < deadline:  # not cut short: it depends on the graph alone
                known[1:] = found, _with_scratch(sequenced, found, flow)
            else:
                known = [bound, found, _with_scratch(sequenced, found, flow)]
        tschedule, peak = known[1], known[2]
        inside = run_order[start:stop]
        return _Candidate(tiled.model, tgraph, tschedule, (*moved, tiled.strips), strips, stop - start,
                          tuple(graph.tensors[t].name for t in _exits(graph, inside)), macs(tgraph),
                          all(bit_exact(graph, op) for op in inside), peak + extra, tschedule.peak,
                          (key, start, stop, strips, trim))

    # every run in two strips, then more strips for the runs that went lowest.
    # Candidates are scored in forked processes (forked.in_processes): each is
    # a function of the model alone, so which process scores it changes nothing.
    tried: list[_Candidate] = []
    tried_runs: list[tuple[int, int, tuple, int, int]] = []

    def scored(attempts: list[tuple], above: int | None = None) -> list[_Candidate | None]:
        """The candidates of ``attempts`` (run order, start, stop, strips, trim),
        each scored once; with ``above``, one whose lower bound costs more
        than the best qualifying candidate its process has seen may be None."""
        todo = list(dict.fromkeys(a for a in attempts if a not in evaluated))

        def work(share):
            found, best = [], above
            for a in share:
                if time.monotonic() >= deadline:
                    found.append(_SKIPPED)
                    continue
                c = evaluate(*a, above=best)
                found.append(c)
                if best is not None and qualifies(c):
                    best = min(best, c.cost)
            return found

        for a, c in zip(todo, in_processes(work, todo, jobs, pack=_summary)):
            if c is not _SKIPPED:
                evaluated[a] = c
        return [evaluated.get(a) for a in attempts if a in evaluated]

    def first(attempts) -> None:
        for found in scored([(tuple(o), p, q, STRIPS[0], True) for o, p, q in attempts]):
            if found is not None:
                tried.append(found)
                tried_runs.append((found.peak, found.operators, *found.attempt[:3]))

    current = _with_scratch(graph, schedule)

    def qualifies(c: "_Candidate | None") -> bool:
        """Whether ``c`` costs less than the current schedule within the recompute allowed."""
        return c is not None and c.cost < current and c.macs <= allowed_macs

    first(runs)
    # The best stretches may hold operators of lower resolution that need most
    # rows of the large maps in every strip: try them without those too.
    # Parts are taken out of the order and stored in one piece: that must keep
    # the strips of earlier runs in sequence too, so ancestors count those edges.
    widest = (tuple(order), left, right)
    sequenced = _in_sequence(graph, groups)
    reach = _reach(sequenced, order)
    first([narrower for _, _, run_order, start, stop in [*sorted(tried_runs)[:MAX_RUNS], (0, 0, *widest)]
           for narrower in _tall_parts(sequenced, run_order, start, stop, usable, reach)])
    # and untrimmed (fewer operators, larger tensors: :func:`.strips.tile`).
    # These only compete for the best: one whose lower bound already costs
    # more than the best so far (or than the current schedule) cannot be it,
    # and is not scheduled.
    best = min((c.cost for c in tried if qualifies(c)), default=current - 1)
    tried.extend(c for c in scored([(run_order, start, stop, strips, trim)
                                    for _, _, run_order, start, stop in sorted(tried_runs)[:2 * MAX_RUNS]
                                    for strips, trim in [*((n, True) for n in STRIPS[1:]),
                                                         *((n, False) for n in STRIPS)]], above=best)
                 if c is not None)
    better = [c for c in tried if qualifies(c)]
    if not better:
        return None
    chosen = min(better, key=lambda c: c.key)
    # scored in another process: only its figures and schedule came back
    return chosen if chosen.model is not None else evaluate(*chosen.attempt, reported=chosen)


def _tall_parts(graph: Graph, order, start: int, stop: int, usable, reach):
    """For each map height of the stretch ``[start, stop)`` of ``order`` but the
    lowest: the operators that read or write a map of that height or more,
    with whatever lies on a path between two of them, stored in one piece
    (an order, start, stop); and each such part grown by readers of its exits
    while that shrinks them (:func:`_grown`). ``graph`` carries the edges that
    keep earlier runs' strips in sequence (:func:`_in_sequence`), ``reach`` is
    :func:`_reach` of it, and ``order`` must respect them."""
    inside = list(order[start:stop])
    heights = sorted({_height(graph, op) for op in inside})
    ancestors, descendants = reach
    for h in heights[1:]:
        mask = 0
        for op in inside:
            if _height(graph, op) >= h:
                mask |= 1 << op
        run = {op for op in inside if mask >> op & 1 or (ancestors[op] & mask and descendants[op] & mask)}
        if len(run) == len(inside) or not run:
            continue
        yield _in_one_piece(order, run, ancestors)
        grown = _grown(graph, run, usable, ancestors)
        if grown != run:
            yield _in_one_piece(order, grown, ancestors)


def _in_one_piece(order, run: set[int], ancestors) -> tuple[list[int], int, int]:
    """``order`` with the operators of the convex set ``run`` together: its
    ancestors first, then ``run``, then the rest (an order, start, stop).

    The result respects every edge ``ancestors`` was computed from, if
    ``order`` does: an edge that ``order`` respects can only be broken by
    moving an operator in front of one of its ancestors, and only ancestors
    of the run move to the front. So the ancestors must count every edge the
    order has to keep, the sequencing edges between strips of earlier runs
    too (:func:`_in_sequence`), not only the data edges."""
    upstream = 0  # every ancestor of an operator of the run
    for op in run:
        upstream |= ancestors[op]
    before = [op for op in order if op not in run and upstream >> op & 1]
    early = set(before)
    rest = [op for op in order if op not in run and op not in early]
    return [*before, *(op for op in order if op in run), *rest], len(before), len(before) + len(run)


def _grown(graph: Graph, run: set[int], usable, ancestors) -> set[int]:
    """``run`` with readers of its exits added one by one while that shrinks the
    bytes of its exits (a depthwise convolution's output read only by the 1x1
    convolution that narrows it, say), keeping it convex."""
    run = set(run)
    weight = _exit_bytes(graph, run)
    while True:
        mask = sum(1 << op for op in run)
        best = None
        for t in _exits(graph, sorted(run)):
            for c in graph.consumers[t]:
                if c in run or not usable[c]:
                    continue
                if any(p not in run and ancestors[p] & mask for p in graph.preds[c]):
                    continue  # a path from the run would reach c outside it
                bytes_ = _exit_bytes(graph, run | {c})
                if bytes_ < weight and (best is None or bytes_ < best[0]):
                    best = (bytes_, c)
        if best is None:
            return run
        weight = best[0]
        run.add(best[1])


def _exit_bytes(graph: Graph, run: set[int]) -> int:
    return sum(memory.tensor_bytes(graph.tensors[t]) for t in _exits(graph, sorted(run)))


def _height(graph: Graph, op: int) -> int:
    """The most rows of a map the operator reads or writes (0: none)."""
    o = graph.operators[op]
    return max((graph.tensors[t].shape[1] for t in (*o.inputs, *o.outputs)
                if t >= 0 and len(graph.tensors[t].shape) == 4 and memory.is_activation(graph.tensors[t])), default=0)


def _reach(graph: Graph, order) -> tuple[list[int], list[int]]:
    """Per operator, bitsets of its ancestors and of its descendants along
    ``graph.preds`` (``order``: a topological order of them)."""
    n = graph.num_operators
    ancestors, descendants = [0] * n, [0] * n
    for v in order:
        for u in graph.preds[v]:
            ancestors[v] |= ancestors[u] | 1 << u
    for v in reversed(order):
        for w in graph.succs[v]:
            descendants[v] |= descendants[w] | 1 << w
    return ancestors, descendants


def _shifted(position: int, start: int, stop: int, added: int) -> int:
    """Where an operator outside the run ``[start, stop)`` stands once the run is in strips."""
    return position if position < start else position + added


def _in_sequence(graph: Graph, groups) -> Graph:
    """``graph`` with ordering edges that run each strip of a group after the one before."""
    added: dict[int, set[int]] = {}  # per operator that gains edges: its new predecessors
    for strips in groups:
        for before, after in zip(strips, strips[1:]):
            done, next_ = set(before), set(after)
            sinks = [op for op in before if not done.intersection(graph.succs[op])]
            for op in after:
                if sinks and not next_.intersection(graph.preds[op]):
                    added.setdefault(op, set()).update(sinks)
    # only the strips' operators change: the rest of the (large) graph is shared
    preds, succs = list(graph.preds), list(graph.succs)
    gained: dict[int, set[int]] = {}
    for op, new in added.items():
        fresh = new.difference(graph.preds[op])
        if fresh:
            preds[op] = tuple(sorted(fresh.union(graph.preds[op])))
            for p in fresh:
                gained.setdefault(p, set()).add(op)
    for p, new in gained.items():
        succs[p] = tuple(sorted(new.union(graph.succs[p])))
    return dataclasses.replace(graph, preds=tuple(preds), succs=tuple(succs))


def _records(crossing: list[int], ends) -> list[int]:
    """The first ``ENDS`` of ``ends`` (nearest the peak first) that each carry
    fewer bytes than all before them."""
    found: list[int] = []
    for end in ends:
        if not found or crossing[end] < crossing[found[-1]]:
            found.append(end)
            if len(found) == ENDS:
                break
    return found


def _crossing_bytes(graph: Graph, order) -> list[int]:
    """Per boundary ``p`` (0..n) of ``order``: bytes of the activations written
    before it and read (or kept as outputs) at or after it."""
    n = len(order)
    position = {op: step for step, op in enumerate(order)}
    delta = [0] * (n + 2)
    for t, tensor in enumerate(graph.tensors):
        if not memory.is_activation(tensor):
            continue
        producer = graph.producer[t]
        if producer < 0 and t not in graph.inputs:
            continue
        born = position[producer] + 1 if producer >= 0 else 0
        readers = [position[c] for c in graph.consumers[t]]
        last = n if t in graph.outputs else max(readers, default=born - 1)
        if last >= born:
            size = memory.tensor_bytes(tensor)
            delta[born] += size
            delta[last + 1] -= size
    crossing, total = [], 0
    for p in range(n + 1):
        total += delta[p]
        crossing.append(total)
    return crossing


def _from_strips(name: str, exits: set[str]) -> bool:
    """Whether a tensor was written by an earlier strip rewrite (a strip, or a joined exit)."""
    return name in exits or "/serenity_strip" in name or "/serenity_band" in name


def _exits(graph: Graph, ops) -> list[int]:
    inside = set(ops)
    return [t for op in ops for t in graph.operators[op].outputs
            if t in graph.outputs or any(c not in inside for c in graph.consumers[t])]


def _structure(graph: Graph, inplace: bool) -> tuple:
    """All a graph's schedule, lower bound and scratch depend on: the graph
    without its names (and whether outputs may share a dying input's bytes)."""
    return (inplace, graph.subgraph, graph.operators, graph.inputs, graph.outputs, graph.preds,
            tuple(map(_UNNAMED, graph.tensors)))


_UNNAMED = operator.attrgetter("shape", "dtype", "has_data", "is_variable", "dynamic_dims")


def _with_scratch(graph: Graph, schedule: GraphSchedule, flow: memory.ActivationFlow | None = None) -> int:
    """The schedule's peak with each step's scratch buffers (a TRANSPOSE_CONV's
    int32 accumulators, say) on top: strips that leave a step like that at
    the top gain nothing in TFLite Micro's arena. ``flow``: the graph's
    :func:`~tflite_serenity.memory.activation_flow`, if the caller has it."""
    live = memory.profile(graph, schedule.order, inplace=schedule.inplace, flow=flow).live
    return max((v + sum(scratch_requests(graph, op)) for v, op in zip(live, schedule.order)), default=0)


def macs(graph: Graph) -> int:
    """Multiply-accumulates of the convolutions (and window reads of the pools) of a graph."""
    total = 0
    for op in graph.operators:
        if op.kind == "TRANSPOSE_CONV":  # each input element times each tap of each output channel
            out_c, kh, kw, _ = graph.tensors[op.inputs[1]].shape
            total += math.prod(graph.tensors[op.inputs[2]].shape) * out_c * kh * kw
            continue
        if op.kind not in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"):
            continue
        out = graph.tensors[op.outputs[0]].shape
        elements = 1
        for d in out:
            elements *= d
        if op.kind == "CONV_2D":
            _, kh, kw, cin = graph.tensors[op.inputs[1]].shape
            total += elements * kh * kw * cin
        elif op.kind == "DEPTHWISE_CONV_2D":
            _, kh, kw, _ = graph.tensors[op.inputs[1]].shape
            total += elements * kh * kw
        else:
            total += elements  # the window size is in the options; pools are cheap beside convolutions
    return total
