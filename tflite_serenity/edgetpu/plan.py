"""Plan a pipeline for a model: the chosen split and the compiler's baseline."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InfeasibleError
from ..graph import Graph, build_graph
from .contiguous import contiguous_split, learned_split, param_count_split
from .costs import build_problem
from .device import EdgeTpu
from .exact import DEFAULT_TIME_LIMIT, exact_split
from .problem import PipelineProblem, Split

#: Solver names accepted by :func:`plan_pipeline` and the command line.
SOLVERS = ("exact", "contiguous", "param-count", "learned")


@dataclass(frozen=True)
class PipelinePlan:
    """A split of subgraph 0 into ``k`` segments, with the baseline it is measured against.

    Attributes
    ----------
    graph : Graph
        Subgraph 0 of the model.
    device : EdgeTpu
        The cost model's device.
    problem : PipelineProblem
    split : Split
        The chosen solver's answer.
    baseline : Split
        The Edge TPU compiler's rule (:func:`param_count_split`).
    """

    graph: Graph
    device: EdgeTpu
    problem: PipelineProblem
    split: Split
    baseline: Split

    @property
    def speedup(self) -> float:
        """Throughput of ``split`` over that of ``baseline``."""
        return self.baseline.bottleneck_ps / self.split.bottleneck_ps


def plan_pipeline(model, k: int, *, device: EdgeTpu | None = None, solver: str = "exact",
                  time_limit: float = DEFAULT_TIME_LIMIT, workers: int | None = None) -> PipelinePlan:
    """Split subgraph 0 of a ``ModelT`` into ``k`` pipeline segments.

    Parameters
    ----------
    model : ModelT
    k : int
        Number of segments (Edge TPUs), ``1..`` the operator count.
    device : EdgeTpu, optional
        The cost model (default: :class:`EdgeTpu` defaults, USB 3, 8 MiB cache).
    solver : {"exact", "contiguous", "param-count", "learned"}
        ``exact``: CP-SAT over every assignment whose edges go forward;
        ``contiguous``: the best contiguous cut of the stored order (dynamic
        programming); ``param-count``: the compiler's equal-parameter rule;
        ``learned``: the best contiguous cut of the trained policy's order
        (docs/learned.md), fast and unproven.
    time_limit : float
        Seconds for the exact solver.
    workers : int, optional
        CP-SAT workers.

    Raises
    ------
    UnsupportedModelError
        Control flow, resource variables or variable tensors in subgraph 0.
    InfeasibleError
        ``k`` outside ``1..n`` or an unknown solver.
    """
    if solver not in SOLVERS:
        raise InfeasibleError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    device = EdgeTpu() if device is None else device
    graph = build_graph(model, 0)
    problem = build_problem(graph, device)
    if not 1 <= k <= graph.num_operators:
        raise InfeasibleError(
            f"cannot split {graph.num_operators} operators into {k} non-empty segments (choose 1..{graph.num_operators})"
        )
    baseline = param_count_split(problem, k)
    if solver == "param-count":
        split = baseline
    elif solver == "contiguous":
        split = contiguous_split(problem, k)
    elif solver == "learned":  # the shipped policy's order, cut exactly (NumPy only)
        split = learned_split(problem, k)
    else:
        split = exact_split(problem, k, time_limit=time_limit, workers=workers)
    return PipelinePlan(graph, device, problem, split, baseline)
