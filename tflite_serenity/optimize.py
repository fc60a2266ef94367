"""The whole optimization of a model: bytes in, bytes out, with the figures.

Stages run in one direction (read -> graph -> schedule -> rewrite -> write);
each is a function of plain data. The output computes what the input computes:
the stored order of operators changes, exact rewrites (docs/rewriting.md) keep
outputs bit-identical, and every order is validated before writing.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Literal

from . import memory
from .fileio import read_bytes, write_atomic
from .graph import build_graphs, scratch_tensors
from .memory import PersistentCosts
from .model import metadata, read_model, with_operator_orders, write_model
from .model.validate import check_stored_orders
from .model.rewrite_ops import has_metadata
from .rewrite import RewriteOptions, SiteRewrite, rewrite_model
from .rewrite.strip_search import StripRewrite
from .rewrite.slices import SliceCounts, simplify_slices
from .schedule.search import GraphSchedule, ProgressInfo, pick_engine, schedule_graph, schedule_in_place

if TYPE_CHECKING:
    from .arena.model_plan import ArenaFigures


@dataclass(frozen=True)
class SubgraphResult:
    """Figures of one subgraph: peak of live activation bytes before and after."""

    index: int
    operators: int
    peak_before: int  # stored order, no tensor shares bytes (TFLite Micro's own plan)
    peak_after: int
    lower_bound: int
    optimal: bool  # the order's peak is proven the lowest possible
    seconds: float
    note: str = ""
    peak_scheduled: int = -1  # after reordering alone, before rewriting (-1: not computed)
    rewrites: tuple[SiteRewrite, ...] = ()  # concat sites rewritten (docs/rewriting.md)
    slices: SliceCounts = SliceCounts()  # exact rewrites of pads, slices and 1x1 pools (rewrite.slices)
    strips: tuple[StripRewrite, ...] = ()  # runs computed in row strips (rewrite.strips)
    inplace: bool = False  # peak_after counts element-wise operators writing over a dying input (arena plan)
    inplace_outputs: int = 0  # outputs TFLite Micro writes in place under the written plan (memory.inplace_sources)

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
    arena: "ArenaFigures | None" = None  # the arena plan (docs/arena.md); None if not planned

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to ``path`` whole (temporary file and rename)."""
        write_atomic(path, self.model)


def optimize(
    model: bytes | str | os.PathLike,
    *,
    time_limit: float = 30.0,
    engine: Literal["auto", "compiled", "python"] = "auto",
    rewrite: bool = True,
    rewrite_approximate: bool = False,
    rewrite_approximate_int8: bool = False,
    strips: bool = True,
    max_recompute: float = 1.0,
    count_persistent: bool = True,
    pointer_width: Literal[32, 64] = 32,
    arena_plan: bool = True,
    shared_outputs: bool = True,
    warm_start: Literal["none", "learned"] = "none",
    progress: Callable[[ProgressInfo], None] | None = None,
) -> OptimizeResult:
    """Reorder the operators of every subgraph for the lowest peak activation memory.

    Parameters
    ----------
    model
        The ``.tflite`` bytes, or a path to the file.
    time_limit
        Seconds for the whole search; when they run out, the best order found
        so far is used and reported as "best found" instead of "optimal".
    engine
        The search implementation: the compiled core by default.
    rewrite
        Also move channel concats below the operators that consume them
        where that lowers the scheduled peak (exact rewrites only: outputs
        stay bit-identical).
    rewrite_approximate, rewrite_approximate_int8
        Also split convolutions and fully connected layers over concat inputs
        (partial sums added by ADD) in float, resp. int8, subgraphs. Outputs
        change in rounding; docs/rewriting.md gives the measured error.
    strips
        With ``rewrite``, also compute runs of operators around the peak in
        row strips where that lowers it (exact in integer subgraphs; rows the
        strips share are computed twice, so each kept run reports its
        multiply-accumulates). Float runs need ``rewrite_approximate``.
    max_recompute
        The most multiply-accumulates strips may add, as a fraction of the
        subgraph's (1.0: at most twice as many in all).
    count_persistent
        Charge each run in strips, and each concat split, the bytes TFLite
        Micro keeps for the operators and tensors it adds (estimated;
        docs/rewriting.md#row-strips), so the whole arena shrinks, not only
        its activations. False chooses by the activation peak alone.
    pointer_width
        Of the device TFLite Micro runs on: 32 (microcontrollers) or 64 (a
        64-bit host). Most of what TFLite Micro keeps per operator and
        tensor is pointers, so this sets the charge above
        (``memory.TFLM_32BIT``, ``memory.TFLM_64BIT``).
    arena_plan
        Also place every tensor in TFLite Micro's arena for the final order
        and write the placement as its offline memory plan, where it makes
        the arena smaller than TFLite Micro's own plan (docs/arena.md).
        Other runtimes ignore the plan. With the plan, element-wise ADD, SUB
        and MUL may write over an input that dies there, and orders are
        chosen for that (``memory.inplace_sources``).
    shared_outputs
        False keeps every operator's output in bytes of its own even under
        the arena plan (for kernels that might write an element before
        reading it; TFLite Micro's reference kernels do not; optimized
        kernel libraries were not checked).
    warm_start
        ``"learned"`` seeds each search with the shipped policy's order
        (docs/learned.md). It can only change how fast the search ends, never
        its answer; on the zoo it made no difference (docs/benchmarks.md).
    progress
        Called with a :class:`~tflite_serenity.schedule.search.ProgressInfo`
        between the scheduler's searches (the command line shows it on a
        terminal: :class:`tflite_serenity.progress.TerminalProgress`).

    Returns
    -------
    OptimizeResult
        Output bytes that give bit-identical outputs in LiteRT and TFLite Micro,
        with the per-subgraph figures.
    """
    start = time.monotonic()
    persistent = _persistent_costs(pointer_width)
    data = model if isinstance(model, (bytes, bytearray)) else read_bytes(model)
    original = tree = read_model(data)
    if any(scratch_tensors(g) for g in build_graphs(original)):
        return _passed_through(data, build_graphs(original), start)
    search = pick_engine(engine)
    deadline = start + time_limit
    slices = (SliceCounts(),) * len(tree.subgraphs)
    if rewrite and not has_metadata(tree, "OfflineMemoryAllocation"):  # a plan names tensors by index
        tree, slices = simplify_slices(tree)  # exact, and never needs more memory in any order
    graphs = build_graphs(tree)
    plain = [schedule_graph(graph, time_limit=_left(deadline), engine=search, progress=progress,
                            warm_start=[_learned_order(graph)] if warm_start == "learned" and graph.num_operators
                            else [])
             for graph in graphs]
    run = _Run(tree, search, deadline, rewrite, rewrite_approximate, rewrite_approximate_int8, strips, max_recompute,
               count_persistent, persistent, arena_plan)
    chosen, passes = plain, [0.0] * len(plain)  # passes: seconds of the in-place pass per subgraph
    if arena_plan and shared_outputs:
        # Under our arena plan, element-wise operators may write over a dying
        # input (memory.inplace_sources): choose orders for that memory model,
        # starting from the plain optimum. Only a written plan makes TFLite
        # Micro share bytes: where none is written (the model cannot be
        # planned, or TFLite Micro's own plan is as small), keep the plain orders.
        chosen = [schedule_in_place(graph, s, time_limit=_left(deadline), engine=search, progress=progress)
                  for graph, s in zip(graphs, plain)]
        passes = [s.seconds for s in chosen]
        final_tree, rewritten, arena = run(chosen)
        if arena is None or not arena.written:
            chosen = plain
            final_tree, rewritten, arena = run(chosen)
    else:
        final_tree, rewritten, arena = run(chosen)
    if not arena_plan and final_tree is not original and metadata(final_tree, "OfflineMemoryAllocation") is not None:
        from .arena.model_plan import drop_stale_plan

        final_tree, _ = drop_stale_plan(final_tree)  # a plan made for the old order is unsafe
    out = write_model(final_tree) if final_tree is not original else bytes(data)
    check_stored_orders(out)  # self-check on the bytes: every stored order is valid
    written = build_graphs(final_tree)
    results = tuple(
        _result(g, w, p, s, rewritten.get(s.subgraph), extra, c)
        for g, w, p, s, extra, c in zip(build_graphs(original), written, plain, chosen, passes, slices))
    return OptimizeResult(out, results, time.monotonic() - start, arena)


def _result(graph, written, plain: GraphSchedule, schedule: GraphSchedule, rewrite, extra_seconds: float,
            slices: SliceCounts) -> SubgraphResult:
    """The figures of one subgraph: ``graph`` as read, ``written`` as written,
    ``schedule`` the order chosen before rewriting (``plain`` or in place)."""
    final = rewrite.schedule if rewrite is not None else schedule
    return SubgraphResult(
        schedule.subgraph, len(schedule.order), memory.peak_bytes(graph), final.peak, final.lower_bound,
        final.optimal, plain.seconds + extra_seconds, final.note or schedule.note,
        peak_scheduled=schedule.peak, rewrites=rewrite.sites if rewrite is not None else (), slices=slices,
        strips=rewrite.strips if rewrite is not None else (),
        inplace=final.inplace,
        inplace_outputs=len(memory.inplace_sources(written, stored_order=True)) if final.inplace else 0)


#: Why a model with custom-operator scratch tensors is returned as it came.
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
                                      note=SCRATCH_NOTE, peak_scheduled=peak))
    return OptimizeResult(bytes(data), tuple(results), time.monotonic() - start, None)


def _persistent_costs(pointer_width: int) -> PersistentCosts:
    if pointer_width not in (32, 64):
        raise ValueError(f"pointer_width must be 32 or 64, not {pointer_width!r}")
    return memory.TFLM_32BIT if pointer_width == 32 else memory.TFLM_64BIT


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


@dataclass(frozen=True)
class _Run:
    """Rewrite and plan a model from given schedules (in place or not)."""

    tree: object
    search: object
    deadline: float
    rewrite: bool
    approximate: bool
    approximate_int8: bool
    strips: bool
    max_recompute: float
    count_persistent: bool
    persistent: PersistentCosts
    arena_plan: bool

    def __call__(self, schedules: list[GraphSchedule]):
        tree = self.tree
        rewritten = {}
        if self.rewrite:
            options = RewriteOptions(approximate=self.approximate, approximate_quantized=self.approximate_int8,
                                     strips=self.strips, max_recompute=self.max_recompute,
                                     count_persistent=self.count_persistent, persistent=self.persistent)
            tree, rewritten = rewrite_model(tree, schedules, options=options, deadline=self.deadline,
                                            engine=self.search)
        final = [rewritten[s.subgraph].schedule if s.subgraph in rewritten else s for s in schedules]
        changed = {s.subgraph: s.order for s in final
                   if s.order != tuple(range(len(s.order))) or s.subgraph in rewritten}
        final_tree = with_operator_orders(tree, changed) if changed else tree
        arena = None
        if self.arena_plan:
            from .arena.model_plan import plan_arena

            final_tree, arena = plan_arena(final_tree, inplace=any(s.inplace for s in schedules))
        return final_tree, rewritten, arena


def _learned_order(graph) -> tuple[int, ...]:
    from .learned import learned_order

    return learned_order(graph)
