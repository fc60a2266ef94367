"""Operators computed from constants alone run right before their first consumer.

Float16-weight models have one DEQUANTIZE per weight, sparse ones a DENSIFY
(or DENSIFY -> DEQUANTIZE): operators that read no activation and so may
run anywhere before their consumer. Left free, they make the state space of
the exact search explode and leave no forced cut in the graph. Some optimal
order runs each of them right before its first consumer, so the search may
treat the pair as one *unit* and lose nothing.

Why (an exchange argument). Let ``U`` be a set of *constant-derived*
operators: each reads only activations written inside ``U`` and has no
predecessor outside ``U`` (so it reads constants, or nothing, at the top).
Let ``h`` be an operator every member reaches, whose descendants hold every
successor of every member outside ``U``. In any order, take the members out
and run them, in a fixed order, right before ``h``. No operator outside
``U`` then holds more bytes at its step: the members' buffers are produced
later and die no later (every reader outside ``U`` comes at or after ``h``).
The members' own steps hold what is alive before ``h`` plus at most
``P_U``, their internal peak, and ``h``'s step holds what is alive before it
plus ``R``, the members' buffers still alive then, plus ``h``'s outputs. So
when ``P_U <= R + out(h)``, no step exceeds ``h``'s and the peak does not
rise. The unit then counts as one operator whose step is exactly ``h``'s;
the members' buffers that die inside it are never above that step.

A weight read by operators that may run in either order (one zero bias
shared by many convolutions) has no single first consumer. It still never
needs to run before an operator ``x`` that is an ancestor of all its
readers: moved from before ``x`` to right after it, its output is alive at
fewer steps, and its own step holds at most what ``x``'s held before (``x``
then frees what it frees, and the weight's output was alive at ``x``). So it
is ordered after such ``x``, which restores the graph's forced cuts.

With unread graph inputs (alive at the first step only) nothing is
contracted: moving operators to the front or away from it would change
which step holds those bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..memory import ActivationFlow


@dataclass(frozen=True)
class Contraction:
    """A flow whose operators are *units*: each runs ``units[u]`` (graph
    operators, the head last) in that order, right after one another."""

    flow: ActivationFlow
    units: tuple[tuple[int, ...], ...]

    def expand(self, order: Sequence[int]) -> tuple[int, ...]:
        """The graph order that runs units in ``order``."""
        return tuple(op for u in order for op in self.units[u])

    def restrict(self, order: Sequence[int]) -> tuple[int, ...]:
        """The units of a graph order, each where its head runs, or later when
        that is before one of its predecessors (a weight read by parallel
        operators waits for their common ancestors): an order of the units
        that peaks no higher."""
        unit_of = {u[-1]: i for i, u in enumerate(self.units)}
        result: list[int] = []
        done: set[int] = set()
        waiting: list[int] = []
        for op in order:
            if op not in unit_of:
                continue
            waiting.append(unit_of[op])
            progress = True
            while progress:
                progress = False
                for u in waiting:
                    if all(p in done for p in self.flow.preds[u]):
                        waiting.remove(u)
                        result.append(u)
                        done.add(u)
                        progress = True
                        break
        return tuple(result)


def defer_constant_operators(flow: ActivationFlow) -> Contraction:
    """Contract constant-derived operators into the first operator that reads
    them, where the module docstring's exchange argument allows it.

    Members of a unit precede the head in the stored order and run in it;
    units are numbered by their heads' positions, so unit indices follow a
    topological order too. Without a constant-derived operator this is the
    identity.
    """
    n = flow.num_operators
    reads: list[list[int]] = [[] for _ in range(n)]
    outs: list[list[int]] = [[] for _ in range(n)]
    for k, p in enumerate(flow.producer):
        if p >= 0:
            outs[p].append(k)
        for c in flow.consumers[k]:
            reads[c].append(k)
    unread_input = any(p < 0 and not c and not pin
                       for p, c, pin in zip(flow.producer, flow.consumers, flow.pinned))
    parent = [-1] * n
    if not unread_input:
        parent = _first_consumers(flow, reads)
    while True:
        head = _heads(parent)
        changed = _detach_open_members(flow, parent, head)
        if not changed:
            changed = _detach_for_memory(flow, parent, head, reads, outs)
        if not changed:
            break
    return _after_common_ancestors(_contract(flow, head))


def _first_consumers(flow: ActivationFlow, reads: list[list[int]]) -> list[int]:
    """Per constant-derived operator, its successor that runs before all its
    other successors in every order (-1 if it has none such, or is not constant-derived)."""
    n = flow.num_operators
    constant = [False] * n
    for v in range(n):
        constant[v] = (all(constant[u] for u in flow.preds[v])
                       and all(flow.producer[k] >= 0 for k in reads[v]))
    succs: list[list[int]] = [[] for _ in range(n)]
    for v, ps in enumerate(flow.preds):
        for u in ps:
            succs[u].append(v)
    ancestors = _ancestor_sets(flow.preds)
    parent = [-1] * n
    for v in range(n):
        if constant[v] and succs[v]:
            first = min(succs[v])
            if all(s == first or ancestors[s] >> first & 1 for s in succs[v]):
                parent[v] = first
    return parent


def _heads(parent: list[int]) -> list[int]:
    """Per operator, the end of its chain of first consumers (itself if it has none)."""
    head = list(range(len(parent)))
    for v in reversed(range(len(parent))):  # parent[v] > v: its head is known
        if parent[v] >= 0:
            head[v] = head[parent[v]]
    return head


def _detach_open_members(flow: ActivationFlow, parent: list[int], head: list[int]) -> bool:
    """Make a head of every member with a predecessor outside its unit (the
    unit must hold all of its members' ancestors). Whether any changed."""
    changed = False
    for v in range(flow.num_operators):
        if parent[v] >= 0 and any(parent[u] < 0 or head[u] != head[v] for u in flow.preds[v]):
            parent[v] = -1
            changed = True
    return changed


def _detach_for_memory(flow: ActivationFlow, parent: list[int], head: list[int],
                       reads: list[list[int]], outs: list[list[int]]) -> bool:
    """Break up units whose members could peak above their head's step: first
    the head's direct members whose part alone could, then, if still, all of
    them. Whether any changed."""
    members: dict[int, list[int]] = {}
    for v in range(flow.num_operators):
        if parent[v] >= 0:
            members.setdefault(head[v], []).append(v)
    changed = False
    for h, group in members.items():
        if _fits(flow, group, h, reads, outs):
            continue
        children = [v for v in group if parent[v] == h]
        alone = [c for c in children if not _fits(flow, [v for v in group if _reaches(parent, v, c)], h, reads, outs)]
        for c in alone or children:
            parent[c] = -1
        changed = True
    return changed


def _reaches(parent: list[int], v: int, target: int) -> bool:
    """Whether ``target`` is on ``v``'s chain of first consumers (``v`` included)."""
    while v >= 0 and v <= target:
        if v == target:
            return True
        v = parent[v]
    return False


def _fits(flow: ActivationFlow, group: list[int], h: int, reads: list[list[int]], outs: list[list[int]]) -> bool:
    """Whether ``group`` run in index order peaks at most at ``R + out(h)`` above
    what is alive before it (``R``: its buffers still alive when ``h`` runs)."""
    inside = set(group)
    live = peak = 0
    done: set[int] = set()
    for v in group:
        done.add(v)
        live += sum(flow.size[k] for k in outs[v])
        peak = max(peak, live)
        for k in outs[v] + reads[v]:
            if not flow.pinned[k] and all(c in done for c in flow.consumers[k]) and (
                    flow.consumers[k] or flow.producer[k] == v):
                live -= flow.size[k]
    return peak <= live + sum(flow.size[k] for k in outs[h])


def _contract(flow: ActivationFlow, head: list[int]) -> Contraction:
    """The flow of the units whose heads are ``head`` (see :class:`Contraction`)."""
    n = flow.num_operators
    heads = [v for v in range(n) if head[v] == v]
    unit_of_head = {h: i for i, h in enumerate(heads)}
    unit = [unit_of_head[head[v]] for v in range(n)]
    groups: list[list[int]] = [[] for _ in heads]
    for v in range(n):
        groups[unit[v]].append(v)
    if len(heads) == n:
        return Contraction(flow, tuple((v,) for v in range(n)))
    preds = tuple(tuple(sorted({unit[u] for v in g for u in flow.preds[v]} - {i})) for i, g in enumerate(groups))
    tensor, size, producer, consumers, pinned = [], [], [], [], []
    for k, p in enumerate(flow.producer):
        owner = unit[p] if p >= 0 else -1
        readers = tuple(sorted({unit[c] for c in flow.consumers[k]} - {owner}))
        if p >= 0 and head[p] != p and not flow.pinned[k] and all(head[c] != c for c in flow.consumers[k]):
            continue  # written and read by members only: dies inside the unit, below its head's step
        tensor.append(flow.tensor[k])
        size.append(flow.size[k])
        producer.append(owner)
        consumers.append(readers)
        pinned.append(flow.pinned[k])
    contracted = ActivationFlow(len(heads), preds, tuple(tensor), tuple(size), tuple(producer),
                                tuple(consumers), tuple(pinned))
    return Contraction(contracted, tuple(tuple(g) for g in groups))


def _after_common_ancestors(units: Contraction) -> Contraction:
    """Order every unit that reads nothing, has no predecessor and writes
    nothing that dies unread after the last units that are ancestors of all
    its successors (module docstring); renumber units topologically."""
    flow = units.flow
    n = flow.num_operators
    succs: list[list[int]] = [[] for _ in range(n)]
    for v, ps in enumerate(flow.preds):
        for u in ps:
            succs[u].append(v)
    reads = [False] * n
    unread = [False] * n
    for k, p in enumerate(flow.producer):
        for c in flow.consumers[k]:
            reads[c] = True
        if p >= 0 and not flow.consumers[k] and not flow.pinned[k]:
            unread[p] = True
    free = [v for v in range(n) if not flow.preds[v] and not reads[v] and not unread[v] and len(succs[v]) > 1]
    if not free:
        return units
    ancestors = _ancestor_sets(flow.preds)
    extra: dict[int, list[int]] = {}
    for v in free:
        common = ~0
        for s in succs[v]:
            common &= ancestors[s]
        for u in free:  # moved units are placed after their own ancestors: not one of them
            common &= ~(1 << u)
        if common <= 0:
            continue
        below = 0  # ancestors of a common ancestor: not the last ones
        rest = common
        while rest:
            u = (rest & -rest).bit_length() - 1
            rest &= rest - 1
            below |= ancestors[u]
        last = common & ~below
        extra[v] = [u for u in range(n) if last >> u & 1]
    if not extra:
        return units
    # a moved unit goes right after its last new predecessor; others keep their place
    key = {v: (max(extra[v]), 1, v) if v in extra else (v, 0, v) for v in range(n)}
    order = sorted(range(n), key=lambda v: key[v])
    new = {v: i for i, v in enumerate(order)}
    preds = tuple(tuple(sorted(new[u] for u in flow.preds[v] + tuple(extra.get(v, ())))) for v in order)
    moved = ActivationFlow(n, preds, flow.tensor, flow.size,
                           tuple(new[p] if p >= 0 else -1 for p in flow.producer),
                           tuple(tuple(sorted(new[c] for c in cs)) for cs in flow.consumers), flow.pinned)
    return Contraction(moved, tuple(units.units[v] for v in order))


def _ancestor_sets(preds) -> list[int]:
    """Per operator, the bitset of its ancestors (``preds`` lists predecessors
    of operators in a topological numbering)."""
    ancestors = [0] * len(preds)
    for v, ps in enumerate(preds):
        a = 0
        for u in ps:
            a |= ancestors[u] | (1 << u)
        ancestors[v] = a
    return ancestors
