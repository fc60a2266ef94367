"""Memory-optimal operator order for one graph: divide, bound, and search exactly.

1. Contract operators computed from constants alone (DEQUANTIZE of a float16
   weight, DENSIFY) into their first consumer (:mod:`.dominance`), then split
   the graph at forced cuts (:func:`problem.split`); pieces are independent.
2. Give every piece an upper bound from the list heuristics, improved by a
   quick beam search (the exact search keeping only the best few states).
3. Only pieces whose bound is above what the peak of the whole must be anyway
   need work. For those, one exact search just below the best known peak
   either finds the best order or proves the known one optimal. If its state
   table fills, searches run under a soft budget instead: from the lower bound,
   higher in growing steps until one finds an order. A search that finds one
   finds the best one (it keeps every partial order within the budget), so the
   answer is proven optimal.
4. On time-out or when the state table is full, the best order found so far is
   returned and marked as not proven. The result is never worse than the
   stored order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

from .. import memory
from ..errors import SerenityError
from ..graph import Graph
from .dominance import defer_constant_operators
from .heuristic import best_heuristic
from .problem import Subproblem, evaluate, split
from .result import SearchResult

Engine = Callable[..., SearchResult]

#: Default cap on partial schedules kept per level of the search...
MAX_STATES = 1 << 21
#: ...lowered for large pieces so the state tables stay within this many bytes.
STATE_MEMORY = 768 << 20


def state_cap(piece_size: int, max_states: int = MAX_STATES, memory_bytes: int = STATE_MEMORY) -> int:
    """States per level that fit ``memory_bytes`` for a piece of ``piece_size`` operators.

    A state holds two bitsets (scheduled, ready) and 24 bytes of figures; the
    search holds one full level and up to two levels' worth of the next.
    """
    words = max(1, (piece_size + 63) // 64)
    per_state = 2 * 8 * words + 24
    return max(1, min(max_states, memory_bytes // (3 * per_state)))


@dataclass(frozen=True)
class GraphSchedule:
    """The best order found for one subgraph and what is known about it."""

    subgraph: int
    order: tuple[int, ...]  # operator indices (positions in the stored order)
    peak_before: int  # bytes, stored order
    peak: int  # bytes, this order
    lower_bound: int
    optimal: bool  # proven: no order has a lower peak
    seconds: float
    pieces: int  # independent pieces the graph split into
    states: int  # partial schedules the exact searches expanded
    note: str = ""
    inplace: bool = False  # peaks count element-wise operators writing over a dying input

    @property
    def status(self) -> str:
        return "optimal" if self.optimal else "best found"


@dataclass(frozen=True)
class ProgressInfo:
    """Where a running :func:`schedule_graph` is, given to its ``progress`` callback
    after the heuristics and after each beam or exact search of a piece; the
    driver also gives one as rewriting (concat sites and row strips) begins,
    with phase ``"rewrite"``, and the figures of the order it starts from."""

    subgraph: int
    phase: Literal["heuristic", "beam", "exact", "rewrite"]
    piece: int  # the piece just searched (-1 after the heuristics)
    pieces: int
    states: int  # partial schedules the exact searches expanded so far
    best_peak: int  # bytes: the peak of the best whole order known now
    lower_bound: int
    peak_before: int  # bytes, stored order
    seconds: float  # since the call began


def compiled_engine() -> Engine | None:
    """The Cython search, or None when the extension is not built."""
    try:
        from . import _dp
    except ImportError:
        return None
    return _dp.search


def pick_engine(name: Literal["auto", "compiled", "python"] = "auto") -> Engine:
    """The search implementation: compiled by default, pure Python on request or as a fallback."""
    engine = None if name == "python" else compiled_engine()
    if engine is None:
        if name == "compiled":
            raise SerenityError("the compiled scheduler is not built; reinstall with 'pip install -e .'")
        from . import reference  # the pure-Python search: imported only when it runs

        return reference.search
    return engine


def schedule_graph(
    graph: Graph,
    *,
    time_limit: float = 30.0,
    engine: Engine | None = None,
    max_states: int = MAX_STATES,
    warm_start: Sequence[Sequence[int]] = (),
    progress: Callable[[ProgressInfo], None] | None = None,
    inplace: bool = False,
    flow: memory.ActivationFlow | None = None,
    memo: "PieceMemo | None" = None,
    bound: int | None = None,
) -> GraphSchedule:
    """Find an operator order of ``graph`` with the lowest peak of live activation bytes.

    With ``inplace``, peaks are those of the memory model where element-wise
    operators write over an input that dies there (:func:`memory.inplace_sources`):
    what TFLite Micro does under our offline arena plan, never on its own.

    ``warm_start`` orders (e.g. a learned policy's) join the heuristics as
    upper bounds; they can make the search faster, never change its answer.
    ``progress``, if given, is called with a :class:`ProgressInfo` between
    searches (never during one); it must not raise. ``flow`` is
    :func:`memory.activation_flow` of ``graph`` with the same ``inplace``, if
    the caller has it. ``memo`` holds pieces already solved by earlier calls
    (the strip search schedules many graphs that share most pieces); it
    changes how long the call takes, never its answer. ``bound`` is
    :func:`memory.lower_bound` of ``graph`` with the same ``inplace``, if the
    caller has it.
    """
    start = time.monotonic()
    memo = PieceMemo() if memo is None else memo
    deadline = start + time_limit
    engine = engine or pick_engine()
    flow = memory.activation_flow(graph, inplace=inplace) if flow is None else flow
    peak_before = memory.peak_bytes(graph, inplace=inplace, flow=flow)
    bound = memory.lower_bound(graph, inplace=inplace) if bound is None else bound
    units = defer_constant_operators(flow)
    pieces = split(units.flow)
    keys = [memo.key(p) for p in pieces]
    candidates = [memo.heuristic(k, p) for k, p in zip(keys, pieces)]
    orders = [c.order for c in candidates]
    peaks = [c.peak for c in candidates]
    for given in warm_start:
        memory.check_order(graph, given)
        for i, local in enumerate(_restrict(pieces, units.restrict(given))):
            if local == candidates[i].identity:
                continue  # the stored order, which the heuristics' best never exceeds
            peak = evaluate(pieces[i], local)
            if peak < peaks[i]:
                orders[i], peaks[i] = local, peak

    def tell(phase: str, piece: int) -> None:
        if progress is not None:
            progress(ProgressInfo(graph.subgraph, phase, piece, len(pieces), states, max(peaks, default=0),
                                  bound, peak_before, time.monotonic() - start))

    proven, states, notes = True, 0, set()
    tell("heuristic", -1)
    settled = bound  # the peak of the whole is at least this
    for i in sorted(range(len(pieces)), key=lambda i: (-peaks[i], i)):
        if peaks[i] <= settled:
            break  # this piece and all smaller ones cannot raise the peak
        asked = (keys[i], orders[i], peaks[i], settled, max_states, engine)
        known = memo.searched.get(asked)
        if known is not None:  # the same piece from the same start: the same searches, the same answer
            orders[i], peaks[i], spent, note = known
            states += spent
            if note:
                proven = False
                notes.add(note)
            tell("exact", i)
            settled = max(settled, peaks[i])
            continue
        spent, note = 0, ""
        low = max(settled, pieces[i].lower_bound())
        beam = _beam(pieces[i], peaks[i], engine, deadline)
        if beam is not None:
            orders[i], peaks[i] = beam.order, beam.peak + pieces[i].offset
        tell("beam", i)
        if not (beam is not None and peaks[i] <= settled):
            cap = state_cap(pieces[i].size, max_states)
            result, spent = _solve_piece(pieces[i], low, peaks[i], engine, cap, deadline)
            states += spent
            if result is None or result.status != "optimal":
                proven = False
                note = ("time limit in scheduling" if result is None or result.status == "timeout"
                        else "state table full")
                notes.add(note)
            if result is not None and result.order and result.peak + pieces[i].offset <= peaks[i]:
                orders[i], peaks[i] = result.order, result.peak + pieces[i].offset
            tell("exact", i)
        if time.monotonic() < deadline:  # no search was cut short: the answer depends on the piece alone
            memo.searched[asked] = (orders[i], peaks[i], spent, note)
        settled = max(settled, peaks[i])

    order = units.expand(tuple(p.ops[v] for p, o in zip(pieces, orders) for v in o))
    peak = memory.peak_bytes(graph, order, inplace=inplace, flow=flow)  # the authority; must agree with the search
    if peak != max(peaks, default=peak):
        raise AssertionError(f"scheduler disagrees with the memory model: {max(peaks)} != {peak}")
    if peak > peak_before:  # cannot happen (the stored order is a candidate), kept as a guard
        order, peak = tuple(range(graph.num_operators)), peak_before
    return GraphSchedule(
        subgraph=graph.subgraph,
        order=order,
        peak_before=peak_before,
        peak=peak,
        lower_bound=bound,
        optimal=proven or peak == bound,
        seconds=time.monotonic() - start,
        pieces=len(pieces),
        states=states,
        note=", ".join(sorted(notes)) if not (proven or peak == bound) else "",
        inplace=inplace,
    )


class PieceMemo:
    """Pieces already solved, by what they are: a piece's heuristic orders and
    searches depend only on its figures (not on which graph operators it
    holds), and a search also on where it starts (the known order and peak,
    the bound already settled, the state cap and the engine).

    Searches cut short by the time limit are not remembered, so a memo
    changes how long :func:`schedule_graph` takes, never what it returns.
    Hold one for as long as related graphs are scheduled (the versions of one
    model); it keeps every piece it saw.
    """

    def __init__(self) -> None:
        self.heuristics: dict[tuple, "_Heuristic"] = {}
        self.searched: dict[tuple, tuple[tuple[int, ...], int, int, str]] = {}

    @staticmethod
    def key(piece: Subproblem) -> tuple:
        """What the searches of ``piece`` depend on: all of it but the graph operators it holds."""
        return (piece.preds, piece.out_bytes, piece.dead_out, piece.free_size, piece.free_consumers,
                piece.op_frees, piece.op_floor, piece.lazy, piece.init_bytes, piece.init_dead, piece.offset)

    def heuristic(self, key: tuple, piece: Subproblem) -> "_Heuristic":
        """The best list schedule of ``piece`` (:func:`.heuristic.best_heuristic`), and its stored order."""
        found = self.heuristics.get(key)
        if found is None:
            best = best_heuristic(piece)
            found = self.heuristics[key] = _Heuristic(best.order, best.peak, tuple(range(piece.size)))
        return found


@dataclass(frozen=True)
class _Heuristic:
    order: tuple[int, ...]
    peak: int
    identity: tuple[int, ...]  # the piece's stored order


#: States per level of :func:`schedule_in_place` (a sixteenth of the plain
#: search's): it starts from the plain optimum, and without the lazy-operator
#: rule (in-place ADDs defeat it) a RandWire-like graph fills any table
#: (RandWire ER: the same order at 2^15, 2^17 and 2^19 states, 0.3-10 s).
INPLACE_STATES = 1 << 17


def schedule_in_place(
    graph: Graph,
    plain: GraphSchedule,
    *,
    time_limit: float = 30.0,
    engine: Engine | None = None,
    progress: Callable[[ProgressInfo], None] | None = None,
    memo: "PieceMemo | None" = None,
) -> GraphSchedule:
    """The best order when element-wise operators write over a dying input
    (``inplace`` of :func:`schedule_graph`), starting from ``plain``, the
    schedule without. Its peak is at most ``plain``'s in that model."""
    return schedule_graph(graph, time_limit=time_limit, engine=engine, progress=progress,
                          warm_start=[plain.order], max_states=INPLACE_STATES, inplace=True, memo=memo)


def _restrict(pieces: Sequence[Subproblem], order: Sequence[int]) -> list[tuple[int, ...]]:
    """A whole-graph order as one local order per piece (forced cuts keep pieces contiguous)."""
    where = {op: (i, v) for i, p in enumerate(pieces) for v, op in enumerate(p.ops)}
    local: list[list[int]] = [[] for _ in pieces]
    for op in order:
        i, v = where[op]
        local[i].append(v)
    return [tuple(o) for o in local]


#: Partial schedules a beam search keeps per level, by piece size.
BEAM_WIDTH = ((1000, 256), (1 << 30, 32))


def _beam(piece: Subproblem, peak: int, engine: Engine, deadline: float) -> SearchResult | None:
    """A quick beam search (the exact search with few states per level) for a
    better upper bound than the list heuristics; None if it finds none."""
    width = next(w for limit, w in BEAM_WIDTH if piece.size <= limit)
    result = engine(piece, peak - piece.offset - 1, floor=0, max_states=width, deadline=deadline)
    return result if result.order else None


def _solve_piece(
    piece: Subproblem, low: int, high: int, engine: Engine, max_states: int, deadline: float
) -> tuple[SearchResult | None, int]:
    """Exact search of one piece whose best known order peaks at ``high``.

    Budgets stay below ``high``: when even ``high - 1`` admits no order, the
    known order is optimal, returned as an 'optimal' result without an order.
    The first search runs right at ``high - 1`` with a quarter of the state
    table: the beam's order is usually optimal, and then one search proves it.
    If that table fills, budgets rise from ``low`` instead, where each search
    prunes harder (soft budgeting). Returns the first conclusive search, or
    None if time ran out.
    """
    top = engine(piece, high - 1 - piece.offset, floor=low - piece.offset, max_states=max(1, max_states // 4),
                 deadline=deadline)
    states = top.states
    if top.status == "infeasible":
        return SearchResult("optimal", high - piece.offset, (), states), states
    if top.status in ("optimal", "timeout"):
        return top, states
    known = ()  # the order reaching `high`: the caller's, unless the truncated search found a better one
    if top.order:
        high, known = top.peak + piece.offset, top.order
    budget, step = low, max(1, (high - low) // 16)
    while time.monotonic() < deadline:
        budget = min(budget, high - 1)
        # every order of the piece peaks at `low` or more, or does not matter below it
        result = engine(piece, budget - piece.offset, floor=low - piece.offset, max_states=max_states,
                        deadline=deadline)
        states += result.states
        if result.status != "infeasible":
            return result, states
        if budget >= high - 1:
            return SearchResult("optimal", high - piece.offset, known, states), states
        low = budget + 1  # proven: no order of the piece peaks at or below the budget
        budget, step = budget + step, step * 2
    return (top if top.order else None), states
