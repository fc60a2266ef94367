"""Move one concat below its splittable consumers: the edit itself.

:func:`push_concat` takes a :class:`~tflite_serenity.rewrite.sites.Site` and
returns a new model in which

* each kernel-wise consumer ``u(concat(x_1..x_k))`` is ``concat(u_1(x_1)..u_k(x_k))``,
  ``u_i`` being ``u`` with its per-channel constants cut to ``x_i``'s channels;
* each merging consumer (a channel concat) reads ``x_1..x_k`` in place of the concat;
* each channel-wise consumer ``conv(concat(x_1..x_k))`` is
  ``conv_1(x_1) + ... + conv_k(x_k)``: the filter cut along its input channels,
  the bias in the first part only, the fused activation on the last ADD;
* the concat itself is gone unless something still reads its output.

New operators take the stored position of the consumer they replace, which
is after every ``x_i`` (they were inputs of the concat, which came before it)
and before every reader of the consumer's output, so the stored order stays
valid. The scheduler reorders afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..graph import Graph
from ..model.editor import SubgraphEditor, operator_options, tensor_quantization
from .quantize import partial_quantization
from .sites import Site, Split


@dataclass(frozen=True)
class Pushed:
    """The model after a push and the concats the push created (their output
    tensor indices in the new model), which can be pushed further."""

    model: object
    concats: tuple[int, ...]


def push_concat(model, graph: Graph, site: Site) -> Pushed:
    """Rewrite ``site`` of ``graph`` (a subgraph of ``model``); see the module docstring."""
    ed = SubgraphEditor(model, graph.subgraph)
    offsets = [sum(site.channels[:i]) for i in range(len(site.channels))]
    created = []
    for split in site.splits:
        if split.how == "merge":
            created.append(_merge(ed, graph, site, split))
        elif split.how == "kernel":
            out = _kernelwise(ed, graph, site, split, offsets)
            if out is not None:
                created.append(out)
        else:
            _channelwise(model, ed, graph, site, split, offsets)
    if not site.keeps_concat:
        ed.replace(site.concat, [])
    new_model, index_of = ed.finish()
    return Pushed(new_model, tuple(index_of[t] for t in created if index_of[t] >= 0))


def _name(graph: Graph, tensor: int, suffix: str) -> str:
    return f"{graph.tensors[tensor].name}/serenity_{suffix}"


def _part_inputs(ed: SubgraphEditor, graph: Graph, split: Split, x: int, start: int, stop: int, part: int):
    """The inputs of part ``part`` (reading ``x``, channels ``start:stop`` of the concat)."""
    op = graph.operators[split.op]
    inputs = list(op.inputs)
    for position in split.data:
        inputs[position] = x
    m = split.multiplier
    for position, axis in split.sliced:
        t = op.inputs[position]
        inputs[position] = ed.constant_slice(t, axis, start * m, stop * m, name=_name(graph, t, f"part{part}"))
    return inputs


def _kernelwise(ed: SubgraphEditor, graph: Graph, site: Site, split: Split, offsets) -> int | None:
    op = graph.operators[split.op]
    z = op.outputs[0]
    if len(site.inputs) == 1:  # concat of one tensor: the operator reads it directly
        ed.replace(split.op, [ed.copy_operator(split.op, _part_inputs(ed, graph, split, site.inputs[0], 0,
                                                                      site.channels[0], 0), [z])])
        return None
    parts, outputs = [], []
    for i, (x, c, start) in enumerate(zip(site.inputs, site.channels, offsets)):
        out = ed.activation_like(z, last_dim=c * split.multiplier, name=_name(graph, z, f"part{i}"))
        parts.append(ed.copy_operator(split.op, _part_inputs(ed, graph, split, x, start, start + c, i), [out]))
        outputs.append(out)
    rank = len(graph.tensors[z].shape)
    concat = ed.copy_operator(site.concat, outputs, [z], options={"axis": rank - 1, "fusedActivationFunction": 0})
    ed.replace(split.op, parts + [concat])
    return z


def _merge(ed: SubgraphEditor, graph: Graph, site: Site, split: Split) -> int:
    op = graph.operators[split.op]
    inputs = []
    for t in op.inputs:
        inputs.extend(site.inputs if t == site.output else [t])
    ed.replace(split.op, [ed.copy_operator(split.op, inputs, op.outputs)])
    return op.outputs[0]


def _channelwise(model, ed: SubgraphEditor, graph: Graph, site: Site, split: Split, offsets) -> None:
    """``conv(concat(x_i))`` as partial convolutions summed by a chain of ADDs."""
    op = graph.operators[split.op]
    out = op.outputs[0]
    activation = int(operator_options(model, graph.subgraph, split.op).get("fusedActivationFunction", 0))
    bias = op.inputs[2] if len(op.inputs) > 2 else -1
    zero_bias = None
    k = len(site.inputs)
    quantized = tensor_quantization(model, graph.subgraph, out) is not None
    partial_q = partial_quantization(model, graph, split, site) if quantized else None
    new_ops, acc = [], None
    for i, (x, c, start) in enumerate(zip(site.inputs, site.channels, offsets)):
        inputs = _part_inputs(ed, graph, split, x, start, start + c, i)
        if i > 0 and bias >= 0:
            if zero_bias is None:
                zero_bias = ed.constant_zeros_like(bias, name=_name(graph, bias, "zero"))
            inputs[2] = zero_bias
        last = i == k - 1
        if k == 1:
            new_ops.append(ed.copy_operator(split.op, inputs, [out]))
            break
        part = ed.activation_like(out, name=_name(graph, out, f"partial{i}"),
                                  quantization=partial_q if quantized else None)
        new_ops.append(ed.copy_operator(split.op, inputs, [part], options={"fusedActivationFunction": 0}))
        if acc is None:
            acc = part
            continue
        target = out if last else ed.activation_like(out, name=_name(graph, out, f"sum{i}"),
                                                     quantization=partial_q if quantized else None)
        new_ops.append(ed.new_operator("ADD", [acc, part], [target],
                                       options={"fusedActivationFunction": activation if last else 0},
                                       version=2 if quantized else 1))
        acc = target
    ed.replace(split.op, new_ops)
