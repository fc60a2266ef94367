"""The whole optimization of a model: bytes in, bytes out, with the figures.

Stages run in one direction (read -> graph -> schedule -> rewrite -> write);
each is a function of plain data. The output computes what the input computes:
the stored order of operators changes, exact rewrites (docs/rewriting.md) keep
outputs bit-identical, and every order is validated before writing.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from . import memory
from .fileio import read_bytes, write_atomic
from .arena.model_plan import PlanReason
from .tflm.offline import METADATA_NAME
from .tflm.simulate import stored_head
from .graph import Graph, resized_at_run_time, scratch_tensors
from .model import metadata, read_model, with_operator_orders, without_metadata, write_model
from .model.validate import check_stored_orders
from .model_version import graphs_of
from .options import Options, Target
from .tflm.tail import persistent_bytes
from .rewrite import SiteRewrite, rewrite_model
from .rewrite.strip_search import StripRewrite, macs
from .rewrite.tconv import ChannelSplit
from .rewrite.slices import SliceCounts, simplify_slices
from .schedule.search import GraphSchedule, PieceMemo, ProgressInfo, pick_engine, schedule_graph, schedule_in_place

if TYPE_CHECKING:
    from .arena.model_plan import ArenaFigures


@dataclass(frozen=True)
class SubgraphResult:
    """Figures of one subgraph: peak of live activation bytes before and after."""

    index: int
    operators: int
    peak_before: int  # live bytes in the stored order, no tensor sharing bytes (LiteRT; TFLite Micro's own plan)
    peak_after: int  # the same for the written model
    lower_bound: int
    optimal: bool  # the order's peak is proven the lowest possible
    seconds: float
    note: str = ""
    peak_scheduled: int = -1  # after reordering alone, before rewriting (-1: not computed)
    rewrites: tuple[SiteRewrite, ...] = ()  # concat sites rewritten (docs/rewriting.md)
    slices: SliceCounts = SliceCounts()  # exact rewrites of pads, slices and 1x1 pools (rewrite.slices)
    strips: tuple[StripRewrite, ...] = ()  # runs computed in row strips (rewrite.strips)
    splits: tuple[ChannelSplit, ...] = ()  # TRANSPOSE_CONVs in pieces of their output channels (rewrite.tconv)
    inplace: bool = False  # the written arena plan lets element-wise operators write over a dying input
    inplace_outputs: int = 0  # outputs TFLite Micro writes in place under the written plan (memory.inplace_sources)
    operators_after: int = -1  # in the written model (row strips and splits add some)
    peak_shared: int = -1  # peak_after with those outputs sharing their input's bytes (TFLite Micro with our plan)
    loops: tuple[int, ...] = ()  # per run whose middle row strips run in a WHILE loop: its strips (rewrite.loop_search)
    loop_macs: tuple[int, int] = (0, 0)  # with loops: multiply-accumulates before and after, each turn counted

    @property
    def status(self) -> str:
        return "optimal" if self.optimal else "best found"

    @property
    def ratio(self) -> float:
        return self.peak_before / self.peak_after if self.peak_after else 1.0


@dataclass(frozen=True)
class OptimizeResult:
    """The optimized model's bytes and what changed."""

    model: bytes = field(repr=False)
    subgraphs: tuple[SubgraphResult, ...]
    seconds: float
    arena: "ArenaFigures | None" = None  # the arena plan (docs/arena.md); None if not planned or unchanged
    added_operators: tuple[str, ...] = ()  # operator types the written model has and the input had not
    unchanged: bool = False  # ``model`` is the input, byte for byte: nothing found is better for either runtime
    # for a model whose operators run other subgraphs: subgraph 0's peak with them, before and
    # after (memory.nested_peak, copies the offline plan pins together counted once); else None
    nested_peaks: tuple[int, int] | None = None

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to ``path`` whole (temporary file and rename)."""
        write_atomic(path, self.model)


def optimize(
    model: bytes | str | os.PathLike,
    options: Options | None = None,
    target: Target | None = None,
    *,
    progress: Callable[[ProgressInfo], None] | None = None,
    tree=None,
    **settings,
) -> OptimizeResult:
    """Reorder, rewrite and plan every subgraph for the least activation memory.

    Parameters
    ----------
    model
        The ``.tflite`` bytes, or a path to the file.
    options
        What to do (:class:`~tflite_serenity.options.Options`; the defaults
        are the command's). Its fields are the command's flags without dashes
        (``--no-X`` sets ``X=False``), and each field can also be given
        as a keyword here: ``optimize(path, time_limit=5, strips=False)``.
        ``time_limit`` bounds only the searches of each subgraph's order; when
        they run out, the best order found so far is used and reported as
        "best found: time limit in scheduling". Rewriting, row strips and the
        arena plan count their work instead (states, candidates), so the same
        model gives the same bytes on a fast or a loaded machine.
    target
        The device TFLite Micro runs on (:class:`~tflite_serenity.options.Target`;
        default: 32-bit pointers, a microcontroller). It sets the bytes
        TFLite Micro keeps per operator and tensor, which row strips and
        concat splits are charged unless ``strips_peak_only``.
    progress
        Called with a :class:`~tflite_serenity.schedule.search.ProgressInfo`
        between the scheduler's searches (the command line shows it on a
        terminal: :class:`tflite_serenity.progress.TerminalProgress`).
    tree
        The model already read from these bytes (``model.read_model``), so
        that a caller that has read it (the ``report`` command) reads it once.

    Returns
    -------
    OptimizeResult
        Output bytes that give bit-identical outputs in LiteRT and TFLite Micro
        (approximate rewrites: within docs/rewriting.md's error), with the
        per-subgraph figures.
    """
    options = dataclasses.replace(options or Options(), **settings) if settings else options or Options()
    target = target or Target()
    start = time.monotonic()
    data = model if isinstance(model, (bytes, bytearray)) else read_bytes(model)
    original = read_model(data) if tree is None else tree
    graphs = graphs_of(original)
    if any(scratch_tensors(g) for g in graphs):
        return _passed_through(data, graphs, start)
    stages = _Stages(options, target, pick_engine(options.engine), start + SAFETY_SECONDS, progress)
    before = stages.cost(graphs, stored_head(original, graphs), original)
    # A plan names tensors by index and describes one order: every round plans
    # anew from a model without one (the input's own plan is what it must beat).
    source = without_metadata(original, METADATA_NAME) if metadata(original, METADATA_NAME) is not None else original
    kept: list[_Round] = []  # the rounds whose output was better than the one before
    first, notes = None, []
    searched = 0.0  # seconds the searches for orders have taken: the time limit bounds only those
    while True:
        # Each round starts from the last one's output (a rewrite moves the peak,
        # where more may pay), until one gains nothing: so optimizing the output
        # again finds nothing either, and hands it back unchanged.
        found = stages.round(source, before.peak, max(0.0, options.time_limit - searched))
        searched += sum(found.seconds)
        if options.rewrite and found.rewritten and not found.cost.device_never_above(before):
            # The rewrite's extra operators cost tail bytes that an optimized kernel
            # library's scratch buffers leave no head to pay for: the round without it.
            found = stages.round(source, before.peak, max(0.0, options.time_limit - searched), rewrite=False)
            searched += sum(found.seconds)
            notes.append(REWRITE_LOST_NOTE)
        first = first or found
        notes.extend(found.notes)
        if not found.cost < (kept[-1].cost if kept else before) or not found.cost.never_above(before):
            break
        kept.append(found)
        if len(kept) == MAX_ROUNDS:
            notes.append(f"stopped after {MAX_ROUNDS} rounds")
            break
        if time.monotonic() >= stages.safety:
            notes.append("safety time limit between rounds")
            break
        source = found.bare
    if kept and options.overlap:
        # Rounds steer by the arena without overlaps, so that an overlapped
        # plan making one round cheaper cannot stop the rounds after it; the
        # output is the earliest kept round whose arena with overlaps is the
        # lowest. On that output a second run finds no round cheaper than it
        # (each later round was no cheaper even with overlaps), so it hands
        # the file back unchanged.
        kept = kept[:min(range(len(kept)), key=lambda i: (kept[i].overlapped, i)) + 1]
    elif not kept and options.overlap:
        # No round is cheaper; the input itself may be, with overlaps: as
        # stored, so a second run starts from the same model and finds the
        # same plan, no cheaper than its input.
        found = stages.stored_with_overlap(source, first, before)
        if found is not None:
            kept.append(found)
    # Kernels our simulation does not model: TFLite Micro measures the last
    # version once and decides on its plan. Where no round gained by
    # simulation, a plan measured smaller is still a gain.
    last = kept[-1] if kept else first
    if last.arena is not None and last.arena.reason is PlanReason.NOT_MEASURED and last.cost.never_above(before):
        last = stages.measured(last)
        if not last.cost.device_never_above(before):
            last = dataclasses.replace(last, tree=last.bare)  # the plan loses with an optimized library
        if kept:
            kept[-1] = last
        elif last.arena.written:
            kept.append(last)
    looped = stages.loops(first, kept[-1].overlapped if kept else before, before)
    if looped is not None:
        # the loops start from the input in the first round's order: they replace the rounds' output
        kept = [looped]
    out = write_model(kept[-1].tree) if kept else bytes(data)
    check_stored_orders(out)  # self-check on the bytes: every stored order is valid
    written = kept[-1].graphs if kept else graphs
    results = tuple(_result(i, g, w, kept, first, notes) for i, (g, w) in enumerate(zip(graphs, written)))
    nested = None
    if any(op.calls for g in (*graphs, *written) for op in g.operators):
        before_nested = _nested_peak(original, graphs)
        nested = (before_nested, _nested_peak(kept[-1].tree, written) if kept else before_nested)
    return OptimizeResult(out, results, time.monotonic() - start, kept[-1].arena if kept else None,
                          added_operators=tuple(sorted(_kinds(written) - _kinds(graphs))), unchanged=not kept,
                          nested_peaks=nested)


def _nested_peak(tree, graphs) -> int:
    """Subgraph 0's peak with the subgraphs its operators run, the copies the
    tree's offline plan pins together counted once (memory.nested_peak)."""
    from .tflm.offline import pinned_copies

    from .errors import SerenityError

    try:
        pairs = pinned_copies(tree, graphs)
    except SerenityError:  # a model TFLite Micro cannot plan: no pins read
        pairs = []
    return memory.nested_peak(graphs, pairs).peak


#: Why a round was redone without its rewrites (the summary prints it).
REWRITE_LOST_NOTE = "rewrites left out: with CMSIS-NN's kernels their operators' tail outweighed what they saved"

#: Rounds of the whole search at most; each starts from the last one's output.
MAX_ROUNDS = 8

#: Seconds after which rewriting and further rounds stop even though their
#: counted work is not done: a safety net, not a budget. The time limit
#: bounds only the searches for orders; everything else counts work (states,
#: candidates, rounds), so the output does not depend on the machine's speed.
SAFETY_SECONDS = 600.0

def _kinds(graphs) -> set[str]:
    return {op.kind for g in graphs for op in g.operators}


def _result(index: int, graph: Graph, written: Graph, kept: "list[_Round]", first: "_Round",
            notes: list[str]) -> SubgraphResult:
    """The figures of subgraph ``index``: ``graph`` as read, ``written`` as
    written, ``kept`` the rounds whose output was kept (none: the input is
    handed back), ``first`` the first round."""
    plain = first.plain[index]
    last = kept[-1] if kept else first
    rewrite = last.rewritten.get(index)
    final = rewrite.schedule if rewrite is not None else last.schedules[index]
    # (under an overlapped plan, the arena's figures say which outputs share bytes)
    shared = (final.inplace and bool(kept) and last.arena is not None and last.arena.written
              and not last.arena.overlapping)
    rewrites = tuple(r for k in kept for r in (k.rewritten[index].sites if index in k.rewritten else ()))
    strips = tuple(r for k in kept for r in (k.rewritten[index].strips if index in k.rewritten else ()))
    splits = tuple(r for k in kept for r in (k.rewritten[index].splits if index in k.rewritten else ()))
    counts = [k.slices[index] for k in kept]
    slices = SliceCounts(*(sum(getattr(c, f) for c in counts) for f in ("moved", "pools", "fused", "dropped")))
    peak_before, peak_after = memory.peak_bytes(graph), memory.peak_bytes(written)
    start = last.schedules[index]  # the order rewriting started from: unproven, it says why, unless the end is proven
    own = [n for n in ((final.note, rewrite.note if rewrite is not None else "",
                        start.note if not final.optimal and "time limit" in start.note else "")
                       if kept else (plain.note,)) if n]
    return SubgraphResult(
        index, graph.num_operators, peak_before, peak_after, final.lower_bound if kept else plain.lower_bound,
        final.optimal if kept else plain.optimal and plain.peak >= peak_before,
        sum(k.seconds[index] for k in (kept or [first])), ", ".join(dict.fromkeys([*own, *notes])),
        peak_scheduled=plain.peak, rewrites=rewrites, slices=slices, strips=strips, splits=splits,
        inplace=shared,
        inplace_outputs=len(memory.inplace_sources(written, stored_order=True)) if shared else 0,
        peak_shared=memory.peak_bytes(written, inplace=True) if shared else peak_after,
        operators_after=written.num_operators,
        loops=tuple(loop.strips for loop in last.loops.loops if loop.subgraph == index) if kept and last.loops else (),
        loop_macs=(last.loops.macs_before, last.loops.macs_after) if kept and last.loops and index == 0 else (0, 0))


SCRATCH_NOTE = ("passed through unchanged: custom operators keep scratch in tensors nothing writes "
                "(Arm Vela's ethos-u), placed by the model's own arena plan")


def _passed_through(data: bytes, graphs, start: float) -> OptimizeResult:
    """The input itself, with its figures. Custom operators that keep scratch
    in unwritten tensors (Vela's output) come with an offline plan that lays
    other tensors inside that scratch on purpose; no order or plan of ours can
    know what the operator leaves free there, so nothing is changed."""
    results = []
    for g in graphs:
        peak, bound = memory.peak_bytes(g), memory.lower_bound(g)
        results.append(SubgraphResult(g.subgraph, g.num_operators, peak, peak, bound, peak == bound, 0.0,
                                      note=SCRATCH_NOTE, peak_scheduled=peak, operators_after=g.num_operators,
                                      peak_shared=peak))
    return OptimizeResult(bytes(data), tuple(results), time.monotonic() - start, None, unchanged=True)


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


@dataclass(frozen=True, order=True)
class _Cost:
    """What a version of the model costs, compared in this order."""

    arena: int  # TFLite Micro: the head (simulated) plus, where counted, what it keeps per operator and tensor
    peak: int  # the peaks of live bytes without sharing, summed over subgraphs (LiteRT, or TFLite Micro unplanned)
    # TFLite Micro with each optimized kernel library of the target (Target.kernels after
    # the reference kernels): the head with its scratch buffers, plus the same kept bytes
    device: tuple[int, ...] = field(default=(), compare=False)

    def never_above(self, other: "_Cost") -> bool:
        """Whether this is no worse than ``other`` for any runtime and kernel library."""
        return self.arena <= other.arena and self.peak <= other.peak and self.device_never_above(other)

    def device_never_above(self, other: "_Cost") -> bool:
        """Whether this is no worse than ``other`` with any optimized kernel library."""
        return all(a <= b for a, b in zip(self.device, other.device))


@dataclass(frozen=True)
class _Round:
    """One pass of the stages over a model, and its output."""

    tree: object  # as it would be written (with the arena plan, if one is written)
    bare: object  # the same without the arena plan: the next round's input
    graphs: list
    cost: _Cost
    arena: "ArenaFigures | None"
    plain: list  # per subgraph: the schedule without sharing
    schedules: list  # per subgraph: the schedule rewriting started from (plain or in place)
    rewritten: dict
    slices: tuple
    seconds: list  # per subgraph: seconds of its schedule searches
    notes: tuple[str, ...] = ()
    with_overlap: "_Cost | None" = None  # where ``tree``'s plan overlaps outputs with inputs (--overlap): its cost
    scheduled: object = None  # the tree whose subgraphs ``plain`` orders (slices rewritten)
    loops: object = None  # where its runs are WHILE-loop row strips: the rewrite.loop_search.LoopSearch

    @property
    def overlapped(self) -> _Cost:
        """What ``tree`` costs as written: with overlaps where its plan has them (``cost`` is without)."""
        return self.cost if self.with_overlap is None else self.with_overlap


@dataclass(frozen=True)
class _Stages:
    """The options of one :func:`optimize` call, and the stages run with them."""

    options: Options
    target: Target
    search: object  # the engine options.engine picked
    safety: float  # for all but the searches for orders, which count their work: reached only on pathological models
    progress: object
    memo: PieceMemo = field(default_factory=PieceMemo)  # schedule pieces solved so far, in every round
    plans: dict = field(default_factory=dict)  # (tree's id, inplace) -> (tree, plan_arena's answer): see _plan

    def _plan(self, tree, inplace: bool):
        """``plan_arena`` of ``tree`` (which holds no plan) without measuring.
        A round that changes nothing hands on the very tree the round before
        planned (edits copy, never modify, a tree): its plan is not made twice."""
        from .arena.model_plan import plan_arena

        key = (id(tree), inplace)  # the tree is kept beside its plan, so its id is not reused meanwhile
        found = self.plans.get(key)
        if found is None:
            found = self.plans[key] = (tree, plan_arena(tree, inplace=inplace, measure=False,
                                                        alignment=self.target.alignment,
                                                        overlap=self.options.overlap, kernels=self.target.kernels))
        return found[1]

    def cost(self, graphs, head: int | None, tree=None) -> _Cost:
        """The cost of ``graphs`` whose reference head is ``head``; with
        ``tree`` (the model as it would be written), also its heads with the
        target's optimized kernels (their scratch buffers, its plan if any)."""
        peak = sum(memory.peak_bytes(g) for g in graphs)
        kept = (0 if self.options.strips_peak_only
                else sum(persistent_bytes(g, self.target.costs) for g in graphs))
        device = ()
        if tree is not None:
            heads = (stored_head(tree, graphs, library) for library in self.target.kernels[1:])
            device = tuple((peak if h is None else h) + kept for h in heads)
        return _Cost((peak if head is None else head) + kept, peak, device)

    def round(self, tree, peak_limit: int, time_limit: float, rewrite: bool = True) -> _Round:
        """Schedule, rewrite and plan ``tree`` (which holds no offline plan),
        with ``time_limit`` seconds for the searches of its orders.

        Under our arena plan, element-wise operators may write over a dying
        input (memory.inplace_sources), and orders are chosen for that,
        starting from the plain optimum. Only a written plan makes TFLite
        Micro share bytes, and LiteRT never does: that version is kept only
        if its plan is written and its peak without sharing stays within
        ``peak_limit``; otherwise the plain orders are used.
        """
        slices = (SliceCounts(),) * len(tree.subgraphs)
        graphs = graphs_of(tree)
        # Tensors whose shapes change at run time (beyond the batch) hold other
        # sizes than our memory model counts: such a subgraph keeps its stored
        # order, and no rewrite or arena plan touches the model.
        frozen = frozenset(g.subgraph for g in graphs if resized_at_run_time(g))
        if self.options.rewrite and rewrite and not frozen:
            tree, slices = simplify_slices(tree)  # exact, and never needs more memory in any order
            graphs = graphs_of(tree)
        deadline = time.monotonic() + time_limit
        plain = [_stored_schedule(g) if g.subgraph in frozen else
                 schedule_graph(g, time_limit=_left(deadline), engine=self.search, progress=self.progress,
                                warm_start=[_learned_order(g)] if self.options.warm_start == "learned" and g.num_operators
                                else [], memo=self.memo)
                 for g in graphs]
        seconds = [s.seconds for s in plain]
        tried = []
        if self.options.arena_plan and self.options.shared_outputs and not frozen:
            shared = [schedule_in_place(g, s, time_limit=_left(deadline), engine=self.search,
                                        progress=self.progress, memo=self.memo)
                      for g, s in zip(graphs, plain)]
            seconds = [a + b.seconds for a, b in zip(seconds, shared)]
            found = self._finish(tree, plain, shared, slices, seconds, frozen, rewrite)
            if found.arena is not None and found.arena.written_without_overlap and found.cost.peak <= peak_limit:
                return found
            tried.append(found)
        tried.append(self._finish(tree, plain, plain, slices, seconds, frozen, rewrite))
        return min(tried, key=lambda r: (r.cost.peak > peak_limit, r.cost))

    def stored_with_overlap(self, tree, first: _Round, before: _Cost) -> "_Round | None":
        """``tree`` (which holds no offline plan) in its stored orders with an
        overlapped arena plan, where that costs less than ``before`` for
        TFLite Micro and no more for either runtime; ``first`` is the round
        run from it, whose schedules give the figures."""
        from .arena.model_plan import plan_arena

        graphs = graphs_of(tree)
        if not self.options.arena_plan or any(resized_at_run_time(g) for g in graphs):
            return None
        planned, arena = plan_arena(tree, inplace=self.options.shared_outputs, measure=False,
                                    alignment=self.target.alignment, overlap=True, kernels=self.target.kernels)
        if arena is None or not arena.overlapping:
            return None
        cost = self.cost(graphs, arena.head, planned)
        if not cost < before or not cost.never_above(before):
            return None
        # The stored order is proven lowest where it is no higher than a proven
        # optimum of the round's graph (slices rewritten, never higher in any order).
        stored = [dataclasses.replace(s, order=tuple(range(g.num_operators)), peak=memory.peak_bytes(g),
                                      peak_before=memory.peak_bytes(g), note="", inplace=False,
                                      optimal=s.optimal and memory.peak_bytes(g) <= s.peak)
                  for g, s in zip(graphs, first.plain)]
        return _Round(planned, tree, graphs, cost, arena, first.plain, stored, {}, (SliceCounts(),) * len(graphs),
                      first.seconds, (), cost)

    def loops(self, first: _Round, best: _Cost, before: _Cost) -> "_Round | None":
        """The input, in the order ``first`` (the first round) gave subgraph
        0, with runs of it computed as WHILE-loop row strips
        (:func:`.rewrite.loop_search.search_loops`) and the offline plan that
        pins their carried maps, where that costs less than ``best`` (the
        rounds' output, or the input) with every kernel library and no more
        than ``before`` (the input) for either runtime; else None.

        Only for a model of one int8 subgraph whose kernels the simulation
        models, with rewriting, row strips, loops and the arena plan on; a model with a loop of ours is left as
        it is (the loops were chosen for it, and the output of this stage
        is handed back unchanged by a second run)."""
        from .rewrite.loop_search import has_our_loops, search_loops
        from .tflm.kernels import unmodelled_kernels

        options = self.options
        if not (options.rewrite and options.strips and options.loops and options.arena_plan):
            return None
        tree = first.scheduled
        if tree is None:
            return None
        graphs = graphs_of(tree)
        if (len(graphs) != 1 or not _int8(graphs[0]) or resized_at_run_time(graphs[0])
                or has_our_loops(tree) or unmodelled_kernels(graphs)):
            return None  # (a kernel our simulation does not model: its head would be a guess)
        started = time.monotonic()
        order = first.plain[0].order
        if order != tuple(range(graphs[0].num_operators)):
            tree = with_operator_orders(tree, {0: order})

        def cost(model) -> _Cost:
            found = graphs_of(model)
            return self.cost(found, stored_head(model, found), model)

        allowed = int(macs(graphs_of(tree)[0]) * (1 + options.max_recompute / 100))
        found = search_loops(tree, cost, lambda a, b: a < b and a.device_never_above(b),
                             allowed_macs=allowed, costs=self.target.costs)
        if found is None or not (found.cost.arena < best.arena and found.cost.device_never_above(best)
                                 and found.cost.peak <= before.peak):
            return None
        written = graphs_of(found.model)
        arena = _loop_arena(found, written, time.monotonic() - started)
        schedules = [dataclasses.replace(first.plain[0], order=tuple(range(written[0].num_operators)),
                                         peak=memory.peak_bytes(written[0]), note="", inplace=False,
                                         optimal=False)]
        return _Round(found.model, found.bare, written, found.cost, arena, first.plain, schedules, {},
                      first.slices[:1], first.seconds[:1], (), None, None, found)

    def measured(self, found: _Round) -> _Round:
        """``found`` with its arena plan decided by TFLite Micro's measurement:
        for a model with kernels whose buffers our simulation does not model,
        the plan is written only if the real interpreter measures it smaller."""
        from .arena.model_plan import plan_arena

        planned, arena = plan_arena(found.bare, inplace=any(s.inplace for s in found.schedules), measure=True,
                                    alignment=self.target.alignment, overlap=self.options.overlap,
                                    kernels=self.target.kernels)
        cost = self.cost(found.graphs, arena.head if arena is not None else None, planned)
        return dataclasses.replace(found, tree=planned, arena=arena, cost=dataclasses.replace(found.cost, device=cost.device))

    def _announce_rewriting(self, schedules) -> None:
        """Tell the progress display that rewriting begins (its searches report nothing in between)."""
        if self.progress is None:
            return
        for s in schedules:
            self.progress(ProgressInfo(s.subgraph, "rewrite", -1, 0, s.states, s.peak, s.lower_bound,
                                       s.peak_before, s.seconds))

    def _finish(self, tree, plain, schedules, slices, seconds, frozen: frozenset[int], rewrite: bool = True) -> _Round:
        """Rewrite from ``schedules`` (unless not ``rewrite``), store the orders, and plan the arena
        (neither rewrite nor plan where ``frozen`` names a subgraph)."""
        scheduled = tree
        rewritten = {}
        if self.options.rewrite and rewrite and not frozen:
            self._announce_rewriting(schedules)
            tree, rewritten = rewrite_model(tree, schedules, options=self.options, target=self.target,
                                            deadline=self.safety, engine=self.search, memo=self.memo)
        final = [rewritten[s.subgraph].schedule if s.subgraph in rewritten else s for s in schedules]
        changed = {s.subgraph: s.order for s in final
                   if s.order != tuple(range(len(s.order))) or s.subgraph in rewritten}
        bare = with_operator_orders(tree, changed) if changed else tree
        graphs = graphs_of(bare)
        arena, head, overlapped = None, None, None
        if self.options.arena_plan and not frozen:
            # rounds compare simulated arenas; TFLite Micro measures only the last one (measured)
            planned, arena = self._plan(bare, any(s.inplace for s in schedules))
            head = arena.head if arena is not None else None
            if arena is not None and arena.head_without_overlap is not None:
                overlapped, head = self.cost(graphs, head, planned), arena.head_without_overlap
        else:
            planned = bare
            head = stored_head(bare, graphs)
        notes = tuple(r.note for r in rewritten.values() if "time limit" in r.note)
        return _Round(planned, bare, graphs, self.cost(graphs, head, planned), arena, plain, schedules, rewritten,
                      slices, seconds, notes, overlapped, scheduled)


def _int8(graph: Graph) -> bool:
    """Whether ``graph``'s activations are int8 (int32 indices aside), none float."""
    kinds = {t.dtype for t in graph.tensors if memory.is_activation(t)}
    return "INT8" in kinds and kinds <= {"INT8", "INT32"}


def _loop_arena(found, graphs, seconds: float) -> "ArenaFigures":
    """The arena figures of ``found`` (a rewrite.loop_search.LoopSearch whose
    model's subgraphs are ``graphs``): the head with its plan pinning the
    loops' carried maps (every other tensor placed by TFLite Micro), with
    TFLite Micro's own plan, and the peak with the loops as the bound."""
    from .arena.model_plan import ArenaFigures
    from .tflm.offline import pinned_copies

    head = stored_head(found.model, graphs)
    own = stored_head(found.bare, graphs_of(found.bare))
    pins = pinned_copies(found.model, graphs)
    peak = memory.nested_peak(graphs, pins).peak
    pinned = len({t for pair in pins for t in pair})
    return ArenaFigures(peak, head, own if own is not None else head, head, True, False, "loop pins", pinned, 0,
                        seconds, reason=PlanReason.LOOP_PINS)


def _stored_schedule(graph: Graph) -> GraphSchedule:
    """The stored order of ``graph`` as a schedule that is kept as it is."""
    peak = memory.peak_bytes(graph)
    return GraphSchedule(graph.subgraph, tuple(range(graph.num_operators)), peak, peak, memory.lower_bound(graph),
                         False, 0.0, 1, 0, note="kept in stored order: tensors change shape at run time")


def _learned_order(graph) -> tuple[int, ...]:
    from .learned import learned_order

    return learned_order(graph)
