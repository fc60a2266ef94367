"""Orders other tools use, for comparison in benchmarks (not used to optimize)."""

from __future__ import annotations

from .. import memory
from ..graph import Graph
from .heuristic import RULES, greedy_schedule
from .problem import split


def reverse_postorder(graph: Graph) -> tuple[int, ...]:
    """Reverse post-order of an iterative depth-first search from the sources,
    successors in index order: the order many compilers emit."""
    n = graph.num_operators
    seen = [False] * n
    post: list[int] = []
    for root in reversed(range(n)):
        if seen[root] or graph.preds[root]:
            continue
        seen[root] = True
        stack = [(root, iter(reversed(graph.succs[root])))]
        while stack:
            v, children = stack[-1]
            for w in children:
                if not seen[w]:
                    seen[w] = True
                    stack.append((w, iter(reversed(graph.succs[w]))))
                    break
            else:
                stack.pop()
                post.append(v)
    return tuple(reversed(post))


def greedy_order(graph: Graph) -> tuple[int, ...]:
    """A memory-aware list schedule over the whole graph (no splitting, no search):
    always run the ready operator that leaves the fewest bytes alive."""
    (whole,) = split(memory.activation_flow(graph), cuts=[0, graph.num_operators])
    return tuple(whole.ops[v] for v in greedy_schedule(whole, RULES["least-after"]))
