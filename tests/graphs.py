"""Random operator graphs for property tests of the scheduler (no model file needed:
these test the search, not the format)."""

from __future__ import annotations

import random

from tflite_serenity.graph import Graph, Operator, Tensor, assemble_graph


def random_graph(seed: int, max_ops: int = 18, max_inputs: int = 3) -> Graph:
    """A random DAG: each operator writes one tensor of random size and reads
    1..max_inputs earlier tensors (graph inputs included); sinks are outputs."""
    rng = random.Random(seed)
    n = rng.randint(1, max_ops)
    n_inputs = rng.randint(1, 2)
    tensors = []

    def new_tensor(size: int) -> int:
        index = len(tensors)
        tensors.append(Tensor(index, f"t{index}", (size,), "INT8", has_data=False, is_variable=False))
        return index

    available = [new_tensor(rng.choice([1, 2, 4, 8, 16, 32, 64])) for _ in range(n_inputs)]
    graph_inputs = list(available)
    operators = []
    for i in range(n):
        k = rng.randint(1, min(max_inputs, len(available)))
        # prefer recent tensors so graphs are deep as well as wide
        pool = available[-6:] if rng.random() < 0.7 else available
        ins = tuple(sorted(set(rng.sample(pool, min(k, len(pool))))))
        out = new_tensor(rng.choice([1, 2, 3, 5, 8, 13, 21, 34, 55, 89]))
        operators.append(Operator(i, "ADD", ins, (out,)))
        available.append(out)
    read = {t for op in operators for t in op.inputs}
    outputs = [op.outputs[0] for op in operators if op.outputs[0] not in read] or [operators[-1].outputs[0]]
    return assemble_graph(0, "random", tensors, operators, graph_inputs, outputs)


def all_orders(graph: Graph):
    """Every topological order (exhaustive; only for small graphs)."""
    n = graph.num_operators
    waiting = [len(p) for p in graph.preds]
    order: list[int] = []

    def extend():
        if len(order) == n:
            yield tuple(order)
            return
        for v in range(n):
            if waiting[v] == 0 and v not in order:
                order.append(v)
                for w in graph.succs[v]:
                    waiting[w] -= 1
                yield from extend()
                for w in graph.succs[v]:
                    waiting[w] += 1
                order.pop()

    yield from extend()


def exhaustive_min_peak(graph: Graph, inplace: bool = False) -> int:
    """The lowest peak over all orders, by memoized search over every set of
    scheduled operators, with live bytes computed from the graph directly
    (independent of the scheduler's own bookkeeping). With ``inplace``, a
    tensor written over its source (``memory.buffer_roots``) adds no bytes
    and keeps the shared buffer alive until all its readers ran."""
    from functools import lru_cache

    from tflite_serenity import memory

    n = graph.num_operators
    roots = memory.buffer_roots(graph, inplace)
    size = {t.index: memory.tensor_bytes(t) for t in graph.tensors if memory.is_activation(t)}
    held: dict[int, list[int]] = {}
    for t in size:
        held.setdefault(roots[t], []).append(t)
    outputs = set(graph.outputs)
    pred_mask = [sum(1 << u for u in ps) for ps in graph.preds]

    def live_after(done: int) -> int:
        if done == 0:
            return sum(size[t] for t in set(graph.inputs))
        total = 0
        for root, members in held.items():
            p = graph.producer[root]
            if p < 0 and root not in graph.inputs:
                continue
            if p >= 0 and not done >> p & 1:
                continue
            if any(t in outputs or any(not done >> c & 1 for c in graph.consumers[t]) for t in members):
                total += size[root]
        return total

    @lru_cache(maxsize=None)
    def best(done: int) -> int:
        if done == (1 << n) - 1:
            return 0
        live = live_after(done)
        result = None
        for v in range(n):
            if done >> v & 1 or pred_mask[v] & ~done:
                continue
            step = live + sum(size.get(t, 0) for t in graph.operators[v].outputs if roots[t] == t)
            value = max(step, best(done | 1 << v))
            result = value if result is None else min(result, value)
        return result

    return best(0)


def elementwise_graph(seed: int, max_ops: int = 14) -> Graph:
    """A random DAG of ADD and CONV_2D operators whose outputs often have the
    size of their first input, so many ADDs may write over a dying input."""
    rng = random.Random(seed)
    tensors: list[Tensor] = []

    def new_tensor(size: int) -> int:
        tensors.append(Tensor(len(tensors), f"t{len(tensors)}", (size,), "INT8", has_data=False, is_variable=False))
        return len(tensors) - 1

    available = [new_tensor(rng.choice([4, 8])) for _ in range(rng.randint(1, 2))]
    graph_inputs = list(available)
    operators = []
    for i in range(rng.randint(2, max_ops)):
        pool = available[-5:] if rng.random() < 0.7 else available
        ins = tuple(sorted(set(rng.sample(pool, min(rng.randint(1, 2), len(pool))))))
        size = tensors[ins[0]].shape[0] if rng.random() < 0.6 else rng.choice([2, 4, 8, 16])
        operators.append(Operator(i, rng.choice(["ADD", "ADD", "CONV_2D"]), ins, (new_tensor(size),)))
        available.append(operators[-1].outputs[0])
    read = {t for op in operators for t in op.inputs}
    outputs = [op.outputs[0] for op in operators if op.outputs[0] not in read] or [operators[-1].outputs[0]]
    return assemble_graph(0, "elementwise", tensors, operators, graph_inputs, outputs)


def randwire_like_graph(seed: int, nodes: int = 4) -> Graph:
    """A small RandWire-style graph: each node sums its inputs scaled by MULs
    (operators that are lazy towards their ADD), then a chain of equal-size
    operators; sizes vary per node so the search has real choices."""
    rng = random.Random(seed)
    tensors: list[Tensor] = []
    operators: list[Operator] = []

    def new_tensor(size: int) -> int:
        tensors.append(Tensor(len(tensors), f"t{len(tensors)}", (size,), "INT8", has_data=False, is_variable=False))
        return len(tensors) - 1

    def op(kind: str, inputs: tuple[int, ...], size: int) -> int:
        out = new_tensor(size)
        operators.append(Operator(len(operators), kind, inputs, (out,)))
        return out

    source = new_tensor(rng.choice([4, 8]))
    outputs = [source]
    for v in range(nodes):
        size = rng.choice([2, 4, 8])
        preds = sorted(rng.sample(outputs, min(len(outputs), rng.randint(1, 3))))
        scaled = [op("MUL", (p,), tensors[p].shape[0]) for p in preds]
        total = scaled[0]
        for s in scaled[1:]:
            total = op("ADD", (total, s), size)
        for _ in range(rng.randint(0, 2)):
            total = op("RELU", (total,), size)
        outputs.append(total)
    read = {t for o in operators for t in o.inputs}
    sinks = [t for t in outputs[1:] if t not in read] or [outputs[-1]]
    return assemble_graph(0, "randwire-like", tensors, operators, [source], sinks)


def constant_fed_graph(seed: int, max_ops: int = 14) -> Graph:
    """A random DAG of ADDs with weights computed from constants alone, as in
    float16-weight and sparse models: DEQUANTIZE of a constant, sometimes after
    a DENSIFY, sometimes with a second output nothing reads, read by one or by
    several later operators (or by none: then a graph output). The ADDs'
    outputs often have their first input's size, so some may work in place."""
    rng = random.Random(seed)
    tensors: list[Tensor] = []
    operators: list[Operator] = []
    unread: set[int] = set()  # written, read by nothing, and no graph output

    def new_tensor(size: int, constant: bool = False) -> int:
        tensors.append(Tensor(len(tensors), f"t{len(tensors)}", (size,), "INT8", has_data=constant, is_variable=False))
        return len(tensors) - 1

    def op(kind: str, inputs: tuple[int, ...], sizes: tuple[int, ...]) -> tuple[int, ...]:
        outs = tuple(new_tensor(s) for s in sizes)
        operators.append(Operator(len(operators), kind, inputs, outs))
        return outs

    available = [new_tensor(rng.choice([4, 8, 16])) for _ in range(rng.randint(1, 2))]
    graph_inputs = list(available)
    weights: list[int] = []
    while len(operators) < rng.randint(3, max_ops):
        if rng.random() < 0.4:  # a weight: [DENSIFY ->] DEQUANTIZE, reading a constant
            source = new_tensor(rng.choice([1, 2, 4]), constant=True)
            if rng.random() < 0.3:
                (source,) = op("DENSIFY", (source,), (rng.choice([1, 2, 4, 8, 16]),))
            sizes = (rng.choice([1, 2, 4, 8, 16]),) + ((rng.choice([1, 4, 16]),) if rng.random() < 0.2 else ())
            outs = op("DEQUANTIZE", (source,), sizes)
            weights.append(outs[0])
            unread.update(outs[1:])
            continue
        pool = available[-5:] if rng.random() < 0.7 else available
        ins = set(rng.sample(pool, min(rng.randint(1, 2), len(pool))))
        if weights and rng.random() < 0.8:
            ins.add(rng.choice(weights))
            if rng.random() < 0.6:  # read by this operator only
                weights.remove(max(ins & set(weights)))
        ins = tuple(sorted(ins))
        size = tensors[ins[0]].shape[0] if rng.random() < 0.5 else rng.choice([2, 4, 8, 16, 32])
        available.extend(op("ADD", ins, (size,)))
    read = {t for o in operators for t in o.inputs}
    outputs = [t for o in operators for t in o.outputs if t not in read and t not in unread]
    return assemble_graph(0, "constant-fed", tensors, operators, graph_inputs, outputs or [operators[-1].outputs[0]])
