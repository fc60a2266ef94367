"""The exact split: any stage assignment whose edges all go forward, by CP-SAT.

Variables (``k`` stages, boundaries ``b = 1..k-1`` between them):

* ``z[v, b]``: operator ``v`` runs in stage ``b`` or later (a ladder:
  ``z[v, b] -> z[v, b-1]``). An edge ``u -> v`` is ``z[u, b] -> z[v, b]``.
  Operator ``v`` is in stage ``s`` exactly when ``z[v, s] - z[v, s+1] = 1``
  (with ``z[v, 0] = 1`` and ``z[v, k] = 0``), and no stage may be empty.
* a tensor produced by ``p`` is on boundary ``b`` when ``z[p, b] = 0`` and
  some consumer ``c`` has ``z[c, b] = 1`` (or it is a model output). With one
  latest consumer (the others are its ancestors) this is the linear
  ``z[c, b] - z[p, b]``; otherwise a Boolean bounded below by each.
* a constant read by operators of several stages counts in each: a Boolean
  per stage, bounded below by each user's stage indicator.
* streamed bytes ``e[s] >= params[s] - cache``, ``e[s] >= 0``.

The auxiliary variables are only bounded from below; every one raises some
segment time, so the bottleneck optimum is the true one. Two solves: first
the bottleneck ``T`` (bounded above by the contiguous optimum, which is also
the hint, so the answer is never worse than it); then, with ``T`` fixed at
its proven optimum, the total time (given at most a quarter of the time
limit: it is only the tie-break), which makes the auxiliary variables exact.
"""

from __future__ import annotations

import math
import time

from ortools.sat.python import cp_model

from ..errors import InfeasibleError
from .contiguous import contiguous_split
from .problem import PipelineProblem, Split, evaluate, make_split

#: Default wall-clock limit of one exact solve, in seconds.
DEFAULT_TIME_LIMIT = 20.0

#: CP-SAT search workers. Its portfolio (LP, LNS, core-based and fixed searches)
#: needs about eight to be strong; on fewer cores they share time and still
#: prove much more than two workers do.
DEFAULT_WORKERS = 8


def exact_split(problem: PipelineProblem, k: int, *, time_limit: float = DEFAULT_TIME_LIMIT,
                workers: int | None = None, incumbent: Split | None = None) -> Split:
    """The split into ``k`` stages with the least bottleneck time, then the least total.

    Parameters
    ----------
    problem : PipelineProblem
    k : int
        Number of stages, ``1..n``.
    time_limit : float
        Wall-clock seconds for both solves together.
    workers : int, optional
        CP-SAT search workers (default: the CPU count, at most 8).
    incumbent : Split, optional
        A known split to start from and never do worse than (default: the
        contiguous optimum of the stored order).

    Returns
    -------
    Split
        ``status == "optimal"`` when CP-SAT proved the bottleneck minimal;
        otherwise ``"feasible"`` with the proven ``lower_bound_ps``. With
        several workers, which of several equally good splits comes back may
        vary between runs; its bottleneck and total do not when proven.

    Raises
    ------
    InfeasibleError
        If ``k`` is not in ``1..n``.
    """
    start = time.perf_counter()
    n = problem.num_operators
    if not 1 <= k <= n:
        raise InfeasibleError(f"cannot split {n} operators into {k} non-empty segments")
    if not time_limit > 0:  # nan too
        raise InfeasibleError(f"the time limit must be positive, got {time_limit} s")
    if incumbent is None:
        incumbent = contiguous_split(problem, k)
    else:  # trust its stages, not its figures
        incumbent = make_split(problem, incumbent.method, incumbent.stages, k, incumbent.status,
                               incumbent.lower_bound_ps, incumbent.seconds)
    if k == 1:
        only = make_split(problem, "exact", [0] * n, 1, "optimal", None, 0.0)
        return _finish(only, only.bottleneck_ps, start)

    built = _Model(problem, k)
    model = built.model
    model.Add(built.bottleneck <= incumbent.bottleneck_ps)
    model.Minimize(built.bottleneck)
    built.hint(incumbent.stages)

    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers or DEFAULT_WORKERS
    solver.parameters.random_seed = 0
    solver.parameters.max_time_in_seconds = time_limit
    status = solver.Solve(model)
    if status == cp_model.INFEASIBLE or status == cp_model.MODEL_INVALID:
        raise RuntimeError(f"CP-SAT rejected a model the incumbent satisfies ({solver.StatusName(status)}): "
                           "the encoding and the cost model disagree")
    proven = status == cp_model.OPTIMAL
    bound = math.ceil(solver.BestObjectiveBound() - 1e-6)
    best = incumbent
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        stages = built.stages(solver)
        bottleneck = int(solver.Value(built.bottleneck))
        remaining = time_limit - (time.perf_counter() - start)
        if proven and remaining > 0.05:
            # The tie-break gets at most a quarter of the budget.
            model.Add(built.bottleneck <= bottleneck)
            model.Minimize(sum(built.times))
            model.ClearHints()
            built.hint(stages)
            solver.parameters.max_time_in_seconds = min(remaining, time_limit / 4)
            if solver.Solve(model) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                stages = built.stages(solver)
        candidate = evaluate(problem, stages, k)
        if _key(candidate) <= _key(incumbent.segments):
            best = make_split(problem, "exact", stages, k, "optimal", None, 0.0)
    bound = max(bound, 0)
    if proven:
        bound = best.bottleneck_ps
    result = Split("exact", best.stages, best.segments, "optimal" if proven else "feasible",
                   min(bound, best.bottleneck_ps), 0.0)
    return _finish(result, result.lower_bound_ps, start)


def _key(segments) -> tuple[int, int]:
    times = [s.time_ps for s in segments]
    return max(times), sum(times)


def _finish(split: Split, bound: int | None, start: float) -> Split:
    return Split("exact", split.stages, split.segments, split.status, bound, time.perf_counter() - start)


class _Model:
    """The CP-SAT model of one problem and ``k`` (see the module docstring)."""

    def __init__(self, problem: PipelineProblem, k: int) -> None:
        self.k = k
        n = problem.num_operators
        m = self.model = cp_model.CpModel()
        self.z = [[m.NewBoolVar(f"z{v}_{b}") for b in range(1, k)] for v in range(n)]
        for v in range(n):
            for b in range(2, k):
                m.AddImplication(self.Z(v, b), self.Z(v, b - 1))
            for u in problem.preds[v]:
                for b in range(1, k):
                    m.AddImplication(self.Z(u, b), self.Z(v, b))
        for s in range(k):
            m.Add(sum(self.x(v, s) for v in range(n)) >= 1)

        params = self._params(problem)
        crossing = self._crossing(problem)
        horizon = (problem.segment_overhead_ps + sum(problem.compute_ps)
                   + problem.stream_ps_per_byte * sum(problem.param_bytes)
                   + 2 * problem.link_ps_per_byte * sum(f.size for f in problem.flows) * (k + 1))
        self.bottleneck = m.NewIntVar(0, horizon, "bottleneck")
        self.times = []
        for s in range(k):
            time_s = m.NewIntVar(0, horizon, f"time{s}")
            compute = sum(problem.compute_ps[v] * self.x(v, s) for v in range(n))
            m.Add(time_s == problem.segment_overhead_ps + compute + problem.stream_ps_per_byte * params[s]
                  + problem.link_ps_per_byte * (crossing[s] + crossing[s + 1]))
            m.Add(time_s <= self.bottleneck)
            self.times.append(time_s)

    def Z(self, v: int, b: int):
        """``stage[v] >= b`` as a literal or a constant."""
        if b <= 0:
            return 1
        if b >= self.k:
            return 0
        return self.z[v][b - 1]

    def x(self, v: int, s: int):
        """``stage[v] == s`` as a linear expression."""
        return self.Z(v, s) - self.Z(v, s + 1)

    def _params(self, problem: PipelineProblem) -> list:
        """Per stage, streamed bytes (a variable, or 0 when everything always fits)."""
        k, m = self.k, self.model
        total = sum(problem.param_bytes)
        if total <= problem.cache_bytes:
            return [0] * k
        users: dict[int, list[int]] = {}
        for v, ws in enumerate(problem.op_params):
            for w in ws:
                users.setdefault(w, []).append(v)
        own = [0] * problem.num_operators
        shared = []
        for w, vs in users.items():
            if len(vs) == 1:
                own[vs[0]] += problem.param_bytes[w]
            else:
                shared.append(w)
        streamed = []
        for s in range(k):
            terms = [own[v] * self.x(v, s) for v in range(problem.num_operators) if own[v]]
            for w in shared:
                present = m.NewBoolVar(f"w{w}_{s}")
                for v in users[w]:
                    m.Add(present >= self.x(v, s))
                terms.append(problem.param_bytes[w] * present)
            excess = m.NewIntVar(0, total, f"streamed{s}")
            m.Add(excess >= sum(terms) - problem.cache_bytes)
            streamed.append(excess)
        return streamed

    def _crossing(self, problem: PipelineProblem) -> list:
        """Per boundary ``0..k``, the bytes on it as a linear expression."""
        k, m = self.k, self.model
        descendants = _descendants(problem)
        crossing = [0] * (k + 1)
        for f, flow in enumerate(problem.flows):
            if flow.producer < 0:
                crossing[0] += flow.size
            if flow.is_output:
                crossing[k] += flow.size
            latest = [c for c in flow.consumers
                      if not any(d != c and (descendants[c] >> d) & 1 for d in flow.consumers)]
            for b in range(1, k):
                produced_before = 1 if flow.producer < 0 else 1 - self.Z(flow.producer, b)
                if flow.is_output:
                    on = produced_before
                elif not latest:
                    continue
                elif len(latest) == 1:
                    on = self.Z(latest[0], b) - (0 if flow.producer < 0 else self.Z(flow.producer, b))
                else:
                    on = m.NewBoolVar(f"on{f}_{b}")
                    for c in latest:
                        m.Add(on >= self.Z(c, b) - (0 if flow.producer < 0 else self.Z(flow.producer, b)))
                crossing[b] += flow.size * on
        return crossing

    def hint(self, stages) -> None:
        for v, s in enumerate(stages):
            for b in range(1, self.k):
                self.model.AddHint(self.Z(v, b), int(s >= b))

    def stages(self, solver: cp_model.CpSolver) -> list[int]:
        return [sum(int(solver.BooleanValue(self.Z(v, b))) for b in range(1, self.k))
                for v in range(len(self.z))]


def _descendants(problem: PipelineProblem) -> list[int]:
    """Per operator, the set of operators reachable from it, as a bit mask."""
    n = problem.num_operators
    succs: list[list[int]] = [[] for _ in range(n)]
    indegree = [len(ps) for ps in problem.preds]
    for v, ps in enumerate(problem.preds):
        for u in ps:
            succs[u].append(v)
    order = [v for v in range(n) if indegree[v] == 0]
    for v in order:  # grows while iterating: Kahn's algorithm
        for w in succs[v]:
            indegree[w] -= 1
            if indegree[w] == 0:
                order.append(w)
    reach = [0] * n
    for v in reversed(order):
        mask = 0
        for w in succs[v]:
            mask |= (1 << w) | reach[w]
        reach[v] = mask
    return reach
