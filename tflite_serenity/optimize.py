"""The whole optimization of a model: bytes in, bytes out, with the figures.

Stages run in one direction (read -> graph -> schedule -> write); each is a
function of plain data. The output computes what the input computes: only the
stored order of operators changes, and every order is validated before writing.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Literal

from .fileio import read_bytes, write_atomic
from .graph import build_graphs
from .model import read_model, with_operator_orders, write_model
from .schedule.search import GraphSchedule, pick_engine, schedule_graph


@dataclass(frozen=True)
class SubgraphResult:
    """Figures of one subgraph: peak of live activation bytes before and after."""

    index: int
    operators: int
    peak_before: int
    peak_after: int
    lower_bound: int
    optimal: bool  # the order's peak is proven the lowest possible
    seconds: float
    note: str = ""

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

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to ``path`` whole (temporary file and rename)."""
        write_atomic(path, self.model)


def optimize(
    model: bytes | str | os.PathLike,
    *,
    time_limit: float = 30.0,
    engine: Literal["auto", "compiled", "python"] = "auto",
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

    Returns
    -------
    OptimizeResult
        Output bytes that give bit-identical outputs in LiteRT and TFLite Micro,
        with the per-subgraph figures.
    """
    start = time.monotonic()
    data = model if isinstance(model, (bytes, bytearray)) else read_bytes(model)
    tree = read_model(data)
    search = pick_engine(engine)
    deadline = start + time_limit
    schedules: list[GraphSchedule] = []
    for graph in build_graphs(tree):
        remaining = max(0.0, deadline - time.monotonic())
        schedules.append(schedule_graph(graph, time_limit=remaining, engine=search))
    changed = {s.subgraph: s.order for s in schedules if s.order != tuple(range(len(s.order)))}
    out = write_model(with_operator_orders(tree, changed)) if changed else bytes(data)
    build_graphs(read_model(out))  # self-check: the written file reads back with valid orders
    results = tuple(
        SubgraphResult(s.subgraph, len(s.order), s.peak_before, s.peak, s.lower_bound, s.optimal, s.seconds, s.note)
        for s in schedules
    )
    return OptimizeResult(out, results, time.monotonic() - start)
