"""Graph rewriting below the scheduling optimum: move channel concats below the
operators that consume them, where the scheduled peak says it pays.

* :mod:`.sites` finds concat sites on our :class:`~tflite_serenity.graph.Graph`;
* :mod:`.apply` rewrites one site (through :mod:`tflite_serenity.model.editor`,
  the only code here that touches the schema);
* :mod:`.search` schedules candidates and keeps what lowers the peak;
* :mod:`.slices` makes pads, crops and 1x1 pools one small slice (always pays);
* :mod:`.strips` computes a run of the graph in row strips, and
  :mod:`.strip_search` picks the runs around the peak where that pays;
* :mod:`.loop_strips` runs the middle strips of such a run as one WHILE
  body, and :mod:`.loop_plan` writes the offline plan that keeps its
  loop-carried maps in place; :mod:`.loop_search` picks such loops where
  TFLite Micro's whole arena drops (the driver's last stage);
* :mod:`.tconv` splits a TRANSPOSE_CONV by output channels where its
  scratch buffer sets TFLite Micro's arena.

docs/rewriting.md says what each rewrite does, when it is exact, and the error
of the approximate ones.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Sequence

from ..schedule.search import Engine, GraphSchedule, PieceMemo
from .search import SiteRewrite, SubgraphRewrite, rewrite_subgraph
from .tconv import split_for_scratch
from ..options import Options, Target

__all__ = ["SiteRewrite", "SubgraphRewrite", "rewrite_model", "rewrite_subgraph"]


def rewrite_model(
    model,
    schedules: Sequence[GraphSchedule],
    *,
    options: Options = Options(),
    target: Target = Target(),
    deadline: float | None = None,
    engine: Engine | None = None,
    memo: PieceMemo | None = None,
):
    """Rewrite every subgraph of a ``ModelT`` where that lowers its scheduled
    peak, then split TRANSPOSE_CONVs whose scratch sets TFLite Micro's arena
    (:mod:`.tconv`).

    Parameters
    ----------
    model
        The ``ModelT`` (not modified).
    schedules
        The schedule of each subgraph without rewriting, in subgraph order.
    options, target
        Which rewrites may be used (exact ones only by default), and the
        device whose TFLite Micro bookkeeping added operators are charged.
    deadline
        ``time.monotonic()`` value after which no new candidate is tried.
    memo
        Schedule pieces solved before (:class:`~tflite_serenity.schedule.search.PieceMemo`);
        it changes how long rewriting takes, never what it finds.

    Returns
    -------
    (model, dict)
        The rewritten model, and a :class:`SubgraphRewrite` for each subgraph
        where rewrites were kept or the deadline cut the search (its
        ``schedule.order`` is the order to store).
    """
    deadline = time.monotonic() + 30.0 if deadline is None else deadline
    kept: dict[int, SubgraphRewrite] = {}
    for schedule in schedules:
        left = max(0.0, deadline - time.monotonic())
        model, report = rewrite_subgraph(model, schedule.subgraph, options=options, target=target, baseline=schedule,
                                         time_limit=left, engine=engine, memo=memo)
        # last: the scratch buffers of the order found decide (the orders and rewrites above ignore them)
        model, order, splits = split_for_scratch(model, report.schedule, options=options, target=target)
        if splits:
            report = dataclasses.replace(report, schedule=order, splits=splits)
        if report.changed or report.note:
            kept[schedule.subgraph] = report
    return model, kept
