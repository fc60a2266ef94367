"""Choose rewrites jointly with the schedule: a site is rewritten only if it pays.

For each concat site in stored order, candidates move the concat one, two,
... levels down (through a ReLU, then a convolution, and so on). Every
candidate graph is scheduled with
:func:`~tflite_serenity.schedule.search.schedule_graph`; the best is kept if
its scheduled peak is lower than the current graph's.

Repeated cells tie for the peak: rewriting one cell cannot lower it, rewriting
all of them can. So after the pass over single sites, one more candidate per
depth moves *every* remaining site at once, and is kept on the same terms.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .. import memory
from ..graph import Graph
from ..tflm.tail import persistent_bytes
from ..model.editor import has_metadata
from ..model_version import ModelVersion
from ..schedule.search import Engine, GraphSchedule, PieceMemo, schedule_graph
from .apply import push_concat
from ..options import Options, Target
from ..tflm.offline import METADATA_NAME
from .sites import Site, concat_site, find_sites
from .strip_search import TIME_LIMIT_IN_STRIPS, StripRewrite, tile_subgraph
from .tconv import ChannelSplit

#: How many levels below the concat a candidate may move it.
MAX_DEPTH = 6

#: States per level a candidate's exact search may keep (work, not seconds,
#: so the same model gives the same choice on any machine). A candidate whose
#: table fills still has a valid (found, not proven) peak.
CANDIDATE_STATES = 1 << 16

#: What a note says when the time limit, a safety net, cut a stage short.
TIME_LIMIT_IN_REWRITING = "time limit in rewriting"

#: Metadata that names tensors by index; rewriting would invalidate it.

_CHANNELWISE = frozenset({"CONV_2D", "FULLY_CONNECTED"})


@dataclass(frozen=True)
class SiteRewrite:
    """One rewritten concat.

    ``peak_before``/``peak_after`` are the scheduled peaks of the whole
    subgraph just before and after the rewrite; for sites rewritten jointly
    (``joint``) they are those of the whole group.
    """

    concat: str  # name of the concat's output tensor
    channels: tuple[int, ...]  # of the concat's inputs
    consumers: tuple[str, ...]  # operator kinds moved through, level by level
    depth: int
    exact: bool  # outputs bit-identical (no channel-wise split)
    peak_before: int
    peak_after: int
    joint: bool = False

    @property
    def gain(self) -> int:
        return self.peak_before - self.peak_after


@dataclass(frozen=True)
class SubgraphRewrite:
    """What rewriting did to one subgraph."""

    subgraph: int
    peak_scheduled: int  # scheduled peak without rewriting
    schedule: GraphSchedule  # of the graph that is kept (rewritten or not)
    sites: tuple[SiteRewrite, ...]  # empty when nothing was kept
    candidates: int  # rewritten graphs scheduled
    note: str = ""
    strips: tuple[StripRewrite, ...] = ()  # runs computed in row strips, after the concat rewrites
    splits: tuple[ChannelSplit, ...] = ()  # TRANSPOSE_CONVs in pieces of their output channels, last (.tconv)

    @property
    def changed(self) -> bool:
        return bool(self.sites or self.strips or self.splits)

    @property
    def peak(self) -> int:
        return self.schedule.peak

    @property
    def exact(self) -> bool:
        return all(s.exact for s in self.sites) and all(s.exact for s in self.strips)


def rewrite_subgraph(
    model,
    subgraph: int,
    *,
    options: Options = Options(),
    target: Target = Target(),
    baseline: GraphSchedule | None = None,
    time_limit: float = 30.0,
    engine: Engine | None = None,
    inplace: bool = False,
    memo: PieceMemo | None = None,
):
    """Rewrite the concat sites of one subgraph where that lowers its scheduled peak.

    Parameters
    ----------
    model
        The ``ModelT`` (not modified).
    subgraph
        Index of the subgraph.
    options
        Which rewrites may be used: exact ones always, channel-wise ones on request.
    baseline
        The schedule of the unrewritten subgraph, if already known.
    time_limit
        Seconds for all candidate schedules; sites left when it runs out are not tried.
    inplace
        Peaks in the memory model with in-place element-wise operators
        (:func:`tflite_serenity.memory.inplace_sources`); a given ``baseline``
        decides instead.
    memo
        Schedule pieces solved before (:class:`~tflite_serenity.schedule.search.PieceMemo`),
        to share with other searches over versions of the model.

    Returns
    -------
    (model, SubgraphRewrite)
        The model with the kept rewrites (the input model itself when none is
        kept), and the report; ``report.schedule.order`` is the order to store.
        Exact rewrites keep outputs bit-identical in LiteRT and TFLite Micro;
        channel-wise ones change rounding (docs/rewriting.md).
    """
    deadline = time.monotonic() + time_limit
    memo = PieceMemo() if memo is None else memo
    graph = ModelVersion(model).graph(subgraph)
    if baseline is None:
        baseline = schedule_graph(graph, time_limit=_left(deadline), engine=engine, inplace=inplace, memo=memo)
    if has_metadata(model, METADATA_NAME):
        return model, SubgraphRewrite(subgraph, baseline.peak, baseline, (), 0,
                                      "not rewritten: the model carries an offline memory plan")
    search = _Search(options, target, deadline, engine, inplace=baseline.inplace, memo=memo)
    current = _Version(model, graph, baseline)
    records: list[SiteRewrite] = []
    tried: list[object] = []  # output tensors (schema objects) of concats not to try again
    while (site := _next_site(current, tried, options)) is not None:
        if search.out_of_time():
            break
        tried.append(_tensor_object(current.model, subgraph, site.output))
        best, frontier = search.best_push(current, [site])
        if best is not None and search.pays(best, current):
            records.append(_record(current, site, best))
            current = best
            tried.extend(frontier)
    remaining = _sites_at_peak(current, options)
    if len(remaining) > 1 and not search.out_of_time():
        best, _ = search.best_push(current, remaining)
        if best is not None and search.pays(best, current):
            records.extend(_record(current, site, best, joint=True) for site in remaining)
            current = best
    strips: tuple[StripRewrite, ...] = ()
    if options.strips and not search.out_of_time():
        tiled, schedule, strips, cut = tile_subgraph(current.model, subgraph, current.schedule, deadline=deadline,
                                                     max_states=CANDIDATE_STATES, engine=engine,
                                                     options=options, target=target, memo=memo)
        if cut:
            search.notes.append(TIME_LIMIT_IN_STRIPS)
        if strips:
            current = _Version(tiled, ModelVersion(tiled).graph(subgraph), schedule)
    elif options.strips:
        search.notes.append(TIME_LIMIT_IN_STRIPS)
    if current.schedule.peak >= baseline.peak:
        return model, SubgraphRewrite(subgraph, baseline.peak, baseline, (), search.candidates, search.note)
    return current.model, SubgraphRewrite(subgraph, baseline.peak, current.schedule, tuple(records),
                                          search.candidates, search.note, strips)


@dataclass(frozen=True)
class _Version:
    """A model, the graph of the subgraph being rewritten, its schedule, and
    (for candidates) the operator kinds moved through, level by level."""

    model: object
    graph: Graph
    schedule: GraphSchedule
    path: tuple[str, ...] = ()
    depth: int = 0


class _Search:
    """Builds and schedules candidates within the time limit."""

    def __init__(self, options: Options, target: Target, deadline: float, engine, inplace: bool, memo: PieceMemo):
        self.options, self.target, self.deadline, self.engine, self.memo = options, target, deadline, engine, memo
        self.inplace = inplace
        self.candidates = 0
        self.notes: list[str] = []

    @property
    def note(self) -> str:
        """Which stages the time limit cut short (empty when none)."""
        return ", ".join(dict.fromkeys(self.notes))

    def cost(self, graph: Graph, schedule: GraphSchedule) -> int:
        """A version's peak, plus (by default) the bytes TFLite Micro keeps for
        its operators and tensors: a split adds operators (strip_search)."""
        return schedule.peak + (0 if self.options.strips_peak_only else persistent_bytes(graph, self.target.costs))

    def pays(self, candidate: "_Version", current: "_Version") -> bool:
        return self.cost(candidate.graph, candidate.schedule) < self.cost(current.graph, current.schedule)

    def out_of_time(self) -> bool:
        """Whether the time limit (a safety net) has passed; the first time it
        has, the note says rewriting was cut short."""
        if time.monotonic() < self.deadline:
            return False
        if TIME_LIMIT_IN_REWRITING not in self.notes:
            self.notes.append(TIME_LIMIT_IN_REWRITING)
        return True

    def best_push(self, start: _Version, sites: list[Site]) -> tuple[_Version | None, tuple]:
        """Move ``sites`` of ``start`` down 1, 2, ... levels (the concats each
        level creates move at the next); schedule each depth and return the
        version with the lowest peak (ties: the shallowest) and the output
        tensors (schema objects) of the concats left at its frontier."""
        s = start.graph.subgraph
        model, graph, path = start.model, start.graph, ()
        pending = [_tensor_object(model, s, site.output) for site in sites]
        best, best_frontier = None, ()
        for depth in range(1, MAX_DEPTH + 1):
            created, kinds = [], set()
            for obj in pending:
                site = _site_of(model, graph, obj, self.options)
                if site is None:
                    continue
                pushed = push_concat(model, graph, site)
                model, graph = pushed.model, ModelVersion(pushed.model).graph(s)
                created.extend(_tensor_object(model, s, t) for t in pushed.concats)
                kinds.update(split.kind for split in site.splits)
            if not kinds or (self.out_of_time() and best is not None):
                break
            path += ("+".join(sorted(kinds)),)
            schedule = schedule_graph(graph, time_limit=_left(self.deadline), engine=self.engine,
                                      max_states=CANDIDATE_STATES, inplace=self.inplace, memo=self.memo)
            self.candidates += 1
            if best is None or self.cost(graph, schedule) < self.cost(best.graph, best.schedule):
                best, best_frontier = _Version(model, graph, schedule, path, depth), tuple(created)
            pending = created
        return best, best_frontier


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _tensor_object(model, subgraph: int, tensor: int):
    return model.subgraphs[subgraph].tensors[tensor]


def _next_site(version: _Version, tried: list, options: Options) -> Site | None:
    for site in _sites_at_peak(version, options):
        obj = _tensor_object(version.model, version.graph.subgraph, site.output)
        if not any(obj is t for t in tried):
            return site
    return None


def _sites_at_peak(version: _Version, options: Options) -> list[Site]:
    """The sites whose concat, or one of its inputs, is alive at a step where
    the version's schedule reaches its peak. Elsewhere a rewrite cannot lower
    the peak (the other steps are already below it), so trying it only costs
    time: on NASNetMobile this skips all but a few of its 30 sites."""
    graph, order, inplace = version.graph, version.schedule.order, version.schedule.inplace
    live = memory.profile(graph, order, inplace=inplace).live
    peak = max(live, default=0)
    peak_steps = [step for step, value in enumerate(live) if value == peak]
    spans = {t: (l.start, l.end) for l in memory.lifetimes(graph, order, inplace=inplace) for t in l.members}

    def at_peak(tensor: int) -> bool:
        start, end = spans.get(tensor, (1, 0))
        return any(start <= step <= end for step in peak_steps)

    producer = graph.producer
    return [site for site in find_sites(version.model, version.graph, options)
            if at_peak(site.output) or any(at_peak(t) for t in graph.operators[producer[site.output]].inputs)]


def _site_of(model, graph: Graph, tensor_object, options: Options) -> Site | None:
    """The site of the concat writing ``tensor_object``, if it still is one."""
    for t, obj in enumerate(model.subgraphs[graph.subgraph].tensors):
        if obj is tensor_object:
            producer = graph.producer[t]
            return concat_site(model, graph, producer, options) if producer >= 0 else None
    return None


def _record(current: _Version, site: Site, best: _Version, joint: bool = False) -> SiteRewrite:
    kinds = {k for level in best.path for k in level.split("+")}
    return SiteRewrite(
        concat=current.graph.tensors[site.output].name,
        channels=site.channels,
        consumers=best.path,
        depth=best.depth,
        exact=not (kinds & _CHANNELWISE),
        peak_before=current.schedule.peak,
        peak_after=best.schedule.peak,
        joint=joint,
    )
