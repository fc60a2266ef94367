"""Structural checks on a parsed model, so later stages can trust indices.

The flatbuffer runtime checks nothing: a hostile or damaged file can name
tensors, buffers, operator codes or subgraphs that do not exist, or give
shapes no interpreter could allocate. Each check raises a
:class:`~tflite_serenity.errors.ModelFormatError` that says where.
"""

from __future__ import annotations

from ..errors import ModelFormatError
from .ops import called_subgraphs
from .schema import fb

#: Larger activation or constant tensors than this are taken as corrupt shapes.
MAX_TENSOR_ELEMENTS = 1 << 40



def validate_model(model: "fb.ModelT") -> None:
    """Raise ModelFormatError if any index or shape in ``model`` is impossible."""
    subgraphs = model.subgraphs or []
    if not subgraphs:
        raise ModelFormatError("model has no subgraphs")
    n_buffers = len(model.buffers or [])
    n_codes = len(model.operatorCodes or [])
    for s, subgraph in enumerate(subgraphs):
        where = f"subgraph {s}"
        tensors = subgraph.tensors or []
        n_tensors = len(tensors)
        for t, tensor in enumerate(tensors):
            if not 0 <= tensor.buffer < max(n_buffers, 1):
                raise ModelFormatError(f"{where}: tensor {t} uses buffer {tensor.buffer}, but the model has {n_buffers}")
            _check_shape(tensor.shape, f"{where}: tensor {t}")
        for name, indices in (("input", subgraph.inputs), ("output", subgraph.outputs)):
            for i in indices if indices is not None else []:
                if not 0 <= i < n_tensors:
                    raise ModelFormatError(f"{where}: graph {name} {i} is not one of its {n_tensors} tensors")
        for o, op in enumerate(subgraph.operators or []):
            if not 0 <= op.opcodeIndex < n_codes:
                raise ModelFormatError(f"{where}: operator {o} has opcode index {op.opcodeIndex}, but there are {n_codes}")
            for role, indices in (("input", op.inputs), ("output", op.outputs), ("intermediate", op.intermediates)):
                for i in indices if indices is not None else []:
                    lowest = -1 if role == "input" else 0  # -1 marks an omitted optional input
                    if not lowest <= i < n_tensors:
                        raise ModelFormatError(f"{where}: operator {o} {role} {i} is not one of its {n_tensors} tensors")
            for target in called_subgraphs(op):
                if not 0 <= target < len(subgraphs):
                    raise ModelFormatError(f"{where}: operator {o} calls subgraph {target}, but there are {len(subgraphs)}")
    for m, meta in enumerate(model.metadata or []):
        if not 0 <= meta.buffer < n_buffers:
            raise ModelFormatError(f"metadata {m} uses buffer {meta.buffer}, but the model has {n_buffers}")
    for d, sig in enumerate(model.signatureDefs or []):
        if not 0 <= sig.subgraphIndex < len(subgraphs):
            raise ModelFormatError(f"signature {d} names subgraph {sig.subgraphIndex}, but there are {len(subgraphs)}")
        n_tensors = len(subgraphs[sig.subgraphIndex].tensors or [])
        for tmap in (sig.inputs or []) + (sig.outputs or []):
            if not 0 <= tmap.tensorIndex < n_tensors:
                raise ModelFormatError(f"signature {d} names tensor {tmap.tensorIndex}, which does not exist")


def _check_shape(shape, where: str) -> None:
    elements = 1
    for dim in shape if shape is not None else []:
        if dim < 0:
            raise ModelFormatError(f"{where} has a negative dimension in its shape {list(shape)}")
        elements *= int(dim)
    if elements > MAX_TENSOR_ELEMENTS:
        raise ModelFormatError(f"{where} has an impossible shape {list(shape)} ({elements} elements)")


def check_stored_orders(data: bytes) -> None:
    """Check, straight from serialized bytes, that no operator of any subgraph
    reads a tensor that a later operator writes.

    Both runtimes execute the stored order without checking it, so a written
    model must pass this. It reads only the operator index vectors, so it costs
    a small fraction of a full parse.
    """
    root = fb.Model.GetRootAsModel(data, 0)
    for s in range(root.SubgraphsLength()):
        sub = root.Subgraphs(s)
        writer: dict[int, int] = {}
        operators = [sub.Operators(i) for i in range(sub.OperatorsLength())]
        for position, op in enumerate(operators):
            for t in (op.OutputsAsNumpy() if op.OutputsLength() else ()):
                writer[int(t)] = position
        for position, op in enumerate(operators):
            for t in (op.InputsAsNumpy() if op.InputsLength() else ()):
                if writer.get(int(t), -1) >= position:
                    raise ModelFormatError(
                        f"subgraph {s}: operator {position} reads tensor {int(t)} before it is written"
                    )
