"""From an operator graph and an Edge TPU model to a :class:`PipelineProblem`.

Operators' work is counted in multiply-accumulates (MACs) from tensor shapes;
sizes come from the memory model (:mod:`tflite_serenity.memory`).
"""

from __future__ import annotations

from math import prod

from ..errors import UnsupportedModelError
from ..graph import Graph, Operator
from ..memory import activation_flow, is_activation, tensor_bytes
from .device import EdgeTpu
from .problem import PS_PER_S, Flow, PipelineProblem

# Operators whose state lives outside their tensors: a segment boundary
# could separate them from that state.
_STATEFUL = frozenset({
    "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE",
    "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_SIZE",
})


def operator_macs(graph: Graph, op: Operator) -> int:
    """Multiply-accumulates of one operator, from its tensors' shapes.

    CONV_2D: output elements x kernel height x width x input channels per
    group (from the filter ``[O, KH, KW, I]``); CONV_3D likewise;
    DEPTHWISE_CONV_2D: output elements x kernel height x width;
    FULLY_CONNECTED: output elements x input features; BATCH_MATMUL: output
    elements x the contracted dimension; TRANSPOSE_CONV: input elements x
    kernel height x width x output channels. Every other operator (element-wise,
    pooling, reshapes, concatenation...) counts one per element of its largest
    activation input or output.

    Examples
    --------
    >>> from tflite_serenity.graph import Tensor, Operator, assemble_graph
    >>> ts = [Tensor(0, "x", (1, 8, 8, 4), "INT8", False, False),
    ...       Tensor(1, "w", (6, 3, 3, 4), "INT8", True, False),
    ...       Tensor(2, "y", (1, 8, 8, 6), "INT8", False, False)]
    >>> g = assemble_graph(0, "g", ts, [Operator(0, "CONV_2D", (0, 1), (2,))], [0], [2])
    >>> operator_macs(g, g.operators[0])  # 384 outputs x 3 x 3 x 4
    13824
    """
    shapes = [graph.tensors[t].shape if t >= 0 else () for t in op.inputs]
    out = prod(graph.tensors[op.outputs[0]].shape) if op.outputs else 0
    try:
        if op.kind == "CONV_2D":
            _, kh, kw, cin = shapes[1]
            return out * kh * kw * cin
        if op.kind == "CONV_3D":
            kd, kh, kw, cin, _ = shapes[1]
            return out * kd * kh * kw * cin
        if op.kind == "DEPTHWISE_CONV_2D":
            _, kh, kw, _ = shapes[1]
            return out * kh * kw
        if op.kind == "FULLY_CONNECTED":
            return out * shapes[1][-1]
        if op.kind == "TRANSPOSE_CONV":
            cout, kh, kw, _ = shapes[1]
            return prod(shapes[2]) * kh * kw * cout
        if op.kind == "BATCH_MATMUL":
            rows = graph.tensors[op.outputs[0]].shape[-2]
            a = shapes[0]
            contracted = a[-1] if a[-2] == rows else a[-2]
            return out * contracted
    except (IndexError, ValueError, TypeError):
        pass  # an unexpected shape: fall back to counting elements
    sizes = [prod(graph.tensors[t].shape) for t in op.inputs + op.outputs
             if t >= 0 and is_activation(graph.tensors[t])]
    return max(sizes, default=0)


def check_segmentable(graph: Graph) -> None:
    """Raise UnsupportedModelError if a split could change what the model computes.

    Control flow (operators calling subgraphs), resource variables and
    variable tensors keep state that a segment boundary would cut apart.
    """
    for op in graph.operators:
        if op.calls:
            raise UnsupportedModelError(
                f"subgraph {graph.subgraph}: operator {op.index} ({op.kind}) runs other subgraphs; "
                "pipeline segmentation supports models without control flow only"
            )
        if op.kind in _STATEFUL:
            raise UnsupportedModelError(
                f"subgraph {graph.subgraph}: operator {op.index} ({op.kind}) keeps state in resources; "
                "pipeline segmentation cannot split it"
            )
    for t in graph.tensors:
        if t.is_variable:
            raise UnsupportedModelError(
                f"subgraph {graph.subgraph}: tensor {t.index} ('{t.name}') is a variable (persistent state); "
                "pipeline segmentation cannot split models with variable tensors"
            )


def build_problem(graph: Graph, device: EdgeTpu) -> PipelineProblem:
    """The segmentation problem of a graph on a given Edge TPU.

    Raises
    ------
    UnsupportedModelError
        See :func:`check_segmentable`.
    """
    check_segmentable(graph)
    ps_per_mac = PS_PER_S / device.macs_per_s
    op_overhead = round(device.op_overhead_s * PS_PER_S)
    macs = tuple(operator_macs(graph, op) for op in graph.operators)
    compute = tuple(round(m * ps_per_mac) + op_overhead for m in macs)

    constant_index: dict[int, int] = {}
    param_bytes: list[int] = []
    op_params = []
    for op in graph.operators:
        used = []
        for t in dict.fromkeys(op.inputs):
            if t >= 0 and graph.tensors[t].has_data:
                if t not in constant_index:
                    constant_index[t] = len(param_bytes)
                    param_bytes.append(tensor_bytes(graph.tensors[t]))
                used.append(constant_index[t])
        op_params.append(tuple(used))

    # the memory model's activation tensors; those nothing reads and no one
    # needs after the model carry no transfer
    flow = activation_flow(graph)
    flows = [
        Flow(t, size, producer, consumers, pinned)
        for t, size, producer, consumers, pinned in zip(flow.tensor, flow.size, flow.producer, flow.consumers,
                                                         flow.pinned)
        if producer < 0 or consumers or pinned
    ]
    return PipelineProblem(
        preds=graph.preds,
        compute_ps=compute,
        macs=macs,
        op_params=tuple(op_params),
        param_bytes=tuple(param_bytes),
        flows=tuple(flows),
        cache_bytes=int(device.cache_bytes),
        stream_ps_per_byte=round(PS_PER_S / device.host_bytes_per_s),
        link_ps_per_byte=round(PS_PER_S / device.link_bytes_per_s),
        segment_overhead_ps=round(device.segment_overhead_s * PS_PER_S),
    )
