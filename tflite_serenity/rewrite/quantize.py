"""Quantization of the partial sums of a channel-wise rewrite of a quantized model.

An int8 convolution requantizes its int32 accumulator to int8 once. Split
into partial convolutions, each partial sum is requantized on its own and the
ADDs requantize again, so results change by a few steps of the output scale.
No calibration data is at hand, so the partial sums get a symmetric range of
``headroom`` times the largest magnitude the output can represent: wide enough
that partial sums rarely saturate, narrow enough that rounding stays near one
output step. docs/rewriting.md gives the errors measured with it.
"""

from __future__ import annotations

from ..errors import UnsupportedModelError
from ..graph import Graph
from ..model.editor import Quantization, tensor_quantization

#: Range of the partial sums, as a multiple of the output's largest magnitude.
HEADROOM = 1.0



def partial_quantization(model, graph: Graph, split, site, headroom: float = HEADROOM) -> Quantization:
    """The quantization of the partial results and running sums replacing ``split.op``."""
    out = graph.operators[split.op].outputs[0]
    dtype = graph.tensors[out].dtype
    q = tensor_quantization(model, graph.subgraph, out)
    if q is None or q.per_channel or dtype != "INT8":
        raise UnsupportedModelError(f"subgraph {graph.subgraph}: cannot requantize {dtype} output tensor {out}")
    scale, zero = q.scale[0], q.zero_point[0]
    magnitude = max(abs((-128 - zero) * scale), abs((127 - zero) * scale))
    return Quantization((headroom * magnitude / 127,), (0,), 0)
