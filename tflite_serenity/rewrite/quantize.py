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
from ..model.rewrite_ops import Quantization, tensor_quantization

#: Range of the partial sums, as a multiple of the output's largest magnitude.
HEADROOM = 1.0

_LIMITS = {"INT8": (-128, 127), "UINT8": (0, 255), "INT16": (-32768, 32767)}


def partial_quantization(model, graph: Graph, split, site, headroom: float = HEADROOM) -> Quantization:
    """The quantization of the partial results and running sums replacing ``split.op``."""
    out = graph.operators[split.op].outputs[0]
    dtype = graph.tensors[out].dtype
    q = tensor_quantization(model, graph.subgraph, out)
    if q is None or q.per_channel or dtype not in _LIMITS:
        raise UnsupportedModelError(f"subgraph {graph.subgraph}: cannot requantize {dtype} output tensor {out}")
    qmin, qmax = _LIMITS[dtype]
    scale, zero = q.scale[0], q.zero_point[0]
    magnitude = max(abs((qmin - zero) * scale), abs((qmax - zero) * scale))
    if dtype == "UINT8":
        return Quantization((2 * headroom * magnitude / 255,), (128,), 0)
    return Quantization((headroom * magnitude / qmax,), (0,), 0)
