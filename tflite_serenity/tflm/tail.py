"""What TFLite Micro keeps in its arena's tail for a model: the bookkeeping per tensor, operator and channel.

Beside the planned tensors (the *head*), TFLite Micro keeps, for the whole
run, a ``TfLiteEvalTensor`` per tensor, a node per operator, each kernel's
own data and the convolutions' per-channel multipliers. An operator a rewrite
adds costs these bytes, so the stages charge them (unless
``strips_peak_only``) by the figures measured here per pointer width
(``persistent.json``, written by the calibration script; docs/memory-model.md).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..graph import Graph


@dataclass(frozen=True)
class PersistentCounts:
    """What TFLite Micro keeps bookkeeping for, counted in a graph."""

    tensors: int  # every tensor, constants included: each gets a TfLiteEvalTensor
    operators: dict[str, int]  # by kind: each gets a node and its kernel's own data
    channels: dict[str, int]  # output channels of convolutions, by kind (see PER_CHANNEL_KINDS)

    def __add__(self, other: "PersistentCounts") -> "PersistentCounts":
        return PersistentCounts(self.tensors + other.tensors, _summed(self.operators, other.operators),
                                _summed(self.channels, other.channels))


def _summed(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    total = dict(a)
    for key, n in b.items():
        total[key] = total.get(key, 0) + n
    return total


#: Operators whose kernels keep an int32 multiplier and shift per output
#: channel, whatever the type (TFLite Micro's convolutions allocate them for
#: float models too).
PER_CHANNEL_KINDS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"})


def persistent_counts(graph: Graph) -> PersistentCounts:
    """The tensors, operators and convolutions' output channels of ``graph``, by kind."""
    kinds: dict[str, int] = {}
    channels: dict[str, int] = {}
    for op in graph.operators:
        kinds[op.kind] = kinds.get(op.kind, 0) + 1
        out = graph.tensors[op.outputs[0]] if op.outputs and op.outputs[0] >= 0 else None
        if op.kind in PER_CHANNEL_KINDS and out is not None and out.shape:
            channels[op.kind] = channels.get(op.kind, 0) + out.shape[-1]
    return PersistentCounts(len(graph.tensors), kinds, channels)


@dataclass(frozen=True, eq=False)  # compared and hashed as an object: Options stays hashable
class PersistentCosts:
    """Bytes TFLite Micro keeps in its arena's tail for the whole run, beyond
    the activations: its ``arena_size`` must hold these too, so an extra
    operator that lowers the activation peak by less than it adds here makes
    the arena bigger. Measured on one build of TFLite Micro by
    ``scripts/tools/fit_persistent.py`` (see ``docs/memory-model.md``); the pointer
    width of the device matters, as much of it is structs of pointers.
    """

    name: str
    per_tensor: int  # TfLiteEvalTensor
    per_operator: int  # the node and its registration
    op_data: dict[str, int]  # each kind's kernel data (OpData, params), by kind
    other_op_data: int  # for kinds not measured
    per_channel: dict[str, int]  # by kind of convolution

    def parts(self, counts: PersistentCounts) -> dict[str, int]:
        """The tail bytes for ``counts`` by what holds them: ``tensors``,
        ``nodes``, ``kernel data`` and ``channels`` (convolutions' multipliers)."""
        return {
            "tensors": self.per_tensor * counts.tensors,
            "nodes": self.per_operator * sum(counts.operators.values()),
            "kernel data": sum(n * self.op_data.get(kind, self.other_op_data) for kind, n in counts.operators.items()),
            "channels": sum(n * self.per_channel.get(kind, 0) for kind, n in counts.channels.items()),
        }

    def bytes(self, counts: PersistentCounts) -> int:
        """The tail bytes for ``counts`` (up to a constant of the interpreter)."""
        return sum(self.parts(counts).values())


def model_persistent_counts(graphs: Sequence[Graph]) -> PersistentCounts:
    """The persistent counts of all subgraphs of a model: TFLite Micro keeps them all."""
    total = PersistentCounts(0, {}, {})
    for graph in graphs:
        total = total + persistent_counts(graph)
    return total


def persistent_bytes(graph: Graph, costs: PersistentCosts) -> int:
    """Estimated tail bytes TFLite Micro keeps for ``graph``'s tensors and
    operators (see :class:`PersistentCosts`); differences between two graphs
    are what a rewrite adds to the arena beside its activations."""
    return costs.bytes(persistent_counts(graph))


def _measured_costs() -> dict[int, PersistentCosts]:
    """The costs ``scripts/tools/fit_persistent.py --save-as BITS`` measured, by pointer width."""
    text = (Path(__file__).with_name("persistent.json")).read_text()
    fields = {f.name for f in dataclasses.fields(PersistentCosts)}
    return {int(bits): PersistentCosts(**{k: v for k, v in entry.items() if k in fields})
            for bits, entry in json.loads(text).items()}


_MEASURED = _measured_costs()
#: TFLite Micro built for x86-64 (the ``tflite-micro`` package), fitted to 87
#: models (the test models and the zoo, float and int8, and the int8 ones in
#: row strips): tensors and nodes exact, what strips add within 5%.
TFLM_64BIT = _MEASURED[64]
#: TFLite Micro built for 32-bit x86 (``-m32``: 4-byte pointers, as on a
#: Cortex-M), fitted the same way: what strips add within 6.4%. A tensor and
#: a node cost half; kernel data and per-channel arrays are mostly int32, so
#: in all strips cost about a quarter less than on 64 bits.
TFLM_32BIT = _MEASURED[32]
