"""The arena pass: place every tensor of a model, and write the placement as
TFLite Micro's offline memory plan.

:func:`plan_arena` takes a model and the operator orders it will run in,
builds the buffers TFLite Micro plans (:mod:`.buffers`: tensors of all
subgraphs on one timeline of allocation scopes, plus the kernels' scratch
buffers), places them with :func:`.plan`, and writes the tensors' offsets
into the ``OfflineMemoryAllocation`` metadata (:mod:`.offline`). Scratch
buffers cannot be pinned; the plan leaves room for them, and TFLite Micro
places them there (or lower) itself, which we simulate with
:func:`.greedy_tflm` to know the head it will use.

The plan is written only where it makes TFLite Micro's head smaller, and
that is known only where every kernel's buffers are modelled
(:mod:`.kernels`). Otherwise TFLite Micro, run in a child process, measures
the model with and without the plan, and the plan is written only if it
measures strictly smaller; a model TFLite Micro cannot load keeps no plan.
:class:`PlanReason` says which case applied.

The pass preserves everything the model computes: it changes no operator,
tensor or buffer, only the metadata entry (and the stored order, to the one
given). Outputs are bit-identical in every runtime; runtimes other than TFLite
Micro ignore the entry.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from dataclasses import dataclass
from typing import Mapping, Sequence

from tflite_serenity.arena.blocks import (
    DEFAULT_ALIGNMENT, Block, Placement, aligned, aligned_sizes, check_placement, conflict_lists, lower_bound)
from tflite_serenity.arena.heuristics import fit_in_order, make_instance
from tflite_serenity.tflm.buffers import ModelBuffers, alias_groups, merge_aliases, model_buffers
from tflite_serenity.tflm.kernels import unmodelled_kernels
from tflite_serenity.tflm.offline import METADATA_NAME, with_offline_plan
from tflite_serenity.arena.overlap import KINDS
from tflite_serenity.arena.overlap_plan import plan_overlapped
from tflite_serenity.arena.planner import plan
from tflite_serenity.tflm.planner import ONLINE, greedy_tflm
from tflite_serenity.errors import RuntimeUnavailableError, UnsupportedModelError
from tflite_serenity.model_version import graphs_of
from tflite_serenity.model import metadata, with_operator_orders, without_metadata, write_model

DEFAULT_TIME_LIMIT = 2.0
"""Budget of the placement search, roughly CPU seconds (see :func:`.plan`)."""

#: Operators whose outputs overlap their inputs only with ``inplace`` (``--no-shared-outputs`` turns them off).
ELEMENTWISE = ("ADD", "SUB", "MUL")

MAX_OFFSET = (1 << 31) - 1
"""Offsets are int32 in the plan; a model needing a larger arena is not planned."""


class PlanReason(str, enum.Enum):
    """Why the plan was or was not written (:attr:`ArenaFigures.reason`)."""

    MODELLED_SMALLER = "modelled_smaller"
    """Written: every kernel is modelled, and with our plan the (simulated)
    head is smaller than with TFLite Micro's own plan."""
    MEASURED_SMALLER = "measured_smaller"
    """Written: some kernel is not modelled, and TFLite Micro measured the
    arena with our plan strictly smaller than with its own."""
    NOT_SMALLER = "not_smaller"
    """Not written: our plan is no smaller than TFLite Micro's own (simulated)."""
    LOSES_WITH_LIBRARY = "loses_with_library"
    """Not written: our plan is smaller with the reference kernels, but with
    an optimized kernel library of the target (CMSIS-NN's scratch buffers)
    every plan we found needs more than TFLite Micro's own (simulated)."""
    MEASURED_NOT_SMALLER = "measured_not_smaller"
    """Not written: some kernel is not modelled, and TFLite Micro measured
    the arena with our plan no smaller than with its own."""
    NOT_MEASURABLE = "not_measurable"
    """Not written: some kernel is not modelled, and TFLite Micro cannot
    load the model to measure it."""
    NOT_MEASURED = "not_measured"
    """Not written: some kernel is not modelled, and measuring was turned off
    or TFLite Micro is not installed."""
    LOOP_PINS = "loop_pins"
    """Written: the model runs row strips in WHILE loops (rewrite.loop_search),
    and the plan pins each loop-carried map's copies to one offset; TFLite
    Micro places every other tensor around them (``lower_bound`` is the peak
    with the loops, memory.nested_peak)."""

    @property
    def written(self) -> bool:
        return self in (PlanReason.MODELLED_SMALLER, PlanReason.MEASURED_SMALLER, PlanReason.LOOP_PINS)


@dataclass(frozen=True)
class MeasuredArena:
    """TFLite Micro's arena for a model without and with our plan, as its
    recording allocator reports it (``print_allocations``, 64-bit host).

    Attributes
    ----------
    own_head, own_tail : int
        Head and tail with TFLite Micro's own plan.
    plan_head, plan_tail : int
        Head and tail with ours.
    """

    own_head: int
    own_tail: int
    plan_head: int
    plan_tail: int

    @property
    def own_total(self) -> int:
        return self.own_head + self.own_tail

    @property
    def plan_total(self) -> int:
        return self.plan_head + self.plan_tail


@dataclass(frozen=True)
class ArenaFigures:
    """What :func:`plan_arena` found and did. Byte counts are of the arena
    head (TFLite Micro's non-persistent tensor memory), 16-byte aligned.

    Attributes
    ----------
    lower_bound : int
        Peak of the aligned bytes alive at one allocation scope (tensors and
        scratch buffers): no placement of this order can use less.
    planned : int
        End of our placement, scratch buffers included.
    tflm_greedy : int
        The head TFLite Micro's own greedy planner gives the same order
        without a plan (simulated by :func:`.greedy_tflm`).
    tflm_with_plan : int
        The head TFLite Micro gives with our plan (simulated: tensors pinned,
        scratch buffers placed online around them).
    written : bool
        Whether the returned model holds our plan: when every kernel is
        modelled and ``tflm_with_plan < tflm_greedy``, or when some kernel is
        not and TFLite Micro measured the arena (head plus tail) with our
        plan strictly smaller (``reason`` says which).
    optimal : bool
        ``planned`` is proven minimal for this order.
    method : str
        The placement algorithm that won (see :func:`.plan`).
    tensors, scratch : int
        Tensors pinned by the plan; scratch buffers modelled.
    seconds : float
        Time spent.
    note : str
        What else happened (a plan the input held was replaced or removed).
    reason : PlanReason
        Why the plan was or was not written.
    unmodelled : tuple of str
        The kernels whose arena needs are not modelled
        (:func:`.unmodelled_kernels`); empty when every one is.
    measured : MeasuredArena or None
        TFLite Micro's measured arena without and with our plan, where it
        was measured (only for models with unmodelled kernels).
    measure_error : str
        Why TFLite Micro could not measure the model, where it could not.
    overlapping : int
        Operator outputs that overlap an input dying there under the written
        plan (``overlap``; 0 otherwise). ``lower_bound`` does not count
        overlaps, so the head may be below it then.
    head_without_overlap : int or None
        Where the written plan overlaps, the head TFLite Micro would use
        without overlaps (our plan where it is smaller than its own, its own
        otherwise); None where :attr:`head` has no overlap.
    """

    lower_bound: int
    planned: int
    tflm_greedy: int
    tflm_with_plan: int
    written: bool
    optimal: bool
    method: str
    tensors: int
    scratch: int
    seconds: float
    note: str = ""
    reason: PlanReason = PlanReason.NOT_SMALLER
    unmodelled: tuple[str, ...] = ()
    measured: MeasuredArena | None = None
    measure_error: str = ""
    overlapping: int = 0
    head_without_overlap: int | None = None

    @property
    def written_without_overlap(self) -> bool:
        """Whether the plan would be written without overlaps too."""
        if self.head_without_overlap is None:
            return self.written
        return self.head_without_overlap < self.tflm_greedy

    @property
    def head(self) -> int:
        """The head TFLite Micro uses for the returned model: measured where
        it was, simulated otherwise."""
        if self.measured is not None:
            return self.measured.plan_head if self.written else self.measured.own_head
        return self.tflm_with_plan if self.written else self.tflm_greedy


def plan_arena(
    model,
    orders: Mapping[int, Sequence[int]] | None = None,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
    scratch: bool = True,
    alias_reshapes: bool = False,
    inplace: bool = False,
    measure: bool = True,
    alignment: int = DEFAULT_ALIGNMENT,
    overlap: bool = False,
    kernels: Sequence[str] = ("reference",),
) -> tuple[object, ArenaFigures | None]:
    """Place a model's tensors in one arena and write the offline plan.

    Parameters
    ----------
    model : ModelT
        The model (not modified).
    orders : mapping of int to sequence of int, optional
        Operator order of subgraph ``s`` (positions in its stored order),
        for the subgraphs whose order changes. The returned model stores
        its operators in these orders, so the plan matches what runs.
    time_limit : float, default 2.0
        Budget of the placement search (deterministic: the same input gives
        the same plan on any machine).
    scratch : bool, default True
        Model the kernels' scratch buffers (:mod:`.scratch`) so the plan
        leaves room for them. Without, TFLite Micro still places them
        safely, possibly above the plan.
    alias_reshapes : bool, default False
        Let a RESHAPE output share its input's bytes
        where the input dies there (:func:`.alias_groups`), which TFLite
        Micro's own planner never does. Its reference kernels tolerate it
        (docs/arena.md gives what was run); the figures then count each
        shared pair once, the lower bound included.
    inplace : bool, default False
        Let an element-wise operator (ADD, SUB, MUL) write its output over a
        same-shaped input it reads last
        (:func:`tflite_serenity.memory.inplace_sources`); TFLite Micro's own
        planner never does, its kernels read each element before writing it
        (docs/arena.md gives what was run). Figures count each pair once.
    measure : bool, default True
        Where some kernel's buffers are not modelled (:mod:`.kernels`) and
        our simulated plan is smaller, measure the model in TFLite Micro (a
        child process each, without and with the plan) and write the plan
        only if it measures strictly smaller. With False, or without
        ``tflite-micro`` installed, such a model gets no plan.
    alignment : int, default 16
        Every buffer's offset and size are multiples of it (TFLite Micro's
        ``MicroArenaBufferAlignment()``; :class:`tflite_serenity.options.Target`).
    overlap : bool, default False
        Also try :func:`.plan_overlapped`, which lets an operator's output
        overlap an input dying there by the rule of :mod:`.overlap`, as far
        as it was verified by running with every library of ``kernels``
        (:func:`.library_verified`: CMSIS-NN's int8 1x1 convolutions
        corrupt), and
        keep it where its simulated head is smaller. Single subgraph, every
        kernel modelled; ADD, SUB and MUL only with ``inplace``.
        ``lower_bound`` stays the bound without overlaps, so the head may go
        below it (``overlapping`` counts the pairs). :func:`.check_offline_plan`
        accepts such a plan, so a second run reads it back as safe.

    kernels : sequence of str, default ``("reference",)``
        The kernel libraries the model may run with
        (:data:`tflite_serenity.tflm.scratch.KERNEL_LIBRARIES`;
        :attr:`tflite_serenity.options.Target.kernels`). The plan leaves
        room, at each operator's step, for the scratch buffers of whichever
        asks for the most (TFLite Micro places them around the pinned
        tensors, so a plan without that room gets them on top), and is
        written only if, for each library, TFLite Micro's head with it is no
        larger than with its own plan (simulated), and strictly smaller
        with the first.

    Returns
    -------
    model : ModelT
        The model in the given orders, with our plan when it makes TFLite
        Micro's arena smaller than its own plan (simulated where every
        kernel is modelled, measured otherwise), and with no plan otherwise
        (any plan the input held is replaced or removed: it described
        another order).
    figures : ArenaFigures or None
        None when the model cannot be planned (a subgraph that runs itself,
        a type TFLite Micro cannot size, an arena past 32-bit offsets); the
        model is then returned without a plan.

    Raises
    ------
    ModelFormatError, InfeasibleError
        If an order is not valid for its subgraph.
    """
    start = time.monotonic()
    if orders:
        model = with_operator_orders(model, {s: list(o) for s, o in orders.items()})
    graphs = graphs_of(model)  # checks the orders
    had_plan = metadata(model, METADATA_NAME) is not None
    bare = without_metadata(model, METADATA_NAME) if had_plan else model
    kernels = tuple(kernels)
    try:
        buffers = model_buffers(graphs, scratch=scratch, kernels=kernels[:1])
    except UnsupportedModelError:
        return bare, None
    blocks = buffers.blocks
    if lower_bound(blocks) > MAX_OFFSET:
        return bare, None  # no 32-bit offset reaches that far
    own = greedy_tflm(blocks)
    # Candidates: the plan for the first library's scratch buffers alone; where
    # other libraries ask for more, plans that leave room for the largest request
    # of any (:func:`_roomy_plans`). A candidate qualifies if it beats TFLite
    # Micro's own plan with the first library and loses with none; the lowest
    # head with the first library wins, then the lowest with the others.
    candidates = [(buffers, *_placed(graphs, buffers, alias_reshapes, inplace, alignment, time_limit))]
    if len(kernels) > 1:
        roomy = model_buffers(graphs, scratch=scratch, kernels=kernels)
        if roomy.blocks != blocks:
            rooms = [_rooms(graphs, library, scratch, alignment) for library in kernels[1:]]
            candidates += [(roomy, *found) for found in
                           _roomy_plans(graphs, roomy, alias_reshapes, inplace, alignment, time_limit,
                                        candidates[0][1], rooms)]
    views = {}  # per library: its buffers and TFLite Micro's own head with them, once
    for library in kernels if len(kernels) > 1 else ():
        mine = model_buffers(graphs, scratch=scratch, kernels=(library,))
        same = next((v for v in views.values() if v[0].blocks == mine.blocks), None)
        views[library] = same or (mine, greedy_tflm(mine.blocks).arena_bytes,
                                  [-1 if b.is_scratch else mine.plan_index(b) for b in mine.buffers])
    best, best_key, smaller_somewhere = 0, None, False
    for k, (_, _, offsets, _, head, _) in enumerate(candidates):
        others: list | None = []
        if len(kernels) > 1:
            heads: dict = {}  # per distinct library view: its head and TFLite Micro's own
            head = _library_head(views[kernels[0]], offsets, heads)[0]
            if head < own.arena_bytes and (best_key is None or head <= best_key[0]):
                others = [_library_head(views[library], offsets, heads) for library in kernels[1:]]
            else:
                others = None  # it cannot qualify, or cannot win: the other libraries need not be simulated
        if k == 0:
            first_head = head
        smaller_somewhere = smaller_somewhere or head < own.arena_bytes
        if others is not None and head < own.arena_bytes and all(ours <= theirs for ours, theirs in others):
            key = (head, max((ours for ours, _ in others), default=0), k)
            if best_key is None or key < best_key:
                best, best_key = k, key
    buffers, placement, offsets, pinned, head, scratch_count = candidates[best]
    head = best_key[0] if best_key is not None else first_head
    smaller = best_key is not None
    bound = _placed_bound(blocks, graphs, buffers, alias_reshapes, inplace) if buffers.blocks != blocks else None
    unmodelled = unmodelled_kernels(graphs)
    planned = with_offline_plan(bare, offsets, buffers=buffers) if smaller else None
    method, planned_bytes, optimal = placement.method, placement.arena_bytes, placement.optimal
    if best > 0:
        # a plan with room for other libraries: the first library's head is what
        # it gives; no search proved it the lowest that leaves that room
        planned_bytes, optimal = head, False
    overlapping, without_overlap = 0, None
    if overlap and not unmodelled:
        kinds = KINDS if inplace else tuple(k for k in KINDS if k not in ELEMENTWISE)
        unit_of = _units(graphs, buffers, alias_reshapes, inplace)[1]
        found = plan_overlapped(bare, graphs, buffers, alignment, kinds,
                                start=[placement.offsets[u] for u in unit_of], kernels=kernels)
        if found is not None and found[1].tflm_head < min(head, own.arena_bytes):
            without_overlap = min(head, own.arena_bytes)
            planned, head = found[0], found[1].tflm_head
            method, planned_bytes, optimal = "overlap", found[1].planned, False
            overlapping = found[1].overlapping
    measured, measure_error = None, ""
    if planned is None:
        reason = PlanReason.LOSES_WITH_LIBRARY if smaller_somewhere else PlanReason.NOT_SMALLER
    elif not unmodelled:
        reason = PlanReason.MODELLED_SMALLER
    elif not measure:
        reason = PlanReason.NOT_MEASURED
    else:
        measured, measure_error, reason = _measure(bare, planned)
    written = reason.written
    out = planned if written else bare
    note = ""
    if had_plan:
        note = "replaced the model's offline plan" if written else "removed the model's offline plan"
    figures = ArenaFigures(
        lower_bound=placement.lower_bound if bound is None else bound,
        planned=planned_bytes,
        tflm_greedy=own.arena_bytes,
        tflm_with_plan=head,
        written=written,
        optimal=optimal,
        method=method,
        tensors=pinned,
        scratch=scratch_count,
        seconds=time.monotonic() - start,
        note=note,
        reason=reason,
        unmodelled=unmodelled,
        measured=measured,
        measure_error=measure_error,
        overlapping=overlapping if written else 0,
        head_without_overlap=without_overlap if written else None,
    )
    return out, figures


def _units(graphs, buffers: ModelBuffers, alias_reshapes: bool, inplace: bool):
    groups = alias_groups(graphs, buffers, reshapes=alias_reshapes, inplace=inplace)
    return merge_aliases(buffers.blocks, groups)


def _placed(graphs, buffers: ModelBuffers, alias_reshapes: bool, inplace: bool, alignment: int, time_limit: float):
    """Our placement of ``buffers``, the offline plan's offsets from it, the
    tensors it pins, TFLite Micro's simulated head with it, and the number
    of scratch buffers."""
    units, unit_of = _units(graphs, buffers, alias_reshapes, inplace)
    return _pinned(buffers, units, unit_of, plan(units, alignment=alignment, time_limit=time_limit))


def _pinned(buffers: ModelBuffers, units, unit_of, placement):
    offsets, pinned = plan_offsets(buffers, [placement.offsets[u] for u in unit_of])
    scratch_count = sum(1 for b in buffers.buffers if b.is_scratch)
    if scratch_count:
        # TFLite Micro places the scratch buffers itself, around the pinned tensors.
        is_scratch = _scratch_units(buffers, units, unit_of)
        online = [ONLINE if s else o for s, o in zip(is_scratch, placement.offsets)]
        simulated = greedy_tflm(units, offline_offsets=online)
        check_placement(units, simulated.offsets)
        head = simulated.arena_bytes
    else:
        head = placement.arena_bytes  # every buffer pinned
    return placement, offsets, pinned, head, scratch_count


def _scratch_units(buffers: ModelBuffers, units, unit_of) -> list[bool]:
    is_scratch = [False] * len(units)
    for b, u in zip(buffers.buffers, unit_of):
        is_scratch[u] = b.is_scratch
    return is_scratch


def _roomy_plans(graphs, buffers: ModelBuffers, alias_reshapes: bool, inplace: bool, alignment: int,
                 time_limit: float, tight: Placement, rooms: Sequence[tuple[int, Sequence[Block]]]) -> list[tuple]:
    """Plans that leave room for the scratch buffers of ``buffers`` (the
    largest request of any library at each step), as :func:`_placed` gives
    them. One placement of tensors and scratch buffers together, in six
    variants: tensors settled (each dropped, lowest first, to the lowest
    offset free of the tensors alive with it, the room ignored: TFLite Micro
    then finds the room above them), the mirror image settled (the room low
    in the placement goes high), both settled with the tensors alive beside
    the largest room first, as placed, and the mirror image; and first, the
    tensors of ``tight`` (the plan without the room) settled, those beside
    the largest room first; and before all, where they fit, the tensors
    placed lowest first so that each room fits above the tensors alive
    beside it: ``rooms`` holds, per other library, the head it may reach
    and its scratch buffers, one block per operator with their bytes in all."""
    units, unit_of = _units(graphs, buffers, alias_reshapes, inplace)
    placement = plan(units, alignment=alignment, time_limit=0)  # heuristics: a starting point only
    sizes = aligned_sizes(units, alignment)
    top = placement.arena_bytes
    mirrored = dataclasses.replace(placement, offsets=tuple(
        top - o - z for o, z in zip(placement.offsets, sizes)))
    is_scratch = _scratch_units(buffers, units, unit_of)
    tensors_only = make_instance(units, [0 if s else z for s, z in zip(is_scratch, sizes)], conflict_lists(units))

    neighbours = tensors_only.neighbours
    beside_room = [max((sizes[j] for j in neighbours[i] if is_scratch[j]), default=0) for i in range(len(units))]

    def settled(p: Placement, room_first: bool = False) -> Placement:
        order = sorted((i for i, z in enumerate(tensors_only.sizes) if z),
                       key=lambda i: (-beside_room[i] if room_first else 0, p.offsets[i], i))
        offsets = fit_in_order(tensors_only, order, "lowest")
        end = max((o + z for o, z in zip(offsets, tensors_only.sizes)), default=0)
        return dataclasses.replace(p, offsets=tuple(offsets), arena_bytes=end, method=p.method + "/settled")

    # ``tight`` places the same tensor units first (scratch units come after them)
    from_tight = dataclasses.replace(placement, offsets=tuple(tight.offsets[:len(units)]) + (0,) * max(
        0, len(units) - len(tight.offsets)))
    variants = [settled(from_tight, room_first=True), settled(placement), settled(mirrored),
                settled(placement, room_first=True), settled(mirrored, room_first=True), placement, mirrored]
    # Room on top: for each other library, a tensor alive beside an
    # operator's scratch buffers of r bytes in all must end by its limit less r.
    caps: list[int | None] = [None] * len(units)
    for limit, room in rooms:
        for block in room:
            for i, unit in enumerate(units):
                if not is_scratch[i] and unit.start <= block.end and block.start <= unit.end:
                    cap = limit - aligned(block.size, alignment)
                    caps[i] = cap if caps[i] is None else min(caps[i], cap)
    # first fit depends on the order: the tighter cap first, then by either
    # hint's offsets, by size (larger first) or by index
    placed_tensors = [i for i, z in enumerate(tensors_only.sizes) if z]
    seen = set()
    for hint in (from_tight, placement):
        for tie in ("offset", "size", "index"):
            order = sorted(placed_tensors, key=lambda i: (
                caps[i] is None, caps[i] or 0,
                hint.offsets[i] if tie == "offset" else -tensors_only.sizes[i] if tie == "size" else 0, i))
            offsets = tuple(fit_in_order(tensors_only, order, "lowest"))
            if offsets in seen or any(c is not None and o + z > c
                                      for o, z, c in zip(offsets, tensors_only.sizes, caps)):
                continue
            seen.add(offsets)
            end = max((o + z for o, z in zip(offsets, tensors_only.sizes)), default=0)
            variants.insert(len(seen) - 1, dataclasses.replace(hint, offsets=offsets, arena_bytes=end,
                                                               method=hint.method + "/room on top"))
    return [_pinned(buffers, units, unit_of, p) for p in variants]


def _placed_bound(blocks, graphs, buffers: ModelBuffers, alias_reshapes: bool, inplace: bool) -> int:
    """The lower bound of a placement of ``blocks`` (the first library's
    buffers), aliases merged as ``buffers``' (the same tensors)."""
    groups = alias_groups(graphs, buffers, reshapes=alias_reshapes, inplace=inplace)
    return lower_bound(merge_aliases(blocks, groups)[0])


def _rooms(graphs, library: str, scratch: bool, alignment: int) -> tuple[int, list[Block]]:
    """The head ``library`` gets with TFLite Micro's own plan (what ours may
    not exceed with it), and its scratch buffers, one block per operator
    with their aligned bytes in all."""
    buffers = model_buffers(graphs, scratch=scratch, kernels=(library,))
    per_op: dict[tuple[int, int], Block] = {}
    for b in buffers.buffers:
        if b.is_scratch:
            key = (b.subgraph, b.operator)
            size = aligned(b.block.size, alignment) + (per_op[key].size if key in per_op else 0)
            per_op[key] = Block(size, b.block.start, b.block.end)
    return greedy_tflm(buffers.blocks).arena_bytes, list(per_op.values())


def _library_head(view, plan_list: Sequence[int], heads: dict) -> tuple[int, int]:
    """:func:`_pinned_head` of ``view`` and TFLite Micro's own head with it,
    remembered in ``heads`` (libraries with the same buffers share a view)."""
    if id(view) not in heads:
        heads[id(view)] = (_pinned_head(view, plan_list), view[1])
    return heads[id(view)]


def _pinned_head(view, plan_list: Sequence[int]) -> int:
    """TFLite Micro's simulated head with one library's buffers (``view``:
    the buffers, its own head, each buffer's plan index or -1 for scratch)
    and the tensors pinned at ``plan_list`` (the offline plan's offsets)."""
    buffers, _, index = view
    offline = [ONLINE if i < 0 else plan_list[i] for i in index]
    return greedy_tflm(buffers.blocks, offline_offsets=offline).arena_bytes


def _measure(bare, planned) -> tuple[MeasuredArena | None, str, PlanReason]:
    """TFLite Micro's arena for ``bare`` (its own plan) and ``planned`` (ours),
    each allocated in a child process, and the decision it gives: write only
    if head plus tail measures strictly smaller with our plan."""
    from tflite_serenity.tflm.interpreter import measure_tflm_arena

    runs = []
    for model in (bare, planned):
        try:
            run = measure_tflm_arena(write_model(model))
        except RuntimeUnavailableError as err:
            return None, str(err), PlanReason.NOT_MEASURED
        if run.error is not None or run.head_bytes is None or run.tail_bytes is None:
            return None, run.error or "TFLite Micro reported no arena", PlanReason.NOT_MEASURABLE
        runs.append(run)
    own, ours = runs
    measured = MeasuredArena(own.head_bytes, own.tail_bytes, ours.head_bytes, ours.tail_bytes)
    smaller = measured.plan_total < measured.own_total
    return measured, "", PlanReason.MEASURED_SMALLER if smaller else PlanReason.MEASURED_NOT_SMALLER


def plan_offsets(buffers: ModelBuffers, offsets: Sequence[int]) -> tuple[list[int], int]:
    """The offline plan's offset list for a placement of ``buffers``: each
    planned tensor's offset at its position in the concatenated tensor
    lists, -1 everywhere else. Also returns how many tensors are pinned."""
    plan_list = [ONLINE] * buffers.total_tensors
    pinned = 0
    for buffer, offset in zip(buffers.buffers, offsets):
        if not buffer.is_scratch:
            plan_list[buffers.plan_index(buffer)] = int(offset)
            pinned += 1
    return plan_list, pinned


def drop_stale_plan(model) -> tuple[object, str]:
    """The model without its offline plan if that plan is not safe for the
    model as it now stands (another order, added tensors), with a note.

    For callers that change a model without planning it again: TFLite Micro
    trusts any plan it finds, and a stale one corrupts outputs or, with a
    wrong tensor count, stops the model from loading.
    """
    from tflite_serenity.tflm.offline import check_offline_plan, read_offline_plan
    from tflite_serenity.errors import SerenityError

    try:
        stored = read_offline_plan(model)
        if stored is None:
            return model, ""
        check_offline_plan(model, stored.offsets)
    except SerenityError as err:
        return without_metadata(model, METADATA_NAME), f"removed the model's offline plan ({err})"
    return model, ""


