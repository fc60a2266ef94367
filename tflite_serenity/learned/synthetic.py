"""Random operator graphs shaped like converter output, for training and testing the policy.

Three families, as :class:`~tflite_serenity.graph.Graph` objects built with
:func:`~tflite_serenity.graph.assemble_graph`, so the memory model, the
scheduler and the pipeline cost model apply to them unchanged:

* :func:`layered_dag`: RESPECT's generator: operators on levels, each reading
  one operator of the level before and, with the fitted probabilities, one to
  three earlier ones (skip connections);
* :func:`randwire_dag`: a randomly wired stage (Watts-Strogatz or
  Erdos-Renyi graph made acyclic by node index), every node summing its
  inputs and applying one convolution;
* :func:`cell_dag`: a chain of NAS cells (DARTS/NASNet style): two
  preprocessed inputs, steps adding two operations each, a concatenation.

Operator weights (output size, MACs, parameters) are drawn from the
distributions in :data:`FITTED`. A convolution-like operator is written as a
``CONV_2D`` with a ``[O, 1, 1, CIN]`` filter so that
:func:`~tflite_serenity.edgetpu.costs.operator_macs` counts exactly the drawn
MACs and the filter holds the drawn parameters; other operators (ADD,
CONCATENATION, RELU, AVERAGE_POOL_2D) have no weights and count one MAC per
element, as in the cost model. Every graph has one input and one output.
Each graph's compute and parameters are multiplied by one factor drawn
log-uniformly from :data:`WEIGHT_SCALE`: a 40-operator graph then also stands
for a slice of a larger network, whose segments carry more work per byte
crossing a boundary.

Examples
--------
>>> import numpy as np
>>> g = random_dag(np.random.default_rng(0), 20, 30)
>>> 20 <= g.num_operators <= 30 and len(g.outputs) == 1
True
"""

from __future__ import annotations

from math import prod
from typing import Sequence

import numpy as np

from ..errors import SerenityError
from ..graph import Graph, Operator, Tensor, assemble_graph
from ..memory import DTYPE_BYTES

#: Distributions fitted to real converter output by ``scripts/training/fit_synthetic.py``
#: (float variants of the 20 networks of ``tests/data`` and the zoo with at
#: least 8 operators, 2,870 operators; run on the zoo of commit aeee0d9).
#: Sizes are in elements; logs are base 2; ``depth`` is an operator's
#: position in the graph over its operator count.
FITTED = {
    # Share of operators with 1, 2, 3, 4+ predecessors.
    "in_degree": (0.782, 0.201, 0.002, 0.015),
    # Share of single-input operators that carry weights (convolution-like).
    "p_weighted": 0.626,
    # A convolution's output elements: log2 = a + b * depth + N(0, sd).
    "out_log2": {"a": 12.77, "b": -2.87, "sd": 1.94},
    # MACs per output element: log2 ~ N(mean, sd).
    "macs_per_out_log2": {"mean": 5.82, "sd": 2.42},
    # Parameter elements: log2 = a + b * log2(MACs per output) + N(0, sd).
    "params_log2": {"a": 4.33, "b": 1.25, "sd": 1.57},
    # Share of weightless single-input operators that shrink their input
    # (pooling, reductions), and the mean log2 of the ratio.
    "unary_shrink": {"p": 0.114, "log2_ratio": -3.24},
    # Share of joining operators that concatenate (else element-wise).
    "p_concat": 0.198,
    # The graph input's elements: log2 ~ N(mean, sd).
    "input_log2": {"mean": 12.07, "sd": 2.94},
}

#: Range of the per-graph factor on MACs and parameters (drawn log-uniformly).
WEIGHT_SCALE = (1.0, 32.0)

#: Element types of synthetic graphs, drawn with equal probability.
DTYPES = ("INT8", "FLOAT32")

_WIDTH = {name: int(DTYPE_BYTES[name]) for name in DTYPES}
#: Share of the fitted size noise that is common to a level (the rest is per operator):
#: siblings in real networks have similar sizes.
_LEVEL_SHARE = 0.6
_MAX_LOG2 = 22  # no activation above 4M elements
_MAX_PARAMS_LOG2 = 24


class _Builder:
    """Collects tensors and operators, then assembles a Graph."""

    def __init__(self, rng: np.random.Generator, name: str):
        self.rng = rng
        self.name = name
        self.dtype = DTYPES[int(rng.integers(len(DTYPES)))]
        self.scale = float(np.exp(rng.uniform(np.log(WEIGHT_SCALE[0]), np.log(WEIGHT_SCALE[1]))))
        self.tensors: list[Tensor] = []
        self.operators: list[Operator] = []
        self.elements: list[int] = []  # per tensor

    def tensor(self, elements: int, data: bool = False, shape: tuple[int, ...] | None = None) -> int:
        index = len(self.tensors)
        shape = shape if shape is not None else (1, int(elements))
        self.tensors.append(Tensor(index, f"t{index}", shape, self.dtype, has_data=data, is_variable=False))
        self.elements.append(int(prod(shape)))
        return index

    def input(self) -> int:
        spec = FITTED["input_log2"]
        return self.tensor(_elements(self.rng.normal(spec["mean"], spec["sd"])))

    def weighted(self, source: Sequence[int], depth: float, level_noise: float = 0.0) -> int:
        """A convolution-like operator reading ``source``; returns its output tensor."""
        spec, rng = FITTED["out_log2"], self.rng
        noise = level_noise + rng.normal(0.0, spec["sd"] * np.sqrt(1 - _LEVEL_SHARE ** 2))
        out = _elements(spec["a"] + spec["b"] * depth + noise)
        return self.weighted_sized(source, out)

    def weighted_sized(self, source: Sequence[int], out: int) -> int:
        rng = self.rng
        mpo_spec, p_spec = FITTED["macs_per_out_log2"], FITTED["params_log2"]
        mpo_log2 = float(np.clip(rng.normal(mpo_spec["mean"], mpo_spec["sd"]), 0.0, 14.0))
        params_log2 = p_spec["a"] + p_spec["b"] * mpo_log2 + rng.normal(0.0, p_spec["sd"])
        cin = max(1, round(2.0 ** mpo_log2 * self.scale))  # MACs = out * cin
        params = 2.0 ** min(params_log2, _MAX_PARAMS_LOG2) * self.scale
        filters = max(1, round(params / cin))
        weights = self.tensor(0, data=True, shape=(filters, 1, 1, cin))
        return self.op("CONV_2D", (source[0], weights), out)

    def unary(self, source: int) -> int:
        """A weightless single-input operator (activation, or pooling that shrinks)."""
        spec = FITTED["unary_shrink"]
        if self.rng.random() < spec["p"]:
            out = max(1, round(self.elements[source] * 2.0 ** spec["log2_ratio"]))
            return self.op("AVERAGE_POOL_2D", (source,), out)
        return self.op("RELU", (source,), self.elements[source])

    def join(self, sources: Sequence[int], concat: bool | None = None) -> int:
        """An operator combining several tensors: concatenation (sum of sizes) or ADD (largest size)."""
        if concat is None:
            concat = self.rng.random() < FITTED["p_concat"]
        sizes = [self.elements[t] for t in sources]
        if concat:
            return self.op("CONCATENATION", tuple(sources), sum(sizes))
        return self.op("ADD", tuple(sources), max(sizes))

    def op(self, kind: str, inputs: tuple[int, ...], out_elements: int) -> int:
        out = self.tensor(out_elements)
        self.operators.append(Operator(len(self.operators), kind, tuple(inputs), (out,)))
        return out

    def finish(self, graph_input: int, sinks: Sequence[int]) -> Graph:
        sinks = list(dict.fromkeys(sinks))
        output = sinks[0] if len(sinks) == 1 else self.join(sinks, concat=True)
        return assemble_graph(0, self.name, self.tensors, self.operators, [graph_input], [output])


def _elements(log2: float) -> int:
    return max(1, round(2.0 ** float(np.clip(log2, 0.0, _MAX_LOG2))))


def _in_degree(rng: np.random.Generator, limit: int) -> int:
    p = np.asarray(FITTED["in_degree"], dtype=float)
    degree = int(rng.choice(4, p=p / p.sum())) + 1
    return max(1, min(degree, limit))


def layered_dag(rng: np.random.Generator, num_operators: int, max_in: int = 3) -> Graph:
    """A random layered DAG of exactly ``num_operators`` operators (RESPECT's generator).

    Operators are spread over levels (each level at least one). An operator
    reads one random operator of the previous level and, when its drawn
    in-degree is above one, further operators of any earlier level (at most
    ``max_in`` inputs in all); then it is a join (ADD or CONCATENATION). A
    single-input operator carries weights with the fitted probability, else is
    an activation or a pooling. Operators nothing reads are concatenated into
    the one output (that concatenation counts toward ``num_operators``).
    """
    if num_operators < 2:
        raise SerenityError(f"a layered graph needs at least 2 operators, got {num_operators}")
    b = _Builder(rng, "layered")
    x = b.input()
    body = num_operators - 1  # leave room for the final join
    levels = int(rng.integers(max(2, body // 4), max(3, (2 * body) // 3) + 1))
    levels = min(levels, body)
    width = np.ones(levels, dtype=int)
    for extra in rng.integers(0, levels, size=body - levels):
        width[extra] += 1
    produced: list[list[int]] = []  # per level, output tensors
    read: set[int] = set()
    spec = FITTED["out_log2"]
    for level in range(levels):
        depth = level / levels
        level_noise = rng.normal(0.0, spec["sd"] * _LEVEL_SHARE)
        outs = []
        for _ in range(int(width[level])):
            if level == 0:
                sources = [x]
            else:
                degree = _in_degree(rng, max_in)
                sources = [produced[level - 1][int(rng.integers(len(produced[level - 1])))]]
                earlier = [t for lv in produced[:level] for t in lv if t not in sources]
                extra = min(degree - 1, len(earlier))
                if extra:
                    sources += [earlier[i] for i in rng.choice(len(earlier), size=extra, replace=False)]
            read.update(sources)
            if len(sources) > 1:
                outs.append(b.join(sources))
            elif rng.random() < FITTED["p_weighted"]:
                outs.append(b.weighted(sources, depth, level_noise))
            else:
                outs.append(b.unary(sources[0]))
        produced.append(outs)
    sinks = [t for lv in produced for t in lv if t not in read]
    graph = b.finish(x, sinks)
    if graph.num_operators < num_operators:  # a single sink needed no final join: add an activation
        return _pad(graph, num_operators)
    return graph


def _pad(graph: Graph, num_operators: int) -> Graph:
    """Append activations after the output until the graph has ``num_operators`` operators."""
    tensors, operators = list(graph.tensors), list(graph.operators)
    out = graph.outputs[0]
    while len(operators) < num_operators:
        t = tensors[out]
        new = Tensor(len(tensors), f"t{len(tensors)}", t.shape, t.dtype, False, False)
        tensors.append(new)
        operators.append(Operator(len(operators), "RELU", (out,), (new.index,)))
        out = new.index
    return assemble_graph(0, graph.name, tensors, operators, graph.inputs, [out])


def randwire_dag(rng: np.random.Generator, nodes: int, model: str = "ws", stages: int = 1) -> Graph:
    """A RandWire network of ``stages`` stages of ``nodes`` nodes each.

    Each stage's wiring is a Watts-Strogatz graph (``model="ws"``: ring of
    degree 4, rewiring probability 0.75) or an Erdos-Renyi graph (``"er"``,
    edge probability 0.2), oriented from lower to higher node index. A node
    sums its inputs (ADD, when more than one) and applies a convolution;
    nodes without inputs read the stage input, the stage output averages the
    nodes without outputs (ADD). Sizes are common to a stage and shrink from
    stage to stage.
    """
    if model not in ("ws", "er"):
        raise SerenityError(f"unknown RandWire model {model!r}; choose 'ws' or 'er'")
    if nodes < 2:
        raise SerenityError(f"a RandWire stage needs at least 2 nodes, got {nodes}")
    b = _Builder(rng, f"randwire_{model}")
    x = b.input()
    spec = FITTED["out_log2"]
    current = x
    for stage in range(stages):
        depth = (stage + 0.5) / stages
        size = _elements(spec["a"] + spec["b"] * depth + rng.normal(0.0, spec["sd"] * _LEVEL_SHARE))
        edges = _ws_edges(rng, nodes) if model == "ws" else _er_edges(rng, nodes)
        inputs: list[list[int]] = [[] for _ in range(nodes)]
        for u, v in edges:
            inputs[v].append(u)
        out = [0] * nodes
        has_succ = [False] * nodes
        for v in range(nodes):
            sources = [out[u] for u in inputs[v]] or [current]
            for u in inputs[v]:
                has_succ[u] = True
            joined = sources[0] if len(sources) == 1 else b.join(sources, concat=False)
            out[v] = b.weighted_sized([joined], size)
        sinks = [out[v] for v in range(nodes) if not has_succ[v]]
        current = sinks[0] if len(sinks) == 1 else b.join(sinks, concat=False)
    return b.finish(x, [current])


def _ws_edges(rng: np.random.Generator, n: int, degree: int = 4, p: float = 0.75) -> list[tuple[int, int]]:
    edges = set()
    for i in range(n):
        for j in range(1, degree // 2 + 1):
            u, v = i, (i + j) % n
            if rng.random() < p:  # rewire the far end to a random node
                choices = [w for w in range(n) if w != u and (min(u, w), max(u, w)) not in edges]
                if choices:
                    v = choices[int(rng.integers(len(choices)))]
            if u != v:
                edges.add((min(u, v), max(u, v)))
    return sorted(edges)


def _er_edges(rng: np.random.Generator, n: int, p: float = 0.2) -> list[tuple[int, int]]:
    return [(u, v) for u in range(n) for v in range(u + 1, n) if rng.random() < p]


def cell_dag(rng: np.random.Generator, cells: int, steps: int) -> Graph:
    """A chain of ``cells`` NAS cells with ``steps`` intermediate nodes each.

    A cell reads the outputs of the two cells before it (the graph input for
    the first ones), preprocesses each with a convolution, and forms each
    intermediate node by adding two operations (convolution, pooling or
    identity) applied to earlier states of the cell; it outputs the
    concatenation of its intermediate nodes.
    """
    if cells < 1 or steps < 1:
        raise SerenityError(f"a cell graph needs at least one cell and one step, got {cells} and {steps}")
    b = _Builder(rng, "cells")
    x = b.input()
    spec = FITTED["out_log2"]
    prev_prev = prev = x
    for c in range(cells):
        depth = c / cells
        level = rng.normal(0.0, spec["sd"] * _LEVEL_SHARE)
        size = _elements(spec["a"] + spec["b"] * depth + level)
        states = [b.weighted_sized([prev_prev], size), b.weighted_sized([prev], size)]
        for _ in range(steps):
            picks = rng.choice(len(states), size=2, replace=len(states) < 2)
            branches = []
            for s in picks:
                r = rng.random()
                if r < FITTED["p_weighted"]:
                    branches.append(b.weighted_sized([states[s]], size))
                elif r < 0.85:
                    branches.append(b.op("AVERAGE_POOL_2D", (states[s],), size))
                else:
                    branches.append(states[s])  # identity (skip connection)
            if branches[0] == branches[1]:
                branches[1] = b.op("RELU", (branches[1],), size)
            states.append(b.join(branches, concat=False))
        prev_prev, prev = prev, b.join(states[2:], concat=True) if steps > 1 else states[2]
    return b.finish(x, [prev])


def random_dag(rng: np.random.Generator, min_ops: int = 20, max_ops: int = 60) -> Graph:
    """A graph of ``min_ops..max_ops`` operators from the mixture used in training.

    Half layered DAGs, a quarter RandWire (WS or ER, one or two stages), a
    quarter cell chains; RandWire and cell graphs are redrawn until their
    size falls in the range.
    """
    if not 2 <= min_ops <= max_ops:
        raise SerenityError(f"need 2 <= min_ops <= max_ops, got {min_ops} and {max_ops}")
    family = rng.random()
    if family < 0.5 or max_ops < 12:
        return layered_dag(rng, int(rng.integers(min_ops, max_ops + 1)))
    for _ in range(100):
        if family < 0.75:
            stages = int(rng.integers(1, 3))
            nodes = int(rng.integers(max(3, min_ops // (2 * stages)), max(4, max_ops // (2 * stages)) + 1))
            graph = randwire_dag(rng, nodes, "ws" if rng.random() < 0.5 else "er", stages)
        else:
            steps = int(rng.integers(2, 5))
            per_cell = 3 + 3 * steps
            cells = int(rng.integers(max(1, min_ops // per_cell), max(1, max_ops // per_cell) + 1))
            graph = cell_dag(rng, cells, steps)
        if min_ops <= graph.num_operators <= max_ops:
            return graph
    return layered_dag(rng, int(rng.integers(min_ops, max_ops + 1)))
