"""Feasibility spike (issue 20): row strips run in a WHILE loop instead of unrolled.

What it measures
----------------
``tflite_serenity.rewrite.strips.tile`` computes a run of operators in ``n``
row strips, each strip an unrolled copy of the run's operators. In TFLite
Micro every copy of a CONV_2D / DEPTHWISE_CONV_2D keeps its own per-channel
data in the arena's tail. This script keeps the first and last strips (they
touch the map's top and bottom padding, so their geometry differs) unrolled
and runs the middle strips, which all have the same geometry, as *one* copy of
the strip's operators in a WHILE body:

* the body reads its window of rows from the loop-invariant entry map with
  ``--read slice`` (SLICE with a loop-carried int32 ``begin``),
  ``--read gather`` (GATHER on axis 1 with a loop-carried int32 row index
  vector) or ``--read strided_slice`` (STRIDED_SLICE with a loop-carried
  ``begin``: TFLite Micro refuses it, kept to show the error);
* runs the strip's operators as ``tile`` made them (SAME padding, the wrong
  edge rows cut off by fixed STRIDED_SLICEs);
* writes its band into a loop-carried accumulator with DYNAMIC_UPDATE_SLICE
  at a loop-carried start index; int32 ADDs advance the indices and a
  counter, LESS on the counter is the loop condition.

The first unrolled strip PADs its band to the whole map to start the
accumulator (``--zero-acc``: DYNAMIC_UPDATE_SLICE into a zero constant in
flash instead); the other unrolled strips write their bands into it with
DYNAMIC_UPDATE_SLICE, the last ones after the loop; the last write produces
the run's exit tensor, read by the rest of the model unchanged.

TFLite Micro's WHILE copies op inputs to op outputs, op outputs to the body's
and condition's inputs and the body's outputs back, each iteration, skipping
a copy when source and destination are the same address
(``kernels/kernel_util.cc``). With ``--alias`` (the default) an offline plan
(metadata ``OfflineMemoryAllocation``, one offset per tensor of all
subgraphs concatenated) pins each loop-carried map (the entry map and the
accumulator) and all its copies (WHILE input and output, condition and body
inputs, body output, the in-place DYNAMIC_UPDATE_SLICE outputs) to one
offset; every other tensor is left to TFLite Micro's online planner
(offset -1), which places it around the pinned ones.

For each model it reports TFLite Micro's arena head, tail and total (the
recording allocator's figures, on this 64-bit host), the live-bytes peak of
the outer graph's stored order (with the loop counted as its body's peak
plus what lives across it), and whether the outputs are bit-identical to
the input model's in TFLite Micro and in LiteRT (each runtime against
itself, random int8 input, seed 0).

Run from the repository root::

    PYTHONPATH=. python scripts/tools/while_strips_experiment.py \\
        .zoo/mobilenetv2_224_int8.tflite --region 0:13:28 --out /tmp/wspike

``--region START:STOP:STRIPS`` may be given several times; regions are
rewritten from the last (in stored order) to the first so the positions of
earlier ones do not move. This is an experiment, not part of the package: it
reads and writes models with ``tflite_serenity.model`` and builds the loop
with the flatbuffer object API directly.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np

from tflite_serenity.model.edit import with_metadata
from tflite_serenity.model.io import read_model, write_model
from tflite_serenity.model.schema import fb
from tflite_serenity.rewrite.strips import tile
from tflite_serenity.tflm.offline import METADATA_NAME, encode_offline_plan

INT8, INT32, BOOL = fb.TensorType.INT8, fb.TensorType.INT32, fb.TensorType.BOOL
_NAMES = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
_VERSIONS = {"WHILE": 1, "SLICE": 2, "GATHER": 2, "DYNAMIC_UPDATE_SLICE": 2, "ADD": 1, "LESS": 1,
             "STRIDED_SLICE": 2, "PAD": 2}


def kind(model, op) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    return _NAMES[max(code.builtinCode, code.deprecatedBuiltinCode)]


def opcode(model, name: str) -> int:
    """Index of an operator code for builtin ``name`` (added if missing)."""
    builtin = getattr(fb.BuiltinOperator, name)
    for k, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return k
    code = fb.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, 127)
    code.version = _VERSIONS.get(name, 1)
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def is_constant(model, tensor) -> bool:
    data = model.buffers[tensor.buffer].data
    return data is not None and len(data) > 0


def nbytes(tensor) -> int:
    width = {INT8: 1, INT32: 4, BOOL: 1, fb.TensorType.FLOAT32: 4}[tensor.type]
    return int(np.prod(tensor.shape)) * width


class Builder:
    """Appends tensors and operators to one subgraph of a model."""

    def __init__(self, model, sg):
        self.model, self.sg = model, sg

    def buffer(self, data=None) -> int:
        b = fb.BufferT()
        b.data = None if data is None else np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8).copy()
        self.model.buffers.append(b)
        return len(self.model.buffers) - 1

    def tensor(self, name, shape, dtype, data=None, like=None) -> int:
        t = fb.TensorT() if like is None else copy.deepcopy(like)
        t.name = name.encode()
        t.shape = np.asarray(shape, dtype=np.int32)
        t.type = dtype
        t.buffer = self.buffer(data)
        t.shapeSignature = None
        self.sg.tensors.append(t)
        return len(self.sg.tensors) - 1

    def const(self, name, values, dtype=np.int32) -> int:
        arr = np.asarray(values, dtype=dtype)
        return self.tensor(name, arr.shape, INT32 if dtype == np.int32 else INT8, data=arr)

    def op(self, name, inputs, outputs, options_type=0, options=None) -> "fb.OperatorT":
        o = fb.OperatorT()
        o.opcodeIndex = opcode(self.model, name)
        o.inputs = np.asarray(inputs, dtype=np.int32)
        o.outputs = np.asarray(outputs, dtype=np.int32)
        o.builtinOptionsType = options_type
        o.builtinOptions = options
        return o


def _text(name) -> str:
    return name.decode() if isinstance(name, bytes) else str(name or "")


def _options(cls, **values):
    o = cls()
    for k, v in values.items():
        setattr(o, k, v)
    return o


def strip_signature(model, sg, ops, entry):
    """What must match for two strips to run as one loop body: per operator
    its kind, options and tensor shapes, and constants made for the strip;
    the slices reading the entry map are compared by shape only (their
    begin moves from strip to strip)."""
    sig = []
    for i in ops:
        op = sg.operators[i]
        reads_entry = op.inputs[0] == entry
        parts = [kind(model, op), repr(sorted(vars(op.builtinOptions).items())) if op.builtinOptions else ""]
        for t in list(op.inputs) + list(op.outputs):
            if t < 0:
                parts.append(None)
                continue
            tensor = sg.tensors[t]
            if is_constant(model, tensor) and tensor.type == INT32 and not reads_entry:
                parts.append(bytes(model.buffers[tensor.buffer].data))
            elif is_constant(model, tensor):
                parts.append(("const", tensor.buffer) if not reads_entry else ("shape", tuple(tensor.shape)))
            else:
                parts.append(tuple(tensor.shape))
        sig.append(tuple(parts))
    return tuple(sig)


def entry_begin(model, sg, op) -> np.ndarray:
    return model.buffers[sg.tensors[op.inputs[1]].buffer].data.view(np.int32).copy()


def loopify(model, start: int, stop: int, strips: int, read: str = "slice", zero_acc: bool = False):
    """Operators ``[start, stop)`` of subgraph 0 in ``strips`` row strips, the
    middle ones in a WHILE loop. Returns (model, facts) or raises."""
    tiled = tile(model, 0, start, stop, strips)
    if tiled is None:
        raise ValueError(f"tile({start}, {stop}, {strips}) found no exact strips")
    m = tiled.model
    sg = m.subgraphs[0]
    ops = sg.operators
    join = tiled.strips[-1][-1] + 1
    concat = ops[join]
    if kind(m, concat) != "CONCATENATION" or join + 1 < len(ops) and ops[join + 1].inputs[0] in concat.inputs:
        raise ValueError("expected one exit joined by one CONCATENATION")
    exit_t = int(concat.outputs[0])
    parts = [int(t) for t in concat.inputs]
    # the entry: the one activation a strip reads that no strip operator writes
    first_ops = tiled.strips[1]
    made = {int(t) for i in first_ops for t in ops[i].outputs}
    entries = {int(t) for i in first_ops for t in ops[i].inputs
               if t >= 0 and t not in made and not is_constant(m, sg.tensors[t])}
    if len(entries) != 1:
        raise ValueError(f"expected one entry map, found {sorted(entries)}")
    (entry,) = entries
    sigs = [strip_signature(m, sg, s, entry) for s in tiled.strips]
    # the longest run of equal signatures with a constant step of the entry slice
    best = (0, 0)
    j = 0
    while j < strips:
        k = j + 1
        while k < strips and sigs[k] == sigs[j]:
            k += 1
        if k - j > best[1] - best[0]:
            best = (j, k)
        j = k
    lo, hi = best
    if hi - lo < 2:
        raise ValueError("fewer than two strips share a geometry")
    # per middle strip, the slices reading the entry map (a residual ADD reads it through a second one)
    reads = [[i for i in tiled.strips[j] if entry in ops[i].inputs] for j in range(lo, hi)]
    if any(kind(m, ops[i]) != "STRIDED_SLICE" or ops[i].inputs[0] != entry for r in reads for i in r):
        raise ValueError("a middle strip reads the entry map other than through a STRIDED_SLICE")
    begins = [[entry_begin(m, sg, ops[i]) for i in r] for r in reads]
    steps = {tuple(b - a) for j in range(len(begins) - 1) for a, b in zip(begins[j], begins[j + 1])}
    if len(steps) != 1:
        raise ValueError(f"entry rows do not advance by one step: {steps}")
    (in_step,) = steps
    in_step = np.asarray(in_step, np.int32)
    if read != "slice" and len(reads[0]) > 1:
        raise ValueError(f"--read {read} is written for one read of the entry map per strip")
    height = int(sg.tensors[exit_t].shape[1])
    band = height // strips
    if height % strips:
        raise ValueError("bands of unequal height")
    out_begin0 = np.asarray([0, lo * band, 0, 0], np.int32)
    out_step = np.asarray([0, band, 0, 0], np.int32)
    iterations = hi - lo

    outer = Builder(m, sg)
    xt, et = sg.tensors[entry], sg.tensors[exit_t]
    acc_shape = list(et.shape)

    # --- the body: one copy of strip `lo`
    body_sg = fb.SubGraphT()
    body_sg.tensors, body_sg.operators = [], []
    body_sg.name = f"serenity_strip_body_{start}".encode()
    body = Builder(m, body_sg)
    x_b = body.tensor("x_b", xt.shape, xt.type, like=xt)
    acc_b = body.tensor("acc_b", acc_shape, et.type, like=et)
    bin_b = body.tensor("begin_in_b", [4], INT32)
    bout_b = body.tensor("begin_out_b", [4], INT32)
    i_b = body.tensor("i_b", [], INT32)
    remap = {entry: x_b}
    read_op = sg.operators[reads[0][0]]
    window = sg.tensors[read_op.outputs[0]]
    rows = int(window.shape[1])
    idx_b = None
    for i in tiled.strips[lo]:
        op = ops[i]
        if i in reads[0][1:]:  # another window of the entry: its begin is a fixed offset from the first's
            k = reads[0].index(i)
            other = sg.tensors[op.outputs[0]]
            w = body.tensor(f"window_b{k}", other.shape, other.type, like=other)
            remap[int(op.outputs[0])] = w
            begin_k = body.tensor(f"begin_in_b{k}", [4], INT32)
            body_sg.operators.append(body.op("ADD", [bin_b, body.const(f"begin_offset{k}", begins[0][k] - begins[0][0])],
                                             [begin_k], fb.BuiltinOptions.AddOptions, _options(fb.AddOptionsT)))
            body_sg.operators.append(body.op("SLICE", [x_b, begin_k, body.const(f"window_size{k}", other.shape)], [w],
                                             fb.BuiltinOptions.SliceOptions, fb.SliceOptionsT()))
            continue
        if i == reads[0][0]:
            w = body.tensor("window_b", window.shape, window.type, like=window)
            remap[int(op.outputs[0])] = w
            if read == "slice":
                size = body.const("window_size", window.shape)
                body_sg.operators.append(body.op("SLICE", [x_b, bin_b, size], [w],
                                                 fb.BuiltinOptions.SliceOptions, fb.SliceOptionsT()))
            elif read == "strided_slice":
                end_b = body.tensor("end_b", [4], INT32)
                delta = body.const("window_delta", [1, rows, int(xt.shape[2]), int(xt.shape[3])])
                body_sg.operators.append(body.op("ADD", [bin_b, delta], [end_b], fb.BuiltinOptions.AddOptions,
                                                 _options(fb.AddOptionsT)))
                strides = body.const("window_strides", [1, 1, 1, 1])
                body_sg.operators.append(body.op("STRIDED_SLICE", [x_b, bin_b, end_b, strides], [w],
                                                 fb.BuiltinOptions.StridedSliceOptions, fb.StridedSliceOptionsT()))
            elif read == "gather":
                idx_b = body.tensor("rows_b", [rows], INT32)
                body_sg.operators.append(body.op("GATHER", [x_b, idx_b], [w], fb.BuiltinOptions.GatherOptions,
                                                 _options(fb.GatherOptionsT, axis=1, batchDims=0)))
            else:
                raise ValueError(read)
            continue
        new = copy.deepcopy(op)
        ins = []
        for t in op.inputs:
            t = int(t)
            if t < 0:
                ins.append(t)
            elif t not in remap:
                src = sg.tensors[t]
                if is_constant(m, src):  # share the constant's buffer: weights stay once in flash
                    c = copy.deepcopy(src)
                    body_sg.tensors.append(c)
                    remap[t] = len(body_sg.tensors) - 1
                else:
                    raise ValueError(f"body reads tensor {t} made outside it")
                ins.append(remap[t])
            else:
                ins.append(remap[t])
        outs = []
        for t in op.outputs:
            src = sg.tensors[int(t)]
            remap[int(t)] = body.tensor(_text(src.name) + "/body", src.shape, src.type, like=src)
            outs.append(remap[int(t)])
        new.inputs = np.asarray(ins, np.int32)
        new.outputs = np.asarray(outs, np.int32)
        body_sg.operators.append(new)
    band_b = remap[parts[lo]]
    acc_b2 = body.tensor("acc_b2", acc_shape, et.type, like=et)
    body_sg.operators.append(body.op("DYNAMIC_UPDATE_SLICE", [acc_b, band_b, bout_b], [acc_b2],
                                     fb.BuiltinOptions.DynamicUpdateSliceOptions, fb.DynamicUpdateSliceOptionsT()))
    add = lambda: _options(fb.AddOptionsT)  # noqa: E731
    bin_b2 = body.tensor("begin_in_b2", [4], INT32)
    bout_b2 = body.tensor("begin_out_b2", [4], INT32)
    i_b2 = body.tensor("i_b2", [], INT32)
    body_sg.operators.append(body.op("ADD", [bin_b, body.const("in_step", in_step)], [bin_b2],
                                     fb.BuiltinOptions.AddOptions, add()))
    body_sg.operators.append(body.op("ADD", [bout_b, body.const("out_step", out_step)], [bout_b2],
                                     fb.BuiltinOptions.AddOptions, add()))
    body_sg.operators.append(body.op("ADD", [i_b, body.const("one", np.int32(1))], [i_b2],
                                     fb.BuiltinOptions.AddOptions, add()))
    carried_b = [x_b, acc_b, bin_b, bout_b, i_b]
    carried_b2 = [x_b, acc_b2, bin_b2, bout_b2, i_b2]
    if read == "gather":
        idx_b2 = body.tensor("rows_b2", [rows], INT32)
        body_sg.operators.append(body.op("ADD", [idx_b, body.const("rows_step", np.full(rows, in_step[1]))],
                                         [idx_b2], fb.BuiltinOptions.AddOptions, add()))
        carried_b.append(idx_b)
        carried_b2.append(idx_b2)
    body_sg.inputs = np.asarray(carried_b, np.int32)
    body_sg.outputs = np.asarray(carried_b2, np.int32)

    # --- the condition: i < iterations
    cond_sg = fb.SubGraphT()
    cond_sg.tensors, cond_sg.operators = [], []
    cond_sg.name = f"serenity_strip_cond_{start}".encode()
    cond = Builder(m, cond_sg)
    carried_c = [cond.tensor("x_c", xt.shape, xt.type, like=xt), cond.tensor("acc_c", acc_shape, et.type, like=et),
                 cond.tensor("begin_in_c", [4], INT32), cond.tensor("begin_out_c", [4], INT32),
                 cond.tensor("i_c", [], INT32)]
    if read == "gather":
        carried_c.append(cond.tensor("rows_c", [rows], INT32))
    flag = cond.tensor("go", [], BOOL)
    cond_sg.operators.append(cond.op("LESS", [carried_c[4], cond.const("iterations", np.int32(iterations))], [flag],
                                     fb.BuiltinOptions.LessOptions, fb.LessOptionsT()))
    cond_sg.inputs = np.asarray(carried_c, np.int32)
    cond_sg.outputs = np.asarray([flag], np.int32)

    m.subgraphs.append(cond_sg)
    m.subgraphs.append(body_sg)
    cond_index, body_index = len(m.subgraphs) - 2, len(m.subgraphs) - 1

    # --- the outer graph: first strips, loop, last strips, each band written into the accumulator
    new_ops = list(ops[:tiled.strips[0][0]])
    acc = None
    if zero_acc:
        acc = outer.tensor("serenity_acc_zero", acc_shape, et.type, like=et, data=np.zeros(acc_shape, np.int8))
    accs = [acc]

    def write_band(j, acc_in, final=False):
        out = exit_t if final else outer.tensor(f"serenity_acc_{j}", acc_shape, et.type, like=et)
        if acc_in is None:  # the first band: PAD it to the whole map (the other rows are overwritten later)
            pads = outer.const(f"serenity_band_pads_{j}", [[0, 0], [j * band, height - (j + 1) * band], [0, 0], [0, 0]])
            new_ops.append(outer.op("PAD", [parts[j], pads], [out], fb.BuiltinOptions.PadOptions, fb.PadOptionsT()))
            accs.append(out)
            return out
        begin = outer.const(f"serenity_band_begin_{j}", [0, j * band, 0, 0])
        new_ops.append(outer.op("DYNAMIC_UPDATE_SLICE", [acc_in, parts[j], begin], [out],
                                fb.BuiltinOptions.DynamicUpdateSliceOptions, fb.DynamicUpdateSliceOptionsT()))
        accs.append(out)
        return out

    for j in range(lo):
        new_ops.extend(ops[i] for i in tiled.strips[j])
        acc = write_band(j, acc)
    init = [entry, acc, outer.const("serenity_begin_in0", begins[0][0]), outer.const("serenity_begin_out0", out_begin0),
            outer.const("serenity_i0", np.int32(0))]
    if read == "gather":
        init.append(outer.const("serenity_rows0", np.arange(begins[0][0][1], begins[0][0][1] + rows)))
    x_out = outer.tensor("serenity_x_loop", xt.shape, xt.type, like=xt)
    acc_out = outer.tensor("serenity_acc_loop", acc_shape, et.type, like=et)
    small = [outer.tensor(f"serenity_loop_out{k}", sg.tensors[t].shape, INT32) for k, t in enumerate(init[2:])]
    outs = [x_out, acc_out, *small]
    new_ops.append(outer.op("WHILE", init, outs, fb.BuiltinOptions.WhileOptions,
                            _options(fb.WhileOptionsT, condSubgraphIndex=cond_index, bodySubgraphIndex=body_index)))
    acc = acc_out
    accs.append(acc_out)
    for j in range(hi, strips):
        new_ops.extend(ops[i] for i in tiled.strips[j])
        acc = write_band(j, acc, final=j == strips - 1)
    if hi == strips:
        raise ValueError("the last strip must stay unrolled")
    new_ops.extend(ops[join + 1:])
    sg.operators = new_ops
    _drop_unused(m, 0)
    facts = {"region": [start, stop], "strips": strips, "loop": [lo, hi], "iterations": iterations,
             "window_rows": rows, "read": read, "body_operators": len(body_sg.operators)}
    return m, facts


def _drop_unused(model, s: int) -> None:
    """Remove the tensors of subgraph ``s`` no operator or graph input/output refers to."""
    sg = model.subgraphs[s]
    used = set(int(t) for t in sg.inputs) | set(int(t) for t in sg.outputs)
    for op in sg.operators:
        used |= {int(t) for t in op.inputs if t >= 0} | {int(t) for t in op.outputs}
        if op.intermediates is not None:
            used |= {int(t) for t in op.intermediates}
    keep = sorted(used)
    new = {old: k for k, old in enumerate(keep)}
    sg.tensors = [sg.tensors[t] for t in keep]
    fix = lambda a: np.asarray([new[int(t)] if t >= 0 else -1 for t in a], np.int32)  # noqa: E731
    sg.inputs, sg.outputs = fix(sg.inputs), fix(sg.outputs)
    for op in sg.operators:
        op.inputs, op.outputs = fix(op.inputs), fix(op.outputs)
        if op.intermediates is not None:
            op.intermediates = fix(op.intermediates)
    for sd in model.signatureDefs or []:
        if sd.subgraphIndex == s:
            for tm in (sd.inputs or []) + (sd.outputs or []):
                tm.tensorIndex = new[tm.tensorIndex]


def with_outputs(model, names):
    """The model with the tensors of subgraph 0 named ``names`` added to its outputs."""
    sg = model.subgraphs[0]
    index = {_text(t.name): k for k, t in enumerate(sg.tensors)}
    sg.outputs = np.asarray(list(sg.outputs) + [index[_text(n)] for n in names], np.int32)
    model.signatureDefs = []  # the signature would list the old outputs only
    return model


# ---------------------------------------------------------------- the plan

def alias_groups(model):
    """Groups of (subgraph, tensor) that must share an offset: per WHILE, each
    loop-carried map with its outer input and output, the condition's and
    body's input and the body's output; DYNAMIC_UPDATE_SLICE outputs join
    their operand's group (written in place). Only maps of 1 KiB or more."""
    parent = {}

    def find(a):
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a, b):
        parent[find(a)] = find(b)

    for s, sg in enumerate(model.subgraphs):
        for op in sg.operators:
            k = kind(model, op)
            if k == "WHILE":
                o = op.builtinOptions
                cond, body = model.subgraphs[o.condSubgraphIndex], model.subgraphs[o.bodySubgraphIndex]
                for n, (a, b) in enumerate(zip(op.inputs, op.outputs)):
                    if nbytes(sg.tensors[b]) < 1024:
                        continue
                    if not is_constant(model, sg.tensors[a]):
                        union((s, int(a)), (s, int(b)))
                    union((s, int(b)), (o.condSubgraphIndex, int(cond.inputs[n])))
                    union((s, int(b)), (o.bodySubgraphIndex, int(body.inputs[n])))
                    union((s, int(b)), (o.bodySubgraphIndex, int(body.outputs[n])))
            elif k == "DYNAMIC_UPDATE_SLICE" and not is_constant(model, sg.tensors[op.inputs[0]]):
                union((s, int(op.inputs[0])), (s, int(op.outputs[0])))
    groups = {}
    for a in parent:
        groups.setdefault(find(a), []).append(a)
    return [sorted(g) for g in groups.values() if len(g) > 1]


def with_alias_plan(model):
    """The model with an offline plan pinning each alias group to one offset
    (groups stacked from 0 in order of first appearance), all else online."""
    groups = alias_groups(model)
    counts = [len(sg.tensors) for sg in model.subgraphs]
    base = np.cumsum([0] + counts[:-1])
    offsets = [-1] * sum(counts)
    sg = model.subgraphs[0]
    first, last = {int(t): -1 for t in sg.inputs}, {int(t): len(sg.operators) for t in sg.outputs}
    for i, op in enumerate(sg.operators):
        for t in op.outputs:
            first.setdefault(int(t), i)
        for t in op.inputs:
            last[int(t)] = max(last.get(int(t), i), i)
    placed = []
    # first fit, largest group first, over each group's span in the outer graph's stored order
    for g in sorted(groups, key=lambda g: (-max(nbytes(model.subgraphs[s].tensors[t]) for s, t in g), g)):
        size = -(-max(nbytes(model.subgraphs[s].tensors[t]) for s, t in g) // 16) * 16
        outer = [t for s, t in g if s == 0]
        span = (min(first.get(t, 0) for t in outer), max(last.get(t, first.get(t, 0)) for t in outer))
        at = 0
        for other in sorted(placed, key=lambda p: p["offset"]):
            if other["span"][0] <= span[1] and span[0] <= other["span"][1] and at < other["offset"] + other["size"] \
                    and other["offset"] < at + size:
                at = other["offset"] + other["size"]
        for s, t in g:
            offsets[base[s] + t] = at
        placed.append({"tensors": [[int(s), int(t)] for s, t in g], "offset": at, "bytes": size, "size": size,
                       "span": span})
    for p in placed:
        del p["size"]
    return with_metadata(model, METADATA_NAME, encode_offline_plan(offsets)), placed


# ---------------------------------------------------------------- running

def live_peak(model) -> dict:
    """Live bytes of subgraph 0 in stored order; at a WHILE, what lives across
    it plus its body's own peak over the body tensors that are not loop-carried
    (those are counted once, as the outer tensors they alias)."""
    def peaks(s, skip=()):
        sg = model.subgraphs[s]
        act = lambda t: t >= 0 and not is_constant(model, sg.tensors[t]) and t not in skip  # noqa: E731
        first = {int(t): -1 for t in sg.inputs if act(t)}
        last = {}
        for i, op in enumerate(sg.operators):
            for t in op.outputs:
                if act(t):
                    first.setdefault(int(t), i)
            for t in op.inputs:
                if act(t):
                    last[int(t)] = i
        for t in sg.outputs:
            if act(t):
                last[int(t)] = len(sg.operators)
        out = []
        for i, op in enumerate(sg.operators):
            live = sum(nbytes(sg.tensors[t]) for t in first if first[t] <= i <= last.get(t, first[t]))
            if kind(model, op) == "WHILE":
                o = op.builtinOptions
                body = model.subgraphs[o.bodySubgraphIndex]
                carried = {int(t) for t in body.inputs} | {int(t) for t in body.outputs}
                outs_only = sum(nbytes(sg.tensors[t]) for t in op.outputs if nbytes(sg.tensors[t]) >= 1024)
                live += max(peaks(o.bodySubgraphIndex, carried)) - outs_only
            out.append(live)
        return out

    p = peaks(0)
    return {"peak": max(p), "at": int(np.argmax(p))}


def run_litert(data: bytes, x: np.ndarray):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_content=data,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]


def evaluate(name: str, data: bytes, xs: list, reference: dict | None) -> dict:
    """TFLite Micro's arena for ``data`` and its outputs on each input of
    ``xs`` (one child process), LiteRT's outputs, and whether both equal
    ``reference`` (the input model's, each runtime against itself)."""
    from tflite_serenity.tflm.interpreter import run_tflm_trials
    r, tflm = run_tflm_trials(data, [[x] for x in xs])
    row = {"model": name, "bytes": len(data), "head": r.head_bytes, "tail": r.tail_bytes, "total": r.total_bytes,
           "tflm_error": r.error}
    row.update(live_peak(read_model(data)))
    try:
        lite = [run_litert(data, x) for x in xs]
        row["litert_error"] = None
    except Exception as err:  # report the runtime's refusal, keep going
        lite, row["litert_error"] = None, f"{type(err).__name__}: {err}"[:400]

    def same(mine, theirs):
        if mine is None or theirs is None:
            return None
        return all(np.array_equal(a, b) for run_a, run_b in zip(mine, theirs) for a, b in zip(run_a, run_b))

    if reference is not None:
        row["tflm_identical"] = same(tflm, reference["tflm"])
        row["litert_identical"] = same(lite, reference["litert"])
    row["_outputs"] = {"tflm": tflm, "litert": lite}
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("--region", action="append", required=True, help="START:STOP:STRIPS (stored order)")
    p.add_argument("--read", choices=("slice", "gather", "strided_slice"), default="slice")
    p.add_argument("--zero-acc", action="store_true",
                   help="start each accumulator from a zero constant (in flash) instead of PADding the first band")
    p.add_argument("--no-alias", action="store_true", help="write no offline plan (TFLite Micro plans all)")
    p.add_argument("--compare", nargs="*", default=[], help="other .tflite files to measure alongside")
    p.add_argument("--out", default="/tmp/while_strips")
    p.add_argument("--probe", action="store_true",
                   help="also make each region's exit map a model output (in both models) and compare it: the "
                        "final logits of a random input take few values")
    p.add_argument("--seeds", type=int, default=1, help="random int8 inputs to compare on (seeds 0..N-1)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    src = Path(args.model).read_bytes()
    model = read_model(src)
    regions = sorted((tuple(int(v) for v in r.split(":")) for r in args.region), reverse=True)
    if args.probe:
        probes = [model.subgraphs[0].tensors[int(model.subgraphs[0].operators[b - 1].outputs[0])].name
                  for _, b, _ in regions]
        src = write_model(with_outputs(model, probes))
        model = read_model(src)
    facts = []
    for start, stop, strips in regions:
        model, f = loopify(model, start, stop, strips, read=args.read, zero_acc=args.zero_acc)
        facts.append(f)
    plan = []
    if not args.no_alias:
        model, plan = with_alias_plan(model)
    data = write_model(model)
    tag = ("_".join(f"{a}-{b}x{n}" for a, b, n in regions) + f"_{args.read}" + ("_noalias" if args.no_alias else "")
           + ("_zeroacc" if args.zero_acc else ""))
    path = out / f"while_{tag}.tflite"
    path.write_bytes(data)
    sg0 = read_model(src).subgraphs[0]
    shape = tuple(int(d) for d in sg0.tensors[sg0.inputs[0]].shape)
    x = [np.random.default_rng(seed).integers(-128, 128, size=shape, dtype=np.int8) for seed in range(args.seeds)]
    ref = evaluate("input", src, x, None)
    rows = [ref]
    reference = ref["_outputs"]
    for other in args.compare:
        rows.append(evaluate(other, Path(other).read_bytes(), x, reference))
    rows.append(evaluate(str(path), data, x, reference))
    for r in rows:
        r.pop("_outputs")
    report = {"loops": facts, "pinned": [{k: v for k, v in g.items() if k != "tensors"} | {"n": len(g["tensors"])}
                                         for g in plan], "runs": rows}
    if args.json:
        print(json.dumps(report, indent=1, default=str))
    else:
        for f in facts:
            print("loop:", f)
        for g in report["pinned"]:
            print("pinned:", g)
        for r in rows:
            print({k: v for k, v in r.items() if k != "bytes"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
